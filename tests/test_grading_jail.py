"""Attacks on ``bnlab grade``, end to end, with the jail and with ``--no-jail``.

One class of students is graded per mode: attackers, honest students (graded among and after them),
and students with hostile folder names or files. Each attack asserts the score the learner deserves;
the honest students must get full marks, also in a second batch run afterwards; and nothing outside
the run may change: the grader's temporary folder is a test-made TMPDIR (never the real /tmp), with a
sentinel file in it, and its mode is checked. Attacks that only a jail can stop (reading files the
learner's user may read, the network) are asserted in the jail only: that is what --no-jail gives up.

The jail tests run wherever Linux is: skipped elsewhere, and on Linux with CI=true a missing bwrap fails.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

import grading_fixture as fx
from bnlab.grading.sandbox.client import remove_tree

FIXTURE = Path(fx.__file__)
REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "exercises" / "instructor" / "ex01" / "hidden.py"  # instructor-only: the hidden checks
assert SOLUTION.is_file(), f"{SOLUTION} (what the attacks try to read) must exist, or they prove nothing"
D = "# GRADED FUNCTION: double\n"
MARKER = "honest-marker-7781"          # only in aa_honest's notebook
SECRET = "TOPSECRET-a9f3"              # only in a root-only file the attacks try to exfiltrate
SLEEP = "31.4159"                      # argv of processes that try to outlive the run

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="bnlab grade's jail needs Linux")


def _bwrap_or_fail() -> None:
    if shutil.which("bwrap"):
        return
    if os.environ.get("CI") == "true":
        pytest.fail("bubblewrap (bwrap) is missing on a Linux CI machine: .ci/run installs it")
    pytest.skip("bubblewrap (bwrap) is not installed")


def _returns_double(attack: str) -> str:
    """A graded cell that runs ``attack`` (indented code, inside double) then returns the right answer."""
    return D + "import os, sys\nimport numpy as np\n\ndef double(x):\n" + attack + "    return 2 * np.asarray(x)\n"


def _attacks(paths: dict) -> dict:
    """student -> (ex01 cells or a marker, ex01 points deserved, words expected, jail only?)."""
    exfiltrate = ("    found = []\n"
                  "    for p in PATHS:\n"
                  "        try:\n"
                  "            found.append(open(p, errors='replace').read()[:400])\n"
                  "        except Exception:\n"
                  "            pass\n"
                  "    if found:\n"
                  "        raise RuntimeError('LEAK' 'ED ' + ' | '.join(found))\n"
                  ).replace("PATHS", repr(paths["read"]))
    return {
        # The cleanup used to chmod the parent of a vanished working directory, as root: /tmp became 0700.
        "removes_workdir": ([_returns_double(
            "    here = os.environ['HOME']  # its working directory\n"
            "    for folder, dirs, files in os.walk(here, topdown=False):\n"
            "        for name in files:\n            os.unlink(os.path.join(folder, name))\n"
            "        for name in dirs:\n            os.rmdir(os.path.join(folder, name))\n"
            "    os.chdir('/')\n"
            "    for step in (lambda: os.rmdir(here), lambda: os.symlink(os.path.dirname(here), here),\n"
            "                 lambda: os.rename(os.path.dirname(here), here + '-moved')):\n"
            "        try:\n            step()\n        except OSError:\n            pass\n")], 4, [], False),
        # fork + setsid + fork: a process that would survive the process-group kill and the batch.
        "escapes": ([_returns_double(
            "    if os.fork() == 0:\n        os.setsid()\n        if os.fork() == 0:\n"
            f"            os.execv('/bin/sleep', ['sleep', '{SLEEP}'])\n        os._exit(0)\n"
            "    os.wait()\n")], 4, [], False),
        # Swap whatever grader file it can reach for a link to a root-only file, a FIFO or /dev/zero.
        "swaps_grader_files": ([_returns_double(
            "    print('some output')\n    here = os.getcwd()\n"
            "    for folder in {here, os.path.dirname(here), os.path.dirname(os.path.dirname(here))}:\n"
            "        try:\n            names = os.listdir(folder)\n        except OSError:\n            continue\n"
            "        for i, name in enumerate(names):\n            p = os.path.join(folder, name)\n"
            "            for make in (lambda: os.symlink(" + repr(paths["secret"]) + ", p), lambda: os.mkfifo(p),\n"
            "                         lambda: os.symlink('/dev/zero', p)):\n"
            "                try:\n                    if os.path.isfile(p) and not os.path.islink(p):\n"
            "                        os.unlink(p)\n                    make()\n                    break\n"
            "                except OSError:\n                    pass\n")], 4, [], False),
        # Full marks without writing code: the reference solution, the hidden checks, bnlab itself.
        # The grader's command line (in /proc) names the checkout: look for the solutions next to it.
        "reads_solutions": ([D + "import os, sys\n\ndef double(x):\n"
                             "    guesses = []\n"
                             "    for pid in ('1', str(os.getppid())):\n"
                             "        try:\n            cmd = open('/proc/' + pid + '/cmdline').read()\n"
                             "        except OSError:\n            continue\n"
                             "        for word in cmd.split('\\0'):\n"
                             "            while word.startswith('/') and word != '/':\n"
                             "                guesses.append(word + '/exercises/instructor/ex01/hidden.py')\n"
                             "                word = os.path.dirname(word)\n"
                             + exfiltrate.replace("for p in ", "for p in guesses + ") + "    return x\n"],
                            0, ["wrong values"], True),
        "unblocks_import": ([D + "import sys\n"
                             "sys.meta_path[:] = [f for f in sys.meta_path if 'Block' not in type(f).__name__]\n"
                             "bn = __import__('bn' + 'lab')\n\ndef double(x):\n    return 2 * x\n"],
                            0, ["No module named 'bnlab'"], True),
        # A classmate's notebook, OUT (grades and hidden-check messages), the secret file.
        "reads_classmates": ([_returns_double(exfiltrate)], 4, [], True),
        "links_classmate": ("link", 0, ["symbolic link"], False),
        # The network: a server of this test listens on the host's loopback.
        "network": ([_returns_double(
            "    import socket\n    try:\n"
            f"        socket.create_connection(('127.0.0.1', {paths['port']}), timeout=2).sendall(b'hello')\n"
            "    except OSError:\n        pass\n")], 4, [], True),
        # Input edges.
        "deep_json": ("deep json", 0, ["nested too deeply"], False),
        "deep_tree": ("deep tree", 4, [], False),
        "huge_file": ("huge", 0, ["too large"], False),
        "makes_deep_tree": ([_returns_double(
            "    here = os.getcwd()\n    if not os.listdir(here):  # once per run: 1,200 folders deep\n"
            "        for _ in range(1200):\n            os.mkdir('d')\n            os.chdir('d')\n"
            "    os.chdir(here)\n")], 4, [], False),
        "=HYPERLINK(\"evil\",\"x\")": ([fx.DOUBLE_CELL], 4, [], False),
        "grades.csv": ([fx.DOUBLE_CELL], 4, [], False),
        "students": ([fx.DOUBLE_CELL], 4, [], False),
    }


HONEST = ["aa_honest", "zz_honest_1", "zz_honest_2"]


def _write(submissions: Path, student: str, cells) -> None:
    folder = submissions / student
    ex01 = folder / "ex01_double.ipynb"
    if cells == "link":
        folder.mkdir(parents=True)
        os.symlink(os.path.join("..", "aa_honest", "ex01_double.ipynb"), ex01)
    elif cells == "deep json":
        folder.mkdir(parents=True)
        ex01.write_text("[" * 100_000 + "]" * 100_000)
    elif cells == "huge":
        folder.mkdir(parents=True)
        with open(ex01, "wb") as f:
            f.truncate(40 * 2**20)  # sparse: costs no disk
    elif cells == "deep tree":
        fx.notebook(ex01, [fx.DOUBLE_CELL])
        fd = os.open(folder, os.O_RDONLY)
        for _ in range(1200):
            os.mkdir("d", dir_fd=fd)
            sub = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = sub
        os.close(fd)
    else:
        extra = [f"# {MARKER}\n"] if student == "aa_honest" else []
        fx.notebook(ex01, cells, extra)
    fx.notebook(folder / "ex02_pair.ipynb", fx.PAIR_CELLS)


def _digest(folder: Path) -> dict:
    """Every file and link below ``folder`` (iteratively: one tree is 1,200 folders deep) with its content hash."""
    found, stack = {}, [str(folder)]
    while stack:
        here = stack.pop()
        for entry in os.scandir(here):
            if entry.is_symlink():
                found[entry.path] = os.readlink(entry.path)
            elif entry.is_dir():
                stack.append(entry.path)
            else:
                with open(entry.path, "rb") as f:
                    found[entry.path] = hashlib.sha256(f.read(2**16)).hexdigest()
    return found


def _sleepers() -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes() == f"sleep\0{SLEEP}\0".encode():
                found.append(int(pid))
        except OSError:
            pass
    return found


class _Listener:
    """A TCP server on the host's loopback that records whether anybody connected."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.running = True
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                continue

    def close(self):
        self.running = False
        self.sock.close()


