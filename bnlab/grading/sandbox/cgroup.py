"""A cgroup per jail: one memory cap (no swap beyond it) and one process cap for everything in the jail.

The per-process limits (RLIMIT_AS, RLIMIT_NPROC) alone let a job hold ``processes`` times ``memory_mb``;
the kernel's cgroups bound the whole jail. The grader makes one child of its own cgroup per jail, puts
bwrap's processes in before the server starts (so every job it forks is inside), and removes it with
the jail. cgroup v2 (memory.max, memory.swap.max, pids.max, cgroup.kill) and v1 (memory.limit_in_bytes,
memory.memsw.limit_in_bytes, a separate pids hierarchy) are both handled. Where none can be made (not
root, no memory controller, a cgroup that cannot delegate), :class:`CgroupUnavailable` says why and the
jail runs with the per-process limits only: :func:`probe` reports which, for the isolation's description.
"""
from __future__ import annotations

import os
import secrets
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PREFIX = "bnlab-jail-"
_mkdir, _rmdir = os.mkdir, os.rmdir  # (a test's fake cgroupfs replaces them)


class CgroupUnavailable(RuntimeError):
    """No cgroup can be made for a jail here; the message says why."""


@dataclass(frozen=True)
class Layout:
    """Where this process's cgroups are: ``version`` 2 (``memory`` is the v2 cgroup) or 1 (``pids`` may be
    None: no pids hierarchy)."""

    version: int
    memory: Path
    pids: Path | None = None


def _mounts(mountinfo: str) -> dict[str, tuple[str, str]]:
    """{"cgroup2" or a v1 controller: (mount root, mount point)} from /proc/self/mountinfo text."""
    found: dict[str, tuple[str, str]] = {}
    for line in mountinfo.splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        tail = fields[fields.index("-") + 1:]
        if len(tail) < 3:
            continue
        root, point = fields[3], fields[4].encode().decode("unicode_escape")
        if tail[0] == "cgroup2":
            found.setdefault("cgroup2", (root, point))
        elif tail[0] == "cgroup":
            for option in tail[2].split(","):
                found.setdefault(option, (root, point))
    return found


def _own(cgroups: str) -> dict[str, str]:
    """{"" (v2) or a v1 controller: this process's cgroup path} from /proc/self/cgroup text."""
    found = {}
    for line in cgroups.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for name in parts[1].split(",") if parts[1] else [""]:
                found[name] = parts[2]
    return found


def _folder(mount: tuple[str, str], path: str) -> Path:
    root, point = mount
    rel = path[len(root):] if root != "/" and path.startswith(root) else path
    return Path(point) / rel.lstrip("/")


def layout(mountinfo: str, cgroups: str) -> Layout:
    """This process's cgroup folders: v2 when it has the memory controller, else v1's memory (and pids)."""
    mounts, own = _mounts(mountinfo), _own(cgroups)
    if "cgroup2" in mounts and "" in own:
        folder = _folder(mounts["cgroup2"], own[""])
        if "memory" in _read(folder / "cgroup.controllers").split():
            return Layout(2, folder)
    if "memory" in mounts and "memory" in own:
        pids = _folder(mounts["pids"], own["pids"]) if "pids" in mounts and "pids" in own else None
        return Layout(1, _folder(mounts["memory"], own["memory"]), pids)
    raise CgroupUnavailable("no cgroup memory controller is mounted" if "cgroup2" not in mounts else
                            "the memory controller is not available to this process's cgroup")


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _field(text: str, key: str) -> int:
    """The number after ``key`` in a "key value" cgroup file (memory.events, memory.oom_control); 0 if none."""
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    return 0


