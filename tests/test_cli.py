"""The ``bnlab`` command line: --version, ``bench --quick`` and a short ``demo``, plus the helpers they use;
bad arguments and failures as one line without a traceback, also through ``python -m bnlab``."""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bnlab
from bnlab import bench, demo
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


# --- bench ----------------------------------------------------------------------------------------------

def test_bench_quick_prints_one_table_with_targets(capsys):
    assert main(["bench", "--quick", "--no-torch", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("measurement"))
    assert header.split() == ["measurement", "bnlab", "compared", "with", "ratio", "target", "result"]
    for shape in bench.BN_SHAPES_QUICK:
        for backward in ("compact", "step-by-step"):
            row = next(line for line in out.splitlines() if line.startswith(f"Z {shape}, {backward} backward"))
            assert float(re.search(r"([\d.]+) ms", row).group(1)) > 0
    for mb in (60, 512):
        row = next(line for line in out.splitlines() if line.startswith(f"steps/s, mini-batch {mb}"))
        assert int(re.search(r"(\d+)/s", row).group(1)) > 0
        floor = next(line for line in out.splitlines() if line.startswith(f"  numpy floor (see below), mini-batch {mb}"))
        assert re.search(rf"\d+/s +bnlab \d+/s +[\d.]+", floor)
        kernels = next(line for line in out.splitlines() if line.startswith(f"  bnlab's kernels only (see below), mini-batch {mb}"))
        assert re.search(rf"\d+/s +bnlab \d+/s +[\d.]+", kernels)
    # Without torch the torch targets are not judged; the loop and memory targets are.
    assert "n/a without torch" in out and "torch: skipped (--no-torch)" in out
    memory = next(line for line in out.splitlines() if line.startswith("peak memory"))
    assert memory.rstrip().endswith("PASS")
    assert "BLAS" in out and re.search(r"targets: \d+ of \d+ PASS", out)


def test_the_numpy_floor_is_a_lower_bound_of_a_real_step():
    # The floor does a subset of a real step's work, so it must be faster; and it must stay finite
    # (an overflow would make it time inf arithmetic instead of the real thing).
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        floor = bench.numpy_floor(60, 20)
        times = bench.medians(bench.timed_samples({"floor": floor, "bnlab": bench.bnlab_training(60, 20)},
                                                  repeats=3, warmup=1, min_seconds=0))
    assert times["floor"] < times["bnlab"]


def test_bnlab_kernels_compute_the_step_bnlab_train_computes():
    # The kernels-only line must do a real step's arithmetic, not less: from the same parameters and the
    # same first mini-batch (train's first shuffle), one step gives what Network + Adam.step give.
    net = bnlab.Network(bench.PAPER_NET, activation="sigmoid", batchnorm=True, output="softmax", seed=3)
    X, Y = bench._digits_like(10 * 60, 0)
    first = bnlab.data.mini_batch_indices(600, 60, 0)[0]
    _, grads = net.loss_and_grads(X[:, first], Y[:, first])
    expected = bnlab.Adam(learning_rate=0.001).step(net.parameters, grads)
    run = bench.bnlab_kernels(60, 1, parameters=net.parameters)
    run()
    found = run.parameters()
    assert sorted(found) == sorted(expected)
    for name in expected:
        # round-off only: Adam's first step is ±α·(1 − tiny), each entry moves by ~1e-3
        np.testing.assert_allclose(found[name], expected[name], rtol=0, atol=1e-12, err_msg=name)
    assert not np.array_equal(found["W1"], net.parameters["W1"])  # it did move


def test_timed_samples_take_turns_after_a_warmup():
    calls = []
    functions = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    samples = bench.timed_samples(functions, repeats=3, warmup=2, min_seconds=0)
    assert {name: len(values) for name, values in samples.items()} == {"a": 3, "b": 3}
    times = bench.medians(samples)
    assert set(times) == {"a", "b"} and all(t >= 0 for t in times.values())
    # warm-up (2 each), one calibration call each, then a, b, a, b, a, b.
    assert calls[:2] == ["a", "a"] and calls[2:4] == ["b", "b"]
    assert calls[-6:] == ["a", "b"] * 3


def test_peak_memory_counts_outputs_and_cache_but_not_the_inputs():
    peak, size = bench.peak_memory((64, 1024))
    assert size == 64 * 1024 * 8
    # Z̃ and dZ are two arrays the size of Z; Z (kept by the cache) and dZ̃ existed before tracing, and
    # Z_norm is rebuilt inside dZ's memory, not in an array of its own.
    assert 2 * size <= peak < 2.5 * size  # a third array the size of Z would make it 3


def test_python_call_count_of_batchnorm_does_not_depend_on_n_or_m():
    counts = {shape: bench.python_calls(bench.bnlab_batchnorm(shape)) for shape in bench.LOOP_SHAPES}
    assert len(set(counts.values())) == 1, counts
    # and the counter does see a Python loop:
    assert bench.python_calls(lambda: [abs(i) for i in range(50)]) > bench.python_calls(lambda: [abs(i) for i in range(5)])


def test_torch_batchnorm_computes_what_bnlab_computes():
    torch = pytest.importorskip("torch")
    shape = (5, 12)
    y, (dx, dweight, dbias) = bench.torch_batchnorm(torch, shape)()
    Z, dZ_tilde, gamma, beta = bench._bn_inputs(shape)
    Z_tilde, cache = bnlab.batchnorm_forward(Z, gamma, beta)
    dZ, dgamma, dbeta = bnlab.batchnorm_backward(dZ_tilde, cache)
    np.testing.assert_allclose(y.detach().numpy().T, Z_tilde, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx.numpy().T, dZ, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dweight.numpy(), dgamma[:, 0], rtol=1e-10)
    np.testing.assert_allclose(dbias.numpy(), dbeta[:, 0], rtol=1e-10)


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


def test_paired_ratio_compares_runs_of_the_same_round():
    # a takes twice b's time; the machine gets 3x slower between a's and b's runs of round 3. The ratio of
    # the two medians would say 2/3; the median of the per-round ratios still says 2.
    samples = {"a": [2.0, 2.0, 2.0, 6.0, 6.0], "b": [1.0, 1.0, 3.0, 3.0, 3.0]}
    assert np.median(samples["a"]) / np.median(samples["b"]) == pytest.approx(2 / 3)
    assert bench.paired_ratio(samples, "a", "b") == (2.0, pytest.approx(2 / 3), 2.0)
    samples = {"a": [1.0, 3.0, 2.0], "b": [1.0, 1.0, 1.0]}
    assert bench.paired_ratio(samples, "a", "b") == (2.0, 1.0, 3.0)
    assert bench._ratio_cell((1.234, 1.1, 1.4)) == "1.23 (1.10-1.40)"


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
