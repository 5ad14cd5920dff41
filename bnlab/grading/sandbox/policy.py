"""What a learner process may use, and what its run came to: the limits, and the outcome of one run.

:class:`Limits` are set by the learner process on itself before it reads any learner code. A run's
raw facts (:class:`Raw`: exit status, timeout, the bytes that came back) become a :class:`SandboxRun`
in :func:`outcome`, here in the grader. Whatever came back is untrusted: a result that is too big,
malformed or of another run is that run's "crashed" outcome with a message, never a grader failure;
"error" is kept for the sandbox itself failing (a rerun retries it).
"""
from __future__ import annotations

import signal
import sys
from dataclasses import dataclass, field

from bnlab.grading.sandbox import plain

OUTPUT_TAIL = 4000  # characters of learner output kept for the instructor
JAIL_EXTRA_MB = 128  # a jail's cap beyond memory_mb: its server (numpy imported), bwrap, small files in /tmp


@dataclass(frozen=True)
class Limits:
    """Limits of one learner process, and where it runs."""

    timeout: float = 10.0   # wall clock, seconds
    memory_mb: int = 1024   # address space of each process
    processes: int = 32     # processes/threads the learner may add (RLIMIT_NPROC)
    file_mb: int = 64       # largest file the learner may write, and most it may print
    open_files: int = 256
    jail: bool = False      # run in the bubblewrap jail (bnlab grade); False: the same server, no jail
    jail_memory_mb: int | None = None  # all of a jail's processes together (its cgroup, where one can be made);
    #                                    None: memory_mb + JAIL_EXTRA_MB

    def per_jail_mb(self) -> int:
        """The memory cap of one jail's cgroup, in MB."""
        return self.jail_memory_mb if self.jail_memory_mb is not None else self.memory_mb + JAIL_EXTRA_MB

    def per_jail_tasks(self) -> int:
        """The process/thread cap of one jail's cgroup: what the learner may add, the job, its server, bwrap."""
        return self.processes + 4


DEFAULT_LIMITS = Limits()  # the default of every ``limits`` argument (Limits is frozen, so sharing it is safe)


@dataclass
class SandboxRun:
    """What came back. ``status`` is "ok", "timeout", "crashed" or "error" (the sandbox failed to start).

    ``message`` may quote what the learner process did (an exit code, a parse error of its results);
    ``summary`` says the same in the grader's words only, for a run whose text no student may see.
    """

    status: str
    message: str = ""                         # why, when status is not "ok"
    summary: str = ""                         # why, in fixed words (hidden checks' runs)
    setup_error: str = ""                     # syntax error / exception while running the graded cells
    blocked_import: bool = False              # the learner code tried to import bnlab
    outcomes: dict = field(default_factory=dict)  # key -> worker outcome dict (plain data)
    stdout: str = ""                          # the learner's printed output (stdout and stderr, in order)
    seconds: float = 0.0
    isolation: str = ""                       # "jail", "process (throwaway uid)" or "process"
    shared_after: dict = field(default_factory=dict)  # key -> copy_check arguments read back by the grader


@dataclass
class Raw:
    """What a run produced, before it is judged."""

    returncode: int | None = None
    timed_out: bool = False
    error: str = ""               # the sandbox failed (not the learner)
    results: bytes | None = None
    output: str = ""
    output_over: bool = False
    results_over: bool = False
    ended_jail: bool = False      # the learner code killed the server that ran it
    oom_killed: bool = False      # the kernel killed a process of the job's jail at its cgroup's memory cap


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


def limit_args(limits: Limits, nproc: int | None) -> list[str]:
    """"NAME=soft[,hard]" limits the learner process sets on itself before it reads the job."""
    mb = 2**20
    cpu = int(limits.timeout) + 1
    args = [f"CPU={cpu},{cpu + 1}", f"AS={limits.memory_mb * mb}", f"FSIZE={limits.file_mb * mb}", "CORE=0",
            f"NOFILE={limits.open_files}"]
    return args + ([f"NPROC={nproc}"] if nproc is not None else [])


def environment(home: str) -> dict[str, str]:
    """The learner process's whole environment: minimal PATH, one BLAS/OpenMP thread, HOME and TMPDIR."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8", "MPLBACKEND": "Agg",
    }


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
    return "the learner process was killed by a signal"


def _read_results(data: bytes, nonce: bytes):
    """The results a run sent: the nonce first (checked before anything is unpacked), then plain data."""
    if not data.startswith(nonce):
        raise ValueError("results of another run (wrong nonce)")
    got = plain.unpack(memoryview(data)[len(nonce):])
    if not isinstance(got, dict):
        raise ValueError("results are not a record")
    return got


def outcome(raw: Raw, limits: Limits, nonce: bytes) -> SandboxRun:
    """Judge one run's raw facts (in the grader): its status, message and, when it ran, its results."""
    run = SandboxRun("ok", stdout=raw.output[-OUTPUT_TAIL:])

    def crashed(message: str, summary: str = "") -> SandboxRun:
        run.status, run.message, run.summary = "crashed", message, summary or message
        return run

    if raw.error:
        run.status, run.message = "error", f"the sandbox failed: {raw.error}"
        run.summary = "the sandbox failed"
        return run
    if raw.timed_out:
        run.status, run.message = "timeout", f"timed out after {limits.timeout:g} s (endless loop?)"
        run.summary = run.message
        return run
    if raw.oom_killed and not raw.results:
        return crashed(f"the learner process ran out of memory: the limit is {limits.per_jail_mb()} MB for all its "
                       "processes together (and its files in /tmp and /dev/shm), so the kernel killed one of them")
    if raw.ended_jail:
        return crashed("the learner code killed the server that ran it (in the jail, its jail), so its results "
                       "were not used")
    if raw.output_over:
        return crashed(f"the learner process printed more than {limits.file_mb} MB (the file size limit applies "
                       "to printed output too)")
    if raw.results_over:
        return crashed(f"the learner process returned more than {plain.MAX_BYTES // 2**20} MB")
    if not raw.results:
        returncode = raw.returncode
        if returncode is None:
            run.status, run.message, run.summary = "error", "the sandbox failed: no exit status", "the sandbox failed"
            return run
        memory = f" (it ran out of memory: the limit is {limits.memory_mb} MB)" if "MemoryError" in raw.output else ""
        if returncode < 0:
            message = _signal_message(returncode, limits)
            return crashed(message + memory, message)
        return crashed(f"the learner process ended (exit code {returncode}) before returning results: does the "
                       "graded code call sys.exit or os._exit, or exit at import?" + memory,
                       "the learner process ended before returning results")
    try:
        got = _read_results(raw.results, nonce)
    except Exception as exc:  # noqa: BLE001 - anything wrong with what came back is the learner process's doing
        return crashed(f"the learner process returned results the grader could not read ({exc})",
                       "the learner process returned results the grader could not read")
    run.setup_error = str(got.get("setup_error") or "")
    run.blocked_import = got.get("blocked_import") is True
    outcomes = got.get("outcomes")
    run.outcomes = outcomes if isinstance(outcomes, dict) else {}
    return run
