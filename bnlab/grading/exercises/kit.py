"""Helpers every exercise's ``verify`` uses: read a call's outcome, compare arrays, explain mistakes.

They turn "the numbers differ" into a message a learner can act on: expected vs. found shape, a
transposed or wrongly reduced result, NaN/inf, and, when the found values match a known mistake
(computed by the exercise in the grader), the name of that mistake.

``reveal=False`` (hidden checks) keeps shapes and numbers out of every message, so a hidden check's
feedback never shows its inputs.

At the end, what several exercises check alike, so that no exercise module imports another: the
Batch Norm forward case and its check (exercises 1-3 call the learner's ``batchnorm_forward``), and
the parameter dicts of a Batch Norm network with their comparison (the optimizers' exercises).
"""
from __future__ import annotations

import builtins
import re
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

import bnlab
from bnlab.grading.shared.spec import Call, CallOutcome, Check, Outcome, Verdict

NOT_IMPLEMENTED = "not implemented yet"
NAN_HINT = ("a division by zero, or by the square root of a variance of 0? That is what epsilon is for, "
            "inside the square root")


class Mismatch(Exception):
    """A learner result that fails a check; its message is the feedback, ``outcome`` says why it failed."""

    def __init__(self, message: str, outcome: Outcome = Outcome.FAILED):
        super().__init__(message)
        self.outcome = outcome


def value_of(outputs: Mapping[str, CallOutcome], key: str, function: str, reveal: bool = True) -> Any:
    """The plain value of call ``key``, or raise :class:`Mismatch` with a message for a failed call.

    reveal=False (hidden checks) names only the exception's type, and only a built-in one: its message
    and traceback could show the hidden inputs (a shape in a broadcasting error, say), and a learner
    names their own exception classes.
    """
    outcome = outputs.get(key)
    if outcome is None:
        raise Mismatch(f"{function} was not run (an earlier call failed)")
    if not outcome.ok:
        if outcome.not_implemented:
            raise Mismatch(f"{function}: {NOT_IMPLEMENTED}", Outcome.NOT_IMPLEMENTED)
        error = outcome.error or "unknown error"
        if not reveal:
            kinds = re.findall(r"\b([A-Za-z_][A-Za-z0-9_]*(?:Error|Exception|Exit|Interrupt))\b", error)
            kind = kinds[-1] if kinds and isinstance(getattr(builtins, kinds[-1], None), type) else "an exception"
            raise Mismatch(f"{function} raised {kind} on this check's inputs "
                           "(run the public checks to see a traceback)")
        raise Mismatch(f"{function} raised an error:\n{error}")
    return outcome.value


def unpack(value: Any, count: int, function: str, names: str, reveal: bool = True) -> tuple:
    """``value`` as a tuple of ``count`` items (``names`` says what they are, e.g. "(Z_tilde, cache)")."""
    if not isinstance(value, (tuple, list)):
        raise Mismatch(f"{function} must return a tuple {names}; found {describe(value, reveal)}")
    if len(value) != count:
        raise Mismatch(f"{function} must return a tuple {names} of {count} items; found {len(value)} items")
    return tuple(value)


def describe(value: Any, reveal: bool = True) -> str:
    """What kind of value a learner returned, for a message.

    reveal=False (hidden checks) says only the kind: a learner controls the shape it returns, the
    text of a string and the name of a class, and could otherwise spell the hidden inputs into them.
    """
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}" if reveal else "an array"
    if hasattr(value, "description"):  # a value that was not plain data (bnlab.grading.shared.plain.Foreign)
        return str(value.description) if reveal else "a value that is not numbers, arrays, tuples, lists or dicts"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


