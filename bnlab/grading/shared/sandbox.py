"""Run learner code in a separate, limited process and bring back plain data (the grader side).

One call of :func:`run_learner` runs one notebook's graded cells and calls in a new process: on
Linux a child forked by the fork server (``worker.py --server``, numpy imported once, never bnlab);
elsewhere, or with ``BNLAB_SANDBOX=exec``, a fresh ``python -I worker.py RESULTS``. That process gets:

- a fresh temporary working directory (also HOME and TMPDIR) and a scrubbed environment
  (minimal PATH, no PYTHONPATH, one BLAS/OpenMP thread);
- its own session (process group), killed as a whole at the wall-clock timeout and after it ends;
- resource limits it sets on itself before it reads any learner code: CPU time, address space
  (memory), processes (fork bombs), file size, open files, no core dumps;
- when the grader runs as root and it works here, a throwaway user id, so the process-count limit
  applies and the learner cannot write the grader's files or signal its processes.

The job (graded source and call inputs) is a plain-data file in a private directory outside the
working directory; the worker writes its results there after all calls, with the nonce of this run.
A missing, corrupt or foreign results file means the run crashed.
"""
from __future__ import annotations

import json
import os
import queue
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bnlab.grading.shared import plain

WORKER = Path(__file__).with_name("worker.py")
OUTPUT_TAIL = 4000  # characters of learner stdout/stderr kept for the instructor


@dataclass(frozen=True)
class Limits:
    """Limits of one learner process."""

    timeout: float = 10.0   # wall clock, seconds
    memory_mb: int = 1024   # address space
    processes: int = 32     # processes/threads the learner may add (RLIMIT_NPROC)
    file_mb: int = 64       # largest file the learner may write (also its stdout)
    open_files: int = 256


@dataclass
class SandboxRun:
    """What came back. ``status`` is "ok", "timeout", "crashed" or "error" (the sandbox failed to start)."""

    status: str
    message: str = ""                         # why, when status is not "ok"
    setup_error: str = ""                     # syntax error / exception while running the graded cells
    blocked_import: bool = False              # the learner code tried to import bnlab
    outcomes: dict = field(default_factory=dict)  # key -> worker outcome dict (plain data)
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0


def _task_count(uid: int) -> int | None:
    """Processes+threads currently owned by ``uid`` (RLIMIT_NPROC counts them all); None without /proc."""
    if not os.path.isdir("/proc/self/task"):
        return None
    count = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid == uid:
                count += len(os.listdir(f"/proc/{entry.name}/task"))
        except OSError:
            continue
    return count


_uid_drop_works: bool | None = None


def _can_drop_uid() -> bool:
    """True if running as root and a throwaway uid can start this Python with numpy (probed once)."""
    global _uid_drop_works
    if _uid_drop_works is None:
        _uid_drop_works = False
        if os.name == "posix" and os.geteuid() == 0 and os.environ.get("BNLAB_SANDBOX_NO_UID") != "1":
            uid = 100000 + secrets.randbelow(800000)
            try:
                r = subprocess.run([sys.executable, "-I", "-c", "import numpy"], cwd="/", timeout=30,
                                   user=uid, group=uid, extra_groups=[], capture_output=True)
                _uid_drop_works = r.returncode == 0
            except (OSError, subprocess.SubprocessError):
                pass
    return _uid_drop_works


def _limit_args(limits: Limits, nproc: int | None) -> list[str]:
    """Limits for the worker, which sets them on itself before importing anything or reading the job
    (no preexec_fn: that is unsafe with the threads of ``bnlab grade --jobs``)."""
    mb = 2**20
    cpu = int(limits.timeout) + 1
    args = [f"CPU={cpu},{cpu + 1}", f"AS={limits.memory_mb * mb}", f"FSIZE={limits.file_mb * mb}", "CORE=0",
            f"NOFILE={limits.open_files}"]
    return args + ([f"NPROC={nproc}"] if nproc is not None else [])


def _environment(workdir: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8", "MPLBACKEND": "Agg",
    }


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(max(0, path.stat().st_size - OUTPUT_TAIL))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _remove(path: str) -> None:
    def writable(func, p, _exc):
        try:
            os.chmod(os.path.dirname(p), 0o700)
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass
    shutil.rmtree(path, onerror=writable)


