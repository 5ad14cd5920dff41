"""bnlab.experiments: runs over seeds (reproducible per seed, different across seeds), steps to a target that
agree with a full run, the scale of W, and the per-layer recorder that watches a run without changing it."""
import numpy as np
import pytest

import bnlab
from bnlab import experiments
from bnlab.data import Digits


@pytest.fixture(scope="module")
def moons():
    X, y = bnlab.make_moons(200, seed=0)
    X_test, y_test = bnlab.make_moons(100, seed=1)
    return Digits(X, bnlab.one_hot(y, 2), y, X_test, bnlab.one_hot(y_test, 2), y_test)


def moons_net(batchnorm=True, activation="relu"):
    return lambda seed: bnlab.Network([2, 8, 8, 2], activation=activation, batchnorm=batchnorm, seed=seed)


def test_spread_is_median_min_max_over_the_seeds_leaving_out_nan():
    runs = np.array([[1.0, np.nan, 5.0], [3.0, np.nan, np.nan], [2.0, np.nan, 4.0]])
    median, low, high = experiments.spread(runs)
    np.testing.assert_array_equal(median, [2.0, np.nan, 4.5])
    np.testing.assert_array_equal(low, [1.0, np.nan, 4.0])
    np.testing.assert_array_equal(high, [3.0, np.nan, 5.0])


def test_steps_to_target_agrees_with_a_full_run_and_stops_there(moons):
    full = moons_net()(0)
    history = bnlab.train(full, moons.X_train, moons.Y_train, bnlab.GradientDescent(0.3), 200, mini_batch_size=32,
                          eval_every=10, X_test=moons.X_test, y_test=moons.y_test)
    expected = bnlab.steps_to_accuracy(history, 0.85)
    assert expected is not None and 0 < expected < 200
    net = moons_net()(0)
    assert experiments.steps_to_target(net, moons, bnlab.GradientDescent(0.3), 0.85, 200, mini_batch_size=32,
                                       eval_every=10) == expected
    assert not np.array_equal(net.parameters["W1"], full.parameters["W1"])  # it stopped early: fewer updates


def test_steps_to_target_is_none_when_never_reached_or_diverged(moons):
    assert experiments.steps_to_target(moons_net()(0), moons, bnlab.GradientDescent(1e-6), 0.99, 30,
                                       mini_batch_size=32, eval_every=10) is None
    assert experiments.steps_to_target(moons_net(batchnorm=False)(0), moons, bnlab.GradientDescent(1e300), 0.99, 30,
                                       mini_batch_size=32, eval_every=10) is None
    with pytest.raises(ValueError, match="target"):
        experiments.steps_to_target(moons_net()(0), moons, bnlab.GradientDescent(0.1), 95, 30)


def test_steps_over_seeds_reproduce_per_seed_and_differ_across_seeds(moons):
    def run(seeds):
        return experiments.steps_to_target_over_seeds(moons_net(), lambda: bnlab.GradientDescent(0.1), moons, 0.86,
                                                      300, seeds, mini_batch_size=16, eval_every=5)
    steps = run([0, 1, 2, 3])
    assert steps.shape == (4,) and np.isfinite(steps).all()
    assert len(set(steps)) > 1                       # another seed is another run
    np.testing.assert_array_equal(run([2, 0]), steps[[2, 0]])   # the same seed is the same run
    never = experiments.steps_to_target_over_seeds(moons_net(), lambda: bnlab.GradientDescent(1e-6), moons, 0.99,
                                                   20, [0, 1], mini_batch_size=32, eval_every=10)
    assert np.isnan(never).all()


def test_scaling_hidden_w_leaves_batch_norm_output_unchanged_but_not_a_plain_network(moons):
    for batchnorm in (True, False):
        net = moons_net(batchnorm)(0)
        before, _ = net.forward(moons.X_train, train=True, update_running=False)
        W3 = net.parameters["W3"].copy()
        experiments.scale_hidden_weights(net, 10.0)
        after, _ = net.forward(moons.X_train, train=True, update_running=False)
        np.testing.assert_array_equal(net.parameters["W3"], W3)           # the output layer is left alone
        if batchnorm:
            np.testing.assert_allclose(after, before, atol=1e-4)         # equal up to the effect of eps
        else:
            assert np.abs(after - before).max() > 0.1
    with pytest.raises(ValueError, match="factor"):
        experiments.scale_hidden_weights(moons_net()(0), 0.0)


