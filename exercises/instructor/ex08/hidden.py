"""Hidden checks of exercise 8 (training and predicting). Instructor-only: not part of the student release.

Descriptions and messages name what is checked, never the inputs.
"""
from bnlab.grading.checks.ex08 import PredictCase, TrainCase, model_check, predict_check
from bnlab.grading.checks.kit import Unchanged
from bnlab.grading.core.spec import Check

HIDDEN_CHECKS: list[Check] = [
    model_check("momentum", 1, "hidden", "momentum with its momentum_beta argument",
                TrainCase(seed=1601, hyper={"optimizer": "momentum", "learning_rate": 0.05, "momentum_beta": 0.8,
                                            "mini_batch_size": 8, "num_epochs": 2})),
    model_check("rmsprop", 1, "hidden", "RMSprop with its beta2 and epsilon arguments",
                TrainCase(seed=1602, hyper={"optimizer": "rmsprop", "learning_rate": 0.01, "beta2": 0.9,
                                            "epsilon": 1e-4, "mini_batch_size": 8, "num_epochs": 2})),
    model_check("adam_hyperparameters", 1, "hidden",
                "Adam with the beta1, beta2 and epsilon arguments (the optimizer's betas, not Batch Norm's)",
                TrainCase(seed=1603, hyper={"optimizer": "adam", "learning_rate": 0.02, "beta1": 0.7, "beta2": 0.95,
                                            "epsilon": 1e-3, "mini_batch_size": 8, "num_epochs": 2})),
    model_check("one_example_left_over", 1, "hidden",
                "a leftover mini-batch of one example is skipped (it cannot be batch-normalized)",
                TrainCase(seed=1604, m=17, hyper={"optimizer": "gd", "learning_rate": 0.1, "mini_batch_size": 8,
                                                  "num_epochs": 2})),
    model_check("deeper_tanh_running_decay", 1, "hidden",
                "a deeper network with tanh and another running_decay: running averages of every layer",
                TrainCase(seed=1605, layers_dims=(3, 6, 5, 4, 3), m=24,
                          hyper={"optimizer": "adam", "activation": "tanh", "running_decay": 0.7,
                                 "mini_batch_size": 10, "num_epochs": 2, "seed": 5})),
    model_check("without_batchnorm", 1, "hidden",
                "batchnorm=False: the same loop, hidden layers with b, no running averages",
                TrainCase(seed=1606, hyper={"optimizer": "gd", "learning_rate": 0.1, "batchnorm": False,
                                            "mini_batch_size": 8, "num_epochs": 2})),
    model_check("model_leaves_X_and_Y_unchanged", 1, "hidden", "correct results, and X and Y are not modified in place",
                TrainCase(seed=1607, hyper={"optimizer": "gd", "learning_rate": 0.1, "mini_batch_size": 8,
                                            "num_epochs": 1}),
                unchanged=Unchanged(("X", "Y", "layers_dims"), "the data are read, never changed")),
    predict_check("predict_other_network", 1, "hidden", "predict on a deeper network, tanh, several examples",
                  PredictCase(seed=1608, layers_dims=(6, 5, 4, 4, 3), m=9, activation="tanh")),
    predict_check("predict_without_batchnorm", 1, "hidden", "predict for a network without Batch Norm",
                  PredictCase(seed=1609, m=5, batchnorm=False)),
]
