"""The exercises package: one module per exercise, each built on the shared kit only."""
from __future__ import annotations

import ast
from pathlib import Path

import bnlab.grading.checks as exercises

EXERCISE_MODULES = sorted(Path(exercises.__file__).parent.glob("ex*.py"))


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_exercise_module_imports_another():
    assert EXERCISE_MODULES, "no exercise modules found"
    for path in EXERCISE_MODULES:
        others = {m for m in _imported_modules(path)
                  if m.startswith("bnlab.grading.checks.ex") and m != f"bnlab.grading.checks.{path.stem}"}
        assert not others, f"{path.name} imports {sorted(others)}: move what they share into exercises/kit.py"
