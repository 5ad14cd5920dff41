"""An L-layer network built from the layers, with Batch Norm between Z and A in every hidden layer.

Hidden layer l (with Batch Norm):   Z[l] = W[l] A[l−1] → Z̃[l] = BN_γ[l],β[l](Z[l]) → A[l] = g(Z̃[l])
Hidden layer l (without):           Z[l] = W[l] A[l−1] + b[l] → A[l] = g(Z[l])
Output layer L:                     Z[L] = W[L] A[L−1] + b[L] → softmax or sigmoid (inside the loss)

Parameters are a dict keyed as in the lecture: with Batch Norm ``W1, gamma1, beta1, …, WL, bL`` (the
hidden layers have no ``b`` key at all: β[l] plays the bias); without it ``W1, b1, …, WL, bL``.
Gradients use the same keys with a ``d`` in front. Shapes: W[l] (n[l], n[l−1]); b, γ, β (n[l], 1).
"""
from __future__ import annotations

import numpy as np

from bnlab._validate import NonFiniteError, as_matrix, fraction, positive_int, positive_number, require_finite
from bnlab.activations import activation_backward, activation_forward, check_activation, sigmoid
from bnlab.batchnorm import batchnorm_backward, batchnorm_eval, batchnorm_forward, update_running_averages
from bnlab.linear import linear_backward, linear_forward
from bnlab.losses import LOSSES, softmax


def layer_forward(A_prev, W, gamma, beta, activation, eps=1e-5):
    """One hidden layer with Batch Norm, train mode: Z = W A_prev (no b) → Z̃ = BN(Z) → A = g(Z̃).

    A_prev: (n[l−1], m); W: (n[l], n[l−1]); gamma, beta: (n[l], 1); activation: "relu", "sigmoid" or "tanh".
    Returns A (n[l], m) and the cache for :func:`layer_backward`: (linear cache, Batch Norm cache
    (a :class:`~bnlab.batchnorm.BatchNormCache`, with this layer's μ and σ²), Z̃, activation name, A).
    """
    Z, linear_cache = linear_forward(A_prev, W)
    Z_tilde, bn_cache = batchnorm_forward(Z, gamma, beta, eps)
    A, activation_cache = activation_forward(Z_tilde, activation)
    return A, (linear_cache, bn_cache, activation_cache, activation, A)


def layer_backward(dA, cache, need_dA_prev=True):
    """Backward through :func:`layer_forward`. dA: (n[l], m). Returns dA_prev, dW, dgamma, dbeta.

    need_dA_prev=False (the first layer) returns None for dA_prev, see :func:`linear_backward`.
    """
    linear_cache, bn_cache, activation_cache, activation, A = cache
    dZ_tilde = activation_backward(dA, activation_cache, activation, A)  # g' from A: no g recomputed
    dZ, dgamma, dbeta = batchnorm_backward(dZ_tilde, bn_cache)
    dA_prev, dW, _ = linear_backward(dZ, linear_cache, need_dA_prev)
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

    layer_dims: [n_x, n[1], …, n[L]]; activation: hidden g ("relu", "sigmoid", "tanh");
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
        self.output = output
        self.batchnorm = bool(batchnorm)
        self.eps = positive_number("eps", eps)
        self.running_decay = fraction("running_decay", running_decay, "the running-average decay")
        if weight_scale is not None:
            weight_scale = positive_number("weight_scale", weight_scale)
        self.parameters = initialize_parameters(self.layer_dims, activation, batchnorm, seed, weight_scale)
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
        Returns AL (n[L], m), the output probabilities, and caches for :meth:`backward`; caches[l−1]["Z_tilde"]
        is the input of layer l's activation (Z[l] itself when there is no Batch Norm).
        """
        X = as_matrix("X", X, rows=self.layer_dims[0])
        try:
            AL, caches = self._forward(X, train, update_running)
        except NonFiniteError:
            require_finite("X", X)  # if the NaN/inf came with X, name X rather than a layer's Z
            raise
        if not np.isfinite(AL).all():  # cheap test on the small output; without BN a NaN in X ends up here
            require_finite("X", X)
        return AL, caches

    def _forward(self, A, train, update_running):
        """:meth:`forward` on a checked X (here A = A[0])."""
        p = self.parameters
        caches = []
        for l in range(1, self.L):
            if self.batchnorm and train:
                A, cache = layer_forward(A, p[f"W{l}"], p[f"gamma{l}"], p[f"beta{l}"], self.activation, self.eps)
                bn_cache = cache[1]
                if update_running:
                    self.running[f"mu{l}"], self.running[f"var{l}"] = update_running_averages(
                        self.running[f"mu{l}"], self.running[f"var{l}"], bn_cache.mu, bn_cache.var, self.running_decay)
                caches.append({"layer": cache, "Z_tilde": cache[2]})  # the activation cache is its input Z̃
                continue
            Z, linear_cache = linear_forward(A, p[f"W{l}"], p.get(f"b{l}"))
            if self.batchnorm:  # eval mode
                Z = batchnorm_eval(Z, p[f"gamma{l}"], p[f"beta{l}"], self.running[f"mu{l}"], self.running[f"var{l}"], self.eps)
            A, activation_cache = activation_forward(Z, self.activation)
            caches.append({"linear": linear_cache, "activation": activation_cache, "Z_tilde": Z})
        ZL, linear_cache = linear_forward(A, p[f"W{self.L}"], p[f"b{self.L}"])
        caches.append({"linear": linear_cache, "ZL": ZL})
        AL = softmax(ZL) if self.output == "softmax" else sigmoid(ZL)
        return AL, caches

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
        return LOSSES[self.output](caches[-1]["ZL"], Y)[0]

    def _loss_and_backward(self, Y, caches):
        if self.batchnorm and self.L > 1 and "layer" not in caches[0]:  # L = 1: no hidden layer, no BN
            raise ValueError("backward needs the caches of a train-mode forward (train=True)")
        loss, dZ = LOSSES[self.output](caches[-1]["ZL"], Y)
        grads = {}
        # Layer 1 skips dA[0] = dX: no parameter is upstream of X (need_dA_prev=False).
        dA, grads[f"dW{self.L}"], grads[f"db{self.L}"] = linear_backward(dZ, caches[-1]["linear"], self.L > 1)
        for l in range(self.L - 1, 0, -1):
            cache = caches[l - 1]
            if self.batchnorm:
                dA, grads[f"dW{l}"], grads[f"dgamma{l}"], grads[f"dbeta{l}"] = layer_backward(dA, cache["layer"], l > 1)
            else:
                dZ = activation_backward(dA, cache["activation"], self.activation)
                dA, grads[f"dW{l}"], grads[f"db{l}"] = linear_backward(dZ, cache["linear"], l > 1)
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
            raise ValueError(f"labels must hold one class index per example of X, shape ({m},); got shape {labels.shape}{hint}")
        return float(np.mean(predicted == labels.reshape(-1)))
