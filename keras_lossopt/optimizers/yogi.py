"""Yogi: Adam with an additive, sign-controlled second-moment update."""

import keras
from keras import ops
from keras.optimizers import Optimizer

from keras_lossopt import _checks
from keras_lossopt.optimizers._sparse import sum_duplicates
from keras_lossopt.optimizers._step_scalars import StepScalarsMixin
from keras_lossopt.optimizers._torch_fast import TorchFastStep
from keras_lossopt.registry import register

__all__ = ["Yogi"]


@register("optimizer", name="yogi")
class Yogi(TorchFastStep, StepScalarsMixin, Optimizer):
    """Yogi: Adam whose second moment changes additively, so it cannot forget too fast.

    Adam's `v` is a multiplicative EMA of `g**2`: after a few small gradients a
    large `v` collapses quickly, the effective step size explodes, and Adam can
    fail to converge. Yogi changes `v` by at most `(1 - beta_2) * g**2` per step
    in the direction of `g**2`, so the effective learning rate grows only slowly.
    Helpful on problems with sparse or rare large gradients; the authors
    recommend a larger `epsilon` (1e-3) and learning rate (1e-2) than Adam's.

    Update rule for a variable `w` with gradient `g` at step `t` (from 1); `v`
    starts at `initial_accumulator_value`, `m` at 0:

        m = beta_1 * m + (1 - beta_1) * g
        v = v - (1 - beta_2) * sign(v - g**2) * g**2
        w = w - learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t)
                * m / (sqrt(v) + epsilon)

    Args:
        learning_rate: float >= 0, a `LearningRateSchedule`, or a callable.
            Defaults to `0.01`.
        beta_1: decay rate of the first moment, in [0, 1). Defaults to `0.9`.
        beta_2: controls the size of the second-moment change, in [0, 1).
            Defaults to `0.999`.
        epsilon: added to `sqrt(v)`, >= 0. Defaults to `1e-3`.
        initial_accumulator_value: starting value of `v`, >= 0.
            Defaults to `1e-6`.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
        ema_momentum, ema_overwrite_frequency, loss_scale_factor,
        gradient_accumulation_steps: Keras's base optimizer keywords.
        name: Defaults to `"yogi"`.

    Example:

    >>> import keras, keras_lossopt
    >>> w = keras.Variable([1.0, 2.0])
    >>> opt = keras_lossopt.optimizers.Yogi(learning_rate=0.1)
    >>> _ = opt.apply_gradients([(keras.ops.convert_to_tensor([1.0, -1.0]), w)])
    >>> [round(float(v), 4) for v in w.numpy()]
    [0.9031, 2.0969]

    References:
        - Zaheer, Reddi, Sachan, Kale & Kumar, 2018, "Adaptive Methods for
          Nonconvex Optimization", NeurIPS 2018,
          https://papers.nips.cc/paper/8186-adaptive-methods-for-nonconvex-optimization.
        - TensorFlow Addons `tfa.optimizers.Yogi` (tensorflow_addons/optimizers/yogi.py),
          contributed from the authors' implementation.

    Follows the authors' code where it differs from the paper's Algorithm 2: the
    step size carries Adam's bias correction `sqrt(1 - beta_2**t) / (1 - beta_1**t)`
    and `v` starts at `initial_accumulator_value` rather than 0. TFA's
    `l1_regularization_strength`, `l2_regularization_strength` (proximal
    steps) and `activation="tanh"` are not included.
    """

    _torch_fast_rule = "yogi"  # on torch: optimizers/_torch_fast.py
    # TensorFlow Addons arguments that do not exist here (the constructor names the way).
    tfa_removed_arguments = {
        'l1_regularization_strength': 'the proximal terms are not offered: add an L1 regulariser to the layer (`kernel_regularizer=keras.regularizers.L1(...)`) or use `keras_lossopt.optimizers.ProximalAdagrad(l1=...)`',
        'l2_regularization_strength': 'the proximal terms are not offered: pass `weight_decay=` (decoupled) or an L2 regulariser on the layer',
        'activation': 'the update always uses `"sign"` (TFA\'s default); `"tanh"` is not offered',
    }


    def __init__(
        self,
        learning_rate=0.01,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-3,
        initial_accumulator_value=1e-6,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="yogi",
        **kwargs,
    ):
        _checks.check_learning_rate(learning_rate)
        _checks.check_beta("beta_1", beta_1)
        _checks.check_beta("beta_2", beta_2)
        _checks.check_non_negative("epsilon", epsilon)
        _checks.check_non_negative("initial_accumulator_value", initial_accumulator_value)
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
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.initial_accumulator_value = initial_accumulator_value

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums = self.add_optimizer_variables(var_list, "momentum")
        self._velocities = self.add_optimizer_variables(
            var_list,
            "velocity",
            initializer=keras.initializers.Constant(self.initial_accumulator_value),
        )

    def _compute_step_scalars(self, learning_rate, dtype):
        lr = ops.cast(learning_rate, dtype)
        step = ops.cast(self.iterations + 1, dtype)
        beta_1 = ops.cast(self.beta_1, dtype)
        beta_2 = ops.cast(self.beta_2, dtype)
        return (lr * ops.sqrt(1.0 - ops.power(beta_2, step)) / (1.0 - ops.power(beta_1, step)),)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        gradient = ops.cast(sum_duplicates(gradient), dtype)  # IndexedSlices: repeats summed

        # Per-step scalar, computed once per step (StepScalarsMixin).
        (step_size,) = self._step_scalars(learning_rate, dtype)

        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1.0 - self.beta_1))
        grad_squared = ops.square(gradient)
        self.assign_sub(
            v, (1.0 - self.beta_2) * ops.sign(ops.subtract(v, grad_squared)) * grad_squared
        )
        self.assign_sub(
            variable,
            step_size * m / (ops.sqrt(v) + ops.cast(self.epsilon, dtype)),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "initial_accumulator_value": self.initial_accumulator_value,
            }
        )
        return config
