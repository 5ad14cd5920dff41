"""Numerical gradient checking: central differences against closed forms, and that a wrong gradient fails."""
from __future__ import annotations

import numpy as np
import pytest

import bnlab.network
from bnlab import Network, check_network_gradients, gradient_check, numerical_gradient, one_hot, relative_error
from conftest import GRAD_TOL, randomize_biases


def test_numerical_gradient_of_closed_forms(rng):
    x = rng.normal(size=(3, 4))
    c = rng.normal(size=(3, 4))
    g = numerical_gradient(lambda: float(np.sum(c * np.sin(x))), x)
    assert relative_error(c * np.cos(x), g) < 1e-9
    A = rng.normal(size=(4, 4))
    A = A + A.T
    v = rng.normal(size=(4, 1))
    g = numerical_gradient(lambda: float(0.5 * (v.T @ A @ v)[0, 0]), v)  # quadratic: central differences are exact
    np.testing.assert_allclose(g, A @ v, rtol=1e-7, atol=1e-8)


def test_numerical_gradient_restores_x(rng):
    x = rng.normal(size=(2, 3))
    x0 = x.copy()
    numerical_gradient(lambda: float(np.sum(x**3)), x)
    np.testing.assert_array_equal(x, x0)


def test_relative_error_hand_computed():
    assert relative_error(np.array([3.0, 4.0]), np.array([3.0, 4.0])) == 0.0
    assert relative_error(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(np.sqrt(2) / 2)
    assert relative_error(np.array([2.0]), np.array([1.0])) == pytest.approx(1 / 3)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    with pytest.raises(ValueError, match=r"different shapes: \(2,\) and \(3,\)"):
        relative_error(np.zeros(2), np.zeros(3))


def test_gradient_check_reports_a_wrong_gradient(rng):
    x = rng.normal(size=(3, 2))
    errors = gradient_check(lambda: float(np.sum(x**2)), {"x": x}, {"dx": 2 * x})
    assert errors["x"] < 1e-9
    errors = gradient_check(lambda: float(np.sum(x**2)), {"x": x}, {"dx": 4 * x})
    assert errors["x"] == pytest.approx(1 / 3, rel=1e-6)


def test_network_check_catches_a_batch_norm_backward_without_the_mean_terms(rng, monkeypatch):
    # The classic mistake: dZ = γ/sqrt(σ²+ε)·dZ̃, forgetting that μ and σ² depend on Z too.
    def naive_backward(dZ_tilde, cache):
        return (cache.gamma * cache.inv_std * dZ_tilde, np.sum(dZ_tilde * cache.Z_norm, axis=1, keepdims=True),
                np.sum(dZ_tilde, axis=1, keepdims=True))

    net = randomize_biases(Network([3, 4, 3], activation="tanh"), rng)
    X, Y = rng.normal(size=(3, 6)), one_hot(rng.integers(0, 3, 6), 3)
    assert max(check_network_gradients(net, X, Y).values()) < GRAD_TOL
    monkeypatch.setattr(bnlab.network, "batchnorm_backward", naive_backward)  # the one layer_backward calls
    errors = check_network_gradients(net, X, Y)
    assert errors["W1"] > 1e-2
    assert errors["gamma1"] < GRAD_TOL and errors["W2"] < GRAD_TOL  # the mistake only shows below BN


@pytest.mark.parametrize("x, pattern", [
    ([1.0, 2.0], r"x must be a float64 numpy array that f reads; got list"),
    (np.array([1, 2]), r"x must be a float64 numpy array .*got ndarray int"),
])
def test_numerical_gradient_needs_a_float64_array(x, pattern):
    with pytest.raises(ValueError, match=pattern):
        numerical_gradient(lambda: 0.0, x)


@pytest.mark.parametrize("h", [0, -1e-6, np.nan])
def test_step_must_be_positive(h):
    with pytest.raises(ValueError, match=r"h must be a finite number > 0; got"):
        numerical_gradient(lambda: 0.0, np.zeros(2), h=h)
