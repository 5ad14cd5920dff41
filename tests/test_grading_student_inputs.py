"""Hidden inputs per student: salted by HMAC-SHA256(grading key, student id), the same on every rerun.

Every hidden check of every exercise draws other numbers for another student; public checks do not change;
the reference solution earns full marks and every mutant loses points whatever the student; grading in
threads keeps each student's salt to their own checks.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest

from bnlab.grading.checks import EXERCISE_IDS, all_checks, load_exercise, load_hidden_checks, public_checks
from bnlab.grading.checks import load_course
from bnlab.grading.core.engine import grade_notebook
from bnlab.grading.core.spec import Ref
from bnlab.grading.core.student_inputs import case_rng, checks_for_student, salted, student_salt
from exercise_harness import mutant_cells, mutant_names, notebook_with, solution_cells

KEY = bytes(range(32))
STUDENTS = ("alice", "bob_1234", "Zoë")
MUTANTS = [(ex, name) for ex in EXERCISE_IDS for name in mutant_names(ex)]


def _arrays(value) -> list[np.ndarray]:
    """Every array inside a call's arguments (tuples, lists, dicts), in order."""
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _arrays(v)]
    if isinstance(value, dict):
        return [a for k in sorted(value) for a in _arrays(value[k])]
    return []


def _inputs(check) -> list[np.ndarray]:
    return [a for call in check.calls() for a in _arrays((call.args, call.kwargs))]


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b))


def grade_as(ex_id: str, cells: dict[str, str], folder, student: str | None, key: bytes = KEY):
    """The ExerciseResult of ``cells`` graded as ``student`` (None: unsalted, as without a key)."""
    graded = load_course(only=ex_id).get(ex_id)
    exercise = load_exercise(ex_id).EXERCISE
    folder.mkdir(parents=True, exist_ok=True)
    path = notebook_with(ex_id, cells, folder / exercise.notebook)
    salt = None if student is None else student_salt(key, student)
    return grade_notebook(path, exercise, checks_for_student(graded, salt))


def test_the_salt_is_hmac_of_key_and_student_and_refuses_a_short_key():
    import hashlib
    import hmac

    expected = int.from_bytes(hmac.new(KEY, b"bnlab hidden inputs\0alice", hashlib.sha256).digest(), "big")
    assert student_salt(KEY, "alice") == expected == student_salt(bytes(KEY), "alice")
    assert len({student_salt(KEY, s) for s in STUDENTS} | {student_salt(KEY[::-1], "alice")}) == 4
    with pytest.raises(ValueError, match="at least 16 bytes"):
        student_salt(b"short", "alice")


def test_outside_a_salted_check_a_case_draws_what_default_rng_draws():
    assert np.array_equal(case_rng(7).standard_normal(5), np.random.default_rng(7).standard_normal(5))


@pytest.mark.parametrize("ex_id", EXERCISE_IDS)
def test_every_hidden_check_gets_other_inputs_for_another_student_and_the_same_on_rerun(ex_id):
    for check in load_hidden_checks(ex_id):
        unsalted = _inputs(check)
        by_student = {s: _inputs(salted(check, student_salt(KEY, s))) for s in STUDENTS}
        assert _same(by_student["alice"], _inputs(salted(check, student_salt(KEY, "alice")))), check.name
        for student, inputs in by_student.items():
            assert len(inputs) == len(unsalted) and [a.shape for a in inputs] == [a.shape for a in unsalted]
            assert not _same(inputs, unsalted), f"{ex_id}/{check.name}: {student} got the unsalted inputs"
        assert not _same(by_student["alice"], by_student["bob_1234"]), f"{ex_id}/{check.name}: same inputs"


@pytest.mark.parametrize("ex_id", EXERCISE_IDS)
def test_public_checks_are_the_same_for_everyone(ex_id):
    graded = load_course(only=ex_id).get(ex_id)
    checks = checks_for_student(graded, student_salt(KEY, "alice"))
    public = public_checks(ex_id)
    assert [c.name for c in checks[:len(public)]] == [c.name for c in public]
    for mine, theirs in zip(checks, public):
        assert _same(_inputs(mine), _inputs(theirs))


def test_the_salt_stays_with_its_own_check_in_concurrent_threads():
    (check,) = [c for c in load_hidden_checks("ex01") if c.name == "other_shapes"]
    expected = {s: _inputs(salted(check, student_salt(KEY, s))) for s in STUDENTS}
    found, barrier = {}, threading.Barrier(len(STUDENTS))

    def run(student):
        mine = salted(check, student_salt(KEY, student))
        barrier.wait()
        found[student] = [_inputs(mine) for _ in range(20)]

    threads = [threading.Thread(target=run, args=(s,)) for s in STUDENTS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(_same(run_, expected[s]) for s in STUDENTS for run_ in found[s])
    assert _same(_inputs(check), _inputs(load_hidden_checks("ex01")[0]))  # nothing left behind in this thread


def test_calls_and_verify_of_a_salted_check_see_the_same_inputs():
    """verify judges the inputs that calls() sent: the reference's own result, fed back as the learner's, passes
    for a salted check and fails when verify runs for another student."""
    import bnlab
    from bnlab.grading.core.spec import CallOutcome

    (check,) = [c for c in load_hidden_checks("ex01") if c.name == "other_shapes"]
    alice, bob = salted(check, student_salt(KEY, "alice")), salted(check, student_salt(KEY, "bob_1234"))
    (call,) = alice.calls()
    assert not any(isinstance(a, Ref) for a in call.args)
    outputs = {call.key: CallOutcome(True, value=bnlab.batchnorm_forward(*call.args, **call.kwargs))}
    assert alice.verify(outputs).passed
    assert not bob.verify(outputs).passed


@pytest.mark.parametrize("ex_id", EXERCISE_IDS)
def test_the_reference_solution_gets_full_marks_for_every_student(ex_id, tmp_path):
    full = sum(c.points for c in all_checks(ex_id))
    for student in STUDENTS:
        result = grade_as(ex_id, solution_cells(ex_id), tmp_path / student, student)
        assert {c.name: c.message for c in result.checks if not c.passed} == {}, student
        assert result.points == full


@pytest.mark.parametrize("ex_id,mutant", MUTANTS, ids=[f"{ex}-{name}" for ex, name in MUTANTS])
def test_every_mutant_loses_points_for_every_student(ex_id, mutant, tmp_path):
    full = sum(c.points for c in all_checks(ex_id))
    for student in STUDENTS:
        result = grade_as(ex_id, mutant_cells(ex_id, mutant), tmp_path / student, student)
        assert result.problem == ""
        assert result.points < full, f"mutant {mutant} passed every check for {student}"


@pytest.mark.parametrize("ex_id", ["ex02", "ex08"])
def test_the_same_student_graded_twice_gets_the_same_grade(ex_id, tmp_path):
    cells = mutant_cells(ex_id, mutant_names(ex_id)[0])  # a partly wrong notebook: messages too must repeat
    first = grade_as(ex_id, cells, tmp_path / "first", "alice").to_dict()
    again = grade_as(ex_id, cells, tmp_path / "again", "alice").to_dict()
    first.pop("output"), again.pop("output")
    assert first == again
