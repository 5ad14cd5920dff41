"""Optimizers against hand-computed steps; γ and β updated like W; inputs untouched; bad hyperparameters."""
from __future__ import annotations

import numpy as np
import pytest

from bnlab import (Adam, GradientDescent, Momentum, RMSprop, initialize_adam, initialize_rmsprop, initialize_velocity,
                   update_parameters_with_adam, update_parameters_with_gd, update_parameters_with_momentum,
                   update_parameters_with_rmsprop)
from bnlab.optimizers import Optimizer

P0 = np.array([[1.0, 2.0]])
G1 = np.array([[0.5, -1.0]])
G2 = np.array([[1.0, 1.0]])


def params():
    return {"W1": P0.copy()}


def test_gradient_descent_hand_computed():
    new = update_parameters_with_gd(params(), {"dW1": G1}, learning_rate=0.1)
    np.testing.assert_allclose(new["W1"], [[0.95, 2.1]], rtol=1e-15)


def test_momentum_hand_computed_two_steps():
    v = initialize_velocity(params())
    assert list(v) == ["dW1"] and not v["dW1"].any()
    p, v = update_parameters_with_momentum(params(), {"dW1": G1}, v, learning_rate=0.1, momentum_beta=0.9)
    np.testing.assert_allclose(v["dW1"], [[0.05, -0.1]], rtol=1e-14)       # 0.1·dW
    np.testing.assert_allclose(p["W1"], [[0.995, 2.01]], rtol=1e-14)
    p, v = update_parameters_with_momentum(p, {"dW1": G2}, v, learning_rate=0.1, momentum_beta=0.9)
    np.testing.assert_allclose(v["dW1"], [[0.145, 0.01]], rtol=1e-14)      # 0.9·v + 0.1·dW
    np.testing.assert_allclose(p["W1"], [[0.9805, 2.009]], rtol=1e-14)


def test_rmsprop_hand_computed():
    s = initialize_rmsprop(params())
    p, s = update_parameters_with_rmsprop(params(), {"dW1": G1}, s, learning_rate=0.1, beta2=0.999, epsilon=1e-8)
    np.testing.assert_allclose(s["dW1"], [[0.00025, 0.001]], rtol=1e-13)  # 0.001·dW²
    expected = [[1 - 0.1 * 0.5 / (np.sqrt(0.00025) + 1e-8), 2 + 0.1 * 1.0 / (np.sqrt(0.001) + 1e-8)]]
    np.testing.assert_allclose(p["W1"], expected, rtol=1e-14)
    # That is a step of about α·sqrt(1000) ≈ 3.16 against the sign of each gradient.
    np.testing.assert_allclose(p["W1"] - P0, [[-0.1 * np.sqrt(1000), 0.1 * np.sqrt(1000)]], rtol=1e-6)


def test_adam_bias_correction_hand_computed_t1_and_t2():
    v, s = initialize_adam(params())
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    p1, v, s = update_parameters_with_adam(params(), {"dW1": G1}, v, s, t=1, learning_rate=lr)
    np.testing.assert_allclose(v["dW1"], 0.1 * G1, rtol=1e-14)            # stored uncorrected
    np.testing.assert_allclose(s["dW1"], 0.001 * G1**2, rtol=1e-13)
    # t = 1: v̂ = dW, ŝ = dW², so each entry moves by α·|dW|/(|dW| + ε) ≈ α against its gradient.
    expected1 = P0 - lr * G1 / (np.abs(G1) + eps)
    np.testing.assert_allclose(p1["W1"], expected1, rtol=1e-14)
    # Without bias correction the first step would be α·0.1/sqrt(0.001) ≈ 0.316·α: far from this.
    assert np.abs(p1["W1"] - P0).min() > 0.099
    # t = 2 with the second gradient (1, 1):
    v2 = b1 * 0.1 * G1 + (1 - b1) * G2                    # (0.145, 0.01)
    s2 = b2 * 0.001 * G1**2 + (1 - b2) * G2**2            # (0.00124975, 0.001999)
    np.testing.assert_allclose(v2, [[0.145, 0.01]], rtol=1e-14)
    v_hat, s_hat = v2 / (1 - 0.81), s2 / (1 - 0.998001)   # 1 − β1², 1 − β2²
    p2, v, s = update_parameters_with_adam(p1, {"dW1": G2}, v, s, t=2, learning_rate=lr)
    np.testing.assert_allclose(p2["W1"], p1["W1"] - lr * v_hat / (np.sqrt(s_hat) + eps), rtol=1e-13)
    np.testing.assert_allclose(v["dW1"], v2, rtol=1e-14)
    np.testing.assert_allclose(s["dW1"], s2, rtol=1e-13)


