"""Run learner code in a separate, limited process and bring back plain data (the grader's client).

Every run (:func:`run_learner`: one notebook's graded cells, then a list of calls) goes to the one server
of :mod:`~bnlab.grading.sandbox.server`, which forks a fresh child per job, over one protocol: a socket
pair carries a JSON request with three descriptors this process opened (the job's pipe, the results'
pipe, the output's pipe, and the shared memory holding copy_check calls' arrays, :mod:`.shared`); results
and output are read with a size cap; the replies are the child's pid,
then its exit status and whether the server must retire. The server runs

- with ``Limits(jail=True)`` (``bnlab grade``, Gradescope when it can) inside a bubblewrap jail
  (:mod:`bnlab.grading.sandbox.jail`): no network, no host files but a read-only runtime, a read-only
  root, its own PID namespace and session keyring, a size-capped tmpfs as /tmp and /dev/shm; as root,
  a throwaway user id and, where one can be made, a cgroup capping the whole jail's memory and tasks.
  After each job every other process in the jail is killed; a job that left anything behind retires
  its jail (the next gets a new one);
- otherwise (``--no-jail``, ``bnlab check``) as the same server without bwrap around it: each job in
  a fresh working directory in a root-owned folder, as root as a throwaway uid whose every process is
  killed after the job.

A server serves the notebooks of one student at most (:func:`jail_session`), never the next student, and
a run given hidden inputs (``run_learner(..., hidden=True)``) never shares a server with a run whose text
a student sees: whatever a hidden run leaves in its jail (an mtime, an xattr, the PID counter) reaches
other hidden runs of that student only.
Every learner process gets a scrubbed environment (minimal PATH, one BLAS/OpenMP thread), its own
session, the wall-clock timeout, and limits it sets on itself before it reads any learner code:
CPU time, address space, processes, file size, open files, no core dumps (where the system has them).
Where forking a process that loaded numpy is unsafe (off Linux, or ``BNLAB_SANDBOX=exec``), each run
is instead a fresh ``python -I worker.py`` on pipes, with the same limits (``bnlab check`` on a laptop).
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from bnlab.grading.sandbox import plain, shared
from bnlab.grading.sandbox.files import remove_tree, workdir
from bnlab.grading.sandbox.policy import (DEFAULT_LIMITS, OUTPUT_TAIL, Limits, Raw, SandboxRun, environment, limit_args,
                                          limits_in_effect, outcome)

__all__ = ["Limits", "SandboxRun", "isolation_of", "jail_session", "limits_in_effect", "prestart", "remove_tree",
           "run_learner"]

WORKER = Path(__file__).with_name("worker.py")  # the learner side; alone on pipes in exec mode
SERVER = Path(__file__).with_name("server.py")
POSIX = os.name == "posix"


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


class _Server:
    """One ``server.py``: in a bubblewrap jail (``jailed``) or the same server as a plain process.

    Numpy is imported once per server; one job at a time. A server is retired (killed with everything in
    it) after a timeout, after too much output, or when it says the job left anything behind.
    """

    def __init__(self, jailed: bool, limits: Limits = DEFAULT_LIMITS, hidden: bool = False):
        import socket

        from bnlab.grading.sandbox import jail

        self.jailed, self.proc, self.error, self.cgroup = jailed, None, "", None
        self.hidden = hidden  # it serves runs with hidden inputs only (else runs without only)
        if jailed:
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
        fds = [theirs.fileno()]
        gate = None
        if jailed:
            self.cgroup = _jail_cgroup(limits)
            if self.cgroup is not None:  # bwrap says its child's pid, then waits until both are in the cgroup
                info_r, info_w = os.pipe()
                block_r, block_w = os.pipe()
                options = [*options, "--info-fd", str(info_w), "--block-fd", str(block_r)]
                fds += [info_w, block_r]
                gate = (info_r, block_w)
            # bwrap reads its options from a pipe, not its command line, which learner code could read in
            # /proc/1/cmdline (only the command below shows there).
            args_r, args_w = os.pipe()
            os.write(args_w, b"\0".join(a.encode() for a in options) + b"\0")  # a few KiB: a pipe holds 64
            os.close(args_w)
            fds.append(args_r)
            argv = [bwrap, "--args", str(args_r), "--", rt.python, "-I", "-S", f"{jail.RUNNER}/server.py",
                    "--site", jail.SITE, "--jail-server", str(theirs.fileno())]
            identity = jail._identity(jail.throwaway_uid())
        else:
            argv, identity = [sys.executable, "-I", str(SERVER), "--server", str(theirs.fileno())], {}
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE, cwd="/", env={"PATH": "/usr/bin:/bin"},
                                         close_fds=True, pass_fds=fds, start_new_session=True, **identity)
        except (OSError, subprocess.SubprocessError) as exc:
            self.error = f"could not start {'bubblewrap' if jailed else 'the learner server'}: {exc}"
            self._drop_cgroup()
            return
        finally:
            for fd in fds[1:]:
                os.close(fd)
            theirs.close()
            if gate and self.proc is None:
                for fd in gate:
                    os.close(fd)
        if gate and not self._enter_cgroup(*gate):
            return
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
            self.error = (f"bubblewrap could not start the jail: {why}" if jailed
                          else f"the learner server did not start: {why}")

    def _enter_cgroup(self, info_r: int, block_w: int) -> bool:
        """Put bwrap and its child (the jail, waiting on --block-fd) into the jail's cgroup, then let it go on."""
        import select

        try:
            info = b""
            while select.select([info_r], [], [], 120)[0]:
                chunk = os.read(info_r, 4096)
                if not chunk:
                    break
                info += chunk
            child = json.loads(info or b"{}").get("child-pid")  # none: bwrap failed, as its stderr says
            if isinstance(child, int):
                self.cgroup.add(self.proc.pid)
                self.cgroup.add(child)
                os.write(block_w, b"x")
            return True
        except (OSError, ValueError, AttributeError) as exc:
            self.kill()
            self.error = f"could not put the jail into its cgroup: {exc}"
            return False
        finally:
            os.close(info_r)
            os.close(block_w)

    def _drop_cgroup(self) -> None:
        if self.cgroup is not None:
            self.cgroup.remove()

    def kill(self) -> None:
        if self.proc is not None:
            try:
                self.proc.kill()  # --die-with-parent: the jail's PID namespace, and all in it, ends too
            except OSError:
                pass
            self.proc.wait()
        self._drop_cgroup()  # (what is still in it is killed first)
        try:
            self.sock.close()
        except (OSError, AttributeError):
            pass

    def run(self, job: bytes, limits: Limits, shared_fd: int | None = None) -> tuple[Raw, bool]:
        """Run one job (with the shared memory ``shared_fd``, if any); (what came back, whether this server
        may take another job)."""
        import socket

        uid = None if self.jailed else _free_uid()
        home = "/tmp" if self.jailed else workdir(uid)
        nproc = limits.processes + 3 if self.jailed or uid is not None else _nproc(limits)
        kills = self.cgroup.oom_kills() if self.cgroup else 0
        try:
            raw, reusable = self._run(job, limits, {"env": environment(home), "limits": limit_args(limits, nproc),
                                                    "cwd": home, "uid": uid}, socket, shared_fd)
            raw.oom_killed = self.cgroup is not None and self.cgroup.oom_kills() > kills
            return raw, reusable
        finally:
            if not self.jailed:
                remove_tree(home)

    def _run(self, job: bytes, limits: Limits, request: dict, socket, shared_fd: int | None) -> tuple[Raw, bool]:
        raw = Raw()
        job_r, job_w = os.pipe()
        results_r, results_w = os.pipe()
        output_r, output_w = os.pipe()
        try:
            socket.send_fds(self.sock, [json.dumps(request).encode()],
                            [job_r, results_w, output_w] + ([shared_fd] if shared_fd is not None else []))
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
        reply, pid = None, None
        try:
            self.sock.settimeout(30)
            started = json.loads(self.sock.recv(4096) or b"null")
            pid = started.get("pid") if isinstance(started, dict) else None
            self.sock.settimeout(limits.timeout)
            message = self.sock.recv(4096) if isinstance(pid, int) else b""
            reply = json.loads(message) if message else None
            if not isinstance(reply, dict) or not isinstance(reply.get("exit"), int):
                reply = None
        except socket.timeout:
            raw.timed_out = isinstance(pid, int)
        except (OSError, ValueError):
            pass
        if reply is None:
            self.kill()  # timed out, too much output, or the server was killed by the job
            if not self.jailed and isinstance(pid, int) and pid > 1:  # (in the jail its PID namespace ends)
                try:
                    os.killpg(pid, signal.SIGKILL)  # the job's own session
                except OSError:
                    pass
            if request["uid"] is not None:
                _kill_uid(request["uid"])
        for reader in (results, output):
            reader.join(timeout=10)
        raw.output = output.text()
        raw.results_over, raw.output_over = results.over, output.over
        raw.results = bytes(results.data) if not results.over else None
        if reply is None:
            if not raw.timed_out and not over.is_set():  # the job killed its server, its parent:
                raw.ended_jail, raw.results = True, None  # whatever it sent may be cut short, and is refused
            return raw, False
        raw.returncode = reply["exit"]
        return raw, not reply.get("retire")


