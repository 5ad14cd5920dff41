"""The grading key: created once (mode 0600) in the instructor folder, the same on rerun, never shown to a
student nor shipped in the release; the Gradescope bundle carries it and salts by the Gradescope user id."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import grading_fixture as fx
from bnlab.grading.author.bundles import leaks
from bnlab.grading.core.student_inputs import student_salt
from bnlab.grading.grade.grading_key import GradingKeyError, load_or_create, read_key
from exercise_harness import INSTRUCTOR, ROOT, mutant_cells, notebook_with, solution_cells

CLI = [sys.executable, "-m", "bnlab.cli"]


def _instructor_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "instructor"
    for hidden in INSTRUCTOR.glob("ex[0-9][0-9]/hidden.py"):
        (folder / hidden.parent.name).mkdir(parents=True)
        shutil.copy(hidden, folder / hidden.parent.name / "hidden.py")
    return folder


def _class(tmp_path: Path) -> Path:
    """Two students: ex01 right, and ex01 with a mistake some hidden checks catch."""
    submissions = tmp_path / "submissions"
    for student, cells in (("alice", solution_cells("ex01")), ("bob", mutant_cells("ex01", "eps_argument_ignored"))):
        (submissions / student).mkdir(parents=True)
        notebook_with("ex01", cells, submissions / student / "ex01_batchnorm_forward.ipynb")
    return submissions


def _grade(submissions: Path, out: Path, *extra: str, env=None):
    return subprocess.run(CLI + ["grade", str(submissions), "--out", str(out), *fx.jail_flags(), *extra],
                          capture_output=True, text=True, timeout=600, env=env)


def test_the_first_grade_creates_a_private_key_in_the_instructor_folder_and_reruns_reuse_it(tmp_path):
    instructor, submissions = _instructor_copy(tmp_path), _class(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "BNLAB_GRADING_KEY"}
    first = _grade(submissions, tmp_path / "out", "--instructor", str(instructor), env=env)
    assert first.returncode == 0, first.stderr
    key_file = instructor / "grading.key"
    assert "created the grading key" in first.stderr and str(key_file) in first.stderr
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = read_key(key_file)
    assert len(key) == 32
    again = _grade(submissions, tmp_path / "out", "--instructor", str(instructor), env=env)
    assert again.returncode == 0 and "created" not in again.stderr and read_key(key_file) == key
    assert "2 unchanged (skipped)" in again.stdout
    other = tmp_path / "other.key"
    regraded = _grade(submissions, tmp_path / "out", "--instructor", str(instructor), "--key-file", str(other), env=env)
    assert regraded.returncode == 0 and "0 unchanged" in regraded.stdout  # another key: other inputs, regraded
    assert "2 students were graded with another grading key" in regraded.stderr and key.hex() not in regraded.stderr
    assert read_key(other) != key
    assert "another grading key" not in _grade(submissions, tmp_path / "out", "--instructor", str(instructor),
                                               "--key-file", str(other), env=env).stderr


def test_the_same_key_gives_the_same_grades_and_the_key_is_in_no_file_a_student_gets(tmp_path):
    submissions, key_file = _class(tmp_path), tmp_path / "grading.key"
    for out, jobs in (("out1", "1"), ("out2", "2")):  # one thread, then two at once: the same inputs and grades
        assert _grade(submissions, tmp_path / out, "--key-file", str(key_file), "--jobs", jobs).returncode == 0
    key = read_key(key_file)
    for student in ("alice", "bob"):
        first, second = (json.loads((tmp_path / out / "students" / student / "grade.json").read_text())
                         for out in ("out1", "out2"))
        assert first["points"] == second["points"] and first["exercises"][0]["checks"] == \
            second["exercises"][0]["checks"]
    bob = json.loads((tmp_path / "out1" / "students" / "bob" / "grade.json").read_text())
    assert 0 < bob["points"]["ex01"] < bob["max"]["ex01"]
    secrets = [key.hex(), key.hex().upper(), str(student_salt(key, "alice")), str(student_salt(key, "bob"))]
    for path in (tmp_path / "out1").rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert not any(s in text for s in secrets), path


def test_a_key_file_that_is_not_a_key_is_a_usage_error(tmp_path):
    bad = tmp_path / "grading.key"
    bad.write_text("password\n")
    result = _grade(_class(tmp_path), tmp_path / "out", "--key-file", str(bad))
    assert result.returncode == 2
    assert str(bad) in result.stderr and "hexadecimal" in result.stderr
    with pytest.raises(GradingKeyError, match="hexadecimal"):
        read_key(bad)


def test_load_or_create_never_overwrites_and_the_release_scan_finds_a_planted_key(tmp_path):
    from bnlab.grading.checks import load_course

    instructor = _instructor_copy(tmp_path)
    version = load_course(instructor).version
    key, created = load_or_create(instructor / "grading.key")
    assert created and load_or_create(instructor / "grading.key") == (key, False)
    assert stat.S_IMODE((instructor / "grading.key").stat().st_mode) == 0o600
    assert load_course(instructor).version == version  # the course version never depends on the key
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "notes.txt").write_text(f"my key is {key.hex()}\n")
    (bundle / "fine.txt").write_text("nothing here\n")
    assert leaks(bundle, instructor) == ["notes.txt"]


def test_a_release_built_from_a_checkout_holding_the_key_does_not_contain_it(tmp_path):
    source = tmp_path / "checkout"
    for name in ("bnlab", "notebooks", "exercises"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.key"))
    for name in ("pyproject.toml", "README.md", "LICENSE", "Makefile"):
        shutil.copy(ROOT / name, source / name)
    key, _ = load_or_create(source / "exercises" / "instructor" / "grading.key")
    out = tmp_path / "release"
    run = subprocess.run(CLI + ["release", "--out", str(out), "--source", str(source)], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files and not [p for p in files if p.suffix == ".key" or key.hex() in p.read_text(errors="replace")]


def test_the_gradescope_bundle_carries_the_key_privately_and_salts_by_the_gradescope_user(tmp_path, monkeypatch):
    from bnlab.grading.grade.autograder import read_submission_metadata, student_salt_of

    key_file = tmp_path / "grading.key"
    bundle = tmp_path / "bundle"
    result = subprocess.run(CLI + ["gradescope", "--out", str(bundle), "--key-file", str(key_file)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    key, shipped = read_key(key_file), bundle / "instructor" / "grading.key"
    assert read_key(shipped) == key and stat.S_IMODE(shipped.stat().st_mode) == 0o600
    with zipfile.ZipFile(bundle / "autograder.zip") as zf:
        assert zf.read("instructor/grading.key").decode().strip() == key.hex()

    monkeypatch.setenv("BNLAB_INSTRUCTOR", str(bundle / "instructor"))
    root = tmp_path / "autograder"
    root.mkdir()
    for users, expected in (([{"id": 4242, "email": "a@b.c"}], "4242"), ([{"email": "a@b.c"}], "a@b.c"),
                            ([{"id": 52}, {"id": 31}], "31"), ([{"id": 31}, {"id": 52}], "31")):  # a group
        (root / "submission_metadata.json").write_text(json.dumps({"users": users}))
        assert student_salt_of(read_submission_metadata(root)) == student_salt(key, expected)
    (root / "submission_metadata.json").unlink()
    assert student_salt_of(read_submission_metadata(root)) == student_salt(key, "")
    shipped.unlink()
    from bnlab.grading.core.course import CourseError
    with pytest.raises(CourseError, match="grading.key.*rebuild the bundle"):
        student_salt_of(read_submission_metadata(root))


def test_a_key_that_cannot_be_created_is_a_clear_error_naming_the_way_out():
    from bnlab.grading.grade.grading_key import GradingKeyError, load_or_create

    # /proc refuses new folders even to root (an ordinary user meets this in a folder it cannot write)
    with pytest.raises(GradingKeyError, match=r"cannot create the grading key /proc/bnlab-no-such/grading.key: .*"
                                              r"pass --key-file FILE"):
        load_or_create(Path("/proc/bnlab-no-such/grading.key"))
