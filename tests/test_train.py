"""The training loop: the loss falls with Batch Norm, runs are reproducible, divergence stops cleanly."""
from __future__ import annotations

import signal
from contextlib import contextmanager

import numpy as np
import pytest

from bnlab import (Adam, GradientDescent, History, Momentum, Network, RMSprop, TrainingDiverged, load_digits,
                   make_moons, one_hot, random_mini_batches, train)


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@contextmanager
def time_limit(seconds):
    """Fail instead of hanging (a regression here once meant an endless loop)."""
    def handler(signum, frame):
        raise TimeoutError(f"train did not return within {seconds} s")
    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run(digits, seed=0, steps=30, eval_every=10):
    net = Network([64, 32, 32, 10], activation="sigmoid", batchnorm=True, seed=1)
    history = train(net, digits.X_train, digits.Y_train, Adam(learning_rate=0.01), steps, mini_batch_size=64,
                    seed=seed, eval_every=eval_every, X_test=digits.X_test, y_test=digits.y_test, track_units=3)
    return net, history


def test_loss_falls_with_batch_norm_on_the_digits(digits):
    net, history = run(digits, steps=200, eval_every=100)
    first, last = history.loss[:20].mean(), history.loss[-20:].mean()
    assert last < 0.5 * first, (first, last)
    assert history.test_accuracy[-1] > 0.8
    assert history.test_accuracy[-1] > history.test_accuracy[0] + 0.5


def test_first_loss_is_the_loss_of_the_first_mini_batch(digits):
    _, history = run(digits, steps=2)
    X_1, Y_1 = random_mini_batches(digits.X_train, digits.Y_train, 64, seed=0)[0]
    fresh = Network([64, 32, 32, 10], activation="sigmoid", batchnorm=True, seed=1)
    assert history.loss[0] == pytest.approx(fresh.loss(X_1, Y_1, train=True), rel=1e-12)


def test_history_fields(digits):
    net, history = run(digits, steps=25)
    assert isinstance(history, History)
    assert history.loss.shape == (25,) and np.isfinite(history.loss).all()
    np.testing.assert_array_equal(history.eval_steps, [0, 10, 20, 25])
    assert history.train_accuracy.shape == (4,) and history.test_accuracy.shape == (4,)
    assert history.test_accuracy[-1] == net.accuracy(digits.X_test, digits.y_test)
    assert history.train_accuracy[-1] == net.accuracy(digits.X_train, digits.y_train)
    assert set(history.tracked_units) == set(history.percentiles) == {1, 2}
    for l, units in history.tracked_units.items():
        assert len(units) == 3 and units.min() >= 0 and units.max() < 32
        p = history.percentiles[l]
        assert p.shape == (4, 3, 3)  # (eval steps, tracked units, 15/50/85th)
        assert (p[..., 0] <= p[..., 1]).all() and (p[..., 1] <= p[..., 2]).all()
    # The last row is the percentiles of the final network's activation inputs over X_test (eval mode).
    _, caches = net.forward(digits.X_test, train=False)
    units = history.tracked_units[2]
    np.testing.assert_allclose(history.percentiles[2][-1],
                               np.percentile(caches[1].Z_tilde[units], [15, 50, 85], axis=1).T, rtol=1e-12)


def test_without_test_data_or_tracking(digits):
    net = Network([64, 16, 10], batchnorm=False)
    history = train(net, digits.X_train[:, :200], digits.Y_train[:, :200], Momentum(0.1), 7, mini_batch_size=32)
    np.testing.assert_array_equal(history.eval_steps, [0, 7])
    assert history.test_accuracy.shape == (0,) and history.percentiles == {} and history.loss.shape == (7,)


