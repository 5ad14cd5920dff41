"""ex05's mutants: the reference solution with one common mistake each (format: bnlab.grading.author.mutants)."""
MUTANTS: dict[str, list[tuple[str, str]]] = {
    # a hard-coded 0.9 instead of the momentum_beta argument
    "momentum_beta_ignored": [
        ("    new_parameters, new_v = {}, {}\n",
         "    new_parameters, new_v = {}, {}\n"
         "    momentum_beta = 0.9\n"),
    ],
    # only W and b are updated; gamma, beta and their v are copied
    "momentum_gamma_beta_not_updated": [
        ("        new_v[d] = momentum_beta * v[d] + (1 - momentum_beta) * grads[d]\n",
         '        if name.startswith(("gamma", "beta")):\n'
         "            new_parameters[name], new_v[d] = p, v[d]\n"
         "            continue\n"
         "        new_v[d] = momentum_beta * v[d] + (1 - momentum_beta) * grads[d]\n"),
    ],
    # updates the given dicts in place and returns them
    "momentum_modifies_in_place": [
        ("new_parameters, new_v = {}, {}",
         "new_parameters, new_v = parameters, v"),
    ],
    # v is computed but the parameters move by the gradient
    "momentum_updates_with_gradient": [
        ("new_parameters[name] = p - learning_rate * new_v[d]",
         "new_parameters[name] = p - learning_rate * grads[d]"),
    ],
    # v = momentum_beta * v + dW, without (1 - momentum_beta)
    "momentum_without_one_minus_beta": [
        ("new_v[d] = momentum_beta * v[d] + (1 - momentum_beta) * grads[d]",
         "new_v[d] = momentum_beta * v[d] + grads[d]"),
    ],
    # sqrt(s + epsilon)
    "rmsprop_epsilon_inside_sqrt": [
        ("new_parameters[name] = p - learning_rate * grads[d] / (np.sqrt(new_s[d]) + epsilon)",
         "new_parameters[name] = p - learning_rate * grads[d] / np.sqrt(new_s[d] + epsilon)"),
    ],
    # only W and b are updated; gamma, beta and their s are copied
    "rmsprop_gamma_beta_not_updated": [
        ("        new_s[d] = beta2 * s[d] + (1 - beta2) * grads[d] ** 2\n",
         '        if name.startswith(("gamma", "beta")):\n'
         "            new_parameters[name], new_s[d] = p, s[d]\n"
         "            continue\n"
         "        new_s[d] = beta2 * s[d] + (1 - beta2) * grads[d] ** 2\n"),
    ],
    # s averages |dW| instead of dW squared
    "rmsprop_gradient_not_squared": [
        ("new_s[d] = beta2 * s[d] + (1 - beta2) * grads[d] ** 2",
         "new_s[d] = beta2 * s[d] + (1 - beta2) * np.abs(grads[d])"),
    ],
    # hard-coded beta2 = 0.999 and epsilon = 1e-8
    "rmsprop_hyperparameters_ignored": [
        ("    new_parameters, new_s = {}, {}\n",
         "    new_parameters, new_s = {}, {}\n"
         "    beta2, epsilon = 0.999, 1e-8\n"),
    ],
    # divides by s + epsilon instead of sqrt(s) + epsilon
    "rmsprop_no_square_root": [
        ("new_parameters[name] = p - learning_rate * grads[d] / (np.sqrt(new_s[d]) + epsilon)",
         "new_parameters[name] = p - learning_rate * grads[d] / (new_s[d] + epsilon)"),
    ],
    # the update divides by the previous s, not the new one
    "rmsprop_old_s_in_update": [
        ("new_parameters[name] = p - learning_rate * grads[d] / (np.sqrt(new_s[d]) + epsilon)",
         "new_parameters[name] = p - learning_rate * grads[d] / (np.sqrt(s[d]) + epsilon)"),
    ],
}

# mistake -> words the feedback (all checks, hidden ones included) must contain; tests/test_exercises_mutants.py
MESSAGES: dict[str, list[str]] = {
    "momentum_updates_with_gradient": ["WRONG update W - learning_rate * v", "an update with the gradient instead of v",
                                       "not:WRONG v ="],
    "momentum_without_one_minus_beta": ["WRONG v = momentum_beta", "(1 - momentum_beta)", "not:WRONG update"],
    "momentum_gamma_beta_not_updated": ["gamma1", "not updated"],
    "rmsprop_epsilon_inside_sqrt": ["WRONG update", "epsilon inside the square root", "not:WRONG s ="],
    "rmsprop_no_square_root": ["instead of by its square root", "not:WRONG s ="],
    "rmsprop_gradient_not_squared": ["WRONG s = beta2", "not of its square", "not:WRONG update"],
    "rmsprop_old_s_in_update": ["WRONG update", "the previous s", "not:WRONG s ="],
    "momentum_modifies_in_place": ["in place", "WRONG inputs unchanged"],
}
