"""``bnlab bench``: how fast bnlab's Batch Norm and training are, measured side by side in one run.

Prints one table (see issue 3, "Speed"):
- Batch Norm forward+backward for Z of (100, 60), (256, 256), (1024, 4096) float64 with the public functions
  (``bnlab.batchnorm_forward`` and ``batchnorm_backward``, which ``Network`` calls too), with the compact and
  the step-by-step backward, and, where PyTorch is importable, ``torch.nn.functional.batch_norm``; for the
  shapes of one cache block also a numpy floor (:func:`numpy_batchnorm_floor`: the same passes, no checks);
- the memory-traffic bound from a copy measured in the same run, and the peak memory (tracemalloc);
- training steps per second of the Batch Norm paper's MNIST net (784-100-100-100-10, sigmoid, Batch Norm
  on the hidden layers, Adam) at mini-batch 60 and 512, against an equivalent ``torch.nn.Sequential``, and
  the same steps without ``train``'s bookkeeping (``Network.loss_and_grads`` and ``Adam.step`` alone) and the
  "numpy floor": the step reduced to the work no numpy implementation can skip, for scale;
- the targets, each with PASS or FAIL: Batch Norm at most 1.0 x PyTorch's time at (256, 256) and 0.7 x at
  (1024, 4096), at most 3 x the memory-traffic bound, a peak memory of at most 3 x Z (the three results Z̃,
  Z_norm and dZ, + 256 KiB for the (n, 1) columns and numpy's buffers); training steps/s against PyTorch;
  no Python loop over examples or units.

Timings are wall-clock medians over repeats that take turns (bnlab, then torch, then bnlab, …) after a
warm-up, so a busy machine slows both sides alike; a ratio is the median of the ratios within each round,
printed with its range. Compare ratios, not absolute times across runs.
PyTorch is never a dependency: ``pip install torch==2.13.0`` (a CPU build) adds the comparison.
"""
from __future__ import annotations

import itertools
import math
import os
import platform
import sys
import time
import tracemalloc

import numpy as np

import bnlab
from bnlab import _kernels
from bnlab.batchnorm import row_blocks, row_buffers, row_dot, row_sum
from bnlab._cli_args import install_hint, positive_int

PAPER_NET = [784, 100, 100, 100, 10]
BN_SHAPES = [(100, 60), (256, 256), (1024, 4096)]
BN_SHAPES_QUICK = [(100, 60), (256, 256), (256, 1024)]
# Shapes that fit in one cache block each (<= bnlab.batchnorm.BLOCK_ELEMENTS entries): counting the Python
# calls on them shows whether any Python loop runs over the examples or the units.
LOOP_SHAPES = [(16, 4096), (256, 256), (4096, 16)]


def peak_target(size):
    """The most a Batch Norm forward+backward may allocate, in bytes, for Z of ``size`` bytes: its three results
    the size of Z (Z̃, the cache's Z_norm, dZ) and nothing else that size; 256 KiB for the (n, 1) columns, numpy's
    ufunc buffers and Python's own objects."""
    return 3 * size + 256 * 1024


# --- timing -------------------------------------------------------------------------------------------

def _calls_per_sample(fn, min_seconds):
    """How many calls of fn make one timed sample of at least min_seconds (small cases run in batches)."""
    start = time.perf_counter()
    fn()
    once = time.perf_counter() - start
    return max(1, math.ceil(min_seconds / max(once, 1e-7)))


def timed_samples(functions, repeats, warmup=2, min_seconds=0.01):
    """Seconds per call of each function in ``functions`` ({name: fn}), one sample per round: {name: [s, …]}.

    After ``warmup`` calls each, the functions take turns, ``repeats`` rounds, so a machine that gets
    busier or quieter during the run affects every function the same way.
    """
    for fn in functions.values():
        for _ in range(warmup):
            fn()
    batch = {name: _calls_per_sample(fn, min_seconds) for name, fn in functions.items()}
    samples = {name: [] for name in functions}
    for _ in range(repeats):
        for name, fn in functions.items():
            start = time.perf_counter()
            for _ in range(batch[name]):
                fn()
            samples[name].append((time.perf_counter() - start) / batch[name])
    return samples