def _signal_message(returncode: int, limits: Limits) -> str:
    sig = -returncode
    if sig == signal.SIGXCPU or sig == signal.SIGKILL:
        return (f"the learner process was killed (signal {signal.Signals(sig).name}): it used more than "
                f"its CPU time ({int(limits.timeout) + 1} s) or was killed from outside")
    if sig == signal.SIGXFSZ:
        return f"the learner process wrote more than {limits.file_mb} MB (file size limit)"
    if sig == signal.SIGSEGV:
        return "the learner process crashed (segmentation fault; possibly out of memory)"
    try:
        name = signal.Signals(sig).name
    except ValueError:
        name = str(sig)
    return f"the learner process was killed by signal {name}"


class ForkServer:
    """One ``worker.py --server`` process (numpy imported once) that forks a child per job.

    Threads share it: each job is a request id; a reader thread routes the server's replies
    ("pid" after the fork, "exit" when the child is reaped) to the waiting thread's queue.
    If the server dies, waiting jobs get an exit of None and the next job starts a new server.
    """

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-I", str(WORKER), "--server"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd="/",
                                     env=_environment("/nonexistent"), close_fds=True, start_new_session=True)
        self.lock = threading.Lock()
        self.pending: dict[int, queue.Queue] = {}
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                message = json.loads(line)
                self.pending[message["id"]].put(message)
            except (ValueError, KeyError, TypeError):
                continue
        with self.lock:  # the server ended: nobody will answer the jobs still waiting
            for q in self.pending.values():
                q.put({"exit": None, "error": "the sandbox server ended"})

    def alive(self) -> bool:
        return self.proc.poll() is None

    def submit(self, request: dict) -> tuple[int, queue.Queue]:
        with self.lock:
            self.next_id += 1
            rid, q = self.next_id, queue.Queue()
            self.pending[rid] = q
            self.proc.stdin.write((json.dumps({**request, "id": rid}) + "\n").encode())
            self.proc.stdin.flush()
        return rid, q

    def done(self, rid: int) -> None:
        with self.lock:
            self.pending.pop(rid, None)


_server: ForkServer | None = None
_server_lock = threading.Lock()


def _fork_server() -> ForkServer:
    global _server
    with _server_lock:
        if _server is None or not _server.alive():
            _server = ForkServer()
        return _server


def _run_forked(request: dict, timeout: float) -> tuple[int | None, bool, str]:
    """Run one job on the fork server: (exit code or None, timed out, error)."""
    try:
        server = _fork_server()
        rid, q = server.submit(request)
    except (OSError, ValueError) as exc:
        return None, False, f"could not start the learner process: {exc}"
    try:
        first = q.get(timeout=30)
        if "pid" not in first:
            return None, False, str(first.get("error", "the sandbox server failed"))
        pid = first["pid"]
        try:
            reply = q.get(timeout=timeout)
            timed_out = False
        except queue.Empty:
            timed_out = True
            _kill_group(pid)
            try:
                reply = q.get(timeout=30)
            except queue.Empty:
                reply = {"exit": None}
        _kill_group(pid)  # leftovers (children) of a finished run
        return reply.get("exit"), timed_out, str(reply.get("error", ""))
    finally:
        server.done(rid)


def _run_exec(request: dict, job: bytes, timeout: float) -> tuple[int | None, bool, str]:
    """Run one job in a new interpreter (``BNLAB_SANDBOX=exec``): (exit code, timed out, error)."""
    uid = request["uid"]
    with open(request["stdout"], "wb") as out, open(request["stderr"], "wb") as err:
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", str(WORKER), request["results"], *request["limits"]],
                stdin=subprocess.PIPE, stdout=out, stderr=err, cwd=request["cwd"], env=request["env"],
                start_new_session=True, close_fds=True, user=uid, group=uid,
                extra_groups=[] if uid is not None else None)
        except (OSError, subprocess.SubprocessError) as exc:
            return None, False, f"could not start the learner process: {exc}"
        timed_out = False
        try:
            proc.communicate(input=job, timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc.pid)
            proc.wait()
        except BrokenPipeError:
            proc.wait()
        _kill_group(proc.pid)
        return proc.returncode, timed_out, ""


_setuid_works: bool | None = None


