"""The graded course and its version: what decides a grade changes the version, nothing else does."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

import grading_fixture as fx
from bnlab.grading.checks import EXERCISE_IDS, all_checks
from bnlab.grading.checks import load_course
from bnlab.grading.core.course import (PACKAGE_DIR, CourseError, _modules_used, course_version, load_course_file,
                                       reference_modules)
from bnlab.grading.core.engine import encode_calls, outcome_of
from bnlab.grading.sandbox import plain, worker
from exercise_harness import INSTRUCTOR, solution_cells

HIDDEN = sorted(INSTRUCTOR.glob("ex[0-9][0-9]/hidden.py"))
CHECKS = sorted((PACKAGE_DIR / "grading" / "checks").rglob("*.py")) + HIDDEN


def _copy(tmp_path: Path) -> tuple[Path, list[Path]]:
    """A copy of the package's Python files and of the hidden checks, to edit."""
    package = tmp_path / "bnlab"
    shutil.copytree(PACKAGE_DIR, package, ignore=lambda d, names: [n for n in names if n == "__pycache__"
                                                                 or (Path(d, n).is_file() and not n.endswith(".py"))])
    instructor = tmp_path / "instructor"
    for path in HIDDEN:
        (instructor / path.parent.name).mkdir(parents=True)
        shutil.copy(path, instructor / path.parent.name / path.name)
    return package, sorted(instructor.glob("ex[0-9][0-9]/hidden.py"))


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def test_the_version_follows_the_grading_code_the_checks_and_the_reference_they_call(tmp_path):
    package, hidden = _copy(tmp_path)
    version = course_version(hidden, package)
    assert version == course_version(HIDDEN)  # the copy hashes like the original
    for unrelated in ("plots.py", "bench.py", "notebook_tools.py", "demo.py", "sweeps.py"):
        _append(package / unrelated, "\n# a new label\n")
    assert course_version(hidden, package) == version
    for decides in (package / "batchnorm.py", package / "_validate.py", package / "__init__.py",
                    package / "grading" / "core" / "report.py", package / "grading" / "checks" / "kit.py",
                    hidden[0]):
        before = course_version(hidden, package)
        _append(decides, "\n# changed\n")
        assert course_version(hidden, package) != before, decides.name


def test_reference_modules_are_what_the_checks_use():
    names = {p.name for p in reference_modules(CHECKS)}
    assert {"__init__.py", "_validate.py", "batchnorm.py", "linear.py", "activations.py", "optimizers.py"} <= names
    assert not names & {"plots.py", "bench.py", "notebook_tools.py", "demo.py", "cli.py", "sweeps.py"}


@pytest.mark.parametrize("source, modules", [
    ("import bnlab\nbnlab.batchnorm_forward(Z, g, b)", {"bnlab", "bnlab.batchnorm"}),
    ("from bnlab import linear_forward, relu", {"bnlab.linear", "bnlab.activations"}),
    ("from bnlab.train import train", {"bnlab.train"}),
    ("import bnlab.plots as p", {"bnlab.plots"}),
    ("from ._validate import as_matrix", {"bnlab._validate"}),
    ("import numpy as np\nx = bnlab.__version__", set()),
])
def test_modules_used_resolves_each_form_of_use(source, modules):
    assert _modules_used(source) == modules


@pytest.mark.parametrize("ex_id", EXERCISE_IDS)
def test_the_reference_code_each_check_runs_is_in_the_version(ex_id):
    """Run every check's verify on the solution's results and record which bnlab modules execute."""
    checks = all_checks(ex_id, INSTRUCTOR)
    namespace: dict = {}
    for source in solution_cells(ex_id).values():
        exec(source, namespace)
    worker_calls, per_check = encode_calls(checks)
    raw = plain.unpack(plain.pack(worker.execute_calls(plain.unpack(plain.pack(worker_calls)), namespace)))
    ran: set[str] = set()

    def profile(frame, event, arg):
        if event == "call":
            ran.add(frame.f_code.co_filename)

    for i, (check, calls) in enumerate(zip(checks, per_check)):
        outputs = {call.key: outcome_of(raw.get(f"{i}:{call.key}")) for call in calls}
        sys.setprofile(profile)
        try:
            verdict = check.verify(outputs)
        finally:
            sys.setprofile(None)
        assert verdict.passed, (check.name, verdict.message)
    grading = PACKAGE_DIR / "grading"
    used = {Path(f).resolve() for f in ran if Path(f).resolve().is_relative_to(PACKAGE_DIR)}
    used = {p for p in used if not p.is_relative_to(grading)}
    assert used <= set(reference_modules(CHECKS)), sorted(p.name for p in used)


def test_a_course_file_is_versioned_by_its_own_bytes(tmp_path):
    course = tmp_path / "course.py"
    course.write_text(f"import sys\nsys.path.insert(0, {str(Path(fx.__file__).parent)!r})\n"
                      "from grading_fixture import EXERCISES\n")
    first = load_course_file(course)
    assert [g.exercise.id for g in first.exercises] == ["ex01", "ex02"]
    version = first.version
    _append(course, "# another line\n")
    assert load_course_file(course).version != version


def test_the_course_needs_the_hidden_checks_unless_only_public_ones_run(tmp_path):
    with pytest.raises(CourseError, match="no instructor folder"):
        load_course(tmp_path)
    public = load_course(public_only=True)
    assert all(not g.hidden for g in public.exercises) and public.get("ex01").public
    assert public.version != load_course().version  # the hidden checks are part of a grade
    with pytest.raises(CourseError, match="unknown exercise"):
        public.get("ex99")


def test_pasted_functions_are_those_an_earlier_exercise_introduced():
    course = load_course(public_only=True)
    assert course.pasted_functions("ex01") == ()
    assert course.pasted_functions("ex02") == ("batchnorm_forward",)  # ex02 repeats ex01's cell
    ex02 = course.get("ex02").exercise.functions
    assert set(course.pasted_functions("ex03")) < set(course.get("ex03").exercise.functions)
    assert "batchnorm_backward" not in course.pasted_functions("ex02") and "batchnorm_backward" in ex02
    with pytest.raises(CourseError, match="unknown exercise 'ex99'"):
        course.pasted_functions("ex99")
