"""Plain data: what may cross between the learner's process and the grader.

A learner's result is turned into plain data in the learner's process (:func:`to_plain`), packed
into bytes (:func:`pack`), and unpacked in the grader (:func:`unpack`). Plain data is:

- numpy arrays of a numeric dtype (bool, int, uint, float, complex), always base ``np.ndarray``;
- ``None``, bool, int, float, str;
- tuples, lists and dicts with str keys of plain data;
- :class:`Foreign`: the description of anything else ("object of type Foo"), so a check can say
  "expected a numpy array, found object of type Foo" instead of trusting a foreign object.

The byte format is a JSON header followed by raw array buffers; arrays are rebuilt with
``np.frombuffer`` from a whitelisted dtype. Nothing is ever pickled, so unpacking cannot run code.

This module imports only the standard library and numpy: the sandbox worker loads it by file path
without importing ``bnlab`` (which would put the reference implementation in the learner's process).
"""
from __future__ import annotations

import json
import math
import struct

import numpy as np

MAX_DEPTH = 32
MAX_ITEMS = 200_000       # containers and scalars in one value (arrays count as one)
MAX_BYTES = 256 * 2**20   # refuse to unpack more than this (a hostile results file)
MAX_HEADER = 8 * 2**20    # ... or a JSON header longer than this
MAX_NODES = 2 * MAX_ITEMS + 1000  # entries in one header (a packed value has at most about MAX_ITEMS)
MAX_ARRAYS = 20_000       # arrays in one packed value
_MAGIC = b"BNLABPLAIN1\n"
# Taken at import, before any learner code runs in the worker: a learner that replaces ``np.array`` (or
# ``np.asarray``...) cannot change how its values are copied out (numpy's types themselves are immutable).
_array, _asarray, _contiguous = np.array, np.asarray, np.ascontiguousarray
_NUMERIC_KINDS = "biufc"


class Foreign:
    """Stands for a value that is not plain data; only its description crossed the boundary."""

    __slots__ = ("description",)

    def __init__(self, description: str):
        self.description = str(description)

    def __repr__(self) -> str:
        return f"<{self.description}>"

    __str__ = __repr__

    def __eq__(self, other) -> bool:  # equal only to the same description, never to data
        return isinstance(other, Foreign) and other.description == self.description

    __hash__ = None  # type: ignore[assignment]


def describe(value) -> str:
    """A short, deterministic description of a value's type for messages ("numpy array (3, 4) float64")."""
    if isinstance(value, Foreign):
        return value.description
    if isinstance(value, np.ndarray):
        return f"numpy array of shape {value.shape} and dtype {value.dtype}"
    if value is None:
        return "None"
    if isinstance(value, (tuple, list)):
        return f"{type(value).__name__} of length {len(value)}"
    return f"{type(value).__name__}"


def to_plain(value, depth: int = 0, budget: list | None = None):
    """Convert a learner's value to plain data (runs in the learner's process).

    ndarray subclasses become base arrays; numpy scalars become Python numbers; tuple/list/dict
    subclasses become the base container; anything else becomes a :class:`Foreign`, and so does a
    structure nested too deeply or with too many items.
    """
    budget = [MAX_ITEMS] if budget is None else budget
    budget[0] -= 1
    if depth > MAX_DEPTH:
        return Foreign("a structure nested too deeply")
    if budget[0] < 0:
        return Foreign(f"a structure with more than {MAX_ITEMS} items")
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, np.ndarray):
        base = np.ndarray.view(value, np.ndarray)
        if base.dtype.kind not in _NUMERIC_KINDS or base.dtype.fields is not None:
            return Foreign(f"numpy array of dtype {base.dtype} (expected numbers)")
        return _array(base, dtype=base.dtype.newbyteorder("="), copy=True, order="C")
    if isinstance(value, np.generic):
        if value.dtype.kind not in _NUMERIC_KINDS:
            return Foreign(f"numpy scalar of dtype {value.dtype}")
        return to_plain(_asarray(value).item(), depth + 1, budget) if value.dtype.kind != "c" else complex(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int.__index__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, (tuple, list, dict)) and (
            tuple.__len__ if isinstance(value, tuple) else
            list.__len__ if isinstance(value, list) else dict.__len__)(value) > budget[0]:
        return Foreign(f"a structure with more than {MAX_ITEMS} items")
    if isinstance(value, tuple):
        return tuple(to_plain(item, depth + 1, budget) for item in tuple.__iter__(value))
    if isinstance(value, list):
        return [to_plain(item, depth + 1, budget) for item in list.__iter__(value)]
    if isinstance(value, dict):
        keys = list(dict.keys(value))
        if not all(type(k) is str for k in keys):
            return Foreign("dict with keys that are not strings")
        return {k: to_plain(dict.__getitem__(value, k), depth + 1, budget) for k in keys}
    return Foreign(f"object of type {type(value).__name__}")