@pytest.mark.parametrize("make", [
    lambda: GradientDescent(learning_rate=0.05),
    lambda: Momentum(learning_rate=0.05, momentum_beta=0.8),
    lambda: RMSprop(learning_rate=0.05, beta2=0.9),
    lambda: Adam(learning_rate=0.05, beta1=0.5, beta2=0.9),
], ids=["gd", "momentum", "rmsprop", "adam"])
def test_gamma_and_beta_are_updated_exactly_like_W(rng, make):
    # Batch Norm's β1 is a parameter named "beta1"; Adam's beta1 = 0.5 is a hyperparameter. No confusion.
    values, grads = rng.normal(size=(3, 1)), [rng.normal(size=(3, 1)) for _ in range(3)]
    parameters = {"W1": values.copy(), "gamma1": values.copy(), "beta1": values.copy(), "b2": values.copy()}
    optimizer = make()
    for g in grads:
        parameters = optimizer.step(parameters, {f"d{k}": g for k in parameters})
    for k in ("gamma1", "beta1", "b2"):
        np.testing.assert_array_equal(parameters[k], parameters["W1"])
    assert not np.allclose(parameters["W1"], values)


def test_classes_follow_the_functions(rng):
    ps = {"W1": rng.normal(size=(2, 3)), "gamma1": rng.normal(size=(2, 1))}
    gs = [{"dW1": rng.normal(size=(2, 3)), "dgamma1": rng.normal(size=(2, 1))} for _ in range(3)]
    adam, expected = Adam(learning_rate=0.01), dict(ps)
    v, s = initialize_adam(ps)
    got = ps
    for t, g in enumerate(gs, start=1):
        got = adam.step(got, g)
        expected, v, s = update_parameters_with_adam(expected, g, v, s, t, learning_rate=0.01)
    assert adam.t == 3
    for k in ps:  # the class folds the bias corrections into two scalars: equal to round-off
        np.testing.assert_allclose(got[k], expected[k], rtol=1e-12, atol=0)
    momentum, got, expected, vm = Momentum(learning_rate=0.01), ps, ps, initialize_velocity(ps)
    rms, got_r, expected_r, sr = RMSprop(learning_rate=0.01), ps, ps, initialize_rmsprop(ps)
    for g in gs:
        got = momentum.step(got, g)
        expected, vm = update_parameters_with_momentum(expected, g, vm, 0.01, 0.9)
        got_r = rms.step(got_r, g)
        expected_r, sr = update_parameters_with_rmsprop(expected_r, g, sr, 0.01)
    for k in ps:
        np.testing.assert_array_equal(got[k], expected[k])
        np.testing.assert_array_equal(got_r[k], expected_r[k])


def test_inputs_are_not_modified(rng):
    ps = {"W1": rng.normal(size=(2, 3)), "beta1": rng.normal(size=(2, 1))}
    gs = {"dW1": rng.normal(size=(2, 3)), "dbeta1": rng.normal(size=(2, 1))}
    v, s = initialize_adam(ps)
    v["dW1"] += 0.3
    s["dW1"] += 0.2
    snapshot = [{k: a.copy() for k, a in d.items()} for d in (ps, gs, v, s)]
    update_parameters_with_gd(ps, gs, 0.1)
    update_parameters_with_momentum(ps, gs, v, 0.1)
    update_parameters_with_rmsprop(ps, gs, s, 0.1)
    update_parameters_with_adam(ps, gs, v, s, 1)
    GradientDescent(0.1).step(ps, gs)
    Adam(0.1).step(ps, gs)
    for d, copy in zip((ps, gs, v, s), snapshot):
        for k in copy:
            np.testing.assert_array_equal(d[k], copy[k])


