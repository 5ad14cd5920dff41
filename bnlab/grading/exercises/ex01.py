"""Exercise 1: ``batchnorm_forward(Z, gamma, beta, eps=1e-5) -> (Z_tilde, cache)``.

The public checks below ship with the notebook (each also reports a wrong return type or shape);
the hidden ones (other shapes, m = 2, large |Z|, a constant unit, ε, inputs left unchanged) are in
``exercises/instructor/hidden/ex01.py``.
:class:`BNCase` and :func:`forward_values_check` are shared with those and with exercises 2 and 3.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import bnlab
from bnlab.grading.exercises.kit import (Mismatch, Unchanged, check_array, unchanged_inputs,
                                              unpack, value_of, verdict)
from bnlab.grading.shared.spec import Call, Check, Exercise

FN = "batchnorm_forward"
EXERCISE = Exercise(id="ex01", notebook="ex01_batchnorm_forward.ipynb", functions=(FN,),
                    title="Batch Norm forward pass")


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
        return Call(FN, self.inputs(), kwargs, key=key, copy_check=copy_check)

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
                "Batch Norm without epsilon": (Z - mu) / np.sqrt(var),
                "the default eps instead of the eps argument": (Z - mu) / np.sqrt(var + 1e-5),
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
    Z_tilde, _cache = unpack(value_of(outputs, key, FN, reveal), 2, FN, "(Z_tilde, cache)", reveal)
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
                return unchanged_inputs(outputs, "fwd", FN, unchanged, reveal)
            return "Z_tilde is correct"
        return verdict(judge)

    return Check(name, points, visibility, lambda: [case.call("fwd", copy_check=bool(unchanged))], verify,
                 description)


def _normalized_check() -> Check:
    case = BNCase(seed=102, n=3, m=5, identity=True)

    def verify(outputs):
        def judge():
            Z_tilde = forward_result(outputs)
            try:
                check_array(Z_tilde, case.expected(), "Z_tilde", mistakes=case.mistakes())
            except Mismatch as failure:
                if "they match" in str(failure) or "wrong values" not in str(failure):
                    raise  # a named mistake, or a wrong type/shape/NaN: that message says more
                means, variances = Z_tilde.mean(axis=1), Z_tilde.var(axis=1)
                if np.allclose(means, 0, atol=1e-7) and np.allclose(variances, 1, atol=1e-3):
                    raise
                raise Mismatch(
                    "with gamma = 1, beta = 0 each unit (row) of Z_tilde must have mean 0 and variance 1 over "
                    f"the examples; found row means {(np.round(means, 3) + 0.0).tolist()} and variances "
                    f"{(np.round(variances, 3) + 0.0).tolist()}. Compute mu and var with axis=1, keepdims=True"
                ) from None
            return "each unit has mean 0 and variance 1 over the mini-batch"
        return verdict(judge)

    return Check("normalizes_each_unit", 2, "public", lambda: [case.call("fwd")], verify,
                 "with gamma = 1, beta = 0, every unit (row) has mean 0 and variance 1 over the examples")


PUBLIC_CHECKS: list[Check] = [
    _normalized_check(),
    forward_values_check("scale_and_shift", 2, "public",
                         "Z_tilde = gamma * Z_norm + beta matches the reference for Z of shape (4, 6)",
                         BNCase(seed=103, n=4, m=6)),
]