def as_float_array(found: Any, what: str, reveal: bool = True) -> np.ndarray:
    """``found`` as float64 if it is a real numeric numpy array, else :class:`Mismatch`."""
    if not isinstance(found, np.ndarray):
        hint = " (a list? use np.array or numpy operations)" if isinstance(found, (list, tuple)) else ""
        raise Mismatch(f"{what} must be a numpy array; found {describe(found, reveal)}{hint}")
    if found.dtype.kind not in "fiub":
        raise Mismatch(f"{what} must hold real numbers; found dtype {found.dtype}")
    return found.astype(np.float64)


def shape_hint(found: tuple, expected: tuple) -> str:
    """A guess at why ``found`` has the wrong shape, in the course's notation (rows = units, columns = examples)."""
    if len(expected) == 2 and found == expected[::-1]:
        return "it is transposed: keep units as rows and examples as columns"
    if len(expected) == 2 and expected[1] == 1 and found == (expected[0],):
        return "use keepdims=True (or reshape to (n, 1)) so the result stays a column"
    if len(expected) == 2 and expected[1] == 1 and len(found) == 2 and found[0] == 1:
        return "did you reduce over the wrong axis? Sums over the examples use axis=1"
    if len(expected) == 2 and expected[1] == 1 and found == ():
        return "did you sum over the whole matrix? Reduce over the examples only (axis=1, keepdims=True)"
    if len(expected) == 2 and len(found) == 2 and found[0] == expected[0] and found[1] == 1:
        return "one column per example is expected; did you return a per-unit statistic instead?"
    if len(found) == 3 or (len(expected) == 2 and len(found) == 2 and expected[0] == found[0] == found[1]):
        return "a broadcast went wrong: check that per-unit statistics are (n, 1) columns"
    return ""


def check_array(found: Any, expected: np.ndarray, what: str, *, reveal: bool = True,
                rtol: float = 1e-6, atol: float = 1e-8,
                mistakes: Mapping[str, np.ndarray] | None = None, nan_hint: str = NAN_HINT) -> None:
    """Raise :class:`Mismatch` unless ``found`` is a numeric array equal to ``expected`` (shape and values).

    ``mistakes`` maps a description of a common mistake to the array it would give; when the
    found values match one, the message names it.
    """
    found = as_float_array(found, what, reveal)
    expected = np.asarray(expected, dtype=np.float64)
    if found.shape != expected.shape:
        hint = shape_hint(found.shape, expected.shape)
        if reveal:
            msg = f"{what} has the wrong shape: expected {expected.shape}, found {found.shape}"
        else:
            msg = f"{what} has the wrong shape"
        raise Mismatch(msg + (f" ({hint})" if hint else ""))
    if not np.isfinite(found).all():
        bad = "NaN" if np.isnan(found).any() else "inf"
        raise Mismatch(f"{what} contains {bad}: {nan_hint}")
    if np.allclose(found, expected, rtol=rtol, atol=atol):
        return
    for name, wrong in (mistakes or {}).items():
        wrong = np.asarray(wrong, dtype=np.float64)
        if wrong.shape == found.shape and np.allclose(found, wrong, rtol=rtol, atol=atol):
            raise Mismatch(f"{what} has the wrong values; they match {name}")
    error = np.abs(found - expected)
    worst = np.unravel_index(np.argmax(error), error.shape)
    if reveal:
        digits = 6 if error[worst] > 1e-5 * abs(expected[worst]) else 12
        raise Mismatch(f"{what} has the wrong values: largest difference {error[worst]:.3g} at index "
                       f"{tuple(int(i) for i in worst)} (expected {expected[worst]:.{digits}g}, "
                       f"found {found[worst]:.{digits}g})")
    share = np.mean(error > atol + rtol * np.abs(expected))
    raise Mismatch(f"{what} has the wrong values ({share:.0%} of entries differ)")


def verdict(fn) -> Verdict:
    """Run ``fn()`` (which raises :class:`Mismatch` on failure and may return a message) as a Verdict."""
    try:
        message = fn()
    except Mismatch as failure:
        return Verdict(False, str(failure), outcome=failure.outcome)
    return Verdict(True, message or "correct")


