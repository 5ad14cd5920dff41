"""The optimizer rules on one flat vector compute what the readable updates compute, to round-off, over
several seeds and steps. (Batch Norm has no kernels: tests/test_batchnorm.py tests its one set of functions.)

Each pair is compared with rtol 1e-12, plus an atol of 1e-12 times the array's largest entry for the
entries that are sums of terms cancelling to nearly 0 (relative error means nothing there).
"""
from __future__ import annotations

import numpy as np
import pytest

from bnlab import _kernels
from bnlab.optimizers import (update_parameters_with_adam, update_parameters_with_gd, update_parameters_with_momentum,
                              update_parameters_with_rmsprop)

SEEDS = [0, 1, 2]


def assert_round_off(fast, readable, name):
    np.testing.assert_allclose(fast, readable, rtol=1e-12, atol=1e-12 * np.abs(readable).max(), err_msg=name)


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
