"""The optimizer rules on one flat vector compute what the readable updates compute, to round-off, over
several seeds and steps. (Batch Norm has no kernels: tests/test_batchnorm.py tests its one set of functions.)

Each pair is compared with rtol 1e-12, plus an atol of 1e-12 times the array's largest entry for the
entries that are sums of terms cancelling to nearly 0 (relative error means nothing there).
"""
from __future__ import annotations

import numpy as np
import pytest

from bnlab.optimizers import Adam, GradientDescent, Momentum, RMSprop

SEEDS = [0, 1, 2]


def assert_round_off(fast, readable, name):
    np.testing.assert_allclose(fast, readable, rtol=1e-12, atol=1e-12 * np.abs(readable).max(), err_msg=name)


# --- the optimizer rules on one flat vector ------------------------------------------------------------

def flat_case(seed, steps=4):
    rng = np.random.default_rng(seed)
    shapes = {"W1": (5, 3), "gamma1": (5, 1), "beta1": (5, 1), "W2": (2, 5), "b2": (2, 1)}
    parameters = {k: rng.normal(size=s) for k, s in shapes.items()}
    grads = [{f"d{k}": rng.normal(size=s) * 10.0 ** rng.integers(-3, 2) for k, s in shapes.items()}
             for _ in range(steps)]
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
            assert_round_off(flat(getattr(fast, name)), flat(getattr(readable, name)),
                             f"{cls.__name__} {name} at step {t}")
    assert fast.t == readable.t == len(grads)
