"""Grade one exercise notebook: read its graded cells, run the checks' calls in the sandbox, verify.

Public and hidden checks never share a learner process: the public checks' calls run in one, the
hidden checks' calls in another started afresh, so hidden inputs never reach a process whose text
a student sees, nor a jail one of those runs in (``run_learner(..., hidden=True)``). From a hidden
run only values and fixed facts come back into feedback: a hidden check shows its name, its points
and the grader's own words, never an exception message, a print or an exception class name of
learner code.

Expected values are computed and compared only here, in the grader's process, by ``Check.verify``.
Every failure (bad notebook, missing function, syntax error, import of bnlab, timeout, crash, a
check that cannot read the learner's result) becomes a message, an :class:`Outcome` and 0 points,
never an exception. Only a failure of the sandbox itself (the grader's fault) raises RuntimeError,
so no grade is written.

Where each outcome is decided: PASSED, FAILED and NOT_IMPLEMENTED in :func:`judge` (from the
check's Verdict and the calls' ``not_implemented`` flags, which the worker sends); TIMED_OUT and
CRASHED in :func:`grade_cells` from the sandbox run's status and the graded cells' setup error;
REFUSED where the grader declines to run the code (:func:`grade_notebook`, :func:`grade_cells`,
and the public checks when a function is bnlab's own).
"""
from __future__ import annotations

import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from bnlab.grading.core.notebook import (NotebookError, check_functions_present, check_source_size, forbidden_imports,
                                         read_graded_cells)
from bnlab.grading.core.spec import Call, CallOutcome, Check, Exercise, Outcome, Ref, Verdict
from bnlab.grading.sandbox.client import DEFAULT_LIMITS, Limits, run_learner


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
    def from_dict(cls, d: dict) -> ExerciseResult:
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
    """Worker call dicts for all checks (keys made unique per check) and each check's own Call list."""
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


def changed_arguments(call: Call, after, missing_changed: bool = True) -> tuple[str, ...]:
    """The array arguments the grader sent in ``call`` that came back different, compared here.

    ``after`` is ``{"args": [...], "kwargs": {...}}``: what the learner's process sent back after the call
    (plain data; an argument missing from it counts as changed), or with ``missing_changed=False`` what
    the grader read back from its shared memory (None where it shared nothing: no opinion). Labels: "0",
    "1"... by position, the name for a keyword, "0['W1']" inside a dict or list argument.
    """
    changed: list[str] = []
    back = after if isinstance(after, dict) else {}
    back_args, back_kwargs = back.get("args"), back.get("kwargs")

    def item(container, index):
        if isinstance(container, dict):
            return container.get(index)
        if isinstance(container, (list, tuple)) and isinstance(index, int) and index < len(container):
            return container[index]
        return None

    def walk(label, sent, found, depth=0):
        if isinstance(sent, np.ndarray):
            if found is None and not missing_changed:
                return
            try:
                same = (isinstance(found, np.ndarray) and found.shape == sent.shape
                        and bool(np.array_equal(found, sent, equal_nan=sent.dtype.kind in "fc")))
            except (TypeError, ValueError):
                same = False
            if not same:
                changed.append(label)
        elif isinstance(sent, dict) and depth < 5:
            for k, v in sent.items():
                walk(f"{label}[{k!r}]", v, item(found, k), depth + 1)
        elif isinstance(sent, (list, tuple)) and depth < 5:
            for i, v in enumerate(sent):
                walk(f"{label}[{i}]", v, item(found, i), depth + 1)

    for i, sent in enumerate(call.args):
        walk(str(i), sent, item(back_args, i))
    for k, sent in call.kwargs.items():
        walk(k, sent, item(back_kwargs, k))
    return tuple(changed)


FAILURE_WORDS = {  # a failed call's kind (a fixed word from the worker) -> what a hidden check says
    "not_implemented": "it is not implemented yet",
    "memory": "it ran out of memory",
    "file_size": "it printed or wrote too much",
    "missing": "the function is not defined",
    "unusable": "its result could not be used",
    "exception": "your code raised an exception",
}


