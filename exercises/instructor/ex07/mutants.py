"""ex07's mutants: the reference solution with one common mistake each (format: bnlab.grading.author.mutants)."""
MUTANTS: dict[str, list[tuple[str, str]]] = {
    # relu's derivative taken at Z instead of at Z_tilde, the activation's input
    "g_prime_at_Z": [
        ("dZ_tilde = dA * (Z_tilde > 0)", "dZ_tilde = dA * (Z > 0)"),
    ],
    # Batch Norm skipped on the way back: dZ = dZ_tilde
    "skips_batchnorm_backward": [
        ("dZ, dgamma, dbeta = batchnorm_backward(dZ_tilde, bn_cache)",
         "_, dgamma, dbeta = batchnorm_backward(dZ_tilde, bn_cache)\n    dZ = dZ_tilde"),
    ],
    # dW divided by m a second time
    "dW_divided_by_m": [
        ("dW = np.dot(dZ, A_prev.T)                              # (n, n_prev); the 1/m is already in dA",
         "dW = np.dot(dZ, A_prev.T) / A_prev.shape[1]"),
    ],
    # dA_prev from dZ_tilde, skipping Batch Norm on the way to A_prev
    "dA_prev_from_dZ_tilde": [
        ("dA_prev = np.dot(W.T, dZ)", "dA_prev = np.dot(W.T, dZ_tilde)"),
    ],
    # softmax normalized over the examples (axis=1) instead of over the classes
    "softmax_wrong_axis": [
        ("AL = E / np.sum(E, axis=0, keepdims=True)", "AL = E / np.sum(E, axis=1, keepdims=True)"),
    ],
    # the output layer's b left out
    "output_without_b": [
        ('ZL = np.dot(parameters[f"W{L}"], A) + parameters[f"b{L}"]', 'ZL = np.dot(parameters[f"W{L}"], A)'),
    ],
    # a softmax without the shift overflows for large logits
    "softmax_unshifted": [
        ("E = np.exp(ZL - np.max(ZL, axis=0, keepdims=True))", "E = np.exp(ZL)"),
    ],
    # a fixed depth of three layers
    "fixed_number_of_layers": [
        ('L = sum(1 for name in parameters if name.startswith("W"))', "L = 3"),
    ],
    # the mean's 1/m forgotten
    "dZL_without_1_over_m": [
        ("dZL = (AL - Y) / m", "dZL = AL - Y"),
    ],
    # dbL summed over the classes (axis=0)
    "dbL_wrong_axis": [
        ('grads[f"db{L}"] = np.sum(dZL, axis=1, keepdims=True)',
         'grads[f"db{L}"] = np.sum(dZL, axis=0, keepdims=True)'),
    ],
    # the hidden layers fed the output layer's dA unchanged (caches walked in the wrong order)
    "caches_in_wrong_order": [
        ("layer_backward(dA, caches[l - 1], activation)", "layer_backward(dA, caches[L - 1 - l], activation)"),
    ],
    # the output layer treated as the activation layer: hidden activation applied before the softmax
    "activation_on_output": [
        ("E = np.exp(ZL - np.max(ZL, axis=0, keepdims=True))",
         "ZL = np.maximum(ZL, 0)\n    E = np.exp(ZL - np.max(ZL, axis=0, keepdims=True))"),
    ],
    # the pasted batchnorm_forward divides the variance by m - 1
    "pasted_forward_unbiased": [
        ("var = np.mean((Z - mu) ** 2, axis=1, keepdims=True)",
         "var = np.sum((Z - mu) ** 2, axis=1, keepdims=True) / (Z.shape[1] - 1)"),
    ],
    # a layer without Batch Norm that forgets its b
    "plain_layer_without_b": [
        ('Z = np.dot(W, A_prev) + parameters[f"b{l}"]', "Z = np.dot(W, A_prev)"),
    ],
    # a layer without Batch Norm whose db is summed over the units
    "plain_layer_db_wrong_axis": [
        ('grads[f"db{l}"] = np.sum(dZ, axis=1, keepdims=True)', 'grads[f"db{l}"] = np.sum(dZ, axis=0, keepdims=True)'),
    ],
}

# mistake -> words the feedback (all checks, hidden ones included) must contain; tests/test_exercises_mutants.py
MESSAGES: dict[str, list[str]] = {
    "g_prime_at_Z": ["g' taken at Z instead of at Z_tilde"],
    "skips_batchnorm_backward": ["go back through Batch Norm first"],
    "dW_divided_by_m": ["dW divided by m", "WRONG dW", "right: dgamma"],
    "softmax_wrong_axis": ["axis=0"],
    "output_without_b": ["without bL"],
    "dZL_without_1_over_m": ["m times too large", "(AL - Y) / m"],
    "pasted_forward_unbiased": ["fix exercise 1 first"],
    "dbL_wrong_axis": ["WRONG output layer dWL, dbL", "axis=1", "right: dW of the hidden layers"],
    "plain_layer_db_wrong_axis": ["WRONG hidden layers dW, db", "not:WRONG output layer"],
    "dA_prev_from_dZ_tilde": ["WRONG dA_prev", "right: dW"],
}
