# GRADED FUNCTION: random_mini_batches
# MUTANT drops_remainder: only full mini-batches: the m % mini_batch_size last examples are lost
import numpy as np


def random_mini_batches(X, Y, mini_batch_size=64, seed=0):
    """Shuffle the examples (columns) of X and Y together and cut them into mini-batches.

    X: (n_x, m); Y: (n_y, m). Returns a list of (X_t, Y_t); all hold mini_batch_size examples except
    the last, which holds the m % mini_batch_size remaining ones when m does not divide.
    """
    m = X.shape[1]
    mini_batches = []
    # YOUR CODE STARTS HERE
    permutation = np.random.default_rng(seed).permutation(m)   # one permutation for X and Y
    X_shuffled, Y_shuffled = X[:, permutation], Y[:, permutation]
    for start in range(0, m - mini_batch_size + 1, mini_batch_size):                  # the last start may leave < mini_batch_size
        end = start + mini_batch_size
        mini_batches.append((X_shuffled[:, start:end], Y_shuffled[:, start:end]))
    # YOUR CODE ENDS HERE
    return mini_batches
