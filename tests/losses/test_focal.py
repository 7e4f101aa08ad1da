"""Tests of the focal, Poly-1 and asymmetric losses against TFA's published
expectations and the numpy references in tests/reference/focal.py."""

import keras
import numpy as np
import pytest

from keras_lossopt.losses import (
    AsymmetricLoss,
    PolyLoss,
    SigmoidFocalCrossEntropy,
    SparseCategoricalFocalCrossentropy,
    asymmetric_loss,
    poly1_crossentropy,
    sigmoid_focal_crossentropy,
    sparse_categorical_focal_crossentropy,
)
from tests.losses._loss_tools import fit_smoke, to_numpy, value_and_grad
from tests.reference import focal as ref

# --- SigmoidFocalCrossEntropy ---------------------------------------------------------

# TensorFlow Addons' test_without_logits (tensorflow_addons/losses/tests/focal_loss_test.py).
TFA_PRED = np.array([[0.97], [0.91], [0.73], [0.27], [0.09], [0.03]])
TFA_TRUE = np.array([[1], [1], [1], [0], [0], [0]])


@pytest.mark.multibackend
@pytest.mark.parametrize("from_logits", [False, True])
def test_sigmoid_focal_tfa_expectations(from_logits):
    y_pred = TFA_PRED.astype("float32")
    if from_logits:
        y_pred = np.log(y_pred / (1 - y_pred))
    # gamma = 0 and no alpha: binary cross-entropy.
    focal = to_numpy(sigmoid_focal_crossentropy(TFA_TRUE, y_pred, alpha=None, gamma=0.0,
                                                from_logits=from_logits))
    bce = to_numpy(keras.losses.binary_crossentropy(TFA_TRUE.astype("float32"), y_pred,
                                                    from_logits=from_logits))
    np.testing.assert_allclose(focal, bce, rtol=1e-6)
    # gamma = 2: BCE / focal has the orders of magnitude TFA published.
    focal = to_numpy(sigmoid_focal_crossentropy(TFA_TRUE, y_pred, alpha=None, gamma=2.0,
                                                from_logits=from_logits))
    order = np.power(10.0, np.floor(np.log10(bce / focal)))
    np.testing.assert_allclose(order, [1000, 100, 10, 10, 100, 1000])


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-5), ("float32", 1e-4)])
def test_sigmoid_focal_matches_reference(dtype, rtol):
    rng = np.random.default_rng(0)
    y = (rng.uniform(size=(12, 4)) < 0.3).astype(dtype)
    y[0] = [0.2, 0.7, 1.0, 0.0]  # soft labels
    logits = rng.normal(scale=3.0, size=(12, 4)).astype(dtype)
    probs = ref.sigmoid(logits).astype(dtype)
    for alpha, gamma in ((0.25, 2.0), (None, 0.5), (0.6, 0.0), (0.0, 3.0)):
        for from_logits, x in ((True, logits), (False, probs)):
            got = to_numpy(sigmoid_focal_crossentropy(y, x, alpha=alpha, gamma=gamma,
                                                      from_logits=from_logits))
            want = ref.sigmoid_focal(y, x, alpha, gamma, from_logits=from_logits)
            np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-7,
                                       err_msg=f"{alpha}, {gamma}, {from_logits}")


@pytest.mark.multibackend
def test_sigmoid_focal_edges_finite_value_and_gradient():
    y = np.array([[1.0, 0.0, 1.0, 0.0]], "float32")
    for gamma in (2.0, 0.5):
        for from_logits, x in ((False, [[1.0, 0.0, 0.0, 1.0]]),
                               (True, [[100.0, -100.0, -100.0, 100.0]])):
            value, grad = value_and_grad(
                lambda p, g=gamma, f=from_logits: sigmoid_focal_crossentropy(
                    y, p, gamma=g, from_logits=f)[0], x)
            assert np.isfinite(value) and np.all(np.isfinite(grad)), (gamma, from_logits)


