"""The exercises' checks and notebooks are well formed: what the grader and the learner rely on."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from bnlab.grading.checks import EXERCISE_IDS, load_exercise, load_hidden_checks, public_checks
from exercise_harness import notebook_path, solution_cells, stub_cells

READY = list(EXERCISE_IDS)
SHAPE = re.compile(r"\(\d+, *\d+\)")


def _same_data(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same_data(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same_data, a, b))
    return a == b


@pytest.mark.parametrize("ex_id", READY)
def test_checks_are_named_once_with_points_and_the_right_visibility(ex_id):
    public, hidden = public_checks(ex_id), load_hidden_checks(ex_id)
    assert [c.visibility for c in public] == ["public"] * len(public)
    assert [c.visibility for c in hidden] == ["hidden"] * len(hidden)
    names = [c.name for c in public + hidden]
    assert len(names) == len(set(names))
    assert all(c.points > 0 and c.description for c in public + hidden)
    assert sum(c.points for c in hidden) > 0 and sum(c.points for c in public) > 0


@pytest.mark.parametrize("ex_id", READY)
def test_hidden_check_descriptions_do_not_reveal_inputs(ex_id):
    for check in load_hidden_checks(ex_id):
        assert not re.search(r"(?<![A-Za-z_])\d", check.description), check.description  # beta1 is fine


@pytest.mark.parametrize("ex_id", READY)
def test_check_inputs_are_deterministic_and_plain(ex_id):
    for check in public_checks(ex_id) + load_hidden_checks(ex_id):
        first, second = check.calls(), check.calls()
        assert first and len(first) == len(second)
        for a, b in zip(first, second):
            assert a.function in load_exercise(ex_id).EXERCISE.functions
            assert _same_data(a.args, b.args) and _same_data(a.kwargs, b.kwargs)


@pytest.mark.parametrize("ex_id", READY)
def test_notebook_has_a_stub_per_graded_function_and_a_public_check_cell(ex_id):
    exercise = load_exercise(ex_id).EXERCISE
    assert notebook_path(ex_id).name == exercise.notebook
    stubs = stub_cells(ex_id)
    assert set(stubs) == set(exercise.functions) == set(solution_cells(ex_id))
    for name, source in stubs.items():
        body = source.split("# YOUR CODE STARTS HERE")[1].split("# YOUR CODE ENDS HERE")[0]
        assert "raise NotImplementedError" in body, name
        assert "bnlab" not in source
    nb = json.loads(notebook_path(ex_id).read_text())
    sources = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert any(f'run_public_checks("{ex_id}", globals())' in s for s in sources)


@pytest.mark.parametrize("ex_id", READY)
def test_stored_outputs_of_the_stub_say_not_implemented(ex_id):
    nb = json.loads(notebook_path(ex_id).read_text())
    check_cell = next(c for c in nb["cells"]
                      if c["cell_type"] == "code" and "run_public_checks" in "".join(c["source"]))
    text = "".join("".join(o.get("text", "")) for o in check_cell["outputs"])
    assert "not implemented yet" in text
    assert "Traceback" not in text


def _public_messages(ex_id: str, cells: dict[str, str]):
    """Run the public checks in this process, as the notebook's check cell does."""
    from bnlab.grading.check import public_result

    namespace: dict = {}
    for source in cells.values():
        exec(compile(source, f"<{ex_id} graded cell>", "exec"), namespace)
    return public_result(load_exercise(ex_id).EXERCISE, public_checks(ex_id), namespace)


@pytest.mark.parametrize("ex_id", READY)
def test_public_checks_pass_on_the_reference_in_the_notebook_runner(ex_id):
    result = _public_messages(ex_id, solution_cells(ex_id))
    assert [c.name for c in result.checks if not c.passed] == []
    assert result.points == result.max_points > 0


def _odd_values():
    from bnlab.grading.sandbox.plain import Foreign

    arrays = [np.zeros(()), np.zeros((0,)), np.ones((2, 2, 2)), np.array([1 + 2j]), np.array([True, False]),
              np.full((3, 4), np.nan), np.arange(12).reshape(3, 4)]
    scalars = [None, 0, 1.5, float("nan"), "passed", Foreign("object of type AlwaysEqual")]
    values = arrays + scalars + [[], (), {}, [[1, 2], [3, 4]], {"W1": "x"}, ("a", "b"), (None, None, None)]
    values += [tuple([v, v]) for v in arrays[:3] + scalars] + [[(v, v)] for v in arrays[:3]]
    values += [({"W1": v}, {"dW1": v}, {"dW1": v}) for v in arrays[:3] + scalars]
    return values


@pytest.mark.parametrize("ex_id", READY)
def test_verify_fails_odd_learner_values_with_a_message_and_never_raises(ex_id):
    from bnlab.grading.core.spec import CallOutcome

    for check in public_checks(ex_id) + load_hidden_checks(ex_id):
        keys = [call.key for call in check.calls()]
        for value in _odd_values():
            outputs = {key: CallOutcome(True, value, modified=()) for key in keys}
            verdict = check.verify(outputs)
            assert not verdict.passed and verdict.message, (check.name, value)


@pytest.mark.parametrize("ex_id", READY)
def test_hidden_feedback_does_not_echo_what_the_learner_returned(ex_id):
    """A learner could spell hidden inputs into a returned string, class name or array shape."""
    from bnlab.grading.core.spec import CallOutcome
    from bnlab.grading.sandbox.plain import Foreign

    leaks = ["SECRET (5, 7)", Foreign("object of type SECRET"), np.zeros((13, 17))]
    values = leaks + [(v, v) for v in leaks] + [(v, v, v) for v in leaks] + [[(v, v)] for v in leaks]
    for check in load_hidden_checks(ex_id):
        keys = [call.key for call in check.calls()]
        for value in values:
            message = check.verify({key: CallOutcome(True, value) for key in keys}).message
            assert "SECRET" not in message and "13" not in message and "17" not in message, (check.name, message)