@dataclass(frozen=True)
class Unchanged:
    """Ask a values check to also require that the call left its inputs unchanged.

    arg_names: the function's parameter names by position; hint: how to avoid the in-place change.
    The check passes only if the values are right too, so a function that returns anything without
    touching its inputs earns nothing.
    """

    arg_names: tuple[str, ...]
    hint: str = "e.g. Z - mu, not Z -= mu"


def _argument_label(label: str, arg_names: tuple[str, ...]) -> str:
    """"0" -> "Z", "0['W1']" -> "parameters['W1']": the engine's positional labels with parameter names."""
    match = re.match(r"(\d+)(.*)", label)
    if match and int(match.group(1)) < len(arg_names):
        return arg_names[int(match.group(1))] + match.group(2)
    return label


def unchanged_inputs(outputs: Mapping[str, CallOutcome], key: str, function: str, unchanged: Unchanged,
                     reveal: bool = False) -> str:
    """Raise :class:`Mismatch` if call ``key`` (made with copy_check) modified any of its arguments.

    ``outputs[key].modified`` is decided in the grader (``engine.changed_arguments``): the learner's process
    sends the arguments back after the call and the grader compares them with what it sent, so nothing a
    learner patches (``np.array_equal``...) takes part in this verdict.

    unchanged: the parameter names by position (to name a modified positional argument) and the hint.
    """
    value_of(outputs, key, function, reveal)
    modified = [_argument_label(label, unchanged.arg_names) for label in outputs[key].modified]
    if not reveal:  # "parameters['gamma3']" would tell the depth of a hidden network: name the argument only
        modified = list(dict.fromkeys(label.split("[")[0] for label in modified))
    if modified:
        shown = ", ".join(modified[:3]) + (f" and {len(modified) - 3} more" if len(modified) > 3 else "")
        raise Mismatch(f"{function} modified {shown} in place; compute new arrays instead ({unchanged.hint})")
    return "the inputs are left unchanged"


# --- the Batch Norm forward pass: a seeded case and a values check (exercises 1, 2 and 3) ----------

BATCHNORM_FORWARD = "batchnorm_forward"