# --- SparseCategoricalFocalCrossentropy -----------------------------------------------


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-5), ("float32", 1e-4)])
def test_sparse_focal_matches_reference_and_keras(dtype, rtol):
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 5, size=10)
    logits = rng.normal(scale=2.0, size=(10, 5)).astype(dtype)
    got = to_numpy(sparse_categorical_focal_crossentropy(labels, logits, alpha=0.5,
                                                         gamma=1.5, from_logits=True))
    np.testing.assert_allclose(got, ref.categorical_focal(labels, logits, 0.5, 1.5, True),
                               rtol=rtol)
    keras_value = keras.losses.CategoricalFocalCrossentropy(
        alpha=0.5, gamma=1.5, from_logits=True, reduction="none")(
        np.eye(5, dtype=dtype)[labels], logits)
    np.testing.assert_allclose(got, to_numpy(keras_value), rtol=1e-6)
    # (B, 1) labels, probabilities; gamma = 0 and alpha = 1 is sparse cross-entropy.
    probs = ref.softmax(logits).astype(dtype)
    got = to_numpy(sparse_categorical_focal_crossentropy(labels[:, None], probs, alpha=1.0,
                                                         gamma=0.0))
    sce = keras.losses.sparse_categorical_crossentropy(labels, probs)
    np.testing.assert_allclose(got, to_numpy(sce), rtol=rtol)


@pytest.mark.multibackend
def test_sparse_focal_edges_and_shapes():
    value, grad = value_and_grad(
        lambda p: keras.ops.sum(sparse_categorical_focal_crossentropy(
            [0, 1], p, from_logits=True)), [[100.0, -100.0], [100.0, -100.0]])
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    with pytest.raises(ValueError, match=r"y_true.shape=\(3,\), y_pred.shape=\(2, 4\)"):
        sparse_categorical_focal_crossentropy(np.zeros(3), np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"y_true.shape=\(\), y_pred.shape=\(\)"):
        sparse_categorical_focal_crossentropy(np.float32(0), np.float32(1))


# --- PolyLoss -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-5), ("float32", 1e-4)])
def test_poly1_matches_reference(dtype, rtol):
    rng = np.random.default_rng(2)
    q = np.eye(4)[rng.integers(0, 4, size=9)].astype(dtype)
    logits = rng.normal(scale=2.0, size=(9, 4)).astype(dtype)
    for epsilon in (1.0, -1.0, 2.5):
        got = to_numpy(poly1_crossentropy(q, logits, epsilon=epsilon, from_logits=True))
        np.testing.assert_allclose(got, ref.poly1(q, logits, epsilon), rtol=rtol)
    # Label smoothing: the paper's appendix smooths the labels used by CE and by p_t.
    smoothed = q * 0.8 + 0.2 / 4
    got = to_numpy(poly1_crossentropy(q, logits, epsilon=1.0, from_logits=True,
                                      label_smoothing=0.2))
    np.testing.assert_allclose(got, ref.poly1(smoothed, logits, 1.0), rtol=rtol)
    # Probabilities in: the same value as logits in.
    got = to_numpy(poly1_crossentropy(q, ref.softmax(logits).astype(dtype), epsilon=1.0))
    np.testing.assert_allclose(got, ref.poly1(q, logits, 1.0), rtol=rtol)


@pytest.mark.multibackend
def test_poly1_epsilon_zero_is_crossentropy_and_edges():
    rng = np.random.default_rng(3)
    q = np.eye(3)[[0, 2, 1]].astype("float32")
    logits = rng.normal(size=(3, 3)).astype("float32")
    np.testing.assert_allclose(
        to_numpy(poly1_crossentropy(q, logits, epsilon=0.0, from_logits=True)),
        to_numpy(keras.losses.categorical_crossentropy(q, logits, from_logits=True)),
        rtol=1e-6)
    for from_logits, x in ((True, [[100.0, -100.0, 0.0]] * 3),
                           (False, [[1.0, 0.0, 0.0]] * 3)):
        value, grad = value_and_grad(
            lambda p, f=from_logits: keras.ops.sum(poly1_crossentropy(q, p, from_logits=f)), x)
        assert np.isfinite(value) and np.all(np.isfinite(grad)), from_logits


# --- AsymmetricLoss -------------------------------------------------------------------


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-5), ("float32", 1e-4)])
def test_asymmetric_matches_reference(dtype, rtol):
    rng = np.random.default_rng(4)
    y = (rng.uniform(size=(10, 6)) < 0.2).astype(dtype)
    logits = rng.normal(scale=3.0, size=(10, 6)).astype(dtype)
    for gamma_pos, gamma_neg, clip in ((0.0, 4.0, 0.05), (1.0, 2.0, 0.0), (0.5, 0.0, 0.2)):
        got = to_numpy(asymmetric_loss(y, logits, gamma_pos, gamma_neg, clip))
        np.testing.assert_allclose(got, ref.asymmetric(y, logits, gamma_pos, gamma_neg, clip),
                                   rtol=rtol, err_msg=f"{gamma_pos}, {gamma_neg}, {clip}")
        probs = ref.sigmoid(logits).astype(dtype)
        got = to_numpy(asymmetric_loss(y, probs, gamma_pos, gamma_neg, clip, from_logits=False))
        np.testing.assert_allclose(got, ref.asymmetric(y, logits, gamma_pos, gamma_neg, clip),
                                   rtol=rtol)


