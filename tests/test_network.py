"""The L-layer network: parameter and gradient keys, whole-network gradient checks, train/eval modes."""
from __future__ import annotations

import numpy as np
import pytest

from bnlab import Network, check_network_gradients, one_hot
from conftest import GRAD_TOL, H, min_abs_activation_input, randomize_biases


def data(rng, n_x, m, output, K=3):
    X = rng.normal(size=(n_x, m))
    if output == "softmax":
        labels = rng.integers(0, K, m)
        return X, one_hot(labels, K), labels
    labels = rng.integers(0, 2, m)
    return X, labels[None, :].astype(float), labels


# --- parameters, running averages, gradient keys -------------------------------------------------------

def test_keys_and_shapes_with_batch_norm():
    net = Network([4, 5, 3, 2], batchnorm=True)
    assert list(net.parameters) == ["W1", "gamma1", "beta1", "W2", "gamma2", "beta2", "W3", "b3"]
    assert "b1" not in net.parameters and "b2" not in net.parameters  # absent, not zero
    expected = {"W1": (5, 4), "gamma1": (5, 1), "beta1": (5, 1), "W2": (3, 5), "gamma2": (3, 1),
                "beta2": (3, 1), "W3": (2, 3), "b3": (2, 1)}
    assert {k: v.shape for k, v in net.parameters.items()} == expected
    np.testing.assert_array_equal(net.parameters["gamma1"], 1.0)
    np.testing.assert_array_equal(net.parameters["beta2"], 0.0)
    np.testing.assert_array_equal(net.parameters["b3"], 0.0)
    assert ({k: v.shape for k, v in net.running.items()}
            == {"mu1": (5, 1), "var1": (5, 1), "mu2": (3, 1), "var2": (3, 1)})


def test_keys_and_shapes_without_batch_norm():
    net = Network([4, 5, 3, 2], batchnorm=False)
    assert list(net.parameters) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert net.parameters["b2"].shape == (3, 1)
    assert net.running == {}


@pytest.mark.parametrize("batchnorm", [True, False])
@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
def test_gradient_keys_match_the_parameters_exactly(rng, batchnorm, output):
    K = 3 if output == "softmax" else 1
    net = Network([4, 5, 3, K], batchnorm=batchnorm, output=output)
    X, Y, _ = data(rng, 4, 6, output)
    loss, grads = net.loss_and_grads(X, Y)
    assert np.isfinite(loss)
    assert list(grads) == [f"d{k}" for k in net.parameters]
    for k, p in net.parameters.items():
        assert grads[f"d{k}"].shape == p.shape
    if batchnorm:
        assert "db1" not in grads and "db2" not in grads and "db3" in grads


def test_weight_initialization_scale_and_seed():
    big = Network([200, 300, 10], activation="relu", batchnorm=False, seed=3)
    assert big.parameters["W1"].std() == pytest.approx(np.sqrt(2 / 200), rel=0.02)  # He for relu
    tanh_net = Network([200, 300, 10], activation="tanh", batchnorm=False, seed=3)
    assert tanh_net.parameters["W1"].std() == pytest.approx(np.sqrt(1 / 200), rel=0.02)
    custom = Network([200, 300, 10], weight_scale=0.01, seed=3)
    assert custom.parameters["W1"].std() == pytest.approx(0.01, rel=0.02)
    again = Network([200, 300, 10], activation="relu", batchnorm=False, seed=3)
    other = Network([200, 300, 10], activation="relu", batchnorm=False, seed=4)
    np.testing.assert_array_equal(again.parameters["W2"], big.parameters["W2"])
    assert not np.array_equal(other.parameters["W2"], big.parameters["W2"])


# --- whole-network gradient checks -----------------------------------------------------------------------

@pytest.mark.parametrize("batchnorm", [True, False], ids=["bn", "no_bn"])
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
def test_network_gradient_check(rng, batchnorm, activation, output):
    K = 3 if output == "softmax" else 1
    net = randomize_biases(Network([4, 5, 4, K], activation=activation, batchnorm=batchnorm, output=output, seed=7),
                           rng)
    X, Y, _ = data(rng, 4, 8, output)
    if activation == "relu":  # no activation input within 1e-4 of relu's kink (h is 1e-6)
        assert min_abs_activation_input(net, X) > 1e-4
    running_before = {k: v.copy() for k, v in net.running.items()}
    errors = check_network_gradients(net, X, Y, h=H)
    assert set(errors) == set(net.parameters)
    assert max(errors.values()) < GRAD_TOL, errors
    for k, v in running_before.items():  # the check must not move the running averages
        np.testing.assert_array_equal(net.running[k], v)


