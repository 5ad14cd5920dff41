"""Exercise 7: the whole network with Batch Norm, forward and backward.

``layer_backward(dA, cache, activation) -> (dA_prev, dW, dgamma, dbeta)`` through Z = W A_prev (no b),
Batch Norm and g, with ``cache`` as the learner's ``layer_forward`` (exercise 3) returns it;
``L_model_forward(X, parameters, activation="relu") -> (AL, caches)``: hidden layers W -> BN -> g, the output
layer W, b then softmax, train mode; ``L_model_backward(AL, Y, caches, activation="relu") -> grads``: softmax
cross-entropy averaged over the mini-batch, grads dW1, dgamma1, dbeta1, ..., dWL, dbL.

The learner's batchnorm_forward, batchnorm_backward and layer_forward are repeated in graded cells; the
checks call them first and, when one is wrong, say which earlier exercise to fix. Expected values come
from bnlab's layers and :class:`bnlab.Network`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import bnlab
from bnlab.grading.checks.kit import (Mismatch, Part, Unchanged, check_array, describe, parts_check_verdict,
                                      unchanged_inputs, unchanged_part, unpack, value_of, verdict)
from bnlab.grading.core.spec import Call, Check, Exercise, Outcome, Ref
from bnlab.grading.core.student_inputs import case_rng

FUNCTIONS = ("batchnorm_forward", "batchnorm_backward", "layer_forward", "layer_backward", "L_model_forward",
             "L_model_backward")
EXERCISE = Exercise(id="ex07", notebook="ex07_network.ipynb", functions=FUNCTIONS,
                    title="The network with Batch Norm, forward and backward")
SOFTMAX_NAN = ("np.exp overflowed? Subtract each column's maximum from ZL before the exponential: the softmax is "
               "the same and exp never sees a large number")
_G = {"relu": lambda Z: np.maximum(Z, 0), "sigmoid": lambda Z: 1 / (1 + np.exp(-Z)), "tanh": np.tanh}
_DG = {"relu": lambda Z: (Z > 0).astype(float), "sigmoid": lambda Z: _G["sigmoid"](Z) * (1 - _G["sigmoid"](Z)),
       "tanh": lambda Z: 1 - np.tanh(Z) ** 2}


# --- One layer ---

@dataclass(frozen=True)
class LayerCase:
    """Seeded A_prev (n_prev, m), W (n, n_prev), gamma, beta (n, 1) and the upstream dA (n, m)."""

    seed: int
    n: int
    n_prev: int
    m: int
    activation: str = "relu"

    def inputs(self):
        rng = case_rng(self.seed)
        A_prev = rng.standard_normal((self.n_prev, self.m))
        W = rng.standard_normal((self.n, self.n_prev)) / np.sqrt(self.n_prev)
        gamma, beta = rng.uniform(0.5, 2.0, (self.n, 1)), rng.uniform(-1.0, 1.0, (self.n, 1))
        dA = rng.standard_normal((self.n, self.m))
        return A_prev, W, gamma, beta, dA

    def calls(self, copy_check: bool = False) -> list[Call]:
        A_prev, W, gamma, beta, dA = self.inputs()
        return [Call("layer_forward", (A_prev, W, gamma, beta, self.activation), key="fwd", returns=(0,)),
                Call("layer_backward", (dA, Ref("fwd", 1), self.activation), key="bwd", copy_check=copy_check)]

    def expected_A(self) -> np.ndarray:
        A_prev, W, gamma, beta, _ = self.inputs()
        return bnlab.layer_forward(A_prev, W, gamma, beta, self.activation)[0]

    def expected(self) -> dict[str, np.ndarray]:
        A_prev, W, gamma, beta, dA = self.inputs()
        _, cache = bnlab.layer_forward(A_prev, W, gamma, beta, self.activation)
        return dict(zip(("dA_prev", "dW", "dgamma", "dbeta"), bnlab.layer_backward(dA, cache)))

    def mistakes(self) -> dict[str, dict[str, np.ndarray]]:
        """What common mistakes return, per result (to name them in feedback)."""
        A_prev, W, gamma, beta, dA = self.inputs()
        m = A_prev.shape[1]
        Z = W @ A_prev
        Z_tilde, bn_cache = bnlab.batchnorm_forward(Z, gamma, beta)
        g_prime = _DG[self.activation]
        with np.errstate(all="ignore"):
            right = bnlab.batchnorm_backward(dA * g_prime(Z_tilde), bn_cache)[0]
            no_g = bnlab.batchnorm_backward(dA, bn_cache)[0]
            at_Z = bnlab.batchnorm_backward(dA * g_prime(Z), bn_cache)[0]
            skip_bn = dA * g_prime(Z_tilde)
        return {
            "dW": {"dW divided by m: the 1/m of the mean cost is already in dA (it entered once, in dZ[L])":
                       right @ A_prev.T / m,
                   "a dW from dZ_tilde: go back through Batch Norm first (batchnorm_backward gives dZ)":
                       skip_bn @ A_prev.T,
                   "a dW without the activation's derivative: dZ_tilde = dA * g'(Z_tilde)": no_g @ A_prev.T,
                   "g' taken at Z instead of at Z_tilde, the activation's input": at_Z @ A_prev.T},
            "dA_prev": {"a dA_prev from dZ_tilde: go back through Batch Norm first": W.T @ skip_bn,
                        "a dA_prev without the activation's derivative": W.T @ no_g,
                        "dA_prev divided by m: the 1/m is already in dA": W.T @ right / m},
        }


def _previous(outputs, key: str, function: str, exercise: str, expected: np.ndarray, reveal: bool,
              count: int = 2) -> None:
    """Raise :class:`Mismatch` naming the earlier exercise to fix if the learner's repeated function is wrong."""
    first = unpack(value_of(outputs, key, function, reveal), count, function, "(result, cache)", reveal)[0] \
        if count else value_of(outputs, key, function, reveal)
    try:
        check_array(first, expected, "its result", reveal=reveal)
    except Mismatch as failure:
        if failure.outcome is not Outcome.FAILED:
            raise  # not implemented yet: say so, not that the result is wrong
        raise Mismatch(f"your {function} (repeated from {exercise}) is wrong, so this cannot be right either: "
                       f"fix {exercise} first ({failure})") from None


