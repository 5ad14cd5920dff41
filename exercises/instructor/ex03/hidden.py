"""Hidden checks of exercise 3 (layer_forward). Instructor-only: not part of the student release.

Descriptions and messages name what is checked, never the inputs.
"""
from bnlab.grading.checks.ex03 import LayerCase, layer_check
from bnlab.grading.checks.kit import Unchanged
from bnlab.grading.core.spec import Check

HIDDEN_CHECKS: list[Check] = [
    layer_check("other_shapes", 1, "hidden", "A for other layer sizes and numbers of examples, each activation",
                LayerCase(seed=601, n=7, n_prev=5, m=9, activation="relu"),
                LayerCase(seed=602, n=2, n_prev=8, m=11, activation="sigmoid"),
                LayerCase(seed=603, n=6, n_prev=1, m=7, activation="tanh")),
    layer_check("two_examples", 1, "hidden", "A for a mini-batch of two examples",
                LayerCase(seed=604, n=3, n_prev=4, m=2, activation="tanh")),
    layer_check("large_weights", 1, "hidden", "A when the weights (and so |Z|) are large: Batch Norm rescales Z",
                LayerCase(seed=605, n=4, n_prev=6, m=8, activation="sigmoid", w_scale=1e3)),
    layer_check("constant_unit", 1, "hidden", "a unit whose Z is the same for every example (its A is g(beta))",
                LayerCase(seed=607, n=4, n_prev=3, m=6, activation="sigmoid", zero_rows=(2,))),
    layer_check("single_unit", 1, "hidden", "A for a layer of one unit",
                LayerCase(seed=606, n=1, n_prev=3, m=5, activation="relu")),
    layer_check("leaves_inputs_unchanged", 1, "hidden",
                "correct A, and A_prev, W, gamma and beta are not modified in place",
                LayerCase(seed=608, n=4, n_prev=5, m=6, activation="relu"),
                unchanged=Unchanged(("A_prev", "W", "gamma", "beta"))),
]
