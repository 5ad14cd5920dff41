"""The shared input checks: each error names the argument, what was found and what was expected."""
from __future__ import annotations

import numpy as np
import pytest

from bnlab._validate import (NonFiniteError, as_column, as_matrix, fraction, positive_int, positive_number,
                             require_finite)


def test_as_matrix_returns_float64_without_copying_float64():
    A = np.ones((2, 3))
    assert as_matrix("A", A) is A
    B = as_matrix("B", [[1, 2, 3]])
    assert B.dtype == np.float64 and B.shape == (1, 3)


@pytest.mark.parametrize("value, kwargs, pattern", [
    (np.ones(5), {"rows": 5}, r"A must be a 2-D array of shape \(5, m\) with examples as columns; got shape \(5,\). "
                              r"Reshape a vector v with v\.reshape\(-1, 1\)"),
    (np.ones(5), {"rows": 1}, r"got shape \(5,\). Reshape a vector v with v\.reshape\(1, -1\)"),
    (np.ones((2, 3, 4)), {},
     r"A must be a 2-D array of shape \(n, m\) with examples as columns; got shape \(2, 3, 4\)$"),
    (np.ones((7, 4)), {"rows": 4}, r"A must have shape \(4, m\); got \(7, 4\) — did you pass examples as rows\?"),
    (np.ones((4, 6)), {"rows": 4, "cols": 5}, r"A must have shape \(4, 5\); got \(4, 6\)$"),
    ([["a", "b"]], {}, r"A must be an array of numbers; got list"),
])
def test_as_matrix_errors(value, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        as_matrix("A", value, **kwargs)


def test_as_matrix_hint_is_appended():
    with pytest.raises(ValueError, match=r"got \(3, 2\)\. Y needs one column per example"):
        as_matrix("Y", np.ones((3, 2)), rows=3, cols=5, hint="Y needs one column per example")


@pytest.mark.parametrize("shape, pattern", [
    ((4,), r"gamma must be a column of shape \(4, 1\), one value per unit; "
           r"got shape \(4,\) — reshape it with \.reshape\(4, 1\)"),
    ((1, 4), r"got shape \(1, 4\) — reshape it with \.reshape\(4, 1\)"),
    ((3, 1), r"got shape \(3, 1\)$"),
])
def test_as_column_errors(shape, pattern):
    with pytest.raises(ValueError, match=pattern):
        as_column("gamma", np.ones(shape), 4)
    assert as_column("gamma", np.ones((4, 1)), 4).shape == (4, 1)


def test_require_finite_counts_and_locates():
    A = np.zeros((3, 4))
    require_finite("A", A)
    A[1, 2], A[2, 0] = np.nan, -np.inf
    with pytest.raises(NonFiniteError,
                       match=r"A contains 2 NaN or infinite value\(s\), the first at index \(1, 2\); expected finite"):
        require_finite("A", A)
    assert issubclass(NonFiniteError, ValueError)


@pytest.mark.parametrize("value", [0, -1, 0.0, np.inf, np.nan, True, "1", None, np.array([1.0])])
def test_positive_number_rejects(value):
    with pytest.raises(ValueError, match=r"lr must be a finite number > 0; got"):
        positive_number("lr", value)


def test_positive_number_accepts_numpy_and_python_numbers():
    assert positive_number("lr", np.float64(0.5)) == 0.5
    assert positive_number("lr", 3) == 3.0 and isinstance(positive_number("lr", 3), float)
    assert positive_number("lr", np.int64(2)) == 2.0


@pytest.mark.parametrize("value", [1, 1.0, -1e-9, np.nan, False, np.array(0.5), "0.5"])
def test_fraction_rejects(value):
    with pytest.raises(ValueError, match=r"beta1 must be a decay rate, a number in \[0, 1\); got"):
        fraction("beta1", value)


def test_fraction_accepts_0_and_just_below_1():
    assert fraction("beta1", 0) == 0.0 and fraction("beta1", np.float64(0.999)) == 0.999


@pytest.mark.parametrize("value", [0, -2, 1.0, 2.5, True, "3", None])
def test_positive_int_rejects(value):
    with pytest.raises(ValueError, match=r"mini_batch_size must be a whole number >= 1; got"):
        positive_int("mini_batch_size", value)


def test_positive_int_accepts_numpy_ints():
    assert positive_int("n", np.int64(4)) == 4 and type(positive_int("n", np.int32(4))) is int