def test_without_eps_the_batch_norm_output_does_not_depend_on_the_scale_of_w(moons):
    net = bnlab.Network([2, 8, 8, 2], seed=0, eps=1e-300)
    before, _ = net.forward(moons.X_train, train=True, update_running=False)
    after, _ = experiments.scale_hidden_weights(net, 1000.0).forward(moons.X_train, train=True, update_running=False)
    np.testing.assert_allclose(after, before, rtol=1e-9)


def test_weight_scale_runs_shapes_reproducibility_and_the_first_loss(moons):
    factors, seeds = (0.1, 1.0, 10.0), (0, 1)
    loss, accuracy = experiments.weight_scale_runs(moons_net(), lambda: bnlab.GradientDescent(0.1), moons, factors,
                                                   15, seeds, mini_batch_size=32)
    assert loss.shape == (3, 2, 15) and accuracy.shape == (3, 2)
    assert np.isfinite(loss).all() and ((0 <= accuracy) & (accuracy <= 1)).all()
    np.testing.assert_allclose(loss[:, :, 0], loss[[1], :, 0].repeat(3, axis=0), atol=1e-3)  # BN: scale-free forward
    assert not np.array_equal(loss[:, 0], loss[:, 1])                 # seeds differ
    again, _ = experiments.weight_scale_runs(moons_net(), lambda: bnlab.GradientDescent(0.1), moons, factors[1:],
                                             15, seeds[:1], mini_batch_size=32)
    np.testing.assert_array_equal(again[:, 0], loss[1:, 0])
    plain, _ = experiments.weight_scale_runs(moons_net(False), lambda: bnlab.GradientDescent(0.1), moons, factors,
                                             15, seeds, mini_batch_size=32)
    assert abs(plain[0, 0, 0] - plain[2, 0, 0]) > 1e-3                 # without BN the scale changes the loss


def test_a_diverged_weight_scale_run_is_nan(moons):
    loss, accuracy = experiments.weight_scale_runs(moons_net(False), lambda: bnlab.GradientDescent(1e300), moons,
                                                   (1.0,), 10, (0,), mini_batch_size=32)
    assert np.isnan(loss).all() and np.isnan(accuracy).all()


def test_layer_recorder_records_the_chosen_steps_without_changing_the_run(moons):
    X, Y = moons.X_train[:, :50], moons.Y_train[:, :50]
    kwargs = dict(mini_batch_size=32, eval_every=5, X_test=moons.X_test, y_test=moons.y_test, track_units=2)
    plain_net, watched_net = moons_net(activation="sigmoid")(0), moons_net(activation="sigmoid")(0)
    plain = bnlab.train(plain_net, moons.X_train, moons.Y_train, bnlab.GradientDescent(0.5), 20, **kwargs)
    recorder = experiments.LayerRecorder(watched_net, X, Y, steps=(0, 10))
    watched = bnlab.train(watched_net, moons.X_train, moons.Y_train, bnlab.GradientDescent(0.5), 20,
                          progress=recorder, **kwargs)
    np.testing.assert_array_equal(watched.loss, plain.loss)
    for name in plain_net.running:
        np.testing.assert_array_equal(watched_net.running[name], plain_net.running[name])
    assert sorted(recorder.activations) == sorted(recorder.gradients) == [0, 10]
    assert [a.shape for a in recorder.activations[10].values()] == [(8, 50), (8, 50)]
    assert [g.shape for g in recorder.gradients[10].values()] == [(8, 2), (8, 8)]
    assert ((0 < recorder.activations[0][1]) & (recorder.activations[0][1] < 1)).all()   # sigmoid outputs
    assert not np.array_equal(recorder.gradients[0][1], recorder.gradients[10][1])      # the net moved


def test_saturated_fraction_counts_the_flat_tails():
    A = np.array([[0.01, 0.5, 0.99, 0.96]])
    assert experiments.saturated_fraction(A, "sigmoid") == 0.5
    assert experiments.saturated_fraction(np.array([[-0.99, 0.0, 0.5, 0.98]]), "tanh") == 0.5
    assert experiments.saturated_fraction(np.array([[0.0, 0.0, 0.3, 2.0]]), "relu") == 0.5
    with pytest.raises(ValueError, match="activation"):
        experiments.saturated_fraction(A, "softplus")
