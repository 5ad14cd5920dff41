"""Exercise 4: ``random_mini_batches(X, Y, mini_batch_size=64, seed=0) -> [(X_t, Y_t), ...]``.

Any seeded shuffle is right, so the checks test properties rather than one permutation: the
mini-batches partition the shuffled columns (every example exactly once), keep each x⁽ⁱ⁾ with its
y⁽ⁱ⁾, have the right sizes (the last one smaller when m does not divide, no empty one), are shuffled,
are the same for the same seed and differ for another seed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bnlab.grading.checks.kit import (Mismatch, Part, Unchanged, check_each_example_once, check_paired, check_sizes,
                                      example_order, mini_batches_of, parts_check_verdict, unchanged_part, verdict)
from bnlab.grading.core.spec import Call, Check, Exercise
from bnlab.grading.core.student_inputs import case_rng

FN = "random_mini_batches"
EXERCISE = Exercise(id="ex04", notebook="ex04_mini_batches.ipynb", functions=(FN,), title="Random mini-batches")


@dataclass(frozen=True)
class BatchCase:
    """X (n_x, m) with distinct columns and labels Y (n_y, m): one-hot for n_y > 1, else 0/1."""

    seed: int
    n_x: int
    n_y: int
    m: int
    size: int | None = 64  # None: leave mini_batch_size to its default (64)
    call_seed: int = 0

    def inputs(self) -> tuple[np.ndarray, np.ndarray]:
        rng = case_rng(self.seed)
        X = rng.standard_normal((self.n_x, self.m))
        labels = rng.integers(0, max(self.n_y, 2), self.m)
        Y = np.eye(self.n_y)[:, labels] if self.n_y > 1 else labels[None, :].astype(np.float64)
        return X, Y

    def call(self, key: str, call_seed: int | None = None, copy_check: bool = False) -> Call:
        kwargs = {"seed": self.call_seed if call_seed is None else call_seed}
        if self.size is not None:
            kwargs["mini_batch_size"] = self.size
        return Call(FN, self.inputs(), kwargs, key=key, copy_check=copy_check)


def shuffled_order(case: BatchCase, batches, reveal: bool = True) -> list[int]:
    """The column of X behind each column of the mini-batches (:func:`~bnlab.grading.checks.kit.example_order`),
    or :class:`Mismatch` when they cannot be read as examples or are not shuffled: then no part can be scored."""
    X, _ = case.inputs()
    order = example_order(X, case.n_y, batches, reveal)
    if order == sorted(order):
        raise Mismatch("the examples are in their original order: shuffle the columns before cutting the mini-batches")
    # A rotation or a reversal is no shuffle: it keeps m - 1 neighbours together, a random permutation about 2.
    neighbours = sum(abs(b - a) == 1 for a, b in zip(order, order[1:]))
    if len(order) >= 20 and neighbours > len(order) // 2:
        raise Mismatch(f"the examples are not shuffled: {neighbours} of {len(order) - 1} neighbouring columns are "
                       "still neighbours (a rotation or reversal of X). Use a random permutation of the columns, "
                       "e.g. np.random.default_rng(seed).permutation(m)")
    return order


def partition_parts(case: BatchCase, batches, reveal: bool = True) -> list[Part]:
    """Three parts of shuffled mini-batches (:func:`shuffled_order` first): the sizes (half), every example exactly
    once and each x with its y (a quarter each)."""
    order = shuffled_order(case, batches, reveal)
    size = 64 if case.size is None else case.size
    _, Y = case.inputs()
    return [Part("sizes", lambda: check_sizes(case.m, size, batches, reveal), 2),  # the exercise's own rule: half
            Part("every example exactly once", lambda: check_each_example_once(case.m, order, reveal)),
            Part("X and Y paired", lambda: check_paired(Y, batches, order))]


def partition_check(name: str, points: float, visibility: str, description: str, case: BatchCase,
                    unchanged: Unchanged | None = None) -> Check:
    """The mini-batches of ``case`` scored by :func:`partition_parts` (with ``unchanged``, a part worth the other
    three together: X and Y are left as they were)."""
    reveal = visibility == "public"

    def verify(outputs):
        def parts():
            found = partition_parts(case, mini_batches_of(outputs, "batches", reveal), reveal)
            if unchanged:
                found.append(unchanged_part(outputs, ["batches"], FN, unchanged, reveal, 4, "X and Y unchanged"))
            return found
        return parts_check_verdict(points, parts,
                                   "a shuffled partition of the examples with X and Y paired and the right sizes")

    return Check(name, points, visibility, lambda: [case.call("batches", copy_check=bool(unchanged))], verify,
                 description)


def seed_check(name: str, points: float, visibility: str, description: str, case: BatchCase,
               other_seed: int | None) -> Check:
    """Two calls: with the same seed (``other_seed`` None) they must agree; with another seed differ. Only the
    seeding is judged here (the sizes and the partition are the partition checks')."""
    reveal = visibility == "public"
    second = case.call_seed if other_seed is None else other_seed

    def verify(outputs):
        def judge():
            first = shuffled_order(case, mini_batches_of(outputs, "first", reveal), reveal)
            again = shuffled_order(case, mini_batches_of(outputs, "second", reveal), reveal)
            if other_seed is None and first != again:
                raise Mismatch("two calls with the same seed gave different mini-batches: create the random "
                               "generator from the seed argument inside the function, e.g. "
                               "np.random.default_rng(seed) or np.random.seed(seed)")
            if other_seed is not None and first == again:
                raise Mismatch("two different seeds gave the same mini-batches: the shuffle must use the seed "
                               "argument, not a fixed seed")
            return "same seed, same mini-batches" if other_seed is None else "another seed, other mini-batches"
        return verdict(judge)

    return Check(name, points, visibility, lambda: [case.call("first"), case.call("second", second)], verify,
                 description)


PUBLIC_CHECKS: list[Check] = [
    partition_check("sizes_and_partition", 2, "public",
                    "m = 148, mini_batch_size = 64: sizes [64, 64, 20], every example once, X and Y paired, shuffled",
                    BatchCase(seed=701, n_x=5, n_y=3, m=148, size=64)),
    partition_check("size_divides_m_no_empty_batch", 1, "public",
                    "m = 40, mini_batch_size = 8: five full mini-batches and no empty one at the end",
                    BatchCase(seed=703, n_x=3, n_y=2, m=40, size=8)),
    seed_check("same_seed_same_batches", 1, "public", "two calls with seed = 3 give the same mini-batches",
               BatchCase(seed=702, n_x=4, n_y=2, m=30, size=8, call_seed=3), other_seed=None),
]
