"""Exercise 8: training the network of exercise 7, then predicting with the running averages.

``model(X, Y, layers_dims, optimizer="adam", learning_rate=0.01, mini_batch_size=64, num_epochs=10, seed=0, ...)
-> (parameters, running, costs)``: the lecture's loop, for each epoch the mini-batches of the learner's own
``random_mini_batches(X, Y, mini_batch_size, seed + epoch)`` (a mini-batch of one example skipped), forward
with each mini-batch's statistics, backward, the running averages of each hidden layer's mu and sigma^2, and
an update with the learner's gradient descent, momentum, RMSprop or Adam (t counting steps).
``predict(X, parameters, running, activation="relu") -> labels``: eval mode, with the running averages.

Any seeded shuffle is right in exercise 4, so the checks ask the learner's own ``random_mini_batches`` for the
mini-batches of each epoch (plain data back) and run bnlab's reference loop on exactly those, once they are
checked to be what exercise 4 asks for: a partition of X's columns, each with its own column of Y, of
mini_batch_size examples each but a smaller last one (else that check fails and says to fix exercise 4:
m batches of one example would leave the reference nothing to train). A ``model`` that returns the
parameters it started from is named as such. When the learner's run differs, the grader reruns the
reference with each common mistake (no reshuffle, running averages of Z_tilde, t counting epochs, ...) and
names the one that matches.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

import bnlab
from bnlab.grading.checks.kit import (Mismatch, Part, Unchanged, as_float_array, check_array, check_mini_batches,
                                      describe, mini_batches_of, parts_check_verdict, unchanged_inputs, unchanged_part,
                                      unpack, value_of, verdict)
from bnlab.grading.core.spec import Call, Check, Exercise, Outcome, Ref
from bnlab.grading.core.student_inputs import case_rng

FUNCTIONS = ("L_model_forward", "L_model_backward", "random_mini_batches", "update_parameters_with_momentum",
             "update_parameters_with_rmsprop", "update_parameters_with_adam", "model", "predict")
EXERCISE = Exercise(id="ex08", notebook="ex08_training.ipynb", functions=FUNCTIONS,
                    title="Training the network with Batch Norm")
EPS = 1e-5
BETA_HINT = ("parameters['beta1'], ... are Batch Norm's beta parameters, (n, 1) arrays the optimizer updates; "
             "the optimizer's beta hyperparameters are model's numbers momentum_beta, beta1 and beta2")

MISTAKES = {  # variant of the reference loop -> how the feedback names it
    "no_reshuffle": "the mini-batches of the first epoch reused in every epoch: reshuffle each epoch "
                    "(random_mini_batches with seed + epoch)",
    "running_of_Z_tilde": "running averages of the mean and variance of Z_tilde; average the mini-batch "
                          "statistics of Z, the ones Batch Norm normalized with",
    "running_not_updated": "running averages that never change: fold each mini-batch's mu and var into them "
                           "after every forward pass",
    "running_decay_swapped": "running = (1 - decay) * running + decay * mu: the old average keeps the weight decay",
    "running_unbiased_var": "running averages of the unbiased variance 1/(m-1); Batch Norm normalized with the "
                            "biased 1/m",
    "t_counts_epochs": "Adam's t counting epochs: t is the number of update steps so far (it grows every mini-batch)",
    "t_off_by_one": "Adam's t one step ahead: t is 1 at the first update, 2 at the second, ...",
    "default_hyperparameters": "the optimizer's default hyperparameters: pass model's momentum_beta, beta1, beta2 "
                               "and epsilon on to it (the optimizer's betas, not Batch Norm's beta parameters)",
    "one_example_batch_kept": "a step on a mini-batch of one example: its variance is 0, so skip it "
                              "(Batch Norm cannot normalize one example)",
}


@dataclass(frozen=True)
class TrainCase:
    """Seeded digits-like data X (n_x, m), one-hot Y (K, m) and the hyperparameters of one ``model`` call."""

    seed: int
    layers_dims: tuple[int, ...] = (4, 5, 3)
    m: int = 20
    hyper: dict = field(default_factory=dict)  # keyword arguments of model (defaults of the signature otherwise)

    def get(self, name: str):
        defaults = {"optimizer": "adam", "learning_rate": 0.01, "mini_batch_size": 64, "num_epochs": 10,
                    "seed": 0, "activation": "relu", "momentum_beta": 0.9, "beta1": 0.9, "beta2": 0.999,
                    "epsilon": 1e-8, "running_decay": 0.9, "batchnorm": True, "weight_scale": None}
        return self.hyper.get(name, defaults[name])

    def inputs(self) -> tuple[np.ndarray, np.ndarray]:
        rng = case_rng(self.seed)
        K = self.layers_dims[-1]
        labels = rng.integers(0, K, self.m)
        centres = rng.standard_normal((self.layers_dims[0], K)) * 2
        X = centres[:, labels] + rng.standard_normal((self.layers_dims[0], self.m))
        return X, np.eye(K)[:, labels]

    def calls(self, copy_check: bool = False) -> list[Call]:
        X, Y = self.inputs()
        batches = [Call("random_mini_batches", (X, Y), {"mini_batch_size": self.get("mini_batch_size"),
                                                       "seed": self.get("seed") + epoch}, key=f"batches{epoch}")
                   for epoch in range(self.get("num_epochs"))]
        return batches + [Call("model", (X, Y, list(self.layers_dims)), dict(self.hyper), key="model",
                               copy_check=copy_check)]

    def network(self) -> bnlab.Network:
        """The network model starts from (its initial parameters)."""
        g = self.get
        return bnlab.Network(list(self.layers_dims), activation=g("activation"), batchnorm=g("batchnorm"),
                             seed=g("seed"), weight_scale=g("weight_scale"), eps=EPS, running_decay=g("running_decay"))

    def run(self, batches: list[list[tuple[np.ndarray, np.ndarray]]], variant: str | None = None):
        """bnlab's loop on the learner's mini-batches (or with the mistake ``variant``):
        (parameters, running, costs)."""
        g = self.get
        net = self.network()
        v, s = bnlab.initialize_velocity(net.parameters), bnlab.initialize_rmsprop(net.parameters)
        costs, t = [], 0
        for epoch in range(g("num_epochs")):
            for X_t, Y_t in batches[0 if variant == "no_reshuffle" else epoch]:
                if X_t.shape[1] < 2 and g("batchnorm") and variant != "one_example_batch_kept":
                    continue
                running_before = dict(net.running)
                cost, grads = net.loss_and_grads(X_t, Y_t, update_running=True)
                if variant in ("running_of_Z_tilde", "running_not_updated", "running_decay_swapped",
                               "running_unbiased_var"):
                    net.running = self._running_variant(variant, running_before, net.parameters, X_t)
                costs.append(cost)
                t += 1
                step_t = {"t_counts_epochs": epoch + 1, "t_off_by_one": t + 1}.get(variant, t)
                net.parameters = self._update(net.parameters, grads, v, s, step_t, variant)
        return net.parameters, net.running, costs

    def _running_variant(self, variant: str, running: dict, parameters: dict, X_t: np.ndarray) -> dict:
        """The running averages after one mini-batch as the mistake ``variant`` computes them (bnlab's layers)."""
        running, decay, A = dict(running), self.get("running_decay"), X_t
        for l in range(1, len(self.layers_dims) - 1):
            Z = parameters[f"W{l}"] @ A
            Z_tilde, _ = bnlab.batchnorm_forward(Z, parameters[f"gamma{l}"], parameters[f"beta{l}"], EPS)
            A, _ = bnlab.activation_forward(Z_tilde, self.get("activation"))
            source = Z_tilde if variant == "running_of_Z_tilde" else Z
            mu, var = source.mean(axis=1, keepdims=True), source.var(axis=1, keepdims=True)
            if variant == "running_unbiased_var":
                var = var * Z.shape[1] / max(Z.shape[1] - 1, 1)
            if variant == "running_decay_swapped":
                running[f"mu{l}"] = (1 - decay) * running[f"mu{l}"] + decay * mu
                running[f"var{l}"] = (1 - decay) * running[f"var{l}"] + decay * var
            elif variant != "running_not_updated":
                running[f"mu{l}"], running[f"var{l}"] = bnlab.update_running_averages(
                    running[f"mu{l}"], running[f"var{l}"], mu, var, decay)
        return running

    def _update(self, parameters, grads, v, s, t, variant=None):
        g, optimizer = self.get, self.get("optimizer")
        if variant == "default_hyperparameters":  # the model's arguments not passed on to the optimizer
            g = {"learning_rate": g("learning_rate"), "momentum_beta": 0.9, "beta1": 0.9, "beta2": 0.999,
                 "epsilon": 1e-8}.get
        if optimizer == "gd":
            return bnlab.update_parameters_with_gd(parameters, grads, g("learning_rate"))
        if optimizer == "momentum":
            new, new_v = bnlab.update_parameters_with_momentum(parameters, grads, v, g("learning_rate"),
                                                               g("momentum_beta"))
            v.update(new_v)
            return new
        if optimizer == "rmsprop":
            new, new_s = bnlab.update_parameters_with_rmsprop(parameters, grads, s, g("learning_rate"), g("beta2"),
                                                              g("epsilon"))
            s.update(new_s)
            return new
        with np.errstate(all="ignore"):  # t = 0 (a mistake's variant) divides by zero
            new, new_v, new_s = bnlab.update_parameters_with_adam(parameters, grads, v, s, t, g("learning_rate"),
                                                                  g("beta1"), g("beta2"), g("epsilon"))
        v.update(new_v)
        s.update(new_s)
        return new


def learner_batches(outputs, case: TrainCase, reveal: bool) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    """The learner's mini-batches of every epoch, checked to be what exercise 4 asks for (a partition of the
    columns of X with Y paired, of the sizes mini_batch_size gives), or :class:`Mismatch` saying to fix it."""
    X, Y = case.inputs()
    epochs = []
    for epoch in range(case.get("num_epochs")):
        try:
            batches = mini_batches_of(outputs, f"batches{epoch}", reveal)
            check_mini_batches(X, Y, case.get("mini_batch_size"), batches, reveal)
        except Mismatch as failure:
            if failure.outcome is not Outcome.FAILED:
                raise  # not implemented yet: say so, not that the result is wrong
            raise Mismatch("your random_mini_batches (repeated from exercise 4) is wrong, and model is checked on "
                           f"its mini-batches: fix exercise 4 first ({failure})") from None
        epochs.append(batches)
    return epochs


def _untrained(parameters, case: TrainCase) -> bool:
    """Whether ``parameters`` are (all of) the ones ``model`` starts from: no training step changed them."""
    initial = case.network().parameters
    return isinstance(parameters, dict) and set(parameters) == set(initial) and \
        all(_same(parameters[k], initial[k]) for k in initial)


def _same(found, expected) -> bool:
    try:
        check_array(found, expected, "x", reveal=False, rtol=1e-6, atol=1e-9)
        return True
    except Mismatch:
        return False


class _Variants:
    """The reference loop rerun with each mistake of MISTAKES that applies to the case, computed once, on demand."""

    def __init__(self, case: TrainCase, batches):
        self.case, self.batches, self._runs = case, batches, None

    def all(self) -> dict:
        if self._runs is None:
            self._runs = {}
            for name in MISTAKES:
                if (name.startswith("t_") and self.case.get("optimizer") != "adam") or \
                        (name.startswith("running") and not self.case.get("batchnorm")):
                    continue
                try:
                    self._runs[name] = self.case.run(self.batches, name)
                except Exception:  # noqa: BLE001 - a mistake's run that fails names nothing; the check goes on
                    continue
        return self._runs


def _compare_dict(found, expected: dict, what: str, reveal: bool, variants) -> None:
    if not isinstance(found, dict):
        raise Mismatch(f"{what} must be a dict of arrays; found {describe(found, reveal)}")
    missing = [k for k in expected if k not in found]
    if missing:
        raise Mismatch((f"{what} has no key {missing[0]!r}" if reveal else f"{what} misses some keys")
                       + (": running holds mu1, var1, ... for every hidden layer" if what == "running"
                          else ": parameters holds W1, gamma1, beta1, ..., WL, bL"))
    for key, want in expected.items():
        if not _same(found[key], want):
            named = [name for name, other in variants().items() if key in other and _same(found[key], other[key])]
            if named:
                raise Mismatch(f"{what}[{key!r}] has the wrong values; they match {MISTAKES[named[0]]}")
            check_array(found[key], want, f"{what}[{key!r}]", reveal=reveal)


def run_parts(found, case: TrainCase, batches, reveal: bool) -> list[Part]:
    """Three parts of the learner's ``(parameters, running, costs)`` against the reference loop on the learner's own
    mini-batches: the costs of every step (a quarter), the trained parameters (half; three quarters without Batch
    Norm) and the running averages (a quarter; Batch Norm only)."""
    parameters, running, costs = unpack(found, 3, "model", "(parameters, running, costs)", reveal)
    expected = case.run(batches)
    if _untrained(parameters, case):
        raise Mismatch("parameters are those model started from: no step changed them. Train: for each epoch, "
                       "for each mini-batch, forward, backward, then update the parameters with the optimizer")
    variants = _Variants(case, batches)  # the mistakes' runs, made only if a comparison fails

    def check_costs():
        if not isinstance(costs, (list, tuple, np.ndarray)):
            raise Mismatch(f"costs must be a list with the cost of every step; found {describe(costs, reveal)}")
        try:
            found_costs = np.asarray(list(costs), dtype=object).astype(np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise Mismatch("costs must hold one number (the mini-batch cost) per step") from None
        want = np.asarray(expected[2])
        named = lambda: [n for n, v in variants.all().items()  # noqa: E731
                         if len(v[2]) == found_costs.size and _same(found_costs, np.asarray(v[2]))]
        if found_costs.shape != want.shape:
            hint = f"; they match {MISTAKES[named()[0]]}" if named() else \
                " (one per mini-batch step, over all epochs, skipping mini-batches of one example)"
            said = f": expected {want.size}, found {found_costs.size}" if reveal else ""
            raise Mismatch(f"costs has the wrong number of steps{said}{hint}")
        if not _same(found_costs, want):
            if named():
                raise Mismatch(f"costs have the wrong values; they match {MISTAKES[named()[0]]}")
            check_array(found_costs, want, "costs", reveal=reveal)

    def check_dict(what: str, index: int):
        return lambda: _compare_dict((parameters, running)[index], expected[index], what, reveal,
                                     lambda: {n: v[index] for n, v in variants.all().items()})

    if not case.get("batchnorm"):  # no running averages to score: running must still be a dict
        check_dict("running", 1)()
        return [Part("costs", check_costs), Part("parameters", check_dict("parameters", 0), 3)]
    return [Part("costs", check_costs), Part("parameters", check_dict("parameters", 0), 2),
            Part("running averages", check_dict("running", 1))]


def model_check(name: str, points: float, visibility: str, description: str, case: TrainCase,
                unchanged: Unchanged | None = None) -> Check:
    """The learner's model against the reference loop, scored by :func:`run_parts` (with ``unchanged``, a part worth
    the three: X and Y are left as they were); mini-batches that are not a partition fail the check."""
    reveal = visibility == "public"

    def verify(outputs):
        def judge():
            batches = learner_batches(outputs, case, reveal)
            try:
                found = value_of(outputs, "model", "model", reveal)
            except Mismatch as failure:
                if failure.outcome is not Outcome.FAILED:
                    raise  # not implemented yet: say so, not that the result is wrong
                if re.search(r"parameters\[.beta\d", str(failure)):  # the traceback shows the learner's line
                    raise Mismatch(f"{failure}\n{BETA_HINT}") from None
                raise
            parts = run_parts(found, case, batches, reveal)
            if unchanged:
                parts.append(unchanged_part(outputs, ["model"], "model", unchanged, reveal,
                                            sum(part.weight for part in parts), "X and Y unchanged"))
            return parts
        return parts_check_verdict(points, judge, "parameters, running averages and costs are correct")

    return Check(name, points, visibility, lambda: case.calls(bool(unchanged)), verify, description)


# --- predict ---

@dataclass(frozen=True)
class PredictCase:
    """Seeded parameters (with non-trivial gamma, beta), running averages and examples X (n_x, m)."""

    seed: int
    layers_dims: tuple[int, ...] = (4, 5, 3)
    m: int = 1
    activation: str = "relu"
    batchnorm: bool = True

    def inputs(self) -> tuple[np.ndarray, dict, dict]:
        rng = case_rng(self.seed)
        L = len(self.layers_dims) - 1
        parameters, running = {}, {}
        for l in range(1, L + 1):
            n, n_prev = self.layers_dims[l], self.layers_dims[l - 1]
            parameters[f"W{l}"] = rng.standard_normal((n, n_prev))
            if l < L and self.batchnorm:
                parameters[f"gamma{l}"] = rng.uniform(0.5, 2.0, (n, 1))
                parameters[f"beta{l}"] = rng.uniform(-1.0, 1.0, (n, 1))
                running[f"mu{l}"] = rng.uniform(-1.0, 1.0, (n, 1))
                running[f"var{l}"] = rng.uniform(0.5, 3.0, (n, 1))
            else:
                parameters[f"b{l}"] = rng.uniform(-1.0, 1.0, (n, 1))
        X = rng.standard_normal((self.layers_dims[0], self.m))
        return X, parameters, running

    def network(self, parameters, running) -> bnlab.Network:
        net = bnlab.Network(list(self.layers_dims), activation=self.activation, batchnorm=self.batchnorm, eps=EPS)
        net.parameters = {k: v.copy() for k, v in parameters.items()}
        net.running = {k: v.copy() for k, v in running.items()}
        return net

    def expected(self) -> np.ndarray:
        X, parameters, running = self.inputs()
        return self.network(parameters, running).predict(X)

    def mistakes(self) -> dict[str, np.ndarray]:
        X, parameters, running = self.inputs()
        net = self.network(parameters, running)
        found = {}
        if not self.batchnorm:
            return found
        if self.m >= 2:
            AL, _ = net.forward(X, train=True, update_running=False)
            found["batch statistics at test time: predict in eval mode, with the running averages"] = AL.argmax(0)
        no_eps = self.network(parameters, {k: (v - EPS if k.startswith("var") else v) for k, v in running.items()})
        found["the running variance without epsilon: use sqrt(running var + eps)"] = no_eps.predict(X)
        return found

    def scores(self) -> np.ndarray:
        """The softmax probabilities of the reference (to skip examples whose top two classes tie)."""
        X, parameters, running = self.inputs()
        return self.network(parameters, running).forward(X, train=False, update_running=False)[0]


def predict_check(name: str, points: float, visibility: str, description: str, case: PredictCase,
                  unchanged: Unchanged | None = None) -> Check:
    reveal = visibility == "public"

    def calls():
        X, parameters, running = case.inputs()
        return [Call("predict", (X, parameters, running), {"activation": case.activation}, key="predict",
                     copy_check=bool(unchanged))]

    def verify(outputs):
        def judge():
            found = value_of(outputs, "predict", "predict", reveal)
            found = as_float_array(found, "the result of predict", reveal)
            expected = case.expected().astype(np.float64)
            if found.shape in ((1, case.m), (case.m, 1)):
                found = found.reshape(-1)
            if found.shape == (3, case.m) or found.shape == (case.layers_dims[-1], case.m):
                raise Mismatch("predict returns one class label per example (the argmax over the classes, axis=0), "
                               "not the probabilities")
            if case.m == 1 and found.shape != expected.shape:
                raise Mismatch("predict must work for one example and return its label as an array of shape (1,)")
            check_array(found, expected, "the result of predict", reveal=reveal, mistakes=case.mistakes(),
                        nan_hint="a division by zero? The running variance needs its epsilon too, inside the root")
            if unchanged:
                return unchanged_inputs(outputs, "predict", "predict", unchanged, reveal)
            return "the labels are those of eval mode, with the running averages"
        return verdict(judge)

    return Check(name, points, visibility, calls, verify, description)


# --- The pasted network ---

def _network_check() -> Check:
    rng = np.random.default_rng(1500)
    X, Y = rng.standard_normal((4, 6)), np.eye(3)[:, rng.integers(0, 3, 6)]
    net = bnlab.Network([4, 5, 3], activation="relu", batchnorm=True, seed=1500)
    net.parameters["gamma1"] = rng.uniform(0.5, 1.5, (5, 1))
    net.parameters["beta1"] = rng.uniform(-0.5, 0.5, (5, 1))
    parameters = {k: v.copy() for k, v in net.parameters.items()}
    expected_AL = net.forward(X, train=True, update_running=False)[0]
    expected_grads = net.loss_and_grads(X, Y, update_running=False)[1]

    def calls():
        return [Call("L_model_forward", (X, parameters), {"activation": "relu"}, key="fwd", returns=(0,)),
                Call("L_model_backward", (Ref("fwd", 0), Y, Ref("fwd", 1)), {"activation": "relu"}, key="bwd")]

    def verify(outputs):
        def judge():
            AL = unpack(value_of(outputs, "fwd", "L_model_forward"), 2, "L_model_forward", "(AL, caches)")[0]
            try:
                check_array(AL, expected_AL, "AL")
                grads = value_of(outputs, "bwd", "L_model_backward")
                if not isinstance(grads, dict) or set(grads) != set(expected_grads):
                    raise Mismatch("L_model_backward must return the dict dW1, dgamma1, dbeta1, dW2, db2")
                for key, want in expected_grads.items():
                    check_array(grads[key], want, f"grads[{key!r}]")
            except Mismatch as failure:
                if failure.outcome is not Outcome.FAILED:
                    raise  # not implemented yet: say so, not that the result is wrong
                raise Mismatch(f"your network (pasted from exercise 7) is wrong: fix exercise 7 first ({failure})") \
                    from None
            return "your network of exercise 7 works"
        return verdict(judge)

    return Check("network_from_exercise_7", 1, "public", calls, verify,
                 "your L_model_forward and L_model_backward (pasted from exercise 7) give the right AL and gradients")


PUBLIC_CHECKS: list[Check] = [
    _network_check(),
    model_check("gradient_descent_three_epochs", 2, "public",
                "gradient descent, 3 epochs of mini-batches of 8 from 20 examples, network 4-5-3: parameters, "
                "running averages and costs",
                TrainCase(seed=1501, hyper={"optimizer": "gd", "learning_rate": 0.1, "mini_batch_size": 8,
                                            "num_epochs": 3})),
    model_check("adam_three_epochs", 2, "public",
                "Adam, 3 epochs of mini-batches of 8 from 20 examples, network 4-5-3: t counts steps",
                TrainCase(seed=1502, hyper={"optimizer": "adam", "learning_rate": 0.01, "mini_batch_size": 8,
                                            "num_epochs": 3})),
    predict_check("predict_one_example", 1, "public",
                  "predict works for one example, with the running averages (eval mode), and leaves them unchanged",
                  PredictCase(seed=1503, m=1), unchanged=Unchanged(("X", "parameters", "running"),
                                                                   "eval mode only reads the running averages")),
    predict_check("predict_a_batch", 1, "public", "predict on 7 examples in eval mode: labels of shape (7,)",
                  PredictCase(seed=1504, m=7)),
]
