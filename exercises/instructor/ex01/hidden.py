"""Hidden checks of exercise 1 (batchnorm_forward). Instructor-only: not part of the student release.

Descriptions and messages name what is checked, never the inputs.
"""
from bnlab.grading.checks.kit import Unchanged
from bnlab.grading.checks.kit import BNCase, forward_values_check
from bnlab.grading.core.spec import Check

HIDDEN_CHECKS: list[Check] = [
    forward_values_check("other_shapes", 1, "hidden", "correct values for other numbers of units and examples",
                         BNCase(seed=201, n=7, m=11)),
    forward_values_check("two_examples", 1, "hidden", "correct values for a mini-batch of two examples",
                         BNCase(seed=202, n=5, m=2)),
    forward_values_check("large_values", 1, "hidden", "correct values when |Z| is large",
                         BNCase(seed=203, n=4, m=9, scale=1e4, offset=-5e4), atol=1e-6),
    forward_values_check("constant_unit", 1, "hidden", "a unit with the same value for every example gives beta",
                         BNCase(seed=204, n=4, m=6, constant_rows=(1,))),
    forward_values_check("uses_eps_argument", 1, "hidden",
                         "epsilon is the eps argument, added to the variance inside the square root",
                         BNCase(seed=205, n=3, m=8, scale=1e-3, eps=1e-4)),
    forward_values_check("leaves_inputs_unchanged", 1, "hidden",
                         "correct values, and Z, gamma and beta are not modified in place",
                         BNCase(seed=208, n=4, m=5), unchanged=Unchanged(("Z", "gamma", "beta"))),
]
