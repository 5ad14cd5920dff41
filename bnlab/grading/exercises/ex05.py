"""Exercise 5: momentum and RMSprop on a Batch Norm network's W, gamma, beta (and the output b).

``update_parameters_with_momentum(parameters, grads, v, learning_rate, momentum_beta=0.9) -> (parameters, v)``
``update_parameters_with_rmsprop(parameters, grads, s, learning_rate, beta2=0.999, epsilon=1e-8) -> (parameters, s)``

The two halves of Adam (exercise 6) on their own, with bnlab's keys and reference functions.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import bnlab
from bnlab.grading.exercises.kit import Unchanged, compare_dicts, dict_results, random_dicts, unchanged_inputs, verdict
from bnlab.grading.shared.spec import Call, Check, Exercise, Ref
from bnlab.grading.shared.student_inputs import case_rng

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

    def mistakes(self) -> dict[str, dict[str, np.ndarray]]:
        """New parameters common mistakes would give (single-step cases), by description."""
        if self.steps != 1:
            return {}
        parameters, (grads,), state = self.inputs()
        lr = self.learning_rate
        if self.rule == "momentum":
            b = self.hyper.get("momentum_beta", 0.9)
            rules = {"v = momentum_beta * v + dW, without the factor (1 - momentum_beta)":
                         lambda p, g, v: p - lr * (b * v + g),
                     "an update with the gradient instead of v": lambda p, g, v: p - lr * g}
        else:
            b2, eps = self.hyper.get("beta2", 0.999), self.hyper.get("epsilon", 1e-8)
            new_s = lambda g, s: b2 * s + (1 - b2) * g**2  # noqa: E731
            rules = {"epsilon inside the square root; use sqrt(s) + epsilon":
                         lambda p, g, s: p - lr * g / np.sqrt(new_s(g, s) + eps),
                     "a division by s instead of by its square root":
                         lambda p, g, s: p - lr * g / (new_s(g, s) + eps)}
        with np.errstate(all="ignore"):
            return {d: {k: rule(p, grads["d" + k], state["d" + k]) for k, p in parameters.items()}
                    for d, rule in rules.items()}


def step_check(name: str, points: float, visibility: str, description: str, case: StepCase,
               only: tuple[str, ...] | None = None, unchanged: Unchanged | None = None) -> Check:
    """The two dicts after the case's last step equal bnlab's (``only``: keys with these prefixes)."""
    reveal = visibility == "public"

    def verify(outputs):
        def judge():
            for k in range(case.steps):
                found = dict_results(outputs, f"step{k}", case.function, case.names, reveal)
            parameters, _, state = case.inputs()
            before = (parameters, state) if case.steps == 1 else (None, None)
            optimizer = "momentum" if case.rule == "momentum" else "RMSprop"
            compare_dicts(case.names, found, case.expected(), before, reveal, only, case.mistakes(), optimizer,
                          NAN_HINT)
            if unchanged:
                return unchanged_inputs(outputs, "step0", case.function, unchanged, reveal)
            return f"{' and '.join(case.names)} are correct"
        return verdict(judge)

    return Check(name, points, visibility, lambda: case.calls(copy_check=bool(unchanged)), verify, description)


PUBLIC_CHECKS: list[Check] = [
    step_check("momentum_step", 2, "public",
               "momentum from a non-zero v, learning_rate = 0.1, network 4-5-3-2: parameters and v",
               StepCase("momentum", seed=1101, fresh=False)),
    step_check("rmsprop_first_step", 2, "public",
               "RMSprop from s = 0, learning_rate = 0.1, network 4-5-3-2: parameters and s",
               StepCase("rmsprop", seed=1102)),
]
