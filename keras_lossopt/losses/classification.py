"""Classification losses Keras lacks: sigmoid cross-entropy on logits and sparse
categorical cross-entropy with label smoothing."""

import keras
from keras import ops

from keras_lossopt import _catalogue, _checks
from keras_lossopt.losses.base import FunctionLoss, check_has_batch_axis, prepare
from keras_lossopt.registry import register

__all__ = [
    "sigmoid_cross_entropy",
    "SigmoidCrossEntropy",
    "sparse_categorical_crossentropy",
    "SmoothedSparseCategoricalCrossentropy",
]


def sigmoid_cross_entropy(y_true, y_pred, label_smoothing=0.0):
    """Per-sample binary cross-entropy on logits, averaged over the last axis."""
    _checks.check_probability("label_smoothing", label_smoothing)
    y_true, y_pred = prepare(y_true, y_pred, "SigmoidCrossEntropy")
    # Keras's logit path is the stable max(x, 0) - x*z + log(1 + exp(-|x|)).
    return keras.losses.binary_crossentropy(
        y_true, y_pred, from_logits=True, label_smoothing=label_smoothing
    )


@register("loss", aliases=("sigmoid_crossentropy",),
          task=("binary", "multilabel"), inputs="binary_logits")
class SigmoidCrossEntropy(FunctionLoss):
    """Binary (sigmoid) cross-entropy computed from logits.

    The name used by many tutorials and by TensorFlow's
    `tf.nn.sigmoid_cross_entropy_with_logits`. Use it with a model whose last
    layer has no activation (a linear output, the logit `x`); it is
    `keras.losses.BinaryCrossentropy(from_logits=True)` under a clearer name, and
    more stable than a sigmoid output followed by a probability cross-entropy.
    Works for binary and multi-label targets (one sigmoid per column).

    Formula, with logits `x`, labels `z` in [0, 1] (smoothed as
    `z * (1 - label_smoothing) + 0.5 * label_smoothing`), averaged over the last
    axis and computed in the overflow-free form:

        loss = max(x, 0) - x * z + log(1 + exp(-|x|))

    Args:
        label_smoothing: float in [0, 1]. Defaults to `0.0`.
        reduction: Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"sigmoid_cross_entropy"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import keras_lossopt
    >>> loss = keras_lossopt.losses.SigmoidCrossEntropy()
    >>> round(float(loss([[1.0]], [[0.0]])), 4)  # log(2)
    0.6931

    References:
        - Goodfellow, Bengio & Courville, "Deep Learning", 2016, section 6.2.2.2.
    """

    def __init__(self, label_smoothing=0.0, reduction="sum_over_batch_size",
                 name="sigmoid_cross_entropy", dtype=None):
        _checks.check_probability("label_smoothing", label_smoothing)
        super().__init__(sigmoid_cross_entropy, name=name, reduction=reduction,
                         dtype=dtype, label_smoothing=float(label_smoothing))


