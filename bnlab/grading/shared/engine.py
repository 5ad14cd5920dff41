"""Grade one exercise notebook: read its graded cells, run every check's calls in one sandbox, verify.

Expected values are computed and compared only here, in the grader's process, by ``Check.verify``.
Every failure (bad notebook, missing function, syntax error, import of bnlab, timeout, crash, a
check that cannot read the learner's result) becomes a message, an :class:`Outcome` and 0 points,
never an exception. Only a failure of the sandbox itself (the grader's fault) raises RuntimeError,
so no grade is written.

Where each outcome is decided: PASSED, FAILED and NOT_IMPLEMENTED in :func:`judge` (from the
check's Verdict and the calls' ``not_implemented`` flags, which the worker sets); TIMED_OUT and
CRASHED in :func:`grade_cells` from the sandbox run's status and the graded cells' setup error;
REFUSED where the grader declines to run the code (:func:`grade_notebook`, :func:`grade_cells`,
and the public checks when a function is bnlab's own).
"""
from __future__ import annotations

import builtins
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bnlab.grading.shared.notebook import NotebookError, check_functions_present, forbidden_imports, read_graded_cells
from bnlab.grading.shared.sandbox import Limits, run_learner
from bnlab.grading.shared.spec import Call, CallOutcome, Check, Exercise, Outcome, Ref, Verdict


@dataclass
class CheckResult:
    """One check's score. ``message`` is for the learner; ``detail`` (instructor only) may show more."""

    name: str
    visibility: str
    points: float
    max_points: float
    outcome: Outcome
    message: str
    description: str = ""
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASSED


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
        """Plain data for JSON; each check also says ``passed`` (true/false) beside its outcome."""
        d = asdict(self)
        for check, c in zip(self.checks, d["checks"]):
            c["outcome"], c["passed"] = check.outcome.value, check.passed
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ExerciseResult":
        checks = []
        for c in d.get("checks", []):
            c = dict(c)
            passed = c.pop("passed", False)  # results stored before outcomes existed have only this
            c["outcome"] = Outcome(c["outcome"]) if "outcome" in c else (Outcome.PASSED if passed else Outcome.FAILED)
            checks.append(CheckResult(**c))
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
                       modified=tuple(str(m) for m in modified) if isinstance(modified, list) else (),
                       not_implemented=raw.get("ok") is not True and raw.get("not_implemented") is True)


def _failure_kind(failed: CallOutcome) -> str:
    """What a failed call raised ("your code raised ValueError"), without its message (for hidden checks)."""
    if failed.not_implemented:
        return "it is not implemented yet"
    error = failed.error
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


def _outcome(verdict: Verdict, fraction: float, first_failed: CallOutcome | None, shown_from_call: bool) -> Outcome:
    """PASSED, or why not: the verdict's own FAILED/NOT_IMPLEMENTED, else (and always when the message
    shown is that call's) NOT_IMPLEMENTED if the check's first failed call raised NotImplementedError."""
    if verdict.passed and fraction > 0:
        return Outcome.PASSED
    if verdict.outcome in (Outcome.FAILED, Outcome.NOT_IMPLEMENTED) and not shown_from_call:
        return verdict.outcome
    return Outcome.NOT_IMPLEMENTED if first_failed is not None and first_failed.not_implemented else Outcome.FAILED


def judge(check: Check, outputs: dict[str, CallOutcome]) -> CheckResult:
    """Run ``check.verify`` (in this process) and score it. Hidden checks hide learner errors' details."""
    try:
        verdict = check.verify(outputs)
        if not isinstance(verdict, Verdict):
            raise TypeError(f"verify returned {type(verdict).__name__}, not a Verdict")
        message = str(verdict.message)
    except Exception as exc:  # noqa: BLE001 - an unexpected learner value must not crash the batch
        message = "the result could not be checked (unexpected type or structure of the returned values)"
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return CheckResult(check.name, check.visibility, 0.0, float(check.points), Outcome.FAILED, message,
                           check.description, detail=f"verify raised {detail}")
    fraction = verdict.fraction if verdict.fraction is not None else float(bool(verdict.passed))
    fraction = min(1.0, max(0.0, float(fraction)))
    first_failed = next((o for o in outputs.values() if not o.ok), None)  # calls in the check's order
    shown_from_call = check.visibility == "hidden" and first_failed is not None
    # a learner error message may show a hidden input's shape: a hidden check shows only its type
    shown = _failure_kind(first_failed) if shown_from_call else message
    return CheckResult(check.name, check.visibility, round(check.points * fraction, 6), float(check.points),
                       _outcome(verdict, fraction, first_failed, shown_from_call), shown, check.description,
                       detail=message)


def ungraded(exercise: Exercise, checks: list[Check], notebook: str | None, problem: str, outcome: Outcome,
             note: str = "", output: str = "") -> ExerciseResult:
    """Every check 0 points with the same ``outcome``: ``problem`` kept the code from being graded."""
    short = problem.splitlines()[0] if problem else "not graded"
    results = [CheckResult(c.name, c.visibility, 0.0, float(c.points), outcome, f"not graded: {short}",
                           c.description) for c in checks]
    return ExerciseResult(exercise.id, exercise.title, notebook, 0.0, float(sum(c.points for c in checks)),
                          results, problem=problem, note=note, output=output)


def grade_cells(cells, exercise: Exercise, checks: list[Check], limits: Limits = Limits(),
                notebook: str | None = None, note: str = "") -> ExerciseResult:
    """Grade graded cells (:class:`~bnlab.grading.shared.notebook.GradedCell` list) against ``checks``."""
    bad = [f"cell {c.index + 1} ({c.name}) {hit}" for c in cells for hit in forbidden_imports(c.source)]
    if bad:
        return ungraded(exercise, checks, notebook,
                           "a graded cell imports bnlab, the course's reference implementation; graded cells must "
                           "implement the function themselves, so this exercise scores 0. Remove: " + "; ".join(bad),
                           Outcome.REFUSED, note)
    worker_calls, per_check = encode_calls(checks)
    run = run_learner([(c.name, c.index, c.source) for c in cells], worker_calls, limits)
    output = (run.stdout + run.stderr)[-4000:]
    if run.status == "error":  # the grader's fault, not the learner's: no grade rather than a wrong 0
        raise RuntimeError(f"the sandbox failed while grading {notebook or exercise.id}: {run.message}")
    if run.status != "ok":
        outcome = Outcome.TIMED_OUT if run.status == "timeout" else Outcome.CRASHED
        return ungraded(exercise, checks, notebook, run.message, outcome, note, output)
    if run.blocked_import:
        return ungraded(exercise, checks, notebook,
                           "the graded code tried to import bnlab, the course's reference implementation; "
                           "this exercise scores 0", Outcome.REFUSED, note, output)
    if run.setup_error:
        return ungraded(exercise, checks, notebook, run.setup_error, Outcome.CRASHED, note, output)
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
        return ungraded(exercise, checks, None,
                           f"missing notebook: no file named {exercise.id}*.ipynb (expected {exercise.notebook})",
                           Outcome.REFUSED, note)
    name = Path(path).name
    try:
        cells = read_graded_cells(path)
        check_functions_present(cells, exercise.functions, name)
    except NotebookError as exc:
        return ungraded(exercise, checks, name, str(exc), Outcome.REFUSED, note)
    return grade_cells(cells, exercise, checks, limits, name, note)
