"""The grading engine's parts: plain data, the notebook reader, the sandbox, the in-notebook checks."""
from __future__ import annotations

import json

import numpy as np
import pytest

import grading_fixture as fx
from bnlab.grading.shared import plain
from bnlab.grading.shared.engine import grade_notebook
from bnlab.grading.shared.notebook import NotebookError, forbidden_imports, read_graded_cells
from bnlab.grading.learner.public import public_result
from bnlab.grading.shared.report import console_report
from bnlab.grading.shared.sandbox import Limits, run_learner


# --- plain data ----------------------------------------------------------------------------------

def test_plain_round_trip_keeps_structure_dtype_and_special_floats():
    value = (np.arange(6.0).reshape(2, 3), [1, 2.5, True, None, "s", float("nan")],
             {"W1": np.eye(2, dtype=np.float32), "t": np.int64(3)}, np.array([1, 2], dtype=np.int16))
    back = plain.roundtrip(value)
    assert isinstance(back, tuple) and isinstance(back[1], list) and isinstance(back[2], dict)
    np.testing.assert_array_equal(back[0], value[0])
    assert back[2]["W1"].dtype == np.float32 and back[3].dtype == np.int16
    assert back[2]["t"] == 3 and type(back[2]["t"]) is int
    assert back[1][:5] == [1, 2.5, True, None, "s"] and np.isnan(back[1][5])


def test_plain_refuses_foreign_objects_and_object_arrays():
    class Sneaky:
        def __eq__(self, other):
            return True

    class Sub(np.ndarray):
        pass

    back = plain.roundtrip({"o": Sneaky(), "a": np.array([1, None], dtype=object), "s": np.ones(2).view(Sub)})
    assert isinstance(back["o"], plain.Foreign) and back["o"].description == "object of type Sneaky"
    assert back["o"] != 1 and not (back["o"] == np.ones(2))
    assert isinstance(back["a"], plain.Foreign) and "dtype object" in back["a"].description
    assert type(back["s"]) is np.ndarray
    assert isinstance(plain.roundtrip({1: 2}), plain.Foreign)


def test_unpack_rejects_malformed_or_hostile_bytes():
    for data in (b"", b"pickle\x80\x04", plain.pack(1)[:-1] + b"", b"BNLABPLAIN1\n" + b"\xff" * 8):
        with pytest.raises(ValueError):
            plain.unpack(data)
    header = json.dumps({"array": "|O", "shape": [1], "offset": 0, "nbytes": 8}).encode()
    forged = b"BNLABPLAIN1\n" + len(header).to_bytes(8, "little") + header + bytes(8)
    with pytest.raises(ValueError, match="refusing array of dtype object"):
        plain.unpack(forged)


# --- the notebook reader -------------------------------------------------------------------------

def test_graded_cells_are_read_in_order_and_other_cells_ignored(tmp_path):
    path = fx.notebook(tmp_path / "ex01.ipynb", [fx.DOUBLE_CELL, "# GRADED FUNCTION: helper\nx = 1\n"],
                       extra_cells=["# not graded\nwhile True: pass\n"])
    before = path.read_bytes()
    cells = read_graded_cells(path)
    assert [(c.name, c.index) for c in cells] == [("double", 2), ("helper", 3)]
    assert path.read_bytes() == before


@pytest.mark.parametrize("content, message", [
    ("", "is empty"), ("{oops", "not JSON"), ("[1, 2]", "not a Jupyter notebook"),
    ('{"cells": 3}', "not a Jupyter notebook")])
def test_unreadable_notebooks_raise_a_learner_message(tmp_path, content, message):
    path = tmp_path / "ex01_x.ipynb"
    path.write_text(content)
    with pytest.raises(NotebookError, match=message):
        read_graded_cells(path)


def test_a_huge_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    from bnlab.grading.shared import notebook

    path = fx.notebook(tmp_path / "ex01.ipynb", [fx.DOUBLE_CELL])
    monkeypatch.setattr(notebook, "MAX_NOTEBOOK_BYTES", 100)
    with pytest.raises(NotebookError, match="too large"):
        read_graded_cells(path)


@pytest.mark.parametrize("source", [
    "import bnlab", "import numpy, bnlab.batchnorm as bn", "from bnlab import batchnorm_forward",
    "from bnlab.batchnorm import batchnorm_forward", "import importlib\nm = importlib.import_module('bnlab')",
    "m = __import__('bnlab.batchnorm')", "def f():\n    from bnlab import relu\n"])
def test_every_form_of_importing_bnlab_is_found(source):
    assert forbidden_imports(source)


@pytest.mark.parametrize("source", ["import numpy as np", "from . import bnlab_like", "x = 'bnlabel'",
                                    "import bnlabx"])
def test_other_imports_are_allowed(source):
    assert forbidden_imports(source) == []


# --- the sandbox ---------------------------------------------------------------------------------

def test_the_sandbox_scrubs_the_environment_and_uses_a_fresh_directory(monkeypatch):
    monkeypatch.setenv("SECRET_TOKEN", "hunter2")
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    source = ("# GRADED FUNCTION: probe\nimport os, sys\n\ndef probe():\n"
              "    return [sorted(os.environ), os.getcwd(), os.listdir('.'), sys.flags.isolated]\n")
    run = run_learner([("probe", 0, source)], [{"function": "probe", "args": (), "kwargs": {}, "key": "p",
                                                 "returns": None, "copy_check": False}], Limits(timeout=5))
    names, cwd, listing, isolated = run.outcomes["p"]["value"]
    assert "SECRET_TOKEN" not in names and "PYTHONPATH" not in names
    assert {"HOME", "PATH", "OPENBLAS_NUM_THREADS"} <= set(names)
    assert "bnlab-learner-" in cwd and listing == [] and isolated == 1


