"""The similarity report: names, layout, comments and statement order do not hide a copy; the stub and the
reference never count; planted near-copies rank above every pair of honest students."""
from __future__ import annotations

import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pytest

from bnlab.grading.instructor.similarity import (ClassFingerprints, features, fingerprint_class, normalized_tokens,
                                                 rank_pairs, similarity_report)
from class_variants import copied_cells, honest_cells, synthetic_class, write_notebook
from exercise_harness import INSTRUCTOR, solution_cells, stub_cells

EXERCISE_IDS = ["ex01", "ex02", "ex03", "ex04", "ex05", "ex06"]
CLI = [sys.executable, "-m", "bnlab.cli"]


def _tokens(source: str) -> list[str]:
    return [t for t, _ in normalized_tokens(source)]


def test_names_comments_layout_and_docstrings_do_not_change_the_tokens():
    a = 'def f(Z, eps=1e-5):\n    """Doc."""\n    mu = np.mean(Z, axis=1, keepdims=True)  # mean\n    return mu\n'
    b = 'def f(Z, eps=1e-5):\n\n    # my own comment\n    average   =  np.mean( Z,axis=1,keepdims=True )\n    return average\n'
    assert _tokens(a) == _tokens(b)
    assert _tokens(a) != _tokens(a.replace("np.mean", "np.var"))  # attributes are kept
    assert _tokens(a) != _tokens(a.replace("mean(Z", "mean(eps"))  # so are the stub's parameter names
    assert _tokens(a) != _tokens(a.replace("axis=1", "axis=0"))
    swapped = "def g(a, b):\n    x = a + 1\n    y = b * 2\n    return x, y\n"
    reordered = "def g(a, b):\n    q = b * 2\n    p = a + 1\n    return p, q\n"
    assert sorted(features(normalized_tokens(swapped))) == sorted(features(normalized_tokens(reordered)))
    assert _tokens("def broken(:\n    x = (1,\n")  # code tokenize refuses still gives tokens


def _fingerprints(sources: dict[str, dict[str, str]]) -> ClassFingerprints:
    boilerplate = {ex: ["\n".join(stub_cells(ex).values()), "\n".join(solution_cells(ex).values())]
                   for ex in EXERCISE_IDS}
    return fingerprint_class(sources, boilerplate)


def test_the_stub_and_the_reference_do_not_count():
    reference = {ex: "\n".join(solution_cells(ex).values()) for ex in EXERCISE_IDS}
    stub = {ex: "\n".join(stub_cells(ex).values()) for ex in EXERCISE_IDS}
    sources = {"ref1": reference, "ref2": dict(reference), "stub1": stub, "stub2": dict(stub),
               "mixed": {**reference, "ex01": stub["ex01"]}}
    fp = _fingerprints(sources)
    assert all(not own for by_ex in fp.prints.values() for own in by_ex.values())
    assert rank_pairs(fp, EXERCISE_IDS) == []


def test_planted_copies_rank_above_every_honest_pair(tmp_path):
    planted = synthetic_class(tmp_path / "class", 40, [(3, 1.0), (11, 1.0), (25, 1.0)], EXERCISE_IDS, seed=7)
    pairs = similarity_report(tmp_path / "class", tmp_path / "report.html", instructor=INSTRUCTOR, top=10)
    ranked = [(p.a, p.b) for p in pairs]
    planted_ranks = sorted(ranked.index(tuple(sorted(pair))) for pair in planted)
    assert planted_ranks == list(range(len(planted))), (planted_ranks, pairs[:6])
    assert pairs[0].score > 0.5 > pairs[len(planted)].score * 0.5  # a clear gap, not a tie broken by luck

    page = (tmp_path / "report.html").read_text()
    parser = HTMLParser()
    parser.feed(page)  # well-formed enough to parse
    top = pairs[0]
    assert f"1. {top.a} and {top.b}" in page and "matching lines" in page and "<script" not in page
    assert "default-src 'none'" in page


def test_the_report_escapes_learner_text_and_the_cli_refuses_to_overwrite_other_files(tmp_path):
    rng = np.random.default_rng(3)
    cells = honest_cells("ex01", rng)
    planted = "# YOUR CODE STARTS HERE\n    tag = str('<script>x</script>') + str(Z.shape)\n"
    hostile = {f: c.replace("# YOUR CODE STARTS HERE\n", planted) for f, c in cells.items()}
    for student, student_cells in (("alice", hostile), ("bob", copied_cells(hostile, rng))):
        write_notebook("ex01", student_cells, tmp_path / "class" / student / "ex01_batchnorm_forward.ipynb")
    report = tmp_path / "report.html"
    result = subprocess.run(CLI + ["similarity", str(tmp_path / "class"), "--out", str(report)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "alice and bob" in result.stdout
    page = report.read_text()
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>" not in page
    again = subprocess.run(CLI + ["similarity", str(tmp_path / "class"), "--out", str(report)],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0  # its own earlier report may be replaced
    mine = tmp_path / "notes.html"
    mine.write_text("<p>mine</p>")
    refused = subprocess.run(CLI + ["similarity", str(tmp_path / "class"), "--out", str(mine)],
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "not a similarity report" in refused.stderr
    assert mine.read_text() == "<p>mine</p>"