def test_same_seed_same_history_different_seed_different(digits):
    net_a, a = run(digits, seed=3)
    net_b, b = run(digits, seed=3)
    _, c = run(digits, seed=4)
    for field in ("loss", "eval_steps", "train_accuracy", "test_accuracy"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    for l in a.percentiles:
        assert np.array_equal(a.percentiles[l], b.percentiles[l])
    for k in net_a.parameters:
        assert np.array_equal(net_a.parameters[k], net_b.parameters[k])
    for k in net_a.running:
        assert np.array_equal(net_a.running[k], net_b.running[k])
    assert not np.array_equal(a.loss, c.loss)


@pytest.mark.parametrize("make_optimizer", [lambda: GradientDescent(0.5), lambda: Momentum(0.5),
                                            lambda: RMSprop(0.01), lambda: Adam(0.01)],
                         ids=["gd", "momentum", "rmsprop", "adam"])
@pytest.mark.parametrize("batchnorm", [True, False], ids=["bn", "no_bn"])
def test_every_optimizer_trains_a_sigmoid_output(make_optimizer, batchnorm):
    X, labels = make_moons(m=200, seed=0)
    net = Network([2, 16, 16, 1], activation="tanh", batchnorm=batchnorm, output="sigmoid", seed=0)
    history = train(net, X, labels[None, :].astype(float), make_optimizer(), 150, mini_batch_size=32)
    assert history.loss[-20:].mean() < history.loss[:20].mean()
    assert history.train_accuracy[-1] > 0.8


def test_a_diverging_run_stops_with_finite_parameters(digits):
    # In float64 a cross-entropy with huge logits stays finite for a long time (it grows like the logits);
    # a learning rate of 1e100 overflows the logits to inf within a few steps.
    net = Network([64, 32, 32, 10], activation="relu", batchnorm=False, seed=0)
    with pytest.raises(TrainingDiverged, match=r"(loss became|non-finite).*step \d+ of 50.*smaller learning rate"):
        with np.errstate(over="ignore", invalid="ignore"):
            train(net, digits.X_train, digits.Y_train, GradientDescent(learning_rate=1e100), 50)
    for k, p in net.parameters.items():
        assert np.isfinite(p).all(), k
    assert issubclass(TrainingDiverged, FloatingPointError)


def test_a_diverging_run_with_batch_norm_is_reported_as_divergence(digits):
    # With Batch Norm the overflow shows first inside a layer (Z or dZ̃ becomes inf), not in the loss:
    # still a TrainingDiverged, not a ValueError about an array the learner never passed.
    net = Network([64, 32, 32, 10], activation="relu", batchnorm=True, seed=0)
    with pytest.raises(TrainingDiverged, match=r"non-finite at step \d+ of 50.*smaller learning rate"):
        with np.errstate(over="ignore", invalid="ignore"):
            train(net, digits.X_train, digits.Y_train, GradientDescent(learning_rate=1e100), 50)
    for k, p in net.parameters.items():
        assert np.isfinite(p).all(), k


def test_one_example_mini_batches_with_batch_norm_are_an_error_not_an_endless_loop(digits):
    net = Network([64, 8, 10], batchnorm=True)
    with time_limit(10):
        with pytest.raises(ValueError, match=r"at least 2 examples; got mini_batch_size=1 and X with 1438 example"):
            train(net, digits.X_train, digits.Y_train, Adam(), 5, mini_batch_size=1)
        with pytest.raises(ValueError, match=r"got mini_batch_size=64 and X with 1 example"):
            train(net, digits.X_train[:, :1], digits.Y_train[:, :1], Adam(), 5)
        with pytest.raises(ValueError, match=r"X has shape \(64, 0\): no examples to train on"):
            train(Network([64, 8, 10], batchnorm=False), digits.X_train[:, :0], digits.Y_train[:, :0], Adam(), 5)
    # Without Batch Norm one example per step is fine.
    history = train(Network([64, 8, 10], batchnorm=False), digits.X_train[:, :5], digits.Y_train[:, :5], Adam(), 7,
                    mini_batch_size=1)
    assert history.loss.shape == (7,)


def test_a_leftover_mini_batch_of_one_is_skipped_with_batch_norm(digits):
    # 65 examples in mini-batches of 64: the 1-example leftover cannot be normalized and is skipped.
    net = Network([64, 8, 10], batchnorm=True)
    history = train(net, digits.X_train[:, :65], digits.Y_train[:, :65], Adam(), 3, mini_batch_size=64)
    assert np.isfinite(history.loss).all()


@pytest.mark.parametrize("batchnorm", [True, False])
def test_non_finite_data_is_a_value_error_not_a_divergence(digits, batchnorm):
    X = digits.X_train[:, :100].copy()
    X[5, 70] = np.nan
    net = Network([64, 8, 10], batchnorm=batchnorm)
    with pytest.raises(ValueError, match=r"X contains 1 NaN or infinite value\(s\), the first at index \(5, 70\)"):
        train(net, X, digits.Y_train[:, :100], Adam(), 5, mini_batch_size=32)
    X_test = digits.X_test.copy()
    X_test[0, 0] = np.inf
    with pytest.raises(ValueError, match=r"X_test contains 1 NaN or infinite"):
        train(net, digits.X_train, digits.Y_train, Adam(), 5, X_test=X_test, y_test=digits.y_test)


@pytest.mark.parametrize("kwargs, pattern", [
    ({"num_steps": 0}, r"num_steps must be a whole number >= 1; got 0"),
    ({"mini_batch_size": 0}, r"mini_batch_size must be a whole number >= 1; got 0"),
    ({"eval_every": -5}, r"eval_every must be a whole number >= 1; got -5"),
])
def test_bad_arguments_are_named(digits, kwargs, pattern):
    args = {"num_steps": 5, **kwargs}
    with pytest.raises(ValueError, match=pattern):
        train(Network([64, 8, 10]), digits.X_train, digits.Y_train, Adam(), **args)


def test_shapes_are_checked(digits):
    net = Network([64, 8, 10])
    with pytest.raises(ValueError, match=r"X must have shape \(64, m\); got \(1438, 64\).*examples as rows"):
        train(net, digits.X_train.T, digits.Y_train, Adam(), 5)
    with pytest.raises(ValueError, match=r"Y must have shape \(10, 1438\); got \(10, 359\)"):
        train(net, digits.X_train, digits.Y_test, Adam(), 5)
    with pytest.raises(ValueError, match=r"Y must have shape \(10, 1438\); got \(1438, 10\).*examples as rows"):
        train(net, digits.X_train, one_hot(digits.y_train, 10).T, Adam(), 5)


def test_test_data_must_come_in_pairs(digits):
    net = Network([64, 8, 10], seed=0)
    with pytest.raises(ValueError, match="X_test was given without y_test"):
        train(net, digits.X_train, digits.Y_train, Adam(0.01), 2, X_test=digits.X_test)
    with pytest.raises(ValueError, match="y_test was given without X_test"):
        train(net, digits.X_train, digits.Y_train, Adam(0.01), 2, y_test=digits.y_test)


def test_the_divergence_check_names_non_finite_parameters_without_warnings():
    from bnlab.train import _non_finite
    import warnings
    big = np.full((3, 3), 1e308)                    # finite, but its sum overflows
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _non_finite({"W1": big, "b1": np.zeros((3, 1))}) == []
        bad = {"W1": big, "g": np.array([[np.inf], [-np.inf]]), "b": np.array([[np.nan]]), "ok": np.ones((2, 1))}
        assert _non_finite(bad) == ["g", "b"]
        # one NaN or inf in a transposed view, a float32 array or a 0-d array is found too
        strided = np.ones((4, 6))
        strided[2, 3] = -np.inf
        odd = {"T": strided.T, "f": np.array([[1.0], [np.nan]], dtype=np.float32), "s": np.array(np.inf)}
        assert _non_finite(odd) == ["T", "f", "s"]
        assert _non_finite({"T": np.ones((4, 6)).T, "s": np.array(2.0)}) == []


@pytest.mark.parametrize("name, cls", [("gd", GradientDescent), ("momentum", Momentum), ("rmsprop", RMSprop),
                                       ("adam", Adam), ("Adam", Adam)])
def test_an_optimizer_name_trains_with_that_optimizer_and_its_defaults(digits, name, cls):
    X, Y = digits.X_train[:, :200], digits.Y_train[:, :200]
    by_name, by_object = Network([64, 8, 10], seed=1), Network([64, 8, 10], seed=1)
    a = train(by_name, X, Y, name, 5, mini_batch_size=50)
    b = train(by_object, X, Y, cls(), 5, mini_batch_size=50)
    np.testing.assert_array_equal(a.loss, b.loss)
    for k in by_name.parameters:
        np.testing.assert_array_equal(by_name.parameters[k], by_object.parameters[k])


@pytest.mark.parametrize("optimizer, pattern", [
    ("sgd", r"optimizer must be an optimizer \(GradientDescent, Momentum, RMSprop, Adam: anything with "
            r"step\(parameters, grads\)\) or one of the names 'gd', 'momentum', 'rmsprop', 'adam'; got 'sgd'"),
    (Adam, r"got the class Adam itself: make one, e\.g\. Adam\(learning_rate=0\.01\)"),
    (0.01, r"optimizer must be an optimizer .*; got float 0\.01"),
    (None, r"optimizer must be an optimizer .*; got NoneType None"),
])
def test_anything_else_as_optimizer_is_named_before_training(digits, optimizer, pattern):
    net = Network([64, 8, 10])
    before = {k: p.copy() for k, p in net.parameters.items()}
    with pytest.raises(ValueError, match=pattern):
        train(net, digits.X_train, digits.Y_train, optimizer, 5)
    for k, p in net.parameters.items():
        np.testing.assert_array_equal(p, before[k])
