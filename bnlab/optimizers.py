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
their inputs; the classes keep v, s and t for the training loop and apply the same rules to all the
parameters at once, as one flat vector (see ``_Optimizer``), with the same results.
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
    return _apply(_gd_rule, parameters, grads, [], learning_rate)[0]


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
    parameters, (v,) = _apply(_momentum_rule, parameters, grads, [v], learning_rate, momentum_beta)
    return parameters, v


def update_parameters_with_rmsprop(parameters, grads, s, learning_rate, beta2=0.999, epsilon=1e-8):
    """RMSprop: s := β2·s + (1 − β2)·dp², p := p − α·dp/(√s + ε). Returns (parameters, s)."""
    learning_rate = positive_number("learning_rate", learning_rate)
    beta2 = fraction("beta2", beta2)
    epsilon = positive_number("epsilon", epsilon)
    _check_grads(parameters, grads)
    _check_state("s", s, grads)
    parameters, (s,) = _apply(_rmsprop_rule, parameters, grads, [s], learning_rate, beta2, epsilon)
    return parameters, s


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
    parameters, (v, s) = _apply(_adam_rule, parameters, grads, [v, s], t, learning_rate, beta1, beta2, epsilon)
    return parameters, v, s


def _apply(rule, parameters, grads, states, *hyperparameters):
    """The functions' loop: ``rule`` on each parameter with its gradient and its entries of the state dicts
    (v, s), in float64. The states are copied first, so the caller's v and s stay as they were.
    Returns the new parameters dict and the list of new state dicts."""
    states = [{k: np.array(a, dtype=np.float64) for k, a in state.items()} for state in states]
    new = {}
    for name, p in parameters.items():
        k = f"d{name}"
        p, dp = np.asarray(p, dtype=np.float64), np.asarray(grads[k], dtype=np.float64)
        new[name] = rule(p, dp, *(state[k] for state in states), np.empty(p.shape), np.empty(p.shape),
                         *hyperparameters)
    return new, states


# --- The update rules ------------------------------------------------------------------------------------
# One rule per optimizer, written once and used twice: by the functions above on each parameter, and by the
# classes below on all the parameters at once (one flat vector). A rule updates its state (v, s) in place,
# computes in ``scratch`` and writes the new p into ``out`` (float64 arrays of p's shape), so the p it was
# given is never changed. In place, because on arrays this small allocating and first touching a new
# temporary costs more than the arithmetic.

def _gd_rule(p, dp, scratch, out, learning_rate):
    np.multiply(dp, learning_rate, out=scratch)
    return np.subtract(p, scratch, out=out)          # p − α·dp


def _momentum_rule(p, dp, v, scratch, out, learning_rate, momentum_beta):
    v *= momentum_beta
    np.multiply(dp, 1 - momentum_beta, out=scratch)
    v += scratch                                     # v = β_m·v + (1 − β_m)·dp
    np.multiply(v, learning_rate, out=scratch)
    return np.subtract(p, scratch, out=out)          # p − α·v


def _rmsprop_rule(p, dp, s, scratch, out, learning_rate, beta2, epsilon):
    _decayed_average_of_squares(s, dp, beta2, scratch)
    np.sqrt(s, out=scratch)
    scratch += epsilon                               # √s + ε
    np.multiply(dp, learning_rate, out=out)          # out holds the step first
    out /= scratch                                   # α·dp/(√s + ε)
    return np.subtract(p, out, out=out)


def _adam_rule(p, dp, v, s, scratch, out, t, learning_rate, beta1, beta2, epsilon):
    np.multiply(dp, 1 - beta1, out=scratch)
    v *= beta1
    v += scratch                                     # v = β1·v + (1 − β1)·dp
    _decayed_average_of_squares(s, dp, beta2, scratch)
    # α·v̂/(√ŝ + ε) with v̂ = v/c1, ŝ = s/c2 is, multiplying above and below by √c2,
    # (α·√c2/c1)·v/(√s + ε·√c2): the bias corrections become two scalars (as in PyTorch's Adam),
    # which saves two passes over every parameter. Same formula; the last bit can differ from the
    # textbook order of operations (round-off, about 1e-16 relative).
    c1, root_c2 = 1 - beta1**t, np.sqrt(1 - beta2**t)
    np.sqrt(s, out=scratch)
    scratch += epsilon * root_c2                     # √s + ε·√c2
    np.divide(v, scratch, out=out)                   # out holds the step first
    out *= learning_rate * root_c2 / c1              # α·v̂/(√ŝ + ε)
    return np.subtract(p, out, out=out)


def _decayed_average_of_squares(s, dp, beta2, scratch):
    """s = β2·s + (1 − β2)·dp², in place (RMSprop and Adam)."""
    np.square(dp, out=scratch)
    scratch *= 1 - beta2
    s *= beta2
    s += scratch


