"""Segmentation losses: the Lovász hinge and Lovász-Softmax (Berman et al. 2018),
direct surrogates of the Jaccard index (intersection over union).

Pixels are sorted by their error and weighted by the Jaccard index's marginal
gains (the Lovász extension of the Jaccard loss), fully vectorised with
`keras.ops.argsort`, `take_along_axis` and `cumsum` (no Python loop over
images, pixels or classes).
"""

import keras
from keras import ops

from keras_lossopt import _checks
from keras_lossopt.losses.base import FunctionLoss, prepare
from keras_lossopt.registry import register

__all__ = [
    "lovasz_hinge",
    "LovaszHinge",
    "lovasz_softmax",
    "LovaszSoftmax",
]


def _check_ignore_class(ignore_class):
    if ignore_class is not None:
        _checks.check_real("ignore_class", ignore_class)
        if int(ignore_class) != ignore_class:
            raise ValueError(
                f"`ignore_class` must be an integer or None. Received: ignore_class={ignore_class!r}"
            )
        return int(ignore_class)
    return None


def _lovasz_gradient(gt_sorted):
    """Marginal gains of the Jaccard loss along axis 1 for labels sorted by
    decreasing error (Berman et al. 2018, Algorithm 1 / `lovasz_grad`)."""
    gts = ops.sum(gt_sorted, axis=1, keepdims=True)
    intersection = gts - ops.cumsum(gt_sorted, axis=1)
    union = gts + ops.cumsum(1.0 - gt_sorted, axis=1)  # >= 1 everywhere
    jaccard = 1.0 - intersection / union
    return ops.concatenate([jaccard[:, :1], jaccard[:, 1:] - jaccard[:, :-1]], axis=1)


def _sort_by_error(errors, labels, valid):
    """Errors and labels sorted by decreasing error along axis 1; ignored entries
    go last with error 0 and label 0, where they change nothing."""
    errors_const = ops.stop_gradient(errors)
    key = ops.where(valid, errors_const, ops.min(errors_const) - 1.0)
    order = ops.argsort(-key, axis=1)
    errors_sorted = ops.take_along_axis(ops.where(valid, errors, 0.0), order, axis=1)
    labels_sorted = ops.take_along_axis(ops.where(valid, labels, 0.0), order, axis=1)
    return errors_sorted, labels_sorted


def lovasz_hinge(y_true, y_pred, per_image=False, ignore_class=None):
    """Binary Lovász hinge on logits; per image (B,) or one batch scalar."""
    ignore_class = _check_ignore_class(ignore_class)
    y_true, y_pred = prepare(y_true, y_pred, "LovaszHinge")
    groups = ops.shape(y_pred)[0] if per_image else 1
    logits = ops.reshape(y_pred, (groups, -1))
    labels = ops.reshape(y_true, (groups, -1))
    if ignore_class is None:
        valid = ops.ones_like(labels, dtype="bool")
    else:
        valid = labels != ops.cast(ignore_class, labels.dtype)
    signs = 2.0 * labels - 1.0
    errors = 1.0 - logits * signs
    errors_sorted, labels_sorted = _sort_by_error(errors, labels, valid)
    grad = ops.stop_gradient(_lovasz_gradient(labels_sorted))
    losses = ops.sum(ops.relu(errors_sorted) * grad, axis=1)
    return losses if per_image else ops.squeeze(losses, 0)


