"""Bounding-box regression losses: GIoU (TFA), DIoU and CIoU.

`y_true` and `y_pred` hold boxes on their last axis (4 coordinates); the loss
has one value per box (the input shape without its last axis), so a batch of
one box per sample gives one value per sample. Leading axes broadcast, as in TFA.
The default box format is TFA's `[y_min, x_min, y_max, x_max]`; `box_format`
accepts Keras's `"xyxy"`, `"xywh"` (x_min, y_min, width, height) and
`"center_xywh"` (x_center, y_center, width, height) too.
"""

import math

import keras
from keras import ops

from keras_lossopt import _checks
from keras_lossopt.losses.base import FunctionLoss
from keras_lossopt.registry import register

__all__ = [
    "giou_loss",
    "GIoULoss",
    "diou_loss",
    "DIoULoss",
    "ciou_loss",
    "CIoULoss",
]

BOX_FORMATS = ("yxyx", "xyxy", "xywh", "center_xywh")


def _boxes(y_true, y_pred, loss_name):
    y_pred = ops.convert_to_tensor(y_pred)
    if not keras.backend.is_float_dtype(y_pred.dtype):
        y_pred = ops.cast(y_pred, keras.backend.floatx())
    y_true = ops.cast(ops.convert_to_tensor(y_true), y_pred.dtype)
    if y_true.shape[-1:] != (4,) or y_pred.shape[-1:] != (4,):
        raise ValueError(
            f"{loss_name}: `y_true` and `y_pred` must hold boxes of 4 coordinates on the "
            f"last axis. Received: y_true.shape={tuple(y_true.shape)}, "
            f"y_pred.shape={tuple(y_pred.shape)}"
        )
    return y_true, y_pred


def _corners(boxes, box_format):
    """(y_min, x_min, y_max, x_max) of boxes in `box_format`."""
    a, b, c, d = (boxes[..., i] for i in range(4))
    if box_format == "yxyx":
        return a, b, c, d
    if box_format == "xyxy":
        return b, a, d, c
    if box_format == "xywh":
        return b, a, b + d, a + c
    # center_xywh
    return b - 0.5 * d, a - 0.5 * c, b + 0.5 * d, a + 0.5 * c


def _geometry(y_true, y_pred, box_format):
    """IoU, enclosing box and size terms shared by the three losses."""
    _checks.check_choice("box_format", box_format, BOX_FORMATS)
    t_ymin, t_xmin, t_ymax, t_xmax = _corners(y_true, box_format)
    p_ymin, p_xmin, p_ymax, p_xmax = _corners(y_pred, box_format)
    t_h, t_w = ops.relu(t_ymax - t_ymin), ops.relu(t_xmax - t_xmin)
    p_h, p_w = ops.relu(p_ymax - p_ymin), ops.relu(p_xmax - p_xmin)
    inter_h = ops.relu(ops.minimum(t_ymax, p_ymax) - ops.maximum(t_ymin, p_ymin))
    inter_w = ops.relu(ops.minimum(t_xmax, p_xmax) - ops.maximum(t_xmin, p_xmin))
    intersection = inter_h * inter_w
    union = t_h * t_w + p_h * p_w - intersection
    iou = ops.divide_no_nan(intersection, union)
    enclose_h = ops.relu(ops.maximum(t_ymax, p_ymax) - ops.minimum(t_ymin, p_ymin))
    enclose_w = ops.relu(ops.maximum(t_xmax, p_xmax) - ops.minimum(t_xmin, p_xmin))
    center_dist2 = 0.25 * (
        ops.square(t_ymin + t_ymax - p_ymin - p_ymax)
        + ops.square(t_xmin + t_xmax - p_xmin - p_xmax)
    )
    return {
        "iou": iou,
        "union": union,
        "enclose_area": enclose_h * enclose_w,
        "diagonal2": ops.square(enclose_h) + ops.square(enclose_w),
        "center_dist2": center_dist2,
        "true_hw": (t_h, t_w),
        "pred_hw": (p_h, p_w),
    }