class JailCgroup:
    """One jail's cgroup (v2: one folder; v1: one in the memory hierarchy and one in pids, when mounted)."""

    def __init__(self, where: Layout, memory_mb: int, pids: int):
        self.version, self.memory_mb, self.folders = where.version, memory_mb, []
        self._oom_kills, self._peak_mb = 0, None
        self._removing = threading.Lock()  # a reader thread over its limit and the grader may both remove it
        name = PREFIX + secrets.token_hex(6)
        try:
            if where.version == 2:
                self._v2(where.memory, name, pids)
            else:
                self._v1(where, name, pids)
        except OSError as exc:
            self.remove()
            raise CgroupUnavailable(f"cannot make a cgroup in {where.memory}: {exc.strerror or exc}") from exc
        self.swap_capped = self.version == 2 or (self.folders[0] / "memory.memsw.limit_in_bytes").exists()

    def _make(self, parent: Path, name: str) -> Path:
        folder = parent / name
        _mkdir(folder)
        self.folders.append(folder)
        return folder

    def _v2(self, parent: Path, name: str, pids: int) -> None:
        wanted = [c for c in ("memory", "pids") if c in _read(parent / "cgroup.controllers").split()]
        missing = [c for c in wanted if c not in _read(parent / "cgroup.subtree_control").split()]
        if missing:  # refused (EBUSY) when the grader's own cgroup holds processes and is not the root
            _write(parent / "cgroup.subtree_control", " ".join("+" + c for c in missing))
        folder = self._make(parent, name)
        _write(folder / "memory.max", str(self.memory_mb * 2**20))
        if (folder / "memory.swap.max").exists():
            _write(folder / "memory.swap.max", "0")
        if "pids" in wanted:
            _write(folder / "pids.max", str(pids))

    def _v1(self, where: Layout, name: str, pids: int) -> None:
        folder = self._make(where.memory, name)
        _write(folder / "memory.limit_in_bytes", str(self.memory_mb * 2**20))
        if (folder / "memory.memsw.limit_in_bytes").exists():  # memory+swap (set after memory alone)
            _write(folder / "memory.memsw.limit_in_bytes", str(self.memory_mb * 2**20))
        elif (folder / "memory.swappiness").exists():
            _write(folder / "memory.swappiness", "0")
        if where.pids is not None:
            _write(self._make(where.pids, name) / "pids.max", str(pids))

    def add(self, pid: int) -> None:
        """Move the process ``pid`` (not its existing children) into this cgroup, in every hierarchy."""
        for folder in self.folders:
            _write(folder / "cgroup.procs", str(pid))

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer has killed in this cgroup so far (or until removed)."""
        if not self.folders:
            return self._oom_kills
        if self.version == 2:
            return _field(_read(self.folders[0] / "memory.events"), "oom_kill")
        return _field(_read(self.folders[0] / "memory.oom_control"), "oom_kill")

    def peak_mb(self) -> float | None:
        """The most memory this cgroup has held, in MB (or until removed; None where the kernel does not say)."""
        if not self.folders:
            return self._peak_mb
        text = _read(self.folders[0] / ("memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"))
        return int(text) / 2**20 if text.strip().isdigit() else None

    def remove(self, wait: float = 5.0) -> bool:
        """Kill everything still in it and remove it; False if it could not be removed within ``wait`` s."""
        with self._removing:
            return self._remove(time.monotonic() + wait)

    def _remove(self, deadline: float) -> bool:
        if self.folders:
            self._oom_kills, self._peak_mb = self.oom_kills(), self.peak_mb()
        while self.folders:
            folder = self.folders[-1]
            if (folder / "cgroup.kill").exists():
                _write(folder / "cgroup.kill", "1")
            for pid in _read(folder / "cgroup.procs").split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (OSError, ValueError):
                    pass
            try:
                _rmdir(folder)
                self.folders.pop()
            except FileNotFoundError:
                self.folders.pop()
            except OSError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.01)
        return True


def _proc_text(name: str) -> str:
    try:
        return Path(f"/proc/self/{name}").read_text()
    except OSError:
        return ""


def make(memory_mb: int, pids: int) -> JailCgroup:
    """A new cgroup for one jail, a child of this process's own; :class:`CgroupUnavailable` if none can be."""
    if os.name != "posix" or not os.path.isdir("/proc/self"):
        raise CgroupUnavailable("this system has no cgroups")
    if os.geteuid() != 0:
        raise CgroupUnavailable("the grader is not root")
    return JailCgroup(layout(_proc_text("mountinfo"), _proc_text("cgroup")), memory_mb, pids)


_probe: tuple[str, str] | None = None


def probe() -> tuple[str, str]:
    """("cgroup v1" or "cgroup v2", "") if a jail's cgroup can be made here, else ("", why); tried once."""
    global _probe
    if _probe is None:
        try:
            group = make(64, 8)
        except CgroupUnavailable as exc:
            _probe = ("", str(exc))
        else:
            group.remove()
            _probe = (f"cgroup v{group.version}" + ("" if group.swap_capped else ", swap not capped"), "")
    return _probe
