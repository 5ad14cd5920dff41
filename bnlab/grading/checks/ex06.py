"""Exercise 6: ``update_parameters_with_adam(parameters, grads, v, s, t, learning_rate=0.01, beta1=0.9,
beta2=0.999, epsilon=1e-8) -> (parameters, v, s)`` for a Batch Norm network.

The keys are those of a Batch Norm network: ``W1, gamma1, beta1, …`` in the hidden layers (no b) and
``WL, bL`` in the output layer; ``grads``, ``v`` and ``s`` use the gradient names ``dW1, dgamma1, …``.
Expected values come from ``bnlab.update_parameters_with_adam`` at t = 1, 2 and later steps; one
check tests the bias correction at t = 1 on its own.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import bnlab
from bnlab.grading.checks.kit import (Mismatch, Part, Unchanged, compare_dicts, dict_results, ordered_choices,
                                      parts_check_verdict, random_dicts, require_float64, stepwise_part, unchanged_part,
                                      verdict)
from bnlab.grading.core.spec import Call, Check, Exercise, Ref
from bnlab.grading.core.student_inputs import case_rng

FN = "update_parameters_with_adam"
EXERCISE = Exercise(id="ex06", notebook="ex06_adam.ipynb", functions=(FN,), title="Adam on W, gamma and beta")
RESULTS = ("parameters", "v", "s")
NAN_HINT = ("a division by zero? The bias correction divides by 1 - beta1**t and 1 - beta2**t, which are 0 "
            "for t = 0: t counts steps from 1")


@dataclass(frozen=True)
class AdamCase:
    """Seeded parameters, gradients and Adam state at step ``t`` (zero state when t = 1).

    steps: how many consecutive steps t, t+1, … the learner's own outputs are chained through
    (each step with fresh gradients); hyper: keyword hyperparameters (defaults when empty).
    """

    seed: int
    layer_dims: tuple[int, ...] = (4, 5, 3, 2)
    t: int = 1
    steps: int = 1
    grad_scale: float = 1.0
    hyper: dict = field(default_factory=dict)

    def _random(self, rng, scale=1.0, positive=False) -> dict[str, np.ndarray]:
        return random_dicts(rng, self.layer_dims, scale, positive)

    def inputs(self) -> tuple[dict, list[dict], dict, dict]:
        """parameters, the gradients of each step, v and s (keys of v, s and grads start with "d")."""
        rng = case_rng(self.seed)
        parameters = self._random(rng)
        grads = [{"d" + k: g for k, g in self._random(rng, self.grad_scale).items()} for _ in range(self.steps)]
        if self.t == 1:
            v = {k: np.zeros_like(g) for k, g in grads[0].items()}
            s = {k: np.zeros_like(g) for k, g in grads[0].items()}
        else:  # a state as after t - 1 steps: v ~ recent gradients, s ~ their squares
            v = {"d" + k: x for k, x in self._random(rng, 0.5 * self.grad_scale).items()}
            s = {"d" + k: x for k, x in self._random(rng, 0.5 * self.grad_scale**2, positive=True).items()}
        return parameters, grads, v, s

    def calls(self, copy_check: bool = False) -> list[Call]:
        parameters, grads, v, s = self.inputs()
        calls = [Call(FN, (parameters, grads[0], v, s, self.t), dict(self.hyper), key="step0", copy_check=copy_check)]
        for k in range(1, self.steps):
            previous = f"step{k - 1}"
            calls.append(Call(FN, (Ref(previous, 0), grads[k], Ref(previous, 1), Ref(previous, 2), self.t + k),
                              dict(self.hyper), key=f"step{k}"))
        return calls

    def expected(self) -> tuple[dict, dict, dict]:
        """bnlab's (parameters, v, s) after the last step."""
        parameters, grads, v, s = self.inputs()
        for k in range(self.steps):
            parameters, v, s = bnlab.update_parameters_with_adam(parameters, grads[k], v, s, self.t + k, **self.hyper)
        return parameters, v, s

    def mistakes(self) -> dict[str, dict[str, np.ndarray]]:
        """New parameters the common mistakes would give (single-step cases only), by description."""
        if self.steps != 1:
            return {}
        parameters, (grads,), v, s = self.inputs()
        lr, b1, b2, eps = (self.hyper.get(k, d) for k, d in
                           (("learning_rate", 0.01), ("beta1", 0.9), ("beta2", 0.999), ("epsilon", 1e-8)))
        t, out = self.t, {}
        rules = {
            "Adam without bias correction": lambda vv, ss: vv / (np.sqrt(ss) + eps),
            "a bias correction with t + 1 (t is already the step number, 1 at the first step)":
                lambda vv, ss: (vv / (1 - b1 ** (t + 1))) / (np.sqrt(ss / (1 - b2 ** (t + 1))) + eps),
            "a bias correction with t - 1 (t starts at 1)":
                lambda vv, ss: (vv / (1 - b1 ** (t - 1))) / (np.sqrt(ss / (1 - b2 ** (t - 1))) + eps),
            "a hard-coded epsilon instead of the epsilon argument":
                lambda vv, ss: (vv / (1 - b1**t)) / (np.sqrt(ss / (1 - b2**t)) + 1e-8),
            "epsilon inside the square root; use sqrt(s_corrected) + epsilon":
                lambda vv, ss: (vv / (1 - b1**t)) / np.sqrt(ss / (1 - b2**t) + eps),
        }
        with np.errstate(all="ignore"):
            for description, rule in rules.items():
                out[description] = {}
                for name, p in parameters.items():
                    g = grads["d" + name]
                    vv, ss = b1 * v["d" + name] + (1 - b1) * g, b2 * s["d" + name] + (1 - b2) * g**2
                    out[description][name] = p - lr * rule(vv, ss)
        return out


