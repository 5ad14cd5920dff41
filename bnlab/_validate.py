"""Input checks shared by every public function: each error says what was found and what was expected.

The checks are cheap (shapes, dtypes, one scalar test) so they can stay on in the hot paths; the full
NaN/inf scan runs only when a cheap summary (a mean, a loss) is already not finite.
"""
from __future__ import annotations

import numbers

import numpy as np


def as_matrix(name: str, value, rows: int | None = None, cols: int | None = None, hint: str = "") -> np.ndarray:
    """Return ``value`` as a 2-D float64 array of shape (rows, cols), or raise a ValueError that says why not.

    ``None`` for rows/cols means any size. float64 input is returned without a copy.
    """
    if isinstance(value, np.ndarray) and value.dtype == np.float64:
        array = value
    else:
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{name} must be an array of numbers; got {type(value).__name__} ({error})") from None
    if array.ndim != 2:
        expected = f"({'n' if rows is None else rows}, {'m' if cols is None else cols})"
        raise ValueError(
            f"{name} must be a 2-D array of shape {expected} with examples as columns; got shape {array.shape}"
            + ((". Reshape a vector v with v.reshape(1, -1) (one row, one value per example)"
                if rows == 1 or (rows is None and cols == array.size)
                else ". Reshape a vector v with v.reshape(-1, 1)") if array.ndim == 1 else "")
        )
    if (rows is not None and array.shape[0] != rows) or (cols is not None and array.shape[1] != cols):
        expected = f"({'n' if rows is None else rows}, {'m' if cols is None else cols})"
        message = f"{name} must have shape {expected}; got {array.shape}"
        if rows is not None and array.shape[1] == rows and array.shape[0] != rows:
            message += " — did you pass examples as rows? Examples are columns here: try the transpose"
        raise ValueError(message + (f". {hint}" if hint else ""))
    return array


def as_column(name: str, value, n: int) -> np.ndarray:
    """Return ``value`` as an (n, 1) float64 column (γ, β, b, μ, σ²), or raise with the shape found."""
    array = np.asarray(value, dtype=np.float64)
    if array.shape != (n, 1):
        hint = ""
        if array.shape in ((n,), (1, n)):
            hint = f" — reshape it with .reshape({n}, 1)"
        raise ValueError(f"{name} must be a column of shape ({n}, 1), one value per unit; "
                         f"got shape {array.shape}{hint}")
    return array


class NonFiniteError(ValueError):
    """NaN or inf where finite numbers were expected (``train`` reports one inside the network as divergence)."""


def require_finite(name: str, array: np.ndarray) -> None:
    """Raise a NonFiniteError (a ValueError) if ``array`` holds NaN or inf, saying how many and where the first is."""
    bad = ~np.isfinite(array)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise NonFiniteError(
            f"{name} contains {int(bad.sum())} NaN or infinite value(s), the first at index {first}; "
            "expected finite numbers"
        )


def positive_number(name: str, value) -> float:
    """A finite number > 0 (ε, a learning rate), as float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}")
    return float(value)


def fraction(name: str, value, what: str = "a decay rate") -> float:
    """A number in [0, 1) (the optimizers' β1, β2, the running-average decay)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"{name} must be {what}, a number in [0, 1); got {value!r}")
    return float(value)


def positive_int(name: str, value) -> int:
    """A whole number ≥ 1 (a mini-batch size, a number of steps)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1; got {value!r}")
    return int(value)
