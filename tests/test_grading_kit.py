"""The check-writing kit: reading a call's outcome, typed failures, comparing arrays."""
from __future__ import annotations

import numpy as np
import pytest

from bnlab.grading.checks.kit import Mismatch, check_array, value_of, verdict
from bnlab.grading.core.spec import CallOutcome, Outcome


def _verdict_of(outputs, reveal=True):
    return verdict(lambda: value_of(outputs, "k", "f", reveal))


@pytest.mark.parametrize("reveal", [True, False])
def test_a_not_implemented_call_is_a_typed_not_implemented_verdict(reveal):
    stub = CallOutcome(False, error="f is not implemented yet (it raised NotImplementedError)", not_implemented=True)
    result = _verdict_of({"k": stub}, reveal)
    assert (result.passed, result.message, result.outcome) == (False, "f: not implemented yet", Outcome.NOT_IMPLEMENTED)


def test_an_error_that_only_mentions_not_implemented_is_a_failure():
    raised = CallOutcome(False, error="Traceback (your code, most recent call last):\n"
                                      "ValueError: this case is not implemented yet")
    public, hidden = _verdict_of({"k": raised}), _verdict_of({"k": raised}, reveal=False)
    assert public.outcome is hidden.outcome is Outcome.FAILED
    assert public.message.startswith("f raised an error:\n") and "ValueError" in public.message
    assert hidden.message == "f raised ValueError on this check's inputs (run the public checks to see a traceback)"


def test_a_missing_call_and_a_plain_mismatch_fail():
    assert _verdict_of({}).outcome is Outcome.FAILED
    assert verdict(lambda: check_array(np.zeros(2), np.ones(2), "A")).outcome is Outcome.FAILED
    assert verdict(lambda: "done") == verdict(lambda: "done")
    assert verdict(lambda: "done").passed and verdict(lambda: "done").outcome is None


def test_mismatch_keeps_its_message_and_outcome():
    failure = Mismatch("f: not implemented yet", Outcome.NOT_IMPLEMENTED)
    assert str(failure) == "f: not implemented yet" and failure.outcome is Outcome.NOT_IMPLEMENTED
    assert Mismatch("x").outcome is Outcome.FAILED
