"""Read the graded cells of an exercise notebook straight from its JSON (the file is never modified).

A graded cell is a code cell whose first line is ``# GRADED FUNCTION: <name>``. The grader runs the
source of all graded cells, in notebook order, so helpers a learner defines in them work and the
last definition of a name wins. Other cells are never run.

For the instructor's side (the benchmark's synthetic class, the tests): :func:`split_cells` cuts a
solution file into its graded cells and :func:`with_cells` puts cells into a copy of a notebook.
"""
from __future__ import annotations

import ast
import io
import json
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

_GRADED = re.compile(r"^\s*#\s*GRADED FUNCTION:\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")
_FORBIDDEN_PACKAGE = "bnlab"
MAX_NOTEBOOK_BYTES = 32 * 2**20
# Parsed JSON costs about 60 bytes per value: 32 MB of "[]" would take about 1 GB. A value is at most one per
# "," ":" "[" "{" (plus one), so counting those bytes bounds what json.loads builds before it runs (2 million:
# about 120 MB). A real notebook has one per line of source or output: tens of thousands at most.
MAX_NOTEBOOK_VALUES = 2_000_000
# The grader parses graded cells itself (for imports of bnlab), outside any sandbox, and a parsed tree
# costs about 1 KB per node: 1 MB of source can take about 1 GB. A real exercise's cells are a few KB.
MAX_GRADED_SOURCE_BYTES = 256 * 2**10
# How deeply a statement may nest (brackets, operators, attribute chains, blocks) before the grader refuses
# it: well below what any supported Python compiles (about 1000 levels; 200 brackets), so the refusal is the
# same on every version instead of a learner-process crash on some.
MAX_NESTING = 100


class NotebookError(ValueError):
    """The notebook cannot be graded: the message says why, for the learner."""


@dataclass(frozen=True)
class GradedCell:
    name: str     # the function named on the "# GRADED FUNCTION:" line
    index: int    # position of the cell in the notebook (0-based)
    source: str


def read_graded_cells(path: str | Path) -> list[GradedCell]:
    """The graded cells of the notebook at ``path``, in order. Raises NotebookError with a learner message."""
    path = Path(path)
    try:
        if not path.is_file():
            raise FileNotFoundError
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            raise NotebookError(f"{path.name} is too large to be an exercise notebook "
                                f"({path.stat().st_size / 2**20:.0f} MB; "
                                f"the limit is {MAX_NOTEBOOK_BYTES // 2**20} MB): "
                                "clear the cell outputs and save it again")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise NotebookError(f"notebook not found: {path.name}") from None
    except OSError as exc:
        raise NotebookError(f"cannot read {path.name}: {exc.strerror}") from None
    if not raw.strip():
        raise NotebookError(f"{path.name} is empty (0 bytes of notebook JSON)")
    values = sum(raw.count(c) for c in (b",", b":", b"[", b"{"))
    if values > MAX_NOTEBOOK_VALUES:
        raise NotebookError(f"{path.name} holds too many JSON values to be an exercise notebook (about {values:,}; "
                            f"the limit is {MAX_NOTEBOOK_VALUES:,}): clear the cell outputs and save it again")
    try:
        nb = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotebookError(f"{path.name} is not a valid notebook: not JSON ({exc})") from None
    except RecursionError:
        raise NotebookError(f"{path.name} is not a valid notebook: its JSON is nested too deeply to read") from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise NotebookError(f"{path.name} is JSON but not a Jupyter notebook (no list of 'cells')")
    graded = []
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(str(part) for part in source)
        if not isinstance(source, str):
            continue
        name = _graded_name(source)
        if name is not None:
            graded.append(GradedCell(name, index, source))
    return graded


def _graded_name(source: str) -> str | None:
    """The function named on the first line of ``source`` if it is a ``# GRADED FUNCTION`` line."""
    match = _GRADED.match(source.lstrip("\n").split("\n", 1)[0])
    return match.group(1) if match else None


def split_cells(text: str) -> dict[str, str]:
    """The graded cells of a file of several (a solution, a mutant), by function name: each runs from its
    ``# GRADED FUNCTION: <name>`` line to the next one (text before the first is dropped)."""
    cells: dict[str, str] = {}
    name = None
    for line in text.splitlines(keepends=True):
        starts = _graded_name(line)
        if starts is not None:
            name, cells[starts] = starts, ""
        if name is not None:
            cells[name] += line
    return cells


