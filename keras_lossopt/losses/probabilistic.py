"""Probabilistic losses: Gaussian negative log-likelihood, Tweedie deviance,
Jensen-Shannon divergence."""

import math

import keras
from keras import ops

from keras_lossopt import _checks
from keras_lossopt.losses.base import FunctionLoss, prepare
from keras_lossopt.registry import register

__all__ = [
    "gaussian_nll",
    "GaussianNLL",
    "tweedie_deviance",
    "Tweedie",
    "jensen_shannon_divergence",
    "JensenShannon",
]


# --- Gaussian negative log-likelihood ----------------------------------------------


def _split_mean_and_spread(y_true, y_pred):
    """Checks shapes and splits `y_pred` (..., 2D) into mean and variance parts."""
    y_pred = ops.convert_to_tensor(y_pred)
    if not keras.backend.is_float_dtype(y_pred.dtype):
        y_pred = ops.cast(y_pred, keras.backend.floatx())
    y_true = ops.cast(ops.convert_to_tensor(y_true), y_pred.dtype)
    if len(y_true.shape) == len(y_pred.shape) - 1:
        y_true = ops.expand_dims(y_true, -1)
    columns = y_pred.shape[-1] if len(y_pred.shape) else None
    ok = (
        len(y_true.shape) == len(y_pred.shape)
        and columns is not None
        and columns % 2 == 0
        and y_true.shape[-1] in (None, columns // 2)
        and all(
            a is None or b is None or a == b
            for a, b in zip(y_true.shape[:-1], y_pred.shape[:-1])
        )
    )
    if not ok:
        raise ValueError(
            "GaussianNLL: `y_pred` must hold the mean and the variance side by side "
            "on the last axis, i.e. y_pred.shape == y_true.shape[:-1] + "
            "(2 * y_true.shape[-1],). Received: "
            f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}"
        )
    mean, spread = ops.split(y_pred, 2, axis=-1)
    return y_true, mean, spread


def gaussian_nll(y_true, y_pred, epsilon=1e-6, full=False, log_variance=False):
    """Per-sample Gaussian negative log-likelihood, averaged over the last axis.

    `y_pred = concat([mean, variance], -1)` (or `[mean, log_variance]` with
    `log_variance=True`); `0.5 * (log(var) + (y_true - mean)**2 / var)`, plus
    `0.5 * log(2 * pi)` when `full=True`.
    """
    _checks.check_positive("epsilon", epsilon)
    y_true, mean, spread = _split_mean_and_spread(y_true, y_pred)
    squared_error = ops.square(y_true - mean)
    if log_variance:
        per_element = 0.5 * (spread + squared_error * ops.exp(-spread))
    else:
        # PyTorch's clamp: the value is max(var, epsilon) while the gradient
        # flows through unchanged (torch clamps in-place under no_grad).
        var = spread + ops.stop_gradient(ops.maximum(spread, epsilon) - spread)
        per_element = 0.5 * (ops.log(var) + squared_error / var)
    if full:
        per_element = per_element + 0.5 * math.log(2.0 * math.pi)
    return ops.mean(per_element, axis=-1)


@register("loss", name="gaussian_nll", aliases=("gaussian_negative_log_likelihood",),
          task="probabilistic_regression", inputs="gaussian")
