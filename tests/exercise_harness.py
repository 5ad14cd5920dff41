"""Shared by the exercise tests: the instructor's solution and mutants as graded-cell sources, and scoring.

A solution or mutant file holds one or more graded cells, each starting with ``# GRADED FUNCTION: <name>``.
A mutant replaces only the cells it holds; the other graded cells come from the solution.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "exercises"
INSTRUCTOR = EXERCISES / "instructor"
_GRADED_LINE = re.compile(r"^# GRADED FUNCTION: *(\w+) *$", re.M)


def split_cells(text: str) -> dict[str, str]:
    """Graded cells of a solution/mutant file by function name, in file order."""
    starts = [m.start() for m in _GRADED_LINE.finditer(text)] + [len(text)]
    cells = {}
    for begin, end in zip(starts, starts[1:]):
        source = text[begin:end].rstrip() + "\n"
        cells[_GRADED_LINE.match(source).group(1)] = source
    return cells


def solution_cells(ex_id: str) -> dict[str, str]:
    return split_cells((INSTRUCTOR / "solutions" / f"{ex_id}.py").read_text())


def mutant_names(ex_id: str) -> list[str]:
    return sorted(p.stem for p in (INSTRUCTOR / "mutants" / ex_id).glob("*.py"))


def mutant_cells(ex_id: str, name: str) -> dict[str, str]:
    cells = solution_cells(ex_id)
    cells.update(split_cells((INSTRUCTOR / "mutants" / ex_id / f"{name}.py").read_text()))
    return cells


def notebook_path(ex_id: str) -> Path:
    (path,) = EXERCISES.glob(f"{ex_id}_*.ipynb")
    return path


def stub_cells(ex_id: str) -> dict[str, str]:
    """The graded cells of the committed exercise notebook (the untouched stubs)."""
    nb = json.loads(notebook_path(ex_id).read_text())
    cells = {}
    for cell in nb["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        match = _GRADED_LINE.match(source)
        if cell["cell_type"] == "code" and match:
            cells[match.group(1)] = source
    return cells


def notebook_with(ex_id: str, cells: dict[str, str], path: Path) -> Path:
    """Write a copy of the exercise notebook whose graded cells hold ``cells`` (by function name)."""
    nb = json.loads(notebook_path(ex_id).read_text())
    for cell in nb["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        match = _GRADED_LINE.match(source)
        if cell["cell_type"] == "code" and match:
            cell["source"] = cells[match.group(1)]
    path.write_text(json.dumps(nb))
    return path


# --- scoring -------------------------------------------------------------------------------------
# A minimal in-process runner (calls -> plain data -> verify) until the engine's isolated runner lands.

def _resolve(arg, results):
    from bnlab.grading.spec import Ref

    if isinstance(arg, Ref):
        value = results[arg.key]
        return value if arg.index is None else value[arg.index]
    return arg


def _same(a, b) -> bool:
    import numpy as np

    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    return True


def score(cells: dict[str, str], checks) -> tuple[float, dict[str, object]]:
    """Points earned by the graded ``cells`` on ``checks``, and each check's Verdict by name."""
    import copy

    import numpy as np

    from bnlab.grading.plain import roundtrip
    from bnlab.grading.spec import CallOutcome, Verdict

    namespace: dict = {}
    for source in cells.values():
        exec(compile(source, "<graded cell>", "exec"), namespace)
    total, verdicts = 0.0, {}
    for check in checks:
        results, outputs = {}, {}
        for call in check.calls():
            args = [copy.deepcopy(_resolve(a, results)) for a in call.args]
            kwargs = {k: copy.deepcopy(_resolve(v, results)) for k, v in call.kwargs.items()}
            before = copy.deepcopy((args, kwargs))
            try:
                results[call.key] = namespace[call.function](*args, **kwargs)
            except Exception as exc:  # the learner's error becomes a failed call
                outputs[call.key] = CallOutcome(False, error=f"{type(exc).__name__}: {exc}")
                break
            named = list(enumerate(zip(args, before[0]))) + [(k, (v, before[1][k])) for k, v in kwargs.items()]
            modified = tuple(str(i) for i, (a, b) in named if not _same(a, b))
            outputs[call.key] = CallOutcome(True, roundtrip(results[call.key]),
                                            modified=modified if call.copy_check else ())
        verdict = check.verify(outputs)
        verdicts[check.name] = verdict
        fraction = verdict.fraction if verdict.fraction is not None else float(verdict.passed)
        total += check.points * fraction
    return total, verdicts
