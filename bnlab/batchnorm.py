r"""Batch Normalization of one layer, examples as columns.

Train mode normalizes each unit (row) over the mini-batch (columns) with the batch's own statistics:

    μ = (1/m) Σ_i z⁽ⁱ⁾            σ² = (1/m) Σ_i (z⁽ⁱ⁾ − μ)²       (biased: 1/m, not 1/(m−1))
    Z_norm = (Z − μ) / sqrt(σ² + ε)    Z̃ = γ ⊙ Z_norm + β

Test mode uses running averages of μ and σ² collected during training instead of the batch's.

The functions here are written as the lecture writes them and are also the fast ones that ``Network`` runs:
each (n, m) result is computed in the memory of an array allocated once (``out=``, ``*=``), per-unit sums
are one matrix–vector or row-wise dot product (no temporary), a large Z is worked through a few units
at a time (:func:`row_blocks`) so that each pass over a block finds it in the CPU cache, and numpy's ufunc
buffer is one row long while the per-unit columns are broadcast (:class:`row_buffers`).

Precision: inputs are converted to float64 and results are float64 (float32 input is upcast, never
computed in float32).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bnlab._validate import NonFiniteError, as_column, as_matrix, fraction, positive_number, require_finite


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


# --- the three helpers the formulas use -------------------------------------------------------------------

# About 1 MiB of float64 per (n, m) array per block, so a block of Z, Z_norm and Z̃ stays in the CPU cache
# between the passes the formulas make over it and main memory is read and written about once per array.
BLOCK_ELEMENTS = 1 << 17


def row_blocks(n: int, m: int) -> list[slice]:
    """Slices of rows (units) covering 0..n, each about BLOCK_ELEMENTS entries; one slice for a small Z.

    Units are independent in Batch Norm, so working through Z block by block changes no formula.
    """
    rows = max(1, BLOCK_ELEMENTS // m)
    return [slice(start, start + rows) for start in range(0, n, rows)]


class row_buffers:
    """``with row_buffers(m):`` — numpy's ufunc buffer set to one row of m examples, for the per-unit broadcasts.

    An (n, 1) column broadcast over (n, m) rows (Z − μ, γ ⊙ Z_norm, …) has stride 0 along a row, and numpy
    copies it into its ufunc buffer (8192 entries) when the rows are shorter than that buffer (a profile shows
    the copy); with a buffer of one row (m rounded down to a multiple of 16) it does not. Same results, bit for
    bit. Measured per broadcast: about 2× faster on (32, 4096), 1.3× on (256, 256); slower for rows under 256
    examples and no different from 8192 on, so there the buffer is left as it is. The buffer size is numpy's
    per-thread setting, restored on exit.
    """

    __slots__ = ("size", "saved")

    def __init__(self, m: int):
        size = np.getbufsize()
        self.size = m - m % 16 if 256 <= m < size else size   # numpy wants a multiple of 16

    def __enter__(self):
        self.saved = np.setbufsize(self.size)   # also where nothing changes: the same calls for every shape

    def __exit__(self, *exc_info):
        np.setbufsize(self.saved)


def row_sum(A: np.ndarray) -> np.ndarray:
    """Σ_i A[:, i] for every row, as an (n, 1) column: A @ 1, one BLAS pass, faster than A.sum(axis=1)."""
    return (A @ np.ones(A.shape[1]))[:, None]


if hasattr(np, "vecdot"):  # numpy >= 2
    def row_dot(A: np.ndarray, B: np.ndarray) -> np.ndarray:
        """Σ_i A[:, i]·B[:, i] for every row, as an (n, 1) column, without a temporary product array."""
        return np.vecdot(A, B)[:, None]
else:  # pragma: no cover - numpy 1.x
    def row_dot(A: np.ndarray, B: np.ndarray) -> np.ndarray:
        """Σ_i A[:, i]·B[:, i] for every row, as an (n, 1) column, without a temporary product array."""
        return np.einsum("ij,ij->i", A, B)[:, None]


# --- checks -----------------------------------------------------------------------------------------------

def checked_inputs(Z, gamma, beta, eps, train=True):
    """Z as a float64 (n, m) array, gamma and beta as finite (n, 1) columns, eps > 0; or a ValueError saying why not.

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
    if not (np.isfinite(gamma).all() and np.isfinite(beta).all()):  # else that unit's Z̃ is NaN, in either mode
        require_finite("gamma", gamma)
        require_finite("beta", beta)
    if train and m < 2:
        raise ValueError(
            f"Z has shape {Z.shape}: a mini-batch of {m} example cannot be normalized in train mode "
            "(its variance is 0, so Z_norm would be 0 whatever Z is). Use m >= 2, or eval mode "
            "(batchnorm_eval with running averages) to predict one example."
        )
    return Z, gamma, beta, eps