class GaussianNLL(FunctionLoss):
    """Gaussian negative log-likelihood: regression that also predicts its own uncertainty.

    The model outputs a mean and a variance for each target (2 * D units for D
    targets; the first D are means, the last D variances). Use a softplus (or
    `exp`) on the variance half, or pass `log_variance=True` and output an
    unconstrained log-variance, which is the more stable choice. Points with a
    large predicted variance are down-weighted, so the model learns
    heteroscedastic noise; watch for collapsing variances early in training
    (a warm-up with MSE on the mean helps).

    Formula, with `[mean, var] = split(y_pred, 2, axis=-1)`,
    `var = max(var, epsilon)`, averaged over the last axis:

        loss = 0.5 * (log(var) + (y_true - mean)**2 / var)   [+ 0.5 * log(2 * pi) if full]

    with `log_variance=True` the second half is `s = log(var)`:
    `loss = 0.5 * (s + (y_true - mean)**2 * exp(-s))` (no clamp).

    Args:
        epsilon: lower clamp of the variance (value only; the gradient passes as
            in PyTorch). Defaults to `1e-6`.
        full: add the constant `0.5 * log(2 * pi)`. Defaults to `False`.
        log_variance: the second half of `y_pred` is a log-variance. Defaults
            to `False`.
        reduction: Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"gaussian_nll"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import keras_lossopt
    >>> loss = keras_lossopt.losses.GaussianNLL()
    >>> round(float(loss([[1.0]], [[0.0, 1.0]])), 4)  # 0.5 * (log 1 + 1 / 1)
    0.5

    References:
        - Nix & Weigend, 1994, "Estimating the mean and variance of the target
          probability distribution", ICNN. https://doi.org/10.1109/ICNN.1994.374138
        - PyTorch `torch.nn.GaussianNLLLoss` (the semantics followed here:
          clamp at `eps`, optional constant `full`).

    Deviations from PyTorch: mean and variance come in one `y_pred` tensor
    (Keras losses take two arguments); a negative variance is clamped at
    `epsilon` instead of raising; `log_variance` is an addition.
    """

    def __init__(self, epsilon=1e-6, full=False, log_variance=False,
                 reduction="sum_over_batch_size", name="gaussian_nll", dtype=None):
        _checks.check_positive("epsilon", epsilon)
        super().__init__(gaussian_nll, name=name, reduction=reduction, dtype=dtype,
                         epsilon=float(epsilon), full=bool(full),
                         log_variance=bool(log_variance))


# --- Tweedie deviance ----------------------------------------------------------------


def _check_power(power):
    return float(_checks.check_real("power", power, low=1.0, high=2.0,
                                    low_inclusive=False, high_inclusive=False))


def tweedie_deviance(y_true, y_pred, power=1.5, log_link=False):
    """Per-sample Tweedie loss (negative log-likelihood up to terms free of the mean).

    `-y_true * mu**(1 - power) / (1 - power) + mu**(2 - power) / (2 - power)`,
    averaged over the last axis; `mu = y_pred` (clamped at Keras's epsilon) or
    `mu = exp(y_pred)` with `log_link=True`.
    """
    power = _check_power(power)
    y_true, y_pred = prepare(y_true, y_pred, "Tweedie")
    if log_link:
        # mu**(1-p) = exp((1-p) * eta): no clamp needed, stable for any eta.
        first = ops.exp((1.0 - power) * y_pred)
        second = ops.exp((2.0 - power) * y_pred)
    else:
        mu = ops.maximum(y_pred, keras.config.epsilon())
        first = ops.power(mu, 1.0 - power)
        second = ops.power(mu, 2.0 - power)
    per_element = -y_true * first / (1.0 - power) + second / (2.0 - power)
    return ops.mean(per_element, axis=-1)


@register("loss", name="tweedie", aliases=("tweedie_deviance",),
          task="regression", inputs="positive")
class Tweedie(FunctionLoss):
    """Tweedie loss for non-negative targets with many exact zeros (claims, sales, rainfall).

    A compound Poisson-gamma likelihood with `1 < power < 2`: a point mass at 0
    plus a continuous positive part. Use it where MSE over-predicts small
    values and Poisson under-weights the continuous part; `power` near 1 is
    Poisson-like, near 2 gamma-like (1.5 is a common start; tune it). As in
    LightGBM and XGBoost the natural output is the log of the mean: use a
    linear last layer with `log_link=True`; with `log_link=False` the model
    must output the mean `mu > 0` directly (e.g. softplus/exp activation).

    Formula, with `p = power`, `mu = y_pred` (or `exp(y_pred)` with
    `log_link=True`), averaged over the last axis:

        loss = -y_true * mu**(1 - p) / (1 - p) + mu**(2 - p) / (2 - p)

    This is the Tweedie negative log-likelihood up to terms that do not depend
    on `mu`; the deviance is twice it plus a term in `y_true` only, so both have
    the same minimiser and gradients (up to the factor 2).

    Args:
        power: the Tweedie power, in the open interval (1, 2). Defaults to `1.5`.
        log_link: `y_pred` is `log(mu)` instead of `mu`. Defaults to `False`.
        reduction: Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"tweedie"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import keras_lossopt
    >>> loss = keras_lossopt.losses.Tweedie(power=1.5)
    >>> round(float(loss([[1.0]], [[1.0]])), 4)  # -1 / -0.5 + 1 / 0.5
    4.0

    References:
        - Jorgensen, 1987, "Exponential Dispersion Models", JRSS B 49(2).
          https://doi.org/10.1111/j.2517-6161.1987.tb01685.x
        - Zhou, Yang & Qian, 2022, "Tweedie Gradient Boosting for Extremely
          Unbalanced Zero-inflated Data", https://arxiv.org/abs/1811.10192
        - LightGBM objective `tweedie` / XGBoost `reg:tweedie` (same loss on the
          log-link score).

    Deviations: with `log_link=False`, `mu` is clamped below at
    `keras.config.epsilon()` (as Keras's `Poisson` adds epsilon), so a zero or
    negative prediction gives a large finite loss instead of inf/NaN.
    """

    def __init__(self, power=1.5, log_link=False, reduction="sum_over_batch_size",
                 name="tweedie", dtype=None):
        power = _check_power(power)
        super().__init__(tweedie_deviance, name=name, reduction=reduction, dtype=dtype,
                         power=power, log_link=bool(log_link))


