"""A throwaway two-exercise course for the grading engine's tests (independent of the real exercises).

ex01: ``double(x) -> 2 * x`` (public: a small vector; hidden: a secret (7, 13) matrix and in-place check).
ex02: ``scale_pair(a, s) -> (s * a, cache)`` then ``unscale(y, cache) -> y / s``: a Ref keeps the cache
      in the learner's process, as exercise 2 of the course does with the forward cache.

``notebook(path, cells)`` writes an exercise notebook; the ``*_CELL`` sources are correct solutions.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from bnlab.grading.core.spec import Call, Check, Exercise, Ref, Verdict

SECRET_SHAPE = (7, 13)
SECRET_SCALE = 4.25  # must never appear in learner-visible output


def _array_verdict(found, expected, reveal: bool) -> Verdict:
    if not isinstance(found, np.ndarray):
        return Verdict(False, f"expected a numpy array, found {getattr(found, 'description', type(found).__name__)}")
    if found.shape != expected.shape:
        return Verdict(False, f"wrong shape: expected {expected.shape}, found {found.shape}" if reveal
                       else "wrong shape")
    if not np.isfinite(found).all():
        return Verdict(False, "contains NaN or inf")
    if not np.allclose(found.astype(np.float64), expected):
        return Verdict(False, "wrong values" + (f": expected {expected.tolist()}" if reveal else ""))
    return Verdict(True, "correct")


def _value(outputs, key):
    outcome = outputs[key]
    if not outcome.ok:
        return None, Verdict(False, outcome.error)
    return outcome.value, None


def _double_check(name, points, visibility, x, copy_check=False):
    def verify(outputs):
        value, failed = _value(outputs, "d")
        if failed:
            return failed
        values = _array_verdict(value, 2.0 * x, visibility == "public")
        if copy_check and values.passed and outputs["d"].modified:
            return Verdict(False, "modified its input in place")
        return values

    return Check(name, points, visibility, lambda: [Call("double", (x.copy(),), key="d", copy_check=copy_check)],
                 verify, f"{name.replace('_', ' ')}")


_rng = np.random.default_rng(0)
_SECRET_X = SECRET_SCALE + _rng.standard_normal(SECRET_SHAPE)

EX01 = Exercise("ex01", "ex01_double.ipynb", ("double",), "Double it")
EX01_PUBLIC = [_double_check("doubles_a_vector", 1, "public", np.arange(4.0))]
EX01_HIDDEN = [_double_check("doubles_a_matrix", 2, "hidden", _SECRET_X),
               _double_check("leaves_input_unchanged", 1, "hidden", _SECRET_X, copy_check=True)]


def _pair_check(name, points, visibility, a, s):
    def calls():
        return [Call("scale_pair", (a.copy(), s), key="fwd", returns=(0,)),
                Call("unscale", (Ref("fwd", 0), Ref("fwd", 1)), key="back")]

    def verify(outputs):
        for key in ("fwd", "back"):
            if not outputs[key].ok:
                return Verdict(False, outputs[key].error)
        first = _array_verdict(outputs["fwd"].value[0], s * a, visibility == "public")
        return first if not first.passed else _array_verdict(outputs["back"].value, a, visibility == "public")

    return Check(name, points, visibility, calls, verify, name.replace("_", " "))


EX02 = Exercise("ex02", "ex02_pair.ipynb", ("scale_pair", "unscale"), "Scale and unscale")
EX02_PUBLIC = [_pair_check("round_trip", 1, "public", np.arange(3.0), 2.0)]
EX02_HIDDEN = [_pair_check("round_trip_matrix", 1, "hidden", _SECRET_X, 3.0)]

EXERCISES = [(EX01, EX01_PUBLIC, EX01_HIDDEN), (EX02, EX02_PUBLIC, EX02_HIDDEN)]
MAX = {"ex01": 4.0, "ex02": 2.0}

DOUBLE_CELL = "# GRADED FUNCTION: double\nimport numpy as np\n\ndef double(x):\n    return 2 * np.asarray(x)\n"
PAIR_CELLS = [
    "# GRADED FUNCTION: scale_pair\ndef scale_pair(a, s):\n    return s * a, {'s': s}\n",
    "# GRADED FUNCTION: unscale\ndef unscale(y, cache):\n    return y / cache['s']\n",
]


def notebook(path: Path, cells: list[str], extra_cells: list[str] = ()) -> Path:
    """Write a notebook with a markdown cell, ``extra_cells`` (ungraded code) and ``cells``."""
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
          "cells": [{"cell_type": "markdown", "metadata": {}, "source": "# An exercise"}]
          + [{"cell_type": "code", "metadata": {}, "source": src, "outputs": [], "execution_count": None}
             for src in list(extra_cells) + list(cells)]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb))
    return path


def jail_flags() -> list[str]:
    """Extra ``bnlab grade`` arguments: none (grade in the jail) wherever it can run; ``--no-jail`` off Linux
    or locally without bwrap. On Linux CI a missing bwrap is not excused: grading refuses and the test fails."""
    if sys.platform.startswith("linux") and (shutil.which("bwrap") or os.environ.get("CI") == "true"):
        return []
    return ["--no-jail"]
