"""A synthetic class: honest students who each write their own variant, planted near-copies of some of them,
and (for the dry run) a Canvas download of it. Used by ``bnlab demo-class`` and by the similarity tests.

Honest: per exercise, the reference or one of the instructor's mutants (common mistakes), then each of a
few correct alternative spellings a student might choose (``np.var`` for the mean of squares, ``W @ A_prev``
for ``np.dot``, a helper variable...; ``<instructor>/styles.py``, instructor-only since it quotes the
reference) with probability ``STYLE_CHANCE``, then their own variable names and comments.
Near-reference: a student who keeps the reference (renamed, recommented) in every function but a few, where
they write their own spelling.
Copy: another student's cells with every local variable renamed, two independent adjacent statements
swapped where there are some, the comments replaced and blank lines added.

Everything is drawn from one seeded ``numpy.random.Generator``: the same arguments give the same class.
The material (reference, mutants, stubs) is read from the instructor folder (``exercises/instructor``).
"""
from __future__ import annotations

import ast
import functools
import json
import re
import runpy
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bnlab.grading.author import authoring
from bnlab.grading.author.mutants import load_mutants, mutant_sources
from bnlab.grading.core.notebook import split_cells, with_cells


@functools.cache
def _material(instructor: str) -> tuple[dict, dict, dict, dict]:
    """(reference cells, mutant cells, stub notebook path) by exercise, and the alternative spellings by
    function (``<instructor>/styles.py``, none without it), read once per instructor folder."""
    folder = Path(instructor)
    references, mutants, stubs = {}, {}, {}
    for ex_id, source in authoring.source_notebooks(folder).items():
        references[ex_id] = authoring.solution_cells(folder, ex_id)
        mutants[ex_id] = {name: split_cells(text) for name, text in mutant_sources(folder, ex_id).items()}
        stubs[ex_id] = folder.parent / source.name
    styles = folder / "styles.py"
    return references, mutants, stubs, runpy.run_path(str(styles))["STYLES"] if styles.is_file() else {}


def styles(instructor: Path) -> dict[str, list[tuple[str, str]]]:
    """Function -> its correct alternative spellings ``(old, new)`` (see ``exercises/instructor/styles.py``)."""
    return _material(str(instructor))[3]


def reference_cells(ex_id: str, instructor: Path) -> dict[str, str]:
    return dict(_material(str(instructor))[0][ex_id])


def mutant_cells(ex_id: str, name: str, instructor: Path) -> dict[str, str]:
    """The reference cells of ``ex_id`` with mistake ``name`` (only the cells it changes differ)."""
    return {**reference_cells(ex_id, instructor), **_material(str(instructor))[1][ex_id][name]}


def mutant_names(ex_id: str, instructor: Path) -> list[str]:
    return sorted(load_mutants(instructor, ex_id))


def stub_path(ex_id: str, instructor: Path) -> Path:
    """The learner's notebook of ``ex_id`` (``exercises/exNN_*.ipynb`` next to the instructor folder)."""
    return _material(str(instructor))[2][ex_id]


STYLE_CHANCE = 0.3  # each alternative spelling is one student in four's choice
LOCALS = ["mu", "var", "inv_std", "Z_norm", "Z_tilde", "cache", "Z_centered", "dbeta", "dgamma", "dZ", "dZ_norm",
          "bn_cache", "A", "Z", "permutation", "X_shuffled", "Y_shuffled", "start", "end", "stop", "batch", "rng",
          "mini_batches", "d", "p", "v_corrected", "s_corrected", "new_v", "new_s", "new_parameters", "name", "m"]
COMMENTS = ["# mean per unit", "# normalize", "# step", "# see lecture", "# TODO check shapes", "# per example",
            "# update", "# ok", "# keep dims", "# loop over layers"]


def rename(cell: str, mapping: dict[str, str]) -> str:
    """``cell`` with each local name of ``mapping`` replaced as a whole word outside string quotes; the
    function's parameters keep their names (the checks may pass them by keyword)."""
    tree = ast.parse(cell)
    parameters = {a.arg for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
                  for a in node.args.args + node.args.kwonlyargs}
    mapping = {old: new for old, new in mapping.items() if old not in parameters}
    if not mapping:
        return cell
    pattern = re.compile(r"(?<![\"'\w.])(" + "|".join(map(re.escape, sorted(mapping, key=len, reverse=True)))
                         + r")(?![\"'\w])")
    return pattern.sub(lambda m: mapping[m.group(1)], cell)


