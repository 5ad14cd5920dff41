r"""The fast versions of the lecture's optimizer rules, for the optimizer classes and ``bnlab bench``
(``Network`` uses none).

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


# --- Optimizer rules on one flat vector ------------------------------------------------------------------
# Each rule is an optimizer class's ``_flat_update`` (``Adam._flat_update = adam_rule``), so its first argument
# is the optimizer, whose hyperparameters it reads. It updates the state vectors (v, s) in place, computes in
# ``scratch`` and writes the new p into ``out`` (float64 vectors of p's size): the p it was given is never changed.

def gd_rule(gd, p, dp, scratch, out):
    """p − α·dp."""
    np.multiply(dp, gd.learning_rate, out=scratch)
    return np.subtract(p, scratch, out=out)


def momentum_rule(momentum, p, dp, v, scratch, out):
    """v := β_m·v + (1 − β_m)·dp;  p − α·v."""
    v *= momentum.momentum_beta
    np.multiply(dp, 1 - momentum.momentum_beta, out=scratch)
    v += scratch
    np.multiply(v, momentum.learning_rate, out=scratch)
    return np.subtract(p, scratch, out=out)


def rmsprop_rule(rmsprop, p, dp, s, scratch, out):
    """s := β2·s + (1 − β2)·dp²;  p − α·dp/(√s + ε)."""
    _decayed_average_of_squares(s, dp, rmsprop.beta2, scratch)
    np.sqrt(s, out=scratch)
    scratch += rmsprop.epsilon                       # √s + ε
    np.multiply(dp, rmsprop.learning_rate, out=out)  # out holds the step first
    out /= scratch                                   # α·dp/(√s + ε)
    return np.subtract(p, out, out=out)


def adam_rule(adam, p, dp, v, s, scratch, out):
    """v := β1·v + (1 − β1)·dp;  s := β2·s + (1 − β2)·dp²;  p − α·v̂/(√ŝ + ε) with v̂ = v/c1, ŝ = s/c2 at step adam.t.

    Multiplying above and below by √c2 gives (α·√c2/c1)·v/(√s + ε·√c2): the bias corrections become two
    scalars (as in PyTorch's Adam), which saves two passes over every parameter. Same formula; the last bit
    can differ from the lecture's order of operations (round-off, about 1e-16 relative).
    """
    beta1, beta2, t = adam.beta1, adam.beta2, adam.t
    np.multiply(dp, 1 - beta1, out=scratch)
    v *= beta1
    v += scratch                                     # v = β1·v + (1 − β1)·dp
    _decayed_average_of_squares(s, dp, beta2, scratch)
    c1, root_c2 = 1 - beta1**t, np.sqrt(1 - beta2**t)
    np.sqrt(s, out=scratch)
    scratch += adam.epsilon * root_c2                # √s + ε·√c2
    np.divide(v, scratch, out=out)                   # out holds the step first
    out *= adam.learning_rate * root_c2 / c1         # α·v̂/(√ŝ + ε)
    return np.subtract(p, out, out=out)


def _decayed_average_of_squares(s, dp, beta2, scratch):
    """s = β2·s + (1 − β2)·dp², in place (RMSprop and Adam)."""
    np.square(dp, out=scratch)
    scratch *= 1 - beta2
    s *= beta2
    s += scratch


class FlatParameters:
    """One network's parameters, and an optimizer's state for them, each kept as ONE float64 vector.

    ``pack`` gives the parameters and gradients as two vectors, ``state`` holds one vector per name in
    ``state_names`` (v, s), and ``unpack`` turns a new parameter vector into a dict of views of it: earlier
    parameters never change, and one kept array keeps that whole vector in memory. When the parameters
    packed are exactly the views the last ``unpack`` returned (the usual training loop), nothing is copied
    in. ``state_views(name)`` shows a state vector as a dict keyed by gradient name.
    """

    def __init__(self, state_names):
        self.state_names = tuple(state_names)
        self.state = []           # one vector per name in state_names
        self.scratch = None       # a work vector for the rules
        self._shapes = None       # {name: shape} of the parameters, in the order of the first step
        self._slices = None       # where each parameter sits in a vector
        self._returned = None     # (vector, [(name, view)]) of the parameters the last unpack returned

    def pack(self, parameters, grads, check_state):
        """(p, dp): the parameters and their gradients as vectors (names and shapes checked by the caller).

        When the parameters' layout changed, ``check_state(name, state_dict)`` is called for each state vector
        (it raises if the state cannot serve these parameters), then the state starts again at 0.
        """
        p = self._last_vector(parameters)
        if p is None:  # not the parameters the last unpack returned: check the layout, then copy them in
            if self._shapes != {name: np.shape(a) for name, a in parameters.items()}:
                if self._shapes is not None:
                    for name in self.state_names:  # another network than before: say how v, s and grads differ
                        check_state(name, self.state_views(name))
                # the first step (or gradient descent, which keeps no state, on another network)
                self._start(parameters)
            p = np.concatenate([np.ravel(parameters[name]) for name in self._shapes], dtype=np.float64)
        dp = np.concatenate([np.ravel(grads[f"d{name}"]) for name in self._shapes], dtype=np.float64)
        return p, dp

    def unpack(self, p):
        """{name: the part of the vector p holding that parameter, in its shape}, remembered for the next pack."""
        views = self._views(p, prefix="")
        self._returned = p, list(views.items())  # not the dict itself: the caller may put new arrays in it
        return views

    def state_views(self, name):
        """The state vector ``name`` ("v" or "s") as a dict keyed by gradient name; None before the first step."""
        if self._shapes is None:
            return None
        return self._views(self.state[self.state_names.index(name)], prefix="d")

    def _start(self, parameters):
        self._returned = None
        self._shapes = {name: np.shape(p) for name, p in parameters.items()}
        ends = np.cumsum([int(np.prod(shape)) for shape in self._shapes.values()]).tolist()
        self._slices = [slice(start, end) for start, end in zip([0] + ends, ends)]
        self.scratch = np.empty(ends[-1])
        self.state = [np.zeros_like(self.scratch) for _ in self.state_names]

    def _views(self, flat, prefix):
        return {prefix + name: flat[part].reshape(shape)
                for (name, shape), part in zip(self._shapes.items(), self._slices)}

    def _last_vector(self, parameters):
        """The vector behind the parameters the last unpack returned, if ``parameters`` are exactly those views
        (the usual case in a training loop: no copy, and the layout is known); else None."""
        if self._returned is not None:
            flat, views = self._returned
            if len(parameters) == len(views) and all(parameters.get(k) is a for k, a in views):
                return flat
        return None
