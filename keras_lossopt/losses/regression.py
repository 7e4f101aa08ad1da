"""Regression losses Keras lacks: root mean squared error and pseudo-Huber."""

import numpy as np
from keras import ops

from keras_lossopt import _checks
from keras_lossopt.losses.base import FunctionLoss, prepare, safe_sqrt
from keras_lossopt.registry import register

__all__ = [
    "pseudo_huber",
    "PseudoHuber",
    "mean_squared_error_per_sample",
    "RootMeanSquaredError",
]


def mean_squared_error_per_sample(y_true, y_pred):
    """Mean over the last axis of `(y_pred - y_true) ** 2`, shapes checked."""
    y_true, y_pred = prepare(y_true, y_pred, "RootMeanSquaredError")
    return ops.mean(ops.square(y_pred - y_true), axis=-1)


@register("loss", name="rmse", aliases=("root_mean_squared_error",),
          task="regression", inputs="regression")
class RootMeanSquaredError(FunctionLoss):
    """Root mean squared error: the square root of the (weighted) mean squared error.

    RMSE is in the units of the target, which makes it easy to read, and it is
    minimised by the same predictions as MSE. The root is taken after the
    reduction over the batch — `sqrt(mean((y_pred - y_true)**2))` — not as a mean
    of per-sample roots: for a single output a per-sample root is just |error|,
    i.e. the mean absolute error.

    Formula, with per-sample mean squared error `m_i = mean_j (y_pred_ij - y_true_ij)**2`
    and sample weights `w_i`:

        "sum_over_batch_size" / "mean":  sqrt(sum_i w_i m_i / N)
        "mean_with_sample_weight":       sqrt(sum_i w_i m_i / sum_i w_i)
        "sum":                           sqrt(sum_i w_i m_i)
        "none":                          sqrt(m_i) for each sample

    The gradient at exactly zero error is 0 (not NaN).

    Args:
        reduction: Keras reduction applied to the per-sample squared errors
            before the root. Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"rmse"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import keras_lossopt
    >>> loss = keras_lossopt.losses.RootMeanSquaredError()
    >>> round(float(loss([[0.0], [0.0]], [[3.0], [4.0]])), 4)  # sqrt((9 + 16) / 2)
    3.5355

    References:
        - Hyndman & Koehler, "Another look at measures of forecast accuracy", 2006.
    """

    # For the conformance checks: the reduced value is the root of the reduced squares.
    conformance_reduction_transform = (np.square, np.sqrt)

    def __init__(self, reduction="sum_over_batch_size", name="rmse", dtype=None):
        super().__init__(mean_squared_error_per_sample, name=name,
                         reduction=reduction, dtype=dtype)

    def __call__(self, y_true, y_pred, sample_weight=None):
        mean_squares = super().__call__(y_true, y_pred, sample_weight=sample_weight)
        return safe_sqrt(mean_squares)


def pseudo_huber(y_true, y_pred, delta=1.0):
    """Per-sample pseudo-Huber loss, averaged over the last axis.

    `delta**2 * (sqrt(1 + ((y_pred - y_true) / delta)**2) - 1)`.
    """
    _checks.check_positive("delta", delta)
    y_true, y_pred = prepare(y_true, y_pred, "PseudoHuber")
    delta = ops.cast(delta, y_pred.dtype)
    scaled = (y_pred - y_true) / delta
    # sqrt(1 + s^2) - 1 == s^2 / (sqrt(1 + s^2) + 1): no cancellation for small s.
    squared = ops.square(scaled)
    per_element = ops.square(delta) * squared / (ops.sqrt(1.0 + squared) + 1.0)
    return ops.mean(per_element, axis=-1)


@register("loss", task="regression", inputs="regression")
class PseudoHuber(FunctionLoss):
    """Pseudo-Huber loss: a smooth blend of squared and absolute error.

    Behaves like `e**2 / 2` for small errors and like `delta * |e|` for large
    ones, like `Huber`, but is smooth everywhere (all derivatives exist), which
    suits second-order methods and keeps gradients continuous. Use it for
    regression with outliers; `delta` is the error scale where it switches.

    Formula, with `e = y_pred - y_true`, averaged over the last axis:

        loss = delta**2 * (sqrt(1 + (e / delta)**2) - 1)

    Args:
        delta: positive float, the transition scale. Defaults to `1.0`.
        reduction: Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"pseudo_huber"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import keras_lossopt
    >>> loss = keras_lossopt.losses.PseudoHuber(delta=1.0)
    >>> round(float(loss([[0.0, 0.0]], [[0.0, 1.0]])), 4)  # (sqrt(2) - 1) / 2
    0.2071

    References:
        - Charbonnier et al., "Two deterministic half-quadratic regularization
          algorithms for computed imaging", ICIP 1994.
        - Hartley & Zisserman, "Multiple View Geometry", 2nd ed., 2003, A6.8.
    """

    def __init__(self, delta=1.0, reduction="sum_over_batch_size",
                 name="pseudo_huber", dtype=None):
        _checks.check_positive("delta", delta)
        super().__init__(pseudo_huber, name=name, reduction=reduction, dtype=dtype,
                         delta=float(delta))
