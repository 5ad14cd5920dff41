"""The learner's check: the public-check cell of an exercise notebook, ``run_public_checks("ex01", globals())``.

The calls run in the kernel against the learner's functions, but results still go through plain
data (:mod:`bnlab.grading.sandbox.plain`) before ``verify``, exactly as in the grader, and inputs are fresh
copies. The printed report is deterministic (notebooks store it and nbval compares it).
"""
from __future__ import annotations

from bnlab.grading.core.engine import ExerciseResult, encode_calls, judge, outcome_of, ungraded
from bnlab.grading.core.report import console_report
from bnlab.grading.core.spec import Check, Exercise, Outcome
from bnlab.grading.sandbox import plain, worker


def _reference_problem(exercise: Exercise, namespace: dict) -> str:
    for name in exercise.functions:
        module = getattr(namespace.get(name), "__module__", "") or ""
        if module == "bnlab" or module.startswith("bnlab."):
            return (f"{name} is bnlab's reference implementation ({module}), not yours: graded cells must not "
                    "import bnlab, and the grader scores this exercise 0")
    return ""


def public_result(exercise: Exercise, checks: list[Check], namespace: dict) -> ExerciseResult:
    """Run ``checks`` in this process against the functions in ``namespace`` and score them."""
    maximum = float(sum(c.points for c in checks))
    problem = _reference_problem(exercise, namespace)
    if problem:
        return ungraded(exercise, checks, None, problem, Outcome.REFUSED)
    worker_calls, per_check = encode_calls(checks)
    worker_calls = plain.unpack(plain.pack(worker_calls))  # fresh copies, as the sandbox would get
    raw = worker.execute_calls(worker_calls, namespace)
    raw = plain.unpack(plain.pack(raw))
    results = []
    for i, (check, calls) in enumerate(zip(checks, per_check)):
        outputs = {call.key: outcome_of(raw.get(f"{i}:{call.key}"), call) for call in calls}
        results.append(judge(check, outputs))
    return ExerciseResult(exercise.id, exercise.title, None, round(sum(r.points for r in results), 6), maximum,
                          results)


def run_public_checks(ex_id: str, namespace: dict) -> None:
    """Print PASS/FAIL per public check of exercise ``ex_id`` for the functions defined in ``namespace``."""
    from bnlab.grading.checks import load_exercise

    module = load_exercise(ex_id)
    print(console_report(public_result(module.EXERCISE, list(module.PUBLIC_CHECKS), namespace), public_only=True))
