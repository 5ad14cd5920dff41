"""Grade one exercise notebook: read its graded cells, run every check's calls in one sandbox, verify.

Expected values are computed and compared only here, in the grader's process, by ``Check.verify``.
Every failure (bad notebook, missing function, syntax error, import of bnlab, timeout, crash, a
check that cannot read the learner's result) becomes a message and 0 points, never an exception.
Only a failure of the sandbox itself (the grader's fault) raises RuntimeError, so no grade is written.
"""
from __future__ import annotations

import builtins

import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bnlab.grading.shared.notebook import NotebookError, check_functions_present, forbidden_imports, read_graded_cells
from bnlab.grading.shared.sandbox import Limits, run_learner
from bnlab.grading.shared.spec import Call, CallOutcome, Check, Exercise, Ref, Verdict


@dataclass
class CheckResult:
    """One check's score. ``message`` is for the learner; ``detail`` (instructor only) may show more."""

    name: str
    visibility: str
    points: float
    max_points: float
    passed: bool
    message: str
    description: str = ""
    detail: str = ""


@dataclass
class ExerciseResult:
    """One exercise's score; ``problem`` says why nothing could be graded (then every check has 0)."""

    exercise: str
    title: str
    notebook: str | None
    points: float
    max_points: float
    checks: list[CheckResult] = field(default_factory=list)
    problem: str = ""
    note: str = ""          # e.g. "several notebooks matched; graded the newest"
    output: str = ""        # tail of the learner's stdout/stderr (instructor only)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ExerciseResult":
        checks = [CheckResult(**c) for c in d.get("checks", [])]
        return cls(**{**d, "checks": checks})


# --- calls: from Check objects to the worker's plain call dicts and back -------------------------

def _encode_refs(value, prefix: str):
    """Arguments as plain data: a Ref becomes a {"$ref", "index"} marker with the check's key prefix."""
    if isinstance(value, Ref):
        return {"$ref": prefix + value.key, "index": value.index}
    if isinstance(value, tuple):
        return tuple(_encode_refs(v, prefix) for v in value)
    if isinstance(value, list):
        return [_encode_refs(v, prefix) for v in value]
    if isinstance(value, dict):
        return {k: _encode_refs(v, prefix) for k, v in value.items()}
    return value


def encode_calls(checks: list[Check]) -> tuple[list[dict], list[list[Call]]]:
    """Worker call dicts for all checks (keys made unique per check) and each check's own Call list.

    Calls run in the order of ``checks``: public checks come first, so nothing a hidden call sees
    can show up in a public check's message.
    """
    worker_calls, per_check = [], []
    for i, check in enumerate(checks):
        calls = list(check.calls())
        per_check.append(calls)
        prefix = f"{i}:"
        for call in calls:
            worker_calls.append({
                "function": call.function, "args": _encode_refs(tuple(call.args), prefix),
                "kwargs": _encode_refs(dict(call.kwargs), prefix), "key": prefix + call.key,
                "returns": None if call.returns is None else [int(r) for r in call.returns],
                "copy_check": bool(call.copy_check)})
    return worker_calls, per_check


def outcome_of(raw) -> CallOutcome:
    """A worker outcome dict (untrusted plain data) as a CallOutcome."""
    if not isinstance(raw, dict):
        return CallOutcome(False, error="no result came back for this call")
    modified = raw.get("modified") or []
    return CallOutcome(ok=raw.get("ok") is True, value=raw.get("value"), error=str(raw.get("error") or ""),
                       modified=tuple(str(m) for m in modified) if isinstance(modified, list) else ())


def _failure_kind(error: str) -> str:
    """The exception type of a learner error ("ValueError"), without its message (for hidden checks)."""
    if "not implemented yet" in error:
        return "it is not implemented yet"
    last = error.strip().splitlines()[-1] if error.strip() else ""
    if last.startswith("(the memory limit"):
        return "it ran out of memory"
    if last.startswith("(the file size limit"):
        return "it printed or wrote too much"
    kind = last.split(":", 1)[0].strip()
    # Only built-in exception names: a class the learner defines could spell a hidden input in its name.
    if kind.isidentifier() and isinstance(getattr(builtins, kind, None), type) and issubclass(getattr(builtins, kind), BaseException):
        return f"your code raised {kind}"
    return "your code raised an exception" if kind else "your code failed on it"