def output_array(out, shape, name="out", may_be=None, must_not_overlap=()):
    """``out`` if it is a writable float64 array of ``shape`` that shares no memory with ``must_not_overlap``
    (``may_be`` itself is allowed: the formula reads each entry before it writes it); a new array if None."""
    if out is None:
        return np.empty(shape)
    if not isinstance(out, np.ndarray) or out.dtype != np.float64 or out.shape != shape or not out.flags.writeable:
        found = f"{type(out).__name__} {getattr(out, 'dtype', '')} of shape {np.shape(out)}"
        raise ValueError(f"{name} must be a writable float64 array of shape {shape}; got {found}")
    if out is not may_be and any(np.may_share_memory(out, a) for a in (may_be, *must_not_overlap) if a is not None):
        raise ValueError(f"{name} must not share memory with the inputs"
                         + (" (it may be the input itself)" if may_be is not None else ""))
    return out


def _too_large(Z, rows):
    """The error for Z whose rows ``rows`` have a mean or variance that is not finite: NaN/inf in Z is named
    first; else finite values too large for float64 sums (a raised error rather than a silent Z̃ = β)."""
    require_finite("Z", Z)
    with np.errstate(over="ignore"):
        mu = row_sum(Z[rows]) / Z.shape[1]
        if not np.isfinite(mu).all():
            return NonFiniteError("Z holds values too large to average in float64 (the mean overflows); "
                                  "expected finite sums")
        unit = rows.start + int(np.argmax(~np.isfinite(row_dot(Z[rows] - mu, Z[rows] - mu))))
    return NonFiniteError(
        f"Z holds values too far apart for their variance in float64: the variance of unit {unit} overflows "
        f"(its values range from {Z[unit].min():.3g} to {Z[unit].max():.3g}); expected |Z − μ| below about 1e154, "
        "whose squares fit in float64 (values this large usually mean the weights diverged)")


def _cache_parts(cache, function):
    """(Z_norm, gamma, inv_std) of a BatchNormCache, or of exercise 1's tuple (Z_norm, gamma, inv_std), checked."""
    if isinstance(cache, BatchNormCache):
        return cache.Z_norm, cache.gamma, cache.inv_std
    if not isinstance(cache, tuple) or len(cache) != 3:
        found = f"a tuple of {len(cache)}" if isinstance(cache, tuple) else type(cache).__name__
        raise TypeError(f"{function} needs the cache of batchnorm_forward (a BatchNormCache) or exercise 1's tuple "
                        f"(Z_norm, gamma, inv_std); got {found}")
    Z_norm = as_matrix("the cache's Z_norm", cache[0])
    n = Z_norm.shape[0]
    return Z_norm, as_column("the cache's gamma", cache[1], n), as_column("the cache's inv_std", cache[2], n)


# --- train mode ---------------------------------------------------------------------------------------------

