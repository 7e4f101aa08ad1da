"""AdaBelief: Adam whose step adapts to the belief in the observed gradient."""

from keras import ops
from keras.optimizers import Optimizer

from keras_lossopt import _arguments, _checks
from keras_lossopt.optimizers._step_scalars import StepScalarsMixin
from keras_lossopt.optimizers._torch_fast import TorchFastStep
from keras_lossopt.registry import register

__all__ = ["AdaBelief"]


@register("optimizer", name="adabelief", aliases=("ada_belief",))
class AdaBelief(TorchFastStep, StepScalarsMixin, Optimizer):
    """AdaBelief: Adam with the variance of the gradient around its EMA as denominator.

    Adam divides by the EMA of `g**2`; AdaBelief divides by the EMA of
    `(g - m)**2`, how far the gradient strays from its prediction `m`. When
    gradients agree with the momentum (a smooth, flat stretch) the denominator
    is small and the step is large; when they disagree (a sharp, noisy region)
    the step shrinks. The authors report Adam-like speed with SGD-like
    generalisation. Use Adam's learning rates (1e-3); the tiny default
    `epsilon` matters, as `s` can be near 0 when gradients are consistent:
    raise it (e.g. 1e-8) if steps are too aggressive.

    Update rule for a variable `w` with gradient `g` at step `t` (from 1):

        m = beta_1 * m + (1 - beta_1) * g
        s = beta_2 * s + (1 - beta_2) * (g - m)**2 + epsilon
        s_hat = s / (1 - beta_2**t)
        w = w - learning_rate / (1 - beta_1**t) * m / (sqrt(s_hat) + epsilon)

    Args:
        learning_rate: float >= 0, a `LearningRateSchedule`, or a callable.
            Defaults to `0.001`.
        beta_1: decay rate of the first moment, in [0, 1). Defaults to `0.9`.
        beta_2: decay rate of the "belief" `s`, in [0, 1). Defaults to `0.999`.
        epsilon: added inside `s` every step and to its root, > 0 (with 0,
            `s` is exactly 0 whenever `g == m`, e.g. `beta_1=0`, and the step 0/0).
            Defaults to `1e-14`.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
        ema_momentum, ema_overwrite_frequency, loss_scale_factor,
        gradient_accumulation_steps: Keras's base optimizer keywords
            (`weight_decay` is Keras's decoupled decay, the authors' default
            `weight_decouple=True`).
        name: Defaults to `"adabelief"`.

    Example:

    >>> import keras, keras_lossopt
    >>> w = keras.Variable([1.0, 2.0])
    >>> opt = keras_lossopt.optimizers.AdaBelief(learning_rate=0.1, epsilon=1e-8)
    >>> _ = opt.apply_gradients([(keras.ops.convert_to_tensor([1.0, -1.0]), w)])
    >>> [round(float(v), 4) for v in w.numpy()]  # first step: lr * sign(g) / 0.9
    [0.8889, 2.1111]

    References:
        - Zhuang, Tang, Ding, Tatikonda, Dvornek, Papademetris & Duncan, 2020,
          "AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed
          Gradients", NeurIPS 2020, https://arxiv.org/abs/2010.07468.
        - The authors' code, https://github.com/juntang-zhuang/Adabelief-Optimizer
          (pypi_packages/adabelief_pytorch0.2.0, AdaBelief.step).
        - TensorFlow Addons `tfa.optimizers.AdaBelief` (same default epsilon).

    Follows the authors' code: `epsilon` is added to `s` every step and kept
    in the state (Algorithm 2 of the paper), and again to `sqrt(s_hat)`. The
    rectification (`rectify=True` in the authors' package and in TFA) and
    AMSGrad options are not included: use `"radam"` or
    `"ranger"` if you need a warm-up-free start.
    """

    _torch_fast_rule = "adabelief"  # on torch: optimizers/_torch_fast.py
    # TensorFlow Addons arguments that do not exist here (the constructor names the way).
    tfa_removed_arguments = {
        'total_steps': _arguments.TFA_WARMUP_ADVICE,
        'warmup_proportion': _arguments.TFA_WARMUP_ADVICE,
        'min_lr': _arguments.TFA_WARMUP_ADVICE,
        'rectify': "the rectification is off (TFA's `rectify=False`); for the rectified variant use `keras_lossopt.optimizers.RAdam`",
        'sma_threshold': 'the rectification (and its threshold) is not offered; use `keras_lossopt.optimizers.RAdam` for it',
        'amsgrad': 'AMSGrad is not offered with AdaBelief',
    }


    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-14,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="adabelief",
        **kwargs,
    ):
        _checks.check_learning_rate(learning_rate)
        _checks.check_beta("beta_1", beta_1)
        _checks.check_beta("beta_2", beta_2)
        _checks.check_positive("epsilon", epsilon)
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

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._beliefs = self.add_optimizer_variables(
            var_list, ["momentum", "belief"]
        )

    def _compute_step_scalars(self, learning_rate, dtype):
        lr = ops.cast(learning_rate, dtype)
        step = ops.cast(self.iterations + 1, dtype)
        beta_1 = ops.cast(self.beta_1, dtype)
        beta_2 = ops.cast(self.beta_2, dtype)
        step_size = lr / (1.0 - ops.power(beta_1, step))
        inv_sqrt_bias_2 = ops.rsqrt(1.0 - ops.power(beta_2, step))
        return step_size, inv_sqrt_bias_2

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        gradient = ops.cast(gradient, dtype)
        epsilon = ops.cast(self.epsilon, dtype)

        # Per-step scalars, computed once per step (StepScalarsMixin).
        step_size, inv_sqrt_bias_2 = self._step_scalars(learning_rate, dtype)

        m = self._momentums[self._get_variable_index(variable)]
        s = self._beliefs[self._get_variable_index(variable)]
        # Three passes, one per written tensor (m; s from g, m, s; w from w, m, s).
        # `s += (1 - beta_2) * ((g - m)**2 - s) + epsilon` is written as an in-place
        # add: with `assign(s, beta_2 * s + ...)` XLA duplicated the s update into the
        # variable's kernel and kept a copy of the old s (14 tensors moved per step
        # instead of 11, benchmarks/optimizer_step.py).
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1.0 - self.beta_1))
        self.assign_add(
            s,
            ops.multiply(ops.subtract(ops.square(ops.subtract(gradient, m)), s), 1.0 - self.beta_2)
            + epsilon,
        )
        denominator = ops.sqrt(s) * inv_sqrt_bias_2 + epsilon
        self.assign_sub(variable, step_size * m / denominator)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
        )
        return config
