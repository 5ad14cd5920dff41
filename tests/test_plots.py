"""bnlab.plots: the lecture's network drawing and the histograms, checked by what they draw.

The network drawing labels its artists with gids ("b1-crossed", "bn2-0", ...), so the tests read what was drawn
where instead of only checking that drawing did not fail.
"""
from __future__ import annotations

import matplotlib
import matplotlib.patches

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from bnlab import plots  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def gids(fig):
    return {artist.get_gid() for artist in fig.findobj() if artist.get_gid()}


def pixels(fig):
    fig.set_dpi(40)   # enough pixels to tell pictures apart, few enough to render fast
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba()).copy()


def artist(fig, gid):
    found = [a for a in fig.findobj() if a.get_gid() == gid]
    assert len(found) == 1, f"expected one artist with gid {gid!r}, found {len(found)}"
    return found[0]


@pytest.mark.parametrize("batchnorm", [True, False, [True, False], [False, True]])
def test_b_is_crossed_out_exactly_where_batch_norm_follows(batchnorm):
    fig = plots.draw_network((3, 3, 3, 2), batchnorm=batchnorm)
    drawn = gids(fig)
    bn = [batchnorm] * 2 if isinstance(batchnorm, bool) else batchnorm
    assert {f"b{l}" for l in (1, 2, 3)} <= drawn, "every layer shows its b, crossed out or not"
    crossed = {l for l in (1, 2, 3) if f"b{l}-crossed" in drawn}
    assert crossed == {l for l in (1, 2) if bn[l - 1]}, "b is crossed out in the hidden layers with BN, nowhere else"
    with_gamma_beta = {l for l in (1, 2, 3) if f"gamma-beta{l}" in drawn}
    assert with_gamma_beta == crossed, "γ, β stand exactly where b is dropped"


def test_every_unit_is_a_circle_split_into_its_steps():
    fig = plots.draw_network((2, 4, 3, 2), batchnorm=[True, False])
    drawn = gids(fig)
    circles = {gid for gid in drawn if gid.startswith("unit")}
    assert circles == {f"unit{l}-{j}" for l, n in enumerate((2, 4, 3, 2)) for j in range(n)}
    for j in range(4):   # hidden layer 1 has Batch Norm: z | z̃ | a
        assert {f"z1-{j}", f"bn1-{j}", f"a1-{j}"} <= drawn
    for l, n in ((2, 3), (3, 2)):   # no Batch Norm in layer 2, none ever in the output layer: z | a
        for j in range(n):
            assert {f"z{l}-{j}", f"a{l}-{j}"} <= drawn and f"bn{l}-{j}" not in drawn
    # the slices tile the circle from left to right, in the order of the steps
    lefts = [artist(fig, f"{step}1-0").get_x() for step in ("z", "bn", "a")]
    assert lefts == sorted(lefts)
    assert artist(fig, "bn1-0").get_clip_path() is not None, "the slices are cut to the circle"


def test_each_parameter_stands_over_the_step_it_acts_in():
    fig = plots.draw_network((3, 3, 3, 1))
    for l in (1, 2):
        z, bn, a = (artist(fig, f"{step}{l}-0") for step in ("z", "bn", "a"))
        middle = {step: s.get_x() + s.get_width() / 2 for step, s in zip(("z", "bn", "a"), (z, bn, a))}
        assert artist(fig, f"b{l}").get_position()[0] == pytest.approx(middle["z"])
        assert artist(fig, f"gamma-beta{l}").get_position()[0] == pytest.approx(middle["bn"])
        assert artist(fig, f"g{l}").get_position()[0] == pytest.approx(middle["a"])
        x_line = artist(fig, f"b{l}-crossed").get_xdata()
        assert min(x_line) < middle["z"] < max(x_line), "the line goes through b"
        # W[l] labels the connections: between layer l - 1 and layer l
        assert artist(fig, f"unit{l - 1}-0").center[0] < artist(fig, f"W{l}").get_position()[0] < z.get_x()
    assert "$g^{[3]}$" == artist(fig, "g3").get_text()


def test_highlights_draw_different_pictures_each_showing_its_point():
    figures = {h: plots.draw_network(highlight=h) for h in plots.NETWORK_HIGHLIGHTS}
    images = {h: pixels(fig) for h, fig in figures.items()}
    names = list(images)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            assert not np.array_equal(images[first], images[second]), f"highlight {first!r} looks like {second!r}"
    plain, bn, b = (figures[h] for h in (None, "bn", "b"))
    # "bn": the Batch Norm slices stand out; "b": the b that BN cancels turns red
    assert artist(bn, "bn1-0").get_facecolor() != artist(plain, "bn1-0").get_facecolor()
    assert artist(b, "b1").get_color() != artist(plain, "b1").get_color()
    assert artist(b, "b3").get_color() == artist(plain, "b3").get_color(), "the output layer keeps its b"
    # "minibatch": every Batch Norm layer shows the mini-batch's own statistics, and only those
    def stats_labels(fig):
        return {g for g in gids(fig) if g.startswith("minibatch-stats")}

    assert stats_labels(figures["minibatch"]) == {"minibatch-stats1", "minibatch-stats2"}
    assert stats_labels(plots.draw_network(batchnorm=[False, True], highlight="minibatch")) == {"minibatch-stats2"}
    assert stats_labels(plots.draw_network(highlight="b")) == set()


