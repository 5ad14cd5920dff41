"""ex08's mutants: the reference solution with one common mistake each (format: bnlab.grading.author.mutants)."""
MUTANTS: dict[str, list[tuple[str, str]]] = {
    # the same shuffle every epoch
    "no_reshuffle": [
        ("random_mini_batches(X, Y, mini_batch_size, seed + epoch)",
         "random_mini_batches(X, Y, mini_batch_size, seed)"),
    ],
    # running averages of Z_tilde's statistics (cache item 4) instead of Z's
    "running_of_Z_tilde": [
        ("Z = caches[l - 1][2]                   # the Z this mini-batch normalized",
         "Z = caches[l - 1][4]"),
    ],
    # running averages never updated
    "running_not_updated": [
        ('running[f"mu{l}"] = running_decay * running[f"mu{l}"] + (1 - running_decay) * mu', "pass"),
        ('running[f"var{l}"] = running_decay * running[f"var{l}"] + (1 - running_decay) * var', "pass"),
    ],
    # the running averages' weights swapped
    "running_decay_swapped": [
        ('running[f"mu{l}"] = running_decay * running[f"mu{l}"] + (1 - running_decay) * mu',
         'running[f"mu{l}"] = (1 - running_decay) * running[f"mu{l}"] + running_decay * mu'),
        ('running[f"var{l}"] = running_decay * running[f"var{l}"] + (1 - running_decay) * var',
         'running[f"var{l}"] = (1 - running_decay) * running[f"var{l}"] + running_decay * var'),
    ],
    # the unbiased variance in the running average
    "running_unbiased_var": [
        ("var = np.var(Z, axis=1, keepdims=True)", "var = np.var(Z, axis=1, keepdims=True, ddof=1)"),
    ],
    # Adam's t counts epochs
    "t_counts_epochs": [
        ("            t += 1\n", "            t = epoch + 1\n"),
    ],
    # Adam's t one step ahead
    "t_off_by_one": [
        ("parameters, v, s = update_parameters_with_adam(parameters, grads, v, s, t, learning_rate, beta1,",
         "parameters, v, s = update_parameters_with_adam(parameters, grads, v, s, t + 1, learning_rate, beta1,"),
    ],
    # the optimizer called with its default hyperparameters
    "optimizer_defaults": [
        ("parameters, v = update_parameters_with_momentum(parameters, grads, v, learning_rate, momentum_beta)",
         "parameters, v = update_parameters_with_momentum(parameters, grads, v, learning_rate)"),
        ("parameters, s = update_parameters_with_rmsprop(parameters, grads, s, learning_rate, beta2, epsilon)",
         "parameters, s = update_parameters_with_rmsprop(parameters, grads, s, learning_rate)"),
        ("parameters, v, s = update_parameters_with_adam(parameters, grads, v, s, t, learning_rate, beta1,\n"
         "                                                               beta2, epsilon)",
         "parameters, v, s = update_parameters_with_adam(parameters, grads, v, s, t, learning_rate)"),
    ],
    # Batch Norm's beta1 parameter taken for Adam's beta1 hyperparameter
    "bn_beta_as_adam_beta1": [
        ("parameters, v, s = update_parameters_with_adam(parameters, grads, v, s, t, learning_rate, beta1,",
         'parameters, v, s = update_parameters_with_adam(parameters, grads, v, s, t, learning_rate, '
         'parameters["beta1"],'),
    ],
    # the one-example mini-batch trained on
    "one_example_batch_kept": [
        ("            if batchnorm and X_t.shape[1] < 2:\n"
         "                continue                                   # one example cannot be batch-normalized\n",
         ""),
    ],
    # predict with the mini-batch's own statistics (train mode)
    "predict_batch_statistics": [
        ('Z_norm = (Z - running[f"mu{l}"]) / np.sqrt(running[f"var{l}"] + eps)',
         "Z_norm = (Z - Z.mean(axis=1, keepdims=True)) / np.sqrt(Z.var(axis=1, keepdims=True) + eps)"),
    ],
    # predict updates the running averages in place
    "predict_modifies_running": [
        ('Z_norm = (Z - running[f"mu{l}"]) / np.sqrt(running[f"var{l}"] + eps)',
         'running[f"mu{l}"] *= 1.0\n            running[f"var{l}"] += 0.0 * Z.var(axis=1, keepdims=True) + 1e-3\n'
         '            Z_norm = (Z - running[f"mu{l}"]) / np.sqrt(running[f"var{l}"] + eps)'),
    ],
    # predict returns the probabilities' argmax over the examples
    "predict_wrong_axis": [
        ("labels = np.argmax(ZL, axis=0)", "labels = np.argmax(ZL, axis=1)"),
    ],
}

# mistake -> words the feedback (all checks, hidden ones included) must contain; tests/test_exercises_mutants.py
MESSAGES: dict[str, list[str]] = {
    "no_reshuffle": ["WRONG costs", "reshuffle each epoch"],
    "running_of_Z_tilde": ["WRONG running averages", "not:WRONG parameters", "not:WRONG costs",
                           "running averages of the mean and variance of Z_tilde"],
    "running_not_updated": ["running averages that never change"],
    "running_unbiased_var": ["WRONG running averages", "not:WRONG parameters", "unbiased variance"],
    "t_counts_epochs": ["t counting epochs"],
    "t_off_by_one": ["t one step ahead"],
    "optimizer_defaults": ["default hyperparameters"],
    "one_example_batch_kept": ["one example"],
    "predict_batch_statistics": ["batch statistics at test time"],
    "predict_modifies_running": ["modified running"],
    "bn_beta_as_adam_beta1": ["Batch Norm's beta parameters"],
}
