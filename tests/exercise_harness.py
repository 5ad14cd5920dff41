"""Shared by the exercise tests: the instructor's solution and mutants as graded-cell sources, and grading.

The solution is the graded cells of the exercise's source notebook (``exercises/instructor/exNN``, read by
``bnlab.grading.author.authoring``), each starting with ``# GRADED FUNCTION: <name>``; a mutant is
that text with a few replacements (``exercises/instructor/exNN/mutants.py``,
applied by ``bnlab.grading.author.mutants``).
Splitting such text and putting cells into a notebook is ``bnlab.grading.core.notebook``'s.
"""
from __future__ import annotations

import json
import runpy
from pathlib import Path

from bnlab.grading.author import authoring
from bnlab.grading.author.mutants import load_mutants, mutant_sources
from bnlab.grading.core.notebook import read_graded_cells, split_cells, with_cells

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "exercises"
INSTRUCTOR = EXERCISES / "instructor"


def solution_cells(ex_id: str) -> dict[str, str]:
    return authoring.solution_cells(INSTRUCTOR, ex_id)


def mutant_names(ex_id: str) -> list[str]:
    return sorted(load_mutants(INSTRUCTOR, ex_id))


def expected_messages(ex_id: str) -> dict[str, list[str]]:
    """``MESSAGES`` of the exercise's mutants file: mistake -> words its feedback must contain."""
    return runpy.run_path(str(INSTRUCTOR / ex_id / "mutants.py")).get("MESSAGES", {})


def mutant_cells(ex_id: str, name: str) -> dict[str, str]:
    return split_cells(mutant_sources(INSTRUCTOR, ex_id)[name])


def notebook_path(ex_id: str) -> Path:
    (path,) = EXERCISES.glob(f"{ex_id}_*.ipynb")
    return path


def stub_cells(ex_id: str) -> dict[str, str]:
    """The graded cells of the committed exercise notebook (the untouched stubs), by function name."""
    return {cell.name: cell.source for cell in read_graded_cells(notebook_path(ex_id))}


def notebook_with(ex_id: str, cells: dict[str, str], path: Path) -> Path:
    """Write to ``path`` a copy of the exercise notebook whose graded cells hold ``cells`` (by function name)."""
    path.write_text(json.dumps(with_cells(json.loads(notebook_path(ex_id).read_text()), cells)))
    return path


def grade(ex_id: str, cells: dict[str, str], folder: Path):
    """The engine's ExerciseResult, with all checks, for a copy of the exercise notebook holding ``cells``.

    End to end: notebook JSON -> graded cells -> sandboxed learner process -> plain data -> verify.
    """
    from bnlab.grading.checks import all_checks, load_exercise
    from bnlab.grading.core.engine import grade_notebook

    exercise = load_exercise(ex_id).EXERCISE
    path = notebook_with(ex_id, cells, folder / exercise.notebook)
    return grade_notebook(path, exercise, all_checks(ex_id))
