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


# GRADED FUNCTION: batchnorm_backward
import numpy as np


def batchnorm_backward(dZ_tilde, cache):
    """Backward pass of training-mode Batch Norm.

    dZ_tilde: (n, m) gradient of the cost w.r.t. Z_tilde; cache: from your batchnorm_forward.
    Returns dZ (n, m), dgamma (n, 1), dbeta (n, 1).
    """
    Z_norm, gamma, inv_std = cache
    m = dZ_tilde.shape[1]
    # YOUR CODE STARTS HERE
    dbeta = np.sum(dZ_tilde, axis=1, keepdims=True)                      # (n, 1)
    dgamma = np.sum(dZ_tilde * Z_norm, axis=1, keepdims=True)            # (n, 1)
    dZ = gamma * inv_std * (dZ_tilde - (dbeta + Z_norm * dgamma) / m)    # (n, m)
    # YOUR CODE ENDS HERE
    return dZ, dgamma, dbeta
