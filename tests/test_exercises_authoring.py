"""Each exercise written once: its source notebook gives the stub and the reference, and a new exercise
that lacks a piece is told which (bnlab.grading.author.authoring, exercises/AUTHORING.md)."""
from __future__ import annotations

import json
import shutil

import pytest

from bnlab.grading.author import authoring
from bnlab.grading.checks import EXERCISE_IDS
from exercise_harness import EXERCISES, INSTRUCTOR, ROOT, solution_cells, stub_cells

PACKAGE = ROOT / "bnlab" / "grading" / "checks"


def _cell(source: str, kind: str = "code") -> dict:
    cell = {"cell_type": kind, "metadata": {}, "source": source}
    return {**cell, "outputs": [], "execution_count": None} if kind == "code" else cell


SOURCE_CELL = ('# GRADED FUNCTION: double\nimport numpy as np\n\n\ndef double(x):\n    """x: (n, m). Returns 2x."""\n'
               '    ### BEGIN SOLUTION\n    y = 2 * x\n    ### END SOLUTION\n    return y\n')


def test_the_ids_are_found_from_the_modules_and_every_exercise_has_all_its_pieces():
    assert authoring.exercise_ids(PACKAGE, INSTRUCTOR) == list(EXERCISE_IDS)
    assert "ex07" in EXERCISE_IDS and "ex08" in EXERCISE_IDS
    for ex_id in EXERCISE_IDS:
        assert authoring.missing_pieces(ex_id, PACKAGE, INSTRUCTOR, EXERCISES) == [], ex_id


def test_every_stub_is_what_its_source_gives():
    assert authoring.out_of_date(EXERCISES) == []


def test_the_stub_replaces_the_solution_at_its_indentation_and_the_reference_keeps_it():
    source = {"cells": [_cell("# Title", "markdown"), _cell(SOURCE_CELL)], "metadata": {"bnlab": {"you_write": "x"}}}
    stub = authoring.stub_notebook(source)
    assert stub["cells"][1]["source"] == SOURCE_CELL.replace(
        "    ### BEGIN SOLUTION\n    y = 2 * x\n    ### END SOLUTION\n",
        "    # YOUR CODE STARTS HERE\n    raise NotImplementedError\n    # YOUR CODE ENDS HERE\n")
    assert "bnlab" not in stub["metadata"] and stub["cells"][0] == source["cells"][0]
    (reference,) = authoring.solution_cells_of(source).values()
    assert "    # YOUR CODE STARTS HERE\n    y = 2 * x\n    # YOUR CODE ENDS HERE\n" in reference
    namespace: dict = {}
    exec(reference, namespace)
    assert namespace["double"](3) == 6


@pytest.mark.parametrize("source,words", [
    (SOURCE_CELL.replace("    ### END SOLUTION\n", ""), "needs an '### END SOLUTION'"),
    (SOURCE_CELL.replace("    ### BEGIN SOLUTION\n", "").replace("    ### END SOLUTION\n", ""), "has no '### BEGIN"),
])
def test_a_source_with_broken_markers_is_refused_naming_the_cell(source, words):
    with pytest.raises(authoring.AuthoringError, match=words):
        authoring.stub_notebook({"cells": [_cell(source)], "metadata": {}}, "ex99_x.ipynb")


def test_solution_markers_outside_a_graded_cell_are_refused():
    cell = _cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n")
    with pytest.raises(authoring.AuthoringError, match="outside a graded cell"):
        authoring.stub_notebook({"cells": [cell], "metadata": {}}, "ex99_x.ipynb")


@pytest.mark.parametrize("ex_id", EXERCISE_IDS)
def test_no_stub_holds_a_line_of_its_solution(ex_id):
    for name, reference in solution_cells(ex_id).items():
        body = reference.split(authoring.STARTS)[1].split(authoring.ENDS)[0]
        stub_lines = {line.strip() for line in stub_cells(ex_id)[name].splitlines()}
        for line in body.splitlines():
            if len(line.strip()) > 12 and not line.strip().startswith("#"):
                assert line.strip() not in stub_lines, (ex_id, name, line)