def medians(samples):
    """{name: median seconds per call} of the samples of :func:`timed_samples`."""
    return {name: float(np.median(values)) for name, values in samples.items()}


def paired_ratio(samples, a, b):
    """Median, lowest and highest of a's time over b's taken in the same round.

    Runs next to each other in time share the machine's load, so the ratio within a round cancels the
    load changing during the run; the range shows how much it still moved.
    """
    ratios = np.asarray(samples[a]) / np.asarray(samples[b])
    return float(np.median(ratios)), float(ratios.min()), float(ratios.max())


def _ratio_cell(ratio):
    median, low, high = ratio
    return f"{median:.2f} ({low:.2f}-{high:.2f})"


# --- what runs ----------------------------------------------------------------------------------------

def _bn_inputs(shape, seed=0):
    """Seeded Z (n, m) with units of different means and spreads, dZ̃ (n, m), γ, β (n, 1)."""
    rng = np.random.default_rng(seed)
    n, m = shape
    Z = rng.standard_normal((n, m)) * rng.uniform(0.5, 3.0, (n, 1)) + rng.uniform(-2.0, 2.0, (n, 1))
    return Z, rng.standard_normal((n, m)), rng.uniform(0.5, 1.5, (n, 1)), rng.uniform(-0.5, 0.5, (n, 1))


def bnlab_batchnorm(shape, backward=bnlab.batchnorm_backward):
    """A function running one Batch Norm forward+backward on fixed inputs of ``shape`` with the public functions
    (as learners and ``Network`` call them): ``bnlab.batchnorm_forward``, then ``backward`` (the compact
    ``bnlab.batchnorm_backward``, or ``bnlab.batchnorm_backward_steps``)."""
    Z, dZ_tilde, gamma, beta = _bn_inputs(shape)

    def run():
        _, cache = bnlab.batchnorm_forward(Z, gamma, beta, 1e-5)
        return backward(dZ_tilde, cache)
    return run


def numpy_batchnorm_floor(shape):
    """A lower bound for the public functions at a ``shape`` of one cache block: the same numpy passes as
    ``batchnorm_forward`` + ``batchnorm_backward`` (two sums, four broadcasts forward; two sums, three
    broadcasts and a subtraction backward), on arrays allocated once, with no checks and no cache object.
    The gap to the public functions is their checks, fresh result arrays and Python. Returns a function that
    runs it and returns (Z̃, dZ, dγ, dβ), equal to the public functions' results."""
    Z, dZ_tilde, gamma, beta = _bn_inputs(shape)
    m = shape[1]
    Z_norm, Z_tilde, dZ = np.empty(shape), np.empty(shape), np.empty(shape)

    def run():
        with row_buffers(m):
            mu = row_sum(Z) / m
            np.subtract(Z, mu, out=Z_norm)
            inv_std = 1.0 / np.sqrt(row_dot(Z_norm, Z_norm) / m + 1e-5)
            np.multiply(Z_norm, inv_std, out=Z_norm)
            np.multiply(Z_norm, gamma, out=Z_tilde)
            np.add(Z_tilde, beta, out=Z_tilde)
            dbeta, dgamma = row_sum(dZ_tilde), row_dot(dZ_tilde, Z_norm)
            np.multiply(Z_norm, dgamma / m, out=dZ)
            np.add(dZ, dbeta / m, out=dZ)
            np.subtract(dZ_tilde, dZ, out=dZ)
            np.multiply(dZ, gamma * inv_std, out=dZ)
        return Z_tilde, dZ, dgamma, dbeta
    return run


def torch_batchnorm(torch, shape):
    """The same with torch.nn.functional.batch_norm (training=True, float64) and autograd's backward.

    Torch's layout is (examples, units), so it gets Z.T as a contiguous tensor: its natural input.
    """
    Z, dZ_tilde, gamma, beta = _bn_inputs(shape)
    x = torch.tensor(Z.T.copy(), requires_grad=True)
    dy = torch.tensor(dZ_tilde.T.copy())
    weight = torch.tensor(gamma[:, 0], requires_grad=True)
    bias = torch.tensor(beta[:, 0], requires_grad=True)

    def run():
        y = torch.nn.functional.batch_norm(x, None, None, weight, bias, training=True, eps=1e-5)
        y.backward(dy)
        grads = x.grad, weight.grad, bias.grad
        x.grad = weight.grad = bias.grad = None  # fresh gradient arrays each call, like bnlab's
        return y, grads
    return run


