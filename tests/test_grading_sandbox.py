"""The sandbox: learner code runs in a separate, limited process that sees neither the grader's environment
nor bnlab."""
from __future__ import annotations

import pytest

import grading_fixture as fx
from bnlab.grading.core.engine import grade_notebook
from bnlab.grading.sandbox.client import Limits, run_learner


def test_the_sandbox_scrubs_the_environment_and_uses_a_fresh_directory(monkeypatch):
    monkeypatch.setenv("SECRET_TOKEN", "hunter2")
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    source = ("# GRADED FUNCTION: probe\nimport os, sys\n\ndef probe():\n"
              "    return [sorted(os.environ), os.getcwd(), os.listdir('.'), sys.flags.isolated]\n")
    run = run_learner([("probe", 0, source)], [{"function": "probe", "args": (), "kwargs": {}, "key": "p",
                                                 "returns": None, "copy_check": False}], Limits(timeout=5))
    names, cwd, listing, isolated = run.outcomes["p"]["value"]
    assert "SECRET_TOKEN" not in names and "PYTHONPATH" not in names
    assert {"HOME", "PATH", "OPENBLAS_NUM_THREADS"} <= set(names)
    assert "bnlab-learner-" in cwd and listing == [] and isolated == 1


def test_a_learner_cannot_see_the_reference_package_in_its_process():
    source = ("# GRADED FUNCTION: probe\nimport sys\n\ndef probe():\n"
              "    return sorted(m for m in sys.modules if m.split('.')[0] == 'bnlab')\n")
    run = run_learner([("probe", 0, source)], [{"function": "probe", "args": (), "kwargs": {}, "key": "p",
                                                 "returns": None, "copy_check": False}], Limits(timeout=5))
    assert run.outcomes["p"]["value"] == []


def test_the_exec_sandbox_gives_the_same_verdicts(monkeypatch, tmp_path):
    """BNLAB_SANDBOX=exec starts a new interpreter per notebook instead of forking the preloaded server."""
    monkeypatch.setenv("BNLAB_SANDBOX", "exec")
    checks = fx.EX01_PUBLIC + fx.EX01_HIDDEN
    good = grade_notebook(fx.notebook(tmp_path / "a.ipynb", [fx.DOUBLE_CELL]), fx.EX01, checks, Limits(timeout=5))
    assert good.points == 4
    exits = "# GRADED FUNCTION: double\nimport os\n\ndef double(x):\n    os._exit(0)\n"
    bad = grade_notebook(fx.notebook(tmp_path / "b.ipynb", [exits]), fx.EX01, checks, Limits(timeout=5))
    assert bad.points == 0 and "os._exit" in bad.problem
    loop = "# GRADED FUNCTION: double\ndef double(x):\n    while True:\n        pass\n"
    slow = grade_notebook(fx.notebook(tmp_path / "c.ipynb", [loop]), fx.EX01, checks, Limits(timeout=1))
    assert slow.points == 0 and "timed out after 1 s" in slow.problem


def test_learner_code_cannot_write_the_graders_files_when_the_grader_is_root(tmp_path):
    import os

    if os.geteuid() != 0:
        pytest.skip("the throwaway uid is used only when grading as root")
    target = tmp_path / "grader-owned.txt"
    target.write_text("safe")
    tmp_path.chmod(0o755)
    source = ("# GRADED FUNCTION: probe\nimport os\n\ndef probe():\n    try:\n"
              f"        open({str(target)!r}, 'w').write('pwned')\n"
              "    except OSError as e:\n        return [os.getuid(), type(e).__name__]\n"
              "    return [os.getuid(), 'wrote']\n")
    run = run_learner([("probe", 0, source)], [{"function": "probe", "args": (), "kwargs": {}, "key": "p",
                                                 "returns": None, "copy_check": False}], Limits(timeout=5))
    uid, outcome = run.outcomes["p"]["value"]
    assert uid != 0 and outcome == "PermissionError" and target.read_text() == "safe"


def test_whatever_comes_back_malformed_is_that_runs_crash_never_a_grader_failure():
    import json

    from bnlab.grading.sandbox import plain
    from bnlab.grading.sandbox.policy import Raw, outcome

    nonce = b"0123456789abcdef0123456789abcdef"
    good = plain.pack({"setup_error": "", "blocked_import": False, "outcomes": {}})
    header = json.dumps({"c": []}).encode()
    bad_header = b"BNLABPLAIN1\n" + len(header).to_bytes(8, "little") + header
    for results in (b"junk", nonce + b"junk", nonce + bad_header, b"f" * 32 + good, nonce + plain.pack([1, 2]),
                    nonce + good[:-1] + b"]"):
        run = outcome(Raw(returncode=0, results=results), Limits(), nonce)
        assert run.status == "crashed" and "could not read" in run.message, (results[:40], run)
        assert run.summary == "the learner process returned results the grader could not read"
    assert outcome(Raw(returncode=0, results=nonce + good), Limits(), nonce).status == "ok"
    exited = outcome(Raw(returncode=3, output="x" * 10), Limits(), nonce)
    assert "exit code 3" in exited.message and "3" not in exited.summary  # the summary has no learner number
    assert outcome(Raw(error="could not start"), Limits(), nonce).status == "error"  # the grader's own failure
