"""The linear part Z = W A_prev (+ b): values, gradient checks with and without b, shape errors."""
from __future__ import annotations

import numpy as np
import pytest

from bnlab import linear_backward, linear_forward
from conftest import assert_gradients_match, scalar_loss_of


def test_forward_hand_computed():
    A_prev = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])   # n[l−1] = 3, m = 2
    W = np.array([[1.0, 0.0, -1.0], [0.5, 0.5, 0.5]])          # n[l] = 2
    b = np.array([[10.0], [-1.0]])
    Z, _ = linear_forward(A_prev, W, b)
    np.testing.assert_allclose(Z, [[6.0, 6.0], [3.5, 5.0]])    # (1 − 5 + 10, 2 − 6 + 10), (4.5 − 1, 6 − 1)
    Z_no_b, _ = linear_forward(A_prev, W)
    np.testing.assert_allclose(Z_no_b, [[-4.0, -4.0], [4.5, 6.0]])


@pytest.mark.parametrize("with_b", [True, False])
def test_gradient_check(rng, with_b):
    A_prev, W = rng.normal(size=(4, 5)), rng.normal(size=(3, 4))
    b = rng.normal(size=(3, 1)) if with_b else None
    R = rng.normal(size=(3, 5))
    Z, cache = linear_forward(A_prev, W, b)
    assert Z.shape == (3, 5)
    dA_prev, dW, db = linear_backward(R, cache)
    assert dA_prev.shape == A_prev.shape and dW.shape == W.shape
    arrays, grads = {"A_prev": A_prev, "W": W}, {"dA_prev": dA_prev, "dW": dW}
    if with_b:
        assert db.shape == (3, 1)
        arrays["b"], grads["db"] = b, db
    else:
        assert db is None  # a layer followed by Batch Norm has no b, so no db either
    assert_gradients_match(scalar_loss_of(lambda: linear_forward(A_prev, W, b)[0], R), arrays, grads)


def test_inputs_are_not_modified(rng):
    A_prev, W, b = rng.normal(size=(4, 5)), rng.normal(size=(3, 4)), rng.normal(size=(3, 1))
    copies = [a.copy() for a in (A_prev, W, b)]
    _, cache = linear_forward(A_prev, W, b)
    linear_backward(rng.normal(size=(3, 5)), cache)
    for original, copy in zip((A_prev, W, b), copies):
        np.testing.assert_array_equal(original, copy)


def test_examples_as_rows_get_a_hint(rng):
    W = rng.normal(size=(3, 4))
    with pytest.raises(ValueError, match=r"A_prev must have shape \(4, m\); got \(5, 4\).*examples as rows.*transpose"):
        linear_forward(rng.normal(size=(5, 4)), W)


def test_mismatched_sizes_are_named(rng):
    with pytest.raises(ValueError, match=r"A_prev must have shape \(4, m\); got \(6, 5\).*W is \(3, 4\)"):
        linear_forward(rng.normal(size=(6, 5)), rng.normal(size=(3, 4)))
    with pytest.raises(ValueError, match=r"b must be a column of shape \(3, 1\).*got shape \(3,\)"):
        linear_forward(rng.normal(size=(4, 5)), rng.normal(size=(3, 4)), np.zeros(3))
    with pytest.raises(ValueError, match=r"W must be a 2-D array .*got shape \(4,\)"):
        linear_forward(rng.normal(size=(4, 5)), np.zeros(4))


def test_need_dA_prev_false_skips_only_dA_prev():
    rng = np.random.default_rng(7)
    A_prev, W = rng.normal(size=(4, 6)), rng.normal(size=(3, 4))
    b, dZ = rng.normal(size=(3, 1)), rng.normal(size=(3, 6))
    _, cache = linear_forward(A_prev, W, b)
    dA_prev, dW, db = linear_backward(dZ, cache)
    skipped, dW_skipped, db_skipped = linear_backward(dZ, cache, need_dA_prev=False)
    assert skipped is None and dA_prev.shape == (4, 6)
    np.testing.assert_array_equal(dW_skipped, dW)
    np.testing.assert_array_equal(db_skipped, db)


def test_float32_input_gives_float64_results(rng):
    A_prev, W, b, dZ = (rng.normal(size=shape).astype(np.float32) for shape in ((4, 5), (3, 4), (3, 1), (3, 5)))
    Z, cache = linear_forward(A_prev, W, b)
    assert Z.dtype == np.float64
    for gradient in linear_backward(dZ, cache):
        assert gradient.dtype == np.float64
    float32_cache = (A_prev, W, True)  # a cache built by hand, not by linear_forward
    for got, expected in zip(linear_backward(dZ, float32_cache), linear_backward(dZ.astype(np.float64), cache)):
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, expected)
