"""The one server that runs learner code: a forked child per job, one job at a time (the grader's side is
:mod:`bnlab.grading.sandbox.client`).

``server.py --site DIR --jail-server FD`` runs inside one bubblewrap jail (:mod:`bnlab.grading.sandbox.jail`);
``server.py --server FD`` is the same server without the jail (``bnlab grade --no-jail``, ``bnlab check``).
It imports numpy once. Each job arrives on the socket FD as a JSON request with three descriptors the
grader opened (job, results, output), and a fourth when the grader shares the arguments of copy_check
calls (:mod:`bnlab.grading.sandbox.shared`, read by the grader after this server's reply); the replies are the
child's pid, then its exit status and whether
the server must be retired. The child runs the job with ``worker.run_job``, the learner side.

In the jail, after each job the server kills every other process in it at once (kill -1 in the jail's
PID namespace) and asks to be retired whenever the job left anything behind: a process, an entry in any
writable place (not an mtime or an xattr: see :func:`_writable_places`), a System V IPC object (a key
it cannot add: a seccomp filter forbids the keyrings, and the file locks and watches two jails could
signal each other with). The jailed server is the jail's PID 1 (bwrap --as-pid-1), so it also reaps
orphans; with a bwrap too old for that, a job that changed or traced bwrap's init retires the jail.
Without the jail it kills the job's session and, as root, every process of the job's throwaway uid. A
server serves one student's notebooks at most, and either hidden runs only or public runs only (the
grader's choice). Like the worker it imports only the standard library and numpy, never ``bnlab``.
"""
from __future__ import annotations

import sys

if __name__ == "__main__" and sys.argv[1:2] == ["--site"]:  # numpy's folder in the jail (python -S)
    sys.path.insert(0, sys.argv[2])

import errno
import importlib
import os
import runpy
import stat
import traceback
from pathlib import Path


if __package__:
    from bnlab.grading.sandbox.worker import plain, run_job
else:  # a script in the jail: its sibling worker.py by path (never bnlab)
    _worker = runpy.run_path(str(Path(__file__).with_name("worker.py")), run_name="_bnlab_worker")
    plain, run_job = _worker["plain"], _worker["run_job"]

PRELOAD = ("numpy.linalg", "numpy.random", "numpy.fft", "math", "random", "itertools", "functools",
           "collections", "copy", "time", "typing", "dataclasses", "re", "string", "statistics", "warnings",
           "numbers", "fractions", "decimal", "operator", "json")


def _set_limits(limits: list[str]) -> None:
    """Apply "NAME=soft[,hard]" resource limits (as the script's own start does); one this system cannot set
    is skipped (the wall clock still holds)."""
    import resource

    for arg in limits:
        name, _, value = arg.partition("=")
        soft, _, hard = value.partition(",")
        try:
            resource.setrlimit(getattr(resource, "RLIMIT_" + name), (int(soft), int(hard or soft)))
        except (ValueError, OSError, AttributeError):
            pass


_JAILED: list = []  # [True] inside a jail


def _new_session_keyring() -> None:
    """Join a new anonymous session keyring (keyctl KEYCTL_JOIN_SESSION_KEYRING): the jail's own, so it does
    not hold the keyring of the session that started the grader."""
    import ctypes

    known = _SYSCALLS.get(os.uname().machine)
    if known:
        ctypes.CDLL(None, use_errno=True).syscall(known[1]["keyctl"], 1, None)


# By machine: (audit arch, the system calls refused, fcntl's number). aarch64 has no inotify_init.
_SYSCALLS = {
    "x86_64": (0xC000003E, {"add_key": 248, "request_key": 249, "keyctl": 250, "flock": 73, "inotify_init": 253,
                            "inotify_init1": 294, "fanotify_init": 300}, 72),
    "aarch64": (0xC00000B7, {"add_key": 217, "request_key": 218, "keyctl": 219, "flock": 32, "inotify_init1": 26,
                             "fanotify_init": 262}, 25),
}
# fcntl commands refused: F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW, F_SETLEASE,
# F_GETLEASE, F_NOTIFY (dnotify); F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD... still work.
_FCNTL_REFUSED = (5, 6, 7, 36, 37, 38, 1024, 1025, 1026)