def layer_backward_check(name: str, points: float, visibility: str, description: str, case: LayerCase,
                         unchanged: Unchanged | None = None) -> Check:
    """dA_prev, dW, dgamma, dbeta of the learner's layer_backward on their own layer_forward's cache, a part each
    (with ``unchanged``, a part worth the four: dA is left as it was); a wrong layer_forward fails the check."""
    reveal = visibility == "public"

    def verify(outputs):
        def judge():
            A = unpack(value_of(outputs, "fwd", "layer_forward", reveal), 2, "layer_forward", "(A, cache)", reveal)[0]
            try:
                check_array(A, case.expected_A(), "A", reveal=reveal)
            except Mismatch as failure:
                if failure.outcome is not Outcome.FAILED:
                    raise  # not implemented yet: say so, not that the result is wrong
                raise Mismatch("your layer_forward (repeated from exercise 3) is wrong, so its cache cannot give "
                               f"the right gradients: fix exercise 3 first ({failure})") from None
            found = unpack(value_of(outputs, "bwd", "layer_backward", reveal), 4, "layer_backward",
                           "(dA_prev, dW, dgamma, dbeta)", reveal)
            mistakes, expected = case.mistakes(), case.expected()

            def gradient(what, got):
                return lambda: check_array(got, expected[what], what, reveal=reveal, mistakes=mistakes.get(what))
            results = dict(zip(("dA_prev", "dW", "dgamma", "dbeta"), found))
            parts = [Part(what, gradient(what, results[what])) for what in ("dW", "dgamma", "dbeta", "dA_prev")]
            if unchanged:
                parts.append(unchanged_part(outputs, ["bwd"], "layer_backward", unchanged, reveal, len(parts),
                                            "dA unchanged"))
            return parts
        return parts_check_verdict(points, judge, "dA_prev, dW, dgamma and dbeta are correct")

    return Check(name, points, visibility, lambda: case.calls(copy_check=bool(unchanged)), verify, description)