def peak_memory(shape):
    """Peak bytes allocated (tracemalloc) by one forward+backward of :func:`bnlab_batchnorm`, outputs and cache
    included. Z and dZ̃ exist before tracing starts. Returns (peak bytes, Z's bytes)."""
    run = bnlab_batchnorm(shape)
    tracemalloc.start()
    try:
        run()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, shape[0] * shape[1] * 8


def array_copy(shape):
    """A function doing one np.copyto of a float64 array of ``shape``: one read plus one write of it."""
    rng = np.random.default_rng(0)
    source, target = rng.standard_normal(shape), np.empty(shape)
    return lambda: np.copyto(target, source)


def python_calls(fn):
    """How many Python-level function calls (and calls into C) one run of fn makes."""
    count = 0

    def profiler(frame, event, arg):
        nonlocal count
        if event in ("call", "c_call"):
            count += 1
    sys.setprofile(profiler)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return count


def _digits_like(m, seed):
    """Seeded synthetic inputs of the paper's MNIST shape: X (784, m) in [0, 1), one-hot Y (10, m)."""
    rng = np.random.default_rng(seed)
    return rng.random((PAPER_NET[0], m)), bnlab.one_hot(rng.integers(0, PAPER_NET[-1], m), PAPER_NET[-1])


def bnlab_training(mini_batch_size, steps, seed=0):
    """A function running ``steps`` steps of bnlab.train on the paper's net (sigmoid, Batch Norm, Adam)."""
    X, Y = _digits_like(10 * mini_batch_size, seed)
    net = bnlab.Network(PAPER_NET, activation="sigmoid", batchnorm=True, output="softmax", seed=seed)
    optimizer = bnlab.Adam(learning_rate=0.001)
    calls = iter(range(10**9))

    def run():
        bnlab.train(net, X, Y, optimizer, steps, mini_batch_size=mini_batch_size, seed=next(calls))
    return run


def numpy_floor(mini_batch_size, steps, seed=0):
    """A lower bound for ANY numpy step of the paper's net: only the work no implementation can skip, on
    preallocated arrays with no checks: the 11 matrix products of forward and backward (no dX for layer 1),
    the exponentials of the 3 sigmoids and of the softmax, and Adam's update of the ~100K parameters in the
    fewest numpy passes (12, one of them a square root). The Batch Norm arithmetic, the rest of sigmoid and
    softmax, the shuffling and every Python line of a real step are left out, so a real step is slower."""
    rng = np.random.default_rng(seed)
    dims, m = PAPER_NET, mini_batch_size
    W = [rng.normal(0, 0.1, size=(n, n_prev)) for n_prev, n in zip(dims[:-1], dims[1:])]
    dW = [np.empty_like(w) for w in W]
    X = rng.random((dims[0], m))
    A = [X] + [np.empty((n, m)) for n in dims[1:]]        # A[l] = layer l's output, A[0] = X
    exp_A = [np.empty((n, m)) for n in dims]              # exponentials kept apart, so A stays of order 1
    dA = [None] + [rng.normal(0, 0.1, size=(n, m)) for n in dims[1:]]
    size = sum(w.size for w in W) + 2 * sum(dims[1:-1]) + dims[-1]  # W, γ, β and b[L]
    p, g, v, s, scratch, new_p = (rng.random(size) for _ in range(6))
    adam = bnlab.Adam(learning_rate=0.001)

    def run():
        for t in range(1, steps + 1):
            adam.t = t
            for l in range(len(W)):
                np.matmul(W[l], A[l], out=A[l + 1])
                np.exp(A[l + 1], out=exp_A[l + 1])        # sigmoid's and softmax's exp
            for l in reversed(range(len(W))):
                np.matmul(dA[l + 1], A[l].T, out=dW[l])
                if l > 0:
                    np.matmul(W[l].T, dA[l + 1], out=dA[l])
            _kernels.adam_rule(adam, p, g, v, s, scratch, new_p)
    return run


