"""The arrays of ``copy_check`` calls in memory the grader owns, so that the grader itself sees what a job
did to them (the grader's side; the worker maps it in ``worker._shared_views``).

:func:`share` writes every numeric array argument of a copy_check call (in dicts, lists and tuples as
deep as ``engine.changed_arguments`` looks) into one sealed memfd (its size can no longer change) and
puts ``{"$shared": k}`` in its place in the call; the job gets the descriptor and the layout, and the
worker passes the learner views onto that memory (writeable numpy arrays). After the job has ended (in
the jail after the server killed every process in it, so no learner process can still write),
:func:`read_back` reads exactly the bytes it wrote, from its own descriptor: the arrays as the job left
them. A learner that changes an argument and puts the values back has left it unchanged, and passes.

Shared memory cannot see an argument rebound to a new array (a dict entry replaced): the worker's own
report of the arguments after the call (``inputs``) still covers that, and the learner can forge it.
Where ``os.memfd_create`` is missing (off Linux: ``bnlab check`` on a laptop) nothing is shared, and
"unchanged" rests on that forgeable report alone.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

ALIGN = 64
MAX_DEPTH = 5  # containers looked into, as in engine.changed_arguments


@dataclass
class Shared:
    """One job's shared memory: the descriptor, its size, and each array's (offset, dtype, shape)."""

    fd: int
    size: int
    places: list = field(default_factory=list)

    def layout(self) -> dict:
        """What the worker needs to map it (plain data for the job)."""
        return {"size": self.size, "arrays": [[off, dtype, list(shape)] for off, dtype, shape in self.places]}

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


def available() -> bool:
    return hasattr(os, "memfd_create")


def _is_ref(x) -> bool:
    return type(x) is dict and set(x) == {"$ref", "index"}


def _is_marker(x) -> bool:
    return type(x) is dict and set(x) == {"$shared"}


def _swap(value, arrays: list, depth: int = 0):
    """``value`` with its numeric, non-empty arrays replaced by markers (appended to ``arrays``)."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biufc" and value.size:
            arrays.append(value)
            return {"$shared": len(arrays) - 1}
        return value
    if _is_ref(value) or depth >= MAX_DEPTH:
        return value
    if type(value) in (tuple, list):
        return type(value)(_swap(v, arrays, depth + 1) for v in value)
    if type(value) is dict:
        return {k: _swap(v, arrays, depth + 1) for k, v in value.items()}
    return value


def _write(fd: int, arrays: list) -> list:
    places, offset = [], 0
    for a in arrays:
        data = np.ascontiguousarray(a).tobytes()
        view, at = memoryview(data), offset
        while view:
            n = os.pwrite(fd, view, at)
            view, at = view[n:], at + n
        places.append((offset, a.dtype.str, tuple(a.shape)))
        offset += -(-len(data) // ALIGN) * ALIGN
    return places


def share(calls: list[dict]) -> tuple[list[dict], Shared | None]:
    """New call dicts whose copy_check arrays are in shared memory, and that memory (None if nothing is shared:
    no such array, or no memfd here). ``calls`` themselves are not changed."""
    if not available() or not any(c.get("copy_check") for c in calls):
        return calls, None
    arrays: list = []
    swapped = [dict(c, args=_swap(c["args"], arrays, -1), kwargs=_swap(c["kwargs"], arrays, -1))
               if c.get("copy_check") else c for c in calls]
    if not arrays:
        return calls, None
    fd = os.memfd_create("bnlab-arguments", os.MFD_CLOEXEC | getattr(os, "MFD_ALLOW_SEALING", 0))
    try:
        places = _write(fd, arrays)
        size = max(1, sum(-(-a.nbytes // ALIGN) * ALIGN for a in arrays))
        os.ftruncate(fd, size)
        _seal(fd)
    except OSError:
        os.close(fd)
        return calls, None
    return swapped, Shared(fd, size, places)


def _seal(fd: int) -> None:
    """Forbid resizing the memory (a learner could otherwise shrink it under the grader's read)."""
    import fcntl

    seals = getattr(fcntl, "F_SEAL_SHRINK", 0) | getattr(fcntl, "F_SEAL_GROW", 0) | getattr(fcntl, "F_SEAL_SEAL", 0)
    if hasattr(fcntl, "F_ADD_SEALS") and seals:
        try:
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals)
        except OSError:
            pass  # (read_back reads a known size either way; a short read counts as changed)


def _read(shared: Shared, k: int) -> np.ndarray:
    """Array ``k`` as the memory holds it now; an empty array (never equal to what was sent) if cut short."""
    offset, dtype, shape = shared.places[k]
    nbytes = np.dtype(dtype).itemsize * int(np.prod(shape, dtype=np.int64))
    chunks, at = [], offset
    while at < offset + nbytes:
        chunk = os.pread(shared.fd, offset + nbytes - at, at)
        if not chunk:
            return np.zeros(0)
        chunks.append(chunk)
        at += len(chunk)
    return np.frombuffer(b"".join(chunks), dtype=dtype).reshape(shape)


def _mirror(value, shared: Shared):
    """``value``'s structure with each marker's array read back; None wherever nothing was shared."""
    if _is_marker(value):
        return _read(shared, value["$shared"])
    if _is_ref(value):
        return None
    if type(value) in (tuple, list):
        return [_mirror(v, shared) for v in value]
    if type(value) is dict:
        return {k: _mirror(v, shared) for k, v in value.items()}
    return None


def read_back(shared: Shared, calls: list[dict]) -> dict[str, dict]:
    """For each copy_check call's key, ``{"args": [...], "kwargs": {...}}``: its shared arrays as the job
    left them, None elsewhere (read by the grader, after the job; ``calls`` as :func:`share` returned)."""
    return {c["key"]: {"args": _mirror(list(c["args"]), shared), "kwargs": _mirror(dict(c["kwargs"]), shared)}
            for c in calls if c.get("copy_check")}