# --- bytes ---------------------------------------------------------------------------------------

def pack(value) -> bytes:
    """Plain data -> bytes: magic, header length, JSON header, then the raw array buffers."""
    buffers: list[bytes] = []
    offset = [0]

    def node(v, depth=0):
        if depth > MAX_DEPTH:
            return {"foreign": "a structure nested too deeply"}
        if isinstance(v, Foreign):
            return {"foreign": v.description}
        if v is None or type(v) in (bool, int, str):
            return {"v": v}
        if type(v) is float:
            return {"f": repr(v)} if not math.isfinite(v) else {"v": v}
        if type(v) is complex:
            return {"c": [repr(v.real), repr(v.imag)]}
        if isinstance(v, np.ndarray):
            data = _contiguous(v).tobytes()
            entry = {"array": v.dtype.str, "shape": list(v.shape), "offset": offset[0], "nbytes": len(data)}
            buffers.append(data)
            offset[0] += len(data)
            return entry
        if type(v) is tuple:
            return {"tuple": [node(x, depth + 1) for x in v]}
        if type(v) is list:
            return {"list": [node(x, depth + 1) for x in v]}
        if type(v) is dict:
            return {"dict": [[k, node(x, depth + 1)] for k, x in v.items()]}
        return {"foreign": f"object of type {type(v).__name__}"}

    header = json.dumps(node(value)).encode("utf-8")
    return _MAGIC + struct.pack("<Q", len(header)) + header + b"".join(buffers)


