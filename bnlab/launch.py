"""``bnlab lab`` and ``bnlab test``: open the course in JupyterLab, run the course's tests.

The same two commands on Windows, macOS and Linux, with no ``make`` and no activated shell needed:
``python -m bnlab lab`` and ``python -m bnlab test`` (``make lab`` and ``make test`` call them). Each
finds the course folder (the one holding ``notebooks/`` and ``exercises/``), then runs a child process
with this same Python, in that folder, with one BLAS thread: the course's matrices are tiny, so one
thread is fastest, and it gives the round-off the stored notebook outputs were made with.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from bnlab._cli_args import install_hint

# One BLAS thread in the child, unless the environment already says otherwise.
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
# What each command needs in this Python, and the extra of pyproject.toml that installs it.
NEEDS = {"lab": ("jupyterlab", "ipykernel"), "test": ("pytest", "nbval", "ipykernel")}
# `bnlab test` runs these folders of the course, the ones that exist (the student release has no tests/).
TEST_FOLDERS = ("tests", "notebooks", "exercises")
# The strict nbval options: outputs compared, in this environment's kernel, with the course's sanitizers.
NBVAL = ("--nbval", "--nbval-current-env", "--nbval-sanitize-with")


class CourseNotFound(Exception):
    """No course folder (with notebooks/ and exercises/) around the current folder."""


def is_course_root(folder: Path) -> bool:
    return (folder / "notebooks").is_dir() and (folder / "exercises").is_dir()


def course_root(start: Path | None = None) -> Path:
    """The course folder: ``start`` (default: the current folder) or its nearest parent holding
    ``notebooks/`` and ``exercises/``; else the folder above the package when it is installed from a
    checkout (``pip install -e .``)."""
    start = Path.cwd() if start is None else Path(start)
    for folder in (start, *start.resolve().parents):
        if is_course_root(folder):
            return folder.resolve()
    checkout = Path(__file__).resolve().parent.parent
    if is_course_root(checkout):
        return checkout
    raise CourseNotFound(f"no course folder here: run this in the folder that holds notebooks/ and exercises/ "
                         f"(the one you cloned or unpacked); looked in {start.resolve()} and its parents")


def child_env(environ=None) -> dict[str, str]:
    """A copy of the environment with one BLAS thread (variables already set are kept)."""
    env = dict(os.environ if environ is None else environ)
    for name in BLAS_THREADS:
        env.setdefault(name, "1")
    return env


def missing_modules(command: str) -> list[str]:
    """The modules ``command`` needs that this Python cannot import."""
    return [name for name in NEEDS[command] if importlib.util.find_spec(name) is None]


def running_as_root() -> bool:
    """True for the root user on a POSIX system (containers often run as root; Windows has no root)."""
    return os.name == "posix" and hasattr(os, "geteuid") and os.geteuid() == 0


def jupyterlab_command(root: Path, no_browser: bool = False) -> list[str]:
    """The JupyterLab command: this Python, the course folder as JupyterLab's root, so both
    notebooks/ and exercises/ are in its file browser."""
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}"]
    if no_browser:
        command.append("--no-browser")
    if running_as_root():  # JupyterLab refuses to run as root unless told
        command.append("--allow-root")
    return command


def pytest_command(root: Path, paths: list[Path] | None = None) -> list[str]:
    """The pytest command: ``paths`` (default: the course's tests/, notebooks/ and exercises/ that
    exist) with strict nbval, without pytest's cache folder."""
    if paths is None:
        paths = [Path(name) for name in TEST_FOLDERS if (root / name).exists()]
    sanitize = root / "notebooks" / "sanitize.cfg"
    return [sys.executable, "-m", "pytest", *map(str, paths), *NBVAL, str(sanitize),
            "-p", "no:cacheprovider"]


def run_child(command: list[str], cwd: Path) -> int:
    """Run ``command`` in ``cwd`` with :func:`child_env`; its exit code.

    Ctrl+C reaches the child too (it shares the terminal): wait for it to finish its own way (pytest
    reports what ran, JupyterLab asks to confirm) rather than killing it.
    """
    process = subprocess.Popen(command, cwd=cwd, env=child_env())
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            continue


def _prepare(command: str) -> Path | None:
    """The course folder, after checking what ``command`` needs; None (and one line on stderr) if it cannot run."""
    missing = missing_modules(command)
    if missing:
        print(f"bnlab {command}: {', '.join(missing)} not installed in this Python ({sys.executable}); "
              f"install the '{command}' extra in the course folder: {install_hint(command)}", file=sys.stderr)
        return None
    try:
        return course_root()
    except CourseNotFound as exc:
        print(f"bnlab {command}: {exc}", file=sys.stderr)
        return None


def run_lab(args) -> int:
    root = _prepare("lab")
    if root is None:
        return 2
    print(f"Starting JupyterLab in {root} (notebooks/ and exercises/); press Ctrl+C twice to stop it.", flush=True)
    return run_child(jupyterlab_command(root, no_browser=args.no_browser), cwd=root)


def run_test(args) -> int:
    root = _prepare("test")
    if root is None:
        return 2
    paths = None
    if args.paths:
        paths = [Path(p).resolve() for p in args.paths]  # as the user meant them: from their current folder
        missing = [p for p, resolved in zip(args.paths, paths) if not resolved.exists()]
        if missing:
            print(f"bnlab test: no such file or folder: {', '.join(missing)}", file=sys.stderr)
            return 2
    return run_child(pytest_command(root, paths), cwd=root)


def add_subcommand(subparsers) -> None:
    lab = subparsers.add_parser(
        "lab", help="open the course in JupyterLab (notebooks/ and exercises/)",
        description="Start JupyterLab with this Python in the course folder, so notebooks/ and exercises/ are both "
                    "in its file browser, with one BLAS thread as the tests use. Needs the 'lab' extra: "
                    + install_hint("lab"))
    lab.add_argument("--no-browser", action="store_true",
                     help="do not open a browser; JupyterLab prints the URL to open")
    lab.set_defaults(run=run_lab)

    test = subparsers.add_parser(
        "test", help="run the course's tests: unit tests, notebooks and exercises under strict nbval",
        description="Run pytest on the course's tests/ (when present), notebooks/ and exercises/ with strict nbval "
                    "(stored outputs compared), with one BLAS thread. Needs the 'test' extra: "
                    + install_hint("test") + ". Example: bnlab test notebooks/01_z_bn_a.ipynb")
    test.add_argument("paths", nargs="*", metavar="PATH",
                      help="files or folders to test instead of all (default: tests/, notebooks/, exercises/)")
    test.set_defaults(run=run_test)
