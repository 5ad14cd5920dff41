"""``bnlab demo``: the Batch Norm paper's Figure 1 experiment on the bundled digits, from the command line.

The same two networks as notebook 5: 3 hidden layers of 100 sigmoid units (64-100-100-100-10 on the 8×8
digits), small Gaussian initial weights (standard deviation 0.1), mini-batches of 60, plain gradient
descent with the same learning rate (α = 3, tuned for the network *without* Batch Norm), once without and
once with Batch Norm. Prints the test accuracy at a few step counts, the steps each network needs to reach
a target accuracy and their ratio, and saves the three panels of Figure 1 as a PNG.

The paper trains for 50,000 steps, the default here: about 5 minutes on an idle 2-core machine (about 2 ms
per training step, plus an evaluation every 20 steps on the 1,797 digits; much longer on a busy machine,
where ``OPENBLAS_NUM_THREADS=1`` helps); ``--steps 2000`` takes about 15 seconds.
"""
from __future__ import annotations

import sys
import time

import bnlab
from bnlab._cli_args import non_negative_int, output_file, positive_int

LAYER_DIMS = [64, 100, 100, 100, 10]
WEIGHT_SCALE = 0.1
LEARNING_RATE = 3.0
MINI_BATCH_SIZE = 60
TARGETS = (0.90, 0.95)
FIGURE_LAYER, FIGURE_UNIT = 3, 49  # the unit followed in panels (b, c), as in notebook 5


def checkpoints(eval_steps, num_steps):
    """The steps shown in the table: 1-2-5 round numbers that were evaluated, and the last step."""
    evaluated = set(int(s) for s in eval_steps)
    rounds = [k * 10**e for e in range(1, 8) for k in (1, 2, 5)]
    return [s for s in rounds if s in evaluated and s < num_steps] + [num_steps]


class Progress:
    """One line on stderr, rewritten in place (carriage return), at most a few times per second."""

    def __init__(self, label, stream=None, enabled=True):
        self.label, self.stream, self.enabled = label, stream or sys.stderr, enabled
        self.start = time.perf_counter()
        self.last = -1.0

    def __call__(self, step, num_steps):
        now = time.perf_counter() - self.start
        if not self.enabled or (now - self.last < 0.25 and step < num_steps):
            return
        self.last = now
        left = now / step * (num_steps - step) if step else float("nan")
        eta = f", about {left:.0f} s left" if step and step < num_steps else ""
        self.stream.write(f"\r{self.label}: step {step:,}/{num_steps:,} ({step / num_steps:4.0%}), "
                          f"{now:.0f} s{eta}   ")
        if step == num_steps:
            self.stream.write("\n")
        self.stream.flush()


def run_experiment(steps, eval_every, seed=0, progress=True):
    """Train the paper's net without and with Batch Norm. Returns {"without Batch Norm": History, "with …": …}."""
    digits = bnlab.load_digits()
    histories = {}
    for label, batchnorm in (("without Batch Norm", False), ("with Batch Norm", True)):
        net = bnlab.Network(LAYER_DIMS, activation="sigmoid", batchnorm=batchnorm, output="softmax",
                            seed=seed, weight_scale=WEIGHT_SCALE)
        histories[label] = bnlab.train(
            net, digits.X_train, digits.Y_train, bnlab.GradientDescent(learning_rate=LEARNING_RATE), steps,
            mini_batch_size=MINI_BATCH_SIZE, seed=seed, eval_every=eval_every,
            X_test=digits.X_test, y_test=digits.y_test, track_units=3,
            progress=Progress(f"{label:>18}", enabled=progress))
    return histories


def _steps_text(steps):
    """The steps to a target as the table prints them: ``1,200``, or ``not yet`` for None."""
    return "not yet" if steps is None else f"{steps:,}"


