"""A jail's memory is capped for all its processes together (a cgroup), and two jails running at once cannot
signal each other through locks or watches on the files they share read-only (a seccomp filter).

The cgroup helper is tested against a temporary folder that mimics cgroupfs; the seccomp program with a
small classic-BPF interpreter, for both machines it knows; both end to end through the real jail where
this machine has bwrap (and, for the cap, where a cgroup can be made: root, a memory controller).
"""
from __future__ import annotations

import errno
import os
import shutil
import struct
import sys
import threading
import time
from pathlib import Path

import pytest

from bnlab.grading.sandbox import cgroup, jail, server
from bnlab.grading.sandbox.client import Limits, jail_session, run_learner

V1_FILES = ("cgroup.procs", "memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.max_usage_in_bytes",
            "memory.oom_control")
V2_FILES = ("cgroup.procs", "cgroup.kill", "memory.max", "memory.swap.max", "pids.max", "memory.events",
            "memory.peak")


def _fake_cgroupfs(monkeypatch, files):
    """mkdir makes the control files the kernel would; rmdir refuses a folder whose cgroup.procs lists a pid."""
    def mkdir(path):
        os.mkdir(path)
        for name in ("cgroup.procs", "pids.max") if Path(path).parent.name == "pids" else files:
            (Path(path) / name).write_text("")

    def rmdir(path):
        if (Path(path) / "cgroup.procs").read_text().strip():
            raise OSError(errno.EBUSY, "busy")
        shutil.rmtree(path)

    monkeypatch.setattr(cgroup, "_mkdir", mkdir)
    monkeypatch.setattr(cgroup, "_rmdir", rmdir)


def _v2_grader_cgroup(tmp_path: Path, monkeypatch, enabled: str) -> Path:
    """A fake cgroup v2 folder for the grader, offering cpu, memory and pids, with ``enabled`` delegated."""
    _fake_cgroupfs(monkeypatch, V2_FILES)
    parent = tmp_path / "unified" / "grader.scope"
    parent.mkdir(parents=True)
    (parent / "cgroup.controllers").write_text("cpu memory pids\n")
    (parent / "cgroup.subtree_control").write_text(enabled + "\n")
    return parent


def _mountinfo(top: Path, v2: bool) -> str:
    if v2:
        return f"41 31 0:38 / {top}/unified rw,relatime - cgroup2 cgroup2 rw\n"
    return (f"35 31 0:32 / {top}/memory rw,relatime - cgroup cgroup rw,memory\n"
            f"39 31 0:36 / {top}/pids rw,relatime - cgroup cgroup rw,pids\n")


