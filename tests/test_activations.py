"""Activations g(Z) and g'(Z): values, derivatives against central differences, the forward/backward pair."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from bnlab import (activation_backward, activation_forward, relu, relu_derivative, sigmoid, sigmoid_derivative,
                   tanh, tanh_derivative)
from conftest import assert_gradients_match, scalar_loss_of

NAMES = ["relu", "sigmoid", "tanh"]


def away_from_zero(rng, shape):
    """Values with |z| >= 0.1, so a central difference with h = 1e-6 never straddles relu's kink."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.1, 3.0, shape)


def test_relu_and_its_derivative():
    Z = np.array([[-2.0, -0.0, 0.0, 0.5, 3.0]])
    np.testing.assert_array_equal(relu(Z), [[0.0, 0.0, 0.0, 0.5, 3.0]])
    np.testing.assert_array_equal(relu_derivative(Z), [[0.0, 0.0, 0.0, 1.0, 1.0]])  # 0 at the kink
    assert relu_derivative(Z).dtype == np.float64


def test_sigmoid_matches_its_definition(rng):
    Z = rng.uniform(-20, 20, (4, 50))
    np.testing.assert_allclose(sigmoid(Z), 1 / (1 + np.exp(-Z)), rtol=0, atol=1e-15)
    Zmid = rng.uniform(-5, 5, (4, 50))
    np.testing.assert_allclose(sigmoid(Zmid), 1 / (1 + np.exp(-Zmid)), rtol=1e-12)
    assert sigmoid(np.array([[0.0]]))[0, 0] == 0.5


def test_sigmoid_never_overflows():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow in exp would be a RuntimeWarning
        s = sigmoid(np.array([[-1000.0, 1000.0]]))
    np.testing.assert_array_equal(s, [[0.0, 1.0]])


def test_tanh_is_numpy_tanh(rng):
    Z = rng.normal(size=(3, 5))
    np.testing.assert_allclose(tanh(Z), np.tanh(Z), rtol=1e-15)


def test_closed_form_derivatives(rng):
    Z = rng.normal(size=(3, 6))
    s = 1 / (1 + np.exp(-Z))
    np.testing.assert_allclose(sigmoid_derivative(Z), s * (1 - s), rtol=1e-12)
    np.testing.assert_allclose(tanh_derivative(Z), 1 / np.cosh(Z) ** 2, rtol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_check_of_activation_backward(rng, name):
    Z = away_from_zero(rng, (3, 7))
    R = rng.normal(size=Z.shape)
    A, cache = activation_forward(Z, name)
    assert A.shape == Z.shape
    dZ = activation_backward(R, cache, name)
    assert_gradients_match(scalar_loss_of(lambda: activation_forward(Z, name)[0], R), {"Z": Z}, {"dZ": dZ})


@pytest.mark.parametrize("name", NAMES)
def test_forward_and_backward_do_not_modify_inputs(rng, name):
    Z, R = rng.normal(size=(2, 4)), rng.normal(size=(2, 4))
    Z0, R0 = Z.copy(), R.copy()
    _, cache = activation_forward(Z, name)
    activation_backward(R, cache, name)
    np.testing.assert_array_equal(Z, Z0)
    np.testing.assert_array_equal(R, R0)


def test_unknown_activation_is_named():
    with pytest.raises(ValueError, match=r"activation must be one of \['relu', 'sigmoid', 'tanh'\]; got 'softplus'"):
        activation_forward(np.zeros((2, 2)), "softplus")
    with pytest.raises(ValueError, match=r"got 'Relu'"):
        activation_backward(np.zeros((2, 2)), np.zeros((2, 2)), "Relu")


def test_backward_takes_the_cache_by_the_api_name(rng):
    Z, dA = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    A, cache = activation_forward(Z, name="tanh")
    np.testing.assert_allclose(activation_backward(dA=dA, cache=cache, name="tanh"), dA * (1 - A**2), rtol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_backward_from_the_output_A_equals_backward_from_Z(rng, name):
    Z, dA = away_from_zero(rng, (3, 6)), rng.normal(size=(3, 6))
    Z[0, 0] = 0.0  # relu: g'(0) = 0 both ways (A = 0 there)
    A, cache = activation_forward(Z, name)
    np.testing.assert_allclose(activation_backward(dA, cache, name, A), activation_backward(dA, cache, name),
                               rtol=1e-12, atol=1e-15)


# --- one dtype policy: any real input is taken as float64, the result is float64 ------------------------

FUNCTIONS = [relu, relu_derivative, sigmoid, sigmoid_derivative, tanh, tanh_derivative]


@pytest.mark.parametrize("Z", [np.array([[-1, 0, 2]]), np.array([[-1.0, 0.0, 2.0]], np.float32), [[-1, 0, 2]]],
                         ids=["int", "float32", "list"])
@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.__name__)
def test_any_real_input_is_taken_as_float64(function, Z):
    got = function(Z)
    assert isinstance(got, np.ndarray) and got.dtype == np.float64 and got.shape == (1, 3)
    np.testing.assert_array_equal(got, function(np.array([[-1.0, 0.0, 2.0]])))


@pytest.mark.parametrize("z", [2, 2.0, np.float32(2.0), np.array(2.0)], ids=["int", "float", "float32", "0-d"])
@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.__name__)
def test_a_number_gives_a_float64_number(function, z):
    got = function(z)
    assert isinstance(got, np.float64)
    assert got == function(np.array([[2.0]]))[0, 0]


@pytest.mark.parametrize("name", NAMES)
def test_forward_and_backward_return_float64_for_float32_input(rng, name):
    Z, dA = (rng.normal(size=(3, 4)).astype(np.float32) for _ in range(2))
    A, cache = activation_forward(Z, name)
    assert A.dtype == cache.dtype == np.float64
    assert activation_backward(dA, cache, name).dtype == np.float64
    assert activation_backward(dA, cache, name, A.astype(np.float32)).dtype == np.float64
