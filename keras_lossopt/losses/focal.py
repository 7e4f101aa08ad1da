"""Losses for imbalanced classification: sigmoid focal, sparse categorical
focal, Poly-1 and asymmetric (multi-label) losses."""

import keras
from keras import ops

from keras_lossopt import _checks
from keras_lossopt.losses.base import FunctionLoss, check_has_batch_axis, prepare
from keras_lossopt.registry import register

__all__ = [
    "sigmoid_focal_crossentropy",
    "SigmoidFocalCrossEntropy",
    "sparse_categorical_focal_crossentropy",
    "SparseCategoricalFocalCrossentropy",
    "poly1_crossentropy",
    "PolyLoss",
    "asymmetric_loss",
    "AsymmetricLoss",
]


def _safe_power(base, exponent):
    """`base ** exponent` for base in [0, 1] with a finite gradient at base == 0.

    `exponent` is a Python float >= 0. At 0 the value is `0 ** exponent` (1 for
    exponent 0) and the gradient is 0 instead of `exponent * 0 ** (exponent - 1)`,
    which is inf/NaN for exponents below 1.
    """
    if exponent == 2.0:  # the default gamma: a product, not a pow (TF, torch)
        return ops.square(base)
    base = ops.maximum(base, 0.0)
    if exponent >= 1.0:
        # exponent * base**(exponent - 1) is finite at 0: no guard, one fused op
        # (the guard made sigmoid focal 1.3-1.8x slower than Keras's focal).
        return ops.power(base, exponent)
    positive = base > 0
    at_zero = 1.0 if exponent == 0 else 0.0
    return ops.where(positive, ops.power(ops.where(positive, base, 1.0), exponent), at_zero)


# --- Sigmoid focal cross-entropy (TFA) -----------------------------------------------


def _sigmoid_and_bce_from_logits(labels, logits):
    """(sigmoid(x), element-wise BCE on logits x) sharing one exp and one log1p.

    The overflow-free form of TensorFlow's `sigmoid_cross_entropy_with_logits`,
    with every piece taken from the same side of x = 0 so that the gradient at
    x = 0 is exactly sigmoid(0) - y:

        e   = exp(-|x|)
        BCE = max(x, 0) - x * y + log1p(e)
        p   = 1 / (1 + e) if x >= 0 else e / (1 + e)

    Used on JAX, where XLA fuses it into one loop: Keras's logit BCE there
    (two `log_sigmoid`s) plus a separate sigmoid made sigmoid focal 1.95x
    slower than Keras's focal (which takes the sigmoid, then a clipped
    probability BCE); with this, 0.83x (batch 8192 x 20 labels, value and
    gradient, benchmarks/loss_step.py).
    """
    non_negative = logits >= 0
    e = ops.exp(ops.where(non_negative, -logits, logits))
    ce = ops.where(non_negative, logits, 0.0) - logits * labels + ops.log1p(e)
    prob = ops.where(non_negative, 1.0, e) / (1.0 + e)
    return prob, ce



def _check_focal_alpha(alpha):
    if alpha is None:
        return None
    return float(_checks.check_probability("alpha", alpha))


def sigmoid_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False):
    """Per-sample sigmoid focal loss, summed over the last axis (as TFA)."""
    alpha = _check_focal_alpha(alpha)
    gamma = float(_checks.check_non_negative("gamma", gamma))
    y_true, y_pred = prepare(y_true, y_pred, "SigmoidFocalCrossEntropy")
    if from_logits and keras.backend.backend() == "jax":
        prob, ce = _sigmoid_and_bce_from_logits(y_true, y_pred)
    elif from_logits:
        # TensorFlow's graph without XLA and torch run each op as its own pass:
        # Keras's logit BCE plus a sigmoid is fewer ops than the shared-exp form
        # (TF tf.function 1.18x vs 1.41x Keras's focal, torch 0.67x vs 1.40x).
        ce = ops.binary_crossentropy(y_true, y_pred, from_logits=True)
        prob = ops.sigmoid(y_pred)
    else:
        # Keras's element-wise BCE: probabilities clipped to [eps, 1 - eps].
        ce = ops.binary_crossentropy(y_true, y_pred)
        prob = y_pred
    p_t = y_true * prob + (1.0 - y_true) * (1.0 - prob)
    loss = ce
    if alpha is not None:
        loss = loss * (y_true * alpha + (1.0 - y_true) * (1.0 - alpha))
    if gamma != 0.0:
        loss = loss * _safe_power(1.0 - p_t, gamma)
    return ops.sum(loss, axis=-1)


