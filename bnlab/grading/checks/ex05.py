"""Exercise 5: momentum and RMSprop on a Batch Norm network's W, gamma, beta (and the output b).

``update_parameters_with_momentum(parameters, grads, v, learning_rate, momentum_beta=0.9) -> (parameters, v)``
``update_parameters_with_rmsprop(parameters, grads, s, learning_rate, beta2=0.999, epsilon=1e-8) -> (parameters, s)``

The two halves of Adam (exercise 6) on their own, with bnlab's keys and reference functions.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import bnlab
from bnlab.grading.checks.kit import (Part, Unchanged, dict_results, parts_check_verdict, random_dicts, stepwise_part,
                                      unchanged_part)
from bnlab.grading.core.spec import Call, Check, Exercise, Ref
from bnlab.grading.core.student_inputs import case_rng

FN_MOMENTUM = "update_parameters_with_momentum"
FN_RMSPROP = "update_parameters_with_rmsprop"
EXERCISE = Exercise(id="ex05", notebook="ex05_momentum_rmsprop.ipynb", functions=(FN_MOMENTUM, FN_RMSPROP),
                    title="Momentum and RMSprop on W, gamma and beta")
RULES = {  # rule -> (function, names of the returned dicts, bnlab's reference)
    "momentum": (FN_MOMENTUM, ("parameters", "v"), bnlab.update_parameters_with_momentum),
    "rmsprop": (FN_RMSPROP, ("parameters", "s"), bnlab.update_parameters_with_rmsprop),
}
NAN_HINT = "a division by zero? RMSprop divides by sqrt(s) + epsilon, with epsilon outside the square root"


@dataclass(frozen=True)
class StepCase:
    """Seeded parameters, gradients (one set per step) and the optimizer's state (zeros when ``fresh``)."""

    rule: str
    seed: int
    layer_dims: tuple[int, ...] = (4, 5, 3, 2)
    fresh: bool = True
    steps: int = 1
    grad_scale: float = 1.0
    learning_rate: float = 0.1
    hyper: dict = field(default_factory=dict)

    @property
    def function(self) -> str:
        return RULES[self.rule][0]

    @property
    def names(self) -> tuple[str, str]:
        return RULES[self.rule][1]

    def inputs(self) -> tuple[dict, list[dict], dict]:
        rng = case_rng(self.seed)
        parameters = random_dicts(rng, self.layer_dims)
        grads = [{"d" + k: g for k, g in random_dicts(rng, self.layer_dims, self.grad_scale).items()}
                 for _ in range(self.steps)]
        if self.fresh:
            state = {k: np.zeros_like(g) for k, g in grads[0].items()}
        else:  # momentum: a running mean of gradients; RMSprop: of squared gradients (positive)
            scale = 0.5 * self.grad_scale ** (2 if self.rule == "rmsprop" else 1)
            state = {"d" + k: x for k, x in
                     random_dicts(rng, self.layer_dims, scale, positive=self.rule == "rmsprop").items()}
        return parameters, grads, state

    def calls(self, copy_check: bool = False) -> list[Call]:
        parameters, grads, state = self.inputs()
        calls = [Call(self.function, (parameters, grads[0], state, self.learning_rate), dict(self.hyper),
                      key="step0", copy_check=copy_check)]
        for k in range(1, self.steps):
            previous = f"step{k - 1}"
            calls.append(Call(self.function, (Ref(previous, 0), grads[k], Ref(previous, 1), self.learning_rate),
                              dict(self.hyper), key=f"step{k}"))
        return calls

    def expected(self) -> tuple[dict, dict]:
        parameters, grads, state = self.inputs()
        reference = RULES[self.rule][2]
        for k in range(self.steps):
            parameters, state = reference(parameters, grads[k], state, self.learning_rate, **self.hyper)
        return parameters, state

    def hyperparameters(self) -> tuple[float, float]:
        """momentum_beta (momentum) or beta2 (RMSprop), and epsilon (RMSprop; 0 for momentum)."""
        if self.rule == "momentum":
            return self.hyper.get("momentum_beta", 0.9), 0.0
        return self.hyper.get("beta2", 0.999), self.hyper.get("epsilon", 1e-8)


STATE_PARTS = {"momentum": "v = momentum_beta * v + (1 - momentum_beta) * dW",
               "rmsprop": "s = beta2 * s + (1 - beta2) * dW**2"}
UPDATE_PARTS = {"momentum": "update W - learning_rate * v",
                "rmsprop": "update W - learning_rate * dW / (sqrt(s) + epsilon)"}