# --- bad input -----------------------------------------------------------------------------------------

BN_PARAMS = {"W1": np.ones((2, 2)), "gamma1": np.ones((2, 1)), "beta1": np.zeros((2, 1))}


def bn_grads(**changes):
    grads = {"dW1": np.ones((2, 2)), "dgamma1": np.ones((2, 1)), "dbeta1": np.ones((2, 1))}
    grads.update(changes)
    return {k: v for k, v in grads.items() if v is not None}


def test_missing_extra_or_misshaped_gradients_are_named():
    with pytest.raises(ValueError, match=r"grads has no 'dgamma1' for parameter 'gamma1'"):
        update_parameters_with_gd(BN_PARAMS, bn_grads(dgamma1=None), 0.1)
    with pytest.raises(ValueError, match=r"grads has 'db1' but parameters has no 'b1' "
                                         r"\(with Batch Norm the hidden layers have no b\)"):
        update_parameters_with_gd(BN_PARAMS, bn_grads(db1=np.ones((2, 1))), 0.1)
    with pytest.raises(ValueError, match=r"grads\['dbeta1'\] has shape \(2,\); expected \(2, 1\)"):
        update_parameters_with_adam(BN_PARAMS, bn_grads(dbeta1=np.ones(2)), *initialize_adam(BN_PARAMS), t=1)
    for step in (Momentum(0.1).step, RMSprop(0.1).step, Adam(0.1).step):
        with pytest.raises(ValueError, match=r"grads has no 'dW1'"):
            step(BN_PARAMS, bn_grads(dW1=None))


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.2, np.array([0.9, 0.9]), np.array(0.9), "0.9", np.nan])
def test_decay_hyperparameters_must_be_numbers_in_0_1(bad):
    v, s = initialize_adam(BN_PARAMS)
    with pytest.raises(ValueError, match=r"momentum_beta must be a decay rate, a number in \[0, 1\); got"):
        update_parameters_with_momentum(BN_PARAMS, bn_grads(), v, 0.1, momentum_beta=bad)
    with pytest.raises(ValueError, match=r"beta2 must be .*\[0, 1\); got"):
        update_parameters_with_rmsprop(BN_PARAMS, bn_grads(), s, 0.1, beta2=bad)
    with pytest.raises(ValueError, match=r"beta1 must be .*\[0, 1\); got"):
        update_parameters_with_adam(BN_PARAMS, bn_grads(), v, s, 1, beta1=bad)
    with pytest.raises(ValueError, match=r"beta2 must be .*\[0, 1\); got"):
        update_parameters_with_adam(BN_PARAMS, bn_grads(), v, s, 1, beta2=bad)
    with pytest.raises(ValueError, match=r"beta1 must be"):
        Adam(beta1=bad)
    with pytest.raises(ValueError, match=r"momentum_beta must be"):
        Momentum(momentum_beta=bad)


@pytest.mark.parametrize("bad", [0, 0.0, -0.01, np.inf, np.nan, None, "0.1"])
def test_learning_rate_and_epsilon_must_be_positive(bad):
    with pytest.raises(ValueError, match=r"learning_rate must be a finite number > 0; got"):
        update_parameters_with_gd(BN_PARAMS, bn_grads(), learning_rate=bad)
    for cls in (GradientDescent, Momentum, RMSprop, Adam):
        with pytest.raises(ValueError, match=r"learning_rate must be a finite number > 0; got"):
            cls(learning_rate=bad)
    with pytest.raises(ValueError, match=r"epsilon must be a finite number > 0; got"):
        update_parameters_with_adam(BN_PARAMS, bn_grads(), *initialize_adam(BN_PARAMS), t=1, epsilon=bad)


