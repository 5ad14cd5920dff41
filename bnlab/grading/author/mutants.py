"""The instructor's mutants: the reference solution with one common mistake each, stored as text patches.

``<instructor>/exNN/mutants.py`` defines ``MUTANTS``: mistake name -> list of ``(old, new)`` replacements,
applied in order to the reference solution (all graded cells of ``<instructor>/exNN/exNN_*.ipynb``, see
:func:`bnlab.grading.author.authoring.solution_text`). Each ``old``
must occur exactly once in the text it is applied to, so a patch that no longer fits the solution fails
loudly instead of silently grading the reference.
"""
from __future__ import annotations

import runpy
from pathlib import Path

from bnlab.grading.author.authoring import solution_text


def load_mutants(instructor: str | Path, ex_id: str) -> dict[str, list[tuple[str, str]]]:
    """The ``MUTANTS`` dict of ``<instructor>/<ex_id>/mutants.py``; empty when the exercise has none."""
    path = Path(instructor) / ex_id / "mutants.py"
    return runpy.run_path(str(path))["MUTANTS"] if path.is_file() else {}


def apply_replacements(text: str, replacements: list[tuple[str, str]], label: str) -> str:
    """``text`` with each ``(old, new)`` applied in turn; ValueError (naming ``label``) unless ``old`` occurs once."""
    for old, new in replacements:
        count = text.count(old)
        if count != 1:
            raise ValueError(f"mutant {label}: the text to replace occurs {count} times in the solution, "
                             f"expected exactly once: {old!r}")
        text = text.replace(old, new)
    return text


def mutant_sources(instructor: str | Path, ex_id: str) -> dict[str, str]:
    """Mistake name -> the full text of the solution's graded cells with that mistake, sorted by name."""
    mutants = load_mutants(instructor, ex_id)
    if not mutants:
        return {}
    solution = solution_text(instructor, ex_id)
    return {name: apply_replacements(solution, mutants[name], f"{ex_id}/{name}") for name in sorted(mutants)}
