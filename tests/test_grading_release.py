"""The student release as a learner meets it: their README, a .gitignore, and a test command that passes
once every exercise is solved and names the exercises that are not."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bnlab.grading.author.bundles import build_release
from bnlab.grading.core.notebook import with_cells
from exercise_harness import EXERCISES, INSTRUCTOR, solution_cells

EXERCISE_IDS = sorted(p.name[:4] for p in EXERCISES.glob("ex*.ipynb"))


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    return build_release(tmp_path_factory.mktemp("release") / "course")


def _solve(release: Path, ex_id: str, cells: dict[str, str]) -> None:
    """What a learner does: write the graded cells in the release's notebook and save it."""
    (path,) = (release / "exercises").glob(f"{ex_id}_*.ipynb")
    path.write_text(json.dumps(with_cells(json.loads(path.read_text()), cells), indent=1))


def _learner_tests(release: Path, *paths: str) -> subprocess.CompletedProcess:
    """The README's exercise command, `python -m pytest tests exercises`, in the release folder."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}  # the learner's pytest, not ours
    return subprocess.run([sys.executable, "-m", "pytest", *(paths or ("tests", "exercises"))], cwd=release,
                          capture_output=True, text=True, timeout=900, env=env)


def test_the_readmes_speak_to_a_learner(release):
    for readme in (release / "README.md", release / "exercises" / "README.md"):
        text = readme.read_text()
        for internal in ("bnlab grade", "Gradescope", "gradescope", "sandbox", "hidden/", "instructor",
                         "make test", "unit test", "1 GB", "mutant"):
            assert internal not in text, f"{readme.name} mentions {internal!r}"
        assert "bnlab check exercises/ex01" in text or "exercises/README.md" in text
    top = (release / "README.md").read_text()
    assert "python -m pytest tests exercises" in top and "pip install -e" in top
    for ex_id in EXERCISE_IDS:  # every exercise notebook is listed, with its path from the README
        assert re.search(rf"`exercises/{ex_id}_\w+\.ipynb`", top)
    assert "GRADED FUNCTION" in (release / "exercises" / "README.md").read_text()


def test_the_release_ignores_environments_and_caches(release):
    ignored = (release / ".gitignore").read_text().split()
    assert {".venv/", "__pycache__/", ".ipynb_checkpoints/", "*.egg-info/"} <= set(ignored)


def test_only_cells_that_run_the_learners_code_skip_the_output_comparison(release):
    for path in (release / "exercises").glob("ex*.ipynb"):
        code = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
        tagged = ["nbval-ignore-output" in c.get("metadata", {}).get("tags", []) for c in code]
        first_graded = next(i for i, c in enumerate(code) if "".join(c["source"]).startswith("# GRADED FUNCTION:"))
        checks = [i for i, c in enumerate(code) if "run_public_checks(" in "".join(c["source"])]
        assert checks and all(tagged[i] for i in checks), path.name
        for i, c in enumerate(code):  # graded cells and what precedes them are compared as stored
            if "".join(c["source"]).startswith("# GRADED FUNCTION:") or i < first_graded:
                assert not tagged[i], (path.name, i)
            else:
                assert tagged[i], (path.name, i)


def test_a_learner_who_solved_everything_passes_and_a_wrong_exercise_is_named(release):
    stub = _learner_tests(release, "tests")
    assert stub.returncode == 1
    assert all(f"test_public_checks[{ex_id}]" in stub.stdout for ex_id in EXERCISE_IDS), stub.stdout[-3000:]

    for ex_id in EXERCISE_IDS:
        _solve(release, ex_id, solution_cells(ex_id))
    solved = _learner_tests(release)
    assert solved.returncode == 0, solved.stdout[-3000:]
    passed = int(re.search(r"(\d+) passed", solved.stdout).group(1))
    assert passed > len(EXERCISE_IDS)  # the exercise notebooks' cells ran under nbval as well

    wrong = "ex01"  # forgets gamma: a public check catches it
    cells = solution_cells(wrong)
    cells["batchnorm_forward"] = cells["batchnorm_forward"].replace("gamma * Z_norm + beta", "Z_norm + beta")
    _solve(release, wrong, cells)
    one_wrong = _learner_tests(release, "tests")
    assert one_wrong.returncode == 1
    failed = re.findall(r"FAILED \S+\[(ex\d+)\]", one_wrong.stdout)
    assert failed == [wrong], one_wrong.stdout[-3000:]
    assert "public checks passed" in one_wrong.stdout  # the failure shows the checks' report
    assert INSTRUCTOR.is_dir()  # the reference came from the instructor folder, never from the release
