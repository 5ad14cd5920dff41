# GRADED FUNCTION: update_parameters_with_rmsprop
# MUTANT rmsprop_gradient_not_squared: s averages |dW| instead of dW squared
import numpy as np


def update_parameters_with_rmsprop(parameters, grads, s, learning_rate, beta2=0.999, epsilon=1e-8):
    """One RMSprop step on every parameter of a Batch Norm network: W, gamma, beta, and the output b.

    parameters: name -> array; grads, s: "d" + name -> array. Returns new dicts (parameters, s).
    """
    new_parameters, new_s = {}, {}
    # YOUR CODE STARTS HERE
    for name, p in parameters.items():
        d = "d" + name
        new_s[d] = beta2 * s[d] + (1 - beta2) * np.abs(grads[d])
        new_parameters[name] = p - learning_rate * grads[d] / (np.sqrt(new_s[d]) + epsilon)
    # YOUR CODE ENDS HERE
    return new_parameters, new_s
