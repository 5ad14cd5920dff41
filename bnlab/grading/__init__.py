"""Exercises and grading: public checks in notebooks, an isolated grader, gradebook, release bundles.

See ``exercises/README.md``. Learners call :func:`run_public_checks` from an exercise notebook.

Laid out by what each part does, each importing only those listed before it (``tests/test_layout.py``):
``sandbox/`` (where learner code runs), ``core/`` (specs, notebooks, engine, reports, a course and its
version), ``checks/`` (bnlab's course: the public checks of each exercise, their kit, loading the hidden
ones), then the verbs: ``check`` (the learner's public checks in the kernel), ``grade/`` (``bnlab grade``,
feedback, Canvas, Gradescope's autograder) and ``author/`` (stubs, mutants, bundles, similarity, bench),
and ``cli`` (every ``bnlab`` grading command).
"""
from __future__ import annotations


def run_public_checks(ex_id: str, namespace: dict) -> None:
    """Print PASS/FAIL for each public check of ``ex_id`` ("ex01"...) on the functions in ``namespace``."""
    from bnlab.grading.check import run_public_checks as run

    run(ex_id, namespace)


__all__ = ["run_public_checks"]
