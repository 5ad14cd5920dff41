"""Where the jail cannot run: ``bnlab grade`` refuses and says why; ``bnlab check`` works on Windows and
macOS (simulated here: no ``resource`` module, no fork/killpg/setsid/setuid, no SIGXCPU/SIGXFSZ, a
``sys.platform`` of "win32"); the Gradescope bundle says which isolation it used (refusing where the jail
cannot run, unless built with ``--no-jail``) and always writes results.json, also when its Python is too old.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import grading_fixture as fx
from bnlab.grading import cli
from bnlab.grading.core.engine import grade_notebook
from bnlab.grading.sandbox import jail, client as sandbox
from bnlab.grading.sandbox.client import Limits

WORKER = Path(sandbox.__file__).with_name("worker.py")
CHECKS = fx.EX01_PUBLIC + fx.EX01_HIDDEN

# Run first in a process: make it look like Windows without any POSIX-only name.
PRETEND_WINDOWS = textwrap.dedent("""
    import os, signal, sys
    import shutil, tempfile  # imported as on this system: from 3.13, shutil imports _winapi when it sees win32
    sys.modules["resource"] = None  # "import resource" now raises ImportError, as on Windows
    for name in ("fork", "killpg", "setsid", "setuid", "setgid", "getpgid", "fchmod"):
        if hasattr(os, name):
            delattr(os, name)
    for name in ("SIGXCPU", "SIGXFSZ"):
        if hasattr(signal, name):
            delattr(signal, name)
    sys.platform = "win32"
""")


def test_no_posix_only_name_is_needed_to_import_the_learner_side():
    code = PRETEND_WINDOWS + textwrap.dedent("""
        import bnlab.grading.sandbox.client, bnlab.grading.sandbox.worker, bnlab.grading.sandbox.jail
        import bnlab.grading.cli, bnlab.grading.check, bnlab.grading.core.engine
        from bnlab.grading.sandbox.client import limits_in_effect
        print(limits_in_effect())
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['wall clock']"


@pytest.fixture
def pretend_windows(monkeypatch, tmp_path):
    """The grader side as on Windows (exec mode, no POSIX calls) and a worker that sees Windows too."""
    wrapper = tmp_path / "worker_as_on_windows.py"
    wrapper.write_text(PRETEND_WINDOWS + f"import runpy\nsys.argv[0] = {str(WORKER)!r}\n"
                       f"runpy.run_path({str(WORKER)!r}, run_name='__main__')\n")
    monkeypatch.setattr(sandbox, "WORKER", wrapper)
    monkeypatch.setattr(sandbox, "POSIX", False)
    monkeypatch.setenv("BNLAB_SANDBOX", "exec")
    for name in ("killpg", "setsid", "fork"):
        monkeypatch.delattr(os, name, raising=False)
    import signal
    for name in ("SIGXCPU", "SIGXFSZ"):
        monkeypatch.delattr(signal, name, raising=False)
    monkeypatch.setattr(sys, "platform", "win32")
    return tmp_path


def test_the_worker_path_grades_on_a_system_without_posix_limits(pretend_windows):
    folder = pretend_windows
    good = grade_notebook(fx.notebook(folder / "a.ipynb", [fx.DOUBLE_CELL]), fx.EX01, CHECKS, Limits(timeout=20))
    assert good.points == good.max_points == 4, good
    loop = "# GRADED FUNCTION: double\ndef double(x):\n    while True:\n        pass\n"
    slow = grade_notebook(fx.notebook(folder / "b.ipynb", [loop]), fx.EX01, CHECKS, Limits(timeout=3))
    assert slow.points == 0 and "timed out after 3 s" in slow.problem  # the wall clock still holds
    exits = "# GRADED FUNCTION: double\nimport os\n\ndef double(x):\n    os._exit(3)\n"
    bad = grade_notebook(fx.notebook(folder / "c.ipynb", [exits]), fx.EX01, CHECKS, Limits(timeout=20))
    assert bad.points == 0 and "exit code 3" in bad.problem