@register("loss", name="sigmoid_focal_crossentropy",
          aliases=("sigmoid_focal_cross_entropy",), task=("binary", "multilabel"), inputs="binary")
class SigmoidFocalCrossEntropy(FunctionLoss):
    """Sigmoid focal loss (TensorFlow Addons' API): cross-entropy that down-weights easy examples.

    Use it for binary or multi-label problems with heavy class imbalance (dense
    object detection, rare-event classification): the factor `(1 - p_t)**gamma`
    shrinks the loss of well-classified examples so the rare, hard ones drive
    training, and `alpha` re-weights positives against negatives. Start from
    `gamma=2, alpha=0.25` (the paper's), and initialise the last layer's bias
    to `log(pi / (1 - pi))` for a positive rate `pi` so training starts stable.
    Keras's `BinaryFocalCrossentropy` averages over the last axis and names the
    alpha switch differently; this class keeps TFA's names and sum.

    Formula, with `p = y_pred` (or `sigmoid(y_pred)` with `from_logits=True`),
    `p_t = y_true * p + (1 - y_true) * (1 - p)`, summed over the last axis:

        alpha_t = y_true * alpha + (1 - y_true) * (1 - alpha)     (1 if alpha is None)
        loss    = alpha_t * (1 - p_t)**gamma * BCE(y_true, y_pred)

    where BCE is Keras's element-wise binary cross-entropy (probabilities
    clipped to [1e-7, 1 - 1e-7]). With `gamma=0` and `alpha=None` it is BCE
    summed over the last axis.

    Args:
        alpha: balancing weight of the positive class in [0, 1], or `None` for
            no balancing. Defaults to `0.25`.
        gamma: focusing parameter >= 0. Defaults to `2.0`.
        from_logits: `y_pred` holds logits. Defaults to `False`.
        reduction: Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"sigmoid_focal_crossentropy"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import keras_lossopt
    >>> loss = keras_lossopt.losses.SigmoidFocalCrossEntropy(alpha=None, gamma=2.0)
    >>> round(float(loss([[1.0]], [[0.5]])), 4)  # 0.5**2 * log(2)
    0.1733

    References:
        - Lin, Goyal, Girshick, He & Dollar, 2017, "Focal Loss for Dense Object
          Detection", ICCV, equation (5). https://arxiv.org/abs/1708.02002
        - TensorFlow Addons, `tfa.losses.SigmoidFocalCrossEntropy`.

    Deviations from TFA: `alpha=0` means a zero weight on positives (TFA
    treated any falsy alpha as "no balancing"; pass `alpha=None` for that);
    `gamma=None` is not accepted (use `0.0`); the focusing factor has a zero
    (not NaN) gradient where `p_t` is exactly 1.
    """

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False,
                 reduction="sum_over_batch_size", name="sigmoid_focal_crossentropy",
                 dtype=None):
        alpha = _check_focal_alpha(alpha)
        _checks.check_non_negative("gamma", gamma)
        super().__init__(sigmoid_focal_crossentropy, name=name, reduction=reduction,
                         dtype=dtype, alpha=alpha, gamma=float(gamma),
                         from_logits=bool(from_logits))


# --- Sparse categorical focal cross-entropy -------------------------------------------


def _sparse_labels(y_true, y_pred, loss_name):
    """Integer labels of shape y_pred.shape[:-1] (a trailing 1 is squeezed)."""
    check_has_batch_axis(y_true, y_pred, loss_name)
    expected = tuple(y_pred.shape[:-1])
    got = tuple(y_true.shape)
    if len(got) == len(expected) + 1 and got[-1] == 1:
        y_true = ops.squeeze(y_true, -1)
        got = got[:-1]
    if len(got) != len(expected) or not all(
        a is None or b is None or a == b for a, b in zip(got, expected)
    ):
        raise ValueError(
            f"{loss_name}: `y_true` must hold one integer label per row of `y_pred` "
            "(shape y_pred.shape[:-1], optionally with a trailing 1). Received: "
            f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}"
        )
    return ops.cast(y_true, "int32")


