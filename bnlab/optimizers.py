r"""Optimizers that update every parameter by name: W, b, γ and β alike.

For each parameter p with gradient dp (keys ``"W1"`` and ``"dW1"``, ``"gamma1"`` and ``"dgamma1"``, …):

- gradient descent   p := p − α·dp
- momentum           v := β_m·v + (1 − β_m)·dp;              p := p − α·v
- RMSprop            s := β2·s + (1 − β2)·dp²;               p := p − α·dp / (√s + ε)
- Adam               v, s as above with β1, β2; v̂ = v/(1 − β1ᵗ), ŝ = s/(1 − β2ᵗ);  p := p − α·v̂/(√ŝ + ε)

**Two different betas.** The hyperparameters ``momentum_beta``, ``beta1`` and ``beta2`` here are scalar
decay rates of exponentially weighted averages. They have nothing to do with Batch Norm's β[l], the
learned (n[l], 1) shift stored as ``parameters["beta1"]``, ``parameters["beta2"]``, …: an optimizer
never reads a parameter's name to decide anything, it updates Batch Norm's β[l] exactly like W[l].
Hyperparameters are checked to be numbers in [0, 1), so passing an array by mistake is an error.

The ``update_parameters_with_*`` functions follow the lecture and return new dicts without modifying
their inputs; the classes keep v, s and t for the training loop.
"""
from __future__ import annotations

import numpy as np

from bnlab._validate import fraction, positive_int, positive_number


def _check_grads(parameters, grads):
    """Every parameter needs a gradient of its shape, and every gradient a parameter."""
    for name, value in parameters.items():
        if f"d{name}" not in grads:
            raise ValueError(f"grads has no 'd{name}' for parameter '{name}'; grads has {sorted(grads)}")
        if np.shape(grads[f"d{name}"]) != np.shape(value):
            raise ValueError(f"grads['d{name}'] has shape {np.shape(grads[f'd{name}'])}; expected {np.shape(value)} like parameters['{name}']")
    for key in grads:
        if key[1:] not in parameters:
            hint = " (with Batch Norm the hidden layers have no b)" if key.startswith("db") else ""
            raise ValueError(f"grads has '{key}' but parameters has no '{key[1:]}'{hint}")


def _check_state(name, state, grads):
    """v or s must hold one array per gradient, of its shape (else an optimizer is reused on another network)."""
    if set(state) != set(grads) or any(np.shape(state[k]) != np.shape(g) for k, g in grads.items()):
        raise ValueError(
            f"{name} does not match grads: {name} has {sorted((k, np.shape(a)) for k, a in state.items())}, grads has "
            f"{sorted((k, np.shape(g)) for k, g in grads.items())}. Initialize {name} for these parameters "
            "(an optimizer object keeps its state for one network: make a new one for each network)")


def update_parameters_with_gd(parameters, grads, learning_rate):
    """p := p − α·dp for every parameter. Returns the new parameters dict."""
    learning_rate = positive_number("learning_rate", learning_rate)
    _check_grads(parameters, grads)
    return {name: p - learning_rate * grads[f"d{name}"] for name, p in parameters.items()}


def _zeros_like_grads(parameters):
    return {f"d{name}": np.zeros_like(p, dtype=np.float64) for name, p in parameters.items()}


def initialize_velocity(parameters):
    """v["dW1"], v["dgamma1"], … = 0, one per parameter (momentum)."""
    return _zeros_like_grads(parameters)


def initialize_rmsprop(parameters):
    """s["dW1"], … = 0, one per parameter (RMSprop)."""
    return _zeros_like_grads(parameters)


def initialize_adam(parameters):
    """Adam's v and s, both zero, one entry per parameter. Returns (v, s)."""
    return _zeros_like_grads(parameters), _zeros_like_grads(parameters)


def update_parameters_with_momentum(parameters, grads, v, learning_rate, momentum_beta=0.9):
    """Momentum: v := β_m·v + (1 − β_m)·dp, p := p − α·v. Returns (parameters, v), both new dicts."""
    learning_rate = positive_number("learning_rate", learning_rate)
    momentum_beta = fraction("momentum_beta", momentum_beta)
    _check_grads(parameters, grads)
    _check_state("v", v, grads)
    v = {k: momentum_beta * v[k] + (1 - momentum_beta) * g for k, g in grads.items()}
    return {name: p - learning_rate * v[f"d{name}"] for name, p in parameters.items()}, v


def update_parameters_with_rmsprop(parameters, grads, s, learning_rate, beta2=0.999, epsilon=1e-8):
    """RMSprop: s := β2·s + (1 − β2)·dp², p := p − α·dp/(√s + ε). Returns (parameters, s)."""
    learning_rate = positive_number("learning_rate", learning_rate)
    beta2 = fraction("beta2", beta2)
    epsilon = positive_number("epsilon", epsilon)
    _check_grads(parameters, grads)
    _check_state("s", s, grads)
    s = {k: beta2 * s[k] + (1 - beta2) * g**2 for k, g in grads.items()}
    return {name: p - learning_rate * grads[f"d{name}"] / (np.sqrt(s[f"d{name}"]) + epsilon)
            for name, p in parameters.items()}, s