def _grade(submissions: Path, out: Path, tmpdir: Path, mode: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "bnlab.cli", "grade", str(submissions), "--out", str(out), "--course", str(FIXTURE),
           "--timeout", "5", "--jobs", "2"] + (["--no-jail"] if mode == "no-jail" else [])
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module", params=["jail", "no-jail"])
def batch(request, tmp_path_factory):
    mode = request.param
    if mode == "jail":
        _bwrap_or_fail()
    elif os.geteuid() != 0:
        pytest.skip("--no-jail protects the grader only as root (learner code then runs as a throwaway uid)")
    root = tmp_path_factory.mktemp(f"attacks-{mode}")
    submissions, out = root / "submissions", root / "out"
    # The grader's temporary root: made here, world-writable and sticky like /tmp, with a sentinel.
    tmpdir = Path(tempfile.mkdtemp(prefix="bnlab-test-tmpdir-", dir="/tmp"))
    os.chmod(tmpdir, 0o1777)
    (tmpdir / "sentinel.txt").write_text("untouched")
    secret = root / "secret.txt"
    secret.write_text(SECRET)
    secret.chmod(0o600)
    listener = _Listener()
    paths = {"secret": str(secret), "port": listener.port,
             "read": [str(secret), str(SOLUTION), str(FIXTURE), str(REPO / "bnlab" / "__init__.py"),
                      str(submissions / "aa_honest" / "ex01_double.ipynb"), str(out / "grades.csv"),
                      str(out / "students" / "aa_honest" / "grade.json")]}
    attacks = _attacks(paths)
    for student in HONEST:
        _write(submissions, student, [fx.DOUBLE_CELL])
    for student, (cells, *_rest) in attacks.items():
        _write(submissions, student, cells)
    before = _digest(submissions)
    try:
        result = _grade(submissions, out, tmpdir, mode)
        again = _grade(submissions, root / "out-again", tmpdir, mode)  # a later batch of the same class
    finally:
        listener.close()
    rows = {r["student"]: r for r in csv.DictReader((out / "grades.csv").open())}
    rows_again = {r["student"]: r for r in csv.DictReader((root / "out-again" / "grades.csv").open())}
    yield {"mode": mode, "result": result, "again": again, "out": out, "rows": rows, "rows_again": rows_again,
           "attacks": attacks, "tmpdir": tmpdir, "submissions": submissions, "before": before,
           "listener": listener}
    shutil.rmtree(tmpdir, ignore_errors=True)
    remove_tree(str(submissions / "deep_tree"))  # too deep for shutil.rmtree (pytest's cleanup) on Python 3.11


