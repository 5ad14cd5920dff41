# GRADED FUNCTION: batchnorm_forward
import numpy as np


def batchnorm_forward(Z, gamma, beta, eps=1e-5):
    """Training-mode Batch Norm over a mini-batch (examples are columns).

    Z: (n, m) pre-activations; gamma, beta: (n, 1); eps > 0.
    Returns Z_tilde (n, m) and cache = (Z_norm, gamma, inv_std), what the backward pass needs.
    """
    # YOUR CODE STARTS HERE
    mu = np.mean(Z, axis=1, keepdims=True)                 # (n, 1) per-unit mean over the examples
    var = np.mean((Z - mu) ** 2, axis=1, keepdims=True)    # (n, 1) biased variance (1/m)
    inv_std = 1.0 / np.sqrt(var + eps)                     # (n, 1)
    Z_norm = (Z - mu) * inv_std                            # (n, m)
    Z_tilde = gamma * Z_norm + beta                        # (n, m)
    cache = (Z_norm, gamma, inv_std)
    # YOUR CODE ENDS HERE
    return Z_tilde, cache


# GRADED FUNCTION: layer_forward
import numpy as np


def layer_forward(A_prev, W, gamma, beta, activation):
    """One layer with Batch Norm: Z = W A_prev (no b), Z_tilde = BN(Z), A = g(Z_tilde).

    A_prev: (n_prev, m); W: (n, n_prev); gamma, beta: (n, 1); activation: "relu", "sigmoid" or "tanh".
    Returns A (n, m) and cache = (A_prev, W, Z, bn_cache, Z_tilde).
    """
    # YOUR CODE STARTS HERE
    Z = np.dot(W, A_prev)                                  # (n, m): no b, beta plays its role
    Z_tilde, bn_cache = batchnorm_forward(Z, gamma, beta)
    if activation == "relu":
        A = np.maximum(Z_tilde, 0)
    elif activation == "sigmoid":
        A = 1 / (1 + np.exp(-Z_tilde))
    elif activation == "tanh":
        A = np.tanh(Z_tilde)
    else:
        raise ValueError(f"activation must be 'relu', 'sigmoid' or 'tanh'; got {activation!r}")
    cache = (A_prev, W, Z, bn_cache, Z_tilde)
    # YOUR CODE ENDS HERE
    return A, cache
