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
MAX_HEADER = 32 * 2**20   # ... or a JSON header longer than this
_MAGIC = b"BNLABPLAIN1\n"
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
        return np.array(base, dtype=base.dtype.newbyteorder("="), copy=True, order="C")
    if isinstance(value, np.generic):
        if value.dtype.kind not in _NUMERIC_KINDS:
            return Foreign(f"numpy scalar of dtype {value.dtype}")
        return to_plain(np.asarray(value).item(), depth + 1, budget) if value.dtype.kind != "c" else complex(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int.__index__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, (tuple, list, dict)) and (tuple.__len__ if isinstance(value, tuple) else
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
            data = np.ascontiguousarray(v).tobytes()
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
    """Bytes from :func:`pack` -> plain data. Raises ValueError for anything malformed."""
    if len(data) > MAX_BYTES:
        raise ValueError(f"plain data too large: {len(data)} bytes (limit {MAX_BYTES})")
    if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + 8:
        raise ValueError("not plain data (bad magic)")
    start = len(_MAGIC) + 8
    (n,) = struct.unpack("<Q", data[len(_MAGIC):start])
    if n > MAX_HEADER:
        raise ValueError(f"plain data header too large: {n} bytes (limit {MAX_HEADER})")
    if start + n > len(data):
        raise ValueError("plain data truncated (header)")
    header = json.loads(data[start:start + n].decode("utf-8"))
    body = memoryview(data)[start + n:]

    def build(d, depth=0):
        if depth > MAX_DEPTH + 1 or not isinstance(d, dict) or len(d) == 0:
            raise ValueError("malformed plain data")
        if "v" in d:
            v = d["v"]
            if v is not None and type(v) not in (bool, int, float, str):
                raise ValueError("malformed plain scalar")
            return v
        if "f" in d:
            return float(d["f"])
        if "c" in d:
            return complex(float(d["c"][0]), float(d["c"][1]))
        if "foreign" in d:
            return Foreign(str(d["foreign"]))
        if "array" in d:
            dtype = np.dtype(str(d["array"]))
            if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None or dtype.hasobject:
                raise ValueError(f"refusing array of dtype {dtype}")
            shape = tuple(int(s) for s in d["shape"])
            off, nbytes = int(d["offset"]), int(d["nbytes"])
            if off < 0 or nbytes != dtype.itemsize * math.prod(shape) or off + nbytes > len(body):
                raise ValueError("malformed plain array")
            return np.frombuffer(body[off:off + nbytes], dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
        if "tuple" in d:
            return tuple(build(x, depth + 1) for x in d["tuple"])
        if "list" in d:
            return [build(x, depth + 1) for x in d["list"]]
        if "dict" in d:
            return {str(k): build(x, depth + 1) for k, x in d["dict"]}
        raise ValueError("malformed plain data")

    return build(header)


def roundtrip(value):
    """What the grader would receive for ``value``: to_plain, pack and unpack (used in-notebook)."""
    return unpack(pack(to_plain(value)))