_session = threading.local()  # .servers: the idle servers of this thread's jail_session, if one is open
_spare: list[_Server] = []    # a no-jail server started early (prestart), for the first run outside a session
_spare_lock = threading.Lock()
_starting: list[threading.Thread] = []


@contextlib.contextmanager
def jail_session():
    """Runs of this thread inside the block may share one server (one jail); it ends with the block.

    One block per student (``bnlab grade``): a jail serves one student's notebooks at most, so nothing
    a learner leaves in a jail (a process, a message queue, a key) can reach another student. Within the
    block hidden runs and public runs have servers of their own (``_Server.hidden``): nothing a hidden run
    leaves reaches a public run. Outside a block every run gets a server of its own.
    """
    if getattr(_session, "servers", None) is not None:  # already in one: it goes on
        yield
        return
    _session.servers = []
    try:
        yield
    finally:
        servers, _session.servers = _session.servers, None
        for server in servers:
            server.kill()


def _served(job: bytes, limits: Limits, hidden: bool = False, shared_fd: int | None = None) -> Raw:
    """One job on this session's idle server of the right kind (jailed or not, for hidden runs or not; a new
    one if none); the server goes back only if the job left it clean. A server that was idle and no longer
    takes jobs is replaced once. A hidden run never takes a public run's server, nor the prestarted one."""
    idle = getattr(_session, "servers", None)
    server = next((s for s in idle or () if s.jailed == limits.jail and s.hidden == hidden), None)
    if server is not None:
        idle.remove(server)
    elif not limits.jail and not hidden:
        for starting in list(_starting):  # a server prestart is still starting: wait for it, not a second one
            starting.join()
        with _spare_lock:
            server = _spare.pop() if _spare else None
    for _ in range(2):
        if server is None:
            server = _Server(limits.jail, limits, hidden)
            if server.error:
                return Raw(error=server.error)
        raw, reusable = server.run(job, limits, shared_fd)
        if reusable and idle is not None:
            idle.append(server)
            return raw
        server.kill()
        if not raw.error.startswith("the jail did not take the job"):
            return raw
        server = None
    return raw


