"""Self-supervised and supervised contrastive losses on embeddings: NT-Xent (SimCLR), SupCon.

`y_true` holds one integer label per sample (the two views of an example share
one for NT-Xent) and `y_pred` one projection-head output per sample, compared by
cosine similarity. Every other sample of the batch is a negative: larger batches
help, and a batch must keep the views of an example together.
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
from keras_lossopt.losses.base import FunctionLoss
from keras_lossopt.registry import register

__all__ = [
    "nt_xent_loss",
    "NTXent",
    "supervised_contrastive_loss",
    "SupervisedContrastive",
]


def _cosine_logits(y_true, y_pred, temperature, loss_name):
    embeddings = embeddings_of(y_pred)
    labels = labels_of(y_true, embeddings, loss_name)
    normed = l2_normalize(embeddings)
    logits = ops.matmul(normed, ops.transpose(normed)) / ops.cast(temperature, normed.dtype)
    same = ops.expand_dims(labels, 1) == ops.expand_dims(labels, 0)
    not_self = ops.logical_not(eye(ops.shape(labels)[0]))
    return logits, same, not_self


def nt_xent_loss(y_true, y_pred, temperature=0.5):
    """Per-sample NT-Xent: for anchor i, the mean over its positives p of
    `-log(exp(s_ip) / (exp(s_ip) + sum_{n: label n != label i} exp(s_in)))`,
    with `s = cosine similarity / temperature`; 0 for a sample without positive."""
    _checks.check_positive("temperature", temperature)
    logits, same, not_self = _cosine_logits(y_true, y_pred, temperature, "NTXent")
    negative = ops.logical_not(same)
    positive = ops.logical_and(same, not_self)
    lse_neg = masked_logsumexp(logits, negative, axis=1)  # (B,)
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
    log_denominator = ops.expand_dims(masked_logsumexp(logits, not_self, axis=1), 1)
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
