"""Grade a class: ``bnlab grade SUBMISSIONS --out OUT [--jobs N] [--timeout S]``.

SUBMISSIONS holds one folder per student with that student's notebooks, matched to exercises by
their ``exNN`` prefix (``ex01_batchnorm_forward (1).ipynb`` counts; of several, the newest).
For each student OUT gets ``students/<student>/results.json`` (Gradescope format), ``feedback.md``
and ``grade.json`` (instructor state: the submission hash and all details), kept apart from the
gradebook ``OUT/grades.csv`` so no student name can collide with it. grades.csv is rebuilt from the
grade.json files after every student, so a killed batch loses nothing, and a rerun skips the students
whose submission hash (notebooks + checks version + grading key) did not change. A failure of the grader
itself is never written as a grade: that student is regraded next time.

Each student's hidden checks draw their inputs with that student's salt, HMAC-SHA256(grading key, student
folder name) (:mod:`bnlab.grading.core.student_inputs`): the same key and folder name give the same
inputs and grade on every rerun; without a key (``key=None``) every student gets the same hidden inputs.

Submissions are read without following symbolic links (a link to a classmate's notebook or folder
is ignored, and the feedback says so) and only as regular files; OUT is not world-readable.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from bnlab.grading.core.course import Course
from bnlab.grading.core.engine import ExerciseResult, grade_notebooks
from bnlab.grading.core.notebook import MAX_NOTEBOOK_BYTES
from bnlab.grading.core.report import feedback_markdown, gradescope_results
from bnlab.grading.core.student_inputs import checks_for_student, student_salt
from bnlab.grading.grade.grading_key import fingerprint
from bnlab.grading.grade.spreadsheet import csv_text
from bnlab.grading.grade.submissions import list_students, match_notebooks
from bnlab.grading.sandbox.client import DEFAULT_LIMITS, Limits, jail_session

STATE = "grade.json"
STUDENTS = "students"   # OUT/students/<student>/: per-student records, apart from OUT/grades.csv


def atomic_write(path: Path, text: str, mode: int = 0o640) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_regular(path: Path, cap: int) -> bytes | None:
    """The bytes of ``path`` if it is a regular file (not a link, FIFO or device) of at most ``cap`` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > cap:
            return None
        return f.read(cap + 1)[:cap]


def submission_hash(folder: Path, course: Course, limits: Limits, key: bytes | None = None) -> str:
    """Hash of what decides this student's grade: matched notebooks' names and bytes, checks version, limits,
    and which grading key (its fingerprint: another key gives other hidden inputs)."""
    digest = hashlib.sha256(f"{course.version}|{limits}|{'' if key is None else fingerprint(key)}".encode())
    for graded in course.exercises:
        path, note = match_notebooks(folder, graded.exercise.id)
        digest.update(f"|{graded.exercise.id}|{note}|".encode())
        if path is not None:
            digest.update(str(path.relative_to(folder)).encode() + b"\0")
            data = _read_regular(path, MAX_NOTEBOOK_BYTES)
            if data is None:  # too large or not a regular file: refused by the reader anyway
                stat_ = path.stat(follow_symlinks=False)
                digest.update(f"{stat_.st_size}:{stat_.st_mtime_ns}".encode())
            else:
                digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()


def grade_student(folder: Path, course: Course, limits: Limits, key: bytes | None = None) -> list[ExerciseResult]:
    """Every exercise of ``course`` for the student folder ``folder``; with ``key``, the hidden checks' inputs
    are this student's own (salted by the folder's name)."""
    salt = None if key is None else student_salt(key, folder.name)
    notebooks = student_notebooks(folder, course, salt, limits)
    with jail_session():  # this student's jails (one for public runs, one for hidden), ended before anyone else's
        return grade_notebooks(notebooks)  # every public run before any hidden one


def student_notebooks(folder: Path, course: Course, salt, limits: Limits, wanted: set | None = None) -> list[tuple]:
    """``(path, exercise, checks, limits, note)`` for :func:`engine.grade_notebooks`, one per exercise of ``course``
    (those in ``wanted``, if given): the notebook found in ``folder`` and the checks with this student's ``salt``."""
    notebooks = []
    for graded in course.exercises:
        if wanted is None or graded.exercise.id in wanted:
            path, note = match_notebooks(folder, graded.exercise.id)
            notebooks.append((path, graded.exercise, checks_for_student(graded, salt), limits, note))
    return notebooks


def student_dir(out: Path, student: str) -> Path:
    return out / STUDENTS / student


