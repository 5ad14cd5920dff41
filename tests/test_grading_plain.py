"""Plain data: the only values that cross between the learner's process and the grader."""
from __future__ import annotations

import json

import numpy as np
import pytest

from bnlab.grading.shared import plain


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
    assert plain.roundtrip([0] * (plain.MAX_ITEMS + 1)) == plain.Foreign(f"a structure with more than {plain.MAX_ITEMS} items")
