"""Building blocks shared by every keras_lossopt loss.

`FunctionLoss` is the public-API twin of Keras's private `LossFunctionWrapper`: a
`keras.losses.Loss` whose per-sample `call` is a functional form, whose config
holds the function's keyword arguments and the dtype (Keras's own `Loss.get_config`
drops the dtype), so every loss round-trips through `get_config`/`from_config`
and `.keras` files.

`prepare` converts, casts and rank-aligns `(y_true, y_pred)` and rejects
mismatched shapes with a message naming both shapes, so that `y_true` of shape
(B,) against `y_pred` of shape (B, 1) never silently broadcasts to (B, B).
"""

import keras
from keras import ops


def static_rank(x):
    """The rank of `x`, or None where it is unknown.

    Only TensorFlow graphs have tensors of unknown rank (`tf.squeeze` of a
    placeholder, `tf.function(input_signature=[tf.TensorSpec(None)])`), and there
    `len(x.shape)` raises.
    """
    try:
        return len(x.shape)
    except ValueError:
        return None


def reshape_unknown_rank(x, shape, argument, loss_name, expected):
    """TensorFlow only (unknown ranks exist only in TF graphs): `x` reshaped to `shape`.

    A run-time check, named after `argument`, replaces TF's anonymous reshape
    error when the element counts differ (`expected` says what `x` should hold).
    """
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    shape = tf.convert_to_tensor(shape, tf.int32)
    check = tf.debugging.assert_equal(
        tf.size(x, out_type=tf.int32), tf.reduce_prod(shape),
        message=f"{loss_name}: `{argument}` (of unknown rank) must hold {expected}",
    )
    with tf.control_dependencies([check]):
        return tf.reshape(x, shape)


def align_ranks(y_true, y_pred):
    """Squeezes or expands a trailing axis of size 1 so both ranks agree.

    `(B,)` with `(B, 1)` becomes `(B, 1)` with `(B, 1)`; ranks that differ by
    more than one, or by one without a trailing 1, are left alone (the caller's
    shape check reports them).
    """
    true_rank, pred_rank = len(y_true.shape), len(y_pred.shape)
    if pred_rank == true_rank + 1 and y_pred.shape[-1] == 1:
        y_true = ops.expand_dims(y_true, -1)
    elif true_rank == pred_rank + 1 and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, -1)
    return y_true, y_pred


def shapes_compatible(shape_a, shape_b):
    """Whether two (possibly partially known) shapes are equal where both are known."""
    if len(shape_a) != len(shape_b):
        return False
    return all(a is None or b is None or a == b for a, b in zip(shape_a, shape_b))


def check_same_shape(y_true, y_pred, loss_name):
    if not shapes_compatible(tuple(y_true.shape), tuple(y_pred.shape)):
        raise ValueError(
            f"{loss_name}: `y_true` and `y_pred` must have the same shape. "
            f"Received: y_true.shape={tuple(y_true.shape)}, "
            f"y_pred.shape={tuple(y_pred.shape)}"
        )


def check_has_batch_axis(y_true, y_pred, loss_name):
    """Scalars have no batch axis: reject them with a clear message."""
    if len(y_true.shape) == 0 or len(y_pred.shape) == 0:
        raise ValueError(
            f"{loss_name}: `y_true` and `y_pred` need a batch axis (rank >= 1). "
            f"Received: y_true.shape={tuple(y_true.shape)}, "
            f"y_pred.shape={tuple(y_pred.shape)}"
        )


def prepare(y_true, y_pred, loss_name, same_shape=True):
    """Converts to tensors, casts `y_true` to `y_pred`'s float dtype, aligns ranks.

    With `same_shape=True` (element-wise losses) a shape mismatch raises a
    ValueError naming both shapes.
    """
    y_pred = ops.convert_to_tensor(y_pred)
    if not keras.backend.is_float_dtype(y_pred.dtype):
        y_pred = ops.cast(y_pred, keras.backend.floatx())
    y_true = ops.cast(ops.convert_to_tensor(y_true), y_pred.dtype)
    if static_rank(y_pred) is None:
        raise ValueError(f"{loss_name}: `y_pred` must have a known rank. Received: "
                         f"y_pred of unknown rank, y_true.shape={_shape_of(y_true)}")
    if static_rank(y_true) is None:  # TensorFlow graphs only: y_pred's shape, as TFA
        y_true = reshape_unknown_rank(y_true, ops.shape(y_pred), "y_true", loss_name,
                                      "one value per element of `y_pred`")
    check_has_batch_axis(y_true, y_pred, loss_name)
    y_true, y_pred = align_ranks(y_true, y_pred)
    if same_shape:
        check_same_shape(y_true, y_pred, loss_name)
    return y_true, y_pred


def _shape_of(x):
    return "unknown" if static_rank(x) is None else tuple(x.shape)


def safe_sqrt(x):
    """sqrt with a zero (not NaN) gradient at exactly 0."""
    positive = x > 0
    return ops.where(positive, ops.sqrt(ops.where(positive, x, ops.ones_like(x))), 0.0)


class FunctionLoss(keras.losses.Loss):
    """A `Loss` whose per-sample value is `fn(y_true, y_pred, **fn_kwargs)`.

    Subclasses give `__init__` explicit keyword arguments (with defaults and
    checks) and pass them on as `fn_kwargs`; `get_config` returns them together
    with name, reduction and dtype, so `cls.from_config(loss.get_config())`
    rebuilds an equal loss.

    Args:
        fn: the functional form, returning one value per sample.
        name: the loss name.
        reduction: one of Keras's reductions. Defaults to `"sum_over_batch_size"`.
        dtype: the computation dtype. Defaults to `None` (`keras.backend.floatx()`).
        **fn_kwargs: keyword arguments passed to `fn`.
    """

    def __init__(self, fn, name=None, reduction="sum_over_batch_size", dtype=None,
                 **fn_kwargs):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = fn_kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        config = super().get_config()
        config["dtype"] = self.dtype
        config.update(self._fn_kwargs)
        return config
