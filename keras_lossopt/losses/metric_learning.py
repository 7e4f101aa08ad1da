"""Metric-learning and self-supervised losses: the TensorFlow Addons family reborn
for Keras 3 (contrastive, triplet, N-pairs, lifted structured) plus NT-Xent
(SimCLR) and supervised contrastive.

Except for `ContrastiveLoss` (pairs of precomputed distances) and the N-pairs
losses (a similarity matrix), `y_true` holds one integer label per sample and
`y_pred` one embedding per sample, and the losses mine pairs and triplets
*inside the batch*: under `model.fit` the batch is the mining pool, so batch
composition matters. Shuffle, use batches large enough to hold several samples
of each class (e.g. 4 classes x 8 samples), and avoid batches of one class.
Everything is O(B^2) in memory for a batch of B embeddings; no Python loop runs
over the batch.
"""

import keras
from keras import ops

from keras_lossopt import _checks
from keras_lossopt.losses.base import FunctionLoss, prepare, safe_sqrt
from keras_lossopt.registry import register

__all__ = [
    "pairwise_distance",
    "angular_distance",
    "contrastive_loss",
    "ContrastiveLoss",
    "triplet_semihard_loss",
    "TripletSemiHardLoss",
    "triplet_hard_loss",
    "TripletHardLoss",
    "npairs_loss",
    "NpairsLoss",
    "npairs_multilabel_loss",
    "NpairsMultilabelLoss",
    "lifted_struct_loss",
    "LiftedStructLoss",
    "nt_xent_loss",
    "NTXent",
    "supervised_contrastive_loss",
    "SupervisedContrastive",
]

DISTANCE_METRICS = ("L2", "squared-L2", "angular")


# --- Shared helpers -------------------------------------------------------------------


def _embeddings(y_pred):
    """Embeddings as a float tensor, computed in float32 when given in half precision."""
    y_pred = ops.convert_to_tensor(y_pred)
    if not keras.backend.is_float_dtype(y_pred.dtype) or y_pred.dtype in ("float16", "bfloat16"):
        y_pred = ops.cast(y_pred, "float32")
    if len(y_pred.shape) != 2:
        raise ValueError(
            "`y_pred` must be a 2-D batch of embeddings of shape (batch_size, dim). "
            f"Received: y_pred.shape={tuple(y_pred.shape)}"
        )
    return y_pred


def _labels(y_true, embeddings, loss_name):
    """Labels as a (B,) tensor in the embeddings' dtype; checks the batch sizes agree."""
    y_true = ops.convert_to_tensor(y_true)
    if len(y_true.shape) == 2 and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, -1)
    if len(y_true.shape) != 1 or (
        y_true.shape[0] is not None
        and embeddings.shape[0] is not None
        and y_true.shape[0] != embeddings.shape[0]
    ):
        raise ValueError(
            f"{loss_name}: `y_true` must hold one integer label per row of `y_pred`. "
            f"Received: y_true.shape={tuple(y_true.shape)}, "
            f"y_pred.shape={tuple(embeddings.shape)}"
        )
    return ops.cast(y_true, embeddings.dtype)


def _eye(n):
    """Boolean (n, n) identity that also works with a dynamic n (TF graphs)."""
    idx = ops.arange(n)
    return ops.expand_dims(idx, 1) == ops.expand_dims(idx, 0)


def _masked_maximum(data, mask):
    """Row-wise max over `mask` (TFA's trick): the row minimum where the mask is empty."""
    mins = ops.min(data, axis=1, keepdims=True)
    return ops.max((data - mins) * mask, axis=1, keepdims=True) + mins


def _masked_minimum(data, mask):
    """Row-wise min over `mask` (TFA's trick): the row maximum where the mask is empty."""
    maxs = ops.max(data, axis=1, keepdims=True)
    return ops.min((data - maxs) * mask, axis=1, keepdims=True) + maxs


def _masked_logsumexp(x, mask, axis=-1):
    """log(sum over `mask` of exp(x)) along `axis`, finite in value and gradient.

    Rows with an empty mask give 0 (callers mask them out). Masked-out entries
    never reach `exp`, so they cannot overflow into a NaN gradient.
    """
    maskf = ops.cast(mask, x.dtype)
    shift = ops.max(ops.where(mask, x, ops.min(x)), axis=axis, keepdims=True)
    shift = ops.stop_gradient(shift)
    total = ops.sum(ops.exp(ops.where(mask, x - shift, 0.0)) * maskf, axis=axis, keepdims=True)
    empty = ops.cast(ops.sum(maskf, axis=axis, keepdims=True) == 0, x.dtype)
    return ops.squeeze(ops.log(total + empty) + shift * (1.0 - empty), axis)


