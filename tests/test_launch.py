"""``bnlab lab`` and ``bnlab test`` (bnlab.launch): the command, folder and environment they give their
child process. subprocess.Popen is replaced by a recorder, so no JupyterLab or pytest is started."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from bnlab import launch
from bnlab.cli import main

ROOT = Path(__file__).resolve().parents[1]


class FakePopen:
    """Records what it was asked to run; ``wait`` returns ``returncode`` (after ``interrupts`` Ctrl+C's)."""
    calls: list[FakePopen] = []
    returncode = 0
    interrupts = 0

    def __init__(self, command, cwd=None, env=None):
        self.command, self.cwd, self.env = list(command), Path(cwd), dict(env)
        FakePopen.calls.append(self)

    def wait(self):
        if FakePopen.interrupts:
            FakePopen.interrupts -= 1
            raise KeyboardInterrupt
        return FakePopen.returncode


@pytest.fixture
def child(monkeypatch):
    """The one child process a command started (after it ran)."""
    FakePopen.calls, FakePopen.returncode, FakePopen.interrupts = [], 0, 0
    monkeypatch.setattr(launch.subprocess, "Popen", FakePopen)
    monkeypatch.setattr(launch, "missing_modules", lambda command: [])
    for name in launch.BLAS_THREADS:
        monkeypatch.delenv(name, raising=False)

    def only_call():
        (call,) = FakePopen.calls
        return call
    return only_call


def make_course(folder: Path, tests: bool = True) -> Path:
    for name in ("notebooks", "exercises") + (("tests",) if tests else ()):
        (folder / name).mkdir(parents=True)
    return folder


# --- finding the course folder ------------------------------------------------------------------------------

def test_course_root_is_the_folder_or_its_nearest_parent_with_notebooks_and_exercises(tmp_path):
    course = make_course(tmp_path / "course")
    assert launch.course_root(course) == course.resolve()
    assert launch.course_root(course / "notebooks") == course.resolve()
    (course / "notebooks" / "deeper").mkdir()
    assert launch.course_root(course / "notebooks" / "deeper") == course.resolve()


def test_course_root_falls_back_to_the_checkout_the_package_is_installed_from(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    checkout = make_course(tmp_path / "checkout")
    monkeypatch.setattr(launch, "__file__", str(checkout / "bnlab" / "launch.py"))
    assert launch.course_root(elsewhere) == checkout.resolve()


def test_no_course_folder_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(launch, "__file__", str(tmp_path / "site-packages" / "bnlab" / "launch.py"))
    with pytest.raises(launch.CourseNotFound, match="folder that holds notebooks/ and exercises/"):
        launch.course_root(tmp_path)


# --- the child's environment ----------------------------------------------------------------------------

def test_child_env_sets_one_blas_thread_and_keeps_the_rest():
    env = launch.child_env({"PATH": "/bin", "OMP_NUM_THREADS": "4"})
    assert env == {"PATH": "/bin", "OMP_NUM_THREADS": "4", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


# --- bnlab lab ------------------------------------------------------------------------------------------

def test_lab_starts_jupyterlab_of_this_python_at_the_course_root(child, monkeypatch):
    monkeypatch.chdir(ROOT / "notebooks")  # from a subfolder too
    assert main(["lab"]) == 0
    call = child()
    assert call.command[:3] == [sys.executable, "-m", "jupyterlab"]
    assert f"--ServerApp.root_dir={ROOT}" in call.command
    assert call.cwd == ROOT and "--no-browser" not in call.command
    assert all(call.env[name] == "1" for name in launch.BLAS_THREADS)


def test_lab_no_browser_reaches_jupyterlab(child, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["lab", "--no-browser"]) == 0
    assert "--no-browser" in child().command


def test_lab_allows_root_only_for_the_posix_root_user(monkeypatch):
    monkeypatch.setattr(launch.os, "geteuid", lambda: 0, raising=False)
    monkeypatch.setattr(launch.os, "name", "posix")
    assert "--allow-root" in launch.jupyterlab_command(ROOT)
    monkeypatch.setattr(launch.os, "geteuid", lambda: 1000)
    assert "--allow-root" not in launch.jupyterlab_command(ROOT)


def test_lab_on_windows_has_no_root_check(monkeypatch):
    # Windows' os module has no geteuid; the command must not need it.
    monkeypatch.setattr(launch.os, "name", "nt")
    monkeypatch.delattr(launch.os, "geteuid", raising=False)
    command = launch.jupyterlab_command(ROOT, no_browser=True)
    assert command[:3] == [sys.executable, "-m", "jupyterlab"] and "--allow-root" not in command


def test_lab_without_jupyterlab_names_the_extra_and_starts_nothing(child, monkeypatch, capsys):
    monkeypatch.setattr(launch, "missing_modules", lambda command: ["jupyterlab"])
    assert main(["lab"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "jupyterlab not installed" in err and 'python -m pip install -e ".[lab]"' in err
    assert FakePopen.calls == []


def test_missing_modules_are_the_ones_python_cannot_find(monkeypatch):
    monkeypatch.setattr(launch.importlib.util, "find_spec", lambda name: None if name == "nbval" else object())
    assert launch.missing_modules("test") == ["nbval"]
    assert launch.missing_modules("lab") == []


# --- bnlab test -----------------------------------------------------------------------------------------

def test_test_runs_pytest_on_tests_notebooks_exercises_with_strict_nbval(child, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["test"]) == 0
    call = child()
    assert call.command == [sys.executable, "-m", "pytest", "tests", "notebooks", "exercises",
                            "--nbval", "--nbval-current-env",
                            "--nbval-sanitize-with", str(ROOT / "notebooks" / "sanitize.cfg"),
                            "-p", "no:cacheprovider"]
    assert call.cwd == ROOT
    assert all(call.env[name] == "1" for name in launch.BLAS_THREADS)


def test_test_keeps_a_thread_count_the_user_set(child, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    main(["test"])
    assert child().env["OPENBLAS_NUM_THREADS"] == "2" and child().env["OMP_NUM_THREADS"] == "1"


def test_test_in_the_student_release_skips_the_absent_tests_folder(child, tmp_path, monkeypatch):
    course = make_course(tmp_path / "release", tests=False)
    monkeypatch.chdir(course)
    main(["test"])
    command = child().command
    assert command[3:5] == ["notebooks", "exercises"] and "tests" not in command


def test_test_paths_are_taken_from_the_current_folder(child, monkeypatch):
    monkeypatch.chdir(ROOT / "notebooks")
    assert main(["test", "01_z_bn_a.ipynb", "../exercises"]) == 0
    call = child()
    assert call.command[3:5] == [str(ROOT / "notebooks" / "01_z_bn_a.ipynb"), str(ROOT / "exercises")]
    assert call.cwd == ROOT  # pytest still runs at the root, where pyproject.toml configures it


def test_test_refuses_a_missing_path_before_starting_pytest(child, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    assert main(["test", "notebooks/99_nothing.ipynb"]) == 2
    assert capsys.readouterr().err == "bnlab test: no such file or folder: notebooks/99_nothing.ipynb\n"
    assert FakePopen.calls == []


def test_test_without_pytest_or_nbval_names_the_test_extra(child, monkeypatch, capsys):
    monkeypatch.setattr(launch, "missing_modules", lambda command: ["pytest", "nbval"])
    assert main(["test"]) == 2
    err = capsys.readouterr().err
    assert "pytest, nbval not installed" in err and 'python -m pip install -e ".[test]"' in err
    assert FakePopen.calls == []


def test_test_outside_a_course_says_where_to_run_it(child, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(launch, "__file__", str(tmp_path / "site-packages" / "bnlab" / "launch.py"))
    assert main(["test"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bnlab test: no course folder here") and err.count("\n") == 1


def test_the_childs_exit_code_is_the_commands(child, monkeypatch):
    monkeypatch.chdir(ROOT)
    FakePopen.returncode = 1
    assert main(["test"]) == 1


def test_ctrl_c_waits_for_the_child_to_finish_its_own_way(child, monkeypatch):
    monkeypatch.chdir(ROOT)
    FakePopen.returncode, FakePopen.interrupts = 2, 2
    assert main(["lab"]) == 2
    assert len(FakePopen.calls) == 1


def test_the_real_entry_point_reports_a_missing_extra_in_one_line(tmp_path):
    # End to end in a child Python whose import system hides nbval: no traceback, exit code 2.
    import subprocess
    hide = ("import importlib.util, runpy, sys; real = importlib.util.find_spec; "
            "importlib.util.find_spec = lambda name, *a: None if name == 'nbval' else real(name, *a); "
            "sys.argv = ['bnlab', 'test']; runpy.run_module('bnlab', run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", hide], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "nbval not installed" in result.stderr
