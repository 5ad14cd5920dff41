"""The ``bnlab`` command line: --version, the help, and a short ``demo`` (``bench`` is in test_bench.py)."""
from __future__ import annotations

import re

import numpy as np
import pytest

import bnlab
from bnlab import demo
from bnlab.cli import main


def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"bnlab {bnlab.__version__}"


def test_no_command_prints_the_help_and_fails(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    assert "bench" in out and "demo" in out


# --- demo -----------------------------------------------------------------------------------------------

def test_demo_short_run_prints_the_table_and_saves_a_png(tmp_path, capsys):
    out_png = tmp_path / "curves.png"
    assert main(["demo", "--steps", "200", "--out", str(out_png), "--progress"]) == 0
    captured = capsys.readouterr()
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = captured.out.splitlines()
    start = lines.index(next(line for line in lines if line.split() == ["step", "without", "BN", "with", "BN"]))
    rows = {int(line.split()[0].replace(",", "")): [float(x) for x in line.split()[1:]]
            for line in lines[start + 1:] if line.strip() and line.split()[0].replace(",", "").isdigit()}
    assert list(rows) == [20, 100, 200]
    assert all(0 <= acc <= 1 for accs in rows.values() for acc in accs)
    assert rows[200][1] > 0.5  # with Batch Norm the digits are learned within 200 steps
    assert "Steps to reach a test accuracy" in captured.out and "90%" in captured.out
    # The progress line is rewritten in place on stderr and ends at the last step.
    assert "\r" in captured.err and "step 200/200 (100%)" in captured.err


def test_demo_rejects_a_non_positive_step_count(tmp_path, capsys):
    assert main(["demo", "--steps", "0", "--out", str(tmp_path / "x.png")]) == 2
    assert "--steps must be >= 1; got 0" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_demo_checkpoints_are_round_evaluated_steps_and_the_last():
    assert demo.checkpoints(range(0, 201, 20), 200) == [20, 100, 200]
    assert demo.checkpoints([0, 50, 100, 150, 200, 250], 250) == [50, 100, 200, 250]
    assert demo.checkpoints([0, 7], 7) == [7]