def outcome_of(raw, call: Call | None = None, shared_after: dict | None = None) -> CallOutcome:
    """A worker outcome dict (untrusted plain data) as a CallOutcome; with ``call`` (made with copy_check),
    the arguments are compared here with those the grader sent: an argument is modified if the grader's
    own shared memory (``shared_after``, from ``run.shared_after``) says so, or if the worker's report
    (forgeable, but the only one to see an argument rebound to a new array) says so."""
    if not isinstance(raw, dict):
        return CallOutcome(False, error="no result came back for this call")
    ok = raw.get("ok") is True
    modified: tuple[str, ...] = ()
    if ok and call is not None and call.copy_check:
        seen = changed_arguments(call, shared_after, missing_changed=False) if shared_after else ()
        modified = tuple(dict.fromkeys(seen + changed_arguments(call, raw.get("inputs"))))
    kind = raw.get("kind") if raw.get("kind") in FAILURE_WORDS else "exception"
    return CallOutcome(ok=ok, value=raw.get("value"), error=str(raw.get("error") or ""), modified=modified,
                       not_implemented=not ok and raw.get("not_implemented") is True, kind="" if ok else kind)


def _failure_kind(failed: CallOutcome) -> str:
    """What a failed call of a hidden check did, in the grader's words only (never learner text)."""
    if failed.not_implemented:
        return FAILURE_WORDS["not_implemented"]
    return FAILURE_WORDS.get(failed.kind, FAILURE_WORDS["exception"])


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
        detail = ("".join(traceback.format_exception_only(type(exc), exc)).strip() if check.visibility != "hidden"
                  else type(exc).__name__)  # a hidden value could be in the exception's text
        return CheckResult(check.name, check.visibility, 0.0, float(check.points), Outcome.FAILED, message,
                           check.description, detail=f"verify raised {detail}")
    fraction = verdict.fraction if verdict.fraction is not None else float(bool(verdict.passed))
    fraction = min(1.0, max(0.0, float(fraction)))
    first_failed = next((o for o in outputs.values() if not o.ok), None)  # calls in the check's order
    shown_from_call = check.visibility == "hidden" and first_failed is not None
    # a learner error message may spell a hidden input: a hidden check shows only the grader's words
    shown = _failure_kind(first_failed) if shown_from_call else message
    return CheckResult(check.name, check.visibility, round(check.points * fraction, 6), float(check.points),
                       _outcome(verdict, fraction, first_failed, shown_from_call), shown, check.description,
                       detail=shown if shown_from_call else message)  # (a verify may quote the call's error)


def ungraded(exercise: Exercise, checks: list[Check], notebook: str | None, problem: str, outcome: Outcome,
             note: str = "", output: str = "") -> ExerciseResult:
    """Every check 0 points with the same ``outcome``: ``problem`` kept the code from being graded."""
    short = problem.splitlines()[0] if problem else "not graded"
    results = [CheckResult(c.name, c.visibility, 0.0, float(c.points), outcome, f"not graded: {short}",
                           c.description) for c in checks]
    return ExerciseResult(exercise.id, exercise.title, notebook, 0.0, float(sum(c.points for c in checks)),
                          results, problem=problem, note=note, output=output)


def grade_cells(cells, exercise: Exercise, checks: list[Check], limits: Limits = DEFAULT_LIMITS,
                notebook: str | None = None, note: str = "") -> ExerciseResult:
    """Grade graded cells (:class:`~bnlab.grading.core.notebook.GradedCell` list) against ``checks``."""
    return _to_the_end(_cells_grading(cells, exercise, checks, limits, notebook, note))


def _to_the_end(grading) -> ExerciseResult:
    """Run a grading generator (public run, ``yield``, hidden run) to its result."""
    while True:
        try:
            next(grading)
        except StopIteration as done:
            return done.value


def _public_part(grading) -> ExerciseResult | None:
    """Run a grading generator up to its hidden run: its result if it ended there (nothing hidden to run)."""
    try:
        next(grading)
    except StopIteration as done:
        return done.value
    return None


