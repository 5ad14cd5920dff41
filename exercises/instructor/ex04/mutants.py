"""ex04's mutants: the reference solution with one common mistake each (format: bnlab.grading.author.mutants)."""
MUTANTS: dict[str, list[tuple[str, str]]] = {
    # only full mini-batches: the m % mini_batch_size last examples are lost
    "drops_remainder": [
        ("for start in range(0, m, mini_batch_size):",
         "for start in range(0, m - mini_batch_size + 1, mini_batch_size):"),
    ],
    # always m // mini_batch_size + 1 mini-batches, the last one empty when m divides
    "empty_last_batch": [
        ("for start in range(0, m, mini_batch_size):",
         "for start in [k * mini_batch_size for k in range(m // mini_batch_size + 1)]:"),
    ],
    # a hard-coded mini-batch size of 64 instead of the argument
    "fixed_batch_size": [
        ("    X_shuffled, Y_shuffled = X[:, permutation], Y[:, permutation]\n",
         "    X_shuffled, Y_shuffled = X[:, permutation], Y[:, permutation]\n"
         "    mini_batch_size = 64\n"),
    ],
    # the examples are cut in their original order
    "no_shuffle": [
        ("X_shuffled, Y_shuffled = X[:, permutation], Y[:, permutation]",
         "X_shuffled, Y_shuffled = X, Y"),
    ],
    # the last mini-batch is the last mini_batch_size examples, repeating some
    "overlapping_last_batch": [
        ("        end = start + mini_batch_size\n",
         "        end = start + mini_batch_size\n"
         "        if end > m:\n"
         "            start, end = m - mini_batch_size, m\n"),
    ],
    # a fixed seed 0 instead of the seed argument
    "seed_ignored": [
        ("permutation = np.random.default_rng(seed).permutation(m)",
         "permutation = np.random.default_rng(0).permutation(m)"),
    ],
    # X and Y shuffled in place (the caller's arrays change)
    "shuffles_in_place": [
        ("    X_shuffled, Y_shuffled = X[:, permutation], Y[:, permutation]\n",
         "    X[:, :], Y[:, :] = X[:, permutation], Y[:, permutation]\n"
         "    X_shuffled, Y_shuffled = X, Y\n"),
    ],
    # the rows (features) permuted instead of the columns (examples)
    "shuffles_rows": [
        ("    permutation = np.random.default_rng(seed).permutation(m)   # one permutation for X and Y\n"
         "    X_shuffled, Y_shuffled = X[:, permutation], Y[:, permutation]\n",
         "    permutation = np.random.default_rng(seed).permutation(m)\n"
         "    rows = np.random.default_rng(seed).permutation(X.shape[0])   # one permutation for X and Y\n"
         "    X_shuffled, Y_shuffled = X[rows, :], Y\n"),
    ],
    # X and Y shuffled with two different permutations
    "unpaired_X_Y": [
        ("    X_shuffled, Y_shuffled = X[:, permutation], Y[:, permutation]\n",
         "    rng = np.random.default_rng(seed)\n"
         "    X_shuffled, Y_shuffled = X[:, rng.permutation(m)], Y[:, rng.permutation(m)]\n"),
    ],
    # the global, unseeded numpy generator: a different shuffle on every call
    "unseeded_shuffle": [
        ("permutation = np.random.default_rng(seed).permutation(m)",
         "permutation = np.random.permutation(m)"),
    ],
}

# mistake -> words the feedback (all checks, hidden ones included) must contain; tests/test_exercises_mutants.py
MUTANTS.update({
    # a leftover of a single example dropped (as if it were no mini-batch)
    "drops_leftover_of_one": [
        ("        mini_batches.append((X_shuffled[:, start:end], Y_shuffled[:, start:end]))\n",
         "        if m - start > 1:\n"
         "            mini_batches.append((X_shuffled[:, start:end], Y_shuffled[:, start:end]))\n"),
    ],
})

MESSAGES: dict[str, list[str]] = {
    "no_shuffle": ["original order"],
    "shuffles_rows": ["shuffle whole columns"],
    "seed_ignored": ["must use the seed argument"],
    "unseeded_shuffle": ["same seed gave different"],
    "drops_leftover_of_one": ["smaller mini-batch is missing", "even a single one", "WRONG sizes", "not:WRONG X and Y"],
    "empty_last_batch": ["the last mini-batch is empty", "WRONG sizes", "not:WRONG every example"],
    "unpaired_X_Y": ["paired", "WRONG X and Y paired", "not:WRONG sizes", "not:WRONG every example"],
    "drops_remainder": ["[64, 64, 20]", "smaller mini-batch is missing", "WRONG every example exactly once",
                        "20 examples are missing"],
}
