"""Losses on the output layer's Z[L] (logits), averaged over the m examples (columns).

Each returns (loss, dZ[L]) where dZ[L] already holds the 1/m of the mean, so the layers' backward
passes just sum over examples.
"""
from __future__ import annotations

import numpy as np

from bnlab._validate import as_matrix
from bnlab.activations import sigmoid


def softmax(Z):
    """Column-wise softmax of (K, m) logits, shifted by the column max so exp never overflows. Returns float64."""
    Z = np.asarray(Z, dtype=np.float64)
    E = np.exp(Z - Z.max(axis=0, keepdims=True))
    return E / E.sum(axis=0, keepdims=True)


def softmax_cross_entropy(ZL, Y):
    """Mean cross-entropy of softmax(ZL) against one-hot Y.

    ZL: (K, m) logits; Y: (K, m) one-hot (or probability) columns.
    Returns loss (float) and dZL = (softmax(ZL) − Y)/m, shape (K, m).
    """
    ZL = as_matrix("ZL", ZL)
    Y = as_matrix("Y", Y, *ZL.shape, hint="Y must hold one one-hot column per example")
    m = ZL.shape[1]
    shifted = ZL - ZL.max(axis=0, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))
    loss = -np.sum(Y * log_probs) / m
    return float(loss), (np.exp(log_probs) - Y) / m


def sigmoid_cross_entropy(ZL, Y):
    """Mean binary cross-entropy of sigmoid(ZL) against labels Y in {0, 1}.

    ZL: (1, m) logits; Y: (1, m). Uses log(1 + e^z) via logaddexp, stable for any |z|.
    Returns loss (float) and dZL = (sigmoid(ZL) − Y)/m, shape (1, m).
    """
    ZL = as_matrix("ZL", ZL)
    Y = as_matrix("Y", Y, *ZL.shape, hint="Y must hold one 0/1 label per example, as a (1, m) row")
    m = ZL.shape[1]
    loss = np.sum(np.logaddexp(0.0, ZL) - Y * ZL) / m   # −[y log σ(z) + (1−y) log(1−σ(z))]
    return float(loss), (sigmoid(ZL) - Y) / m


LOSSES = {"softmax": softmax_cross_entropy, "sigmoid": sigmoid_cross_entropy}