def step_parts(outputs, case: StepCase, reveal: bool, only: tuple[str, ...] | None) -> list[Part]:
    """Two parts, each judged at every step from the learner's own previous results: the new state (v or s),
    and the update of the parameters from the learner's own new state (so a wrong state costs only its part)."""
    parameters, grads, state = case.inputs()
    found = [dict_results(outputs, f"step{k}", case.function, case.names, reveal) for k in range(case.steps)]
    before = [(parameters, state)] + found  # the inputs of each step
    beta, eps = case.hyperparameters()
    lr, power = case.learning_rate, 2 if case.rule == "rmsprop" else 1
    optimizer = "momentum" if case.rule == "momentum" else "RMSprop"

    def new_state(k: int, d: str) -> np.ndarray:
        return beta * before[k][1][d] + (1 - beta) * grads[k][d] ** power

    def learner_state(k: int, name: str) -> np.ndarray:
        x = found[k][1]["d" + name]
        if not isinstance(x, np.ndarray) or x.shape != before[k][0][name].shape:
            raise ValueError(name)
        return x.astype(np.float64)

    def update(k: int, name: str) -> np.ndarray:
        p, g = before[k][0][name], grads[k]["d" + name]
        if case.rule == "momentum":
            return p - lr * learner_state(k, name)
        return p - lr * g / (np.sqrt(learner_state(k, name)) + eps)

    def mistakes(k: int) -> dict[str, dict[str, np.ndarray]]:
        """New parameters common update mistakes would give from the learner's own new state, by description."""
        olds = before[k][1]
        if case.rule == "momentum":
            rules = {"an update with the gradient instead of v": lambda p, g, x, old: p - lr * g}
        else:
            rules = {"epsilon inside the square root; use sqrt(s) + epsilon":
                         lambda p, g, x, old: p - lr * g / np.sqrt(x + eps),
                     "a division by s instead of by its square root": lambda p, g, x, old: p - lr * g / (x + eps),
                     "the previous s in the update; use the new one":
                         lambda p, g, x, old: p - lr * g / (np.sqrt(old) + eps)}
        out = {}
        with np.errstate(all="ignore"):
            for description, rule in rules.items():
                try:
                    out[description] = {n: rule(p, grads[k]["d" + n], learner_state(k, n), olds["d" + n])
                                        for n, p in before[k][0].items()}
                except (KeyError, ValueError):
                    pass
        return out

    def state_mistakes(k: int) -> dict[str, dict[str, np.ndarray]]:
        old, g = before[k][1], grads[k]
        if case.rule == "momentum":
            return {"v = momentum_beta * v + dW, without the factor (1 - momentum_beta)":
                    {d: beta * old[d] + g[d] for d in old}}
        return {"an average of the gradient, not of its square dW**2":
                    {d: beta * old[d] + (1 - beta) * g[d] for d in old},
                "an average of |dW|, not of its square dW**2":
                    {d: beta * old[d] + (1 - beta) * np.abs(g[d]) for d in old}}

    return [stepwise_part(STATE_PARTS[case.rule], case.names[1], 1, found, before, new_state, reveal, only, optimizer,
                          NAN_HINT, state_mistakes),
            stepwise_part(UPDATE_PARTS[case.rule], "parameters", 0, found, before, update, reveal, only, optimizer,
                          NAN_HINT, mistakes)]


def step_check(name: str, points: float, visibility: str, description: str, case: StepCase,
               only: tuple[str, ...] | None = None, unchanged: Unchanged | None = None) -> Check:
    """The two dicts of each step of the case, scored in two parts (:func:`step_parts`; ``only``: keys with these
    prefixes); with ``unchanged``, a third part worth the other two: the first call leaves its inputs as
    they were."""
    reveal = visibility == "public"

    def verify(outputs):
        def parts():
            found = step_parts(outputs, case, reveal, only)
            if unchanged:
                # half the check: it is what this check is about
                found.append(unchanged_part(outputs, ["step0"], case.function, unchanged, reveal, 2))
            return found
        return parts_check_verdict(points, parts, f"{' and '.join(case.names)} are correct")

    return Check(name, points, visibility, lambda: case.calls(copy_check=bool(unchanged)), verify, description)


PUBLIC_CHECKS: list[Check] = [
    step_check("momentum_step", 2, "public",
               "momentum from a non-zero v, learning_rate = 0.1, network 4-5-3-2: parameters and v",
               StepCase("momentum", seed=1101, fresh=False)),
    step_check("rmsprop_first_step", 2, "public",
               "RMSprop from s = 0, learning_rate = 0.1, network 4-5-3-2: parameters and s",
               StepCase("rmsprop", seed=1102)),
]
