"""The figures the notebooks draw. Each function takes data computed by bnlab, draws on a new
(or given) matplotlib Axes, titles and labels it, and returns the Figure; notebooks end plotting
cells with ``;`` or ``plt.show()`` so no object repr is stored.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

# --- Figures for notebooks 1-4 (Z → BN → A, dropping b, mini-batches, optimizers) ---

def plot_histograms(panels, xlabel, title, bins=30):
    """Side-by-side histograms, one panel per entry, several overlaid distributions per panel.

    panels: {panel title: {legend label: 1-D values}}, e.g. {"unit 1": {"Z": Z[0], "Z̃": Z_tilde[0]}}.
    All panels share the x range, so a shift or a change of spread is visible between panels.
    """
    values = [np.ravel(v) for series in panels.values() for v in series.values()]
    edges = np.histogram_bin_edges(np.concatenate(values), bins=bins)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), sharey=True, squeeze=False)
    previous_labels = None
    for ax, (panel_title, series) in zip(axes[0], panels.items()):
        for index, (label, v) in enumerate(series.items()):  # first filled, the others outlined on top
            style = dict(alpha=0.5) if index == 0 else dict(histtype="step", linewidth=2, color=f"C{index}")
            ax.hist(np.ravel(v), bins=edges, label=label, **style)
        ax.set_title(panel_title)
        ax.set_xlabel(xlabel)
        if list(series) != previous_labels:  # a legend wherever the labels change
            ax.legend(fontsize="small", loc="upper left")
        previous_labels = list(series)
    axes[0, 0].set_ylabel("number of examples")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_minibatch_statistics(stats, full_mu, full_var, units):
    """Per-mini-batch μ and σ² of a few units, against the full-batch values, for several mini-batch sizes.

    stats: {mini-batch size: (mu, var)}, mu and var of shape (len(units), number of mini-batches);
    full_mu, full_var: (len(units),) the statistics over all m examples; units: the unit indices shown.
    One column of panels per unit; top row μ, bottom row σ²; each dot is one mini-batch.
    """
    sizes = list(stats)
    fig, axes = plt.subplots(2, len(units), figsize=(4.0 * len(units), 6.0), squeeze=False)
    jitter_rng = np.random.default_rng(0)  # spreads the dots sideways so they do not hide each other
    for row, (name, full) in enumerate([("mean μ", full_mu), ("variance σ²", full_var)]):
        for col, unit in enumerate(units):
            ax = axes[row, col]
            for position, size in enumerate(sizes):
                values = stats[size][row][col]
                x = position + jitter_rng.uniform(-0.2, 0.2, len(values))
                ax.plot(x, values, ".", color="C0", alpha=0.5, label="one mini-batch" if position == 0 else None)
            ax.axhline(full[col], color="C3", linestyle="--", label="all m examples")
            ax.set_xticks(range(len(sizes)), [str(s) for s in sizes])
            ax.set_xlabel("mini-batch size (examples)")
            ax.set_ylabel(f"{name} of Z[1], unit {unit + 1}")
            ax.set_title(f"unit {unit + 1}: {name.split()[0]} per mini-batch")
    axes[0, 0].legend(loc="upper right", fontsize="small")
    fig.suptitle("Each mini-batch normalizes with its own μ and σ²: noisier for smaller mini-batches")
    fig.tight_layout()
    return fig


def plot_loss_curves(curves, title, ax=None, smooth=1, log_scale=True):
    """Training loss against training step, one line per entry of curves ({label: losses per step}).

    smooth > 1 draws the running mean over that many steps (mini-batch losses are noisy); the first
    smooth − 1 steps are then not drawn.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.0))
    for label, loss in curves.items():
        loss = np.asarray(loss, dtype=np.float64)
        if smooth > 1:
            kernel = np.ones(smooth) / smooth
            ax.plot(np.arange(smooth, len(loss) + 1), np.convolve(loss, kernel, mode="valid"), label=label)
        else:
            ax.plot(np.arange(1, len(loss) + 1), loss, label=label)
    if log_scale:
        ax.set_yscale("log")
    ax.set_xlabel("training step (mini-batch)")
    ax.set_ylabel("loss (cross-entropy)" + (f", mean of {smooth} steps" if smooth > 1 else "")
                  + (", log scale" if log_scale else ""))
    ax.set_title(title)
    if len(curves) > 1:
        ax.legend()
    ax.figure.tight_layout()
    return ax.figure


