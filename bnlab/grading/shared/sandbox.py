"""Run learner code in a separate, limited process and bring back plain data (the grader side).

One call of :func:`run_learner` runs one notebook's graded cells and calls in a new process, one of:

- ``Limits(jail=True)`` (``bnlab grade``, Gradescope when it can): a child forked by the server of a
  bubblewrap jail (:mod:`bnlab.grading.shared.jail`; ``worker.py --jail-server``): no network, no host
  files but a read-only runtime, its own PID namespace, a tmpfs as its working directory; as root, a
  throwaway user id. Job, results and printed output travel through pipes this process opened (sent
  to the jail's server as descriptors), read with a size cap. After each job every other process in
  the jail is killed; a job that left anything behind retires its jail (the next gets a new one).
- otherwise, on Linux, a child forked by the fork server (``worker.py --server``, numpy imported once,
  never bnlab); elsewhere, or with ``BNLAB_SANDBOX=exec``, a fresh ``python -I worker.py`` on pipes.

Every learner process gets a scrubbed environment (minimal PATH, one BLAS/OpenMP thread), its own
session, the wall-clock timeout, and limits it sets on itself before it reads any learner code:
CPU time, address space, processes, file size, open files, no core dumps (where the system has them).
Without the jail, as root, it also runs as a throwaway user id whose every process is killed after
the run; its working directory sits in a root-owned folder it cannot rename or replace, and what it
printed and returned goes to files it holds open but whose folder it cannot reach.
"""
from __future__ import annotations

import atexit
import json
import os
import queue
import re
import secrets
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bnlab.grading.shared import plain

WORKER = Path(__file__).with_name("worker.py")
OUTPUT_TAIL = 4000  # characters of learner output kept for the instructor
POSIX = os.name == "posix"


@dataclass(frozen=True)
class Limits:
    """Limits of one learner process, and where it runs."""

    timeout: float = 10.0   # wall clock, seconds
    memory_mb: int = 1024   # address space
    processes: int = 32     # processes/threads the learner may add (RLIMIT_NPROC)
    file_mb: int = 64       # largest file the learner may write, and most it may print
    open_files: int = 256
    jail: bool = False      # run in the bubblewrap jail (bnlab grade); False: the plain process sandbox


@dataclass
class SandboxRun:
    """What came back. ``status`` is "ok", "timeout", "crashed" or "error" (the sandbox failed to start)."""

    status: str
    message: str = ""                         # why, when status is not "ok"
    setup_error: str = ""                     # syntax error / exception while running the graded cells
    blocked_import: bool = False              # the learner code tried to import bnlab
    outcomes: dict = field(default_factory=dict)  # key -> worker outcome dict (plain data)
    stdout: str = ""                          # the learner's printed output (stdout and stderr, in order)
    stderr: str = ""                          # (kept for callers: output arrives merged in stdout)
    seconds: float = 0.0
    isolation: str = ""                       # "jail", "process (throwaway uid)" or "process"


def limits_in_effect() -> list[str]:
    """The limits this system can set on a learner process (the wall clock always holds)."""
    try:
        import resource
    except ImportError:
        return ["wall clock"]
    names = {"CPU": "CPU time", "AS": "memory", "NPROC": "processes", "FSIZE": "file size", "NOFILE": "open files"}
    found = ["wall clock"] + [text for name, text in names.items() if hasattr(resource, "RLIMIT_" + name)]
    if sys.platform == "darwin":  # macOS refuses an address-space limit
        found.remove("memory")
    return found


def _limit_args(limits: Limits, nproc: int | None) -> list[str]:
    """Limits for the worker, which sets them on itself before importing anything or reading the job
    (no preexec_fn: that is unsafe with the threads of ``bnlab grade --jobs``)."""
    mb = 2**20
    cpu = int(limits.timeout) + 1
    args = [f"CPU={cpu},{cpu + 1}", f"AS={limits.memory_mb * mb}", f"FSIZE={limits.file_mb * mb}", "CORE=0",
            f"NOFILE={limits.open_files}"]
    return args + ([f"NPROC={nproc}"] if nproc is not None else [])


