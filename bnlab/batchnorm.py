r"""Batch Normalization of one layer, examples as columns.

Train mode normalizes each unit (row) over the mini-batch (columns) with the batch's own statistics:

    μ = (1/m) Σ_i z⁽ⁱ⁾            σ² = (1/m) Σ_i (z⁽ⁱ⁾ − μ)²       (biased: 1/m, not 1/(m−1))
    Z_norm = (Z − μ) / sqrt(σ² + ε)    Z̃ = γ ⊙ Z_norm + β

Test mode uses running averages of μ and σ² collected during training instead of the batch's.

Speed and memory. Z can be large (the benchmark uses 1024 × 4096, 32 MiB), and every pass over it
costs about as much as copying it, so the hot paths (see ``bnlab bench``):
- cache only what backward needs, and no (n, m) array the caller already has: Z itself (a reference,
  not a copy), γ, 1/sqrt(σ² + ε) and μ (σ² too, for the running averages). Neither pass writes Z_norm
  out: both work on Z − μ block by block, in cache, and fold 1/sqrt(σ² + ε) into the per-unit factors
  (γ·Z_norm = (Z − μ)·γ/sqrt(σ² + ε)); ``cache.Z_norm`` computes it for readers of the cache;
- write every (n, m) result into an array allocated once and then updated in place (``out=``, ``*=``),
  so forward+backward allocate two (n, m) arrays in all: Z̃ and dZ;
- compute the per-unit sums as matrix–vector products (Z @ 1, one BLAS pass) and Σ x·y as row-wise dot
  products, with no temporary product array;
- work through Z a block of rows (units) at a time, each block small enough to stay in the CPU cache
  between the passes the formulas make over it, so main memory is read and written about once per
  array instead of once per pass. Units are independent in Batch Norm, so blocking changes no formula
  (only, in the last bit, how BLAS rounds the per-unit sums); a small Z is a single block.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bnlab._validate import as_column, as_matrix, fraction, positive_number, require_finite


class BatchNormCache(NamedTuple):
    """What ``batchnorm_forward`` keeps for the backward pass.

    Z: (n, m) the forward's input itself when it was a float64 array, not a copy (as PyTorch's autograd
    keeps it): modifying that Z in place before the backward pass changes the gradients (other inputs are
    converted to a float64 copy first, and that copy is kept); gamma: (n, 1); inv_std: (n, 1) = 1/sqrt(σ² + ε);
    mu, var: (n, 1) the mini-batch mean and biased variance; eps: the ε used.
    """

    Z: np.ndarray
    gamma: np.ndarray
    inv_std: np.ndarray
    mu: np.ndarray
    var: np.ndarray
    eps: float

    @property
    def Z_norm(self) -> np.ndarray:
        """(Z − μ)/sqrt(σ² + ε), shape (n, m): the normalized Z, computed when asked (a new array)."""
        Z_norm = np.subtract(self.Z, self.mu)
        Z_norm *= self.inv_std
        return Z_norm


# About 1 MiB of float64 per (n, m) array per block: the blocks of Z and Z̃ (Z, dZ̃ and dZ) stay in the
# CPU's last-level cache between passes. Measured on Z of 1024 × 4096 (forward+backward, 2-core VM): 2^17
# and 2^18 are ~7 % faster than 2^16, as each block costs ~12 numpy calls; 2^14, and one block for the whole
# Z (no blocking), are both about 50 % slower than 2^17.
_BLOCK_ELEMENTS = 1 << 17


def _row_blocks(n: int, m: int):
    """Slices of rows (units) covering 0..n, each about _BLOCK_ELEMENTS entries: one slice for a small Z."""
    rows = max(1, _BLOCK_ELEMENTS // m)
    return [slice(start, start + rows) for start in range(0, n, rows)]


def _row_sum(A: np.ndarray) -> np.ndarray:
    """Σ_i A[:, i] for every row, as an (n, 1) column: a BLAS matrix–vector product, faster than A.sum(axis=1)."""
    return (A @ np.ones(A.shape[1]))[:, None]


if hasattr(np, "vecdot"):  # numpy >= 2: one BLAS dot product per row
    def _row_dot(A: np.ndarray, B: np.ndarray) -> np.ndarray:
        """Σ_i A[:, i]·B[:, i] for every row, as an (n, 1) column, without a temporary product array."""
        return np.vecdot(A, B)[:, None]
else:  # pragma: no cover - numpy 1.x
    def _row_dot(A: np.ndarray, B: np.ndarray) -> np.ndarray:
        """Σ_i A[:, i]·B[:, i] for every row, as an (n, 1) column, without a temporary product array."""
        return np.einsum("ij,ij->i", A, B)[:, None]


def _check_inputs(Z, gamma, beta, eps):
    Z = as_matrix("Z", Z)
    n, m = Z.shape
    gamma_ = np.asarray(gamma)
    if gamma_.shape == (m, 1) and m != n:
        raise ValueError(
            f"Z has shape {Z.shape} but gamma has shape {gamma_.shape}: gamma has one value per unit (row of Z). "
            "Did you pass examples as rows? Z must be (n, m) with examples as columns: try Z.T"
        )
    return Z, as_column("gamma", gamma, n), as_column("beta", beta, n), positive_number("eps", eps)


def batchnorm_forward(Z, gamma, beta, eps=1e-5):
    """Training-mode Batch Norm over a mini-batch (examples are columns).

    Z: (n, m) pre-activations, m ≥ 2; gamma, beta: (n, 1); eps > 0.
    Returns Z_tilde (n, m) and a :class:`BatchNormCache` for :func:`batchnorm_backward`.
    """
    Z, gamma, beta, eps = _check_inputs(Z, gamma, beta, eps)
    n, m = Z.shape
    if m < 2:
        raise ValueError(
            f"Z has shape {Z.shape}: a mini-batch of {m} example cannot be normalized in train mode "
            "(its variance is 0, so Z_norm would be 0 whatever Z is). Use m >= 2, or eval mode "
            "(batchnorm_eval with running averages) to predict one example."
        )
    Z_tilde = np.empty_like(Z)
    mu, var, inv_std = np.empty((n, 1)), np.empty((n, 1)), np.empty((n, 1))
    for rows in _row_blocks(n, m):  # blocks of units, for the cache (see the module docstring)
        mu[rows] = _row_sum(Z[rows]) / m  # per block too, so Z is read from memory once, not twice
        if not np.isfinite(mu[rows]).all():  # the cheap test, before any work on NaN; the scan says where
            require_finite("Z", Z)
            raise ValueError("Z holds values too large to average in float64 (the mean overflows); expected finite sums")
        var[rows], inv_std[rows] = _forward_block(Z[rows], mu[rows], gamma[rows], beta[rows], eps, Z_tilde[rows])
    return Z_tilde, BatchNormCache(Z, gamma, inv_std, mu, var, eps)


def _forward_block(Z, mu, gamma, beta, eps, Z_tilde):
    """The forward formulas on some rows of Z, written into those rows of Z_tilde.

    Returns the (rows, 1) columns σ² and 1/sqrt(σ² + ε).
    """
    m = Z.shape[1]
    Z_centred = np.subtract(Z, mu, out=Z_tilde)  # Z − μ, in Z̃'s memory: Z̃ is built there in place
    var = _row_dot(Z_centred, Z_centred) / m      # biased variance, two-pass (stable for large |μ|)
    inv_std = 1.0 / np.sqrt(var + eps)
    Z_tilde *= gamma * inv_std                    # γ·Z_norm = (Z − μ)·(γ/sqrt(σ² + ε)): one pass, not two
    Z_tilde += beta
    return var, inv_std


def batchnorm_backward(dZ_tilde, cache: BatchNormCache):
    """Backward pass of training-mode Batch Norm, in the compact closed form.

    dZ_tilde: (n, m) gradient of the loss w.r.t. Z̃; cache: from :func:`batchnorm_forward`.
    Returns dZ (n, m), dgamma (n, 1), dbeta (n, 1):

        dβ = Σ_i dZ̃   dγ = Σ_i dZ̃ ⊙ Z_norm
        dZ = γ/sqrt(σ²+ε) ⊙ (dZ̃ − (dβ + Z_norm ⊙ dγ)/m)
    """
    Z, gamma, inv_std, mu = cache.Z, cache.gamma, cache.inv_std, cache.mu
    dZ_tilde = as_matrix("dZ_tilde", dZ_tilde, *Z.shape, hint="It must match the Z given to batchnorm_forward")
    n, m = Z.shape
    dZ = np.empty_like(Z)
    dgamma, dbeta = np.empty((n, 1)), np.empty((n, 1))
    for rows in _row_blocks(n, m):  # blocks of units, for the cache (see the module docstring)
        dgamma[rows], dbeta[rows] = _backward_block(dZ_tilde[rows], Z[rows], mu[rows], inv_std[rows], gamma[rows],
                                                    dZ[rows])
    if not np.isfinite(dbeta).all():
        require_finite("dZ_tilde", dZ_tilde)
    return dZ, dgamma, dbeta


def _backward_block(dZ_tilde, Z, mu, inv_std, gamma, dZ):
    """The compact backward on some rows, written into those rows of dZ.

    Returns the (rows, 1) columns dγ, dβ.
    """
    m = Z.shape[1]
    Z_centred = np.subtract(Z, mu, out=dZ)        # Z − μ, in dZ's memory: dZ is built there in place
    dbeta = _row_sum(dZ_tilde)
    dgamma = _row_dot(dZ_tilde, Z_centred) * inv_std  # Σ dZ̃·Z_norm, as Z_norm = (Z − μ)/sqrt(σ² + ε)
    # dZ = γ/sqrt(σ²+ε)·(dZ̃ − (dβ + Z_norm·dγ)/m), in the one array: Z_norm·dγ/m + dβ/m first.
    dZ *= dgamma * inv_std / m
    dZ += dbeta / m
    np.subtract(dZ_tilde, dZ, out=dZ)
    dZ *= gamma * inv_std
    return dgamma, dbeta


def batchnorm_backward_steps(dZ_tilde, cache: BatchNormCache):
    """The same gradients as :func:`batchnorm_backward`, by walking the computation graph backwards.

    Forward graph (per unit, over the m columns):
        μ = mean(Z);  Zc = Z − μ;  σ² = mean(Zc²);  std = sqrt(σ² + ε);  r = 1/std;
        Z_norm = Zc·r;  Z̃ = γ·Z_norm + β
    Each line below is the chain rule through one node, last node first. For teaching: slower and
    allocating more than the compact form.
    Returns dZ (n, m), dgamma (n, 1), dbeta (n, 1).
    """
    gamma, inv_std = cache.gamma, cache.inv_std
    dZ_tilde = as_matrix("dZ_tilde", dZ_tilde, *cache.Z.shape, hint="It must match the Z given to batchnorm_forward")
    m = cache.Z.shape[1]
    std = np.sqrt(cache.var + cache.eps)
    Zc = cache.Z - cache.mu                                 # the centred input Z − μ
    Z_norm = Zc * inv_std

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
    Z, gamma, beta, eps = _check_inputs(Z, gamma, beta, eps)
    n = Z.shape[0]
    running_mu = as_column("running_mu", running_mu, n)
    running_var = as_column("running_var", running_var, n)
    if not (running_var >= 0).all():  # a negative (or NaN) variance would give NaN outputs, silently
        raise ValueError(f"running_var must hold variances >= 0; got minimum {float(np.min(running_var))}")
    scale = gamma / np.sqrt(running_var + eps)  # fold γ/sqrt(σ²+ε) and the shift into one affine map
    Z_tilde = np.multiply(Z, scale)
    Z_tilde += beta - running_mu * scale
    if not np.isfinite(Z_tilde).all():
        for name, array in (("Z", Z), ("gamma", gamma), ("beta", beta), ("running_mu", running_mu)):
            require_finite(name, array)
    return Z_tilde


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
