"""Triplet and lifted-structured losses, mined inside the batch, and their distance matrices.

`y_true` holds one integer label per sample and `y_pred` one embedding per sample
(TensorFlow Addons' `TripletSemiHardLoss`, `TripletHardLoss`, `LiftedStructLoss`).
Under `model.fit` the batch is the mining pool, so batch composition matters:
shuffle, use batches large enough to hold several samples of each class (e.g. 4
classes x 8 samples), and avoid batches of one class.
"""

from keras import ops

from keras_lossopt import _checks
from keras_lossopt.losses._embeddings import (
    embeddings_of,
    eye,
    l2_normalize,
    labels_of,
    masked_logsumexp,
)
from keras_lossopt.losses.base import FunctionLoss, safe_sqrt
from keras_lossopt.registry import register

__all__ = [
    "pairwise_distance",
    "angular_distance",
    "triplet_semihard_loss",
    "TripletSemiHardLoss",
    "triplet_hard_loss",
    "TripletHardLoss",
    "lifted_struct_loss",
    "LiftedStructLoss",
]


DISTANCE_METRICS = ("L2", "squared-L2", "angular")


def pairwise_distance(embeddings, squared=False):
    """Euclidean distance matrix of a (B, D) batch: `D[i, j] = ||e_i - e_j||`.

    Computed as `||e_i||^2 + ||e_j||^2 - 2 e_i.e_j`, clipped at 0, with an exact
    zero diagonal; with `squared=False` the root has a zero (not NaN) gradient
    where the distance is 0. Same semantics as TFA's
    `tfa.losses.metric_learning.pairwise_distance`.
    """
    embeddings = ops.convert_to_tensor(embeddings)
    sq_norms = ops.sum(ops.square(embeddings), axis=1, keepdims=True)
    squared_dist = sq_norms + ops.transpose(sq_norms) - 2.0 * ops.matmul(
        embeddings, ops.transpose(embeddings)
    )
    off_diagonal = ops.logical_not(eye(ops.shape(embeddings)[0]))
    squared_dist = ops.where(off_diagonal, ops.maximum(squared_dist, 0.0), 0.0)
    if squared:
        return squared_dist
    return safe_sqrt(squared_dist)


def angular_distance(embeddings):
    """`1 - cos(e_i, e_j)` for a (B, D) batch, floored at 1e-16 (TFA's definition)."""
    normed = l2_normalize(ops.convert_to_tensor(embeddings))
    return ops.maximum(1.0 - ops.matmul(normed, ops.transpose(normed)), 1e-16)


def distance_matrix(embeddings, distance_metric):
    if callable(distance_metric):
        return ops.convert_to_tensor(distance_metric(embeddings))
    _checks.check_choice("distance_metric", distance_metric, DISTANCE_METRICS)
    if distance_metric == "angular":
        return angular_distance(embeddings)
    return pairwise_distance(embeddings, squared=distance_metric == "squared-L2")


def check_distance_metric(distance_metric):
    if not callable(distance_metric):
        _checks.check_choice("distance_metric", distance_metric, DISTANCE_METRICS)
    return distance_metric


def _masked_maximum(data, mask):
    """Row-wise max over `mask` (TFA's trick): the row minimum where the mask is empty."""
    mins = ops.min(data, axis=1, keepdims=True)
    return ops.max((data - mins) * mask, axis=1, keepdims=True) + mins


def _masked_minimum(data, mask):
    """Row-wise min over `mask` (TFA's trick): the row maximum where the mask is empty."""
    maxs = ops.max(data, axis=1, keepdims=True)
    return ops.min((data - maxs) * mask, axis=1, keepdims=True) + maxs


def _sorted_count_le(sorted_rows, queries):
    """Row-wise `bisect_right`: for each `queries[i, j]`, how many of
    `sorted_rows[i, :]` (ascending) are <= it. O(B^2) memory, O(B^2 log B) time.

    Vectorised bisection: ceil(log2(B + 1)) unrolled steps when the batch size is
    static, else a 32-step `fori_loop` (steps after convergence are no-ops). Only
    integer indices flow through it, so it needs no gradient.
    """
    sorted_rows = ops.stop_gradient(sorted_rows)
    queries = ops.stop_gradient(queries)
    width = ops.shape(sorted_rows)[1]

    def step(_, bounds):
        lo, hi = bounds
        active = lo < hi
        mid = (lo + hi) // 2
        probe = ops.take_along_axis(sorted_rows, ops.minimum(mid, width - 1), axis=1)
        right = ops.logical_and(active, probe <= queries)
        left = ops.logical_and(active, ops.logical_not(right))
        return ops.where(right, mid + 1, lo), ops.where(left, mid, hi)

    lo = ops.zeros(ops.shape(queries), "int32")
    hi = ops.zeros(ops.shape(queries), "int32") + ops.cast(width, "int32")
    if isinstance(width, int):
        for i in range(int(width).bit_length()):  # over bisection steps, not the batch
            lo, hi = step(i, (lo, hi))
        return lo
    lo, hi = ops.fori_loop(0, 32, step, (lo, hi))
    return lo