def _body(cell: str, change) -> str:
    """``cell`` with ``change`` applied to the lines between the YOUR CODE markers (or all lines)."""
    head, sep, rest = cell.partition("# YOUR CODE STARTS HERE\n")
    if not sep:
        return change(cell)
    body, sep2, tail = rest.partition("    # YOUR CODE ENDS HERE")
    return head + sep + change(body) + sep2 + tail


def _recomment(body: str, rng) -> str:
    lines = []
    for line in body.split("\n"):
        code = line.split("  #", 1)[0].rstrip() if "  #" in line else line
        if code.strip() and rng.random() < 0.3:
            code += "  " + COMMENTS[int(rng.integers(len(COMMENTS)))]
        lines.append(code)
        if code.strip() and rng.random() < 0.15:
            lines.append("")
    return "\n".join(lines)


_ASSIGN = re.compile(r"^(\s+)(?!(?:if|elif|else|for|while|return|raise)\b)([A-Za-z_][\w, \[\]\"']*?)\s*=(?!=)\s*(.+)$")


def _whole_statement(line: str) -> bool:
    code = line.split("#", 1)[0]
    return code.count("(") == code.count(")") and code.count("[") == code.count("]") and not code.rstrip().endswith(":")


def _swap_independent(body: str, rng) -> str:
    """Swap one pair of adjacent single-line assignments that do not use each other's targets."""
    lines = body.split("\n")
    candidates = []
    for i in range(len(lines) - 1):
        a, b = _ASSIGN.match(lines[i]), _ASSIGN.match(lines[i + 1])
        if (not (a and b) or a.group(1) != b.group(1)
                or not (_whole_statement(lines[i]) and _whole_statement(lines[i + 1]))):
            continue
        if i + 2 < len(lines) and len(lines[i + 2]) - len(lines[i + 2].lstrip()) > len(a.group(1)):
            continue  # the second line opens a block or continues: not a single statement
        targets_a = set(re.findall(r"\w+", a.group(2)))
        targets_b = set(re.findall(r"\w+", b.group(2)))
        if targets_a & set(re.findall(r"\w+", lines[i + 1])) or targets_b & set(re.findall(r"\w+", lines[i])):
            continue
        candidates.append(i)
    if candidates:
        i = candidates[int(rng.integers(len(candidates)))]
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
    return "\n".join(lines)


def _names(rng, suffixes=("_", "2", "_val", "x", "_tmp", "New", "_b")) -> dict[str, str]:
    suffix = suffixes[int(rng.integers(len(suffixes)))]
    return {name: f"{name.lower()}{suffix}" for name in LOCALS if rng.random() < 0.7}


def honest_cells(ex_id: str, rng, instructor: Path, own: set[str] | None = None, mutant_chance: float = 0.5,
                 mutant: str | None = None) -> dict[str, str]:
    """One honest student's graded cells for ``ex_id``: reference or a mutant (``mutant``, or one drawn with
    ``mutant_chance``), their spelling, names, comments. With ``own`` (function names), a near-reference
    student: the reference everywhere, and their own spelling (at least one alternative) only in ``own``."""
    mutants = mutant_names(ex_id, instructor)
    if mutant is None and own is None and mutants and rng.random() < mutant_chance:
        mutant = mutants[int(rng.integers(len(mutants)))]
    base = mutant_cells(ex_id, mutant, instructor) if mutant else reference_cells(ex_id, instructor)
    names = _names(rng)
    cells = {}
    for function, cell in base.items():
        spellings = [(old, new) for old, new in styles(instructor).get(function, []) if old in cell]
        if own is not None:
            chosen = [s for s in spellings if rng.random() < 0.5] if function in own else []
            if function in own and spellings and not chosen:
                chosen = [spellings[int(rng.integers(len(spellings)))]]
        else:
            chosen = [s for s in spellings if rng.random() < STYLE_CHANCE]
        for old, new in chosen:
            cell = cell.replace(old, new, 1)
        cells[function] = _body(rename(cell, names), lambda body: _recomment(body, rng))
    return cells


