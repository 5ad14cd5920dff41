"""Gradescope entry point: grade ``ROOT/submission`` into ``ROOT/results/results.json``.

``run_autograder`` (built by ``bnlab gradescope``) calls ``python -m bnlab.grading.instructor.autograder --root
/autograder``; the hidden checks come from ``$BNLAB_INSTRUCTOR``. Each exercise is graded in the same
sandbox as ``bnlab grade``; Gradescope's container adds the isolation this process cannot.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bnlab.grading.shared.course import CourseError, load_course
from bnlab.grading.shared.engine import grade_notebook
from bnlab.grading.instructor.gradebook import atomic_write, match_notebooks
from bnlab.grading.shared.report import gradescope_results
from bnlab.grading.shared.sandbox import Limits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bnlab.grading.instructor.autograder")
    parser.add_argument("--root", default="/autograder")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--exercises", default="all", help='"all" or ids separated by commas: "ex01,ex02"')
    args = parser.parse_args(argv)
    root = Path(args.root)
    results_path = root / "results" / "results.json"
    try:
        course = load_course()
    except CourseError as exc:
        atomic_write(results_path, json.dumps({"score": 0, "output": f"autograder misconfigured: {exc}",
                                               "tests": []}, indent=2) + "\n")
        print(exc, file=sys.stderr)
        return 1
    limits = Limits(timeout=args.timeout)
    results = []
    wanted = None if args.exercises == "all" else {e.strip() for e in args.exercises.split(",")}
    for graded in course.exercises:
        if wanted is not None and graded.exercise.id not in wanted:
            continue
        path, note = match_notebooks(root / "submission", graded.exercise.id)
        results.append(grade_notebook(path, graded.exercise, graded.checks, limits, note))
    payload = gradescope_results(results)
    payload["output"] = ("Public checks are shown now; hidden checks (and the total) appear when grades are "
                         "published.")
    payload["stdout_visibility"] = "hidden"
    atomic_write(results_path, json.dumps(payload, indent=2) + "\n")
    for r in results:
        print(f"{r.exercise}: {r.points:g}/{r.max_points:g}" + (f" ({r.problem.splitlines()[0]})" if r.problem else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
