"""The fast kernels compute what the readable functions compute, to round-off, on several shapes and seeds.

Each pair is compared with rtol 1e-12, plus an atol of 1e-12 times the array's largest entry for the
entries that are sums of terms cancelling to nearly 0 (relative error means nothing there).
"""
from __future__ import annotations

import numpy as np
import pytest

from bnlab import _kernels
from bnlab.batchnorm import batchnorm_backward, batchnorm_eval, batchnorm_forward
from bnlab.optimizers import (update_parameters_with_adam, update_parameters_with_gd, update_parameters_with_momentum,
                              update_parameters_with_rmsprop)

SEEDS = [0, 1, 2]
# Small (one block), middling, several blocks of 16 rows with a partial last one, one row per block.
SHAPES = [(3, 5), (64, 33), (37, 8192), (3, 70000)]


def assert_round_off(fast, readable, name):
    np.testing.assert_allclose(fast, readable, rtol=1e-12, atol=1e-12 * np.abs(readable).max(), err_msg=name)


def bn_inputs(seed, shape):
    rng = np.random.default_rng(seed)
    n, m = shape
    Z = rng.normal(size=shape) * rng.uniform(0.5, 5.0, (n, 1)) + rng.uniform(-10, 10, (n, 1))
    return Z, rng.uniform(0.5, 2.0, (n, 1)), rng.uniform(-1.0, 1.0, (n, 1)), rng.normal(size=shape)


def test_the_shapes_cover_one_block_and_several():
    assert len(_kernels.row_blocks(3, 5)) == 1
    assert len(_kernels.row_blocks(37, 8192)) == 3          # 16 + 16 + 5 rows
    assert len(_kernels.row_blocks(3, 70000)) == 3          # one row each
    blocks = _kernels.row_blocks(37, 8192)
    assert blocks[0].start == 0 and blocks[-1].stop >= 37 and all(a.stop == b.start for a, b in zip(blocks, blocks[1:]))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("seed", SEEDS)
def test_batchnorm_forward_and_backward_kernels_match_the_readable_functions(seed, shape):
    Z, gamma, beta, dZ_tilde = bn_inputs(seed, shape)
    Z_tilde, cache = batchnorm_forward(Z, gamma, beta)
    fast_Z_tilde, fast_cache = _kernels.batchnorm_forward(Z, gamma, beta, 1e-5)
    assert type(fast_cache) is type(cache) and fast_cache.eps == cache.eps
    assert_round_off(fast_Z_tilde, Z_tilde, "Z_tilde")
    for name in ("Z_norm", "gamma", "inv_std", "mu", "var"):
        assert_round_off(getattr(fast_cache, name), getattr(cache, name), name)
    grads = batchnorm_backward(dZ_tilde, cache)
    fast_grads = _kernels.batchnorm_backward(dZ_tilde, fast_cache)
    for name, fast, readable in zip(("dZ", "dgamma", "dbeta"), fast_grads, grads):
        assert_round_off(fast, readable, name)


@pytest.mark.parametrize("shape", SHAPES[:2], ids=str)
@pytest.mark.parametrize("seed", SEEDS)
def test_batchnorm_eval_kernel_matches_the_readable_function(seed, shape):
    Z, gamma, beta, _ = bn_inputs(seed, shape)
    rng = np.random.default_rng(seed + 10)
    running_mu, running_var = rng.normal(size=(shape[0], 1)), rng.uniform(0.1, 4.0, (shape[0], 1))
    assert_round_off(_kernels.batchnorm_eval(Z, gamma, beta, running_mu, running_var, 1e-5),
                     batchnorm_eval(Z, gamma, beta, running_mu, running_var), "Z_tilde")


def test_the_kernels_leave_their_inputs_alone():
    Z, gamma, beta, dZ_tilde = bn_inputs(0, (37, 8192))
    copies = [a.copy() for a in (Z, gamma, beta, dZ_tilde)]
    _, cache = _kernels.batchnorm_forward(Z, gamma, beta, 1e-5)
    Z_norm = cache.Z_norm.copy()
    _kernels.batchnorm_backward(dZ_tilde, cache)
    for original, copy in zip((Z, gamma, beta, dZ_tilde), copies):
        np.testing.assert_array_equal(original, copy)
    np.testing.assert_array_equal(cache.Z_norm, Z_norm)


# --- the optimizer rules on one flat vector ------------------------------------------------------------

def flat_case(seed, steps=4):
    rng = np.random.default_rng(seed)
    shapes = {"W1": (5, 3), "gamma1": (5, 1), "beta1": (5, 1), "W2": (2, 5), "b2": (2, 1)}
    parameters = {k: rng.normal(size=s) for k, s in shapes.items()}
    grads = [{f"d{k}": rng.normal(size=s) * 10.0 ** rng.integers(-3, 2) for k, s in shapes.items()} for _ in range(steps)]
    return parameters, grads


def flat(d):
    return np.concatenate([np.ravel(a) for a in d.values()])


@pytest.mark.parametrize("seed", SEEDS)
def test_optimizer_rules_match_the_readable_updates_over_several_steps(seed):
    parameters, grads = flat_case(seed)
    hyper = {"gd": (0.1,), "momentum": (0.1, 0.8), "rmsprop": (0.01, 0.99, 1e-8), "adam": (0.01, 0.9, 0.999, 1e-8)}
    zeros = {f"d{k}": np.zeros_like(p) for k, p in parameters.items()}
    p = {name: parameters for name in hyper}
    state = {"momentum": [zeros], "rmsprop": [zeros], "adam": [zeros, zeros]}
    flat_p = {name: flat(parameters) for name in hyper}
    flat_state = {name: [np.zeros(flat(parameters).size) for _ in state.get(name, [])] for name in hyper}
    for t, g in enumerate(grads, start=1):
        p["gd"] = update_parameters_with_gd(p["gd"], g, *hyper["gd"])
        p["momentum"], *state["momentum"] = update_parameters_with_momentum(p["momentum"], g, *state["momentum"], *hyper["momentum"])
        p["rmsprop"], *state["rmsprop"] = update_parameters_with_rmsprop(p["rmsprop"], g, *state["rmsprop"], *hyper["rmsprop"])
        p["adam"], *state["adam"] = update_parameters_with_adam(p["adam"], g, *state["adam"], t, *hyper["adam"])
        dp = flat(g)
        for name, rule in (("gd", _kernels.gd_rule), ("momentum", _kernels.momentum_rule),
                           ("rmsprop", _kernels.rmsprop_rule)):
            flat_p[name] = rule(flat_p[name], dp, *flat_state[name], np.empty_like(dp), np.empty_like(dp), *hyper[name])
        flat_p["adam"] = _kernels.adam_rule(flat_p["adam"], dp, *flat_state["adam"], np.empty_like(dp), np.empty_like(dp),
                                            t, *hyper["adam"])
        for name in hyper:
            assert_round_off(flat_p[name], flat(p[name]), f"{name} parameters at step {t}")
            for fast, readable in zip(flat_state[name], state.get(name, [])):
                assert_round_off(fast, flat(readable), f"{name} state at step {t}")