@pytest.mark.parametrize("t", [0, -1, 1.5])
def test_adam_step_count_starts_at_1(t):
    with pytest.raises(ValueError, match=r"t \(Adam's step count, starting at 1\) must be a whole number >= 1; got"):
        update_parameters_with_adam(BN_PARAMS, bn_grads(), *initialize_adam(BN_PARAMS), t=t)


def test_reusing_an_optimizer_on_another_network_is_a_clear_error():
    # A learner comparing "with and without Batch Norm" might pass the same Adam() to both runs.
    adam = Adam(0.01)
    adam.step(BN_PARAMS, bn_grads())
    plain = {"W1": np.ones((2, 2)), "b1": np.zeros((2, 1))}
    with pytest.raises(ValueError,
                       match=r"v does not match grads: v has .*'dgamma1'.*grads has .*'db1'.*make a new one"):
        adam.step(plain, {"dW1": np.ones((2, 2)), "db1": np.ones((2, 1))})
    momentum = Momentum(0.1)
    momentum.step({"W1": np.ones((2, 2))}, {"dW1": np.ones((2, 2))})
    with pytest.raises(ValueError, match=r"v does not match grads.*\('dW1', \(2, 2\)\).*\('dW1', \(3, 2\)\)"):
        momentum.step({"W1": np.ones((3, 2))}, {"dW1": np.ones((3, 2))})
    with pytest.raises(ValueError, match=r"s does not match grads"):
        update_parameters_with_rmsprop(BN_PARAMS, bn_grads(), {"dW1": np.zeros((2, 2))}, 0.1)


# --- the classes keep their state in flat vectors ------------------------------------------------------

def test_gradient_descent_class_follows_the_function(rng):
    ps = {"W1": rng.normal(size=(2, 3)), "b1": rng.normal(size=(2, 1))}
    gs = {"dW1": rng.normal(size=(2, 3)), "db1": rng.normal(size=(2, 1))}
    got, expected = GradientDescent(0.1).step(ps, gs), update_parameters_with_gd(ps, gs, 0.1)
    for k in ps:
        np.testing.assert_array_equal(got[k], expected[k])


def test_earlier_parameters_are_never_changed_by_later_steps(rng):
    ps = {"W1": rng.normal(size=(3, 4)), "gamma1": np.ones((3, 1)), "beta1": np.zeros((3, 1))}
    grads = lambda: {f"d{k}": rng.normal(size=p.shape) for k, p in ps.items()}  # noqa: E731
    for optimizer in (GradientDescent(0.1), Momentum(0.1), RMSprop(0.1), Adam(0.1)):
        first = optimizer.step(ps, grads())
        snapshot = {k: a.copy() for k, a in first.items()}
        second = optimizer.step(first, grads())
        third = optimizer.step(second, grads())
        for k in ps:
            np.testing.assert_array_equal(first[k], snapshot[k])
            assert not np.shares_memory(third[k], second[k])
            assert not np.array_equal(third[k], second[k])


def test_the_state_is_readable_by_gradient_name_and_live(rng):
    ps = {"W1": rng.normal(size=(2, 3)), "beta1": rng.normal(size=(2, 1))}
    gs = {"dW1": rng.normal(size=(2, 3)), "dbeta1": rng.normal(size=(2, 1))}
    adam = Adam(0.01)
    adam.step(ps, gs)
    assert list(adam.v) == ["dW1", "dbeta1"] and adam.v["dW1"].shape == (2, 3)
    np.testing.assert_allclose(adam.v["dbeta1"], 0.1 * gs["dbeta1"], rtol=1e-15)   # (1 − β1)·dβ at t = 1
    np.testing.assert_allclose(adam.s["dW1"], 0.001 * gs["dW1"] ** 2, rtol=1e-15)
    adam.step(ps, gs)
    np.testing.assert_allclose(adam.v["dbeta1"], 0.19 * gs["dbeta1"], rtol=1e-14)  # the same dict, updated