def _row(rows: dict, student: str) -> dict:
    if student in rows:
        return rows[student]
    escaped = "'" + student
    assert escaped in rows, (student, sorted(rows))
    return rows[escaped]


def test_the_batch_finishes(batch):
    assert batch["result"].returncode == 0, batch["result"].stderr
    assert batch["again"].returncode == 0, batch["again"].stderr
    expected = ("learner code runs in a bubblewrap jail" if batch["mode"] == "jail" else "--no-jail")
    assert expected in batch["result"].stderr


def test_honest_students_get_full_marks_before_among_and_after_the_attacks(batch):
    for rows in (batch["rows"], batch["rows_again"]):
        for student in HONEST:
            assert float(rows[student]["total"]) == sum(fx.MAX.values()), (student, rows[student])


@pytest.mark.parametrize("student", sorted(_attacks({"secret": "", "port": 0, "read": []})))
def test_each_attack_scores_what_it_deserves(batch, student):
    cells, points, words, jail_only = batch["attacks"][student]
    if jail_only and batch["mode"] != "jail":
        pytest.skip("only a jail stops this (what --no-jail gives up)")
    for rows in (batch["rows"], batch["rows_again"]):
        row = _row(rows, student)
        assert float(row["ex01"]) == points, row
        assert float(row["ex02"]) == fx.MAX["ex02"], row
    state = json.loads((batch["out"] / "students" / student / "grade.json").read_text())
    ex01 = state["exercises"][0]
    text = ex01["problem"] + ex01["note"] + "\n".join(c["message"] + c["detail"] for c in ex01["checks"])
    for word in words:
        assert word in text, (word, text)


def test_nothing_secret_reaches_any_feedback_or_grade(batch):
    leaked = []
    for path in batch["out"].rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            for word in (SECRET, "LEAKED", MARKER, "SECRET_SHAPE", "YOUR CODE STARTS HERE"):
                if word in text and not (batch["mode"] != "jail" and word in ("LEAKED", MARKER, "SECRET_SHAPE",
                                                                              "YOUR CODE STARTS HERE")):
                    leaked.append((str(path.relative_to(batch["out"])), word))
    assert leaked == []