def judge(check: Check, outputs: dict[str, CallOutcome]) -> CheckResult:
    """Run ``check.verify`` (in this process) and score it. Hidden checks hide learner errors' details."""
    try:
        verdict = check.verify(outputs)
        if not isinstance(verdict, Verdict):
            raise TypeError(f"verify returned {type(verdict).__name__}, not a Verdict")
        message = str(verdict.message)
    except Exception as exc:  # noqa: BLE001 - an unexpected learner value must not crash the batch
        verdict = Verdict(False)
        message = "the result could not be checked (unexpected type or structure of the returned values)"
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return CheckResult(check.name, check.visibility, 0.0, float(check.points), False, message,
                           check.description, detail=f"verify raised {detail}")
    fraction = verdict.fraction if verdict.fraction is not None else float(bool(verdict.passed))
    fraction = min(1.0, max(0.0, float(fraction)))
    shown = message
    if check.visibility == "hidden":
        failed_calls = [o for o in outputs.values() if not o.ok]
        if failed_calls:  # a learner error message may show a hidden input's shape: keep only its type
            shown = _failure_kind(failed_calls[0].error)
    return CheckResult(check.name, check.visibility, round(check.points * fraction, 6), float(check.points),
                       bool(verdict.passed) and fraction > 0, shown, check.description, detail=message)


def _all_failed(exercise: Exercise, checks: list[Check], notebook: str | None, problem: str,
                note: str = "", output: str = "") -> ExerciseResult:
    short = problem.splitlines()[0] if problem else "not graded"
    results = [CheckResult(c.name, c.visibility, 0.0, float(c.points), False, f"not graded: {short}",
                           c.description) for c in checks]
    return ExerciseResult(exercise.id, exercise.title, notebook, 0.0, float(sum(c.points for c in checks)),
                          results, problem=problem, note=note, output=output)


def grade_cells(cells, exercise: Exercise, checks: list[Check], limits: Limits = Limits(),
                notebook: str | None = None, note: str = "") -> ExerciseResult:
    """Grade graded cells (:class:`~bnlab.grading.shared.notebook.GradedCell` list) against ``checks``."""
    bad = [f"cell {c.index + 1} ({c.name}) {hit}" for c in cells for hit in forbidden_imports(c.source)]
    if bad:
        return _all_failed(exercise, checks, notebook,
                           "a graded cell imports bnlab, the course's reference implementation; graded cells must "
                           "implement the function themselves, so this exercise scores 0. Remove: " + "; ".join(bad),
                           note)
    worker_calls, per_check = encode_calls(checks)
    run = run_learner([(c.name, c.index, c.source) for c in cells], worker_calls, limits)
    output = (run.stdout + run.stderr)[-4000:]
    if run.status == "error":  # the grader's fault, not the learner's: no grade rather than a wrong 0
        raise RuntimeError(f"the sandbox failed while grading {notebook or exercise.id}: {run.message}")
    if run.status != "ok":
        return _all_failed(exercise, checks, notebook, run.message, note, output)
    if run.blocked_import:
        return _all_failed(exercise, checks, notebook,
                           "the graded code tried to import bnlab, the course's reference implementation; "
                           "this exercise scores 0", note, output)
    if run.setup_error:
        return _all_failed(exercise, checks, notebook, run.setup_error, note, output)
    results = []
    for i, (check, calls) in enumerate(zip(checks, per_check)):
        outputs = {call.key: outcome_of(run.outcomes.get(f"{i}:{call.key}")) for call in calls}
        results.append(judge(check, outputs))
    return ExerciseResult(exercise.id, exercise.title, notebook, round(sum(r.points for r in results), 6),
                          float(sum(c.points for c in checks)), results, note=note, output=output)


def grade_notebook(path: str | Path | None, exercise: Exercise, checks: list[Check], limits: Limits = Limits(),
                   note: str = "") -> ExerciseResult:
    """Grade the notebook at ``path`` (None: missing) for ``exercise`` with ``checks`` (public + hidden)."""
    if path is None:
        return _all_failed(exercise, checks, None,
                           f"missing notebook: no file named {exercise.id}*.ipynb (expected {exercise.notebook})",
                           note)
    name = Path(path).name
    try:
        cells = read_graded_cells(path)
        check_functions_present(cells, exercise.functions, name)
    except NotebookError as exc:
        return _all_failed(exercise, checks, name, str(exc), note)
    return grade_cells(cells, exercise, checks, limits, name, note)