def test_parameters_changed_between_steps_are_what_the_step_starts_from(rng):
    ps = {"W1": rng.normal(size=(2, 2)), "b1": rng.normal(size=(2, 1))}
    zero = {"dW1": np.zeros((2, 2)), "db1": np.zeros((2, 1))}
    for optimizer in (GradientDescent(0.1), Momentum(0.1), Adam(0.1)):
        got = optimizer.step(ps, zero)
        got["W1"][0, 0] = 7.0                 # written in place into the returned array
        got["b1"] = np.full((2, 1), 3.0)      # or replaced by a new array
        after = optimizer.step(got, zero)     # zero gradient (and zero state): nothing moves
        assert after["W1"][0, 0] == 7.0
        np.testing.assert_array_equal(after["b1"], 3.0)


def test_a_rejected_step_does_not_count_as_a_step():
    adam = Adam(0.1)
    with pytest.raises(ValueError, match="grads has no 'dW1'"):
        adam.step(BN_PARAMS, bn_grads(dW1=None))
    assert adam.t == 0
    adam.step(BN_PARAMS, bn_grads())
    assert adam.t == 1


def test_no_parameters_no_update():
    for optimizer in (GradientDescent(0.1), Momentum(0.1), RMSprop(0.1), Adam(0.1)):
        assert optimizer.step({}, {}) == {}
    assert update_parameters_with_adam({}, {}, {}, {}, 1) == ({}, {}, {})


def test_gradient_descent_keeps_no_state_so_it_moves_to_another_network():
    gd = GradientDescent(0.5)
    gd.step(BN_PARAMS, bn_grads())
    plain = {"W1": np.ones((3, 2)), "b1": np.zeros((3, 1))}
    new = gd.step(plain, {"dW1": np.ones((3, 2)), "db1": np.ones((3, 1))})
    np.testing.assert_array_equal(new["W1"], 0.5)
    np.testing.assert_array_equal(new["b1"], -0.5)


def test_zero_dimensional_and_float32_parameters_give_the_same_numbers_in_functions_and_classes(rng):
    ps = {"a": np.float64(0.7), "W1": rng.normal(size=(2, 2)).astype(np.float32)}
    gs = {"da": np.float64(-0.3), "dW1": rng.normal(size=(2, 2)).astype(np.float32)}
    v, s = initialize_adam(ps)
    expected = {
        "gd": update_parameters_with_gd(ps, gs, 0.1),
        "momentum": update_parameters_with_momentum(ps, gs, initialize_velocity(ps), 0.1)[0],
        "rmsprop": update_parameters_with_rmsprop(ps, gs, initialize_rmsprop(ps), 0.1)[0],
        "adam": update_parameters_with_adam(ps, gs, v, s, 1, 0.1)[0],
    }
    classes = {"gd": GradientDescent(0.1), "momentum": Momentum(0.1), "rmsprop": RMSprop(0.1), "adam": Adam(0.1)}
    for name, optimizer in classes.items():
        got = optimizer.step(ps, gs)
        for k in ps:
            assert got[k].shape == np.shape(ps[k]) and got[k].dtype == expected[name][k].dtype == np.float64
            np.testing.assert_allclose(got[k], expected[name][k], rtol=1e-12, atol=0)  # Adam's folding: round-off


def test_the_state_cannot_be_replaced_and_survives_a_copy(rng):
    import copy
    ps = {"W1": rng.normal(size=(2, 3))}
    gs = {"dW1": rng.normal(size=(2, 3))}
    adam = Adam(0.01)
    assert adam.v is None and adam.s is None       # before the first step, as before
    adam.step(ps, gs)
    with pytest.raises(AttributeError):
        adam.v = initialize_velocity(ps)            # would otherwise be silently ignored
    twin = copy.deepcopy(adam)
    a, b = adam.step(ps, gs), twin.step(ps, gs)
    np.testing.assert_array_equal(a["W1"], b["W1"])
    np.testing.assert_array_equal(twin.v["dW1"], adam.v["dW1"])
    assert not np.shares_memory(twin.v["dW1"], adam.v["dW1"])


