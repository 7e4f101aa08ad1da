"""Lovász losses against tests/reference/segmentation.py, special cases and arguments."""

import keras
import numpy as np
import pytest

from keras_lossopt import losses
from tests.losses._loss_tools import grad as _grad
from tests.reference import segmentation as ref

RNG = np.random.default_rng(21)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _rtol(got):
    return 1e-5 if np.asarray(got).dtype == np.float64 else 1e-4



def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.mark.multibackend
@pytest.mark.parametrize("per_image", [False, True])
def test_lovasz_hinge_matches_reference(per_image):
    labels = RNG.integers(0, 2, size=(3, 5, 4))
    logits = RNG.normal(scale=2.0, size=(3, 5, 4))
    want = ref.lovasz_hinge(labels, logits, per_image=per_image)
    got = _np(losses.lovasz_hinge(labels, logits, per_image=per_image))
    np.testing.assert_allclose(got, want, rtol=_rtol(got))
    got32 = _np(losses.LovaszHinge(per_image=per_image, reduction="none")(
        labels.astype("float32"), logits.astype("float32")))
    np.testing.assert_allclose(got32, want, rtol=1e-4)


def test_lovasz_hinge_ignore_class_and_edges():
    labels = RNG.integers(0, 2, size=(2, 6, 6)).astype("float64")
    labels[0, :2] = 255
    labels[1] = 255  # a fully ignored image
    logits = RNG.normal(size=(2, 6, 6))
    for per_image in (False, True):
        want = ref.lovasz_hinge(labels, logits, per_image=per_image, ignore=255)
        got = _np(losses.lovasz_hinge(labels, logits, per_image=per_image, ignore_class=255))
        np.testing.assert_allclose(got, want, rtol=_rtol(got), atol=1e-12)
    # Ignored pixels change nothing, whatever their logits.
    other = logits.copy()
    other[0, :2] = 1e3
    np.testing.assert_allclose(_np(losses.lovasz_hinge(labels, other, ignore_class=255)),
                               _np(losses.lovasz_hinge(labels, logits, ignore_class=255)))
    # Perfectly separated with margin >= 1: loss 0. Logits +-100: finite.
    y = np.array([[1.0, 0.0, 1.0, 0.0]], "float32")
    assert float(losses.LovaszHinge()(y, 100 * (2 * y - 1))) == 0.0
    value = float(losses.LovaszHinge()(y, -100 * (2 * y - 1)))
    assert value == pytest.approx(ref.lovasz_hinge(y, -100 * (2 * y - 1)), rel=1e-5)
    grad = _grad(lambda z: losses.LovaszHinge()(y, z), (-100 * (2 * y - 1)).astype("float32"))
    assert np.all(np.isfinite(grad))


@pytest.mark.multibackend
@pytest.mark.parametrize("per_image", [False, True])
@pytest.mark.parametrize("classes", ["present", "all"])
def test_lovasz_softmax_matches_reference(per_image, classes):
    labels = RNG.integers(0, 3, size=(2, 4, 5))  # class 3 of 4 never present
    probs = _softmax(RNG.normal(scale=2.0, size=(2, 4, 5, 4)))
    want = ref.lovasz_softmax(labels, probs, per_image=per_image, classes=classes)
    got = _np(losses.lovasz_softmax(labels, probs, per_image=per_image, classes=classes))
    np.testing.assert_allclose(got, want, rtol=_rtol(got))
    got32 = _np(losses.LovaszSoftmax(per_image=per_image, classes=classes, reduction="none")(
        labels[..., None].astype("float32"), probs.astype("float32")))
    np.testing.assert_allclose(got32, want, rtol=1e-4)


def test_lovasz_softmax_ignore_logits_and_one_hot_special_case():
    labels = RNG.integers(0, 3, size=(2, 6))
    labels[0, :3] = -1
    logits = RNG.normal(size=(2, 6, 3))
    want = ref.lovasz_softmax(labels, _softmax(logits), per_image=True, ignore=-1)
    got = _np(losses.lovasz_softmax(labels, logits, per_image=True, ignore_class=-1,
                                    from_logits=True))
    np.testing.assert_allclose(got, want, rtol=_rtol(got))
    # At one-hot predictions the Lovász extension equals the set function:
    # the loss is 1 - IoU averaged over the present classes (paper, sec. 3.1).
    truth = np.array([[0, 0, 1, 1, 2, 2]])
    pred = np.array([[0, 1, 1, 1, 2, 0]])
    ious = [np.sum((truth == c) & (pred == c)) / np.sum((truth == c) | (pred == c))
            for c in range(3)]
    got = float(losses.LovaszSoftmax()(truth, np.eye(3)[pred]))
    assert got == pytest.approx(1 - np.mean(ious), rel=1e-6)
    # Probabilities exactly 0 and 1: finite gradient.
    grad = _grad(lambda p: losses.LovaszSoftmax()(truth, p), np.eye(3)[pred].astype("float32"))
    assert np.all(np.isfinite(grad))


def test_shapes_arguments_and_config():
    with pytest.raises(ValueError, match=r"y_true.shape=\(2, 3\), y_pred.shape=\(2, 4, 3\)"):
        losses.lovasz_softmax(np.zeros((2, 3)), np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match=r"y_true.shape=\(2, 3\).*y_pred.shape=\(2, 4\)"):
        losses.lovasz_hinge(np.zeros((2, 3)), np.zeros((2, 4)))
    for make, match in [
        (lambda: losses.LovaszHinge(ignore_class=2.5), "Received: ignore_class=2.5"),
        (lambda: losses.LovaszSoftmax(ignore_class="void"), "Received: ignore_class='void'"),
        (lambda: losses.LovaszSoftmax(classes="some"), "Received: classes='some'"),
    ]:
        with pytest.raises(ValueError, match=match):
            make()
    for cls in (losses.LovaszHinge, losses.LovaszSoftmax):
        loss = cls()
        assert cls.from_config(loss.get_config()).get_config() == loss.get_config()


def test_fit_by_string_name():
    x = RNG.normal(size=(16, 4, 4, 1)).astype("float32")
    y = (x[..., 0] > 0).astype("int32")
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(2, 1, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="lovasz_softmax")
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
