"""The figures over seeds and inside a run (notebooks 4 and 5): what they draw is the data's median and range,
each panel is labelled, and a colour means one thing in a figure."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from bnlab import plots  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def labelled(ax):
    return bool(ax.get_title()) and bool(ax.get_xlabel())


def test_sweep_over_seeds_draws_the_median_the_range_and_marks_divergence():
    rates = np.array([0.01, 0.1, 1.0])
    runs = np.array([[0.2, 0.9, np.nan], [0.4, 0.8, 0.1], [0.3, 0.95, 0.2]])
    fig = plots.plot_learning_rate_sweeps_over_seeds(rates, {"GD": {"a": runs, "b": runs * 0.5}}, "t", target=0.9)
    ax = fig.axes[0]
    assert labelled(ax) and ax.get_ylabel()
    median_line = ax.get_lines()[0]
    np.testing.assert_allclose(median_line.get_ydata(), [0.3, 0.9, 0.15])
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx(0.1) and band.max() == pytest.approx(0.95)   # over all seeds, NaN left out
    crosses = [line for line in ax.get_lines() if line.get_marker() == "x"]
    assert len(crosses) == 2 and list(crosses[0].get_xdata()) == [1.0]   # only where a seed diverged
    legend_texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "a (median of 3 seeds)" in legend_texts and "90% accuracy" in legend_texts


def test_weight_scale_figure_keeps_one_colour_per_factor_and_says_what_is_off_the_chart():
    rng = np.random.default_rng(0)
    loss = np.exp(rng.normal(size=(2, 3, 30)))                    # (factors, seeds, steps)
    exploding = loss.copy()
    exploding[1] *= 1e6
    fig = plots.plot_weight_scale_runs({"without": exploding, "with": loss}, (0.1, 10), "t", smooth=5)
    left, right = fig.axes
    assert all(labelled(ax) for ax in (left, right))
    assert "off the top" in left.get_title() and "off the top" not in right.get_title()
    colours = [[tuple(line.get_color()) for line in ax.get_lines()] for ax in (left, right)]
    assert colours[0] == colours[1] and colours[0][0] != colours[0][1]
    smoothed = np.array([np.convolve(run, np.ones(5) / 5, mode="valid") for run in loss[0]])
    np.testing.assert_allclose(right.get_lines()[0].get_ydata(), np.median(smoothed, axis=0))


def test_layer_histograms_one_panel_per_row_and_column_with_fractions_summing_to_one():
    rng = np.random.default_rng(1)
    grid = {row: {f"step {s}": {f"layer {l}": rng.uniform(size=50 * l) for l in (1, 2, 3)} for s in (0, 20)}
            for row in ("without", "with")}
    fig = plots.plot_layer_histograms(grid, "A", "t", bins=10, value_range=(0, 1))
    assert len(fig.axes) == 4
    assert ([ax.get_title() for ax in fig.axes]
            == ["without, step 0", "without, step 20", "with, step 0", "with, step 20"])
    for ax in fig.axes:
        assert len(ax.get_lines()) == 3
        for line in ax.get_lines():
            assert line.get_ydata().sum() == pytest.approx(1.0)
    assert fig.axes[2].get_xlabel() == "A" and fig.axes[0].get_ylabel()
    layer_colours = [[tuple(line.get_color()) for line in ax.get_lines()] for ax in fig.axes]
    assert all(c == layer_colours[0] for c in layer_colours)


def test_paper_figure_uses_one_colour_per_network_in_every_panel():
    from bnlab import GradientDescent, Network, load_digits, train
    digits = load_digits()
    histories = []
    for batchnorm in (False, True):
        net = Network([64, 10, 10], activation="sigmoid", batchnorm=batchnorm, seed=0, weight_scale=0.1)
        histories.append(train(net, digits.X_train, digits.Y_train, GradientDescent(1.0), 20, mini_batch_size=60,
                               eval_every=10, X_test=digits.X_test, y_test=digits.y_test, track_units=2))
    fig = plots.plot_paper_figure1(*histories, layer=1, unit=9, target=0.9)
    from matplotlib.colors import to_rgba
    accuracy_colours = [to_rgba(line.get_color()) for line in fig.axes[0].get_lines()[:2]]   # (a): without, with
    assert accuracy_colours[0] != accuracy_colours[1]
    for ax, colour in zip(fig.axes[1:], accuracy_colours):                                    # (b) without, (c) with
        assert {to_rgba(line.get_color()) for line in ax.get_lines()} == {colour}
