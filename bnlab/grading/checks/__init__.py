"""bnlab's course: one public-checks module per exercise notebook, each defining ``EXERCISE`` and
``PUBLIC_CHECKS`` (built from :mod:`.kit`), and :func:`load_course`, which adds the hidden checks.

The exercise ids are found, not listed: every module ``exNN.py`` of this package is an exercise
(``exercises/AUTHORING.md`` says what else a new one needs).

Hidden checks are instructor-only and live outside the package, in
``exercises/instructor/exNN/hidden.py`` (each defining ``HIDDEN_CHECKS``), so the student release
(which ships the package) never contains them. :func:`load_hidden_checks` reads them from there.

The course itself (:class:`~bnlab.grading.core.course.Course`, its version) is the core's; this package
builds on it and the core never imports this one.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import re
from pathlib import Path
from types import ModuleType

from bnlab.grading.core.course import Course, CourseError, GradedExercise
from bnlab.grading.core.spec import Check, Exercise



def _discover() -> tuple[str, ...]:
    """The ids of this package's ``exNN`` modules, in order."""
    return tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if re.fullmatch(r"ex\d\d", m.name)))


EXERCISE_IDS: tuple[str, ...] = _discover()


def load_exercise(ex_id: str) -> ModuleType:
    """The module of exercise ``ex_id`` ("ex01"…), with ``EXERCISE`` and ``PUBLIC_CHECKS``."""
    if ex_id not in EXERCISE_IDS:
        raise ValueError(f"ex_id must be one of {', '.join(EXERCISE_IDS)}; got {ex_id!r}")
    return importlib.import_module(f"bnlab.grading.checks.{ex_id}")


def exercises() -> dict[str, Exercise]:
    """Every exercise by id."""
    return {ex_id: load_exercise(ex_id).EXERCISE for ex_id in EXERCISE_IDS}


def public_checks(ex_id: str) -> list[Check]:
    return list(load_exercise(ex_id).PUBLIC_CHECKS)


def default_instructor_dir() -> Path | None:
    """``exercises/instructor`` of the source checkout this package runs from, if it is there."""
    candidate = Path(__file__).resolve().parents[3] / "exercises" / "instructor"
    return candidate if candidate.is_dir() else None


def load_hidden_checks(ex_id: str, instructor_dir: str | Path | None = None) -> list[Check]:
    """``HIDDEN_CHECKS`` of ``<instructor_dir>/<ex_id>/hidden.py`` (default: the checkout's instructor folder)."""
    load_exercise(ex_id)  # validates ex_id
    folder = Path(instructor_dir) if instructor_dir is not None else default_instructor_dir()
    path = (folder or Path("exercises/instructor")) / ex_id / "hidden.py"
    if not path.is_file():
        raise FileNotFoundError(f"no hidden checks for {ex_id}: expected the file {path} "
                                "(instructor material is not part of the student release)")
    spec = importlib.util.spec_from_file_location(f"bnlab_hidden_{ex_id}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.HIDDEN_CHECKS)


def all_checks(ex_id: str, instructor_dir: str | Path | None = None) -> list[Check]:
    """Public then hidden checks of ``ex_id``: everything that is graded."""
    return public_checks(ex_id) + load_hidden_checks(ex_id, instructor_dir)


def instructor_dir(explicit: str | Path | None = None) -> Path:
    """The folder with ``exNN/hidden.py``: ``explicit``, $BNLAB_INSTRUCTOR, or the checkout's exercises/instructor."""
    chosen = explicit or os.environ.get("BNLAB_INSTRUCTOR") or default_instructor_dir()
    if not chosen or not any(Path(chosen).glob("ex[0-9][0-9]/hidden.py")):
        where = f"{chosen}" if chosen else "exercises/instructor next to the package source"
        raise CourseError(f"no instructor folder with hidden checks at {where}: grading needs the hidden checks; "
                          "pass --instructor DIR (the folder holding exNN/hidden.py). The student release does "
                          "not include them.")
    return Path(chosen)


def load_course(instructor: str | Path | None = None, public_only: bool = False,
                only: str | None = None) -> Course:
    """Every exercise of ``bnlab.grading.checks`` (or just ``only``) with its checks (hidden ones from
    ``instructor``). An exercise whose module is not written yet is left out."""
    folder = None if public_only else instructor_dir(instructor)
    graded = []
    for ex_id in EXERCISE_IDS if only is None else [only]:
        try:
            module = load_exercise(ex_id)
        except ModuleNotFoundError as exc:
            if exc.name != f"bnlab.grading.checks.{ex_id}":
                raise
            continue
        except ValueError as exc:
            raise CourseError(str(exc)) from None
        try:
            hidden = () if public_only else tuple(load_hidden_checks(ex_id, folder))
        except FileNotFoundError as exc:
            raise CourseError(str(exc)) from None
        graded.append(GradedExercise(module.EXERCISE, tuple(module.PUBLIC_CHECKS), hidden))
    hidden_files = sorted(folder.glob("ex[0-9][0-9]/hidden.py")) if folder is not None else []
    return Course(tuple(graded), tuple(hidden_files))