def test_a_renamed_parameter_is_another_network():
    momentum = Momentum(0.1)
    momentum.step({"a": np.float64(1.0)}, {"da": np.float64(1.0)})
    with pytest.raises(ValueError, match=r"v does not match grads"):
        momentum.step({"z": np.float64(1.0)}, {"dz": np.float64(1.0)})
    gd = GradientDescent(0.5)
    gd.step({"a": np.float64(1.0)}, {"da": np.float64(1.0)})
    assert gd.step({"z": np.float64(1.0)}, {"dz": np.float64(1.0)})["z"] == 0.5


# --- a new optimizer class needs its update only --------------------------------------------------------

class Nesterov(Optimizer):
    """Nesterov momentum, as PyTorch's SGD(nesterov=True) with v = −α·buffer: v := μ·v − α·dW; W := W + μ·v − α·dW.

    Written here, in one file, as a learner would: the state names and the update on dicts. No flat rule.
    """

    state_names = ("v",)

    def __init__(self, learning_rate=0.1, mu=0.9):
        super().__init__()
        self.learning_rate, self.mu = learning_rate, mu

    def update(self, parameters, grads, v):
        new_v = {d: self.mu * v[d] - self.learning_rate * grads[d] for d in grads}
        return {name: p + self.mu * new_v[f"d{name}"] - self.learning_rate * grads[f"d{name}"]
                for name, p in parameters.items()}, new_v


def test_a_new_optimizer_class_needs_only_its_update():
    nesterov = Nesterov(learning_rate=0.1, mu=0.9)
    p1 = nesterov.step(params(), {"dW1": G1})
    np.testing.assert_allclose(nesterov._state_dict("v")["dW1"], -0.1 * G1, rtol=1e-15)
    np.testing.assert_allclose(p1["W1"], P0 - 0.09 * G1 - 0.1 * G1, rtol=1e-15)   # μ·v − α·dW with v = −α·dW
    p2 = nesterov.step(p1, {"dW1": G2})
    v2 = 0.9 * (-0.1 * G1) - 0.1 * G2
    np.testing.assert_allclose(p2["W1"], p1["W1"] + 0.9 * v2 - 0.1 * G2, rtol=1e-14)
    assert nesterov.t == 2
    with pytest.raises(ValueError, match=r"v does not match grads.*make a new one"):  # the state checks come with it
        nesterov.step({"W1": np.ones((3, 2))}, {"dW1": np.ones((3, 2))})
    assert nesterov.t == 2


def test_a_new_optimizer_class_trains_a_network():
    from bnlab import Network, make_moons, one_hot, train
    X, labels = make_moons(200, seed=0)
    net = Network([2, 8, 2], activation="tanh")
    history = train(net, X, one_hot(labels, 2), Nesterov(learning_rate=0.05), 100, mini_batch_size=32)
    assert history.loss[-10:].mean() < 0.75 * history.loss[:10].mean()   # about 0.6; an update that learns nothing: 1.0


def test_a_subclass_that_changes_the_update_runs_its_own_update(rng):
    # A learner trying "Adam without bias correction" must get their rule, not Adam's flat one.
    class AdamWithoutBiasCorrection(Adam):
        def update(self, parameters, grads, v, s):
            new_v = {d: self.beta1 * v[d] + (1 - self.beta1) * g for d, g in grads.items()}
            new_s = {d: self.beta2 * s[d] + (1 - self.beta2) * g**2 for d, g in grads.items()}
            return {name: p - self.learning_rate * new_v[f"d{name}"] / (np.sqrt(new_s[f"d{name}"]) + self.epsilon)
                    for name, p in parameters.items()}, new_v, new_s

    ps, gs = {"W1": rng.normal(size=(2, 3))}, {"dW1": rng.normal(size=(2, 3))}
    got = AdamWithoutBiasCorrection(0.1).step(ps, gs)
    np.testing.assert_allclose(got["W1"],
                               ps["W1"] - 0.1 * 0.1 * gs["dW1"] / (np.sqrt(0.001) * np.abs(gs["dW1"]) + 1e-8),
                               rtol=1e-12)
    assert not np.allclose(got["W1"], Adam(0.1).step(ps, gs)["W1"])
