"""Correct alternative spellings of the reference solutions, for the synthetic class of
``bnlab.grading.author.sample_class`` (honest students who each write the exercises their own way).

``STYLES`` maps a graded function to ``(old, new)`` replacements: ``old`` is a piece of the reference (the
source notebooks' solution), ``new`` another correct way to write it. Instructor-only, like the solutions
whose pieces it quotes: it never ships in the student release.
"""

STYLES: dict[str, list[tuple[str, str]]] = {
    "batchnorm_forward": [
        ("np.mean(Z, axis=1, keepdims=True)", "Z.mean(axis=1, keepdims=True)"),
        ("np.mean((Z - mu) ** 2, axis=1, keepdims=True)", "np.var(Z, axis=1, keepdims=True)"),
        ("inv_std = 1.0 / np.sqrt(var + eps)", "inv_std = (var + eps) ** -0.5"),
        ("Z_tilde = gamma * Z_norm + beta", "Z_tilde = Z_norm * gamma + beta"),
        ("Z_norm = (Z - mu) * inv_std", "Z_centered = Z - mu\n    Z_norm = Z_centered * inv_std"),
        ("cache = (Z_norm, gamma, inv_std)", "cache = Z_norm, gamma, inv_std"),
        ("    mu = np.mean", "    n, m = Z.shape\n    mu = np.mean"),
        ("1.0 / np.sqrt(var + eps)", "1 / np.sqrt(var + eps)"),
        ("Z_norm = (Z - mu) * inv_std", "Z_norm = np.multiply(Z - mu, inv_std)"),
    ],
    "batchnorm_backward": [
        ("dbeta = np.sum(dZ_tilde, axis=1, keepdims=True)", "dbeta = dZ_tilde.sum(axis=1, keepdims=True)"),
        ("np.sum(dZ_tilde * Z_norm, axis=1, keepdims=True)", "np.sum(Z_norm * dZ_tilde, axis=1, keepdims=True)"),
        ("    dbeta = np.sum", "    n = dZ_tilde.shape[0]\n    dbeta = np.sum"),
        ("return dZ, dgamma, dbeta", "return (dZ, dgamma, dbeta)"),
        ("dZ = gamma * inv_std * (dZ_tilde - (dbeta + Z_norm * dgamma) / m)",
         "dZ_norm = dZ_tilde * gamma\n    dZ = inv_std / m * (m * dZ_norm - np.sum(dZ_norm, axis=1, keepdims=True)"
         "\n                        - Z_norm * np.sum(dZ_norm * Z_norm, axis=1, keepdims=True))"),
    ],
    "layer_forward": [
        ("Z = np.dot(W, A_prev)", "Z = W @ A_prev"),
        ("A = np.maximum(Z_tilde, 0)", "A = Z_tilde * (Z_tilde > 0)"),
        ("A = 1 / (1 + np.exp(-Z_tilde))", "A = 1.0 / (1.0 + np.exp(-Z_tilde))"),
        ("A = np.tanh(Z_tilde)", "A = (np.exp(Z_tilde) - np.exp(-Z_tilde)) / (np.exp(Z_tilde) + np.exp(-Z_tilde))"),
        ("Z_tilde, bn_cache = batchnorm_forward(Z, gamma, beta)",
         "out = batchnorm_forward(Z, gamma, beta)\n    Z_tilde, bn_cache = out"),
        ("A = np.maximum(Z_tilde, 0)", "A = np.where(Z_tilde > 0, Z_tilde, 0)"),
        ("cache = (A_prev, W, Z, bn_cache, Z_tilde)", "cache = A_prev, W, Z, bn_cache, Z_tilde"),
    ],
    "random_mini_batches": [
        ("permutation = np.random.default_rng(seed).permutation(m)",
         "rng = np.random.default_rng(seed)\n    permutation = rng.permutation(m)"),
        ("X_shuffled, Y_shuffled = X[:, permutation], Y[:, permutation]",
         "X_shuffled = X[:, permutation]\n    Y_shuffled = Y[:, permutation]"),
        ("end = start + mini_batch_size\n"
         "        mini_batches.append((X_shuffled[:, start:end], Y_shuffled[:, start:end]))",
         "stop = min(start + mini_batch_size, m)\n"
         "        batch = (X_shuffled[:, start:stop], Y_shuffled[:, start:stop])\n"
         "        mini_batches.append(batch)"),
        ("    m = X.shape[1]\n", "    n_x, m = X.shape\n"),
        ("for start in range(0, m, mini_batch_size):", "for start in np.arange(0, m, mini_batch_size):"),
        ("mini_batches = []\n", "mini_batches = list()\n"),
    ],
    "update_parameters_with_adam": [
        ("for name, p in parameters.items():", "for name in parameters:\n        p = parameters[name]"),
        ('d = "d" + name', 'd = f"d{name}"'),
        ("(1 - beta2) * grads[d] ** 2", "(1 - beta2) * np.square(grads[d])"),
        ("v_corrected = new_v[d] / (1 - beta1 ** t)", "v_corrected = new_v[d] / (1 - np.power(beta1, t))"),
        ("(np.sqrt(s_corrected) + epsilon)", "(s_corrected ** 0.5 + epsilon)"),
        ("s_corrected = new_s[d] / (1 - beta2 ** t)", "s_corrected = new_s[d] / (1.0 - beta2 ** t)"),
        ("new_v[d] = beta1 * v[d] + (1 - beta1) * grads[d]", "new_v[d] = beta1 * v[d] + (1.0 - beta1) * grads[d]"),
        ("new_parameters, new_v, new_s = {}, {}, {}", "new_parameters, new_v, new_s = dict(), dict(), dict()"),
    ],
    "update_parameters_with_momentum": [
        ("for name, p in parameters.items():", "for name in parameters:\n        p = parameters[name]"),
        ('d = "d" + name', 'd = f"d{name}"'),
        ("new_parameters[name] = p - learning_rate * new_v[d]", "new_parameters[name] = p - new_v[d] * learning_rate"),
        ("(1 - momentum_beta) * grads[d]", "(1.0 - momentum_beta) * grads[d]"),
        ("new_parameters, new_v = {}, {}", "new_parameters = {}\n    new_v = {}"),
    ],
    "update_parameters_with_rmsprop": [
        ("for name, p in parameters.items():", "for name in parameters:\n        p = parameters[name]"),
        ('d = "d" + name', 'd = "d%s" % name'),
        ("(1 - beta2) * grads[d] ** 2", "(1 - beta2) * grads[d] * grads[d]"),
        ("(np.sqrt(new_s[d]) + epsilon)", "(new_s[d] ** 0.5 + epsilon)"),
        ("new_parameters, new_s = {}, {}", "new_parameters = {}\n    new_s = {}"),
        ("p - learning_rate * grads[d]", "p - learning_rate * np.asarray(grads[d])"),
    ],
}
