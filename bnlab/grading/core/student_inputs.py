"""Hidden inputs per student: each hidden check draws its numbers from its own seed and the student's salt.

salt = HMAC-SHA256(grading key, student id), a 256-bit number. The instructor keeps the key
(``bnlab.grading.grade.grading_key``); a learner never sees it, so a learner who leaks the hidden
inputs of their own notebook gives classmates nothing: theirs are drawn with another salt. The same
key and student id give the same salt, so a rerun gives the same inputs and the same grade.

How a check's numbers get the salt: every case of the exercises (``BNCase``, ``LayerCase``, ...) makes
its generator with :func:`case_rng` (``case_rng(seed)``, never ``np.random.default_rng(seed)``).
:func:`salted` wraps a hidden check so that its ``calls()`` and its ``verify()`` both run with the
student's salt in effect; inside them ``case_rng(seed)`` is ``np.random.default_rng([salt, seed])``, so
the inputs sent to the learner and the expected values computed from them are the same numbers.
Outside a salted check (public checks, ``bnlab check``, tests without a key) it is
``np.random.default_rng(seed)``, the same for everyone.

The salt reaches ``case_rng`` through a context variable that is set only while one salted check's
``calls()`` or ``verify()`` runs and reset right after, in the thread that runs it: students graded at
the same time in other threads (``bnlab grade --jobs N``) never see each other's salt.
"""
from __future__ import annotations

import contextvars
import hashlib
import hmac
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from bnlab.grading.core.spec import Check

if TYPE_CHECKING:
    from bnlab.grading.core.course import GradedExercise

_SALT: contextvars.ContextVar[int | None] = contextvars.ContextVar("bnlab_student_salt", default=None)
_LABEL = b"bnlab hidden inputs\0"  # keeps this use of the key apart from any other (e.g. its fingerprint)


def student_salt(key: bytes, student: str) -> int:
    """HMAC-SHA256(key, student id) as a number: the salt of every hidden check of ``student``."""
    if not isinstance(key, bytes) or len(key) < 16:
        raise ValueError(f"the grading key must be at least 16 bytes; got {type(key).__name__} of "
                         f"{len(key) if isinstance(key, bytes) else 'no'} bytes")
    if not isinstance(student, str):
        raise TypeError(f"student must be a str (the student's id); got {type(student).__name__}")
    return int.from_bytes(hmac.new(key, _LABEL + student.encode("utf-8"), hashlib.sha256).digest(), "big")


def case_rng(seed: int) -> np.random.Generator:
    """The generator of a check's case with this ``seed``: salted by the student inside a salted check."""
    salt = _SALT.get()
    return np.random.default_rng(seed if salt is None else [salt, seed])


@contextmanager
def _salt_in_effect(salt: int | None):
    token = _SALT.set(salt)
    try:
        yield
    finally:
        _SALT.reset(token)


def salted(check: Check, salt: int | None) -> Check:
    """``check`` with its ``calls()`` and ``verify()`` drawing its cases' numbers with ``salt`` (None: unsalted)."""
    if salt is None:
        return check

    def calls():
        with _salt_in_effect(salt):
            return list(check.calls())

    def verify(outputs):
        with _salt_in_effect(salt):
            return check.verify(outputs)

    return replace(check, calls=calls, verify=verify)


def checks_for_student(graded: GradedExercise, salt: int | None) -> list[Check]:
    """The checks of ``graded`` for one student: public checks as they are (their
    inputs are public), hidden checks salted with the student's ``salt``."""
    return list(graded.public) + [salted(check, salt) for check in graded.hidden]
