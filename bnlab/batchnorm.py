r"""Batch Normalization of one layer, examples as columns.

Train mode normalizes each unit (row) over the mini-batch (columns) with the batch's own statistics:

    μ = (1/m) Σ_i z⁽ⁱ⁾            σ² = (1/m) Σ_i (z⁽ⁱ⁾ − μ)²       (biased: 1/m, not 1/(m−1))
    Z_norm = (Z − μ) / sqrt(σ² + ε)    Z̃ = γ ⊙ Z_norm + β

Test mode uses running averages of μ and σ² collected during training instead of the batch's.

The functions here are written as the lecture and the exercises write them. ``Network`` runs the same
formulas block by block and in place (``bnlab._kernels``), tested to give the same numbers to round-off.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bnlab._validate import as_column, as_matrix, fraction, positive_number, require_finite


class BatchNormCache(NamedTuple):
    """What ``batchnorm_forward`` keeps for the backward pass.

    The first three are exercise 1's cache: Z_norm (n, m), gamma (n, 1), inv_std (n, 1) = 1/sqrt(σ² + ε).
    Then mu, var (n, 1), the mini-batch mean and biased variance (for the running averages), and the ε used.
    """

    Z_norm: np.ndarray
    gamma: np.ndarray
    inv_std: np.ndarray
    mu: np.ndarray
    var: np.ndarray
    eps: float


def checked_inputs(Z, gamma, beta, eps, train=True):
    """Z as a float64 (n, m) array, gamma and beta as (n, 1) columns, eps > 0; or a ValueError saying why not.

    Train mode also needs m ≥ 2 examples: with one, σ² = 0 and Z_norm would be 0 whatever Z is.
    """
    Z = as_matrix("Z", Z)
    n, m = Z.shape
    if np.shape(gamma) == (m, 1) and m != n:
        raise ValueError(
            f"Z has shape {Z.shape} but gamma has shape {np.shape(gamma)}: gamma has one value per unit (row of Z). "
            "Did you pass examples as rows? Z must be (n, m) with examples as columns: try Z.T"
        )
    gamma, beta, eps = as_column("gamma", gamma, n), as_column("beta", beta, n), positive_number("eps", eps)
    if train and m < 2:
        raise ValueError(
            f"Z has shape {Z.shape}: a mini-batch of {m} example cannot be normalized in train mode "
            "(its variance is 0, so Z_norm would be 0 whatever Z is). Use m >= 2, or eval mode "
            "(batchnorm_eval with running averages) to predict one example."
        )
    return Z, gamma, beta, eps


def batchnorm_forward(Z, gamma, beta, eps=1e-5):
    """Training-mode Batch Norm over a mini-batch (examples are columns).

    Z: (n, m) pre-activations, m ≥ 2; gamma, beta: (n, 1); eps > 0.
    Returns Z_tilde (n, m) and a :class:`BatchNormCache` for :func:`batchnorm_backward`.
    """
    Z, gamma, beta, eps = checked_inputs(Z, gamma, beta, eps)
    mu = np.mean(Z, axis=1, keepdims=True)                 # (n, 1) per-unit mean over the examples
    if not np.isfinite(mu).all():
        require_finite("Z", Z)
        raise ValueError("Z holds values too large to average in float64 (the mean overflows); expected finite sums")
    var = np.mean((Z - mu) ** 2, axis=1, keepdims=True)    # (n, 1) biased variance (1/m)
    inv_std = 1.0 / np.sqrt(var + eps)                     # (n, 1)
    Z_norm = (Z - mu) * inv_std                            # (n, m)
    Z_tilde = gamma * Z_norm + beta                        # (n, m)
    return Z_tilde, BatchNormCache(Z_norm, gamma, inv_std, mu, var, eps)


def batchnorm_backward(dZ_tilde, cache: BatchNormCache):
    """Backward pass of training-mode Batch Norm, in the compact closed form.

    dZ_tilde: (n, m) gradient of the loss w.r.t. Z̃; cache: from :func:`batchnorm_forward`.
    Returns dZ (n, m), dgamma (n, 1), dbeta (n, 1):

        dβ = Σ_i dZ̃   dγ = Σ_i dZ̃ ⊙ Z_norm
        dZ = γ/sqrt(σ²+ε) ⊙ (dZ̃ − (dβ + Z_norm ⊙ dγ)/m)
    """
    Z_norm, gamma, inv_std = cache.Z_norm, cache.gamma, cache.inv_std
    dZ_tilde = as_matrix("dZ_tilde", dZ_tilde, *Z_norm.shape, hint="It must match the Z given to batchnorm_forward")
    m = dZ_tilde.shape[1]
    dbeta = np.sum(dZ_tilde, axis=1, keepdims=True)                    # (n, 1) Σ dZ̃ over the examples
    dgamma = np.sum(dZ_tilde * Z_norm, axis=1, keepdims=True)          # (n, 1) Σ dZ̃ ⊙ Z_norm
    dZ = gamma * inv_std * (dZ_tilde - (dbeta + Z_norm * dgamma) / m)  # (n, m)
    if not np.isfinite(dbeta).all():
        require_finite("dZ_tilde", dZ_tilde)
    return dZ, dgamma, dbeta


def batchnorm_backward_steps(dZ_tilde, cache: BatchNormCache):
    """The same gradients as :func:`batchnorm_backward`, by walking the computation graph backwards.

    Forward graph (per unit, over the m columns):
        μ = mean(Z);  Zc = Z − μ;  σ² = mean(Zc²);  std = sqrt(σ² + ε);  r = 1/std;
        Z_norm = Zc·r;  Z̃ = γ·Z_norm + β
    Each line below is the chain rule through one node, last node first. For teaching: slower and
    allocating more than the compact form.
    Returns dZ (n, m), dgamma (n, 1), dbeta (n, 1).
    """
    Z_norm, gamma, inv_std = cache.Z_norm, cache.gamma, cache.inv_std
    dZ_tilde = as_matrix("dZ_tilde", dZ_tilde, *Z_norm.shape, hint="It must match the Z given to batchnorm_forward")
    m = Z_norm.shape[1]
    std = np.sqrt(cache.var + cache.eps)
    Zc = Z_norm * std                                       # the centred input Z − μ

    # Z̃ = γ·Z_norm + β
    dbeta = np.sum(dZ_tilde, axis=1, keepdims=True)
    dgamma = np.sum(dZ_tilde * Z_norm, axis=1, keepdims=True)
    dZ_norm = dZ_tilde * gamma
    # Z_norm = Zc·r  (Zc feeds Z_norm directly and, through σ², a second time)
    dr = np.sum(dZ_norm * Zc, axis=1, keepdims=True)
    dZc = dZ_norm * inv_std
    # r = 1/std
    dstd = -dr / std**2
    # std = sqrt(σ² + ε)
    dvar = dstd / (2 * std)
    # σ² = (1/m) Σ Zc²
    dZc += (2.0 / m) * Zc * dvar
    # Zc = Z − μ
    dmu = -np.sum(dZc, axis=1, keepdims=True)
    dZ = dZc.copy()
    # μ = (1/m) Σ Z
    dZ += dmu / m
    return dZ, dgamma, dbeta


def batchnorm_eval(Z, gamma, beta, running_mu, running_var, eps=1e-5):
    """Test-time Batch Norm: normalize with running averages, not with the batch (works for m = 1).

    Z: (n, m); gamma, beta, running_mu, running_var: (n, 1). Returns Z_tilde (n, m).
    """
    Z, gamma, beta, running_mu, running_var, eps = checked_eval_inputs(Z, gamma, beta, running_mu, running_var, eps)
    Z_norm = (Z - running_mu) / np.sqrt(running_var + eps)
    Z_tilde = gamma * Z_norm + beta
    if not np.isfinite(Z_tilde).all():
        for name, array in (("Z", Z), ("gamma", gamma), ("beta", beta), ("running_mu", running_mu)):
            require_finite(name, array)
    return Z_tilde


def checked_eval_inputs(Z, gamma, beta, running_mu, running_var, eps):
    """The arguments of :func:`batchnorm_eval` as float64 arrays of the right shapes, or a ValueError saying why not."""
    Z, gamma, beta, eps = checked_inputs(Z, gamma, beta, eps, train=False)
    n = Z.shape[0]
    running_mu = as_column("running_mu", running_mu, n)
    running_var = as_column("running_var", running_var, n)
    if not (running_var >= 0).all():  # a negative (or NaN) variance would give NaN outputs, silently
        raise ValueError(f"running_var must hold variances >= 0; got minimum {float(np.min(running_var))}")
    return Z, gamma, beta, running_mu, running_var, eps


def update_running_averages(running_mu, running_var, mu, var, decay=0.9):
    """Exponentially weighted averages of the mini-batch statistics, for test time.

        running_mu  = decay·running_mu  + (1 − decay)·μ
        running_var = decay·running_var + (1 − decay)·σ²

    ``decay`` is the lecture's β of an exponentially weighted average (it is not Batch Norm's β).
    Frameworks: PyTorch's ``momentum`` is 1 − decay (its default 0.1 is decay 0.9) and PyTorch averages
    the unbiased variance m/(m−1)·σ²; Keras' ``momentum`` is decay itself (default 0.99).
    All arguments (n, 1). Returns the new (running_mu, running_var); the inputs are not modified.
    """
    decay = fraction("decay", decay, "the running-average decay")
    n = np.shape(running_mu)[0] if np.ndim(running_mu) else 1  # all four must be (n, 1): no silent broadcasting
    running_mu, running_var, mu, var = (as_column(name, value, n) for name, value in (
        ("running_mu", running_mu), ("running_var", running_var), ("mu", mu), ("var", var)))
    return decay * running_mu + (1 - decay) * mu, decay * running_var + (1 - decay) * var