def plot_loss_curve_panels(panels, title, smooth=1):
    """Loss curves side by side on a shared loss axis: panels is {panel title: {label: losses per step}}."""
    fig, axes = plt.subplots(1, len(panels), figsize=(6.0 * len(panels), 4.0), sharey=True, squeeze=False)
    for ax, (panel_title, curves) in zip(axes[0], panels.items()):
        plot_loss_curves(curves, panel_title, ax=ax, smooth=smooth)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_learning_rate_sweeps(learning_rates, panels, title, target=None):
    """Final test accuracy against the learning rate (log scale), one panel per optimizer.

    panels: {panel title: {label: (len(learning_rates),) accuracies in [0, 1], NaN where training diverged}}.
    A diverged run is drawn as an ✗ at the bottom of the panel; target: an accuracy drawn as a dotted line.
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(6.0 * len(panels), 4.0), sharey=True, squeeze=False)
    for ax, (panel_title, accuracies) in zip(axes[0], panels.items()):
        for index, (label, acc) in enumerate(accuracies.items()):
            acc = np.asarray(acc, dtype=np.float64)
            line, = ax.plot(learning_rates, acc, "o-", label=label)
            diverged = np.isnan(acc)
            if diverged.any():
                ax.plot(np.asarray(learning_rates)[diverged], np.full(diverged.sum(), 0.02 + 0.04 * index), "x",
                        color=line.get_color(), markersize=10, mew=2, label=f"{label}: diverged")
        if target is not None:
            ax.axhline(target, color="gray", linestyle=":", label=f"{target:.0%} accuracy")
        ax.set_xscale("log")
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("learning rate α (log scale)")
        ax.set_title(panel_title)
        ax.legend(loc="best", fontsize="small")
    axes[0, 0].set_ylabel("test accuracy after training (fraction)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# --- Figures for notebooks 5-7 (the paper's experiment, test time, frameworks) ---

def plot_accuracy_curves(histories, title, target=None, ax=None):
    """Test accuracy against training step, one line per entry of histories ({label: History}).

    target: an accuracy drawn as a dotted horizontal line (the goal steps-to-target is measured against).
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.0))
    for label, history in histories.items():
        ax.plot(history.eval_steps, history.test_accuracy, label=label)
    if target is not None:
        ax.axhline(target, color="gray", linestyle=":", label=f"target {target:.0%}")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("training step (mini-batch)")
    ax.set_ylabel("test accuracy (fraction correct)")
    ax.set_title(title)
    ax.legend(loc="lower right")
    ax.figure.tight_layout()
    return ax.figure


def plot_activation_input_percentiles(history, layer, unit, title, ax=None, color="C0"):
    """The 15th, 50th and 85th percentiles, over the test examples, of the input to one unit's activation,
    against training step (History.percentiles; the unit must be one of history.tracked_units[layer]).

    This is Figure 1(b, c) of Ioffe & Szegedy (2015): the input is Z[l] without Batch Norm, Z̃[l] with it.
    The median is solid and the two percentiles dashed, all in ``color`` (the colour names the network).
    """
    units = list(history.tracked_units[layer])
    if unit not in units:
        raise ValueError(f"unit {unit} of layer {layer} was not tracked; tracked units are {units}")
    values = history.percentiles[layer][:, units.index(unit), :]       # (evaluations, 3)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.plot(history.eval_steps, values[:, 1], "-", color=color, linewidth=2, label="median (50th percentile)")
    ax.plot(history.eval_steps, values[:, 0], "--", color=color, linewidth=1, label="15th and 85th percentiles")
    ax.plot(history.eval_steps, values[:, 2], "--", color=color, linewidth=1)
    ax.set_xlabel("training step (mini-batch)")
    ax.set_ylabel(f"input to the activation (Z or Z̃), unit {unit + 1} of layer {layer}", fontsize="small")
    ax.set_title(title)
    ax.legend(loc="best", fontsize="small")
    ax.figure.tight_layout()
    return ax.figure


def plot_paper_figure1(without_bn, with_bn, layer, unit, target=None):
    """Figure 1 of the Batch Norm paper from two training histories (the same network without and with
    Batch Norm): (a) test accuracy against step; (b, c) the 15/50/85th percentiles of the input to one
    sigmoid of ``layer`` over training, without and with Batch Norm, on a shared vertical scale.
    """
    fig, axes = plt.subplots(1, 3, figsize=(15.0, 4.2))
    plot_accuracy_curves({"without Batch Norm": without_bn, "with Batch Norm": with_bn},
                         "(a) test accuracy", target=target, ax=axes[0])
    plot_activation_input_percentiles(without_bn, layer, unit, "(b) input to a sigmoid, without Batch Norm", ax=axes[1],
                                      color="C0")  # one colour per network in all three panels, as in (a)
    plot_activation_input_percentiles(with_bn, layer, unit, "(c) input to the same sigmoid, with Batch Norm", ax=axes[2],
                                      color="C1")
    low = min(axes[1].get_ylim()[0], axes[2].get_ylim()[0])
    high = max(axes[1].get_ylim()[1], axes[2].get_ylim()[1])
    axes[1].set_ylim(low, high)
    axes[2].set_ylim(low, high)
    fig.suptitle("Figure 1 of the Batch Norm paper (Ioffe & Szegedy, 2015), reproduced on the 8×8 digits")
    fig.tight_layout()
    return fig