def batchnorm_forward(Z, gamma, beta, eps=1e-5, *, out=None):
    """Training-mode Batch Norm over a mini-batch (examples are columns).

    Z: (n, m) pre-activations, m ≥ 2; gamma, beta: finite (n, 1); eps > 0. Inputs are converted to float64.
    out: optional float64 (n, m) array to write Z̃ into; it may be Z itself (Z is then overwritten).
    Returns Z_tilde (n, m) float64 and a :class:`BatchNormCache` for :func:`batchnorm_backward`.
    Raises a ValueError (a ``NonFiniteError``) if Z holds NaN or inf, or values so large or far apart that
    their mean or variance overflows float64 (|Z − μ| ≳ 1e154).
    """
    Z, gamma, beta, eps = checked_inputs(Z, gamma, beta, eps)
    n, m = Z.shape
    Z_tilde = output_array(out, Z.shape, may_be=Z, must_not_overlap=(gamma, beta))
    Z_norm = np.empty(Z.shape)
    mu, var, inv_std = np.empty((n, 1)), np.empty((n, 1)), np.empty((n, 1))
    with row_buffers(m):
        for rows in row_blocks(n, m):                     # a few units at a time (one block for a small Z)
            z, z_norm, z_tilde = Z[rows], Z_norm[rows], Z_tilde[rows]     # this block's units (views)
            with np.errstate(over="ignore", invalid="ignore"):  # NaN/inf or overflow end in σ², checked below
                mu_b = row_sum(z) / m                     # μ = (1/m) Σ_i z⁽ⁱ⁾
                np.subtract(z, mu_b, out=z_norm)          # Z − μ, kept in Z_norm's memory
                var_b = row_dot(z_norm, z_norm) / m       # σ² = (1/m) Σ_i (z⁽ⁱ⁾ − μ)², two-pass: stable for large |μ|
            if not np.isfinite(var_b).all():              # else Z_norm would be NaN, or 0 with Z̃ = β
                raise _too_large(Z, rows)
            inv_std_b = 1.0 / np.sqrt(var_b + eps)        # 1/sqrt(σ² + ε)
            z_norm *= inv_std_b                           # Z_norm = (Z − μ)/sqrt(σ² + ε)
            np.multiply(z_norm, gamma[rows], out=z_tilde)
            z_tilde += beta[rows]                         # Z̃ = γ ⊙ Z_norm + β
            mu[rows], var[rows], inv_std[rows] = mu_b, var_b, inv_std_b
    return Z_tilde, BatchNormCache(Z_norm, gamma, inv_std, mu, var, eps)


def batchnorm_backward(dZ_tilde, cache, *, out=None):
    """Backward pass of training-mode Batch Norm, in the compact closed form.

    dZ_tilde: (n, m) gradient of the loss w.r.t. Z̃ (converted to float64); cache: the
    :class:`BatchNormCache` of :func:`batchnorm_forward`, or exercise 1's tuple (Z_norm, gamma, inv_std).
    out: optional float64 (n, m) array, sharing no memory with dZ_tilde or the cache, to write dZ into.
    Returns dZ (n, m), dgamma (n, 1), dbeta (n, 1), all float64:

        dβ = Σ_i dZ̃   dγ = Σ_i dZ̃ ⊙ Z_norm
        dZ = γ/sqrt(σ²+ε) ⊙ (dZ̃ − (dβ + Z_norm ⊙ dγ)/m)
    """
    Z_norm, gamma, inv_std = _cache_parts(cache, "batchnorm_backward")
    dZ_tilde = as_matrix("dZ_tilde", dZ_tilde, *Z_norm.shape, hint="It must match the Z given to batchnorm_forward")
    n, m = Z_norm.shape
    dZ = output_array(out, Z_norm.shape, must_not_overlap=(dZ_tilde, Z_norm, gamma, inv_std))
    dgamma, dbeta = np.empty((n, 1)), np.empty((n, 1))
    with row_buffers(m):
        for rows in row_blocks(n, m):
            dz_tilde, z_norm, dz = dZ_tilde[rows], Z_norm[rows], dZ[rows]   # this block's units (views)
            dbeta_b = row_sum(dz_tilde)                   # dβ = Σ_i dZ̃
            dgamma_b = row_dot(dz_tilde, z_norm)          # dγ = Σ_i dZ̃ ⊙ Z_norm
            np.multiply(z_norm, dgamma_b / m, out=dz)     # dZ, built right to left in its own memory:
            dz += dbeta_b / m                             #   (dβ + Z_norm ⊙ dγ)/m
            np.subtract(dz_tilde, dz, out=dz)             #   dZ̃ − (dβ + Z_norm ⊙ dγ)/m
            dz *= gamma[rows] * inv_std[rows]             #   γ/sqrt(σ²+ε) ⊙ (…)
            dgamma[rows], dbeta[rows] = dgamma_b, dbeta_b
    if not np.isfinite(dbeta).all():
        require_finite("dZ_tilde", dZ_tilde)
    return dZ, dgamma, dbeta