def triplet_semihard_loss(y_true, y_pred, margin=1.0, distance_metric="L2"):
    """Triplet loss with semi-hard negative mining over the batch; one scalar.

    For every positive pair (a, p) (same label, a != p) the negative is the
    closest n with `D[a, n] > D[a, p]`; if there is none, the farthest negative.
    Loss: mean over positive pairs of `max(margin + D[a, p] - D[a, n], 0)`
    (0 when the batch has no positive pair).
    """
    _checks.check_real("margin", margin)
    check_distance_metric(distance_metric)
    embeddings = embeddings_of(y_pred)
    labels = labels_of(y_true, embeddings, "TripletSemiHardLoss")
    pdist = distance_matrix(embeddings, distance_metric)
    dtype = pdist.dtype

    same = ops.expand_dims(labels, 1) == ops.expand_dims(labels, 0)
    negative = ops.logical_not(same)
    negative_f = ops.cast(negative, dtype)
    positive_f = ops.cast(ops.logical_and(same, ops.logical_not(eye(ops.shape(labels)[0]))),
                          dtype)

    # Negative distances of each anchor, sorted ascending; non-negatives at the end.
    big = ops.stop_gradient(ops.max(pdist)) + 1.0
    sorted_negatives = ops.sort(ops.where(negative, pdist, big), axis=1)
    # count[a, p] = number of negatives n with D[a, n] <= D[a, p]; the semi-hard
    # negative is then the count-th smallest negative distance, if it exists.
    count = _sorted_count_le(sorted_negatives, pdist)
    num_negatives = ops.cast(ops.sum(negative_f, axis=1, keepdims=True), "int32")
    has_semihard = count < num_negatives
    width = ops.shape(sorted_negatives)[1]
    negatives_outside = ops.take_along_axis(
        sorted_negatives, ops.minimum(count, width - 1), axis=1
    )
    negatives_inside = _masked_maximum(pdist, negative_f)  # farthest negative
    semi_hard = ops.where(has_semihard, negatives_outside, negatives_inside)

    loss_mat = ops.cast(margin, dtype) + pdist - semi_hard
    total = ops.sum(ops.relu(loss_mat * positive_f))
    return ops.divide_no_nan(total, ops.sum(positive_f))


@register("loss", name="triplet_semihard",
          task="metric_learning", labels="integers", inputs="embeddings")
class TripletSemiHardLoss(FunctionLoss):
    """Triplet loss with semi-hard negatives mined in the batch (FaceNet; TFA).

    Use it to learn embeddings where samples of a class are closer to each other
    than to any other class by `margin`. `y_true` holds integer labels (B,) and
    `y_pred` embeddings (B, D); every positive pair (anchor a, positive p) of the
    batch gets the semi-hard negative n: the closest negative that is still
    farther than p (or, if none is, the farthest negative). Batch composition
    matters: each batch needs several samples per class (e.g. 8 classes x 4
    samples, shuffled). Embeddings are not normalised by the loss; with
    `distance_metric="L2"` L2-normalise the model output (e.g. a
    `UnitNormalization` layer) so that `margin` has a fixed scale.

    Formula, with distance matrix D (plain L2 by default, not squared), P the
    set of positive pairs (a, p), a != p:

        n*(a, p) = argmin_n {D[a, n] : label n != label a, D[a, n] > D[a, p]}
                   (else argmax_n {D[a, n] : label n != label a})
        loss = sum_{(a, p) in P} max(margin + D[a, p] - D[a, n*(a, p)], 0) / |P|

    The value is one scalar per batch (TFA's convention); a `sample_weight`
    (B,) multiplies it by the mean weight (sum for `reduction="sum"`), it does
    not weight individual samples.

    Args:
        margin: float margin. Defaults to `1.0`.
        distance_metric: `"L2"` (Euclidean), `"squared-L2"`, `"angular"`
            (1 - cosine similarity), or a callable mapping a (B, D) batch to a
            (B, B) distance matrix (a callable is not serialisable). Defaults
            to `"L2"`.
        reduction: Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"triplet_semihard"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import numpy as np, keras_lossopt
    >>> labels = np.array([0, 0, 1, 1])
    >>> emb = np.array([[0.0, 0.0], [0.0, 0.5], [1.0, 0.0], [1.0, 0.5]])
    >>> loss = keras_lossopt.losses.TripletSemiHardLoss(margin=1.0)
    >>> round(float(loss(labels, emb)), 4)  # 1 + 0.5 - 1.0 for every pair
    0.5

    References:
        - Schroff, Kalenichenko & Philbin, 2015, "FaceNet: A Unified Embedding for
          Face Recognition and Clustering", https://arxiv.org/abs/1503.03832
        - TensorFlow Addons, `tfa.losses.TripletSemiHardLoss`.
        Deviates from TFA in returning 0 (not NaN) for a batch without positive
        pairs and in mining with a sort plus bisection (O(B^2) memory) instead
        of TFA's O(B^3) tiling; the values are the same.
    """

    def __init__(self, margin=1.0, distance_metric="L2", reduction="sum_over_batch_size",
                 name="triplet_semihard", dtype=None):
        _checks.check_real("margin", margin)
        check_distance_metric(distance_metric)
        super().__init__(triplet_semihard_loss, name=name, reduction=reduction, dtype=dtype,
                         margin=float(margin), distance_metric=distance_metric)