def unpack(data: bytes):
    """Bytes from :func:`pack` -> plain data. Raises ValueError for anything malformed.

    Bounded before anything is allocated: the total size, the header's size, its depth and number of
    entries, the number of arrays, and each array's byte count against the bytes actually received.
    No two arrays may share bytes of the body (a header listing one 32 MB body 400 times is refused
    before a single copy), so what it builds is never larger than what arrived.
    """
    if len(data) > MAX_BYTES:
        raise ValueError(f"plain data too large: {len(data)} bytes (limit {MAX_BYTES})")
    if not bytes(data[:len(_MAGIC)]) == _MAGIC or len(data) < len(_MAGIC) + 8:
        raise ValueError("not plain data (bad magic)")
    start = len(_MAGIC) + 8
    (n,) = struct.unpack("<Q", data[len(_MAGIC):start])
    if n > MAX_HEADER:
        raise ValueError(f"plain data header too large: {n} bytes (limit {MAX_HEADER})")
    if start + n > len(data):
        raise ValueError("plain data truncated (header)")
    text = bytes(data[start:start + n])
    if text.count(b"{") > MAX_NODES:  # every entry is one JSON object: refuse before parsing builds them
        raise ValueError(f"malformed plain data: more than {MAX_NODES} entries")
    try:
        header = json.loads(text.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # (UnicodeDecodeError is a ValueError)
        raise ValueError(f"plain data header is not JSON ({type(exc).__name__})") from None
    body = memoryview(data)[start + n:]
    spans: list[tuple[int, int]] = []
    _scan(header, 0, [0], spans, len(body))
    spans.sort()
    end = 0
    for off, nbytes in spans:
        if off < end:
            raise ValueError("malformed plain data: two arrays share the same bytes")
        end = off + nbytes
    return _build(header, body)


def _scan(d, depth: int, count: list, spans: list, body_size: int) -> None:
    """Check one header entry (and what it holds) without building anything; collect the arrays' spans."""
    count[0] += 1
    if depth > MAX_DEPTH + 1 or count[0] > MAX_NODES:
        raise ValueError(f"malformed plain data: deeper than {MAX_DEPTH + 1} or more than {MAX_NODES} entries")
    if type(d) is not dict or len(d) == 0:
        raise ValueError("malformed plain data: an entry is not a non-empty object")
    keys = set(d)
    if len(d) == 1 and keys <= {"v", "f", "c", "foreign", "tuple", "list", "dict"}:
        (kind, v), = d.items()
        if kind == "v" and (v is None or type(v) in (bool, int, float, str)):
            return
        if kind == "f" and type(v) is str and len(v) <= 32:
            return
        if kind == "c" and type(v) is list and len(v) == 2 and all(type(x) is str and len(x) <= 32 for x in v):
            return
        if kind == "foreign" and type(v) is str:
            return
        if kind in ("tuple", "list") and type(v) is list:
            for x in v:
                _scan(x, depth + 1, count, spans, body_size)
            return
        if kind == "dict" and type(v) is list:
            for item in v:
                if type(item) is not list or len(item) != 2 or type(item[0]) is not str:
                    raise ValueError("malformed plain data: a dict item is not [str, entry]")
                _scan(item[1], depth + 1, count, spans, body_size)
            return
        raise ValueError(f"malformed plain data: bad {kind!r} entry")
    if keys != {"array", "shape", "offset", "nbytes"}:
        raise ValueError("malformed plain data: unknown entry")
    if len(spans) >= MAX_ARRAYS:
        raise ValueError(f"malformed plain data: more than {MAX_ARRAYS} arrays")
    shape, off, nbytes = d["shape"], d["offset"], d["nbytes"]
    if (type(d["array"]) is not str or len(d["array"]) > 8 or type(shape) is not list or len(shape) > 32
            or not all(type(s) is int and 0 <= s <= MAX_BYTES for s in shape)
            or type(off) is not int or type(nbytes) is not int):
        raise ValueError("malformed plain array")
    try:
        dtype = np.dtype(d["array"])
    except (TypeError, ValueError):
        raise ValueError("malformed plain array (unknown dtype)") from None
    if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None or dtype.hasobject or dtype.subdtype:
        raise ValueError(f"refusing array of dtype {dtype}")
    if off < 0 or nbytes != dtype.itemsize * math.prod(shape) or off + nbytes > body_size:
        raise ValueError("malformed plain array: its size does not match the bytes received")
    spans.append((off, nbytes))


def _build(d, body: memoryview):
    """A header entry :func:`_scan` accepted -> its value."""
    (kind, v), = d.items() if len(d) == 1 else (("array", None),)
    if kind == "v":
        return v
    if kind == "f":
        return float(v)
    if kind == "c":
        return complex(float(v[0]), float(v[1]))
    if kind == "foreign":
        return Foreign(v)
    if kind == "array":
        dtype, shape, off, nbytes = np.dtype(d["array"]), tuple(d["shape"]), d["offset"], d["nbytes"]
        return np.frombuffer(body[off:off + nbytes], dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
    if kind == "tuple":
        return tuple(_build(x, body) for x in v)
    if kind == "list":
        return [_build(x, body) for x in v]
    return {k: _build(x, body) for k, x in v}


def roundtrip(value):
    """What the grader would receive for ``value``: to_plain, pack and unpack (used in-notebook)."""
    return unpack(pack(to_plain(value)))
