"""Batch Norm of one layer: forward (train mode), both backward passes, eval mode, running averages."""
from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pytest

import bnlab
import bnlab.batchnorm
from bnlab import (BatchNormCache, batchnorm_backward, batchnorm_backward_steps, batchnorm_eval, batchnorm_forward,
                   numerical_gradient, update_running_averages)
from bnlab._validate import NonFiniteError
from bnlab.batchnorm import row_blocks, row_buffers
from conftest import assert_gradients_match, scalar_loss_of

BACKWARDS = [batchnorm_backward, batchnorm_backward_steps]


def make_Z(rng, n=4, m=7):
    """(n, m) pre-activations whose units have very different means and spreads."""
    return rng.normal(size=(n, m)) * rng.uniform(0.5, 5.0, (n, 1)) + rng.uniform(-10, 10, (n, 1))


def make_gamma_beta(rng, n=4):
    return rng.uniform(0.5, 2.0, (n, 1)), rng.uniform(-1.0, 1.0, (n, 1))


def reference_Z_norm(Z, eps):
    """The lecture's formula written out independently: per unit (row), over the batch (columns)."""
    return (Z - Z.mean(axis=1, keepdims=True)) / np.sqrt(Z.var(axis=1, ddof=0, keepdims=True) + eps)


# --- forward -----------------------------------------------------------------------------------------

