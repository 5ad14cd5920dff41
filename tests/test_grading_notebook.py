"""Reading an exercise notebook's graded cells (never running or changing the file), and writing cells into one."""
from __future__ import annotations

import json

import pytest

import grading_fixture as fx
from bnlab.grading.core.notebook import (MAX_GRADED_SOURCE_BYTES, MAX_NESTING, MAX_NOTEBOOK_BYTES, GradedCell,
                                         NotebookError, check_parsable, check_source_size, forbidden_imports,
                                         nesting_depth, read_graded_cells, split_cells, with_cells)
from exercise_harness import INSTRUCTOR, solution_cells


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
    from bnlab.grading.core import notebook

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


@pytest.mark.parametrize("source", ["a" + ".b" * 100000, "-" * 100000 + "1", "not " * 60000 + "x"])
def test_a_source_too_deep_to_parse_is_a_learner_message_not_a_grader_crash(source):
    with pytest.raises(NotebookError, match="nested too deeply"):
        forbidden_imports(source)


# Each one builds a tree about MAX_NESTING + 20 deep: every supported Python compiles it (they stop near 1000
# levels, 200 brackets), yet the grader refuses it on all of them alike, before parsing.
_DEEP = MAX_NESTING + 20


@pytest.mark.parametrize("source", [
    "x = a" + ".b" * _DEEP, "x = " + "-" * _DEEP + "1", "x = " + "not " * _DEEP + "y", "x = 1" + " + 1" * _DEEP,
    "f = " + "lambda: " * _DEEP + "1", "x = " + "(" * (_DEEP // 2) + "a" + ".b" * (_DEEP // 2) + ")" * (_DEEP // 2),
    "def f(x):\n    return (x +\n" + "        -x\n" * _DEEP + "    )\n"])
def test_nesting_beyond_the_limit_is_refused_on_every_python_before_parsing(source):
    compile(source, "cell", "exec")  # this Python could compile it: the refusal is the grader's own limit
    with pytest.raises(NotebookError, match=rf"nested too deeply .*the limit is {MAX_NESTING}\)"):
        check_parsable(source)
    with pytest.raises(NotebookError, match="nested too deeply"):
        forbidden_imports(source)


def test_long_flat_code_and_the_reference_solutions_are_well_within_the_nesting_limit():
    flat = "DATA = [" + ", ".join(f"-{i}.5" for i in range(20000)) + "]\nT = {" + \
        ", ".join(f"'k{i}': (-{i}, not {i})" for i in range(2000)) + "}\n"
    assert nesting_depth(flat)[0] <= 4
    check_parsable(flat)
    for ex_id in sorted(p.parent.name for p in INSTRUCTOR.glob("ex[0-9][0-9]/hidden.py")):
        for name, source in solution_cells(ex_id).items():
            depth, _ = nesting_depth(source)
            assert depth <= MAX_NESTING // 4, f"{ex_id} {name}: estimated depth {depth}"


def test_the_nesting_estimate_names_the_deepest_statement_and_judges_an_unfinished_one():
    source = "a = 1\nif a:\n    b = [(-a) * 2 for _ in range(3)]\nc = a + 1\n"
    depth, line = nesting_depth(source)
    assert line == 3 and depth >= 5  # block, list, comprehension, multiplication, negation
    unterminated = "x = (" + "-" * (_DEEP * 2)  # a syntax error: judged on what the scan read
    assert nesting_depth(unterminated)[0] > MAX_NESTING
    with pytest.raises(NotebookError, match="line 1: about"):
        check_parsable(unterminated)


def test_graded_source_is_capped_over_all_graded_cells_together():
    half = "#" * (MAX_GRADED_SOURCE_BYTES // 2)
    check_source_size([GradedCell("f", 0, half), GradedCell("g", 1, half)])  # exactly the cap: fine
    with pytest.raises(NotebookError, match=r"257 KB of source, more than the grader checks \(256 KB\)"):
        check_source_size([GradedCell("f", 0, half), GradedCell("g", 1, half + "é" * 512)])


def test_split_cells_cuts_a_solution_at_each_graded_line():
    text = ("# a header that is not a cell\n# GRADED FUNCTION: forward\nimport numpy as np\n\ndef forward(x):\n"
            "    return x\n\n\n# GRADED FUNCTION: backward\ndef backward(d):\n    return d\n")
    cells = split_cells(text)
    assert list(cells) == ["forward", "backward"]
    assert cells["forward"] == "# GRADED FUNCTION: forward\nimport numpy as np\n\ndef forward(x):\n    return x\n\n\n"
    assert cells["backward"] == "# GRADED FUNCTION: backward\ndef backward(d):\n    return d\n"


def test_with_cells_replaces_only_the_named_graded_cells_of_a_copy(tmp_path):
    path = fx.notebook(tmp_path / "ex02.ipynb", fx.PAIR_CELLS, extra_cells=["x = 1\n"])
    original = json.loads(path.read_text())
    new = "# GRADED FUNCTION: unscale\ndef unscale(y, cache):\n    return y\n"
    nb = with_cells(original, {"unscale": new, "absent": "# GRADED FUNCTION: absent\n"})
    assert [c["source"] for c in nb["cells"]] == [c["source"] for c in original["cells"][:-1]] + [new]
    assert original == json.loads(path.read_text())
    path.write_text(json.dumps(nb))
    assert [c.source for c in read_graded_cells(path)] == [fx.PAIR_CELLS[0], new]


def test_a_notebook_of_millions_of_tiny_json_values_is_refused_before_it_is_parsed(tmp_path):
    """30 MB of "[]" is under the size cap but would parse into about 1 GB of lists: refused by counting first.
    tracemalloc's peak counts what Python allocated while reading (a child's ru_maxrss would not do: Linux keeps
    the parent's high-water mark across exec)."""
    import tracemalloc

    path = tmp_path / "ex01_bomb.ipynb"
    path.write_bytes(b'{"cells": [' + b"[]," * (10 * 2**20) + b'[]], "nbformat": 4}')
    assert path.stat().st_size < MAX_NOTEBOOK_BYTES
    tracemalloc.start()
    try:
        with pytest.raises(NotebookError, match="too many JSON values.*clear the cell outputs"):
            read_graded_cells(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * path.stat().st_size, f"reading a refused notebook allocated {peak / 2**20:.0f} MB"
