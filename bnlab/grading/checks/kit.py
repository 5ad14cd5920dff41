"""Helpers every exercise's ``verify`` uses: read a call's outcome, compare arrays, explain mistakes.

They turn "the numbers differ" into a message a learner can act on: expected vs. found shape, a
transposed or wrongly reduced result, NaN/inf, and, when the found values match a known mistake
(computed by the exercise in the grader), the name of that mistake.

``reveal=False`` (hidden checks) keeps shapes and numbers out of every message, so a hidden check's
feedback never shows its inputs.

Partial credit: a check whose work has independent parts scores each as a :class:`Part` (:func:`parts_verdict`),
so one formula error costs the share of the part it breaks and the message names it. Where only one array comes
back, :func:`matching_variant` tells the parts apart by matching it against every combination of their known
mistakes (:func:`ordered_choices`, :func:`variant_parts`).

At the end, what several exercises check alike, so that no exercise module imports another: the
Batch Norm forward case and its check (exercises 1-3 call the learner's ``batchnorm_forward``), the
mini-batches of ``random_mini_batches`` (exercise 4 grades them, exercise 8 trains on them), and the
parameter dicts of a Batch Norm network with their comparison (the optimizers' exercises).
"""
from __future__ import annotations

import builtins
import itertools
import re
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable, Mapping, Sequence

import numpy as np

import bnlab
from bnlab.grading.core.spec import Call, CallOutcome, Check, Outcome, Verdict
from bnlab.grading.core.student_inputs import case_rng

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
    if hasattr(value, "description"):  # a value that was not plain data (bnlab.grading.sandbox.plain.Foreign)
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
class Part:
    """One property of a result that a check scores on its own, worth ``weight`` shares of the check's points.

    ``judge()`` raises :class:`Mismatch` (its message says what is wrong) when the property does not hold.
    """

    name: str
    judge: Callable[[], Any]
    weight: float = 1.0
    alone: bool = True  # False: earns its share only when another part holds ("inputs unchanged" of no work)


def _share(x: float) -> str:
    return f"{round(x, 3):g}"


def parts_verdict(points: float, parts: Sequence[Part], passed_message: str = "") -> Verdict:
    """Score each of ``parts`` on its own: the check earns the weights of the parts that hold.

    A part that finds the function not implemented makes the whole check NOT_IMPLEMENTED; a part that is not
    ``alone`` earns nothing unless another part holds. The message names every part with its share of
    ``points``; ``passed_message`` is the message when all hold.
    """
    failures: list[str | None] = []
    for part in parts:
        try:
            part.judge()
            failures.append(None)
        except Mismatch as failure:
            if failure.outcome is not Outcome.FAILED:
                return Verdict(False, str(failure), outcome=failure.outcome)
            failures.append(str(failure))
    if not any(error is None for part, error in zip(parts, failures) if part.alone):
        failures = [error or "earns its share only with a right result" for error in failures]
    total = sum(part.weight for part in parts)
    earned = sum(part.weight for part, error in zip(parts, failures) if error is None) / total
    if earned == 1:
        return Verdict(True, passed_message or "correct: " + "; ".join(part.name for part in parts))
    right = [f"{part.name} ({_share(points * part.weight / total)})"
             for part, error in zip(parts, failures) if error is None]
    lines = [f"{len(right)} of {len(parts)} parts right ({_share(points * earned)}/{_share(points)} points):"]
    lines += [f"- WRONG {part.name} ({_share(points * part.weight / total)}): {error}"
              for part, error in zip(parts, failures) if error is not None]
    if right:
        lines.append("- right: " + ", ".join(right))
    return Verdict(False, "\n".join(lines), fraction=earned)


def parts_check_verdict(points: float, gate: Callable[[], Sequence[Part]], passed_message: str = "") -> Verdict:
    """:func:`parts_verdict` of the parts ``gate()`` returns; a :class:`Mismatch` from ``gate`` (a result that
    cannot be read: wrong type, shape, not implemented) fails the whole check with its message."""
    try:
        parts = gate()
    except Mismatch as failure:
        return Verdict(False, str(failure), outcome=failure.outcome)
    return parts_verdict(points, parts, passed_message)


def matching_variant(found: np.ndarray, variants: Mapping[tuple, np.ndarray], rtol: float, atol: float) -> tuple | None:
    """The first key of ``variants`` (key: one choice per part; value: the array those choices give) whose array
    ``found`` equals, NaN where it has NaN (a missing epsilon on a constant unit); None if there is none."""
    for choices, wrong in variants.items():
        if wrong.shape != found.shape or np.isnan(wrong).all():
            continue
        if np.array_equal(np.isnan(found), np.isnan(wrong)) and np.allclose(found, wrong, rtol=rtol, atol=atol,
                                                                            equal_nan=True):
            return choices
    return None


