r"""The fast versions of the lecture's formulas, for the optimizer classes and ``bnlab bench`` (``Network`` uses none).

Learners: read :mod:`bnlab.batchnorm`, :mod:`bnlab.optimizers` and :mod:`bnlab.network` instead. This module
computes the same formulas (tests pin the two versions to round-off) with three speed tricks that would hide
them there:

- **In place.** Every (n, m) result is written into an array allocated once (``out=``, ``*=``): on the
  course's small arrays a fresh temporary costs more than the arithmetic.
- **Blocks of units.** Batch Norm works through Z a block of rows (units) at a time, each block small enough
  to stay in the CPU cache between the passes the formulas make over it, so main memory is read and written
  about once per array instead of once per pass. Units are independent in Batch Norm, so blocking changes no
  formula (only, in the last bit, how BLAS rounds the per-unit sums); a small Z is a single block. Per-unit
  sums are matrix–vector products (Z @ 1) and Σ x·y row-wise dot products: one BLAS pass, no temporary.
- **One flat vector.** An optimizer step is 2 to 12 elementwise passes over every parameter; done per array
  (11 arrays for the paper's 784-100-100-100-10 net) the calls' fixed cost outweighs the arithmetic, so the
  optimizer classes keep the parameters, v and s each as ONE float64 vector and apply the rule once.

Inputs here are not checked: the public functions and classes check them first.
"""
from __future__ import annotations

import numpy as np

from bnlab._validate import require_finite
from bnlab.batchnorm import BatchNormCache

# --- Batch Norm, block by block --------------------------------------------------------------------------

# About 1 MiB of float64 per (n, m) array per block: the blocks of Z, Z_norm and Z̃ (Z_norm, dZ̃ and dZ) stay
# in the CPU's last-level cache between passes. Measured on Z of 1024 × 4096 (forward+backward, 2-core VM):
# 2^17 and 2^18 are ~7 % faster than 2^16, as each block costs ~12 numpy calls; 2^14, and one block for the
# whole Z (no blocking), are both about 50 % slower than 2^17.
BLOCK_ELEMENTS = 1 << 17