def test_a_v1_jail_cgroup_caps_memory_and_swap_and_tasks_and_is_removed(tmp_path, monkeypatch):
    _fake_cgroupfs(monkeypatch, V1_FILES)
    (tmp_path / "memory" / "grader").mkdir(parents=True)
    (tmp_path / "pids").mkdir()
    where = cgroup.layout(_mountinfo(tmp_path, v2=False), "8:pids:/\n4:memory:/grader\n0::/\n")
    assert where == cgroup.Layout(1, tmp_path / "memory" / "grader", tmp_path / "pids")
    group = cgroup.JailCgroup(where, 512, 36)
    memory, pids = group.folders
    assert memory.parent == tmp_path / "memory" / "grader" and pids.parent == tmp_path / "pids"
    assert (memory / "memory.limit_in_bytes").read_text() == str(512 * 2**20)
    assert (memory / "memory.memsw.limit_in_bytes").read_text() == str(512 * 2**20)  # no swap beyond it
    assert (pids / "pids.max").read_text() == "36" and group.swap_capped
    group.add(4242)
    assert (memory / "cgroup.procs").read_text() == (pids / "cgroup.procs").read_text() == "4242"
    (memory / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    (memory / "memory.max_usage_in_bytes").write_text(str(300 * 2**20))
    assert group.oom_kills() == 2 and group.peak_mb() == 300
    (memory / "cgroup.procs").write_text("")
    (pids / "cgroup.procs").write_text("")
    assert group.remove() and not memory.exists() and not pids.exists()
    assert group.oom_kills() == 2 and group.peak_mb() == 300  # (as they were when it was removed)


def test_a_v2_jail_cgroup_enables_the_controllers_it_needs_and_is_killed_before_removal(tmp_path, monkeypatch):
    parent = _v2_grader_cgroup(tmp_path, monkeypatch, enabled="cpu")
    where = cgroup.layout(_mountinfo(tmp_path, v2=True), "0::/grader.scope\n")
    assert where == cgroup.Layout(2, parent)
    group = cgroup.JailCgroup(where, 256, 20)
    (folder,) = group.folders
    assert (parent / "cgroup.subtree_control").read_text() == "+memory +pids"
    assert (folder / "memory.max").read_text() == str(256 * 2**20)
    assert (folder / "memory.swap.max").read_text() == "0" and (folder / "pids.max").read_text() == "20"
    (folder / "memory.events").write_text("low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n")
    assert group.oom_kills() == 1
    assert group.remove() and not folder.exists()


def test_two_threads_removing_one_cgroup_at_once_both_finish(tmp_path, monkeypatch):
    """An output reader over its limit kills the jail while the grader, seeing no reply, kills it too."""
    parent = _v2_grader_cgroup(tmp_path, monkeypatch, enabled="memory pids")
    group = cgroup.JailCgroup(cgroup.Layout(2, parent), 256, 20)
    (folder,) = group.folders
    slow_once, plain_rmdir = [True], cgroup._rmdir

    def slow_rmdir(path):  # the first removal is slow: the second thread arrives while it is under way
        if slow_once.pop() if slow_once else False:
            time.sleep(0.3)
        plain_rmdir(path)

    monkeypatch.setattr(cgroup, "_rmdir", slow_rmdir)
    errors = []

    def remove():
        try:
            errors.append(None if group.remove() else "not removed")
        except Exception as exc:  # (the old code: IndexError, pop from empty list)
            errors.append(repr(exc))

    threads = [threading.Thread(target=remove) for _ in range(2)]
    threads[0].start()
    time.sleep(0.05)
    threads[1].start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == [None, None] and not group.folders and not folder.exists()


def test_where_no_cgroup_can_be_made_it_says_why(tmp_path, monkeypatch):
    parent = tmp_path / "unified"
    parent.mkdir()
    (parent / "cgroup.controllers").write_text("cpu io\n")
    with pytest.raises(cgroup.CgroupUnavailable, match="memory controller is not available"):
        cgroup.layout(_mountinfo(tmp_path, v2=True), "0::/\n")
    with pytest.raises(cgroup.CgroupUnavailable, match="no cgroup memory controller is mounted"):
        cgroup.layout("", "0::/\n")

    def refused(path):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(cgroup, "_mkdir", refused)
    (tmp_path / "memory").mkdir()
    with pytest.raises(cgroup.CgroupUnavailable, match="cannot make a cgroup in .*Permission denied"):
        cgroup.JailCgroup(cgroup.Layout(1, tmp_path / "memory"), 64, 8)


def test_the_isolation_line_says_whether_memory_is_capped_per_jail_or_only_per_process(monkeypatch):
    limits = Limits(memory_mb=1024, processes=32)
    monkeypatch.setattr(cgroup, "_probe", ("cgroup v1", ""))
    assert jail.memory_cap(limits) == f"memory: {limits.per_jail_mb()} MB per jail (cgroup v1), 1024 MB per process"
    monkeypatch.setattr(cgroup, "_probe", ("", "the grader is not root"))
    assert jail.memory_cap(limits) == ("memory: 1024 MB per process, up to 33 processes "
                                       "(no cgroup could be made here: the grader is not root)")


# --- the seccomp filter, by a classic BPF interpreter ------------------------------------------------------

def _verdict(program, nr: int, arch: int, args=(0,) * 6) -> int:
    """What the filter returns for one system call (seccomp_data: nr, arch, ip, args; little-endian)."""
    data = struct.pack("<iIQ6Q", nr, arch, 0, *args)
    pc, acc = 0, 0
    while True:
        code, jt, jf, k = program[pc]
        if code == 0x20:
            acc = struct.unpack_from("<I", data, k)[0]
        elif code == 0x06:
            return k
        elif code in (0x15, 0x35):
            pc += jt if (acc == k if code == 0x15 else acc >= k) else jf
        else:
            raise AssertionError(f"instruction {code:#x} not expected")
        pc += 1


@pytest.mark.parametrize("machine", sorted(server._SYSCALLS))
def test_the_filter_refuses_keys_locks_and_watches_and_lets_the_rest_through(machine):
    arch, refused, fcntl = server._SYSCALLS[machine]
    program = server._filter_program(arch, refused.values(), fcntl)
    deny, allow = 0x00050000 | errno.EPERM, 0x7FFF0000
    for name, nr in refused.items():
        assert _verdict(program, nr, arch) == deny, name
    for command in (5, 6, 7, 36, 37, 38, 1024, 1025, 1026):  # the lock, lease and dnotify commands
        assert _verdict(program, fcntl, arch, (3, command, 0, 0, 0, 0)) == deny, command
    for command in (0, 1, 2, 3, 4, 1030):  # F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC
        assert _verdict(program, fcntl, arch, (3, command, 0, 0, 0, 0)) == allow, command
    for nr in (0, 1, 3, 56, 57, 63, 64, 220, 435):  # read/write/clone/...: whatever is not refused
        if nr not in refused.values() and nr != fcntl:
            assert _verdict(program, nr, arch) == allow, nr
    assert _verdict(program, 0, 0x40000003) == deny                    # another architecture
    assert _verdict(program, 0x40000000 | 1, arch) == deny             # x32
    assert ("inotify_init" in refused) == (machine == "x86_64")        # (aarch64 has only inotify_init1)


# --- end to end, in the real jail ----------------------------------------------------------------------------

def _jail_or_skip() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("the jail needs Linux")
    if not shutil.which("bwrap"):
        if os.environ.get("CI") == "true":
            pytest.fail("bubblewrap (bwrap) is missing on a Linux CI machine: .ci/run installs it")
        pytest.skip("bubblewrap (bwrap) is not installed")
    ok, why = jail.probe()
    if not ok:
        pytest.skip(why)


def _run(source: str, limits: Limits):
    call = [{"function": "f", "args": (), "kwargs": {}, "key": "f", "returns": None, "copy_check": False}]
    return run_learner([("f", 0, source)], call, limits)


FORKS = """import os, time
import numpy as np

def f():
    kids = []
    for _ in range(3):
        pid = os.fork()
        if pid == 0:
            a = np.ones(300 * 2**20 // 8)   # touched: resident
            time.sleep(1.5)                 # all three at once
            os._exit(0)
        kids.append(pid)
    return sum(os.waitstatus_to_exitcode(os.waitpid(k, 0)[1]) == 0 for k in kids)
"""
GROWS = """import numpy as np

def f():
    a = np.ones(700 * 2**20 // 8)  # within its 1024 MB address space, not within its jail's 512 MB
    return float(a.sum())
"""


def _cgroup_or_skip(monkeypatch) -> list:
    """The jail cgroups the runs below make (to read what they held); skipped where none can be made."""
    kind, why = cgroup.probe()
    if not kind:
        pytest.skip(f"no cgroup can be made here for a jail: {why}")
    from bnlab.grading.sandbox import client

    made, make = [], client._jail_cgroup
    monkeypatch.setattr(client, "_jail_cgroup", lambda limits: made.append(make(limits)) or made[-1])
    return made


def test_children_of_one_job_never_hold_more_than_the_jails_cap_together(monkeypatch):
    _jail_or_skip()
    made = _cgroup_or_skip(monkeypatch)
    limits = Limits(timeout=20, jail=True, jail_memory_mb=512)  # 1024 MB per process: 3 x 300 MB each fits
    with jail_session():
        run = _run(FORKS, limits)
    assert run.status == "ok", run.message
    assert run.outcomes["f"]["value"] <= 1, "two children of 300 MB lived at once under a 512 MB cap"
    assert made and made[0] is not None and made[0].peak_mb() is not None
    assert made[0].peak_mb() <= 512 and made[0].oom_kills() >= 2


def test_a_job_the_cgroup_kills_for_memory_is_told_so(monkeypatch):
    _jail_or_skip()
    _cgroup_or_skip(monkeypatch)
    with jail_session():
        run = _run(GROWS, Limits(timeout=20, jail=True, jail_memory_mb=512))
    assert run.status == "crashed"
    assert "ran out of memory: the limit is 512 MB for all its processes together" in run.message


LOCKS = """import ctypes, fcntl, os, subprocess, threading

def f():
    got = {}
    fd = os.open("/usr/bin/env", os.O_RDONLY)   # read-only, the same file in every jail
    def attempt(name, call):
        try:
            call()
            got[name] = "ok"
        except OSError as exc:
            got[name] = exc.errno
    attempt("flock", lambda: fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB))
    attempt("lockf", lambda: fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB))
    attempt("ofd lock", lambda: fcntl.fcntl(fd, 37, bytes(32)))
    libc = ctypes.CDLL(None, use_errno=True)
    got["inotify_init1"] = ctypes.get_errno() if libc.inotify_init1(0) < 0 else "ok"
    got["fanotify_init"] = ctypes.get_errno() if libc.fanotify_init(0, 0) < 0 else "ok"
    got["F_GETFD"] = fcntl.fcntl(fd, fcntl.F_GETFD) >= 0
    with open("/tmp/a.txt", "w") as out:
        out.write("written")
    got["tmp"] = open("/tmp/a.txt").read()
    os.remove("/tmp/a.txt")
    got["subprocess"] = subprocess.run(["/bin/echo", "hi"], capture_output=True, text=True).stdout
    worker = threading.Thread(target=lambda: got.setdefault("thread", "ran"))
    worker.start()
    worker.join()
    return got
"""


@pytest.mark.skipif(os.uname().machine not in server._SYSCALLS, reason="the filter knows x86_64 and aarch64")
def test_learner_code_in_the_jail_can_take_no_file_lock_and_watch_no_file():
    _jail_or_skip()
    with jail_session():
        run = _run(LOCKS, Limits(timeout=20, jail=True))
    assert run.status == "ok", run.message
    got = run.outcomes["f"]["value"]
    assert {k: got[k] for k in ("flock", "lockf", "ofd lock", "inotify_init1", "fanotify_init")} == dict.fromkeys(
        ("flock", "lockf", "ofd lock", "inotify_init1", "fanotify_init"), errno.EPERM)
    assert got["F_GETFD"] is True and got["tmp"] == "written" and got["subprocess"] == "hi\n"
    assert got["thread"] == "ran"