def sparse_categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0,
                                          from_logits=False, label_smoothing=0.0):
    """Per-sample categorical focal loss for integer labels.

    Keras's own `categorical_focal_crossentropy` applied to `one_hot(y_true)`.
    """
    _checks.check_non_negative("alpha", alpha)
    _checks.check_non_negative("gamma", gamma)
    _checks.check_probability("label_smoothing", label_smoothing)
    y_pred = ops.convert_to_tensor(y_pred)
    if not keras.backend.is_float_dtype(y_pred.dtype):
        y_pred = ops.cast(y_pred, keras.backend.floatx())
    labels = _sparse_labels(ops.convert_to_tensor(y_true), y_pred,
                            "SparseCategoricalFocalCrossentropy")
    one_hot = ops.one_hot(labels, y_pred.shape[-1], dtype=y_pred.dtype)
    return keras.losses.categorical_focal_crossentropy(
        one_hot, y_pred, alpha=alpha, gamma=gamma, from_logits=from_logits,
        label_smoothing=label_smoothing,
    )


@register("loss", name="sparse_categorical_focal_crossentropy",
          aliases=("sparse_focal_crossentropy",),
          task="multiclass", labels="integers", inputs="sparse")
class SparseCategoricalFocalCrossentropy(FunctionLoss):
    """Categorical focal loss for integer labels: the sparse twin of Keras's `CategoricalFocalCrossentropy`.

    Use it for multi-class problems with imbalanced or many easy examples when
    the labels are class indices (no one-hot encoding needed). It computes
    exactly Keras's `categorical_focal_crossentropy` on `one_hot(y_true)`, so
    the two are interchangeable; `gamma=2, alpha=0.25` are Keras's defaults.

    Formula, for integer label `k` and predicted probabilities `p` (softmax of
    `y_pred` with `from_logits=True`, otherwise `y_pred` normalised to sum 1),
    clipped to [1e-7, 1 - 1e-7], with targets `q = one_hot(k)` smoothed as
    `q * (1 - label_smoothing) + label_smoothing / C`:

        loss = -sum_c alpha * (1 - p_c)**gamma * q_c * log(p_c)

    Args:
        alpha: weight applied to every class, >= 0. Defaults to `0.25`.
        gamma: focusing parameter >= 0. Defaults to `2.0`.
        from_logits: `y_pred` holds logits. Defaults to `False`.
        label_smoothing: float in [0, 1]. Defaults to `0.0`.
        reduction: Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"sparse_categorical_focal_crossentropy"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import keras_lossopt
    >>> loss = keras_lossopt.losses.SparseCategoricalFocalCrossentropy(alpha=1.0)
    >>> round(float(loss([0], [[0.5, 0.5]])), 4)  # 0.5**2 * log(2)
    0.1733

    References:
        - Lin, Goyal, Girshick, He & Dollar, 2017, "Focal Loss for Dense Object
          Detection", ICCV. https://arxiv.org/abs/1708.02002
        - Keras `keras.losses.CategoricalFocalCrossentropy` (reused, not copied).

    Deviations: none from Keras's categorical focal loss; `alpha` is one scalar
    for all classes as in Keras (the paper's alpha weights the positive class
    of a binary problem).
    """

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                 reduction="sum_over_batch_size",
                 name="sparse_categorical_focal_crossentropy", dtype=None):
        _checks.check_non_negative("alpha", alpha)
        _checks.check_non_negative("gamma", gamma)
        _checks.check_probability("label_smoothing", label_smoothing)
        super().__init__(sparse_categorical_focal_crossentropy, name=name,
                         reduction=reduction, dtype=dtype, alpha=float(alpha),
                         gamma=float(gamma), from_logits=bool(from_logits),
                         label_smoothing=float(label_smoothing))


# --- Poly-1 ---------------------------------------------------------------------------


