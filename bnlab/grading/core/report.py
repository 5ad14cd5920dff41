"""How grades are shown: terminal/notebook lines, the learner's feedback.md, Gradescope results.json.

What a learner may see of a check is decided once, by :func:`shown_check`; feedback.md, feedback.html
(:mod:`bnlab.grading.grade.feedback_html`) and results.json all render from it. A public check
shows its message; a hidden check shows its name, points, outcome and description, and in place of its
message the grader's own generic words for that outcome (never its inputs, nor anything learner code
printed or raised during it). No summary says "all tests passed" when only the public checks ran.

feedback.md escapes all text for Markdown: plain text is backslash-escaped, code (a setup error, a
check's message) goes in a fence longer than any backtick run inside it (CommonMark's rule), so
nothing a learner wrote can close it and render as a heading, link or image.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from bnlab.grading.core.engine import CheckResult, ExerciseResult
from bnlab.grading.core.spec import Outcome


def _points(x: float) -> str:
    return f"{x:g}"


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


# --- what a learner may see of a check: one decision, every format renders it --------------------

HIDDEN_WORDS = {  # the grader's own words for a hidden check, by outcome
    Outcome.PASSED: "passed on inputs that are not shown",
    Outcome.FAILED: "failed on inputs that are not shown: try shapes and values the public checks do not use",
    Outcome.NOT_IMPLEMENTED: "not implemented yet",
    Outcome.TIMED_OUT: "not run: the notebook timed out",
    Outcome.CRASHED: "not run: your code did not run to the end",
    Outcome.REFUSED: "not run: the grader did not run this notebook",
}
LABELS = {Outcome.PASSED: "PASS", Outcome.FAILED: "FAIL", Outcome.NOT_IMPLEMENTED: "TODO",
          Outcome.TIMED_OUT: "TIMED OUT", Outcome.CRASHED: "CRASHED", Outcome.REFUSED: "NOT RUN"}


@dataclass(frozen=True)
class ShownCheck:
    """All of a check that its learner may see."""

    name: str
    hidden: bool
    points: float
    max_points: float
    outcome: Outcome
    description: str
    message: str   # public: the check's message; hidden: HIDDEN_WORDS of its outcome

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASSED

    @property
    def label(self) -> str:
        return LABELS[self.outcome]


def shown_check(check: CheckResult) -> ShownCheck:
    """What the learner may see of ``check`` (the one place this is decided)."""
    hidden = check.visibility != "public"  # anything not marked public is treated as hidden
    message = HIDDEN_WORDS[check.outcome] if hidden else check.message.strip()
    return ShownCheck(check.name, hidden, check.points, check.max_points, check.outcome, check.description, message)


def _first_line(text: str, width: int = 100) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= width else line[:width - 1].rstrip() + "…"


def first_fix(result: ExerciseResult) -> str:
    """What to fix first in ``result``, short: why it was not graded, or the first failing check's
    (shown) message; "" when every check passed."""
    if result.problem:
        return "not graded: " + _first_line(result.problem)
    failing = next((shown_check(c) for c in result.checks if not c.passed), None)
    if failing is None:
        return ""
    return f"{failing.name}: {_first_line(failing.message) or failing.label.lower()}"


def exercise_heading(result: ExerciseResult) -> str:
    return f"{result.exercise}{' — ' + result.title if result.title else ''}"


# --- Markdown: text, inline code and code blocks that learner text cannot break out of ---------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>!|~&$])")  # inline markup; md_text never starts a line, so not # - = +


def md_text(text: str) -> str:
    """``text`` on one line (never at the start of one), each character Markdown could read as inline
    markup (emphasis, code, link, image, HTML, entity, table cell, math) backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _longest_run(text: str, char: str) -> int:
    return max((len(m) for m in re.findall(f"{re.escape(char)}+", text)), default=0)


