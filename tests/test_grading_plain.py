"""Plain data: the only values that cross between the learner's process and the grader."""
from __future__ import annotations

import json

import numpy as np
import pytest

from bnlab.grading.sandbox import plain


def test_plain_round_trip_keeps_structure_dtype_and_special_floats():
    value = (np.arange(6.0).reshape(2, 3), [1, 2.5, True, None, "s", float("nan")],
             {"W1": np.eye(2, dtype=np.float32), "t": np.int64(3)}, np.array([1, 2], dtype=np.int16))
    back = plain.roundtrip(value)
    assert isinstance(back, tuple) and isinstance(back[1], list) and isinstance(back[2], dict)
    np.testing.assert_array_equal(back[0], value[0])
    assert back[2]["W1"].dtype == np.float32 and back[3].dtype == np.int16
    assert back[2]["t"] == 3 and type(back[2]["t"]) is int
    assert back[1][:5] == [1, 2.5, True, None, "s"] and np.isnan(back[1][5])


def test_plain_refuses_foreign_objects_and_object_arrays():
    class Sneaky:
        def __eq__(self, other):
            return True

    class Sub(np.ndarray):
        pass

    back = plain.roundtrip({"o": Sneaky(), "a": np.array([1, None], dtype=object), "s": np.ones(2).view(Sub)})
    assert isinstance(back["o"], plain.Foreign) and back["o"].description == "object of type Sneaky"
    assert back["o"] != 1 and not (back["o"] == np.ones(2))
    assert isinstance(back["a"], plain.Foreign) and "dtype object" in back["a"].description
    assert type(back["s"]) is np.ndarray
    assert isinstance(plain.roundtrip({1: 2}), plain.Foreign)


def test_unpack_rejects_malformed_or_hostile_bytes():
    for data in (b"", b"pickle\x80\x04", plain.pack(1)[:-1] + b"", b"BNLABPLAIN1\n" + b"\xff" * 8):
        with pytest.raises(ValueError):
            plain.unpack(data)
    header = json.dumps({"array": "|O", "shape": [1], "offset": 0, "nbytes": 8}).encode()
    forged = b"BNLABPLAIN1\n" + len(header).to_bytes(8, "little") + header + bytes(8)
    with pytest.raises(ValueError, match="refusing array of dtype object"):
        plain.unpack(forged)


def test_huge_or_deep_structures_become_descriptions_not_grader_memory():
    deep: list = []
    for _ in range(100):
        deep = [deep]
    assert "nested too deeply" in repr(plain.roundtrip(deep))
    many = plain.roundtrip([[0] * 1000 for _ in range(1000)])
    assert isinstance(many, list) and any(isinstance(row, plain.Foreign) or
                                          any(isinstance(x, plain.Foreign) for x in row) for row in many)
    too_many = plain.Foreign(f"a structure with more than {plain.MAX_ITEMS} items")
    assert plain.roundtrip([0] * (plain.MAX_ITEMS + 1)) == too_many


def _forged(header, body: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return b"BNLABPLAIN1\n" + len(text).to_bytes(8, "little") + text + body


def test_a_copy_bomb_is_refused_before_a_single_copy():
    """400 entries pointing at one 32 MB body were 400 copies (12.8 GB); now refused with the grader's
    traced memory (numpy's allocations included) under 1 MB beyond the bytes received."""
    import tracemalloc

    body = bytes(32 * 2**20)
    entry = {"array": "<f8", "shape": [4 * 2**20], "offset": 0, "nbytes": 32 * 2**20}
    data = _forged({"list": [entry] * 400}, body)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="share the same bytes"):
            plain.unpack(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20, f"{peak} bytes traced"
    overlapping = [{**entry, "shape": [2**20], "nbytes": 8 * 2**20, "offset": off} for off in (0, 4 * 2**20)]
    with pytest.raises(ValueError, match="share the same bytes"):
        plain.unpack(_forged({"list": overlapping}, body))
    one = plain.unpack(_forged({"list": [entry]}, body))  # the same body once is fine
    assert one[0].shape == (4 * 2**20,)


@pytest.mark.parametrize("header", [
    {"c": []}, {"c": [1, 2]}, {"c": ["1"]}, [], {}, {"v": [1]}, {"v": 1, "f": "1"}, {"f": "x" * 100},
    {"dict": [[1, {"v": 1}]]}, {"dict": [["k"]]}, {"list": {"v": 1}}, {"tuple": [{"nope": 1}]},
    {"array": "<f8", "shape": [-1], "offset": 0, "nbytes": 0},
    {"array": "<f8", "shape": [2], "offset": 0, "nbytes": 8},
    {"array": "<f8", "shape": [2], "offset": 8, "nbytes": 16},
    {"array": "(2,)f8", "shape": [1], "offset": 0, "nbytes": 16},
    {"array": "not a dtype", "shape": [1], "offset": 0, "nbytes": 8},
    {"array": "<f8", "shape": [1.5], "offset": 0, "nbytes": 8},
    {"array": "<f8", "shape": [1], "offset": "0", "nbytes": 8},
], ids=repr)
def test_every_malformed_header_is_a_value_error(header):
    with pytest.raises(ValueError):
        plain.unpack(_forged(header, bytes(16)))


def test_a_header_too_deep_too_long_or_with_too_many_arrays_is_refused_unparsed():
    deep = '{"list": [' * 2000 + '{"v": 1}' + "]}" * 2000
    with pytest.raises(ValueError):
        plain.unpack(b"BNLABPLAIN1\n" + len(deep).to_bytes(8, "little") + deep.encode())
    many = ",".join(['{"v": 0}'] * (plain.MAX_NODES + 1))
    text = ('{"list": [' + many + "]}").encode()
    with pytest.raises(ValueError, match="more than"):
        plain.unpack(b"BNLABPLAIN1\n" + len(text).to_bytes(8, "little") + text)
    empty = {"array": "<f8", "shape": [0], "offset": 0, "nbytes": 0}
    with pytest.raises(ValueError, match="arrays"):
        plain.unpack(_forged({"list": [empty] * (plain.MAX_ARRAYS + 1)}))
    huge = b"BNLABPLAIN1\n" + (plain.MAX_HEADER + 1).to_bytes(8, "little")
    with pytest.raises(ValueError, match="header too large"):
        plain.unpack(huge)


def test_to_plain_copies_with_numpy_as_it_was_before_learner_code_patched_it(monkeypatch):
    x = np.arange(3.0)
    monkeypatch.setattr(np, "array", lambda v, *a, **k: v)
    monkeypatch.setattr(np, "ascontiguousarray", lambda v, *a, **k: v)
    copy = plain.to_plain(x)
    x[:] = 7
    assert copy.tolist() == [0.0, 1.0, 2.0] and plain.roundtrip(x).tolist() == [7.0] * 3