def poly1_crossentropy(y_true, y_pred, epsilon=1.0, from_logits=False,
                       label_smoothing=0.0):
    """Per-sample Poly-1 loss: categorical cross-entropy + epsilon * (1 - p_t)."""
    _checks.check_real("epsilon", epsilon, low=-1.0)
    _checks.check_probability("label_smoothing", label_smoothing)
    y_true, y_pred = prepare(y_true, y_pred, "PolyLoss")
    if label_smoothing:
        num_classes = ops.cast(ops.shape(y_pred)[-1], y_pred.dtype)
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / num_classes
    ce = keras.losses.categorical_crossentropy(y_true, y_pred, from_logits=from_logits)
    if from_logits:
        prob = ops.softmax(y_pred, axis=-1)
    else:
        prob = y_pred / ops.sum(y_pred, axis=-1, keepdims=True)
    p_t = ops.sum(y_true * prob, axis=-1)
    return ce + epsilon * (1.0 - p_t)


@register("loss", name="poly_loss", aliases=("poly1", "poly1_crossentropy"),
          task="multiclass", labels="one_hot", inputs="categorical")
class PolyLoss(FunctionLoss):
    """Poly-1 loss: softmax cross-entropy plus `epsilon * (1 - p_t)`.

    A one-hyperparameter tweak of cross-entropy from the PolyLoss family: a
    positive `epsilon` adds a constant gradient push towards the target class
    (helps when the model is under-confident, e.g. ImageNet-scale training);
    a negative one (down to -1) softens it (helps over-confident, imbalanced
    detection). `epsilon=0` is plain cross-entropy; the paper's default is 1.
    Labels are one-hot (or soft) vectors, as for `CategoricalCrossentropy`.

    Formula, with targets `q` (smoothed as
    `q * (1 - label_smoothing) + label_smoothing / C`), probabilities `p`
    (softmax of `y_pred` with `from_logits=True`, else `y_pred` normalised to sum 1):

        p_t  = sum_c q_c * p_c
        loss = CE(q, p) + epsilon * (1 - p_t)

    with CE Keras's categorical cross-entropy (probabilities clipped to
    [1e-7, 1 - 1e-7]).

    Args:
        epsilon: the Poly-1 coefficient, >= -1. Defaults to `1.0`.
        from_logits: `y_pred` holds logits. Defaults to `False`.
        label_smoothing: float in [0, 1]. Defaults to `0.0`.
        reduction: Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"poly_loss"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import keras_lossopt
    >>> loss = keras_lossopt.losses.PolyLoss(epsilon=1.0)
    >>> round(float(loss([[1.0, 0.0]], [[0.5, 0.5]])), 4)  # log(2) + (1 - 0.5)
    1.1931

    References:
        - Leng, Xu, Zhao, Zhang, Huang, Cheng, Bian & Tan, 2022, "PolyLoss: A
          Polynomial Expansion Perspective of Classification Loss Functions",
          ICLR, equation (3) and the label-smoothing code of its appendix.
          https://arxiv.org/abs/2204.12511

    Deviations: probability inputs are accepted (`from_logits=False`, Keras's
    default), going through Keras's clipped cross-entropy.
    """

    def __init__(self, epsilon=1.0, from_logits=False, label_smoothing=0.0,
                 reduction="sum_over_batch_size", name="poly_loss", dtype=None):
        _checks.check_real("epsilon", epsilon, low=-1.0)
        _checks.check_probability("label_smoothing", label_smoothing)
        super().__init__(poly1_crossentropy, name=name, reduction=reduction,
                         dtype=dtype, epsilon=float(epsilon),
                         from_logits=bool(from_logits),
                         label_smoothing=float(label_smoothing))


# --- Asymmetric loss (multi-label) ---------------------------------------------------

_ASL_EPS = 1e-8  # the authors' probability clamp