@dataclass(frozen=True)
class BNCase:
    """Seeded inputs of one Batch Norm call: Z (n, m) = offset + scale·N(0, 1), random γ, β (n, 1).

    constant_rows: units whose m values are all equal (variance 0); identity: γ = 1, β = 0;
    eps: passed as the ``eps`` keyword, or left to the default (1e-5) when None.
    """

    seed: int
    n: int
    m: int
    scale: float = 1.0
    offset: float = 0.0
    constant_rows: tuple[int, ...] = ()
    identity: bool = False
    eps: float | None = None

    def inputs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = np.random.default_rng(self.seed)
        Z = self.offset + self.scale * rng.standard_normal((self.n, self.m))
        for row in self.constant_rows:
            Z[row, :] = self.offset + 0.5 * self.scale
        if self.identity:
            return Z, np.ones((self.n, 1)), np.zeros((self.n, 1))
        gamma = rng.uniform(0.5, 2.5, (self.n, 1)) * rng.choice([-1.0, 1.0], (self.n, 1))
        beta = rng.uniform(-3.0, 3.0, (self.n, 1))
        return Z, gamma, beta

    @property
    def eps_used(self) -> float:
        return 1e-5 if self.eps is None else self.eps

    def call(self, key: str, copy_check: bool = False) -> Call:
        kwargs = {} if self.eps is None else {"eps": self.eps}
        return Call(BATCHNORM_FORWARD, self.inputs(), kwargs, key=key, copy_check=copy_check)

    def expected(self) -> np.ndarray:
        Z_tilde, _ = bnlab.batchnorm_forward(*self.inputs(), eps=self.eps_used)
        return Z_tilde

    def mistakes(self) -> dict[str, np.ndarray]:
        """What the common mistakes would return for these inputs (to name them in feedback)."""
        Z, gamma, beta = self.inputs()
        eps, m = self.eps_used, Z.shape[1]
        mu, var = Z.mean(axis=1, keepdims=True), Z.var(axis=1, keepdims=True)
        mu0, var0 = Z.mean(axis=0, keepdims=True), Z.var(axis=0, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            found = {
                "the unbiased variance 1/(m-1); Batch Norm uses the biased 1/m":
                    (Z - mu) / np.sqrt(var * m / (m - 1) + eps),
                "epsilon outside the square root; use sqrt(var + eps)": (Z - mu) / (np.sqrt(var) + eps),
                "the default eps instead of the eps argument": (Z - mu) / np.sqrt(var + 1e-5),
                # no epsilon and a hard-coded 1e-8 give the same numbers here: the message names both
                "an epsilon other than the eps argument (none, or a hard-coded value); use sqrt(var + eps) with "
                "the eps passed in": (Z - mu) / np.sqrt(var),
                "statistics over the units (axis=0); average over the examples, axis=1":
                    (Z - mu0) / np.sqrt(var0 + eps),
                "one mean and variance for the whole matrix; each unit (row) has its own":
                    (Z - Z.mean()) / np.sqrt(Z.var() + eps),
            }
            found = {name: gamma * Z_norm + beta for name, Z_norm in found.items()}
            Z_norm = (Z - mu) / np.sqrt(var + eps)
            found["Z_norm: gamma and beta are not applied"] = Z_norm
            found["gamma and beta swapped (the rule is Z_tilde = gamma * Z_norm + beta)"] = beta * Z_norm + gamma
            found["Z_norm + beta: gamma is not applied"] = Z_norm + beta
        return found


def forward_result(outputs, key: str = "fwd", reveal: bool = True):
    """Z_tilde of the learner's ``(Z_tilde, cache)``, or :class:`Mismatch`."""
    Z_tilde, _cache = unpack(value_of(outputs, key, BATCHNORM_FORWARD, reveal), 2, BATCHNORM_FORWARD, "(Z_tilde, cache)", reveal)
    return Z_tilde


def forward_values_check(name: str, points: float, visibility: str, description: str, case: BNCase,
                         rtol: float = 1e-6, atol: float = 1e-8, unchanged: Unchanged | None = None) -> Check:
    """Z_tilde of ``batchnorm_forward`` on ``case`` equals bnlab's reference (and, with ``unchanged``,
    Z, gamma and beta are left as they were)."""
    reveal = visibility == "public"

    def verify(outputs):
        def judge():
            check_array(forward_result(outputs, reveal=reveal), case.expected(), "Z_tilde", reveal=reveal,
                        rtol=rtol, atol=atol, mistakes=case.mistakes())
            if unchanged:
                return unchanged_inputs(outputs, "fwd", BATCHNORM_FORWARD, unchanged, reveal)
            return "Z_tilde is correct"
        return verdict(judge)

    return Check(name, points, visibility, lambda: [case.call("fwd", copy_check=bool(unchanged))], verify,
                 description)


# --- a Batch Norm network's parameter dicts (the optimizers' exercises) ---------------------------

def bn_network_shapes(layer_dims: tuple[int, ...]) -> dict[str, tuple[int, int]]:
    """Parameter shapes of a Batch Norm network: W, gamma, beta per hidden layer; W, b at the output."""
    L = len(layer_dims) - 1
    shapes = {}
    for l in range(1, L + 1):
        shapes[f"W{l}"] = (layer_dims[l], layer_dims[l - 1])
        if l < L:
            shapes[f"gamma{l}"] = shapes[f"beta{l}"] = (layer_dims[l], 1)
        else:
            shapes[f"b{l}"] = (layer_dims[l], 1)
    return shapes


def random_dicts(rng: np.random.Generator, layer_dims: tuple[int, ...], scale: float = 1.0,
                 positive: bool = False) -> dict[str, np.ndarray]:
    """scale·N(0, 1) arrays (absolute values if ``positive``) for each parameter of a Batch Norm network."""
    out = {}
    for name, shape in bn_network_shapes(layer_dims).items():
        x = rng.standard_normal(shape) * scale
        out[name] = np.abs(x) if positive else x
    return out


def dict_results(outputs, key: str, function: str, names: tuple[str, ...], reveal: bool = True) -> tuple[dict, ...]:
    """The learner's tuple of dicts (``names``, e.g. parameters, v, s), or :class:`Mismatch`."""
    found = unpack(value_of(outputs, key, function, reveal), len(names), function, f"({', '.join(names)})", reveal)
    for what, d in zip(names, found):
        if not isinstance(d, dict):
            raise Mismatch(f"{what} must be a dict (name -> array); found "
                           f"{describe(d, reveal)}")
    return found


def compare_dicts(names: tuple[str, ...], found: tuple[dict, ...], expected: tuple[dict, ...],
                  before: tuple[dict, ...], reveal: bool, only: tuple[str, ...] | None,
                  mistakes: dict[str, dict[str, np.ndarray]] | None, optimizer: str, nan_hint: str) -> None:
    """Raise :class:`Mismatch` at the first key of the result dicts ``names`` (e.g. parameters, v, s) that
    differs from ``expected``; ``only`` keeps keys with these prefixes (gamma, beta); ``before`` holds
    the inputs (None: do not report "was not updated"); ``mistakes`` names wrong new parameters;
    ``optimizer`` and ``nan_hint`` word the messages."""
    for what, got, want, old_dict in zip(names, found, expected, before):
        missing = [k for k in want if k not in got]
        if missing:
            raise Mismatch((f"{what} has no key {missing[0]!r}" if reveal else f"{what} misses some keys")
                           + ": return every key, W, gamma and beta of the hidden layers and W, b of the output layer "
                           "(loop over the names; do not assume a number of layers)"
                           + (" - v and s use the gradient names, 'dW1', ..." if what != "parameters" else ""))
        extra = [k for k in got if k not in want]
        if extra:
            raise Mismatch((f"{what} has an unexpected key {extra[0]!r}" if reveal else f"{what} has unexpected keys")
                           + "; its keys are those of "
                           + ("parameters" if what == "parameters" else "grads ('dW1', 'dgamma1', ...)"))
        for key in want:
            if only and not any(key.lstrip("d").startswith(prefix) for prefix in only):
                continue
            old = None if old_dict is None else old_dict[key]
            if old is not None and isinstance(got[key], np.ndarray) and got[key].shape == old.shape \
                    and np.array_equal(got[key], old):
                raise Mismatch(f"{what}[{key!r}] was not updated: {optimizer} updates every parameter (W, b, gamma, "
                               f"beta) the same way, and its {' and '.join(names[1:])}")
            named = {d: m[key] for d, m in (mistakes or {}).items()} if what == "parameters" else {}
            check_array(got[key], want[key], f"{what}[{key!r}]", reveal=reveal, rtol=1e-7, atol=1e-10,
                        mistakes=named, nan_hint=nan_hint)


def require_float64(found: Any, what: str) -> None:
    """Raise :class:`Mismatch` if ``found`` is a float array of lower precision than float64 (float32, float16).

    Its values are then off by round-off (about 1e-7 relative for float32), which a values check would report
    as a wrong result; the dtype is the mistake to name. Anything else is left to :func:`check_array`.
    """
    if isinstance(found, np.ndarray) and found.dtype.kind == "f" and found.dtype.itemsize < 8:
        raise Mismatch(f"{what} is {found.dtype}: keep float64 (numpy's default) all the way; float32 rounds every "
                       "entry to about 7 digits. Did an np.float32 or .astype(np.float32) slip in?")
