"""Hidden checks of exercise 2 (batchnorm_backward). Instructor-only: not part of the student release.

Descriptions and messages name what is checked, never the inputs.
"""
from bnlab.grading.checks.ex02 import FN_STEPS, BackwardCase, backward_check
from bnlab.grading.checks.kit import Unchanged
from bnlab.grading.checks.kit import BNCase
from bnlab.grading.core.spec import Check

HIDDEN_CHECKS: list[Check] = [
    backward_check("other_shapes", 1, "hidden", "dZ, dgamma and dbeta for other numbers of units and examples",
                   BackwardCase(BNCase(seed=401, n=6, m=9))),
    backward_check("two_examples", 1, "hidden", "dZ, dgamma and dbeta for a mini-batch of two examples",
                   BackwardCase(BNCase(seed=402, n=5, m=2))),
    backward_check("large_values", 1, "hidden", "dZ, dgamma and dbeta when |Z| is large",
                   BackwardCase(BNCase(seed=403, n=4, m=7, scale=1e4, offset=3e4), dscale=10.0)),
    backward_check("constant_unit", 1, "hidden",
                   "dZ, dgamma and dbeta when one unit has the same value for every example",
                   BackwardCase(BNCase(seed=404, n=4, m=6, constant_rows=(2,)))),
    backward_check("eps_from_the_forward_pass", 1, "hidden",
                   "the backward pass uses the epsilon given to the forward pass",
                   BackwardCase(BNCase(seed=405, n=3, m=8, scale=1e-3, eps=1e-4))),
    backward_check("leaves_dZ_tilde_unchanged", 1, "hidden", "correct gradients, and dZ_tilde is not modified in place",
                   BackwardCase(BNCase(seed=408, n=4, m=5)),
                   unchanged=Unchanged(("dZ_tilde", "cache"),
                                       "e.g. dZ = dZ_tilde - ..., not dZ = dZ_tilde; dZ -= ...")),
    backward_check("steps_other_shapes", 1, "hidden", "the step-by-step form for other shapes and large values",
                   BackwardCase(BNCase(seed=411, n=6, m=9, scale=1e3, offset=-2e3)), function=FN_STEPS),
    backward_check("steps_two_examples_and_eps", 1, "hidden",
                   "the step-by-step form on two examples, with the epsilon given to the forward pass",
                   BackwardCase(BNCase(seed=412, n=4, m=2, eps=1e-3)), function=FN_STEPS),
]
