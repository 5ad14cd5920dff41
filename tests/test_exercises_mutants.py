"""Check quality: the reference solution earns full marks, the untouched stub 0, every mutant less.

A mutant is the reference with one common mistake (exercises/instructor/mutants/exNN/<mistake>.py).
"""
from __future__ import annotations

import re

import pytest

from bnlab.grading.exercises import EXERCISE_IDS, all_checks
from exercise_harness import INSTRUCTOR, mutant_cells, mutant_names, score, solution_cells, stub_cells

READY = [ex for ex in EXERCISE_IDS if (INSTRUCTOR / "solutions" / f"{ex}.py").exists()]
SHAPE = re.compile(r"\(\d+, *\d+\)")
MUTANTS = [(ex, name) for ex in READY for name in mutant_names(ex)]


def full_marks(ex_id: str) -> float:
    return sum(check.points for check in all_checks(ex_id))


@pytest.mark.parametrize("ex_id", READY)
def test_reference_solution_gets_full_marks(ex_id):
    points, verdicts = score(solution_cells(ex_id), all_checks(ex_id))
    failed = {name: v.message for name, v in verdicts.items() if not v.passed}
    assert failed == {}
    assert points == full_marks(ex_id)


@pytest.mark.parametrize("ex_id", READY)
def test_untouched_stub_gets_zero_and_says_not_implemented(ex_id):
    points, verdicts = score(stub_cells(ex_id), all_checks(ex_id))
    assert points == 0
    assert all("not implemented yet" in v.message for v in verdicts.values())


@pytest.mark.parametrize("ex_id", READY)
def test_every_exercise_has_mutants(ex_id):
    assert len(mutant_names(ex_id)) >= 5


@pytest.mark.parametrize("ex_id,mutant", MUTANTS, ids=[f"{ex}-{name}" for ex, name in MUTANTS])
def test_mutant_scores_below_reference(ex_id, mutant):
    points, verdicts = score(mutant_cells(ex_id, mutant), all_checks(ex_id))
    assert points < full_marks(ex_id), f"mutant {mutant} passed every check"
    failed = [v for v in verdicts.values() if not v.passed]
    assert all(v.message and v.message != "correct" for v in failed)
    hidden = {c.name for c in all_checks(ex_id) if c.visibility == "hidden"}
    for name in hidden:  # hidden feedback never shows the inputs' shapes
        assert not SHAPE.search(verdicts[name].message), verdicts[name].message