def write_student(out: Path, student: str, digest: str, results: list[ExerciseResult],
                  source: Path | None = None, course: Course | None = None, seconds: float | None = None,
                  name: str | None = None, key: bytes | None = None) -> dict:
    """results.json, feedback.md and feedback.html (the graded cells of ``source``, the student's folder;
    titled with ``name``, else ``student``), then grade.json last: its presence means the student is complete
    (it names the grading key by its fingerprint, never the key, and the seconds grading took, which results.json
    leaves out: learner code chooses how long its hidden runs take)."""
    from bnlab.grading.grade.feedback_html import feedback_html

    folder = student_dir(out, student)
    title = name or student
    atomic_write(folder / "results.json", json.dumps(gradescope_results(results), indent=2) + "\n")
    atomic_write(folder / "feedback.md", feedback_markdown(title, results))
    atomic_write(folder / "feedback.html", feedback_html(title, results, source, course))
    state = {"student": student, "name": title, "hash": digest, "key": None if key is None else fingerprint(key),
             "points": {r.exercise: r.points for r in results},
             "seconds": None if seconds is None else round(seconds, 1),  # the instructor's only: never results.json
             "max": {r.exercise: r.max_points for r in results},
             "total": round(sum(r.points for r in results), 6),
             "max_total": round(sum(r.max_points for r in results), 6),
             "exercises": [r.to_dict() for r in results]}
    atomic_write(folder / STATE, json.dumps(state, indent=1) + "\n")
    return state


def read_state(out: Path, student: str) -> dict | None:
    try:
        data = _read_regular(student_dir(out, student) / STATE, 64 * 2**20)
        state = json.loads(data.decode("utf-8")) if data is not None else None
        return state if isinstance(state, dict) and state.get("student") == student else None
    except (OSError, ValueError, RecursionError):
        return None


def grades_csv(states: list[dict], exercise_ids: list[str]) -> str:
    """One row per student: each exercise's points, total, max (every cell spreadsheet-safe)."""
    rows = [["student", *exercise_ids, "total", "max"]]
    for state in sorted(states, key=lambda s: s["student"]):
        points = state.get("points", {})
        rows.append([state["student"], *(f"{points.get(e, 0):g}" for e in exercise_ids),
                     f"{state['total']:g}", f"{state['max_total']:g}"])
    return csv_text(rows)


@dataclass
class BatchSummary:
    students: int
    graded: int
    skipped: int
    failed: list[str]


def grade_submissions(submissions: str | Path, out: str | Path, course: Course, jobs: int = 1,
                      limits: Limits = DEFAULT_LIMITS, progress=sys.stderr, names: dict[str, str] | None = None,
                      key: bytes | None = None) -> BatchSummary:
    """Grade every student folder of ``submissions`` into ``out`` (see the module docstring); ``names``
    (student folder -> name, from a roster or the Canvas manifest) title the feedback pages; ``key``: the
    grading key the hidden inputs are derived from (None: the same hidden inputs for everyone)."""
    submissions, out = Path(submissions), Path(out)
    students = list_students(submissions)
    out.mkdir(parents=True, exist_ok=True, mode=0o750)
    (out / STUDENTS).mkdir(exist_ok=True, mode=0o750)
    if os.name == "posix":  # grades and hidden-check messages: not for other users of this machine
        for folder in (out, out / STUDENTS):
            os.chmod(folder, os.stat(folder).st_mode & 0o770)
    for stale in [*out.glob(".*.tmp"), *out.glob(f"{STUDENTS}/*/.*.tmp")]:  # left by a batch killed mid-write
        stale.unlink(missing_ok=True)
    exercise_ids = [g.exercise.id for g in course.exercises]
    states: dict[str, dict] = {}
    todo = []
    rekeyed, key_name = [], None if key is None else fingerprint(key)
    for student in students:
        digest = submission_hash(submissions / student, course, limits, key)
        state = read_state(out, student)
        if state is not None and state.get("key") != key_name:
            rekeyed.append(student)
        if state is not None and state.get("hash") == digest:
            states[student] = state
        else:
            todo.append((student, digest))
            if state is not None:  # keep the previous grade in grades.csv until the regrade replaces it
                states[student] = state
    if rekeyed:
        print(f"warning: {len(rekeyed)} students were graded with another grading key (or none); regrading them "
              "with this one gives them other hidden inputs (to keep their grades, grade with the key used "
              "before: --key-file)", file=progress, flush=True)
    lock = threading.Lock()
    done = [len(students) - len(todo)]
    failed: list[str] = []

    def publish():
        atomic_write(out / "grades.csv", grades_csv(list(states.values()), exercise_ids))

    def report():
        end = "\n" if not getattr(progress, "isatty", lambda: False)() or done[0] == len(students) else ""
        print(f"\rgraded {done[0]}/{len(students)}", end=end, file=progress, flush=True)

    def work(student: str, digest: str) -> dict:
        start = time.monotonic()
        results = grade_student(submissions / student, course, limits, key)
        return write_student(out, student, digest, results, submissions / student, course, time.monotonic() - start,
                             (names or {}).get(student), key)

    with lock:
        publish()
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(work, s, d): s for s, d in todo}
        for future in as_completed(futures):
            student = futures[future]
            with lock:
                try:
                    states[student] = future.result()
                except Exception as exc:  # noqa: BLE001 - a grader bug costs one student, reported
                    failed.append(student)
                    print(f"\nerror grading {student}: {type(exc).__name__}: {exc}", file=progress, flush=True)
                done[0] += 1
                publish()
                report()
    if not todo:
        report()
    return BatchSummary(len(students), len(todo) - len(failed), len(students) - len(todo), failed)
