"""The learner side: run the graded cells, execute the checks' calls, send back plain data only.

Two uses, one code:

- :func:`execute_calls` runs calls against a namespace of learner functions and returns, per call,
  an outcome made of plain data. ``run_public_checks`` in a notebook uses it in the kernel.
- Run as a script it is the one server that runs learner code (``worker.py [--site DIR] --jail-server FD``
  in the bubblewrap jail, ``worker.py --server FD`` without it; see the server section below and
  :mod:`bnlab.grading.shared.sandbox`): a forked child per job runs the graded cells' source, executes
  the calls and writes the outcomes to the results descriptor; the learner's printed output goes to the
  output descriptor. (``worker.py [LIMIT=...]`` with the job on stdin is the same child on pipes, for
  systems where forking a process that loaded numpy is unsafe: ``bnlab check`` off Linux.) References
  to the results channel and ``os._exit`` are taken before any learner code runs. As a script it imports
  only the standard library and numpy, never ``bnlab``: the reference must not be in the learner's process.

Nothing here computes, compares or judges anything: no expected value, no "unchanged" flag. The calls'
values, their arguments after the call and a fixed word for a failure go back; the grader decides.
"""
from __future__ import annotations

if __name__ == "__main__":  # limits first, before numpy or any learner code: "NAME=soft[,hard]" arguments
    import sys as _sys

    try:
        import resource as _resource  # POSIX only: on Windows no limit but the wall clock applies
    except ImportError:
        _resource = None
    _args = _sys.argv[1:]
    if _args[:1] == ["--site"]:  # the folder holding numpy inside the jail (python -S has no site-packages)
        _sys.path.insert(0, _args[1])
        _args = _args[2:]
    for _arg in _args if _resource is not None else ():  # (the jail's server sets limits per job instead)
        if "=" not in _arg:
            continue
        _name, _, _value = _arg.partition("=")
        _soft, _, _hard = _value.partition(",")
        try:  # a limit this system cannot set (RLIMIT_AS on macOS) is skipped; the wall clock still holds
            _resource.setrlimit(getattr(_resource, "RLIMIT_" + _name), (int(_soft), int(_hard or _soft)))
        except (ValueError, OSError, AttributeError):
            pass

import builtins
import errno
import importlib.util
import linecache
import os
import re
import stat
import sys
import traceback
from pathlib import Path

MAX_MESSAGE = 2000
CELL_PREFIX = "<graded cell"  # code object file names of learner code: "<graded cell 3: name>"
_KERNEL_CELL = re.compile(r"ipykernel_\d+[/\\]\d+\.py$")  # a cell run in Jupyter (public checks in the kernel)


