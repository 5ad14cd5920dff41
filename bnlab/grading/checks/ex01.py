"""Exercise 1: ``batchnorm_forward(Z, gamma, beta, eps=1e-5) -> (Z_tilde, cache)``.

The public checks below ship with the notebook (each also reports a wrong return type or shape);
the hidden ones (other shapes, m = 2, large |Z|, a constant unit, ε, inputs left unchanged) are in
``exercises/instructor/ex01/hidden.py``.
:class:`BNCase` and :func:`forward_values_check`, shared with those and with exercises 2 and 3, are in the kit.
"""
from __future__ import annotations

import numpy as np

from bnlab.grading.checks.kit import BATCHNORM_FORWARD as FN
from bnlab.grading.checks.kit import (BNCase, Mismatch, Unchanged, forward_parts, forward_result, forward_values_check,
                                      parts_check_verdict)
from bnlab.grading.core.spec import Check, Exercise

EXERCISE = Exercise(id="ex01", notebook="ex01_batchnorm_forward.ipynb", functions=(FN,),
                    title="Batch Norm forward pass")


def _normalized_check(points: float = 2) -> Check:
    """Scored by the kit's forward parts; a Z_tilde that matches no known mistake gets the row means and variances."""
    case = BNCase(seed=102, n=3, m=5, identity=True)

    def verify(outputs):
        def parts():
            Z_tilde = forward_result(outputs)
            try:
                return forward_parts(Z_tilde, case, reveal=True)
            except Mismatch as failure:
                if "they match" in str(failure) or "wrong values" not in str(failure):
                    raise  # a named mistake, or a wrong type/shape/NaN: that message says more
                means, variances = Z_tilde.mean(axis=1), Z_tilde.var(axis=1)
                if np.allclose(means, 0, atol=1e-7) and np.allclose(variances, 1, atol=1e-3):
                    raise
                raise Mismatch(
                    "with gamma = 1, beta = 0 each unit (row) of Z_tilde must have mean 0 and variance 1 over "
                    f"the examples; found row means {(np.round(means, 3) + 0.0).tolist()} and variances "
                    f"{(np.round(variances, 3) + 0.0).tolist()}. Compute mu and var with axis=1, keepdims=True"
                ) from None
        return parts_check_verdict(points, parts, "each unit has mean 0 and variance 1 over the mini-batch")

    return Check("normalizes_each_unit", points, "public", lambda: [case.call("fwd")], verify,
                 "with gamma = 1, beta = 0, every unit (row) has mean 0 and variance 1 over the examples")


PUBLIC_CHECKS: list[Check] = [
    _normalized_check(),
    forward_values_check("scale_and_shift", 2, "public",
                         "Z_tilde = gamma * Z_norm + beta matches the reference for Z of shape (4, 6), "
                         "and Z, gamma, beta are left unchanged",
                         BNCase(seed=103, n=4, m=6), unchanged=Unchanged(("Z", "gamma", "beta"))),
]