def _environment(home: str) -> dict[str, str]:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8", "MPLBACKEND": "Agg",
    }
    if os.name == "nt":  # Windows cannot start Python (or load numpy's DLLs) without these
        env.update({k: os.environ[k] for k in ("SYSTEMROOT", "WINDIR", "PATH", "TEMP", "TMP") if k in os.environ})
        env["TEMP"] = env["TMP"] = env["TMPDIR"] = home
    return env


def _kill_group(pgid: int) -> None:
    if not POSIX:
        return
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _signal_message(returncode: int, limits: Limits) -> str:
    sig = -returncode
    by_name = {getattr(signal, n, None): n for n in ("SIGXCPU", "SIGKILL", "SIGXFSZ", "SIGSEGV")}
    name = by_name.get(sig)
    if name in ("SIGXCPU", "SIGKILL"):
        return (f"the learner process was killed (signal {name}): it used more than "
                f"its CPU time ({int(limits.timeout) + 1} s) or was killed from outside")
    if name == "SIGXFSZ":
        return f"the learner process wrote more than {limits.file_mb} MB (file size limit)"
    if name == "SIGSEGV":
        return "the learner process crashed (segmentation fault; possibly out of memory)"
    try:
        name = signal.Signals(sig).name
    except ValueError:
        name = str(sig)
    return f"the learner process was killed by signal {name}"


# --- the grader's own temporary folders -------------------------------------------------------------

_root: str | None = None
_root_lock = threading.Lock()


def grader_root() -> str:
    """This process's folder for learner working directories and its private files (once per process).

    Root-owned, in the temporary folder; mode 0711 when learner code runs as a throwaway uid, so that
    uid can enter its own working directory but cannot list, rename or replace anything in it.
    """
    global _root
    with _root_lock:
        if _root is None:
            _root = tempfile.mkdtemp(prefix="bnlab-grader-")
            if POSIX and os.geteuid() == 0:
                os.chmod(_root, 0o711)
            atexit.register(remove_tree, _root)
        return _root


_max_files_raised = False


def remove_tree(path: str) -> None:
    """Delete a folder that learner code could have filled, safely and completely.

    File-descriptor based: it never follows a symbolic link, never re-resolves a path below ``path``
    (it walks with ``openat`` and climbs back with ``..``, checking it is the folder it came from), and
    holds two descriptors at a time, so a tree of any depth goes. No chmod except, when the grader
    is not root, of a folder it already holds open. Errors are swallowed: cleanup never raises.
    """
    if not POSIX:
        import shutil
        shutil.rmtree(path, ignore_errors=True)
        return
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return
    except OSError:  # replaced by a file or a symbolic link: remove that entry itself, never its target
        try:
            os.unlink(path)
        except OSError:
            pass
        return
    trail: list[tuple[str, tuple[int, int]]] = []  # (name in parent, (dev, ino) of the parent)
    try:
        while True:
            child = None
            with os.scandir(fd) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            child = entry.name
                            break
                        os.unlink(entry.name, dir_fd=fd)
                    except PermissionError:
                        os.fchmod(fd, 0o700)  # only when not root: the learner made its own folder read-only
                        os.unlink(entry.name, dir_fd=fd)
                    except OSError:
                        pass
            if child is not None:
                here = os.fstat(fd)
                try:
                    sub = os.open(child, flags, dir_fd=fd)
                except PermissionError:
                    os.fchmod(fd, 0o700)
                    try:
                        os.chmod(child, 0o700, dir_fd=fd)
                        sub = os.open(child, flags, dir_fd=fd)
                    except OSError:
                        return
                except OSError:
                    return
                os.close(fd)
                fd = sub
                trail.append((child, (here.st_dev, here.st_ino)))
                continue
            if not trail:
                break
            name, parent_id = trail.pop()
            up = os.open("..", flags, dir_fd=fd)
            os.close(fd)
            fd = up
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) != parent_id:  # moved while we were inside: stop, touch nothing more
                return
            try:
                os.rmdir(name, dir_fd=fd)
            except OSError:
                return
    except OSError:
        return
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
    try:
        os.rmdir(path)
    except OSError:
        pass