def copied_cells(cells: dict[str, str], rng) -> dict[str, str]:
    """A near-copy of ``cells``: every local renamed, two statements swapped, comments and blank lines changed."""
    copied = {}
    for function, cell in cells.items():
        assigned = sorted({node.id for node in ast.walk(ast.parse(cell)) if isinstance(node, ast.Name)
                           and isinstance(node.ctx, ast.Store)})  # sorted: the same names whatever the hash seed
        numbers = rng.permutation(max(90, len(assigned)))[:len(assigned)] + 10  # distinct: L and l stay two names
        names = {name: f"my_{name.lower()}_{number}" for name, number in zip(assigned, numbers)}
        copied[function] = _body(rename(cell, names), lambda body: _recomment(_swap_independent(body, rng), rng))
    return copied


def write_notebook(ex_id: str, cells: dict[str, str], path: Path, instructor: Path) -> Path:
    """The learner's notebook of ``ex_id`` with ``cells`` (by function name) as its graded cells, at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(with_cells(json.loads(stub_path(ex_id, instructor).read_text()), cells)))
    return path


@dataclass(frozen=True)
class Copy:
    """A planted copy: a new student who copied ``share`` of student ``source``'s exercises (writing the rest
    honestly). With ``source_own`` the source is a near-reference student who wrote their own code in only
    that many functions."""

    source: int
    share: float = 1.0
    source_own: int | None = None


@dataclass
class SampleClass:
    students: list[str]                           # as bnlab names them (folder, or <name>_<Canvas id>)
    planted: list[tuple[str, str, int | None]]    # (source, copier, the source's own functions if near-reference)
    roster: list[tuple[str, str, str]]            # (Canvas user id, "Surname, First", login) with canvas=True
    names: dict[str, str]                         # generator label (student003, copier00) -> name as above


FIRST = ["Jane", "Omar", "Li", "Ana", "Sam", "Noor", "Ivan", "Mia", "Kofi", "Eva", "Raj", "Zoe", "Tom", "Ines"]
SURNAMES = ["Adams", "Baker", "Chen", "Diaz", "Evans", "Fofana", "Garcia", "Haddad", "Ito", "Jones", "Khan",
            "Lopez", "Mensah", "Novak", "Okafor", "Patel", "Quinn", "Rossi", "Silva", "Tanaka"]


def units(exercise_ids: list[str], instructor: Path) -> list[tuple[str, str]]:
    """(exercise, function) for each function where it is introduced (a function pasted again later, as ex02
    repeats ex01's batchnorm_forward, counts in its first exercise only)."""
    from bnlab.grading.checks import load_course

    course = load_course(instructor, public_only=True)
    return [(ex, f) for ex in exercise_ids for f in reference_cells(ex, instructor)
            if f not in course.pasted_functions(ex)]


def synthetic_class(folder: Path, students: int, copies: list[Copy], exercise_ids: list[str], instructor: Path,
                    seed: int = 0, canvas: bool = False, reference_keepers: tuple[int, ...] = (),
                    mutant_chance: float = 0.5, bugs: dict[int, dict[str, str]] | None = None) -> SampleClass:
    """Write ``students`` honest students and, per :class:`Copy` in ``copies``, one copier.

    ``reference_keepers``: for each number k, one more honest student who keeps the reference except in k
    functions. ``bugs``: student index -> {exercise: mutant} planted instead of drawn mistakes.
    One folder per student, or with ``canvas`` one flat folder of files named the way Canvas names them.
    """
    rng = np.random.default_rng(seed)
    styled = [u for u in units(exercise_ids, instructor) if u[1] in styles(instructor)]
    bugs = bugs or {}

    def near_reference(k: int) -> dict[str, dict[str, str]]:
        picked = rng.choice(len(styled), size=min(k, len(styled)), replace=False)
        own = {styled[i] for i in picked}
        return {ex: honest_cells(ex, rng, instructor, own={f for e, f in own if e == ex}) for ex in exercise_ids}

    work = {f"student{i:03d}": {ex: honest_cells(ex, rng, instructor, mutant_chance=mutant_chance,
                                                 mutant=bugs.get(i, {}).get(ex)) for ex in exercise_ids}
            for i in range(students)}
    for k in copies:
        if k.source_own is not None:
            work[f"student{k.source:03d}"] = near_reference(k.source_own)
    for j, k in enumerate(reference_keepers):
        work[f"keeper{j:02d}"] = near_reference(k)
    planted = []
    for j, k in enumerate(copies):
        source, copier = f"student{k.source:03d}", f"copier{j:02d}"
        chosen = set(rng.choice(exercise_ids, size=max(1, round(k.share * len(exercise_ids))), replace=False))
        work[copier] = {ex: copied_cells(work[source][ex], rng) if ex in chosen
                        else honest_cells(ex, rng, instructor, mutant_chance=mutant_chance) for ex in exercise_ids}
        planted.append((source, copier, k.source_own))
    names, roster = {}, []
    for i, (student, by_exercise) in enumerate(sorted(work.items())):
        user_id = 1000 + i
        first, surname = FIRST[i % len(FIRST)], SURNAMES[(i * 7) % len(SURNAMES)]
        login = f"{surname}{first}".lower()
        names[student] = f"{login}_{user_id}" if canvas else student
        roster.append((str(user_id), f"{surname}, {first}", login))
        for ex, cells in by_exercise.items():
            notebook = stub_path(ex, instructor).name
            path = (folder / f"{login}_{user_id}_{50000 + i}_{notebook}") if canvas else folder / student / notebook
            write_notebook(ex, cells, path, instructor)
    return SampleClass(sorted(names.values()), [(names[a], names[b], k) for a, b, k in planted], roster, names)


# The similarity benchmark's class: whole copies, copies of near-reference work (the source wrote own code in
# 1 to 5 functions; the report judges 3 or more) and honest students who kept the reference in most functions.
BENCHMARK_COPIES = [Copy(3), Copy(11), Copy(25, source_own=3), Copy(40, source_own=4), Copy(50, source_own=5),
                    Copy(60, source_own=2), Copy(70, source_own=1)]
BENCHMARK_KEEPERS = (1, 2, 3, 3, 4, 5)


def benchmark_class(folder: Path, instructor: Path, students: int = 101, seed: int = 7) -> SampleClass:
    """``students`` in all: honest ones, ``BENCHMARK_KEEPERS`` and the copiers of ``BENCHMARK_COPIES``."""
    from bnlab.grading.checks import EXERCISE_IDS

    honest = students - len(BENCHMARK_COPIES) - len(BENCHMARK_KEEPERS)
    if honest <= max(c.source for c in BENCHMARK_COPIES):
        raise ValueError(f"the benchmark class needs more than {students} students; got {students}")
    return synthetic_class(folder, honest, BENCHMARK_COPIES, list(EXERCISE_IDS), instructor, seed=seed,
                           reference_keepers=BENCHMARK_KEEPERS)


def main(argv: list[str] | None = None) -> int:
    """Build the benchmark class in OUT/class, time ``bnlab similarity`` on it (wall time, peak RSS) and print
    where each planted pair ranks."""
    import argparse
    import resource
    import subprocess
    import sys
    import time

    from bnlab.grading.author.similarity import similarity_report
    from bnlab.grading.checks import instructor_dir

    parser = argparse.ArgumentParser(prog="python -m bnlab.grading.author.sample_class", description=main.__doc__)
    parser.add_argument("out", type=Path, help="a new folder")
    parser.add_argument("--students", type=int, default=101)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    instructor = instructor_dir()
    sample = benchmark_class(args.out / "class", instructor, args.students, args.seed)
    command = [sys.executable, "-m", "bnlab.cli", "similarity", str(args.out / "class"), "--out",
               str(args.out / "similarity.html")]
    start = time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall, peak = time.monotonic() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"bnlab similarity on {len(sample.students)} students: {wall:.1f} s, peak RSS {peak:.0f} MB")
    ranking = similarity_report(args.out / "class", args.out / "similarity.html", instructor)
    ranked, apart = [(p.a, p.b) for p in ranking.ranked], [(p.a, p.b) for p in ranking.apart]
    honest = next(p for p in ranking.ranked if all({p.a, p.b} != {a, b} for a, b, _ in sample.planted))
    for a, b, own in sample.planted:
        pair = tuple(sorted((a, b)))
        where = (f"ranked #{ranked.index(pair) + 1}" if pair in ranked else
                 f"apart #{apart.index(pair) + 1}" if pair in apart else "not listed")
        how = 'whole' if own is None else f'own code in {own} function' + 's' * (own != 1)
        print(f"{b} copied {a} ({how}): {where}")
    print(f"best honest pair: #{ranked.index((honest.a, honest.b)) + 1}, score {honest.score:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
