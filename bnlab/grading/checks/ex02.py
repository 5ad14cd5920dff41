"""Exercise 2: ``batchnorm_backward_steps(dZ_tilde, cache)`` (node by node through the forward pass's graph)
and ``batchnorm_backward(dZ_tilde, cache)`` (the compact form derived from it), each -> ``(dZ, dgamma, dbeta)``.

Graded with the cache of the learner's own ``batchnorm_forward`` (repeated in a graded cell of the
notebook): each check calls the learner's forward, keeps its cache in the learner's process
(``Ref("fwd", 1)``) and passes it to the learner's backward. The expected gradients come from
bnlab's reference forward and backward on the same inputs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import bnlab
from bnlab.grading.checks.kit import BATCHNORM_FORWARD as FN_FORWARD
from bnlab.grading.checks.kit import (BNCase, Mismatch, Part, Unchanged, check_array, forward_values_check,
                                      parts_check_verdict, unchanged_part, unpack, value_of, verdict)
from bnlab.grading.core.spec import Call, Check, Exercise, Outcome, Ref
from bnlab.grading.core.student_inputs import case_rng

FN = "batchnorm_backward"
FN_STEPS = "batchnorm_backward_steps"
EXERCISE = Exercise(id="ex02", notebook="ex02_batchnorm_backward.ipynb", functions=(FN_FORWARD, FN_STEPS, FN),
                    title="Batch Norm backward pass")
FORWARD_WRONG = "your forward pass is wrong: fix ex01 first (your batchnorm_forward, repeated here, gives {})"
GRADIENTS = ("dZ", "dgamma", "dbeta")
WEIGHTS = {"dZ": 2, "dgamma": 1, "dbeta": 1}  # a check's shares: dZ is the derivation, the sums are one line each


@dataclass(frozen=True)
class BackwardCase:
    """A forward case plus the upstream gradient dZ_tilde (n, m), seeded from the same seed."""

    forward: BNCase
    dscale: float = 1.0

    def dZ_tilde(self) -> np.ndarray:
        rng = case_rng(self.forward.seed + 1000)
        return self.dscale * rng.standard_normal((self.forward.n, self.forward.m))

    def calls(self, copy_check: bool = False, function: str = FN) -> list[Call]:
        return [self.forward.call("fwd"),
                Call(function, (self.dZ_tilde(), Ref("fwd", 1)), key="bwd", copy_check=copy_check)]

    def expected(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        Z, gamma, beta = self.forward.inputs()
        _, cache = bnlab.batchnorm_forward(Z, gamma, beta, eps=self.forward.eps_used)
        return bnlab.batchnorm_backward(self.dZ_tilde(), cache)

    def mistakes(self) -> dict[str, dict[str, np.ndarray]]:
        """What common mistakes would return, per gradient name (to name them in feedback)."""
        Z, gamma, beta = self.forward.inputs()
        _, cache = bnlab.batchnorm_forward(Z, gamma, beta, eps=self.forward.eps_used)
        dZt, Z_norm, scale, m = self.dZ_tilde(), cache.Z_norm, gamma * cache.inv_std, Z.shape[1]
        dbeta = dZt.sum(axis=1, keepdims=True)
        dgamma = (dZt * Z_norm).sum(axis=1, keepdims=True)
        return {
            "dZ": {
                "a dZ without the term through the mean (- dbeta / m)": scale * (dZt - Z_norm * dgamma / m),
                "a dZ without the term through the variance (- Z_norm * dgamma / m)": scale * (dZt - dbeta / m),
                "a dZ with only the direct path gamma / sqrt(var + eps) * dZ_tilde": scale * dZt,
                "a dZ not multiplied by gamma": cache.inv_std * (dZt - (dbeta + Z_norm * dgamma) / m),
                "a dZ with a sign error in the variance term": scale * (dZt - (dbeta - Z_norm * dgamma) / m),
                "a dZ that divides by m - 1 instead of m": scale * (dZt - (dbeta + Z_norm * dgamma) / (m - 1)),
            },
            "dgamma": {
                "dbeta: dgamma is the sum of dZ_tilde * Z_norm": dbeta,
                "the sum of dZ_tilde * Z (use Z_norm)": (dZt * Z).sum(axis=1, keepdims=True),
            },
            "dbeta": {"dgamma: dbeta is the sum of dZ_tilde over the examples": dgamma},
        }


def backward_result(outputs, reveal: bool = True, key: str = "bwd", function: str = FN) -> tuple:
    """The learner's (dZ, dgamma, dbeta), or :class:`Mismatch`."""
    return unpack(value_of(outputs, key, function, reveal), 3, function, "(dZ, dgamma, dbeta)", reveal)


def forward_is_right(outputs, case: BNCase, reveal: bool) -> None:
    """Raise :class:`Mismatch` saying to fix exercise 1 if the learner's repeated forward is wrong."""
    try:
        forward_values_check_result(outputs, case, reveal)
    except Mismatch as failure:
        if failure.outcome is not Outcome.FAILED:
            raise  # not implemented yet: say so, not that the result is wrong
        raise Mismatch(FORWARD_WRONG.format(failure)) from None


