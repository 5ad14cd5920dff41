"""The judge out of learner code's reach, end to end through ``bnlab grade`` (each attack broke it before).

1. Stack walk: during a call, learner code walks up to the worker's job and outcome records, rewrites
   other calls' outcomes (ok=False, error=<every call's inputs as JSON>) and raises with them. Public and
   hidden calls now run in two processes; a hidden run's text never reaches feedback.
2. Forged comparison: learner code replaces ``np.array_equal``, ``np.allclose``... with ``lambda: True``
   and overwrites its input. The worker only sends the arguments back; the grader compares.
3. Results channel: learner code writes its own results (400 entries on one 32 MB body; a header
   ``{"c": []}``) to the results descriptor. That run is "crashed" with 0 points, never a grader failure,
   and the grader's memory stays bounded.
4. Writable root: learner code fills ``/`` and leaves files for the same student's next notebook.

Every test also grades honest students after the attacker: they get full marks. The grader's peak
memory is its own ``ru_maxrss`` (the grading process, not its learner processes).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import grading_fixture as fx
from bnlab.grading.core.report import HIDDEN_WORDS
from bnlab.grading.core.spec import Outcome

FIXTURE = Path(fx.__file__)
GRADER_PEAK_MB = 400  # the grading process's own peak (python, numpy, bnlab and 32 MB of results: ~150 MB)
RUN = ("import resource, sys\nfrom bnlab.cli import main\nrc = main(sys.argv[1:])\n"
       "print('GRADER_MAXRSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
       "sys.exit(rc)\n")

STACK_WALK = r"""# GRADED FUNCTION: double
import gc, json, sys
import numpy as np

def _leak():
    # The job (every call's inputs) and the worker's outcome records, found from inside a call.
    calls, records = [], []
    frame = sys._getframe()
    while frame is not None:
        for v in list(frame.f_locals.values()):
            if type(v) is dict and v and all(type(o) is dict and "ok" in o for o in v.values()):
                records.append(v)
        frame = frame.f_back
    for o in gc.get_objects():
        if type(o) is dict and "calls" in o and "nonce" in o:
            calls = o["calls"]
    inputs = json.dumps([[np.asarray(a).tolist() if isinstance(a, np.ndarray) else repr(a) for a in c["args"]]
                         for c in calls])
    for record in records:
        for o in record.values():
            o["ok"], o["error"], o["value"], o["not_implemented"] = False, "LEAK " + inputs, None, False
    return inputs

def double(x):
    leak = _leak()
    if np.asarray(x).ndim == 2:  # a hidden call: shout the inputs everywhere it can
        print(leak)
        raise type("Leak_" + leak[:40].translate(str.maketrans("[]., -", "______")), (ValueError,), {})(leak)
    return 2 * np.asarray(x)
"""

SETUP_LEAK = r"""# GRADED FUNCTION: double
import gc, json
import numpy as np

_job = next(o for o in gc.get_objects() if type(o) is dict and "calls" in o and "nonce" in o)
_hidden = [np.asarray(a).tolist() for c in _job["calls"] for a in c["args"] if np.asarray(a).ndim == 2]
if _hidden:  # the cells run again for the hidden checks: a setup error made of their inputs
    raise RuntimeError("LEAK " + json.dumps(_hidden))

def double(x):
    return 2 * np.asarray(x)
"""

FORGED_COMPARISON = r"""# GRADED FUNCTION: double
import numpy as np

np.array_equal = lambda *a, **k: True
np.allclose = lambda *a, **k: True
np.array = lambda x, *a, **k: x          # would make the worker's copies alias the (overwritten) input
np.ascontiguousarray = lambda x, *a, **k: x
for name in ("copy", "__eq__", "tobytes"):
    try:
        setattr(np.ndarray, name, lambda self, *a, **k: self)
    except TypeError:                     # numpy's types are immutable
        pass

def double(x):
    x *= 2                                # right values, but the input is overwritten
    return x
"""

_WRITE_RESULTS = r"""# GRADED FUNCTION: double
import gc, json, os, stat

