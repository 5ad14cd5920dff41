"""The grading commands: registering them stays cheap; a bad argument is one line on stderr and exit code 2,
before any work; every command and argument has help."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

import grading_fixture as fx
from bnlab.cli import build_parser, main

COURSE = ["--course", str(Path(fx.__file__))]


def _run(argv, capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.err


def _one_line(err: str) -> str:
    assert "Traceback" not in err
    assert err.strip() and "\n" not in err.strip(), err
    return err.strip()


@pytest.mark.parametrize("argv, says", [
    (["check", "x.ipynb", "--timeout", "-1"], "must be a positive finite number; got '-1'"),
    (["check", "x.ipynb", "--timeout", "0"], "must be a positive finite number; got '0'"),
    (["check", "x.ipynb", "--timeout", "nan"], "must be a positive finite number"),
    (["check", "x.ipynb", "--timeout", "inf"], "must be a positive finite number"),
    (["grade", "S", "--out", "O", "--jobs", "0"], "must be a positive integer; got '0'"),
    (["grade", "S", "--out", "O", "--jobs", "-2"], "must be a positive integer; got '-2'"),
    (["grade", "S", "--out", "O", "--jobs", "two"], "must be a positive integer; got 'two'"),
    (["grade", "S", "--out", "O", "--memory", "5"], "at least 256 MB"),
    (["grade", "S"], "--out"),
    (["similarity", "S", "--out", "r.html", "--top", "0"], "must be a positive integer"),
    (["export", "canvas", "--grades", "O", "--out", "x.csv"], "--gradebook"),
    (["export", "canvas", "--grades", "O", "--gradebook", "g.csv", "--out", "x.csv", "--match", "email"],
     "invalid choice: 'email'"),
])
def test_a_bad_argument_is_one_line_and_exit_code_2(argv, says, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, err = _run(argv, capsys)
    assert code == 2
    line = _one_line(err)
    assert says in line and line.startswith(f"bnlab {argv[0]}")
    assert list(tmp_path.iterdir()) == []  # nothing was written


def _class(tmp_path: Path) -> Path:
    submissions = tmp_path / "submissions"
    fx.notebook(submissions / "alice" / "ex01_double.ipynb", [fx.DOUBLE_CELL])
    return submissions


@pytest.mark.parametrize("roster, says", [
    (None, "cannot be read"),
    ("name,email\nAda,ada@example.org\n", "needs a header with the columns folder and one of id, sis_user_id, "
                                          "sis_login_id or name"),
    ("folder,id\nalice,101\nalice,102\n", "row 3: folder 'alice' is listed twice"),
    (b"folder,id\n\xff\n", "is not UTF-8 text"),
])
def test_a_bad_roster_stops_grade_before_any_grading(tmp_path, capsys, roster, says):
    path = tmp_path / "roster.csv"
    if roster is not None:
        path.write_bytes(roster if isinstance(roster, bytes) else roster.encode())
    code, err = _run(["grade", str(_class(tmp_path)), "--out", str(tmp_path / "out"), "--roster", str(path), *COURSE],
                     capsys)
    assert code == 2 and says in _one_line(err) and str(path) in err
    assert not (tmp_path / "out").exists()


def test_out_must_not_be_an_existing_file(tmp_path, capsys):
    submissions = _class(tmp_path)
    existing = tmp_path / "grades.txt"
    existing.write_text("mine")
    code, err = _run(["grade", str(submissions), "--out", str(existing), *COURSE], capsys)
    assert code == 2 and "is an existing file" in _one_line(err)
    assert existing.read_text() == "mine"


@pytest.mark.parametrize("inside", ["out", "alice/out", "."])
def test_out_must_not_be_inside_the_submissions(tmp_path, capsys, inside):
    submissions = _class(tmp_path)
    before = sorted(p for p in submissions.rglob("*"))
    code, err = _run(["grade", str(submissions), "--out", str(submissions / inside), *COURSE], capsys)
    assert code == 2 and "inside SUBMISSIONS" in _one_line(err)
    assert sorted(p for p in submissions.rglob("*")) == before


def test_an_empty_submissions_folder_is_reported(tmp_path, capsys):
    (tmp_path / "submissions").mkdir()
    code, err = _run(["grade", str(tmp_path / "submissions"), "--out", str(tmp_path / "out"), *COURSE], capsys)
    assert code == 2 and "has no student folders" in _one_line(err)
    assert not (tmp_path / "out" / "grades.csv").exists()


def test_a_stray_notebook_at_the_top_is_named(tmp_path, capsys):
    submissions = _class(tmp_path)
    fx.notebook(submissions / "ex01_double.ipynb", [fx.DOUBLE_CELL])
    code, err = _run(["grade", str(submissions), "--out", str(tmp_path / "out"), *COURSE], capsys)
    line = _one_line(err)
    assert code == 2 and "belong to no student: ex01_double.ipynb" in line
    assert not (tmp_path / "out" / "grades.csv").exists()


def test_a_good_class_still_grades(tmp_path):
    submissions = _class(tmp_path)
    result = subprocess.run([sys.executable, "-m", "bnlab.cli", "grade", str(submissions),
                             "--out", str(tmp_path / "out"), "--jobs", "2", *COURSE],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "alice,4,0,4,6" in (tmp_path / "out" / "grades.csv").read_text()


def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield name, helps.get(name), sub
                yield from _subparsers(sub)


def test_every_subcommand_and_argument_has_help():
    grading = {"check", "grade", "release", "gradescope", "export", "canvas", "similarity", "demo-class"}
    found = {name: (summary, sub) for name, summary, sub in _subparsers(build_parser()) if name in grading}
    assert set(found) == grading
    for name, (summary, sub) in found.items():
        assert summary and sub.description, f"{name} has no help or description"
        for action in sub._actions:
            if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                assert action.help, f"{name}: {action.option_strings or action.dest} has no help"


@pytest.mark.parametrize("command", ["release", "gradescope"])
def test_a_bundle_out_that_is_a_file_is_one_line(tmp_path, capsys, command):
    existing = tmp_path / "bundle.zip"
    existing.write_text("mine")
    code, err = _run([command, "--out", str(existing)], capsys)
    assert code == 2 and "is an existing file" in _one_line(err)
    assert existing.read_text() == "mine"


PROBE = """
import argparse, json, sys
import bnlab  # the package itself (numpy and the library) is imported anyway: measure what comes after
before = set(sys.modules)
import bnlab.grading.cli as cli
cli.add_subcommand(argparse.ArgumentParser().add_subparsers())
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_registering_the_grading_commands_imports_nothing_of_the_grader():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    added = json.loads(out.stdout)
    # the argument types are shared with the library's own commands (bnlab._cli_args); nothing of the grader
    ours = [m for m in added if m.split(".")[0] == "bnlab"]
    assert ours == ["bnlab._cli_args", "bnlab.grading", "bnlab.grading.cli"], added
    heavy = ("matplotlib", "nbformat", "nbclient", "jupyter_client", "IPython", "numpy")
    assert not [m for m in added if m.split(".")[0] in heavy], added
