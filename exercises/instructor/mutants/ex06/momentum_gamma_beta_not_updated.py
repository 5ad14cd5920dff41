# GRADED FUNCTION: update_parameters_with_momentum
# MUTANT momentum_gamma_beta_not_updated: only W and b are updated; gamma, beta and their v are copied
import numpy as np


def update_parameters_with_momentum(parameters, grads, v, learning_rate, momentum_beta=0.9):
    """One momentum step on every parameter of a Batch Norm network: W, gamma, beta, and the output b.

    parameters: name -> array; grads, v: "d" + name -> array. Returns new dicts (parameters, v).
    """
    new_parameters, new_v = {}, {}
    # YOUR CODE STARTS HERE
    for name, p in parameters.items():
        d = "d" + name
        if name.startswith(("gamma", "beta")):
            new_parameters[name], new_v[d] = p, v[d]
            continue
        new_v[d] = momentum_beta * v[d] + (1 - momentum_beta) * grads[d]
        new_parameters[name] = p - learning_rate * new_v[d]
    # YOUR CODE ENDS HERE
    return new_parameters, new_v