def bnlab_steps(mini_batch_size, steps, seed=0):
    """A function running ``steps`` training steps of the paper's net as ``bnlab.train`` runs them (the same
    mini-batches, ``Network.loss_and_grads``, ``Adam.step``) and nothing else: no divergence check and no
    accuracies before and after, so the gap to :func:`bnlab_training` is what train's bookkeeping costs."""
    X, Y = _digits_like(10 * mini_batch_size, seed)
    X, Y = np.asfortranarray(X), np.asfortranarray(Y)  # as train shuffles them
    net = bnlab.Network(PAPER_NET, activation="sigmoid", batchnorm=True, output="softmax", seed=seed)
    optimizer = bnlab.Adam(learning_rate=0.001)
    calls = iter(range(10**9))

    def run():
        seed = next(calls)  # as bnlab_training: epoch e of call c shuffles with seed c + e
        batches = (batch for epoch in itertools.count()
                   for batch in bnlab.random_mini_batches(X, Y, mini_batch_size, seed + epoch))
        for _, (X_t, Y_t) in zip(range(steps), batches):
            _, grads = net.loss_and_grads(X_t, Y_t)
            net.parameters = optimizer.step(net.parameters, grads)
    run.net = net
    return run


def torch_training(torch, mini_batch_size, steps, seed=0):
    """The same with an equivalent nn.Sequential (Linear without bias → BatchNorm1d → Sigmoid, ×3, then
    Linear), float64, torch.optim.Adam, cross-entropy; a new shuffle of the examples every epoch; and, as
    bnlab.train does, the accuracy on all the examples (eval mode) before the first and after the last step."""
    X, Y = _digits_like(10 * mini_batch_size, seed)
    torch.manual_seed(seed)
    layers = []
    for n_prev, n in zip(PAPER_NET[:-2], PAPER_NET[1:-1]):
        layers += [torch.nn.Linear(n_prev, n, bias=False), torch.nn.BatchNorm1d(n), torch.nn.Sigmoid()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(PAPER_NET[-2], PAPER_NET[-1])).double()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    loss_fn = torch.nn.CrossEntropyLoss()
    inputs, labels = torch.tensor(X.T.copy()), torch.tensor(Y.argmax(axis=0))
    generator = torch.Generator().manual_seed(seed)

    def accuracy():
        model.eval()
        with torch.no_grad():
            correct = (model(inputs).argmax(dim=1) == labels).double().mean().item()
        model.train()
        return correct

    def run():
        accuracy()
        step = 0
        while step < steps:
            order = torch.randperm(inputs.shape[0], generator=generator)
            for start in range(0, inputs.shape[0], mini_batch_size):
                batch = order[start:start + mini_batch_size]
                optimizer.zero_grad()
                loss_fn(model(inputs[batch]), labels[batch]).backward()
                optimizer.step()
                step += 1
                if step == steps:
                    break
        accuracy()
    return run


# --- the environment ------------------------------------------------------------------------------------

def blas_description():
    """numpy's BLAS library, kernel and thread count as threadpoolctl reports them (when installed)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "BLAS threads unknown (pip install threadpoolctl to see them)", None
    for info in threadpool_info():
        if info.get("user_api") == "blas" and "numpy" in info.get("filepath", ""):
            kernel = info.get("architecture") or "?"
            return (f"{info.get('internal_api')} {info.get('version')}, {kernel} kernel, "
                    f"{info['num_threads']} BLAS threads"), info["num_threads"]
    return "BLAS not reported by threadpoolctl", None


def environment_notes():
    """Variables that change numpy's speed, with how to run the benchmark without them."""
    notes = []
    slow = [name for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if name in os.environ]
    if slow:
        notes.append(f"note: {', '.join(f'{k}={os.environ[k]}' for k in slow)} is set and may slow numpy; "
                     "for this benchmark only: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE bnlab bench")
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if name in os.environ:
            notes.append(f"note: {name}={os.environ[name]} is set")
    return notes


def import_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


# --- the table ----------------------------------------------------------------------------------------

def _ms(seconds):
    return f"{seconds * 1e3:.3g} ms" if seconds < 0.1 else f"{seconds * 1e3:.0f} ms"


def _verdict(ok):
    return "PASS" if ok else "FAIL"


