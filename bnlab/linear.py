"""The linear part of a layer: Z[l] = W[l] A[l−1] (+ b[l] only when no Batch Norm follows).

With Batch Norm the bias is dropped: the mean subtraction cancels any b, and β[l] takes its role.
"""
from __future__ import annotations

import numpy as np

from bnlab._validate import as_column, as_matrix


def linear_forward(A_prev, W, b=None):
    """Z = W A_prev (+ b).

    A_prev: (n[l−1], m); W: (n[l], n[l−1]); b: (n[l], 1) or None (a layer followed by Batch Norm).
    Returns Z (n[l], m) and the cache (A_prev, W, has_b) for :func:`linear_backward`.
    """
    W = as_matrix("W", W)
    A_prev = as_matrix("A_prev", A_prev, rows=W.shape[1],
                       hint=f"W is {W.shape}, so A_prev needs {W.shape[1]} rows (one per unit of the previous layer)")
    Z = W @ A_prev
    if b is not None:
        Z += as_column("b", b, W.shape[0])
    return Z, (A_prev, W, b is not None)


def linear_backward(dZ, cache, need_dA_prev=True):
    """Gradients of Z = W A_prev (+ b). dZ: (n[l], m).

    Returns dA_prev (n[l−1], m), dW (n[l], n[l−1]) and db (n[l], 1), or None when the layer has no b.
    The 1/m of the mean loss is already inside dZ (see :mod:`bnlab.losses`).
    need_dA_prev=False returns None for dA_prev: the first layer's A_prev is X, whose gradient nobody
    uses, and skipping W.T dZ saves a third of that (largest) layer's backward work.
    """
    A_prev, W, has_b = cache
    dZ, A_prev, W = (np.asarray(a, dtype=np.float64) for a in (dZ, A_prev, W))  # float64 in, float64 out
    dW = dZ @ A_prev.T
    dA_prev = W.T @ dZ if need_dA_prev else None
    db = dZ.sum(axis=1, keepdims=True) if has_b else None
    return dA_prev, dW, db
