"""The jail ``bnlab grade`` runs learner code in: bubblewrap (``bwrap``), the sandbox behind Flatpak.

A jail is ``bwrap [options] -- python -I -S /jail/runner/server.py --site /jail/site --jail-server FD``
(the server that forks one child per run: see server.py and sandbox.py), with:

- every namespace new (``--unshare-all``: user, PID, network, IPC, UTS, cgroup, mount), no
  capabilities, a new session, a cleared environment, and ``--die-with-parent``: when the grader
  ends the jail, its PID namespace ends, and with it every process the learner started;
- the server itself as the jail's PID 1 (``--as-pid-1``): not bwrap's own init, which runs as the
  learner's uid, can be traced by learner code and made to run anything for the jail's whole life;
  the server is undumpable (nothing of the same uid can trace it or read its memory) and reaps orphans.
  Where bwrap can, learner code may not make user namespaces of its own (``--disable-userns``);
- a root made of nothing but what the worker needs, read-only: the system's /usr (the C library),
  the Python runtime without its site-packages, numpy and its bundled libraries (/jail/site), the
  server, the worker and plain.py (/jail/runner); a new /proc; a read-only /dev, with the jail's own
  POSIX message queues at /dev/mqueue (so that the server sees any a job leaves); fresh size-capped
  tmpfs as /tmp (also the working directory and HOME) and /dev/shm, the only writable places: the root
  itself is remounted read-only once it is built. Not bnlab, not the instructor folder, not the
  submissions, not OUT, not any home directory. Anything to hide that lies inside a bound folder
  (a site-packages under /usr, the bnlab package) is covered by an empty tmpfs;
- as root: bwrap itself runs as a throwaway user id, so the process limit applies and nothing in
  the jail has root's identity even outside its namespaces;
- where the grader can make one, a cgroup of its own (:mod:`~bnlab.grading.sandbox.cgroup`) that caps
  the memory (no swap beyond it) and the tasks of all its processes together; bwrap waits (``--block-fd``)
  until it and its child (``--info-fd``) are in it. :func:`describe` says whether that cap holds.

When the runtime or numpy are not readable by that throwaway user (a Python under /root), they are
copied (hard-linked where possible) once per grading process into a world-readable staging folder.
bwrap reads its options from a pipe (``--args``), so learner code cannot read them in /proc/1/cmdline.
"""
from __future__ import annotations

import atexit
import os
import secrets
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

RUNNER = "/jail/runner"  # server.py, worker.py and plain.py
SITE = "/jail/site"      # numpy (and numpy.libs)
HOME = "/tmp"            # the learner's working directory, HOME and TMPDIR (a fresh tmpfs)
TMP_MB = 256             # size of that tmpfs (the file size limit caps each file)
SHM_MB = 64              # size of /dev/shm, the only other writable place (the root and /dev are read-only)
_HERE = Path(__file__).resolve().parent
INSTALL_HINT = ("install it with your package manager (Debian/Ubuntu: apt-get install bubblewrap; Fedora: "
                "dnf install bubblewrap; Arch: pacman -S bubblewrap)")


class JailUnavailable(RuntimeError):
    """bubblewrap cannot run here; the message says why and what to do."""


def bwrap_path() -> str | None:
    return shutil.which("bwrap") if sys.platform.startswith("linux") else None


def bwrap_version() -> str:
    path = bwrap_path()
    if not path:
        return ""
    try:
        return subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def throwaway_uid() -> int | None:
    """A fresh unused user id for one run when the grader is root; None otherwise."""
    if os.name != "posix" or os.geteuid() != 0:
        return None
    import pwd

    while True:
        uid = 100000 + secrets.randbelow(800000)
        try:
            pwd.getpwuid(uid)
        except KeyError:
            return uid


