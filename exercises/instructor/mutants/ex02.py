"""ex02's mutants: the reference solution with one common mistake each (format: bnlab.grading.instructor.mutants)."""
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
        ("return dZ, dgamma, dbeta",
         "return dZ, dbeta, dgamma"),
    ],
    # dgamma = sum of dZ_tilde, forgetting the factor Z_norm
    "dgamma_without_Z_norm": [
        ("dgamma = np.sum(dZ_tilde * Z_norm, axis=1, keepdims=True)",
         "dgamma = np.sum(dZ_tilde, axis=1, keepdims=True)"),
    ],
    # the mean and variance terms divided by m - 1
    "divides_by_m_minus_1": [
        ("m = dZ_tilde.shape[1]",
         "m = dZ_tilde.shape[1] - 1"),
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
        ("dbeta = np.sum(dZ_tilde, axis=1, keepdims=True)",
         "dbeta = np.sum(dZ_tilde, axis=1)"),
        ("dgamma = np.sum(dZ_tilde * Z_norm, axis=1, keepdims=True)",
         "dgamma = np.sum(dZ_tilde * Z_norm, axis=1)"),
        ("dZ = gamma * inv_std * (dZ_tilde - (dbeta + Z_norm * dgamma) / m)",
         "dZ = gamma * inv_std * (dZ_tilde - (dbeta[:, None] + Z_norm * dgamma[:, None]) / m)"),
    ],
    # dZ returned transposed
    "transposed_dZ": [
        ("return dZ, dgamma, dbeta",
         "return dZ.T, dgamma, dbeta"),
    ],
    # dgamma and dbeta summed over the units (axis=0)
    "wrong_axis": [
        ("dbeta = np.sum(dZ_tilde, axis=1, keepdims=True)",
         "dbeta = np.sum(dZ_tilde, axis=0, keepdims=True)"),
        ("dgamma = np.sum(dZ_tilde * Z_norm, axis=1, keepdims=True)",
         "dgamma = np.sum(dZ_tilde * Z_norm, axis=0, keepdims=True)"),
    ],
}