def print_report(histories, steps, out=None):
    """The accuracy table and the steps to each target accuracy (on ``out``, default stdout)."""
    out = out or sys.stdout
    without, with_bn = histories["without Batch Norm"], histories["with Batch Norm"]
    print("\nTest accuracy (359 test digits) of 64-100-100-100-10 sigmoid nets, "
          f"gradient descent α = {LEARNING_RATE:g}, mini-batches of {MINI_BATCH_SIZE}:", file=out)
    print(f"{'step':>8}  {'without BN':>10}  {'with BN':>8}", file=out)
    position = {int(s): i for i, s in enumerate(with_bn.eval_steps)}
    for step in checkpoints(with_bn.eval_steps, steps):
        i = position[step]
        print(f"{step:>8,}  {without.test_accuracy[i]:>10.3f}  {with_bn.test_accuracy[i]:>8.3f}", file=out)
    every = int(with_bn.eval_steps[1] - with_bn.eval_steps[0]) if len(with_bn.eval_steps) > 1 else steps
    print(f"\nSteps to reach a test accuracy (to the nearest {every} steps, the evaluation interval):", file=out)
    print(f"{'target':>8}  {'without BN':>10}  {'with BN':>8}  ratio", file=out)
    for target in TARGETS:
        s_without = bnlab.steps_to_accuracy(without, target)
        s_with = bnlab.steps_to_accuracy(with_bn, target)
        ratio = (f"{s_without / s_with:.1f}x fewer steps with BN" if s_without and s_with
                 else "n/a (not reached in both)" if s_with is None or s_without is None else "n/a")
        print(f"{target:>8.0%}  {_steps_text(s_without):>10}  {_steps_text(s_with):>8}  {ratio}", file=out)


def save_figure(histories, path):
    import matplotlib
    matplotlib.use("Agg")  # a file, no window: works on servers and in CI
    import matplotlib.pyplot as plt

    from bnlab import plots

    fig = plots.plot_paper_figure1(histories["without Batch Norm"], histories["with Batch Norm"],
                                   layer=FIGURE_LAYER, unit=FIGURE_UNIT, target=TARGETS[-1])
    fig.suptitle("Batch Norm paper, Figure 1, on the bundled 8×8 digits (64-100-100-100-10, sigmoid)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(args):
    start = time.perf_counter()  # the arguments were checked while parsing (bnlab._cli_args)
    show_progress = args.progress or (sys.stderr.isatty() and args.steps >= 1000)
    print(f"Training the paper's net for {args.steps:,} steps, without and with Batch Norm "
          f"(the paper's 50,000 take about 5 minutes)", flush=True)
    histories = run_experiment(args.steps, min(args.eval_every, args.steps), seed=args.seed, progress=show_progress)
    print_report(histories, args.steps)
    save_figure(histories, args.out)
    print(f"\nSaved the figure to {args.out} ({time.perf_counter() - start:.0f} s in all)")
    return 0


def add_subcommand(subparsers):
    parser = subparsers.add_parser(
        "demo", help="the Batch Norm paper's experiment on the bundled digits; saves a PNG",
        description="Train the Batch Norm paper's network (3 hidden layers of 100 sigmoid units, mini-batches of 60) "
                    "on the bundled digits without and with Batch Norm; print test accuracies and the steps to a "
                    "target accuracy; save Figure 1 as a PNG. 50,000 steps (the paper's) take about 5 minutes.")
    parser.add_argument("--steps", type=positive_int, default=50_000,
                        help="training steps per network (default 50,000)")
    parser.add_argument("--out", type=output_file, default="bnlab_demo.png",
                        help="the PNG file to save the figure to; its folder must exist (default bnlab_demo.png)")
    parser.add_argument("--eval-every", type=positive_int, default=20,
                        help="evaluate the test accuracy every this many steps (default 20)")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="seed of the initial weights and the shuffles (default 0)")
    parser.add_argument("--progress", action="store_true",
                        help="always show the progress line (default: on a terminal, for runs of 1,000+ steps)")
    parser.set_defaults(run=run)