def asymmetric_loss(y_true, y_pred, gamma_pos=0.0, gamma_neg=4.0, clip=0.05,
                    from_logits=True):
    """Per-sample asymmetric loss, summed over the labels (last axis)."""
    _checks.check_non_negative("gamma_pos", gamma_pos)
    _checks.check_non_negative("gamma_neg", gamma_neg)
    _checks.check_probability("clip", clip, high_inclusive=False)
    y_true, y_pred = prepare(y_true, y_pred, "AsymmetricLoss")
    prob = ops.sigmoid(y_pred) if from_logits else y_pred
    # Probability shifting of the negatives: p_m = max(p - clip, 0), i.e. the
    # "negative probability" 1 - p_m = min(1 - p + clip, 1).
    prob_neg = 1.0 - prob
    if clip > 0:
        prob_neg = ops.minimum(prob_neg + clip, 1.0)
    loss = y_true * ops.log(ops.maximum(prob, _ASL_EPS)) + (1.0 - y_true) * ops.log(
        ops.maximum(prob_neg, _ASL_EPS)
    )
    if gamma_pos > 0 or gamma_neg > 0:
        p_t = prob * y_true + prob_neg * (1.0 - y_true)
        exponent = gamma_pos * y_true + gamma_neg * (1.0 - y_true)
        base = ops.maximum(1.0 - p_t, 0.0)
        # As the authors train (disable_torch_grad_focal_loss=True), the focusing
        # weight is a constant for the gradient.
        weight = ops.stop_gradient(ops.power(base, exponent))
        loss = loss * weight
    return -ops.sum(loss, axis=-1)


@register("loss", name="asymmetric_loss", aliases=("asl",),
          task=("multilabel", "binary"), inputs="binary")
class AsymmetricLoss(FunctionLoss):
    """Asymmetric loss (ASL) for multi-label classification with many negative labels.

    Each label is an independent sigmoid. Negatives are focused harder than
    positives (`gamma_neg > gamma_pos`) and their probability is shifted down by
    `clip`, so easy negatives (and likely mislabelled ones) stop dominating the
    gradient when each image has few positive labels out of many. The paper's
    defaults `gamma_pos=0, gamma_neg=4, clip=0.05` work well on MS-COCO /
    Open Images; the model outputs logits (`from_logits=True`).

    Formula, per label, with `p = sigmoid(y_pred)` (or `y_pred` with
    `from_logits=False`), `p_m = max(p - clip, 0)`, probabilities clamped at
    1e-8 inside the logs, summed over the last axis:

        positive (y = 1):  -(1 - p)**gamma_pos * log(p)
        negative (y = 0):  -p_m**gamma_neg * log(1 - p_m)

    (soft labels mix the two lines with weights `y` and `1 - y`). The focusing
    weights are treated as constants by the gradient, as in the authors'
    training setup.

    Args:
        gamma_pos: focusing parameter of positive labels, >= 0. Defaults to `0.0`.
        gamma_neg: focusing parameter of negative labels, >= 0. Defaults to `4.0`.
        clip: probability margin `m` in [0, 1) for negatives (0 disables the
            shift). Defaults to `0.05`.
        from_logits: `y_pred` holds logits. Defaults to `True`.
        reduction: Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"asymmetric_loss"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import keras_lossopt
    >>> loss = keras_lossopt.losses.AsymmetricLoss()
    >>> round(float(loss([[1.0, 0.0]], [[0.0, 0.0]])), 4)  # log 2 + 0.45**4 * -log(0.55)
    0.7177

    References:
        - Ridnik, Ben-Baruch, Zamir, Noy, Friedman, Protter & Zelnik-Manor,
          2021, "Asymmetric Loss For Multi-Label Classification", ICCV,
          equations (3)-(5). https://arxiv.org/abs/2009.14119
        - Authors' code: github.com/Alibaba-MIIL/ASL, `src/loss_functions/losses.py`.

    Deviations: the authors' module returns the sum over the whole batch; here
    each sample gets its sum over labels and Keras's reduction applies (mean
    over the batch by default), so the scale differs by the batch size.
    """

    def __init__(self, gamma_pos=0.0, gamma_neg=4.0, clip=0.05, from_logits=True,
                 reduction="sum_over_batch_size", name="asymmetric_loss", dtype=None):
        _checks.check_non_negative("gamma_pos", gamma_pos)
        _checks.check_non_negative("gamma_neg", gamma_neg)
        _checks.check_probability("clip", clip, high_inclusive=False)
        super().__init__(asymmetric_loss, name=name, reduction=reduction, dtype=dtype,
                         gamma_pos=float(gamma_pos), gamma_neg=float(gamma_neg),
                         clip=float(clip), from_logits=bool(from_logits))