def test_a_learner_cannot_see_the_reference_package_in_its_process():
    source = ("# GRADED FUNCTION: probe\nimport sys\n\ndef probe():\n"
              "    return sorted(m for m in sys.modules if m.split('.')[0] == 'bnlab')\n")
    run = run_learner([("probe", 0, source)], [{"function": "probe", "args": (), "kwargs": {}, "key": "p",
                                                 "returns": None, "copy_check": False}], Limits(timeout=5))
    assert run.outcomes["p"]["value"] == []


def test_a_correct_notebook_gets_full_marks_and_a_stub_gets_zero(tmp_path):
    checks = fx.EX01_PUBLIC + fx.EX01_HIDDEN
    good = grade_notebook(fx.notebook(tmp_path / "a.ipynb", [fx.DOUBLE_CELL]), fx.EX01, checks, Limits(timeout=5))
    assert good.points == good.max_points == 4 and not good.problem
    stub = "# GRADED FUNCTION: double\ndef double(x):\n    raise NotImplementedError\n"
    todo = grade_notebook(fx.notebook(tmp_path / "b.ipynb", [stub]), fx.EX01, checks, Limits(timeout=5))
    assert todo.points == 0
    assert [c.message for c in todo.checks] == ["double is not implemented yet (it raised NotImplementedError)",
                                                "it is not implemented yet", "it is not implemented yet"]


# --- the in-notebook public checks ---------------------------------------------------------------

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


def test_public_checks_hand_the_learner_copies_of_the_inputs():
    seen = []
    namespace = {"double": lambda x: (seen.append(x), x.__imul__(2))[1]}
    public_result(fx.EX01, fx.EX01_PUBLIC, namespace)
    public_result(fx.EX01, fx.EX01_PUBLIC, namespace)
    np.testing.assert_array_equal(seen[1], 2 * np.arange(4.0))  # the second run got fresh inputs


def test_the_exec_sandbox_gives_the_same_verdicts(monkeypatch, tmp_path):
    """BNLAB_SANDBOX=exec starts a new interpreter per notebook instead of forking the preloaded server."""
    monkeypatch.setenv("BNLAB_SANDBOX", "exec")
    checks = fx.EX01_PUBLIC + fx.EX01_HIDDEN
    good = grade_notebook(fx.notebook(tmp_path / "a.ipynb", [fx.DOUBLE_CELL]), fx.EX01, checks, Limits(timeout=5))
    assert good.points == 4
    exits = "# GRADED FUNCTION: double\nimport os\n\ndef double(x):\n    os._exit(0)\n"
    bad = grade_notebook(fx.notebook(tmp_path / "b.ipynb", [exits]), fx.EX01, checks, Limits(timeout=5))
    assert bad.points == 0 and "os._exit" in bad.problem
    loop = "# GRADED FUNCTION: double\ndef double(x):\n    while True:\n        pass\n"
    slow = grade_notebook(fx.notebook(tmp_path / "c.ipynb", [loop]), fx.EX01, checks, Limits(timeout=1))
    assert slow.points == 0 and "timed out after 1 s" in slow.problem


def test_learner_code_cannot_write_the_graders_files_when_the_grader_is_root(tmp_path):
    import os

    if os.geteuid() != 0:
        pytest.skip("the throwaway uid is used only when grading as root")
    target = tmp_path / "grader-owned.txt"
    target.write_text("safe")
    tmp_path.chmod(0o755)
    source = (f"# GRADED FUNCTION: probe\nimport os\n\ndef probe():\n    try:\n        open({str(target)!r}, 'w').write('pwned')\n"
              "    except OSError as e:\n        return [os.getuid(), type(e).__name__]\n    return [os.getuid(), 'wrote']\n")
    run = run_learner([("probe", 0, source)], [{"function": "probe", "args": (), "kwargs": {}, "key": "p",
                                                 "returns": None, "copy_check": False}], Limits(timeout=5))
    uid, outcome = run.outcomes["p"]["value"]
    assert uid != 0 and outcome == "PermissionError" and target.read_text() == "safe"


def test_huge_or_deep_structures_become_descriptions_not_grader_memory():
    deep: list = []
    for _ in range(100):
        deep = [deep]
    assert "nested too deeply" in repr(plain.roundtrip(deep))
    many = plain.roundtrip([[0] * 1000 for _ in range(1000)])
    assert isinstance(many, list) and any(isinstance(row, plain.Foreign) or
                                          any(isinstance(x, plain.Foreign) for x in row) for row in many)
    assert plain.roundtrip([0] * (plain.MAX_ITEMS + 1)) == plain.Foreign(f"a structure with more than {plain.MAX_ITEMS} items")


def test_public_checks_in_a_real_kernel_show_the_learners_line_and_nothing_that_varies():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import numpy as np\n\ndef batchnorm_forward(Z, gamma, beta, eps=1e-5):\n"
                                  "    mu = Z.mean(axis=1, keepdims=True)\n    return Z @ mu, None\n"),
        nbformat.v4.new_code_cell('from bnlab.grading import run_public_checks\n\nrun_public_checks("ex01", globals())')])
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    text = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert "FAIL" in text and "your notebook cell, line 5, in batchnorm_forward" in text
    assert "return Z @ mu, None" in text and "ipykernel" not in text and "/tmp" not in text


def test_hidden_failure_names_only_builtin_exception_types():
    from bnlab.grading.shared.engine import _failure_kind

    assert _failure_kind("Traceback ...\nValueError: shapes (7,13) and (5,) not aligned") == "your code raised ValueError"
    # A class the learner defines can spell a hidden input's shape in its name: never show it.
    leaked = _failure_kind("Traceback ...\nShape7x13Error: boom")
    assert "7x13" not in leaked and leaked == "your code raised an exception"
