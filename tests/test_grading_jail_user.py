"""``bnlab grade`` run by an ordinary user (``nobody``), on a temporary copy of the package.

Without a jail, learner code would run as that user and could read and change everything the
instructor can. In the jail it reaches none of the instructor's files. Needs root (to switch to
``nobody`` with setpriv), bwrap, and a system Python of this Python's version (numpy is copied next
to the package, readable by anyone); skipped where the machine does not allow it.
"""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy
import pytest

import grading_fixture as fx

REPO = Path(__file__).resolve().parents[1]
SYSTEM_PYTHON = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
NOBODY = 65534
D = "# GRADED FUNCTION: double\n"


def _machine_allows() -> str:
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return "needs Linux and root (to run the grader as nobody)"
    if not shutil.which("setpriv") or not shutil.which("bwrap") or not os.path.exists(SYSTEM_PYTHON):
        return f"needs setpriv, bwrap and {SYSTEM_PYTHON}"
    return ""


pytestmark = pytest.mark.skipif(bool(_machine_allows()), reason=_machine_allows() or "-")


def _grade_as_nobody(top: Path, students: dict[str, list[str]], jobs: int) -> dict:
    """Copy the package and numpy under ``top`` (readable by anyone), write each student's ex01 cells (and the
    correct ex02), and run ``bnlab grade`` there as ``nobody`` with the instructor's files in ``top/home``."""
    os.chmod(top, 0o755)
    site = top / "site"
    numpy_dir = Path(numpy.__file__).parent
    for folder in (numpy_dir, numpy_dir.with_name("numpy.libs")):
        if folder.is_dir():
            shutil.copytree(folder, site / folder.name)
    shutil.copytree(REPO / "bnlab", top / "repo" / "bnlab", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(fx.__file__, top / "repo" / "grading_fixture.py")
    home = top / "home"  # the instructor's own files
    (home / "tmp").mkdir(parents=True)
    (home / "secret.txt").write_text("INSTRUCTOR-SECRET-5521")
    (home / "victim.txt").write_text("unchanged")
    subs = home / "subs"
    for student, cells in students.items():
        fx.notebook(subs / student / "ex01_double.ipynb", cells)
        fx.notebook(subs / student / "ex02_pair.ipynb", fx.PAIR_CELLS)
    for path in [top, *top.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    for path in [home, *home.rglob("*")]:
        os.chown(path, NOBODY, NOBODY)
    os.chmod(home / "secret.txt", 0o600)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(home / "tmp"),
           "PYTHONPATH": f"{site}:{top / 'repo'}"}
    result = subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", SYSTEM_PYTHON, "-m", "bnlab.cli",
         "grade", str(subs), "--out", str(home / "out"), "--course", str(top / "repo" / "grading_fixture.py"),
         "--timeout", "10", "--jobs", str(jobs), "--key-file", str(home / "grading.key")],
        env=env, cwd=str(home), capture_output=True, text=True, timeout=600)
    rows = {r["student"]: r for r in csv.DictReader((home / "out" / "grades.csv").open())} \
        if (home / "out" / "grades.csv").exists() else {}
    out_text = "".join(p.read_text(errors="replace") for p in (home / "out").rglob("*") if p.is_file())
    return {"result": result, "rows": rows, "home": home, "out_text": out_text}


@pytest.fixture(scope="module")
def graded():
    top = Path(tempfile.mkdtemp(prefix="bnlab-as-nobody-", dir="/tmp"))
    try:
        home = top / "home"
        attack = (D + "import os\nimport numpy as np\n\ndef double(x):\n"
                  f"    for p in ({str(home / 'secret.txt')!r}, {str(home / 'victim.txt')!r}):\n"
                  "        try:\n            open(p, 'a').write('PWNED')\n        except OSError:\n            pass\n"
                  "        try:\n            raise RuntimeError('LEAK' 'ED ' + open(p).read())\n"
                  "        except OSError:\n            pass\n"
                  "    if os.fork() == 0:\n        os.setsid()\n        if os.fork() == 0:\n"
                  "            os.execv('/bin/sleep', ['sleep', '27.1828'])\n        os._exit(0)\n"
                  "    return 2 * np.asarray(x)\n")
        yield _grade_as_nobody(top, {"attacker": [attack], "zz_honest": [fx.DOUBLE_CELL]}, jobs=2)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_an_ordinary_user_grades_in_the_jail(graded):
    assert graded["result"].returncode == 0, graded["result"].stderr
    assert "bubblewrap jail" in graded["result"].stderr and "the grader's user id" in graded["result"].stderr


def test_learner_code_reaches_none_of_the_instructors_files(graded):
    home = graded["home"]
    assert (home / "victim.txt").read_text() == "unchanged"
    assert (home / "secret.txt").read_text() == "INSTRUCTOR-SECRET-5521"
    assert "INSTRUCTOR-SECRET" not in graded["out_text"] and "LEAKED" not in graded["out_text"]
    assert float(graded["rows"]["attacker"]["total"]) == sum(fx.MAX.values())  # its double is right


def test_the_honest_student_after_it_gets_full_marks(graded):
    assert float(graded["rows"]["zz_honest"]["total"]) == sum(fx.MAX.values())


def test_nothing_it_started_survives(graded):
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            assert Path(f"/proc/{pid}/cmdline").read_bytes() != b"sleep\x0027.1828\x00"
        except OSError:
            pass


ADDS_KEYS = D + r"""import ctypes
import numpy as np

_libc = ctypes.CDLL(None, use_errno=True)
_ADD_KEY = {"x86_64": 248, "aarch64": 217}[__import__("os").uname().machine]
for ring in (-3, -4, -5):  # the session, user and user-session keyrings
    _libc.syscall(_ADD_KEY, b"user", b"BNLAB-KEY-LEAK-%d" % -ring, b"hidden inputs", 13, ring)

def double(x):
    return 2 * np.asarray(x)
"""
READS_KEYS = D + r"""import numpy as np

_seen = "BNLAB-KEY-LEAK" in open("/proc/keys").read()

def double(x):
    return (0 if _seen or "BNLAB-KEY-LEAK" in open("/proc/keys").read() else 2) * np.asarray(x)
"""


@pytest.mark.skipif(os.uname().machine not in ("x86_64", "aarch64"), reason="add_key's syscall number")
def test_keys_one_student_adds_are_not_seen_by_the_next_students_jail():
    """As an ordinary user every jail has the same uid; keys it adds to its session, user or user-session
    keyring were seen by the next student's jail in /proc/keys. Each jail now has a fresh session keyring
    (and its own user namespace, so its own user keyrings), and a key a job adds retires its jail."""
    top = Path(tempfile.mkdtemp(prefix="bnlab-as-nobody-", dir="/tmp"))
    try:
        graded = _grade_as_nobody(top, {"a_adds": [ADDS_KEYS], "b_reads": [READS_KEYS], "c_reads": [READS_KEYS]},
                                  jobs=1)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    assert graded["result"].returncode == 0, graded["result"].stderr
    assert "the grader's user id" in graded["result"].stderr
    for student in ("a_adds", "b_reads", "c_reads"):
        assert float(graded["rows"][student]["total"]) == sum(fx.MAX.values()), (student, graded["rows"][student])
