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
without modifying their inputs. The classes keep v, s and t for the training loop: each one's ``update`` is
its function, and, for speed, the built-in classes run the same rule on all the parameters at once, as one
flat vector (``bnlab._kernels``): the same numbers to round-off.
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
            raise ValueError(f"grads['d{name}'] has shape {np.shape(grads[f'd{name}'])}; "
                             f"expected {np.shape(value)} like parameters['{name}']")
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


# --- The classes: the rules above, step after step, for the training loop -------------------------------

class Optimizer:
    """What the optimizer classes share: the step count ``t`` and their state (v, s) kept for one network.

    An optimizer class names its state in ``state_names`` (("v",), ("s",), ("v", "s") or none) and defines
    ``update(parameters, grads, *state)``: its rule applied to every parameter, returning the new parameters
    dict followed by the new state dicts (as the ``update_parameters_with_*`` functions do). That is all a
    new optimizer needs; ``step`` keeps the state between steps and counts them.

    For speed only, a class may also give ``_flat_update``, the same rule on all the parameters at once as
    ONE flat vector, in place (``bnlab._kernels``); ``step`` then runs that instead, on the vectors kept by
    a ``bnlab._kernels.FlatParameters``.

    The state reads like the functions' dicts, keyed by gradient name (``adam.v["dW1"]``). With a flat rule
    these are views into the state vectors, so they always show the current state (and writing into them,
    ``adam.v["dW1"][:] = 0``, changes it). The parameters returned are new arrays at each step: earlier
    parameters never change.
    """

    state_names = ()
    _flat_update = None

    def __init__(self):
        self.t = 0  # the steps taken
        # A subclass that redefines update (a variant of the rule) runs its own update, not the flat rule.
        cls = type(self)
        flat = self._flat_update is not None and _defined_in(cls, "update") is _defined_in(cls, "_flat_update")
        self._flat = _kernels.FlatParameters(self.state_names) if flat else None
        self._state = None  # without a flat rule: the state dicts, one per name in state_names

    def step(self, parameters, grads):
        """Update every parameter from its gradient; returns the new parameters dict (inputs unchanged)."""
        _check_grads(parameters, grads)  # from here on grads has the names and shapes of parameters
        if not parameters:
            return {}
        if self._flat is not None:
            return self._flat_step(parameters, grads)
        return self._update_step(parameters, grads)

    def _update_step(self, parameters, grads):
        """update on the dicts, with the state kept from the last step (zeros at the first)."""
        if self._state is None:
            self._state = [_zeros_like_grads(parameters) for _ in self.state_names]
        for name, state in zip(self.state_names, self._state):
            _check_state(name, state, grads)  # before t counts this step
        self.t += 1
        if not self.state_names:
            return self.update(parameters, grads)
        new_parameters, *self._state = self.update(parameters, grads, *self._state)
        return new_parameters

    def _flat_step(self, parameters, grads):
        """_flat_update on the vectors of all the parameters, gradients and state."""
        p, dp = self._flat.pack(parameters, grads, check_state=lambda name, state: _check_state(name, state, grads))
        self.t += 1
        return self._flat.unpack(self._flat_update(p, dp, *self._flat.state, self._flat.scratch, np.empty_like(p)))

    def _state_dict(self, name):
        """The state ``name`` ("v" or "s") as a dict keyed by gradient name; None before the first step."""
        if self._flat is not None:
            return self._flat.state_views(name)
        return None if self._state is None else self._state[self.state_names.index(name)]


def _defined_in(cls, attribute):
    """The class, among cls and its bases, whose own body defines ``attribute``."""
    return next(klass for klass in cls.__mro__ if attribute in vars(klass))


class GradientDescent(Optimizer):
    """Plain (mini-batch) gradient descent: W := W − α·dW for every parameter."""

    def __init__(self, learning_rate=0.1):
        super().__init__()
        self.learning_rate = positive_number("learning_rate", learning_rate)

    def update(self, parameters, grads):
        """:func:`update_parameters_with_gd`. Returns the new parameters."""
        return update_parameters_with_gd(parameters, grads, self.learning_rate)

    _flat_update = _kernels.gd_rule  # the same update in place on one flat vector: speed only

    def __repr__(self):
        return f"GradientDescent(learning_rate={self.learning_rate:g})"


