"""ex06's mutants: the reference solution with one common mistake each (format: bnlab.grading.author.mutants)."""
MUTANTS: dict[str, list[tuple[str, str]]] = {
    # the momentum average uses beta2 and the RMS average beta1
    "beta1_beta2_swapped": [
        ("new_v[d] = beta1 * v[d] + (1 - beta1) * grads[d]",
         "new_v[d] = beta2 * v[d] + (1 - beta2) * grads[d]"),
        ("new_s[d] = beta2 * s[d] + (1 - beta2) * grads[d] ** 2",
         "new_s[d] = beta1 * s[d] + (1 - beta1) * grads[d] ** 2"),
    ],
    # the bias-corrected v and s are stored as the new v and s
    "corrected_v_stored": [
        ("        new_parameters[name] = p - learning_rate * v_corrected / (np.sqrt(s_corrected) + epsilon)\n",
         "        new_parameters[name] = p - learning_rate * v_corrected / (np.sqrt(s_corrected) + epsilon)\n"
         "        new_v[d], new_s[d] = v_corrected, s_corrected\n"),
    ],
    # sqrt(s_corrected + epsilon)
    "epsilon_inside_sqrt": [
        ("new_parameters[name] = p - learning_rate * v_corrected / (np.sqrt(s_corrected) + epsilon)",
         "new_parameters[name] = p - learning_rate * v_corrected / np.sqrt(s_corrected + epsilon)"),
    ],
    # assumes a network with exactly two hidden layers
    "fixed_number_of_layers": [
        ("    for name, p in parameters.items():\n",
         '    names = ["W1", "gamma1", "beta1", "W2", "gamma2", "beta2", "W3", "b3"]\n'
         "    for name, p in ((n, parameters[n]) for n in names if n in parameters):\n"),
    ],
    # only W and b are updated; gamma, beta and their v, s are copied unchanged
    "gamma_beta_not_updated": [
        ('        d = "d" + name\n',
         '        d = "d" + name\n'
         '        if name.startswith(("gamma", "beta")):\n'
         "            new_parameters[name], new_v[d], new_s[d] = p, v[d], s[d]\n"
         "            continue\n"),
    ],
    # the step is added instead of subtracted
    "gradient_ascent": [
        ("new_parameters[name] = p - learning_rate * v_corrected / (np.sqrt(s_corrected) + epsilon)",
         "new_parameters[name] = p + learning_rate * v_corrected / (np.sqrt(s_corrected) + epsilon)"),
    ],
    # hard-coded learning rate 0.01 and epsilon 1e-8
    "hyperparameters_ignored": [
        ("    new_parameters, new_v, new_s = {}, {}, {}\n",
         "    new_parameters, new_v, new_s = {}, {}, {}\n"
         "    learning_rate, epsilon = 0.01, 1e-8\n"),
    ],
    # updates the given dicts and arrays in place and returns them
    "modifies_in_place": [
        ("new_parameters, new_v, new_s = {}, {}, {}",
         "new_parameters, new_v, new_s = parameters, v, s"),
    ],
    # v and s used without dividing by 1 - beta**t
    "no_bias_correction": [
        ("v_corrected = new_v[d] / (1 - beta1 ** t)",
         "v_corrected = new_v[d]"),
        ("s_corrected = new_s[d] / (1 - beta2 ** t)",
         "s_corrected = new_s[d]"),
    ],
    # s averages the gradient, not its square
    "s_without_square": [
        ("new_s[d] = beta2 * s[d] + (1 - beta2) * grads[d] ** 2",
         "new_s[d] = beta2 * s[d] + (1 - beta2) * np.abs(grads[d])"),
    ],
    # bias correction with t - 1, as if the first step were t = 0
    "t_starts_at_zero": [
        ("v_corrected = new_v[d] / (1 - beta1 ** t)",
         "v_corrected = new_v[d] / (1 - beta1 ** (t - 1))"),
        ("s_corrected = new_s[d] / (1 - beta2 ** t)",
         "s_corrected = new_s[d] / (1 - beta2 ** (t - 1))"),
    ],
}

# mistake -> words the feedback (all checks, hidden ones included) must contain; tests/test_exercises_mutants.py
MUTANTS.update({
    # the result in float32
    "returns_float32": [
        ("new_parameters[name] = p - learning_rate * v_corrected / (np.sqrt(s_corrected) + epsilon)",
         "new_parameters[name] = "
         "(p - learning_rate * v_corrected / (np.sqrt(s_corrected) + epsilon)).astype(np.float32)"),
    ],
    # the bias correction with t + 1
    "t_plus_one": [
        ("v_corrected = new_v[d] / (1 - beta1 ** t)", "v_corrected = new_v[d] / (1 - beta1 ** (t + 1))"),
        ("s_corrected = new_s[d] / (1 - beta2 ** t)", "s_corrected = new_s[d] / (1 - beta2 ** (t + 1))"),
    ],
    # a hard-coded epsilon
    "epsilon_hard_coded": [
        ("(np.sqrt(s_corrected) + epsilon)", "(np.sqrt(s_corrected) + 1e-8)"),
    ],
})

MESSAGES: dict[str, list[str]] = {
    "epsilon_inside_sqrt": ["WRONG update", "epsilon inside the square root", "not:WRONG bias correction"],
    "t_starts_at_zero": ["t counts steps from 1", "WRONG bias correction"],
    "returns_float32": ["float32"],
    "t_plus_one": ["WRONG bias correction", "t + 1", "step number", "not:WRONG update"],
    "epsilon_hard_coded": ["WRONG update", "hard-coded epsilon"],
    "no_bias_correction": ["bias correction", "3.16", "WRONG bias correction", "not:WRONG v =", "not:WRONG s =",
                           "not:WRONG update"],
    "s_without_square": ["WRONG s = beta2", "not:WRONG v ="],
    "gradient_ascent": ["WRONG update", "gradient ascent"],
    "gamma_beta_not_updated": ["gamma1", "not updated"],
}
