"""Canvas both ways: grade a "Download Submissions" export, fill the points into a gradebook CSV.

In: Canvas' download is one flat folder (or its .zip) of files named
``<name>_<user id>_<submission id>_<file>`` (``<name>_LATE_<user id>_...`` when late), e.g.
``smithjane_12345_67890_ex01_batchnorm_forward.ipynb``; a resubmitted file may end ``-1.ipynb``.
:func:`staged_submissions` copies its notebooks into a private temporary folder with one folder per
student, ``<name>_<user id>``, which is what ``bnlab grade`` reads, and writes ``OUT/canvas.csv``
(student folder, Canvas user id, name, late, files). Only regular files are copied, each read at
most one byte past the notebook size limit; symbolic links are never followed and no archive member
name is used as a path.

Out: ``bnlab export canvas`` writes the points of ``OUT/grades.csv`` into the assignment column of the
gradebook CSV the instructor exported from Canvas (columns Student, ID, SIS User ID, SIS Login ID,
Section, then one column per assignment, ``Batch Norm (12345)``; a ``Points Possible`` row under the
header), ready to import. Students are matched by Canvas user id (``OUT/canvas.csv``), or, for any
OUT (folders collected on JupyterHub or a shared drive), by folder names that are Canvas ids or SIS
Login IDs, or through a roster (:mod:`bnlab.grading.grade.roster`). Other cells keep their values;
every cell is written spreadsheet-safe (:mod:`bnlab.grading.grade.spreadsheet`).
"""
from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bnlab.grading.core.notebook import MAX_NOTEBOOK_BYTES
from bnlab.grading.grade.roster import KEYS, Roster, key_text
from bnlab.grading.grade.spreadsheet import csv_text, read_rows

# name, optional LATE, Canvas user id, submission id (absent in some exports), the learner's file name
CANVAS_FILE = re.compile(r"^(?P<name>[^_/\\]+?)_(?:(?P<late>LATE)_)?(?P<user>\d+)_"
                         r"(?:(?P<submission>\d+)_)?(?P<file>.+)$")
MANIFEST = "canvas.csv"
READ_LIMIT = MAX_NOTEBOOK_BYTES + 1  # enough for the reader to say "too large", no more


class CanvasError(ValueError):
    """A Canvas file cannot be used; the message says which and why."""


@dataclass(frozen=True)
class CanvasFile:
    student: str     # the staged folder: <name>_<user id>
    user_id: str
    name: str
    late: bool
    file: str        # the learner's own file name (Canvas' prefix removed)


def parse_name(filename: str) -> CanvasFile | None:
    """The parts of a Canvas download file name, or None when it is not one."""
    match = CANVAS_FILE.match(filename)
    if not match:
        return None
    name, user = re.sub(r"[^a-z0-9-]", "", match.group("name").lower()) or "student", match.group("user")
    return CanvasFile(f"{name}_{user}", user, name, bool(match.group("late")), match.group("file"))