class Momentum(Optimizer):
    """Gradient descent with momentum; ``momentum_beta`` is the decay of the velocity average.

        v := β_m·v + (1 − β_m)·dW;   W := W − α·v
    """

    state_names = ("v",)

    def __init__(self, learning_rate=0.1, momentum_beta=0.9):
        super().__init__()
        self.learning_rate = positive_number("learning_rate", learning_rate)
        self.momentum_beta = fraction("momentum_beta", momentum_beta)

    def update(self, parameters, grads, v):
        """:func:`update_parameters_with_momentum`. Returns the new parameters and v."""
        return update_parameters_with_momentum(parameters, grads, v, self.learning_rate, self.momentum_beta)

    _flat_update = _kernels.momentum_rule  # the same update in place on one flat vector: speed only

    @property
    def v(self):
        """The velocity, {"dW1": …, "dgamma1": …}, as in the functions (None before the first step)."""
        return self._state_dict("v")

    def __repr__(self):
        return f"Momentum(learning_rate={self.learning_rate:g}, momentum_beta={self.momentum_beta:g})"


class RMSprop(Optimizer):
    """RMSprop; ``beta2`` is the decay of the average of squared gradients.

        s := β2·s + (1 − β2)·dW²;   W := W − α·dW/(√s + ε)
    """

    state_names = ("s",)

    def __init__(self, learning_rate=0.001, beta2=0.999, epsilon=1e-8):
        super().__init__()
        self.learning_rate = positive_number("learning_rate", learning_rate)
        self.beta2 = fraction("beta2", beta2)
        self.epsilon = positive_number("epsilon", epsilon)

    def update(self, parameters, grads, s):
        """:func:`update_parameters_with_rmsprop`. Returns the new parameters and s."""
        return update_parameters_with_rmsprop(parameters, grads, s, self.learning_rate, self.beta2, self.epsilon)

    _flat_update = _kernels.rmsprop_rule  # the same update in place on one flat vector: speed only

    @property
    def s(self):
        """The average of squared gradients, {"dW1": …, …}, as in the functions (None before the first step)."""
        return self._state_dict("s")

    def __repr__(self):
        return f"RMSprop(learning_rate={self.learning_rate:g}, beta2={self.beta2:g})"


class Adam(Optimizer):
    """Adam with bias correction; ``beta1``, ``beta2`` are decay rates, not Batch Norm's β. At step t:

        v := β1·v + (1 − β1)·dW               s := β2·s + (1 − β2)·dW²
        v_corrected = v/(1 − β1ᵗ)             s_corrected = s/(1 − β2ᵗ)
        W := W − α·v_corrected/(√s_corrected + ε)
    """

    state_names = ("v", "s")

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8):
        super().__init__()
        self.learning_rate = positive_number("learning_rate", learning_rate)
        self.beta1, self.beta2 = fraction("beta1", beta1), fraction("beta2", beta2)
        self.epsilon = positive_number("epsilon", epsilon)

    def update(self, parameters, grads, v, s):
        """:func:`update_parameters_with_adam` at step t. Returns the new parameters, v and s."""
        return update_parameters_with_adam(parameters, grads, v, s, self.t, self.learning_rate, self.beta1, self.beta2,
                                           self.epsilon)

    _flat_update = _kernels.adam_rule  # the same update in place on one flat vector: speed only

    @property
    def v(self):
        """The first-moment average, {"dW1": …, …}, as in the functions (None before the first step)."""
        return self._state_dict("v")

    @property
    def s(self):
        """The second-moment average, {"dW1": …, …}, as in the functions (None before the first step)."""
        return self._state_dict("s")

    def __repr__(self):
        return f"Adam(learning_rate={self.learning_rate:g}, beta1={self.beta1:g}, beta2={self.beta2:g})"


# The names ``train`` accepts for an optimizer, each made with its default hyperparameters.
OPTIMIZERS = {"gd": GradientDescent, "momentum": Momentum, "rmsprop": RMSprop, "adam": Adam}
