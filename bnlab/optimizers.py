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

The ``update_parameters_with_*`` functions follow the lecture and exercises 5 and 6, and return new dicts
without modifying their inputs. The classes keep v, s and t for the training loop and apply the same rules
to all the parameters at once, as one flat vector (``bnlab._kernels``): the same numbers to round-off.
"""
from __future__ import annotations

import numpy as np

from bnlab import _kernels
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
    new_parameters = {}
    for name, p in parameters.items():
        p, dp = _float64(p), _float64(grads[f"d{name}"])
        new_parameters[name] = p - learning_rate * dp
    return new_parameters


def _float64(a):
    """a as float64 (0-d arrays and float32 parameters give the same numbers as float64 ones)."""
    return np.asarray(a, dtype=np.float64)


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
    new_parameters, new_v = {}, {}
    for name, p in parameters.items():
        d = f"d{name}"
        p, dp = _float64(p), _float64(grads[d])
        new_v[d] = momentum_beta * v[d] + (1 - momentum_beta) * dp
        new_parameters[name] = p - learning_rate * new_v[d]
    return new_parameters, new_v


def update_parameters_with_rmsprop(parameters, grads, s, learning_rate, beta2=0.999, epsilon=1e-8):
    """RMSprop: s := β2·s + (1 − β2)·dp², p := p − α·dp/(√s + ε). Returns (parameters, s)."""
    learning_rate = positive_number("learning_rate", learning_rate)
    beta2 = fraction("beta2", beta2)
    epsilon = positive_number("epsilon", epsilon)
    _check_grads(parameters, grads)
    _check_state("s", s, grads)
    new_parameters, new_s = {}, {}
    for name, p in parameters.items():
        d = f"d{name}"
        p, dp = _float64(p), _float64(grads[d])
        new_s[d] = beta2 * s[d] + (1 - beta2) * dp**2
        new_parameters[name] = p - learning_rate * dp / (np.sqrt(new_s[d]) + epsilon)
    return new_parameters, new_s


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
    new_parameters, new_v, new_s = {}, {}, {}
    for name, p in parameters.items():
        d = f"d{name}"
        p, dp = _float64(p), _float64(grads[d])
        new_v[d] = beta1 * v[d] + (1 - beta1) * dp
        new_s[d] = beta2 * s[d] + (1 - beta2) * dp**2
        v_corrected = new_v[d] / (1 - beta1**t)          # v̂: v is biased towards its start 0 at small t
        s_corrected = new_s[d] / (1 - beta2**t)          # ŝ
        new_parameters[name] = p - learning_rate * v_corrected / (np.sqrt(s_corrected) + epsilon)
    return new_parameters, new_v, new_s


# --- The classes: the same rules, on all parameters at once (one flat vector, see bnlab._kernels) ----------

class _Optimizer(_kernels.FlatOptimizer):
    """What the four optimizer classes share: they keep their state for one network.

    ``v`` and ``s`` read like the functions' dicts, keyed by gradient name (``adam.v["dW1"]``): views into the
    state vectors, so they always show the current state (and writing into them, ``adam.v["dW1"][:] = 0``,
    changes it). The parameters returned are new arrays at each step: earlier parameters never change.
    """

    def step(self, parameters, grads):
        """Update every parameter from its gradient; returns the new parameters dict (inputs unchanged)."""
        _check_grads(parameters, grads)  # from here on grads has the names and shapes of parameters
        return self._flat_step(parameters, grads, check_state=lambda name, state: _check_state(name, state, grads))


class GradientDescent(_Optimizer):
    """Plain (mini-batch) gradient descent."""

    def __init__(self, learning_rate=0.1):
        super().__init__()
        self.learning_rate = positive_number("learning_rate", learning_rate)

    def _update(self, p, dp, scratch, out):
        return _kernels.gd_rule(p, dp, scratch, out, self.learning_rate)

    def __repr__(self):
        return f"GradientDescent(learning_rate={self.learning_rate:g})"


class Momentum(_Optimizer):
    """Gradient descent with momentum; ``momentum_beta`` is the decay of the velocity average."""

    _state = ("v",)

    def __init__(self, learning_rate=0.1, momentum_beta=0.9):
        super().__init__()
        self.learning_rate = positive_number("learning_rate", learning_rate)
        self.momentum_beta = fraction("momentum_beta", momentum_beta)

    @property
    def v(self):
        """The velocity, {"dW1": …, "dgamma1": …}, as in the functions (None before the first step)."""
        return self._state_views("v")

    def _update(self, p, dp, v, scratch, out):
        return _kernels.momentum_rule(p, dp, v, scratch, out, self.learning_rate, self.momentum_beta)

    def __repr__(self):
        return f"Momentum(learning_rate={self.learning_rate:g}, momentum_beta={self.momentum_beta:g})"


class RMSprop(_Optimizer):
    """RMSprop; ``beta2`` is the decay of the average of squared gradients."""

    _state = ("s",)

    def __init__(self, learning_rate=0.001, beta2=0.999, epsilon=1e-8):
        super().__init__()
        self.learning_rate = positive_number("learning_rate", learning_rate)
        self.beta2 = fraction("beta2", beta2)
        self.epsilon = positive_number("epsilon", epsilon)

    @property
    def s(self):
        """The average of squared gradients, {"dW1": …, …}, as in the functions (None before the first step)."""
        return self._state_views("s")

    def _update(self, p, dp, s, scratch, out):
        return _kernels.rmsprop_rule(p, dp, s, scratch, out, self.learning_rate, self.beta2, self.epsilon)

    def __repr__(self):
        return f"RMSprop(learning_rate={self.learning_rate:g}, beta2={self.beta2:g})"


class Adam(_Optimizer):
    """Adam with bias correction; ``beta1``, ``beta2`` are decay rates, not Batch Norm's β. ``t`` counts the steps."""

    _state = ("v", "s")

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8):
        super().__init__()
        self.learning_rate = positive_number("learning_rate", learning_rate)
        self.beta1, self.beta2 = fraction("beta1", beta1), fraction("beta2", beta2)
        self.epsilon = positive_number("epsilon", epsilon)
        self.t = 0

    @property
    def v(self):
        """The first-moment average, {"dW1": …, …}, as in the functions (None before the first step)."""
        return self._state_views("v")

    @property
    def s(self):
        """The second-moment average, {"dW1": …, …}, as in the functions (None before the first step)."""
        return self._state_views("s")

    def _update(self, p, dp, v, s, scratch, out):
        self.t += 1  # step() calls _update once its checks have passed: this is step t
        return _kernels.adam_rule(p, dp, v, s, scratch, out, self.t, self.learning_rate, self.beta1, self.beta2,
                                  self.epsilon)

    def __repr__(self):
        return f"Adam(learning_rate={self.learning_rate:g}, beta1={self.beta1:g}, beta2={self.beta2:g})"
