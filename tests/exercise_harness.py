"""Shared by the exercise tests: the instructor's solution and mutants as graded-cell sources, and scoring.

A solution or mutant file holds one or more graded cells, each starting with ``# GRADED FUNCTION: <name>``.
A mutant replaces only the cells it holds; the other graded cells come from the solution.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "exercises"
INSTRUCTOR = EXERCISES / "instructor"
_GRADED_LINE = re.compile(r"^# GRADED FUNCTION: *(\w+) *$", re.M)


def split_cells(text: str) -> dict[str, str]:
    """Graded cells of a solution/mutant file by function name, in file order."""
    starts = [m.start() for m in _GRADED_LINE.finditer(text)] + [len(text)]
    cells = {}
    for begin, end in zip(starts, starts[1:]):
        source = text[begin:end].rstrip() + "\n"
        cells[_GRADED_LINE.match(source).group(1)] = source
    return cells


def solution_cells(ex_id: str) -> dict[str, str]:
    return split_cells((INSTRUCTOR / "solutions" / f"{ex_id}.py").read_text())


def mutant_names(ex_id: str) -> list[str]:
    return sorted(p.stem for p in (INSTRUCTOR / "mutants" / ex_id).glob("*.py"))


def mutant_cells(ex_id: str, name: str) -> dict[str, str]:
    cells = solution_cells(ex_id)
    cells.update(split_cells((INSTRUCTOR / "mutants" / ex_id / f"{name}.py").read_text()))
    return cells


def notebook_path(ex_id: str) -> Path:
    (path,) = EXERCISES.glob(f"{ex_id}_*.ipynb")
    return path


def stub_cells(ex_id: str) -> dict[str, str]:
    """The graded cells of the committed exercise notebook (the untouched stubs)."""
    nb = json.loads(notebook_path(ex_id).read_text())
    cells = {}
    for cell in nb["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        match = _GRADED_LINE.match(source)
        if cell["cell_type"] == "code" and match:
            cells[match.group(1)] = source
    return cells


def notebook_with(ex_id: str, cells: dict[str, str], path: Path) -> Path:
    """Write a copy of the exercise notebook whose graded cells hold ``cells`` (by function name)."""
    nb = json.loads(notebook_path(ex_id).read_text())
    for cell in nb["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        match = _GRADED_LINE.match(source)
        if cell["cell_type"] == "code" and match:
            cell["source"] = cells[match.group(1)]
    path.write_text(json.dumps(nb))
    return path


# --- scoring: through the engine, end to end (notebook JSON -> sandboxed learner process -> verify) ---

def grade(ex_id: str, cells: dict[str, str], folder: Path):
    """The engine's ExerciseResult for a copy of the exercise notebook holding ``cells``, with all checks."""
    from bnlab.grading.engine import grade_notebook
    from bnlab.grading.exercises import all_checks, load_exercise

    path = notebook_with(ex_id, cells, folder / load_exercise(ex_id).EXERCISE.notebook)
    return grade_notebook(path, load_exercise(ex_id).EXERCISE, all_checks(ex_id))
