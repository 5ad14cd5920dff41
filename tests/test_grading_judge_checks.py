"""No points without the work: data a learner's code hands to a reference run is checked first.

ex08 runs bnlab's training loop on the learner's own mini-batches. A ``random_mini_batches`` returning m
one-example batches of zeros left the reference nothing to train, so a ``model`` returning its initial
parameters matched it (15 of 16 points before this check). Both attackers, graded end to end through
``bnlab grade``, now earn only the checks that do not train; honest students graded after them get full marks.
"""
from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

import grading_fixture as fx
from bnlab.grading.checks import all_checks
from bnlab.grading.checks.kit import Mismatch, check_mini_batches
from exercise_harness import grade, notebook_with, solution_cells

ZERO_BATCHES = "    mini_batches = [(np.zeros((X.shape[0], 1)), np.zeros((Y.shape[0], 1))) for _ in range(m)]\n"
UNTRAINED = ("    running = {f'{k}{l}': (np.zeros if k == 'mu' else np.ones)((layers_dims[l], 1))\n"
             "               for l in range(1, len(layers_dims) - 1) for k in ('mu', 'var') if batchnorm}\n"
             "    costs = []\n")


def _with_body(cell: str, body: str) -> str:
    """``cell`` with the code between its YOUR CODE markers replaced by ``body``."""
    start, end = cell.index("    # YOUR CODE STARTS HERE"), cell.index("    # YOUR CODE ENDS HERE")
    return cell[:start] + "    # YOUR CODE STARTS HERE\n" + body + cell[end:]


def attackers() -> dict[str, dict[str, str]]:
    """ex08 notebooks that skip the work: the reference everywhere else."""
    cells = solution_cells("ex08")
    untrained = _with_body(cells["model"], UNTRAINED)
    return {"zero_batches_untrained": {**cells, "model": untrained,
                                       "random_mini_batches": _with_body(cells["random_mini_batches"], ZERO_BATCHES)},
            "untrained": {**cells, "model": untrained}}


def _trains(check) -> bool:
    return any(call.function == "model" for call in check.calls())


def deserved(ex_id: str = "ex08") -> float:
    """What an ex08 that does not train deserves: the points of the checks that do not call model."""
    return sum(c.points for c in all_checks(ex_id) if not _trains(c))


WHY = {"zero_batches_untrained": "your random_mini_batches (repeated from exercise 4) is wrong",
       "untrained": "parameters are those model started from"}


@pytest.mark.parametrize("attack", WHY)
def test_an_ex08_that_does_not_train_earns_only_the_checks_that_do_not_train(attack, tmp_path):
    result = grade("ex08", attackers()[attack], tmp_path)
    training = {c.name for c in all_checks("ex08") if _trains(c)}
    assert training and 0 < deserved() < result.max_points
    assert result.points == deserved()
    for check in result.checks:
        assert check.passed == (check.name not in training), (check.name, check.message)
        if check.name in training:
            assert WHY[attack] in check.message, check.message


def test_every_training_check_takes_steps_that_change_the_parameters():
    """A model returning its initial parameters can never match: each reference run trains (on bnlab's own
    mini-batches of the check's inputs)."""
    import bnlab
    from bnlab.grading.checks.ex08 import TrainCase

    training = [c for c in all_checks("ex08") if _trains(c)]
    assert len(training) >= 8
    for check in training:
        calls = check.calls()
        (model,) = [c for c in calls if c.function == "model"]
        X, Y, layers_dims = model.args
        case = TrainCase(seed=0, layers_dims=tuple(layers_dims), m=X.shape[1], hyper=dict(model.kwargs))
        batches = [bnlab.random_mini_batches(*c.args, **c.kwargs) for c in calls if c.function != "model"]
        parameters, _, costs = case.run(batches)
        initial = case.network().parameters
        assert costs, check.name
        assert all(not np.allclose(parameters[k], initial[k]) for k in initial if k.startswith("W")), check.name


def _X_Y(m=10):
    rng = np.random.default_rng(0)
    return rng.standard_normal((3, m)), np.eye(2)[:, rng.integers(0, 2, m)]


@pytest.mark.parametrize("change, says", [
    (lambda b: [(X_t[:, :1], Y_t[:, :1]) for X_t, Y_t in b for _ in range(X_t.shape[1])], "wrong mini-batch sizes"),
    (lambda b: [(np.zeros_like(X_t), Y_t) for X_t, Y_t in b], "not columns of X"),
    (lambda b: [(b[0][0], b[0][1])] + b[1:2] + [(b[0][0][:, :2], b[0][1][:, :2])], "exactly once"),
    (lambda b: [(X_t, Y_t[::-1]) for X_t, Y_t in b], "no longer paired"),
    (lambda b: [(X_t.T, Y_t) for X_t, Y_t in b], "one row per feature"),
])
def test_mini_batches_are_checked_to_be_a_paired_partition_of_the_stated_sizes(change, says):
    X, Y = _X_Y()
    order = np.random.default_rng(1).permutation(10)
    good = [(X[:, order[i:i + 4]], Y[:, order[i:i + 4]]) for i in range(0, 10, 4)]
    assert check_mini_batches(X, Y, 4, good) == list(order)
    with pytest.raises(Mismatch, match=says):
        check_mini_batches(X, Y, 4, change(good))


def test_attackers_graded_by_bnlab_grade_then_honest_students_get_full_marks(tmp_path):
    submissions, out = tmp_path / "submissions", tmp_path / "out"
    students = {f"a_{name}": cells for name, cells in attackers().items()}  # graded first (in name order)
    students.update({"z_honest_1": solution_cells("ex08"), "z_honest_2": solution_cells("ex08")})
    for student, cells in students.items():
        (submissions / student).mkdir(parents=True)
        notebook_with("ex08", cells, submissions / student / "ex08_training.ipynb")
    run = subprocess.run([sys.executable, "-m", "bnlab.cli", "grade", str(submissions), "--out", str(out),
                          "--jobs", "1", *fx.jail_flags()], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    with (out / "grades.csv").open() as f:
        points = {row["student"]: float(row["ex08"]) for row in csv.DictReader(f)}
    full = sum(c.points for c in all_checks("ex08"))
    assert points == {"a_zero_batches_untrained": deserved(), "a_untrained": deserved(),
                      "z_honest_1": full, "z_honest_2": full}
    for attack, why in WHY.items():
        feedback = (out / "students" / f"a_{attack}" / "feedback.md").read_text()
        assert why in feedback
        results = json.loads((out / "students" / f"a_{attack}" / "results.json").read_text())
        assert any(why in t.get("output", "") for t in results["tests"])
