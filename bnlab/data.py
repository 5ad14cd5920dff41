"""Data: mini-batches, the bundled handwritten digits, and small synthetic sets for pictures.

Everything is examples-as-columns: X is (n_x, m), labels are (m,) integers, one-hot Y is (K, m).
"""
from __future__ import annotations

from importlib import resources
from typing import NamedTuple

import numpy as np

from bnlab._validate import as_matrix, positive_int


def random_mini_batches(X, Y, mini_batch_size=64, seed=0):
    """Shuffle the columns of X and Y together, then cut them into mini-batches.

    X: (n_x, m); Y: (n_y, m). Every example lands in exactly one mini-batch; X and Y stay paired;
    all mini-batches have ``mini_batch_size`` columns except the last, which holds the m mod size left over.
    Returns a list of (X_t, Y_t), float64. The same seed gives the same mini-batches. Fastest when each
    example (column) is contiguous in memory, ``np.asfortranarray(X)``: the shuffle then copies whole columns.

    The shuffle is ``np.random.default_rng(seed).permutation(m)``, numpy's recommended generator. The
    well-known course's version seeds the legacy global generator instead (``np.random.seed(seed)`` then
    ``np.random.permutation(m)``): for the same seed its mini-batches have the same sizes but hold other
    examples, so its published expected outputs are not this function's.
    """
    X = as_matrix("X", X)
    m = X.shape[1]
    Y = as_matrix("Y", Y, cols=m, hint=f"X has {m} examples (columns), so Y needs {m} columns too")
    mini_batch_size = positive_int("mini_batch_size", mini_batch_size)
    permutation = np.random.default_rng(seed).permutation(m)   # one shuffle for X and Y
    X_shuffled, Y_shuffled = X[:, permutation], Y[:, permutation]
    return [(X_shuffled[:, k:k + mini_batch_size], Y_shuffled[:, k:k + mini_batch_size])
            for k in range(0, m, mini_batch_size)]


def one_hot(labels, num_classes):
    """(m,) integer labels → (num_classes, m) one-hot columns."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D array of integers; got {labels.dtype} array of shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}; found values {labels.min()}..{labels.max()}")
    Y = np.zeros((num_classes, labels.size))
    Y[labels, np.arange(labels.size)] = 1.0
    return Y



class Digits(NamedTuple):
    """The bundled 8×8 digits, split once into train and test; pixels scaled to [0, 1]."""

    X_train: np.ndarray  # (64, 1438)
    Y_train: np.ndarray  # (10, 1438) one-hot
    y_train: np.ndarray  # (1438,) labels 0..9
    X_test: np.ndarray   # (64, 359)
    Y_test: np.ndarray   # (10, 359)
    y_test: np.ndarray   # (359,)


def load_digits() -> Digits:
    """The UCI optical-recognition handwritten digits (1,797 images, CC BY 4.0), shipped with bnlab.

    Examples are columns: X_train is (64, 1438), pixel counts 0..16 divided by 16. The split is stored
    with the data (see bnlab/datafiles/DIGITS_LICENSE.md), so it is the same on every machine.
    """
    with resources.files("bnlab").joinpath("datafiles", "digits.npz").open("rb") as f, np.load(f) as data:
        pixels, labels, is_test = data["pixels"], data["labels"].astype(np.int64), data["is_test"]
    X = pixels.T.astype(np.float64) / 16.0
    train, test = ~is_test, is_test
    return Digits(X[:, train], one_hot(labels[train], 10), labels[train],
                  X[:, test], one_hot(labels[test], 10), labels[test])


def make_moons(m=200, noise=0.1, seed=0):
    """Two interleaving half circles. Returns X (2, m) and labels (m,) in {0, 1}."""
    rng = np.random.default_rng(seed)
    labels = np.arange(m) % 2
    angle = rng.uniform(0, np.pi, m)
    X = np.where(labels == 0, [np.cos(angle), np.sin(angle)], [1 - np.cos(angle), 0.5 - np.sin(angle)])
    return X + noise * rng.standard_normal((2, m)), labels


def make_circles(m=200, noise=0.05, factor=0.5, seed=0):
    """A small circle (label 1) inside a large one (label 0). Returns X (2, m) and labels (m,)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(m) % 2
    angle = rng.uniform(0, 2 * np.pi, m)
    radius = np.where(labels == 1, factor, 1.0)
    X = radius * np.array([np.cos(angle), np.sin(angle)])
    return X + noise * rng.standard_normal((2, m)), labels


def make_spirals(m=300, classes=3, noise=0.2, seed=0):
    """``classes`` interleaved spiral arms. Returns X (2, m) and labels (m,) in 0..classes−1."""
    rng = np.random.default_rng(seed)
    labels = np.arange(m) % classes
    r = rng.uniform(0.05, 1.0, m)
    angle = labels * 2 * np.pi / classes + 4 * r + noise * rng.standard_normal(m)
    return r * np.array([np.sin(angle), np.cos(angle)]), labels