def giou_loss(y_true, y_pred, mode="giou", box_format="yxyx"):
    """Per-box `1 - GIoU` (or `1 - IoU` with `mode="iou"`); 0/0 ratios count as 0."""
    _checks.check_choice("mode", mode, ("giou", "iou"))
    y_true, y_pred = _boxes(y_true, y_pred, "GIoULoss")
    g = _geometry(y_true, y_pred, box_format)
    if mode == "iou":
        return 1.0 - g["iou"]
    giou = g["iou"] - ops.divide_no_nan(g["enclose_area"] - g["union"], g["enclose_area"])
    return 1.0 - giou


@register("loss", name="giou", task="detection", inputs="boxes")
class GIoULoss(FunctionLoss):
    """Generalized IoU loss for bounding-box regression (Rezatofighi et al. 2019; TFA).

    Use it to regress boxes directly on the detection metric: unlike `1 - IoU`
    it still has a gradient when the boxes do not overlap (the enclosing-box
    term pulls them together), and unlike an L1/L2 loss on coordinates it is
    scale-invariant. Boxes are `[y_min, x_min, y_max, x_max]` by default (TFA);
    invalid boxes (max < min) have zero area.

    Formula, with C the smallest box enclosing both boxes:

        IoU  = |A n B| / |A u B|
        GIoU = IoU - (|C| - |A u B|) / |C|
        loss = 1 - GIoU              (in [0, 2]; 1 - IoU with mode="iou")

    A ratio 0/0 (degenerate boxes) counts as 0, as in TFA.

    Args:
        mode: `"giou"` or `"iou"`. Defaults to `"giou"`.
        box_format: `"yxyx"`, `"xyxy"`, `"xywh"` or `"center_xywh"`. Defaults
            to `"yxyx"`.
        reduction: Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"giou"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import keras_lossopt
    >>> loss = keras_lossopt.losses.GIoULoss()
    >>> round(float(loss([[4.0, 3.0, 7.0, 5.0]], [[3.0, 4.0, 6.0, 8.0]])), 4)  # TFA's test
    1.075

    References:
        - Rezatofighi et al., 2019, "Generalized Intersection over Union: A Metric
          and A Loss for Bounding Box Regression", https://arxiv.org/abs/1902.09630
        - TensorFlow Addons, `tfa.losses.GIoULoss`.
        Adds `box_format` to TFA's arguments; TFA squeezed the output, we only
        drop the coordinate axis.
    """

    def __init__(self, mode="giou", box_format="yxyx", reduction="sum_over_batch_size",
                 name="giou", dtype=None):
        _checks.check_choice("mode", mode, ("giou", "iou"))
        _checks.check_choice("box_format", box_format, BOX_FORMATS)
        super().__init__(giou_loss, name=name, reduction=reduction, dtype=dtype, mode=mode,
                         box_format=box_format)


def diou_loss(y_true, y_pred, box_format="yxyx"):
    """Per-box `1 - IoU + rho**2 / c**2` (center distance over enclosing diagonal)."""
    y_true, y_pred = _boxes(y_true, y_pred, "DIoULoss")
    g = _geometry(y_true, y_pred, box_format)
    return 1.0 - g["iou"] + ops.divide_no_nan(g["center_dist2"], g["diagonal2"])


@register("loss", name="diou", task="detection", inputs="boxes")
class DIoULoss(FunctionLoss):
    """Distance-IoU loss for bounding-box regression (Zheng et al. 2020).

    `1 - IoU` plus the squared distance between the box centres, normalised by
    the squared diagonal of the enclosing box. It converges faster than GIoU
    because the penalty pulls the centres together directly, also when one box
    contains the other (where GIoU reduces to IoU). Boxes are
    `[y_min, x_min, y_max, x_max]` by default.

    Formula, with b, b_gt the centres, rho the Euclidean distance and c the
    diagonal of the smallest enclosing box:

        loss = 1 - IoU + rho(b, b_gt)**2 / c**2

    A ratio 0/0 counts as 0.

    Args:
        box_format: `"yxyx"`, `"xyxy"`, `"xywh"` or `"center_xywh"`. Defaults
            to `"yxyx"`.
        reduction: Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"diou"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import keras_lossopt
    >>> loss = keras_lossopt.losses.DIoULoss()
    >>> # disjoint unit squares side by side: IoU 0, rho^2 = 4, c^2 = 1 + 9
    >>> round(float(loss([[0.0, 0.0, 1.0, 1.0]], [[0.0, 2.0, 1.0, 3.0]])), 4)
    1.4

    References:
        - Zheng et al., 2020, "Distance-IoU Loss: Faster and Better Learning for
          Bounding Box Regression", AAAI, https://arxiv.org/abs/1911.08287
        Follows the paper's eq. 7; only the 0/0 convention (TFA's) is added.
    """

    def __init__(self, box_format="yxyx", reduction="sum_over_batch_size", name="diou",
                 dtype=None):
        _checks.check_choice("box_format", box_format, BOX_FORMATS)
        super().__init__(diou_loss, name=name, reduction=reduction, dtype=dtype,
                         box_format=box_format)


