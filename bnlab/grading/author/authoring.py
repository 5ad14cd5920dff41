"""Each exercise written once: the instructor's source notebook gives the learner's stub and the reference.

``exercises/instructor/exNN/exNN_<name>.ipynb`` is the exercise as the learner will see it, except that
its graded cells (first line ``# GRADED FUNCTION: <name>``) hold the solution between two markers::

    def batchnorm_forward(Z, gamma, beta, eps=1e-5):
        \"\"\"... shapes ...\"\"\"
        ### BEGIN SOLUTION
        mu = ...
        ### END SOLUTION
        return Z_tilde, cache

- The **stub** (``exercises/exNN_<name>.ipynb``, what learners open) is the source with every such block
  replaced, at the same indentation, by ``# YOUR CODE STARTS HERE`` / ``raise NotImplementedError`` /
  ``# YOUR CODE ENDS HERE``, and with no outputs (``make exercises`` then executes it to store them).
- The **reference solution** (for the tests, the mutants and the release's leak scan) is the source's
  graded cells with the markers renamed to ``# YOUR CODE STARTS HERE`` / ``# YOUR CODE ENDS HERE``: what a
  learner's finished cell looks like. There is no second copy of it anywhere.
- The source's metadata ``bnlab.you_write`` (one line of Markdown) is the exercise's row in the table of
  ``exercises/README.md``, between the ``exercises-table`` comments.

    python -m bnlab.grading.author.authoring            # write the stubs and the README table
    python -m bnlab.grading.author.authoring --check    # exit 1, naming them, if any is out of date

:func:`missing_pieces` lists what a new exercise still lacks (see ``exercises/AUTHORING.md``).
"""
from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import re
import runpy
import sys
from pathlib import Path

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STARTS, ENDS = "# YOUR CODE STARTS HERE", "# YOUR CODE ENDS HERE"
_BLOCK = re.compile(r"^([ \t]*)### BEGIN SOLUTION[ \t]*\n(.*?)^[ \t]*### END SOLUTION[ \t]*(\n|$)", re.M | re.S)
_GRADED = re.compile(r"^\s*#\s*GRADED FUNCTION:\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")
_ID = re.compile(r"ex\d\d")
TABLE_BEGIN, TABLE_END = "<!-- exercises-table: begin (written by make exercises) -->", "<!-- exercises-table: end -->"


class AuthoringError(ValueError):
    """A source notebook that cannot give a stub; the message names the file and the cell."""


def checkout_root() -> Path:
    """The source checkout this package runs from (holds exercises/)."""
    return Path(__file__).resolve().parents[3]


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def graded_name(cell: dict) -> str | None:
    """The function named by a code cell's ``# GRADED FUNCTION:`` first line, else None."""
    if cell.get("cell_type") != "code":
        return None
    match = _GRADED.match(_source(cell).lstrip("\n").split("\n", 1)[0])
    return match.group(1) if match else None


def source_notebooks(instructor: str | Path) -> dict[str, Path]:
    """``exNN`` -> its source notebook in ``<instructor>/source``."""
    found: dict[str, Path] = {}
    for path in sorted(Path(instructor).glob("ex[0-9][0-9]/ex[0-9][0-9]_*.ipynb")):
        ex_id = path.name[:4]
        if ex_id in found:
            raise AuthoringError(f"two source notebooks for {ex_id}: {found[ex_id].name} and {path.name}")
        found[ex_id] = path
    return found


def source_path(instructor: str | Path, ex_id: str) -> Path:
    path = source_notebooks(instructor).get(ex_id)
    if path is None:
        raise FileNotFoundError(f"no source notebook for {ex_id}: "
                                f"expected {Path(instructor) / ex_id}/{ex_id}_<name>.ipynb")
    return path


def _check_cell(name: str, source: str, where: str) -> None:
    if source.count(BEGIN) != source.count(END) or source.count(BEGIN) != len(_BLOCK.findall(source)):
        raise AuthoringError(f"{where}: every '{BEGIN}' needs an '{END}' after it, each on its own line")
    if not _BLOCK.search(source):
        raise AuthoringError(f"{where}: graded cell {name} has no '{BEGIN}' ... '{END}' block, "
                             "so its stub would hand out the whole solution")


def _renamed(source: str, begin: str, end: str, body: str | None = None) -> str:
    """``source`` with each solution block's markers replaced (and its body too when ``body`` is given)."""
    def block(match: re.Match) -> str:
        indent = match.group(1)
        inner = match.group(2) if body is None else f"{indent}{body}\n"
        return f"{indent}{begin}\n{inner}{indent}{end}{match.group(3)}"
    return _BLOCK.sub(block, source)


