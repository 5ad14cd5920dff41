"""Check quality, graded end to end by the engine: the reference solution earns full marks, the
untouched stub 0, and every mutant (the reference with one common mistake,
a <mistake> entry of exercises/instructor/exNN/mutants.py) fewer points than the reference, with the
words that exercise's ``MESSAGES`` expects for it in its feedback.
"""
from __future__ import annotations

import re

import pytest

from bnlab.grading.checks import EXERCISE_IDS, all_checks
from exercise_harness import expected_messages, grade, mutant_cells, mutant_names, solution_cells, stub_cells

READY = list(EXERCISE_IDS)
MUTANTS = [(ex, name) for ex in READY for name in mutant_names(ex)]
SHAPE = re.compile(r"\(\d+, *\d+\)")


def full_marks(ex_id: str) -> float:
    return sum(check.points for check in all_checks(ex_id))


@pytest.mark.parametrize("ex_id", READY)
def test_reference_solution_gets_full_marks(ex_id, tmp_path):
    result = grade(ex_id, solution_cells(ex_id), tmp_path)
    assert result.problem == ""
    assert {c.name: c.message for c in result.checks if not c.passed} == {}
    assert result.points == result.max_points == full_marks(ex_id)


@pytest.mark.parametrize("ex_id", READY)
def test_untouched_stub_gets_zero_and_says_not_implemented(ex_id, tmp_path):
    result = grade(ex_id, stub_cells(ex_id), tmp_path)
    assert result.problem == ""
    assert result.points == 0
    assert all("not implemented yet" in c.message for c in result.checks)


@pytest.mark.parametrize("ex_id", READY)
def test_every_exercise_has_mutants(ex_id):
    assert len(mutant_names(ex_id)) >= 5


def test_a_replacement_that_does_not_fit_the_solution_names_the_mutant():
    from bnlab.grading.author.mutants import apply_replacements

    solution = "x = 1\ny = 1\n"
    assert apply_replacements(solution, [("y = 1", "y = 2")], "ex01/y_wrong") == "x = 1\ny = 2\n"
    with pytest.raises(ValueError, match=r"ex01/missing.*0 times"):
        apply_replacements(solution, [("z = 1", "z = 2")], "ex01/missing")
    with pytest.raises(ValueError, match=r"ex01/ambiguous.*2 times"):
        apply_replacements(solution, [(" = 1", " = 2")], "ex01/ambiguous")


@pytest.mark.parametrize("ex_id,mutant", MUTANTS, ids=[f"{ex}-{name}" for ex, name in MUTANTS])
def test_mutant_scores_below_reference(ex_id, mutant, tmp_path):
    result = grade(ex_id, mutant_cells(ex_id, mutant), tmp_path)
    assert result.problem == ""
    assert result.points < full_marks(ex_id), f"mutant {mutant} passed every check"
    failed = [c for c in result.checks if not c.passed]
    assert all(c.message and c.message != "correct" for c in failed)
    feedback = "\n".join(c.message for c in failed)
    for words in expected_messages(ex_id).get(mutant, []):  # the exercise's own MESSAGES table
        if words.startswith("not:"):  # a misleading name the feedback must not give
            assert words[4:] not in feedback, f"{ex_id} mutant {mutant}: the feedback says {words[4:]!r}:\n{feedback}"
        else:
            assert words in feedback, f"{ex_id} mutant {mutant}: the feedback does not say {words!r}:\n{feedback}"
    for check in result.checks:  # hidden feedback never shows the inputs' shapes or values
        if check.visibility == "hidden":
            assert not SHAPE.search(check.message), check.message
            assert not re.search(r"expected \S|found \(|index \(|has no key", check.message), check.message


TRIVIAL = {  # learner functions that compute nothing: none may earn a point
    "returns_first_input": "return args[0]",
    "returns_inputs_as_tuple": "return args[0], args[-1]",
    "returns_three_inputs": "return args[0], args[-1], args[-1]",
    "always_raises_value_error": "raise ValueError('no')",
    "returns_none": "return None",
}


@pytest.mark.parametrize("ex_id", READY)
@pytest.mark.parametrize("kind", TRIVIAL)
def test_functions_that_compute_nothing_score_zero(ex_id, kind, tmp_path):
    from bnlab.grading.checks import load_exercise

    body = TRIVIAL[kind]
    cells = {fn: f"# GRADED FUNCTION: {fn}\ndef {fn}(*args, **kwargs):\n    {body}\n"
             for fn in load_exercise(ex_id).EXERCISE.functions}
    result = grade(ex_id, cells, tmp_path)
    assert [c.name for c in result.checks if c.passed] == []
    assert result.points == 0
