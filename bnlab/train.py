"""The training loop of the lecture: for each mini-batch, forward with Batch Norm, backward, update.

    for t = 1 … T:
        X_t, Y_t = the next mini-batch
        forward prop on X_t (each hidden layer normalized with X_t's own μ, σ²)
        back prop → dW[l], dγ[l], dβ[l]  (and db[L])
        update every parameter with the optimizer (gradient descent, momentum, RMSprop, Adam)
"""
from __future__ import annotations

import itertools
import math
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from bnlab._validate import NonFiniteError, as_matrix, positive_int, require_finite
from bnlab.data import random_mini_batches
from bnlab.optimizers import OPTIMIZERS


class TrainingDiverged(FloatingPointError):
    """The loss or the parameters stopped being finite; the network keeps its last finite parameters."""


@dataclass
class History:
    """What :func:`train` records.

    loss[t−1]: the mini-batch loss at step t (length num_steps).
    eval_steps: the steps at which accuracies and percentiles were taken (0 = before training).
    train_accuracy, test_accuracy: eval-mode accuracy at those steps (test only if test data was given).
    percentiles[l]: (len(eval_steps), len(tracked_units[l]), 3) array of the 15th/50th/85th percentiles,
    over the evaluation examples, of the activation input of each tracked unit of hidden layer l
    (Z̃[l] with Batch Norm, Z[l] without) — what Figure 1(b, c) of the Batch Norm paper plots.
    """

    loss: np.ndarray
    eval_steps: np.ndarray
    train_accuracy: np.ndarray
    test_accuracy: np.ndarray
    tracked_units: dict = field(default_factory=dict)
    percentiles: dict = field(default_factory=dict)


def train(net, X, Y, optimizer, num_steps, mini_batch_size=64, seed=0, eval_every=None,
          X_test=None, y_test=None, track_units=0, progress=None):
    """Train ``net`` in place for ``num_steps`` mini-batch steps and return a :class:`History`.

    X: (n_x, m); Y: (n_y, m) one-hot (softmax) or 0/1 (sigmoid); optimizer: GradientDescent, Momentum,
    RMSprop or Adam (anything with ``step(parameters, grads)``), or one of their names "gd", "momentum",
    "rmsprop", "adam" for a new one with its default hyperparameters. Mini-batches are reshuffled each epoch
    with seed + epoch. Every ``eval_every`` steps (and at step 0) the eval-mode train/test accuracies are
    recorded, and the 15/50/85th percentiles of the activation inputs of ``track_units`` fixed units per
    hidden layer, over X_test (or X). ``progress(step, num_steps)`` is called after each evaluation.
    Raises TrainingDiverged, leaving the last finite parameters in ``net``, if the loss or an update
    stops being finite.
    """
    X, Y, num_steps, mini_batch_size, eval_every = _checked_arguments(
        net, X, Y, num_steps, mini_batch_size, eval_every, X_test, y_test)
    optimizer = _checked_optimizer(optimizer)
    recorder = _Recorder(net, X, Y, X_test, y_test, track_units, progress, num_steps)
    recorder.evaluate(0)
    loss = np.empty(num_steps)
    # One copy with each example contiguous in memory: every epoch's shuffle then copies whole columns (faster).
    X_F, Y_F = np.asfortranarray(X), np.asfortranarray(Y)
    batches = _mini_batches(X_F, Y_F, mini_batch_size, seed, skip_single=net.batchnorm)
    for t, (X_t, Y_t) in zip(range(1, num_steps + 1), batches):
        with _non_finite_is_divergence(t, num_steps, optimizer):
            loss[t - 1], grads = net.loss_and_grads(X_t, Y_t)   # forward prop (BN with X_t's own μ, σ²), back prop
        _check_loss(loss[t - 1], t, num_steps, optimizer)
        net.parameters = _checked_update(optimizer.step(net.parameters, grads), t, num_steps, optimizer)  # update
        if t % eval_every == 0 or t == num_steps:
            with _non_finite_is_divergence(t, num_steps, optimizer):
                recorder.evaluate(t)
    return recorder.history(loss)