def adam_results(outputs, key: str, reveal: bool = True) -> tuple[dict, dict, dict]:
    """The learner's (parameters, v, s) as dicts, or :class:`Mismatch`."""
    return dict_results(outputs, key, FN, RESULTS, reveal)


UPDATE_PARTS = ("bias correction with this step's t",
                "update p - learning_rate * v_corrected / (sqrt(s_corrected) + epsilon)")
UPDATE_MISTAKES = (
    {1: "Adam without bias correction: divide v and s by 1 - beta1**t and 1 - beta2**t",
     2: "a bias correction with t + 1 (t is already the step number, 1 at the first step)",
     3: "a bias correction with t - 1 (t counts steps from 1)"},
    {1: "a hard-coded epsilon instead of the epsilon argument",
     2: "epsilon inside the square root; use sqrt(s_corrected) + epsilon",
     3: "the step is added (gradient ascent); subtract it"},
)


def update_variants(p: np.ndarray, v: np.ndarray, s: np.ndarray, t: int, hyper: dict) -> dict[tuple, np.ndarray]:
    """The new parameter for each combination of :data:`UPDATE_PARTS` choices (0 = right), from the learner's
    own new ``v`` and ``s`` (so a wrong moment costs only its own part), fewest mistakes first."""
    lr, b1, b2, eps = (hyper.get(k, d) for k, d in
                       (("learning_rate", 0.01), ("beta1", 0.9), ("beta2", 0.999), ("epsilon", 1e-8)))
    out = {}
    with np.errstate(all="ignore"):
        for choices in ordered_choices([len(mistakes) + 1 for mistakes in UPDATE_MISTAKES]):
            correction, rule = choices
            power = (t, None, t + 1, t - 1)[correction]
            vc = v if power is None else v / (1 - b1**power)
            sc = s if power is None else s / (1 - b2**power)
            step = (vc / (np.sqrt(sc) + eps), vc / (np.sqrt(sc) + 1e-8), vc / np.sqrt(sc + eps),
                    -vc / (np.sqrt(sc) + eps))[rule]
            out[choices] = p - lr * step
    return out


def adam_parts(outputs, case: AdamCase, reveal: bool, only: tuple[str, ...] | None) -> list[Part]:
    """Four parts, each judged at every step from the learner's own previous results: the moments v and s,
    then the bias correction and the parameter update, both from the learner's own new v and s."""
    parameters, grads, v, s = case.inputs()
    found = [adam_results(outputs, f"step{k}", reveal) for k in range(case.steps)]
    before = [(parameters, v, s)] + found  # the inputs of each step
    for step in found:  # float32 would only show as round-off: name it first
        for what, returned in zip(RESULTS, step):
            for key, value in returned.items():
                require_float64(value, f"{what}[{key!r}]" if reveal else what)
    keys = [name for name in parameters if not only or name.startswith(only)]
    b1, b2 = case.hyper.get("beta1", 0.9), case.hyper.get("beta2", 0.999)

    def learner_variants(k: int) -> dict[str, dict[tuple, np.ndarray]] | None:
        """Step k's update variants per parameter from the learner's new v and s; None if they are unusable."""
        _, new_v, new_s = found[k]
        try:
            return {n: update_variants(before[k][0][n], np.asarray(new_v["d" + n], dtype=np.float64),
                                       np.asarray(new_s["d" + n], dtype=np.float64), case.t + k, case.hyper)
                    for n in keys}
        except (KeyError, TypeError, ValueError):
            return None

    def matched(k: int, variants) -> tuple | None:
        new_p = found[k][0]
        for choices in variants[keys[0]]:
            if all(isinstance(new_p.get(n), np.ndarray) and new_p[n].shape == variants[n][choices].shape
                   and np.isfinite(variants[n][choices]).all()
                   and np.allclose(new_p[n], variants[n][choices], rtol=1e-7, atol=1e-10) for n in keys):
                return choices
        return None

    choices_per_step = []
    for k in range(case.steps):
        variants = learner_variants(k)
        choices_per_step.append((variants, None if variants is None else matched(k, variants)))

    def update(part: int):
        def judge():
            for k, (variants, choices) in enumerate(choices_per_step):
                if variants is None:
                    raise Mismatch("the update cannot be checked: v or s is wrong (see their parts)")
                if choices is None:  # no known mistake explains it: say where it differs from the right update
                    want = {n: variants[n][(0, 0)] for n in keys}
                    want.update({n: before[k][0][n] for n in parameters if n not in want})
                    compare_dicts(("parameters",), (found[k][0],), (want,), (before[k][0] if k == 0 else None,),
                                  reveal, only, case.mistakes(), "Adam", NAN_HINT)
                    raise Mismatch("the new parameters differ from the update of your v and s")
                if choices[part] != 0:
                    raise Mismatch(UPDATE_MISTAKES[part][choices[part]])
        return judge

    def moment(name: str, index: int, beta: float, power: int) -> Part:
        return stepwise_part(name, RESULTS[index], index, found, before,
                             lambda k, d: beta * before[k][index][d] + (1 - beta) * grads[k][d] ** power,
                             reveal, only, "Adam", NAN_HINT)

    return [moment("v = beta1 * v + (1 - beta1) * dW", 1, b1, 1),
            moment("s = beta2 * s + (1 - beta2) * dW**2", 2, b2, 2),
            Part(UPDATE_PARTS[0], update(0)),
            Part(UPDATE_PARTS[1], update(1))]


