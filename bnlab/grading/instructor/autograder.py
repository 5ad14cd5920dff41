"""Gradescope entry point: grade ``ROOT/submission`` into ``ROOT/results/results.json``.

``run_autograder`` (built by ``bnlab gradescope``) calls ``python -m bnlab.grading.instructor.autograder --root
/autograder``; the hidden checks come from ``$BNLAB_INSTRUCTOR``. Each exercise is graded as ``bnlab grade``
grades it: in the bubblewrap jail when it can start in this container, otherwise in the plain process
sandbox (as root: a throwaway uid, which ``run_autograder`` keeps out of the package and hidden checks).
results.json says which isolation was used, and is written whatever happens. The hidden checks' inputs are
the student's own: salted by the bundle's grading key (``$BNLAB_INSTRUCTOR/grading.key``) and the Gradescope
user id of ``submission_metadata.json`` (:func:`student_salt_of`).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

from bnlab.grading.shared.course import CourseError, instructor_dir, load_course
from bnlab.grading.shared.engine import grade_notebook
from bnlab.grading.instructor.gradebook import atomic_write, match_notebooks
from bnlab.grading.shared.report import gradescope_results, late_note
from bnlab.grading.shared.sandbox import Limits, jail_session
from bnlab.grading.shared.student_inputs import checks_for_student, student_salt


def _isolation() -> tuple[bool, str]:
    """(use the jail, a sentence for results.json saying which isolation learner code got)."""
    from bnlab.grading.shared import jail

    ok, why = jail.probe()
    if ok:
        return True, f"Isolation: learner code ran in a {jail.describe()}."
    return False, (f"Isolation: learner code ran WITHOUT the bubblewrap jail ({why}); it ran as a separate, "
                   "limited process (as a throwaway user when the autograder runs as root) inside Gradescope's "
                   "container.")


def _failure(results_path: Path, message: str) -> None:
    atomic_write(results_path, json.dumps({"score": 0, "output": message, "tests": []}, indent=2) + "\n", mode=0o644)
    print(message, file=sys.stderr)


def student_salt_of(root: Path) -> int:
    """The salt of this submission's hidden inputs: the bundle's grading key and the student's Gradescope id
    (``users[].id`` of ``ROOT/submission_metadata.json``, else the email; of a group, the first in sorted order,
    whoever submits; "" when there is none)."""
    from bnlab.grading.instructor.grading_key import KEY_FILE, GradingKeyError, read_key

    try:
        key = read_key(instructor_dir() / KEY_FILE)
    except GradingKeyError as exc:
        raise CourseError(f"{exc}; rebuild the bundle with bnlab gradescope, which includes the key") from None
    try:
        users = json.loads((root / "submission_metadata.json").read_text(encoding="utf-8")).get("users") or [{}]
        student = min(str(user.get("id") or user.get("email") or "") for user in users)
    except (OSError, ValueError, AttributeError, TypeError):
        student = ""
    return student_salt(key, student)


def grade(root: Path, exercises: str, timeout: float) -> dict:
    start = time.monotonic()
    course = load_course()
    salt = student_salt_of(root)
    jailed, isolation = _isolation()
    limits = Limits(timeout=timeout, jail=jailed)
    wanted = None if exercises == "all" else {e.strip() for e in exercises.split(",")}
    results = []
    with jail_session():  # one student: one jail for all the notebooks
        for graded in course.exercises:
            if wanted is not None and graded.exercise.id not in wanted:
                continue
            path, note = match_notebooks(root / "submission", graded.exercise.id)
            results.append(grade_notebook(path, graded.exercise, checks_for_student(graded, salt), limits, note))
    payload = gradescope_results(results, execution_time=time.monotonic() - start)
    notes = [payload["output"]] if payload.get("output") else []  # e.g. which of several notebooks was graded
    try:
        late = late_note(json.loads((root / "submission_metadata.json").read_text(encoding="utf-8")))
    except (OSError, ValueError):
        late = ""
    notes += [late] if late else []
    payload["output"] = ("Public checks are shown now; hidden checks (and the total) appear when grades are "
                         "published.\n" + "".join(n + "\n" for n in notes) + isolation)
    payload["stdout_visibility"] = "hidden"
    payload["extra_data"] = {"isolation": "bubblewrap" if jailed else "process", "detail": isolation}
    for r in results:
        print(f"{r.exercise}: {r.points:g}/{r.max_points:g}" + (f" ({r.problem.splitlines()[0]})" if r.problem else ""))
    print(isolation)
    return payload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bnlab.grading.instructor.autograder")
    parser.add_argument("--root", default="/autograder")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--exercises", default="all", help='"all" or ids separated by commas: "ex01,ex02"')
    args = parser.parse_args(argv)
    root = Path(args.root)
    results_path = root / "results" / "results.json"
    try:
        payload = grade(root, args.exercises, args.timeout)
    except CourseError as exc:
        _failure(results_path, f"autograder misconfigured: {exc}")
        return 1
    except Exception as exc:  # noqa: BLE001 - the grader's own failure: say so instead of no results at all
        traceback.print_exc()
        _failure(results_path, f"the autograder failed ({type(exc).__name__}: {exc}); this is not your code's fault: "
                               "ask your instructor to regrade")
        return 1
    atomic_write(results_path, json.dumps(payload, indent=2) + "\n", mode=0o644)
    return 0


if __name__ == "__main__":
    sys.exit(main())
