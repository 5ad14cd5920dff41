"""The GitHub workflow proves what the README promises: the whole Python range (lowest Python with the lowest
numpy/matplotlib, newest Python), the learner's path on Windows and macOS, and the packages. Its steps cannot
run here; these tests keep its structure honest, and run the helper script it uses."""
from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "test.yml"


@pytest.fixture(scope="module")
def jobs():
    yaml = pytest.importorskip("yaml")  # PyYAML comes with the lab extra (JupyterLab needs it)
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]


def run_lines(job) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_the_full_suite_runs_on_the_lowest_and_the_newest_python(jobs):
    test = jobs["test"]
    assert test["runs-on"] == "ubuntu-latest" and "make test" in run_lines(test)
    rows = {row["python-version"]: row for row in test["strategy"]["matrix"]["include"]}
    assert sorted(rows, key=lambda v: tuple(map(int, v.split(".")))) == ["3.10", "3.11", "3.12", "3.13"]
    # the lowest Python with the lowest versions; every other row with the newest
    assert rows["3.10"]["constraints"] == ".github/lowest-versions.txt"
    assert (ROOT / rows["3.10"]["constraints"]).is_file()
    assert not [v for v, row in rows.items() if v != "3.10" and row.get("constraints")]
    assert "CONSTRAINTS=${{ matrix.constraints }}" in run_lines(test)
    # the grader's jail tests need bubblewrap on Linux CI, installed before the suite runs
    steps = [step.get("run", "") for step in test["steps"]]
    install = next(i for i, run in enumerate(steps) if "apt-get install -y bubblewrap" in run)
    assert install < next(i for i, run in enumerate(steps) if "make test" in run)


def test_the_learners_path_runs_on_windows_and_macos(jobs):
    learner = jobs["learner"]
    rows = {row["os"]: row for row in learner["strategy"]["matrix"]["include"]}
    assert set(rows) == {"windows-latest", "macos-latest"}
    assert rows["windows-latest"]["activate"] == r".venv\Scripts\Activate.ps1"
    assert rows["macos-latest"]["activate"] == "source .venv/bin/activate"
    steps = run_lines(learner)
    assert 'python -m pip install -e ".[lab,test]"' in steps
    assert "python -m bnlab test notebooks exercises" in steps
    assert re.search(r"solve_exercise\.py ex01 solved\s+bnlab check solved/ex01_", steps)
    assert r"call .venv\Scripts\activate.bat" in steps  # cmd, as the README gives it


def test_the_package_job_builds_and_runs_the_wheel_alone(jobs):
    steps = run_lines(jobs["package"])
    assert "python -m build" in steps and "tests/test_packaging.py" in steps and "dist/*.whl" in steps


def test_the_solve_script_fills_the_graded_cells_with_the_reference(tmp_path):
    spec = importlib.util.spec_from_file_location("solve_exercise", ROOT / ".github" / "scripts" / "solve_exercise.py")
    solve = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(solve)
    solve.main("ex05", str(tmp_path))  # two graded functions
    (solved,) = tmp_path.glob("ex05_*.ipynb")
    reference = solve.solution_cells(ROOT / "exercises" / "instructor", "ex05")
    assert len(reference) == 2
    cells = json.loads(solved.read_text(encoding="utf-8"))["cells"]
    graded = {solve.GRADED.match(c["source"]).group(1): c["source"] for c in cells
              if c["cell_type"] == "code" and isinstance(c["source"], str) and solve.GRADED.match(c["source"])}
    assert graded == reference


CI_RUN = ROOT / ".ci" / "run"


def _python_range() -> tuple[str, str]:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    lowest = re.search(r'^requires-python\s*=\s*">=\s*([0-9.]+)"', text, re.M).group(1)
    listed = re.findall(r"Programming Language :: Python :: (3\.\d+)", text)
    return lowest, max(listed, key=lambda v: tuple(map(int, v.split("."))))


def _plan(tmp_path, versions: list[str]) -> subprocess.CompletedProcess:
    """``.ci/run --plan`` on a machine whose only Pythons are pyenv-style stubs for ``versions`` (and python3)."""
    pyenv, bin_dir = tmp_path / "pyenv", tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "sed", "grep", "sort", "tail", "ls", "dirname", "python3"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    for version in versions:
        stub = pyenv / "versions" / f"{version}.99" / "bin" / "python"
        stub.parent.mkdir(parents=True)
        stub.write_text(f"#!/bin/sh\necho {version}\n")
        stub.chmod(0o755)
    env = {"PATH": str(bin_dir), "PYENV_ROOT": str(pyenv), "HOME": str(tmp_path)}
    return subprocess.run([str(bin_dir / "bash"), str(CI_RUN), "--plan"], env=env, capture_output=True, text=True,
                          timeout=60)


def test_ci_runs_the_lowest_python_with_the_lowest_versions_and_the_newest_python(tmp_path, jobs):
    lowest, newest = _python_range()
    rows = {row["python-version"] for row in jobs["test"]["strategy"]["matrix"]["include"]}
    assert {lowest, newest} <= rows  # the workflow and .ci/run prove the same range
    plan = _plan(tmp_path, [lowest, newest])
    assert plan.returncode == 0, plan.stderr
    runs = dict(line.split(": ", 1) for line in plan.stdout.splitlines() if line.startswith("run "))
    assert runs["run default"] == f"{tmp_path}/bin/python3, VENV=.venv"  # the machine's python3
    assert runs["run lowest"] == (f"{tmp_path}/pyenv/versions/{lowest}.99/bin/python, VENV=.venv-lowest, "
                                  "CONSTRAINTS=.github/lowest-versions.txt")
    assert runs["run newest"] == f"{tmp_path}/pyenv/versions/{newest}.99/bin/python, VENV=.venv-newest"


def test_ci_fails_loudly_when_a_python_of_the_range_is_missing(tmp_path):
    lowest, newest = _python_range()
    plan = _plan(tmp_path, [lowest])
    assert plan.returncode == 1
    assert f"FAIL: the newest run needs Python {newest}" in plan.stderr
    assert f"run newest: MISSING Python {newest}" in plan.stdout
