"""ex01's mutants: the reference solution with one common mistake each (format: bnlab.grading.author.mutants)."""
MUTANTS: dict[str, list[tuple[str, str]]] = {
    # a hard-coded 1e-5 instead of the eps argument
    "eps_argument_ignored": [
        ("inv_std = 1.0 / np.sqrt(var + eps)",
         "inv_std = 1.0 / np.sqrt(var + 1e-5)"),
    ],
    # no epsilon in the square root
    "eps_missing": [
        ("inv_std = 1.0 / np.sqrt(var + eps)",
         "inv_std = 1.0 / np.sqrt(var)"),
    ],
    # epsilon added after the square root: sqrt(var) + eps
    "eps_outside_sqrt": [
        ("inv_std = 1.0 / np.sqrt(var + eps)",
         "inv_std = 1.0 / (np.sqrt(var) + eps)"),
    ],
    # returns Z_norm: gamma and beta never applied
    "gamma_beta_ignored": [
        ("Z_tilde = gamma * Z_norm + beta",
         "Z_tilde = Z_norm"),
    ],
    # beta * Z_norm + gamma
    "gamma_beta_swapped": [
        ("Z_tilde = gamma * Z_norm + beta",
         "Z_tilde = beta * Z_norm + gamma"),
    ],
    # one mean and variance for the whole matrix instead of one per unit
    "global_statistics": [
        ("mu = np.mean(Z, axis=1, keepdims=True)",
         "mu = np.mean(Z)"),
        ("var = np.mean((Z - mu) ** 2, axis=1, keepdims=True)",
         "var = np.mean((Z - mu) ** 2)"),
    ],
    # centres Z in place (Z -= mu), changing the caller's array
    "modifies_input_in_place": [
        ("    mu = np.mean(Z, axis=1, keepdims=True)                 # (n, 1) per-unit mean over the examples\n",
         "    mu = np.mean(Z, axis=1, keepdims=True)                 # (n, 1) per-unit mean over the examples\n"
         "    Z -= mu                                                "
         "# centre Z in place (modifies the caller's array)\n"
         "    mu = 0.0\n"),
    ],
    # per-unit statistics as (n,) vectors, so they broadcast along the wrong axis
    "no_keepdims": [
        ("mu = np.mean(Z, axis=1, keepdims=True)",
         "mu = np.mean(Z, axis=1)"),
        ("var = np.mean((Z - mu) ** 2, axis=1, keepdims=True)",
         "var = np.mean((Z - mu[:, None]) ** 2, axis=1)"),
    ],
    # returns Z_tilde transposed (examples as rows)
    "transposed_output": [
        ("Z_tilde = gamma * Z_norm + beta                        # (n, m)",
         "Z_tilde = (gamma * Z_norm + beta).T                      # (n, m)"),
    ],
    # variance divided by m - 1 instead of m
    "unbiased_variance": [
        ("var = np.mean((Z - mu) ** 2, axis=1, keepdims=True)",
         "var = np.sum((Z - mu) ** 2, axis=1, keepdims=True) / (Z.shape[1] - 1)"),
    ],
    # mean and variance over the units (axis=0) instead of over the examples (axis=1)
    "wrong_axis": [
        ("mu = np.mean(Z, axis=1, keepdims=True)",
         "mu = np.mean(Z, axis=0, keepdims=True)"),
        ("var = np.mean((Z - mu) ** 2, axis=1, keepdims=True)",
         "var = np.mean((Z - mu) ** 2, axis=0, keepdims=True)"),
    ],
}

# mistake -> words the feedback (all checks, hidden ones included) must contain; tests/test_exercises_mutants.py
MUTANTS.update({
    # a hard-coded 1e-8 instead of the eps argument
    "eps_hard_coded": [("inv_std = 1.0 / np.sqrt(var + eps)", "inv_std = 1.0 / np.sqrt(var + 1e-8)")],
})

MESSAGES: dict[str, list[str]] = {
    "eps_hard_coded": ["WRONG eps inside the square root", "the eps argument", "not:without epsilon"],
    "eps_missing": ["WRONG eps inside the square root", "sqrt(var + eps)", "right: per-unit mean and variance"],
    "eps_outside_sqrt": ["WRONG eps inside the square root", "epsilon outside the square root"],
    "gamma_beta_ignored": ["WRONG gamma * Z_norm + beta", "not applied"],
    "global_statistics": ["WRONG per-unit mean and variance", "whole matrix"],
    "modifies_input_in_place": ["modified Z in place", "Z -= mu", "WRONG inputs unchanged"],
    "wrong_axis": ["WRONG per-unit mean and variance (axis=1)", "axis=0", "right: biased variance"],
    "transposed_output": ["expected (3, 5), found (5, 3)", "transposed"],
    "unbiased_variance": ["WRONG biased variance (1/m)", "1/(m-1)", "not:WRONG eps", "not:WRONG per-unit",
                          "not:WRONG gamma"],
    "gamma_beta_swapped": ["WRONG gamma * Z_norm + beta", "swapped"],
}
