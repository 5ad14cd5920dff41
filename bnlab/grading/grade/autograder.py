"""Gradescope entry point: grade ``ROOT/submission`` into ``ROOT/results/results.json``.

``run_autograder`` (built by ``bnlab gradescope``) calls ``python -m bnlab.grading.grade.autograder --root
/autograder``; the hidden checks come from ``$BNLAB_INSTRUCTOR``. Each exercise is graded as ``bnlab grade``
grades it: in the bubblewrap jail. Where the jail cannot start in this container, the submission gets 0 and
the reason, for the instructor (never a silent fallback); with ``--no-jail`` (a bundle built with
``bnlab gradescope --no-jail``) learner code runs in the plain process sandbox instead (as root: a throwaway
uid, which ``run_autograder`` keeps out of the package and hidden checks). results.json is written whatever
happens; it says which isolation ran (``extra_data``: isolation, bwrap's version and package) and, from
``submission_metadata.json``, whether the submission was late (``extra_data.late``; the score is unchanged).
The hidden checks' inputs are the student's own: salted by the bundle's grading key
(``$BNLAB_INSTRUCTOR/grading.key``) and the Gradescope user id of ``submission_metadata.json``
(:func:`student_salt_of`).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import traceback
from pathlib import Path

from bnlab.grading.checks import instructor_dir, load_course
from bnlab.grading.core.course import CourseError
from bnlab.grading.core.engine import grade_notebooks
from bnlab.grading.core.report import gradescope_results, late_note, lateness
from bnlab.grading.core.student_inputs import student_salt
from bnlab.grading.grade.gradebook import atomic_write, student_notebooks
from bnlab.grading.sandbox.client import Limits, jail_session


MAX_METADATA_BYTES = 2**20  # Gradescope's submission_metadata.json is a few KB


class JailRefused(Exception):
    """The jail cannot run in this container: nothing is graded (the message says why, for the instructor)."""


def read_submission_metadata(root: Path) -> dict:
    """Gradescope's ``ROOT/submission_metadata.json`` (``created_at``, ``assignment`` with ``due_date`` and
    ``late_due_date``, ``users`` with ``name``, ``email``, ``id``, ...) as a dict; {} when it is missing,
    larger than MAX_METADATA_BYTES or not a JSON object."""
    try:
        with open(root / "submission_metadata.json", "rb") as f:
            data = f.read(MAX_METADATA_BYTES + 1)
        metadata = json.loads(data.decode("utf-8")) if len(data) <= MAX_METADATA_BYTES else {}
    except (OSError, ValueError, RecursionError):
        return {}
    return metadata if isinstance(metadata, dict) else {}


def late_record(metadata: dict) -> dict:
    """results.json's ``extra_data.late``: late (None when the dates are unknown), minutes after the due
    date, the due dates, and whether it came after the late due date too."""
    when = lateness(metadata)
    if when is None:
        return {"late": None}
    return {"late": when.late, "minutes_late": when.minutes, "due_date": when.due.isoformat(),
            "late_due_date": when.late_due.isoformat() if when.late_due else None,
            "after_late_due_date": when.after_late_due}


def installed_bubblewrap() -> str:
    """The bubblewrap package's version as the system's package manager (dpkg) has it installed, or ""."""
    try:
        found = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "bubblewrap"], capture_output=True,
                               text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ""
    return found.stdout.strip() if found.returncode == 0 else ""


def isolation(no_jail: bool) -> tuple[bool, str, dict]:
    """(use the jail, the sentence for results.json, its ``extra_data``), or JailRefused when the jail
    cannot run and ``no_jail`` was not asked for."""
    from bnlab.grading.sandbox import jail

    if no_jail:
        return False, ("Isolation: learner code ran WITHOUT the bubblewrap jail (the bundle was built with "
                       "--no-jail): as a separate, limited process (as a throwaway user when the autograder runs "
                       "as root) inside Gradescope's container."), {"isolation": "process", "bwrap": None}
    ok, why = jail.probe()
    package = installed_bubblewrap()
    if not ok:
        raise JailRefused(
            f"the bubblewrap jail that grades learner code cannot run in this Gradescope container: {why} "
            f"(bubblewrap package: {package or 'not installed'}). This is not your code's fault. For the "
            "instructor: see the autograder build log of setup.sh; to grade without the jail, rebuild the "
            "bundle with bnlab gradescope --no-jail (bnlab grade --help says what that gives up).")
    return True, f"Isolation: learner code ran in a {jail.describe()}.", {
        "isolation": "bubblewrap", "bwrap": jail.bwrap_version(), "bubblewrap_package": package or None}


def _failure(results_path: Path, message: str) -> None:
    payload = {"score": 0, "output": message, "tests": [], "extra_data": {"isolation": "none"}}
    atomic_write(results_path, json.dumps(payload, indent=2) + "\n", mode=0o644)
    print(message, file=sys.stderr)


def student_salt_of(metadata: dict) -> int:
    """The salt of this submission's hidden inputs: the bundle's grading key and the student's Gradescope id
    (``users[].id`` of :func:`read_submission_metadata`, else the email; of a group, the first in sorted order,
    whoever submits; "" when there is none)."""
    from bnlab.grading.grade.grading_key import KEY_FILE, GradingKeyError, read_key

    try:
        key = read_key(instructor_dir() / KEY_FILE)
    except GradingKeyError as exc:
        raise CourseError(f"{exc}; rebuild the bundle with bnlab gradescope, which includes the key") from None
    try:
        users = metadata.get("users") or [{}]
        student = min(str(user.get("id") or user.get("email") or "") for user in users)
    except (AttributeError, TypeError):
        student = ""
    return student_salt(key, student)


def grade(root: Path, exercises: str, timeout: float, no_jail: bool = False) -> dict:
    course = load_course()
    jailed, sentence, isolation_data = isolation(no_jail)
    metadata = read_submission_metadata(root)
    salt = student_salt_of(metadata)
    limits = Limits(timeout=timeout, jail=jailed)
    wanted = None if exercises == "all" else {e.strip() for e in exercises.split(",")}
    notebooks = student_notebooks(root / "submission", course, salt, limits, wanted)
    with jail_session():  # one student: a jail for the public runs, one for the hidden runs
        results = grade_notebooks(notebooks)  # every public run before any hidden one
    payload = gradescope_results(results)
    notes = [payload["output"]] if payload.get("output") else []  # e.g. which of several notebooks was graded
    late = late_note(metadata)
    notes += [late] if late else []
    payload["output"] = ("Public checks are shown now; hidden checks (and the total) appear when grades are "
                         "published.\n" + "".join(n + "\n" for n in notes) + sentence)
    payload["stdout_visibility"] = "hidden"
    payload["extra_data"] = {**isolation_data, "detail": sentence, "late": late_record(metadata)}
    for r in results:
        print(f"{r.exercise}: {r.points:g}/{r.max_points:g}" + (f" ({r.problem.splitlines()[0]})" if r.problem else ""))
    print(sentence + (" " + late if late else ""))
    return payload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bnlab.grading.grade.autograder")
    parser.add_argument("--root", default="/autograder")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--exercises", default="all", help='"all" or ids separated by commas: "ex01,ex02"')
    parser.add_argument("--no-jail", action="store_true", help="grade without the bubblewrap jail (bnlab grade --help "
                                                               "says what that gives up)")
    args = parser.parse_args(argv)
    root = Path(args.root)
    results_path = root / "results" / "results.json"
    try:
        payload = grade(root, args.exercises, args.timeout, args.no_jail)
    except JailRefused as exc:
        _failure(results_path, f"The autograder did not grade this submission: {exc}")
        return 1
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
