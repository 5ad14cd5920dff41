"""``bnlab check`` on a real exercise, the student release (free of hidden material), the Gradescope bundle."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bnlab.grading.instructor.authoring import solution_text
from bnlab.grading.instructor.bundles import leaks
from exercise_harness import INSTRUCTOR, ROOT, notebook_path, notebook_with, solution_cells

CLI = [sys.executable, "-m", "bnlab.cli"]


def _solution_notebook(ex_id: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return notebook_with(ex_id, solution_cells(ex_id), folder / notebook_path(ex_id).name)


def test_bnlab_check_passes_a_correct_notebook_quickly_and_reports_a_stub(tmp_path):
    path = _solution_notebook("ex01", tmp_path)
    start = time.monotonic()
    result = subprocess.run(CLI + ["check", str(path)], capture_output=True, text=True, timeout=60)
    seconds = time.monotonic() - start
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All 3 public checks passed" in result.stdout or "public checks passed" in result.stdout
    assert "Hidden checks" in result.stdout and "all tests passed" not in result.stdout.lower()
    assert seconds < 3, f"bnlab check took {seconds:.2f} s"
    stub = subprocess.run(CLI + ["check", str(notebook_path("ex01"))], capture_output=True, text=True, timeout=60)
    assert stub.returncode == 1 and "not implemented yet" in stub.stdout


def test_bnlab_check_names_a_bad_file(tmp_path):
    odd = tmp_path / "homework.ipynb"
    odd.write_text("{}")
    result = subprocess.run(CLI + ["check", str(odd)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "exNN" in result.stderr
    empty = tmp_path / "ex01_batchnorm_forward.ipynb"
    empty.write_text("")
    result = subprocess.run(CLI + ["check", str(empty)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "is empty" in result.stdout


def test_the_student_release_has_no_instructor_material(tmp_path):
    out = tmp_path / "release"
    result = subprocess.run(CLI + ["release", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    files = [p.relative_to(out) for p in out.rglob("*") if p.is_file()]
    grader_code = ("bnlab", "grading", "instructor")  # the batch grader's code, not instructor material
    assert not [f for f in files if f.parts[:3] != grader_code
                and ("instructor" in f.parts or "solutions" in f.parts or "mutants" in f.parts)]
    assert leaks(out, INSTRUCTOR) == []
    assert not any("HIDDEN_CHECKS = " in p.read_text(errors="replace") for p in out.rglob("*.py"))
    shipped = {f.name for f in files if f.parts[0] == "exercises" and f.suffix == ".ipynb"}
    assert shipped == {p.name for p in (ROOT / "exercises").glob("*.ipynb")} and shipped
    assert (out / "bnlab" / "grading" / "exercises" / "ex01.py").is_file()  # the public checks ship
    assert (out / "pyproject.toml").is_file()


def test_the_leak_scan_finds_planted_solution_code(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    solution = solution_text(INSTRUCTOR, "ex01")
    body = solution.split("# YOUR CODE STARTS HERE")[1].split("# YOUR CODE ENDS HERE")[0]
    (bundle / "notes.py").write_text("# copied\n" + "# YOUR CODE STARTS HERE" + body + "# YOUR CODE ENDS HERE\n")
    shutil.copy(INSTRUCTOR / "hidden" / "ex01.py", bundle / "renamed.py")
    assert sorted(leaks(bundle, INSTRUCTOR)) == ["notes.py", "renamed.py"]


def test_the_gradescope_bundle_grades_a_submission_into_results_json(tmp_path):
    bundle = tmp_path / "bundle"
    result = subprocess.run(CLI + ["gradescope", "--out", str(bundle)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (bundle / "autograder.zip").is_file() and os.access(bundle / "run_autograder", os.X_OK)
    assert not list(bundle.rglob("solutions")) and not list(bundle.rglob("mutants"))

    root = tmp_path / "autograder"  # Gradescope's layout: source/ (the unzipped bundle), submission/, results/
    shutil.copytree(bundle, root / "source")
    _solution_notebook("ex01", root / "submission")
    env = {**os.environ, "BNLAB_AUTOGRADER_ROOT": str(root), "BNLAB_PYTHON": sys.executable}
    run = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    ex01 = [t for t in results["tests"] if t["name"].startswith("ex01 ")]
    assert ex01 and all(t["score"] == t["max_score"] for t in ex01)
    assert {t["visibility"] for t in ex01} == {"visible", "after_published"}
    assert all(t["visibility"] == "after_published" for t in ex01 if "(hidden)" in t["name"])
    others = [t for t in results["tests"] if not t["name"].startswith("ex01 ")]
    assert others and all(t["score"] == 0 and "missing notebook" in t["output"] for t in others)
    assert results["score"] == pytest.approx(sum(t["score"] for t in ex01))


def test_a_gradescope_assignment_can_grade_just_some_exercises(tmp_path):
    bundle = tmp_path / "bundle"
    result = subprocess.run(CLI + ["gradescope", "--out", str(bundle), "--exercises", "ex01"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    root = tmp_path / "autograder"
    shutil.copytree(bundle, root / "source")
    _solution_notebook("ex01", root / "submission" / "nested")  # Gradescope keeps the learner's folders
    env = {**os.environ, "BNLAB_AUTOGRADER_ROOT": str(root), "BNLAB_PYTHON": sys.executable}
    run = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["tests"] and all(t["name"].startswith("ex01 ") for t in results["tests"])
    assert results["score"] == sum(t["max_score"] for t in results["tests"])
    bad = subprocess.run(CLI + ["gradescope", "--out", str(tmp_path / "b2"), "--exercises", "ex99"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "ex99" in bad.stderr


def test_grading_without_the_hidden_checks_is_a_clear_error(tmp_path):
    (tmp_path / "submissions" / "alice").mkdir(parents=True)
    result = subprocess.run(CLI + ["grade", str(tmp_path / "submissions"), "--out", str(tmp_path / "out"),
                                   "--instructor", str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert result.returncode == 2 and "hidden checks" in result.stderr and "--instructor" in result.stderr
    assert not (tmp_path / "out").exists()


def test_bundles_refuse_to_overwrite_a_folder_in_use(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    for command in ("release", "gradescope"):
        result = subprocess.run(CLI + [command, "--out", str(tmp_path)], capture_output=True, text=True)
        assert result.returncode == 2 and "not empty" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_on_gradescope_a_stack_walk_never_shows_the_hidden_inputs(tmp_path):
    """During a call the learner walks to the worker's job and outcome records and rewrites the other calls'
    outcomes: ok=False, error=<every call's inputs as JSON>. Public errors are shown in a test marked visible;
    the hidden inputs now never share that process, and hidden checks show only the grader's words."""
    import numpy as np

    from bnlab.grading.instructor.grading_key import KEY_FILE, read_key
    from bnlab.grading.shared.course import load_course
    from bnlab.grading.shared.report import HIDDEN_WORDS
    from bnlab.grading.shared.spec import Outcome
    from bnlab.grading.shared.student_inputs import salted, student_salt

    bundle = tmp_path / "bundle"
    result = subprocess.run(CLI + ["gradescope", "--out", str(bundle), "--exercises", "ex01"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    root = tmp_path / "autograder"
    shutil.copytree(bundle, root / "source")
    walker = solution_cells("ex01")["batchnorm_forward"].replace("def batchnorm_forward(", "def _mine(") + '''

import gc, json, sys

def batchnorm_forward(Z, gamma, beta, eps=1e-5):
    calls = next(o for o in gc.get_objects() if type(o) is dict and "calls" in o and "nonce" in o)["calls"]
    leak = "LEAK " + json.dumps([[np.asarray(a).tolist() for a in c["args"]] for c in calls])
    frame = sys._getframe()
    while frame is not None:
        for v in list(frame.f_locals.values()):
            if type(v) is dict and v and all(type(o) is dict and "ok" in o for o in v.values()):
                for o in v.values():
                    o["ok"], o["error"], o["value"] = False, leak, None
        frame = frame.f_back
    print(leak)
    return _mine(Z, gamma, beta, eps)
'''
    (root / "submission").mkdir(parents=True)
    notebook_with("ex01", {"batchnorm_forward": walker}, root / "submission" / notebook_path("ex01").name)
    env = {**os.environ, "BNLAB_AUTOGRADER_ROOT": str(root), "BNLAB_PYTHON": sys.executable}
    run = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    text = (root / "results" / "results.json").read_text()
    results = json.loads(text)
    hidden = [t for t in results["tests"] if "(hidden)" in t["name"]]
    public = [t for t in results["tests"] if "(hidden)" not in t["name"]]
    # In each process every call's record but the last's is rewritten: the public ones show public inputs only.
    assert len(public) > 1 and public[-1]["score"] == public[-1]["max_score"] and public[0]["score"] == 0
    assert len(hidden) > 1 and hidden[-1]["score"] == hidden[-1]["max_score"]  # the last call's record: its own
    # A hidden check shows only the grader's fixed words for its outcome (report.shown_check).
    assert all(t["score"] == 0 and t["output"] == HIDDEN_WORDS[Outcome.FAILED] for t in hidden[:-1]), hidden
    # The hidden inputs this submission was graded with: salted by the bundle's key (no metadata: student "").
    salt = student_salt(read_key(root / "source" / "instructor" / KEY_FILE), "")
    numbers = [np.asarray(a) for c in load_course().get("ex01").hidden
               for call in salted(c, salt).calls() for a in call.args if np.ndim(a) == 2]
    unsalted = [np.asarray(a) for c in load_course().get("ex01").hidden for call in c.calls()
                for a in call.args if np.ndim(a) == 2]
    assert not any(np.array_equal(a, b) for a, b in zip(numbers, unsalted)), "the salt must change the inputs"
    assert numbers, "the hidden inputs of ex01"
    shown = [repr(float(v)) for a in numbers for v in a.ravel()[:4]]
    assert "LEAK [" not in json.dumps([t for t in results["tests"] if "(hidden)" in t["name"]])
    assert not [v for v in shown if v in text], "a hidden input in results.json"
