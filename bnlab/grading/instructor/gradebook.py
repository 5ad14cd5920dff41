"""Grade a class: ``bnlab grade SUBMISSIONS --out OUT [--jobs N] [--timeout S]``.

SUBMISSIONS holds one folder per student with that student's notebooks, matched to exercises by
their ``exNN`` prefix (``ex01_batchnorm_forward (1).ipynb`` counts; of several, the newest).
For each student OUT gets ``<student>/results.json`` (Gradescope format), ``<student>/feedback.md``
and ``<student>/grade.json`` (instructor state: the submission hash and all details); ``grades.csv``
is rebuilt from the grade.json files after every student, so a killed batch loses nothing and a
rerun skips the students whose submission hash (notebooks + checks version) did not change.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from bnlab.grading.shared.course import Course
from bnlab.grading.shared.engine import ExerciseResult, grade_notebook
from bnlab.grading.shared.notebook import MAX_NOTEBOOK_BYTES
from bnlab.grading.shared.report import feedback_markdown, gradescope_results
from bnlab.grading.shared.sandbox import Limits

STATE = "grade.json"


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def match_notebooks(folder: Path, ex_id: str) -> tuple[Path | None, str]:
    """The notebook for ``ex_id`` in ``folder`` (searched recursively) and a note when several matched."""
    pattern = re.compile(rf"^{re.escape(ex_id)}(?!\d)", re.IGNORECASE)
    found = [p for p in folder.rglob("*.ipynb")
             if pattern.match(p.name) and ".ipynb_checkpoints" not in p.parts and p.is_file()]
    if not found:
        return None, ""
    found.sort(key=lambda p: (-p.stat().st_mtime, str(p)))
    if len(found) == 1:
        return found[0], ""
    names = ", ".join(repr(str(p.relative_to(folder))) for p in found)
    return found[0], f"several notebooks matched {ex_id} ({names}); graded the newest, {str(found[0].relative_to(folder))!r}"


def submission_hash(folder: Path, course: Course, limits: Limits) -> str:
    """Hash of what decides this student's grade: matched notebooks' names and bytes, checks version, limits."""
    digest = hashlib.sha256(f"{course.version}|{limits}".encode())
    for graded in course.exercises:
        path, _ = match_notebooks(folder, graded.exercise.id)
        digest.update(f"|{graded.exercise.id}|".encode())
        if path is not None:
            digest.update(str(path.relative_to(folder)).encode() + b"\0")
            stat = path.stat()
            if stat.st_size > MAX_NOTEBOOK_BYTES:  # refused by the reader anyway: do not read it
                digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
            else:
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def grade_student(folder: Path, course: Course, limits: Limits) -> list[ExerciseResult]:
    """Every exercise of ``course`` for the student folder ``folder``."""
    results = []
    for graded in course.exercises:
        path, note = match_notebooks(folder, graded.exercise.id)
        results.append(grade_notebook(path, graded.exercise, graded.checks, limits, note))
    return results


def write_student(out: Path, student: str, digest: str, results: list[ExerciseResult]) -> dict:
    """results.json and feedback.md, then grade.json last: its presence means the student is complete."""
    folder = out / student
    atomic_write(folder / "results.json", json.dumps(gradescope_results(results), indent=2) + "\n")
    atomic_write(folder / "feedback.md", feedback_markdown(student, results))
    state = {"student": student, "hash": digest,
             "points": {r.exercise: r.points for r in results},
             "max": {r.exercise: r.max_points for r in results},
             "total": round(sum(r.points for r in results), 6),
             "max_total": round(sum(r.max_points for r in results), 6),
             "exercises": [r.to_dict() for r in results]}
    atomic_write(folder / STATE, json.dumps(state, indent=1) + "\n")
    return state


def read_state(out: Path, student: str) -> dict | None:
    try:
        state = json.loads((out / student / STATE).read_text(encoding="utf-8"))
        return state if isinstance(state, dict) and state.get("student") == student else None
    except (OSError, ValueError):
        return None


def grades_csv(states: list[dict], exercise_ids: list[str]) -> str:
    """One row per student: each exercise's points, total, max."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", *exercise_ids, "total", "max"])
    for state in sorted(states, key=lambda s: s["student"]):
        points = state.get("points", {})
        writer.writerow([state["student"], *(f"{points.get(e, 0):g}" for e in exercise_ids),
                         f"{state['total']:g}", f"{state['max_total']:g}"])
    return buffer.getvalue()


@dataclass
class BatchSummary:
    students: int
    graded: int
    skipped: int
    failed: list[str]


def list_students(submissions: Path) -> list[str]:
    if not submissions.is_dir():
        raise FileNotFoundError(f"SUBMISSIONS must be a folder with one folder per student; {submissions} is not a folder")
    return sorted(p.name for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))


def grade_submissions(submissions: str | Path, out: str | Path, course: Course, jobs: int = 1,
                      limits: Limits = Limits(), progress=sys.stderr) -> BatchSummary:
    """Grade every student folder of ``submissions`` into ``out`` (see the module docstring)."""
    submissions, out = Path(submissions), Path(out)
    students = list_students(submissions)
    out.mkdir(parents=True, exist_ok=True)
    for stale in [*out.glob(".*.tmp"), *out.glob("*/.*.tmp")]:  # left by a batch killed mid-write
        stale.unlink(missing_ok=True)
    exercise_ids = [g.exercise.id for g in course.exercises]
    states: dict[str, dict] = {}
    todo = []
    for student in students:
        digest = submission_hash(submissions / student, course, limits)
        state = read_state(out, student)
        if state is not None and state.get("hash") == digest:
            states[student] = state
        else:
            todo.append((student, digest))
            if state is not None:  # keep the previous grade in grades.csv until the regrade replaces it
                states[student] = state
    lock = threading.Lock()
    done = [len(students) - len(todo)]
    failed: list[str] = []

    def publish():
        atomic_write(out / "grades.csv", grades_csv(list(states.values()), exercise_ids))

    def report():
        end = "\n" if not getattr(progress, "isatty", lambda: False)() or done[0] == len(students) else ""
        print(f"\rgraded {done[0]}/{len(students)}", end=end, file=progress, flush=True)

    def work(student: str, digest: str) -> dict:
        return write_student(out, student, digest, grade_student(submissions / student, course, limits))

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
