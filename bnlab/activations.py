"""Activations g(Z) and their derivatives g'(Z), elementwise on (n, m) arrays.

``activation_forward(Z, name)`` returns A and the cache its backward needs;
``activation_backward(dA, cache, name)`` returns dZ = dA ⊙ g'(Z), the cache being Z itself.

Every function takes any real input (float32, integers, Python numbers, nested lists) as float64 and
returns float64: an array for an array, a number for a number.
"""
from __future__ import annotations

import numpy as np


def _float64(Z):
    """Z as a float64 array (no copy when it is one already)."""
    return np.asarray(Z, dtype=np.float64)


def relu(Z):
    """max(0, Z)."""
    return np.maximum(_float64(Z), 0.0)


def relu_derivative(Z):
    """1 where Z > 0, else 0 (the subgradient 0 is used at Z = 0)."""
    return (_float64(Z) > 0).astype(np.float64)


def sigmoid(Z):
    """1 / (1 + e^(−Z)).

    For Z < −709, e^(−Z) overflows to inf and 1/(1 + inf) = 0 is the right limit, so that overflow is
    silenced rather than avoided: numpy's exp is about twice as fast as its tanh here, and sigmoid is
    the largest elementwise cost of training the paper's network. In place: fresh temporaries cost more
    than the arithmetic.
    """
    Z = _float64(Z)
    A = np.empty_like(Z)  # an array even for a number (a 0-d Z): the steps below write into it
    with np.errstate(over="ignore"):
        np.negative(Z, out=A)
        np.exp(A, out=A)
    A += 1.0
    np.reciprocal(A, out=A)
    return A if A.ndim else A[()]  # a number for a number, as numpy's own functions


def sigmoid_derivative(Z):
    """σ(Z)(1 − σ(Z))."""
    return _sigmoid_derivative_from_output(sigmoid(Z))


def _sigmoid_derivative_from_output(A):
    """σ'(Z) = A(1 − A) from A = σ(Z)."""
    derivative = 1.0 - A
    derivative *= A  # in place, as in sigmoid
    return derivative


def tanh(Z):
    """tanh(Z)."""
    return np.tanh(_float64(Z))


def tanh_derivative(Z):
    """1 − tanh(Z)²."""
    return _tanh_derivative_from_output(tanh(Z))


def _tanh_derivative_from_output(A):
    """tanh'(Z) = 1 − A² from A = tanh(Z)."""
    return 1.0 - A**2


ACTIVATIONS = {"relu": relu, "sigmoid": sigmoid, "tanh": tanh}
DERIVATIVES = {"relu": relu_derivative, "sigmoid": sigmoid_derivative, "tanh": tanh_derivative}
# g'(Z) from the output A = g(Z), the same numbers without recomputing g (numpy's tanh is slow on some
# CPUs). relu: A > 0 exactly where Z > 0, so relu_derivative(A) is relu'(Z).
DERIVATIVES_FROM_OUTPUT = {"relu": relu_derivative, "sigmoid": _sigmoid_derivative_from_output,
                           "tanh": _tanh_derivative_from_output}


def check_activation(name: str) -> str:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}; got {name!r}")
    return name


def activation_forward(Z, name):
    """A = g(Z). Z: (n, m). Returns A (n, m) and the cache, Z itself (the activation's input, as float64)."""
    Z = _float64(Z)
    return ACTIVATIONS[check_activation(name)](Z), Z


def activation_backward(dA, cache, name, A=None):
    """dZ = dA ⊙ g'(Z), with Z = cache, the cache of :func:`activation_forward`. dA: (n, m).

    A: the forward's output g(Z), if at hand: g'(Z) is then computed from it, with the same result.
    """
    name = check_activation(name)
    return _float64(dA) * (DERIVATIVES[name](cache) if A is None else DERIVATIVES_FROM_OUTPUT[name](_float64(A)))