def test_a_symlinked_notebook_is_not_graded_as_the_learners_own(batch):
    feedback = (batch["out"] / "students" / "links_classmate" / "feedback.md").read_text()
    assert "symbolic link" in feedback and MARKER not in feedback


def test_no_process_outlives_the_run(batch):
    assert _sleepers() == []


def test_nothing_outside_the_run_changed(batch):
    tmpdir = batch["tmpdir"]
    assert stat.S_IMODE(os.stat(tmpdir).st_mode) == 0o1777
    assert sorted(os.listdir(tmpdir)) == ["sentinel.txt"], "the grader's temporary folders are all removed"
    assert (tmpdir / "sentinel.txt").read_text() == "untouched"
    assert _digest(batch["submissions"]) == batch["before"]


def test_out_is_not_world_readable_and_names_cannot_break_it(batch):
    out = batch["out"]
    assert not os.stat(out).st_mode & 0o007
    for path in out.rglob("*"):
        assert not path.stat().st_mode & 0o007, path
    names = [row[0] for row in csv.reader((out / "grades.csv").open())]
    assert "'=HYPERLINK(\"evil\",\"x\")" in names and not [n for n in names if n[:1] in "=+-@"]
    assert (out / "students" / "grades.csv" / "grade.json").is_file()


def test_the_jail_keeps_learner_code_off_the_network(batch):
    if batch["mode"] != "jail":
        pytest.skip("only a jail has its own network namespace")
    assert batch["listener"].connections == 0


def test_a_notebook_never_sees_what_an_earlier_one_left_in_its_jail():
    """Notebooks (of one student) share a jail only while each leaves it as it found it; anything left behind
    (a file in /tmp or /dev/shm, a process) retires that jail and the next notebook gets a new one."""
    _bwrap_or_fail()
    from bnlab.grading.sandbox.client import jail_session

    with jail_session():
        _notebooks_in_one_session()


def _notebooks_in_one_session():
    from bnlab.grading.sandbox.client import Limits, run_learner

    call = [{"function": "probe", "args": (), "kwargs": {}, "key": "p", "returns": None, "copy_check": False}]
    look = ("# GRADED FUNCTION: probe\nimport os\n\ndef probe():\n"
            "    return [os.getpid(), sorted(os.listdir('/tmp')), sorted(os.listdir('/dev/shm')), "
            "sorted(p for p in os.listdir('/proc') if p.isdigit())]\n")
    leave = ("# GRADED FUNCTION: probe\nimport os\n\ndef probe():\n"
             "    open('/tmp/left', 'w').write('x')\n    open('/dev/shm/left', 'w').write('x')\n"
             "    if os.fork() == 0:\n        os.setsid()\n        os.execv('/bin/sleep', ['sleep', '300'])\n"
             "    return 0\n")
    limits = Limits(timeout=10, jail=True)
    first = run_learner([("probe", 0, look)], call, limits).outcomes["p"]["value"]
    second = run_learner([("probe", 0, look)], call, limits).outcomes["p"]["value"]
    assert second[0] > first[0], "a clean notebook keeps its jail: the next child is forked by the same server"
    assert run_learner([("probe", 0, leave)], call, limits).status == "ok"
    after = run_learner([("probe", 0, look)], call, limits).outcomes["p"]["value"]
    assert after[1] == [] and after[2] == [], "nothing a previous notebook wrote"
    assert after[0] <= first[0] + 1 and len(after[3]) == len(first[3]), "a new jail: no leftover process"


_PROBE_CALL = [{"function": "probe", "args": (), "kwargs": {}, "key": "p", "returns": None, "copy_check": False}]


def test_a_jail_never_serves_two_students():
    """Only the runs inside one jail_session (one student's notebooks) share a jail: the next session, and
    every run outside a session, starts in a brand-new jail (its first child gets the same PID again)."""
    _bwrap_or_fail()
    from bnlab.grading.sandbox.client import Limits, jail_session, run_learner

    pid = "# GRADED FUNCTION: probe\nimport os\n\ndef probe():\n    return os.getpid()\n"
    limits = Limits(timeout=10, jail=True)

    def run():
        return run_learner([("probe", 0, pid)], _PROBE_CALL, limits).outcomes["p"]["value"]

    with jail_session():
        first = [run(), run()]
    with jail_session():
        second = [run(), run()]
    alone = [run(), run()]
    assert first[1] > first[0] and second[1] > second[0], "one student's notebooks share a jail"
    assert first[0] == second[0] == alone[0] == alone[1], \
        "a new jail (the same first PID) for each student and lone run"


