"""Hidden checks of exercise 7 (the network with Batch Norm). Instructor-only: not part of the student release.

Descriptions and messages name what is checked, never the inputs.
"""
from bnlab.grading.checks.ex07 import LayerCase, NetCase, backward_check, forward_check, layer_backward_check
from bnlab.grading.checks.kit import Unchanged
from bnlab.grading.core.spec import Check

_KEEP = "compute new arrays; the caller still needs them"

HIDDEN_CHECKS: list[Check] = [
    layer_backward_check("layer_backward_sigmoid", 1, "hidden", "layer_backward through a sigmoid layer",
                         LayerCase(seed=1401, n=5, n_prev=6, m=7, activation="sigmoid")),
    layer_backward_check("layer_backward_tanh_two_examples", 1, "hidden",
                         "layer_backward through a tanh layer on a mini-batch of two examples",
                         LayerCase(seed=1402, n=3, n_prev=4, m=2, activation="tanh")),
    layer_backward_check("layer_backward_leaves_dA_unchanged", 1, "hidden",
                         "correct gradients, and dA is not modified in place",
                         LayerCase(seed=1403, n=4, n_prev=3, m=6), unchanged=Unchanged(("dA", "cache"), _KEEP)),
    forward_check("forward_deeper_network", 1, "hidden", "AL of a deeper network with other layer sizes, tanh",
                  NetCase(seed=1404, layer_dims=(7, 6, 5, 4, 3, 4), m=9, activation="tanh")),
    forward_check("forward_one_hidden_layer", 1, "hidden", "AL of a network with a single hidden layer, sigmoid",
                  NetCase(seed=1405, layer_dims=(3, 5, 2), m=8, activation="sigmoid")),
    forward_check("forward_large_weights", 1, "hidden",
                  "AL when the weights are large (Batch Norm rescales Z; the softmax must not overflow)",
                  NetCase(seed=1406, layer_dims=(4, 5, 3), m=6, weight_scale=300.0, output_offset=1000.0)),
    forward_check("forward_leaves_inputs_unchanged", 1, "hidden",
                  "correct AL, and X and parameters are not modified in place",
                  NetCase(seed=1407), unchanged=Unchanged(("X", "parameters"), _KEEP)),
    backward_check("backward_deeper_network", 1, "hidden", "every gradient of a deeper network, tanh",
                   NetCase(seed=1408, layer_dims=(6, 5, 4, 4, 3), m=7, activation="tanh")),
    backward_check("backward_one_hidden_layer_sigmoid", 1, "hidden",
                   "every gradient of a network with a single hidden layer, sigmoid",
                   NetCase(seed=1409, layer_dims=(3, 4, 2), m=5, activation="sigmoid")),
    backward_check("backward_two_examples", 1, "hidden", "every gradient on a mini-batch of two examples",
                   NetCase(seed=1410, layer_dims=(4, 3, 3), m=2)),
    backward_check("backward_gamma_and_beta", 1, "hidden", "dgamma and dbeta of every hidden layer",
                   NetCase(seed=1411, layer_dims=(5, 6, 6, 6, 3), m=8), only=("dgamma", "dbeta")),
    forward_check("forward_without_batchnorm_tanh", 1, "hidden", "AL of a deeper network without Batch Norm, tanh",
                  NetCase(seed=1413, layer_dims=(6, 5, 4, 3), m=7, activation="tanh", batchnorm=False)),
    backward_check("backward_without_batchnorm_sigmoid", 1, "hidden",
                   "every gradient of a network without Batch Norm, sigmoid",
                   NetCase(seed=1414, layer_dims=(4, 6, 5, 3), m=5, activation="sigmoid", batchnorm=False)),
    backward_check("backward_leaves_inputs_unchanged", 1, "hidden",
                   "correct gradients, and AL and Y are not modified in place",
                   NetCase(seed=1412), unchanged=Unchanged(("AL", "Y", "caches"), _KEEP)),
]
