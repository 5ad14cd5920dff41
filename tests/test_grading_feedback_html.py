"""What a learner opens: feedback.html (their cells, each check under its function, hidden checks' names and
results only, escaped, self-contained) and results.json (notes, no execution time, test numbers)."""
from __future__ import annotations

import io
import json
import os
import time
from html.parser import HTMLParser
from pathlib import Path

import grading_fixture as fx
from bnlab.grading.core.course import load_course_file
from bnlab.grading.grade.gradebook import grade_submissions
from bnlab.grading.sandbox.client import Limits

HOSTILE_DOUBLE = ('# GRADED FUNCTION: double\nimport numpy as np\n\n'
                  'def double(x):\n    # </pre><script>alert("x")</script><img src="http://example.org/a.png">\n'
                  '    return 3 * np.asarray(x)  # a & b < c\n')


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _grade(tmp_path: Path) -> Path:
    submissions, out = tmp_path / "submissions", tmp_path / "out"
    old = fx.notebook(submissions / "mallory" / "ex01_double.ipynb", [fx.DOUBLE_CELL])
    os.utime(old, (time.time() - 100, time.time() - 100))
    fx.notebook(submissions / "mallory" / "ex01_double (1).ipynb", [HOSTILE_DOUBLE])  # newer: graded
    fx.notebook(submissions / "mallory" / "ex02_pair.ipynb", fx.PAIR_CELLS)
    grade_submissions(submissions, out, load_course_file(fx.__file__), limits=Limits(timeout=10),
                      progress=io.StringIO())
    return out / "students" / "mallory"


def test_feedback_html_shows_cells_checks_under_their_function_and_no_hidden_input(tmp_path):
    page = (_grade(tmp_path) / "feedback.html").read_text()
    parsed = _Tags()
    parsed.feed(page)
    tags = [t for t, _ in parsed.tags]
    assert "script" not in tags and "img" not in tags and "link" not in tags  # the learner's text stays text
    assert not any(attrs.get("src") or attrs.get("href", "#").split("#")[0] for _, attrs in parsed.tags)
    assert page.count("http://") == 1  # only inside the learner's escaped comment
    text = "".join(parsed.text)
    assert '<script>alert("x")</script>' in text and "a & b < c" in text  # shown, escaped
    assert "default-src 'none'" in page  # and the browser may fetch nothing even if escaping failed

    assert "Total: 2 / 6 points" in text  # ex01 returns 3x: 0/4; ex02 is right: 2/2
    # ex02: the check calls scale_pair then unscale, so it is listed under unscale's cell
    ex02 = page[page.index('<section id="ex02">'):]
    assert ex02.index("scale_pair</code></h3>") < ex02.index("unscale</code></h3>") < ex02.index("round_trip<")
    # hidden checks: name and result, never their inputs or messages
    assert "doubles_a_matrix" in page and "leaves_input_unchanged" in page
    for secret in (str(fx.SECRET_SCALE), "(7, 13)", "7, 13", "wrong values"):
        assert secret not in text.replace("wrong values: expected", ""), secret
    # the public check's message is shown under double (it reveals its own small input, by design)
    ex01 = page[page.index('<section id="ex01">'):]  # the summary table above names checks too
    assert ex01.index("double</code></h3>") < ex01.index("doubles_a_vector") and "expected [0.0, 2.0" in page
    assert "several notebooks matched ex01" in text


def test_results_json_carries_notes_and_numbers_and_no_time_a_hidden_run_could_spend(tmp_path):
    results = json.loads((_grade(tmp_path) / "results.json").read_text())
    assert "several notebooks matched ex01" in results["output"]
    first = results["tests"][0]
    assert first["name"].startswith("ex01 ") and "several notebooks matched ex01" in first["output"]
    assert "execution_time" not in results  # it would count the hidden runs' time, which learner code chooses
    assert [t["number"] for t in results["tests"]] == ["1.1", "1.2", "1.3", "2.1", "2.2"]
    md = (_grade(tmp_path / "again") / "feedback.md").read_text()
    assert "several notebooks matched ex01" in md  # the same note as feedback.md


