"""learning_rate_sweep: one fresh network per learning rate; a diverged run is NaN, not an exception."""
import numpy as np
import pytest

import bnlab
from bnlab.data import Digits
from bnlab.sweeps import learning_rate_sweep


@pytest.fixture(scope="module")
def moons():
    X, y = bnlab.make_moons(200, seed=0)
    X_test, y_test = bnlab.make_moons(100, seed=1)
    return Digits(X, bnlab.one_hot(y, 2), y, X_test, bnlab.one_hot(y_test, 2), y_test)


def test_each_rate_trains_the_same_initial_network(moons):
    rates = [0.3, 0.01]
    sweep = learning_rate_sweep([2, 8, 8, 2], bnlab.GradientDescent, rates, moons, num_steps=60, mini_batch_size=32)
    for rate, accuracy in zip(rates, sweep):
        net = bnlab.Network([2, 8, 8, 2], seed=0)
        bnlab.train(net, moons.X_train, moons.Y_train, bnlab.GradientDescent(rate), 60, mini_batch_size=32)
        assert accuracy == net.accuracy(moons.X_test, moons.y_test)
    assert sweep[0] > sweep[1]  # 60 steps at α = 0.01 are too few on the moons; α = 0.3 learns them


def test_a_diverged_run_is_nan_and_the_others_are_kept(moons):
    sweep = learning_rate_sweep([2, 8, 8, 2], bnlab.GradientDescent, [0.3, 1e300], moons, num_steps=20,
                                batchnorm=False, mini_batch_size=32)
    assert 0.5 < sweep[0] <= 1
    assert np.isnan(sweep[1])


def test_a_learning_rate_that_is_not_positive_is_refused(moons):
    with pytest.raises(ValueError, match="learning_rates"):
        learning_rate_sweep([2, 4, 2], bnlab.Adam, [0.1, -1.0], moons, num_steps=5)


def test_sweep_over_seeds_repeats_each_seed_and_seeds_differ(moons):
    from bnlab.sweeps import learning_rate_sweep_over_seeds
    rates = [0.3, 0.03]
    runs = learning_rate_sweep_over_seeds([2, 8, 8, 2], bnlab.GradientDescent, rates, moons, num_steps=30,
                                          seeds=[0, 3], mini_batch_size=32)
    assert runs.shape == (2, 2)
    np.testing.assert_array_equal(runs[1], learning_rate_sweep([2, 8, 8, 2], bnlab.GradientDescent, rates, moons,
                                                               num_steps=30, mini_batch_size=32, seed=3))
    assert not np.array_equal(runs[0], runs[1])
