"""The ``bnlab`` command line: --version, the help, a short ``demo`` (``bench`` is in test_bench.py); bad
arguments and failures as one line without a traceback, also through ``python -m bnlab``."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

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
    assert all(name in out for name in ("lab", "test", "bench", "demo", "check"))


def subcommand_parsers():
    from bnlab.cli import build_parser
    actions = build_parser()._actions
    (sub,) = [a for a in actions if isinstance(a, argparse._SubParsersAction)]
    return sub


def test_every_subcommand_has_help():
    sub = subcommand_parsers()
    helps = {action.dest: action.help for action in sub._choices_actions}
    assert set(helps) == set(sub.choices) and all(helps.values()), helps


@pytest.mark.parametrize("command", ["lab", "test", "bench", "demo"])
def test_every_argument_has_help(command):
    parser = subcommand_parsers().choices[command]
    assert parser.description
    assert not [a.dest for a in parser._actions if not a.help], f"bnlab {command}: arguments without help"


ROOT = Path(__file__).resolve().parents[1]


def run_bnlab(*args, cwd=ROOT):
    """``python -m bnlab ARGS`` in a child process, as a learner runs it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("BNLAB_TRACEBACK", None)
    return subprocess.run([sys.executable, "-m", "bnlab", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=120)


def test_python_dash_m_bnlab_is_the_command():
    result = run_bnlab("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"bnlab {bnlab.__version__}"


@pytest.mark.parametrize("args, message", [
    (["demo", "--steps", "0"], "argument --steps: must be a positive integer; got '0'"),
    (["demo", "--eval-every", "-5"], "argument --eval-every: must be a positive integer; got '-5'"),
    (["demo", "--steps", "many"], "argument --steps: must be a positive integer; got 'many'"),
    (["demo", "--out", "{missing}"], "argument --out: cannot write"),
    (["bench", "--repeats", "0"], "argument --repeats: must be a positive integer; got '0'"),
    (["bench", "--threads", "0"], "argument --threads: must be a positive integer; got '0'"),
    (["bench", "--no-such-option"], "unrecognized arguments: --no-such-option"),
    (["lab", "--port", "1"], "unrecognized arguments: --port"),
    (["nosuchcommand"], "invalid choice: 'nosuchcommand'"),
])
def test_bad_arguments_are_one_line_exit_2_and_no_traceback(args, message, tmp_path):
    args = [a.replace("{missing}", str(tmp_path / "missing" / "x.png")) for a in args]
    result = run_bnlab(*args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("bnlab") and message in result.stderr and result.stdout == ""


def test_an_unexpected_error_is_one_line_and_exit_1(monkeypatch, capsys):
    def broken(args):
        raise ZeroDivisionError("division by zero\n(second line)")
    monkeypatch.setattr(demo, "run", broken)
    monkeypatch.delenv("BNLAB_TRACEBACK", raising=False)
    assert main(["demo", "--steps", "1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("bnlab demo: unexpected error: ZeroDivisionError: division by zero (second line)")
    monkeypatch.setenv("BNLAB_TRACEBACK", "1")
    with pytest.raises(ZeroDivisionError):
        main(["demo", "--steps", "1"])


def test_a_file_system_error_is_one_line_and_exit_1(monkeypatch, capsys):
    def no_space(args):
        raise OSError(28, "No space left on device", "bnlab_demo.png")
    monkeypatch.setattr(demo, "run", no_space)
    assert main(["demo", "--steps", "1"]) == 1
    assert capsys.readouterr().err == "bnlab demo: [Errno 28] No space left on device: 'bnlab_demo.png'\n"


def test_ctrl_c_is_exit_130_without_a_traceback(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt
    monkeypatch.setattr(demo, "run", interrupted)
    assert main(["demo", "--steps", "1"]) == 130
    assert capsys.readouterr().err.strip() == "bnlab demo: interrupted"


def test_bench_threads_without_threadpoolctl_names_the_bench_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import fails
    assert main(["bench", "--quick", "--no-torch", "--threads", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'bench' extra" in err and 'python -m pip install -e ".[bench]"' in err


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


def test_demo_refuses_a_missing_output_folder_before_training(tmp_path, capsys, monkeypatch):
    trained = []
    monkeypatch.setattr(demo, "run_experiment", lambda *a, **k: trained.append(1))
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--steps", "10", "--out", str(tmp_path / "missing" / "x.png")])
    assert exit_info.value.code == 2 and trained == []
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "argument --out: cannot write" in err and "does not exist" in err


def test_demo_checkpoints_are_round_evaluated_steps_and_the_last():
    assert demo.checkpoints(range(0, 201, 20), 200) == [20, 100, 200]
    assert demo.checkpoints([0, 50, 100, 150, 200, 250], 250) == [50, 100, 200, 250]
    assert demo.checkpoints([0, 7], 7) == [7]


def test_output_to_a_windows_code_page_pipe_never_fails(monkeypatch):
    # On Windows, output piped to a file or CI log is encoded with the code page (cp1252): no γ there.
    import io
    raw = io.BytesIO()
    pipe = io.TextIOWrapper(raw, encoding="cp1252")
    monkeypatch.setattr(sys, "stdout", pipe)
    monkeypatch.setattr(demo, "run", lambda args: print("γ[1] and β[1] are learned") or 0)
    assert main(["demo", "--steps", "1"]) == 0
    pipe.flush()
    assert raw.getvalue() == b"\\u03b3[1] and \\u03b2[1] are learned\n"
