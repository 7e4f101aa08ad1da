"""Quantile regression: the pinball loss (TensorFlow Addons' `PinballLoss`)."""

import numbers

from keras import ops

from keras_lossopt import _checks
from keras_lossopt.losses.base import FunctionLoss, prepare
from keras_lossopt.registry import register

__all__ = ["pinball_loss", "Pinball"]


def _check_tau(tau):
    """`tau` is one float in [0, 1] or a sequence of them (one per output column)."""
    if isinstance(tau, numbers.Real) and not isinstance(tau, bool):
        return float(_checks.check_probability("tau", tau))
    if isinstance(tau, str):
        values = None
    else:
        try:
            values = [float(t) for t in tau]
        except (TypeError, ValueError):
            values = None
    if values is None:
        raise ValueError(
            f"`tau` must be a float in [0, 1] or a list of them. Received: tau={tau!r}"
        )
    if not values:
        raise ValueError(f"`tau` must not be empty. Received: tau={tau!r}")
    for value in values:
        if not 0.0 <= value <= 1.0:
            raise ValueError(
                f"Every `tau` must be in [0, 1]. Received: tau={tau!r}"
            )
    return values


def pinball_loss(y_true, y_pred, tau=0.5):
    """Per-sample pinball (quantile) loss, averaged over the last axis.

    `d = y_true - y_pred`, `loss = max(tau * d, (tau - 1) * d)`; `tau` is a float
    or a list with one value per column of the last axis.
    """
    tau = _check_tau(tau)
    y_true, y_pred = prepare(y_true, y_pred, "Pinball")
    if isinstance(tau, list):
        columns = y_pred.shape[-1] if len(y_pred.shape) else None
        if columns is not None and len(tau) not in (1, columns):
            raise ValueError(
                "Pinball: `tau` has one value per output column, so len(tau) must "
                f"equal y_pred.shape[-1]. Received: tau={tau!r}, "
                f"y_pred.shape={tuple(y_pred.shape)}"
            )
    tau = ops.convert_to_tensor(tau, dtype=y_pred.dtype)
    delta = y_true - y_pred
    return ops.mean(ops.maximum(tau * delta, (tau - 1.0) * delta), axis=-1)


@register("loss", name="pinball", aliases=("quantile", "pinball_loss", "PinballLoss"),
          task="regression", inputs="regression")
class Pinball(FunctionLoss):
    """Pinball loss: fits the `tau`-quantile of the target instead of its mean.

    Use it for quantile regression and prediction intervals: `tau=0.5` gives the
    median (half the mean absolute error), `tau=0.9` a prediction that 90% of the
    targets fall below. Give a list of `tau`s, one per output column, to fit
    several quantiles (e.g. a 10%-50%-90% band) with one model and one loss.
    The loss is piecewise linear, so gradients do not shrink near the optimum:
    Adam with a modest learning rate works better than plain SGD.

    Formula, with `d = y_true - y_pred`, averaged over the last axis:

        loss = max(tau * d, (tau - 1) * d)

    i.e. `tau * d` when the prediction is too low and `(1 - tau) * |d|` when it
    is too high.

    Args:
        tau: the quantile, a float in [0, 1] or a list of floats with one value
            per output column. Defaults to `0.5`.
        reduction: Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"pinball"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import keras_lossopt
    >>> loss = keras_lossopt.losses.Pinball(tau=0.9)
    >>> round(float(loss([[1.0, 1.0]], [[0.0, 2.0]])), 4)  # (0.9 * 1 + 0.1 * 1) / 2
    0.5
    >>> band = keras_lossopt.losses.Pinball(tau=[0.1, 0.5, 0.9])
    >>> round(float(band([[1.0, 1.0, 1.0]], [[2.0, 2.0, 2.0]])), 4)  # (0.9 + 0.5 + 0.1) / 3
    0.5

    References:
        - Koenker & Bassett, 1978, "Regression Quantiles", Econometrica 46(1).
          https://doi.org/10.2307/1913643
        - TensorFlow Addons, `tfa.losses.PinballLoss` (same formula and
          argument name; the last-axis mean is TFA's).

    Deviations: TFA named the class `PinballLoss` and its default name was
    `"pinball_loss"`; here it is `Pinball`, registered as `"pinball"` with the
    aliases `"quantile"` and `"pinball_loss"`. A list `tau` is validated against
    the number of output columns.
    """

    def __init__(self, tau=0.5, reduction="sum_over_batch_size", name="pinball",
                 dtype=None):
        tau = _check_tau(tau)
        super().__init__(pinball_loss, name=name, reduction=reduction, dtype=dtype,
                         tau=tau)
