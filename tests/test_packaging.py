"""Packaging facts a new user depends on: the wheel carries the data, run-time dependencies stay
numpy + matplotlib, and the Makefile's headless lab mode asks JupyterLab not to open a browser."""
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_runtime_dependencies_are_numpy_and_matplotlib_only():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = sorted(dep.split(">")[0].split("=")[0].split("<")[0].strip() for dep in project["dependencies"])
    assert names == ["matplotlib", "numpy"]


def test_wheel_ships_the_digits_and_their_license(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("bnlab-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "bnlab/datafiles/digits.npz" in names
    assert "bnlab/datafiles/DIGITS_LICENSE.md" in names
    assert not any(name.startswith("exercises/") for name in names), "instructor material must not ship in the wheel"


def test_make_lab_headless_flag_reaches_jupyter():
    dry_run = subprocess.run(["make", "-n", "-W", "pyproject.toml", "lab", "NO_BROWSER=1"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    assert "jupyter lab notebooks/" in dry_run and "--no-browser" in dry_run
    plain = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "--no-browser" not in plain
