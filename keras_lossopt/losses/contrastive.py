"""Contrastive and N-pairs losses: precomputed pair distances or a batch similarity matrix.

`ContrastiveLoss` takes (similar?, distance) pairs; the N-pairs losses take the
(B, B) similarity matrix `anchors @ positives.T` (TensorFlow Addons'
`ContrastiveLoss`, `NpairsLoss`, `NpairsMultilabelLoss`). The other pairs of the
batch are the N-pairs losses' negatives, so batch composition matters.
"""

import keras
from keras import ops

from keras_lossopt import _checks
from keras_lossopt.losses.base import (
    FunctionLoss,
    prepare,
    reshape_unknown_rank,
    static_rank,
)
from keras_lossopt.registry import register

__all__ = [
    "contrastive_loss",
    "ContrastiveLoss",
    "npairs_loss",
    "NpairsLoss",
    "npairs_multilabel_loss",
    "NpairsMultilabelLoss",
]


def contrastive_loss(y_true, y_pred, margin=1.0):
    """Contrastive loss of pairs: `y * d**2 + (1 - y) * max(margin - d, 0)**2`.

    `y_true` is 1 for a similar pair and 0 for a dissimilar one, `y_pred` the
    pair's distance. Rank-1 inputs give one value per pair; otherwise the mean
    over the last axis.
    """
    _checks.check_non_negative("margin", margin)
    y_true, y_pred = prepare(y_true, y_pred, "ContrastiveLoss")
    margin = ops.cast(margin, y_pred.dtype)
    values = y_true * ops.square(y_pred) + (1.0 - y_true) * ops.square(
        ops.relu(margin - y_pred)
    )
    if len(values.shape) >= 2:
        values = ops.mean(values, axis=-1)
    return values


@register("loss", name="contrastive", task="metric_learning", inputs="distances")
class ContrastiveLoss(FunctionLoss):
    """Contrastive loss of (distance, similar?) pairs (Hadsell et al. 2006; TFA).

    Use it for siamese networks: the model outputs the distance `d` between the
    two embeddings of a pair (e.g. the Euclidean distance of two towers) and
    `y_true` says whether the pair is similar (1) or dissimilar (0). Similar pairs
    are pulled together, dissimilar pairs pushed apart until they are `margin`
    away. Pick `margin` on the scale of the distances (about 1 for L2-normalised
    embeddings). Same convention as `tfa.losses.ContrastiveLoss`: `y_pred` is a
    distance, not an embedding.

    Formula, per pair (mean over the last axis when inputs have rank >= 2):

        loss = y_true * y_pred**2 + (1 - y_true) * max(margin - y_pred, 0)**2

    Args:
        margin: non-negative float, the distance beyond which dissimilar pairs
            stop contributing. Defaults to `1.0`.
        reduction: Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"contrastive"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import keras_lossopt
    >>> loss = keras_lossopt.losses.ContrastiveLoss(margin=1.0)
    >>> # similar pair at distance 0.5, dissimilar pair at distance 0.2
    >>> round(float(loss([1.0, 0.0], [0.5, 0.2])), 4)  # (0.25 + 0.64) / 2
    0.445

    References:
        - Hadsell, Chopra & LeCun, 2006, "Dimensionality Reduction by Learning an
          Invariant Mapping", http://yann.lecun.com/exdb/publis/pdf/hadsell-chopra-lecun-06.pdf
        - TensorFlow Addons, `tfa.losses.ContrastiveLoss`.
        Deviates from the paper in dropping its factor 1/2 (as TFA does).
    """

    def __init__(self, margin=1.0, reduction="sum_over_batch_size", name="contrastive",
                 dtype=None):
        _checks.check_non_negative("margin", margin)
        super().__init__(contrastive_loss, name=name, reduction=reduction, dtype=dtype,
                         margin=float(margin))


# --- N-pairs --------------------------------------------------------------------------


def _similarity_matrix(y_pred, loss_name):
    y_pred = ops.convert_to_tensor(y_pred)
    if not keras.backend.is_float_dtype(y_pred.dtype):
        y_pred = ops.cast(y_pred, keras.backend.floatx())
    shape = tuple(y_pred.shape)
    if len(shape) != 2 or (None not in shape and shape[0] != shape[1]):
        raise ValueError(
            f"{loss_name}: `y_pred` must be the (batch_size, batch_size) similarity "
            f"matrix `anchors @ positives.T`. Received: y_pred.shape={shape}"
        )
    return y_pred


def _soft_target_cross_entropy(targets, logits):
    """-sum_j t_ij log softmax(logits)_ij per row (rows of t sum to 1 or are all 0)."""
    return -ops.sum(targets * ops.log_softmax(logits, axis=-1), axis=-1)


def _npairs_per_row(y_true, y_pred):
    """One N-pairs value per anchor row (NpairsLoss reduces them, sample weights per row)."""
    logits = _similarity_matrix(y_pred, "NpairsLoss")
    labels = ops.convert_to_tensor(y_true)
    if static_rank(labels) is None:  # TensorFlow graphs only; TFA accepted it too
        labels = reshape_unknown_rank(labels, ops.shape(logits)[:1], "y_true", "NpairsLoss",
                                      "one integer label per row of `y_pred`")
    if len(labels.shape) == 2 and labels.shape[-1] == 1:
        labels = ops.squeeze(labels, -1)
    if len(labels.shape) != 1:
        raise ValueError(
            "NpairsLoss: `y_true` must hold one integer label per row. "
            f"Received: y_true.shape={tuple(labels.shape)}, y_pred.shape={tuple(logits.shape)}"
        )
    labels = ops.cast(labels, logits.dtype)
    same = ops.cast(ops.expand_dims(labels, 1) == ops.expand_dims(labels, 0), logits.dtype)
    targets = same / ops.sum(same, axis=1, keepdims=True)
    return _soft_target_cross_entropy(targets, logits)


