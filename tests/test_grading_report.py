"""The reports: the console/notebook lines, feedback.md and Gradescope's results, from typed outcomes."""
from __future__ import annotations

from bnlab.grading.shared.engine import CheckResult, ExerciseResult
from bnlab.grading.shared.report import check_lines, console_report, feedback_markdown, gradescope_results
from bnlab.grading.shared.spec import Outcome


def _check(outcome, message, name="c", visibility="public", points=None):
    points = (1.0 if outcome is Outcome.PASSED else 0.0) if points is None else points
    return CheckResult(name, visibility, points, 1.0, outcome, message, "what it checks")


def test_todo_is_printed_for_the_not_implemented_outcome_whatever_the_message():
    assert check_lines(_check(Outcome.NOT_IMPLEMENTED, "f: not implemented yet")) == "TODO c: not implemented yet"
    assert check_lines(_check(Outcome.NOT_IMPLEMENTED, "it is not implemented yet")) == "TODO c: not implemented yet"
    said = _check(Outcome.FAILED, "it raised ValueError: not implemented yet")
    assert check_lines(said) == "FAIL c (0/1): it raised ValueError: not implemented yet"


def test_pass_and_fail_lines_show_points_and_indent_multi_line_messages():
    assert check_lines(_check(Outcome.PASSED, "Z_tilde is correct")) == "PASS c (1/1): Z_tilde is correct"
    assert check_lines(_check(Outcome.FAILED, "")) == "FAIL c (0/1)"
    assert check_lines(_check(Outcome.CRASHED, "line one\nline two")) == "FAIL c (0/1):\n    line one\n    line two"


def _result(*checks, problem=""):
    return ExerciseResult("ex01", "Title", "ex01_x.ipynb", sum(c.points for c in checks),
                          float(len(checks)), list(checks), problem=problem)


def test_the_public_summary_says_hidden_checks_run_later_and_never_all_tests_passed():
    passed = console_report(_result(_check(Outcome.PASSED, "ok"), _check(Outcome.PASSED, "ok", "d")), public_only=True)
    assert passed.splitlines()[0] == "ex01 (Title): public checks"
    assert passed.splitlines()[-1].startswith("All 2 public checks passed (2/2 points). Hidden checks")
    some = console_report(_result(_check(Outcome.PASSED, "ok"), _check(Outcome.NOT_IMPLEMENTED, "x", "d")),
                          public_only=True)
    assert some.splitlines()[-2:] == ["TODO d: not implemented yet", "1 of 2 public checks passed (1/2 points)."]
    graded = console_report(_result(_check(Outcome.TIMED_OUT, "not graded: timed out", "d"),
                                    problem="timed out after 1 s"), public_only=False)
    assert "PROBLEM: timed out after 1 s" in graded and graded.endswith("0 of 1 checks passed (0/1 points).")
    assert all("all tests passed" not in r.lower() for r in (passed, some, graded))


def test_feedback_and_gradescope_hide_nothing_but_the_hidden_inputs():
    result = _result(_check(Outcome.PASSED, "ok"), _check(Outcome.FAILED, "wrong shape", "h", "hidden"))
    feedback = feedback_markdown("ada", [result])
    assert "- [x] `c` — 1/1: what it checks" in feedback and "- [ ] `h` (hidden) — 0/1" in feedback
    assert "1 of these checks are hidden" in feedback
    tests = gradescope_results([result])["tests"]
    assert [(t["name"], t["visibility"]) for t in tests] == [("ex01 c", "visible"), ("ex01 h (hidden)", "after_published")]
