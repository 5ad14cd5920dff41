"""Helpers every exercise's ``verify`` uses: read a call's outcome, compare arrays, explain mistakes.

They turn "the numbers differ" into a message a learner can act on: expected vs. found shape, a
transposed or wrongly reduced result, NaN/inf, and, when the found values match a known mistake
(computed by the exercise in the grader), the name of that mistake.

``reveal=False`` (hidden checks) keeps shapes and numbers out of every message, so a hidden check's
feedback never shows its inputs.
"""
from __future__ import annotations

import builtins
import re
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from bnlab.grading.shared.spec import CallOutcome, Verdict

NOT_IMPLEMENTED = "not implemented yet"
NAN_HINT = ("a division by zero, or by the square root of a variance of 0? That is what epsilon is for, "
            "inside the square root")


class Mismatch(Exception):
    """A learner result that fails a check; its message is the feedback."""


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
        error = outcome.error or "unknown error"
        if "NotImplementedError" in error:
            raise Mismatch(f"{function}: {NOT_IMPLEMENTED}")
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
        return Verdict(False, str(failure))
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