def _filter_program(arch: int, refused, fcntl: int) -> list[tuple[int, int, int, int]]:
    """The classic BPF program (code, jump if true, jump if false, k) of :func:`_forbid_shared_channels`."""
    ld_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | errno.EPERM  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EPERM
    refused = list(refused)
    head = [(ld_abs, 0, 0, 4), (jeq, 1, 0, arch), (ret, 0, 0, deny),  # another architecture: refused
            (ld_abs, 0, 0, 0)]                                         # the system call's number
    # from here: x32 calls, then each refused call jump to the last instruction (deny)
    calls = [0x40000000, *refused]
    body_len = len(calls) + 1 + 1 + 1 + len(_FCNTL_REFUSED) + 1  # checks, fcntl?, allow, ld cmd, cmds, allow
    program = head
    for i, n in enumerate(calls):
        to_deny = body_len - i - 1
        program.append((jge if i == 0 else jeq, to_deny, 0, n))
    program += [(jeq, 1, 0, fcntl), (ret, 0, 0, allow),
                (ld_abs, 0, 0, 24)]  # fcntl: its command, args[1]'s low 32 bits (little-endian; cmd is an int)
    for i, command in enumerate(_FCNTL_REFUSED):
        program.append((jeq, len(_FCNTL_REFUSED) - i, 0, command))
    return program + [(ret, 0, 0, allow), (ret, 0, 0, deny)]


def _forbid_shared_channels() -> bool:
    """Forbid this process and its children, with a seccomp filter (the calls fail with EPERM), what reaches
    past the jail: the kernel keyrings (add_key, request_key, keyctl: keys outlive a jail and show in the next
    jail's /proc/keys when the grader is an ordinary user), and what two jails running at once could signal
    each other with through the files they share read-only (flock, fcntl's locks, leases and dnotify,
    inotify, fanotify). A system call of another architecture fails too. False where this machine is not
    known here."""
    import ctypes
    import struct

    known = _SYSCALLS.get(os.uname().machine)
    if not known:
        return False
    arch, refused, fcntl = known
    program = _filter_program(arch, refused.values(), fcntl)
    code = b"".join(struct.pack("HBBI", *insn) for insn in program)
    buffer = ctypes.create_string_buffer(code)

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS (bwrap sets it already)
    fprog = Program(len(program), ctypes.cast(buffer, ctypes.c_void_p))
    return libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) == 0  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER


def _job_child(request: dict, job_fd: int, results_fd: int, output_fd: int, shared_fd: int | None = None) -> None:
    import signal

    try:
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        os.close(output_fd)
        with os.fdopen(job_fd, "rb") as f:
            data = f.read()
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        _set_limits(request["limits"])
        if request.get("uid") is not None:  # without the jail, as root: a throwaway uid for this job
            os.setgroups([])
            os.setgid(request["uid"])
            os.setuid(request["uid"])
        job = plain.unpack(data)
        sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False)
        sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False)
        run_job(job, results_fd, shared_fd)
    except BaseException:  # noqa: BLE001 - a child must never return into the server loop
        try:
            traceback.print_exc()
            sys.stderr.flush()
        finally:
            os._exit(70)
    os._exit(70)


def _kill_uid(uid: int) -> None:
    """SIGKILL every process of ``uid`` at once (kill -1 as that uid, in a forked child), and wait."""
    import signal

    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        except BaseException:  # noqa: BLE001 - nothing to kill raises ESRCH
            pass
        os._exit(0)
    os.waitpid(pid, 0)


MAX_SNAPSHOT = 4000  # entries listed per check of the writable places; more than that is "left behind"


def _writable_mounts() -> list[str]:
    """Every mount point of this jail that is not read-only (from /proc/self/mountinfo), but /proc."""
    found = []
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                point, options = fields[4], fields[5].split(",")
                kind = fields[fields.index("-") + 1] if "-" in fields else ""
                if "ro" not in options and kind not in ("proc", "sysfs"):
                    found.append(point.encode().decode("unicode_escape"))
    except (OSError, ValueError, IndexError):
        return ["/"]
    return sorted(found)