def plot_running_averages(panels, title):
    """Per-mini-batch statistics of one unit (dots) and their running average (line) against training step.

    panels: {name of the statistic: (per_batch (T,), running (T,), full)}, e.g. {"mean μ": (mu_t, running_mu, mu)};
    full: the statistic over the whole training set (dashed line), or None. One panel per entry.
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(6.0 * len(panels), 4.0), squeeze=False)
    for ax, (name, (per_batch, running, full)) in zip(axes[0], panels.items()):
        steps = np.arange(1, len(per_batch) + 1)
        ax.plot(steps, per_batch, ".", color="C0", alpha=0.5, markersize=4, label="this mini-batch's value")
        ax.plot(steps, running, "-", color="C3", linewidth=2, label="running average (used at test time)")
        if full is not None:
            ax.axhline(full, color="black", linestyle="--", linewidth=1, label="whole training set, final W")
        ax.set_xlabel("training step (mini-batch)")
        ax.set_ylabel(name)
        ax.set_title(name)
        ax.legend(loc="best", fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_accuracy_vs_batch_size(batch_sizes, accuracies, eval_accuracy, title):
    """Test accuracy when test examples are normalized in groups with their own statistics (train mode),
    against the group size (log scale), next to the eval-mode accuracy with running averages (one line).
    """
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.plot(batch_sizes, accuracies, "o-", label="train mode: each group's own μ, σ²")
    ax.axhline(eval_accuracy, color="C3", linestyle="--", label="eval mode: running averages (any group size)")
    ax.set_xscale("log")
    ax.set_xticks(batch_sizes, [str(size) for size in batch_sizes])
    ax.minorticks_off()
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("test examples normalized together (group size, log scale)")
    ax.set_ylabel("test accuracy (fraction correct)")
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def plot_estimates_vs_step(curves, true_value, ylabel, title):
    """Running estimates of one statistic against training step, one line per entry of curves
    ({label: (T,) values}), with the true value they should approach as a dashed line.
    """
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for label, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=label)
    ax.axhline(true_value, color="black", linestyle="--", linewidth=1, label=f"true value {true_value:g}")
    ax.set_xlabel("training step (mini-batch)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="best")
    fig.tight_layout()
    return fig



# --- Figures over seeds and inside a run (notebooks 4 and 5: why Batch Norm helps) ---

def _median_and_band(ax, x, runs, label, color, marker="o-"):
    """The median over the runs (rows of ``runs``) as a line, their smallest-to-largest range as a band."""
    from bnlab.experiments import spread

    median, low, high = spread(runs, axis=0)
    ax.fill_between(x, low, high, color=color, alpha=0.2, linewidth=0)
    ax.plot(x, median, marker, color=color, label=label)


def plot_learning_rate_sweeps_over_seeds(learning_rates, panels, title, target=None):
    """Test accuracy against the learning rate (log scale), over seeds: the median as a line, the range from
    the worst to the best seed as a band; one panel per optimizer.

    panels: {panel title: {label: (seeds, len(learning_rates)) accuracies, NaN where a run diverged}}.
    A learning rate at which some seed diverged gets an ✗ at the bottom of the panel.
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(6.0 * len(panels), 4.2), sharey=True, squeeze=False)
    for ax, (panel_title, runs_by_label) in zip(axes[0], panels.items()):
        for index, (label, runs) in enumerate(runs_by_label.items()):
            runs = np.asarray(runs, dtype=np.float64)
            _median_and_band(ax, learning_rates, runs, f"{label} (median of {len(runs)} seeds)", f"C{index}")
            diverged = np.isnan(runs).any(axis=0)
            if diverged.any():
                ax.plot(np.asarray(learning_rates)[diverged], np.full(diverged.sum(), 0.02 + 0.04 * index), "x",
                        color=f"C{index}", markersize=10, mew=2, label=f"{label}: some seeds diverged")
        if target is not None:
            ax.axhline(target, color="gray", linestyle=":", label=f"{target:.0%} accuracy")
        ax.set_xscale("log")
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("learning rate α (log scale)")
        ax.set_title(panel_title)
    axes[0, 0].set_ylabel("test accuracy after training (fraction)")
    handles, labels = axes[0, 0].get_legend_handles_labels()   # the same labels in every panel: one legend, below
    fig.suptitle(title + "\n(line: median over seeds; shaded: from the worst seed to the best)")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize="small", frameon=False)
    return fig