def test_bnlab_check_says_once_which_limits_apply(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "resource", None)
    note = cli._limits_note()
    assert note.startswith("note: on this system only these limits apply to your code: wall clock")
    monkeypatch.delitem(sys.modules, "resource")
    if sys.platform.startswith("linux"):
        assert cli._limits_note() == ""  # every limit exists: nothing to say


def test_bnlab_grade_off_linux_refuses_and_points_to_linux_or_gradescope(monkeypatch, tmp_path, capsys):
    (tmp_path / "submissions" / "alice").mkdir(parents=True)
    monkeypatch.setattr(sys, "platform", "darwin")
    code = cli.main(["grade", str(tmp_path / "submissions"), "--out", str(tmp_path / "out"), "--course", fx.__file__])
    err = capsys.readouterr().err
    assert code == 2 and "needs Linux" in err and "Gradescope" in err and "--no-jail" in err
    assert not (tmp_path / "out").exists()


def test_bnlab_grade_without_bubblewrap_refuses_and_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    if not sys.platform.startswith("linux"):
        pytest.skip("Linux only")
    (tmp_path / "submissions" / "alice").mkdir(parents=True)
    monkeypatch.setattr(jail, "bwrap_path", lambda: None)
    monkeypatch.setattr(jail, "_probe", None)
    code = cli.main(["grade", str(tmp_path / "submissions"), "--out", str(tmp_path / "out"), "--course", fx.__file__])
    err = capsys.readouterr().err
    assert code == 2 and "not installed" in err and "apt-get install bubblewrap" in err and "--no-jail" in err
    assert not (tmp_path / "out").exists()
    monkeypatch.setattr(jail, "_probe", None)