def test_network_with_no_hidden_layer(rng):
    # L = 1: only the output layer, which keeps W and b whether or not Batch Norm is asked for.
    for batchnorm in (True, False):
        net = Network([4, 3], batchnorm=batchnorm)
        assert list(net.parameters) == ["W1", "b1"]
        X, Y, labels = data(rng, 4, 6, "softmax")
        _, grads = net.loss_and_grads(X, Y)
        assert list(grads) == ["dW1", "db1"]
        assert max(check_network_gradients(net, X, Y, h=H).values()) < GRAD_TOL


# --- forward: train and eval modes ---------------------------------------------------------------------

def test_train_forward_matches_the_lecture_written_out(rng):
    net = randomize_biases(Network([3, 4, 2], activation="tanh", batchnorm=True), rng)
    p = net.parameters
    X = rng.normal(size=(3, 5))
    Z1 = p["W1"] @ X                                   # no b1
    Z1_norm = (Z1 - Z1.mean(axis=1, keepdims=True)) / np.sqrt(Z1.var(axis=1, keepdims=True) + 1e-5)
    A1 = np.tanh(p["gamma1"] * Z1_norm + p["beta1"])
    Z2 = p["W2"] @ A1 + p["b2"]
    expected = np.exp(Z2) / np.exp(Z2).sum(axis=0)
    AL, caches = net.forward(X, train=True)
    np.testing.assert_allclose(AL, expected, rtol=1e-12)
    np.testing.assert_allclose(caches[0].Z_tilde, p["gamma1"] * Z1_norm + p["beta1"], rtol=1e-12)


