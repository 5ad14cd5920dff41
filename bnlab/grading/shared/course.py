"""The graded course: each exercise with its public and hidden checks, and a version of them all.

The version is a hash of the code that decides a grade (the bnlab package, which holds the
reference implementation, the engine and the public checks, plus the hidden checks), so
``bnlab grade`` regrades everyone when any of it changes.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import bnlab
from bnlab.grading.shared.spec import Check, Exercise

PACKAGE_DIR = Path(bnlab.__file__).resolve().parent


class CourseError(ValueError):
    """The course cannot be loaded (for example the instructor folder with the hidden checks is absent)."""


@dataclass(frozen=True)
class GradedExercise:
    exercise: Exercise
    public: tuple[Check, ...]
    hidden: tuple[Check, ...]

    @property
    def checks(self) -> list[Check]:
        return list(self.public) + list(self.hidden)


@dataclass(frozen=True)
class Course:
    exercises: tuple[GradedExercise, ...]
    version: str

    def get(self, ex_id: str) -> GradedExercise:
        for graded in self.exercises:
            if graded.exercise.id == ex_id:
                return graded
        known = ", ".join(g.exercise.id for g in self.exercises)
        raise CourseError(f"unknown exercise {ex_id!r}; the course has {known}")


def _hash_files(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.name).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def instructor_dir(explicit: str | Path | None = None) -> Path:
    """The folder with ``hidden/exNN.py``: ``explicit``, $BNLAB_INSTRUCTOR, or the checkout's exercises/instructor."""
    from bnlab.grading.exercises import default_instructor_dir

    chosen = explicit or os.environ.get("BNLAB_INSTRUCTOR") or default_instructor_dir()
    if not chosen or not (Path(chosen) / "hidden").is_dir():
        where = f"{chosen}" if chosen else "exercises/instructor next to the package source"
        raise CourseError(f"no instructor folder with hidden checks at {where}: grading needs the hidden checks; "
                          "pass --instructor DIR (the folder holding hidden/exNN.py). The student release does "
                          "not include them.")
    return Path(chosen)


def load_course(instructor: str | Path | None = None, public_only: bool = False,
                only: str | None = None) -> Course:
    """Every exercise of ``bnlab.grading.exercises`` (or just ``only``) with its checks (hidden ones from
    ``instructor``). An exercise whose module is not written yet is left out."""
    from bnlab.grading.exercises import EXERCISE_IDS, load_exercise, load_hidden_checks

    files = list(PACKAGE_DIR.rglob("*.py"))
    folder = None if public_only else instructor_dir(instructor)
    graded = []
    for ex_id in EXERCISE_IDS if only is None else [only]:
        try:
            module = load_exercise(ex_id)
        except ModuleNotFoundError as exc:
            if exc.name != f"bnlab.grading.exercises.{ex_id}":
                raise
            continue
        except ValueError as exc:
            raise CourseError(str(exc)) from None
        try:
            hidden = () if public_only else tuple(load_hidden_checks(ex_id, folder))
        except FileNotFoundError as exc:
            raise CourseError(str(exc)) from None
        graded.append(GradedExercise(module.EXERCISE, tuple(module.PUBLIC_CHECKS), hidden))
    if folder is not None:
        files += list((folder / "hidden").glob("*.py"))
    return Course(tuple(graded), _hash_files(files))


def load_course_file(path: str | Path) -> Course:
    """A course from a Python file defining ``EXERCISES = [(Exercise, public_checks, hidden_checks), ...]``.

    For tests and for courses built on this engine outside the bnlab exercises.
    """
    path = Path(path)
    spec = importlib.util.spec_from_file_location(f"bnlab_course_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    graded = tuple(GradedExercise(ex, tuple(pub), tuple(hid)) for ex, pub, hid in module.EXERCISES)
    return Course(graded, _hash_files([path] + list(Path(__file__).parents[1].rglob("*.py"))))