def _read_capped(path: Path, cap: int, tail: bool = False) -> tuple[bytes | None, bool]:
    """A regular file the grader created: (its bytes, or its last ``cap`` bytes with ``tail``; too big?)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None, False
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None, False
        if st.st_size > cap:
            if not tail:
                return None, True
            f.seek(st.st_size - cap)
        return f.read(cap), False


# --- pipes: read with a cap --------------------------------------------------------------------------

class _Reader(threading.Thread):
    """Drains one pipe: keeps everything up to ``cap`` bytes, or only the tail; calls ``over`` past the cap."""

    def __init__(self, stream, cap: int, tail: int | None = None, over=None):
        super().__init__(daemon=True)
        self.stream, self.cap, self.keep_tail, self.on_over = stream, cap, tail, over
        self.data = bytearray()
        self.total = 0
        self.over = False
        self.start()

    def run(self) -> None:
        try:
            while True:
                chunk = self.stream.read1(65536)
                if not chunk:
                    break
                self.total += len(chunk)
                self.data += chunk
                if self.keep_tail is not None and len(self.data) > 2 * self.keep_tail:
                    del self.data[:-self.keep_tail]
                if self.total > self.cap:
                    self.over = True
                    if self.on_over:
                        self.on_over()
                    break
        except (OSError, ValueError):
            pass

    def text(self) -> str:
        data = bytes(self.data[-self.keep_tail:]) if self.keep_tail else bytes(self.data)
        return data.decode("utf-8", "replace")


@dataclass
class _Raw:
    """What a run produced, before it is judged."""

    returncode: int | None = None
    timed_out: bool = False
    error: str = ""               # the sandbox failed (not the learner)
    results: bytes | None = None
    output: str = ""
    output_over: bool = False
    results_over: bool = False
    ended_jail: bool = False      # the learner code killed the server of its jail


def _run_piped(argv: list[str], job: bytes, limits: Limits, cwd: str, env: dict, uid: int | None) -> _Raw:
    """Start ``argv``: job on stdin, results on stdout, output on stderr; wait with the wall clock."""
    raw = _Raw()
    extra: dict = {}
    if POSIX:
        extra["start_new_session"] = True
        if uid is not None:
            extra.update(user=uid, group=uid, extra_groups=[])
    elif os.name == "nt":
        extra["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=cwd, env=env, close_fds=True, **extra)
    except (OSError, subprocess.SubprocessError) as exc:
        raw.error = f"could not start the learner process: {exc}"
        return raw

    def kill():
        try:
            proc.kill()
        except OSError:
            pass
        _kill_group(proc.pid)

    results = _Reader(proc.stdout, plain.MAX_BYTES, over=kill)
    output = _Reader(proc.stderr, limits.file_mb * 2**20, tail=OUTPUT_TAIL * 4, over=kill)

    def feed():
        try:
            proc.stdin.write(job)
            proc.stdin.close()
        except (OSError, ValueError):
            pass

    threading.Thread(target=feed, daemon=True).start()
    try:
        proc.wait(timeout=limits.timeout)
    except subprocess.TimeoutExpired:
        raw.timed_out = True
        kill()
        proc.wait()
    _kill_group(proc.pid)  # leftovers of a finished run that stayed in its session
    for reader in (results, output):
        reader.join(timeout=5)
    raw.returncode = proc.returncode
    raw.results = bytes(results.data) if not results.over else None
    raw.results_over, raw.output_over = results.over, output.over
    raw.output = output.text()
    return raw


class _Jail:
    """One bubblewrap jail running ``worker.py --jail-server``: numpy imported once, one job at a time.

    Jobs reach it over a socket pair (a JSON request plus three descriptors this process opened: the
    job's pipe, the results' pipe, the output's pipe). A jail is retired (killed with everything in it)
    after a timeout, after too much output, or when its server says the job left anything behind.
    """

    def __init__(self):
        import socket

        from bnlab.grading.shared import jail

        self.proc = None
        self.error = ""
        bwrap = jail.bwrap_path()
        if not bwrap:
            self.error = "bubblewrap (bwrap) is not installed"
            return
        try:
            rt = jail.runtime()
            options = jail.options({"PATH": "/usr/bin:/bin"})
        except (OSError, jail.JailUnavailable) as exc:
            self.error = f"could not build the jail: {exc}"
            return
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # bwrap reads its options from a pipe, not its command line, which learner code could read in
        # /proc/1/cmdline (only the command below shows there).
        encoded = b"\0".join(a.encode() for a in options) + b"\0"
        args_r, args_w = os.pipe()
        os.write(args_w, encoded)  # a few KiB: a pipe holds 64
        os.close(args_w)
        argv = [bwrap, "--args", str(args_r), "--", rt.python, "-I", "-S", f"{jail.RUNNER}/worker.py",
                "--site", jail.SITE, "--jail-server", str(theirs.fileno())]
        uid = jail.throwaway_uid()
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE, cwd="/", env={"PATH": "/usr/bin:/bin"},
                                         close_fds=True, pass_fds=(args_r, theirs.fileno()),
                                         start_new_session=True, **jail._identity(uid))
        except (OSError, subprocess.SubprocessError) as exc:
            self.error = f"could not start bubblewrap: {exc}"
            return
        finally:
            os.close(args_r)
            theirs.close()
        self.complaints = _Reader(self.proc.stderr, 2**62, tail=4000)  # drained for its whole life
        self.sock.settimeout(120)
        try:
            ready = self.sock.recv(4096)
        except OSError:
            ready = b""
        if b"ready" not in ready:
            self.kill()
            self.complaints.join(timeout=5)
            why = (self.complaints.text().strip().splitlines() or ["no reason given"])[-1]
            self.error = f"bubblewrap could not start the jail: {why}"

    def kill(self) -> None:
        if self.proc is not None:
            try:
                self.proc.kill()  # --die-with-parent: the jail's PID namespace, and all in it, ends too
            except OSError:
                pass
            self.proc.wait()
        try:
            self.sock.close()
        except (OSError, AttributeError):
            pass

    def run(self, job: bytes, limits: Limits) -> tuple[_Raw, bool]:
        """Run one job; (what came back, whether this jail may take another job)."""
        import socket

        raw = _Raw()
        job_r, job_w = os.pipe()
        results_r, results_w = os.pipe()
        output_r, output_w = os.pipe()
        request = {"env": _environment(_JAIL_HOME), "limits": _limit_args(limits, limits.processes + 3)}
        try:
            socket.send_fds(self.sock, [json.dumps(request).encode()], [job_r, results_w, output_w])
        except OSError as exc:
            for fd in (job_r, job_w, results_r, results_w, output_r, output_w):
                os.close(fd)
            raw.error = f"the jail did not take the job: {exc}"
            return raw, False
        for fd in (job_r, results_w, output_w):
            os.close(fd)
        over = threading.Event()

        def too_much():
            over.set()
            self.kill()

        results = _Reader(os.fdopen(results_r, "rb"), plain.MAX_BYTES, over=too_much)
        output = _Reader(os.fdopen(output_r, "rb"), limits.file_mb * 2**20, tail=OUTPUT_TAIL * 4, over=too_much)

        def feed():
            try:
                with os.fdopen(job_w, "wb") as f:
                    f.write(job)
            except OSError:
                pass

        threading.Thread(target=feed, daemon=True).start()
        reply = None
        self.sock.settimeout(limits.timeout)
        try:
            message = self.sock.recv(4096)
            reply = json.loads(message) if message else None
        except socket.timeout:
            raw.timed_out = True
        except (OSError, ValueError):
            pass
        if reply is None:
            self.kill()  # timed out, too much output, or the jail's server was killed by the job
        for reader in (results, output):
            reader.join(timeout=10)
        raw.output = output.text()
        raw.results_over, raw.output_over = results.over, output.over
        raw.results = bytes(results.data) if not results.over else None
        if reply is None:
            if not raw.timed_out and not over.is_set():  # the job killed the jail's server, its parent:
                raw.ended_jail, raw.results = True, None  # whatever it sent may be cut short, and is refused
            return raw, False
        raw.returncode = int(reply.get("exit", 70))
        return raw, not reply.get("retire")


_JAIL_HOME = "/tmp"
_idle_jails: list[_Jail] = []
_jails_lock = threading.Lock()


def _run_jailed(job: bytes, limits: Limits) -> _Raw:
    """One job in an idle jail (a new one if none is idle); the jail goes back only if the job left it clean.
    A jail that was idle and no longer takes jobs is replaced once (the job never started in it)."""
    with _jails_lock:
        jail = _idle_jails.pop() if _idle_jails else None
    for attempt in range(2):
        if jail is None:
            jail = _Jail()
            if jail.error:
                return _Raw(error=jail.error)
        raw, reusable = jail.run(job, limits)
        if reusable:
            with _jails_lock:
                _idle_jails.append(jail)
            return raw
        jail.kill()
        if not raw.error.startswith("the jail did not take the job"):
            return raw
        jail = None
    return raw


@atexit.register
def _end_jails() -> None:
    with _jails_lock:
        while _idle_jails:
            _idle_jails.pop().kill()


def _run_exec(job: bytes, limits: Limits) -> tuple[_Raw, int | None]:
    """A new interpreter per notebook (other systems, or ``BNLAB_SANDBOX=exec``), on pipes."""
    uid = jail_free_uid()
    workdir = _workdir(uid)
    nproc = limits.processes if uid is not None else _nproc(limits)
    try:
        raw = _run_piped([sys.executable, "-I", str(WORKER), *_limit_args(limits, nproc)], job, limits,
                         workdir, _environment(workdir), uid)
        if uid is not None:
            _kill_uid(uid)
    finally:
        remove_tree(workdir)
    return raw, uid


# --- the fork server (Linux, no jail) -----------------------------------------------------------------

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


def prestart() -> None:
    """Start the fork server now, so that it imports numpy while the caller loads its checks (bnlab check)."""
    if _mode() == "fork":
        try:
            _fork_server()
        except OSError:
            pass


def _kill_uid(uid: int) -> None:
    """SIGKILL every process of the throwaway ``uid`` at once (a child that becomes it and kills -1)."""
    if sys.platform.startswith("linux") and _mode() == "fork":
        try:
            rid, q = _fork_server().submit({"kill_uid": uid})
            q.get(timeout=30)
            _fork_server().done(rid)
            return
        except (OSError, ValueError, queue.Empty):
            pass
    try:
        subprocess.run([sys.executable, "-I", "-S", "-c", "import os, signal\ntry:\n os.kill(-1, signal.SIGKILL)\n"
                        "except OSError:\n pass"], user=uid, group=uid, extra_groups=[], cwd="/", timeout=30,
                       env={"PATH": "/usr/bin:/bin"}, capture_output=True)
    except (OSError, subprocess.SubprocessError):
        pass


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
            if request.get("uid") is not None:
                _kill_uid(request["uid"])
            try:
                reply = q.get(timeout=30)
            except queue.Empty:
                reply = {"exit": None}
        _kill_group(pid)  # leftovers (children) of a finished run
        return reply.get("exit"), timed_out, str(reply.get("error", ""))
    finally:
        server.done(rid)


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
    """Without the jail, switch learner processes to a throwaway uid: when root and possible, unless
    BNLAB_SANDBOX_NO_UID=1. The fork server needs only setuid; exec mode starts the interpreter as
    that uid, so it must be able to read it."""
    if not POSIX or os.geteuid() != 0 or os.environ.get("BNLAB_SANDBOX_NO_UID") == "1":
        return False
    if not _can_setuid():
        return False
    if _mode() == "exec":
        from bnlab.grading.shared import jail
        return jail._world_readable(Path(sys.executable).resolve().parent)
    return True


def jail_free_uid() -> int | None:
    """A throwaway uid for a run without the jail, or None (not root, or it cannot be used here)."""
    if not _use_uid():
        return None
    from bnlab.grading.shared.jail import throwaway_uid
    return throwaway_uid()


def _workdir(uid: int | None) -> str:
    """A fresh empty working directory inside the grader's root-owned folder, owned by ``uid``."""
    path = tempfile.mkdtemp(prefix="bnlab-learner-", dir=grader_root())
    if uid is not None:
        os.chown(path, uid, uid)
    return path


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


def _nproc(limits: Limits) -> int | None:
    if not POSIX:
        return None
    tasks = _task_count(os.geteuid())
    return None if tasks is None else tasks + limits.processes


def _run_fork_mode(job: bytes, limits: Limits) -> tuple[_Raw, int | None]:
    uid = jail_free_uid()
    workdir = _workdir(uid)
    private = tempfile.mkdtemp(prefix="bnlab-private-", dir=grader_root())  # 0700, the grader's only
    results, output = Path(private) / "results.bin", Path(private) / "output.txt"
    (Path(private) / "job.bin").write_bytes(job)
    request = {"job": str(Path(private) / "job.bin"), "results": str(results), "output": str(output),
               "cwd": workdir, "env": _environment(workdir), "uid": uid,
               "limits": _limit_args(limits, limits.processes if uid is not None else _nproc(limits))}
    raw = _Raw()
    try:
        raw.returncode, raw.timed_out, error = _run_forked(request, limits.timeout)
        if uid is not None:
            _kill_uid(uid)  # every process of this uid, wherever it went (setsid, double fork)
        if raw.returncode is None and not raw.timed_out:
            raw.error = error or "no exit status"
        data, raw.results_over = _read_capped(results, plain.MAX_BYTES)
        raw.results = data or None
        tail, _ = _read_capped(output, OUTPUT_TAIL * 4, tail=True)
        raw.output = (tail or b"").decode("utf-8", "replace")
    finally:
        remove_tree(workdir)
        remove_tree(private)
    return raw, uid


def isolation_of(limits: Limits) -> str:
    if limits.jail:
        return "jail"
    return "process (throwaway uid)" if _use_uid() else "process"


def run_learner(cells: list[tuple[str, int, str]], calls: list[dict], limits: Limits = Limits()) -> SandboxRun:
    """Run ``cells`` (name, cell index, source) then ``calls`` (worker call dicts) in a sandbox process."""
    nonce = secrets.token_hex(16)
    job = plain.pack({"nonce": nonce, "cells": [list(c) for c in cells], "calls": calls,
                      "memory_mb": limits.memory_mb})
    start = time.monotonic()
    if limits.jail:
        raw, isolation = _run_jailed(job, limits), "jail"
    elif _mode() == "exec":
        raw, uid = _run_exec(job, limits)
        isolation = "process (throwaway uid)" if uid is not None else "process"
    else:
        raw, uid = _run_fork_mode(job, limits)
        isolation = "process (throwaway uid)" if uid is not None else "process"
    run = SandboxRun("ok", seconds=time.monotonic() - start, stdout=raw.output[-OUTPUT_TAIL:],
                     isolation=isolation)
    if raw.error:
        run.status, run.message = "error", f"the sandbox failed: {raw.error}"
        return run
    if raw.timed_out:
        run.status, run.message = "timeout", f"timed out after {limits.timeout:g} s (endless loop?)"
        return run
    if raw.ended_jail:
        run.status, run.message = "crashed", ("the learner code ended its own jail (it killed the process that "
                                              "ran it), so its results were not used")
        return run
    if raw.output_over:
        run.status, run.message = "crashed", (f"the learner process printed more than {limits.file_mb} MB "
                                              "(the file size limit applies to printed output too)")
        return run
    if raw.results_over:
        run.status, run.message = "crashed", f"the learner process returned more than {plain.MAX_BYTES // 2**20} MB"
        return run
    if not raw.results:
        run.status = "crashed"
        returncode = raw.returncode
        if returncode is None:
            run.status, run.message = "error", "the sandbox failed: no exit status"
        elif returncode < 0:
            run.message = _signal_message(returncode, limits)
        else:
            run.message = (f"the learner process ended (exit code {returncode}) before returning "
                           "results: does the graded code call sys.exit or os._exit, or exit at import?")
        if "MemoryError" in raw.output:
            run.message += f" (it ran out of memory: the limit is {limits.memory_mb} MB)"
        return run
    try:
        got = plain.unpack(raw.results)
        if not isinstance(got, dict) or got.get("nonce") != nonce:
            raise ValueError("results of another run")
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        run.status, run.message = "crashed", f"the learner process returned corrupt results ({exc})"
        return run
    run.setup_error = str(got.get("setup_error") or "")
    run.blocked_import = bool(got.get("blocked_import"))
    outcomes = got.get("outcomes")
    run.outcomes = outcomes if isinstance(outcomes, dict) else {}
    return run