def update_parameters_with_adam(parameters, grads, v, s, t, learning_rate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-8):
    """Adam with bias correction at step t = 1, 2, …

    v := β1·v + (1 − β1)·dp;  s := β2·s + (1 − β2)·dp²;  v̂ = v/(1 − β1ᵗ);  ŝ = s/(1 − β2ᵗ);
    p := p − α·v̂/(√ŝ + ε). Returns (parameters, v, s), all new dicts.
    """
    learning_rate = positive_number("learning_rate", learning_rate)
    beta1, beta2 = fraction("beta1", beta1), fraction("beta2", beta2)
    epsilon = positive_number("epsilon", epsilon)
    t = positive_int("t (Adam's step count, starting at 1)", t)
    _check_grads(parameters, grads)
    _check_state("v", v, grads)
    _check_state("s", s, grads)
    c1, c2 = 1 - beta1**t, 1 - beta2**t
    new, v_new, s_new = {}, {}, {}
    for name, p in parameters.items():
        k = f"d{name}"
        new[name], v_new[k], s_new[k] = _adam_update(p, grads[k], v[k], s[k], learning_rate, beta1, beta2,
                                                     epsilon, c1, c2)
    return new, v_new, s_new


def _adam_update(p, dp, v, s, learning_rate, beta1, beta2, epsilon, c1, c2):
    """Adam's formulas for one parameter, in the same order of operations (so the same numbers), but
    computed in place in the three new arrays v, s, p and one scratch array instead of a new temporary
    per operation: allocating and first touching fresh memory is most of the cost on arrays this small."""
    scratch = np.multiply(dp, 1 - beta1)
    v = np.multiply(v, beta1)
    v += scratch                                     # v = β1·v + (1 − β1)·dp
    np.square(dp, out=scratch)
    scratch *= 1 - beta2
    s = np.multiply(s, beta2)
    s += scratch                                     # s = β2·s + (1 − β2)·dp²
    np.divide(s, c2, out=scratch)
    np.sqrt(scratch, out=scratch)
    scratch += epsilon                               # √ŝ + ε
    step = np.divide(v, c1)
    step *= learning_rate
    step /= scratch                                  # α·v̂/(√ŝ + ε)
    return np.subtract(p, step, out=step), v, s      # p − α·v̂/(√ŝ + ε)


class GradientDescent:
    """Plain (mini-batch) gradient descent."""

    def __init__(self, learning_rate=0.1):
        self.learning_rate = positive_number("learning_rate", learning_rate)

    def step(self, parameters, grads):
        return update_parameters_with_gd(parameters, grads, self.learning_rate)

    def __repr__(self):
        return f"GradientDescent(learning_rate={self.learning_rate:g})"


class Momentum:
    """Gradient descent with momentum; ``momentum_beta`` is the decay of the velocity average."""

    def __init__(self, learning_rate=0.1, momentum_beta=0.9):
        self.learning_rate = positive_number("learning_rate", learning_rate)
        self.momentum_beta = fraction("momentum_beta", momentum_beta)
        self.v = None

    def step(self, parameters, grads):
        if self.v is None:
            self.v = initialize_velocity(parameters)
        parameters, self.v = update_parameters_with_momentum(parameters, grads, self.v, self.learning_rate, self.momentum_beta)
        return parameters

    def __repr__(self):
        return f"Momentum(learning_rate={self.learning_rate:g}, momentum_beta={self.momentum_beta:g})"


class RMSprop:
    """RMSprop; ``beta2`` is the decay of the average of squared gradients."""

    def __init__(self, learning_rate=0.001, beta2=0.999, epsilon=1e-8):
        self.learning_rate = positive_number("learning_rate", learning_rate)
        self.beta2 = fraction("beta2", beta2)
        self.epsilon = positive_number("epsilon", epsilon)
        self.s = None

    def step(self, parameters, grads):
        if self.s is None:
            self.s = initialize_rmsprop(parameters)
        parameters, self.s = update_parameters_with_rmsprop(parameters, grads, self.s, self.learning_rate, self.beta2, self.epsilon)
        return parameters

    def __repr__(self):
        return f"RMSprop(learning_rate={self.learning_rate:g}, beta2={self.beta2:g})"


class Adam:
    """Adam with bias correction; ``beta1``, ``beta2`` are decay rates, not Batch Norm's β."""

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8):
        self.learning_rate = positive_number("learning_rate", learning_rate)
        self.beta1, self.beta2 = fraction("beta1", beta1), fraction("beta2", beta2)
        self.epsilon = positive_number("epsilon", epsilon)
        self.v = self.s = None
        self.t = 0

    def step(self, parameters, grads):
        if self.v is None:
            self.v, self.s = initialize_adam(parameters)
        self.t += 1
        parameters, self.v, self.s = update_parameters_with_adam(
            parameters, grads, self.v, self.s, self.t, self.learning_rate, self.beta1, self.beta2, self.epsilon)
        return parameters

    def __repr__(self):
        return f"Adam(learning_rate={self.learning_rate:g}, beta1={self.beta1:g}, beta2={self.beta2:g})"