def _check_sparse_shapes(y_true, y_pred):
    check_has_batch_axis(y_true, y_pred, "SmoothedSparseCategoricalCrossentropy")
    expected = tuple(y_pred.shape[:-1])
    got = tuple(y_true.shape)
    if len(got) == len(expected) + 1 and got[-1] == 1:
        return ops.squeeze(y_true, -1)
    if len(got) != len(expected) or not all(
        a is None or b is None or a == b for a, b in zip(got, expected)
    ):
        raise ValueError(
            "SmoothedSparseCategoricalCrossentropy: `y_true` must hold one integer label "
            "per row of `y_pred` (shape y_pred.shape[:-1], optionally with a "
            f"trailing 1). Received: y_true.shape={got}, y_pred.shape={tuple(y_pred.shape)}"
        )
    return y_true


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False,
                                    label_smoothing=0.0):
    """Per-sample sparse categorical cross-entropy with optional label smoothing.

    Equal to `keras.losses.categorical_crossentropy(one_hot(y_true), y_pred,
    label_smoothing=...)`; with `label_smoothing=0` it is Keras's own sparse
    cross-entropy. A label outside [0, C) counts as an all-zero one-hot row
    (only the smoothing term remains), except on PyTorch with
    `from_logits=True, label_smoothing=0`, where Keras's sparse kernel raises.
    """
    _checks.check_probability("label_smoothing", label_smoothing)
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = _check_sparse_shapes(ops.convert_to_tensor(y_true), y_pred)
    labels = ops.cast(y_true, "int32")
    backend = keras.backend.backend()
    if backend == "tensorflow":
        # Through Keras's categorical cross-entropy on one-hot rows, on purpose:
        # in a TensorFlow graph it recovers the logits of a softmax output (no
        # clipping at eps, so a confidently wrong prediction keeps its loss and
        # gradient), and TensorFlow's fused softmax-CE kernel (value and gradient
        # in one op) beats a gather in `fit` on CPU, which runs without XLA: 21
        # vs 49 ms at C = 1000, batch 8192 (benchmarks/).
        one_hot = ops.one_hot(labels, ops.shape(y_pred)[-1], dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(
            one_hot, y_pred, from_logits=from_logits, label_smoothing=label_smoothing
        )
    # JAX and PyTorch: no one-hot tensor. The label's term is gathered and the
    # smoothing only needs the mean over classes, since with
    # q = (1 - s) * onehot(k) + s / C,
    #   -sum_c q_c log p_c = -(1 - s) log p_k - s * mean_c(log p_c).
    if from_logits and backend == "jax":
        # log p_c = x_c - logsumexp(x): the loss is lse - (1 - s) x_k - s mean(x)
        # (the lse's weight is the smoothed row's sum: 1, or s for a label
        # outside [0, C)). XLA fuses it: 9.9 ms at C = 1000 against 29 ms
        # through log_softmax and Keras's sparse CE.
        picked, in_range = _take_label(y_pred, labels)
        weight = label_smoothing + (1.0 - label_smoothing) * in_range
        return (weight * ops.logsumexp(y_pred, axis=-1)
                - (1.0 - label_smoothing) * picked
                - label_smoothing * ops.mean(y_pred, axis=-1))
    if from_logits:
        if not label_smoothing:
            # Keras's own fused kernel (7.8 vs 21 ms at C = 1000 on PyTorch).
            return ops.sparse_categorical_crossentropy(labels, y_pred, from_logits=True)
        # PyTorch's fused log_softmax; Keras's logsumexp is several passes there
        # (13.6 vs 34 ms at C = 1000).
        log_probs = ops.log_softmax(y_pred, axis=-1)
    else:
        # Probabilities, as Keras's categorical cross-entropy takes them on these
        # backends: normalised, clipped to [eps, 1 - eps], then logged.
        epsilon = keras.config.epsilon()
        probs = y_pred / ops.sum(y_pred, axis=-1, keepdims=True)
        log_probs = ops.log(ops.clip(probs, epsilon, 1.0 - epsilon))
    loss = -(1.0 - label_smoothing) * _take_label(log_probs, labels)[0]
    if label_smoothing:
        loss = loss - label_smoothing * ops.mean(log_probs, axis=-1)
    return loss


def _take_label(values, labels):
    """(values[..., label], 1.0 where the label is in [0, C) else 0.0).

    A label outside [0, C) picks 0 and weight 0, as a one-hot row of zeros
    would: the same values as the one-hot formulation, and no backend gather
    error.
    """
    in_range = ops.logical_and(labels >= 0, labels < ops.shape(values)[-1])
    index = ops.expand_dims(ops.where(in_range, labels, 0), -1)
    picked = ops.squeeze(ops.take_along_axis(values, index, axis=-1), -1)
    return ops.where(in_range, picked, ops.zeros_like(picked)), ops.cast(in_range, values.dtype)


@register("loss", name="smoothed_sparse_categorical_crossentropy",
          config={"label_smoothing": 0.1},
          task="multiclass", labels="integers", inputs="sparse")
class SmoothedSparseCategoricalCrossentropy(FunctionLoss):
    """Sparse (integer-label) categorical cross-entropy with label smoothing.

    Keras's `SparseCategoricalCrossentropy` has no `label_smoothing`; this one
    does, so integer labels no longer have to be one-hot encoded just to smooth
    them. With `label_smoothing=0` it equals Keras's loss; with smoothing it
    equals `CategoricalCrossentropy(label_smoothing=...)` on one-hot labels.

    Formula, for integer label `k` among `C` classes and predicted probabilities
    `p` (softmax of `y_pred` when `from_logits=True`), with
    `q_c = (1 - label_smoothing) * [c == k] + label_smoothing / C`:

        loss = -sum_c q_c * log(p_c)

    Keras's `ignore_class` is not offered here; use Keras's loss when you need it
    without smoothing. The string name is `"smoothed_sparse_categorical_crossentropy"`, because
    `"sparse_categorical_crossentropy"` is (and stays) Keras's own loss; as its name
    promises, the string (in `compile`, `keras.losses.get` and
    `keras_lossopt.losses.get`) gives `label_smoothing=0.1`, while the class, like
    Keras's cross-entropies, defaults to `0.0`.

    Args:
        from_logits: whether `y_pred` holds logits. Defaults to `False`.
        label_smoothing: float in [0, 1]. Defaults to `0.0`.
        reduction: Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"smoothed_sparse_categorical_crossentropy"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import keras_lossopt
    >>> loss = keras_lossopt.losses.SmoothedSparseCategoricalCrossentropy(label_smoothing=0.1)
    >>> round(float(loss([0], [[0.5, 0.5]])), 4)  # -log(0.5)
    0.6931

    References:
        - Szegedy et al., "Rethinking the Inception Architecture for Computer
          Vision", CVPR 2016 (label smoothing).
    """

    def __init__(self, from_logits=False, label_smoothing=0.0,
                 reduction="sum_over_batch_size",
                 name="smoothed_sparse_categorical_crossentropy", dtype=None):
        _checks.check_probability("label_smoothing", label_smoothing)
        super().__init__(sparse_categorical_crossentropy, name=name,
                         reduction=reduction, dtype=dtype,
                         from_logits=bool(from_logits),
                         label_smoothing=float(label_smoothing))


# Until 0.1 this class was exported as `SparseCategoricalCrossentropy`, Keras's
# class name. The old name still imports (with a DeprecationWarning), and files
# saved then, which name it "keras_lossopt>SparseCategoricalCrossentropy", still load.
DEPRECATED_NAMES = {"SparseCategoricalCrossentropy": SmoothedSparseCategoricalCrossentropy}
__getattr__ = _catalogue.deprecated_getattr(__name__, DEPRECATED_NAMES)
keras.saving.get_custom_objects()["keras_lossopt>SparseCategoricalCrossentropy"] = (
    SmoothedSparseCategoricalCrossentropy
)
