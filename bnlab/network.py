"""An L-layer network built from the layers, with Batch Norm between Z and A in every hidden layer.

Hidden layer l (with Batch Norm):   Z[l] = W[l] A[l−1] → Z̃[l] = BN_γ[l],β[l](Z[l]) → A[l] = g(Z̃[l])
Hidden layer l (without):           Z[l] = W[l] A[l−1] + b[l] → A[l] = g(Z[l])
Output layer L:                     Z[L] = W[L] A[L−1] + b[L] → softmax or sigmoid

Parameters are a dict keyed as in the lecture: with Batch Norm ``W1, gamma1, beta1, …, WL, bL`` (the
hidden layers have no ``b`` key at all: β[l] plays the bias); without it ``W1, b1, …, WL, bL``.
Gradients use the same keys with a ``d`` in front. Shapes: W[l] (n[l], n[l−1]); b, γ, β (n[l], 1).
Every layer keeps a :class:`LayerCache` for the backward pass.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bnlab._validate import NonFiniteError, as_matrix, fraction, positive_int, positive_number, require_finite
from bnlab.activations import ACTIVATIONS, activation_backward, activation_forward, check_activation
from bnlab.batchnorm import (BatchNormCache, batchnorm_backward, batchnorm_eval, batchnorm_forward,
                             update_running_averages)
from bnlab.linear import linear_backward, linear_forward
from bnlab.losses import LOSSES, softmax

# g by name: the hidden activations and the output layer's (sigmoid is both).
_G = {**ACTIVATIONS, "softmax": softmax}


class LayerCache(NamedTuple):
    """What a layer's forward pass keeps for its backward pass.

    The first five are exercise 3's cache: A_prev (n[l−1], m); W (n[l], n[l−1]); Z = W A_prev (+ b)
    (n[l], m); bn_cache, the :class:`~bnlab.batchnorm.BatchNormCache` (None where no train-mode Batch Norm
    ran: eval mode, a network without it, the output layer); Z_tilde (n[l], m), the activation's input
    (Z itself where no Batch Norm ran). Then the activation's name ("relu", …, or the output's "softmax",
    "sigmoid") and its output A (n[l], m), from which g'(Z̃) is computed without recomputing g.
    """

    A_prev: np.ndarray
    W: np.ndarray
    Z: np.ndarray
    bn_cache: BatchNormCache | None
    Z_tilde: np.ndarray
    activation: str
    A: np.ndarray


def layer_forward(A_prev, W, gamma, beta, activation, eps=1e-5):
    """One hidden layer with Batch Norm, train mode: Z = W A_prev (no b) → Z̃ = BN(Z) → A = g(Z̃).

    A_prev: (n[l−1], m); W: (n[l], n[l−1]); gamma, beta: (n[l], 1); activation: "relu", "sigmoid" or "tanh".
    Returns A (n[l], m) and a :class:`LayerCache` for :func:`layer_backward` (``cache.bn_cache`` holds this
    layer's μ and σ²).
    """
    Z, (A_prev, W, _) = linear_forward(A_prev, W)   # Z = W A_prev: no b, β takes its role
    Z_tilde, bn_cache = batchnorm_forward(Z, gamma, beta, eps)
    A, _ = activation_forward(Z_tilde, activation)
    return A, LayerCache(A_prev, W, Z, bn_cache, Z_tilde, activation, A)


def layer_backward(dA, cache: LayerCache, need_dA_prev=True):
    """Backward through :func:`layer_forward`. dA: (n[l], m). Returns dA_prev, dW, dgamma, dbeta.

    need_dA_prev=False (the first layer, whose A_prev is X) returns None for dA_prev: nobody needs dX.
    """
    dZ_tilde = activation_backward(dA, cache.Z_tilde, cache.activation, cache.A)    # dA ⊙ g'(Z̃), from A = g(Z̃)
    dZ, dgamma, dbeta = batchnorm_backward(dZ_tilde, cache.bn_cache)
    dW = dZ @ cache.A_prev.T                                              # the 1/m is inside dZ already
    dA_prev = cache.W.T @ dZ if need_dA_prev else None
    return dA_prev, dW, dgamma, dbeta


def initialize_parameters(layer_dims, activation="relu", batchnorm=True, seed=0, weight_scale=None):
    """W[l] ~ N(0, s²) with s = sqrt(2/n[l−1]) for relu, sqrt(1/n[l−1]) otherwise, or s = weight_scale.

    With Batch Norm the hidden layers get γ = 1, β = 0 and no b; the output layer always gets b = 0.
    Returns the parameter dict in the lecture's key order.
    """
    rng = np.random.default_rng(seed)
    L = len(layer_dims) - 1
    parameters = {}
    for l in range(1, L + 1):
        n, n_prev = layer_dims[l], layer_dims[l - 1]
        scale = weight_scale if weight_scale is not None else np.sqrt((2.0 if activation == "relu" else 1.0) / n_prev)
        parameters[f"W{l}"] = rng.normal(0.0, scale, size=(n, n_prev))
        if batchnorm and l < L:
            parameters[f"gamma{l}"] = np.ones((n, 1))
            parameters[f"beta{l}"] = np.zeros((n, 1))
        else:
            parameters[f"b{l}"] = np.zeros((n, 1))
    return parameters


class Network:
    """An L-layer fully connected network, Batch Norm on or off in the hidden layers.

    layer_dims: [n_x, n[1], …, n[L]]; activation: hidden g ("relu", "sigmoid", "tanh"); batchnorm: True or False;
    output: "softmax" (K ≥ 2 classes, one-hot Y) or "sigmoid" (one unit, Y in {0, 1});
    eps: Batch Norm's ε; running_decay: decay of the running averages used at test time
    (PyTorch momentum = 1 − running_decay).

    ``parameters`` holds W, γ, β (and b where it exists); ``running`` holds ``mu{l}`` and ``var{l}``.
    """

    def __init__(self, layer_dims, activation="relu", batchnorm=True, output="softmax", seed=0,
                 weight_scale=None, eps=1e-5, running_decay=0.9):
        if len(layer_dims) < 2:
            raise ValueError(f"layer_dims must list at least [n_x, n_y]; got {layer_dims!r}")
        self.layer_dims = [positive_int(f"layer_dims[{i}]", n) for i, n in enumerate(layer_dims)]
        self.activation = check_activation(activation)
        if output not in LOSSES:
            raise ValueError(f"output must be one of {sorted(LOSSES)}; got {output!r}")
        if output == "sigmoid" and self.layer_dims[-1] != 1:
            raise ValueError(f"a sigmoid output has one unit; layer_dims ends with {self.layer_dims[-1]}")
        if output == "softmax" and self.layer_dims[-1] < 2:  # softmax over one unit is 1 whatever Z: nothing trains
            raise ValueError(f"a softmax output needs at least 2 units (one per class); layer_dims ends with "
                             f"{self.layer_dims[-1]}. For two classes with one output unit use output='sigmoid'")
        self.output = output
        if not isinstance(batchnorm, (bool, np.bool_)):  # bool("no") is True: a string would turn Batch Norm on
            raise ValueError(f"batchnorm must be True or False; got {batchnorm!r}")
        self.batchnorm = bool(batchnorm)
        self.eps = positive_number("eps", eps)
        self.running_decay = fraction("running_decay", running_decay, "the running-average decay")
        if weight_scale is not None:
            weight_scale = positive_number("weight_scale", weight_scale)
        self.parameters = initialize_parameters(self.layer_dims, activation, self.batchnorm, seed, weight_scale)
        self.running = {}
        if self.batchnorm:
            for l in range(1, self.L):
                self.running[f"mu{l}"] = np.zeros((self.layer_dims[l], 1))
                self.running[f"var{l}"] = np.ones((self.layer_dims[l], 1))

    @property
    def L(self) -> int:
        """Number of layers with parameters (hidden layers + output)."""
        return len(self.layer_dims) - 1

    def __repr__(self):
        bn = "with Batch Norm" if self.batchnorm else "without Batch Norm"
        return f"Network({self.layer_dims}, {self.activation}, {bn}, {self.output} output)"

    def forward(self, X, train=True, update_running=True):
        """Forward propagation. X: (n_x, m).

        train=True normalizes with each mini-batch's own μ, σ² (and, if update_running, folds them into
        the running averages); train=False (eval mode) uses the running averages, so it works for m = 1.
        Returns AL (n[L], m), the output probabilities, and the caches, one :class:`LayerCache` per layer
        (``caches[l − 1]`` for layer l), for :meth:`backward`.
        """
        X = as_matrix("X", X, rows=self.layer_dims[0])
        try:
            A, caches = X, []
            for l in range(1, self.L + 1):
                A, cache = self._layer_forward(A, l, train)
                caches.append(cache)
                if cache.bn_cache is not None and update_running:
                    self._update_running(l, cache.bn_cache)
        except NonFiniteError:
            require_finite("X", X)  # if the NaN/inf came with X, name X rather than a layer's Z
            raise
        if not np.isfinite(A).all():  # cheap test on the small output; without BN a NaN in X ends up here
            require_finite("X", X)
        return A, caches

    def _layer_forward(self, A_prev, l, train):
        """Layer l: :func:`layer_forward` for a hidden layer with Batch Norm in train mode; otherwise
        Z = W A_prev (+ b) → Z̃ (Batch Norm with the running averages in eval mode, else Z itself) → A = g(Z̃)."""
        p, hidden = self.parameters, l < self.L
        if hidden and self.batchnorm and train:
            return layer_forward(A_prev, p[f"W{l}"], p[f"gamma{l}"], p[f"beta{l}"], self.activation, self.eps)
        Z, (A_prev, W, _) = linear_forward(A_prev, p[f"W{l}"], p.get(f"b{l}"))
        if hidden and self.batchnorm:  # eval mode: the running averages instead of the batch's μ, σ²
            Z_tilde = batchnorm_eval(Z, p[f"gamma{l}"], p[f"beta{l}"], self.running[f"mu{l}"], self.running[f"var{l}"],
                                     self.eps)
        else:  # no Batch Norm: the output layer, or a network without it
            Z_tilde = Z
        g = self.activation if hidden else self.output
        A = _G[g](Z_tilde)
        return A, LayerCache(A_prev, W, Z, None, Z_tilde, g, A)

    def _update_running(self, l, bn_cache):
        self.running[f"mu{l}"], self.running[f"var{l}"] = update_running_averages(
            self.running[f"mu{l}"], self.running[f"var{l}"], bn_cache.mu, bn_cache.var, self.running_decay)

    def backward(self, Y, caches):
        """Back propagation from the loss against Y ((n[L], m) one-hot, or (1, m) 0/1 labels).

        Returns the gradient of every parameter that exists: dW1, dgamma1, dbeta1, …, dWL, dbL (BN) or
        dW1, db1, …, dWL, dbL (no BN). Needs caches of a train-mode :meth:`forward`.
        """
        return self._loss_and_backward(Y, caches)[1]

    def loss_and_grads(self, X, Y, update_running=True):
        """Train-mode forward on the mini-batch X, then backward. Returns (loss, grads)."""
        _, caches = self.forward(X, train=True, update_running=update_running)
        return self._loss_and_backward(Y, caches)

    def loss(self, X, Y, train=False):
        """The mean loss on (X, Y); eval mode by default (running averages, nothing updated)."""
        _, caches = self.forward(X, train=train, update_running=False)
        return LOSSES[self.output](caches[-1].Z, Y)[0]

    def _loss_and_backward(self, Y, caches):
        """The loss against Y, then each layer's gradients, last layer first: :func:`layer_backward` for a
        layer with Batch Norm, else back through g (not in the output layer: the loss gives dZ[L]) and
        :func:`~bnlab.linear.linear_backward`."""
        if self.batchnorm and any(cache.bn_cache is None for cache in caches[:-1]):
            raise ValueError("backward needs the caches of a train-mode forward (train=True)")
        loss, dZ = LOSSES[self.output](caches[-1].Z, Y)   # dZ[L] = (AL − Y)/m
        grads, dA = {}, None   # the output layer starts from the loss's dZ[L], not from a dA
        for l in range(self.L, 0, -1):
            cache, need_dA_prev = caches[l - 1], l > 1   # layer 1's A_prev is X: nobody needs dX
            if cache.bn_cache is not None:
                dA, grads[f"dW{l}"], grads[f"dgamma{l}"], grads[f"dbeta{l}"] = layer_backward(dA, cache, need_dA_prev)
                continue
            if l < self.L:  # a hidden layer without Batch Norm: Z̃ is Z
                dZ = activation_backward(dA, cache.Z_tilde, cache.activation, cache.A)
            has_b = f"b{l}" in self.parameters
            dA, grads[f"dW{l}"], db = linear_backward(dZ, (cache.A_prev, cache.W, has_b), need_dA_prev)
            if has_b:
                grads[f"db{l}"] = db
        # Same order as the parameters: dW1, dgamma1, dbeta1, …
        return loss, {f"d{name}": grads[f"d{name}"] for name in self.parameters}

    def predict(self, X):
        """Predicted labels in eval mode: (m,) class indices (softmax) or 0/1 (sigmoid)."""
        AL, _ = self.forward(X, train=False)
        return AL.argmax(axis=0) if self.output == "softmax" else (AL[0] > 0.5).astype(int)

    def accuracy(self, X, labels):
        """Fraction of examples whose predicted label (eval mode) equals ``labels`` ((m,) ints)."""
        predicted = self.predict(X)
        labels = np.asarray(labels)
        m = predicted.size
        if labels.shape not in ((m,), (1, m), (m, 1)):  # e.g. one-hot Y, which would broadcast or fail obscurely
            hint = " — for one-hot Y pass Y.argmax(axis=0)" if labels.ndim == 2 and labels.shape[1] == m else ""
            raise ValueError(f"labels must hold one class index per example of X, shape ({m},); "
                             f"got shape {labels.shape}{hint}")
        return float(np.mean(predicted == labels.reshape(-1)))
