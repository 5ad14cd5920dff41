"""Grading commands: ``bnlab check``, ``bnlab grade``, ``bnlab release``, ``bnlab gradescope``.

Registered by :func:`add_subcommand`; heavy imports happen inside each command so ``bnlab --version``
stays instant. ``python -m bnlab.grading.cli ...`` runs the same commands.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path


def _limits(args, jail: bool = False):
    from bnlab.grading.shared.sandbox import Limits

    return Limits(timeout=args.timeout, memory_mb=args.memory, jail=jail)


def _limits_note() -> str:
    """One line when this system cannot set every limit on learner code ("" when it can)."""
    from bnlab.grading.shared.sandbox import limits_in_effect

    found = limits_in_effect()
    if {"CPU time", "memory", "processes", "file size"} <= set(found):
        return ""
    return (f"note: on this system only these limits apply to your code: {', '.join(found)} "
            "(the grader applies them all)")


def _course(args, public_only: bool = False, only: str | None = None):
    from bnlab.grading.shared.course import load_course, load_course_file

    if getattr(args, "course", None):
        return load_course_file(args.course)
    return load_course(getattr(args, "instructor", None), public_only=public_only, only=only)


def run_check(args) -> int:
    from bnlab.grading.shared import sandbox

    sandbox.prestart()  # the learner process's numpy loads while this one loads the checks
    from bnlab.grading.shared.course import CourseError
    from bnlab.grading.shared.engine import grade_notebook
    from bnlab.grading.shared.report import console_report

    path = Path(args.notebook)
    match = re.match(r"(?i)(ex\d+)", path.name)
    try:
        if not match:
            raise CourseError(f"cannot tell the exercise of {path.name}: exercise notebooks are named exNN_...ipynb")
        ex_id = match.group(1).lower()
        graded = _course(args, public_only=True, only=ex_id).get(ex_id)
    except CourseError as exc:
        print(f"bnlab check: {exc}", file=sys.stderr)
        return 2
    note = _limits_note()
    if note:
        print(f"bnlab check: {note}", file=sys.stderr)
    start = time.monotonic()
    try:
        result = grade_notebook(path if path.exists() else None, graded.exercise, list(graded.public), _limits(args))
    except RuntimeError as exc:
        print(f"bnlab check: {exc}", file=sys.stderr)
        return 2
    print(console_report(result, public_only=True))
    if args.time:
        print(f"checked in {time.monotonic() - start:.2f} s", file=sys.stderr)
    return 0 if result.checks and all(c.passed for c in result.checks) else 1


def _jail_or_refusal(args) -> tuple[bool, str]:
    """(use the jail, "") or (False, why bnlab grade refuses). ``--no-jail`` makes it (False, "")."""
    from bnlab.grading.shared import jail

    if args.no_jail:
        return False, ""
    if not sys.platform.startswith("linux"):
        return False, (f"learner code is graded inside a bubblewrap jail, which needs Linux (this is {sys.platform}). "
                       "Grade on a Linux machine, or upload the Gradescope bundle (bnlab gradescope --out DIR); "
                       "--no-jail grades here without it (see bnlab grade --help for what that gives up)")
    ok, why = jail.probe()
    if not ok:
        return False, (f"learner code is graded inside a bubblewrap jail, and {why}. "
                       "--no-jail grades without it (see bnlab grade --help for what that gives up)")
    return True, ""


def run_grade(args) -> int:
    from bnlab.grading.shared.course import CourseError
    from bnlab.grading.instructor.gradebook import grade_submissions
    from bnlab.grading.shared.sandbox import isolation_of

    try:
        course = _course(args)
    except CourseError as exc:
        print(f"bnlab grade: {exc}", file=sys.stderr)
        return 2
    jailed, refusal = _jail_or_refusal(args)
    if refusal:
        print(f"bnlab grade: {refusal}", file=sys.stderr)
        return 2
    limits = _limits(args, jail=jailed)
    if jailed:
        from bnlab.grading.shared.jail import describe
        print(f"bnlab grade: learner code runs in a {describe()}", file=sys.stderr)
    else:
        print(f"bnlab grade: warning: --no-jail: learner code runs as a plain {isolation_of(limits)}: it can read "
              "every file its user can and use the network" + ("" if isolation_of(limits) != "process" else
              ", and it runs as you") + "; see exercises/README.md", file=sys.stderr)
    start = time.monotonic()
    try:
        summary = grade_submissions(args.submissions, args.out, course, jobs=args.jobs, limits=limits)
    except FileNotFoundError as exc:
        print(f"bnlab grade: {exc}", file=sys.stderr)
        return 2
    print(f"{summary.students} students: {summary.graded} graded, {summary.skipped} unchanged (skipped)"
          + (f", {len(summary.failed)} failed: {', '.join(summary.failed)}" if summary.failed else "")
          + f" in {time.monotonic() - start:.1f} s; grades in {Path(args.out) / 'grades.csv'}")
    return 1 if summary.failed else 0


def run_release(args) -> int:
    from bnlab.grading.instructor.bundles import BundleError, build_release

    try:
        out = build_release(args.out, args.source)
    except BundleError as exc:
        print(f"bnlab release: {exc}", file=sys.stderr)
        return 2
    print(f"student release written to {out} (no solutions, mutants or hidden checks)")
    return 0


def run_gradescope(args) -> int:
    from bnlab.grading.instructor.bundles import BundleError, build_gradescope
    from bnlab.grading.shared.course import CourseError

    try:
        out = build_gradescope(args.out, args.instructor, args.source, args.exercises)
    except (BundleError, CourseError) as exc:
        print(f"bnlab gradescope: {exc}", file=sys.stderr)
        return 2
    print(f"Gradescope autograder written to {out}; upload {out / 'autograder.zip'}")
    return 0


def _sandbox_options(p, timeout: float) -> None:
    p.add_argument("--timeout", type=float, default=timeout, metavar="S",
                   help=f"wall-clock seconds per exercise notebook (default {timeout:g})")
    p.add_argument("--memory", type=int, default=1024, metavar="MB", help="memory limit of learner code (default 1024)")
    p.add_argument("--course", help=argparse.SUPPRESS)  # a course file (tests; see course.load_course_file)


def add_subcommand(subparsers) -> None:
    p = subparsers.add_parser("check", help="learners: run the public checks of an exercise notebook",
                              description="Run the public checks of one exercise notebook in an isolated process.")
    p.add_argument("notebook", help="exNN_....ipynb")
    p.add_argument("--time", action="store_true", help="print how long the check took")
    _sandbox_options(p, 10.0)
    p.set_defaults(run=run_check)

    p = subparsers.add_parser("grade", help="instructors: grade a folder of submissions",
                              description="Grade SUBMISSIONS (one folder per student) into OUT: grades.csv, "
                                          "students/<student>/results.json, feedback.md. Learner code runs in a "
                                          "bubblewrap jail (Linux; install the bubblewrap package).")
    p.add_argument("submissions", metavar="SUBMISSIONS")
    p.add_argument("--out", required=True, metavar="OUT")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="students graded in parallel (default 1)")
    p.add_argument("--instructor", metavar="DIR", help="folder with hidden/exNN.py (default: exercises/instructor)")
    p.add_argument("--no-jail", action="store_true",
                   help="grade without the bubblewrap jail, where it cannot run. Gives up: learner code can then "
                        "read every file its user can (other students' submissions if readable, system files), "
                        "use the network, and, unless you grade as root, act as you (read and change your files, "
                        "signal your processes); it is still a separate, limited process returning plain data")
    _sandbox_options(p, 30.0)
    p.set_defaults(run=run_grade)

    p = subparsers.add_parser("release", help="instructors: build the student bundle (no hidden material)")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--source", help="the bnlab checkout (default: the one this package runs from)")
    p.set_defaults(run=run_release)

    p = subparsers.add_parser("gradescope", help="instructors: build the Gradescope autograder bundle")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--exercises", default="all", metavar="IDS",
                   help='what the Gradescope assignment grades: "all" (default) or e.g. "ex01,ex02"')
    p.add_argument("--instructor", metavar="DIR", help="folder with hidden/exNN.py (default: exercises/instructor)")
    p.add_argument("--source", help="the bnlab checkout (default: the one this package runs from)")
    p.set_defaults(run=run_gradescope)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bnlab.grading.cli")
    add_subcommand(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
