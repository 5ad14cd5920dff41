# GRADED FUNCTION: update_parameters_with_momentum
# MUTANT momentum_beta_ignored: a hard-coded 0.9 instead of the momentum_beta argument
import numpy as np


def update_parameters_with_momentum(parameters, grads, v, learning_rate, momentum_beta=0.9):
    """One momentum step on every parameter of a Batch Norm network: W, gamma, beta, and the output b.

    parameters: name -> array; grads, v: "d" + name -> array. Returns new dicts (parameters, v).
    """
    new_parameters, new_v = {}, {}
    momentum_beta = 0.9
    # YOUR CODE STARTS HERE
    for name, p in parameters.items():
        d = "d" + name
        new_v[d] = momentum_beta * v[d] + (1 - momentum_beta) * grads[d]
        new_parameters[name] = p - learning_rate * new_v[d]
    # YOUR CODE ENDS HERE
    return new_parameters, new_v
