"""The figures the notebooks draw. Each function takes data computed by bnlab, draws on a new
(or given) matplotlib Axes, titles and labels it, and returns the Figure; notebooks end plotting
cells with ``;`` or ``plt.show()`` so no object repr is stored.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

# --- Figures for notebooks 1-4 (Z → BN → A, dropping b, mini-batches, optimizers) ---

def plot_histograms(panels, xlabel, title, bins=30, bin_width=None):
    """Side-by-side histograms, one panel per entry, several overlaid distributions per panel.

    panels: {panel title: {legend label: 1-D values}}, e.g. {"unit 1": {"Z": Z[0], "Z̃": Z_tilde[0]}}.
    All panels share the bins and the x range, so a shift or a change of spread is visible between panels.
    bins: the number of bins over the range of all values; bin_width (instead of bins): bins of that width,
    their edges multiples of it, so a shift by a multiple of bin_width moves a histogram by whole bins and
    leaves its shape unchanged. The legends sit under the panels, never over the bars: one for the figure
    when every panel has the same labels, else one under each panel.
    """
    values = [np.ravel(v) for series in panels.values() for v in series.values()]
    edges = _histogram_edges(np.concatenate(values), bins, bin_width)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), sharey=True, squeeze=False,
                             layout="constrained")
    labels = [list(series) for series in panels.values()]
    for ax, (panel_title, series) in zip(axes[0], panels.items()):
        for index, (label, v) in enumerate(series.items()):  # first filled, the others outlined on top
            style = dict(alpha=0.5) if index == 0 else dict(histtype="step", linewidth=2, color=f"C{index}")
            ax.hist(np.ravel(v), bins=edges, label=label, **style)
        ax.set_title(panel_title)
        ax.set_xlabel(xlabel)
        if len(set(map(tuple, labels))) > 1:
            ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    if len(set(map(tuple, labels))) == 1:
        fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncols=len(labels[0]),
                   fontsize="small", frameon=False)
    axes[0, 0].set_ylabel("number of examples")
    fig.suptitle(title)
    return fig


def _histogram_edges(values, bins, bin_width):
    """Bin edges over values: ``bins`` equal bins, or bins of width ``bin_width`` at multiples of it."""
    if bin_width is None:
        return np.histogram_bin_edges(values, bins=bins)
    if not (np.isscalar(bin_width) and np.isfinite(bin_width) and bin_width > 0):
        raise ValueError(f"bin_width must be a positive number (the width of every bin); got {bin_width!r}")
    first, last = np.floor(values.min() / bin_width), np.ceil(values.max() / bin_width)
    return np.arange(first, max(last, first + 1) + 1) * bin_width


def plot_minibatch_statistics(stats, full_mu, full_var, units):
    """Per-mini-batch μ and σ² of a few units, against the full-batch values, for several mini-batch sizes.

    stats: {mini-batch size: (mu, var)}, mu and var of shape (len(units), number of mini-batches);
    full_mu, full_var: (len(units),) the statistics over all m examples; units: the unit indices shown.
    One column of panels per unit; top row μ, bottom row σ²; each dot is one mini-batch.
    """
    sizes = list(stats)
    fig, axes = plt.subplots(2, len(units), figsize=(4.0 * len(units), 6.4), squeeze=False, layout="constrained")
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
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncols=2, frameon=False)
    fig.suptitle("Each mini-batch normalizes with its own μ and σ²: noisier for smaller mini-batches")
    return fig


# The lecture's network, drawn (notebooks 1-3): every unit split into its steps Z → BN → A.

NETWORK_HIGHLIGHTS = (None, "bn", "b", "minibatch")
MAX_UNITS_DRAWN = 6
_STEP_COLORS = {"z": "#dbe9f6", "bn": "#fde3c8", "a": "#dcefd6"}  # light fills: linear step, Batch Norm, activation
_BN_HIGHLIGHT_FILL = "#f6a25a"
_DROPPED_COLOR, _BN_COLOR = "#d62728", "#c05000"                # red: what Batch Norm cancels; dark orange: BN, β
_RADIUS, _INPUT_RADIUS, _DX, _DY = 0.75, 0.45, 3.6, 1.9         # circle radii, column and row spacing (data units)
_NETWORK_TITLES = {None: "Each unit: z, then Batch Norm (z̃), then a",
                   "bn": "Batch Norm sits between z and a, with each layer's own γ, β",
                   "b": "b is cancelled by Batch Norm's mean subtraction: dropped, β takes its role",
                   "minibatch": "One mini-batch at a time: each Batch Norm uses that mini-batch's own μ, σ²"}


def _check_network_drawing(layer_sizes, batchnorm, highlight):
    """The layer sizes as ints and one bool per hidden layer, or a ValueError saying what was expected."""
    sizes = list(layer_sizes) if np.ndim(layer_sizes) == 1 else None
    if not sizes or len(sizes) < 2 or not all(isinstance(n, (int, np.integer)) and n >= 1 for n in sizes):
        raise ValueError("layer_sizes must be [n_x, n[1], ..., n[L]]: at least two positive integers; "
                         f"got {layer_sizes!r}")
    if max(sizes) > MAX_UNITS_DRAWN:
        raise ValueError(f"draw_network draws at most {MAX_UNITS_DRAWN} units per layer (it is a sketch); got "
                         f"layer_sizes {sizes}; draw a small network such as (3, 3, 3, 1)")
    hidden = len(sizes) - 2
    if isinstance(batchnorm, (bool, np.bool_)):
        batchnorm = [bool(batchnorm)] * hidden
    else:
        batchnorm = list(batchnorm)
        if len(batchnorm) != hidden or not all(isinstance(x, (bool, np.bool_)) for x in batchnorm):
            raise ValueError(f"batchnorm must be True, False or one True/False per hidden layer ({hidden} for "
                             f"layer_sizes {sizes}; the output layer never has Batch Norm); got {batchnorm!r}")
    if highlight not in NETWORK_HIGHLIGHTS:
        raise ValueError(f"highlight must be one of {NETWORK_HIGHLIGHTS}; got {highlight!r}")
    return [int(n) for n in sizes], [bool(x) for x in batchnorm]


def _unit_ys(n):
    """Vertical centres of n units, top to bottom, centred on 0."""
    return [((n - 1) / 2 - j) * _DY for j in range(n)]


def _draw_unit(ax, x, y, steps, name, highlight_bn):
    """One unit: a circle split into vertical slices, one per step ("z", "bn", "a"), each filled and named.

    name: "{l}-{j}" for unit j of layer l; the circle's gid is "unit" + name, each slice's its step + name.
    """
    circle = plt.Circle((x, y), _RADIUS, facecolor="none", edgecolor="black", linewidth=1.2, zorder=4,
                        gid=f"unit{name}")
    ax.add_patch(circle)
    width = 2 * _RADIUS / len(steps)
    symbols = {"z": "$z$", "bn": r"$\tilde z$", "a": "$a$"}
    for index, step in enumerate(steps):
        left = x - _RADIUS + index * width
        fill = _BN_HIGHLIGHT_FILL if step == "bn" and highlight_bn else _STEP_COLORS[step]
        slice_ = plt.Rectangle((left, y - _RADIUS), width, 2 * _RADIUS, facecolor=fill, edgecolor="none", zorder=2,
                               gid=f"{step}{name}")
        ax.add_patch(slice_)
        slice_.set_clip_path(circle)
        if index:
            half = np.sqrt(_RADIUS ** 2 - (left - x) ** 2)
            ax.plot([left, left], [y - half, y + half], color="black", linewidth=0.8, zorder=3)
        inward = 0.06 if index == 0 else -0.06 if index == len(steps) - 1 else 0  # keep names clear of the rim
        ax.text(left + width / 2 + inward, y, symbols[step], ha="center", va="center", fontsize=12, zorder=5)


def _draw_parameters(ax, l, x, y, has_bn, highlight):
    """Layer l's parameters over the steps they act in, above a column whose top unit ends at height y:
    b[l] over z (crossed out where Batch Norm follows), BN(γ[l], β[l]) over z̃, g[l] over a."""
    step = 2 * _RADIUS / (3 if has_bn else 2)
    z_x, a_x = x - _RADIUS + step / 2, x + _RADIUS - step / 2
    dropped = has_bn and highlight == "b"
    ax.text(z_x, y + 0.25, f"$b^{{[{l}]}}$", ha="center", va="bottom", fontsize=13,
            color=_DROPPED_COLOR if dropped else "black", gid=f"b{l}")
    if has_bn:  # a line through b: the mean subtraction cancels it
        ax.plot([z_x - 0.32, z_x + 0.32], [y + 0.29, y + 0.61], color=_DROPPED_COLOR, linewidth=2.4 if dropped else 1.5,
                zorder=6, gid=f"b{l}-crossed")
        ax.text(x, y + 0.85, f"BN($\\gamma^{{[{l}]}},\\ \\beta^{{[{l}]}}$)", ha="center", va="bottom", fontsize=13,
                color=_BN_COLOR if highlight in ("bn", "b") else "black", gid=f"gamma-beta{l}")
        ax.plot([x, x], [y + 0.82, y + 0.02], color="0.4", linewidth=0.8, zorder=1)
    elif highlight == "b":
        ax.text(z_x, y + 0.8, "kept (no BN)", ha="center", va="bottom", fontsize=10, color="0.25")
    ax.text(a_x, y + 0.25, f"$g^{{[{l}]}}$", ha="center", va="bottom", fontsize=13, gid=f"g{l}")


def _draw_minibatch_flow(ax, x_end, y):
    """Two arrows from height y down: forward on one mini-batch X{t}, then back with dW, dγ, dβ. Returns the
    height below them."""
    ax.annotate("", xy=(x_end, y), xytext=(0, y), arrowprops=dict(arrowstyle="-|>", color="C0", linewidth=2))
    ax.text(x_end / 2, y - 0.1, "forward on $X^{\\{t\\}}$ only", ha="center", va="top", color="C0", fontsize=10)
    ax.annotate("", xy=(0, y - 0.8), xytext=(x_end, y - 0.8),
                arrowprops=dict(arrowstyle="-|>", color="C1", linewidth=2))
    ax.text(x_end / 2, y - 0.9, r"backprop: $dW^{[l]},\ d\gamma^{[l]},\ d\beta^{[l]}$, then update; next mini-batch",
            ha="center", va="top", color="C1", fontsize=10)
    return y - 1.5


def draw_network(layer_sizes=(3, 3, 3, 1), batchnorm=True, highlight=None, ax=None):
    """The lecture's network: X → [Z[1] → BN(γ[1], β[1]) → Z̃[1] → A[1]] → [Z[2] → BN → Z̃[2] → A[2]] → … → ŷ.

    layer_sizes: [n_x, n[1], ..., n[L]] as for ``Network`` (at most 6 units per layer: this is a sketch).
    batchnorm: True or False for every hidden layer, or one bool per hidden layer; the output layer has none.
    Each unit is a circle split into its steps, z | z̃ | a where Batch Norm follows the linear step, z | a where
    not. Above each layer its parameters stand over the step they act in: W[l] on the connections, b[l] over z
    (crossed out where Batch Norm follows, because the mean subtraction cancels it), γ[l], β[l] over z̃, g[l]
    over a. highlight: None; "bn" (the Batch Norm step of every hidden layer); "b" (the b that Batch Norm
    cancels and the β that takes its role); "minibatch" (one mini-batch X{t} flowing forward, each Batch Norm
    with that mini-batch's own μ, σ², and the gradients flowing back).
    Artists carry a gid to look them up by: "unit{l}-{j}" (the circle of unit j of layer l, inputs are layer 0),
    "z{l}-{j}", "bn{l}-{j}", "a{l}-{j}" (its slices), "W{l}", "b{l}", "b{l}-crossed", "gamma-beta{l}", "g{l}" and,
    with highlight="minibatch", "minibatch-stats{l}".
    Returns the Figure.
    """
    sizes, bn = _check_network_drawing(layer_sizes, batchnorm, highlight)
    L = len(sizes) - 1
    new_figure = ax is None
    if new_figure:
        _, ax = plt.subplots()
    flow = highlight == "minibatch"
    top = (max(sizes) - 1) / 2 * _DY + _RADIUS            # the top of the tallest column; -top is its bottom
    label_y = -top - (1.15 if flow else 0.25)             # the layers' names, under the columns
    edge_style = dict(color="C0", linewidth=1.6, alpha=0.8) if flow else dict(color="0.6", linewidth=0.8)
    xs = [l * _DX for l in range(L + 1)]

    for j, y in enumerate(_unit_ys(sizes[0])):            # the features of X (or of one mini-batch X{t})
        ax.add_patch(plt.Circle((0, y), _INPUT_RADIUS, facecolor="white", edgecolor="black", zorder=4,
                                gid=f"unit0-{j}"))
        ax.text(0, y, f"$x_{j + 1}$", ha="center", va="center", fontsize=12, zorder=5)
    ax.text(0, label_y, "input\n" + ("one mini-batch $X^{\\{t\\}}$" if flow else "$X = A^{[0]}$"),
            ha="center", va="top", fontsize=10, color="C0" if flow else "black")
    for l in range(1, L + 1):
        x, has_bn = xs[l], l < L and bn[l - 1]
        x_from = xs[l - 1] + (_INPUT_RADIUS if l == 1 else _RADIUS)
        for y0 in _unit_ys(sizes[l - 1]):                 # the connections carry W[l]
            for y1 in _unit_ys(sizes[l]):
                ax.plot([x_from, x - _RADIUS], [y0, y1], zorder=1, **edge_style)
        ax.text((x_from + x - _RADIUS) / 2, top + 0.45, f"$W^{{[{l}]}}$", ha="center", va="bottom", fontsize=13,
                gid=f"W{l}")
        for j, y in enumerate(_unit_ys(sizes[l])):
            _draw_unit(ax, x, y, ["z", "bn", "a"] if has_bn else ["z", "a"], f"{l}-{j}", has_bn and highlight == "bn")
        _draw_parameters(ax, l, x, (sizes[l] - 1) / 2 * _DY + _RADIUS, has_bn, highlight)
        if has_bn and flow:
            ax.text(x, -top - 0.25, f"$\\mu^{{\\{{t\\}}[{l}]}},\\ \\sigma^{{2\\,\\{{t\\}}[{l}]}}$\nof this mini-batch",
                    ha="center", va="top", fontsize=10, color="C0", gid=f"minibatch-stats{l}")
        name = "output layer" if l == L else f"hidden layer {l}"
        if has_bn and highlight == "b":
            name += f"\nno $b^{{[{l}]}}$: $\\beta^{{[{l}]}}$ is the shift"
        ax.text(x, label_y, f"{name}\n$n^{{[{l}]}} = {sizes[l]}$", ha="center", va="top", fontsize=10,
                color=_BN_COLOR if has_bn and highlight == "b" else "black")

    y_hat_x = xs[-1] + _RADIUS + 1.3                      # the prediction
    for y in _unit_ys(sizes[-1]):
        ax.annotate("", xy=(y_hat_x - 0.35, 0), xytext=(xs[-1] + _RADIUS, y),
                    arrowprops=dict(arrowstyle="->", color="black", linewidth=1.0))
    ax.text(y_hat_x, 0, r"$\hat y$", ha="center", va="center", fontsize=16)

    if flow:
        bottom = _draw_minibatch_flow(ax, xs[-1] + _RADIUS, -top - 2.45)
    else:
        bottom = label_y - (1.35 if highlight == "b" else 0.95)   # below the layers' names
    if any(bn):  # the key: what each slice computes
        key = (r"in a unit with Batch Norm:  $z = w^{[l]} a^{[l-1]}$ (no $b$)  $\rightarrow$  "
               r"$\tilde z = \gamma^{[l]} (z - \mu) / \sqrt{\sigma^2 + \varepsilon} + \beta^{[l]}$  $\rightarrow$  "
               r"$a = g^{[l]}(\tilde z)$")
    else:
        key = r"in every unit:  $z = w^{[l]} a^{[l-1]} + b^{[l]}$  $\rightarrow$  $a = g^{[l]}(z)$"
    ax.text(xs[-1] / 2 + 0.6, bottom, key, ha="center", va="top", fontsize=11)
    ax.set_xlim(-1.4, y_hat_x + 0.8)
    ax.set_ylim(bottom - 0.9, top + 1.4)
    if new_figure:  # 0.72 inch per unit of the drawing, whatever it holds; margins set by hand (tight_layout
        # would measure every label first, which takes seconds)
        ax.figure.set_size_inches(0.72 * (y_hat_x + 2.2), 0.72 * (top + 2.3 - bottom) / 0.93)
        ax.figure.subplots_adjust(left=0, right=1, bottom=0, top=0.93)
    ax.set_aspect("equal")
    ax.axis("off")
    no_bn = not any(bn) and highlight != "minibatch"
    title = "Each unit: z, then a (no Batch Norm)" if no_bn else _NETWORK_TITLES[highlight]
    ax.set_title(title, fontsize=13)
    return ax.figure


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


def _sweep_axes(ax, panel_title, target=None):
    """One learning-rate sweep panel's axes: log-scale rates, accuracy 0 to 1, the target line if any."""
    if target is not None:
        ax.axhline(target, color="gray", linestyle=":", label=f"{target:.0%} accuracy")
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("learning rate α (log scale)")
    ax.set_title(panel_title)


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
        _sweep_axes(ax, panel_title, target)
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
    plot_activation_input_percentiles(with_bn, layer, unit, "(c) input to the same sigmoid, with Batch Norm",
                                      ax=axes[2], color="C1")
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
        _sweep_axes(ax, panel_title, target)
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
        off_top = f"\n(W × {', '.join(above)}: loss goes above {ymax:g}, off the top)" if above else ""
        ax.set_title(panel_title + off_top, fontsize="medium")
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