@register("loss", name="lovasz_hinge", task=("segmentation", "binary"), inputs="binary_logits")
class LovaszHinge(FunctionLoss):
    """Lovász hinge: a convex surrogate of the binary Jaccard (IoU) loss (Berman 2018).

    Use it for binary segmentation when the metric is IoU, typically to
    fine-tune a model first trained with binary cross-entropy (it optimises the
    IoU of the whole batch, or of each image with `per_image=True`). `y_pred`
    are logits (no sigmoid), `y_true` the 0/1 mask of the same shape (any
    number of pixel axes after the batch axis).

    Formula, over the pixels i of the batch (or of each image): m_i = 1 -
    y_pred_i * (2 * y_true_i - 1) (hinge margins), sorted in decreasing order
    m_(1) >= m_(2) >= ...; with P the number of positive pixels and, among the
    first k sorted pixels, TP_k positives and FP_k negatives:

        J_k    = 1 - (P - TP_k) / (P + FP_k)      (Jaccard loss of the top k)
        g_k    = J_k - J_(k-1),   J_0 = 0
        loss   = sum_k max(m_(k), 0) * g_k

    Pixels labelled `ignore_class` are left out.

    With `per_image=False` the loss is one scalar per batch; a `sample_weight`
    (B,) then multiplies it by the mean weight (sum for `reduction="sum"`).
    With `per_image=True` it is one value per image.

    Args:
        per_image: compute the loss per image (then averaged by the reduction)
            instead of over the whole batch. Defaults to `False`.
        ignore_class: label value of pixels to ignore (e.g. 255), or None.
            Defaults to `None`.
        reduction: Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"lovasz_hinge"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import keras_lossopt
    >>> loss = keras_lossopt.losses.LovaszHinge()
    >>> # one positive pixel with logit 0 (margin 1), one negative with logit -2
    >>> round(float(loss([[1.0, 0.0]], [[0.0, -2.0]])), 4)
    1.0

    References:
        - Berman, Rannen Triki & Blaschko, 2018, "The Lovász-Softmax loss: A
          tractable surrogate for the optimization of the intersection-over-union
          measure in neural networks", CVPR, https://arxiv.org/abs/1705.08790
          (authors' code: https://github.com/bermanmaxim/LovaszSoftmax,
          pytorch/lovasz_losses.py).
        Deviates from the authors' code in defaulting to `per_image=False`.
    """

    def __init__(self, per_image=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="lovasz_hinge", dtype=None):
        ignore_class = _check_ignore_class(ignore_class)
        super().__init__(lovasz_hinge, name=name, reduction=reduction, dtype=dtype,
                         per_image=bool(per_image), ignore_class=ignore_class)


def lovasz_softmax(y_true, y_pred, per_image=False, ignore_class=None, classes="present",
                   from_logits=False):
    """Multi-class Lovász-Softmax on probabilities (B, ..., C) and integer labels
    (B, ...); per image (B,) or one batch scalar."""
    ignore_class = _check_ignore_class(ignore_class)
    _checks.check_choice("classes", classes, ("present", "all"))
    y_pred = ops.convert_to_tensor(y_pred)
    if not keras.backend.is_float_dtype(y_pred.dtype):
        y_pred = ops.cast(y_pred, keras.backend.floatx())
    y_true = ops.convert_to_tensor(y_true)
    if len(y_pred.shape) < 2 or y_pred.shape[-1] is None:
        raise ValueError(
            "LovaszSoftmax: `y_pred` must hold class probabilities on a known last axis, "
            f"(batch, ..., classes). Received: y_true.shape={tuple(y_true.shape)}, "
            f"y_pred.shape={tuple(y_pred.shape)}"
        )
    if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, -1)
    expected = tuple(y_pred.shape[:-1])
    if len(y_true.shape) != len(expected) or not all(
        a is None or b is None or a == b for a, b in zip(y_true.shape, expected)
    ):
        raise ValueError(
            "LovaszSoftmax: `y_true` must hold one integer label per pixel, shaped like "
            "`y_pred` without its class axis. Received: "
            f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}"
        )
    probs = ops.softmax(y_pred, axis=-1) if from_logits else y_pred
    num_classes = y_pred.shape[-1]
    groups = ops.shape(y_pred)[0] if per_image else 1
    probs = ops.reshape(probs, (groups, -1, num_classes))
    labels = ops.reshape(ops.cast(y_true, "int32"), (groups, -1, 1))
    valid = ops.ones_like(labels, dtype="bool") if ignore_class is None else labels != ignore_class
    classes_range = ops.reshape(ops.arange(num_classes, dtype="int32"), (1, 1, num_classes))
    foreground = ops.cast(ops.logical_and(labels == classes_range, valid), probs.dtype)
    valid = ops.broadcast_to(valid, ops.shape(probs))
    errors = ops.abs(foreground - probs)  # (G, N, C)

    # Move the class axis next to the group axis so axis 1 is the pixel axis.
    errors = ops.reshape(ops.transpose(errors, (0, 2, 1)), (-1, ops.shape(errors)[1]))
    fg = ops.reshape(ops.transpose(foreground, (0, 2, 1)), (-1, ops.shape(foreground)[1]))
    valid_t = ops.reshape(ops.transpose(valid, (0, 2, 1)), (-1, ops.shape(valid)[1]))
    errors_sorted, fg_sorted = _sort_by_error(errors, fg, valid_t)
    grad = ops.stop_gradient(_lovasz_gradient(fg_sorted))
    per_class = ops.reshape(ops.sum(errors_sorted * grad, axis=1), (groups, num_classes))
    if classes == "present":
        counted = ops.cast(ops.sum(foreground, axis=1) > 0, probs.dtype)
    else:
        counted = ops.ones_like(per_class)
    losses = ops.divide_no_nan(ops.sum(per_class * counted, axis=1), ops.sum(counted, axis=1))
    return losses if per_image else ops.squeeze(losses, 0)