def _l2_normalize(x):
    """x / max(||x||, 1e-6) along the last axis (tf.math.l2_normalize's epsilon 1e-12 on ||x||^2)."""
    return x * ops.rsqrt(ops.maximum(ops.sum(ops.square(x), axis=-1, keepdims=True), 1e-12))


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
    off_diagonal = ops.logical_not(_eye(ops.shape(embeddings)[0]))
    squared_dist = ops.where(off_diagonal, ops.maximum(squared_dist, 0.0), 0.0)
    if squared:
        return squared_dist
    return safe_sqrt(squared_dist)


def angular_distance(embeddings):
    """`1 - cos(e_i, e_j)` for a (B, D) batch, floored at 1e-16 (TFA's definition)."""
    normed = _l2_normalize(ops.convert_to_tensor(embeddings))
    return ops.maximum(1.0 - ops.matmul(normed, ops.transpose(normed)), 1e-16)


def _distance_matrix(embeddings, distance_metric):
    if callable(distance_metric):
        return ops.convert_to_tensor(distance_metric(embeddings))
    _checks.check_choice("distance_metric", distance_metric, DISTANCE_METRICS)
    if distance_metric == "angular":
        return angular_distance(embeddings)
    return pairwise_distance(embeddings, squared=distance_metric == "squared-L2")


def _check_distance_metric(distance_metric):
    if not callable(distance_metric):
        _checks.check_choice("distance_metric", distance_metric, DISTANCE_METRICS)
    return distance_metric


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


# --- Contrastive ----------------------------------------------------------------------


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


# --- Triplet losses -------------------------------------------------------------------


