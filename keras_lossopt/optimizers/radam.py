"""Rectified Adam (RAdam): Adam with the variance of its adaptive step rectified."""

import math

from keras import ops
from keras.optimizers import Optimizer

from keras_lossopt import _arguments, _checks
from keras_lossopt.optimizers._step_scalars import StepScalarsMixin
from keras_lossopt.optimizers._torch_fast import TorchFastStep
from keras_lossopt.registry import register

__all__ = ["RAdam"]


@register("optimizer", name="radam", aliases=("rectified_adam", "RectifiedAdam"))
class RAdam(TorchFastStep, StepScalarsMixin, Optimizer):
    """Rectified Adam: Adam whose adaptive step is switched on only once it is reliable.

    In its first steps Adam divides by a second-moment estimate built from very
    few gradients, whose variance is large; that is why Adam usually needs a
    learning-rate warm-up. RAdam measures the length of the approximated simple
    moving average, `rho_t`, and, while it is below `sma_threshold`, takes plain
    bias-corrected momentum steps; afterwards it takes Adam steps multiplied by
    a rectification factor `r_t` that rises towards 1. Use it where you would
    use Adam with a warm-up: the same learning rates apply (1e-3 is a good
    start). With the default `beta_2=0.999` the first 5 steps are momentum-SGD
    steps of size `learning_rate / (1 - beta_1**t)` times the momentum, so keep
    the learning rate at Adam-like values, not SGD-like ones.

    Update rule for a variable `w` with gradient `g` at step `t` (from 1):

        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        rho_inf = 2 / (1 - beta_2) - 1
        rho_t = rho_inf - 2 * t * beta_2**t / (1 - beta_2**t)
        if rho_t >= sma_threshold:
            r_t = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                       / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            w = w - learning_rate * r_t * sqrt(1 - beta_2**t) / (1 - beta_1**t)
                    * m / (sqrt(v) + epsilon)
        else:
            w = w - learning_rate / (1 - beta_1**t) * m

    Args:
        learning_rate: float >= 0, a `LearningRateSchedule`, or a callable.
            Defaults to `0.001`.
        beta_1: decay rate of the first moment, in [0, 1). Defaults to `0.9`.
        beta_2: decay rate of the second moment, in [0, 1). Defaults to `0.999`.
        epsilon: added to `sqrt(v)`, >= 0. Defaults to `1e-7`.
        sma_threshold: the rectified (adaptive) step is used once
            `rho_t >= sma_threshold`; must be > 4 for `r_t` to be real.
            Defaults to `5.0`.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
        ema_momentum, ema_overwrite_frequency, loss_scale_factor,
        gradient_accumulation_steps: Keras's base optimizer keywords
            (`weight_decay` is Keras's decoupled decay, as in AdamW).
        name: Defaults to `"radam"`.

    Example:

    >>> import keras, keras_lossopt
    >>> w = keras.Variable([1.0, 2.0])
    >>> opt = keras_lossopt.optimizers.RAdam(learning_rate=0.1)
    >>> _ = opt.apply_gradients([(keras.ops.convert_to_tensor([1.0, -1.0]), w)])
    >>> [round(float(v), 4) for v in w.numpy()]  # step 1: momentum step of size 0.1
    [0.9, 2.1]

    References:
        - Liu, Jiang, He, Chen, Liu, Gao & Han, 2020, "On the Variance of the
          Adaptive Learning Rate and Beyond", ICLR 2020,
          https://arxiv.org/abs/1908.03265.
        - The authors' code, https://github.com/LiyuanLucasLiu/RAdam (radam.py).
        - TensorFlow Addons `tfa.optimizers.RectifiedAdam` (same defaults).

    Follows the authors' code where it differs from the paper's Algorithm 2:
    `epsilon` is added to `sqrt(v)` before the bias correction (the correction
    is folded into the step size), and below the threshold the step is the
    bias-corrected momentum step ("degenerated to SGD"). TFA's `total_steps`,
    `warmup_proportion`, `min_lr` and `amsgrad` are not included: use a Keras
    learning-rate schedule for warm-up.
    """

    _torch_fast_rule = "radam"  # on torch: optimizers/_torch_fast.py
    # TensorFlow Addons arguments that do not exist here (the constructor names the way).
    tfa_removed_arguments = {
        'total_steps': _arguments.TFA_WARMUP_ADVICE,
        'warmup_proportion': _arguments.TFA_WARMUP_ADVICE,
        'min_lr': _arguments.TFA_WARMUP_ADVICE,
        'amsgrad': 'AMSGrad is not offered with RAdam; use `keras.optimizers.Adam(amsgrad=True)`',
    }


    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        sma_threshold=5.0,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="radam",
        **kwargs,
    ):
        _checks.check_learning_rate(learning_rate)
        _checks.check_beta("beta_1", beta_1)
        _checks.check_beta("beta_2", beta_2)
        _checks.check_non_negative("epsilon", epsilon)
        _checks.check_real("sma_threshold", sma_threshold, low=4, low_inclusive=False)
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
        self.sma_threshold = sma_threshold

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )

    def _compute_step_scalars(self, learning_rate, dtype):
        lr = ops.cast(learning_rate, dtype)
        step = ops.cast(self.iterations + 1, dtype)
        beta_1 = ops.cast(self.beta_1, dtype)
        beta_1_power = ops.power(beta_1, step)
        # 1 - beta_2**t via expm1 with a float64 log: rho_t subtracts two numbers near
        # rho_inf, so 1 - beta_2**t needs full relative precision in float32.
        log_beta_2 = math.log(self.beta_2) if self.beta_2 > 0 else -math.inf
        one_minus_beta_2_power = -ops.expm1(step * log_beta_2)
        beta_2_power = 1.0 - one_minus_beta_2_power
        rho_inf = 2.0 / (1.0 - self.beta_2) - 1.0  # Python float: exact constants.
        rho_t = rho_inf - 2.0 * step * beta_2_power / one_minus_beta_2_power
        rectified = rho_t >= ops.cast(self.sma_threshold, dtype)
        # Clamped so that the unused branch never takes the root of a negative.
        r_squared = ops.maximum(
            (rho_t - 4.0) * (rho_t - 2.0) * rho_inf
            / (((rho_inf - 4.0) * (rho_inf - 2.0)) * rho_t),
            0.0,
        )
        adaptive_size = ops.where(
            rectified,
            lr * ops.sqrt(r_squared * one_minus_beta_2_power) / (1.0 - beta_1_power),
            0.0,
        )
        momentum_size = ops.where(rectified, 0.0, lr / (1.0 - beta_1_power))
        return adaptive_size, momentum_size

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        gradient = ops.cast(gradient, dtype)
        # Per-step scalars, computed once per step (StepScalarsMixin).
        adaptive_size, momentum_size = self._step_scalars(learning_rate, dtype)

        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1.0 - self.beta_1))
        self.assign_add(
            v, ops.multiply(ops.subtract(ops.square(gradient), v), 1.0 - self.beta_2)
        )
        # Exactly one of the two sizes is non-zero.
        scale = adaptive_size / (ops.sqrt(v) + ops.cast(self.epsilon, dtype)) + momentum_size
        self.assign_sub(variable, ops.multiply(m, scale))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "sma_threshold": self.sma_threshold,
            }
        )
        return config
