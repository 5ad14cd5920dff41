"""Reading an exercise notebook's graded cells (never running or changing the file), and writing cells into one."""
from __future__ import annotations

import json

import pytest

import grading_fixture as fx
from bnlab.grading.shared.notebook import (NotebookError, forbidden_imports, read_graded_cells, split_cells,
                                           with_cells)


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
