"""The reports: the console/notebook lines, feedback.md and Gradescope's results, from typed outcomes."""
from __future__ import annotations

import pytest

from bnlab.grading.core.engine import CheckResult, ExerciseResult
from bnlab.grading.core.report import check_lines, console_report, feedback_markdown, gradescope_results
from bnlab.grading.core.spec import Outcome


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
    assert [(t["name"], t["visibility"]) for t in tests] == [("ex01 c", "visible"),
                                                             ("ex01 h (hidden)", "after_published")]


HOSTILE = ("Traceback (most recent call last):\n```\n# Owned\n[click here](http://evil.example/l) "
           "![beacon](http://evil.example/b.png) <img src=\"http://evil.example/i.png\">\n~~~\n`````\nend")


def _fences_hold(markdown: str, text: str) -> None:
    """Every line of ``text`` sits inside one fenced block whose fence no line of it can close."""
    lines = markdown.splitlines()
    start = next(i for i in range(len(lines)) if lines[i:i + len(text.splitlines()) + 2][1:-1] == text.splitlines())
    fence = lines[start].strip()
    assert set(fence) == {"`"} and len(fence) > max(len(r) for r in text.replace("~", " ").split() if set(r) == {"`"})
    assert lines[start + len(text.splitlines()) + 1].strip() == fence


def test_feedback_md_keeps_a_setup_error_and_a_message_inside_their_fences(tmp_path):
    problem = _result(_check(Outcome.CRASHED, "x"), problem=HOSTILE)
    problem.notebook = "ex01_`x`` y.ipynb"
    problem.note = "several notebooks matched ex01 ('![n](http://evil.example/n.png)', '<b>x</b>')"
    failed = ExerciseResult("ex02", "Two", "ex02.ipynb", 0, 1, [_check(Outcome.FAILED, HOSTILE)])
    md = feedback_markdown("![s](http://evil.example/s.png)", [problem, failed])
    _fences_hold(md, HOSTILE)  # the setup error
    _fences_hold(md, "\n".join("  " + line for line in HOSTILE.splitlines()))  # the message, indented in its item
    assert "Notebook: ```ex01_`x`` y.ipynb```" in md and "# Feedback for \\!\\[s\\](http://evil.example/s.png)" in md
    assert "matched ex01 ('\\!\\[n\\](http://evil.example/n.png)', '\\<b\\>x\\</b\\>')" in md


def test_feedback_md_renders_no_heading_link_or_image_from_learner_text():
    mistune = pytest.importorskip("mistune")  # a CommonMark renderer, to see what a reader's viewer shows
    problem = _result(_check(Outcome.CRASHED, "x"), problem=HOSTILE)
    problem.note = "matched ('![n](http://evil.example/n.png)', '[a](http://evil.example/a)', '<img src=x>')"
    failed = ExerciseResult("ex02", "Two", "ex0`2`.ipynb", 0, 1, [_check(Outcome.FAILED, HOSTILE)])
    page = mistune.html(feedback_markdown("<img src=y> ![s](http://evil.example/s.png)", [problem, failed]))
    assert "<img" not in page and "<a " not in page and "evil.example" in page  # shown as text, never fetched
    assert page.count("<h1>") == 1 and "Owned</h1>" not in page and page.count("<h2>") == 2
    assert page.count("<pre>") == 2 and page.count("<table>") == 1


def test_a_hidden_check_shows_the_same_thing_in_markdown_html_and_results_json():
    from bnlab.grading.core.report import HIDDEN_WORDS, shown_check
    from bnlab.grading.grade.feedback_html import feedback_html

    secret = "wrong values: expected [4.25, 7.5] for Z of shape (7, 13)"
    checks = [_check(Outcome.FAILED, "public message 1.5", "pub"), _check(Outcome.FAILED, secret, "hid", "hidden"),
              _check(Outcome.PASSED, "passed with 4.25", "hid2", "hidden")]
    result = _result(*checks)
    assert shown_check(checks[1]).message == HIDDEN_WORDS[Outcome.FAILED]
    md, page = feedback_markdown("ada", [result]), feedback_html("ada", [result])
    outputs = [t["output"] for t in gradescope_results([result])["tests"]]
    for shown in (md, page, "\n".join(outputs)):
        assert "public message 1.5" in shown  # a public check's message is the learner's to see
        assert "4.25" not in shown and "(7, 13)" not in shown and "wrong values" not in shown
        assert HIDDEN_WORDS[Outcome.FAILED].split(":")[0] in shown and HIDDEN_WORDS[Outcome.PASSED] in shown
    assert outputs[1:] == [HIDDEN_WORDS[Outcome.FAILED], HIDDEN_WORDS[Outcome.PASSED]]


def test_the_summary_table_says_what_to_fix_first_in_each_exercise():
    from bnlab.grading.core.report import first_fix

    long = "wrong values at column 3 " * 10
    results = [_result(_check(Outcome.PASSED, "ok"), _check(Outcome.FAILED, long + "\nsecond line", "b"),
                       _check(Outcome.FAILED, "later", "c")),
               ExerciseResult("ex02", "", None, 0, 1, [_check(Outcome.REFUSED, "", "d")],
                              problem="no notebook ex02_*.ipynb found\nmore"),
               ExerciseResult("ex03", "Three", "ex03.ipynb", 1, 1, [_check(Outcome.PASSED, "ok")]),
               ExerciseResult("ex04", "", "ex04.ipynb", 0, 1, [_check(Outcome.FAILED, "x", "h", "hidden")])]
    fixes = [first_fix(r) for r in results]
    assert fixes[0].startswith("b: wrong values at column 3") and fixes[0].endswith("…") and len(fixes[0]) < 110
    assert fixes[1:] == ["not graded: no notebook ex02_*.ipynb found", "", "h: failed on inputs that are not shown: "
                         "try shapes and values the public checks do not use"]
    md = feedback_markdown("ada", results).splitlines()
    table = md[md.index("| Exercise | Points | What to fix first |"):][:6]
    assert table[2].startswith("| ex01 — Title | 1 / 3 | b: wrong values at column 3")
    assert table[3] == "| ex02 | 0 / 1 | not graded: no notebook ex02\\_\\*.ipynb found |"
    assert table[4] == "| ex03 — Three | 1 / 1 | nothing: every check passed |"
    assert md.index(table[0]) < md.index("## ex01 — Title: 1 / 3")
