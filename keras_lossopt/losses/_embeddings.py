"""What the embedding losses share: input checks, a dynamic identity and a masked logsumexp.

Used by `triplet` and `self_supervised`; everything is O(B^2) in memory for a batch
of B embeddings, and no Python loop runs over the batch.
"""

import keras
from keras import ops

from keras_lossopt.losses.base import reshape_unknown_rank, static_rank


def embeddings_of(y_pred):
    """Embeddings as a float tensor, computed in float32 when given in half precision."""
    y_pred = ops.convert_to_tensor(y_pred)
    if not keras.backend.is_float_dtype(y_pred.dtype) or y_pred.dtype in ("float16", "bfloat16"):
        y_pred = ops.cast(y_pred, "float32")
    if static_rank(y_pred) != 2:
        shape = "unknown" if static_rank(y_pred) is None else tuple(y_pred.shape)
        raise ValueError(
            "`y_pred` must be a 2-D batch of embeddings of shape (batch_size, dim). "
            f"Received: y_pred.shape={shape}"
        )
    return y_pred


def labels_of(y_true, embeddings, loss_name):
    """Labels as a (B,) tensor in the embeddings' dtype; checks the batch sizes agree."""
    y_true = ops.convert_to_tensor(y_true)
    if static_rank(y_true) is None:  # TensorFlow graphs only; TFA accepted it too
        return ops.cast(
            reshape_unknown_rank(y_true, ops.shape(embeddings)[:1], "y_true", loss_name,
                                 "one integer label per row of `y_pred`"),
            embeddings.dtype)
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


def eye(n):
    """Boolean (n, n) identity that also works with a dynamic n (TF graphs)."""
    idx = ops.arange(n)
    return ops.expand_dims(idx, 1) == ops.expand_dims(idx, 0)


def masked_logsumexp(x, mask, axis=-1):
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


def l2_normalize(x):
    """x / max(||x||, 1e-6) along the last axis (tf.math.l2_normalize's epsilon 1e-12 on ||x||^2)."""
    return x * ops.rsqrt(ops.maximum(ops.sum(ops.square(x), axis=-1, keepdims=True), 1e-12))
