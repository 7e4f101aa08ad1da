"""Box losses against tests/reference/boxes.py and TFA's published GIoU values."""

import keras
import numpy as np
import pytest

from keras_lossopt import losses
from tests.losses._loss_tools import grad as _grad
from tests.reference import boxes as ref

RNG = np.random.default_rng(11)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _rtol(got):
    return 1e-5 if np.asarray(got).dtype == np.float64 else 1e-4



def _random_boxes(n, seed):
    rng = np.random.default_rng(seed)
    lo = rng.uniform(0, 10, size=(n, 2))
    size = rng.uniform(0.1, 6, size=(n, 2))
    return np.concatenate([lo, lo + size], -1)  # y_min, x_min, y_max, x_max


# TFA tensorflow_addons/losses/giou_loss_test.py: boxes and published values.
B1 = np.array([[4.0, 3.0, 7.0, 5.0], [5.0, 6.0, 10.0, 7.0]])
B2 = np.array([[3.0, 4.0, 6.0, 8.0], [14.0, 14.0, 15.0, 15.0]])


@pytest.mark.multibackend
def test_giou_tfa_published_values():
    np.testing.assert_allclose(_np(losses.giou_loss(B1, B2, mode="iou")), [0.875, 1.0],
                               rtol=1e-6)
    np.testing.assert_allclose(_np(losses.giou_loss(B1, B2)),
                               [1.07500000298023224, 1.9333333373069763], rtol=1e-6)
    # test_different_shapes: broadcasting (2, 1, 4) with (1, 1, 4).
    np.testing.assert_allclose(_np(losses.giou_loss(B1[:, None], B2[None, :1])),
                               [[1.07500000298023224], [1.366071]], rtol=1e-6)
    # test_one_bbox and test_with_integer
    assert float(losses.giou_loss(B1[0], B2[0])) == pytest.approx(1.075, rel=1e-6)
    np.testing.assert_allclose(_np(losses.giou_loss(B1.astype("int32"), B2.astype("int32"))),
                               [1.075, 1.9333333], rtol=1e-6)
    # test_keras_model: the batch mean.
    assert float(losses.GIoULoss()(B1, B2)) == pytest.approx(1.5041667222976685, rel=1e-6)


@pytest.mark.parametrize("name", ["iou", "giou", "diou", "ciou"])
def test_box_losses_match_reference(name):
    t, p = _random_boxes(20, 1), _random_boxes(20, 2)
    p[:5] = t[:5] + RNG.normal(scale=0.3, size=(5, 4))  # some overlapping pairs
    fn = {"iou": lambda a, b: losses.giou_loss(a, b, mode="iou"), "giou": losses.giou_loss,
          "diou": losses.diou_loss, "ciou": losses.ciou_loss}[name]
    want = {"iou": ref.iou_loss, "giou": ref.giou_loss, "diou": ref.diou_loss,
            "ciou": ref.ciou_loss}[name](t, p)
    got = _np(fn(t, p))
    np.testing.assert_allclose(got, want, rtol=_rtol(got), atol=1e-12)
    got32 = _np(fn(t.astype("float32"), p.astype("float32")))
    np.testing.assert_allclose(got32, want, rtol=1e-4, atol=1e-6)


def test_box_formats_agree():
    t, p = _random_boxes(6, 3), _random_boxes(6, 4)

    def convert(b, fmt):
        y1, x1, y2, x2 = b.T
        return {"xyxy": np.stack([x1, y1, x2, y2], -1),
                "xywh": np.stack([x1, y1, x2 - x1, y2 - y1], -1),
                "center_xywh": np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1],
                                        -1)}[fmt]

    for cls in (losses.GIoULoss, losses.DIoULoss, losses.CIoULoss):
        want = _np(cls(reduction="none")(t, p))
        for fmt in ("xyxy", "xywh", "center_xywh"):
            got = _np(cls(box_format=fmt, reduction="none")(convert(t, fmt), convert(p, fmt)))
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_special_cases():
    t = _random_boxes(5, 5)
    for cls in (losses.GIoULoss, losses.DIoULoss, losses.CIoULoss):
        np.testing.assert_allclose(_np(cls(reduction="none")(t, t)), 0.0, atol=1e-6)
    # Nested boxes with the same centre: GIoU = DIoU = 1 - IoU; same aspect ratio: CIoU = DIoU.
    outer = np.array([[0.0, 0.0, 4.0, 4.0]])
    inner = np.array([[1.0, 1.0, 3.0, 3.0]])  # IoU = 4 / 16
    for cls in (losses.GIoULoss, losses.DIoULoss, losses.CIoULoss):
        assert float(cls()(outer, inner)) == pytest.approx(0.75, rel=1e-6)
    # Hand computation (doc example): disjoint unit squares 2 apart -> 1 + 4 / 10.
    assert float(losses.DIoULoss()([[0.0, 0.0, 1.0, 1.0]], [[0.0, 2.0, 1.0, 3.0]])) == \
        pytest.approx(1.4, rel=1e-6)


@pytest.mark.multibackend
def test_degenerate_boxes_are_finite_in_value_and_gradient():
    t = np.array([[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 2.0, 2.0], [0.0, 0.0, 1.0, 1.0]], "float32")
    p = np.array([[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 1.0, 0.0]], "float32")
    for cls in (losses.GIoULoss, losses.DIoULoss, losses.CIoULoss):
        loss = cls()
        assert np.isfinite(float(loss(t, p)))
        grad = _grad(lambda b, loss=loss: loss(t, b), p)
        assert np.all(np.isfinite(grad)), cls.__name__


@pytest.mark.parametrize("make, match", [
    (lambda: losses.GIoULoss(mode="diou"), "Received: mode='diou'"),
    (lambda: losses.GIoULoss(box_format="xyhw"), "Received: box_format='xyhw'"),
    (lambda: losses.DIoULoss(box_format="cxcywh"), "Received: box_format='cxcywh'"),
    (lambda: losses.CIoULoss(box_format=None), "Received: box_format=None"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_shape_errors_and_config():
    with pytest.raises(ValueError, match=r"y_true.shape=\(2, 3\), y_pred.shape=\(2, 4\)"):
        losses.giou_loss(np.zeros((2, 3)), np.zeros((2, 4)))
    for cls in (losses.GIoULoss, losses.DIoULoss, losses.CIoULoss):
        loss = cls()
        assert cls.from_config(loss.get_config()).get_config() == loss.get_config()


def test_fit_by_string_name():
    x = RNG.uniform(size=(32, 4)).astype("float32")
    y = np.concatenate([x[:, :2] * 4, x[:, :2] * 4 + 1 + x[:, 2:]], -1).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="ciou")
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