@pytest.mark.parametrize("highlight", [None, "bn", "b"])
def test_the_title_says_so_when_no_layer_has_batch_norm(highlight):
    with_bn = plots.draw_network(highlight=highlight).axes[0].get_title()
    without = plots.draw_network(batchnorm=False, highlight=highlight).axes[0].get_title()
    assert "no Batch Norm" in without and "no Batch Norm" not in with_bn


def test_draws_on_a_given_axes():
    fig, ax = plt.subplots()
    assert plots.draw_network(ax=ax) is fig
    assert not ax.axison


@pytest.mark.parametrize("kwargs, message", [
    (dict(layer_sizes=(3,)), "at least two positive integers"),
    (dict(layer_sizes=(3, 0, 1)), "at least two positive integers"),
    (dict(layer_sizes=(3, 2.5, 1)), "at least two positive integers"),
    (dict(layer_sizes=[[3, 3]]), "at least two positive integers"),
    (dict(layer_sizes=(64, 100, 10)), "at most 6 units per layer"),
    (dict(batchnorm=[True]), r"one True/False per hidden layer \(2 for"),
    (dict(batchnorm=[True, False, True]), "the output layer never has Batch Norm"),
    (dict(batchnorm=["yes", "no"]), "one True/False per hidden layer"),
    (dict(highlight="B"), "highlight must be one of"),
])
def test_bad_arguments_say_what_was_expected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        plots.draw_network(**kwargs)


def bar_heights(ax, label):
    """The heights of the histogram drawn with this label (a filled one: its bars; an outlined one: its steps)."""
    for container in ax.containers:   # a filled histogram: its label is on its first bar
        if container.patches[0].get_label() == label:
            return np.array([bar.get_height() for bar in container])
    for patch in ax.patches:
        if isinstance(patch, matplotlib.patches.Polygon) and patch.get_label() == label:
            return patch.get_xy()[1:-1:2, 1]   # histtype="step": (edge, height) pairs, two per bin
    raise AssertionError(f"no histogram labelled {label!r}")


def test_bins_of_a_width_that_divides_a_shift_keep_the_histogram_shape():
    z = np.random.default_rng(0).normal(size=500)
    fig = plots.plot_histograms({"p": {"Z": z, "Z + 5": z + 5.0}}, xlabel="x", title="t", bin_width=0.25)
    ax = fig.axes[0]
    heights, shifted = bar_heights(ax, "Z"), bar_heights(ax, "Z + 5")
    assert heights.sum() == shifted.sum() == 500
    # the shifted histogram is the same one, 20 bins (5 / 0.25) further right
    assert np.array_equal(heights[:-20], shifted[20:])
    edges = np.array([bar.get_x() for bar in ax.containers[0]])
    assert np.allclose(edges / 0.25, np.round(edges / 0.25)), "edges at multiples of the bin width"
    assert np.allclose(np.diff(edges), 0.25)


def test_default_bins_still_split_the_range_into_equal_bins():
    z = np.linspace(0.0, 3.0, 31)
    ax = plots.plot_histograms({"p": {"Z": z}}, xlabel="x", title="t", bins=3).axes[0]
    assert bar_heights(ax, "Z").tolist() == [10, 10, 11]


@pytest.mark.parametrize("bin_width", [0, -0.5, np.nan, [0.5]])
def test_a_bad_bin_width_is_refused(bin_width):
    with pytest.raises(ValueError, match="bin_width must be a positive number"):
        plots.plot_histograms({"p": {"Z": np.arange(5.0)}}, xlabel="x", title="t", bin_width=bin_width)


def overlaps(box, other):
    return box.x0 < other.x1 and other.x0 < box.x1 and box.y0 < other.y1 and other.y0 < box.y1


@pytest.mark.parametrize("same_labels", [True, False])
def test_no_legend_covers_a_bar(same_labels):
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=300), rng.normal(size=300)
    second = {"Z": a, "Z̃": b} if same_labels else {"Z̃ from b = 0": a, "Z̃ from b = 5": b}
    fig = plots.plot_histograms({"one": {"Z": a, "Z̃": b}, "two": second}, xlabel="x", title="t", bin_width=0.25)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legends = fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    assert len(legends) == (1 if same_labels else 2), "one legend for shared labels, else one per panel"
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            for patch in ax.patches:   # bars and outlines (an empty bin's bar has no height to cover)
                if not (isinstance(patch, matplotlib.patches.Rectangle) and patch.get_height() == 0):
                    assert not overlaps(box, patch.get_window_extent(renderer)), "a legend covers the bars"
            assert not overlaps(box, ax.xaxis.label.get_window_extent(renderer)), "a legend covers an axis label"


def test_the_minibatch_statistics_legend_sits_outside_every_panel():
    rng = np.random.default_rng(2)
    stats = {size: (rng.normal(size=(2, 20)), rng.uniform(size=(2, 20))) for size in (8, 32)}
    fig = plots.plot_minibatch_statistics(stats, np.zeros(2), np.ones(2), units=[0, 1])
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    assert [ax.get_legend() for ax in fig.axes] == [None] * 4 and len(fig.legends) == 1
    box = fig.legends[0].get_window_extent(renderer)
    for ax in fig.axes:
        assert not overlaps(box, ax.get_window_extent(renderer)), "the legend covers a panel"
