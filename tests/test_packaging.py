"""Packaging facts a user depends on: what the wheel and the sdist carry, the declared dependencies and
their lowest versions (the ones CI tests), the license, and code that runs on every promised Python.

The metadata tests read the installed package's metadata (what pip made of pyproject.toml), so they need
no TOML parser: ``tomllib`` is 3.11+ and this suite must run on the lowest supported Python.
"""
from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOWEST_VERSIONS = ROOT / ".github" / "lowest-versions.txt"
# Standard-library modules that not every Python from 3.10 to 3.13 has: added after 3.10, or removed by 3.13.
NOT_IN_EVERY_STDLIB = {
    "tomllib": "new in 3.11",
    **{name: "removed in 3.12" for name in ("distutils", "imp", "asynchat", "asyncore", "smtpd")},
    **{name: "removed in 3.13" for name in ("aifc", "audioop", "cgi", "cgitb", "chunk", "crypt", "imghdr", "lib2to3",
                                             "mailcap", "msilib", "nis", "nntplib", "ossaudiodev", "pipes", "sndhdr",
                                             "spwd", "sunau", "telnetlib", "uu", "xdrlib")},
}


def requirements(extra: str | None = None) -> dict[str, str]:
    """The installed bnlab's requirements (name -> version specifier), of the core or of one extra."""
    found = {}
    for line in metadata.requires("bnlab") or []:
        spec, _, marker = line.partition(";")
        in_extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", marker)
        if (in_extra.group(1) if in_extra else None) == extra:
            name, version = re.match(r"\s*([A-Za-z0-9_.-]+)\s*(.*)", spec).groups()
            found[name.lower()] = version.strip().strip("()")
    return found


def lowest_python() -> tuple[int, int]:
    major, minor = re.fullmatch(r">=\s*(\d+)\.(\d+)", metadata.metadata("bnlab")["Requires-Python"]).groups()
    return int(major), int(minor)


def python_sources() -> list[Path]:
    return sorted(p for folder in ("bnlab", "tests") for p in (ROOT / folder).rglob("*.py")
                  if "__pycache__" not in p.parts)


def test_runtime_dependencies_are_numpy_and_matplotlib_only():
    assert sorted(requirements()) == ["matplotlib", "numpy"]