def double(x):
    job = next(o for o in gc.get_objects() if type(o) is dict and "calls" in o and "nonce" in o)
    header = json.dumps(HEADER).encode()
    data = job["nonce"].encode() + b"BNLABPLAIN1\n" + len(header).to_bytes(8, "little") + header + BODY
    for fd in range(3, 64):  # the results channel: the write end of a pipe (a read end refuses the write)
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
        except OSError:
            pass
    os._exit(0)
"""
COPY_BOMB = _WRITE_RESULTS.replace("HEADER", '{"list": [{"array": "<f8", "shape": [4 * 2**20], "offset": 0, '
                                             '"nbytes": 32 * 2**20}] * 400}').replace("BODY", "bytes(32 * 2**20)")
BAD_HEADER = _WRITE_RESULTS.replace("HEADER", '{"c": []}').replace("BODY", 'b""')

FILL_ROOT = r"""# GRADED FUNCTION: double
import os
import numpy as np

for place in ("/", "/dev", "/dev/shm", "/tmp", "/jail", "/usr", "/proc"):
    for i in range(6):  # 6 x 60 MB a place (each file under the 64 MB file size limit)
        try:
            with open(os.path.join(place, f"left_behind_{i}"), "wb") as f:
                for _ in range(60):
                    f.write(bytes(2**20))
        except OSError:
            break

def double(x):
    return 2 * np.asarray(x)