def variant_parts(names: Sequence[str], choices: tuple, mistakes: Sequence[Mapping[Any, str]],
                  weights: Sequence[float] | None = None) -> list[Part]:
    """One :class:`Part` per name: it holds when its choice is 0 (the right one), else fails naming
    ``mistakes[i][choice]``."""
    def judge(message):
        def fail():
            raise Mismatch(message)
        return fail
    weights = weights or [1.0] * len(names)
    return [Part(name, (lambda: None) if choice == 0 else judge(mistakes[i][choice]), weights[i])
            for i, (name, choice) in enumerate(zip(names, choices))]


def ordered_choices(counts: Sequence[int]) -> list[tuple[int, ...]]:
    """Every combination of choices (0 = right, 1.. = known mistakes), fewest mistakes first."""
    return sorted(itertools.product(*(range(n) for n in counts)), key=lambda c: (sum(x != 0 for x in c), c))


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

    ``outputs[key].modified`` is decided in the grader (``engine.outcome_of``): it reads the argument arrays
    back from its own shared memory after the job, and also compares the arguments the learner's process
    sends back, so nothing a learner patches (``np.array_equal``, the worker's report) makes an argument
    it changed look unchanged (off Linux, without a memfd, that report alone decides).

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


def unchanged_part(outputs: Mapping[str, CallOutcome], keys: Sequence[str], function: str, unchanged: Unchanged,
                   reveal: bool, weight: float = 1.0, name: str = "inputs unchanged") -> Part:
    """A :class:`Part` that holds when calls ``keys`` left their arguments unchanged (:func:`unchanged_inputs`);
    it earns its share only when another part of the check holds (no points for computing nothing)."""
    return Part(name, lambda: [unchanged_inputs(outputs, key, function, unchanged, reveal) for key in keys], weight,
                alone=False)


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
        rng = case_rng(self.seed)
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
    Z_tilde, _cache = unpack(value_of(outputs, key, BATCHNORM_FORWARD, reveal), 2, BATCHNORM_FORWARD,
                             "(Z_tilde, cache)", reveal)
    return Z_tilde


FORWARD_PARTS = ("per-unit mean and variance (axis=1)", "biased variance (1/m)", "eps inside the square root",
                 "gamma * Z_norm + beta")
FORWARD_MISTAKES = (
    {1: "statistics over the units (axis=0); average over the examples, axis=1",
     2: "one mean and variance for the whole matrix; each unit (row) has its own"},
    {1: "the unbiased variance 1/(m-1); Batch Norm uses the biased 1/m"},
    {1: "the default eps instead of the eps argument",
     # no epsilon and a hard-coded 1e-8 give the same numbers: the message names both
     2: "an epsilon other than the eps argument (none, or a hard-coded value); use sqrt(var + eps) with the eps "
        "passed in",
     3: "epsilon outside the square root; use sqrt(var + eps)",
     4: "an epsilon other than the eps argument (none, or a hard-coded value); use sqrt(var + eps) with the eps "
        "passed in"},
    {1: "Z_norm: gamma and beta are not applied",
     2: "gamma and beta swapped (the rule is Z_tilde = gamma * Z_norm + beta)",
     3: "Z_norm + beta: gamma is not applied",
     4: "gamma * Z_norm: beta is not added"},
)


def forward_variants(case: BNCase) -> dict[tuple[int, ...], np.ndarray]:
    """Z_tilde for every combination of choices of the four :data:`FORWARD_PARTS` (0 = right, else the
    mistake of :data:`FORWARD_MISTAKES`), fewest mistakes first."""
    Z, gamma, beta = case.inputs()
    eps = case.eps_used
    axes = (1, 0, None)
    out = {}
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for choices in ordered_choices([len(mistakes) + 1 for mistakes in FORWARD_MISTAKES]):
            axis, ddof, eps_rule, affine = choices
            mu = Z.mean(axis=axes[axis], keepdims=True)
            var = Z.var(axis=axes[axis], keepdims=True, ddof=ddof)
            std = (np.sqrt(var + eps), np.sqrt(var + 1e-5), np.sqrt(var), np.sqrt(var) + eps,
                   np.sqrt(var + 1e-8))[eps_rule]
            Z_norm = (Z - mu) / std
            out[choices] = (gamma * Z_norm + beta, Z_norm, beta * Z_norm + gamma, Z_norm + beta,
                            gamma * Z_norm)[affine]
    return out


def forward_parts(Z_tilde: Any, case: BNCase, reveal: bool, rtol: float = 1e-6, atol: float = 1e-8) -> list[Part]:
    """The four :data:`FORWARD_PARTS` of the learner's ``Z_tilde`` on ``case``, each right or naming its mistake.

    Raises :class:`Mismatch` (the whole check fails) when ``Z_tilde`` is not an array of the right shape, or
    matches no combination of the known mistakes: then no part can be told right on its own.
    """
    found = as_float_array(Z_tilde, "Z_tilde", reveal)
    expected = case.expected()
    if found.shape == expected.shape:
        choices = matching_variant(found, forward_variants(case), rtol, atol)
        if choices is not None:
            return variant_parts(FORWARD_PARTS, choices, FORWARD_MISTAKES)
    check_array(found, expected, "Z_tilde", reveal=reveal, rtol=rtol, atol=atol, mistakes=case.mistakes())
    raise AssertionError("check_array accepted a Z_tilde that matches no variant")  # the reference is variant 0


def forward_values_check(name: str, points: float, visibility: str, description: str, case: BNCase,
                         rtol: float = 1e-6, atol: float = 1e-8, unchanged: Unchanged | None = None) -> Check:
    """Z_tilde of ``batchnorm_forward`` on ``case`` against bnlab's reference, scored by :data:`FORWARD_PARTS`
    (and, with ``unchanged``, a fifth part: Z, gamma and beta are left as they were)."""
    reveal = visibility == "public"

    def verify(outputs):
        def parts():
            found = forward_parts(forward_result(outputs, reveal=reveal), case, reveal, rtol, atol)
            if unchanged:
                found.append(unchanged_part(outputs, ["fwd"], BATCHNORM_FORWARD, unchanged, reveal))
            return found
        passed = "Z_tilde is correct" + (", and the inputs are left unchanged" if unchanged else "")
        return parts_check_verdict(points, parts, passed)

    return Check(name, points, visibility, lambda: [case.call("fwd", copy_check=bool(unchanged))], verify,
                 description)


# --- mini-batches: what random_mini_batches must return (exercise 4; exercise 8 trains on them) ---------

RANDOM_MINI_BATCHES = "random_mini_batches"


def mini_batches_of(outputs, key: str, reveal: bool = True) -> list[tuple[np.ndarray, np.ndarray]]:
    """The learner's mini-batches of call ``key`` as float arrays, or :class:`Mismatch` if the structure is wrong."""
    value = value_of(outputs, key, RANDOM_MINI_BATCHES, reveal)
    if not isinstance(value, (list, tuple)):
        raise Mismatch(f"{RANDOM_MINI_BATCHES} must return a list of (X_t, Y_t) tuples; found "
                       f"{describe(value, reveal)}")
    batches = []
    for t, item in enumerate(value):
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise Mismatch(f"mini-batch {t} must be a tuple (X_t, Y_t)")
        batches.append((as_float_array(item[0], f"X_t of mini-batch {t}", reveal),
                        as_float_array(item[1], f"Y_t of mini-batch {t}", reveal)))
    return batches


def mini_batch_sizes(m: int, size: int) -> list[int]:
    """The sizes the exercise asks for: ``size`` examples each, the m % size left over in a last, smaller one."""
    return [size] * (m // size) + ([m % size] if m % size else [])


def example_order(X: np.ndarray, n_y: int, batches, reveal: bool = True) -> list[int]:
    """The column of X (n_x, m) behind each column of the mini-batches, in order, or :class:`Mismatch` when they
    cannot be read as examples of X (shapes, Y_t with other columns than X_t, changed columns)."""
    n_x, m = X.shape
    for t, (X_t, Y_t) in enumerate(batches):
        if X_t.ndim != 2 or X_t.shape[0] != n_x:
            raise Mismatch(f"X_t of mini-batch {t} must have one row per feature and one column per example"
                           + (f" (expected ({n_x}, k), found {X_t.shape})" if reveal else "")
                           + "; did you slice rows instead of columns? Use X[:, permutation]")
        if Y_t.shape != (n_y, X_t.shape[1]):
            raise Mismatch(f"Y_t of mini-batch {t} must have the same number of columns as X_t and the rows of Y"
                           + (f" (expected {(n_y, X_t.shape[1])}, found {Y_t.shape})" if reveal else ""))
    index = {X[:, j].tobytes(): j for j in range(m)}
    order = [index.get(X_t[:, k].tobytes(), -1) for X_t, _ in batches for k in range(X_t.shape[1])]
    if -1 in order:
        raise Mismatch("some columns of the mini-batches are not columns of X: shuffle whole columns "
                       "(examples), for example X[:, permutation], and do not change their values")
    return order


def check_sizes(m: int, size: int, batches, reveal: bool = True) -> None:
    """Raise :class:`Mismatch` unless the mini-batches have the sizes :func:`mini_batch_sizes` gives."""
    sizes = [X_t.shape[1] for X_t, _ in batches]
    expected = mini_batch_sizes(m, size)
    if sizes != expected:
        said = f": expected sizes {expected}, found {sizes}" if reveal else ""
        if sum(sizes) < m and sizes == expected[:len(sizes)]:
            hint = "the last, smaller mini-batch is missing (keep the m % mini_batch_size remaining examples"
            hint += ", even a single one)" if m % size == 1 else ")"
        elif sizes and sizes[-1] == 0:
            hint = "the last mini-batch is empty (add a last mini-batch only when m % mini_batch_size != 0)"
        else:
            hint = "all mini-batches hold mini_batch_size examples, except a smaller last one"
        raise Mismatch(f"wrong mini-batch sizes{said}; {hint}")


def check_each_example_once(m: int, order: list[int], reveal: bool = True) -> None:
    missing, repeated = m - len(set(order)), len(order) - len(set(order))
    if missing or repeated:
        said = [f"{n} {what}" if reveal else f"some {what}" for n, what in
                ((missing, "examples are missing"), (repeated, "examples are repeated")) if n]
        raise Mismatch(f"every example must appear exactly once; {' and '.join(said)}")


def check_paired(Y: np.ndarray, batches, order: list[int]) -> None:
    Y_found = np.concatenate([Y_t for _, Y_t in batches], axis=1)
    if not np.array_equal(Y_found, Y[:, order]):
        raise Mismatch("X and Y are no longer paired: shuffle X and Y with the same permutation")


def check_mini_batches(X: np.ndarray, Y: np.ndarray, size: int, batches, reveal: bool = True) -> list[int]:
    """Raise :class:`Mismatch` unless ``batches`` cut the columns of X (n_x, m) and Y (n_y, m) into mini-batches
    of the sizes :func:`mini_batch_sizes` gives, every example exactly once, each x with its own y; return the
    examples' order (column indices of X). Whether they are shuffled is the caller's to check. (Exercise 4
    scores these rules as separate parts; exercise 8 needs all of them before it trains on the mini-batches.)"""
    order = example_order(X, Y.shape[0], batches, reveal)
    check_sizes(X.shape[1], size, batches, reveal)
    check_each_example_once(X.shape[1], order, reveal)
    check_paired(Y, batches, order)
    return order


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
    the inputs (None: do not report "was not updated"); ``mistakes`` (description -> key -> array) names
    wrong values of the keys it has;
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
                others = f", and its {' and '.join(names[1:])}" if names[1:] else ""
                raise Mismatch(f"{what}[{key!r}] was not updated: {optimizer} updates every parameter (W, b, gamma, "
                               f"beta) the same way{others}")
            named = {d: m[key] for d, m in (mistakes or {}).items() if key in m}
            check_array(got[key], want[key], f"{what}[{key!r}]", reveal=reveal, rtol=1e-7, atol=1e-10,
                        mistakes=named, nan_hint=nan_hint)


def stepwise_part(name: str, what: str, index: int, found: Sequence[tuple], before: Sequence[tuple],
                  rule: Callable[[int, str], np.ndarray], reveal: bool, only: tuple[str, ...] | None, optimizer: str,
                  nan_hint: str, mistakes: Callable[[int], dict] | None = None) -> Part:
    """A :class:`Part` that holds when, at every step k, the learner's result dict ``index`` (``what``: "v",
    "parameters", ...) of ``found[k]`` has ``rule(k, key)`` for each key of ``before[k][index]`` (that step's input).

    ``rule`` may use the learner's own other results of step k (so a wrong v costs v's part, not the update's);
    a KeyError, TypeError or ValueError from it (those results are unusable) fails the part saying so.
    ``mistakes(k)`` names wrong values (description -> key -> array).
    """
    def judge():
        for k, step in enumerate(found):
            old = before[k][index]
            try:
                want = {key: rule(k, key) for key in old}
            except (KeyError, TypeError, ValueError):
                raise Mismatch(f"{what} cannot be checked: a result it is computed from is wrong "
                               "(see the other parts)") from None
            named = mistakes(k) if mistakes else None
            compare_dicts((what,), (step[index],), (want,), (old if k == 0 else None,), reveal, only, named,
                          optimizer, nan_hint)
    return Part(name, judge)


def require_float64(found: Any, what: str) -> None:
    """Raise :class:`Mismatch` if ``found`` is a float array of lower precision than float64 (float32, float16).

    Its values are then off by round-off (about 1e-7 relative for float32), which a values check would report
    as a wrong result; the dtype is the mistake to name. Anything else is left to :func:`check_array`.
    """
    if isinstance(found, np.ndarray) and found.dtype.kind == "f" and found.dtype.itemsize < 8:
        raise Mismatch(f"{what} is {found.dtype}: keep float64 (numpy's default) all the way; float32 rounds every "
                       "entry to about 7 digits. Did an np.float32 or .astype(np.float32) slip in?")
