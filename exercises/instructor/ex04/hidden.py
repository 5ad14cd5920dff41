"""Hidden checks of exercise 4 (random_mini_batches). Instructor-only: not part of the student release.

Descriptions and messages name what is checked, never the inputs.
"""
from bnlab.grading.checks.ex04 import BatchCase, partition_check, seed_check
from bnlab.grading.checks.kit import Unchanged
from bnlab.grading.core.spec import Check

HIDDEN_CHECKS: list[Check] = [
    partition_check("size_divides_m", 1, "hidden",
                    "when mini_batch_size divides m: only full mini-batches, no empty one at the end",
                    BatchCase(seed=801, n_x=6, n_y=10, m=96, size=32)),
    partition_check("leftover_of_one_example_kept", 1, "hidden",
                    "a leftover of a single example is its own last mini-batch (training may skip it; this may not)",
                    BatchCase(seed=809, n_x=4, n_y=3, m=33, size=8)),
    partition_check("other_shapes", 1, "hidden", "other numbers of features, labels and examples (binary labels)",
                    BatchCase(seed=802, n_x=9, n_y=1, m=53, size=16)),
    partition_check("fewer_examples_than_a_batch", 1, "hidden",
                    "fewer examples than mini_batch_size: a single mini-batch with all of them",
                    BatchCase(seed=803, n_x=3, n_y=2, m=11, size=64)),
    partition_check("default_mini_batch_size", 1, "hidden", "the default mini_batch_size is used when none is given",
                    BatchCase(seed=804, n_x=2, n_y=3, m=150, size=None)),
    seed_check("different_seed_different_batches", 1, "hidden", "another seed gives another shuffle",
               BatchCase(seed=805, n_x=4, n_y=3, m=40, size=10, call_seed=1), other_seed=2),
    partition_check("leaves_X_and_Y_unchanged", 1, "hidden",
                    "correct mini-batches, and X and Y are not shuffled in place",
                    BatchCase(seed=808, n_x=3, n_y=4, m=50, size=16),
                    unchanged=Unchanged(("X", "Y"), "index with a permutation, e.g. X[:, permutation]")),
]