def test_a_late_gradescope_submission_is_noted_and_an_extension_counts():
    from bnlab.grading.core.report import late_note

    metadata = {"created_at": "2026-03-02T10:30:00.123456-05:00",
                "assignment": {"due_date": "2026-03-01T23:59:00.000000-05:00", "late_due_date": None},
                "users": [{"name": "Jane", "assignment": {"due_date": "2026-03-01T23:59:00-05:00"}}]}
    assert late_note(metadata) == "Submitted 10 h 31 min after the due date (2026-03-01T23:59-05:00)."
    metadata["users"][0]["assignment"]["due_date"] = "2026-03-03T23:59:00-05:00"  # Jane has an extension
    assert late_note(metadata) == ""
    assert late_note({"created_at": "2026-03-09T00:00:00Z", "assignment": {"due_date": "2026-03-01T00:00:00Z"}}) \
        == "Submitted 8 d 0 h after the due date (2026-03-01T00:00+00:00)."
    assert late_note({}) == "" and late_note({"created_at": "garbage", "assignment": {"due_date": None}}) == ""


def _pasting_course():
    """The fixture course with ex02 repeating ex01's graded ``double`` (as ex02 repeats ex01's batchnorm_forward)."""
    from bnlab.grading.core.course import Course, GradedExercise
    from bnlab.grading.core.spec import Exercise

    ex02 = Exercise("ex02", "ex02_pair.ipynb", ("double", "scale_pair", "unscale"), "Scale and unscale")
    return Course((GradedExercise(fx.EX01, tuple(fx.EX01_PUBLIC), tuple(fx.EX01_HIDDEN)),
                   GradedExercise(ex02, tuple(fx.EX02_PUBLIC), tuple(fx.EX02_HIDDEN))), ())


def _results():
    from bnlab.grading.core.engine import CheckResult, ExerciseResult
    from bnlab.grading.core.spec import Outcome

    def check(name, outcome, visibility="public", message=""):
        return CheckResult(name, visibility, float(outcome is Outcome.PASSED), 1.0, outcome, message)

    return [ExerciseResult("ex01", "Double it", "ex01_double.ipynb", 1, 2,
                           [check("doubles_a_vector", Outcome.PASSED),
                            check("doubles_a_matrix", Outcome.FAILED, "hidden", "wrong values 4.25")]),
            ExerciseResult("ex02", "Scale and unscale", "ex02_pair.ipynb", 0, 1,
                           [check("round_trip", Outcome.FAILED, message="round trip: expected [0, 1, 2]")])]


def test_a_function_pasted_into_a_later_notebook_is_shown_once_unless_it_differs(tmp_path):
    from bnlab.grading.grade.feedback_html import feedback_html

    course, folder = _pasting_course(), tmp_path / "ada"
    fx.notebook(folder / "ex01_double.ipynb", [fx.DOUBLE_CELL])
    pasted = fx.DOUBLE_CELL.replace("\n", "\n# Paste your graded cell of exercise 1 here.\n\n", 1)  # as the stub says
    fx.notebook(folder / "ex02_pair.ipynb", [pasted, *fx.PAIR_CELLS])
    page = feedback_html("Ada Lovelace", _results(), folder, course)
    assert page.count("def double(x)") == 1 and page.count("def scale_pair") == 1
    ex02 = page[page.index('<section id="ex02">'):]
    assert "double</code></h3><p class=\"same\">same as in ex01 (shown there)</p>" in ex02
    fx.notebook(folder / "ex02_pair.ipynb", [fx.DOUBLE_CELL.replace("2 *", "2.0 *"), *fx.PAIR_CELLS])  # edited copy
    page = feedback_html("Ada Lovelace", _results(), folder, course)
    assert page.count("def double(x)") == 2 and "differs from your copy in ex01" in page
    (folder / "ex01_double.ipynb").unlink()  # no ex01 to point to: ex02's copy is shown
    page = feedback_html("Ada Lovelace", _results(), folder, course)
    assert page.count("def double(x)") == 1 and "same as in" not in page and "differs" not in page


def test_the_page_opens_with_the_name_and_a_summary_table(tmp_path):
    from bnlab.grading.grade.feedback_html import feedback_html

    page = feedback_html("Smith, Jane <3", _results(), None, _pasting_course())
    parsed = _Tags()
    parsed.feed(page)
    text = "".join(parsed.text)
    assert "<title>Feedback for Smith, Jane &lt;3</title>" in page and "<h1>Feedback for Smith, Jane &lt;3</h1>" in page
    table = page[page.index('<table class="summary">'):page.index("</table>")]
    assert page.index("</table>") < page.index('<section id="ex01">')  # first, above the exercises
    rows = [r.split("<td>")[1:] for r in table.split("<tr>")[2:]]
    assert [r[1] for r in rows] == ["1 / 2</td>", "0 / 1</td>"]
    assert rows[0][2].startswith("doubles_a_matrix: failed on inputs that are not shown")  # hidden: its words only
    assert rows[1][2].startswith("round_trip: round trip: expected [0, 1, 2]")
    assert "4.25" not in text