def _cells_grading(cells, exercise: Exercise, checks: list[Check], limits: Limits, notebook: str | None,
                   note: str):
    """:func:`grade_cells` as a generator that pauses (``yield``) between its public and its hidden run."""
    try:
        check_source_size(cells)
        bad = [f"cell {c.index + 1} ({c.name}) {hit}" for c in cells for hit in forbidden_imports(c.source)]
    except NotebookError as exc:  # too big or too deep to check: not run, this exercise scores 0
        return ungraded(exercise, checks, notebook, f"{exc}; this exercise scores 0", Outcome.REFUSED, note)
    if bad:
        return ungraded(exercise, checks, notebook,
                           "a graded cell imports bnlab, the course's reference implementation; graded cells must "
                           "implement the function themselves, so this exercise scores 0. Remove: " + "; ".join(bad),
                           Outcome.REFUSED, note)
    source = [(c.name, c.index, c.source) for c in cells]
    public = [i for i, c in enumerate(checks) if c.visibility != "hidden"]
    hidden = [i for i, c in enumerate(checks) if c.visibility == "hidden"]
    # The public process first (it also runs the cells when there are no public checks): its messages
    # are the learner's own, for inputs the learner sees. It never receives a hidden input.
    run, judged = _run_checks(source, [checks[i] for i in public], limits, notebook or exercise.id, hidden=False)
    output = run.stdout[-4000:]
    if run.status != "ok":
        outcome = Outcome.TIMED_OUT if run.status == "timeout" else Outcome.CRASHED
        return ungraded(exercise, checks, notebook, run.message, outcome, note, output)
    if run.blocked_import:
        return ungraded(exercise, checks, notebook,
                           "the graded code tried to import bnlab, the course's reference implementation; "
                           "this exercise scores 0", Outcome.REFUSED, note, output)
    if run.setup_error:
        return ungraded(exercise, checks, notebook, run.setup_error, Outcome.CRASHED, note, output)
    results: list[CheckResult] = [None] * len(checks)  # type: ignore[list-item]
    for i, result in zip(public, judged):
        results[i] = result
    if hidden:  # a new process: nothing of it but values and the grader's own words reaches any feedback
        yield  # (grade_notebooks runs every public run of a student before any hidden one)
        hidden_run, judged = _run_checks(source, [checks[i] for i in hidden], limits, notebook or exercise.id,
                                         hidden=True)
        problem, outcome = _hidden_problem(hidden_run)
        for k, i in enumerate(hidden):
            c = checks[i]
            results[i] = judged[k] if not problem else CheckResult(c.name, c.visibility, 0.0, float(c.points),
                                                                   outcome, f"not graded: {problem}", c.description)
    return ExerciseResult(exercise.id, exercise.title, notebook, round(sum(r.points for r in results), 6),
                          float(sum(c.points for c in checks)), results, note=note, output=output)


def _run_checks(source, checks: list[Check], limits: Limits, where: str, hidden: bool):
    """Run ``checks``' calls in one new learner process (of a jail for ``hidden`` runs only, if ``hidden``):
    (the run, each check's result when it ran)."""
    worker_calls, per_check = encode_calls(checks)
    run = run_learner(source, worker_calls, limits, hidden=hidden)
    if run.status == "error":  # the grader's fault, not the learner's: no grade rather than a wrong 0
        raise RuntimeError(f"the sandbox failed while grading {where}: {run.message}")
    if run.status != "ok" or run.blocked_import or run.setup_error:
        return run, []
    judged = []
    for i, (check, calls) in enumerate(zip(checks, per_check)):
        outputs = {call.key: outcome_of(run.outcomes.get(f"{i}:{call.key}"), call,
                                        run.shared_after.get(f"{i}:{call.key}")) for call in calls}
        judged.append(judge(check, outputs))
    return run, judged


def _hidden_problem(run) -> tuple[str, Outcome | None]:
    """Why the hidden checks' process gave no results, in the grader's words only ("" if it did)."""
    if run.status == "timeout":
        return run.summary, Outcome.TIMED_OUT
    if run.status != "ok":
        return run.summary, Outcome.CRASHED
    if run.blocked_import:
        return "the graded code tried to import bnlab when run for the hidden checks", Outcome.REFUSED
    if run.setup_error:
        return "the graded cells failed when run again for the hidden checks", Outcome.CRASHED
    return "", None


def grade_notebook(path: str | Path | None, exercise: Exercise, checks: list[Check], limits: Limits = DEFAULT_LIMITS,
                   note: str = "") -> ExerciseResult:
    """Grade the notebook at ``path`` (None: missing) for ``exercise`` with ``checks`` (public + hidden)."""
    return _to_the_end(_notebook_grading(path, exercise, checks, limits, note))


def grade_notebooks(notebooks: list[tuple]) -> list[ExerciseResult]:
    """Grade one student's notebooks, each ``(path, exercise, checks, limits, note)`` as for
    :func:`grade_notebook`: every public run first, then every hidden run. So no public run, whose text the
    student sees, starts after a hidden run: learner code cannot carry a hidden input into feedback through
    anything that outlives a run, the clock included (a hidden run could wait until a time that spells it)."""
    gradings = [_notebook_grading(*notebook) for notebook in notebooks]
    results = [_public_part(grading) for grading in gradings]
    return [result if result is not None else _to_the_end(grading) for result, grading in zip(results, gradings)]


def _notebook_grading(path, exercise: Exercise, checks: list[Check], limits: Limits, note: str):
    """:func:`grade_notebook` as a generator, as :func:`_cells_grading`."""
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
    return (yield from _cells_grading(cells, exercise, checks, limits, name, note))