@pytest.mark.multibackend
def test_asymmetric_special_case_and_edges():
    # No focusing and no clip: binary cross-entropy summed over the labels.
    y = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]], "float32")
    logits = np.array([[2.0, -1.0, 0.5], [0.3, -4.0, 1.0]], "float32")
    bce = to_numpy(keras.losses.binary_crossentropy(y, logits, from_logits=True)) * 3
    got = to_numpy(asymmetric_loss(y, logits, gamma_pos=0.0, gamma_neg=0.0, clip=0.0))
    np.testing.assert_allclose(got, bce, rtol=1e-5)
    # An easy negative (p < clip) costs nothing.
    assert float(asymmetric_loss([[0.0]], [[-5.0]])[0]) == 0.0
    value, grad = value_and_grad(
        lambda p: keras.ops.sum(asymmetric_loss(y, p)), [[100.0, -100.0, -100.0]] * 2)
    assert np.isfinite(value) and np.all(np.isfinite(grad))


# --- Arguments, configs, fit ----------------------------------------------------------


@pytest.mark.parametrize("cls, kwargs, fragment", [
    (SigmoidFocalCrossEntropy, {"gamma": -1.0}, "gamma=-1.0"),
    (SigmoidFocalCrossEntropy, {"alpha": 1.5}, "alpha=1.5"),
    (SparseCategoricalFocalCrossentropy, {"alpha": -0.1}, "alpha=-0.1"),
    (SparseCategoricalFocalCrossentropy, {"label_smoothing": 2.0}, "label_smoothing=2.0"),
    (PolyLoss, {"epsilon": -1.5}, "epsilon=-1.5"),
    (AsymmetricLoss, {"clip": 1.0}, "clip=1.0"),
    (AsymmetricLoss, {"gamma_neg": -2.0}, "gamma_neg=-2.0"),
])
def test_bad_arguments(cls, kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        cls(**kwargs)


def test_configs_round_trip():
    for loss in (SigmoidFocalCrossEntropy(), SigmoidFocalCrossEntropy(alpha=None, gamma=0.0),
                 SparseCategoricalFocalCrossentropy(), PolyLoss(),
                 PolyLoss(epsilon=-0.5, from_logits=True, label_smoothing=0.1),
                 AsymmetricLoss(), AsymmetricLoss(gamma_pos=1.0, from_logits=False)):
        clone = type(loss).from_config(loss.get_config())
        assert clone.get_config() == loss.get_config()


def test_fit_by_string_name():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(32, 3)).astype("float32")
    y = (x[:, :1] > 1.0).astype("float32")  # imbalanced
    losses = fit_smoke("sigmoid_focal_crossentropy", x, y, units=1, activation="sigmoid",
                       epochs=3)
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


@pytest.mark.multibackend
def test_shared_exp_sigmoid_and_bce_match_the_direct_forms():
    # The JAX path of sigmoid focal (tested here on every backend): one exp and
    # one log1p for both the sigmoid and the logit BCE.
    from keras_lossopt.losses.focal import _sigmoid_and_bce_from_logits

    x = np.array([-100.0, -20.0, -3.0, -1e-3, 0.0, 1e-3, 3.0, 20.0, 100.0], "float64")
    for y in (0.0, 0.3, 1.0):
        labels = np.full_like(x, y)
        prob, bce = _sigmoid_and_bce_from_logits(
            keras.ops.convert_to_tensor(labels), keras.ops.convert_to_tensor(x)
        )
        expected_p = 1.0 / (1.0 + np.exp(-x))
        expected_bce = y * np.logaddexp(0.0, -x) + (1.0 - y) * np.logaddexp(0.0, x)
        # atol: JAX runs in float32 here and flushes subnormals (exp(-100)) to 0.
        np.testing.assert_allclose(to_numpy(prob), expected_p, rtol=1e-6, atol=1e-30)
        np.testing.assert_allclose(to_numpy(bce), expected_bce, rtol=1e-6, atol=1e-30)
        # d BCE / dx = sigmoid(x) - y everywhere, including exactly at x = 0.
        _, grad = value_and_grad(
            lambda t, labels=labels: keras.ops.sum(
                _sigmoid_and_bce_from_logits(keras.ops.convert_to_tensor(labels, t.dtype), t)[1]
            ),
            x,
            dtype="float64",
        )
        np.testing.assert_allclose(grad, expected_p - y, rtol=1e-6, atol=1e-12)
