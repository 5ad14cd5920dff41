"""Exercise 3: ``layer_forward(A_prev, W, gamma, beta, activation) -> (A, cache)``.

One layer with Batch Norm: Z = W·A_prev (no b), Z̃ = BN_{γ,β}(Z), A = g(Z̃) with g in
{"relu", "sigmoid", "tanh"}. The learner's ``batchnorm_forward`` from exercise 1 is repeated in a
graded cell so ``layer_forward`` can call it. Expected values come from bnlab's linear, Batch Norm
and activation layers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import bnlab
from bnlab.grading.checks.kit import (Mismatch, Part, Unchanged, check_array, matching_variant, ordered_choices,
                                      parts_verdict, unchanged_part, unpack, value_of, variant_parts, verdict)
from bnlab.grading.checks.kit import BATCHNORM_FORWARD as FN_FORWARD
from bnlab.grading.core.spec import Call, Check, Exercise, Verdict
from bnlab.grading.core.student_inputs import case_rng

FN = "layer_forward"
EXERCISE = Exercise(id="ex03", notebook="ex03_layer_forward.ipynb", functions=(FN_FORWARD, FN),
                    title="A layer with Batch Norm")
ACTIVATIONS = ("relu", "sigmoid", "tanh")
_G = {"relu": lambda Z: np.maximum(Z, 0), "sigmoid": lambda Z: 1 / (1 + np.exp(-Z)), "tanh": np.tanh}


@dataclass(frozen=True)
class LayerCase:
    """Seeded inputs: A_prev (n_prev, m), W (n, n_prev) scaled by ``w_scale``, random γ, β (n, 1).

    zero_rows: units whose row of W is 0, so their Z is constant over the mini-batch (variance 0).
    """

    seed: int
    n: int
    n_prev: int
    m: int
    activation: str
    w_scale: float = 1.0
    zero_rows: tuple[int, ...] = ()

    def inputs(self) -> tuple:
        rng = case_rng(self.seed)
        A_prev = rng.standard_normal((self.n_prev, self.m))
        W = self.w_scale * rng.standard_normal((self.n, self.n_prev))
        W[list(self.zero_rows), :] = 0.0
        gamma = rng.uniform(0.5, 2.0, (self.n, 1))
        beta = rng.uniform(-1.0, 1.0, (self.n, 1))
        return A_prev, W, gamma, beta, self.activation

    def call(self, key: str, copy_check: bool = False) -> Call:
        return Call(FN, self.inputs(), key=key, copy_check=copy_check)

    def expected(self) -> np.ndarray:
        A_prev, W, gamma, beta, activation = self.inputs()
        Z, _ = bnlab.linear_forward(A_prev, W)
        Z_tilde, _ = bnlab.batchnorm_forward(Z, gamma, beta)
        A, _ = bnlab.activation_forward(Z_tilde, activation)
        return A

    def mistakes(self) -> dict[str, np.ndarray]:
        """What the common mistakes would return for these inputs (to name them in feedback)."""
        A_prev, W, gamma, beta, activation = self.inputs()
        with np.errstate(all="ignore"):  # sigmoid of a large |Z| (no Batch Norm) overflows harmlessly
            return self._mistakes(A_prev, W, gamma, beta, activation)

    @staticmethod
    def _mistakes(A_prev, W, gamma, beta, activation) -> dict[str, np.ndarray]:
        g = _G[activation]
        Z = W @ A_prev

        def bn(Z, gamma, beta):
            return bnlab.batchnorm_forward(Z, gamma, beta)[0]

        found = {
            "the activation applied before Batch Norm; the order is Z, then Batch Norm, then g": bn(g(Z), gamma, beta),
            "no Batch Norm: A = g(W A_prev)": g(Z),
            "beta used as a bias b before Batch Norm (where the mean subtraction cancels it) instead of "
            "as the shift after normalizing": g(bn(Z + beta, gamma, np.zeros_like(beta))),
            "no activation: A = Z_tilde": bn(Z, gamma, beta),
        }
        found.update({f"the {name} activation instead of {activation}": _G[name](bn(Z, gamma, beta))
                      for name in ACTIVATIONS if name != activation})
        return found


LAYER_PARTS = ("Batch Norm of Z = W A_prev, before g", "the activation g")


def layer_mistakes(activation: str) -> tuple[dict[int, str], dict[int, str]]:
    """The known mistakes of each of :data:`LAYER_PARTS` (choice -> description) for ``activation``."""
    others = [name for name in ACTIVATIONS if name != activation]
    return ({1: "no Batch Norm: A = g(W A_prev)",
             2: "the activation applied before Batch Norm; the order is Z, then Batch Norm, then g",
             3: "beta used as a bias b before Batch Norm (where the mean subtraction cancels it) instead of "
                "as the shift after normalizing",
             4: "a Batch Norm without epsilon in the square root: fix your batchnorm_forward (exercise 1) first"},
            {1: "no activation: A = Z_tilde",
             **{2 + i: f"the {name} activation instead of {activation}" for i, name in enumerate(others)},
             4: "a sigmoid with the wrong sign, 1 / (1 + exp(Z_tilde)); the sigmoid is 1 / (1 + exp(-Z_tilde))"})


def layer_variants(case: LayerCase) -> dict[tuple[int, int], np.ndarray]:
    """A for every combination of :data:`LAYER_PARTS` choices (0 = right), fewest mistakes first."""
    A_prev, W, gamma, beta, activation = case.inputs()
    others = [name for name in ACTIVATIONS if name != activation]
    gs = [_G[activation], lambda Z: Z, _G[others[0]], _G[others[1]], lambda Z: 1 / (1 + np.exp(Z))]
    Z = W @ A_prev

    def bn(Z, gamma, beta, eps=1e-5):
        mu, var = Z.mean(axis=1, keepdims=True), Z.var(axis=1, keepdims=True)
        return gamma * (Z - mu) / np.sqrt(var + eps) + beta

    out = {}
    with np.errstate(all="ignore"):
        for choices in ordered_choices([5, 5]):
            layer, g = choices[0], gs[choices[1]]
            out[choices] = (g(bn(Z, gamma, beta)), g(Z), bn(g(Z), gamma, beta),
                            g(bn(Z + beta, gamma, np.zeros_like(beta))), g(bn(Z, gamma, beta, 0.0)))[layer]
    return out


def layer_parts(found, case: LayerCase, what: str, reveal: bool) -> list[Part]:
    """The two :data:`LAYER_PARTS` of the learner's A on ``case`` (named ``what``), each right or naming its
    mistake; an A that is not an array of the right shape, or matches no combination, fails both."""
    names = [f"{what}: {part}" for part in LAYER_PARTS]
    try:
        A = np.asarray(found, dtype=np.float64) if isinstance(found, np.ndarray) and found.dtype.kind in "fiub" \
            else None
        if A is not None and A.shape == case.expected().shape:
            choices = matching_variant(A, layer_variants(case), rtol=1e-6, atol=1e-8)
            if choices is not None:
                return variant_parts(names, choices, layer_mistakes(case.activation))
        check_array(found, case.expected(), what, reveal=reveal, mistakes=case.mistakes())
        raise AssertionError("check_array accepted an A that matches no variant")  # the reference is variant 0
    except Mismatch as failure:
        message = str(failure)

        def fail():
            raise Mismatch(message)
        return [Part(name, fail) for name in names]


def layer_result(outputs, key: str, reveal: bool = True):
    """A of the learner's ``(A, cache)``, or :class:`Mismatch`."""
    A, _cache = unpack(value_of(outputs, key, FN, reveal), 2, FN, "(A, cache)", reveal)
    return A


