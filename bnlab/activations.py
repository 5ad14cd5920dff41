"""Activations g(Z) and their derivatives g'(Z), elementwise on (n, m) arrays.

``activation_forward(Z, name)`` returns A and the cache its backward needs;
``activation_backward(dA, cache, name)`` returns dZ = dA ⊙ g'(Z), the cache being Z itself.
"""
from __future__ import annotations

import numpy as np


def relu(Z):
    """max(0, Z)."""
    return np.maximum(Z, 0.0)


def relu_derivative(Z):
    """1 where Z > 0, else 0 (the subgradient 0 is used at Z = 0)."""
    return (Z > 0).astype(np.float64)


def sigmoid(Z):
    """1 / (1 + e^(−Z)).

    For Z < −709, e^(−Z) overflows to inf and 1/(1 + inf) = 0 is the right limit, so that overflow is
    silenced rather than avoided: numpy's exp is about twice as fast as its tanh here, and sigmoid is
    the largest elementwise cost of training the paper's network. In place: fresh temporaries cost more
    than the arithmetic.
    """
    with np.errstate(over="ignore"):
        A = np.negative(Z)
        np.exp(A, out=A)
    A += 1.0
    return np.reciprocal(A, out=A)


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
    return np.tanh(Z)


def tanh_derivative(Z):
    """1 − tanh(Z)²."""
    return _tanh_derivative_from_output(np.tanh(Z))


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
    """A = g(Z). Z: (n, m). Returns A (n, m) and the cache, Z itself (the activation's input)."""
    return ACTIVATIONS[check_activation(name)](Z), Z


def activation_backward(dA, cache, name, A=None):
    """dZ = dA ⊙ g'(Z), with Z = cache, the cache of :func:`activation_forward`. dA: (n, m).

    A: the forward's output g(Z), if at hand: g'(Z) is then computed from it, with the same result.
    """
    name = check_activation(name)
    return dA * (DERIVATIVES[name](cache) if A is None else DERIVATIVES_FROM_OUTPUT[name](A))
