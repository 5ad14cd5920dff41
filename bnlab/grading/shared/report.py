"""How grades are shown: terminal/notebook lines, the learner's feedback.md, Gradescope results.json.

Hidden checks are named with passed/failed and their one-line description, never their inputs;
no summary says "all tests passed" when only the public checks ran.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bnlab.grading.shared.engine import CheckResult, ExerciseResult
from bnlab.grading.shared.spec import Outcome


def _points(x: float) -> str:
    return f"{x:g}"


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


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
    """The learner's feedback.md: per exercise, points and each check (hidden: name and pass/fail)."""
    total = sum(r.points for r in results)
    maximum = sum(r.max_points for r in results)
    out = [f"# Feedback for {student}", "", f"**Total: {_points(total)} / {_points(maximum)} points**", ""]
    for r in results:
        out += [f"## {r.exercise}{' — ' + r.title if r.title else ''}: {_points(r.points)} / {_points(r.max_points)}", ""]
        out.append(f"Notebook: `{r.notebook}`" if r.notebook else "Notebook: missing")
        if r.note:
            out.append(f"Note: {r.note}")
        out.append("")
        if r.problem:
            out += ["**Not graded:**", "", "```", r.problem, "```", ""]
        for c in r.checks:
            mark = "x" if c.passed else " "
            kind = " (hidden)" if c.visibility == "hidden" else ""
            out.append(f"- [{mark}] `{c.name}`{kind} — {_points(c.points)}/{_points(c.max_points)}"
                       + (f": {c.description}" if c.description else ""))
            if c.message and not r.problem:
                out.append(_indent(c.message.strip(), "    > "))
        out.append("")
    hidden = sum(c.visibility == "hidden" for r in results for c in r.checks)
    if hidden:
        out.append(f"{hidden} of these checks are hidden: their inputs are not shown.")
    return "\n".join(out).rstrip() + "\n"


def student_notes(results: list[ExerciseResult]) -> list[str]:
    """Everything about how the submission was read that the learner should see (e.g. which of
    several notebooks was graded), one line per exercise that has one."""
    return [f"{r.exercise}: {r.note}" for r in results if r.note]


def _test_number(exercise: str, index: int) -> str:
    """Gradescope's ``number`` of a check: "1.2" is exercise ex01's second check."""
    digits = "".join(ch for ch in exercise if ch.isdigit())
    return f"{int(digits) if digits else exercise}.{index + 1}"


def gradescope_results(results: list[ExerciseResult], execution_time: float | None = None) -> dict:
    """Gradescope autograder results: score, tests (numbered) and the notes the learner should see;
    hidden checks become ``after_published``. ``execution_time``: seconds the grading took."""
    tests = []
    for r in results:
        for i, c in enumerate(r.checks):
            output = c.message if not r.problem else f"not graded: {r.problem}"
            if r.note and i == 0:
                output = f"Note: {r.note}\n{output}"
            tests.append({
                "name": f"{r.exercise} {c.name}" + (" (hidden)" if c.visibility == "hidden" else ""),
                "number": _test_number(r.exercise, i),
                "score": c.points, "max_score": c.max_points, "output": output,
                "visibility": "after_published" if c.visibility == "hidden" else "visible",
            })
    payload = {"score": round(sum(r.points for r in results), 6), "tests": tests}
    notes = student_notes(results)
    if notes:
        payload["output"] = "\n".join(notes)
    if execution_time is not None:
        payload["execution_time"] = max(0, round(execution_time))
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
    late = f"{minutes // 1440} d {minutes % 1440 // 60} h" if minutes >= 1440 else f"{minutes // 60} h {minutes % 60} min"
    note = f"Submitted {late} after the due date ({when.due.isoformat(timespec='minutes')})."
    if when.after_late_due:
        note += f" That is also after the late due date ({when.late_due.isoformat(timespec='minutes')})."
    return note