def _world_readable(path: Path) -> bool:
    """True if every folder above ``path`` is searchable by anyone and ``path`` (a tree) is readable."""
    path = path.resolve()
    for parent in path.parents:
        if not os.stat(parent).st_mode & 0o001:
            return False
    for folder, _dirs, files in os.walk(path):
        if os.stat(folder).st_mode & 0o005 != 0o005:
            return False
        if any(not os.stat(os.path.join(folder, f), follow_symlinks=False).st_mode & 0o004 for f in files):
            return False
    return True


def _public_tmp() -> str:
    """Where the staged runtime and worker go: the temporary folder if anyone may pass through it (the
    throwaway uid must reach them), else /tmp."""
    here = tempfile.gettempdir()
    if all(os.stat(p).st_mode & 0o001 for p in [here, *map(str, Path(here).resolve().parents)]):
        return here
    return "/tmp"


def _stage(src: Path, dst: Path, skip: frozenset = frozenset()) -> None:
    """Copy the tree ``src`` to ``dst`` (hard links where the file is world-readable), readable by anyone."""
    for folder, dirs, files in os.walk(src):
        rel = Path(folder).relative_to(src)
        dirs[:] = [d for d in dirs if d not in skip]
        (dst / rel).mkdir(parents=True, exist_ok=True)
        os.chmod(dst / rel, 0o755)
        for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            s, d = Path(folder) / name, dst / rel / name
            if s.is_symlink():
                os.symlink(os.readlink(s), d)
                continue
            mode = s.stat().st_mode
            try:
                if not mode & 0o004:
                    raise OSError
                os.link(s, d)
            except OSError:
                shutil.copy2(s, d)
                os.chmod(d, 0o755 if mode & 0o111 else 0o644)


@dataclass(frozen=True)
class Runtime:
    """What the jail binds: (host source, path in the jail) pairs, read-only, and the interpreter to run."""

    binds: tuple[tuple[str, str], ...]
    python: str
    prefix: str


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def _numpy_dirs() -> list[Path]:
    import numpy

    package = Path(numpy.__file__).resolve().parent
    libs = package.with_name("numpy.libs")  # the BLAS of a manylinux wheel
    return [package] + ([libs] if libs.is_dir() else [])


def _base_stdlib(prefix: Path) -> Path:
    return Path(sysconfig.get_paths(vars={"base": str(prefix), "platbase": str(prefix)})["stdlib"]).resolve()


_NOT_STAGED = frozenset({"site-packages", "dist-packages", "test", "idlelib", "tkinter", "turtledemo", "ensurepip",
                         "lib2to3"})


def runtime() -> Runtime:
    """The Python runtime and numpy as the jail sees them, staged once when the throwaway uid could not
    read them where they are."""
    global _runtime
    with _runtime_lock:
        if _runtime is not None:
            return _runtime
        python = Path(os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable))
        prefix = Path(sys.base_prefix).resolve()
        stdlib = _base_stdlib(prefix)
        as_root = os.geteuid() == 0  # bwrap then runs as a throwaway uid, which must read what it binds
        staging: list[Path] = []

        def staged(*parts: str) -> Path:
            if not staging:
                staging.append(Path(tempfile.mkdtemp(prefix="bnlab-jail-runtime-", dir=_public_tmp())))
                atexit.register(shutil.rmtree, staging[0], True)
                os.chmod(staging[0], 0o755)
            folder = staging[0].joinpath(*parts)
            for step in [folder, *folder.parents]:
                if step == staging[0]:
                    break
                step.mkdir(parents=True, exist_ok=True)
                os.chmod(step, 0o755)
            return folder

        binds: list[tuple[str, str]] = []
        if prefix != Path("/usr"):  # (a Python under /usr comes with /usr)
            if not (python.is_relative_to(prefix) and stdlib.is_relative_to(prefix)):
                raise JailUnavailable(f"unusual Python layout ({python} outside {prefix}); cannot build the jail")
            if as_root and not (_world_readable(python.parent) and _world_readable(stdlib)):
                _stage_file(python, staged("bin") / python.name)
                for lib in sorted((prefix / "lib").glob("libpython*")):
                    _stage_file(lib, staged("lib") / lib.name)
                _stage(stdlib, staged(*stdlib.relative_to(prefix).parts), _NOT_STAGED)
                binds.append((str(staging[0]), str(prefix)))
            else:
                binds.append((str(prefix), str(prefix)))
        for folder in _numpy_dirs():
            source = folder
            if as_root and not _world_readable(folder):
                source = staged("site") / folder.name
                _stage(folder, source)
            binds.append((str(source), f"{SITE}/{folder.name}"))
        _runtime = Runtime(tuple(binds), str(python), str(prefix))
        return _runtime