def md_code(text: str) -> str:
    """``text`` as one inline code span (a backtick run longer than any inside it)."""
    text = " ".join(str(text).split())
    ticks = "`" * (_longest_run(text, "`") + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def md_block(text: str, indent: str = "") -> list[str]:
    """``text`` as a fenced code block (lines), each line prefixed by ``indent`` (to sit in a list item)."""
    fence = "`" * max(3, _longest_run(text, "`") + 1)
    return [indent + fence, *(indent + line for line in text.splitlines()), indent + fence]


def check_lines(check: CheckResult) -> str:
    """``PASS name (1/1): message`` / ``FAIL ...`` / ``TODO name: not implemented yet``."""
    if check.outcome is Outcome.NOT_IMPLEMENTED:
        return f"TODO {check.name}: not implemented yet"
    status = "PASS" if check.passed else "FAIL"
    head = f"{status} {check.name} ({_points(check.points)}/{_points(check.max_points)})"
    if not check.message:
        return head
    if "\n" in check.message:
        return head + ":\n" + _indent(check.message)
    return f"{head}: {check.message}"


def console_report(result: ExerciseResult, public_only: bool) -> str:
    """What ``bnlab check`` and the notebook's public-check cell print (deterministic)."""
    title = f" ({result.title})" if result.title else ""
    which = "public checks" if public_only else "all checks"
    lines = [f"{result.exercise}{title}: {which}"]
    if result.problem:
        lines.append("PROBLEM: " + result.problem.replace("\n", "\n    "))
    lines += [check_lines(c) for c in result.checks]
    passed = sum(c.passed for c in result.checks)
    total = f"{_points(result.points)}/{_points(result.max_points)} points"
    if public_only:
        if passed == len(result.checks) and result.checks:
            lines.append(f"All {passed} public checks passed ({total}). Hidden checks (other shapes, edge cases) "
                         "run when your work is graded.")
        else:
            lines.append(f"{passed} of {len(result.checks)} public checks passed ({total}).")
    else:
        lines.append(f"{passed} of {len(result.checks)} checks passed ({total}).")
    return "\n".join(lines)


def feedback_markdown(student: str, results: list[ExerciseResult]) -> str:
    """The learner's feedback.md, titled ``student`` (their name or folder): total, a summary table
    (exercise, points, what to fix first), then per exercise each check as :func:`shown_check` allows."""
    total = sum(r.points for r in results)
    maximum = sum(r.max_points for r in results)
    out = [f"# Feedback for {md_text(student)}", "", f"**Total: {_points(total)} / {_points(maximum)} points**", "",
           "| Exercise | Points | What to fix first |", "| --- | --- | --- |"]
    out += [f"| {md_text(exercise_heading(r))} | {_points(r.points)} / {_points(r.max_points)} | "
            f"{md_text(first_fix(r)) or 'nothing: every check passed'} |" for r in results]
    out.append("")
    for r in results:
        out += [f"## {md_text(exercise_heading(r))}: {_points(r.points)} / {_points(r.max_points)}", ""]
        out.append(f"Notebook: {md_code(r.notebook)}" if r.notebook else "Notebook: missing")
        if r.note:
            out.append(f"Note: {md_text(r.note)}")
        out.append("")
        if r.problem:
            out += ["**Not graded:**", "", *md_block(r.problem), ""]
        for c in map(shown_check, r.checks):
            mark = "x" if c.passed else " "
            kind = " (hidden)" if c.hidden else ""
            out.append(f"- [{mark}] {md_code(c.name)}{kind} — {_points(c.points)}/{_points(c.max_points)}"
                       + (f": {md_text(c.description)}" if c.description else ""))
            if c.hidden and not r.problem:
                out[-1] += "\\"  # a hard line break, then the grader's own words as plain text
                out.append(f"  {md_text(c.message)}")
            elif c.message and not r.problem:
                out += md_block(c.message, "  ")  # may hold the learner's text: fenced
        out.append("")
    hidden = sum(c.visibility != "public" for r in results for c in r.checks)
    if hidden:
        out.append(f"{hidden} of these checks are hidden: their names and results are shown, their inputs are not.")
    return "\n".join(out).rstrip() + "\n"


def student_notes(results: list[ExerciseResult]) -> list[str]:
    """Everything about how the submission was read that the learner should see (e.g. which of
    several notebooks was graded), one line per exercise that has one."""
    return [f"{r.exercise}: {r.note}" for r in results if r.note]


def _test_number(exercise: str, index: int) -> str:
    """Gradescope's ``number`` of a check: "1.2" is exercise ex01's second check."""
    digits = "".join(ch for ch in exercise if ch.isdigit())
    return f"{int(digits) if digits else exercise}.{index + 1}"


def gradescope_results(results: list[ExerciseResult]) -> dict:
    """Gradescope autograder results: score, tests (numbered) and the notes the learner should see;
    each test's output is what :func:`shown_check` allows; hidden checks become ``after_published``.
    No ``execution_time``: it is shown to the student at once and includes the hidden runs, whose learner
    code could spend a time that spells a hidden input."""
    tests = []
    for r in results:
        for i, c in enumerate(map(shown_check, r.checks)):
            output = c.message if not r.problem else f"not graded: {r.problem}"
            if r.note and i == 0:
                output = f"Note: {r.note}\n{output}"
            tests.append({
                "name": f"{r.exercise} {c.name}" + (" (hidden)" if c.hidden else ""),
                "number": _test_number(r.exercise, i),
                "score": c.points, "max_score": c.max_points, "output": output,
                "visibility": "after_published" if c.hidden else "visible",
            })
    payload = {"score": round(sum(r.points for r in results), 6), "tests": tests}
    notes = student_notes(results)
    if notes:
        payload["output"] = "\n".join(notes)
    return payload


def _moment(text):
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Lateness:
    """When a Gradescope submission came against its due dates (each the later of the assignment's and the
    user's own, an extension): ``minutes`` after the due date (0 when on time)."""
    late: bool
    minutes: int
    due: datetime
    late_due: datetime | None  # the late due date, if the assignment has one
    after_late_due: bool


def _latest(metadata: dict, key: str) -> datetime | None:
    """The latest ``key`` date of the assignment and of each user's own assignment (an extension)."""
    places = [metadata.get("assignment")] + [u.get("assignment") for u in metadata.get("users") or []
                                             if isinstance(u, dict)]
    dates = [_moment(place.get(key)) for place in places if isinstance(place, dict)]
    dates = [d for d in dates if d is not None and d.tzinfo is not None]
    return max(dates, default=None)


def lateness(metadata: dict) -> Lateness | None:
    """From Gradescope's ``submission_metadata.json`` (``created_at``, ``assignment.due_date``,
    ``assignment.late_due_date``, ``users[].assignment``): when the submission came, or None when the
    dates are missing or unreadable."""
    if not isinstance(metadata, dict):
        return None
    created, due = _moment(metadata.get("created_at")), _latest(metadata, "due_date")
    if created is None or created.tzinfo is None or due is None:
        return None
    late_due = _latest(metadata, "late_due_date")
    minutes = max(0, int((created - due).total_seconds() // 60))
    return Lateness(created > due, minutes, due, late_due, late_due is not None and created > late_due)


def late_note(metadata: dict) -> str:
    """How late the submission was, for the learner and the instructor, or "" when on time (or when the
    dates are missing)."""
    when = lateness(metadata)
    if when is None or not when.late:
        return ""
    minutes = when.minutes
    late = (f"{minutes // 1440} d {minutes % 1440 // 60} h" if minutes >= 1440
            else f"{minutes // 60} h {minutes % 60} min")
    note = f"Submitted {late} after the due date ({when.due.isoformat(timespec='minutes')})."
    if when.after_late_due:
        note += f" That is also after the late due date ({when.late_due.isoformat(timespec='minutes')})."
    return note
