"""The public checks a learner runs in the notebook: in the kernel, through plain data, with a deterministic report."""
from __future__ import annotations

import numpy as np
import pytest

import grading_fixture as fx
from bnlab.grading.check import public_result
from bnlab.grading.core.report import console_report
from bnlab.grading.core.spec import Outcome


def _namespace(source: str) -> dict:
    namespace: dict = {}
    exec(source, namespace)
    return namespace


def test_public_checks_in_the_kernel_print_deterministic_pass_fail_and_todo():
    stub = _namespace("def double(x):\n    raise NotImplementedError\n")
    wrong = _namespace("def double(x):\n    return x.T.reshape(1, -1)\n")
    good = _namespace(fx.DOUBLE_CELL)
    reports = [console_report(public_result(fx.EX01, fx.EX01_PUBLIC, ns), public_only=True)
               for ns in (stub, wrong, good, good)]
    assert "TODO doubles_a_vector: not implemented yet" in reports[0]
    assert "FAIL doubles_a_vector (0/1): wrong shape: expected (4,), found (1, 4)" in reports[1]
    assert "PASS doubles_a_vector (1/1)" in reports[2] and "Hidden checks" in reports[2]
    assert reports[2] == reports[3]
    assert not any("all tests passed" in r.lower() or "0x" in r for r in reports)


def test_public_checks_refuse_the_reference_implementation():
    namespace = _namespace("from bnlab import relu as double\n")
    result = public_result(fx.EX01, fx.EX01_PUBLIC, namespace)
    assert result.points == 0 and "reference implementation" in result.problem
    assert [c.outcome for c in result.checks] == [Outcome.REFUSED]


def test_public_checks_hand_the_learner_copies_of_the_inputs():
    seen = []
    namespace = {"double": lambda x: (seen.append(x), x.__imul__(2))[1]}
    public_result(fx.EX01, fx.EX01_PUBLIC, namespace)
    public_result(fx.EX01, fx.EX01_PUBLIC, namespace)
    np.testing.assert_array_equal(seen[1], 2 * np.arange(4.0))  # the second run got fresh inputs


def test_public_checks_in_a_real_kernel_show_the_learners_line_and_nothing_that_varies():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import numpy as np\n\ndef batchnorm_forward(Z, gamma, beta, eps=1e-5):\n"
                                  "    mu = Z.mean(axis=1, keepdims=True)\n    return Z @ mu, None\n"),
        nbformat.v4.new_code_cell('from bnlab.grading import run_public_checks\n\n'
                                  'run_public_checks("ex01", globals())')])
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    text = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert "FAIL" in text and "your notebook cell, line 5, in batchnorm_forward" in text
    assert "return Z @ mu, None" in text and "ipykernel" not in text and "/tmp" not in text
