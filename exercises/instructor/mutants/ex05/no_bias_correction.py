# GRADED FUNCTION: update_parameters_with_adam
# MUTANT no_bias_correction: v and s used without dividing by 1 - beta**t
import numpy as np


def update_parameters_with_adam(parameters, grads, v, s, t, learning_rate=0.01, beta1=0.9, beta2=0.999,
                                epsilon=1e-8):
    """One Adam step on every parameter of a Batch Norm network: W, gamma, beta, and the output b.

    parameters: name -> array ("W1", "gamma1", "beta1", ..., "WL", "bL"); grads, v, s: "d" + name -> array.
    t: the step number, starting at 1. Returns new dicts (parameters, v, s); the inputs stay unchanged.
    """
    new_parameters, new_v, new_s = {}, {}, {}
    # YOUR CODE STARTS HERE
    for name, p in parameters.items():
        d = "d" + name
        new_v[d] = beta1 * v[d] + (1 - beta1) * grads[d]
        new_s[d] = beta2 * s[d] + (1 - beta2) * grads[d] ** 2
        v_corrected = new_v[d]
        s_corrected = new_s[d]
        new_parameters[name] = p - learning_rate * v_corrected / (np.sqrt(s_corrected) + epsilon)
    # YOUR CODE ENDS HERE
    return new_parameters, new_v, new_s
