"""Re-execute notebooks in place, deterministically, and inspect what they store (``make notebooks``).

    python -m bnlab.notebook_tools execute notebooks/*.ipynb exercises/*.ipynb
    python -m bnlab.notebook_tools check notebooks/*.ipynb

``execute`` runs every code cell top to bottom on the ``python3`` kernel, with the notebook's own folder
as the working directory, and writes the notebook back with fresh outputs. Nothing that changes from
run to run is stored: no timing metadata (``record_timing=False``), cell ids renumbered ``cell-00``,
``cell-01``, … and ``PYTHONHASHSEED=0`` in the kernel, which runs one BLAS thread (unless the environment
says otherwise), as ``make test`` does. The notebooks seed their own random numbers.

``check`` reports notebooks whose stored outputs are not those of one clean run: a code cell never
executed, execution counts not 1, 2, 3, … in order, or an error output. The same checks are
available to tests as :func:`execution_problems`.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

try:
    import nbformat
except ImportError as error:  # a maintainer tool: bnlab itself runs without it
    raise ImportError(
        "bnlab.notebook_tools needs nbformat and nbclient, which bnlab's test extra installs: "
        "pip install 'bnlab[test]' (or pip install -e '.[test]' in a clone; `make notebooks` does it)") from error

KERNEL_NAME = "python3"
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
KERNELSPEC = {"name": KERNEL_NAME, "display_name": "Python 3 (ipykernel)", "language": "python"}


def code_cells(nb):
    """The code cells of a notebook (an ``nbformat.NotebookNode``), in order."""
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def execution_problems(nb) -> list[str]:
    """What shows that the stored outputs are not from one clean top-to-bottom run; [] if none.

    Every code cell with source must have been executed, the execution counts must be 1, 2, 3, …
    in cell order, and no output may be an error.
    """
    problems, expected = [], 1
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        if cell.execution_count != expected:
            problems.append(f"cell {index}: execution_count is {cell.execution_count}, expected {expected}")
        expected = (cell.execution_count or expected) + 1
        for output in cell.outputs:
            if output.output_type == "error":
                problems.append(f"cell {index}: error output {output.ename}: {output.evalue}")
    return problems


def png_count(cell) -> int:
    """How many PNG images a code cell's stored outputs hold."""
    return sum("image/png" in output.get("data", {}) for output in cell.get("outputs", []))


def _coalesce_streams(outputs) -> list:
    """Join consecutive stdout (or stderr) outputs into one: how the kernel splits a stream into chunks
    depends on timing, so only the joined text is reproducible (nbval compares it joined, too)."""
    merged = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (output.get("output_type") == "stream" and previous is not None
                and previous.get("output_type") == "stream" and previous.get("name") == output.get("name")):
            previous["text"] = "".join(previous["text"]) + "".join(output["text"])
        else:
            merged.append(output)
    return merged


def normalize(nb) -> None:
    """Give cells stable ids (``cell-00``, …), join split streams, and give the notebook the ``python3``
    kernel (its display name kept), in place."""
    width = max(2, len(str(len(nb.cells) - 1)))
    for index, cell in enumerate(nb.cells):
        cell.id = f"cell-{index:0{width}d}"
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = _coalesce_streams(cell.outputs)
    kernelspec = nb.metadata.get("kernelspec", {})
    display_name = kernelspec.get("display_name", KERNELSPEC["display_name"])
    nb.metadata["kernelspec"] = {**KERNELSPEC, "display_name": display_name}


def execute(path, timeout=600) -> float:
    """Re-execute the notebook at ``path`` in place (cwd = its folder). Returns the seconds it took.

    Raises ``nbclient.exceptions.CellExecutionError`` (leaving the file untouched) if a cell fails.
    """
    from nbclient import NotebookClient  # imported here so `check` works without a kernel installed

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    normalize(nb)
    os.environ["PYTHONHASHSEED"] = "0"  # the kernel inherits this environment
    for threads in BLAS_THREADS:  # one BLAS thread, as `make test` runs them: the same round-off, and faster
        os.environ.setdefault(threads, "1")
    client = NotebookClient(nb, timeout=timeout, kernel_name=KERNEL_NAME, record_timing=False,
                            resources={"metadata": {"path": str(path.resolve().parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    normalize(nb)
    nbformat.write(nb, path)
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bnlab.notebook_tools", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("execute", help="re-execute notebooks in place and store their outputs")
    run.add_argument("paths", nargs="+", type=Path)
    run.add_argument("--timeout", type=int, default=600, help="seconds one cell may take (default 600)")
    check = commands.add_parser("check", help="report notebooks not stored from one clean run")
    check.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args(argv)

    missing = [str(p) for p in args.paths if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    failed = 0
    for path in args.paths:
        if args.command == "execute":
            from nbclient.exceptions import CellExecutionError
            try:
                seconds = execute(path, args.timeout)
            except CellExecutionError as error:  # report it, leave the file as it was, go on
                failed += 1
                print(f"{path}: FAILED, not written\n{error}", file=sys.stderr)
                continue
            print(f"{path}: executed in {seconds:.1f} s")
        else:
            problems = execution_problems(nbformat.read(path, as_version=4))
            failed += bool(problems)
            print(f"{path}: " + ("ok" if not problems else "; ".join(problems)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