def triplet_hard_loss(y_true, y_pred, margin=1.0, soft=False, distance_metric="L2"):
    """Batch-hard triplet loss: for each anchor its farthest positive and
    closest negative; mean over anchors, one scalar."""
    _checks.check_real("margin", margin)
    check_distance_metric(distance_metric)
    embeddings = embeddings_of(y_pred)
    labels = labels_of(y_true, embeddings, "TripletHardLoss")
    pdist = distance_matrix(embeddings, distance_metric)
    dtype = pdist.dtype
    same = ops.expand_dims(labels, 1) == ops.expand_dims(labels, 0)
    negative_f = ops.cast(ops.logical_not(same), dtype)
    positive_f = ops.cast(ops.logical_and(same, ops.logical_not(eye(ops.shape(labels)[0]))),
                          dtype)
    hardest_positive = _masked_maximum(pdist, positive_f)
    hardest_negative = _masked_minimum(pdist, negative_f)
    gap = hardest_positive - hardest_negative
    if soft:
        per_anchor = ops.softplus(gap)
    else:
        per_anchor = ops.relu(gap + ops.cast(margin, dtype))
    return ops.mean(per_anchor)


@register("loss", name="triplet_hard",
          task="metric_learning", labels="integers", inputs="embeddings")
class TripletHardLoss(FunctionLoss):
    """Batch-hard triplet loss: hardest positive and hardest negative per anchor (TFA).

    Use it, like `TripletSemiHardLoss`, to learn embeddings from integer labels
    (B,) and embeddings (B, D); it is the stronger "batch hard" variant of
    Hermans et al., best with P classes x K samples per batch (e.g. 8 x 4).
    Batch composition matters: the hardest pairs are mined in the batch. Very
    hard mining can collapse embeddings early; `soft=True` replaces the hinge by
    a softplus (no margin). Embeddings are not normalised by the loss.

    Formula, with distance matrix D (plain L2 by default), for each anchor a:

        hp(a) = max {D[a, p] : label p == label a, p != a}   (0 if none)
        hn(a) = min {D[a, n] : label n != label a}
        loss  = mean_a max(hp(a) - hn(a) + margin, 0)      (soft=False)
        loss  = mean_a log(1 + exp(hp(a) - hn(a)))         (soft=True)

    The value is one scalar per batch (TFA's convention); a `sample_weight`
    (B,) multiplies it by the mean weight (sum for `reduction="sum"`).

    Args:
        margin: float margin (unused when `soft=True`). Defaults to `1.0`.
        soft: bool, use the soft-margin version. Defaults to `False`.
        distance_metric: `"L2"`, `"squared-L2"`, `"angular"` or a callable
            (B, D) -> (B, B) (not serialisable). Defaults to `"L2"`.
        reduction: Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"triplet_hard"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import numpy as np, keras_lossopt
    >>> labels = np.array([0, 0, 1, 1])
    >>> emb = np.array([[0.0, 0.0], [0.0, 0.5], [1.0, 0.0], [1.0, 0.5]])
    >>> loss = keras_lossopt.losses.TripletHardLoss(margin=1.0)
    >>> round(float(loss(labels, emb)), 4)  # 0.5 - 1.0 + 1.0 per anchor
    0.5

    References:
        - Hermans, Beyer & Leibe, 2017, "In Defense of the Triplet Loss for Person
          Re-Identification", https://arxiv.org/abs/1703.07737
        - TensorFlow Addons, `tfa.losses.TripletHardLoss`.
        Matches TFA, including its convention that an anchor without positives
        uses a positive distance of 0 (the row minimum).
    """

    def __init__(self, margin=1.0, soft=False, distance_metric="L2",
                 reduction="sum_over_batch_size", name="triplet_hard", dtype=None):
        _checks.check_real("margin", margin)
        check_distance_metric(distance_metric)
        super().__init__(triplet_hard_loss, name=name, reduction=reduction, dtype=dtype,
                         margin=float(margin), soft=bool(soft),
                         distance_metric=distance_metric)