def solution_cells_of(notebook: dict, where: str = "source") -> dict[str, str]:
    """The reference graded cells of a source notebook, by function name (markers as a learner's cell has them)."""
    cells = {}
    for index, cell in enumerate(notebook.get("cells", [])):
        name = graded_name(cell)
        source = _source(cell)
        if name is None:
            if BEGIN in source or END in source:
                raise AuthoringError(f"{where}, cell {index}: solution markers outside a graded cell "
                                     "(they would not be removed from the stub)")
            continue
        _check_cell(name, source, f"{where}, cell {index}")
        cells[name] = _renamed(source, STARTS, ENDS)
    return cells


def read_source(path: str | Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def solution_cells(instructor: str | Path, ex_id: str) -> dict[str, str]:
    """The reference solution of ``ex_id``: its graded cells by function name, in notebook order."""
    path = source_path(instructor, ex_id)
    return solution_cells_of(read_source(path), path.name)


def solution_text(instructor: str | Path, ex_id: str) -> str:
    """All reference graded cells of ``ex_id`` as one text (what the mutants' replacements apply to)."""
    return "\n\n".join(cell.rstrip("\n") + "\n" for cell in solution_cells(instructor, ex_id).values())


def stub_notebook(notebook: dict, where: str = "source") -> dict:
    """The learner's notebook: solution blocks cleared, no outputs, no instructor metadata."""
    solution_cells_of(notebook, where)  # validates the markers
    stub = copy.deepcopy(notebook)
    stub.get("metadata", {}).pop("bnlab", None)
    for cell in stub["cells"]:
        if cell.get("cell_type") != "code":
            continue
        cell["outputs"], cell["execution_count"] = [], None
        if graded_name(cell):
            cell["source"] = _renamed(_source(cell), STARTS, ENDS, body="raise NotImplementedError")
    return stub


def cell_sources(notebook: dict) -> list[tuple[str, str]]:
    """(cell type, source) of every cell: what a stub and its source must agree on (outputs aside)."""
    return [(cell.get("cell_type", ""), _source(cell)) for cell in notebook.get("cells", [])]


def readme_table(instructor: str | Path) -> str:
    """The exercises table of exercises/README.md, from each source's ``bnlab.you_write``."""
    rows = ["| notebook | you write |", "|---|---|"]
    for path in source_notebooks(instructor).values():
        you_write = read_source(path).get("metadata", {}).get("bnlab", {}).get("you_write")
        if not you_write:
            raise AuthoringError(f"{path.name}: metadata bnlab.you_write (the README table's row) is missing")
        rows.append(f"| `{path.name}` | {you_write} |")
    return "\n".join(rows)


def _with_table(readme: str, table: str, where: str) -> str:
    if TABLE_BEGIN not in readme or TABLE_END not in readme:
        raise AuthoringError(f"{where}: the table markers {TABLE_BEGIN!r} and {TABLE_END!r} are missing")
    head, rest = readme.split(TABLE_BEGIN, 1)
    return f"{head}{TABLE_BEGIN}\n{table}\n{TABLE_END}{rest.split(TABLE_END, 1)[1]}"


def _dump(notebook: dict) -> str:
    """Notebook JSON as nbformat writes it (sources as lists of lines), so re-executing changes only outputs."""
    notebook = copy.deepcopy(notebook)
    for index, cell in enumerate(notebook.get("cells", [])):
        cell["source"] = _source(cell).splitlines(keepends=True)
        cell["id"] = f"cell-{index:02d}"  # as bnlab.notebook_tools numbers them
    return json.dumps(notebook, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def out_of_date(exercises_dir: str | Path) -> list[str]:
    """Stubs (and the README table) that differ from what their sources give, each with the reason."""
    exercises_dir = Path(exercises_dir)
    instructor = exercises_dir / "instructor"
    stale = []
    for path in source_notebooks(instructor).values():
        stub_path = exercises_dir / path.name
        if not stub_path.is_file():
            stale.append(f"{stub_path}: missing (generated from {path})")
            continue
        expected = cell_sources(stub_notebook(read_source(path), path.name))
        if cell_sources(read_source(stub_path)) != expected:
            stale.append(f"{stub_path}: its cells differ from {path}")
    readme = exercises_dir / "README.md"
    if readme.read_text() != _with_table(readme.read_text(), readme_table(instructor), str(readme)):
        stale.append(f"{readme}: the exercises table differs from the sources' bnlab.you_write")
    return stale


def write_stubs(exercises_dir: str | Path) -> list[Path]:
    """Write every stub whose cells changed (outputs of unchanged stubs are kept) and the README table."""
    exercises_dir = Path(exercises_dir)
    instructor = exercises_dir / "instructor"
    written = []
    for path in source_notebooks(instructor).values():
        stub = stub_notebook(read_source(path), path.name)
        stub_path = exercises_dir / path.name
        if stub_path.is_file() and cell_sources(read_source(stub_path)) == cell_sources(stub):
            continue
        stub_path.write_text(_dump(stub), encoding="utf-8")
        written.append(stub_path)
    readme = exercises_dir / "README.md"
    text = _with_table(readme.read_text(), readme_table(instructor), str(readme))
    if text != readme.read_text():
        readme.write_text(text)
        written.append(readme)
    return written


# --- What one exercise is made of (exercises/AUTHORING.md) ---

def exercise_ids(package_dir: str | Path, instructor: str | Path) -> list[str]:
    """Every exercise id that has any of its pieces: an exNN.py module or a source notebook."""
    modules = {p.stem for p in Path(package_dir).glob("ex[0-9][0-9].py")}
    return sorted(modules | set(source_notebooks(instructor)))


def _load_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file runs
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


def missing_pieces(ex_id: str, package_dir: str | Path, instructor: str | Path, exercises_dir: str | Path) -> list[str]:
    """What exercise ``ex_id`` lacks, one message per piece, naming the file and what it must define."""
    package_dir, instructor, exercises_dir = Path(package_dir), Path(instructor), Path(exercises_dir)
    problems = []
    module_path = package_dir / f"{ex_id}.py"
    exercise = None
    if not module_path.is_file():
        problems.append(f"{ex_id}: no checks module: expected {module_path} defining EXERCISE and PUBLIC_CHECKS")
    else:
        module = _load_module(module_path, f"bnlab_authoring_{ex_id}")
        exercise = getattr(module, "EXERCISE", None)
        for name in ("EXERCISE", "PUBLIC_CHECKS"):
            if not getattr(module, name, None):
                problems.append(f"{ex_id}: {module_path} does not define {name}")
    source = source_notebooks(instructor).get(ex_id)
    if source is None:
        problems.append(f"{ex_id}: no source notebook: expected {instructor / ex_id}/{ex_id}_<name>.ipynb "
                        f"with the solution between '{BEGIN}' and '{END}' in its graded cells")
    else:
        try:
            cells = solution_cells(instructor, ex_id)
        except AuthoringError as error:
            problems.append(f"{ex_id}: {error}")
            cells = None
        if exercise is not None:
            if exercise.notebook != source.name:
                problems.append(f"{ex_id}: EXERCISE.notebook is {exercise.notebook!r} but the source notebook is "
                                f"{source.name!r}; they must have the same name")
            absent = [f for f in exercise.functions if cells is not None and f not in cells]
            if absent:
                problems.append(f"{ex_id}: the source notebook {source.name} has no graded cell "
                                f"'# GRADED FUNCTION: {absent[0]}' (EXERCISE.functions lists it)")
        if not (exercises_dir / source.name).is_file():
            problems.append(f"{ex_id}: no stub {exercises_dir / source.name}: run `make exercises`")
        if not read_source(source).get("metadata", {}).get("bnlab", {}).get("you_write"):
            problems.append(f"{ex_id}: {source.name} has no metadata bnlab.you_write (its README table row)")
    hidden = instructor / ex_id / "hidden.py"
    if not hidden.is_file():
        problems.append(f"{ex_id}: no hidden checks: expected {hidden} defining HIDDEN_CHECKS")
    elif "HIDDEN_CHECKS" not in hidden.read_text():
        problems.append(f"{ex_id}: {hidden} does not define HIDDEN_CHECKS")
    mutants = instructor / ex_id / "mutants.py"
    if not mutants.is_file():
        problems.append(f"{ex_id}: no mutants: expected {mutants} defining MUTANTS and MESSAGES")
    else:
        names = runpy.run_path(str(mutants))
        table, messages = names.get("MUTANTS") or {}, names.get("MESSAGES")
        if not table:
            problems.append(f"{ex_id}: {mutants} defines no MUTANTS (common mistakes as text patches)")
        if messages is None:
            problems.append(f"{ex_id}: {mutants} defines no MESSAGES (words each mutant's feedback must contain)")
        else:
            unknown = sorted(set(messages) - set(table))
            if unknown:
                problems.append(f"{ex_id}: MESSAGES in {mutants} names {unknown[0]!r}, which is not in MUTANTS")
            if not messages:
                problems.append(f"{ex_id}: MESSAGES in {mutants} is empty: say, for the mistakes learners make most, "
                                "which words their feedback must contain")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bnlab.grading.author.authoring",
                                     description="Write the exercise stubs and the README table from the sources.")
    parser.add_argument("--exercises", type=Path, default=checkout_root() / "exercises",
                        help="the exercises folder (default: the checkout's)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if anything is out of date")
    args = parser.parse_args(argv)
    try:
        if args.check:
            stale = out_of_date(args.exercises)
            for line in stale:
                print(line, file=sys.stderr)
            return 1 if stale else 0
        for path in write_stubs(args.exercises):
            print(f"written {path}")
    except AuthoringError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
