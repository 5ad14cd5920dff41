# GRADED FUNCTION: batchnorm_backward
# MUTANT dZ_sign_error: the variance term with the wrong sign
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
    dZ = gamma * inv_std * (dZ_tilde - (dbeta - Z_norm * dgamma) / m)    # (n, m)
    # YOUR CODE ENDS HERE
    return dZ, dgamma, dbeta