def test_no_jail_help_says_what_it_gives_up(capsys):
    with pytest.raises(SystemExit):
        cli.main(["grade", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--no-jail" in text and "network" in text and "act as you" in text


# --- Gradescope ------------------------------------------------------------------------------------

def _bundle(tmp_path: Path, *options: str) -> Path:
    bundle = tmp_path / "bundle"
    result = subprocess.run([sys.executable, "-m", "bnlab.cli", "gradescope", "--out", str(bundle), "--exercises",
                             "ex01", *options], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    root = tmp_path / "autograder"
    shutil.copytree(bundle, root / "source")
    (root / "submission").mkdir()
    return root


def test_setup_sh_refuses_an_old_python(tmp_path):  # how it installs bubblewrap: tests/test_grading_bundles.py
    root = _bundle(tmp_path)
    setup = (root / "source" / "setup.sh").read_text()
    assert "sys.version_info < (3, 10)" in setup


def test_run_autograder_writes_results_even_with_a_python_too_old(tmp_path):
    root = _bundle(tmp_path)
    old = tmp_path / "python3.9"
    old.write_text("#!/bin/sh\nexit 1\n")  # fails the version check, like Python 3.9 would
    old.chmod(0o755)
    env = {**os.environ, "BNLAB_AUTOGRADER_ROOT": str(root), "BNLAB_PYTHON": str(old)}
    run = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                         timeout=120)
    results = json.loads((root / "results" / "results.json").read_text())
    assert run.returncode == 0 and results["score"] == 0 and "older than 3.10" in results["output"]


def test_run_autograder_says_which_isolation_it_used(tmp_path):
    root = _bundle(tmp_path)
    env = {**os.environ, "BNLAB_AUTOGRADER_ROOT": str(root), "BNLAB_PYTHON": sys.executable}
    run = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    ok, _ = jail.probe()
    assert results["extra_data"]["isolation"] == ("bubblewrap" if ok else "none")  # no jail: refused, 0 points
    assert ("Isolation: learner code ran in a bubblewrap jail" in results["output"]) is ok
    assert ("the bubblewrap jail that grades learner code cannot run" in results["output"]) is (not ok)
    if sys.platform.startswith("linux") and os.environ.get("CI") == "true":
        assert ok, "CI installs bubblewrap: the bundle must grade in the jail there"


def test_a_jail_that_fails_is_the_graders_failure_never_a_cached_grade(monkeypatch, tmp_path):
    if not sys.platform.startswith("linux"):
        pytest.skip("Linux only")
    from bnlab.grading.core.course import load_course_file
    from bnlab.grading.grade.gradebook import grade_submissions

    course = load_course_file(fx.__file__)
    fx.notebook(tmp_path / "subs" / "alice" / "ex01_double.ipynb", [fx.DOUBLE_CELL])
    fx.notebook(tmp_path / "subs" / "alice" / "ex02_pair.ipynb", fx.PAIR_CELLS)
    limits = Limits(timeout=10, jail=True)
    with monkeypatch.context() as m:
        m.setattr(jail, "bwrap_path", lambda: None)  # the jail cannot start: not the learner's doing
        broken = grade_submissions(tmp_path / "subs", tmp_path / "out", course, limits=limits,
                                   progress=open(os.devnull, "w"))
    assert broken.failed == ["alice"]
    assert not (tmp_path / "out" / "students" / "alice" / "grade.json").exists()
    if not shutil.which("bwrap"):
        return
    again = grade_submissions(tmp_path / "subs", tmp_path / "out", course, limits=limits,
                              progress=open(os.devnull, "w"))
    assert again.failed == [] and again.graded == 1  # regraded, not skipped
    assert "alice,4,2,6,6" in (tmp_path / "out" / "grades.csv").read_text()


def test_a_no_jail_bundle_grades_without_bubblewrap_says_so_and_hides_the_hidden_checks(tmp_path):
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("the fallback keeps learner code out of the bundle as a throwaway uid: Linux, as root")
    import tempfile

    top = Path(tempfile.mkdtemp(prefix="bnlab-autograder-", dir="/tmp"))  # reachable by others, like /autograder
    try:
        os.chmod(top, 0o755)
        root = _bundle(top, "--no-jail")
        for path in [root, *root.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)  # as an upload unpacks: readable by anyone
        hidden = root / "source" / "instructor" / "ex01" / "hidden.py"
        steal = ("# GRADED FUNCTION: batchnorm_forward\n"
                 "def batchnorm_forward(Z, gamma, beta, eps=1e-5):\n"
                 f"    raise RuntimeError('LEAKED ' + open({str(hidden)!r}).read()[:300])\n")
        nb = json.loads((Path(fx.__file__).parents[1] / "exercises" / "ex01_batchnorm_forward.ipynb").read_text())
        for cell in nb["cells"]:
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            if source.startswith("# GRADED FUNCTION: batchnorm_forward"):
                cell["source"] = steal
        (root / "submission" / "ex01_batchnorm_forward.ipynb").write_text(json.dumps(nb))
        tools = top / "bin"  # every command run_autograder needs, but no bwrap
        tools.mkdir()
        for name in ("bash", "chmod", "mkdir", "rm", "cat", "env"):
            os.symlink(shutil.which(name), tools / name)
        env = {**os.environ, "PATH": str(tools), "BNLAB_AUTOGRADER_ROOT": str(root), "BNLAB_PYTHON": sys.executable}
        run = subprocess.run([shutil.which("bash"), str(root / "source" / "run_autograder")], env=env,
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        results = json.loads((root / "results" / "results.json").read_text())
        assert results["extra_data"]["isolation"] == "process" and "WITHOUT the bubblewrap jail" in results["output"]
        assert "built with --no-jail" in results["output"]
        text = json.dumps(results)
        secret = hidden.read_text()
        assert results["score"] == 0 and secret[:60] not in text and secret[100:160] not in text
        assert "PermissionError" in text  # it tried, and the throwaway uid could not read the bundle
    finally:
        shutil.rmtree(top, ignore_errors=True)