# --- The classes: the same rules, on all parameters at once ---------------------------------------------

class _Optimizer:
    """What the four optimizer classes share: they keep their state for one network, in flat vectors.

    A step is 2 to 12 elementwise passes over every parameter. Done per array (11 arrays for the paper's
    784-100-100-100-10 net) that is one small numpy call per array per pass, and the calls' fixed cost
    outweighs the arithmetic; so the classes hold v, s and the parameters they return each as ONE float64
    vector, and apply the rule once to the whole vector. Same rules, same numbers as the functions (tested).

    ``v`` and ``s`` read like the functions' dicts, keyed by gradient name (``adam.v["dW1"]``): views into the
    state vectors, so they always show the current state (and writing into them, ``adam.v["dW1"][:] = 0``,
    changes it). The parameters returned are views into a new vector at each step: earlier parameters never
    change, and one kept array keeps that whole vector (all the parameters of that step) in memory.
    """

    _state = ()  # names of the state vectors: ("v",), ("s",) or ("v", "s")

    def __init__(self):
        self._shapes = None       # {name: shape} of the parameters, in the order of the first step
        self._slices = None       # where each parameter sits in a flat vector
        self._scratch = None
        self._flat_state = []     # one flat vector per name in _state
        self._returned = None     # (flat vector, [(name, view)]) of the parameters the last step returned

    def step(self, parameters, grads):
        """Update every parameter from its gradient; returns the new parameters dict (inputs unchanged)."""
        _check_grads(parameters, grads)  # from here on grads has the names and shapes of parameters
        if not parameters:
            return {}
        p = self._last_vector(parameters)
        if p is None:  # not the parameters this optimizer returned last: check the layout, then copy them in
            if self._shapes != {name: np.shape(a) for name, a in parameters.items()}:
                if self._shapes is not None:
                    for name in self._state:  # another network than before: say how v, s and grads differ
                        _check_state(name, self._state_views(name), grads)
                self._start(parameters)  # the first step (or gradient descent, which keeps no state, on another network)
            p = np.concatenate([np.ravel(parameters[name]) for name in self._shapes], dtype=np.float64)
        dp = np.concatenate([np.ravel(grads[f"d{name}"]) for name in self._shapes], dtype=np.float64)
        new_p = self._update(p, dp, *self._flat_state, self._scratch, np.empty_like(self._scratch))
        views = self._views(new_p, prefix="")
        self._returned = new_p, list(views.items())  # not the dict itself: the caller may put new arrays in it
        return views

    def _start(self, parameters):
        self._returned = None
        self._shapes = {name: np.shape(p) for name, p in parameters.items()}
        ends = np.cumsum([int(np.prod(shape)) for shape in self._shapes.values()]).tolist()
        self._slices = [slice(start, end) for start, end in zip([0] + ends, ends)]
        self._scratch = np.empty(ends[-1])
        self._flat_state = [np.zeros_like(self._scratch) for _ in self._state]

    def _state_views(self, name):
        """The state vector ``name`` ("v" or "s") as a dict keyed by gradient name; None before the first step."""
        if self._shapes is None:
            return None
        return self._views(self._flat_state[self._state.index(name)], prefix="d")

    def _views(self, flat, prefix):
        """{prefix + name: the part of ``flat`` holding that parameter, in its shape}."""
        return {prefix + name: flat[part].reshape(shape)
                for (name, shape), part in zip(self._shapes.items(), self._slices)}

    def _last_vector(self, parameters):
        """The vector behind the parameters the last step returned, if ``parameters`` are exactly those views
        (the usual case in a training loop: no copy, and the layout is known); else None."""
        if self._returned is not None:
            flat, views = self._returned
            if len(parameters) == len(views) and all(parameters.get(k) is a for k, a in views):
                return flat
        return None


class GradientDescent(_Optimizer):
    """Plain (mini-batch) gradient descent."""

    def __init__(self, learning_rate=0.1):
        super().__init__()
        self.learning_rate = positive_number("learning_rate", learning_rate)

    def _update(self, p, dp, scratch, out):
        return _gd_rule(p, dp, scratch, out, self.learning_rate)

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
        return _momentum_rule(p, dp, v, scratch, out, self.learning_rate, self.momentum_beta)

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
        return _rmsprop_rule(p, dp, s, scratch, out, self.learning_rate, self.beta2, self.epsilon)

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
        return _adam_rule(p, dp, v, s, scratch, out, self.t, self.learning_rate, self.beta1, self.beta2, self.epsilon)

    def __repr__(self):
        return f"Adam(learning_rate={self.learning_rate:g}, beta1={self.beta1:g}, beta2={self.beta2:g})"
