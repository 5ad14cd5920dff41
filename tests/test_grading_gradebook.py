"""``bnlab grade`` as a batch: SIGKILL in the middle loses nothing, reruns skip what did not change."""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grading_fixture as fx
from bnlab.grading.grade.submissions import match_notebooks

SLOW_DOUBLE = fx.DOUBLE_CELL + "import time\ntime.sleep(0.25)\n"
WRONG_DOUBLE = "# GRADED FUNCTION: double\ndef double(x):\n    return 3 * x\n"
STUDENTS = [f"student{i:02d}" for i in range(10)]


def _command(submissions: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "bnlab.cli", "grade", str(submissions), "--out", str(out),
            "--course", str(Path(fx.__file__)), "--timeout", "5", "--jobs", "2", *fx.jail_flags()]


def _rows(out: Path) -> list[dict]:
    with (out / "grades.csv").open() as f:
        return list(csv.DictReader(f))


def _states(out: Path) -> dict[str, tuple[int, bytes]]:
    return {p.parent.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.glob("students/*/grade.json")}


def test_sigkill_in_the_middle_then_rerun_loses_nothing_and_duplicates_nothing(tmp_path, request):
    submissions, out = tmp_path / "submissions", tmp_path / "out"
    for student in STUDENTS:
        fx.notebook(submissions / student / "ex01_double.ipynb", [SLOW_DOUBLE])
        fx.notebook(submissions / student / "ex02_pair.ipynb", fx.PAIR_CELLS)

    # The killed batch cannot remove its temporary folders: give it one of this test's own.
    tmpdir = tempfile.mkdtemp(prefix="bnlab-test-tmpdir-", dir="/tmp")
    os.chmod(tmpdir, 0o1777)
    request.addfinalizer(lambda: shutil.rmtree(tmpdir, ignore_errors=True))
    batch = subprocess.Popen(_command(submissions, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env={**os.environ, "TMPDIR": tmpdir})
    deadline = time.monotonic() + 60
    while len(list(out.glob("students/*/grade.json"))) < 3 and time.monotonic() < deadline and batch.poll() is None:
        time.sleep(0.05)
    batch.send_signal(signal.SIGKILL)
    batch.communicate()
    done = _states(out)
    assert 3 <= len(done) < len(STUDENTS), "the kill must land in the middle of the batch"
    rows = _rows(out)  # written atomically after each student: complete and parseable
    assert {r["student"] for r in rows} <= set(done) and len(rows) == len({r["student"] for r in rows})
    for student in done:
        json.loads((out / "students" / student / "grade.json").read_text())
        json.loads((out / "students" / student / "results.json").read_text())

    rerun = subprocess.run(_command(submissions, out), capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(STUDENTS) - len(done)} graded, {len(done)} unchanged" in rerun.stdout
    rows = _rows(out)
    assert [r["student"] for r in rows] == STUDENTS  # every student once, sorted
    assert all(float(r["total"]) == float(r["max"]) == 6 for r in rows)
    after = _states(out)
    assert all(after[s] == done[s] for s in done), "a grade already written was rewritten"
    assert not list(out.rglob("*.tmp")), "no half-written files left behind"


def test_rerun_skips_unchanged_and_regrades_changed(tmp_path):
    submissions, out = tmp_path / "submissions", tmp_path / "out"
    for student in STUDENTS[:3]:
        fx.notebook(submissions / student / "ex01_double.ipynb", [fx.DOUBLE_CELL])
        fx.notebook(submissions / student / "ex02_pair.ipynb", fx.PAIR_CELLS)
    first = subprocess.run(_command(submissions, out), capture_output=True, text=True, timeout=120)
    assert "3 graded, 0 unchanged" in first.stdout and "graded 3/3" in first.stderr
    before = _states(out)

    again = subprocess.run(_command(submissions, out), capture_output=True, text=True, timeout=120)
    assert "0 graded, 3 unchanged" in again.stdout
    assert _states(out) == before

    fx.notebook(submissions / "student01" / "ex01_double.ipynb", [WRONG_DOUBLE])
    changed = subprocess.run(_command(submissions, out), capture_output=True, text=True, timeout=120)
    assert "1 graded, 2 unchanged" in changed.stdout
    rows = {r["student"]: r for r in _rows(out)}
    assert float(rows["student01"]["ex01"]) == 0 and float(rows["student00"]["ex01"]) == fx.MAX["ex01"]
    assert len(rows) == 3
    after = _states(out)
    assert after["student00"] == before["student00"] and after["student01"] != before["student01"]


def test_the_newest_of_several_matching_notebooks_is_graded_and_named(tmp_path):
    folder = tmp_path / "alice"
    old = fx.notebook(folder / "ex01_double.ipynb", [WRONG_DOUBLE])
    new = fx.notebook(folder / "ex01_double (2).ipynb", [fx.DOUBLE_CELL])
    os.utime(old, (time.time() - 100, time.time() - 100))
    fx.notebook(folder / "ex010_other.ipynb", [WRONG_DOUBLE])  # ex010 is not ex01
    path, note = match_notebooks(folder, "ex01")
    assert path == new
    assert "several notebooks matched ex01" in note and "ex01_double (2).ipynb" in note
    assert "ex010" not in note
    assert match_notebooks(folder, "ex02") == (None, "")


def test_a_missing_submissions_folder_is_a_clear_error(tmp_path):
    result = subprocess.run(_command(tmp_path / "nope", tmp_path / "out"), capture_output=True, text=True)
    assert result.returncode == 2 and "is not a folder" in result.stderr