def prestart() -> None:
    """Start a server now, so that it imports numpy while the caller loads its checks (bnlab check)."""
    if _mode() == "server":
        def start():
            server = _Server(False)
            if not server.error:
                with _spare_lock:
                    _spare.append(server)
        thread = threading.Thread(target=start, daemon=True)
        _starting.append(thread)
        thread.start()


def _jail_cgroup(limits: Limits):
    """A new cgroup capping the whole jail (memory, no swap, tasks), or None where none can be made here
    (:func:`bnlab.grading.sandbox.jail.describe` says so)."""
    from bnlab.grading.sandbox import cgroup

    try:
        return cgroup.make(limits.per_jail_mb(), limits.per_jail_tasks())
    except cgroup.CgroupUnavailable:
        return None


# --- without the jail: a throwaway uid as root ------------------------------------------------------

def _kill_uid(uid: int) -> None:
    """SIGKILL every process of the throwaway ``uid`` at once (a child that becomes it and kills -1)."""
    try:
        subprocess.run([sys.executable, "-I", "-S", "-c", "import os, signal\ntry:\n os.kill(-1, signal.SIGKILL)\n"
                        "except OSError:\n pass"], user=uid, group=uid, extra_groups=[], cwd="/", timeout=30,
                       env={"PATH": "/usr/bin:/bin"}, capture_output=True)
    except (OSError, subprocess.SubprocessError):
        pass


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
    """"server" (the one server; Linux) or "exec" (a new interpreter per run: other systems, where forking
    a process that loaded numpy is unsafe, or BNLAB_SANDBOX=exec)."""
    chosen = os.environ.get("BNLAB_SANDBOX")
    if chosen == "exec" or not sys.platform.startswith("linux"):
        return "exec"
    return "server"


