"""Hostile and broken submissions, graded end to end through ``bnlab grade`` (a subprocess, in its jail).

Every student submits a correct ex02, so each row also proves that one exercise's failure costs only
that exercise. The course is the throwaway fixture in ``grading_fixture.py``.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import grading_fixture as fx

FIXTURE = Path(fx.__file__)
TIMEOUT = "2"
D = "# GRADED FUNCTION: double\n"

# student -> (ex01 graded cells or a special marker, expected ex01 points, words expected in the ex01 problem/messages)
HOSTILE = {
    "good": ([fx.DOUBLE_CELL], 4, ["correct"]),
    "endless_loop": ([D + "def double(x):\n    while True:\n        pass\n"], 0, ["timed out"]),
    "memory_bomb": ([D + "import numpy as np\n\ndef double(x):\n    hog = []\n    while True:\n"
                     "        hog.append(np.empty(10**7))\n"],
                    0, ["MemoryError"]),
    "fork_bomb": ([D + "import os, time\n\ndef double(x):\n    for _ in range(200):\n        if os.fork() == 0:\n"
                   "            os.execv('/bin/sleep', ['sleep', '31.4159'])\n"
                   "    while True:\n        time.sleep(0.1)\n"],
                  0, ["BlockingIOError"]),  # the process limit stops it (as root: via the throwaway uid)
    "sys_exit": ([D + "import sys\n\ndef double(x):\n    sys.exit(0)\n"], 0, ["sys.exit"]),
    "sys_exit_at_import": ([D + "import sys\nsys.exit(0)\n\ndef double(x):\n    return 2 * x\n"], 0, ["sys.exit"]),
    "os_exit": ([D + "import os\n\ndef double(x):\n    os._exit(0)\n"], 0, ["os._exit"]),
    "patch_numpy": ([D + "import numpy as np\nnp.allclose = lambda *a, **k: True\n"
                     "np.array_equal = lambda *a, **k: True\n"
                     "np.isfinite = lambda x: np.ones(np.shape(x), bool)\n\ndef double(x):\n    return x + 1\n"],
                    0, []),
    "patch_checks": ([D + "m = __import__('bn' + 'lab.grading.engine')\n\ndef double(x):\n    return x\n"],
                     0, ["bnlab"]),
    "fake_pass_lines": ([D + "print('PASS doubles_a_vector (1/1)')\nprint('All checks passed. score: 4/4')\n"
                         "import sys\nsys.stderr.write('passed\\n')\n\ndef double(x):\n"
                         "    print('PASS doubles_a_matrix (2/2)')\n    return x * 3\n"], 0, []),
    "eq_always_true": ([D + "class Yes:\n    def __eq__(self, other):\n        return True\n    __hash__ = None\n"
                        "    def __array__(self, *a, **k):\n        raise TypeError('no')\n\n"
                        "def double(x):\n    return Yes()\n"], 0, ["object of type Yes"]),
    "ndarray_subclass": ([D + "import numpy as np\n\nclass Liar(np.ndarray):\n    def __eq__(self, other):\n"
                          "        return np.ones(np.shape(other), bool)\n    def __array_ufunc__(self, *a, **k):\n"
                          "        return np.ones(self.shape, bool)\n\n"
                          "def double(x):\n    return np.zeros_like(x).view(Liar)\n"], 0, []),
    # Reads the worker's own results descriptor and nonce from its stack frames, writes well-formed results that
    # claim success (with made-up values), then exits: forging is possible, but verify recomputes everything.
    "forged_results": ([D + "import os, sys\nimport numpy as np\n\ndef double(x):\n"
                        "    f = sys._getframe()\n    while 'results_fd' not in f.f_locals:\n        f = f.f_back\n"
                        "    job, fd = f.f_locals['job'], f.f_locals['results_fd']\n"
                        "    fake = {c['key']: {'ok': True, 'value': np.zeros(3), 'error': '', 'inputs': None}"
                        " for c in job['calls']}\n"
                        "    data = f.f_globals['plain'].pack({'setup_error': '',"
                        " 'blocked_import': False, 'outcomes': fake})\n"
                        "    os.write(fd, job['nonce'].encode() + data)\n    os._exit(0)\n"], 0, ["wrong shape"]),
    "nan": ([D + "import numpy as np\n\ndef double(x):\n    return np.full(np.shape(x), np.nan)\n"], 0, ["NaN"]),
    "raises": ([D + "def double(x):\n    y = 2 * x\n    return y.reshape(-1, 5)\n"], 0, ["line 4", "ValueError"]),
    "syntax_error": ([D + "def double(x)\n    return 2 * x\n"], 0, ["SyntaxError", "line 2"]),
    "imports_bnlab": ([D + "from bnlab import relu\n\ndef double(x):\n    return 2 * x\n"], 0, ["imports bnlab"]),
    "importlib_bnlab": ([D + "import importlib\nbn = importlib.import_module('bnlab')\n"
                         "\ndef double(x):\n    return 2 * x\n"],
                        0, ["imports bnlab"]),
    "cell_deleted": ([], 0, ["GRADED FUNCTION: double"]),
    "wrong_header": (["# GRADED FUNCTION: triple\ndef double(x):\n    return 2 * x\n"], 0, ["GRADED FUNCTION: double"]),
    "not_json": ("not json", 0, ["not JSON"]),
    "empty_file": ("empty", 0, ["empty"]),
    "not_a_notebook": ("not notebook", 0, ["not a Jupyter notebook"]),
    "missing_exercise": ("missing", 0, ["missing notebook"]),
    "modifies_input": ([D + "def double(x):\n    x *= 2\n    return x\n"], 3, []),
    "writes_files": ([D + "import numpy as np\nopen('junk.txt', 'w').write('x')\n"
                      "for p in ('../bnlab-hostile-escape.txt', 'grades.csv'):\n"
                      "    try:\n        open(p, 'w').write('student,ex01\\nwrites_files,999\\n')\n"
                      "    except OSError:\n        pass\n\ndef double(x):\n    return 2 * np.asarray(x)\n"], 4, []),
    "crashing_experiment_cell": ([fx.DOUBLE_CELL], 4, []),  # its ungraded cell loops forever: never run
    "helper_in_graded_cell": ([D + "def _twice(v):\n    return v + v\n\ndef double(x):\n    return _twice(x)\n"],
                              4, []),
    "prints_forever": ([D + "def double(x):\n    while True:\n        print('x' * 10**6)\n"], 0, ["file size limit"]),
    "infinite_recursion": ([D + "def double(x):\n    return double(x)\n"], 0, ["RecursionError"]),
    "kills_itself": ([D + "import os, signal\n\ndef double(x):\n    os.kill(os.getpid(), signal.SIGKILL)\n"],
                     0, ["SIGKILL"]),
    "segfault": ([D + "import ctypes\n\ndef double(x):\n    return ctypes.string_at(0)\n"], 0, ["segmentation fault"]),
    "last_definition_wins": ([D + "def double(x):\n    return x\n", fx.DOUBLE_CELL], 4, []),
}

if not fx.jail_flags():  # in the jail (without it, off Linux and not root, its parent would be the grader)
    # Its parent is the jail's own server, the jail's PID 1: no signal from inside the jail reaches it (the kernel
    # protects a PID namespace's init), the grader is out of reach, and the correct code keeps its points.
    HOSTILE["kills_the_grader"] = ([D + "import os, signal\n\ndef double(x):\n"
                                    "    for kill in (lambda: os.kill(os.getppid(), signal.SIGKILL),\n"
                                    "                 lambda: os.killpg(os.getpgid(os.getppid()), signal.SIGKILL),\n"
                                    "                 lambda: os.kill(-1, signal.SIGKILL)):\n"
                                    "        try:\n            kill()\n        except OSError:\n            pass\n"
                                    "    return 2 * x\n"], 4, [])


def _write_submission(folder: Path, student: str, cells) -> None:
    ex01 = folder / student / "ex01_double (1).ipynb"  # a browser's renamed download still counts
    if cells == "not json":
        ex01.parent.mkdir(parents=True)
        ex01.write_text("{ this is not json")
    elif cells == "empty":
        ex01.parent.mkdir(parents=True)
        ex01.write_text("")
    elif cells == "not notebook":
        ex01.parent.mkdir(parents=True)
        ex01.write_text(json.dumps({"hello": "world"}))
    elif cells == "missing":
        (folder / student).mkdir(parents=True)
    else:
        extra = ["while True:\n    pass\n"] if student == "crashing_experiment_cell" else []
        fx.notebook(ex01, cells, extra)
    fx.notebook(folder / student / "ex02_pair.ipynb", fx.PAIR_CELLS)


def grade(submissions: Path, out: Path, *extra: str, timeout: str = TIMEOUT, env=None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "bnlab.cli", "grade", str(submissions), "--out", str(out),
           "--course", str(FIXTURE), "--timeout", timeout, *fx.jail_flags(), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


def _sleepers() -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes() == b"sleep\x0031.4159\x00":
                found.append(int(pid))
        except OSError:
            pass
    return found


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    submissions, out = root / "submissions", root / "out"
    for student, (cells, _, _) in HOSTILE.items():
        _write_submission(submissions, student, cells)
    before = {p: p.read_bytes() for p in submissions.rglob("*") if p.is_file()}
    tmpdir = Path(tempfile.mkdtemp(prefix="bnlab-test-tmpdir-", dir="/tmp"))  # the grader's TMPDIR, ours
    os.chmod(tmpdir, 0o1777)
    try:
        result = grade(submissions, out, "--jobs", "2", env={**os.environ, "TMPDIR": str(tmpdir)})
        escaped = sorted(os.listdir(tmpdir))
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    rows = {r["student"]: r for r in csv.DictReader((out / "grades.csv").open())}
    return {"result": result, "out": out, "rows": rows, "submissions": submissions, "before": before,
            "escaped": escaped}


def test_the_batch_finishes_and_reports_progress(batch):
    assert batch["result"].returncode == 0, batch["result"].stderr
    assert f"graded {len(HOSTILE)}/{len(HOSTILE)}" in batch["result"].stderr
    assert sorted(batch["rows"]) == sorted(HOSTILE)


@pytest.mark.parametrize("student", sorted(HOSTILE))
def test_each_submission_scores_exactly_what_it_deserves(batch, student):
    cells, points, words = HOSTILE[student]
    row = batch["rows"][student]
    assert float(row["ex01"]) == points, row
    assert float(row["ex02"]) == fx.MAX["ex02"], "a failure in ex01 must cost only ex01"
    assert float(row["total"]) == points + fx.MAX["ex02"] and float(row["max"]) == sum(fx.MAX.values())
    state = json.loads((batch["out"] / "students" / student / "grade.json").read_text())
    ex01 = state["exercises"][0]
    text = ex01["problem"] + "\n".join(c["message"] + c["detail"] for c in ex01["checks"])
    for word in words:
        assert word in text, (word, text)


def test_nothing_escapes_into_the_graders_temporary_folder(batch):
    assert batch["escaped"] == []


def test_out_holds_only_the_grader_files(batch):
    out = batch["out"]
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    expected = sorted(["grades.csv", "students"] + [f"students/{s}{suffix}" for s in HOSTILE
                                                    for suffix in ("", "/results.json", "/feedback.md",
                                                                   "/feedback.html", "/grade.json")])
    assert names == expected
    assert "999" not in (out / "grades.csv").read_text()


def test_submissions_are_never_modified(batch):
    after = {p: p.read_bytes() for p in batch["submissions"].rglob("*") if p.is_file()}
    assert after == batch["before"]


def test_forked_children_are_killed_with_their_process_group(batch):
    assert _sleepers() == []


def test_hidden_checks_are_named_but_their_inputs_never_shown(batch):
    for student in HOSTILE:
        feedback = (batch["out"] / "students" / student / "feedback.md").read_text()
        results = json.loads((batch["out"] / "students" / student / "results.json").read_text())
        shown = feedback + json.dumps(results) + (batch["out"] / "students" / student / "feedback.html").read_text()
        assert "doubles_a_matrix" in shown and "(hidden)" in feedback
        assert "7, 13" not in shown and "(7," not in shown and "4.2" not in shown
        assert "all tests passed" not in shown.lower()
        for test in results["tests"]:
            assert test["visibility"] == ("after_published" if "(hidden)" in test["name"] else "visible")
        assert results["score"] == sum(t["score"] for t in results["tests"])


def test_a_learner_traceback_is_trimmed_to_the_learners_code(batch):
    state = json.loads((batch["out"] / "students" / "raises" / "grade.json").read_text())
    public = state["exercises"][0]["checks"][0]
    assert "graded cell" in public["message"] and "return y.reshape(-1, 5)" in public["message"]
    assert "worker.py" not in public["message"] and "site-packages" not in public["message"]
    hidden = state["exercises"][0]["checks"][1]
    # no message, no class name: either could show the secret
    assert hidden["message"] == "your code raised an exception"


def test_a_timeout_names_the_limit(batch):
    state = json.loads((batch["out"] / "students" / "endless_loop" / "grade.json").read_text())
    assert "timed out after 2 s" in state["exercises"][0]["problem"]