def _stage_file(src: Path, dst: Path) -> None:
    try:
        if not src.stat().st_mode & 0o004:
            raise OSError
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
        os.chmod(dst, 0o755)


_runner: str | None = None


def runner_dir() -> str:
    """A world-readable copy of server.py, worker.py and plain.py (the only grader code the jail sees)."""
    global _runner
    with _runtime_lock:
        if _runner is None:
            folder = tempfile.mkdtemp(prefix="bnlab-jail-runner-", dir=_public_tmp())
            atexit.register(shutil.rmtree, folder, True)
            for name in ("server.py", "worker.py", "plain.py"):
                shutil.copyfile(_HERE / name, os.path.join(folder, name))
                os.chmod(os.path.join(folder, name), 0o644)
            os.chmod(folder, 0o755)
            _runner = folder
        return _runner


def _system_binds() -> list[str]:
    """/usr read-only, and /bin, /lib... as the host has them (symlinks into /usr, or folders)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = f"/{name}"
        if os.path.islink(host):
            args += ["--symlink", os.readlink(host), host]
        elif os.path.isdir(host):
            args += ["--ro-bind", host, host]
    if os.path.isfile("/etc/ld.so.cache"):
        args += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    return args


def _masks(binds: list[tuple[str, str]], hide: list[str]) -> list[str]:
    """An empty, read-only tmpfs over each folder to hide that the jail would otherwise show (a site-packages
    of the system Python under /usr, bnlab itself, anything in ``hide``). Read-only, or at least tiny: a
    writable tmpfs with no size could take half the host's memory (where no cgroup caps the jail)."""
    import site

    stdlib = _base_stdlib(Path(sys.base_prefix).resolve())
    candidates = [*site.getsitepackages(), site.getusersitepackages(), str(_HERE.parents[2]), *hide,
                  str(stdlib / "site-packages"), str(stdlib / "dist-packages"), "/usr/lib/python3/dist-packages"]
    candidates += [p for p in sys.path if p and "-packages" in p]
    args = []
    for path in dict.fromkeys(os.path.realpath(p) for p in candidates if p):
        for source, dest in binds:
            if path == dest or path.startswith(dest.rstrip("/") + "/"):
                seen = source + path[len(dest):]  # that folder as the jail shows it
                if os.path.isdir(seen):
                    args += _read_only_tmpfs(path)
                break
    return args


def _read_only_tmpfs(path: str) -> list[str]:
    """bwrap options mounting an empty tmpfs at ``path``: remounted read-only, else (an older bwrap) one page."""
    if _supported("--remount-ro"):
        return ["--tmpfs", path, "--remount-ro", path]
    return ["--size", "4096", "--tmpfs", path]


_flags: frozenset[str] | None = None


