"""The engine: each check's score and typed outcome, from the sandbox run through verify."""
from __future__ import annotations

import pytest

import grading_fixture as fx
from bnlab.grading.core.engine import CheckResult, ExerciseResult, grade_notebook, judge, outcome_of
from bnlab.grading.core.spec import CallOutcome, Check, Outcome, Verdict
from bnlab.grading.sandbox.client import DEFAULT_LIMITS, Limits

CHECKS = fx.EX01_PUBLIC + fx.EX01_HIDDEN
STUB = "# GRADED FUNCTION: double\ndef double(x):\n    raise NotImplementedError\n"


def _grade(tmp_path, cells, name="ex01_double.ipynb", timeout=5.0):
    return grade_notebook(fx.notebook(tmp_path / name, cells), fx.EX01, CHECKS, Limits(timeout=timeout))


def test_a_correct_notebook_gets_full_marks_and_a_stub_gets_zero(tmp_path):
    good = _grade(tmp_path, [fx.DOUBLE_CELL], "a.ipynb")
    assert good.points == good.max_points == 4 and not good.problem
    assert [c.outcome for c in good.checks] == [Outcome.PASSED] * 3
    todo = _grade(tmp_path, [STUB], "b.ipynb")
    assert todo.points == 0
    assert [c.message for c in todo.checks] == ["double is not implemented yet (it raised NotImplementedError)",
                                                "it is not implemented yet", "it is not implemented yet"]
    assert [c.outcome for c in todo.checks] == [Outcome.NOT_IMPLEMENTED] * 3


def test_not_implemented_comes_from_the_exception_not_from_message_text(tmp_path):
    says_it = "# GRADED FUNCTION: double\ndef double(x):\n    raise ValueError('not implemented yet')\n"
    result = _grade(tmp_path, [says_it])
    assert [c.outcome for c in result.checks] == [Outcome.FAILED] * 3
    assert result.checks[1].message == "your code raised an exception"  # (a class name is learner text)


@pytest.mark.parametrize("cells, timeout, outcome, words", [
    (["# GRADED FUNCTION: double\ndef double(x):\n    while True:\n        pass\n"], 1.0, Outcome.TIMED_OUT,
     "timed out after 1 s"),
    (["# GRADED FUNCTION: double\nimport os\n\ndef double(x):\n    os._exit(0)\n"], 5.0, Outcome.CRASHED, "os._exit"),
    (["# GRADED FUNCTION: double\ndef double(x):\n    return 2 * x +\n"], 5.0, Outcome.CRASHED, "SyntaxError"),
    (["# GRADED FUNCTION: double\nraise RuntimeError('at import')\n"], 5.0, Outcome.CRASHED, "failed"),
    (["# GRADED FUNCTION: double\nfrom bnlab import relu as double\n"], 5.0, Outcome.REFUSED, "imports bnlab"),
    (["# GRADED FUNCTION: double\nm = __import__('bn' + 'lab')\n\ndef double(x):\n    return 2 * x\n"], 5.0,
     Outcome.REFUSED, "tried to import bnlab"),
    (["# GRADED FUNCTION: helper\nx = 1\n"], 5.0, Outcome.REFUSED, "no cell starting with"),
    # Too big or too deep for the grader to parse (it does so outside any sandbox): refused, never a grader failure.
    ([fx.DOUBLE_CELL + "_junk = [" + "1," * 140000 + "]\n"], 5.0, Outcome.REFUSED,
     "more than the grader checks (256 KB)"),
    ([fx.DOUBLE_CELL + "_unused = lambda: a" + ".b" * 100000 + "\n"], 5.0, Outcome.REFUSED, "nested too deeply"),
    ([fx.DOUBLE_CELL + "_unused = " + "-" * 100000 + "1\n"], 5.0, Outcome.REFUSED, "nested too deeply"),
])
def test_when_no_check_runs_every_check_gets_the_reason_as_its_outcome(tmp_path, cells, timeout, outcome, words):
    result = _grade(tmp_path, cells, timeout=timeout)
    assert result.points == 0 and words in result.problem
    assert [c.outcome for c in result.checks] == [outcome] * 3
    assert all(c.message.startswith("not graded: ") for c in result.checks)


def test_a_missing_or_unreadable_notebook_is_refused(tmp_path):
    missing = grade_notebook(None, fx.EX01, CHECKS)
    (tmp_path / "ex01_x.ipynb").write_text("{oops")
    unreadable = grade_notebook(tmp_path / "ex01_x.ipynb", fx.EX01, CHECKS)
    for result, words in ((missing, "missing notebook"), (unreadable, "not JSON")):
        assert words in result.problem and {c.outcome for c in result.checks} == {Outcome.REFUSED}


def _check(visibility, verdict):
    return Check("c", 2, visibility, lambda: [], lambda outputs: verdict)


NOT_IMPLEMENTED_CALL = CallOutcome(False, error="f is not implemented yet (it raised NotImplementedError)",
                                   not_implemented=True)
RAISED_CALL = CallOutcome(False, error="Traceback (your code, most recent call last):\nValueError: bad")


