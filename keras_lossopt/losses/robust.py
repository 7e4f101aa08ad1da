"""Robust regression: Barron's general and adaptive robust loss (fixed shape)."""

import math

from keras import ops

from keras_lossopt import _checks
from keras_lossopt.losses.base import FunctionLoss, prepare
from keras_lossopt.registry import register

__all__ = ["barron_loss", "BarronLoss"]


def _check_alpha(alpha):
    _checks.check_real("alpha", alpha, allow_inf=True)
    return float(alpha)


def barron_loss(y_true, y_pred, alpha=1.0, scale=1.0):
    """Per-sample Barron loss of `x = y_pred - y_true`, averaged over the last axis.

    `alpha` is a Python number, so the limit cases (0, 2, +inf, -inf) are chosen
    when the graph is built and no NaN from an unused branch reaches the gradient.
    """
    alpha = _check_alpha(alpha)
    _checks.check_positive("scale", scale)
    y_true, y_pred = prepare(y_true, y_pred, "BarronLoss")
    scaled = (y_pred - y_true) / ops.convert_to_tensor(scale, dtype=y_pred.dtype)
    half_squared = 0.5 * ops.square(scaled)
    if alpha == 2.0:
        per_element = half_squared
    elif alpha == 0.0:
        per_element = ops.log1p(half_squared)
    elif alpha == -math.inf:
        per_element = -ops.expm1(-half_squared)
    elif alpha == math.inf:
        per_element = ops.expm1(half_squared)
    else:
        beta = abs(alpha - 2.0)
        # (u + 1)**(alpha/2) - 1 written as expm1(alpha/2 * log1p(u)): accurate
        # for alpha near 0 and for small residuals.
        u = ops.square(scaled) / beta
        per_element = (beta / alpha) * ops.expm1(0.5 * alpha * ops.log1p(u))
    return ops.mean(per_element, axis=-1)


@register("loss", name="barron", aliases=("general_robust", "barron_loss"),
          task="regression", inputs="regression")
class BarronLoss(FunctionLoss):
    """Barron's general robust loss: one `alpha` spans L2, Charbonnier, Cauchy, Geman-McClure and Welsch.

    Use it for regression with outliers when you want to choose how strongly
    large residuals are discounted: `alpha=2` is least squares, `alpha=1` the
    smooth L1 / pseudo-Huber (Charbonnier) loss, `alpha=0` Cauchy/Lorentzian,
    `alpha=-2` Geman-McClure and `alpha=-inf` Welsch/Leclerc. Lower `alpha`
    means more robust but less convex (alpha < 1 is non-convex: start from a
    reasonable model or use a larger `scale` early). `scale` is the residual
    size below which the loss is roughly quadratic. `alpha` is fixed here (the
    paper's adaptive version learns it as a distribution parameter).

    Formula, with `x = (y_pred - y_true) / scale`, averaged over the last axis:

        alpha == 2:     loss = x**2 / 2
        alpha == 0:     loss = log(x**2 / 2 + 1)
        alpha == -inf:  loss = 1 - exp(-x**2 / 2)
        alpha == +inf:  loss = exp(x**2 / 2) - 1
        otherwise:      loss = |alpha - 2| / alpha * ((x**2 / |alpha - 2| + 1)**(alpha / 2) - 1)

    Args:
        alpha: shape parameter, any real number or `float("inf")`/`-inf`.
            Defaults to `1.0`.
        scale: positive scale `c` of the residuals. Defaults to `1.0`.
        reduction: Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"barron"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import keras_lossopt
    >>> loss = keras_lossopt.losses.BarronLoss(alpha=1.0, scale=1.0)
    >>> round(float(loss([[0.0]], [[1.0]])), 4)  # sqrt(1 + 1) - 1
    0.4142
    >>> round(float(keras_lossopt.losses.BarronLoss(alpha=2.0, scale=2.0)([[0.0]], [[1.0]])), 4)
    0.125

    References:
        - Barron, 2019, "A General and Adaptive Robust Loss Function", CVPR,
          equation (1) and its limits. https://arxiv.org/abs/1701.03077
        - Authors' code: github.com/google-research/google-research/robust_loss
          (`general.lossfun`).

    Deviations: `alpha` and `scale` are fixed hyperparameters (not learned, not
    tensors), so the special cases are chosen exactly instead of the
    machine-epsilon clamps of the authors' code; the general case is evaluated
    as `expm1(alpha/2 * log1p(.))`, which is more accurate near `alpha = 0`.
    The "adaptive" negative-log-likelihood version is not provided.
    """

    def __init__(self, alpha=1.0, scale=1.0, reduction="sum_over_batch_size",
                 name="barron", dtype=None):
        alpha = _check_alpha(alpha)
        _checks.check_positive("scale", scale)
        super().__init__(barron_loss, name=name, reduction=reduction, dtype=dtype,
                         alpha=alpha, scale=float(scale))