def test_forward_matches_the_lecture_formula(rng):
    Z = make_Z(rng)
    gamma, beta = make_gamma_beta(rng)
    Z_tilde, cache = batchnorm_forward(Z, gamma, beta, eps=1e-5)
    assert isinstance(cache, BatchNormCache)
    assert Z_tilde.shape == Z.shape and Z_tilde.dtype == np.float64
    np.testing.assert_allclose(cache.Z_norm, reference_Z_norm(Z, 1e-5), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(Z_tilde, gamma * reference_Z_norm(Z, 1e-5) + beta, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cache.mu, Z.mean(axis=1, keepdims=True), rtol=1e-13)
    np.testing.assert_allclose(cache.var, Z.var(axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(cache.inv_std, 1 / np.sqrt(Z.var(axis=1, keepdims=True) + 1e-5), rtol=1e-12)
    assert cache.eps == 1e-5


def test_each_unit_has_mean_0_and_biased_variance_1_over_the_batch(rng):
    # Non-square Z, so normalizing over the wrong axis cannot pass by accident.
    Z = make_Z(rng, n=3, m=9)
    Z_tilde, cache = batchnorm_forward(Z, np.ones((3, 1)), np.zeros((3, 1)), eps=1e-12)
    np.testing.assert_allclose(cache.Z_norm.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(cache.Z_norm.var(axis=1, ddof=0), 1.0, rtol=1e-9)  # 1/m, not 1/(m−1)
    np.testing.assert_array_equal(Z_tilde, cache.Z_norm)  # γ = 1, β = 0
    # The columns (examples) are not what gets normalized.
    assert np.abs(cache.Z_norm.mean(axis=0)).max() > 1e-3


def test_variance_is_biased_hand_computed():
    # One unit, two examples 0 and 2: μ = 1, σ² = ((−1)² + 1²)/2 = 1 (the unbiased 2 would give ±0.707).
    Z_tilde, cache = batchnorm_forward(np.array([[0.0, 2.0]]), np.ones((1, 1)), np.zeros((1, 1)), eps=1e-12)
    assert cache.var[0, 0] == pytest.approx(1.0, rel=1e-14)
    np.testing.assert_allclose(Z_tilde, [[-1.0, 1.0]], rtol=1e-10)


def test_eps_is_added_to_the_variance_hand_computed():
    # One unit with a small spread: Z = 1 ± δ, δ = 1e-3, so σ² = 1e-6; with ε = 1e-5,
    # Z_norm = ±δ / sqrt(δ² + ε) = ±1e-3 / sqrt(1.1e-5) ≈ ±0.3015 (it would be ±1 without ε).
    delta, eps = 1e-3, 1e-5
    Z = np.array([[1 - delta, 1 + delta]])
    Z_tilde, _ = batchnorm_forward(Z, np.ones((1, 1)), np.zeros((1, 1)), eps=eps)
    expected = delta / np.sqrt(delta**2 + eps)
    np.testing.assert_allclose(Z_tilde, [[-expected, expected]], rtol=1e-9)
    assert abs(expected) < 0.31  # really far from the ±1 a missing ε gives


def test_adding_any_constant_column_to_Z_leaves_Z_tilde_unchanged(rng):
    Z = make_Z(rng)
    gamma, beta = make_gamma_beta(rng)
    b = rng.normal(scale=50.0, size=(4, 1))
    before, _ = batchnorm_forward(Z, gamma, beta)
    after, _ = batchnorm_forward(Z + b, gamma, beta)
    np.testing.assert_allclose(after, before, rtol=0, atol=1e-10)


def test_gradient_of_a_bias_placed_before_batch_norm_is_zero(rng):
    Z = make_Z(rng)
    gamma, beta = make_gamma_beta(rng)
    R = rng.normal(size=Z.shape)
    b = rng.normal(size=(4, 1))
    f = scalar_loss_of(lambda: batchnorm_forward(Z + b, gamma, beta)[0], R)
    db_numeric = numerical_gradient(f, b)
    dgamma_numeric = numerical_gradient(f, gamma)
    assert np.abs(db_numeric).max() < 1e-7 * max(1.0, np.abs(dgamma_numeric).max())
    # Analytically: db = Σ_i dZ, which the compact form makes zero for every unit.
    dZ, _, _ = batchnorm_backward(R, batchnorm_forward(Z + b, gamma, beta)[1])
    np.testing.assert_allclose(dZ.sum(axis=1), 0.0, atol=1e-12)


def test_gamma_sqrt_var_eps_and_beta_mu_recover_Z(rng):
    Z = make_Z(rng)
    eps = 1e-5
    mu, var = Z.mean(axis=1, keepdims=True), Z.var(axis=1, keepdims=True)
    Z_tilde, _ = batchnorm_forward(Z, np.sqrt(var + eps), mu, eps=eps)
    np.testing.assert_allclose(Z_tilde, Z, rtol=1e-12, atol=1e-12)


def test_large_mean_still_normalizes_accurately(rng):
    # Mean 1e6, std 1: a one-pass E[Z²] − μ² variance loses ~all digits here.
    Z0 = rng.normal(size=(3, 50))
    Z = Z0 + 1e6
    _, cache = batchnorm_forward(Z, np.ones((3, 1)), np.zeros((3, 1)))
    Z0_exact = Z - 1e6  # exactly representable shift: Z0 up to the rounding of the addition
    np.testing.assert_allclose(cache.Z_norm, reference_Z_norm(Z0_exact, 1e-5), atol=1e-9)
    np.testing.assert_allclose(cache.var, Z0_exact.var(axis=1, keepdims=True), rtol=1e-9)


def test_constant_unit_gives_zero_Z_norm_and_finite_gradients(rng):
    Z = make_Z(rng, n=3, m=6)
    Z[1] = 3.7  # a unit with variance 0: ε keeps 1/sqrt(σ² + ε) finite
    gamma, beta = make_gamma_beta(rng, n=3)
    Z_tilde, cache = batchnorm_forward(Z, gamma, beta)
    np.testing.assert_allclose(cache.Z_norm[1], 0.0, atol=1e-9)
    np.testing.assert_allclose(Z_tilde[1], beta[1, 0], atol=1e-9)
    assert cache.inv_std[1, 0] == pytest.approx(1 / np.sqrt(1e-5), rel=1e-6)
    R = rng.normal(size=Z.shape)
    for backward in BACKWARDS:
        dZ, dgamma, dbeta = backward(R, cache)
        assert np.isfinite(dZ).all() and np.isfinite(dgamma).all() and np.isfinite(dbeta).all()
        # With Z_norm = 0 the unit's dZ is γ/sqrt(ε)·(dZ̃ − mean(dZ̃)).
        np.testing.assert_allclose(dZ[1], gamma[1, 0] / np.sqrt(1e-5) * (R[1] - R[1].mean()), rtol=1e-6)


def test_cache_starts_with_what_exercise_1_keeps(rng):
    # The exercise's cache is (Z_norm, gamma, inv_std); bnlab's starts with the same three, then μ, σ², ε.
    Z = make_Z(rng, n=5, m=7)
    gamma, beta = make_gamma_beta(rng, n=5)
    Z_tilde, cache = batchnorm_forward(Z, gamma, beta)
    Z_norm, gamma_kept, inv_std = cache[:3]
    np.testing.assert_array_equal(Z_norm, (Z - cache.mu) * cache.inv_std)
    np.testing.assert_array_equal(gamma_kept, gamma)
    np.testing.assert_array_equal(inv_std, 1.0 / np.sqrt(cache.var + cache.eps))
    np.testing.assert_array_equal(Z_tilde, gamma * Z_norm + beta)
    R = rng.normal(size=Z.shape)
    dZ, dgamma, dbeta = batchnorm_backward(R, cache)
    m = Z.shape[1]
    np.testing.assert_allclose(dgamma, np.einsum("ij,ij->i", R, Z_norm)[:, None], rtol=1e-13)
    np.testing.assert_allclose(dZ, (gamma * inv_std / m) * (m * R - dbeta - Z_norm * dgamma), rtol=1e-12, atol=1e-14)


def test_forward_and_backward_do_not_modify_their_inputs(rng):
    Z = make_Z(rng)
    gamma, beta = make_gamma_beta(rng)
    R = rng.normal(size=Z.shape)
    copies = [a.copy() for a in (Z, gamma, beta, R)]
    _, cache = batchnorm_forward(Z, gamma, beta)
    Z_norm = cache.Z_norm.copy()
    for backward in BACKWARDS:
        backward(R, cache)
    for original, copy in zip((Z, gamma, beta, R), copies):
        np.testing.assert_array_equal(original, copy)
    np.testing.assert_array_equal(cache.Z_norm, Z_norm)


# --- backward ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("backward", BACKWARDS, ids=["compact", "steps"])
@pytest.mark.parametrize("shape", [(3, 5), (4, 3), (1, 6)])
def test_gradient_check_wrt_Z_gamma_beta(rng, backward, shape):
    n, m = shape
    Z = make_Z(rng, n, m)
    gamma, beta = make_gamma_beta(rng, n)
    R = rng.normal(size=Z.shape)
    f = scalar_loss_of(lambda: batchnorm_forward(Z, gamma, beta)[0], R)
    dZ, dgamma, dbeta = backward(R, batchnorm_forward(Z, gamma, beta)[1])
    assert dZ.shape == Z.shape and dgamma.shape == (n, 1) and dbeta.shape == (n, 1)
    assert_gradients_match(f, {"Z": Z, "gamma": gamma, "beta": beta},
                           {"dZ": dZ, "dgamma": dgamma, "dbeta": dbeta})


@pytest.mark.parametrize("shape", [(5, 8), (2, 2), (64, 33)])
def test_compact_and_step_by_step_backward_agree(rng, shape):
    Z = make_Z(rng, *shape)
    gamma, beta = make_gamma_beta(rng, shape[0])
    R = rng.normal(size=Z.shape)
    _, cache = batchnorm_forward(Z, gamma, beta)
    # Tolerance relative to the size of the terms that cancel (γ/sqrt(σ²+ε)·dZ̃): at m = 2 dZ itself is
    # nearly 0, as Z_norm = ±sqrt(σ²/(σ²+ε)) barely depends on Z.
    scale = np.abs(gamma * cache.inv_std * R).max()
    for compact, steps in zip(batchnorm_backward(R, cache), batchnorm_backward_steps(R, cache)):
        np.testing.assert_allclose(compact, steps, rtol=1e-12, atol=1e-12 * max(scale, np.abs(compact).max()))


def test_backward_rejects_dZ_tilde_of_another_shape(rng):
    _, cache = batchnorm_forward(make_Z(rng), *make_gamma_beta(rng))
    for backward in BACKWARDS:
        with pytest.raises(ValueError, match=r"dZ_tilde must have shape \(4, 7\); got \(4, 6\)"):
            backward(np.ones((4, 6)), cache)


# --- eval mode and running averages ------------------------------------------------------------------

def test_eval_mode_uses_the_running_averages(rng):
    Z = make_Z(rng)
    gamma, beta = make_gamma_beta(rng)
    running_mu, running_var = rng.normal(size=(4, 1)), rng.uniform(0.5, 3.0, (4, 1))
    out = batchnorm_eval(Z, gamma, beta, running_mu, running_var, eps=1e-5)
    np.testing.assert_allclose(out, gamma * (Z - running_mu) / np.sqrt(running_var + 1e-5) + beta, rtol=1e-12)
    # ... which is not what train mode gives on a batch whose statistics differ from the running ones.
    train_out, _ = batchnorm_forward(Z, gamma, beta, eps=1e-5)
    assert np.abs(out - train_out).max() > 0.1


def test_eval_mode_works_on_one_example_and_each_column_is_independent(rng):
    Z = make_Z(rng)
    gamma, beta = make_gamma_beta(rng)
    running_mu, running_var = rng.normal(size=(4, 1)), rng.uniform(0.5, 3.0, (4, 1))
    one = batchnorm_eval(Z[:, :1], gamma, beta, running_mu, running_var)
    assert one.shape == (4, 1)
    # Depends on the running statistics ...
    other = batchnorm_eval(Z[:, :1], gamma, beta, running_mu + 1.0, running_var)
    assert np.abs(one - other).min() > 1e-3
    # ... and not on the other examples of the batch.
    Z_changed = Z.copy()
    Z_changed[:, 1:] = rng.normal(scale=100.0, size=(4, 6))
    np.testing.assert_array_equal(batchnorm_eval(Z_changed, gamma, beta, running_mu, running_var)[:, :1], one)


def test_running_averages_hand_computed():
    running_mu, running_var = np.array([[0.0], [2.0]]), np.array([[1.0], [1.0]])
    mu, var = np.array([[1.0], [4.0]]), np.array([[3.0], [0.0]])
    copies = [a.copy() for a in (running_mu, running_var, mu, var)]
    new_mu, new_var = update_running_averages(running_mu, running_var, mu, var, decay=0.9)
    np.testing.assert_allclose(new_mu, [[0.1], [2.2]], rtol=1e-14)   # 0.9·0 + 0.1·1, 0.9·2 + 0.1·4
    np.testing.assert_allclose(new_var, [[1.2], [0.9]], rtol=1e-14)  # 0.9·1 + 0.1·3, 0.9·1 + 0.1·0
    for original, copy in zip((running_mu, running_var, mu, var), copies):
        np.testing.assert_array_equal(original, copy)


def test_running_average_decay_is_one_minus_pytorch_momentum(rng):
    # PyTorch: running = (1 − momentum)·running + momentum·batch_stat; decay = 1 − momentum.
    momentum = 0.25
    running, stat = rng.normal(size=(3, 1)), rng.normal(size=(3, 1))
    ours, _ = update_running_averages(running, np.ones((3, 1)), stat, np.ones((3, 1)), decay=1 - momentum)
    np.testing.assert_allclose(ours, (1 - momentum) * running + momentum * stat, rtol=1e-14)
    assert "1 − decay" in update_running_averages.__doc__  # the mapping is documented where learners look


@pytest.mark.parametrize("decay", [1.0, -0.1, 1.5, np.array(0.9)])
def test_running_average_decay_must_be_in_0_1(decay):
    with pytest.raises(ValueError, match=r"decay must be .*\[0, 1\); got"):
        update_running_averages(np.zeros((2, 1)), np.ones((2, 1)), np.zeros((2, 1)), np.ones((2, 1)), decay=decay)


# --- bad input ---------------------------------------------------------------------------------------

def test_one_example_in_train_mode_is_a_clear_error(rng):
    with pytest.raises(ValueError, match=r"Z has shape \(4, 1\).*1 example.*m >= 2.*batchnorm_eval"):
        batchnorm_forward(make_Z(rng, 4, 1), *make_gamma_beta(rng))


def test_examples_as_rows_are_named(rng):
    Z = make_Z(rng, n=4, m=7)
    with pytest.raises(ValueError, match=r"Z has shape \(7, 4\) but gamma has shape \(4, 1\).*examples as rows"):
        batchnorm_forward(Z.T, *make_gamma_beta(rng))


@pytest.mark.parametrize("bad_shape", [(4,), (1, 4), (3, 1), (4, 2)])
@pytest.mark.parametrize("which", ["gamma", "beta"])
def test_gamma_and_beta_must_be_columns(rng, bad_shape, which):
    gamma, beta = make_gamma_beta(rng)
    args = {"gamma": gamma, "beta": beta, which: np.ones(bad_shape)}
    pattern = rf"{which} must be a column of shape \(4, 1\).*got shape \({bad_shape[0]},"
    with pytest.raises(ValueError, match=pattern):
        batchnorm_forward(make_Z(rng), **args)
    with pytest.raises(ValueError, match=pattern):
        batchnorm_eval(make_Z(rng), running_mu=np.zeros((4, 1)), running_var=np.ones((4, 1)), **args)


@pytest.mark.parametrize("shape", [(4,), (1, 4)])
def test_reshape_hint_for_vectors(rng, shape):
    with pytest.raises(ValueError, match=r"reshape it with \.reshape\(4, 1\)"):
        batchnorm_forward(make_Z(rng), np.ones(shape), np.zeros((4, 1)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_Z_is_rejected_with_its_position(rng, bad):
    Z = make_Z(rng)
    Z[2, 5] = bad
    gamma, beta = make_gamma_beta(rng)
    with pytest.raises(ValueError, match=r"Z contains 1 NaN or infinite value\(s\), the first at index \(2, 5\)"):
        batchnorm_forward(Z, gamma, beta)
    with pytest.raises(ValueError, match=r"Z contains 1 NaN or infinite"):
        batchnorm_eval(Z, gamma, beta, np.zeros((4, 1)), np.ones((4, 1)))


@pytest.mark.parametrize("eps", [0, 0.0, -1e-5, np.nan, np.inf, "1e-5", None])
def test_eps_must_be_a_positive_number(rng, eps):
    with pytest.raises(ValueError, match=r"eps must be a finite number > 0; got"):
        batchnorm_forward(make_Z(rng), *make_gamma_beta(rng), eps=eps)
    with pytest.raises(ValueError, match=r"eps must be a finite number > 0; got"):
        batchnorm_eval(make_Z(rng), *make_gamma_beta(rng), np.zeros((4, 1)), np.ones((4, 1)), eps=eps)


def test_running_statistics_must_be_columns(rng):
    with pytest.raises(ValueError, match=r"running_var must be a column of shape \(4, 1\).*got shape \(4,\)"):
        batchnorm_eval(make_Z(rng), *make_gamma_beta(rng), np.zeros((4, 1)), np.ones(4))


def test_public_names():
    for name in ["batchnorm_forward", "batchnorm_backward", "batchnorm_backward_steps", "batchnorm_eval",
                 "update_running_averages", "BatchNormCache"]:
        assert hasattr(bnlab, name)
    assert BatchNormCache._fields == ("Z_norm", "gamma", "inv_std", "mu", "var", "eps")


# --- memory layouts and sizes the fast paths treat differently ----------------------------------------

@pytest.mark.parametrize("shape", [(37, 8192), (3, 70000)], ids=["row-blocks", "one-row-blocks"])
def test_large_Z_processed_in_blocks_matches_the_formula(rng, shape):
    # Big enough that the implementation may work through the units in several blocks, the last partial.
    Z = make_Z(rng, *shape)
    gamma, beta = make_gamma_beta(rng, shape[0])
    R = rng.normal(size=shape)
    Z_tilde, cache = batchnorm_forward(Z, gamma, beta)
    np.testing.assert_allclose(Z_tilde, gamma * reference_Z_norm(Z, 1e-5) + beta, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(cache.var, Z.var(axis=1, keepdims=True), rtol=1e-10)
    dZ, dgamma, dbeta = batchnorm_backward(R, cache)
    dZ_s, dgamma_s, dbeta_s = batchnorm_backward_steps(R, cache)
    np.testing.assert_allclose(dbeta, R.sum(axis=1, keepdims=True), rtol=1e-10)
    np.testing.assert_allclose(dgamma, dgamma_s, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(dZ, dZ_s, rtol=1e-9, atol=1e-12 * np.abs(gamma * cache.inv_std * R).max())


def test_memory_layout_and_dtype_do_not_change_the_result(rng):
    Z = make_Z(rng, 6, 9)
    gamma, beta = make_gamma_beta(rng, 6)
    R = rng.normal(size=Z.shape)
    expected, cache = batchnorm_forward(Z, gamma, beta)
    expected_grads = batchnorm_backward(R, cache)
    wide = np.zeros((6, 18))
    wide[:, ::2] = Z                                   # a strided view
    for variant in (np.asfortranarray(Z), wide[:, ::2], Z.T.copy().T):
        out, cache = batchnorm_forward(variant, gamma, beta)
        np.testing.assert_allclose(out, expected, rtol=1e-13, atol=1e-13)
        for got, want in zip(batchnorm_backward(np.asfortranarray(R), cache), expected_grads):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)
    out32, _ = batchnorm_forward(Z.astype(np.float32), gamma, beta)
    assert out32.dtype == np.float64
    np.testing.assert_allclose(out32, expected, atol=1e-5)


def test_eval_mode_rejects_a_negative_or_non_finite_running_statistic(rng):
    Z = make_Z(rng)
    gamma, beta = make_gamma_beta(rng)
    bad_var = np.ones((4, 1))
    bad_var[2] = -0.5  # e.g. a hand-computed E[z²] − μ² with the sign flipped
    with pytest.raises(ValueError, match=r"running_var must hold variances >= 0; got minimum -0\.5"):
        batchnorm_eval(Z, gamma, beta, np.zeros((4, 1)), bad_var)
    bad_var[2] = np.nan
    with pytest.raises(ValueError, match=r"running_var must hold variances >= 0; got minimum nan"):
        batchnorm_eval(Z, gamma, beta, np.zeros((4, 1)), bad_var)
    bad_mu = np.zeros((4, 1))
    bad_mu[1] = np.inf
    with pytest.raises(ValueError,
                       match=r"running_mu contains 1 NaN or infinite value\(s\), the first at index \(1, 0\)"):
        batchnorm_eval(Z, gamma, beta, bad_mu, np.ones((4, 1)))


def test_running_averages_reject_vectors_that_would_broadcast(rng):
    # (n,) + (n, 1) broadcasts to (n, n) in numpy: a silent wrong shape without the check.
    with pytest.raises(ValueError,
                       match=r"mu must be a column of shape \(3, 1\), one value per unit; got shape \(3,\)"):
        update_running_averages(np.zeros((3, 1)), np.ones((3, 1)), np.zeros(3), np.ones((3, 1)))
    with pytest.raises(ValueError, match=r"running_var must be a column of shape \(3, 1\).*got shape \(1, 3\)"):
        update_running_averages(np.zeros((3, 1)), np.ones((1, 3)), np.zeros((3, 1)), np.ones((3, 1)))


# --- one set of functions: fast, and equal to the step-by-step version and to the formulas ---------------

SEEDS = [0, 1, 2]
# Small (one block), middling, several blocks of 16 rows with a partial last one, one row per block.
SHAPES = [(3, 5), (64, 33), (37, 8192), (3, 70000)]


def test_the_shapes_cover_one_block_and_several():
    assert len(row_blocks(3, 5)) == 1
    assert len(row_blocks(37, 8192)) == 3          # 16 + 16 + 5 rows
    assert len(row_blocks(3, 70000)) == 3          # one row each
    blocks = row_blocks(37, 8192)
    assert blocks[0].start == 0 and blocks[-1].stop >= 37 and all(a.stop == b.start for a, b in zip(blocks, blocks[1:]))


def test_row_buffers_picks_one_row_where_it_helps_and_restores_numpy(rng):
    before = np.getbufsize()
    assert row_buffers(256).size == 256 and row_buffers(300).size == 288  # a multiple of 16, at most one row
    assert row_buffers(60).size == before and row_buffers(8192).size == before  # short or long rows: unchanged
    with row_buffers(4096):
        assert np.getbufsize() == 4096
    assert np.getbufsize() == before
    Z = make_Z(rng, 3, 512)
    Z[1] = [1e200, -1e200] * 256                     # its variance overflows: raised inside the with
    with pytest.raises(NonFiniteError):
        batchnorm_forward(Z, *make_gamma_beta(rng, 3))
    assert np.getbufsize() == before


@pytest.mark.parametrize("shape", [(3, 5), (37, 300), (40, 4096)], ids=["short-rows", "one-block", "blocks"])
def test_row_buffers_changes_no_bit_of_any_result(rng, shape, monkeypatch):
    Z, R = make_Z(rng, *shape), rng.normal(size=shape)
    gamma, beta = make_gamma_beta(rng, shape[0])
    mu, var = rng.normal(size=(shape[0], 1)), rng.uniform(0.5, 2.0, (shape[0], 1))

    def results():
        Z_tilde, cache = batchnorm_forward(Z, gamma, beta)
        return (Z_tilde, *cache[:5], *batchnorm_backward(R, cache), batchnorm_eval(Z, gamma, beta, mu, var))
    fast = results()
    monkeypatch.setattr(bnlab.batchnorm, "row_buffers", contextlib.nullcontext)  # numpy's buffer left as it is
    for got, want in zip(fast, results()):
        assert np.array_equal(got, want)


def assert_round_off(got, want, name, scale=None):
    """rtol 1e-12, plus an atol of 1e-12 times the size of the terms that cancel (or of the array) for the
    entries that are sums cancelling to nearly 0, where relative error means nothing."""
    scale = np.abs(want).max() if scale is None else scale
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * scale, err_msg=name)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("seed", SEEDS)
def test_forward_and_compact_backward_match_the_formulas_and_the_steps(seed, shape):
    rng = np.random.default_rng(seed)
    Z = make_Z(rng, *shape)
    gamma, beta = make_gamma_beta(rng, shape[0])
    R = rng.normal(size=shape)
    Z_tilde, cache = batchnorm_forward(Z, gamma, beta)
    mu, var = Z.mean(axis=1, keepdims=True), Z.var(axis=1, keepdims=True)   # numpy's own, not bnlab's sums
    assert_round_off(cache.mu, mu, "mu")
    assert_round_off(cache.var, var, "var")
    assert_round_off(cache.inv_std, 1 / np.sqrt(var + 1e-5), "inv_std")
    assert_round_off(cache.Z_norm, (Z - mu) / np.sqrt(var + 1e-5), "Z_norm")
    assert_round_off(Z_tilde, gamma * (Z - mu) / np.sqrt(var + 1e-5) + beta, "Z_tilde")
    scale = np.abs(gamma * cache.inv_std * R).max()  # the size of the terms dZ's formula subtracts
    for name, compact, steps in zip(("dZ", "dgamma", "dbeta"), batchnorm_backward(R, cache),
                                    batchnorm_backward_steps(R, cache)):
        assert_round_off(compact, steps, name, scale=max(scale, np.abs(steps).max()) if name == "dZ" else None)
    assert_round_off(batchnorm_backward(R, cache)[2], R.sum(axis=1, keepdims=True), "dbeta = Σ dZ̃")


def test_large_Z_forward_and_backward_leave_their_inputs_alone(rng):
    Z = make_Z(rng, 37, 8192)
    gamma, beta = make_gamma_beta(rng, 37)
    R = rng.normal(size=Z.shape)
    copies = [a.copy() for a in (Z, gamma, beta, R)]
    _, cache = batchnorm_forward(Z, gamma, beta)
    Z_norm = cache.Z_norm.copy()
    batchnorm_backward(R, cache)
    for original, copy in zip((Z, gamma, beta, R), copies):
        np.testing.assert_array_equal(original, copy)
    np.testing.assert_array_equal(cache.Z_norm, Z_norm)


@pytest.mark.parametrize("shape", [(4, 7), (37, 8192)], ids=str)
def test_out_receives_the_result_and_may_be_Z_itself(rng, shape):
    Z = make_Z(rng, *shape)
    gamma, beta = make_gamma_beta(rng, shape[0])
    R = rng.normal(size=shape)
    Z_tilde, cache = batchnorm_forward(Z, gamma, beta)
    dZ, dgamma, dbeta = batchnorm_backward(R, cache)
    out = np.empty(shape)
    assert batchnorm_forward(Z, gamma, beta, out=out)[0] is out
    np.testing.assert_array_equal(out, Z_tilde)
    in_place = Z.copy()
    got, cache_in_place = batchnorm_forward(in_place, gamma, beta, out=in_place)
    assert got is in_place
    np.testing.assert_array_equal(in_place, Z_tilde)                 # Z overwritten by Z̃, block by block
    np.testing.assert_array_equal(cache_in_place.Z_norm, cache.Z_norm)
    grads = batchnorm_backward(R, cache, out=out)
    assert grads[0] is out
    for got, want in zip(grads, (dZ, dgamma, dbeta)):
        np.testing.assert_array_equal(got, want)
    running_mu, running_var = rng.normal(size=(shape[0], 1)), rng.uniform(0.5, 3.0, (shape[0], 1))
    expected = batchnorm_eval(Z, gamma, beta, running_mu, running_var)
    assert batchnorm_eval(Z, gamma, beta, running_mu, running_var, out=Z) is Z
    np.testing.assert_array_equal(Z, expected)


def test_out_must_be_a_fresh_float64_array_of_the_shape(rng):
    Z = make_Z(rng)
    gamma, beta = make_gamma_beta(rng)
    R = rng.normal(size=Z.shape)
    for bad in (np.empty((4, 6)), np.empty((4, 7), dtype=np.float32), [[0.0] * 7] * 4):
        with pytest.raises(ValueError, match=r"out must be a writable float64 array of shape \(4, 7\); got"):
            batchnorm_forward(Z, gamma, beta, out=bad)
    wide = np.zeros((4, 8))
    with pytest.raises(ValueError, match=r"out must not share memory with the inputs \(it may be the input itself\)"):
        batchnorm_forward(wide[:, :7], gamma, beta, out=wide[:, 1:])   # overlapping but not Z itself
    _, cache = batchnorm_forward(Z, gamma, beta)
    for overlapping in (R, cache.Z_norm):  # dZ's formula reads dZ̃ and Z_norm after writing dZ
        with pytest.raises(ValueError, match=r"out must not share memory with the inputs$"):
            batchnorm_backward(R, cache, out=overlapping)


# --- edges ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("big, pattern", [
    (1e200, r"the variance of unit 2 overflows \(its values range from .* to 1e\+200\); "
            r"expected \|Z − μ\| below about 1e154"),
    (1.7e308, r"too large to average in float64 \(the mean overflows\)"),
])
@pytest.mark.parametrize("shape", [(4, 7), (37, 8192)], ids=str)
def test_a_mean_or_variance_that_overflows_is_a_clear_error_without_warnings(rng, big, pattern, shape):
    # Not β for every example with a RuntimeWarning (what Z_norm = (Z − μ)·0 would give): an error, as for
    # the mean, and a NonFiniteError, so that train reports it as divergence.
    Z = make_Z(rng, *shape)
    Z[2, :3] = big
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(NonFiniteError, match=pattern):
            batchnorm_forward(Z, *make_gamma_beta(rng, shape[0]))


def test_values_whose_squares_fit_are_normalized(rng):
    Z = make_Z(rng) * 1e150   # |Z − μ|² about 1e302: still finite
    _, cache = batchnorm_forward(Z, *make_gamma_beta(rng))
    np.testing.assert_allclose(cache.Z_norm, reference_Z_norm(Z, 1e-5), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("which", ["gamma", "beta"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_gamma_or_beta_is_the_same_error_in_train_and_eval_mode(rng, which, bad):
    Z = make_Z(rng)
    gamma, beta = make_gamma_beta(rng)
    params = {"gamma": gamma, "beta": beta}
    params[which][2, 0] = bad
    pattern = rf"{which} contains 1 NaN or infinite value\(s\), the first at index \(2, 0\)"
    with pytest.raises(NonFiniteError, match=pattern):
        batchnorm_forward(Z, **params)
    with pytest.raises(NonFiniteError, match=pattern):
        batchnorm_eval(Z, **params, running_mu=np.zeros((4, 1)), running_var=np.ones((4, 1)))


def test_eval_mode_rejects_an_infinite_running_variance(rng):
    running_var = np.ones((4, 1))
    running_var[3] = np.inf   # would give Z̃ = β whatever Z is
    with pytest.raises(NonFiniteError,
                       match=r"running_var contains 1 NaN or infinite value\(s\), the first at index \(3, 0\)"):
        batchnorm_eval(make_Z(rng), *make_gamma_beta(rng), np.zeros((4, 1)), running_var)


@pytest.mark.parametrize("backward", BACKWARDS, ids=["compact", "steps"])
def test_backward_accepts_exercise_1s_tuple_cache(rng, backward):
    Z = make_Z(rng)
    gamma, beta = make_gamma_beta(rng)
    R = rng.normal(size=Z.shape)
    _, cache = batchnorm_forward(Z, gamma, beta)
    Z_norm = (Z - Z.mean(axis=1, keepdims=True)) / np.sqrt(Z.var(axis=1, keepdims=True) + 1e-5)
    inv_std = 1 / np.sqrt(Z.var(axis=1, keepdims=True) + 1e-5)
    exercise_1_cache = (Z_norm, gamma, inv_std)   # what exercise 1's docstring suggests a learner keeps
    for got, want in zip(backward(R, exercise_1_cache), backward(R, cache)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
    # ... also as lists and float32 arrays (converted like every input) ...
    got = backward(R, (Z_norm.tolist(), gamma.astype(np.float32), inv_std))
    assert all(g.dtype == np.float64 for g in got)
    # ... and its parts are checked like every input.
    with pytest.raises(ValueError, match=r"the cache's inv_std must be a column of shape \(4, 1\).*got shape \(4,\)"):
        backward(R, (Z_norm, gamma, inv_std.ravel()))


@pytest.mark.parametrize("backward", BACKWARDS, ids=["compact", "steps"])
@pytest.mark.parametrize("cache, found", [({"Z_norm": 0}, "dict"), ((1, 2), "a tuple of 2"), (None, "NoneType")])
def test_backward_says_which_cache_it_needs(rng, backward, cache, found):
    name = backward.__name__
    with pytest.raises(TypeError, match=rf"{name} needs the cache of batchnorm_forward \(a BatchNormCache\) or "
                                        rf"exercise 1's tuple \(Z_norm, gamma, inv_std\); got {found}"):
        backward(rng.normal(size=(4, 7)), cache)


def test_float32_inputs_give_float64_results_everywhere_and_the_docstrings_say_so(rng):
    Z = make_Z(rng).astype(np.float32)
    gamma, beta = (a.astype(np.float32) for a in make_gamma_beta(rng))
    R = rng.normal(size=Z.shape).astype(np.float32)
    Z_tilde, cache = batchnorm_forward(Z, gamma, beta)
    results = [Z_tilde, *cache[:5]]
    for backward in BACKWARDS:
        results += backward(R, cache)
    results.append(batchnorm_eval(Z, gamma, beta, np.zeros((4, 1), np.float32), np.ones((4, 1), np.float32)))
    results += update_running_averages(*(np.ones((4, 1), np.float32) for _ in range(4)))
    assert [a.dtype for a in results] == [np.float64] * len(results)
    exact, _ = batchnorm_forward(Z.astype(np.float64), gamma.astype(np.float64), beta.astype(np.float64))
    np.testing.assert_array_equal(Z_tilde, exact)   # computed in float64 from the float32 values, not in float32
    for function in (batchnorm_forward, batchnorm_backward, batchnorm_backward_steps, batchnorm_eval,
                     update_running_averages):
        assert "float64" in function.__doc__, function.__name__
    assert "inputs are converted to float64 and results are float64" in bnlab.batchnorm.__doc__


def test_a_network_whose_variance_overflows_is_reported_as_divergence(rng):
    # Inside train, the NonFiniteError of an overflowing σ² is divergence (not training on with Z̃ = β).
    net = bnlab.Network([4, 3, 2], activation="tanh", seed=0)
    net.parameters["W1"] = net.parameters["W1"] * 1e160
    X, Y = rng.normal(size=(4, 8)), bnlab.one_hot(rng.integers(0, 2, 8), 2)
    with pytest.raises(bnlab.TrainingDiverged, match=r"the variance of unit \d overflows"):
        bnlab.train(net, X, Y, bnlab.GradientDescent(0.1), 3, mini_batch_size=8, seed=0)
