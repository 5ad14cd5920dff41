# GRADED FUNCTION: batchnorm_forward
# MUTANT forward_eps_missing: the repeated forward has no epsilon (a constant unit gives NaN)
import numpy as np


def batchnorm_forward(Z, gamma, beta, eps=1e-5):
    """Training-mode Batch Norm over a mini-batch (examples are columns).

    Z: (n, m) pre-activations; gamma, beta: (n, 1); eps > 0.
    Returns Z_tilde (n, m) and cache = (Z_norm, gamma, inv_std), what the backward pass needs.
    """
    # YOUR CODE STARTS HERE
    mu = np.mean(Z, axis=1, keepdims=True)                 # (n, 1) per-unit mean over the examples
    var = np.mean((Z - mu) ** 2, axis=1, keepdims=True)    # (n, 1) biased variance (1/m)
    inv_std = 1.0 / np.sqrt(var)                     # (n, 1)
    Z_norm = (Z - mu) * inv_std                            # (n, m)
    Z_tilde = gamma * Z_norm + beta                        # (n, m)
    cache = (Z_norm, gamma, inv_std)
    # YOUR CODE ENDS HERE
    return Z_tilde, cache
