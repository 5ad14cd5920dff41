"""Training the same network at several learning rates (and over several seeds), for the "which learning rates
still train?" figure.

A run that diverges (``TrainingDiverged``: the loss or a parameter stopped being finite) is not an error
here but a result: its accuracy is NaN, which the plots draw as "diverged".
"""
from __future__ import annotations

import numpy as np

from bnlab._validate import positive_number
from bnlab.network import Network
from bnlab.train import TrainingDiverged, train


def learning_rate_sweep(layer_dims, optimizer, learning_rates, data, num_steps, batchnorm=True,
                        mini_batch_size=64, seed=0, activation="relu"):
    """Test accuracy after ``num_steps`` steps, for each learning rate, each from the same initial network.

    layer_dims: [n_x, n[1], …, n[L]]; optimizer: an optimizer class called as ``optimizer(learning_rate=α)``
    (GradientDescent, Momentum, RMSprop, Adam); learning_rates: the α values; data: train and test sets with
    fields X_train (n_x, m), Y_train (n[L], m) one-hot, X_test, y_test (the shape of ``load_digits()``).
    Returns a float array of len(learning_rates): the eval-mode test accuracy, NaN where training diverged.
    """
    learning_rates = [positive_number("learning_rates[]", lr) for lr in learning_rates]
    accuracies = np.full(len(learning_rates), np.nan)
    for i, learning_rate in enumerate(learning_rates):
        net = Network(layer_dims, activation=activation, batchnorm=batchnorm, seed=seed)
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run overflows on its way to inf
            try:
                train(net, data.X_train, data.Y_train, optimizer(learning_rate=learning_rate), num_steps,
                      mini_batch_size=mini_batch_size, seed=seed)
            except TrainingDiverged:
                continue
            accuracies[i] = net.accuracy(data.X_test, data.y_test)
    return accuracies


def learning_rate_sweep_over_seeds(layer_dims, optimizer, learning_rates, data, num_steps, seeds, batchnorm=True,
                                   mini_batch_size=64, activation="relu"):
    """:func:`learning_rate_sweep` once per seed (the seed of the initial network and of the shuffles).

    Returns a (len(seeds), len(learning_rates)) array of test accuracies, NaN where a run diverged; row i is
    exactly ``learning_rate_sweep(..., seed=seeds[i])``. ``bnlab.experiments.spread`` gives its median and range.
    """
    return np.array([learning_rate_sweep(layer_dims, optimizer, learning_rates, data, num_steps, batchnorm=batchnorm,
                                         mini_batch_size=mini_batch_size, seed=seed, activation=activation)
                     for seed in seeds]).reshape(len(seeds), len(learning_rates))