def with_cells(notebook: dict, cells: dict[str, str]) -> dict:
    """A copy of ``notebook`` (its JSON as a dict) whose graded cells hold ``cells`` (by function name)."""
    nb = json.loads(json.dumps(notebook))
    for cell in nb["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code" and _graded_name(source) in cells:
            cell["source"] = cells[_graded_name(source)]
    return nb


def check_functions_present(cells: list[GradedCell], functions: tuple[str, ...], notebook: str) -> None:
    """Raise NotebookError if a graded function has no ``# GRADED FUNCTION`` cell."""
    names = {c.name for c in cells}
    missing = [f for f in functions if f not in names]
    if missing:
        found = ", ".join(sorted(names)) or "none"
        raise NotebookError(
            f"{notebook}: no cell starting with '# GRADED FUNCTION: {missing[0]}' "
            f"(graded cells found: {found}). Was the cell deleted or its first line changed?")


def check_source_size(cells: list[GradedCell]) -> None:
    """Raise NotebookError if the graded cells hold more source than the grader parses."""
    size = sum(len(c.source.encode("utf-8", "surrogatepass")) for c in cells)
    if size > MAX_GRADED_SOURCE_BYTES:
        raise NotebookError(f"the graded cells hold {-(-size // 2**10):,} KB of source, more than the grader "
                            f"checks ({MAX_GRADED_SOURCE_BYTES // 2**10} KB); keep only the graded functions in "
                            "them (no data, no generated code)")


# Tokens that can put one more node above what follows them: operators, "." and the keyword operators.
# Commas, "=" and ";" separate siblings instead (not ":", which chains lambdas).
_SEPARATORS = {",", "=", ";"}
_KEYWORD_OPERATORS = {"not", "and", "or", "is", "in", "if", "else", "lambda", "await", "yield", "for"}


def nesting_depth(source: str) -> tuple[int, int]:
    """(an upper estimate of the deepest syntax tree a statement of ``source`` builds, that statement's line).

    A scan of the tokens, no parsing: a token's depth is its block depth, plus one per open bracket and the
    operators before it at that bracket's level, plus at its own level the operators since the last
    separator and the deepest bracket closed since. Stops at a tokenizer error
    (the syntax error is the sandbox's to report) and judges what it read, and as soon as the depth passes
    :data:`MAX_NESTING` (the estimate is then the first depth found beyond it).
    """
    deepest, where = 0, 1
    stack = [[0, 0, 0]]  # per open bracket: operators since the last separator, deepest bracket, best so far
    indent = 0

    def level_depth(frame) -> int:
        return max(frame[2], frame[0] + frame[1])

    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    try:
        for tok in tokens:
            if tok.type == tokenize.NEWLINE:  # the end of a statement
                stack = [[0, 0, 0]]
            elif tok.type == tokenize.INDENT:
                indent += 1
            elif tok.type == tokenize.DEDENT:
                indent -= 1
            elif tok.type == tokenize.OP and tok.string in "([{":
                stack.append([0, 0, 0])
            elif tok.type == tokenize.OP and tok.string in ")]}" and len(stack) > 1:
                inner = level_depth(stack.pop()) + 1
                stack[-1][1] = max(stack[-1][1], inner)
            elif tok.type == tokenize.OP and tok.string in _SEPARATORS:
                frame = stack[-1]
                frame[:] = [0, 0, level_depth(frame)]
            elif tok.type == tokenize.OP or (tok.type == tokenize.NAME and tok.string in _KEYWORD_OPERATORS):
                stack[-1][0] += 1
            else:
                continue
            depth = indent + sum(frame[0] + 1 for frame in stack[:-1]) + level_depth(stack[-1])
            if depth > deepest:
                deepest, where = depth, tok.start[0]
                if deepest > MAX_NESTING:  # refused anyway: stop, so the scan stays linear (the sum above
                    break                  # is over fewer than MAX_NESTING open brackets)
    except (tokenize.TokenError, SyntaxError):
        pass
    return deepest, where


def check_parsable(source: str) -> None:
    """Raise NotebookError if ``source`` nests more deeply than :data:`MAX_NESTING` (the same limit on every
    Python version), before anything parses it: the grader (``forbidden_imports``, similarity) builds
    syntax trees of learner code outside any sandbox."""
    depth, line = nesting_depth(source)
    if depth > MAX_NESTING:
        raise NotebookError(f"a graded cell is nested too deeply for the grader to check it (line {line}: about "
                            f"{depth} levels of brackets, operators or blocks; the limit is {MAX_NESTING}); "
                            "write it with fewer nested expressions")


def forbidden_imports(source: str) -> list[str]:
    """Lines of ``source`` that import the reference package ``bnlab`` (any form), as "line N: text".

    Catches ``import bnlab``, ``from bnlab... import``, ``importlib.import_module("bnlab...")`` and
    ``__import__("bnlab...")``; plus any string literal naming the package for dynamic imports.
    A source that does not parse is left to the sandbox, which reports the syntax error. A source nested
    too deeply (:func:`check_parsable`) raises NotebookError: it cannot be checked.
    """
    check_parsable(source)
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    except (RecursionError, MemoryError, ValueError) as exc:
        raise NotebookError(f"a graded cell is nested too deeply for the grader to check it "
                            f"({type(exc).__name__}: {exc}); write it with fewer nested expressions") from None
    lines = source.splitlines()
    hits = []

    def names_package(name) -> bool:
        return isinstance(name, str) and (name == _FORBIDDEN_PACKAGE or name.startswith(_FORBIDDEN_PACKAGE + "."))

    for node in ast.walk(tree):
        bad = False
        if isinstance(node, ast.Import):
            bad = any(names_package(a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            bad = node.level == 0 and names_package(node.module)
        elif isinstance(node, ast.Call) and node.args:
            first = node.args[0]
            bad = isinstance(first, ast.Constant) and names_package(first.value)
        if bad:
            text = lines[node.lineno - 1].strip() if 0 < node.lineno <= len(lines) else ""
            hits.append(f"line {node.lineno}: {text}")
    return sorted(set(hits), key=lambda h: int(h.split(":")[0].split()[1]))