def layer_check(name: str, points: float, visibility: str, description: str, *cases: LayerCase,
                unchanged: Unchanged | None = None) -> Check:
    """A of ``layer_forward`` on every case against bnlab's reference, two parts per case (:func:`layer_parts`);
    with ``unchanged``, a part worth the others: the inputs are kept."""
    reveal = visibility == "public"

    def verify(outputs):
        parts = []
        for i, case in enumerate(cases):
            what = f"A ({case.activation})" if len(cases) > 1 else "A"
            try:
                found = layer_result(outputs, f"layer{i}", reveal)
            except Mismatch as failure:  # not a tuple, an error, not implemented: no part of any case can be told
                return Verdict(False, str(failure), outcome=failure.outcome)
            parts += layer_parts(found, case, what, reveal)
        if unchanged:
            parts.append(unchanged_part(outputs, [f"layer{i}" for i in range(len(cases))], FN, unchanged, reveal,
                                        len(parts)))
        passed = "A = g(BN(W A_prev)) is correct" + (", inputs unchanged" if unchanged else "")
        return parts_verdict(points, parts, passed)

    return Check(name, points, visibility,
                 lambda: [c.call(f"layer{i}", copy_check=bool(unchanged)) for i, c in enumerate(cases)], verify,
                 description)


def _last_line(error: str) -> str:
    lines = error.strip().splitlines()
    return lines[-1] if lines else "an error"


def _unknown_activation_check() -> Check:
    """A valid call must be right (so a function that always raises earns nothing), an unknown name must raise."""
    valid = LayerCase(seed=502, n=2, n_prev=3, m=4, activation="tanh")
    unknown = LayerCase(seed=502, n=2, n_prev=3, m=4, activation="softplus")

    def verify(outputs):
        def judge():
            check_array(layer_result(outputs, "valid"), valid.expected(), "A", mistakes=valid.mistakes())
            outcome = outputs.get("unknown")
            if outcome is not None and not outcome.ok and "ValueError" in outcome.error:
                return "raises ValueError for an unknown activation"
            found = "it returned a result" if outcome is not None and outcome.ok else \
                f"it raised {_last_line(outcome.error) if outcome is not None else 'nothing'}"
            raise Mismatch("activation='softplus' must raise a ValueError that names the accepted values "
                           f"('relu', 'sigmoid', 'tanh'); {found}")
        return verdict(judge)

    return Check("unknown_activation", 1, "public", lambda: [valid.call("valid"), unknown.call("unknown")], verify,
                 "an activation other than relu, sigmoid or tanh raises ValueError (and a valid one works)")


PUBLIC_CHECKS: list[Check] = [
    layer_check("relu_layer", 2, "public", "A for activation='relu', W of shape (4, 3), 5 examples",
                LayerCase(seed=503, n=4, n_prev=3, m=5, activation="relu")),
    layer_check("sigmoid_and_tanh_layers", 2, "public",
                "A for activation='sigmoid' and activation='tanh', W of shape (3, 4), 6 examples",
                LayerCase(seed=504, n=3, n_prev=4, m=6, activation="sigmoid"),
                LayerCase(seed=505, n=3, n_prev=4, m=6, activation="tanh")),
    _unknown_activation_check(),
]
