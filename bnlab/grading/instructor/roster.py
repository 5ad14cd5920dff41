"""A class roster: which student each submission folder is, for folders not named by Canvas.

``roster.csv`` is a UTF-8 CSV with a header row and one row per student::

    folder,id,sis_login_id,name
    jsmith,101,jsmith,"Smith, Jane"
    alee,102,alee,Ann Lee

- ``folder`` (required): the student's folder in SUBMISSIONS (for a graded Canvas download, the
  ``<name>_<Canvas id>`` folder of ``OUT/canvas.csv``; there a row's ``id`` also finds its folder);
- at least one key of the Canvas gradebook: ``id`` (the Canvas user id, the gradebook's ID column),
  ``sis_user_id`` (SIS User ID) or ``sis_login_id`` (SIS Login ID);
- ``name`` (optional): the name the student's feedback page is titled with.

Column names are matched without regard to case or surrounding spaces; other columns are ignored.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bnlab.grading.instructor.spreadsheet import read_rows

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

    @property
    def keys(self) -> tuple[str, ...]:
        """The gradebook keys this roster has columns for, in the order of KEYS."""
        return tuple(k for k in KEYS if k in self.columns)

    def row(self, folder: str, canvas_id: str = "") -> dict[str, str] | None:
        """The row of ``folder``; failing that, the row whose ``id`` is ``canvas_id`` (a Canvas download)."""
        found = self.rows.get(folder)
        if found is None and canvas_id:
            found = next((r for r in self.rows.values() if r.get("id", "").strip() == canvas_id), None)
        return found

    def name(self, folder: str, canvas_id: str = "") -> str:
        row = self.row(folder, canvas_id)
        return row.get("name", "").strip() if row else ""


def read_roster(path: str | Path) -> Roster:
    """The roster at ``path`` (see the module docstring), or RosterError saying what is wrong."""
    path = Path(path)
    try:
        raw = path.read_bytes()[:MAX_ROSTER_BYTES + 1]
    except OSError as exc:
        raise RosterError(f"--roster {path} cannot be read ({exc.strerror or exc})") from None
    if len(raw) > MAX_ROSTER_BYTES:
        raise RosterError(f"--roster {path} is larger than {MAX_ROSTER_BYTES // 2**20} MB; a roster is one row a student")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RosterError(f"--roster {path} is not UTF-8 text; save it as CSV UTF-8") from None
    header, rows = read_rows(text)
    columns = tuple(c.strip().lower() for c in header)
    if "folder" not in columns or not any(k in columns for k in KEYS):
        raise RosterError(f"--roster {path} needs a header with the columns folder and one of {', '.join(KEYS)} "
                          f"(and optionally name); found {', '.join(header)[:120] or 'an empty file'}")
    rows = [{k.strip().lower(): v.strip() for k, v in row.items()} for row in rows]
    by_folder: dict[str, dict[str, str]] = {}
    for line, row in enumerate(rows, start=2):
        folder = row.get("folder", "")
        if not folder:
            raise RosterError(f"--roster {path} row {line}: the folder is empty")
        if folder in by_folder:
            raise RosterError(f"--roster {path} row {line}: folder {folder!r} is listed twice")
        if row.get("id") and not row["id"].isdigit():
            raise RosterError(f"--roster {path} row {line}: id {row['id']!r} is not a Canvas user id (digits, the "
                              "gradebook's ID column)")
        by_folder[folder] = row
    return Roster(path, by_folder, columns)