"""
SEES_LEFTOVERS = [
    "# GRADED FUNCTION: scale_pair\nimport os\n_seen = [p for p in ('/', '/dev', '/dev/shm', '/tmp') "
    "if os.path.exists(os.path.join(p, 'left_behind_0'))]\n\ndef scale_pair(a, s):\n"
    "    return (0 * a if _seen else s * a), {'s': s}\n",
    fx.PAIR_CELLS[1],
]


ISOLATIONS = pytest.mark.parametrize("isolation", sorted({tuple(fx.jail_flags()), ("--no-jail",)}),
                                     ids=lambda flags: "no-jail" if flags else "jail")


def _grade(subs: Path, out: Path, *extra: str, isolation: tuple = tuple(fx.jail_flags())):
    import subprocess

    cmd = [sys.executable, "-c", RUN, "grade", str(subs), "--out", str(out), "--course", str(FIXTURE),
           "--timeout", "10", *isolation, *extra]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    peak = [int(line.split()[1]) for line in result.stderr.splitlines() if line.startswith("GRADER_MAXRSS_KB")]
    return result, (peak[0] / 1024 if peak else None)


def _honest(subs: Path, *names: str) -> None:
    for name in names:
        fx.notebook(subs / name / "ex01_double.ipynb", [fx.DOUBLE_CELL])
        fx.notebook(subs / name / "ex02_pair.ipynb", fx.PAIR_CELLS)


def _state(out: Path, student: str) -> dict:
    return json.loads((out / "students" / student / "grade.json").read_text())


def _everything_a_student_or_instructor_reads(out: Path, student: str) -> str:
    folder = out / "students" / student
    return "\n".join((folder / name).read_text() for name in ("feedback.md", "feedback.html", "grade.json",
                                                              "results.json"))


def _secret_numbers() -> list[str]:
    values = fx._SECRET_X.ravel()[:12]
    return [repr(float(v)) for v in values] + [f"{v:.6f}" for v in values] + [f"{v:.4f}" for v in values]


def _check_run(result, peak):
    assert result.returncode == 0, result.stderr
    assert peak is not None and peak < GRADER_PEAK_MB, f"the grader's peak memory: {peak} MB"


@ISOLATIONS
def test_hidden_inputs_never_reach_feedback_through_a_stack_walk_or_a_setup_error(tmp_path, isolation):
    subs, out = tmp_path / "subs", tmp_path / "out"
    fx.notebook(subs / "a_walker" / "ex01_double.ipynb", [STACK_WALK])
    fx.notebook(subs / "a_walker" / "ex02_pair.ipynb", fx.PAIR_CELLS)
    fx.notebook(subs / "b_setup" / "ex01_double.ipynb", [SETUP_LEAK])
    _honest(subs, "c_honest", "d_honest")
    result, peak = _grade(subs, out, "--jobs", "1", isolation=isolation)
    _check_run(result, peak)
    # The walker: its public call passed (its own record is rewritten only before the worker writes it);
    # both hidden calls raised: 0, said in the grader's words.
    walker = _state(out, "a_walker")
    assert walker["points"] == {"ex01": 1, "ex02": 2}, walker["points"]
    feedback = (out / "students" / "a_walker" / "feedback.md").read_text()
    # a hidden check shows the grader's fixed words for its outcome (report.shown_check); grade.json keeps the
    # engine's own words for the instructor
    assert HIDDEN_WORDS[Outcome.FAILED] in feedback and "Leak_" not in feedback
    assert any("your code raised an exception" in c["message"] for e in walker["exercises"] for c in e["checks"])
    assert _state(out, "b_setup")["points"]["ex01"] == 1  # the public check; the hidden cells "failed when run again"
    assert HIDDEN_WORDS[Outcome.CRASHED] in (out / "students" / "b_setup" / "feedback.md").read_text()
    assert any("failed when run again for the hidden checks" in c["message"]
               for e in _state(out, "b_setup")["exercises"] for c in e["checks"])
    for student in ("a_walker", "b_setup"):
        seen = _everything_a_student_or_instructor_reads(out, student)
        assert "LEAK [" not in seen, student  # (the source itself, shown in feedback, says "LEAK ")
        leaked = [n for n in _secret_numbers() if n in seen]
        assert not leaked, (student, leaked)
    for student in ("c_honest", "d_honest"):
        assert _state(out, student)["points"] == fx.MAX, student


@ISOLATIONS
def test_an_inputs_unchanged_check_cannot_be_forged_by_patching_numpy(tmp_path, isolation):
    subs, out = tmp_path / "subs", tmp_path / "out"
    fx.notebook(subs / "a_forger" / "ex01_double.ipynb", [FORGED_COMPARISON])
    _honest(subs, "b_honest")
    result, peak = _grade(subs, out, "--jobs", "1", isolation=isolation)
    _check_run(result, peak)
    checks = {c["name"]: c for c in _state(out, "a_forger")["exercises"][0]["checks"]}
    assert checks["doubles_a_vector"]["points"] == 1 and checks["doubles_a_matrix"]["points"] == 2
    assert checks["leaves_input_unchanged"]["points"] == 0, checks["leaves_input_unchanged"]  # was 1: forged
    assert _state(out, "a_forger")["points"]["ex01"] == 3
    assert _state(out, "b_honest")["points"] == fx.MAX


@ISOLATIONS
@pytest.mark.parametrize("attack", [COPY_BOMB, BAD_HEADER], ids=["copy bomb", "header {c: []}"])
def test_forged_results_crash_that_run_only_and_the_grader_stays_small(tmp_path, attack, isolation):
    subs, out = tmp_path / "subs", tmp_path / "out"
    fx.notebook(subs / "a_forger" / "ex01_double.ipynb", [attack])
    fx.notebook(subs / "a_forger" / "ex02_pair.ipynb", fx.PAIR_CELLS)
    _honest(subs, "b_honest", "c_honest")
    result, peak = _grade(subs, out, "--jobs", "2", isolation=isolation)
    _check_run(result, peak)  # was: 1.35 GB then MemoryError (bomb), a permanent "grader failure" (header)
    state = _state(out, "a_forger")
    assert state["points"] == {"ex01": 0, "ex02": 2}
    assert {c["outcome"] for c in state["exercises"][0]["checks"]} == {"crashed"}
    assert "could not read" in state["exercises"][0]["problem"]
    for student in ("b_honest", "c_honest"):
        assert _state(out, student)["points"] == fx.MAX, student
    rerun, _ = _grade(subs, out, "--jobs", "2", isolation=isolation)  # nothing left to retry: every student has a grade
    assert rerun.returncode == 0 and "error grading" not in rerun.stderr, rerun.stderr


@pytest.mark.skipif(fx.jail_flags() != [], reason="the jail's read-only root (bubblewrap)")
def test_a_notebook_cannot_fill_the_jail_or_leave_files_for_the_next(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    fx.notebook(subs / "a_filler" / "ex01_double.ipynb", [FILL_ROOT])
    fx.notebook(subs / "a_filler" / "ex02_pair.ipynb", SEES_LEFTOVERS)  # graded next, by the same student
    _honest(subs, "b_honest")
    result, peak = _grade(subs, out, "--jobs", "1")
    _check_run(result, peak)
    assert _state(out, "a_filler")["points"] == {"ex01": 4, "ex02": 2}, "the next notebook saw no leftover"
    assert _state(out, "b_honest")["points"] == fx.MAX


@pytest.mark.skipif(fx.jail_flags() != [], reason="the jail's read-only root (bubblewrap)")
def test_in_the_jail_only_the_capped_tmpfs_are_writable():
    from bnlab.grading.sandbox import jail
    from bnlab.grading.sandbox.client import Limits, run_learner

    cell = r"""# GRADED FUNCTION: f
