"""Shared helpers for the bnlab unit tests: seeded random data and small gradient-check utilities.

Gradient checks use float64, central differences (bnlab.numerical_gradient, itself tested against
closed-form derivatives in test_gradcheck.py) and the tolerance of issue 3: relative error < 1e-7.
"""
from __future__ import annotations

import numpy as np
import pytest

import bnlab

GRAD_TOL = 1e-7
# Step of the central differences. With h = 1e-6 the round-off of f (~1e-16·|f|/h) already reaches a few
# 1e-8 relative on the small gradients of a sigmoid net's first layer: too close to GRAD_TOL. h = 1e-5
# keeps round-off ~10× lower while the truncation error (~h²) stays far below it; every relu check keeps
# its activation inputs more than 1e-4 from the kink.
H = 1e-5


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def scalar_loss_of(output_fn, R):
    """f() = Σ R ⊙ output_fn(): a scalar whose gradient w.r.t. the output is the random matrix R."""
    return lambda: float(np.sum(R * output_fn()))


def assert_gradients_match(f, arrays, grads, tol=GRAD_TOL):
    """Relative error of every analytic gradient (grads["d" + name]) against central differences."""
    errors = bnlab.gradient_check(f, arrays, grads, h=H)
    assert set(errors) == set(arrays)
    bad = {name: err for name, err in errors.items() if not err < tol}
    assert not bad, f"relative errors above {tol}: {bad}"
    return errors


def randomize_biases(net, rng):
    """Give every b, γ, β random values away from the special values 0 and 1 the initialization uses.

    A check at γ = 1, β = 0, b = 0 could miss formula mistakes that only show at other values, and a
    relu net without Batch Norm and b = 0 can have a dead layer with Z exactly 0 (a kink).
    """
    for name, value in net.parameters.items():
        if name.startswith("gamma"):
            net.parameters[name] = rng.uniform(0.5, 1.5, value.shape)
        elif name.startswith(("beta", "b")):
            net.parameters[name] = rng.uniform(-0.5, 0.5, value.shape) + 0.1
    return net


def min_abs_activation_input(net, X):
    """The smallest |input of a hidden activation| over the batch: far from 0 means no relu kink nearby."""
    _, caches = net.forward(X, train=True, update_running=False)
    inputs = [np.abs(c.Z_tilde).min() for c in caches[:-1]]
    return min(inputs) if inputs else np.inf


@pytest.fixture(autouse=True, scope="session")
def grading_key_outside_the_checkout(tmp_path_factory):
    """``bnlab grade`` and ``bnlab gradescope`` create their key in a test folder, never in the checkout's
    exercises/instructor (a test that needs the default location unsets the variable)."""
    path = tmp_path_factory.mktemp("grading-key") / "grading.key"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BNLAB_GRADING_KEY", str(path))
        yield path
