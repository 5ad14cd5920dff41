"""Mini-batches, the bundled digits and the synthetic sets."""
from __future__ import annotations

import numpy as np
import pytest

from bnlab import load_digits, make_circles, make_moons, make_spirals, one_hot, random_mini_batches


def numbered(m, n_x=3):
    """X whose column i holds i (so a mini-batch says which examples it holds), Y = 10·i + row."""
    X = np.tile(np.arange(m, dtype=float), (n_x, 1)) + np.arange(n_x)[:, None] / 10
    Y = 10.0 * np.arange(m)[None, :] + np.array([[0.0], [1.0]])
    return X, Y


@pytest.mark.parametrize("m, size, expected_sizes", [
    (10, 3, [3, 3, 3, 1]),   # m does not divide: the last one is smaller
    (12, 4, [4, 4, 4]),      # m divides
    (5, 64, [5]),            # one mini-batch holds everything
    (7, 1, [1] * 7),
])
def test_partition_sizes_and_pairing(m, size, expected_sizes):
    X, Y = numbered(m)
    batches = random_mini_batches(X, Y, mini_batch_size=size, seed=3)
    assert [X_t.shape[1] for X_t, _ in batches] == expected_sizes
    assert all(X_t.shape[0] == 3 and Y_t.shape == (2, X_t.shape[1]) for X_t, Y_t in batches)
    seen = np.concatenate([X_t[0] for X_t, _ in batches]).astype(int)
    assert sorted(seen) == list(range(m))                      # every example exactly once
    for X_t, Y_t in batches:
        np.testing.assert_array_equal(Y_t[0], 10 * X_t[0])     # X and Y still paired
        np.testing.assert_allclose(X_t[2] - X_t[0], 0.2)       # columns moved whole, not entries


def test_examples_are_shuffled():
    X, Y = numbered(50)
    order = np.concatenate([X_t[0] for X_t, _ in random_mini_batches(X, Y, 8, seed=0)])
    assert not np.array_equal(order, np.arange(50))


def test_same_seed_same_batches_different_seed_different_order():
    X, Y = numbered(40)
    a = random_mini_batches(X, Y, 16, seed=5)
    b = random_mini_batches(X, Y, 16, seed=5)
    c = random_mini_batches(X, Y, 16, seed=6)
    for (Xa, Ya), (Xb, Yb) in zip(a, b):
        np.testing.assert_array_equal(Xa, Xb)
        np.testing.assert_array_equal(Ya, Yb)
    assert not np.array_equal(np.concatenate([x[0] for x, _ in a]), np.concatenate([x[0] for x, _ in c]))


def test_one_hot():
    Y = one_hot(np.array([2, 0, 1, 2]), 3)
    np.testing.assert_array_equal(Y, [[0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 1]])
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.2; found values 0\.\.3"):
        one_hot(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match=r"labels must be a 1-D array of integers; got float64"):
        one_hot(np.array([0.0, 1.0]), 3)


def test_inputs_are_not_modified():
    X, Y = numbered(9)
    X0, Y0 = X.copy(), Y.copy()
    for X_t, Y_t in random_mini_batches(X, Y, 4):
        X_t += 1.0  # even writing into a mini-batch leaves X alone
        Y_t += 1.0
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(Y, Y0)


def test_bad_mini_batch_arguments():
    X, Y = numbered(6)
    for bad in (0, -3, 2.5, None):
        with pytest.raises(ValueError, match=rf"mini_batch_size must be a whole number >= 1; got {bad!r}"):
            random_mini_batches(X, Y, mini_batch_size=bad)
    with pytest.raises(ValueError, match=r"Y must have shape \(n, 6\); got \(2, 5\).*X has 6 examples"):
        random_mini_batches(X, Y[:, :5])
    # (m,) labels: one value per example belongs in a (1, m) row, not an (m, 1) column.
    with pytest.raises(ValueError,
                       match=r"Y must be a 2-D array of shape \(n, 6\).*got shape \(6,\).*v\.reshape\(1, -1\)"):
        random_mini_batches(X, np.arange(6.0))


def test_load_digits():
    d = load_digits()
    assert d.X_train.shape == (64, 1438) and d.X_test.shape == (64, 359)
    assert d.Y_train.shape == (10, 1438) and d.Y_test.shape == (10, 359)
    assert d.y_train.shape == (1438,) and d.y_test.shape == (359,)
    assert d.X_train.dtype == np.float64 and np.issubdtype(d.y_train.dtype, np.integer)
    for X in (d.X_train, d.X_test):
        assert X.min() == 0.0 and X.max() == 1.0
        np.testing.assert_array_equal(X * 16, np.round(X * 16))  # pixel counts 0..16, divided by 16
    for Y, y in ((d.Y_train, d.y_train), (d.Y_test, d.y_test)):
        assert set(np.unique(y)) == set(range(10))
        np.testing.assert_array_equal(Y.sum(axis=0), 1.0)
        np.testing.assert_array_equal(Y.argmax(axis=0), y)
    # Disjoint split: no test image is also a training image (compared as exact pixel columns).
    train_rows = {col.tobytes() for col in d.X_train.T}
    assert sum(col.tobytes() in train_rows for col in d.X_test.T) == 0
    # Fixed: two loads are identical.
    again = load_digits()
    for a, b in zip(d, again):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make, classes", [(make_moons, 2), (make_circles, 2), (make_spirals, 3)])
def test_synthetic_sets_shapes_and_determinism(make, classes):
    X, labels = make(m=90, seed=1)
    assert X.shape == (2, 90) and X.dtype == np.float64 and labels.shape == (90,)
    assert set(np.unique(labels)) == set(range(classes))
    assert np.isfinite(X).all()
    X2, labels2 = make(m=90, seed=1)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(labels, labels2)
    X3, _ = make(m=90, seed=2)
    assert not np.array_equal(X, X3)


def test_circles_have_two_radii():
    X, labels = make_circles(m=200, noise=0.0, factor=0.5)
    radius = np.hypot(*X)
    np.testing.assert_allclose(radius[labels == 0], 1.0)
    np.testing.assert_allclose(radius[labels == 1], 0.5)


def test_no_examples_no_mini_batches():
    X, Y = np.zeros((3, 0)), np.zeros((2, 0))
    assert random_mini_batches(X, Y, 4) == []


def test_the_shuffle_is_default_rng_not_the_legacy_seed_as_documented():
    # The docstring says so: default_rng(seed).permutation(m); the legacy np.random.seed(seed) permutation
    # (RandomState(seed), without touching the global state) gives the same sizes but other examples.
    X = np.arange(20.0).reshape(1, 20)
    batches = random_mini_batches(X, X, mini_batch_size=8, seed=1)
    shuffled = np.concatenate([X_t for X_t, _ in batches], axis=1)[0]
    np.testing.assert_array_equal(shuffled, np.random.default_rng(1).permutation(20))
    legacy = np.random.RandomState(1).permutation(20)
    assert [X_t.shape[1] for X_t, _ in batches] == [8, 8, 4] and not np.array_equal(shuffled, legacy)
    assert "np.random.seed(seed)" in random_mini_batches.__doc__ and "default_rng(seed)" in random_mini_batches.__doc__
