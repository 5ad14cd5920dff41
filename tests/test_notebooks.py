"""The stored course notebooks: one clean run each, the figures they are meant to draw, the links between them.

nbval compares the text outputs but not the PNGs, so a cell that should plot and stored nothing would
pass nbval. Here every cell tagged ``figure`` must hold a PNG, and no PNG may sit in an untagged cell
(so the tags stay an honest count of each notebook's figures).
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from bnlab import notebook_tools
from bnlab.notebook_tools import code_cells, execution_problems, png_count

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
FIGURE_TAG = "figure"


def read(path):
    return nbformat.read(path, as_version=4)


def is_figure_cell(cell):
    return FIGURE_TAG in cell.metadata.get("tags", [])


def test_the_course_notebooks_are_numbered_01_to_n_without_gaps():
    numbers = [int(path.name[:2]) for path in NOTEBOOKS]
    assert numbers == list(range(1, len(NOTEBOOKS) + 1)), f"found {[p.name for p in NOTEBOOKS]}"
    assert len(NOTEBOOKS) == 7, "the course has seven notebooks (issue 4)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_outputs_come_from_one_clean_run(path):
    nb = read(path)
    assert execution_problems(nb) == []
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_figure_cell_holds_its_figure(path):
    cells = code_cells(read(path))
    figure_cells = [i for i, cell in enumerate(cells) if is_figure_cell(cell)]
    assert figure_cells, f"{path.name} has no code cell tagged '{FIGURE_TAG}'; every notebook draws at least one figure"
    empty = [i for i in figure_cells if png_count(cells[i]) == 0]
    assert not empty, f"{path.name}: code cells {empty} are tagged '{FIGURE_TAG}' but stored no PNG"
    untagged = [i for i, cell in enumerate(cells) if png_count(cell) and not is_figure_cell(cell)]
    assert not untagged, f"{path.name}: code cells {untagged} draw a figure but are not tagged '{FIGURE_TAG}'"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_figure_repr_is_stored_as_text(path):
    """A plotting cell that ends without `;` or plt.show() stores `[<matplotlib.lines.Line2D at 0x…>]`."""
    for index, cell in enumerate(code_cells(read(path))):
        for output in cell.outputs:
            text = output.get("data", {}).get("text/plain", "") if output.output_type == "execute_result" else ""
            assert "matplotlib" not in text and " at 0x" not in text, f"{path.name} code cell {index} stores {text!r}"


@pytest.mark.parametrize("path", NOTEBOOKS[:-1], ids=lambda p: p.name)
def test_each_notebook_links_to_the_next(path):
    following = NOTEBOOKS[NOTEBOOKS.index(path) + 1].name
    markdown = "\n".join(cell.source for cell in read(path).cells if cell.cell_type == "markdown")
    assert f"({following})" in markdown, f"{path.name} has no link to the next notebook {following}"


def test_the_readme_lists_every_notebook_in_order():
    readme = (NOTEBOOK_DIR / "README.md").read_text()
    linked = re.findall(r"\]\(([^)]+\.ipynb)\)", readme)
    assert all((NOTEBOOK_DIR / name).is_file() for name in linked), f"README links to a missing notebook: {linked}"
    positions = [readme.find(path.name) for path in NOTEBOOKS]
    unnamed = [p.name for p, i in zip(NOTEBOOKS, positions) if i < 0]
    assert not unnamed, f"notebooks/README.md does not name {unnamed}"
    assert positions == sorted(positions)


def _notebook(cells):
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = dict(notebook_tools.KERNELSPEC)
    return nb


def test_execution_problems_finds_unexecuted_reordered_and_failed_cells():
    ran = [nbformat.v4.new_code_cell("1", execution_count=1), nbformat.v4.new_code_cell("2", execution_count=2)]
    assert execution_problems(_notebook(ran)) == []
    assert "expected 2" in execution_problems(_notebook([ran[0], nbformat.v4.new_code_cell("2")]))[0]
    assert "is 2, expected 1" in execution_problems(_notebook(ran[::-1]))[0]
    failed = nbformat.v4.new_code_cell("1/0", execution_count=1,
                                       outputs=[nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="")])
    assert "ZeroDivisionError" in execution_problems(_notebook([failed]))[0]


def test_execute_runs_in_the_notebooks_folder_and_stores_nothing_that_varies(tmp_path):
    (tmp_path / "data.txt").write_text("found")
    cells = [nbformat.v4.new_markdown_cell("# a notebook"),
             nbformat.v4.new_code_cell("print(open('data.txt').read())"),
             nbformat.v4.new_code_cell("6 * 7")]
    path = tmp_path / "small.ipynb"
    nb = _notebook(cells)
    nb.metadata["kernelspec"]["display_name"] = "Python 3"
    nbformat.write(nb, path)
    notebook_tools.execute(path)
    nb = read(path)
    assert execution_problems(nb) == []
    assert nb.cells[1].outputs[0].text == "found\n"
    assert nb.cells[2].outputs[0].data["text/plain"] == "42"
    assert [cell.id for cell in nb.cells] == ["cell-00", "cell-01", "cell-02"]
    assert nb.metadata["kernelspec"] == {"name": "python3", "display_name": "Python 3", "language": "python"}
    assert not re.search(r'"(execution|iopub\.\w+|shell\.execute_reply)"', path.read_text())


def test_the_check_command_exits_1_on_a_notebook_not_run_cleanly(tmp_path, capsys):
    clean, unrun = tmp_path / "clean.ipynb", tmp_path / "unrun.ipynb"
    nbformat.write(_notebook([nbformat.v4.new_code_cell("1", execution_count=1)]), clean)
    nbformat.write(_notebook([nbformat.v4.new_code_cell("1")]), unrun)
    assert notebook_tools.main(["check", str(clean)]) == 0
    assert notebook_tools.main(["check", str(clean), str(unrun)]) == 1
    assert "unrun.ipynb: cell 0: execution_count is None, expected 1" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        notebook_tools.main(["check", str(tmp_path / "missing.ipynb")])


def test_split_streams_are_stored_joined():
    from nbformat.v4 import new_output

    from bnlab.notebook_tools import _coalesce_streams

    outputs = [new_output("stream", name="stdout", text="a\n"), new_output("stream", name="stdout", text="b\n"),
               new_output("stream", name="stderr", text="warning\n"), new_output("stream", name="stdout", text="c\n")]
    merged = _coalesce_streams(outputs)
    assert ([(o["name"], o["text"]) for o in merged]
            == [("stdout", "a\nb\n"), ("stderr", "warning\n"), ("stdout", "c\n")])


def test_without_nbformat_the_tool_says_how_to_install_it():
    # bnlab runs without nbformat (only the test extra installs it); the maintainer tool says what to install.
    import subprocess
    import sys
    code = "import sys; sys.modules['nbformat'] = None; import bnlab; import bnlab.notebook_tools"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 1
    assert "bnlab.notebook_tools needs nbformat and nbclient" in result.stderr and "bnlab[test]" in result.stderr
