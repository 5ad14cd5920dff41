"""bnlab demo-class: a sample class as Canvas gives it, graded in the jail, exported to Canvas and compared,
end to end; without bubblewrap it refuses as bnlab grade does."""
from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bnlab.grading.author.demo_class import ASSIGNMENT, ASSIGNMENT_ID, BUGS
from bnlab.grading.grade.canvas import parse_name
from bnlab.grading.sandbox import jail

CLI = [sys.executable, "-m", "bnlab.cli", "demo-class"]


@pytest.mark.skipif(not jail.probe()[0], reason=f"no jail here: {jail.probe()[1]}")
def test_demo_class_grades_exports_and_compares_a_sample_canvas_download(tmp_path):
    out = tmp_path / "demo"
    result = subprocess.run(CLI + [str(out)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    names = zipfile.ZipFile(out / "canvas-download.zip").namelist()
    assert len(names) == 12 * 8 and all(parse_name(n) for n in names)  # 12 students, 8 notebooks, Canvas' names
    grades = {r["student"]: r for r in csv.DictReader((out / "graded" / "grades.csv").open())}
    assert len(grades) == 12
    planted = json.loads((out / "planted.json").read_text())
    buggy = {student: list(mistakes) for student, mistakes in planted["bugs"].items()}
    assert len(buggy) == len(BUGS) and all(student in grades for student in buggy)
    full = next(row for student, row in grades.items() if student not in buggy)
    for student, row in grades.items():  # every honest variant is correct; each planted bug costs its exercise
        lost = [ex for ex in ("ex01", "ex02", "ex03", "ex04", "ex05", "ex06", "ex07", "ex08")
                if float(row[ex]) < float(full[ex])]
        assert lost == buggy.get(student, []), (student, row)
    assert full["total"] == full["max"]
    rows = list(csv.reader((out / "canvas-import.csv").open(encoding="utf-8-sig")))
    assert rows[0][5] == f"{ASSIGNMENT} ({ASSIGNMENT_ID})"
    filled = {r[3]: r[5] for r in rows[2:]}
    assert filled.pop("anobody") == "" and len(filled) == 12 and all(v for v in filled.values())
    copier, source = planted["copied"]["copier"], planted["copied"]["source"]
    assert f"most similar: {min(copier, source)} and {max(copier, source)} (1.00)" in result.stdout
    assert "$ bnlab grade " in result.stdout and "$ bnlab export canvas " in result.stdout
    example = re.search(r"feedback pages \(12\): .*, e\.g\. (\S+feedback\.html)\n", result.stdout).group(1)
    assert Path(example).is_file() and f"similarity report: {out / 'similarity.html'}\n" in result.stdout
    assert "<h1>Similarity of graded code</h1>" in (out / "similarity.html").read_text()
    again = subprocess.run(CLI + [str(out)], capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "not an empty folder" in again.stderr


def test_demo_class_without_bubblewrap_says_so_as_grade_does(tmp_path):
    out = tmp_path / "demo"
    env = {**os.environ, "PATH": str(tmp_path / "no-bin")}  # no bwrap to be found
    result = subprocess.run(CLI + [str(out)], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 2
    assert "bnlab grade: learner code is graded inside a bubblewrap jail, and bubblewrap (bwrap) is not installed" \
        in result.stderr
    assert (out / "canvas-download.zip").is_file() and not (out / "graded" / "grades.csv").exists()