def adam_check(name: str, points: float, visibility: str, description: str, case: AdamCase,
               only: tuple[str, ...] | None = None, unchanged: Unchanged | None = None) -> Check:
    """(parameters, v, s) of each step of the case, scored in four parts (:func:`adam_parts`; ``only``: keys with
    these prefixes); with ``unchanged``, a fifth part: the first call leaves its input dicts and arrays as they were."""
    reveal = visibility == "public"

    def verify(outputs):
        def parts():
            found = adam_parts(outputs, case, reveal, only)
            if unchanged:
                found.append(unchanged_part(outputs, ["step0"], FN, unchanged, reveal))
            return found
        return parts_check_verdict(points, parts, "parameters, v and s are correct")

    return Check(name, points, visibility, lambda: case.calls(copy_check=bool(unchanged)), verify, description)


def _bias_correction_check() -> Check:
    """At t = 1 from v = s = 0, the corrected step is learning_rate · g/(|g| + ε) ≈ learning_rate · sign(g)."""
    case = AdamCase(seed=901, t=1)
    learning_rate = 0.01

    def verify(outputs):
        def judge():
            found, _, _ = adam_results(outputs, "step0")
            parameters, (grads,), _, _ = case.inputs()
            for name, p in parameters.items():
                got, g = found.get(name), grads["d" + name]
                if not isinstance(got, np.ndarray) or got.shape != p.shape:
                    raise Mismatch(f"parameters[{name!r}] is missing or has the wrong shape")
                require_float64(got, f"parameters[{name!r}]")
                step = got.astype(np.float64) - p
                expected = -learning_rate * g / (np.abs(g) + 1e-8)   # v_corrected = g, s_corrected = g**2
                one_step_late = (-learning_rate * (0.1 * g / (1 - 0.9**2))
                                 / (np.sqrt(0.001 * g**2 / (1 - 0.999**2)) + 1e-8))
                if not np.allclose(step, expected, rtol=1e-6, atol=1e-12):
                    ratio = float(np.median(np.abs(step) / learning_rate))
                    if np.allclose(step, one_step_late, rtol=1e-6, atol=1e-12):
                        hint = (" (as with t + 1 in the bias correction: t is already the step number, 1 at the first "
                                "step; divide by 1 - beta1**t and 1 - beta2**t)")
                    elif abs(ratio - 0.1 / np.sqrt(0.001)) < 0.05:
                        hint = (" (about 3.16 = 0.1/sqrt(0.001): v and s are not bias-corrected; divide them by "
                                "1 - beta1**t and 1 - beta2**t)")
                    elif ratio == 0:
                        hint = f" ({name} was not updated: Adam updates gamma, beta and b exactly like W)"
                    elif not np.isfinite(ratio):
                        hint = f" ({NAN_HINT})"
                    else:
                        hint = ""
                    raise Mismatch(f"at t = 1 (v = s = 0) every parameter must move by about learning_rate "
                                   f"against its gradient; {name} moved by {ratio:.3g} x learning_rate{hint}")
            return "bias correction: the first step moves every parameter by learning_rate"
        return verdict(judge)

    return Check("bias_correction_at_t1", 1, "public", case.calls, verify,
                 "at t = 1 from v = s = 0 the bias-corrected step moves each parameter by learning_rate")


PUBLIC_CHECKS: list[Check] = [
    _bias_correction_check(),
    adam_check("first_step", 3, "public", "t = 1 from v = s = 0, network 4-5-3-2: parameters, v and s",
               AdamCase(seed=902, t=1)),
    adam_check("two_steps", 1, "public",
               "t = 1 then t = 2, the second step using the first step's results: parameters, v and s",
               AdamCase(seed=903, t=1, steps=2)),
]
