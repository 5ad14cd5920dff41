"""The similarity report: names, layout, comments and statement order do not hide a copy; the stub and the
reference never count, nor a pasted earlier cell twice; planted near-copies rank above every pair of honest
students, and pairs with too little own code are set apart; hostile submissions cost that student only."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from bnlab.grading.author.sample_class import (benchmark_class, copied_cells, honest_cells, reference_cells, styles,
                                               write_notebook)
from bnlab.grading.author.similarity import (MIN_FUNCTIONS, features, fingerprint_class, normalized_tokens, rank_pairs,
                                             similarity_report)
from exercise_harness import INSTRUCTOR, stub_cells

EXERCISE_IDS = ["ex01", "ex02", "ex03", "ex04", "ex05", "ex06", "ex07", "ex08"]
CLI = [sys.executable, "-m", "bnlab.cli"]
NOTEBOOK = "ex01_batchnorm_forward.ipynb"


def _tokens(source: str) -> list[str]:
    return [t for t, _ in normalized_tokens(source)]


def test_names_comments_layout_and_docstrings_do_not_change_the_tokens():
    a = 'def f(Z, eps=1e-5):\n    """Doc."""\n    mu = np.mean(Z, axis=1, keepdims=True)  # mean\n    return mu\n'
    b = ('def f(Z, eps=1e-5):\n\n    # my own comment\n'
         '    average   =  np.mean( Z,axis=1,keepdims=True )\n    return average\n')
    assert _tokens(a) == _tokens(b)
    assert _tokens(a) != _tokens(a.replace("np.mean", "np.var"))  # attributes are kept
    assert _tokens(a) != _tokens(a.replace("mean(Z", "mean(eps"))  # so are the stub's parameter names
    assert _tokens(a) != _tokens(a.replace("axis=1", "axis=0"))
    swapped = "def g(a, b):\n    x = a + 1\n    y = b * 2\n    return x, y\n"
    reordered = "def g(a, b):\n    q = b * 2\n    p = a + 1\n    return p, q\n"
    assert sorted(features(normalized_tokens(swapped))) == sorted(features(normalized_tokens(reordered)))
    assert _tokens("def broken(:\n    x = (1,\n")  # code tokenize refuses still gives tokens


def test_the_generator_the_package_ships_quotes_no_piece_of_the_reference():
    import bnlab.grading.author.sample_class as sample_class

    text = Path(sample_class.__file__).read_text()
    spellings = [piece for pairs in styles(INSTRUCTOR).values() for pair in pairs for piece in pair]
    assert len(spellings) > 40 and not [piece for piece in spellings if len(piece) > 15 and piece in text]


def _units(cells_by_exercise: dict[str, dict[str, str]]) -> dict[tuple[str, str], str]:
    return {(ex, f): text for ex, cells in cells_by_exercise.items() for f, text in cells.items()}


def _boilerplate() -> dict[str, list[str]]:
    return {ex: [*stub_cells(ex).values(), *reference_cells(ex, INSTRUCTOR).values()] for ex in EXERCISE_IDS}


def test_the_stub_and_the_reference_do_not_count():
    reference = _units({ex: reference_cells(ex, INSTRUCTOR) for ex in EXERCISE_IDS})
    stub = _units({ex: stub_cells(ex) for ex in EXERCISE_IDS})
    sources = {"ref1": reference, "ref2": dict(reference), "stub1": stub, "stub2": dict(stub),
               "mixed": {**reference, ("ex01", "batchnorm_forward"): stub["ex01", "batchnorm_forward"]}}
    fp = fingerprint_class(sources, _boilerplate())
    assert all(not own.prints and not own.lines for by_unit in fp.own.values() for own in by_unit.values())
    ranking = rank_pairs(fp)
    assert ranking.ranked == [] and ranking.apart == []


def test_a_pasted_earlier_cell_counts_once_in_the_exercise_that_introduced_it(tmp_path):
    rng = np.random.default_rng(5)
    own = honest_cells("ex01", rng, INSTRUCTOR, own={"batchnorm_forward"})["batchnorm_forward"]
    for student in ("alice", "bob"):
        cell = own if student == "alice" else copied_cells({"f": own}, rng)["f"]
        for ex in ("ex01", "ex02", "ex03"):  # the same own batchnorm_forward pasted into ex02 and ex03
            cells = {**reference_cells(ex, INSTRUCTOR), "batchnorm_forward": cell}
            write_notebook(ex, cells, tmp_path / "class" / student / f"{ex}.ipynb", INSTRUCTOR)
    ranking = similarity_report(tmp_path / "class", tmp_path / "report.html", instructor=INSTRUCTOR)
    (pair,) = ranking.apart  # one function of their own: too little to judge, whatever it shares
    assert list(pair.functions) == [("ex01", "batchnorm_forward")] and pair.judged == 1
    assert ranking.ranked == []


@pytest.fixture(scope="module")
def hundred(tmp_path_factory):
    """~100 students: honest variants, reference keepers, whole copies and copies of near-reference work."""
    folder = tmp_path_factory.mktemp("hundred")
    sample = benchmark_class(folder / "class", INSTRUCTOR, students=101, seed=7)
    ranking = similarity_report(folder / "class", folder / "report.html", instructor=INSTRUCTOR, top=10)
    return sample, ranking, (folder / "report.html").read_text()


def test_planted_copies_rank_above_every_honest_pair_and_near_reference_copies_are_set_apart(hundred):
    sample, ranking, _ = hundred
    assert len(sample.students) == 101
    ranked = [(p.a, p.b) for p in ranking.ranked]
    apart = [(p.a, p.b) for p in ranking.apart]
    judged = [tuple(sorted((a, b))) for a, b, own in sample.planted if own is None or own >= MIN_FUNCTIONS]
    too_close = [tuple(sorted((a, b))) for a, b, own in sample.planted if own is not None and own < MIN_FUNCTIONS]
    assert len(judged) == 5 and len(too_close) == 2
    assert sorted(ranked.index(pair) for pair in judged) == list(range(len(judged))), ranking.ranked[:8]
    assert all(pair in apart for pair in too_close)
    best_honest = ranking.ranked[len(judged)]
    assert ranking.ranked[len(judged) - 1].score > best_honest.score + 0.1  # a clear gap, not a tie broken by luck
    for pair in ranking.ranked[:len(judged)]:  # the copier's own lines are the source's
        assert pair.own_lines[0] == pair.own_lines[1] > 0 and pair.judged >= MIN_FUNCTIONS


def test_the_report_lists_own_lines_and_fits_a_1280_pixel_window(hundred):
    _, ranking, page = hundred
    HTMLParser().feed(page)  # well-formed enough to parse
    top = ranking.ranked[0]
    assert f"1. {top.a} and {top.b}" in page and "matching own lines" in page and "<script" not in page
    assert "default-src 'none'" in page and "Too close to the reference to tell" in page
    assert f"Own lines (beyond the stub and the reference): {top.a} {top.own_lines[0]}" in page
    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    rules = dict((sel.strip(), body) for sel, body in re.findall(r"([^{}]+)\{([^}]*)\}", style))
    # every table takes the page's width and shares it out; code wraps inside its column
    assert "width: 100%" in rules["table"] and "table-layout: fixed" in rules["table"]
    assert "white-space: pre-wrap" in rules["td.code"] and "overflow-wrap: anywhere" in rules["td, th"]
    assert all(int(px) <= 1280 for px in re.findall(r"(\d+)px", style)) and "nowrap" not in style
    assert "white-space: pre;" not in style
    # the side-by-side tables: two narrow number columns, two code columns sharing the rest
    tables = re.findall(r'<table class="side"><colgroup>(.*?)</colgroup>', page)
    assert tables and all(t == '<col class="number"><col><col class="number"><col>' for t in tables)


def test_the_report_escapes_learner_text_and_the_cli_refuses_to_overwrite_other_files(tmp_path):
    rng = np.random.default_rng(3)
    cells = honest_cells("ex01", rng, INSTRUCTOR, own={"batchnorm_forward"})
    planted = "# YOUR CODE STARTS HERE\n    tag = str('<script>x</script>') + str(Z.shape)\n"
    hostile = {f: c.replace("# YOUR CODE STARTS HERE\n", planted) for f, c in cells.items()}
    for student, student_cells in (("alice", hostile), ("bob", copied_cells(hostile, rng))):
        write_notebook("ex01", student_cells, tmp_path / "class" / student / NOTEBOOK, INSTRUCTOR)
    report = tmp_path / "report.html"
    result = subprocess.run(CLI + ["similarity", str(tmp_path / "class"), "--out", str(report), "--top", "5"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "1 too close to the reference to tell" in result.stdout
    page = report.read_text()
    assert "alice" in page and "&lt;script&gt;x&lt;/script&gt;" in page and "<script>" not in page
    again = subprocess.run(CLI + ["similarity", str(tmp_path / "class"), "--out", str(report)],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0  # its own earlier report may be replaced
    mine = tmp_path / "notes.html"
    mine.write_text("<p>mine</p>")
    refused = subprocess.run(CLI + ["similarity", str(tmp_path / "class"), "--out", str(mine)],
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "not a similarity report" in refused.stderr
    assert mine.read_text() == "<p>mine</p>"


# The stated bound (see the similarity module): about 60 MB for Python and the report, at most about 80 MB
# more while one notebook at the grader's source cap (256 KB) is read, and at most about 2 MB per student kept.
PEAK_BOUND_MB = 150


def _peak_of(command: list[str]) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``command`` from a fresh process and return its result and its peak RSS in MB (ru_maxrss of the
    only child that process waited for)."""
    probe = ("import json, resource, subprocess, sys\n"
             "r = subprocess.run(json.loads(sys.argv[1]), capture_output=True, text=True)\n"
             "print(json.dumps([r.returncode, r.stdout, r.stderr, "
             "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024]))\n")
    import json
    out = subprocess.run([sys.executable, "-c", probe, json.dumps(command)], capture_output=True, text=True,
                         timeout=300, check=True)
    code, stdout, stderr, peak = json.loads(out.stdout)
    return subprocess.CompletedProcess(command, code, stdout, stderr), peak


