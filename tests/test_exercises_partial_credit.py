"""Partial credit, graded end to end: a check whose points are split over the lecture's parts loses only the
share of the part one formula error breaks, and names it; mistakes that break the core are still caught."""
from __future__ import annotations

import re

import pytest

from bnlab.grading.checks import all_checks
from bnlab.grading.checks.kit import Mismatch, Part, parts_verdict
from exercise_harness import grade, mutant_cells, solution_cells

PARTS = re.compile(r"^(\d+) of (\d+) parts right")


def assert_loses_only(result, part: str, checks: list[str] | None = None) -> None:
    """Every failed check (of those named) has exactly one part WRONG, ``part``, and earns all but its share."""
    full = sum(c.max_points for c in result.checks)
    assert 0 < result.points < full
    failed = [c for c in result.checks if not c.passed and (checks is None or c.name in checks)]
    assert failed
    for check in failed:
        header = PARTS.match(check.message)
        assert header, f"{check.name}: {check.message}"
        right, count = map(int, header.groups())
        assert right == count - 1, check.message
        (wrong,) = [line for line in check.message.splitlines() if line.startswith("- WRONG ")]
        assert wrong.startswith(f"- WRONG {part} ("), check.message
        share = float(wrong[len(f"- WRONG {part} ("):].split(")")[0])
        assert 0 < share < check.max_points
        assert check.points == pytest.approx(check.max_points - share, abs=1e-3)


def test_unbiased_variance_in_ex01_loses_exactly_the_variance_part(tmp_path):
    result = grade("ex01", mutant_cells("ex01", "unbiased_variance"), tmp_path)
    assert_loses_only(result, "biased variance (1/m)")
    assert not any(c.passed for c in result.checks)  # every check sees the variance
    assert all("1/(m-1)" in c.message for c in result.checks)
    assert result.points == pytest.approx(7.65)  # 10 points minus a quarter (a fifth with the inputs part) of each


@pytest.mark.parametrize("mutant", ["eps_missing", "eps_outside_sqrt", "eps_hard_coded"])
def test_a_wrong_epsilon_in_ex01_loses_the_epsilon_part(mutant, tmp_path):
    result = grade("ex01", mutant_cells("ex01", mutant), tmp_path)
    # a constant unit without epsilon gives NaN: the epsilon part is still the only one lost
    assert_loses_only(result, "eps inside the square root")


def test_adam_without_bias_correction_loses_that_part_and_keeps_the_moments(tmp_path):
    result = grade("ex06", mutant_cells("ex06", "no_bias_correction"), tmp_path)
    parted = [c.name for c in result.checks if c.name != "bias_correction_at_t1"]
    assert_loses_only(result, "bias correction with this step's t", parted)
    for check in result.checks:
        if check.name in parted:
            right = next(line for line in check.message.splitlines() if line.startswith("- right: "))
            assert "v = beta1 * v + (1 - beta1) * dW" in right and "s = beta2 * s + (1 - beta2) * dW**2" in right
    (t1,) = [c for c in result.checks if c.name == "bias_correction_at_t1"]
    assert t1.points == 0 and "3.16" in t1.message  # the check of the bias correction alone


def test_a_wrong_moment_in_adam_costs_its_part_not_the_update(tmp_path):
    result = grade("ex06", mutant_cells("ex06", "s_without_square"), tmp_path)
    parted = [c.name for c in result.checks if c.name != "bias_correction_at_t1"]
    assert_loses_only(result, "s = beta2 * s + (1 - beta2) * dW**2", parted)


@pytest.mark.parametrize("ex_id,mutant,part", [
    ("ex01", "wrong_axis", "per-unit mean and variance"),
    ("ex01", "global_statistics", "per-unit mean and variance"),
    ("ex03", "beta_as_bias", None),                 # b kept before Batch Norm
    ("ex08", "predict_batch_statistics", None),     # batch statistics at test time
])
def test_core_mistakes_are_still_caught(ex_id, mutant, part, tmp_path):
    result = grade(ex_id, mutant_cells(ex_id, mutant), tmp_path)
    full = sum(c.points for c in all_checks(ex_id))
    assert result.points < full
    if part:
        assert all(f"- WRONG {part}" in c.message for c in result.checks if not c.passed)
        assert all(not c.passed for c in result.checks)


def test_parts_verdict_scores_the_weights_of_the_parts_that_hold():
    def wrong():
        raise Mismatch("it is off")

    verdict = parts_verdict(3, [Part("a", lambda: None, 2), Part("b", wrong), Part("c", lambda: None, 3)])
    assert not verdict.passed and verdict.fraction == pytest.approx(5 / 6)
    assert verdict.message.splitlines() == ["2 of 3 parts right (2.5/3 points):", "- WRONG b (0.5): it is off",
                                            "- right: a (1), c (1.5)"]
    assert parts_verdict(3, [Part("a", lambda: None)], "all good").passed
    assert parts_verdict(3, [Part("a", lambda: None)], "all good").message == "all good"


