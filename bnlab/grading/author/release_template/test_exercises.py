"""Your exercises: each notebook's public checks, run on the saved file the way `bnlab check` runs them.

One test per exercise, named after it (test_public_checks[ex03]); a failure's message is the report of
the checks. Save your notebooks before running: `python -m pytest tests exercises`.
"""
from pathlib import Path

import pytest

from bnlab.grading.cli import main as bnlab

EXERCISES = sorted((Path(__file__).resolve().parents[1] / "exercises").glob("ex*.ipynb"))


@pytest.mark.parametrize("notebook", EXERCISES, ids=lambda path: path.name.split("_")[0])
def test_public_checks(notebook, capsys):
    exit_code = bnlab(["check", str(notebook)])
    captured = capsys.readouterr()
    report = captured.out + captured.err
    assert exit_code == 0, f"{notebook.name} does not pass all its public checks yet:\n{report}"