def _new_exercise(tmp_path):
    """A copy of ex01 renamed ex99, laid out as a checkout: package modules, instructor folder, exercises."""
    package, exercises = tmp_path / "package", tmp_path / "exercises"
    instructor = exercises / "instructor"
    for folder in (package, instructor / "ex99"):
        folder.mkdir(parents=True)
    module = (PACKAGE / "ex01.py").read_text()
    (package / "ex99.py").write_text(module.replace('id="ex01"', 'id="ex99"').replace(
        "ex01_batchnorm_forward.ipynb", "ex99_new.ipynb"))
    shutil.copy(authoring.source_path(INSTRUCTOR, "ex01"), instructor / "ex99" / "ex99_new.ipynb")
    shutil.copy(INSTRUCTOR / "ex01" / "hidden.py", instructor / "ex99" / "hidden.py")
    shutil.copy(INSTRUCTOR / "ex01" / "mutants.py", instructor / "ex99" / "mutants.py")
    (exercises / "README.md").write_text(f"# Exercises\n\n{authoring.TABLE_BEGIN}\n{authoring.TABLE_END}\n")
    return package, instructor, exercises


def test_a_new_exercise_is_its_own_files_plus_one_command_and_each_missing_piece_is_named(tmp_path):
    package, instructor, exercises = _new_exercise(tmp_path)
    assert authoring.missing_pieces("ex99", package, instructor, exercises) == [
        f"ex99: no stub {exercises / 'ex99_new.ipynb'}: run `make exercises`"]
    assert authoring.write_stubs(exercises) == [exercises / "ex99_new.ipynb", exercises / "README.md"]
    assert authoring.missing_pieces("ex99", package, instructor, exercises) == []
    assert "| `ex99_new.ipynb` | `batchnorm_forward" in (exercises / "README.md").read_text()
    assert authoring.out_of_date(exercises) == []

    pieces = {
        package / "ex99.py": "no checks module",
        instructor / "ex99" / "ex99_new.ipynb": "no source notebook",
        instructor / "ex99" / "hidden.py": "no hidden checks",
        instructor / "ex99" / "mutants.py": "no mutants",
        exercises / "ex99_new.ipynb": "run `make exercises`",
    }
    for path, words in pieces.items():
        saved = path.read_bytes()
        path.unlink()
        problems = authoring.missing_pieces("ex99", package, instructor, exercises)
        assert any(words in p and (path.name in p or "ex99_<name>" in p) for p in problems), (path, problems)
        path.write_bytes(saved)

    mutants = instructor / "ex99" / "mutants.py"
    mutants.write_text(mutants.read_text().split("MESSAGES")[0])
    assert any("defines no MESSAGES" in p for p in authoring.missing_pieces("ex99", package, instructor, exercises))
    source = instructor / "ex99" / "ex99_new.ipynb"
    nb = json.loads(source.read_text())
    del nb["metadata"]["bnlab"]
    source.write_text(json.dumps(nb))
    assert any("bnlab.you_write" in p for p in authoring.missing_pieces("ex99", package, instructor, exercises))


def test_an_edited_source_makes_its_stub_out_of_date_until_make_exercises(tmp_path):
    _, instructor, exercises = _new_exercise(tmp_path)
    authoring.write_stubs(exercises)
    source = instructor / "ex99" / "ex99_new.ipynb"
    source.write_text(source.read_text().replace("Batch Norm, forward pass", "Batch Norm forward"))
    assert [line.split(":")[0] for line in authoring.out_of_date(exercises)] == [str(exercises / "ex99_new.ipynb")]
    assert authoring.main(["--exercises", str(exercises), "--check"]) == 1
    assert authoring.main(["--exercises", str(exercises)]) == 0
    assert authoring.out_of_date(exercises) == []


@pytest.mark.parametrize("ex_id", ["ex07", "ex08"])
def test_the_release_leak_scan_finds_solution_code_read_from_the_source_notebooks(ex_id, tmp_path):
    from bnlab.grading.author.bundles import leaks

    name = list(solution_cells(ex_id))[-1]
    body = solution_cells(ex_id)[name].split(authoring.STARTS)[1].split(authoring.ENDS)[0]
    (tmp_path / "notes.py").write_text(f"# kept from class\n{authoring.STARTS}{body}{authoring.ENDS}\n")
    (tmp_path / "stub.ipynb").write_text((EXERCISES / authoring.source_path(INSTRUCTOR, ex_id).name).read_text())
    assert leaks(tmp_path, INSTRUCTOR) == ["notes.py"]