# --- Jensen-Shannon divergence -------------------------------------------------------


def jensen_shannon_divergence(y_true, y_pred, from_logits=False):
    """Per-sample Jensen-Shannon divergence (natural log), summed over the last axis."""
    y_true, y_pred = prepare(y_true, y_pred, "JensenShannon")
    if from_logits:
        y_pred = ops.softmax(y_pred, axis=-1)
    p = ops.clip(y_true, 0.0, 1.0)
    # Clipping the prediction at epsilon keeps log(q / m) and its gradient finite
    # at q == 0 (the exact gradient there is -inf), as Keras's KLDivergence does.
    q = ops.clip(y_pred, keras.config.epsilon(), 1.0)
    m = 0.5 * (p + q)
    positive = p > 0
    p_term = ops.where(positive, p * ops.log(ops.where(positive, p, 1.0) / m), 0.0)
    q_term = q * ops.log(q / m)
    return 0.5 * ops.sum(p_term + q_term, axis=-1)


@register("loss", name="jensen_shannon", aliases=("jensen_shannon_divergence", "js_divergence"),
          task="distribution", inputs=("categorical_logits", "distribution"))
class JensenShannon(FunctionLoss):
    """Jensen-Shannon divergence between a target and a predicted distribution.

    A symmetric, bounded (by log 2) cousin of the KL divergence: unlike
    `KLDivergence` it stays finite when one distribution puts zero mass where
    the other does not, which makes it a gentle loss for distillation or for
    matching soft label distributions. Both inputs are probability vectors on
    the last axis (`from_logits=True` applies a softmax to `y_pred`).
    Its gradients vanish when the two distributions barely overlap; prefer
    cross-entropy for hard one-hot targets.

    Formula, with `p = y_true`, `q = y_pred`, `m = (p + q) / 2`, natural log,
    summed over the last axis (`0 * log 0 = 0`):

        loss = 0.5 * sum(p * log(p / m)) + 0.5 * sum(q * log(q / m))

    This is the divergence, not the Jensen-Shannon distance (its square root).

    Args:
        from_logits: `y_pred` holds logits (softmax is applied). Defaults to
            `False`.
        reduction: Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"jensen_shannon"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import keras_lossopt
    >>> loss = keras_lossopt.losses.JensenShannon()
    >>> round(float(loss([[1.0, 0.0]], [[0.5, 0.5]])), 4)
    0.2158

    References:
        - Lin, 1991, "Divergence measures based on the Shannon entropy", IEEE
          Transactions on Information Theory 37(1). https://doi.org/10.1109/18.61115

    Deviations: `y_pred` is clipped to `[keras.config.epsilon(), 1]` (as Keras's
    `KLDivergence` does), which keeps the gradient finite at zero
    probabilities and changes the value by at most about `1e-6`.
    """

    def __init__(self, from_logits=False, reduction="sum_over_batch_size",
                 name="jensen_shannon", dtype=None):
        super().__init__(jensen_shannon_divergence, name=name, reduction=reduction,
                         dtype=dtype, from_logits=bool(from_logits))
