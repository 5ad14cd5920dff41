"""Hidden checks of exercise 6 (update_parameters_with_adam). Instructor-only: not part of the student release.

Descriptions and messages name what is checked, never the inputs.
"""
from bnlab.grading.checks.ex06 import AdamCase, adam_check
from bnlab.grading.checks.kit import Unchanged
from bnlab.grading.core.spec import Check

HIDDEN_CHECKS: list[Check] = [
    adam_check("later_step", 1, "hidden", "a later step t from a non-zero v and s", AdamCase(seed=1001, t=7)),
    adam_check("three_steps", 1, "hidden", "three consecutive steps, each using the previous step's results",
               AdamCase(seed=1002, t=1, steps=3)),
    adam_check("hyperparameters", 1, "hidden",
               "learning_rate, beta1, beta2 and epsilon are taken from the arguments (epsilon outside the root)",
               AdamCase(seed=1003, t=2, grad_scale=1e-3,
                        hyper={"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-4})),
    adam_check("gamma_and_beta_updated", 1, "hidden",
               "gamma and beta of every hidden layer, and their v and s, are updated like W",
               AdamCase(seed=1004, layer_dims=(3, 6, 6, 6, 2), t=3), only=("gamma", "beta")),
    adam_check("other_networks", 1, "hidden", "a network of another depth and other layer sizes",
               AdamCase(seed=1005, layer_dims=(7, 2, 4, 3, 5, 1), t=1)),
    adam_check("one_hidden_layer", 1, "hidden", "a network with a single hidden layer",
               AdamCase(seed=1006, layer_dims=(2, 3, 1), t=5)),
    adam_check("leaves_inputs_unchanged", 1, "hidden",
               "correct results in new dicts: parameters, grads, v and s are not modified in place",
               AdamCase(seed=1008, t=4),
               unchanged=Unchanged(("parameters", "grads", "v", "s"),
                                   "build new dicts: new_parameters[name] = parameters[name] - ...")),
]