def _writable_places() -> dict:
    """What every writable place of the jail holds: each entry's path, mode, owner and size (a directory's
    size is not compared). It finds files, folders, links and FIFOs a job left, or a changed size or mode.

    It does not see timestamps, extended attributes, or new contents of the same size: a job can leave
    a few bytes there on purpose for the next job of this jail. So this check is not what keeps hidden
    inputs from a public run: hidden runs have jails of their own (``client._served``)."""
    found: dict = {}
    budget = MAX_SNAPSHOT
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    for top in _writable_mounts():
        try:
            fd = os.open(top, flags)
        except OSError:
            found[top] = None
            continue
        st = os.fstat(fd)
        found[top] = (st.st_mode, st.st_uid, 0)
        stack = [(top, fd, st.st_dev)]  # by descriptor, no recursion: a tree 1,200 deep costs 1,200 entries
        try:
            while stack:
                path, fd, dev = stack.pop()
                try:
                    with os.scandir(fd) as entries:
                        listed = sorted((e.name, e.stat(follow_symlinks=False)) for e in entries)
                    budget -= len(listed)
                    if budget < 0:
                        return {"too many entries": object()}  # equal to no other state: the jail retires
                    for name, st in listed:
                        found[f"{path}/{name}"] = (st.st_mode, st.st_uid, 0 if stat.S_ISDIR(st.st_mode) else st.st_size)
                        if stat.S_ISDIR(st.st_mode) and st.st_dev == dev:  # (a mount below is listed on its own)
                            stack.append((f"{path}/{name}", os.open(name, flags, dir_fd=fd), dev))
                except OSError:
                    return {"unreadable": object()}
                finally:
                    os.close(fd)
        finally:
            for _, fd, _ in stack:
                os.close(fd)
    return found


_CLEAN: dict = {}
_INIT: list = []


def _init_state():
    """What the jail's PID 1 runs and who traces it, when the server is not PID 1 itself (an old bwrap)."""
    try:
        exe = os.readlink("/proc/1/exe")
    except OSError:
        exe = None
    try:
        with open("/proc/1/status") as f:
            status = [line for line in f if line.startswith(("Name:", "TracerPid:"))]
    except OSError:
        status = None
    return exe, status


def _left_behind(pid: int, uid: int | None) -> bool:
    """After the job ``pid``: kill what it left and say whether it left anything (then the jail retires).

    In the jail: every process but this one (and the jail's init), every writable place, IPC objects.
    Without the jail: the job's session and, with a throwaway ``uid``, every process of that uid; the
    grader removes the job's working directory, and never retires this server for what it held.
    """
    import signal

    if not _JAILED:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        if uid is not None:
            _kill_uid(uid)
        _reap()
        return False
    dirty = False
    try:
        os.kill(-1, signal.SIGKILL)
        dirty = True  # something was there to kill
    except ProcessLookupError:
        pass
    _reap()
    if _writable_places() != _CLEAN:
        dirty = True
    if os.getpid() != 1 and _init_state() != _INIT[0]:  # the job took over bwrap's init
        dirty = True
    for name in ("shm", "msg", "sem"):
        try:
            with open(f"/proc/sysvipc/{name}") as f:
                dirty = dirty or len(f.read().splitlines()) > 1
        except OSError:
            pass
    return dirty


def _reap() -> None:
    """Reap every exited child (this process is the subreaper of the jobs' orphans)."""
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break


def serve(sock_fd: int, jailed: bool) -> None:
    """The one server (see above): one job at a time from the socket ``sock_fd``, until the grader goes."""
    import ctypes
    import json
    import socket

    for name in PRELOAD:
        importlib.import_module(name)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(4, 0, 0, 0, 0)   # PR_SET_DUMPABLE 0: learner code (same uid) cannot ptrace or read this process
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans of a job are reaped here (if not PID 1)
    sock = socket.socket(fileno=sock_fd)
    if jailed:
        _JAILED.append(True)
        _new_session_keyring()  # this jail's own: not the grader's session keyring
        _forbid_shared_channels()  # no key (keys outlive a jail), no file lock or watch (jails share files)
        _CLEAN.update(_writable_places())
        _INIT.append(_init_state())
    sock.send(json.dumps({"ready": True}).encode())
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, 65536, 4)  # job, results, output[, shared memory]
        except OSError:
            return
        if not message or len(fds) not in (3, 4):
            return  # the grader is gone
        request = json.loads(message)
        pid = os.fork()
        if pid == 0:
            sock.close()
            _job_child(request, *fds)
        for fd in fds:
            os.close(fd)
        sock.send(json.dumps({"pid": pid}).encode())  # (without the jail the grader kills its session on timeout)
        _, status = os.waitpid(pid, 0)
        retire = _left_behind(pid, request.get("uid"))
        sock.send(json.dumps({"exit": os.waitstatus_to_exitcode(status), "retire": retire}).encode())


if __name__ == "__main__":
    if "--jail-server" in sys.argv:
        serve(int(sys.argv[sys.argv.index("--jail-server") + 1]), jailed=True)
    else:
        serve(int(sys.argv[sys.argv.index("--server") + 1]), jailed=False)
