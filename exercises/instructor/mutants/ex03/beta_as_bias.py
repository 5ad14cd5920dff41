# GRADED FUNCTION: layer_forward
# MUTANT beta_as_bias: b kept: beta added to Z as a bias before Batch Norm (cancelled by the mean), no shift after it
import numpy as np


def layer_forward(A_prev, W, gamma, beta, activation):
    """One layer with Batch Norm: Z = W A_prev (no b), Z_tilde = BN(Z), A = g(Z_tilde).

    A_prev: (n_prev, m); W: (n, n_prev); gamma, beta: (n, 1); activation: "relu", "sigmoid" or "tanh".
    Returns A (n, m) and cache = (A_prev, W, Z, bn_cache, Z_tilde).
    """
    # YOUR CODE STARTS HERE
    Z = np.dot(W, A_prev) + beta                                # (n, m): no b, beta plays its role
    Z_tilde, bn_cache = batchnorm_forward(Z, gamma, np.zeros_like(beta))
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
