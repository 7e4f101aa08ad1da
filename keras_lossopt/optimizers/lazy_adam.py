"""LazyAdam: Adam that, for sparse gradients, updates only the rows that were used."""

import keras

from keras_lossopt import _checks
from keras_lossopt.optimizers._torch_fast import TorchFastStep
from keras_lossopt.optimizers._weight_decay import OwnWeightDecay
from keras_lossopt.registry import register

__all__ = ["LazyAdam"]


@register("optimizer", name="lazy_adam")
class LazyAdam(TorchFastStep, OwnWeightDecay, keras.optimizers.Adam):
    """LazyAdam: Adam that updates only the embedding rows present in the batch.

    With large embedding tables most rows receive no gradient in a batch.
    Keras's Adam still decays the moments of every row and moves every row whose
    momentum is non-zero, so each step costs time proportional to the whole
    table. LazyAdam applies the Adam update only to the rows named by a sparse
    (`tf.IndexedSlices`) gradient: moments and weights of the other rows are left
    untouched. This is much faster for big vocabularies and often works as well,
    but it is a different algorithm: rows that appear rarely keep a stale
    momentum instead of a decayed one.

    On dense gradients (and on the JAX and PyTorch backends, which produce only
    dense gradients) it is exactly `keras.optimizers.Adam`. For a sparse
    gradient with rows `i` (duplicates summed first), at step `t` (from 1):

        m[i] = beta_1 * m[i] + (1 - beta_1) * g[i]
        v[i] = beta_2 * v[i] + (1 - beta_2) * g[i]**2
        v_hat[i] = max(v_hat[i], v[i])        (amsgrad only; then v[i] -> v_hat[i])
        w[i] = w[i] - learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t)
                      * m[i] / (sqrt(v[i]) + epsilon)

    Args:
        learning_rate: float >= 0, a `LearningRateSchedule`, or a callable.
            Defaults to `0.001`.
        beta_1: decay rate of the first moment, in [0, 1). Defaults to `0.9`.
        beta_2: decay rate of the second moment, in [0, 1). Defaults to `0.999`.
        epsilon: added to `sqrt(v)`, >= 0. Defaults to `1e-7`.
        amsgrad: use the AMSGrad maximum of `v`. Defaults to `False`.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
        ema_momentum, ema_overwrite_frequency, loss_scale_factor,
        gradient_accumulation_steps: Keras's base optimizer keywords (note
            that Keras's `weight_decay` and clipping act on whole variables,
            and gradient accumulation densifies the gradients).
        name: Defaults to `"lazy_adam"`.

    Example:

    >>> import keras, keras_lossopt
    >>> w = keras.Variable([1.0, 2.0])
    >>> opt = keras_lossopt.optimizers.LazyAdam(learning_rate=0.1)
    >>> _ = opt.apply_gradients([(keras.ops.convert_to_tensor([1.0, -1.0]), w)])
    >>> [round(float(v), 4) for v in w.numpy()]  # dense: Adam's first step
    [0.9, 2.1]

    References:
        - Kingma & Ba, 2015, "Adam: A Method for Stochastic Optimization",
          https://arxiv.org/abs/1412.6980.
        - TensorFlow Addons `tfa.optimizers.LazyAdam`
          (tensorflow_addons/optimizers/lazy_adam.py), and TF1's
          `tf.contrib.opt.LazyAdamOptimizer`.

    Deviates from Adam (by design) only for sparse gradients, as TFA's
    LazyAdam does. Duplicate indices are summed before the update (TFA relied
    on the TF2 Keras base class for that). `weight_decay` is Keras's decoupled
    decay `w -= lr * wd * w`, applied lazily too: a sparse gradient decays only
    its rows (as TFA's `extend_with_decoupled_weight_decay(LazyAdam)` did).
    """

    _torch_fast_rule = "adam"  # on torch: optimizers/_torch_fast.py

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="lazy_adam",
        **kwargs,
    ):
        _checks.check_learning_rate(learning_rate)
        _checks.check_beta("beta_1", beta_1)
        _checks.check_beta("beta_2", beta_2)
        _checks.check_non_negative("epsilon", epsilon)
        _checks.check_choice("amsgrad", amsgrad, (True, False))
        super().__init__(
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            amsgrad=amsgrad,
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

    sparse_updates = "lazy"  # read by the conformance sparse check

    def update_step(self, gradient, variable, learning_rate):
        # Keras's decoupled decay, but only on the rows a sparse gradient touches.
        self._lazy_decoupled_decay(gradient, variable, learning_rate)
        if keras.backend.backend() == "tensorflow" and _is_tf_indexed_slices(gradient):
            return self._tf_sparse_update_step(gradient, variable, learning_rate)
        return super().update_step(gradient, variable, learning_rate)

    def _tf_sparse_update_step(self, gradient, variable, learning_rate):
        """TensorFlow only: the lazy Adam step for a `tf.IndexedSlices` gradient.

        Gathers the touched rows of the moments, updates them and scatters them
        back; the variable gets a scatter-subtract on the same rows.
        """
        import tensorflow as tf

        dtype = variable.dtype
        values, indices = _tf_sum_duplicates(tf.cast(gradient.values, dtype), gradient.indices)
        dense_shape = gradient.dense_shape
        lr = tf.cast(learning_rate, dtype)
        step = tf.cast(self.iterations + 1, dtype)
        beta_1_power = tf.pow(tf.cast(self.beta_1, dtype), step)
        beta_2_power = tf.pow(tf.cast(self.beta_2, dtype), step)
        alpha = lr * tf.sqrt(1.0 - beta_2_power) / (1.0 - beta_1_power)

        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]
        m_rows = tf.gather(_tf_variable(m), indices)
        m_rows = m_rows + (values - m_rows) * (1.0 - self.beta_1)
        v_rows = tf.gather(_tf_variable(v), indices)
        v_rows = v_rows + (tf.square(values) - v_rows) * (1.0 - self.beta_2)
        self.assign(m, tf.IndexedSlices(m_rows, indices, dense_shape))
        self.assign(v, tf.IndexedSlices(v_rows, indices, dense_shape))
        if self.amsgrad:
            v_hat = self._velocity_hats[index]
            v_rows = tf.maximum(tf.gather(_tf_variable(v_hat), indices), v_rows)
            self.assign(v_hat, tf.IndexedSlices(v_rows, indices, dense_shape))
        row_updates = alpha * m_rows / (tf.sqrt(v_rows) + tf.cast(self.epsilon, dtype))
        self.assign_sub(variable, tf.IndexedSlices(row_updates, indices, dense_shape))


def _is_tf_indexed_slices(value):
    """TensorFlow only: whether `value` is a `tf.IndexedSlices`."""
    import tensorflow as tf

    return isinstance(value, tf.IndexedSlices)


def _tf_variable(variable):
    """TensorFlow only: the `tf.Variable` behind a Keras variable (for sparse reads)."""
    return getattr(variable, "value", variable) if isinstance(variable, keras.Variable) else variable


def _tf_sum_duplicates(values, indices):
    """TensorFlow only: `(values, indices)` with repeated indices summed into one row."""
    import tensorflow as tf

    unique_indices, positions = tf.unique(indices)
    summed = tf.math.unsorted_segment_sum(values, positions, tf.shape(unique_indices)[0])
    return summed, unique_indices