def _mini_batches(X, Y, mini_batch_size, seed, skip_single):
    """The mini-batches of epoch after epoch: random_mini_batches(X, Y, mini_batch_size, seed + epoch) for
    epoch = 0, 1, 2, …; with skip_single, without a leftover mini-batch of one example (it cannot be
    batch-normalized)."""
    for epoch in itertools.count():
        for X_t, Y_t in random_mini_batches(X, Y, mini_batch_size, seed + epoch):
            if not (skip_single and X_t.shape[1] < 2):
                yield X_t, Y_t


def _checked_arguments(net, X, Y, num_steps, mini_batch_size, eval_every, X_test, y_test):
    """train's arguments checked once, before any step; returns X, Y, num_steps, mini_batch_size, eval_every."""
    X = as_matrix("X", X, rows=net.layer_dims[0])
    Y = as_matrix("Y", Y, rows=net.layer_dims[-1], cols=X.shape[1],
                  hint="Y needs one column per example of X")
    num_steps = positive_int("num_steps", num_steps)
    mini_batch_size = positive_int("mini_batch_size", mini_batch_size)
    if X.shape[1] == 0:  # else there is no mini-batch at all and the loop never ends
        raise ValueError(f"X has shape {X.shape}: no examples to train on; expected at least one column")
    if net.batchnorm and min(mini_batch_size, X.shape[1]) < 2:  # else every mini-batch is skipped, forever
        raise ValueError(
            f"with Batch Norm every mini-batch needs at least 2 examples; got mini_batch_size={mini_batch_size} "
            f"and X with {X.shape[1]} example(s). Use mini_batch_size >= 2 (and m >= 2)")
    require_finite("X", X)  # once here, so a NaN in the data is not reported as a diverging run
    require_finite("Y", Y)
    eval_every = positive_int("eval_every", eval_every) if eval_every is not None else num_steps
    if X_test is not None:
        require_finite("X_test", as_matrix("X_test", X_test, rows=net.layer_dims[0]))
    if (X_test is None) != (y_test is None):
        given, missing = ("X_test", "y_test") if y_test is None else ("y_test", "X_test")
        raise ValueError(f"{given} was given without {missing}; pass both to record the test accuracy, or neither")
    return X, Y, num_steps, mini_batch_size, eval_every


def _checked_optimizer(optimizer):
    """An optimizer object as given, or a new one made from its name; else a ValueError saying what is accepted."""
    accepted = (f"an optimizer (GradientDescent, Momentum, RMSprop, Adam: anything with step(parameters, grads)) "
                f"or one of the names {', '.join(map(repr, OPTIMIZERS))}")
    if isinstance(optimizer, str):
        if optimizer.lower() not in OPTIMIZERS:
            raise ValueError(f"optimizer must be {accepted}; got {optimizer!r}")
        return OPTIMIZERS[optimizer.lower()]()
    if isinstance(optimizer, type):  # bnlab.Adam instead of bnlab.Adam(...)
        raise ValueError(f"optimizer must be {accepted}; got the class {optimizer.__name__} itself: "
                         f"make one, e.g. {optimizer.__name__}(learning_rate=0.01)")
    if not callable(getattr(optimizer, "step", None)):
        raise ValueError(f"optimizer must be {accepted}; got {type(optimizer).__name__} {optimizer!r:.60}")
    return optimizer


class _Recorder:
    """The evaluations of a run: eval-mode accuracies and the percentiles of the tracked units' activation inputs."""

    def __init__(self, net, X, Y, X_test, y_test, track_units, progress, num_steps):
        self.net, self.X, self.X_test, self.y_test = net, X, X_test, y_test
        self.y_train = Y.argmax(axis=0) if net.output == "softmax" else Y[0].astype(int)
        self.X_eval = X if X_test is None else as_matrix("X_test", X_test, rows=net.layer_dims[0])
        self.tracked = {l: np.unique(np.linspace(0, net.layer_dims[l] - 1, track_units).astype(int))
                        for l in range(1, net.L)} if track_units else {}
        self.progress, self.num_steps = progress, num_steps
        self.steps, self.train_accuracy, self.test_accuracy = [], [], []
        self.percentiles = {l: [] for l in self.tracked}

    def evaluate(self, step):
        self.steps.append(step)
        self.train_accuracy.append(self.net.accuracy(self.X, self.y_train))
        if self.y_test is not None:  # X_test comes with it (checked)
            self.test_accuracy.append(self.net.accuracy(self.X_test, self.y_test))
        if self.tracked:
            _, caches = self.net.forward(self.X_eval, train=False)
            for l, units in self.tracked.items():
                self.percentiles[l].append(np.percentile(caches[l - 1].Z_tilde[units], [15, 50, 85], axis=1).T)
        if self.progress:
            self.progress(step, self.num_steps)

    def history(self, loss):
        return History(loss, np.array(self.steps), np.array(self.train_accuracy), np.array(self.test_accuracy),
                       self.tracked, {l: np.array(v) for l, v in self.percentiles.items()})


