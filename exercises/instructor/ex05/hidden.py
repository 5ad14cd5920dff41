"""Hidden checks of exercise 5 (momentum and RMSprop). Instructor-only: not part of the student release.

Descriptions and messages name what is checked, never the inputs.
"""
from bnlab.grading.checks.ex05 import StepCase, step_check
from bnlab.grading.checks.kit import Unchanged
from bnlab.grading.core.spec import Check

_KEEP = "build new dicts: new_parameters[name] = parameters[name] - ..."

HIDDEN_CHECKS: list[Check] = [
    step_check("momentum_later_step", 1, "hidden", "momentum from a non-zero v with the momentum_beta argument",
               StepCase("momentum", seed=1201, fresh=False, hyper={"momentum_beta": 0.8})),
    step_check("momentum_three_steps", 1, "hidden", "three momentum steps, each using the previous step's results",
               StepCase("momentum", seed=1202, steps=3, learning_rate=0.05)),
    step_check("rmsprop_later_step", 1, "hidden",
               "RMSprop from a non-zero s with the beta2 and epsilon arguments (epsilon outside the root)",
               StepCase("rmsprop", seed=1203, fresh=False, grad_scale=1e-3,
                        hyper={"beta2": 0.9, "epsilon": 1e-4})),
    step_check("rmsprop_three_steps", 1, "hidden", "three RMSprop steps, each using the previous step's results",
               StepCase("rmsprop", seed=1204, steps=3, learning_rate=0.01)),
    step_check("momentum_gamma_and_beta", 1, "hidden",
               "momentum updates gamma and beta of every hidden layer, and their v, like W",
               StepCase("momentum", seed=1205, layer_dims=(3, 6, 6, 6, 2), fresh=False), only=("gamma", "beta")),
    step_check("rmsprop_gamma_and_beta", 1, "hidden",
               "RMSprop updates gamma and beta of every hidden layer, and their s, like W",
               StepCase("rmsprop", seed=1206, layer_dims=(3, 6, 6, 6, 2), fresh=False), only=("gamma", "beta")),
    step_check("other_networks", 1, "hidden", "momentum on a network of another depth and other layer sizes",
               StepCase("momentum", seed=1207, layer_dims=(7, 2, 4, 3, 5, 1))),
    step_check("momentum_leaves_inputs_unchanged", 1, "hidden",
               "momentum returns new dicts: parameters, grads and v are not modified in place",
               StepCase("momentum", seed=1208, fresh=False), unchanged=Unchanged(("parameters", "grads", "v"), _KEEP)),
    step_check("rmsprop_leaves_inputs_unchanged", 1, "hidden",
               "RMSprop returns new dicts: parameters, grads and s are not modified in place",
               StepCase("rmsprop", seed=1209, fresh=False, layer_dims=(2, 3, 1)),
               unchanged=Unchanged(("parameters", "grads", "s"), _KEEP)),
]