def test_a_huge_cell_and_deep_nesting_cost_their_student_only_within_the_memory_bound(tmp_path):
    rng = np.random.default_rng(0)
    cells = honest_cells("ex01", rng, INSTRUCTOR, own={"batchnorm_forward"})
    for student in ("alice", "bob"):
        write_notebook("ex01", cells if student == "alice" else copied_cells(cells, rng),
                       tmp_path / "class" / student / NOTEBOOK, INSTRUCTOR)
    hostile = {
        "huge": "x = '" + "a" * (4 * 2**20) + "'\n",                                    # a 4 MB graded cell
        "deep": "x = " + "(" * 100_000 + "1" + ")" * 100_000 + "\n",                    # nested 100 000 deep
        "dense": "def batchnorm_forward(Z, gamma, beta, eps=1e-5):\n    x = [" + "1, " * 78_000 + "]\n",
    }  # dense: 234 KB of tokens in one flat statement, just under the cap: read and compared, the costliest allowed
    for student, body in hostile.items():
        write_notebook("ex01", {"batchnorm_forward": "# GRADED FUNCTION: batchnorm_forward\n" + body},
                       tmp_path / "class" / student / NOTEBOOK, INSTRUCTOR)
    report = tmp_path / "report.html"
    result, peak = _peak_of(CLI + ["similarity", str(tmp_path / "class"), "--out", str(report)])
    assert result.returncode == 0, result.stderr
    assert "huge not compared: ex01: the graded cells hold 4,097 KB of source" in result.stderr
    assert "deep not compared: ex01: graded cell batchnorm_forward: a graded cell is nested too deeply" in result.stderr
    assert "dense" not in result.stderr
    page = report.read_text()
    assert "Not compared (2 students)" in page and "alice" in page and "bob" in page
    assert peak < PEAK_BOUND_MB, f"peak RSS of bnlab similarity {peak:.0f} MB, bound {PEAK_BOUND_MB} MB"


