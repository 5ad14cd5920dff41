"""The learner's feedback page, ``OUT/<student>/feedback.html``: one self-contained HTML file.

First the total and a summary table (exercise, points, what to fix first); then for each exercise
its points, any note or problem, then each graded cell the grader ran, with the result of every check
under the function it tested (the last function the check calls). A function an earlier exercise
introduced (ex02 repeats ex01's ``batchnorm_forward``) is shown once: a later copy that is the same
is noted "same as in ex01", only a copy that differs is shown again. What a check shows is
:func:`bnlab.grading.core.report.shown_check`'s decision, as in feedback.md: hidden checks give
their name, points, outcome and the grader's generic words, never their inputs or messages.
Everything the learner wrote or a check printed is HTML-escaped; the page loads nothing (inline
style, no scripts, and a Content-Security-Policy that forbids any fetch).
"""
from __future__ import annotations

import ast
import html
from pathlib import Path

from bnlab.grading.core.course import Course, CourseError
from bnlab.grading.core.engine import CheckResult, ExerciseResult
from bnlab.grading.core.notebook import GradedCell, NotebookError, check_parsable, read_graded_cells
from bnlab.grading.core.report import exercise_heading, first_fix, shown_check

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h1 { margin-bottom: 0.2rem; } .total { font-size: 1.2rem; font-weight: bold; }
section { border-top: 1px solid #ccc; margin-top: 1.5rem; }
pre { background: #f6f6f6; padding: 0.6rem; overflow-x: auto; white-space: pre-wrap; }
ul.checks { list-style: none; padding-left: 0; } ul.checks li { margin: 0.3rem 0; }
.pass { color: #176b2c; font-weight: bold; } .fail { color: #a4161a; font-weight: bold; }
.problem { background: #fff0f0; border-left: 4px solid #a4161a; }
.note { background: #fffbe6; padding: 0.4rem; } .hidden { color: #555; font-style: italic; }
table.summary { border-collapse: collapse; } table.summary td, table.summary th { border: 1px solid #ccc;
  padding: 0.2rem 0.5rem; text-align: left; vertical-align: top; } .same { color: #555; }
"""


def _points(x: float) -> str:
    return f"{x:g}"


_TESTED: dict[tuple[int, str], tuple[Course, dict[str, str]]] = {}  # building the calls costs ~30 ms an exercise


def check_functions(course: Course, exercise: str) -> dict[str, str]:
    """Check name -> the function it tests (the last one its calls name), for one exercise (cached per course)."""
    key = (id(course), exercise)
    cached = _TESTED.get(key)
    if cached is None or cached[0] is not course:
        cached = _TESTED[key] = (course, _check_functions(course, exercise))
    return cached[1]


def _check_functions(course: Course, exercise: str) -> dict[str, str]:
    try:
        graded = course.get(exercise)
    except ValueError:
        return {}
    tested = {}
    for check in graded.checks:
        try:
            calls = list(check.calls())
        except Exception:  # noqa: BLE001 - a check that cannot build its calls is shown apart, not a crash
            continue
        if calls:
            tested[check.name] = calls[-1].function
    return tested


def _check_item(check: CheckResult) -> str:
    shown = shown_check(check)
    mark = f'<span class="{"pass" if shown.passed else "fail"}">{html.escape(shown.label)}</span>'
    head = f"{mark} <code>{html.escape(shown.name)}</code> ({_points(shown.points)}/{_points(shown.max_points)})"
    if shown.hidden:
        return f'<li>{head} <span class="hidden">hidden check: {html.escape(shown.message)}</span></li>'
    message = f"<pre>{html.escape(shown.message)}</pre>" if shown.message else ""
    return f"<li>{head}{message}</li>"


def _checks_list(checks: list[CheckResult]) -> str:
    return '<ul class="checks">' + "".join(_check_item(c) for c in checks) + "</ul>" if checks else ""


def definitions(source: str, name: str) -> dict[str, str]:
    """The functions a graded cell defines at its top level, each as its lines without blank lines,
    comment lines and trailing spaces (so the stub's "paste here" lines do not count); ``{name: source}``
    when it does not parse."""
    try:
        check_parsable(source)  # first: too deep a cell can crash ast.parse itself (Python 3.10)
        tree = ast.parse(source)
    except (NotebookError, SyntaxError, ValueError, RecursionError, MemoryError):  # shown as it is
        return {name: source}
    lines = source.splitlines()
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            found[node.name] = "\n".join(line.rstrip() for line in lines[start - 1:node.end_lineno]
                                         if line.strip() and not line.lstrip().startswith("#"))
    return found or {name: source}


def _cell_block(cell: GradedCell, exercise: str, pasted: bool, introduced: dict[str, tuple[str, str]]) -> str:
    """A graded cell's heading and code; a pasted cell whose every function is the learner's copy shown
    in an earlier exercise is a note instead of its code. Records the cell's functions in ``introduced``."""
    head = f"<h3>Cell {cell.index + 1}: <code>{html.escape(cell.name)}</code></h3>"
    defined = definitions(cell.source, cell.name)
    earlier = {f: introduced[f] for f in defined if f in introduced} if pasted else {}
    for function, tree in defined.items():
        introduced.setdefault(function, (exercise, tree))
    where = ", ".join(dict.fromkeys(ex for ex, _ in earlier.values()))
    if earlier and len(earlier) == len(defined) and all(defined[f] == t for f, (_, t) in earlier.items()):
        return f'{head}<p class="same">same as in {html.escape(where)} (shown there)</p>'
    differ = sorted({ex for f, (ex, t) in earlier.items() if defined[f] != t})
    note = f'<p class="same">differs from your copy in {html.escape(", ".join(differ))}</p>' if differ else ""
    return f"{head}{note}<pre><code>{html.escape(cell.source)}</code></pre>"


def exercise_section(result: ExerciseResult, cells: list[GradedCell], tested: dict[str, str],
                     pasted: tuple[str, ...] = (), introduced: dict[str, tuple[str, str]] | None = None) -> str:
    """One exercise: heading, note, problem, then each graded cell with the checks of its function.

    ``pasted``: the functions this exercise repeats from earlier ones; ``introduced``: function ->
    (exercise, definition) of the learner's copies already shown on the page (updated here).
    """
    introduced = {} if introduced is None else introduced
    parts = [f'<section id="{html.escape(result.exercise)}"><h2>{html.escape(exercise_heading(result))}: '
             f"{_points(result.points)} / {_points(result.max_points)}</h2>",
             f"<p>Notebook: <code>{html.escape(result.notebook)}</code></p>" if result.notebook
             else "<p>Notebook: missing</p>"]
    if result.note:
        parts.append(f'<p class="note">Note: {html.escape(result.note)}</p>')
    if result.problem:
        parts.append(f'<p><strong>Not graded:</strong></p><pre class="problem">{html.escape(result.problem)}</pre>')
    last_cell = {cell.name: i for i, cell in enumerate(cells)}  # a name defined twice: the last one counts
    placed = set()
    for i, cell in enumerate(cells):
        parts.append(_cell_block(cell, result.exercise, cell.name in pasted, introduced))
        if last_cell[cell.name] == i:
            mine = [c for c in result.checks if tested.get(c.name) == cell.name]
            placed.update(c.name for c in mine)
            parts.append(_checks_list(mine))
    rest = [c for c in result.checks if c.name not in placed]
    if rest:
        parts.append(("<h3>Checks</h3>" if not cells else "<h3>Other checks</h3>") + _checks_list(rest))
    parts.append("</section>")
    return "\n".join(parts)


def summary_table(results: list[ExerciseResult]) -> str:
    """Exercise, points and what to fix first, one row per exercise (each linking to its section)."""
    rows = "".join(f'<tr><td><a href="#{html.escape(r.exercise)}">{html.escape(exercise_heading(r))}</a></td>'
                   f"<td>{_points(r.points)} / {_points(r.max_points)}</td>"
                   f"<td>{html.escape(first_fix(r)) or 'nothing: every check passed'}</td></tr>" for r in results)
    return ('<table class="summary"><tr><th>Exercise</th><th>Points</th><th>What to fix first</th></tr>'
            f"{rows}</table>")


def _pasted(course: Course | None, exercise: str) -> tuple[str, ...]:
    try:
        return course.pasted_functions(exercise) if course is not None else ()
    except CourseError:
        return ()


def graded_cells_of(folder: Path, exercise: str) -> list[GradedCell]:
    """The graded cells of the notebook the grader matched for ``exercise`` in ``folder``; [] if unreadable."""
    from bnlab.grading.grade.submissions import match_notebooks

    path, _ = match_notebooks(folder, exercise) if folder.is_dir() else (None, "")
    try:
        return read_graded_cells(path) if path is not None else []
    except NotebookError:
        return []


def feedback_html(student: str, results: list[ExerciseResult], folder: Path | None = None,
                  course: Course | None = None) -> str:
    """The page for ``student``; ``folder`` (their submissions) supplies the graded cells shown."""
    total = sum(r.points for r in results)
    maximum = sum(r.max_points for r in results)
    sections, introduced = [], {}  # function -> (exercise, definition) of the learner's copy first shown
    for r in results:
        cells = graded_cells_of(folder, r.exercise) if folder is not None else []
        tested = check_functions(course, r.exercise) if course is not None else {}
        sections.append(exercise_section(r, cells, tested, _pasted(course, r.exercise), introduced))
    hidden = sum(c.visibility != "public" for r in results for c in r.checks)
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>Feedback for {html.escape(student)}</title><style>{STYLE}</style></head><body>",
        f"<h1>Feedback for {html.escape(student)}</h1>",
        f'<p class="total">Total: {_points(total)} / {_points(maximum)} points</p>',
        summary_table(results),
        *sections,
        f"<p>{hidden} of these checks are hidden: their names and results are shown, their inputs are not.</p>"
        if hidden else "",
        "</body></html>", ""])
