"""The grader's layout, read from its sources (ast): each part imports only the parts below it, nothing
imports the package that contains it, there is no import cycle, and each exercise's instructor material is
in its own folder.

From the bottom: ``sandbox`` (where learner code runs), ``core``, ``checks`` (bnlab's course), then the verbs
``check``, ``grade`` and ``author`` (author may use grade), then ``cli`` and the package's ``__init__``.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from bnlab.grading.checks import EXERCISE_IDS

ROOT = Path(__file__).resolve().parents[1]
GRADING = ROOT / "bnlab" / "grading"
INSTRUCTOR = ROOT / "exercises" / "instructor"

# part -> rank: a module may import its own part and parts of a lower rank; two parts of one rank never
# import each other.
RANK = {"sandbox": 0, "core": 1, "checks": 2, "check": 3, "grade": 3, "author": 4, "cli": 5, "__init__": 5}
STDLIB_AND_NUMPY_ONLY = ("sandbox/server.py", "sandbox/worker.py", "sandbox/plain.py")  # staged into the jail


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(GRADING.rglob("*.py")) if "release_template" not in p.parts}


def _resolve(name: str) -> str | None:
    """The grader module ``name`` is (or is inside: ``module.attribute``), None outside the grader."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports(module: str) -> set[str]:
    """Every grader module that ``module`` imports, anywhere in it (inside functions too)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package ``level - 1`` above this module's own
                above = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(above + ([base] if base else []))
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        found.update(m for m in map(_resolve, names) if m is not None)
    return found - {module}


GRAPH = {module: imports(module) for module in MODULES}


def part(module: str) -> str:
    rest = module.split(".")[2:]  # bnlab.grading.<part>...
    return rest[0] if rest else "__init__"


def rank_violations(graph: dict[str, set[str]]) -> list[str]:
    """Imports of a part above or beside the importer's."""
    return [f"{module} ({part(module)}) imports {other} ({part(other)})" for module in sorted(graph)
            for other in sorted(graph[module])
            if part(other) != part(module) and RANK[part(other)] >= RANK[part(module)]]


def containing_imports(graph: dict[str, set[str]]) -> list[str]:
    """Imports of a package (its ``__init__``) by a module inside it."""
    return [f"{module} imports {other}, a package it is part of" for module in sorted(graph)
            for other in sorted(graph[module])
            if MODULES[other].name == "__init__.py" and module.startswith(other + ".")]


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` (its modules in order, the first repeated at the end), [] if none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> list[str]:
        state[module] = 1
        for other in sorted(graph[module]):
            if state.get(other) == 1:
                return path[path.index(other):] + [module, other] if other in path else [module, other]
            if other not in state:
                cycle = visit(other, path + [module])
                if cycle:
                    return cycle
        state[module] = 2
        return []

    for module in sorted(graph):
        cycle = [] if module in state else visit(module, [])
        if cycle:
            return cycle
    return []


def test_every_module_is_in_a_part():
    assert {part(m) for m in MODULES} == set(RANK), sorted({part(m) for m in MODULES} ^ set(RANK))


def test_each_part_imports_only_itself_and_the_parts_below():
    assert rank_violations(GRAPH) == [], RANK


def test_no_module_imports_a_package_that_contains_it():
    assert containing_imports(GRAPH) == []


def test_there_is_no_import_cycle():
    assert find_cycle(GRAPH) == []


@pytest.mark.parametrize("name", STDLIB_AND_NUMPY_ONLY)
def test_what_the_jail_runs_imports_only_the_standard_library_numpy_and_its_siblings(name):
    module = _module_name(GRADING / name)
    assert {part(m) for m in GRAPH[module]} <= {"sandbox"}, GRAPH[module]
    tree = ast.parse((GRADING / name).read_text(encoding="utf-8"))
    top = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    top |= {n.module.split(".")[0] for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module and not n.level}
    assert top <= {"numpy", "bnlab", "__future__"} | set(sys.stdlib_module_names), top


def test_the_rules_catch_what_the_old_layout_did(tmp_path):
    """Not vacuous: the course loader importing the checks, gradebook and feedback importing each other, and a
    module importing its own package are each found; and imports inside functions are read."""
    climbing = {**GRAPH, "bnlab.grading.core.course": GRAPH["bnlab.grading.core.course"] | {"bnlab.grading.checks"}}
    assert rank_violations(climbing) == ["bnlab.grading.core.course (core) imports bnlab.grading.checks (checks)"]
    gradebook, feedback = "bnlab.grading.grade.gradebook", "bnlab.grading.grade.feedback_html"
    assert feedback in GRAPH[gradebook]
    circle = {**GRAPH, feedback: GRAPH[feedback] | {gradebook}}
    assert find_cycle(circle) in ([gradebook, feedback, gradebook], [feedback, gradebook, feedback])
    own = {**GRAPH, "bnlab.grading.core.spec": {"bnlab.grading.core"}}
    assert containing_imports(own) == ["bnlab.grading.core.spec imports bnlab.grading.core, a package it is part of"]
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from bnlab.grading.grade.gradebook import atomic_write\n"
                     "from bnlab.grading import core\nimport bnlab.grading.checks.kit as kit\nimport numpy\n")
    MODULES["bnlab.grading.core.probe"] = probe
    try:
        assert imports("bnlab.grading.core.probe") == {gradebook, "bnlab.grading.core", "bnlab.grading.checks.kit"}
    finally:
        del MODULES["bnlab.grading.core.probe"]


def test_each_exercise_has_one_instructor_folder_with_all_its_material():
    folders = sorted(p.name for p in INSTRUCTOR.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert folders == list(EXERCISE_IDS), "exercises/instructor/ holds one folder per exercise, named by its id"
    for ex_id in EXERCISE_IDS:
        files = sorted(p.name for p in (INSTRUCTOR / ex_id).iterdir() if p.name != "__pycache__")
        (notebook,) = [f for f in files if f.endswith(".ipynb")]
        assert notebook.startswith(f"{ex_id}_") and files == sorted([notebook, "hidden.py", "mutants.py"]), files
        assert (ROOT / "exercises" / notebook).is_file()  # its stub, generated by make exercises
    loose = sorted(p.name for p in INSTRUCTOR.iterdir() if p.is_file())
    assert set(loose) <= {"conftest.py", "styles.py", "grading.key"}, loose  # class-wide, not one exercise's