def _safe_atan_ratio(w, h):
    """arctan(w / h) as atan2(w, h), with a finite gradient for a 0 x 0 box."""
    degenerate = ops.logical_and(w == 0, h == 0)
    return ops.where(degenerate, 0.0,
                     ops.arctan2(w, ops.where(degenerate, ops.ones_like(h), h)))


def ciou_loss(y_true, y_pred, box_format="yxyx"):
    """Per-box `1 - IoU + rho**2 / c**2 + alpha * v` (DIoU plus aspect-ratio term)."""
    y_true, y_pred = _boxes(y_true, y_pred, "CIoULoss")
    g = _geometry(y_true, y_pred, box_format)
    (t_h, t_w), (p_h, p_w) = g["true_hw"], g["pred_hw"]
    v = (4.0 / math.pi**2) * ops.square(_safe_atan_ratio(t_w, t_h) - _safe_atan_ratio(p_w, p_h))
    alpha = ops.stop_gradient(ops.divide_no_nan(v, 1.0 - g["iou"] + v))
    return (1.0 - g["iou"] + ops.divide_no_nan(g["center_dist2"], g["diagonal2"])
            + alpha * v)


@register("loss", name="ciou", task="detection", inputs="boxes")
class CIoULoss(FunctionLoss):
    """Complete-IoU loss: DIoU plus an aspect-ratio consistency term (Zheng et al. 2020).

    Use it for box regression when aspect ratios matter (the default box loss of
    many YOLO versions): overlap, centre distance and aspect ratio are all
    penalised. Boxes are `[y_min, x_min, y_max, x_max]` by default.

    Formula, with w, h the widths and heights, rho and c as in `DIoULoss`:

        v     = 4 / pi**2 * (arctan(w_gt / h_gt) - arctan(w / h))**2
        alpha = v / ((1 - IoU) + v)
        loss  = 1 - IoU + rho**2 / c**2 + alpha * v

    Ratios 0/0 count as 0.

    Args:
        box_format: `"yxyx"`, `"xyxy"`, `"xywh"` or `"center_xywh"`. Defaults
            to `"yxyx"`.
        reduction: Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"ciou"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import keras_lossopt
    >>> loss = keras_lossopt.losses.CIoULoss()
    >>> # same centre, 2 x 2 vs 1 x 4 box: IoU 1/3, rho 0, v = (4/pi^2)(pi/4 - arctan 4)^2
    >>> round(float(loss([[0.0, 0.0, 2.0, 2.0]], [[-1.0, 0.5, 3.0, 1.5]])), 4)
    0.6845

    References:
        - Zheng et al., 2020, "Distance-IoU Loss: Faster and Better Learning for
          Bounding Box Regression", AAAI, https://arxiv.org/abs/1911.08287
        Like torchvision's `complete_box_iou_loss`, alpha is treated as a
        constant in the gradient (the paper's eq. 11 trade-off parameter);
        arctan(w / h) is computed as atan2(w, h), so zero heights are finite.
    """

    def __init__(self, box_format="yxyx", reduction="sum_over_batch_size", name="ciou",
                 dtype=None):
        _checks.check_choice("box_format", box_format, BOX_FORMATS)
        super().__init__(ciou_loss, name=name, reduction=reduction, dtype=dtype,
                         box_format=box_format)