class Table:
    """Rows of (measurement, bnlab, compared with, ratio, target, result), printed with aligned columns."""

    HEADER = ("measurement", "bnlab", "compared with", "ratio", "target", "result")

    def __init__(self):
        self.rows = []
        self.results = []

    def add(self, measurement, value="", other="", ratio="", target="", ok=None):
        result = "" if ok is None else _verdict(ok)
        if ok is not None:
            self.results.append(ok)
        self.rows.append((measurement, value, other, ratio, target, result))

    def section(self, title):
        self.rows.append((title,))

    def print(self, out):
        widths = [max(len(row[i]) for row in [self.HEADER] + [r for r in self.rows if len(r) > 1])
                  for i in range(len(self.HEADER))]

        def line(cells):
            return "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) if i < 4 else cell.ljust(w)
                             for i, (cell, w) in enumerate(zip(cells, widths))).rstrip()
        print(line(self.HEADER), file=out)
        print("  ".join("-" * w for w in widths), file=out)
        for row in self.rows:
            print(row[0] if len(row) == 1 else line(row), file=out)


def run(args):
    out = sys.stdout
    quick = args.quick
    repeats = args.repeats or (3 if quick else 7)
    shapes = BN_SHAPES_QUICK if quick else BN_SHAPES
    big = shapes[-1]
    torch = None if args.no_torch else import_torch()
    threads = args.threads
    if threads is None and torch is not None:
        # Default with torch: one thread each. Idle worker threads of OpenBLAS and of torch's OpenMP
        # spin-wait for a while, so two libraries taking turns in one process steal each other's cores
        # (on 2 cores both run several times slower); --threads N compares at N threads each.
        threads = 1
    if threads:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            if args.threads:
                print("bnlab bench: --threads needs threadpoolctl, which is not installed; install the 'bench' "
                      f"extra in the course folder: {install_hint('bench')}", file=sys.stderr)
                return 2
            print("note: threadpoolctl is not installed, so the thread counts stay as they are "
                  f"(the 'bench' extra installs it, {install_hint('bench')}, to run numpy and torch on one thread "
                  "each)", file=sys.stderr)
            threads = None
    if threads:
        threadpool_limits(threads, user_api="blas")
        if torch is not None:
            torch.set_num_threads(threads)

    blas, _ = blas_description()
    print(f"bnlab bench{' --quick' if quick else ''}: one run, float64, wall-clock medians of {repeats} repeats "
          "taken in turns after a warm-up; compare ratios, not times across runs", file=out)
    print(f"bnlab {bnlab.__version__}, Python {platform.python_version()}, numpy {np.__version__} ({blas}), "
          f"{os.cpu_count()} CPUs", file=out)
    if torch is not None:
        torch.set_default_dtype(torch.float64)
        print(f"torch {torch.__version__} ({torch.get_num_threads()} threads)", file=out)
    else:
        print("torch: not installed (pip install torch==2.13.0 for the comparison; it is not a dependency)"
              if not args.no_torch else "torch: skipped (--no-torch)", file=out)
    for note in environment_notes():
        print(note, file=out)
    print(file=out, flush=True)

    table = Table()
    torch_target = "n/a without torch"

    # Python loops: the call count of one forward+backward must not depend on n or m within a block.
    bn_calls = [python_calls(bnlab_batchnorm(shape)) for shape in LOOP_SHAPES]
    step_calls = [python_calls(bnlab_training(mb, 1)) for mb in (60, 512)]
    table.section("Python loops in the hot paths")
    table.add(f"Python calls per BN fwd+bwd at Z {', '.join(map(str, LOOP_SHAPES))}", "/".join(map(str, bn_calls)),
              target="same for all", ok=len(set(bn_calls)) == 1)
    table.add("Python calls per training step, mini-batch 60 / 512", "/".join(map(str, step_calls)),
              target="same for both", ok=len(set(step_calls)) == 1)
    blocks = len(row_blocks(*big))
    table.add(f"  (Z {big} runs in {blocks} cache blocks of {big[0] // blocks} units x {big[1]} examples)")

    # Batch Norm forward+backward.
    table.section("Batch Norm forward+backward, float64")
    timed, bn_samples = {}, {}
    for shape in shapes:
        functions = {"compact": bnlab_batchnorm(shape), "steps": bnlab_batchnorm(shape, bnlab.batchnorm_backward_steps)}
        if torch is not None:
            functions["torch"] = torch_batchnorm(torch, shape)
        if shape == big:  # the copy for the memory bound, timed in the same rounds as Batch Norm
            functions["copy"] = array_copy(shape)
        else:  # one cache block: the floor is the same passes without checks or fresh arrays
            functions["floor"] = numpy_batchnorm_floor(shape)
        bn_samples[shape] = samples = timed_samples(functions, repeats)
        timed[shape] = t = medians(samples)
        targets = {(256, 256): 1.0, big: 0.7}  # at most this many times PyTorch's time
        if torch is not None:
            ratio = paired_ratio(samples, "compact", "torch")
            limit = targets.get(shape)
            table.add(f"Z {shape}, compact backward", _ms(t["compact"]), f"torch {_ms(t['torch'])}", _ratio_cell(ratio),
                      f"<= {limit} x torch" if limit else "", ok=(ratio[0] <= limit) if limit else None)
        else:
            table.add(f"Z {shape}, compact backward", _ms(t["compact"]), "", "",
                      torch_target if shape in targets else "")
        table.add(f"Z {shape}, step-by-step backward", _ms(t["steps"]), f"compact {_ms(t['compact'])}",
                  f"{t['steps'] / t['compact']:.2f}")
        if "floor" in t:
            other = "torch" if torch is not None else "compact"
            table.add(f"Z {shape}, numpy floor (see below)", _ms(t["floor"]), f"{other} {_ms(t[other])}",
                      _ratio_cell(paired_ratio(samples, "floor", other)))

    # The memory-traffic bound and the peak memory, at the largest shape.
    copy = timed[big]["copy"]
    bound = 4 * copy
    against_bound = paired_ratio(bn_samples[big], "compact", "copy")
    against_bound = tuple(r / 4 for r in against_bound)
    table.section(f"Memory at Z {big} ({np.prod(big) * 8 / 2**20:.0f} MiB per array)")
    table.add("one np.copyto of Z (read + write one array)", _ms(copy))
    table.add("bound = 4 x copy (see the note below)", _ms(bound))
    table.add("BN fwd+bwd against the bound", _ms(timed[big]["compact"]), f"bound {_ms(bound)}",
              _ratio_cell(against_bound), "<= 3 x bound", ok=against_bound[0] <= 3)
    peak, size = peak_memory(big)
    table.add("peak memory of BN fwd+bwd (tracemalloc)", f"{peak / size:.3f} x Z", f"{peak / 2**20:.1f} MiB", "",
              "<= 3 x Z + 256 KiB", ok=peak <= peak_target(size))

    # Training steps per second.
    table.section("Training the paper's net 784-100-100-100-10 (sigmoid, BN, Adam), synthetic seeded inputs")
    for mb, target in ((60, 2.0), (512, 1.0)):
        # 20 epochs of 10 mini-batches at 60, 10 epochs at 512: long enough that what a call does once (train's
        # transposed copy of X, the two accuracy evaluations on all examples, torch's the same) is a small part.
        steps = (5 if quick else 100) if mb == 512 else (20 if quick else 200)
        functions = {"bnlab": bnlab_training(mb, steps), "steps": bnlab_steps(mb, steps),
                     "floor": numpy_floor(mb, steps)}
        if torch is not None:
            functions["torch"] = torch_training(torch, mb, steps)
        samples = timed_samples(functions, repeats, warmup=1, min_seconds=0)
        rate = {name: steps / seconds for name, seconds in medians(samples).items()}
        if torch is not None:
            ratio = paired_ratio(samples, "torch", "bnlab")  # steps/s over torch's = torch's time over ours
            table.add(f"steps/s, mini-batch {mb}", f"{rate['bnlab']:.0f}/s", f"torch {rate['torch']:.0f}/s",
                      _ratio_cell(ratio), f">= {target:g} x torch", ok=ratio[0] >= target)
            table.add(f"  the steps alone (see below), mini-batch {mb}", f"{rate['steps']:.0f}/s",
                      f"torch {rate['torch']:.0f}/s", _ratio_cell(paired_ratio(samples, "torch", "steps")))
            table.add(f"  numpy floor (see below), mini-batch {mb}", f"{rate['floor']:.0f}/s",
                      f"torch {rate['torch']:.0f}/s", _ratio_cell(paired_ratio(samples, "torch", "floor")))
        else:
            table.add(f"steps/s, mini-batch {mb}", f"{rate['bnlab']:.0f}/s", "", "", torch_target)
            table.add(f"  the steps alone (see below), mini-batch {mb}", f"{rate['steps']:.0f}/s",
                      f"bnlab {rate['bnlab']:.0f}/s", _ratio_cell(paired_ratio(samples, "bnlab", "steps")))
            table.add(f"  numpy floor (see below), mini-batch {mb}", f"{rate['floor']:.0f}/s",
                      f"bnlab {rate['bnlab']:.0f}/s", _ratio_cell(paired_ratio(samples, "bnlab", "floor")))

    table.print(out)
    print(file=out)
    print("Bound: Batch Norm forward+backward must move at least about 4 arrays' worth of read+write: forward "
          "reads Z for μ and σ², then reads Z again and writes Z̃; backward reads dZ̃ and Z for the sums, "
          "then reads them again and writes dZ. Assumed: Z does not fit in the CPU cache, and one np.copyto "
          "(one read + one write) runs at the machine's memory bandwidth.", file=out)
    print("Batch Norm floor: the same numpy passes as the public forward+backward on arrays allocated once, "
          "without checks, fresh results or the cache object (one cache block). Its ratio to torch is about the "
          "best the formulas can do in numpy on this machine; the gap to the compact line is the public "
          "functions' checks, fresh arrays and Python.", file=out)
    print("Loops: the counts are the same whatever n and m are within one cache block, so no Python loop runs "
          "over examples or units; a larger Z is worked through in cache-sized blocks of units.", file=out)
    print("Floor: the least work any numpy step of this net must do, timed alone (11 matrix products, the "
          "exponentials, Adam's 12 passes; no Batch Norm, shuffling, checks or Python layers). A ratio to torch "
          "below a target on this line means a numpy implementation is very unlikely to reach that target on this "
          "machine; above it, the gap between the two lines is Batch Norm's and sigmoid's arithmetic on small "
          "arrays, the rest of the loop, and Python.",
          file=out)
    print("Steps alone: the same mini-batch steps through Network.loss_and_grads and Adam.step, without train's "
          "divergence check and accuracies. The gap to the bnlab line is what train's bookkeeping costs; the gap "
          "to the floor is Batch Norm, the rest of the arithmetic on small arrays, the checks and Python.", file=out)
    print("Ratios: the median over the rounds of the ratio within a round (runs next to each other share the "
          "machine's load), with the lowest and highest in brackets; targets are judged on the median.", file=out)
    print("Training: bnlab.train (reshuffles every epoch, checks each step for divergence, measures the accuracy "
          "on all inputs before and after) against a torch loop doing the same (zero_grad, forward, cross-entropy, "
          "backward, Adam step; accuracy before and after).", file=out)
    passed = sum(table.results)
    print(f"targets: {passed} of {len(table.results)} PASS" + ("" if torch is not None else
          " (the PyTorch comparisons need torch)"), file=out)
    return 1 if args.strict and not all(table.results) else 0


def add_subcommand(subparsers):
    parser = subparsers.add_parser(
        "bench", help="time Batch Norm and training against PyTorch (when installed)",
        description="Time Batch Norm forward+backward and the paper's training steps, against PyTorch when it "
                    "is installed, and print one table with the issue's targets (PASS/FAIL).")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and smaller sizes (a few seconds)")
    parser.add_argument("--repeats", type=positive_int, default=None,
                        help="timed repeats per measurement (default 7, quick 3)")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="threads for numpy's BLAS and torch alike (default with torch: 1 each, "
                             "as two libraries' idle threads spin and slow each other; without torch: as they are); "
                             "needs threadpoolctl, from the 'bench' extra")
    parser.add_argument("--no-torch", action="store_true", help="do not import torch even if it is installed")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 when a target fails")
    parser.set_defaults(run=run)