def test_judge_takes_the_outcome_of_the_verdict_or_else_of_the_first_failed_call():
    ok = CallOutcome(True, value=1)
    assert judge(_check("public", Verdict(True, "fine")), {"a": ok}).outcome is Outcome.PASSED
    assert judge(_check("public", Verdict(False, "x", outcome=Outcome.NOT_IMPLEMENTED)), {"a": ok}).outcome \
        is Outcome.NOT_IMPLEMENTED
    assert judge(_check("public", Verdict(False, "x", outcome=Outcome.FAILED)),
                 {"a": NOT_IMPLEMENTED_CALL}).outcome is Outcome.FAILED
    assert judge(_check("public", Verdict(False, "x")), {"a": RAISED_CALL, "b": NOT_IMPLEMENTED_CALL}).outcome \
        is Outcome.FAILED
    assert judge(_check("public", Verdict(False, "x")), {"a": ok, "b": NOT_IMPLEMENTED_CALL}).outcome \
        is Outcome.NOT_IMPLEMENTED
    assert judge(_check("public", Verdict(True, "x", fraction=0.0)), {}).outcome is Outcome.FAILED


def test_a_hidden_check_shows_and_is_judged_by_its_first_failed_call():
    hidden = judge(_check("hidden", Verdict(False, "f: not implemented yet", outcome=Outcome.FAILED)),
                   {"a": NOT_IMPLEMENTED_CALL, "b": RAISED_CALL})
    assert (hidden.outcome, hidden.message) == (Outcome.NOT_IMPLEMENTED, "it is not implemented yet")
    raised = judge(_check("hidden", Verdict(False, "x", outcome=Outcome.NOT_IMPLEMENTED)),
                   {"a": RAISED_CALL, "b": NOT_IMPLEMENTED_CALL})
    assert (raised.outcome, raised.message) == (Outcome.FAILED, "your code raised an exception")


def test_a_verify_that_raises_fails_the_check_only():
    def verify(outputs):
        raise KeyError("boom")

    result = judge(Check("c", 1, "public", lambda: [], verify), {})
    assert result.outcome is Outcome.FAILED and result.points == 0 and "KeyError" in result.detail


def test_the_worker_flag_travels_to_the_call_outcome():
    assert outcome_of({"ok": False, "error": "e", "not_implemented": True}).not_implemented
    assert not outcome_of({"ok": False, "error": "NotImplementedError: e"}).not_implemented
    assert not outcome_of({"ok": True, "value": 1, "not_implemented": True}).not_implemented
    assert not outcome_of("junk").ok


def test_results_round_trip_through_json_with_outcome_and_passed(tmp_path):
    import json

    result = _grade(tmp_path, [STUB])
    stored = json.loads(json.dumps(result.to_dict()))
    assert stored["checks"][0]["outcome"] == "not implemented" and stored["checks"][0]["passed"] is False
    assert ExerciseResult.from_dict(stored) == result
    older = {**stored, "checks": [{k: v for k, v in c.items() if k != "outcome"} for c in stored["checks"]]}
    older["checks"][0]["passed"] = True
    assert [c.outcome for c in ExerciseResult.from_dict(older).checks] == [Outcome.PASSED] + [Outcome.FAILED] * 2
    assert isinstance(ExerciseResult.from_dict(older).checks[0], CheckResult)


def test_a_hidden_failure_is_described_by_the_grader_never_by_learner_text():
    from bnlab.grading.core.engine import _failure_kind

    def kind(raw):
        return _failure_kind(outcome_of({"ok": False, **raw}))

    # Neither the message nor the class name (a class the learner defines can spell a hidden input's shape).
    assert kind({"error": "Shape7x13Error: 7x13", "kind": "exception"}) == "your code raised an exception"
    assert kind({"error": "MemoryError\n(the memory limit is 1 MB)", "kind": "memory"}) == "it ran out of memory"
    assert kind({"error": "OSError: x", "kind": "file_size"}) == "it printed or wrote too much"
    assert kind({"error": "", "kind": "7x13"}) == "your code raised an exception"  # not one of the grader's words
    assert kind({"error": "e", "kind": "not_implemented", "not_implemented": True}) == "it is not implemented yet"



def test_graded_source_over_the_cap_is_refused_before_the_grader_parses_it(tmp_path, monkeypatch):
    from bnlab.grading.core import engine, notebook

    def parse(source):
        raise AssertionError("parsed a source over the cap")

    monkeypatch.setattr(notebook, "MAX_GRADED_SOURCE_BYTES", 2048)
    monkeypatch.setattr(engine, "forbidden_imports", parse)
    result = _grade(tmp_path, [fx.DOUBLE_CELL, "# GRADED FUNCTION: helper\n" + "x = 1\n" * 400])
    assert result.points == 0 and "KB of source, more than the grader checks (2 KB)" in result.problem
    assert [c.outcome for c in result.checks] == [Outcome.REFUSED] * 3