def _can_setuid() -> bool:
    """True if a child of this root process can switch to a throwaway uid (not so in some containers)."""
    global _setuid_works
    if _setuid_works is None:
        uid = 100000 + secrets.randbelow(800000)
        try:
            r = subprocess.run([sys.executable, "-I", "-S", "-c",
                                f"import os; os.setgroups([]); os.setgid({uid}); os.setuid({uid})"],
                               cwd="/", timeout=30, capture_output=True)
            _setuid_works = r.returncode == 0
        except (OSError, subprocess.SubprocessError):
            _setuid_works = False
    return _setuid_works


def _mode() -> str:
    """"fork" (the preloaded server; Linux) or "exec" (a new interpreter per notebook: other systems,
    where forking a process that loaded numpy is unsafe, or BNLAB_SANDBOX=exec)."""
    chosen = os.environ.get("BNLAB_SANDBOX")
    if chosen in ("fork", "exec"):
        return chosen
    return "fork" if sys.platform.startswith("linux") else "exec"


def _use_uid() -> bool:
    """Switch learner processes to a throwaway uid: when root and possible, unless BNLAB_SANDBOX_NO_UID=1.
    The fork server needs only setuid; exec mode also needs the interpreter readable by that uid."""
    if os.name != "posix" or os.geteuid() != 0 or os.environ.get("BNLAB_SANDBOX_NO_UID") == "1":
        return False
    return _can_drop_uid() if _mode() == "exec" else _can_setuid()


def run_learner(cells: list[tuple[str, int, str]], calls: list[dict], limits: Limits = Limits()) -> SandboxRun:
    """Run ``cells`` (name, cell index, source) then ``calls`` (worker call dicts) in a sandbox process."""
    nonce = secrets.token_hex(16)
    job = plain.pack({"nonce": nonce, "cells": [list(c) for c in cells], "calls": calls,
                      "memory_mb": limits.memory_mb})
    workdir = tempfile.mkdtemp(prefix="bnlab-learner-")
    private = tempfile.mkdtemp(prefix="bnlab-grader-")
    results = Path(private) / "results.bin"
    stdout_path, stderr_path = Path(private) / "stdout.txt", Path(private) / "stderr.txt"
    (Path(private) / "job.bin").write_bytes(job)
    uid = None
    if _use_uid():
        uid = 100000 + secrets.randbelow(800000)
        os.chown(workdir, uid, uid)
        os.chown(private, uid, uid)
        nproc = limits.processes
    else:
        tasks = _task_count(os.geteuid())
        nproc = None if tasks is None else tasks + limits.processes
    request = {"job": str(Path(private) / "job.bin"), "results": str(results), "stdout": str(stdout_path),
               "stderr": str(stderr_path), "cwd": workdir, "env": _environment(workdir),
               "limits": _limit_args(limits, nproc), "uid": uid}
    start = time.monotonic()
    try:
        if _mode() == "exec":
            returncode, timed_out, error = _run_exec(request, job, limits.timeout)
        else:
            returncode, timed_out, error = _run_forked(request, limits.timeout)
        run = SandboxRun("ok", seconds=time.monotonic() - start,
                         stdout=_tail(stdout_path), stderr=_tail(stderr_path))
        if timed_out:
            run.status, run.message = "timeout", f"timed out after {limits.timeout:g} s (endless loop?)"
            return run
        data = results.read_bytes() if results.is_file() else None
        if data is None:
            run.status = "crashed"
            if returncode is None:
                run.status, run.message = "error", f"the sandbox failed: {error or 'no exit status'}"
            elif returncode < 0:
                run.message = _signal_message(returncode, limits)
            else:
                run.message = (f"the learner process ended (exit code {returncode}) before returning "
                               "results: does the graded code call sys.exit or os._exit, or exit at import?")
            if "MemoryError" in run.stderr:
                run.message += f" (it ran out of memory: the limit is {limits.memory_mb} MB)"
            return run
        try:
            got = plain.unpack(data)
            if not isinstance(got, dict) or got.get("nonce") != nonce:
                raise ValueError("results of another run")
        except (ValueError, KeyError, TypeError) as exc:
            run.status, run.message = "crashed", f"the learner process returned corrupt results ({exc})"
            return run
        run.setup_error = str(got.get("setup_error") or "")
        run.blocked_import = bool(got.get("blocked_import"))
        outcomes = got.get("outcomes")
        run.outcomes = outcomes if isinstance(outcomes, dict) else {}
        return run
    finally:
        _remove(workdir)
        _remove(private)