def plot_weight_scale_runs(panels, factors, title, smooth=10, ymax=10.0):
    """Training loss against step for initial hidden W scaled by each factor, over seeds: the median as a line,
    the range over the seeds as a band; one panel per entry (e.g. without and with Batch Norm).

    panels: {panel title: (len(factors), seeds, steps) losses, NaN after a run diverged}; factors: the scales.
    A factor keeps its colour in every panel. Losses are the running mean of ``smooth`` steps, on a log scale
    cut at ``ymax`` (a loss of 1e12 would hide everything else); the title of a panel says what was cut.
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(6.0 * len(panels), 4.2), sharey=True, squeeze=False)
    colors = plt.cm.viridis(np.linspace(0.0, 0.85, len(factors)))
    kernel = np.ones(smooth) / smooth
    for ax, (panel_title, loss) in zip(axes[0], panels.items()):
        loss = np.asarray(loss, dtype=np.float64)
        steps = np.arange(smooth, loss.shape[2] + 1)
        above = []
        for factor, runs, color, style in zip(factors, loss, colors, ["-", "--", "-.", ":"] * len(factors)):
            smoothed = np.array([np.convolve(run, kernel, mode="valid") for run in runs])
            _median_and_band(ax, steps, smoothed, f"W × {factor:g}", color, marker=style)  # styles: overlaps show
            if np.nanmax(smoothed) > ymax:
                above.append(f"{factor:g}")
        ax.set_yscale("log")
        ax.set_xlabel("training step (mini-batch)")
        ax.set_title(panel_title + (f"\n(W × {', '.join(above)}: loss goes above {ymax:g}, off the top)" if above else ""),
                     fontsize="medium")
    losses = np.concatenate([np.ravel(loss) for loss in panels.values()])
    lowest = np.nanmin(losses[losses > 0], initial=ymax)
    axes[0, 0].set_ylim(min(lowest, ymax) / 1.5, ymax)         # shared by the panels (sharey)
    axes[0, 0].set_ylabel(f"loss, mean of {smooth} steps (log scale)")
    handles, labels = axes[0, 0].get_legend_handles_labels()   # the same factors in every panel: one legend, below
    fig.suptitle(title + "\n(line: median over seeds; shaded: from the lowest seed to the highest)")
    fig.tight_layout(rect=(0, 0.11, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), title="initial hidden W", frameon=False,
               fontsize="small")
    return fig


def plot_layer_histograms(grid, xlabel, title, bins=40, value_range=None):
    """Histograms of each layer's values in a grid of panels, e.g. rows = without / with Batch Norm and
    columns = training steps; in every panel one line per layer (the same colour for a layer everywhere).

    grid: {row title: {column title: {layer label: 1-D values}}}; value_range: (low, high) of the bins,
    shared by every panel (default: the range of all values). The vertical axis is the fraction of the
    values per bin, so panels with different numbers of values compare.
    """
    rows = list(grid)
    columns = list(grid[rows[0]])
    all_values = np.concatenate([np.ravel(v) for row in grid.values() for col in row.values() for v in col.values()])
    edges = np.histogram_bin_edges(all_values, bins=bins, range=value_range)
    centers = (edges[:-1] + edges[1:]) / 2
    layers = list(grid[rows[0]][columns[0]])
    colors = dict(zip(layers, plt.cm.viridis(np.linspace(0.0, 0.8, len(layers)))))
    fig, axes = plt.subplots(len(rows), len(columns), figsize=(4.2 * len(columns), 3.0 * len(rows)),
                             sharex=True, squeeze=False)
    for r, row in enumerate(rows):
        for c, column in enumerate(columns):
            ax = axes[r, c]
            for layer, values in grid[row][column].items():
                counts, _ = np.histogram(np.clip(np.ravel(values), edges[0], edges[-1]), bins=edges)
                ax.plot(centers, counts / max(counts.sum(), 1), "-", color=colors[layer], label=layer)
            ax.set_title(f"{row}, {column}", fontsize="medium")
            if c == 0:
                ax.set_ylabel("fraction of values")
            if r == len(rows) - 1:
                ax.set_xlabel(xlabel)
    handles, labels = axes[0, 0].get_legend_handles_labels()   # the same layers in every panel: one legend, below
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False)
    return fig
