"""The fast kernels compute what the readable functions compute, to round-off, on several shapes and seeds.

Each pair is compared with rtol 1e-12, plus an atol of 1e-12 times the array's largest entry for the
entries that are sums of terms cancelling to nearly 0 (relative error means nothing there).
"""
from __future__ import annotations

import numpy as np
import pytest

from bnlab import _kernels
from bnlab.batchnorm import batchnorm_backward, batchnorm_eval, batchnorm_forward
from bnlab.optimizers import Adam, GradientDescent, Momentum, RMSprop

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


def per_array(cls):
    """The optimizer class without its flat rule: its update (the update_parameters_with_* function) runs."""
    return type(f"PerArray{cls.__name__}", (cls,), {"_flat_update": None})


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("cls, hyper", [
    (GradientDescent, (0.1,)), (Momentum, (0.1, 0.8)), (RMSprop, (0.01, 0.99, 1e-8)), (Adam, (0.01, 0.9, 0.999, 1e-8)),
], ids=["gd", "momentum", "rmsprop", "adam"])
def test_optimizer_rules_match_the_readable_updates_over_several_steps(seed, cls, hyper):
    # The class's flat rule (bnlab._kernels) against its update, the update_parameters_with_* function.
    parameters, grads = flat_case(seed)
    fast, readable = cls(*hyper), per_array(cls)(*hyper)
    assert fast._flat is not None and readable._flat is None
    p_fast = p_readable = parameters
    for t, g in enumerate(grads, start=1):
        p_fast, p_readable = fast.step(p_fast, g), readable.step(p_readable, g)
        assert_round_off(flat(p_fast), flat(p_readable), f"{cls.__name__} parameters at step {t}")
        for name in cls.state_names:
            assert_round_off(flat(getattr(fast, name)), flat(getattr(readable, name)), f"{cls.__name__} {name} at step {t}")
    assert fast.t == readable.t == len(grads)