def _safe_file_name(name: str) -> str:
    """The last component of ``name`` with nothing that could climb out of a folder."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1].replace("\0", "")
    return name if name not in ("", ".", "..") else "unnamed"


def is_canvas_download(path: Path) -> bool:
    """A .zip file, or a folder whose top level holds notebooks named the way Canvas names them."""
    if path.is_file():
        return path.suffix.lower() == ".zip"
    if not path.is_dir():
        return False
    return any(e.is_file(follow_symlinks=False) and e.name.endswith(".ipynb") and parse_name(e.name)
               for e in os.scandir(path))


def _entries_of_folder(folder: Path):
    """(name, mtime, read) for each regular top-level file of ``folder``; symbolic links are skipped."""
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if not entry.is_file(follow_symlinks=False):
            continue  # a folder, a symbolic link, a device: not part of a Canvas download

        def read(path=Path(entry.path)) -> bytes:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    raise CanvasError(f"{path.name} is not a regular file")
                return f.read(READ_LIMIT)

        yield entry.name, entry.stat(follow_symlinks=False).st_mtime, read


def _entries_of_zip(archive: zipfile.ZipFile):
    """(name, mtime, read) for each regular file of a Canvas zip; folders and symbolic links are skipped."""
    for info in archive.infolist():
        kind = stat.S_IFMT(info.external_attr >> 16)  # 0 when the archiver recorded no file type
        if info.is_dir() or kind not in (0, stat.S_IFREG):
            continue

        def read(info=info) -> bytes:
            with archive.open(info) as f:
                return f.read(READ_LIMIT)

        yield _safe_file_name(info.filename), datetime(*info.date_time).timestamp(), read


def stage(download: Path, staging: Path) -> list[tuple[CanvasFile, str]]:
    """Copy the notebooks of a Canvas download (folder or .zip) into ``staging/<student>/<file>``.

    Returns each staged file with its staged name. Raises CanvasError for a file Canvas did not name.
    """
    with contextlib.ExitStack() as stack:
        if download.is_file():
            try:
                archive = stack.enter_context(zipfile.ZipFile(download))
            except (zipfile.BadZipFile, OSError) as exc:
                raise CanvasError(f"{download.name} is not a readable zip file ({exc})") from None
            entries = _entries_of_zip(archive)
        else:
            entries = _entries_of_folder(download)
        staged, strays = [], []
        for name, mtime, read in entries:
            if not name.lower().endswith(".ipynb"):
                continue  # Canvas downloads may hold other files; only notebooks are graded
            parsed = parse_name(name)
            if parsed is None:
                strays.append(name)
                continue
            folder = staging / parsed.student
            folder.mkdir(exist_ok=True)
            target_name = _safe_file_name(parsed.file)
            target = folder / target_name
            counter = 1
            while target.exists():  # two files with one name (zip entries can repeat): keep both
                target = folder / f"{Path(target_name).stem} ({counter}){Path(target_name).suffix}"
                counter += 1
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(read())
            os.utime(target, (mtime, mtime))  # of several notebooks for one exercise, the newest is graded
            staged.append((parsed, target.name))
    if strays:
        raise CanvasError("not named the way Canvas names submissions (<name>_<user id>_<submission id>_<file>): "
                          + ", ".join(strays[:5]) + (f" and {len(strays) - 5} more" if len(strays) > 5 else ""))
    if not staged:
        raise CanvasError(f"{download} holds no notebooks named the way Canvas names submissions")
    return staged


def manifest_csv(staged: list[tuple[CanvasFile, str]]) -> str:
    """``canvas.csv``: one row per student: folder, Canvas user id, name, late (yes/no), staged files."""
    students: dict[str, tuple[CanvasFile, list[str], bool]] = {}
    for parsed, name in staged:
        first, files, late = students.get(parsed.student, (parsed, [], False))
        students[parsed.student] = (first, files + [name], late or parsed.late)
    rows = [["student", "canvas_id", "name", "late", "files"]]
    for student in sorted(students):
        parsed, files, late = students[student]
        rows.append([student, parsed.user_id, parsed.name, "yes" if late else "no", "; ".join(sorted(files))])
    return csv_text(rows)


@contextlib.contextmanager
def staged_submissions(submissions: str | Path, out: str | Path | None):
    """Yield the folder ``bnlab grade`` should read: ``submissions`` itself, or for a Canvas download
    a private temporary copy in the one-folder-per-student layout (removed afterwards); then
    ``OUT/canvas.csv`` (when ``out`` is given) maps each student folder to its Canvas user id and late flag."""
    submissions = Path(submissions)
    if not is_canvas_download(submissions):
        yield submissions
        return
    from bnlab.grading.grade.gradebook import atomic_write

    staging = Path(tempfile.mkdtemp(prefix="bnlab-canvas-"))  # mode 0700: private to this user
    try:
        staged = stage(submissions, staging)
        if out is not None:
            atomic_write(Path(out) / MANIFEST, manifest_csv(staged))
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# --- the gradebook CSV, filled --------------------------------------------------------------------

_ASSIGNMENT = re.compile(r"^(?P<title>.*\S)\s*\((?P<id>\d+)\)$")
_FIXED = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")


@dataclass
class FillSummary:
    column: str
    filled: int
    not_graded: list[str]        # gradebook students with no grade from bnlab (left as they were, or 0)
    not_in_gradebook: list[str]  # graded students' keys the gradebook does not have
    zeroed: list[str] = field(default_factory=list)  # of not_graded: those given 0 (--missing-zero)
    key: str = "id"              # the gradebook column students were matched by (see roster.KEYS)


def _read_csv(path: Path) -> tuple[list[list[str]], bool]:
    raw = path.read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CanvasError(f"{path} is not UTF-8 text: export the gradebook from Canvas again") from None
    return list(csv.reader(io.StringIO(text, newline=""))), bom  # as Canvas wrote it (no apostrophe undone)


def assignment_column(header: list[str], wanted: str | None) -> int:
    """Index of the assignment column ``wanted`` (its title or Canvas id; optional when there is one)."""
    columns = [(i, m) for i, h in enumerate(header) if (m := _ASSIGNMENT.match(h.strip()))]
    if wanted is not None:
        hits = [i for i, m in columns if wanted.strip() in (m.group("id"), m.group("title"), header[i].strip())]
        if len(hits) == 1:
            return hits[0]
        problem = "matches several columns" if hits else "matches no assignment column"
    elif len(columns) == 1:
        return columns[0][0]
    else:
        problem = "is needed: the gradebook has " + ("no" if not columns else "several") + " assignment columns"
    names = ", ".join(repr(header[i]) for i, _ in columns) or "none (columns like 'Batch Norm (12345)')"
    raise CanvasError(f"--assignment {wanted!r} {problem}; assignment columns: {names}" if wanted is not None
                      else f"--assignment {problem}; assignment columns: {names}")


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", "").strip())
    except ValueError:
        return None


def fill_gradebook(gradebook: Path, grades: dict[str, float], maximum: float, assignment: str | None = None,
                   scale: bool = False, key: str = "id", missing_zero: bool = False) -> tuple[str, FillSummary]:
    """The gradebook CSV text with ``grades`` (student key -> points out of ``maximum``) filled in.

    ``key`` says which gradebook column the keys of ``grades`` are (a name of roster.KEYS: the Canvas
    user id, the SIS User ID or the SIS Login ID). The assignment's "Points Possible" must equal
    ``maximum`` unless ``scale`` (then points are scaled to it). A student without a grade keeps their
    cell, or with ``missing_zero`` gets 0 where the cell is empty (a grade already there is kept);
    graded keys not in the gradebook are listed. Every cell is written spreadsheet-safe.
    """
    rows, bom = _read_csv(gradebook)
    if not rows or [h.strip() for h in rows[0][:2]] != ["Student", "ID"]:
        found = ", ".join(rows[0][:5]) if rows else "an empty file"
        raise CanvasError(f"{gradebook} is not a Canvas gradebook export: expected the columns {', '.join(_FIXED)} "
                          f"first; found {found}")
    header = rows[0]
    key_column = _key_column(header, key, gradebook)
    column = assignment_column(header, assignment)
    possible_row = next((r for r in rows[1:] if r and r[0].strip() == "Points Possible"), None)
    possible = _number(possible_row[column]) if possible_row and column < len(possible_row) else None
    factor = 1.0
    if possible is not None and abs(possible - maximum) > 1e-9:
        if not scale:
            raise CanvasError(f"{header[column]!r} is worth {possible:g} points in Canvas but bnlab grades out of "
                              f"{maximum:g}: change the assignment's points in Canvas, or pass --scale to scale")
        factor = possible / maximum
    grades = {key_text(k, key): v for k, v in grades.items()}
    seen, filled, not_graded, zeroed = set(), 0, [], []
    for row in rows[1:]:
        if not (row[1].strip() if len(row) > 1 else "").isdigit():
            continue  # "Points Possible", "Manual Posting" and other rows without a student id stay as they are
        row.extend([""] * (max(column, key_column) + 1 - len(row)))
        student = key_text(row[key_column], key)
        seen.add(student)
        if student not in grades:
            not_graded.append(row[0])
            if missing_zero and not row[column].strip():
                row[column] = "0"
                zeroed.append(row[0])
            continue
        row[column] = f"{round(grades[student] * factor, 2):g}"
        filled += 1
    text = ("\ufeff" if bom else "") + csv_text(rows)
    return text, FillSummary(header[column], filled, not_graded, sorted(set(grades) - seen), zeroed, key)


def _key_column(header: list[str], key: str, gradebook: Path) -> int:
    if key not in KEYS:
        raise CanvasError(f"students are matched by one of {', '.join(KEYS)}; got {key!r}")
    stripped = [h.strip() for h in header]
    if KEYS[key] not in stripped:
        raise CanvasError(f"{gradebook} has no {KEYS[key]!r} column to match students by {key}: export the "
                          "gradebook from Canvas again, or match by id")
    return stripped.index(KEYS[key])


# --- which gradebook student each graded folder is ------------------------------------------------

def manifest_rows(out: Path) -> dict[str, dict[str, str]]:
    """``OUT/canvas.csv`` by student folder ({} when OUT was not graded from a Canvas download)."""
    path = out / MANIFEST
    if not path.is_file():
        return {}
    return {row["student"]: row for row in read_rows(path.read_text(encoding="utf-8"))[1]}


def student_names(out: Path, roster: Roster | None, students: list[str]) -> dict[str, str]:
    """Student folder -> the name their feedback is titled with: the roster's name, else the name in
    Canvas' file names (``OUT/canvas.csv``); folders with neither are left out (titled by folder)."""
    manifest, names = manifest_rows(out), {}
    for student in students:
        canvas_id = manifest.get(student, {}).get("canvas_id", "")
        name = (roster.name(student, canvas_id) if roster else "") or manifest.get(student, {}).get("name", "")
        if name:
            names[student] = name
    return names


