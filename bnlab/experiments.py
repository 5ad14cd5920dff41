"""Experiments behind notebooks 4 and 5's "why does Batch Norm help?": runs over several seeds, the scale of W,
and what each layer's activations and gradients look like during training.

Everything here trains with :func:`bnlab.train` and reads networks through their public API (``parameters``,
``forward``, ``backward``, ``accuracy``). A seed fixes both the initial weights and the mini-batch shuffles, so
the same seed gives the same run, bit for bit, and another seed another run.
"""
from __future__ import annotations

import warnings

import numpy as np

from bnlab._validate import positive_int, positive_number
from bnlab.activations import activation_forward
from bnlab.train import TrainingDiverged, train


def spread(values, axis=0):
    """Median, smallest and largest of ``values`` along ``axis`` (the seeds), as three arrays.

    NaN entries (diverged runs, targets never reached) are left out; where every entry is NaN the result is NaN.
    """
    values = np.asarray(values, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "All-NaN slice": the answer NaN is what we want
        return np.nanmedian(values, axis=axis), np.nanmin(values, axis=axis), np.nanmax(values, axis=axis)


# --- Steps to a target accuracy, over seeds (notebook 5) ---

class _Reached(Exception):
    """Raised from train's ``progress`` callback to end training at the step the target was reached."""

    def __init__(self, step):
        super().__init__(step)
        self.step = step


def steps_to_target(net, data, optimizer, target, max_steps, mini_batch_size=64, seed=0, eval_every=20):
    """Train ``net`` until its eval-mode test accuracy reaches ``target``; return that step, or None if it did not
    within ``max_steps`` (or the run diverged).

    The test accuracy is measured every ``eval_every`` steps (and at step 0), as in
    ``steps_to_accuracy(train(..., eval_every=eval_every, X_test=..., y_test=...), target)``, which gives the
    same answer; here training stops as soon as the target is reached, so a fast run costs little.
    data: fields X_train (n_x, m), Y_train (n[L], m), X_test, y_test (like ``load_digits()``).
    """
    positive_number("target", target)
    if target > 1:
        raise ValueError(f"target must be an accuracy in (0, 1]; got {target!r}")

    def stop_when_reached(step, num_steps):
        if net.accuracy(data.X_test, data.y_test) >= target:
            raise _Reached(step)

    try:
        with np.errstate(over="ignore", invalid="ignore"):
            train(net, data.X_train, data.Y_train, optimizer, max_steps, mini_batch_size=mini_batch_size, seed=seed,
                  eval_every=eval_every, progress=stop_when_reached)
    except _Reached as reached:
        return reached.step
    except TrainingDiverged:
        return None
    return None


def steps_to_target_over_seeds(make_network, make_optimizer, data, target, max_steps, seeds,
                               mini_batch_size=64, eval_every=20):
    """:func:`steps_to_target` for one fresh network per seed: ``make_network(seed)``, ``make_optimizer()``.

    The seed is the network's (initial W) and the shuffles'. Returns a float array of len(seeds): the step at
    which each run first reached ``target``, NaN where it did not within ``max_steps``.
    """
    steps = np.full(len(seeds), np.nan)
    for i, seed in enumerate(seeds):
        reached = steps_to_target(make_network(seed), data, make_optimizer(), target, max_steps,
                                  mini_batch_size=mini_batch_size, seed=seed, eval_every=eval_every)
        if reached is not None:
            steps[i] = reached
    return steps


# --- The scale of W (notebook 4) ---

def scale_hidden_weights(net, factor):
    """Multiply W[1] … W[L−1] (the layers Batch Norm follows, when it is on) by ``factor``, in place.

    The output layer's W[L] is left alone. With Batch Norm a hidden layer's Z̃ = BN(W A) does not change
    (up to ε) when W is scaled, since μ and σ scale with it; without Batch Norm every Z[l] scales.
    """
    factor = positive_number("factor", factor)
    for l in range(1, net.L):
        net.parameters[f"W{l}"] = net.parameters[f"W{l}"] * factor
    return net


def weight_scale_runs(make_network, make_optimizer, data, factors, num_steps, seeds, mini_batch_size=64):
    """Train one fresh network per (factor, seed), its hidden W scaled by the factor before training.

    make_network(seed) -> Network; make_optimizer() -> optimizer. Returns (loss, accuracy): loss is
    (len(factors), len(seeds), num_steps), the mini-batch loss at every step; accuracy is (len(factors),
    len(seeds)), the eval-mode test accuracy at the end. A run that diverged is NaN from that step on.
    """
    num_steps = positive_int("num_steps", num_steps)
    loss = np.full((len(factors), len(seeds), num_steps), np.nan)
    accuracy = np.full((len(factors), len(seeds)), np.nan)
    for i, factor in enumerate(factors):
        for j, seed in enumerate(seeds):
            net = scale_hidden_weights(make_network(seed), factor)
            with np.errstate(over="ignore", invalid="ignore"):
                try:
                    history = train(net, data.X_train, data.Y_train, make_optimizer(), num_steps,
                                    mini_batch_size=mini_batch_size, seed=seed)
                except TrainingDiverged:
                    continue
            loss[i, j] = history.loss
            accuracy[i, j] = net.accuracy(data.X_test, data.y_test)
    return loss, accuracy


# --- Inside a run: each layer's activations and gradients (notebook 5) ---

class LayerRecorder:
    """A ``progress`` callback for :func:`bnlab.train` that records, at chosen steps, each hidden layer's
    activations A[l] and weight gradients dW[l] on one fixed mini-batch (X, Y).

    It runs a train-mode forward and a backward on (X, Y) without touching the parameters or the running
    averages, so the run it watches is the same as without it. The steps must be evaluation steps of the run
    (multiples of its ``eval_every``, or 0). After training:
    ``activations[step][l]`` is A[l] (n[l], m) and ``gradients[step][l]`` is dW[l] (n[l], n[l−1]).
    """

    def __init__(self, net, X, Y, steps):
        self.net, self.X, self.Y = net, X, Y
        self.steps = sorted(int(s) for s in steps)
        self.activations, self.gradients = {}, {}

    def __call__(self, step, num_steps):
        if step not in self.steps:
            return
        _, caches = self.net.forward(self.X, train=True, update_running=False)
        self.activations[step] = {l: activation_forward(caches[l - 1].Z_tilde, self.net.activation)[0]
                                  for l in range(1, self.net.L)}
        grads = self.net.backward(self.Y, caches)
        self.gradients[step] = {l: grads[f"dW{l}"] for l in range(1, self.net.L)}


SATURATION = 0.03  # sigmoid: A < 0.03 or A > 0.97, where σ'(z) < 0.03 (its peak is 0.25); tanh: |A| > 0.97


def saturated_fraction(A, activation):
    """The fraction of entries of A = g(Z̃) in the flat tails of g, where g' is near 0 and little gradient passes.

    sigmoid: A < 0.03 or A > 0.97; tanh: |A| > 0.97; relu: A = 0 (no gradient at all for that example).
    """
    A = np.asarray(A, dtype=np.float64)
    if activation == "sigmoid":
        return float(np.mean((A < SATURATION) | (A > 1 - SATURATION)))
    if activation == "tanh":
        return float(np.mean(np.abs(A) > 1 - SATURATION))
    if activation == "relu":
        return float(np.mean(A == 0))
    raise ValueError(f"activation must be 'relu', 'sigmoid' or 'tanh'; got {activation!r}")