import errno, os

def f():
    found = {}
    for place in ("/", "/dev", "/jail", "/usr", "/tmp", "/dev/shm"):
        try:
            with open(os.path.join(place, "probe"), "wb") as out:
                written = 0
                for _ in range(400):
                    out.write(bytes(2**20)); out.flush(); written += 1
            found[place] = written
        except OSError as exc:
            found[place] = errno.errorcode.get(exc.errno, str(exc.errno))
        try:
            os.unlink(os.path.join(place, "probe"))
        except OSError:
            pass
    return found
"""
    calls = [{"function": "f", "args": (), "kwargs": {}, "key": "f", "returns": None, "copy_check": False}]
    run = run_learner([("f", 0, cell)], calls, Limits(jail=True, file_mb=1024, timeout=30))
    assert run.status == "ok", run.message
    found = run.outcomes["f"]["value"]
    assert all(found[p] == "EROFS" for p in ("/", "/dev", "/jail", "/usr")), found
    assert found["/tmp"] == "ENOSPC" and found["/dev/shm"] == "ENOSPC", found  # full at the cap, not at 400 MB
    assert jail.TMP_MB + jail.SHM_MB <= 320


@pytest.mark.skipif(fx.jail_flags() != [], reason="the jail (bubblewrap)")
def test_a_message_queue_a_run_leaves_is_not_there_for_the_next_run():
    """The hidden run could leave its inputs in a POSIX message queue for the next public run (the same
    student, the same jail) to print. The jail mounts its queues at /dev/mqueue, where the leftover check
    sees them: the run that left one retires its jail."""
    from bnlab.grading.sandbox.client import Limits, jail_session, run_learner

    cell = ("# GRADED FUNCTION: f\nimport ctypes, os\n\ndef f(create):\n"
            "    libc = ctypes.CDLL(None, use_errno=True)\n"
            "    fd = libc.mq_open(b'/hidden-inputs', (os.O_CREAT | os.O_RDWR) if create else os.O_RDONLY,"
            " 0o600, None)\n"
            "    return [fd >= 0, os.getpid()]\n")
    calls = lambda create: [{"function": "f", "args": (create,), "kwargs": {}, "key": "f",  # noqa: E731
                             "returns": None, "copy_check": False}]
    with jail_session():
        made = run_learner([("f", 0, cell)], calls(True), Limits(jail=True)).outcomes["f"]["value"]
        seen = run_learner([("f", 0, cell)], calls(False), Limits(jail=True)).outcomes["f"]["value"]
    assert made[0] is True, "the queue was made"
    assert seen[0] is False, "the next run did not find it"


HIDDEN_MARKS = r'''# GRADED FUNCTION: double
import os, struct
import numpy as np

def double(x):
    x = np.asarray(x)
    if x.shape == (7, 13):  # the hidden call: x[0, 0] and x[0, 1] into the mtimes of /tmp and /dev/shm
        for place, v in (("/tmp", x[0, 0]), ("/dev/shm", x[0, 1])):
            bits = struct.unpack("<Q", struct.pack("<d", float(v)))[0]
            os.utime(place, ns=(2**34 * 10**9, (bits >> 20) * 10**9 + (bits & 0xfffff) * 1000 + 777))
            try:
                os.setxattr(place, "user.hidden", repr(float(v)).encode())
            except OSError:  # (a tmpfs without user xattrs)
                pass
    return 2 * x
'''
READS_MARKS = [r'''# GRADED FUNCTION: scale_pair
import os, struct

def _marks():
    found = []
    for place in ("/tmp", "/dev/shm"):
        m = os.stat(place).st_mtime_ns
        if m % 1000 == 777:
            bits = (m // 10**9) << 20 | (m % 10**9) // 1000
            found.append(struct.unpack("<d", struct.pack("<Q", bits))[0])
        try:
            found.append(os.getxattr(place, "user.hidden").decode())
        except OSError:
            pass
    return found

if _marks():  # a public run: its error message is the learner's feedback
    raise RuntimeError("LEAKED " + repr(_marks()))

def scale_pair(a, s):
    return s * a, {'s': s}
''', fx.PAIR_CELLS[1]]


@pytest.mark.skipif(fx.jail_flags() != [], reason="the jail (bubblewrap): runs without it share the host's /tmp")
def test_a_hidden_run_leaves_no_mark_a_public_run_of_the_same_student_can_read(tmp_path):
    """A hidden run sets the mtime (and an xattr) of /tmp and /dev/shm from its hidden input; the student's next
    public run reads them into an error message, its feedback. Hidden runs never share a jail with public runs."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    fx.notebook(subs / "a_marker" / "ex01_double.ipynb", [HIDDEN_MARKS])
    fx.notebook(subs / "a_marker" / "ex02_pair.ipynb", READS_MARKS)
    result, peak = _grade(subs, out, "--jobs", "1")
    _check_run(result, peak)
    seen = _everything_a_student_or_instructor_reads(out, "a_marker")
    assert "LEAKED [" not in seen, [line for line in seen.splitlines() if "LEAKED [" in line][:2]
    leaked = [n for n in _secret_numbers() if n in seen]
    assert not leaked, leaked
    public = {c["name"]: c["outcome"] for e in _state(out, "a_marker")["exercises"] for c in e["checks"]
              if c["visibility"] == "public"}
    assert public == {"doubles_a_vector": "passed", "round_trip": "passed"}, public  # no mark found, no error