# --- The whole network ---

@dataclass(frozen=True)
class NetCase:
    """Seeded X (n_x, m), one-hot Y (K, m) and parameters W1, gamma1, beta1, ..., WL, bL of ``layer_dims``.

    output_offset: added to bL, so that ZL is that large for every student's draw (with 1000, exp(ZL)
    overflows unless the softmax subtracts each column's maximum; large weights alone may not do it).
    """

    seed: int
    layer_dims: tuple[int, ...] = (5, 4, 3, 3)
    m: int = 6
    activation: str = "relu"
    weight_scale: float = 1.0
    batchnorm: bool = True  # False: hidden layers with b{l} and no Batch Norm
    output_offset: float = 0.0

    @property
    def L(self) -> int:
        return len(self.layer_dims) - 1

    def inputs(self) -> tuple[np.ndarray, np.ndarray, dict]:
        rng = case_rng(self.seed)
        X = rng.standard_normal((self.layer_dims[0], self.m))
        K = self.layer_dims[-1]
        Y = np.eye(K)[:, rng.integers(0, K, self.m)]
        parameters = {}
        for l in range(1, self.L + 1):
            n, n_prev = self.layer_dims[l], self.layer_dims[l - 1]
            parameters[f"W{l}"] = self.weight_scale * rng.standard_normal((n, n_prev)) / np.sqrt(n_prev)
            if l < self.L and self.batchnorm:
                parameters[f"gamma{l}"] = rng.uniform(0.5, 1.5, (n, 1))
                parameters[f"beta{l}"] = rng.uniform(-0.5, 0.5, (n, 1))
            else:
                parameters[f"b{l}"] = rng.uniform(-0.5, 0.5, (n, 1))
        parameters[f"b{self.L}"] += self.output_offset
        return X, Y, parameters

    def network(self) -> bnlab.Network:
        X, _, parameters = self.inputs()
        net = bnlab.Network(list(self.layer_dims), activation=self.activation, batchnorm=self.batchnorm)
        net.parameters = {name: value.copy() for name, value in parameters.items()}
        return net

    def expected_AL(self) -> np.ndarray:
        X, _, _ = self.inputs()
        return self.network().forward(X, train=True, update_running=False)[0]

    def expected_grads(self) -> dict[str, np.ndarray]:
        X, Y, _ = self.inputs()
        return self.network().loss_and_grads(X, Y, update_running=False)[1]

    def forward_call(self, copy_check: bool = False, returns=None) -> Call:
        X, _, parameters = self.inputs()
        return Call("L_model_forward", (X, parameters), {"activation": self.activation}, key="fwd",
                    returns=returns, copy_check=copy_check)

    def forward_mistakes(self) -> dict[str, np.ndarray]:
        X, _, parameters = self.inputs()
        if not self.batchnorm:
            return {}
        net = self.network()
        A = X
        for l in range(1, self.L):
            A = bnlab.layer_forward(A, parameters[f"W{l}"], parameters[f"gamma{l}"], parameters[f"beta{l}"],
                                    self.activation)[0]
        ZL = parameters[f"W{self.L}"] @ A + parameters[f"b{self.L}"]
        with np.errstate(all="ignore"):
            E0, E1 = np.exp(ZL - ZL.max(axis=0, keepdims=True)), np.exp(ZL - ZL.max(axis=1, keepdims=True))
            wrong_axis = "a softmax over the examples (axis=1); each column (example) sums to 1, so sum over axis=0"
            return {
                wrong_axis: E1 / E1.sum(axis=1, keepdims=True),
                wrong_axis + " ": E0 / E0.sum(axis=1, keepdims=True),
                "ZL without the softmax: AL holds probabilities": ZL,
                "a sigmoid output: with K classes the output is the softmax": 1 / (1 + np.exp(-ZL)),
                "the hidden activation applied to the output layer before the softmax":
                    bnlab.softmax(_G[self.activation](ZL)),
                "the output layer without bL": bnlab.softmax(ZL - parameters[f"b{self.L}"]),
                "eval mode: in training each mini-batch is normalized with its own mean and variance":
                    net.forward(X, train=False, update_running=False)[0],
            }


