"""The bi-tempered logistic loss of Amid et al. (2019), from the authors' code."""

from keras import ops

from keras_lossopt import _checks
from keras_lossopt.losses.base import FunctionLoss, prepare
from keras_lossopt.registry import register

__all__ = ["bi_tempered_logistic_loss", "tempered_softmax", "BiTemperedLogistic"]


def _log_t(u, t):
    """Tempered logarithm: `(u**(1 - t) - 1) / (1 - t)`, `log(u)` at t == 1."""
    if t == 1.0:
        return ops.log(u)
    return (ops.power(u, 1.0 - t) - 1.0) / (1.0 - t)


def _exp_t(u, t):
    """Tempered exponential: `max(1 + (1 - t) * u, 0)**(1 / (1 - t))`, `exp(u)` at t == 1."""
    if t == 1.0:
        return ops.exp(u)
    return ops.power(ops.relu(1.0 + (1.0 - t) * u), 1.0 / (1.0 - t))


def _normalization_fixed_point(activations, t, num_iters):
    """Normalisation constant for t > 1 by the authors' fixed-point iteration."""
    mu = ops.max(activations, axis=-1, keepdims=True)
    start = activations - mu
    normalized = start
    for _ in range(num_iters):
        partition = ops.sum(_exp_t(normalized, t), axis=-1, keepdims=True)
        normalized = start * ops.power(partition, 1.0 - t)
    partition = ops.sum(_exp_t(normalized, t), axis=-1, keepdims=True)
    return -_log_t(1.0 / partition, t) + mu


def _normalization_binary_search(activations, t, num_iters):
    """Normalisation constant for t < 1 by the authors' bisection."""
    mu = ops.max(activations, axis=-1, keepdims=True)
    normalized = activations - mu
    effective_dim = ops.sum(
        ops.cast(normalized > -1.0 / (1.0 - t), normalized.dtype), axis=-1, keepdims=True
    )
    lower = ops.zeros_like(mu)
    upper = -_log_t(1.0 / effective_dim, t) * ops.ones_like(mu)
    for _ in range(num_iters):
        middle = 0.5 * (upper + lower)
        total = ops.sum(_exp_t(normalized - middle, t), axis=-1, keepdims=True)
        below = ops.cast(total < 1.0, normalized.dtype)
        lower = lower * below + (1.0 - below) * middle
        upper = upper * (1.0 - below) + below * middle
    return 0.5 * (upper + lower) + mu


def _normalization(activations, t, num_iters):
    if t == 1.0:
        return ops.logsumexp(activations, axis=-1, keepdims=True)
    if t < 1.0:
        return _normalization_binary_search(activations, t, num_iters)
    return _normalization_fixed_point(activations, t, num_iters)


def tempered_softmax(activations, t=1.0, num_iters=5):
    """Tempered softmax `exp_t(activations - lambda(activations), t)` on the last axis."""
    activations = ops.convert_to_tensor(activations)
    return _exp_t(activations - _normalization(activations, t, num_iters), t)


def _safe_power(x, exponent):
    """`x ** exponent` for x >= 0 that is 0 (not inf) at x == 0 for negative exponents."""
    if exponent == 0:
        return ops.ones_like(x)
    positive = x > 0
    return ops.where(positive, ops.power(ops.where(positive, x, 1.0), exponent), 0.0)


def _check_arguments(t1, t2, label_smoothing, num_iters):
    _checks.check_real("t1", t1, low=0.0, high=2.0, high_inclusive=False)
    _checks.check_positive("t2", t2)
    _checks.check_probability("label_smoothing", label_smoothing, high_inclusive=False)
    _checks.check_positive_int("num_iters", num_iters)


def bi_tempered_logistic_loss(y_true, y_pred, t1=1.0, t2=1.0, label_smoothing=0.0,
                              num_iters=5):
    """Per-sample bi-tempered logistic loss of logits `y_pred`, summed over classes.

    The gradient with respect to `y_pred` is the authors' closed form
    (implicit differentiation of the normalisation), not an unrolled
    derivative of the iterations.
    """
    _check_arguments(t1, t2, label_smoothing, num_iters)
    labels, activations = prepare(y_true, y_pred, "BiTemperedLogistic")
    if label_smoothing > 0.0:
        # The authors' smoothing: the off-target mass is spread over C - 1 classes.
        num_classes = ops.cast(ops.shape(activations)[-1], activations.dtype)
        labels = (
            (1.0 - num_classes / (num_classes - 1.0) * label_smoothing) * labels
            + label_smoothing / (num_classes - 1.0)
        )
    frozen = ops.stop_gradient(activations)
    labels = ops.stop_gradient(labels)
    probabilities = tempered_softmax(frozen, t2, num_iters)
    has_label = labels > 0
    if t1 == 1.0 and t2 == 1.0:
        # Softmax cross-entropy, as the authors' TensorFlow code returns here
        # (their published value for t1 = t2 = 1 has no label-entropy term).
        target_term = -ops.log_softmax(frozen, axis=-1)
        power_term = ops.zeros_like(labels)
    elif t1 == 1.0:
        log_probs = ops.log(ops.where(has_label, probabilities, 1.0))
        target_term = ops.log(labels + 1e-10) - log_probs
        power_term = labels - probabilities
    else:
        target_term = _log_t(labels + 1e-10, t1) - _log_t(
            ops.where(has_label, probabilities, 1.0), t1)
        power_term = (ops.power(labels, 2.0 - t1)
                      - ops.power(probabilities, 2.0 - t1)) / (2.0 - t1)
    # 0 * (something infinite) where a label is 0 counts as 0.
    values = ops.where(has_label, labels * target_term, 0.0) - power_term
    loss = ops.sum(values, axis=-1)

    # Authors' gradient: (p - y) * p**(t2 - t1) - escort(p) * sum((p - y) * p**(t2 - t1)),
    # with escort(p) = p**t2 / sum(p**t2). It is attached with a zero-valued
    # surrogate so that every backend differentiates it without custom_gradient.
    delta = probabilities - labels
    forget = (_safe_power(probabilities, t2 - t1) if t2 != t1
              else ops.ones_like(probabilities))
    weighted = delta * forget
    escorts = ops.power(probabilities, t2)
    escorts = escorts / ops.sum(escorts, axis=-1, keepdims=True)
    derivative = weighted - escorts * ops.sum(weighted, axis=-1, keepdims=True)
    surrogate = ops.sum(ops.stop_gradient(derivative) * (activations - frozen), axis=-1)
    return loss + surrogate


