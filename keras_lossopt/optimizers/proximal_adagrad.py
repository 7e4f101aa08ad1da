"""Proximal Adagrad: Adagrad steps followed by the proximal map of l1 and l2 penalties."""

import keras
from keras import ops
from keras.optimizers import Optimizer

from keras_lossopt import _checks
from keras_lossopt.optimizers import _sparse
from keras_lossopt.optimizers._weight_decay import OwnWeightDecay
from keras_lossopt.registry import register

__all__ = ["ProximalAdagrad"]


@register("optimizer", name="proximal_adagrad")
class ProximalAdagrad(OwnWeightDecay, Optimizer):
    """Proximal Adagrad (FOBOS with Adagrad step sizes): Adagrad that produces exact zeros under l1.

    An Adagrad step is followed by the closed-form proximal step of the
    penalty `l1 * |w| + l2 / 2 * w**2`, with each coordinate's own Adagrad step
    size. Unlike adding an l1 term to the loss (whose subgradient makes
    weights oscillate around zero), the soft-thresholding sets small weights to
    exactly zero, so it trains sparse linear models and embedding tables
    (large sparse feature spaces, click-through models). It is TensorFlow 1's
    `tf.compat.v1.train.ProximalAdagradOptimizer`, missing from Keras. With
    `l1 = l2 = 0` it is Adagrad without Keras's epsilon.

    Update rule for a variable `w` with gradient `g` and accumulator `a`
    (initialised to `initial_accumulator_value`):

        a = a + g**2
        lr_t = learning_rate / sqrt(a)          (per coordinate)
        v = w - lr_t * g
        w = sign(v) * max(|v| - lr_t * l1, 0) / (1 + lr_t * l2)

    Args:
        learning_rate: float >= 0, a `LearningRateSchedule`, or a callable.
            Defaults to `0.001`.
        initial_accumulator_value: starting value of the accumulator, float > 0
            (it is a divisor). Defaults to `0.1`.
        l1: l1 regularisation strength, float >= 0. Defaults to `0.0`.
        l2: l2 regularisation strength, float >= 0. Defaults to `0.0`.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
        ema_momentum, ema_overwrite_frequency, loss_scale_factor,
        gradient_accumulation_steps: Keras's base optimizer keywords.
        name: Defaults to `"proximal_adagrad"`.

    Example:

    >>> import keras, keras_lossopt
    >>> w = keras.Variable([1.0, 0.05])
    >>> opt = keras_lossopt.optimizers.ProximalAdagrad(
    ...     learning_rate=0.1, initial_accumulator_value=3.0, l1=1.0)
    >>> g = keras.ops.convert_to_tensor([1.0, 0.0])  # a = [4, 3]
    >>> _ = opt.apply_gradients([(g, w)])
    >>> [round(float(v), 4) for v in w.numpy()]  # [1 - 0.05 - 0.05, 0 (thresholded)]
    [0.9, 0.0]

    References:
        - Duchi & Singer, 2009, "Efficient Online and Batch Learning Using
          Forward Backward Splitting", JMLR 10,
          https://jmlr.org/papers/v10/duchi09a.html.
        - Duchi, Hazan & Singer, 2011, "Adaptive Subgradient Methods for Online
          Learning and Stochastic Optimization", JMLR 12,
          https://jmlr.org/papers/v12/duchi11a.html.
        - TensorFlow's `ApplyProximalAdagrad` kernel
          (tensorflow/core/kernels/training_ops.cc), which this follows exactly.
          On TensorFlow, sparse gradients (`tf.IndexedSlices`) update only the
          touched rows' accumulators and weights, as TensorFlow's
          `SparseApplyProximalAdagrad` does; on JAX and PyTorch gradients are
          dense (untouched coordinates still get the proximal shrinkage).
    """

    # For the conformance checks (keras_lossopt.testing): Adagrad's steps shrink as 1/sqrt(sum g^2); with
    # the check's learning_rate=0.1 and cosine decay it stops at 0.029 from x*.
    conformance_convergence = {"kwargs": {"learning_rate": 0.5}}

    def __init__(
        self,
        learning_rate=0.001,
        initial_accumulator_value=0.1,
        l1=0.0,
        l2=0.0,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="proximal_adagrad",
        **kwargs,
    ):
        _checks.check_learning_rate(learning_rate)
        initial_accumulator_value = _checks.check_positive(
            "initial_accumulator_value", initial_accumulator_value)
        l1 = _checks.check_non_negative("l1", l1)
        l2 = _checks.check_non_negative("l2", l2)
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            use_ema=use_ema,
            ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps,
            name=name,
            **kwargs,
        )
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.l1 = float(l1)
        self.l2 = float(l2)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        initializer = keras.initializers.Constant(self.initial_accumulator_value)
        self._accumulators = [
            self.add_variable_from_reference(v, name="accumulator", initializer=initializer)
            for v in var_list
        ]

    def _prox(self, variable, accumulator, gradient, lr):
        """New weights from weights, updated accumulator and gradient (same shapes)."""
        step = lr * ops.rsqrt(accumulator)
        v = variable - step * gradient
        if self.l1 > 0:
            v = ops.sign(v) * ops.maximum(ops.abs(v) - step * self.l1, 0)
        if self.l2 > 0:
            v = v / (1 + step * self.l2)
        return v

    sparse_updates = "lazy"  # read by the conformance sparse check

    def update_step(self, gradient, variable, learning_rate):
        # Keras's decoupled decay, but only on the rows a sparse gradient touches.
        self._lazy_decoupled_decay(gradient, variable, learning_rate)
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        accumulator = self._accumulators[self._get_variable_index(variable)]
        if _sparse.is_indexed_slices(gradient):
            self._tf_sparse_update_step(gradient, variable, accumulator, lr)
            return
        gradient = ops.cast(gradient, dtype)
        self.assign_add(accumulator, ops.square(gradient))
        self.assign(variable, self._prox(variable, accumulator, gradient, lr))

    def _tf_sparse_update_step(self, gradient, variable, accumulator, lr):
        """TensorFlow-only path: a `tf.IndexedSlices` gradient updates only its rows.

        As TensorFlow's `SparseApplyProximalAdagrad` kernel, after summing the
        slices of repeated indices as TensorFlow's optimizers did
        (`_deduplicate_indexed_slices`).
        """
        import tensorflow as tf

        values = tf.cast(gradient.values, variable.dtype)
        unique, positions = tf.unique(gradient.indices)
        values = tf.math.unsorted_segment_sum(values, positions, tf.shape(unique)[0])
        new_accumulator = tf.gather(accumulator, unique) + tf.square(values)
        new_rows = self._prox(tf.gather(variable, unique), new_accumulator, values, lr)
        self.assign(accumulator, tf.IndexedSlices(new_accumulator, unique, gradient.dense_shape))
        self.assign(variable, tf.IndexedSlices(new_rows, unique, gradient.dense_shape))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1": self.l1,
                "l2": self.l2,
            }
        )
        return config
