"""The sparsemax loss of Martins & Astudillo (2016) (TensorFlow Addons' `SparsemaxLoss`)."""

import keras
from keras import ops

from keras_lossopt.losses.base import FunctionLoss, prepare
from keras_lossopt.registry import register

__all__ = ["sparsemax", "sparsemax_loss", "SparsemaxLoss"]


def _check_from_logits(from_logits):
    if from_logits is not True:
        raise ValueError(
            "SparsemaxLoss works on logits only (sparsemax is applied inside the "
            f"loss): `from_logits` must be True. Received: from_logits={from_logits!r}"
        )


def _sparsemax(z):
    """Sparsemax on the last axis (Martins & Astudillo 2016, Algorithm 1).

    Not `keras.ops.sparsemax`: up to at least Keras 3.15.1 it sums every
    cumulative sum in the support instead of taking the k-th one, so its output
    is wrong whenever more than one logit is in the support
    (keras-team/keras#23425, fixed by keras-team/keras#23469).
    """
    z_sorted = -ops.sort(-z, axis=-1)
    cumulative = ops.cumsum(z_sorted, axis=-1)
    ranks = ops.arange(1, ops.shape(z)[-1] + 1, dtype=z.dtype)
    support = 1.0 + ranks * z_sorted > cumulative
    k = ops.sum(ops.cast(support, z.dtype), axis=-1, keepdims=True)
    # Sum of the k largest logits, without 0 * -inf for logits outside the support.
    top_sum = ops.sum(ops.where(support, z_sorted, 0.0), axis=-1, keepdims=True)
    tau = (top_sum - 1.0) / k
    return ops.maximum(z - tau, 0.0)


def sparsemax(logits, axis=-1):
    """Sparsemax activation (Martins & Astudillo 2016): the Euclidean projection of
    `logits` onto the probability simplex along `axis`; many outputs are exactly 0.

    The replacement for `tfa.activations.sparsemax` (and for `keras.ops.sparsemax`,
    wrong up to at least Keras 3.15.1 whenever more than one logit is in the
    support). Use it as a layer activation:
    `keras.layers.Dense(10, activation=keras_lossopt.losses.sparsemax)`; saved
    models reload it after `import keras_lossopt`.

    >>> import numpy as np, keras_lossopt
    >>> p = keras_lossopt.losses.sparsemax(np.array([[1.0, 0.8, -1.0]]))
    >>> [round(float(v), 2) for v in p[0]]
    [0.6, 0.4, 0.0]
    """
    z = ops.convert_to_tensor(logits)
    if not keras.backend.is_float_dtype(z.dtype):
        z = ops.cast(z, keras.backend.floatx())
    if axis in (-1, len(z.shape) - 1):
        return _sparsemax(z)
    return ops.moveaxis(_sparsemax(ops.moveaxis(z, axis, -1)), -1, axis)


def sparsemax_loss(y_true, y_pred, from_logits=True):
    """Per-sample sparsemax loss of logits `y_pred` against one-hot (or
    probability) labels `y_true`, summed over the last axis.

    Its gradient with respect to the logits is `sparsemax(y_pred) - y_true`.
    """
    _check_from_logits(from_logits)
    labels, z = prepare(y_true, y_pred, "SparsemaxLoss")
    # sparsemax is treated as a constant: d/dz [p * (z - p/2)] with p fixed is p,
    # which is the loss's exact gradient p - q once the label term adds -q.
    p = ops.stop_gradient(_sparsemax(z))
    # On the support S(z): p * (z - p / 2) = (z**2 - tau**2) / 2. A `where`, not
    # a product, so that z = -inf outside the support does not give 0 * inf;
    # NaN logits propagate (as in TFA).
    in_support = ops.logical_or(p > 0, ops.isnan(p))
    support_sum = ops.where(in_support, p * (z - 0.5 * p), 0.0)
    label_part = labels * (0.5 * labels - z)
    label_part = ops.where(
        ops.logical_and(ops.equal(labels, 0.0), ops.isinf(z)), 0.0, label_part
    )
    return ops.sum(support_sum + label_part, axis=-1)


@register("loss", name="sparsemax_loss", task="multiclass", labels="one_hot", inputs="categorical")
class SparsemaxLoss(FunctionLoss):
    """Sparsemax loss: the natural loss of a sparsemax output layer (TensorFlow Addons' API).

    Sparsemax is a softmax alternative whose output can contain exact zeros,
    which gives sparse, interpretable class probabilities and attention
    weights. Train it with this loss on raw logits (no activation on the last
    layer) and one-hot labels; predict with a sparsemax of the logits (note that
    `keras.ops.sparsemax` is wrong up to at least Keras 3.15.1,
    keras-team/keras#23425; this loss uses its own). The
    loss is convex and zero once the true class leads every other logit by
    at least 1.

    Formula, with logits `z`, labels `q`, `p = sparsemax(z)`, support
    `S = {j : p_j > 0}` and threshold `tau` (so `p_j = z_j - tau` on `S`),
    summed over the last axis:

        loss = sum_{j in S} (z_j**2 - tau**2) / 2 + ||q||**2 / 2 - q . z

    computed as `sum_{j in S} p_j * (z_j - p_j / 2) + sum_j q_j * (q_j / 2 - z_j)`;
    its gradient is `p - q`.

    Args:
        from_logits: must be `True` (kept for TFA compatibility). Defaults to
            `True`.
        reduction: Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"sparsemax_loss"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import keras_lossopt
    >>> loss = keras_lossopt.losses.SparsemaxLoss()
    >>> round(float(loss([[0.0, 1.0]], [[0.0, 0.0]])), 4)  # p = [0.5, 0.5]
    0.25

    References:
        - Martins & Astudillo, 2016, "From Softmax to Sparsemax: A Sparse Model
          of Attention and Multi-Label Classification", ICML, equation (17) and
          proposition 3. https://arxiv.org/abs/1602.02068
        - TensorFlow Addons, `tfa.losses.SparsemaxLoss` (same arguments and
          infinity handling).

    Deviations: none. Sparsemax is computed here, not with
    `keras.ops.sparsemax` (wrong in Keras <= 3.15.1, keras-team/keras#23425).
    """

    def __init__(self, from_logits=True, reduction="sum_over_batch_size",
                 name="sparsemax_loss", dtype=None):
        _check_from_logits(from_logits)
        super().__init__(sparsemax_loss, name=name, reduction=reduction, dtype=dtype,
                         from_logits=True)
