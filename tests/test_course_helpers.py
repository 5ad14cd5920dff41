"""The small measurements notebooks 5 and 6 make: steps to a target accuracy, accuracy with batch statistics."""
from __future__ import annotations

import numpy as np
import pytest

from bnlab import GradientDescent, History, Network, batch_statistics_accuracy, load_digits, steps_to_accuracy, train


def history(test_accuracy, eval_steps, train_accuracy=()):
    return History(loss=np.zeros(max(eval_steps)), eval_steps=np.array(eval_steps),
                   train_accuracy=np.array(train_accuracy, dtype=float),
                   test_accuracy=np.array(test_accuracy, dtype=float))


def test_steps_to_accuracy_is_the_first_evaluation_step_at_or_above_the_target():
    h = history([0.1, 0.5, 0.92, 0.89, 0.95], [0, 10, 20, 30, 40])
    assert steps_to_accuracy(h, 0.9) == 20       # the first crossing, even though it dips afterwards
    assert steps_to_accuracy(h, 0.92) == 20      # reaching the target exactly counts
    assert steps_to_accuracy(h, 0.95) == 40
    assert steps_to_accuracy(h, 0.1) == 0


def test_steps_to_accuracy_is_none_when_never_reached():
    assert steps_to_accuracy(history([0.1, 0.5], [0, 10]), 0.6) is None


def test_steps_to_accuracy_uses_train_accuracy_without_test_data():
    h = history([], [0, 5, 10], train_accuracy=[0.2, 0.7, 0.9])
    assert steps_to_accuracy(h, 0.6) == 5


@pytest.mark.parametrize("target", [0, -0.5, 1.5, "0.9", True])
def test_steps_to_accuracy_rejects_a_target_that_is_not_an_accuracy(target):
    with pytest.raises(ValueError, match="target must be an accuracy in"):
        steps_to_accuracy(history([0.5], [0]), target)


def test_steps_to_accuracy_on_a_real_run():
    digits = load_digits()
    net = Network([64, 32, 10], activation="sigmoid", batchnorm=True, seed=0)
    h = train(net, digits.X_train, digits.Y_train, GradientDescent(1.0), 60, mini_batch_size=60, eval_every=5,
              X_test=digits.X_test, y_test=digits.y_test)
    step = steps_to_accuracy(h, 0.8)
    assert step is not None and step % 5 == 0
    index = list(h.eval_steps).index(step)
    assert h.test_accuracy[index] >= 0.8 and (h.test_accuracy[:index] < 0.8).all()


@pytest.fixture(scope="module")
def trained():
    digits = load_digits()
    net = Network([64, 32, 10], activation="relu", batchnorm=True, seed=0)
    train(net, digits.X_train, digits.Y_train, GradientDescent(0.5), 100, mini_batch_size=32)
    return net, digits


def test_batch_statistics_accuracy_with_everything_in_one_batch_is_the_train_mode_prediction(trained):
    net, digits = trained
    AL, _ = net.forward(digits.X_test, train=True, update_running=False)
    expected = np.mean(AL.argmax(axis=0) == digits.y_test)
    assert batch_statistics_accuracy(net, digits.X_test, digits.y_test, digits.X_test.shape[1]) == expected


def test_batch_statistics_accuracy_groups_examples_in_order_and_leaves_running_averages_alone(trained):
    net, digits = trained
    X, y = digits.X_test[:, :10], digits.y_test[:10]
    running = {k: v.copy() for k, v in net.running.items()}
    by_hand = [net.forward(X[:, a:a + 5], train=True, update_running=False)[0].argmax(axis=0) for a in (0, 5)]
    assert batch_statistics_accuracy(net, X, y, 5) == np.mean(np.concatenate(by_hand) == y)
    for key, value in running.items():
        np.testing.assert_array_equal(net.running[key], value)


def test_batch_statistics_accuracy_adds_a_leftover_single_example_to_the_group_before(trained):
    net, digits = trained
    X, y = digits.X_test[:, :7], digits.y_test[:7]     # groups of 3: [0:3], [3:7] (example 6 joins)
    by_hand = [net.forward(X[:, a:b], train=True, update_running=False)[0].argmax(axis=0) for a, b in ((0, 3), (3, 7))]
    assert batch_statistics_accuracy(net, X, y, 3) == np.mean(np.concatenate(by_hand) == y)


def test_small_groups_hurt_accuracy_compared_with_running_averages(trained):
    net, digits = trained
    eval_accuracy = net.accuracy(digits.X_test, digits.y_test)
    assert batch_statistics_accuracy(net, digits.X_test, digits.y_test, 2) < eval_accuracy - 0.05


def test_batch_statistics_accuracy_rejects_groups_of_one_and_mismatched_labels(trained):
    net, digits = trained
    with pytest.raises(ValueError, match="at least 2 examples"):
        batch_statistics_accuracy(net, digits.X_test, digits.y_test, 1)
    with pytest.raises(ValueError, match="one label per column"):
        batch_statistics_accuracy(net, digits.X_test, digits.y_test[:-1], 4)


# --- the figures of notebooks 5-7: every axes titled and labelled, a legend where there are several lines ---

def labelled(ax):
    return bool(ax.get_title()) and bool(ax.get_xlabel()) and bool(ax.get_ylabel())


@pytest.fixture(scope="module")
def two_histories():
    import matplotlib
    matplotlib.use("Agg")
    digits = load_digits()
    histories = []
    for batchnorm in (False, True):
        net = Network([64, 20, 20, 10], activation="sigmoid", batchnorm=batchnorm, seed=0, weight_scale=0.1)
        histories.append(train(net, digits.X_train, digits.Y_train, GradientDescent(1.0), 40, mini_batch_size=60,
                               eval_every=10, X_test=digits.X_test, y_test=digits.y_test, track_units=3))
    return histories


def test_paper_figure_has_three_labelled_panels_sharing_the_percentile_scale(two_histories):
    import matplotlib.pyplot as plt
    from bnlab import plots
    without, with_bn = two_histories
    unit = int(with_bn.tracked_units[2][1])
    fig = plots.plot_paper_figure1(without, with_bn, layer=2, unit=unit, target=0.9)
    axes = fig.axes
    assert len(axes) == 3 and all(labelled(ax) for ax in axes)
    assert [len(ax.get_legend().get_texts()) for ax in axes] == [3, 2, 2]
    assert axes[1].get_ylim() == axes[2].get_ylim()
    median = axes[2].get_lines()[0].get_ydata()       # panel (c) draws the tracked unit's median
    np.testing.assert_array_equal(median, with_bn.percentiles[2][:, 1, 1])
    plt.close(fig)


def test_percentile_plot_rejects_a_unit_that_was_not_tracked(two_histories):
    from bnlab import plots
    with pytest.raises(ValueError, match="was not tracked"):
        plots.plot_activation_input_percentiles(two_histories[0], layer=1, unit=5, title="t")


def test_figures_of_notebooks_6_and_7_are_labelled():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from bnlab import plots
    T = np.arange(10.0)
    figures = [plots.plot_running_averages({"mean μ": (T, T, 4.0), "variance σ²": (T, T, None)}, "title"),
               plots.plot_accuracy_vs_batch_size([2, 4, 8], [0.5, 0.7, 0.9], 0.95, "title"),
               plots.plot_estimates_vs_step({"a": T, "b": T + 1}, 1.0, "σ²", "title")]
    for fig in figures:
        assert all(labelled(ax) for ax in fig.axes)
        assert all(ax.get_legend() is not None and len(ax.get_legend().get_texts()) >= 2 for ax in fig.axes)
        plt.close(fig)