@register("loss", name="lovasz_softmax",
          task="segmentation", labels="integers", inputs="pixel_sparse_probabilities")
class LovaszSoftmax(FunctionLoss):
    """Lovász-Softmax: a surrogate of the mean per-class Jaccard (IoU) loss (Berman 2018).

    Use it for multi-class semantic segmentation when the metric is mean IoU,
    often after (or mixed with) cross-entropy training. `y_pred` are class
    probabilities (B, ..., C) (softmax output; `from_logits=True` applies the
    softmax), `y_true` integer labels (B, ...) (a trailing axis of 1 is
    accepted). For each class c it applies the Lovász extension of the Jaccard
    loss to the errors |1[y_true = c] - y_pred_c| and averages over the classes
    present in the batch (or image) — or over all classes with `classes="all"`.

    Formula, for class c with pixel errors e_i = |[y_true_i == c] - y_pred_ic|
    sorted decreasingly and g^c the Jaccard marginal gains of `LovaszHinge`:

        loss_c = sum_k e_(k) * g^c_k
        loss   = mean over counted classes c of loss_c

    Pixels labelled `ignore_class` are left out.

    With `per_image=False` the loss is one scalar per batch; a `sample_weight`
    (B,) then multiplies it by the mean weight (sum for `reduction="sum"`).
    With `per_image=True` it is one value per image.

    Args:
        per_image: compute the loss per image instead of over the batch.
            Defaults to `False`.
        ignore_class: label of pixels to ignore (e.g. 255), or None. Defaults
            to `None`.
        classes: `"present"` (average over classes present in the labels) or
            `"all"`. Defaults to `"present"`.
        from_logits: whether `y_pred` are logits. Defaults to `False`.
        reduction: Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"lovasz_softmax"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import keras_lossopt
    >>> loss = keras_lossopt.losses.LovaszSoftmax()
    >>> probs = [[[0.9, 0.1], [0.4, 0.6]]]  # 1 image, 2 pixels, 2 classes
    >>> # class 0: 0.5 * 0.4 + 0.5 * 0.1; class 1: 1.0 * 0.4; mean of the two
    >>> round(float(loss([[0, 1]], probs)), 4)
    0.325

    References:
        - Berman, Rannen Triki & Blaschko, 2018, "The Lovász-Softmax loss: A
          tractable surrogate for the optimization of the intersection-over-union
          measure in neural networks", CVPR, https://arxiv.org/abs/1705.08790
          (authors' code: https://github.com/bermanmaxim/LovaszSoftmax,
          pytorch/lovasz_losses.py).
        Deviates from the authors' code in taking channels-last input, adding
        `from_logits`, and not accepting an explicit list of classes.
    """

    def __init__(self, per_image=False, ignore_class=None, classes="present",
                 from_logits=False, reduction="sum_over_batch_size", name="lovasz_softmax",
                 dtype=None):
        ignore_class = _check_ignore_class(ignore_class)
        _checks.check_choice("classes", classes, ("present", "all"))
        super().__init__(lovasz_softmax, name=name, reduction=reduction, dtype=dtype,
                         per_image=bool(per_image), ignore_class=ignore_class,
                         classes=classes, from_logits=bool(from_logits))
