"""Exercises and grading: public checks in notebooks, an isolated grader, gradebook, release bundles.

See ``exercises/README.md``. Learners call :func:`run_public_checks` from an exercise notebook.
"""
from __future__ import annotations


def run_public_checks(ex_id: str, namespace: dict) -> None:
    """Print PASS/FAIL for each public check of ``ex_id`` ("ex01"...) on the functions in ``namespace``."""
    from bnlab.grading.learner.public import run_public_checks as run

    run(ex_id, namespace)


__all__ = ["run_public_checks"]