FORGED_REPORT = r"""# GRADED FUNCTION: double
import sys

_worker = sys._getframe(1).f_globals  # the worker module (run_cells' globals)
_report, _kept = _worker["_inputs_after"], {}
_worker["_inputs_after"] = lambda call, args, kwargs: _report(call, _kept.get("args", args), kwargs)

def double(x):
    _kept["args"] = (x.copy(),)  # what the worker reports: a pristine copy
    x *= 2                       # the caller's array is overwritten
    return x
"""
RESTORES = r"""# GRADED FUNCTION: double
def double(x):
    kept = x.copy()
    x *= 2           # in place ...
    result = x.copy()
    x[...] = kept    # ... and put back: the caller's array is as it was
    return result
"""


@ISOLATIONS
def test_an_inputs_unchanged_check_cannot_be_forged_by_patching_the_worker(tmp_path, isolation):
    """The worker's report of the arguments after a call is the learner's to forge; the grader reads the
    arguments it sent back from shared memory of its own, after every process of the job has ended."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    fx.notebook(subs / "a_forger" / "ex01_double.ipynb", [FORGED_REPORT])
    fx.notebook(subs / "b_restores" / "ex01_double.ipynb", [RESTORES])
    _honest(subs, "c_honest")
    result, peak = _grade(subs, out, "--jobs", "1", isolation=isolation)
    _check_run(result, peak)
    checks = {c["name"]: c for c in _state(out, "a_forger")["exercises"][0]["checks"]}
    assert checks["doubles_a_matrix"]["points"] == 2, checks["doubles_a_matrix"]
    assert checks["leaves_input_unchanged"]["points"] == 0, checks["leaves_input_unchanged"]  # was 1: forged
    assert _state(out, "b_restores")["points"]["ex01"] == fx.MAX["ex01"], "the caller's array was left unchanged"
    assert _state(out, "c_honest")["points"] == fx.MAX