def test_train_mode_updates_running_averages_and_eval_mode_does_not(rng):
    net = Network([3, 4, 2], batchnorm=True, running_decay=0.9)
    X = rng.normal(loc=2.0, size=(3, 10))
    Z1 = net.parameters["W1"] @ X
    net.forward(X, train=True)
    np.testing.assert_allclose(net.running["mu1"], 0.1 * Z1.mean(axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(net.running["var1"], 0.9 + 0.1 * Z1.var(axis=1, keepdims=True), rtol=1e-12)
    snapshot = {k: v.copy() for k, v in net.running.items()}
    net.forward(X, train=False)
    net.predict(X)
    net.loss_and_grads(X, one_hot(np.zeros(10, int), 2), update_running=False)
    for k, v in snapshot.items():
        np.testing.assert_array_equal(net.running[k], v)


def test_eval_mode_uses_running_averages_not_the_batch(rng):
    net = randomize_biases(Network([3, 4, 4, 2], batchnorm=True), rng)
    X = rng.normal(loc=3.0, scale=2.0, size=(3, 12))  # statistics far from the initial running ones (0, 1)
    AL_train, _ = net.forward(X, train=True, update_running=False)
    AL_eval, _ = net.forward(X, train=False)
    assert np.abs(AL_train - AL_eval).max() > 1e-2
    # One example works in eval mode, and a column's output does not depend on the other columns.
    one, _ = net.forward(X[:, :1], train=False)
    np.testing.assert_allclose(one, AL_eval[:, :1], rtol=1e-12)
    # ... but it does depend on the running averages.
    net.running["mu1"] = net.running["mu1"] + 1.0
    shifted, _ = net.forward(X[:, :1], train=False)
    assert np.abs(shifted - one).max() > 1e-6


def test_backward_needs_train_mode_caches(rng):
    net = Network([3, 4, 2], batchnorm=True)
    X, Y, _ = data(rng, 3, 5, "softmax", K=2)
    _, caches = net.forward(X, train=False)
    with pytest.raises(ValueError, match="train-mode forward"):
        net.backward(Y, caches)
    _, caches = net.forward(X, train=True)
    assert list(net.backward(Y, caches)) == ["dW1", "dgamma1", "dbeta1", "dW2", "db2"]


def test_predict_and_accuracy(rng):
    net = randomize_biases(Network([3, 6, 4], batchnorm=True), rng)
    X = rng.normal(size=(3, 20))
    AL, _ = net.forward(X, train=False)
    predicted = net.predict(X)
    np.testing.assert_array_equal(predicted, AL.argmax(axis=0))
    assert net.accuracy(X, predicted) == 1.0
    wrong = (predicted + 1) % 4
    wrong[:5] = predicted[:5]
    assert net.accuracy(X, wrong) == pytest.approx(5 / 20)

    binary = randomize_biases(Network([3, 6, 1], output="sigmoid", batchnorm=False), rng)
    AL, _ = binary.forward(X, train=False)
    np.testing.assert_array_equal(binary.predict(X), (AL[0] > 0.5).astype(int))
    assert binary.accuracy(X, binary.predict(X)) == 1.0


def test_loss_defaults_to_eval_mode(rng):
    net = Network([3, 4, 2], batchnorm=True)
    X, Y, _ = data(rng, 3, 6, "softmax", K=2)
    net.running["mu1"] = rng.normal(size=(4, 1))
    train_loss, _ = net.loss_and_grads(X, Y, update_running=False)
    assert net.loss(X, Y, train=True) == pytest.approx(train_loss, rel=1e-14)
    assert net.loss(X, Y) != pytest.approx(train_loss, rel=1e-6)


@pytest.mark.parametrize("batchnorm", [True, False], ids=["bn", "no_bn"])
def test_float32_input_is_taken_as_float64(rng, batchnorm):
    net = Network([3, 4, 2], activation="sigmoid", batchnorm=batchnorm)
    X, Y, labels = data(rng, 3, 6, "softmax", K=2)
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    X = X32.astype(np.float64)
    AL, caches = net.forward(X32, update_running=False)
    assert AL.dtype == np.float64 and all(c.A.dtype == c.Z.dtype == np.float64 for c in caches)
    np.testing.assert_array_equal(AL, net.forward(X, update_running=False)[0])
    loss, grads = net.loss_and_grads(X32, Y32, update_running=False)
    expected_loss, expected = net.loss_and_grads(X, Y, update_running=False)
    assert loss == expected_loss
    for name, g in grads.items():
        assert g.dtype == np.float64
        np.testing.assert_array_equal(g, expected[name])
    np.testing.assert_array_equal(net.predict(X32), net.predict(X))


# --- bad input -----------------------------------------------------------------------------------------

def test_examples_as_rows_are_named(rng):
    net = Network([3, 4, 2])
    with pytest.raises(ValueError, match=r"X must have shape \(3, m\); got \(7, 3\).*examples as rows"):
        net.forward(rng.normal(size=(7, 3)))


@pytest.mark.parametrize("kwargs, pattern", [
    ({"layer_dims": [4]}, r"layer_dims must list at least \[n_x, n_y\]"),
    ({"layer_dims": [4, 0, 2]}, r"layer_dims\[1\] must be a whole number >= 1; got 0"),
    ({"layer_dims": [4, 2.5, 2]}, r"layer_dims\[1\] must be a whole number >= 1; got 2\.5"),
    ({"activation": "softplus"}, r"activation must be one of .*got 'softplus'"),
    ({"output": "linear"}, r"output must be one of \['sigmoid', 'softmax'\]; got 'linear'"),
    ({"output": "sigmoid"}, r"a sigmoid output has one unit; layer_dims ends with 2"),
    ({"layer_dims": [4, 1]}, r"a softmax output needs at least 2 units \(one per class\); layer_dims ends with 1\. "
                             r"For two classes with one output unit use output='sigmoid'"),
    ({"batchnorm": "no"}, r"batchnorm must be True or False; got 'no'"),   # bool("no") is True
    ({"batchnorm": 0}, r"batchnorm must be True or False; got 0"),
    ({"batchnorm": None}, r"batchnorm must be True or False; got None"),
    ({"eps": 0}, r"eps must be a finite number > 0; got 0"),
    ({"weight_scale": -1.0}, r"weight_scale must be a finite number > 0; got -1\.0"),
    ({"running_decay": 1.0}, r"running_decay must be .*\[0, 1\); got 1\.0"),
])
def test_bad_constructor_arguments(kwargs, pattern):
    args = {"layer_dims": [4, 3, 2], **kwargs}
    with pytest.raises(ValueError, match=pattern):
        Network(**args)


def test_batchnorm_takes_numpy_booleans_too():
    net = Network([4, 3, 2], batchnorm=np.bool_(False))
    assert net.batchnorm is False and "gamma1" not in net.parameters and "b1" in net.parameters
    assert Network([4, 3, 2], batchnorm=np.bool_(True)).batchnorm is True


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's own warning on inf − inf, before the check
@pytest.mark.parametrize("batchnorm", [True, False], ids=["bn", "no_bn"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_X_is_named(rng, batchnorm, bad):
    # Without this, a net without Batch Norm predicts class 0 for a NaN example, silently.
    net = Network([3, 4, 2], batchnorm=batchnorm)
    X = rng.normal(size=(3, 5))
    X[1, 3] = bad
    pattern = r"X contains 1 NaN or infinite value\(s\), the first at index \(1, 3\)"
    with pytest.raises(ValueError, match=pattern):
        net.predict(X)
    with pytest.raises(ValueError, match=pattern):
        net.loss_and_grads(X, one_hot(np.zeros(5, int), 2))
    with pytest.raises(ValueError, match=pattern):
        net.forward(X, train=True)


def test_accuracy_rejects_one_hot_or_mismatched_labels(rng):
    net = Network([3, 4, 10])
    X = rng.normal(size=(3, 1))
    Y = one_hot(np.array([3]), 10)  # (10, 1): reshaped, it would silently compare 10 labels with 1 prediction
    with pytest.raises(ValueError, match=r"labels must hold one class index per example of X, shape \(1,\); "
                                         r"got shape \(10, 1\) — for one-hot Y pass Y\.argmax\(axis=0\)"):
        net.accuracy(X, Y)
    with pytest.raises(ValueError, match=r"shape \(5,\); got shape \(4,\)$"):
        net.accuracy(rng.normal(size=(3, 5)), np.zeros(4, int))
    assert net.accuracy(X, np.array([net.predict(X)[0]])) == 1.0


# --- Network against the layer functions chained by hand ---------------------------------------------------

@pytest.mark.parametrize("dims, m", [([4, 5, 3, 3], 7), ([6, 40, 16, 2], 8192)], ids=["small", "blocks"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_network_forward_and_backward_are_the_layer_functions_chained(dims, m, seed):
    # Network is built from layer_forward / layer_backward and the output layer: chaining them by hand must
    # give the same output, loss and gradients, to the last bit. At m = 8192 the first hidden layer's Z is 40 × 8192.
    from bnlab import layer_backward, layer_forward, linear_forward, softmax, softmax_cross_entropy
    rng = np.random.default_rng(seed)
    net = randomize_biases(Network(dims, activation="sigmoid", seed=seed), rng)
    p, L = net.parameters, net.L
    X, Y, _ = data(rng, dims[0], m, "softmax", K=dims[-1])
    A, caches = X, []
    for l in range(1, L):
        A, cache = layer_forward(A, p[f"W{l}"], p[f"gamma{l}"], p[f"beta{l}"], "sigmoid")
        caches.append(cache)
    ZL, _ = linear_forward(A, p[f"W{L}"], p[f"b{L}"])
    loss, dZ = softmax_cross_entropy(ZL, Y)
    grads = {f"dW{L}": dZ @ A.T, f"db{L}": dZ.sum(axis=1, keepdims=True)}
    dA = p[f"W{L}"].T @ dZ
    for l in range(L - 1, 0, -1):
        dA, grads[f"dW{l}"], grads[f"dgamma{l}"], grads[f"dbeta{l}"] = layer_backward(dA, caches[l - 1], l > 1)

    AL, net_caches = net.forward(X, update_running=False)
    np.testing.assert_array_equal(AL, softmax(ZL))
    for cache, net_cache in zip(caches, net_caches):
        assert type(net_cache) is type(cache)
        for name in ("Z", "Z_tilde", "A"):
            np.testing.assert_array_equal(getattr(net_cache, name), getattr(cache, name), err_msg=name)
    net_loss, net_grads = net.loss_and_grads(X, Y, update_running=False)
    assert net_loss == loss
    assert list(net_grads) == [f"d{k}" for k in p]
    for name, g in grads.items():
        np.testing.assert_array_equal(net_grads[name], g, err_msg=name)
