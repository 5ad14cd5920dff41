"""The graded course: each exercise with its public and hidden checks, and a version of them all.

The version is a hash of the code that decides a grade, so ``bnlab grade`` regrades everyone when
any of it changes and no one when other code does (a plot's label, the benchmark, a notebook helper):

- the grader, ``bnlab/grading/**`` (engine, sandbox, public checks, the check kit, ...);
- the hidden checks (``<instructor>/exNN/hidden.py``), or the course file;
- the reference code the checks call: the bnlab modules that the checks (``bnlab/grading/checks``
  and the hidden checks or course file) use (``bnlab.batchnorm_forward`` is bnlab/batchnorm.py), with
  the bnlab modules those import, and ``bnlab/__init__.py``, which binds the names.
  :func:`reference_modules` finds them by reading the source, so a check that starts calling another
  module brings it into the version.

The version is computed when first asked for (``bnlab grade`` needs it, ``bnlab check`` does not).

This module knows no particular course: bnlab's own (the exercises of :mod:`bnlab.grading.checks` with
the hidden checks of the instructor folder) is loaded by :func:`bnlab.grading.checks.load_course`, which
builds on this one; a course file is loaded here (:func:`load_course_file`).
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
import types
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import bnlab
from bnlab.grading.core.spec import Check, Exercise

PACKAGE_DIR = Path(bnlab.__file__).resolve().parent
GRADING = "bnlab.grading"


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
    check_files: tuple[Path, ...]  # the hidden checks or the course file

    @cached_property
    def version(self) -> str:
        return course_version(list(self.check_files))

    def pasted_functions(self, ex_id: str) -> tuple[str, ...]:
        """The functions exercise ``ex_id`` grades again after an earlier exercise introduced them.

        Later notebooks repeat earlier graded cells (ex02 holds ex01's ``batchnorm_forward`` again): a report
        that counts or shows each function once leaves these out of ``ex_id`` and keeps them where they began.
        """
        earlier: set[str] = set()
        for graded in self.exercises:
            if graded.exercise.id == ex_id:
                return tuple(f for f in graded.exercise.functions if f in earlier)
            earlier.update(graded.exercise.functions)
        self.get(ex_id)  # unknown: raises CourseError naming the known exercises
        return ()

    def get(self, ex_id: str) -> GradedExercise:
        for graded in self.exercises:
            if graded.exercise.id == ex_id:
                return graded
        known = ", ".join(g.exercise.id for g in self.exercises)
        raise CourseError(f"unknown exercise {ex_id!r}; the course has {known}")


def _defining_module(name: str) -> str | None:
    """The bnlab module behind ``bnlab.<name>`` ("batchnorm_forward" -> "bnlab.batchnorm")."""
    value = getattr(bnlab, name, None)
    module = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
    return module if isinstance(module, str) and (module == "bnlab" or module.startswith("bnlab.")) else None


def _modules_used(source: str) -> set[str]:
    """The bnlab modules a source uses: ``import bnlab.x``, ``from bnlab.x import ...``, ``from bnlab import
    name`` and ``bnlab.name`` (each name resolved to the module that defines it)."""
    used: set[str | None] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            used.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            module = node.module if node.level == 0 else "bnlab." + node.module  # relative: inside bnlab
            used.update([_defining_module(a.name) for a in node.names] if module == "bnlab" else [module])
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "bnlab":
            used.add(_defining_module(node.attr))
    return {m for m in used if m and (m == "bnlab" or m.startswith("bnlab."))}


def _module_file(module: str, package_dir: Path) -> Path:
    parts = module.split(".")[1:]
    path = package_dir.joinpath(*parts)
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def reference_modules(check_files: list[Path], package_dir: Path = PACKAGE_DIR) -> list[Path]:
    """bnlab's modules outside the grader that ``check_files`` use, with those they import in turn."""
    found: dict[str, Path] = {"bnlab": _module_file("bnlab", package_dir)}
    todo = [m for path in check_files for m in _modules_used(path.read_text(encoding="utf-8"))]
    while todo:
        module = todo.pop()
        path = _module_file(module, package_dir)
        if module in found or module == GRADING or module.startswith(GRADING + ".") or not path.is_file():
            continue
        found[module] = path
        todo += _modules_used(path.read_text(encoding="utf-8"))
    return sorted(found.values())


def _check_label(path: Path) -> str:
    """``checks/exNN/hidden.py`` for an exercise's hidden checks, ``checks/<name>`` for a course file."""
    return f"checks/{path.parent.name}/{path.name}" if path.name == "hidden.py" else f"checks/{path.name}"


def course_version(check_files: list[Path], package_dir: Path = PACKAGE_DIR) -> str:
    """Hash of the grader (``package_dir/grading``), ``check_files`` (hidden checks or a course file) and
    the reference modules that the checks use."""
    grader = sorted((package_dir / "grading").rglob("*.py"))
    public_checks = sorted((package_dir / "grading" / "checks").rglob("*.py"))
    files = {f"bnlab/{p.relative_to(package_dir).as_posix()}": p
             for p in grader + reference_modules(public_checks + check_files, package_dir)}
    files.update({_check_label(p): p for p in check_files})
    digest = hashlib.sha256()
    for label in sorted(files):
        digest.update(label.encode() + b"\0" + files[label].read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def load_course_file(path: str | Path) -> Course:
    """A course from a Python file defining ``EXERCISES = [(Exercise, public_checks, hidden_checks), ...]``.

    For tests and for courses built on this engine outside the bnlab exercises.
    """
    path = Path(path)
    spec = importlib.util.spec_from_file_location(f"bnlab_course_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    graded = tuple(GradedExercise(ex, tuple(pub), tuple(hid)) for ex, pub, hid in module.EXERCISES)
    return Course(graded, (path,))
