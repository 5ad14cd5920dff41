"""A class's submissions as the grader reads them: one folder per student, each searched for the notebook
of an exercise (``exNN`` prefix; of several, the newest) without following a symbolic link.

Shared by the gradebook, the feedback page, the Gradescope autograder and the similarity report.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

MAX_DEPTH = 16          # folders below a student's folder searched for notebooks
MAX_ENTRIES = 10_000    # entries looked at in one student's folder


def _walk(folder: Path) -> tuple[list[Path], list[Path], list[str]]:
    """Regular files and symbolic links below ``folder`` (iterative, never following a link, at most
    MAX_DEPTH deep and MAX_ENTRIES entries), and notes about what was left out."""
    files, links, notes, seen = [], [], [], 0
    stack = [(folder, 0)]
    while stack:
        here, depth = stack.pop()
        try:
            entries = sorted(os.scandir(here), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > MAX_ENTRIES:
                return files, links, notes + [f"more than {MAX_ENTRIES} files and folders: the rest were not searched"]
            path = Path(entry.path)
            if entry.is_symlink():
                links.append(path)
            elif entry.is_dir(follow_symlinks=False):
                if entry.name == ".ipynb_checkpoints":
                    continue
                if depth + 1 > MAX_DEPTH:
                    notes.append(f"folders more than {MAX_DEPTH} levels deep were not searched")
                    continue
                stack.append((path, depth + 1))
            elif entry.is_file(follow_symlinks=False):
                files.append(path)
    return files, links, notes


def match_notebooks(folder: Path, ex_id: str) -> tuple[Path | None, str]:
    """The notebook for ``ex_id`` in ``folder`` (searched recursively, links not followed) and a note
    when several matched or something was left out."""
    pattern = re.compile(rf"^{re.escape(ex_id)}(?!\d)", re.IGNORECASE)
    if folder.is_symlink():
        return None, "the submission folder is a symbolic link: the grader does not follow links"
    files, links, notes = _walk(folder)
    found = [p for p in files if p.suffix == ".ipynb" and pattern.match(p.name)]
    notes += [f"{str(p.relative_to(folder))!r} is a symbolic link, which the grader does not follow: submit the "
              "notebook file itself" for p in links if pattern.match(p.name)]
    if len(found) > 1:
        found.sort(key=lambda p: (-p.stat(follow_symlinks=False).st_mtime, str(p)))
        names = ", ".join(repr(str(p.relative_to(folder))) for p in found)
        notes.insert(0, f"several notebooks matched {ex_id} ({names}); graded the newest, "
                        f"{str(found[0].relative_to(folder))!r}")
    return (found[0] if found else None), "; ".join(dict.fromkeys(notes))


def list_students(submissions: Path) -> list[str]:
    if not submissions.is_dir():
        raise FileNotFoundError("SUBMISSIONS must be a folder with one folder per student; "
                                f"{submissions} is not a folder")
    # a student folder that is a symbolic link is listed, and graded as such (nothing is followed)
    return sorted(e.name for e in os.scandir(submissions)
                  if (e.is_dir(follow_symlinks=False) or e.is_symlink()) and not e.name.startswith("."))