@contextmanager
def _non_finite_is_divergence(step, num_steps, optimizer):
    """X and Y are checked before training, so a NaN/inf met inside the network means the run diverged."""
    try:
        yield
    except NonFiniteError as error:
        raise TrainingDiverged(
            f"the network's values became non-finite at step {step} of {num_steps} with {optimizer!r} ({error}); "
            "the network keeps its last finite parameters. Try a smaller learning rate.") from error


def _check_loss(loss, step, num_steps, optimizer):
    if not np.isfinite(loss):
        raise TrainingDiverged(
            f"the loss became {loss} at step {step} of {num_steps} with {optimizer!r}; "
            "the network keeps the parameters of the step before. Try a smaller learning rate.")


def _checked_update(parameters, step, num_steps, optimizer):
    """The optimizer's new parameters, if all are finite."""
    bad = _non_finite(parameters)
    if bad:
        raise TrainingDiverged(
            f"the update at step {step} of {num_steps} made {', '.join(bad)} non-finite with {optimizer!r}; "
            "the network keeps the parameters of the step before. Try a smaller learning rate.")
    return parameters


def _non_finite(parameters):
    """Names of the arrays holding a NaN or inf. A NaN or inf anywhere makes an array's sum of squares
    (one BLAS dot product, no temporary) non-finite, so the usual case (all finite) costs one read per
    array; only then the exact scan (huge finite values may overflow the sum: the scan then finds none)."""
    with np.errstate(over="ignore", invalid="ignore"):
        if math.isfinite(sum(float(np.vdot(p, p).real) for p in parameters.values())):
            return []
    return [name for name, p in parameters.items() if not np.isfinite(p).all()]


# --- Measuring a run (notebooks 5 and 6) ---

def steps_to_accuracy(history, target):
    """The first evaluation step at which the test accuracy reached ``target``; None if it never did.

    history: a :class:`History` recorded with X_test, y_test (its train accuracy is used when it has no
    test accuracy); target: an accuracy in (0, 1]. The answer is only as fine as ``eval_every``.
    """
    if isinstance(target, bool) or not isinstance(target, (int, float, np.floating)) or not 0 < target <= 1:
        raise ValueError(f"target must be an accuracy in (0, 1]; got {target!r}")
    accuracy = history.test_accuracy if len(history.test_accuracy) else history.train_accuracy
    reached = np.flatnonzero(np.asarray(accuracy) >= target)
    return int(history.eval_steps[reached[0]]) if len(reached) else None


def batch_statistics_accuracy(net, X, labels, batch_size):
    """Accuracy when each group of ``batch_size`` examples is normalized with its OWN μ, σ² (train mode).

    What happens if test-time predictions use batch statistics instead of the running averages: an
    example's prediction then depends on the examples it is grouped with. X: (n_x, m); labels: (m,) ints.
    The columns are taken in order in groups of ``batch_size``; a leftover single example joins the group
    before it (one example alone cannot be normalized). The running averages are not touched.
    """
    X = as_matrix("X", X, rows=net.layer_dims[0])
    labels = np.asarray(labels).reshape(-1)
    m = X.shape[1]
    if labels.shape[0] != m:
        raise ValueError(f"labels must hold one label per column of X ({m}); got {labels.shape[0]}")
    batch_size = positive_int("batch_size", batch_size)
    if batch_size < 2 or m < 2:
        raise ValueError(f"batch statistics need at least 2 examples per group; got batch_size={batch_size}, m={m}")
    starts = list(range(0, m, batch_size))
    if m - starts[-1] == 1:
        starts.pop()  # the single leftover example joins the previous group
    ends = starts[1:] + [m]
    correct = 0
    for start, end in zip(starts, ends):
        AL, _ = net.forward(X[:, start:end], train=True, update_running=False)
        predicted = AL.argmax(axis=0) if net.output == "softmax" else (AL[0] > 0.5).astype(int)
        correct += int(np.sum(predicted == labels[start:end]))
    return correct / m