def test_an_unreadable_notebook_is_listed_and_the_students_other_notebooks_are_compared(tmp_path):
    rng = np.random.default_rng(5)
    cells = honest_cells("ex01", rng, INSTRUCTOR, own={"batchnorm_forward"})
    for student, student_cells in (("alice", cells), ("bob", copied_cells(cells, rng))):
        write_notebook("ex01", student_cells, tmp_path / "class" / student / NOTEBOOK, INSTRUCTOR)
    (tmp_path / "class" / "bob" / "ex02_batchnorm_backward.ipynb").write_text("{ not a notebook")
    ranking = similarity_report(tmp_path / "class", tmp_path / "report.html", INSTRUCTOR)
    assert list(ranking.partly_read) == ["bob"] and ranking.partly_read["bob"].startswith("ex02: ")
    assert not ranking.not_compared
    assert any({p.a, p.b} == {"alice", "bob"} for p in ranking.ranked + ranking.apart)  # ex01 still compared
    page = (tmp_path / "report.html").read_text()
    assert "Compared without some notebooks (1 students)" in page and "bob: ex02: " in page


def _stored_names(cell: str) -> set[str]:
    import ast
    return {node.id for node in ast.walk(ast.parse(cell))
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}


def test_a_planted_copy_keeps_every_local_apart_and_does_not_depend_on_the_hash_seed():
    # L_model_forward has both L and l: a copy that named both my_l_71 looped to the wrong layer count and
    # failed the "honest" demo class about once in a hundred runs, depending on the hash seed.
    cells = reference_cells("ex08", INSTRUCTOR)
    assert {"L", "l"} <= _stored_names(cells["L_model_forward"])
    for seed in range(500):
        copy = copied_cells(cells, np.random.default_rng(seed))
        for function, cell in cells.items():
            assert len(_stored_names(copy[function])) == len(_stored_names(cell)), (seed, function)
    probe = ("import hashlib, numpy as np; from bnlab.grading.author.sample_class import copied_cells, reference_cells;"
             "from exercise_harness import INSTRUCTOR;"
             "c = copied_cells(reference_cells('ex08', INSTRUCTOR), np.random.default_rng(3));"
             "print(hashlib.sha256(repr(sorted(c.items())).encode()).hexdigest())")
    tests = str(Path(__file__).parent)
    digests = {subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120,
                              env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": tests}).stdout
               for seed in ("0", "1", "2")}
    assert len(digests) == 1, digests