def _use_uid() -> bool:
    """Without the jail, switch learner processes to a throwaway uid: when root and possible, unless
    BNLAB_SANDBOX_NO_UID=1. In exec mode the interpreter starts as that uid, so it must be able to read it."""
    if not POSIX or os.geteuid() != 0 or os.environ.get("BNLAB_SANDBOX_NO_UID") == "1":
        return False
    if not _can_setuid():
        return False
    if _mode() == "exec":
        from bnlab.grading.sandbox import jail
        return jail._world_readable(Path(sys.executable).resolve().parent)
    return True


def _free_uid() -> int | None:
    """A throwaway uid for a run without the jail, or None (not root, or it cannot be used here)."""
    if not _use_uid():
        return None
    from bnlab.grading.sandbox.jail import throwaway_uid
    return throwaway_uid()


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


# --- exec mode: a new interpreter per run, on pipes (only where the server cannot fork) ---------------

def _run_exec(job: bytes, limits: Limits, shared_fd: int | None = None) -> tuple[Raw, int | None]:
    """``python -I worker.py LIMITS``: job on stdin, results on stdout, output on stderr, the shared memory
    ``shared_fd`` inherited under its number (the job names it); the wall clock."""
    uid = _free_uid()
    home = workdir(uid)
    nproc = limits.processes if uid is not None else _nproc(limits)
    raw = Raw()
    extra: dict = ({"start_new_session": True} if POSIX
                   else {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)})  # (Windows)
    if uid is not None:
        extra.update(user=uid, group=uid, extra_groups=[])
    env = environment(home)
    if os.name == "nt":  # Windows cannot start Python (or load numpy's DLLs) without these
        env.update({k: os.environ[k] for k in ("SYSTEMROOT", "WINDIR", "PATH", "TEMP", "TMP") if k in os.environ})
        env["TEMP"] = env["TMP"] = env["TMPDIR"] = home
    try:
        proc = subprocess.Popen([sys.executable, "-I", str(WORKER), *limit_args(limits, nproc)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=home, env=env, close_fds=True,
                                pass_fds=(shared_fd,) if shared_fd is not None else (), **extra)
    except (OSError, subprocess.SubprocessError) as exc:
        remove_tree(home)
        return Raw(error=f"could not start the learner process: {exc}"), uid

    def kill():
        try:
            proc.kill()
            if POSIX:
                os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass

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
    kill()  # and leftovers of a finished run that stayed in its session
    proc.wait()
    if uid is not None:
        _kill_uid(uid)
    for reader in (results, output):
        reader.join(timeout=5)
    remove_tree(home)
    raw.returncode = proc.returncode
    raw.results = bytes(results.data) if not results.over else None
    raw.results_over, raw.output_over = results.over, output.over
    raw.output = output.text()
    return raw, uid


def isolation_of(limits: Limits) -> str:
    if limits.jail:
        return "jail"
    return "process (throwaway uid)" if _use_uid() else "process"


def run_learner(cells: list[tuple[str, int, str]], calls: list[dict], limits: Limits = DEFAULT_LIMITS,
                hidden: bool = False) -> SandboxRun:
    """Run ``cells`` (name, cell index, source) then ``calls`` (worker call dicts) in a new learner process.

    ``hidden``: the calls hold hidden inputs; the run never shares a server (a jail) with a run that is not.
    The arrays of copy_check calls go in shared memory (where there is a memfd); ``run.shared_after`` holds
    them as this process read them back once the job had ended (:func:`shared.read_back`).
    """
    nonce = secrets.token_hex(16)
    calls, memory = shared.share(calls)
    try:
        fd = memory.fd if memory else None
        job = plain.pack({"nonce": nonce, "cells": [list(c) for c in cells], "calls": calls,
                          "memory_mb": limits.memory_mb, "shared": memory.layout() if memory else None,
                          "shared_fd": fd})
        start = time.monotonic()
        if limits.jail or _mode() == "server":
            raw = _served(job, limits, hidden, fd)
        else:
            raw, _ = _run_exec(job, limits, fd)
        run = outcome(raw, limits, nonce.encode())
        if memory is not None and run.status == "ok":  # every process of the job has ended: none still writes
            run.shared_after = shared.read_back(memory, calls)
    finally:
        if memory is not None:
            memory.close()
    run.seconds, run.isolation = time.monotonic() - start, isolation_of(limits)
    return run
