"""The shape of an exercise and its checks: the contract between exercises and the grading engine.

An exercise names the functions a learner writes in cells that begin with ``# GRADED FUNCTION: <name>``.
A check is graded in two halves that never share a process:

1. ``calls()`` runs in the grader and builds, from a seeded ``numpy.random.Generator``, the inputs of
   the learner calls the check needs (a list of :class:`Call`). Only plain data goes to the learner.
2. The learner's process executes those calls and sends back plain data only (float arrays,
   numbers, strings, lists/tuples/dicts of them; see :mod:`bnlab.grading.sandbox.plain`).
3. ``verify(outputs)`` runs in the grader: it computes the expected values with bnlab's reference
   code and compares them with the plain outputs. It returns a :class:`Verdict`.

The same Check objects serve the in-notebook public checks (calls run in the kernel, still
converted to plain data first) and the isolated grader (calls run in a sandboxed process).

Each graded check ends with an :class:`Outcome`; the reports print from it, never from message text.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal
from collections.abc import Callable

Visibility = Literal["public", "hidden"]


class Outcome(str, Enum):
    """How a check ended. Its value is what results files store ("not implemented", ...)."""

    PASSED = "passed"                    # the check ran and verify accepted the learner's result
    FAILED = "failed"                    # the check ran and verify rejected the result (or could not read it)
    NOT_IMPLEMENTED = "not implemented"  # a function the check needs still raises NotImplementedError
    TIMED_OUT = "timed out"              # the learner's process hit the wall-clock limit: no check ran
    CRASHED = "crashed"                  # the learner's code did not run to the end (its process died, or a
                                         # graded cell raised or did not compile): no check ran
    REFUSED = "refused"                  # the grader would not run it (no or unreadable notebook, a graded
                                         # cell missing, bnlab imported): no check ran


@dataclass(frozen=True)
class Ref:
    """An argument that stands for the (opaque) result of an earlier call, kept in the learner's process.

    ``Ref("fwd", 1)`` is item 1 of the tuple returned by the call stored as ``"fwd"`` (for example the
    cache of the learner's own ``batchnorm_forward``); ``Ref("fwd")`` is the whole result.
    """

    key: str
    index: int | None = None


@dataclass(frozen=True)
class Call:
    """One call of a learner function, executed in the learner's process.

    function: the graded function's name.
    args, kwargs: plain data (numpy float arrays, numbers, str, bool, None, and lists/tuples/dicts of
        them) or :class:`Ref` to an earlier call's result.
    key: the name its result is stored under, both for later Refs and for ``verify``.
    returns: which parts of the result come back as plain data: ``None`` all of it, or a tuple of
        indices into a returned tuple (e.g. ``(0,)`` to send back Z_tilde but keep the cache opaque).
    copy_check: if True, the grader checks whether the call changed its arguments (``outputs[key].modified``
        lists the argument positions/names that changed): its numeric arrays are in the grader's shared
        memory, read back after the job (Linux), and the learner process also sends the arguments back
        (which also shows an entry rebound to a new array). All of a job's calls end before that read:
        an array a later call of the same job changes (through a cache holding it) counts as changed.
    """

    function: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    key: str = ""
    returns: tuple[int, ...] | None = None
    copy_check: bool = False


@dataclass
class CallOutcome:
    """What came back from one call: plain data or a description of the error."""

    ok: bool
    value: Any = None          # plain data (see bnlab.grading.sandbox.plain) when ok
    error: str = ""            # exception type and message, with the learner's trimmed traceback
    modified: tuple[str, ...] = ()  # arguments changed in place (when copy_check; decided by the grader)
    not_implemented: bool = False   # the function raised NotImplementedError (an untouched stub)
    kind: str = ""             # a failure's kind, one of engine.FAILURE_WORDS (never learner text)


@dataclass(frozen=True)
class Verdict:
    """A check's result. ``message`` is shown to the learner (for hidden checks: without inputs).

    ``outcome`` says why a check failed (FAILED or NOT_IMPLEMENTED); None lets the engine decide:
    NOT_IMPLEMENTED when the first of the check's calls that failed raised NotImplementedError.
    """

    passed: bool
    message: str = ""
    fraction: float | None = None  # partial credit in [0, 1]; None means all-or-nothing
    outcome: Outcome | None = None


@dataclass(frozen=True)
class Check:
    """One graded check worth ``points``; ``visibility`` decides who sees its details."""

    name: str
    points: float
    visibility: Visibility
    calls: Callable[[], list[Call]]
    verify: Callable[[dict[str, CallOutcome]], Verdict]
    description: str = ""  # one line a learner may see, also for hidden checks (no inputs in it)


@dataclass(frozen=True)
class Exercise:
    """An exercise notebook and the functions graded in it."""

    id: str                     # "ex01"
    notebook: str               # "ex01_batchnorm_forward.ipynb"
    functions: tuple[str, ...]  # graded function names, e.g. ("batchnorm_forward",)
    title: str = ""