# --- Lifted structured ----------------------------------------------------------------


def lifted_struct_loss(y_true, y_pred, margin=1.0):
    """Lifted structured loss over the batch (one scalar); see `LiftedStructLoss`."""
    _checks.check_real("margin", margin)
    embeddings = embeddings_of(y_pred)
    labels = labels_of(y_true, embeddings, "LiftedStructLoss")
    pdist = pairwise_distance(embeddings)
    dtype = pdist.dtype
    same = ops.expand_dims(labels, 1) == ops.expand_dims(labels, 0)
    negative = ops.logical_not(same)
    positive_f = ops.cast(ops.logical_and(same, ops.logical_not(eye(ops.shape(labels)[0]))),
                          dtype)

    # lse[i] = log sum_{k negative of i} exp(margin - D[i, k]).
    has_neg = ops.any(negative, axis=1)
    lse = masked_logsumexp(ops.cast(margin, dtype) - pdist, negative, axis=1)
    # J[i, j] = log(exp(lse[i]) + exp(lse[j])) + D[i, j], over the anchors that
    # have negatives; a pair where neither has one has no constraint (J := -1).
    hi, hj = ops.expand_dims(has_neg, 1), ops.expand_dims(has_neg, 0)
    li, lj = ops.expand_dims(lse, 1), ops.expand_dims(lse, 0)
    pair = ops.stack(
        [ops.broadcast_to(li, ops.shape(pdist)), ops.broadcast_to(lj, ops.shape(pdist))], -1
    )
    present = ops.stack(
        [ops.broadcast_to(hi, ops.shape(pdist)), ops.broadcast_to(hj, ops.shape(pdist))], -1
    )
    soft_max = masked_logsumexp(pair, present, axis=-1)
    any_present = ops.logical_or(hi, hj)
    j_mat = ops.where(any_present, soft_max + pdist, -1.0)
    # Paper, eq. 4: 1 / (2 |P|) * sum over unordered positive pairs of max(J, 0)^2;
    # summing both orders counts each pair twice.
    total = 0.5 * ops.sum(ops.square(ops.relu(j_mat)) * positive_f)
    return ops.divide_no_nan(0.5 * total, 0.5 * ops.sum(positive_f))


@register("loss", name="lifted_struct",
          task="metric_learning", labels="integers", inputs="embeddings")
class LiftedStructLoss(FunctionLoss):
    """Lifted structured embedding loss over all pairs of the batch (Oh Song 2016; TFA).

    Use it to learn embeddings from integer labels (B,) and embeddings (B, D):
    every positive pair is compared with *all* negatives of both its members
    through a smooth maximum, which uses the whole batch instead of sampled
    triplets. Batch composition matters (several samples per class per batch).
    Distances are plain L2; the embeddings are not normalised by the loss.

    Formula (paper eq. 4), with D the L2 distance matrix, P the positive pairs
    {i, j} and N(i) the negatives of i:

        J_ij = log( sum_{k in N(i)} exp(margin - D_ik)
                  + sum_{l in N(j)} exp(margin - D_jl) ) + D_ij
        loss = 1 / (2 |P|) * sum_{{i, j} in P} max(J_ij, 0)**2

    The value is one scalar per batch (TFA's convention); a `sample_weight`
    (B,) multiplies it by the mean weight (sum for `reduction="sum"`).

    Args:
        margin: float margin. Defaults to `1.0`.
        reduction: Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"lifted_struct"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import numpy as np, keras_lossopt
    >>> labels = np.array([0, 0, 1])
    >>> emb = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    >>> loss = keras_lossopt.losses.LiftedStructLoss(margin=1.0)
    >>> # J = log(exp(1 - 1) + exp(1 - sqrt(2))) + 1; loss = J**2 / 2
    >>> round(float(loss(labels, emb)), 4)
    1.136

    References:
        - Oh Song, Xiang, Jegelka & Savarese, 2016, "Deep Metric Learning via
          Lifted Structured Feature Embedding", https://arxiv.org/abs/1511.06452
        - TensorFlow Addons, `tfa.losses.LiftedStructLoss`.
        Deviates from TFA in returning 0 (not NaN) when the batch has no positive
        pair or no negatives, and in computing the smooth maximum in O(B^2)
        memory (TFA tiled B^3).
    """

    def __init__(self, margin=1.0, reduction="sum_over_batch_size", name="lifted_struct",
                 dtype=None):
        _checks.check_real("margin", margin)
        super().__init__(lifted_struct_loss, name=name, reduction=reduction, dtype=dtype,
                         margin=float(margin))