@register("loss", name="bi_tempered_logistic", aliases=("bi_tempered_logistic_loss",),
          task="multiclass", labels="one_hot", inputs="categorical_logits")
class BiTemperedLogistic(FunctionLoss):
    """Bi-tempered logistic loss: a noise-robust softmax cross-entropy with two temperatures.

    Replaces softmax + cross-entropy for classification with noisy labels.
    `t1 < 1` makes the loss bounded, so badly mislabelled examples far from the
    boundary stop pulling the model; `t2 > 1` gives the tempered softmax a heavy
    tail, which helps with label noise near the boundary. `t1 = t2 = 1` is the
    ordinary softmax cross-entropy. Typical robust settings are `t1` in
    [0.5, 0.9] and `t2` in [1.1, 4]. `y_pred` are logits (no softmax layer) and
    `y_true` one-hot or soft labels.

    Formula, with `log_t(u) = (u**(1 - t) - 1) / (1 - t)`,
    `exp_t(u) = max(1 + (1 - t) * u, 0)**(1 / (1 - t))` (log/exp at t = 1), the
    tempered softmax `p = exp_t2(y_pred - lambda)` where `lambda` makes
    `sum(p) = 1` (found in `num_iters` fixed-point steps for t2 > 1, bisection
    steps for t2 < 1), labels `y` smoothed as
    `(1 - C / (C - 1) * label_smoothing) * y + label_smoothing / (C - 1)`,
    summed over the classes:

        loss = sum(y * (log_t1(y + 1e-10) - log_t1(p))
                   - (y**(2 - t1) - p**(2 - t1)) / (2 - t1))

    Args:
        t1: temperature of the logarithm (< 1 for a bounded loss), in [0, 2).
            Defaults to `1.0`.
        t2: temperature of the exponential (> 1 for heavy tails, < 1 for finite
            support), > 0. Defaults to `1.0`.
        label_smoothing: in [0, 1). Defaults to `0.0`.
        num_iters: iterations used to find the normalisation. Defaults to `5`.
        reduction: Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"bi_tempered_logistic"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import keras_lossopt
    >>> loss = keras_lossopt.losses.BiTemperedLogistic(t1=0.5, t2=1.5)
    >>> round(float(loss([[0.2, 0.3, 0.5]], [[-0.5, 0.1, 2.0]])), 4)
    0.023

    References:
        - Amid, Warmuth, Anil & Koren, 2019, "Robust Bi-Tempered Logistic Loss
          Based on Bregman Divergences", NeurIPS. https://arxiv.org/abs/1906.03361
        - Authors' code: github.com/google/bi-tempered-loss (`tensorflow/loss.py`,
          `jax/loss.py`), whose loss values and gradient this follows.

    At `t1 = t2 = 1` the value is the softmax cross-entropy
    `-sum(y * log_softmax(y_pred))` (as in the authors' TensorFlow code and
    tests); the general formula would add the label entropy `sum(y * log y)`,
    a constant that is 0 for one-hot labels and leaves the gradient unchanged.

    Deviations: none in value; the authors' custom gradient is reproduced with
    a stop-gradient surrogate, so second derivatives are not available. The
    label smoothing spreads mass over the C - 1 other classes (authors' code),
    not over all C classes as Keras's `label_smoothing` does.
    """

    def __init__(self, t1=1.0, t2=1.0, label_smoothing=0.0, num_iters=5,
                 reduction="sum_over_batch_size", name="bi_tempered_logistic",
                 dtype=None):
        _check_arguments(t1, t2, label_smoothing, num_iters)
        super().__init__(bi_tempered_logistic_loss, name=name, reduction=reduction,
                         dtype=dtype, t1=float(t1), t2=float(t2),
                         label_smoothing=float(label_smoothing),
                         num_iters=int(num_iters))