def _supported(flag: str) -> bool:
    """True if the installed bwrap knows ``flag`` (from its --help, read once)."""
    global _flags
    if _flags is None:
        try:
            text = subprocess.run([bwrap_path() or "bwrap", "--help"], capture_output=True, text=True,
                                  timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            text = ""
        _flags = frozenset(word for word in text.split() if word.startswith("--"))
    return flag in _flags


def options(env: dict[str, str], hide: tuple[str, ...] = ()) -> list[str]:
    """bwrap's options (everything before the command): namespaces, environment, the read-only root."""
    rt = runtime()
    args = ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv"]
    if _supported("--as-pid-1"):  # the command is the jail's init (else bwrap's own init is: see above)
        args.append("--as-pid-1")
    if _supported("--disable-userns"):  # (bwrap 0.8) it needs the user namespace asked for, not just tried
        args += ["--unshare-user", "--disable-userns"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    args += _system_binds()
    for source, dest in rt.binds:
        args += ["--ro-bind", source, dest]
    args += ["--ro-bind", runner_dir(), RUNNER]
    args += _masks([("/usr", "/usr"), *rt.binds], list(hide))
    args += ["--proc", "/proc", "--dev", "/dev", "--mqueue", "/dev/mqueue", "--remount-ro", "/dev",
             "--size", str(SHM_MB * 2**20),
             "--tmpfs", "/dev/shm", "--size", str(TMP_MB * 2**20), "--tmpfs", HOME, "--chdir", HOME]
    return args + ["--remount-ro", "/"]  # last: the root bwrap built (a tmpfs) takes no file from here on


_probe: tuple[bool, str] | None = None


def probe() -> tuple[bool, str]:
    """(True, "") if a jailed Python can import numpy here, else (False, why); tried once per process."""
    global _probe
    if _probe is not None:
        return _probe
    if not sys.platform.startswith("linux"):
        _probe = (False, f"bubblewrap needs Linux (this is {sys.platform})")
        return _probe
    path = bwrap_path()
    if not path:
        _probe = (False, "bubblewrap (bwrap) is not installed; " + INSTALL_HINT)
        return _probe
    try:
        rt = runtime()
        argv = [rt.python, "-I", "-S", "-c", f"import sys; sys.path.insert(0, {SITE!r}); import numpy"]
        uid = throwaway_uid()
        args = options({"PATH": "/usr/bin:/bin"})
        r = subprocess.run([path, *args, "--", *argv], capture_output=True, text=True, timeout=60, cwd="/",
                           **_identity(uid))
        if r.returncode == 0:
            _probe = (True, "")
        else:
            why = (r.stderr.strip().splitlines() or [f"exit code {r.returncode}"])[-1]
            _probe = (False, f"bubblewrap cannot start a jail here ({why}); in a container, user namespaces "
                             "are often disabled (Docker: --security-opt seccomp=unconfined or a runtime that "
                             "allows them; sysctl user.max_user_namespaces / kernel.unprivileged_userns_clone)")
    except (OSError, subprocess.SubprocessError, JailUnavailable) as exc:
        _probe = (False, f"bubblewrap cannot start a jail here: {exc}")
    return _probe


def _identity(uid: int | None) -> dict:
    """subprocess keyword arguments that run bwrap as ``uid`` (no supplementary groups), or as this user."""
    return {} if uid is None else {"user": uid, "group": uid, "extra_groups": []}


def describe(limits=None) -> str:
    """One line for reports: which isolation learner code gets, and how its memory is capped (``limits``:
    a :class:`~bnlab.grading.sandbox.policy.Limits`, the defaults if None)."""
    ok, why = probe()
    if not ok:
        return f"no jail ({why})"
    who = "a throwaway user id" if os.name == "posix" and os.geteuid() == 0 else "the grader's user id"
    return (f"bubblewrap jail ({bwrap_version() or 'bwrap'}; no network, read-only runtime, as {who}; "
            f"{memory_cap(limits)})")


def memory_cap(limits=None) -> str:
    """How a jail's memory is capped: per jail (its cgroup) or, where no cgroup can be made, per process."""
    from bnlab.grading.sandbox import cgroup
    from bnlab.grading.sandbox.policy import DEFAULT_LIMITS

    limits = limits or DEFAULT_LIMITS
    kind, why = cgroup.probe()
    if kind:
        return f"memory: {limits.per_jail_mb()} MB per jail ({kind}), {limits.memory_mb} MB per process"
    return (f"memory: {limits.memory_mb} MB per process, up to {limits.processes + 1} processes "
            f"(no cgroup could be made here: {why})")
