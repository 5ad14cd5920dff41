r"""The fast versions of the lecture's optimizer rules, for the optimizer classes and ``bnlab bench``.

Learners: read :mod:`bnlab.optimizers` instead. This module computes the same formulas (tests pin the two
versions to round-off) with two speed tricks that would hide them there:

- **In place.** Every result is written into an array allocated once (``out=``, ``*=``): on the course's
  small arrays a fresh temporary costs more than the arithmetic.
- **One flat vector.** An optimizer step is 2 to 12 elementwise passes over every parameter; done per array
  (11 arrays for the paper's 784-100-100-100-10 net) the calls' fixed cost outweighs the arithmetic, so the
  optimizer classes keep the parameters, v and s each as ONE float64 vector and apply the rule once.

Batch Norm has no second copy here: :mod:`bnlab.batchnorm`'s public functions are the fast ones.
Inputs here are not checked: the public functions and classes check them first.
"""
from __future__ import annotations

import numpy as np

from bnlab.activations import DERIVATIVES_FROM_OUTPUT


def activation_backward(dA, A, activation):
    """dZ̃ = dA ⊙ g'(Z̃), with g'(Z̃) computed from the output A = g(Z̃) (no g recomputed)."""
    return dA * DERIVATIVES_FROM_OUTPUT[activation](A)


# --- Optimizer rules on one flat vector ------------------------------------------------------------------
# A rule updates its state (v, s) in place, computes in ``scratch`` and writes the new p into ``out`` (float64
# arrays of p's shape), so the p it was given is never changed.

def gd_rule(p, dp, scratch, out, learning_rate):
    """p − α·dp."""
    np.multiply(dp, learning_rate, out=scratch)
    return np.subtract(p, scratch, out=out)


def momentum_rule(p, dp, v, scratch, out, learning_rate, momentum_beta):
    """v := β_m·v + (1 − β_m)·dp;  p − α·v."""
    v *= momentum_beta
    np.multiply(dp, 1 - momentum_beta, out=scratch)
    v += scratch
    np.multiply(v, learning_rate, out=scratch)
    return np.subtract(p, scratch, out=out)


def rmsprop_rule(p, dp, s, scratch, out, learning_rate, beta2, epsilon):
    """s := β2·s + (1 − β2)·dp²;  p − α·dp/(√s + ε)."""
    _decayed_average_of_squares(s, dp, beta2, scratch)
    np.sqrt(s, out=scratch)
    scratch += epsilon                               # √s + ε
    np.multiply(dp, learning_rate, out=out)          # out holds the step first
    out /= scratch                                   # α·dp/(√s + ε)
    return np.subtract(p, out, out=out)


def adam_rule(p, dp, v, s, scratch, out, t, learning_rate, beta1, beta2, epsilon):
    """v := β1·v + (1 − β1)·dp;  s := β2·s + (1 − β2)·dp²;  p − α·v̂/(√ŝ + ε) with v̂ = v/c1, ŝ = s/c2.

    Multiplying above and below by √c2 gives (α·√c2/c1)·v/(√s + ε·√c2): the bias corrections become two
    scalars (as in PyTorch's Adam), which saves two passes over every parameter. Same formula; the last bit
    can differ from the lecture's order of operations (round-off, about 1e-16 relative).
    """
    np.multiply(dp, 1 - beta1, out=scratch)
    v *= beta1
    v += scratch                                     # v = β1·v + (1 − β1)·dp
    _decayed_average_of_squares(s, dp, beta2, scratch)
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


class FlatOptimizer:
    """The optimizer classes' machinery: their parameters, v and s each as one flat float64 vector.

    A subclass names its state vectors in ``_state`` (("v",), ("s",) or ("v", "s")) and defines
    ``_update(p, dp, *state, scratch, out)``, a rule above on the flat vectors. ``step`` packs the parameters
    and gradients into vectors, applies the rule once, and returns the new parameters as views into a new
    vector: earlier parameters never change, and one kept array keeps that whole vector in memory. When the
    parameters given are exactly the views the last step returned (the usual training loop), nothing is
    copied in. ``_state_views(name)`` shows a state vector as a dict keyed by gradient name.
    """

    _state = ()

    def __init__(self):
        self._shapes = None       # {name: shape} of the parameters, in the order of the first step
        self._slices = None       # where each parameter sits in a flat vector
        self._scratch = None
        self._flat_state = []     # one flat vector per name in _state
        self._returned = None     # (flat vector, [(name, view)]) of the parameters the last step returned

    def _flat_step(self, parameters, grads, check_state):
        """The new parameters dict, for parameters and grads of the same names and shapes (checked by the caller).

        ``check_state(name, state_dict)`` is called when the parameters' layout changed, before the state is reset.
        """
        if not parameters:
            return {}
        p = self._last_vector(parameters)
        if p is None:  # not the parameters this optimizer returned last: check the layout, then copy them in
            if self._shapes != {name: np.shape(a) for name, a in parameters.items()}:
                if self._shapes is not None:
                    for name in self._state:  # another network than before: say how v, s and grads differ
                        check_state(name, self._state_views(name))
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