def npairs_loss(y_true, y_pred):
    """N-pairs loss of a batch, one scalar (as `tfa.losses.npairs_loss`): the mean over
    anchor rows of the softmax cross-entropy of each row of the similarity matrix
    `y_pred` against the same-label indicator normalised to sum 1. `NpairsLoss`
    keeps the per-row values so that a `sample_weight` weights rows."""
    return ops.mean(_npairs_per_row(y_true, y_pred))


@register("loss", name="npairs", task="metric_learning", labels="integers", inputs="similarity")
class NpairsLoss(FunctionLoss):
    """N-pairs loss on a batch similarity matrix (Sohn 2016; TFA).

    Use it with N pairs (anchor_i, positive_i) of N different classes per batch:
    the model (or a layer) computes `y_pred = anchors @ positives.T`, shape
    (N, N), and each row is a softmax classification of which positive belongs
    to the anchor. `y_true` holds the N integer labels; rows whose label repeats
    share the target mass equally. Batch composition matters: the other pairs of
    the batch are the negatives. Same conventions as `tfa.losses.NpairsLoss`.

    Formula, with S = y_pred and t_ij = [y_i == y_j] / sum_k [y_i == y_k]:

        loss_i = -sum_j t_ij * log(softmax(S_i)_j)
               = log(1 + sum_{j != i} exp(S_ij - S_ii))   (distinct labels)

    One value per anchor row, so the default reduction gives TFA's batch mean.
    (The paper's L2 penalty on the embeddings is left to the model's regularisers.)

    Args:
        reduction: Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"npairs"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import numpy as np, keras_lossopt
    >>> f = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    >>> loss = keras_lossopt.losses.NpairsLoss()
    >>> round(float(loss(np.arange(4), f @ f.T)), 4)  # TFA's test value 0.253856
    0.2539

    References:
        - Sohn, 2016, "Improved Deep Metric Learning with Multi-class N-pair Loss
          Objective", https://papers.nips.cc/paper/6200
        - TensorFlow Addons, `tfa.losses.NpairsLoss`.
        The class reduces per-row values (so a `sample_weight` weights rows; TFA
        forced reduction none); the default reduction gives TFA's value, and the
        function `npairs_loss` returns that mean, as TFA's did.
    """

    def __init__(self, reduction="sum_over_batch_size", name="npairs", dtype=None):
        super().__init__(_npairs_per_row, name=name, reduction=reduction, dtype=dtype)


def _npairs_multilabel_per_row(y_true, y_pred):
    """One multi-label N-pairs value per anchor row (rows without labels give 0)."""
    logits = _similarity_matrix(y_pred, "NpairsMultilabelLoss")
    labels = ops.cast(ops.convert_to_tensor(y_true), logits.dtype)
    if static_rank(labels) != 2:
        shape = "unknown" if static_rank(labels) is None else tuple(labels.shape)
        raise ValueError(
            "NpairsMultilabelLoss: `y_true` must be a (batch_size, num_classes) binary "
            f"indicator. Received: y_true.shape={shape}, "
            f"y_pred.shape={tuple(logits.shape)}"
        )
    overlap = ops.matmul(labels, ops.transpose(labels))
    targets = ops.divide_no_nan(overlap, ops.sum(overlap, axis=1, keepdims=True))
    return _soft_target_cross_entropy(targets, logits)


def npairs_multilabel_loss(y_true, y_pred):
    """Multi-label N-pairs loss of a batch, one scalar (as
    `tfa.losses.npairs_multilabel_loss`): the mean over anchor rows, with targets the
    label-overlap counts `y_true @ y_true.T` normalised per row (rows without labels
    give 0, TFA gave NaN)."""
    return ops.mean(_npairs_multilabel_per_row(y_true, y_pred))


@register("loss", name="npairs_multilabel", task="metric_learning", inputs="similarity_multilabel")
class NpairsMultilabelLoss(FunctionLoss):
    """Multi-label N-pairs loss on a batch similarity matrix (Sohn 2016; TFA).

    `NpairsLoss` for samples with several labels: `y_true` is a dense
    (B, num_classes) binary indicator (convert a `tf.SparseTensor` with
    `tf.sparse.to_dense` first), `y_pred = anchors @ positives.T`. The target of
    row i is the number of labels it shares with each positive, normalised to
    sum 1. With one-hot labels it equals `NpairsLoss`. Batch composition matters.

    Formula, with S = y_pred, L = y_true @ y_true.T and t_ij = L_ij / sum_k L_ik:

        loss_i = -sum_j t_ij * log(softmax(S_i)_j)

    One value per anchor row (a row with no label gives 0, TFA gave NaN).

    Args:
        reduction: Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"npairs_multilabel"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import numpy as np, keras_lossopt
    >>> f = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    >>> y = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1], [0, 0, 0, 1]])
    >>> loss = keras_lossopt.losses.NpairsMultilabelLoss()
    >>> round(float(loss(y, f @ f.T)), 4)  # TFA's test value 1.420522
    1.4205

    References:
        - Sohn, 2016, "Improved Deep Metric Learning with Multi-class N-pair Loss
          Objective", https://papers.nips.cc/paper/6200
        - TensorFlow Addons, `tfa.losses.NpairsMultilabelLoss`.
        Deviates from TFA in reducing per-row values in the class (the function
        `npairs_multilabel_loss` returns their mean, as TFA's) and in taking dense
        labels only.
    """

    def __init__(self, reduction="sum_over_batch_size", name="npairs_multilabel",
                 dtype=None):
        super().__init__(_npairs_multilabel_per_row, name=name, reduction=reduction, dtype=dtype)