def test_public_and_hidden_calls_run_in_two_processes_and_the_public_one_gets_no_hidden_input(monkeypatch, tmp_path):
    from bnlab.grading.core import engine
    from bnlab.grading.sandbox import client as sandbox

    runs = []

    def recording(cells, calls, limits=DEFAULT_LIMITS, hidden=False):
        run = sandbox.run_learner(cells, calls, limits, hidden=hidden)
        runs.append((calls, run.stdout, hidden))
        return run

    monkeypatch.setattr(engine, "run_learner", recording)
    cell = fx.DOUBLE_CELL.replace("def double(x):\n", "def double(x):\n    print('pid', __import__('os').getpid())\n")
    result = _grade(tmp_path, [cell])
    assert result.points == 4
    (public, public_out, public_flag), (hidden, hidden_out, hidden_flag) = runs
    assert (public_flag, hidden_flag) == (False, True), "only the hidden run is told it is hidden (its own jail)"
    shapes = lambda calls: {c["args"][0].shape for c in calls}  # noqa: E731
    assert shapes(public) == {(4,)} and shapes(hidden) == {fx.SECRET_SHAPE}
    assert public_out.split()[1] != hidden_out.split()[1], "a new process for the hidden calls"
    assert "pid" in result.output and hidden_out not in result.output  # what the hidden run printed is dropped
    crashed = _grade(tmp_path, ["# GRADED FUNCTION: double\nimport numpy as np\n\ndef double(x):\n"
                                "    if np.ndim(x) == 2:\n        import os; os._exit(7)\n"
                                "    return 2 * np.asarray(x)\n"],
                     name="c.ipynb")
    assert [c.outcome for c in crashed.checks] == [Outcome.PASSED, Outcome.CRASHED, Outcome.CRASHED]
    assert crashed.checks[1].message == "not graded: the learner process ended before returning results"
    assert "7" not in crashed.checks[1].message and not crashed.problem and crashed.points == 1


def test_inputs_unchanged_is_compared_in_the_grader_with_what_it_sent():
    import numpy as np

    from bnlab.grading.core.engine import changed_arguments
    from bnlab.grading.core.spec import Call, Ref

    x, w = np.arange(3.0), {"W1": np.eye(2), "b1": np.zeros((2, 1))}
    call = Call("f", (x, Ref("fwd", 1), w), {"eps": np.ones(1)}, copy_check=True)
    same = {"args": [x.copy(), None, {"W1": np.eye(2), "b1": np.zeros((2, 1))}], "kwargs": {"eps": np.ones(1)}}
    assert changed_arguments(call, same) == ()
    other = {"args": [x * 2, "whatever", {"W1": np.eye(2)}], "kwargs": {"eps": np.ones((1, 1))}}
    assert changed_arguments(call, other) == ("0", "2['b1']", "eps")  # a Ref is the learner's own: not compared
    assert changed_arguments(call, None) == ("0", "2['W1']", "2['b1']", "eps")  # nothing came back: all changed
    nan = Call("f", (np.array([np.nan, 1.0]),), copy_check=True)
    assert changed_arguments(nan, {"args": [np.array([np.nan, 1.0])], "kwargs": {}}) == ()
    raw = {"ok": True, "value": 1, "inputs": other, "modified": []}  # a "modified" from the learner is ignored
    assert outcome_of(raw, call).modified == ("0", "2['b1']", "eps")


def test_a_students_public_runs_all_come_before_any_hidden_run(monkeypatch, tmp_path):
    """A hidden run could wait until a wall-clock time that spells its input, for a later public run (whose
    text the student sees) to read: grade_notebooks runs every public run of the student first."""
    from bnlab.grading.core import engine
    from bnlab.grading.sandbox import client as sandbox

    order = []

    def recording(cells, calls, limits=DEFAULT_LIMITS, hidden=False):
        order.append(("wrong" if "1 +" in cells[0][2] else "good", hidden))
        return sandbox.run_learner(cells, calls, limits, hidden=hidden)

    monkeypatch.setattr(engine, "run_learner", recording)
    good, wrong = fx.DOUBLE_CELL, fx.DOUBLE_CELL.replace("def double(x):\n", "# wrong\ndef double(x):\n", 1)
    wrong = wrong.replace("return", "return 1 +", 1)
    notebooks = [(fx.notebook(tmp_path / f"{name}.ipynb", [cell]), fx.EX01, CHECKS, Limits(timeout=5.0), "")
                 for name, cell in (("a", good), ("b", wrong))]
    first, second = engine.grade_notebooks(notebooks)
    assert order == [("good", False), ("wrong", False), ("good", True), ("wrong", True)]
    alone = [grade_notebook(path, fx.EX01, CHECKS, Limits(timeout=5.0)) for path, *_ in notebooks]
    assert [(r.points, [c.outcome for c in r.checks]) for r in (first, second)] == \
        [(r.points, [c.outcome for c in r.checks]) for r in alone]
    assert first.points == 4 and second.points < 4
    missing = engine.grade_notebooks([(None, fx.EX01, CHECKS, Limits(timeout=5.0), "")])
    assert missing[0].points == 0 and "missing notebook" in missing[0].problem