def test_the_jails_pid_1_is_its_undumpable_server_which_learner_code_cannot_trace():
    """PID 1 of the jail is the server (bwrap --as-pid-1), not bubblewrap's own init: learner code of the same
    uid can neither ptrace it nor open its memory, nor kill it, and (bwrap >= 0.8) makes no user namespace."""
    _bwrap_or_fail()
    from bnlab.grading.sandbox import jail
    from bnlab.grading.sandbox.client import Limits, run_learner

    probe = ("# GRADED FUNCTION: probe\nimport ctypes, os, signal\n\ndef probe():\n"
             "    libc = ctypes.CDLL(None, use_errno=True)\n"
             "    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]\n"
             "    attach = libc.ptrace(16, 1, None, None), ctypes.get_errno()\n"  # PTRACE_ATTACH
             "    try:\n        open('/proc/1/mem', 'rb').close()\n        mem = 'opened'\n"
             "    except OSError as exc:\n        mem = exc.errno\n"
             "    os.kill(1, signal.SIGKILL)\n"
             "    userns = libc.unshare(0x10000000), ctypes.get_errno()\n"  # CLONE_NEWUSER
             "    cmdline = open('/proc/1/cmdline', 'rb').read().split(b'\\0')\n"
             "    return [list(attach), mem, list(userns), [c.decode() for c in cmdline if c][-3:]]\n")
    run = run_learner([("probe", 0, probe)], _PROBE_CALL, Limits(timeout=10, jail=True))
    assert run.status == "ok", run.message
    attach, mem, userns, cmdline = run.outcomes["p"]["value"]
    assert attach[0] == -1 and attach[1] in (1, 13), "PTRACE_ATTACH to PID 1 is refused (EPERM/EACCES)"
    assert mem in (1, 13), "PID 1's memory cannot be opened"
    assert "--jail-server" in cmdline, f"PID 1 is the jail's server, not bwrap: {cmdline}"
    if "--disable-userns" in jail.options({}):
        assert userns[0] == -1, "no new user namespace inside the jail"


def test_a_notebook_that_changes_the_mode_of_tmp_retires_its_jail():
    """Making /tmp (or /dev/shm) read-only would break that student's next notebooks: the jail is retired."""
    _bwrap_or_fail()
    from bnlab.grading.sandbox.client import Limits, jail_session, run_learner

    lock = ("# GRADED FUNCTION: probe\nimport os\n\ndef probe():\n    os.chmod('/tmp', 0o555)\n"
            "    os.chmod('/dev/shm', 0o555)\n    return 0\n")
    write = ("# GRADED FUNCTION: probe\ndef probe():\n    open('/tmp/x', 'w').write('x')\n"
             "    open('/dev/shm/x', 'w').write('x')\n    return 'wrote'\n")
    limits = Limits(timeout=10, jail=True)
    with jail_session():
        assert run_learner([("probe", 0, lock)], _PROBE_CALL, limits).status == "ok"
        after = run_learner([("probe", 0, write)], _PROBE_CALL, limits)
    assert after.status == "ok" and after.outcomes["p"]["value"] == "wrote", (after.message, after.outcomes)


def test_the_folders_the_jail_hides_cannot_be_written():
    """The empty tmpfs over a hidden folder (e.g. the system's dist-packages) is read-only: a writable one with no
    size would hold up to half the host's memory, out of reach of the per-process limits."""
    _bwrap_or_fail()
    from bnlab.grading.sandbox import jail
    from bnlab.grading.sandbox.client import Limits, run_learner

    options = jail.options({})
    hidden = [options[i + 1] for i, a in enumerate(options)
              if a == "--tmpfs" and options[i + 1] not in ("/dev/shm", jail.HOME)]
    assert hidden, "the jail hides at least one folder (bnlab itself)"
    source = ("# GRADED FUNCTION: probe\nimport os\n\ndef probe(folders):\n    found = []\n"
              "    for folder in folders:\n        try:\n"
              "            open(os.path.join(folder, 'x'), 'wb').write(b'x' * 8192)\n"
              "            found.append('wrote')\n"
              "        except OSError as exc:\n            found.append(exc.errno)\n    return found\n")
    call = [{"function": "probe", "args": [hidden], "kwargs": {}, "key": "p", "returns": None, "copy_check": False}]
    run = run_learner([("probe", 0, source)], call, Limits(timeout=10, jail=True))
    assert run.status == "ok", run.message
    assert "wrote" not in run.outcomes["p"]["value"], dict(zip(hidden, run.outcomes["p"]["value"]))
