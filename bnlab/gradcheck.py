"""Numerical gradient checking with central differences.

    ∂f/∂θ_i ≈ (f(θ + h e_i) − f(θ − h e_i)) / 2h,   error = ‖g − ĝ‖ / (‖g‖ + ‖ĝ‖)

In float64 with h = 1e-6 a correct gradient gives relative errors around 1e-9 or smaller; 1e-7 is the
tolerance the tests use.
"""
from __future__ import annotations

import numpy as np

from bnlab._validate import positive_number


def numerical_gradient(f, x, h=1e-6):
    """Central-difference gradient of the scalar f() w.r.t. the float64 array x (perturbed in place, restored)."""
    h = positive_number("h", h)
    if not (isinstance(x, np.ndarray) and x.dtype == np.float64):
        raise ValueError("x must be a float64 numpy array that f reads; "
                         f"got {type(x).__name__} {getattr(x, 'dtype', '')}")
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):  # one coordinate at a time: a check, not a hot path
        saved = x[i]
        x[i] = saved + h
        f_plus = f()
        x[i] = saved - h
        f_minus = f()
        x[i] = saved
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def relative_error(analytic, numeric):
    """‖a − n‖ / (‖a‖ + ‖n‖), and 0 when both are exactly zero."""
    analytic, numeric = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    if analytic.shape != numeric.shape:
        raise ValueError(f"the gradients have different shapes: {analytic.shape} and {numeric.shape}")
    denominator = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return 0.0 if denominator == 0 else float(np.linalg.norm(analytic - numeric) / denominator)


def gradient_check(f, arrays, grads, h=1e-6):
    """Relative error of each analytic gradient against central differences.

    f: () → float, reading the arrays; arrays: {name: float64 array}; grads: {"d" + name: array}.
    Returns {name: relative error}.
    """
    return {name: relative_error(grads[f"d{name}"], numerical_gradient(f, x, h)) for name, x in arrays.items()}


def check_network_gradients(net, X, Y, h=1e-6):
    """Gradient check of every parameter of a :class:`bnlab.Network` on (X, Y), train mode.

    Running averages are not touched. Returns {parameter name: relative error}.
    """
    _, grads = net.loss_and_grads(X, Y, update_running=False)
    return gradient_check(lambda: net.loss(X, Y, train=True), net.parameters, grads, h)
