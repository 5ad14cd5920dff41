"""ex02's mutants: the reference solution with one common mistake each (format: bnlab.grading.author.mutants)."""
MUTANTS: dict[str, list[tuple[str, str]]] = {
    # dZ = gamma / sqrt(var + eps) * dZ_tilde, as if mu and var were constants
    "dZ_direct_path_only": [
        ("dZ = gamma * inv_std * (dZ_tilde - (dbeta + Z_norm * dgamma) / m)",
         "dZ = gamma * inv_std * dZ_tilde"),
    ],
    # dZ not multiplied by gamma
    "dZ_gamma_missing": [
        ("dZ = gamma * inv_std * (dZ_tilde - (dbeta + Z_norm * dgamma) / m)",
         "dZ = inv_std * (dZ_tilde - (dbeta + Z_norm * dgamma) / m)"),
    ],
    # a dZ without the term through the mean
    "dZ_missing_mean_term": [
        ("dZ = gamma * inv_std * (dZ_tilde - (dbeta + Z_norm * dgamma) / m)",
         "dZ = gamma * inv_std * (dZ_tilde - (Z_norm * dgamma) / m)"),
    ],
    # a dZ without the term through the variance
    "dZ_missing_variance_term": [
        ("dZ = gamma * inv_std * (dZ_tilde - (dbeta + Z_norm * dgamma) / m)",
         "dZ = gamma * inv_std * (dZ_tilde - dbeta / m)"),
    ],
    # the variance term with the wrong sign
    "dZ_sign_error": [
        ("dZ = gamma * inv_std * (dZ_tilde - (dbeta + Z_norm * dgamma) / m)",
         "dZ = gamma * inv_std * (dZ_tilde - (dbeta - Z_norm * dgamma) / m)"),
    ],
    # returns (dZ, dbeta, dgamma)
    "dgamma_dbeta_swapped": [
        ("dZ = gamma * inv_std * (dZ_tilde - (dbeta + Z_norm * dgamma) / m)    # (n, m)\n"
         "    # YOUR CODE ENDS HERE\n    return dZ, dgamma, dbeta",
         "dZ = gamma * inv_std * (dZ_tilde - (dbeta + Z_norm * dgamma) / m)    # (n, m)\n"
         "    # YOUR CODE ENDS HERE\n    return dZ, dbeta, dgamma"),
    ],
    # dgamma = sum of dZ_tilde, forgetting the factor Z_norm
    "dgamma_without_Z_norm": [
        ("dgamma = np.sum(dZ_tilde * Z_norm, axis=1, keepdims=True)            # (n, 1)",
         "dgamma = np.sum(dZ_tilde, axis=1, keepdims=True)"),
    ],
    # the mean and variance terms divided by m - 1
    "divides_by_m_minus_1": [
        ("dZ = gamma * inv_std * (dZ_tilde - (dbeta + Z_norm * dgamma) / m)",
         "dZ = gamma * inv_std * (dZ_tilde - (dbeta + Z_norm * dgamma) / (m - 1))"),
    ],
    # the repeated forward divides the variance by m - 1
    "forward_unbiased_variance": [
        ("var = np.mean((Z - mu) ** 2, axis=1, keepdims=True)",
         "var = np.sum((Z - mu) ** 2, axis=1, keepdims=True) / (Z.shape[1] - 1)"),
    ],
    # dZ aliases dZ_tilde and is updated in place
    "modifies_dZ_tilde_in_place": [
        ("    dZ = gamma * inv_std * (dZ_tilde - (dbeta + Z_norm * dgamma) / m)    # (n, m)\n",
         "    dZ = dZ_tilde\n"
         "    dZ -= (dbeta + Z_norm * dgamma) / m\n"
         "    dZ *= gamma * inv_std\n"),
    ],
    # dgamma and dbeta returned as (n,) vectors
    "no_keepdims": [
        ("dbeta = np.sum(dZ_tilde, axis=1, keepdims=True)                      # (n, 1)",
         "dbeta = np.sum(dZ_tilde, axis=1)"),
        ("dgamma = np.sum(dZ_tilde * Z_norm, axis=1, keepdims=True)            # (n, 1)",
         "dgamma = np.sum(dZ_tilde * Z_norm, axis=1)"),
        ("dZ = gamma * inv_std * (dZ_tilde - (dbeta + Z_norm * dgamma) / m)",
         "dZ = gamma * inv_std * (dZ_tilde - (dbeta[:, None] + Z_norm * dgamma[:, None]) / m)"),
    ],
    # dZ returned transposed
    "transposed_dZ": [
        ("dZ = gamma * inv_std * (dZ_tilde - (dbeta + Z_norm * dgamma) / m)    # (n, m)\n"
         "    # YOUR CODE ENDS HERE\n    return dZ, dgamma, dbeta",
         "dZ = gamma * inv_std * (dZ_tilde - (dbeta + Z_norm * dgamma) / m)    # (n, m)\n"
         "    # YOUR CODE ENDS HERE\n    return dZ.T, dgamma, dbeta"),
    ],
    # dgamma and dbeta summed over the units (axis=0)
    "wrong_axis": [
        ("dbeta = np.sum(dZ_tilde, axis=1, keepdims=True)                      # (n, 1)",
         "dbeta = np.sum(dZ_tilde, axis=0, keepdims=True)"),
        ("dgamma = np.sum(dZ_tilde * Z_norm, axis=1, keepdims=True)            # (n, 1)",
         "dgamma = np.sum(dZ_tilde * Z_norm, axis=0, keepdims=True)"),
    ],
}

# mistake -> words the feedback (all checks, hidden ones included) must contain; tests/test_exercises_mutants.py
MUTANTS.update({
    # the step-by-step form forgets the path through the mean (node 1)
    "steps_missing_mean_path": [("dZ = dZc + dmu / m", "dZ = dZc")],
    # node 3's contribution overwrites node 6's instead of adding to it
    "steps_variance_path_overwrites": [("dZc = dZc + (2.0 / m) * Zc * dvar", "dZc = (2.0 / m) * Zc * dvar")],
    # node 3 left out: mu and var treated as constants
    "steps_no_variance_path": [("dZc = dZc + (2.0 / m) * Zc * dvar", "dZc = dZc")],
    # the derivative of 1/s with the wrong sign
    "steps_reciprocal_sign": [("ds = -dr / s ** 2", "ds = dr / s ** 2")],
    # dr, a broadcast (n, 1) node, not summed over the examples
    "steps_dr_not_summed": [("dr = np.sum(dZ_norm * Zc, axis=1, keepdims=True)", "dr = dZ_norm * Zc")],
})

MESSAGES: dict[str, list[str]] = {
    "dZ_direct_path_only": ["only the direct path", "WRONG dZ", "right: dgamma"],
    "steps_missing_mean_path": ["through the mean"],
    "steps_no_variance_path": ["through the variance"],
    "steps_reciprocal_sign": ["sign error"],
    "transposed_dZ": ["transposed", "not:WRONG dgamma", "not:WRONG dbeta"],
    "forward_unbiased_variance": ["your forward pass is wrong: fix ex01 first", "WRONG biased variance"],
    "dZ_missing_variance_term": ["through the variance", "not:WRONG dgamma"],
    "dZ_missing_mean_term": ["through the mean", "not:WRONG dbeta"],
    "no_keepdims": ["keepdims=True"],
    "dgamma_dbeta_swapped": ["WRONG dgamma", "WRONG dbeta", "right: dZ"],
}
