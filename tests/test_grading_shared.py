"""The arguments of copy_check calls in the grader's shared memory: the grader reads them back itself, so a
learner that forges the worker's report of its arguments still loses "unchanged"."""
from __future__ import annotations

import os

import numpy as np
import pytest

from bnlab.grading.core.engine import outcome_of
from bnlab.grading.core.spec import Call
from bnlab.grading.sandbox import shared
from bnlab.grading.sandbox.client import Limits, run_learner

needs_memfd = pytest.mark.skipif(not shared.available(), reason="os.memfd_create (Linux): no shared memory here")

FORGER = r"""# GRADED FUNCTION: f
import sys

_worker = sys._getframe(1).f_globals  # the worker module
_report, _kept = _worker["_inputs_after"], {}
_worker["_inputs_after"] = lambda call, args, kwargs: _report(call, _kept.get("args", args), kwargs)

def f(x, p):
    _kept["args"] = (x.copy(), {k: v.copy() for k, v in p.items()})
    x *= 2
    p["W"][0, 0] = 99.0
    return x.sum()
"""
HONEST = "# GRADED FUNCTION: f\ndef f(x, p):\n    return (2 * x).sum() + p['W'].sum()\n"
REBINDS = "# GRADED FUNCTION: f\ndef f(x, p):\n    p['W'] = p['W'] * 2\n    return x.sum()\n"


def _call() -> Call:
    return Call("f", (np.arange(6.0).reshape(2, 3), {"W": np.ones((2, 2)), "b": np.zeros(2, np.int32)}), key="f",
                copy_check=True)


def _worker_call(call: Call) -> dict:
    return {"function": call.function, "args": tuple(call.args), "kwargs": dict(call.kwargs), "key": call.key,
            "returns": None, "copy_check": True}


def _modified(cell: str) -> tuple[str, ...]:
    call = _call()
    run = run_learner([("f", 0, cell)], [_worker_call(call)], Limits(timeout=10))
    assert run.status == "ok", run.message
    return outcome_of(run.outcomes["f"], call, run.shared_after.get("f")).modified


@needs_memfd
def test_share_moves_copy_check_arrays_to_sealed_memory_and_reads_them_back():
    call = _call()
    ref = {"$ref": "f", "index": None}
    sent = [{**_worker_call(call), "kwargs": {"cache": ref}},
            {**_worker_call(call), "key": "g", "copy_check": False}]
    swapped, memory = shared.share(sent)
    try:
        assert sent[0]["args"][0] is call.args[0], "the caller's calls are not changed"
        assert swapped[0]["args"] == ({"$shared": 0}, {"W": {"$shared": 1}, "b": {"$shared": 2}})
        assert swapped[0]["kwargs"] == {"cache": ref}, "an earlier call's result stays a Ref"
        assert swapped[1] is sent[1], "a call without copy_check keeps its arrays"
        with pytest.raises(OSError):
            os.ftruncate(memory.fd, 1)  # sealed: a learner cannot shrink it under the grader's read
        back = shared.read_back(memory, swapped)
        assert set(back) == {"f"}
        assert np.array_equal(back["f"]["args"][0], call.args[0])
        assert back["f"]["args"][1]["b"].dtype == np.int32
        os.pwrite(memory.fd, np.float64(5.0).tobytes(), 0)  # what a job writes into x[0, 0]
        assert shared.read_back(memory, swapped)["f"]["args"][0][0, 0] == 5.0
    finally:
        memory.close()


@needs_memfd
@pytest.mark.parametrize("mode", ["server", "exec"])
def test_a_forged_report_of_the_arguments_does_not_hide_an_in_place_change(monkeypatch, mode):
    if mode == "exec":
        monkeypatch.setenv("BNLAB_SANDBOX", "exec")
    assert _modified(FORGER) == ("0", "1['W']"), "the grader's own read of its memory"
    assert _modified(HONEST) == ()


def test_an_argument_rebound_to_a_new_array_is_seen_by_the_workers_report():
    """Shared memory cannot see p["W"] replaced by a new array; the worker's report (forgeable) does."""
    assert _modified(REBINDS) == ("1['W']",)


def test_without_a_memfd_the_workers_report_decides(monkeypatch):
    monkeypatch.setattr(shared, "available", lambda: False)
    call = _call()
    run = run_learner([("f", 0, FORGER)], [_worker_call(call)], Limits(timeout=10))
    assert run.status == "ok" and run.shared_after == {}, run.message
    assert outcome_of(run.outcomes["f"], call).modified == (), "forged: the documented weakness off Linux"

