"""Losses on the output logits: hand-computed values, gradient checks, stability for large logits."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from bnlab import one_hot, sigmoid_cross_entropy, softmax, softmax_cross_entropy
from conftest import assert_gradients_match


def test_softmax_cross_entropy_hand_computed():
    # Example 1: logits (0, 0), label 0 → p = 1/2, loss ln 2.
    # Example 2: logits (0, ln 3), label 1 → p = 3/4, loss −ln(3/4). The loss is their mean.
    ZL = np.array([[0.0, 0.0], [0.0, np.log(3.0)]])
    Y = np.array([[1.0, 0.0], [0.0, 1.0]])
    loss, dZL = softmax_cross_entropy(ZL, Y)
    assert isinstance(loss, float)
    assert loss == pytest.approx((np.log(2) - np.log(0.75)) / 2, rel=1e-14)
    np.testing.assert_allclose(dZL, np.array([[0.5 - 1, 0.25], [0.5, 0.75 - 1]]) / 2, rtol=1e-14)


def test_sigmoid_cross_entropy_hand_computed():
    # z = 0, y = 1 → −ln(1/2) = ln 2;  z = ln 3 (σ = 3/4), y = 0 → −ln(1/4) = ln 4.
    ZL, Y = np.array([[0.0, np.log(3.0)]]), np.array([[1.0, 0.0]])
    loss, dZL = sigmoid_cross_entropy(ZL, Y)
    assert loss == pytest.approx((np.log(2) + np.log(4)) / 2, rel=1e-14)
    np.testing.assert_allclose(dZL, [[(0.5 - 1) / 2, 0.75 / 2]], rtol=1e-14)


@pytest.mark.parametrize("loss_fn, K", [(softmax_cross_entropy, 4), (sigmoid_cross_entropy, 1)])
def test_gradient_check(rng, loss_fn, K):
    m = 6
    ZL = rng.normal(scale=2.0, size=(K, m))
    Y = one_hot(rng.integers(0, K, m), K) if K > 1 else rng.integers(0, 2, (1, m)).astype(float)
    _, dZL = loss_fn(ZL, Y)
    assert dZL.shape == ZL.shape
    assert_gradients_match(lambda: loss_fn(ZL, Y)[0], {"ZL": ZL}, {"dZL": dZL})


def test_losses_are_means_over_examples(rng):
    ZL, labels = rng.normal(size=(3, 4)), rng.integers(0, 3, 4)
    Y = one_hot(labels, 3)
    doubled, _ = softmax_cross_entropy(np.hstack([ZL, ZL]), np.hstack([Y, Y]))
    assert doubled == pytest.approx(softmax_cross_entropy(ZL, Y)[0], rel=1e-14)


def test_large_logits_are_stable():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, dZL = softmax_cross_entropy(np.array([[1000.0, -1000.0], [0.0, 0.0]]), np.array([[0.0, 1.0], [1.0, 0.0]]))
        assert loss == pytest.approx(1000.0, rel=1e-12)      # both examples: 1000 nats from the right class
        assert np.isfinite(dZL).all()
        loss, dZL = sigmoid_cross_entropy(np.array([[1000.0, -1000.0, 800.0]]), np.array([[0.0, 0.0, 1.0]]))
        assert loss == pytest.approx(1000.0 / 3, rel=1e-12)  # 1000, ~0, ~0
        np.testing.assert_allclose(dZL, [[1 / 3, 0.0, 0.0]], atol=1e-15)


def test_softmax_is_shift_invariant_and_sums_to_one(rng):
    Z = rng.normal(size=(5, 3))
    P = softmax(Z)
    np.testing.assert_allclose(P.sum(axis=0), 1.0, rtol=1e-14)
    np.testing.assert_allclose(softmax(Z + np.array([[700.0, -700.0, 3.0]])), P, rtol=1e-12)
    np.testing.assert_allclose(P, np.exp(Z) / np.exp(Z).sum(axis=0), rtol=1e-12)


def test_label_shape_mismatch_is_named(rng):
    with pytest.raises(ValueError, match=r"Y must have shape \(3, 5\); got \(3, 4\)"):
        softmax_cross_entropy(rng.normal(size=(3, 5)), np.zeros((3, 4)))
    # A (m,) label vector for the sigmoid output must become one row, not a column.
    with pytest.raises(ValueError, match=r"Y must be a 2-D array .*got shape \(5,\).*v\.reshape\(1, -1\)"):
        sigmoid_cross_entropy(rng.normal(size=(1, 5)), np.zeros(5))


def test_float32_or_integer_logits_give_float64_results(rng):
    ZL = rng.normal(size=(3, 4))
    Y = one_hot(rng.integers(0, 3, 4), 3)
    assert softmax(ZL.astype(np.float32)).dtype == np.float64
    np.testing.assert_array_equal(softmax(np.array([[0, 1], [2, 3]])), softmax(np.array([[0.0, 1.0], [2.0, 3.0]])))
    for loss_function, Z, T in ((softmax_cross_entropy, ZL, Y), (sigmoid_cross_entropy, ZL[:1], Y[:1])):
        loss, dZL = loss_function(Z.astype(np.float32), T.astype(np.float32))
        assert isinstance(loss, float) and dZL.dtype == np.float64
        assert loss == loss_function(Z.astype(np.float32).astype(np.float64), T)[0]
