"""bnlab: Batch Normalization in a deep network, from scratch in numpy (examples are columns).

The names the course, the exercises and the grader use are re-exported here.
"""
from bnlab.activations import (activation_backward, activation_forward, relu, relu_derivative, sigmoid,
                               sigmoid_derivative, tanh, tanh_derivative)
from bnlab.batchnorm import (BatchNormCache, batchnorm_backward, batchnorm_backward_steps, batchnorm_eval,
                             batchnorm_forward, update_running_averages)
from bnlab.data import Digits, load_digits, make_circles, make_moons, make_spirals, one_hot, random_mini_batches
from bnlab.gradcheck import check_network_gradients, gradient_check, numerical_gradient, relative_error
from bnlab.linear import linear_backward, linear_forward
from bnlab.losses import sigmoid_cross_entropy, softmax, softmax_cross_entropy
from bnlab.network import LayerCache, Network, initialize_parameters, layer_backward, layer_forward
from bnlab.optimizers import (Adam, GradientDescent, Momentum, RMSprop, initialize_adam, initialize_rmsprop,
                              initialize_velocity, update_parameters_with_adam, update_parameters_with_gd,
                              update_parameters_with_momentum, update_parameters_with_rmsprop)
from bnlab.train import History, TrainingDiverged, batch_statistics_accuracy, steps_to_accuracy, train

__version__ = "0.1.0"

# The public names (what `from bnlab import *` gives and what the course and the grader use).
__all__ = [
    "activation_backward", "activation_forward", "relu", "relu_derivative", "sigmoid", "sigmoid_derivative",
    "tanh", "tanh_derivative", "BatchNormCache", "batchnorm_backward", "batchnorm_backward_steps",
    "batchnorm_eval", "batchnorm_forward", "update_running_averages", "Digits", "load_digits", "make_circles",
    "make_moons", "make_spirals", "one_hot", "random_mini_batches", "check_network_gradients", "gradient_check",
    "numerical_gradient", "relative_error", "linear_backward", "linear_forward", "sigmoid_cross_entropy",
    "softmax", "softmax_cross_entropy", "LayerCache", "Network", "initialize_parameters", "layer_backward",
    "layer_forward", "Adam", "GradientDescent", "Momentum", "RMSprop", "initialize_adam", "initialize_rmsprop",
    "initialize_velocity", "update_parameters_with_adam", "update_parameters_with_gd",
    "update_parameters_with_momentum", "update_parameters_with_rmsprop", "History", "TrainingDiverged",
    "batch_statistics_accuracy", "steps_to_accuracy", "train", "__version__"
]