def test_the_lowest_versions_ci_installs_are_the_lowest_pyproject_allows():
    lower_bounds = {name: re.fullmatch(r">=\s*([\d.]+)", spec).group(1) for name, spec in requirements().items()}
    pins = dict(re.fullmatch(r"([A-Za-z0-9_.-]+)==([\d.]+)\.\*", line).groups()
                for line in LOWEST_VERSIONS.read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#"))
    assert pins == lower_bounds


def test_bench_extra_declares_threadpoolctl():
    assert "threadpoolctl" in requirements("bench")


def test_license_is_an_spdx_expression_with_its_files():
    meta = metadata.metadata("bnlab")
    assert meta["License-Expression"] == "MIT AND CC-BY-4.0"
    assert not [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    assert set(meta.get_all("License-File") or []) == {"LICENSE", "bnlab/datafiles/DIGITS_LICENSE.md"}


def unportable_imports(source: str, feature_version: tuple[int, int]) -> list[str]:
    """``line: module (why)`` for each import of a module not in every supported Python's standard library,
    unless guarded (inside ``try: ... except ImportError``). Raises SyntaxError for syntax newer than
    ``feature_version`` (as far as ``ast`` checks it)."""
    tree = ast.parse(source, feature_version=feature_version)
    guarded = {id(node) for block in ast.walk(tree) if isinstance(block, ast.Try)
               if any(re.search(r"'(ImportError|ModuleNotFoundError)'", ast.dump(h.type))
                      for h in block.handlers if h.type)
               for stmt in block.body for node in ast.walk(stmt)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for top in {name.split(".")[0] for name in names} & set(NOT_IN_EVERY_STDLIB):
            if id(node) not in guarded:
                found.append(f"{node.lineno}: {top} ({NOT_IN_EVERY_STDLIB[top]})")
    return found


def test_the_import_check_finds_tomllib_unless_guarded():
    # What broke the suite on Python 3.10: an unguarded `import tomllib`.
    assert unportable_imports("import sys, tomllib\n", (3, 10)) == ["1: tomllib (new in 3.11)"]
    assert unportable_imports("from tomllib import loads\n", (3, 10)) == ["1: tomllib (new in 3.11)"]
    for error in ("ImportError", "ModuleNotFoundError", "(ImportError, OSError)"):
        guarded = f"try:\n    import tomllib\nexcept {error}:\n    tomllib = None\n"
        assert unportable_imports(guarded, (3, 10)) == [], error
    unguarded = "try:\n    import tomllib\nexcept KeyError:\n    pass\n"
    assert unportable_imports(unguarded, (3, 10)) == ["2: tomllib (new in 3.11)"]
    with pytest.raises(SyntaxError):  # 3.12's generic functions are not 3.10 syntax
        unportable_imports("def first[T](xs: list[T]) -> T:\n    return xs[0]\n", (3, 10))


def test_sources_parse_as_the_lowest_python_and_import_only_its_stdlib():
    # CI runs the whole suite on the lowest Python too; this finds the usual slips on any Python.
    lowest = lowest_python()
    assert lowest == (3, 10)
    problems = [f"{path.relative_to(ROOT)}:{problem}" for path in python_sources()
                for problem in unportable_imports(path.read_text(encoding="utf-8"), lowest)]
    assert not problems, problems


def test_wheel_ships_the_package_its_data_and_licenses(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True)
    (wheel,) = tmp_path.glob("bnlab-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "bnlab/datafiles/digits.npz" in names
    assert "bnlab/datafiles/DIGITS_LICENSE.md" in names
    assert "bnlab/__main__.py" in names  # `python -m bnlab`
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert not any(name.startswith(("exercises/", "tests/", "notebooks/")) for name in names), \
        "instructor material and the course's tests must not ship in the wheel"


def test_the_version_is_written_once_and_the_wheel_carries_it(tmp_path):
    import bnlab

    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^version\s*=\s*"', pyproject, re.MULTILINE) is None, "pyproject.toml must not write a version"
    assert (ROOT / "CHANGELOG.md").read_text(encoding="utf-8").count(f"## {bnlab.__version__}") == 1
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True)
    (wheel,) = tmp_path.glob("bnlab-*.whl")
    assert wheel.name.startswith(f"bnlab-{bnlab.__version__}-")


def test_sdist_ships_the_package_and_no_tests(tmp_path):
    # The sdist is the package only: tests need the notebooks and the instructor's material, which stay out.
    try:  # not importorskip: a build/ folder in the checkout would import as a namespace package
        metadata.version("build")
    except metadata.PackageNotFoundError:
        pytest.skip("the sdist check needs `build` (CI's package job installs it)")
    subprocess.run([sys.executable, "-m", "build", "--sdist", "--outdir", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True)
    (sdist,) = tmp_path.glob("bnlab-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    package = {p.relative_to(ROOT).as_posix() for p in (ROOT / "bnlab").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert package <= names, sorted(package - names)
    assert {"pyproject.toml", "README.md", "LICENSE"} <= names
    assert not [n for n in names if n.startswith(("tests/", "exercises/", "notebooks/")) or n.endswith(".pyc")]


needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make_dry_run(*args):
    # -W pyproject.toml: print the whole recipe even when the virtual environment is up to date. Without the
    # variables of a `make test` this suite may be running under (CI's CONSTRAINTS=... would reach this make).
    outer = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "PYTHON", "VENV", "CONSTRAINTS", "NO_BROWSER")
    env = {k: v for k, v in os.environ.items() if k not in outer}
    return subprocess.run(["make", "-n", "-W", "pyproject.toml", *args], cwd=ROOT, capture_output=True,
                          text=True, check=True, env=env).stdout.replace(" \n", "\n")


@needs_make
def test_make_lab_and_make_test_run_the_python_entry_points():
    lab = make_dry_run("lab").splitlines()
    assert lab[-1].endswith("python -m bnlab lab")
    assert make_dry_run("lab", "NO_BROWSER=1").splitlines()[-1].endswith("python -m bnlab lab --no-browser")
    assert make_dry_run("test").splitlines()[-1].endswith("python -m bnlab test")


@needs_make
def test_make_installs_show_progress_and_take_the_lowest_versions_when_asked():
    install = next(line for line in make_dry_run("test").splitlines() if " install " in line)
    assert " -q" not in install and "-c " not in install
    lowest = make_dry_run("test", "CONSTRAINTS=.github/lowest-versions.txt")
    assert "install -c .github/lowest-versions.txt -e" in lowest
    assert LOWEST_VERSIONS.is_file()


def test_the_readme_commands_exist_on_every_platform():
    from bnlab.cli import build_parser

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for activation in (r".venv\Scripts\Activate.ps1", r".venv\Scripts\activate", "source .venv/bin/activate",
                       "make lab", "make test", "python -m bnlab lab", "python -m bnlab test"):
        assert activation in readme, activation
    extras = set(metadata.metadata("bnlab").get_all("Provides-Extra"))
    named = {extra for group in re.findall(r'"\.\[([\w,]+)\]"', readme) for extra in group.split(",")}
    assert named and named <= extras, named - extras
    (sub,) = [a for a in build_parser()._actions if hasattr(a, "choices") and isinstance(a.choices, dict)]
    used = set(re.findall(r"^(?:python -m )?bnlab ([a-z][\w-]*)", readme, flags=re.M))
    assert {"lab", "test", "check", "bench", "demo"} <= used and used <= set(sub.choices), used - set(sub.choices)


@needs_make
def test_make_on_windows_uses_the_venvs_scripts_folder():
    # make on Windows (e.g. from Git for Windows) sets OS=Windows_NT; the venv's Python is Scripts/python.exe.
    lines = make_dry_run("test", "OS=Windows_NT").splitlines()
    assert lines[0] == "python -m venv .venv"
    assert lines[-1] == ".venv/Scripts/python.exe -m bnlab test"
    assert make_dry_run("test").splitlines()[-1] == ".venv/bin/python -m bnlab test"