def student_keys(out: Path, roster: Roster | None = None, match: str | None = None
                 ) -> tuple[dict[str, str] | None, str]:
    """Student folder -> its gradebook key (None: each folder's name is its key), and which key (a name
    of roster.KEYS), for ``OUT``:

    with a roster, its column ``match`` (or the one key column it has); with ``match`` alone, the folder
    names are themselves that key (folders named by Canvas id or by SIS Login ID); otherwise the Canvas
    user ids of ``OUT/canvas.csv``, written when bnlab grade read a Canvas download.
    """
    if match is not None and match not in KEYS:
        raise CanvasError(f"--match must be one of {', '.join(KEYS)}; got {match!r}")
    manifest = manifest_rows(out)
    if roster is not None:
        if not roster.keys:
            raise CanvasError(f"--roster {roster.path} has no column to match the gradebook by: add one of "
                              f"{', '.join(KEYS)}")
        if match is None and len(roster.keys) != 1:
            raise CanvasError(f"--roster {roster.path} has the columns {', '.join(roster.keys)}: pass --match to say "
                              "which one to match the gradebook by")
        key = match or roster.keys[0]
        if key not in roster.keys:
            raise CanvasError(f"--match {key}: --roster {roster.path} has no {key} column")
        folders = set(manifest) | set(roster.rows) if manifest else set(roster.rows)
        keys = {}
        for folder in folders:
            row = roster.row(folder, manifest.get(folder, {}).get("canvas_id", ""))
            if row and row.get(key):
                keys[folder] = row[key]
        return keys, key
    if match is not None and not (manifest and match == "id"):
        return None, match
    if manifest:
        return {folder: row["canvas_id"] for folder, row in manifest.items()}, "id"
    raise CanvasError(f"--grades {out} was not graded from a Canvas download (it has no {MANIFEST}): say which "
                      "gradebook student each folder is: --match id or --match sis_login_id when the folders are "
                      "named by Canvas id or SIS Login ID, or --roster roster.csv (columns folder and id or "
                      "sis_login_id; see bnlab export canvas --help)")


def class_points(out: Path, roster: Roster | None = None, match: str | None = None
                 ) -> tuple[dict[str, float], float, str, list[str]]:
    """Gradebook key -> total points, the maximum, which key (see :func:`student_keys`), and the graded
    folders that have no key (not in the roster), from ``OUT/grades.csv``."""
    grades_file = out / "grades.csv"
    if not grades_file.is_file():
        raise CanvasError(f"--grades {out} has no grades.csv: expected the OUT folder bnlab grade wrote")
    keys, key = student_keys(out, roster, match)
    points, maximum, unmatched = {}, None, []
    for row in read_rows(grades_file.read_text(encoding="utf-8"))[1]:
        maximum = float(row["max"])
        student = row["student"]
        if keys is None or student in keys:
            points[student if keys is None else keys[student]] = float(row["total"])
        else:
            unmatched.append(student)
    if maximum is None:
        raise CanvasError(f"{grades_file} has no graded student: grade the submissions first")
    if not points:
        raise CanvasError(f"no student of {grades_file} matches a gradebook {key}: "
                          + (f"--roster {roster.path} names none of the graded folders (e.g. {unmatched[0]!r})"
                             if roster else f"{MANIFEST} lists none of them"))
    return points, maximum, key, unmatched
