"""A class roster: which student each submission folder is, for folders not named by Canvas.

``roster.csv`` is a UTF-8 CSV with a header row and one row per student::

    folder,id,sis_login_id,name
    jsmith,101,jsmith,"Smith, Jane"
    alee,102,alee,Ann Lee

- ``folder`` (required): the student's folder in SUBMISSIONS (for a graded Canvas download, the
  ``<name>_<Canvas id>`` folder of ``OUT/canvas.csv``; there a row's ``id`` also finds its folder);
- for ``bnlab export canvas``, at least one key of the Canvas gradebook: ``id`` (the Canvas user id,
  the gradebook's ID column), ``sis_user_id`` (SIS User ID) or ``sis_login_id`` (SIS Login ID);
- ``name``: the name the student's feedback page is titled with (``bnlab grade --roster``).

For a graded Canvas download the gradebook CSV exported from Canvas is a roster as it is: its rows
have no folder, and name each student of ``OUT/canvas.csv`` by Canvas id (``bnlab grade DOWNLOAD.zip
--roster EXPORTED.csv`` titles the feedback "Smith, Jane").

Column names are matched without regard to case or surrounding spaces; other columns are ignored.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

# roster column / --match value -> the Canvas gradebook column it matches
KEYS = {"id": "ID", "sis_user_id": "SIS User ID", "sis_login_id": "SIS Login ID"}
MAX_ROSTER_BYTES = 16 * 2**20


class RosterError(ValueError):
    """The roster cannot be used; the message names the file, the row and what was expected."""


def key_text(value: str, key: str) -> str:
    """A gradebook key as compared: spaces trimmed; SIS Login IDs (Canvas compares them so) without case."""
    value = value.strip()
    return value.casefold() if key == "sis_login_id" else value


@dataclass(frozen=True)
class Roster:
    path: Path
    rows: dict[str, dict[str, str]]  # folder -> its row (column names lower-case)
    columns: tuple[str, ...]
    by_id: dict[str, dict[str, str]] = field(default_factory=dict)  # Canvas user id -> its row

    @property
    def keys(self) -> tuple[str, ...]:
        """The gradebook keys this roster has columns for, in the order of KEYS."""
        return tuple(k for k in KEYS if k in self.columns)

    def row(self, folder: str, canvas_id: str = "") -> dict[str, str] | None:
        """The row of ``folder``; failing that, the row whose ``id`` is ``canvas_id`` (a Canvas download)."""
        found = self.rows.get(folder)
        return found if found is not None or not canvas_id else self.by_id.get(canvas_id)

    def name(self, folder: str, canvas_id: str = "") -> str:
        row = self.row(folder, canvas_id)
        return row.get("name", "") if row else ""


def _table(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header (lower-case) and rows of the CSV at ``path``, as the instructor saved it."""
    try:
        raw = path.read_bytes()[:MAX_ROSTER_BYTES + 1]
    except OSError as exc:
        raise RosterError(f"--roster {path} cannot be read ({exc.strerror or exc})") from None
    if len(raw) > MAX_ROSTER_BYTES:
        raise RosterError(f"--roster {path} is larger than {MAX_ROSTER_BYTES // 2**20} MB; "
                          "a roster is one row a student")
    try:
        lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    except UnicodeDecodeError:
        raise RosterError(f"--roster {path} is not UTF-8 text; save it as CSV UTF-8") from None
    except csv.Error as exc:
        raise RosterError(f"--roster {path} is not a readable CSV ({exc})") from None
    header = [h.strip().lower() for h in lines[0]] if lines else []
    return header, [dict(zip(header, (c.strip() for c in line))) for line in lines[1:] if any(c.strip() for c in line)]


def read_roster(path: str | Path) -> Roster:
    """The roster at ``path`` (see the module docstring), or RosterError saying what is wrong.

    A Canvas gradebook export serves as a roster too (its Student, ID, SIS User ID and SIS Login ID
    columns): it has no folders, so it names the students of a graded Canvas download, by Canvas id.
    """
    path = Path(path)
    header, rows = _table(path)
    if header[:2] == ["student", "id"]:  # a Canvas gradebook export
        rows = [{"name": r.get("student", ""), **{k: r.get(c.lower(), "") for k, c in KEYS.items()}}
                for r in rows if r.get("id", "").isdigit()]  # not its "Points Possible" row
        header = ["name", *KEYS]
    elif "folder" not in header or not any(k in header for k in (*KEYS, "name")):
        raise RosterError(f"--roster {path} needs a header with the columns folder and one of {', '.join(KEYS)} "
                          "or name, or be a Canvas gradebook export; "
                          f"found {', '.join(header)[:120] or 'an empty file'}")
    by_folder: dict[str, dict[str, str]] = {}
    by_id: dict[str, dict[str, str]] = {}
    for line, row in enumerate(rows, start=2):
        folder, canvas_id = row.get("folder", ""), row.get("id", "")
        if canvas_id and not canvas_id.isdigit():
            raise RosterError(f"--roster {path} row {line}: id {canvas_id!r} is not a Canvas user id (digits, the "
                              "gradebook's ID column)")
        if "folder" in header and not folder:
            raise RosterError(f"--roster {path} row {line}: the folder is empty")
        if folder in by_folder:
            raise RosterError(f"--roster {path} row {line}: folder {folder!r} is listed twice")
        if folder:
            by_folder[folder] = row
        if canvas_id:
            by_id.setdefault(canvas_id, row)
    return Roster(path, by_folder, tuple(header), by_id)
