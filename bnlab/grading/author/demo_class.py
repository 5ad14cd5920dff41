"""A sample class for a dry run (``bnlab demo-class``): a Canvas "Download Submissions" zip and a Canvas
gradebook export, made by :mod:`bnlab.grading.author.sample_class`.

The class: ``students - 1`` honest students who each write the exercises their own way (correct, in their
own spelling, names and comments), two of them with a planted bug (``BUGS``), and one student who copied
another's notebooks (renamed, reordered, recommented). The download is named the way Canvas names files
(``<login>_<user id>_<submission id>_<notebook>``); the gradebook has the columns of Canvas' export, an
assignment worth the course's points and one enrolled student who submitted nothing.
"""
from __future__ import annotations

import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from bnlab.grading.author.sample_class import Copy, synthetic_class
from bnlab.grading.grade.spreadsheet import csv_text

ASSIGNMENT = "Batch Norm lab"
ASSIGNMENT_ID = "4242"
BUGS = {4: {"ex01": "unbiased_variance"}, 8: {"ex06": "no_bias_correction"}}  # student index -> planted mistakes
COPIED = 2  # the student whose notebooks the copier copied
NO_SUBMISSION = ("1999", "Nobody, Ann", "anobody")  # enrolled, submitted nothing


@dataclass(frozen=True)
class DemoClass:
    download: Path       # the Canvas submissions zip
    gradebook: Path      # the Canvas gradebook export (CSV)
    students: list[str]  # as bnlab grade names them (<login>_<user id>)
    copy_pair: tuple[str, str]
    bugs: dict[str, dict[str, str]]  # student -> exercise -> planted mistake


def gradebook_csv(roster: list[tuple[str, str, str]], points_possible: float) -> str:
    """A Canvas gradebook export: Student, ID, SIS User ID, SIS Login ID, Section, the assignment column (empty),
    a Points Possible row; ``roster`` is (Canvas user id, "Surname, First", login) per student."""
    rows = [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", f"{ASSIGNMENT} ({ASSIGNMENT_ID})"],
            ["    Points Possible", "", "", "", "", f"{points_possible:.2f}"]]
    rows += [[name, user_id, f"S{user_id}", login, "Section A", ""]
             for user_id, name, login in [*roster, NO_SUBMISSION]]
    return "\ufeff" + csv_text(rows)


def write_demo_class(out: Path, instructor: Path, students: int = 12, seed: int = 2026) -> DemoClass:
    """Write ``out/canvas-download.zip``, ``out/gradebook-export.csv`` and ``out/planted.json`` (what to
    find: the planted bugs and the copy) for a class of ``students``."""
    from bnlab.grading.checks import load_course

    if students < 10:
        raise ValueError(f"a demo class needs at least 10 students (its bugs and copy need them); got {students}")
    course = load_course(instructor)
    exercise_ids = [g.exercise.id for g in course.exercises]
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bnlab-demo-") as tmp:
        sample = synthetic_class(Path(tmp), students - 1, [Copy(COPIED)], exercise_ids, instructor, seed=seed,
                                 canvas=True, mutant_chance=0.0, bugs=BUGS)
        download = out / "canvas-download.zip"
        with zipfile.ZipFile(download, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(Path(tmp).iterdir()):
                archive.write(path, path.name)
    points = sum(check.points for graded in course.exercises for check in graded.checks)
    gradebook = out / "gradebook-export.csv"
    gradebook.write_text(gradebook_csv(sample.roster, points), encoding="utf-8", newline="")
    source, copier, _ = sample.planted[0]
    bugs = {sample.names[f"student{i:03d}"]: mistakes for i, mistakes in BUGS.items()}
    (out / "planted.json").write_text(json.dumps({"bugs": bugs, "copied": {"source": source, "copier": copier}},
                                                 indent=1) + "\n")
    return DemoClass(download, gradebook, sample.students, (source, copier), bugs)