def AL_of(outputs, reveal: bool):
    return unpack(value_of(outputs, "fwd", "L_model_forward", reveal), 2, "L_model_forward", "(AL, caches)",
                  reveal)[0]


def forward_check(name: str, points: float, visibility: str, description: str, case: NetCase,
                  unchanged: Unchanged | None = None) -> Check:
    """AL of the learner's L_model_forward equals bnlab's train-mode forward."""
    reveal = visibility == "public"

    def verify(outputs):
        def judge():
            check_array(AL_of(outputs, reveal), case.expected_AL(), "AL", reveal=reveal,
                        mistakes=case.forward_mistakes(), nan_hint=SOFTMAX_NAN)
            if unchanged:
                return unchanged_inputs(outputs, "fwd", "L_model_forward", unchanged, reveal)
            return "AL is correct"
        return verdict(judge)

    return Check(name, points, visibility, lambda: [case.forward_call(bool(unchanged), returns=None)], verify,
                 description)


def _ratio_hint(found: np.ndarray, expected: np.ndarray, m: int) -> str:
    """Name a gradient that is off by the factor m (the 1/m of the mean cost missing or applied twice)."""
    if found.shape != expected.shape or not np.all(np.isfinite(found)) or not np.any(expected):
        return ""
    if np.allclose(found, m * expected, rtol=1e-6, atol=1e-10):
        return ("m times too large: the cost is the mean over the mini-batch, so dZ[L] = (AL - Y) / m; "
                "the 1/m enters there, once")
    if np.allclose(found, expected / m, rtol=1e-6, atol=1e-10):
        return "m times too small: the 1/m of the mean cost enters once, in dZ[L]; no layer divides by m again"
    return ""


def _gradient_group(key: str, case: NetCase) -> str:
    """The part a gradient belongs to: the output layer's dWL and dbL; with Batch Norm one kind (dW, dgamma,
    dbeta) of the hidden layers', without it the hidden layers' dW and db together."""
    kind, layer = key.rstrip("0123456789"), int(key[len(key.rstrip("0123456789")):])
    if layer == case.L:
        return "output layer dWL, dbL"
    return f"{kind} of the hidden layers" if case.batchnorm else "hidden layers dW, db"


def backward_check(name: str, points: float, visibility: str, description: str, case: NetCase,
                   only: tuple[str, ...] | None = None, unchanged: Unchanged | None = None) -> Check:
    """Every gradient of the learner's L_model_backward (after their own L_model_forward) against bnlab's, scored
    by :func:`_gradient_group` (with ``unchanged``, a part worth the others); a wrong AL or keys fail the check."""
    reveal = visibility == "public"

    def calls():
        _, Y, _ = case.inputs()
        return [case.forward_call(returns=(0,)),
                Call("L_model_backward", (Ref("fwd", 0), Y, Ref("fwd", 1)), {"activation": case.activation},
                     key="bwd", copy_check=bool(unchanged))]

    def verify(outputs):
        def judge():
            try:
                check_array(AL_of(outputs, reveal), case.expected_AL(), "AL", reveal=reveal,
                            mistakes=case.forward_mistakes())
            except Mismatch as failure:
                if failure.outcome is not Outcome.FAILED:
                    raise  # not implemented yet: say so, not that the result is wrong
                raise Mismatch(f"your L_model_forward is wrong, so the gradients cannot be right: fix it first "
                               f"({failure})") from None
            grads = value_of(outputs, "bwd", "L_model_backward", reveal)
            if not isinstance(grads, dict):
                raise Mismatch(f"L_model_backward must return a dict of gradients (dW1, dgamma1, dbeta1, ..., dWL, "
                               f"dbL); found {describe(grads, reveal)}")
            expected = case.expected_grads()
            missing = [k for k in expected if k not in grads]
            if missing:
                raise Mismatch((f"grads has no key {missing[0]!r}" if reveal else "grads misses some keys")
                               + ": every hidden layer l has dW{l}, dgamma{l}, dbeta{l}; the output layer dWL, dbL")
            extra = [k for k in grads if k not in expected]
            if extra:
                hint = (" (a hidden layer with Batch Norm has no b, so no db: beta takes its role)"
                        if any(k.startswith("db") and not k.startswith("dbeta") for k in extra) else "")
                raise Mismatch((f"grads has an unexpected key {extra[0]!r}" if reveal else "grads has unexpected keys")
                               + hint)

            def gradient(key):
                def judge_one():
                    got, want = grads[key], expected[key]
                    try:
                        check_array(got, want, f"grads[{key!r}]", reveal=reveal)
                    except Mismatch as failure:
                        if failure.outcome is not Outcome.FAILED:
                            raise  # not implemented yet: say so, not that the result is wrong
                        if isinstance(got, np.ndarray) and got.dtype.kind in "fiu":
                            hint = _ratio_hint(got.astype(np.float64), want, case.m)
                            if hint:
                                raise Mismatch(f"grads[{key!r}] is {hint}") from None
                        raise failure from None
                return judge_one

            def group(keys):
                def judge_group():
                    for key in keys:
                        gradient(key)()
                return judge_group

            groups: dict[str, list[str]] = {}
            for key in expected:
                if not only or any(key.startswith(prefix) for prefix in only):
                    groups.setdefault(_gradient_group(key, case), []).append(key)
            parts = [Part(name, group(keys)) for name, keys in groups.items()]
            if unchanged:
                parts.append(unchanged_part(outputs, ["bwd"], "L_model_backward", unchanged, reveal, len(parts)))
            return parts
        return parts_check_verdict(points, judge, "every gradient is correct")

    return Check(name, points, visibility, calls, verify, description)


