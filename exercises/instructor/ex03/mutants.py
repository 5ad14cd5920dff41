"""ex03's mutants: the reference solution with one common mistake each (format: bnlab.grading.author.mutants)."""
MUTANTS: dict[str, list[tuple[str, str]]] = {
    # g applied to Z, then Batch Norm
    "activation_before_batchnorm": [
        ("    Z_tilde, bn_cache = batchnorm_forward(Z, gamma, beta)\n",
         ""),
        ("A = np.maximum(Z_tilde, 0)",
         "A = np.maximum(Z, 0)"),
        ("A = 1 / (1 + np.exp(-Z_tilde))",
         "A = 1 / (1 + np.exp(-Z))"),
        ("A = np.tanh(Z_tilde)",
         "A = np.tanh(Z)"),
        ('        raise ValueError(f"activation must be \'relu\', \'sigmoid\' or \'tanh\'; got {activation!r}")\n',
         '        raise ValueError(f"activation must be \'relu\', \'sigmoid\' or \'tanh\'; got {activation!r}")\n'
         "    A, bn_cache = batchnorm_forward(A, gamma, beta)\n"
         "    Z_tilde = None\n"),
    ],
    # always relu
    "activation_ignored": [
        ('if activation == "relu":',
         "if True:"),
    ],
    # b kept: beta added to Z as a bias before Batch Norm (cancelled by the mean), no shift after it
    "beta_as_bias": [
        ("Z = np.dot(W, A_prev)                                  # (n, m): no b, beta plays its role",
         "Z = np.dot(W, A_prev) + beta                                # (n, m): no b, beta plays its role"),
        ("Z_tilde, bn_cache = batchnorm_forward(Z, gamma, beta)",
         "Z_tilde, bn_cache = batchnorm_forward(Z, gamma, np.zeros_like(beta))"),
    ],
    # the repeated forward has no epsilon (a constant unit gives NaN)
    "forward_eps_missing": [
        ("inv_std = 1.0 / np.sqrt(var + eps)",
         "inv_std = 1.0 / np.sqrt(var)"),
    ],
    # returns Z_tilde: the activation is never applied
    "no_activation": [
        ('        raise ValueError(f"activation must be \'relu\', \'sigmoid\' or \'tanh\'; got {activation!r}")\n',
         '        raise ValueError(f"activation must be \'relu\', \'sigmoid\' or \'tanh\'; got {activation!r}")\n'
         "    A = Z_tilde\n"),
    ],
    # A = g(W A_prev): Batch Norm skipped
    "no_batchnorm": [
        ("Z_tilde, bn_cache = batchnorm_forward(Z, gamma, beta)",
         "Z_tilde, bn_cache = Z, None"),
    ],
    # an unknown activation falls back to the identity
    "no_value_error": [
        ('raise ValueError(f"activation must be \'relu\', \'sigmoid\' or \'tanh\'; got {activation!r}")',
         "A = Z_tilde"),
    ],
    # sigmoid computed as 1 / (1 + exp(Z))
    "sigmoid_sign_error": [
        ("A = 1 / (1 + np.exp(-Z_tilde))",
         "A = 1 / (1 + np.exp(Z_tilde))"),
    ],
    # A returned transposed (examples as rows)
    "transposed_output": [
        ("return A, cache",
         "return A.T, cache"),
    ],
}

# mistake -> words the feedback (all checks, hidden ones included) must contain; tests/test_exercises_mutants.py
MESSAGES: dict[str, list[str]] = {
    "no_batchnorm": ["no Batch Norm", "WRONG A: Batch Norm", "not:WRONG A: the activation"],
    "no_activation": ["no activation", "WRONG A: the activation g", "not:WRONG A: Batch Norm"],
    "transposed_output": ["transposed", "earns its share only with a right result"],
    "no_value_error": ["must raise a ValueError"],
    "activation_ignored": ["relu activation instead of sigmoid", "WRONG A (sigmoid): the activation g",
                           "right: A (relu): Batch Norm"],
    "activation_before_batchnorm": ["before Batch Norm"],
    "beta_as_bias": ["bias b before Batch Norm", "WRONG A: Batch Norm", "not:WRONG A: the activation"],
    "sigmoid_sign_error": ["wrong sign", "not:WRONG A (sigmoid): Batch Norm"],
    "forward_eps_missing": ["fix your batchnorm_forward (exercise 1) first"],
}