def forward_values_check_result(outputs, case: BNCase, reveal: bool) -> None:
    Z_tilde, _ = unpack(value_of(outputs, "fwd", FN_FORWARD, reveal), 2, FN_FORWARD, "(Z_tilde, cache)", reveal)
    check_array(Z_tilde, case.expected(), "Z_tilde", reveal=reveal, mistakes=case.mistakes())


def backward_check(name: str, points: float, visibility: str, description: str, case: BackwardCase,
                   which: tuple[str, ...] = GRADIENTS, rtol: float = 1e-6, atol: float = 1e-8,
                   unchanged: Unchanged | None = None, function: str = FN) -> Check:
    """The gradients named in ``which`` of ``function`` (the compact or the step-by-step backward) against bnlab's
    reference, each a part of the check (compared as a float64 array); with ``unchanged``, a part worth the
    gradients': dZ_tilde is left as it was. A wrong forward pass fails the whole check (the gradients come from
    its cache)."""
    reveal = visibility == "public"

    def verify(outputs):
        def parts():
            forward_is_right(outputs, case.forward, reveal)
            found = dict(zip(GRADIENTS, backward_result(outputs, reveal, function=function)))
            expected, mistakes = dict(zip(GRADIENTS, case.expected())), case.mistakes()

            def gradient(grad):
                return lambda: check_array(found[grad], expected[grad], grad, reveal=reveal, rtol=rtol, atol=atol,
                                           mistakes=mistakes[grad])
            scored = [Part(grad, gradient(grad), WEIGHTS[grad]) for grad in which]
            if unchanged:
                scored.append(unchanged_part(outputs, ["bwd"], function, unchanged, reveal,
                                             sum(WEIGHTS[grad] for grad in which), "dZ_tilde unchanged"))
            return scored
        return parts_check_verdict(points, parts, f"{', '.join(which)} correct")

    return Check(name, points, visibility, lambda: case.calls(bool(unchanged), function), verify, description)


def compact_matches_steps_check(name: str, points: float, visibility: str, description: str,
                                case: BackwardCase) -> Check:
    """The compact form equals the learner's own step-by-step form on the same cache (and both are right)."""
    reveal = visibility == "public"

    def calls():
        return case.calls() + [Call(FN_STEPS, (case.dZ_tilde(), Ref("fwd", 1)), key="steps")]

    def verify(outputs):
        def judge():
            forward_is_right(outputs, case.forward, reveal)
            expected = dict(zip(GRADIENTS, case.expected()))
            steps = dict(zip(GRADIENTS, backward_result(outputs, reveal, "steps", FN_STEPS)))
            try:
                for grad in GRADIENTS:
                    check_array(steps[grad], expected[grad], grad, reveal=reveal)
            except Mismatch as failure:
                if failure.outcome is not Outcome.FAILED:
                    raise  # not implemented yet: say so, not that the result is wrong
                raise Mismatch(f"fix {FN_STEPS} first: the compact form is checked against it ({failure})") from None
            compact = dict(zip(GRADIENTS, backward_result(outputs, reveal)))
            for grad in GRADIENTS:
                try:
                    check_array(compact[grad], steps[grad], grad, reveal=reveal, mistakes=case.mistakes()[grad])
                except Mismatch as failure:
                    if failure.outcome is not Outcome.FAILED:
                        raise  # not implemented yet: say so, not that the result is wrong
                    raise Mismatch(f"your compact {FN} differs from your {FN_STEPS}, which is right: {failure}. "
                                   "Redo the substitution of section 2 step by step") from None
            return "the compact form gives the same gradients as the steps"
        return verdict(judge)

    return Check(name, points, visibility, calls, verify, description)


PUBLIC_CHECKS: list[Check] = [
    forward_values_check("forward_pass", 1, "public",
                         "your batchnorm_forward (repeated from exercise 1) gives the right Z_tilde",
                         BNCase(seed=300, n=3, m=4)),
    backward_check("steps_dgamma_and_dbeta", 1, "public",
                   "batchnorm_backward_steps: dgamma and dbeta match the reference for Z of shape (3, 5)",
                   BackwardCase(BNCase(seed=301, n=3, m=5)), which=("dgamma", "dbeta"), function=FN_STEPS),
    backward_check("steps_dZ", 2, "public", "batchnorm_backward_steps: dZ matches the reference for Z of shape (4, 6)",
                   BackwardCase(BNCase(seed=304, n=4, m=6)), which=("dZ",), function=FN_STEPS),
    backward_check("dgamma_and_dbeta", 1, "public", "dgamma and dbeta match the reference for Z of shape (3, 5)",
                   BackwardCase(BNCase(seed=302, n=3, m=5)), which=("dgamma", "dbeta")),
    backward_check("dZ", 2, "public", "dZ matches the reference for Z of shape (4, 6)",
                   BackwardCase(BNCase(seed=303, n=4, m=6)), which=("dZ",)),
    compact_matches_steps_check("compact_matches_steps", 1, "public",
                                "the compact form gives the same dZ, dgamma, dbeta as your step-by-step form",
                                BackwardCase(BNCase(seed=305, n=5, m=7))),
]