def _load_plain():
    if __package__:
        from bnlab.grading.shared import plain
        return plain
    spec = importlib.util.spec_from_file_location("_bnlab_plain", Path(__file__).with_name("plain.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


plain = _load_plain()


def learner_traceback(exc: BaseException, memory_mb: int | None = None) -> str:
    """``Type: message`` plus the learner's own frames only (grader frames are trimmed)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f.filename.startswith(CELL_PREFIX) or _KERNEL_CELL.search(f.filename)]
    lines = []
    if frames:
        lines.append("Traceback (your code, most recent call last):")
        shown = frames if len(frames) <= 8 else frames[:3] + [None] + frames[-3:]
        for f in shown:
            if f is None:
                lines.append(f"  ... {len(frames) - 6} more calls ...")
                continue
            where = f.filename.strip("<>") if f.filename.startswith(CELL_PREFIX) else "your notebook cell"
            lines.append(f"  {where}, line {f.lineno}, in {f.name}")
            if f.line:
                lines.append(f"    {f.line.strip()[:200]}")
    head = "\n".join(lines)
    if len(head) > MAX_MESSAGE:
        head = head[:MAX_MESSAGE] + " [...]"
    tail = [exception_line(exc)]
    if isinstance(exc, MemoryError) and memory_mb:
        tail.append(f"(the memory limit is {memory_mb} MB)")
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
        tail.append("(the file size limit: the code printed or wrote too much)")
    return "\n".join(([head] if head else []) + tail)


def exception_line(exc: BaseException) -> str:
    """``TypeName: message`` (messages of SystemExit say what happened)."""
    if isinstance(exc, SystemExit):
        return f"SystemExit: your code called sys.exit({exc.code!r}); a graded function must return its result"
    try:
        message = str(exc)
    except Exception:
        message = "<message could not be shown>"
    message = message if len(message) <= 500 else message[:500] + " [...]"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def run_cells(cells, namespace: dict, memory_mb: int | None = None) -> str:
    """Exec the graded cells' source in ``namespace``; return "" or a message (syntax error, exception)."""
    for name, index, source in cells:
        filename = f"{CELL_PREFIX} {index + 1}: {name}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        try:
            code = compile(source, filename, "exec")
        except SyntaxError as exc:
            where = f"line {exc.lineno}" if exc.lineno else "unknown line"
            text = f"\n    {exc.text.strip()}" if exc.text else ""
            return f"SyntaxError in the graded cell for {name} (cell {index + 1}), {where}: {exc.msg}{text}"
        try:
            exec(code, namespace)
        except BaseException as exc:  # noqa: BLE001 - any learner failure is a message
            return f"running the graded cell for {name} (cell {index + 1}) failed:\n" + learner_traceback(exc, memory_mb)
    return ""


def _is_ref(x) -> bool:
    return type(x) is dict and set(x) == {"$ref", "index"}


def _resolve(x, store: dict):
    """Replace Ref markers by the learner's stored results (raises KeyError for a failed call)."""
    if _is_ref(x):
        value = store[x["$ref"]]
        return value if x["index"] is None else value[x["index"]]
    if type(x) is tuple:
        return tuple(_resolve(v, store) for v in x)
    if type(x) is list:
        return [_resolve(v, store) for v in x]
    if type(x) is dict:
        return {k: _resolve(v, store) for k, v in x.items()}
    return x


def _failure(exc: BaseException) -> str:
    """The grader-readable kind of a failed call, one of a fixed set (never learner text)."""
    if isinstance(exc, MemoryError):
        return "memory"
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
        return "file_size"
    return "exception"


def _inputs_after(call: dict, args: tuple, kwargs: dict) -> dict:
    """The call's arguments as they are after the call, as plain data, for the grader to compare with what
    it sent (None where the argument was an earlier call's result, which the grader never had)."""
    return {"args": [None if _is_ref(sent) else plain.to_plain(v) for sent, v in zip(call["args"], args)],
            "kwargs": {k: None if _is_ref(call["kwargs"][k]) else plain.to_plain(v) for k, v in kwargs.items()}}


def execute_calls(calls: list[dict], namespace: dict, memory_mb: int | None = None) -> dict[str, dict]:
    """Run each call (dicts: function, args, kwargs, key, returns, copy_check) against ``namespace``.

    Returns ``{key: {"ok", "value", "error", "kind", "inputs", "not_implemented"}}`` with plain values:
    ``kind`` is a fixed word for a failure ("exception", "memory", "file_size", "missing", "unusable");
    ``inputs`` (with copy_check) the arguments after the call. Nothing here judges: the grader compares.
    """
    store: dict = {}
    outcomes: dict[str, dict] = {}
    for call in calls:
        key, name = call["key"], call["function"]
        outcome = {"ok": False, "value": None, "error": "", "kind": "", "inputs": None, "not_implemented": False}
        outcomes[key] = outcome
        function = namespace.get(name)
        if not callable(function):
            outcome["error"], outcome["kind"] = f"NameError: the graded function {name} is not defined", "missing"
            continue
        try:
            args = _resolve(tuple(call["args"]), store)
            kwargs = _resolve(dict(call["kwargs"]), store)
        except KeyError:
            outcome["error"] = f"could not call {name}: it needs the result of an earlier call that failed"
            outcome["kind"] = "unusable"
            continue
        except BaseException as exc:  # noqa: BLE001 - indexing the learner's own earlier result failed
            outcome["error"] = f"could not use the result of an earlier call: {exception_line(exc)}"
            outcome["kind"] = "unusable"
            continue
        try:
            result = function(*args, **kwargs)
        except NotImplementedError:
            outcome["not_implemented"], outcome["kind"] = True, "not_implemented"
            outcome["error"] = f"{name} is not implemented yet (it raised NotImplementedError)"
            continue
        except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt... are failures too
            outcome["error"], outcome["kind"] = learner_traceback(exc, memory_mb), _failure(exc)
            continue
        store[key] = result
        returns = call["returns"]
        try:
            if call["copy_check"]:
                outcome["inputs"] = _inputs_after(call, args, kwargs)
            if returns is None:
                outcome["value"] = plain.to_plain(result)
            else:
                need = max(returns) + 1
                items = (list(tuple.__iter__(result)) if isinstance(result, tuple)
                         else list(list.__iter__(result)) if isinstance(result, list) else None)
                if items is None or len(items) < need:
                    outcome["error"] = (f"{name} should return a tuple of at least {need} items; "
                                        f"it returned {plain.describe(plain.to_plain(result))}")
                    outcome["kind"] = "unusable"
                    continue
                outcome["value"] = tuple(plain.to_plain(item) if i in returns
                                         else plain.Foreign("a value kept in your process")
                                         for i, item in enumerate(items))
        except BaseException as exc:  # noqa: BLE001 - a hostile object failing conversion
            outcome["error"] = "the result could not be read as data: " + exception_line(exc)
            outcome["kind"] = "unusable"
            continue
        outcome["ok"] = True
    return outcomes


class _BlockReference:
    """A meta-path finder that refuses ``bnlab`` in the learner's process and remembers the attempt."""

    attempted = False

    def find_spec(self, name, path=None, target=None):
        if name == "bnlab" or name.startswith("bnlab."):
            _BlockReference.attempted = True
            raise ImportError("graded cells may not import bnlab (the reference implementation)")
        return None


def _write_all(write, fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[write(fd, view):]


def run_job(job: dict, results_fd: int) -> None:
    """Run one job (graded cells, then calls), write its results to ``results_fd``; never returns (os._exit)."""
    # References taken before learner code runs; learner monkeypatching cannot reach these names.
    _write, _close, _exit, _pack = os.write, os.close, os._exit, plain.pack
    nonce = str(job["nonce"]).encode()
    sys.argv = ["graded-notebook"]
    sys.meta_path.insert(0, _BlockReference())
    memory_mb = job.get("memory_mb")
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    setup_error = run_cells(job["cells"], namespace, memory_mb)
    outcomes = {} if setup_error else execute_calls(job["calls"], namespace, memory_mb)
    results = {"setup_error": setup_error, "blocked_import": _BlockReference.attempted, "outcomes": outcomes}
    data = nonce + _pack(results)  # the nonce first: the grader checks it before it unpacks anything
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001
            pass
    try:
        _write_all(_write, results_fd, data)
        _close(results_fd)
    except OSError:
        _exit(71)
    _exit(0)


def main(argv: list[str]) -> None:
    """Exec mode: ``worker.py [--site DIR] [LIMIT=...]``, the job on stdin, results to stdout.

    The results channel is a private copy of stdout; fd 1 then points at stderr, so whatever the
    learner prints, from Python or from C, lands in the output stream, never among the results.
    """
    job = plain.unpack(sys.stdin.buffer.read())
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    results_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False)
    run_job(job, results_fd)


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


# --- the server ---------------------------------------------------------------------------------
# ``worker.py --site DIR --jail-server FD`` runs inside one bubblewrap jail (jail.py); ``worker.py --server FD``
# is the same server without the jail (``bnlab grade --no-jail``, ``bnlab check``). It imports numpy once and
# forks a child per job, one job at a time. Each job arrives on the socket FD as a JSON request with three
# descriptors the grader opened (job, results, output); the replies are the child's pid, then its exit
# status and whether the server must be retired. In the jail, after each job the server kills every other process in it at
# once (kill -1 in the jail's PID namespace) and asks to be retired whenever the job left anything behind:
# a process, a file in any writable place, a System V IPC object (a key it cannot add: seccomp). The jailed server is the jail's
# PID 1 (bwrap --as-pid-1), so it also reaps orphans; with a bwrap too old for that, a job that changed or
# traced bwrap's init retires the jail. Without the jail it kills the job's session and, as root, every
# process of the job's throwaway uid. A server serves one student's notebooks at most.

_JAILED: list = []  # [True] inside a jail


def _new_session_keyring() -> None:
    """Join a new anonymous session keyring (keyctl KEYCTL_JOIN_SESSION_KEYRING): the jail's own, so it does
    not hold the keyring of the session that started the grader."""
    import ctypes

    numbers = _KEY_SYSCALLS.get(os.uname().machine)
    if numbers:
        ctypes.CDLL(None, use_errno=True).syscall(numbers[1][2], 1, None)


# (audit arch, (add_key, request_key, keyctl)) by machine
_KEY_SYSCALLS = {"x86_64": (0xC000003E, (248, 249, 250)), "aarch64": (0xC00000B7, (217, 218, 219))}


def _forbid_keys() -> bool:
    """Forbid this process and its children the kernel keyrings (add_key, request_key, keyctl fail with EPERM)
    with a seccomp filter; a system call of another architecture fails too. Keys a jail could add to its
    user keyrings outlive the jail and show, with their descriptions, in the next jail's /proc/keys when the
    grader is an ordinary user (every jail has its uid). False where this machine is not known here."""
    import ctypes
    import struct

    known = _KEY_SYSCALLS.get(os.uname().machine)
    if not known:
        return False
    arch, numbers = known
    ld_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | errno.EPERM  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EPERM
    program = [(ld_abs, 0, 0, 4), (jeq, 1, 0, arch), (ret, 0, 0, deny),  # another architecture: refused
               (ld_abs, 0, 0, 0), (jge, 3, 0, 0x40000000)]              # x32 system calls: refused
    program += [(jeq, len(numbers) - i, 0, n) for i, n in enumerate(numbers)]
    program += [(ret, 0, 0, allow), (ret, 0, 0, deny)]
    program[4] = (jge, len(numbers) + 1, 0, 0x40000000)
    code = b"".join(struct.pack("HBBI", *insn) for insn in program)
    buffer = ctypes.create_string_buffer(code)

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS (bwrap sets it already)
    fprog = Program(len(program), ctypes.cast(buffer, ctypes.c_void_p))
    return libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) == 0  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER


def _job_child(request: dict, job_fd: int, results_fd: int, output_fd: int) -> None:
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
        run_job(job, results_fd)
    except BaseException:  # noqa: BLE001 - a child must never return into the server loop
        try:
            traceback.print_exc()
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
    """What every writable place of the jail holds (each entry's path, mode, owner and size): what a job could
    leave for the next one."""
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
        _forbid_keys()          # and no key at all: keys outlive a jail, seen by the next (ordinary user)
        _CLEAN.update(_writable_places())
        _INIT.append(_init_state())
    sock.send(json.dumps({"ready": True}).encode())
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, 65536, 3)
        except OSError:
            return
        if not message or len(fds) != 3:
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
    elif "--server" in sys.argv:
        serve(int(sys.argv[sys.argv.index("--server") + 1]), jailed=False)
    else:
        main(sys.argv)
