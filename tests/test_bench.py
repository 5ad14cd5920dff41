"""``bnlab bench``: the table it prints, and the timing, memory and call-counting helpers behind it."""
from __future__ import annotations

import re

import numpy as np
import pytest

import bnlab
from bnlab import bench
from bnlab.batchnorm import row_blocks
from bnlab.cli import main


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
        floor = next(line for line in out.splitlines()
                     if line.startswith(f"  numpy floor (see below), mini-batch {mb}"))
        assert re.search(r"\d+/s +bnlab \d+/s +[\d.]+", floor)
        alone = next(line for line in out.splitlines()
                     if line.startswith(f"  the steps alone (see below), mini-batch {mb}"))
        assert re.search(r"\d+/s +bnlab \d+/s +[\d.]+", alone)
    # Without torch the torch targets are not judged; the loop and memory targets are.
    assert "n/a without torch" in out and "torch: skipped (--no-torch)" in out
    memory = next(line for line in out.splitlines() if line.startswith("peak memory"))
    assert "<= 3 x Z + 256 KiB" in memory and memory.rstrip().endswith("PASS")
    assert re.search(r"BN fwd\+bwd against the bound .*<= 3 x bound +(PASS|FAIL)", out)
    for shape in bench.BN_SHAPES_QUICK[:2]:  # the one-block shapes have a floor, measured against the compact line
        assert re.search(rf"Z {re.escape(str(shape))}, numpy floor \(see below\) +[\d.]+ ms +compact [\d.]+ ms", out)
    assert "BLAS" in out and re.search(r"targets: \d+ of \d+ PASS", out)


def test_bench_with_torch_judges_batch_norm_against_the_targets(capsys):
    pytest.importorskip("torch")
    pytest.importorskip("threadpoolctl")
    assert main(["bench", "--quick", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^torch \S+ \(1 threads\)", out, re.MULTILINE)
    small = next(line for line in out.splitlines() if line.startswith("Z (256, 256), compact backward"))
    big = next(line for line in out.splitlines() if line.startswith(f"Z {bench.BN_SHAPES_QUICK[-1]}, compact backward"))
    assert re.search(r"torch [\d.]+ ms +[\d.]+ \([\d.]+-[\d.]+\) +<= 1\.0 x torch +(PASS|FAIL)$", small)
    assert re.search(r"<= 0\.7 x torch +(PASS|FAIL)$", big)


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


@pytest.mark.parametrize("shape", [(100, 60), (256, 256)])
def test_the_batchnorm_floor_does_the_public_functions_work(shape):
    # The floor is only a floor of the same work if it computes the same results, bit for bit.
    Z, dZ_tilde, gamma, beta = bench._bn_inputs(shape)
    Z_tilde, cache = bnlab.batchnorm_forward(Z, gamma, beta, 1e-5)
    public = (Z_tilde, *bnlab.batchnorm_backward(dZ_tilde, cache))
    for got, want, name in zip(bench.numpy_batchnorm_floor(shape)(), public, ("Z_tilde", "dZ", "dgamma", "dbeta")):
        np.testing.assert_array_equal(got, want, err_msg=name)


def test_the_steps_alone_are_the_steps_bnlab_train_takes():
    # The "steps alone" line must do train's steps (the same mini-batches, the same updates), only without
    # train's bookkeeping: after 12 steps (two epochs at mini-batch 60) the networks are identical.
    run = bench.bnlab_steps(60, 12)
    run()
    net = bnlab.Network(bench.PAPER_NET, activation="sigmoid", batchnorm=True, output="softmax", seed=0)
    X, Y = bench._digits_like(10 * 60, 0)
    bnlab.train(net, X, Y, bnlab.Adam(learning_rate=0.001), 12, mini_batch_size=60, seed=0)
    for name, p in net.parameters.items():
        np.testing.assert_array_equal(run.net.parameters[name], p, err_msg=name)
    assert not np.array_equal(net.parameters["W1"], bnlab.Network(bench.PAPER_NET, seed=0).parameters["W1"])


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


@pytest.mark.parametrize("shape", [(128, 1024), (128, 4096)], ids=["one block", "four blocks"])
def test_peak_memory_counts_outputs_and_cache_but_not_the_inputs(shape):
    assert len(row_blocks(*shape)) == {1024: 1, 4096: 4}[shape[1]]
    peak, size = bench.peak_memory(shape)
    assert size == shape[0] * shape[1] * 8
    # Z_norm (the cache), Z̃ and dZ are three arrays the size of Z; Z and dZ̃ existed before tracing, and
    # everything else is built inside those three, also when Z is worked through in blocks: the target's
    # 256 KiB on top is less than half of any one of these arrays, so one more would fail it.
    assert 3 * size <= peak <= bench.peak_target(size) < 3.5 * size, peak / size


def test_python_call_count_of_batchnorm_does_not_depend_on_n_or_m():
    counts = {shape: bench.python_calls(bench.bnlab_batchnorm(shape)) for shape in bench.LOOP_SHAPES}
    assert len(set(counts.values())) == 1, counts
    # and the counter does see a Python loop:
    many = bench.python_calls(lambda: [abs(i) for i in range(50)])
    assert many > bench.python_calls(lambda: [abs(i) for i in range(5)])


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


def test_paired_ratio_compares_runs_of_the_same_round():
    # a takes twice b's time; the machine gets 3x slower between a's and b's runs of round 3. The ratio of
    # the two medians would say 2/3; the median of the per-round ratios still says 2.
    samples = {"a": [2.0, 2.0, 2.0, 6.0, 6.0], "b": [1.0, 1.0, 3.0, 3.0, 3.0]}
    assert np.median(samples["a"]) / np.median(samples["b"]) == pytest.approx(2 / 3)
    assert bench.paired_ratio(samples, "a", "b") == (2.0, pytest.approx(2 / 3), 2.0)
    samples = {"a": [1.0, 3.0, 2.0], "b": [1.0, 1.0, 1.0]}
    assert bench.paired_ratio(samples, "a", "b") == (2.0, 1.0, 3.0)
    assert bench._ratio_cell((1.234, 1.1, 1.4)) == "1.23 (1.10-1.40)"