def row_blocks(n: int, m: int) -> list[slice]:
    """Slices of rows (units) covering 0..n, each about BLOCK_ELEMENTS entries: one slice for a small Z."""
    rows = max(1, BLOCK_ELEMENTS // m)
    return [slice(start, start + rows) for start in range(0, n, rows)]


def row_sum(A: np.ndarray) -> np.ndarray:
    """Σ_i A[:, i] for every row, as an (n, 1) column: a BLAS matrix–vector product, faster than A.sum(axis=1)."""
    return (A @ np.ones(A.shape[1]))[:, None]


if hasattr(np, "vecdot"):  # numpy >= 2: one BLAS dot product per row
    def row_dot(A: np.ndarray, B: np.ndarray) -> np.ndarray:
        """Σ_i A[:, i]·B[:, i] for every row, as an (n, 1) column, without a temporary product array."""
        return np.vecdot(A, B)[:, None]
else:  # pragma: no cover - numpy 1.x
    def row_dot(A: np.ndarray, B: np.ndarray) -> np.ndarray:
        """Σ_i A[:, i]·B[:, i] for every row, as an (n, 1) column, without a temporary product array."""
        return np.einsum("ij,ij->i", A, B)[:, None]


def batchnorm_forward(Z, gamma, beta, eps):
    """:func:`bnlab.batchnorm.batchnorm_forward` on checked inputs (Z float64 (n, m) with m ≥ 2; γ, β (n, 1)).

    Returns Z_tilde (n, m) and the same :class:`~bnlab.batchnorm.BatchNormCache`.
    """
    n, m = Z.shape
    Z_norm, Z_tilde = np.empty_like(Z), np.empty_like(Z)
    mu, var, inv_std = np.empty((n, 1)), np.empty((n, 1)), np.empty((n, 1))
    for rows in row_blocks(n, m):
        mu[rows] = row_sum(Z[rows]) / m  # per block too, so Z is read from memory once, not twice
        if not np.isfinite(mu[rows]).all():  # the cheap test, before any work on NaN; the scan says where
            require_finite("Z", Z)
            raise ValueError("Z holds values too large to average in float64 (the mean overflows); expected finite sums")
        var[rows], inv_std[rows] = _forward_block(Z[rows], mu[rows], gamma[rows], beta[rows], eps,
                                                  Z_norm[rows], Z_tilde[rows])
    return Z_tilde, BatchNormCache(Z_norm, gamma, inv_std, mu, var, eps)


def _forward_block(Z, mu, gamma, beta, eps, Z_norm, Z_tilde):
    """The forward formulas on some rows, written into those rows of Z_norm and Z_tilde. Returns σ², 1/sqrt(σ² + ε)."""
    m = Z.shape[1]
    np.subtract(Z, mu, out=Z_norm)                    # Z − μ, in Z_norm's memory
    var = row_dot(Z_norm, Z_norm) / m                 # biased variance, two-pass (stable for large |μ|)
    inv_std = 1.0 / np.sqrt(var + eps)
    Z_norm *= inv_std                                 # Z_norm = (Z − μ)/sqrt(σ² + ε)
    np.multiply(Z_norm, gamma, out=Z_tilde)
    Z_tilde += beta                                   # Z̃ = γ·Z_norm + β
    return var, inv_std


def batchnorm_backward(dZ_tilde, cache: BatchNormCache):
    """:func:`bnlab.batchnorm.batchnorm_backward` on a checked dZ̃ (float64, the shape of Z). Returns dZ, dγ, dβ."""
    Z_norm, gamma, inv_std = cache.Z_norm, cache.gamma, cache.inv_std
    n, m = Z_norm.shape
    dZ = np.empty_like(Z_norm)
    dgamma, dbeta = np.empty((n, 1)), np.empty((n, 1))
    for rows in row_blocks(n, m):
        dgamma[rows], dbeta[rows] = _backward_block(dZ_tilde[rows], Z_norm[rows], gamma[rows], inv_std[rows], dZ[rows])
    if not np.isfinite(dbeta).all():
        require_finite("dZ_tilde", dZ_tilde)
    return dZ, dgamma, dbeta


def _backward_block(dZ_tilde, Z_norm, gamma, inv_std, dZ):
    """dZ = γ/sqrt(σ²+ε)·(dZ̃ − (dβ + Z_norm·dγ)/m) on some rows, written into those rows of dZ. Returns dγ, dβ."""
    m = Z_norm.shape[1]
    dbeta = row_sum(dZ_tilde)                         # Σ dZ̃
    dgamma = row_dot(dZ_tilde, Z_norm)                # Σ dZ̃·Z_norm
    np.multiply(Z_norm, dgamma / m, out=dZ)
    dZ += dbeta / m                                   # (dβ + Z_norm·dγ)/m
    np.subtract(dZ_tilde, dZ, out=dZ)
    dZ *= gamma * inv_std
    return dgamma, dbeta


def batchnorm_eval(Z, gamma, beta, running_mu, running_var, eps):
    """:func:`bnlab.batchnorm.batchnorm_eval` on checked inputs, as one affine map: γ/sqrt(σ²+ε) and the shift
    folded into a scale and an offset per unit (one multiply and one add over Z instead of four passes)."""
    scale = gamma / np.sqrt(running_var + eps)
    Z_tilde = np.multiply(Z, scale)
    Z_tilde += beta - running_mu * scale
    return Z_tilde


# --- Optimizer rules on one flat vector ------------------------------------------------------------------
# Each rule is an optimizer class's ``_flat_update`` (``Adam._flat_update = adam_rule``), so its first argument
# is the optimizer, whose hyperparameters it reads. It updates the state vectors (v, s) in place, computes in
# ``scratch`` and writes the new p into ``out`` (float64 vectors of p's size): the p it was given is never changed.

def gd_rule(gd, p, dp, scratch, out):
    """p − α·dp."""
    np.multiply(dp, gd.learning_rate, out=scratch)
    return np.subtract(p, scratch, out=out)


def momentum_rule(momentum, p, dp, v, scratch, out):
    """v := β_m·v + (1 − β_m)·dp;  p − α·v."""
    v *= momentum.momentum_beta
    np.multiply(dp, 1 - momentum.momentum_beta, out=scratch)
    v += scratch
    np.multiply(v, momentum.learning_rate, out=scratch)
    return np.subtract(p, scratch, out=out)


def rmsprop_rule(rmsprop, p, dp, s, scratch, out):
    """s := β2·s + (1 − β2)·dp²;  p − α·dp/(√s + ε)."""
    _decayed_average_of_squares(s, dp, rmsprop.beta2, scratch)
    np.sqrt(s, out=scratch)
    scratch += rmsprop.epsilon                       # √s + ε
    np.multiply(dp, rmsprop.learning_rate, out=out)  # out holds the step first
    out /= scratch                                   # α·dp/(√s + ε)
    return np.subtract(p, out, out=out)


def adam_rule(adam, p, dp, v, s, scratch, out):
    """v := β1·v + (1 − β1)·dp;  s := β2·s + (1 − β2)·dp²;  p − α·v̂/(√ŝ + ε) with v̂ = v/c1, ŝ = s/c2 at step adam.t.

    Multiplying above and below by √c2 gives (α·√c2/c1)·v/(√s + ε·√c2): the bias corrections become two
    scalars (as in PyTorch's Adam), which saves two passes over every parameter. Same formula; the last bit
    can differ from the lecture's order of operations (round-off, about 1e-16 relative).
    """
    beta1, beta2, t = adam.beta1, adam.beta2, adam.t
    np.multiply(dp, 1 - beta1, out=scratch)
    v *= beta1
    v += scratch                                     # v = β1·v + (1 − β1)·dp
    _decayed_average_of_squares(s, dp, beta2, scratch)
    c1, root_c2 = 1 - beta1**t, np.sqrt(1 - beta2**t)
    np.sqrt(s, out=scratch)
    scratch += adam.epsilon * root_c2                # √s + ε·√c2
    np.divide(v, scratch, out=out)                   # out holds the step first
    out *= adam.learning_rate * root_c2 / c1         # α·v̂/(√ŝ + ε)
    return np.subtract(p, out, out=out)


def _decayed_average_of_squares(s, dp, beta2, scratch):
    """s = β2·s + (1 − β2)·dp², in place (RMSprop and Adam)."""
    np.square(dp, out=scratch)
    scratch *= 1 - beta2
    s *= beta2
    s += scratch


class FlatParameters:
    """One network's parameters, and an optimizer's state for them, each kept as ONE float64 vector.

    ``pack`` gives the parameters and gradients as two vectors, ``state`` holds one vector per name in
    ``state_names`` (v, s), and ``unpack`` turns a new parameter vector into a dict of views of it: earlier
    parameters never change, and one kept array keeps that whole vector in memory. When the parameters
    packed are exactly the views the last ``unpack`` returned (the usual training loop), nothing is copied
    in. ``state_views(name)`` shows a state vector as a dict keyed by gradient name.
    """

    def __init__(self, state_names):
        self.state_names = tuple(state_names)
        self.state = []           # one vector per name in state_names
        self.scratch = None       # a work vector for the rules
        self._shapes = None       # {name: shape} of the parameters, in the order of the first step
        self._slices = None       # where each parameter sits in a vector
        self._returned = None     # (vector, [(name, view)]) of the parameters the last unpack returned

    def pack(self, parameters, grads, check_state):
        """(p, dp): the parameters and their gradients as vectors (names and shapes checked by the caller).

        When the parameters' layout changed, ``check_state(name, state_dict)`` is called for each state vector
        (it raises if the state cannot serve these parameters), then the state starts again at 0.
        """
        p = self._last_vector(parameters)
        if p is None:  # not the parameters the last unpack returned: check the layout, then copy them in
            if self._shapes != {name: np.shape(a) for name, a in parameters.items()}:
                if self._shapes is not None:
                    for name in self.state_names:  # another network than before: say how v, s and grads differ
                        check_state(name, self.state_views(name))
                self._start(parameters)  # the first step (or gradient descent, which keeps no state, on another network)
            p = np.concatenate([np.ravel(parameters[name]) for name in self._shapes], dtype=np.float64)
        dp = np.concatenate([np.ravel(grads[f"d{name}"]) for name in self._shapes], dtype=np.float64)
        return p, dp

    def unpack(self, p):
        """{name: the part of the vector p holding that parameter, in its shape}, remembered for the next pack."""
        views = self._views(p, prefix="")
        self._returned = p, list(views.items())  # not the dict itself: the caller may put new arrays in it
        return views

    def state_views(self, name):
        """The state vector ``name`` ("v" or "s") as a dict keyed by gradient name; None before the first step."""
        if self._shapes is None:
            return None
        return self._views(self.state[self.state_names.index(name)], prefix="d")

    def _start(self, parameters):
        self._returned = None
        self._shapes = {name: np.shape(p) for name, p in parameters.items()}
        ends = np.cumsum([int(np.prod(shape)) for shape in self._shapes.values()]).tolist()
        self._slices = [slice(start, end) for start, end in zip([0] + ends, ends)]
        self.scratch = np.empty(ends[-1])
        self.state = [np.zeros_like(self.scratch) for _ in self.state_names]

    def _views(self, flat, prefix):
        return {prefix + name: flat[part].reshape(shape)
                for (name, shape), part in zip(self._shapes.items(), self._slices)}

    def _last_vector(self, parameters):
        """The vector behind the parameters the last unpack returned, if ``parameters`` are exactly those views
        (the usual case in a training loop: no copy, and the layout is known); else None."""
        if self._returned is not None:
            flat, views = self._returned
            if len(parameters) == len(views) and all(parameters.get(k) is a for k, a in views):
                return flat
        return None