# --- The repeated functions ---

def _repeated_forward_check() -> Check:
    rng = np.random.default_rng(1300)
    Z, gamma, beta = rng.standard_normal((3, 5)), rng.uniform(0.5, 2, (3, 1)), rng.uniform(-1, 1, (3, 1))
    dZ_tilde = rng.standard_normal((3, 5))

    def verify(outputs):
        def judge():
            _previous(outputs, "bn", "batchnorm_forward", "exercise 1",
                      bnlab.batchnorm_forward(Z, gamma, beta)[0], True)
            dZ = unpack(value_of(outputs, "bnb", "batchnorm_backward"), 3, "batchnorm_backward",
                        "(dZ, dgamma, dbeta)")[0]
            try:
                check_array(dZ, bnlab.batchnorm_backward(dZ_tilde, bnlab.batchnorm_forward(Z, gamma, beta)[1])[0], "dZ")
            except Mismatch as failure:
                if failure.outcome is not Outcome.FAILED:
                    raise  # not implemented yet: say so, not that the result is wrong
                raise Mismatch(f"your batchnorm_backward (repeated from exercise 2) is wrong: fix exercise 2 first "
                               f"({failure})") from None
            return "your batchnorm_forward and batchnorm_backward are right"
        return verdict(judge)

    return Check("batchnorm_from_exercises_1_and_2", 1, "public",
                 lambda: [Call("batchnorm_forward", (Z, gamma, beta), key="bn"),
                          Call("batchnorm_backward", (dZ_tilde, Ref("bn", 1)), key="bnb")], verify,
                 "your batchnorm_forward and batchnorm_backward (repeated from exercises 1 and 2) are right")


PUBLIC_CHECKS: list[Check] = [
    _repeated_forward_check(),
    layer_backward_check("layer_backward_relu", 2, "public",
                         "layer_backward on your own layer_forward's cache: W of shape (4, 3), 5 examples, relu",
                         LayerCase(seed=1301, n=4, n_prev=3, m=5)),
    forward_check("L_model_forward", 2, "public", "AL of a network 5-4-3-3 (relu, softmax output) on 6 examples",
                  NetCase(seed=1302)),
    backward_check("L_model_backward", 3, "public",
                   "every gradient of the network 5-4-3-3 (relu) on 6 examples, after your L_model_forward",
                   NetCase(seed=1303)),
    backward_check("without_batchnorm", 1, "public",
                   "a network 5-4-3-3 whose hidden layers have b and no Batch Norm: AL and every gradient",
                   NetCase(seed=1304, batchnorm=False)),
]