def batchnorm_backward_steps(dZ_tilde, cache):
    """The same gradients as :func:`batchnorm_backward`, by walking the computation graph backwards.

    Forward graph (per unit, over the m columns):
        μ = mean(Z);  Zc = Z − μ;  σ² = mean(Zc²);  std = sqrt(σ² + ε);  r = 1/std;
        Z_norm = Zc·r;  Z̃ = γ·Z_norm + β
    Each line below is the chain rule through one node, last node first. For teaching: slower and
    allocating more than the compact form. Takes the same inputs (float64 after conversion) and cache.
    Returns dZ (n, m), dgamma (n, 1), dbeta (n, 1), float64.
    """
    Z_norm, gamma, inv_std = _cache_parts(cache, "batchnorm_backward_steps")
    dZ_tilde = as_matrix("dZ_tilde", dZ_tilde, *Z_norm.shape, hint="It must match the Z given to batchnorm_forward")
    m = Z_norm.shape[1]
    std = 1.0 / inv_std                                     # sqrt(σ² + ε), rebuilt as exercise 2 does
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


# --- test mode ----------------------------------------------------------------------------------------------

def batchnorm_eval(Z, gamma, beta, running_mu, running_var, eps=1e-5, *, out=None):
    """Test-time Batch Norm: normalize with running averages, not with the batch (works for m = 1).

    Z: (n, m); gamma, beta, running_mu, running_var: finite (n, 1) (running_var >= 0). Inputs are converted
    to float64. out: optional float64 (n, m) array to write Z̃ into (it may be Z itself).
    Returns Z_tilde (n, m) float64:

        Z̃ = γ ⊙ (Z − μ)/sqrt(σ² + ε) + β  =  Z ⊙ scale + (β − μ ⊙ scale),  scale = γ/sqrt(σ² + ε)

    computed in the second form: one multiply and one add over Z.
    """
    Z, gamma, beta, running_mu, running_var, eps = checked_eval_inputs(Z, gamma, beta, running_mu, running_var, eps)
    Z_tilde = output_array(out, Z.shape, may_be=Z, must_not_overlap=(gamma, beta, running_mu, running_var))
    scale = gamma / np.sqrt(running_var + eps)              # (n, 1)
    with row_buffers(Z.shape[1]):
        np.multiply(Z, scale, out=Z_tilde)
        Z_tilde += beta - running_mu * scale
    if not np.isfinite(row_sum(Z_tilde)).all():             # NaN/inf in Z (the columns are checked already)
        require_finite("Z", Z)
    return Z_tilde


def checked_eval_inputs(Z, gamma, beta, running_mu, running_var, eps):
    """The arguments of :func:`batchnorm_eval` as float64 arrays of the right shapes, or a ValueError saying why not."""
    Z, gamma, beta, eps = checked_inputs(Z, gamma, beta, eps, train=False)
    n = Z.shape[0]
    running_mu = as_column("running_mu", running_mu, n)
    running_var = as_column("running_var", running_var, n)
    require_finite("running_mu", running_mu)
    if not (running_var >= 0).all():  # a negative (or NaN) variance would give NaN outputs, silently
        raise ValueError(f"running_var must hold variances >= 0; got minimum {float(np.min(running_var))}")
    require_finite("running_var", running_var)  # an infinite one would give Z̃ = β whatever Z is
    return Z, gamma, beta, running_mu, running_var, eps


def update_running_averages(running_mu, running_var, mu, var, decay=0.9):
    """Exponentially weighted averages of the mini-batch statistics, for test time.

        running_mu  = decay·running_mu  + (1 − decay)·μ
        running_var = decay·running_var + (1 − decay)·σ²

    ``decay`` is the lecture's β of an exponentially weighted average (it is not Batch Norm's β).
    Frameworks: PyTorch's ``momentum`` is 1 − decay (its default 0.1 is decay 0.9) and PyTorch averages
    the unbiased variance m/(m−1)·σ²; Keras' ``momentum`` is decay itself (default 0.99).
    All arguments (n, 1), converted to float64. Returns the new (running_mu, running_var), float64; the
    inputs are not modified.
    """
    decay = fraction("decay", decay, "the running-average decay")
    n = np.shape(running_mu)[0] if np.ndim(running_mu) else 1  # all four must be (n, 1): no silent broadcasting
    running_mu, running_var, mu, var = (as_column(name, value, n) for name, value in (
        ("running_mu", running_mu), ("running_var", running_var), ("mu", mu), ("var", var)))
    return decay * running_mu + (1 - decay) * mu, decay * running_var + (1 - decay) * var