@pytest.mark.parametrize("mutant,part", [
    ("momentum_updates_with_gradient", "update W - learning_rate * v"),
    ("momentum_without_one_minus_beta", "v = momentum_beta * v + (1 - momentum_beta) * dW"),
    ("rmsprop_gradient_not_squared", "s = beta2 * s + (1 - beta2) * dW**2"),
    ("rmsprop_epsilon_inside_sqrt", "update W - learning_rate * dW / (sqrt(s) + epsilon)"),
])
def test_momentum_and_rmsprop_score_the_state_and_the_update_apart(mutant, part, tmp_path):
    result = grade("ex05", mutant_cells("ex05", mutant), tmp_path)
    failed = [c for c in result.checks if not c.passed]
    assert 0 < result.points < result.max_points and failed
    for check in failed:
        assert [line.split(" (")[0] for line in check.message.splitlines() if line.startswith("- WRONG ")] == \
            [f"- WRONG {part}".split(" (")[0]], check.message
        assert 0 < check.points < check.max_points


def test_mini_batches_score_sizes_partition_pairing_and_seeding_apart(tmp_path):
    unpaired = grade("ex04", mutant_cells("ex04", "unpaired_X_Y"), tmp_path)
    parted = [c.name for c in unpaired.checks if c.name not in ("same_seed_same_batches",
                                                                "different_seed_different_batches")]
    assert_loses_only(unpaired, "X and Y paired", parted)
    assert all(c.passed for c in unpaired.checks if c.name not in parted)  # seeding is its own check

    dropped = grade("ex04", mutant_cells("ex04", "drops_remainder"), tmp_path)
    (main,) = [c for c in dropped.checks if c.name == "sizes_and_partition"]
    assert main.points == 0.5 and "- right: X and Y paired (0.5)" in main.message
    assert all(c.passed for c in dropped.checks if c.name.endswith("seed_same_batches"))

    unshuffled = grade("ex04", mutant_cells("ex04", "no_shuffle"), tmp_path)  # in order: nothing is earned
    assert unshuffled.points == 0


def test_inputs_left_unchanged_earn_nothing_without_a_right_part():
    def wrong():
        raise Mismatch("wrong values")

    verdict = parts_verdict(2, [Part("values", wrong), Part("inputs unchanged", lambda: None, 1, alone=False)])
    assert verdict.fraction == 0
    assert "- WRONG inputs unchanged (1): earns its share only with a right result" in verdict.message
    verdict = parts_verdict(2, [Part("values", lambda: None), Part("inputs unchanged", wrong, 1, alone=False)])
    assert verdict.fraction == 0.5


def test_a_layer_scores_batchnorm_and_the_activation_apart(tmp_path):
    result = grade("ex03", mutant_cells("ex03", "no_activation"), tmp_path)
    parted = [c.name for c in result.checks if c.name != "unknown_activation"]
    assert_loses_only(result, "A: the activation g", [n for n in parted if n != "sigmoid_and_tanh_layers"
                                                       and n != "other_shapes"])
    transposed = grade("ex03", mutant_cells("ex03", "transposed_output"), tmp_path)
    (unchanged,) = [c for c in transposed.checks if c.name == "leaves_inputs_unchanged"]
    assert unchanged.points == 0  # a wrong A earns nothing, even with the inputs left alone


@pytest.mark.parametrize("permutation", ["np.roll(np.arange(m), seed + 1)", "np.roll(np.arange(m)[::-1], seed)"])
def test_a_rotation_or_reversal_of_the_examples_is_not_a_shuffle(permutation, tmp_path):
    """Found attacking the grader: a deterministic rotation passed every check of exercise 4."""
    cell = (
        "# GRADED FUNCTION: random_mini_batches\nimport numpy as np\n"
        "def random_mini_batches(X, Y, mini_batch_size=64, seed=0):\n"
        f"    m = X.shape[1]\n    p = {permutation}\n"
        "    X, Y = X[:, p], Y[:, p]\n"
        "    return [(X[:, k:k + mini_batch_size], Y[:, k:k + mini_batch_size])"
        " for k in range(0, m, mini_batch_size)]\n")
    (tmp_path / "rotation").mkdir()
    (tmp_path / "honest").mkdir()
    result = grade("ex04", {"random_mini_batches": cell}, tmp_path / "rotation")
    honest = grade("ex04", solution_cells("ex04"), tmp_path / "honest")
    assert honest.points == honest.max_points
    assert result.points <= honest.max_points / 2, [(c.name, c.points, c.message) for c in result.checks]
    assert any("not shuffled" in c.detail or "not shuffled" in c.message for c in result.checks)