def triplet_semihard_loss(y_true, y_pred, margin=1.0, distance_metric="L2"):
    """Triplet loss with semi-hard negative mining over the batch; one scalar.

    For every positive pair (a, p) (same label, a != p) the negative is the
    closest n with `D[a, n] > D[a, p]`; if there is none, the farthest negative.
    Loss: mean over positive pairs of `max(margin + D[a, p] - D[a, n], 0)`
    (0 when the batch has no positive pair).
    """
    _checks.check_real("margin", margin)
    _check_distance_metric(distance_metric)
    embeddings = _embeddings(y_pred)
    labels = _labels(y_true, embeddings, "TripletSemiHardLoss")
    pdist = _distance_matrix(embeddings, distance_metric)
    dtype = pdist.dtype

    same = ops.expand_dims(labels, 1) == ops.expand_dims(labels, 0)
    negative = ops.logical_not(same)
    negative_f = ops.cast(negative, dtype)
    positive_f = ops.cast(ops.logical_and(same, ops.logical_not(_eye(ops.shape(labels)[0]))),
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
        _check_distance_metric(distance_metric)
        super().__init__(triplet_semihard_loss, name=name, reduction=reduction, dtype=dtype,
                         margin=float(margin), distance_metric=distance_metric)


def triplet_hard_loss(y_true, y_pred, margin=1.0, soft=False, distance_metric="L2"):
    """Batch-hard triplet loss: for each anchor its farthest positive and
    closest negative; mean over anchors, one scalar."""
    _checks.check_real("margin", margin)
    _check_distance_metric(distance_metric)
    embeddings = _embeddings(y_pred)
    labels = _labels(y_true, embeddings, "TripletHardLoss")
    pdist = _distance_matrix(embeddings, distance_metric)
    dtype = pdist.dtype
    same = ops.expand_dims(labels, 1) == ops.expand_dims(labels, 0)
    negative_f = ops.cast(ops.logical_not(same), dtype)
    positive_f = ops.cast(ops.logical_and(same, ops.logical_not(_eye(ops.shape(labels)[0]))),
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
        _check_distance_metric(distance_metric)
        super().__init__(triplet_hard_loss, name=name, reduction=reduction, dtype=dtype,
                         margin=float(margin), soft=bool(soft),
                         distance_metric=distance_metric)


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


def npairs_loss(y_true, y_pred):
    """Per-sample N-pairs loss: softmax cross-entropy of each row of the similarity
    matrix `y_pred` against the same-label indicator normalised to sum 1."""
    logits = _similarity_matrix(y_pred, "NpairsLoss")
    labels = ops.convert_to_tensor(y_true)
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
        Deviates from TFA in returning per-row values (TFA returned their mean
        with reduction forced to none); the default reduction gives the same value.
    """

    def __init__(self, reduction="sum_over_batch_size", name="npairs", dtype=None):
        super().__init__(npairs_loss, name=name, reduction=reduction, dtype=dtype)


def npairs_multilabel_loss(y_true, y_pred):
    """Per-sample multi-label N-pairs loss: targets are label-overlap counts
    `y_true @ y_true.T` normalised per row (rows without labels give 0)."""
    logits = _similarity_matrix(y_pred, "NpairsMultilabelLoss")
    labels = ops.cast(ops.convert_to_tensor(y_true), logits.dtype)
    if len(labels.shape) != 2:
        raise ValueError(
            "NpairsMultilabelLoss: `y_true` must be a (batch_size, num_classes) binary "
            f"indicator. Received: y_true.shape={tuple(labels.shape)}, "
            f"y_pred.shape={tuple(logits.shape)}"
        )
    overlap = ops.matmul(labels, ops.transpose(labels))
    targets = ops.divide_no_nan(overlap, ops.sum(overlap, axis=1, keepdims=True))
    return _soft_target_cross_entropy(targets, logits)


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
        Deviates from TFA in returning per-row values and in taking dense labels only.
    """

    def __init__(self, reduction="sum_over_batch_size", name="npairs_multilabel",
                 dtype=None):
        super().__init__(npairs_multilabel_loss, name=name, reduction=reduction, dtype=dtype)


# --- Lifted structured ----------------------------------------------------------------


def lifted_struct_loss(y_true, y_pred, margin=1.0):
    """Lifted structured loss over the batch (one scalar); see `LiftedStructLoss`."""
    _checks.check_real("margin", margin)
    embeddings = _embeddings(y_pred)
    labels = _labels(y_true, embeddings, "LiftedStructLoss")
    pdist = pairwise_distance(embeddings)
    dtype = pdist.dtype
    same = ops.expand_dims(labels, 1) == ops.expand_dims(labels, 0)
    negative = ops.logical_not(same)
    positive_f = ops.cast(ops.logical_and(same, ops.logical_not(_eye(ops.shape(labels)[0]))),
                          dtype)

    # lse[i] = log sum_{k negative of i} exp(margin - D[i, k]).
    has_neg = ops.any(negative, axis=1)
    lse = _masked_logsumexp(ops.cast(margin, dtype) - pdist, negative, axis=1)
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
    soft_max = _masked_logsumexp(pair, present, axis=-1)
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


# --- NT-Xent and supervised contrastive -----------------------------------------------


def _cosine_logits(y_true, y_pred, temperature, loss_name):
    embeddings = _embeddings(y_pred)
    labels = _labels(y_true, embeddings, loss_name)
    normed = _l2_normalize(embeddings)
    logits = ops.matmul(normed, ops.transpose(normed)) / ops.cast(temperature, normed.dtype)
    same = ops.expand_dims(labels, 1) == ops.expand_dims(labels, 0)
    not_self = ops.logical_not(_eye(ops.shape(labels)[0]))
    return logits, same, not_self


def nt_xent_loss(y_true, y_pred, temperature=0.5):
    """Per-sample NT-Xent: for anchor i, the mean over its positives p of
    `-log(exp(s_ip) / (exp(s_ip) + sum_{n: label n != label i} exp(s_in)))`,
    with `s = cosine similarity / temperature`; 0 for a sample without positive."""
    _checks.check_positive("temperature", temperature)
    logits, same, not_self = _cosine_logits(y_true, y_pred, temperature, "NTXent")
    negative = ops.logical_not(same)
    positive = ops.logical_and(same, not_self)
    lse_neg = _masked_logsumexp(logits, negative, axis=1)  # (B,)
    has_neg = ops.expand_dims(ops.any(negative, axis=1), 1)
    # -log(e^s / (e^s + e^L)) = softplus(L - s); 0 when there are no negatives.
    pair_loss = ops.where(has_neg, ops.softplus(ops.expand_dims(lse_neg, 1) - logits), 0.0)
    positive_f = ops.cast(positive, logits.dtype)
    return ops.divide_no_nan(ops.sum(pair_loss * positive_f, axis=1),
                             ops.sum(positive_f, axis=1))


@register("loss", name="nt_xent", task="metric_learning", labels="integers", inputs="embeddings")
class NTXent(FunctionLoss):
    """NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR (Chen 2020).

    Use it for self-supervised contrastive learning: put two augmented views of
    each example in the batch and give both the same integer label (each label
    exactly twice, e.g. `labels = concat([arange(n), arange(n)])`); `y_pred` are
    the projection-head outputs (B, D). Every other example of the batch is a
    negative, so larger batches help (SimCLR used 256-8192) and a batch must not
    be shuffled apart from its pairs. Temperature 0.1-0.5 is typical.

    Formula, with s_ij = cos(y_pred_i, y_pred_j) / temperature, P(i) the other
    samples with label i's label and N(i) the samples with another label:

        l(i, p) = -log( exp(s_ip) / (exp(s_ip) + sum_{n in N(i)} exp(s_in)) )
        loss_i  = mean_{p in P(i)} l(i, p)     (0 if P(i) is empty)

    One value per sample; with each label appearing exactly twice their mean is
    the SimCLR loss averaged over the 2N ordered positive pairs, i.e.
    `optax.losses.ntxent`.

    Args:
        temperature: positive float. Defaults to `0.5`.
        reduction: Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"nt_xent"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import numpy as np, keras_lossopt
    >>> views = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1], [0.1, 1.0]])
    >>> loss = keras_lossopt.losses.NTXent(temperature=0.5)
    >>> round(float(loss(np.array([0, 1, 0, 1]), views)), 4)
    0.2899

    References:
        - Chen, Kornblith, Norouzi & Hinton, 2020, "A Simple Framework for
          Contrastive Learning of Visual Representations",
          https://arxiv.org/abs/2002.05709
        - optax, `optax.losses.ntxent`.
        Deviates from optax only when a label appears more than twice: the
        per-sample mean over positives then weights anchors equally, whereas
        optax averages over all ordered positive pairs.
    """

    def __init__(self, temperature=0.5, reduction="sum_over_batch_size", name="nt_xent",
                 dtype=None):
        _checks.check_positive("temperature", temperature)
        super().__init__(nt_xent_loss, name=name, reduction=reduction, dtype=dtype,
                         temperature=float(temperature))


def supervised_contrastive_loss(y_true, y_pred, temperature=0.07):
    """Per-sample supervised contrastive loss (SupCon L_out): for anchor i,
    `-mean_{p in P(i)} log(exp(s_ip) / sum_{a != i} exp(s_ia))`; 0 without positives."""
    _checks.check_positive("temperature", temperature)
    logits, same, not_self = _cosine_logits(y_true, y_pred, temperature,
                                            "SupervisedContrastive")
    positive_f = ops.cast(ops.logical_and(same, not_self), logits.dtype)
    log_denominator = ops.expand_dims(_masked_logsumexp(logits, not_self, axis=1), 1)
    log_prob = logits - log_denominator
    return -ops.divide_no_nan(ops.sum(log_prob * positive_f, axis=1),
                              ops.sum(positive_f, axis=1))


@register("loss", name="supervised_contrastive", aliases=("supcon",),
          task="metric_learning", labels="integers", inputs="embeddings")
class SupervisedContrastive(FunctionLoss):
    """Supervised contrastive loss (SupCon, Khosla et al. 2020).

    Use it to pre-train an encoder with labels: all samples of the anchor's
    class in the batch are positives, all others negatives, which gives tighter
    clusters than cross-entropy and pairs well with a linear classifier trained
    afterwards. `y_true` holds integer labels (B,), `y_pred` projection-head
    outputs (B, D), L2-normalised by the loss. Batch composition matters: larger
    batches with several samples per class work best; typical temperature 0.05-0.1.

    Formula (paper eq. 2, L_out), with s_ij = cos(y_pred_i, y_pred_j) / temperature,
    P(i) the other samples with label i's label and A(i) all samples but i:

        loss_i = -1 / |P(i)| * sum_{p in P(i)} log( exp(s_ip) / sum_{a in A(i)} exp(s_ia) )

    (0 for an anchor without positives). One value per sample.

    Args:
        temperature: positive float. Defaults to `0.07`.
        reduction: Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"supervised_contrastive"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import numpy as np, keras_lossopt
    >>> emb = np.array([[1.0, 0.0], [1.0, 0.1], [0.9, 0.2], [0.0, 1.0], [0.1, 1.0]])
    >>> loss = keras_lossopt.losses.SupervisedContrastive(temperature=0.5)
    >>> round(float(loss(np.array([0, 0, 0, 1, 1]), emb)), 4)
    0.7016

    References:
        - Khosla et al., 2020, "Supervised Contrastive Learning",
          https://arxiv.org/abs/2004.11362 (authors' code:
          https://github.com/HobbitLong/SupContrast, losses.py).
        Deviates from the authors' code in normalising the embeddings inside the
        loss and in omitting its `temperature / base_temperature` factor (1 at
        the default temperature 0.07), following the paper's equation.
    """

    def __init__(self, temperature=0.07, reduction="sum_over_batch_size",
                 name="supervised_contrastive", dtype=None):
        _checks.check_positive("temperature", temperature)
        super().__init__(supervised_contrastive_loss, name=name, reduction=reduction,
                         dtype=dtype, temperature=float(temperature))
