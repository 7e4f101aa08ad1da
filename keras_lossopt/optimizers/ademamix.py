"""AdEMAMix: Adam with a second, very slow gradient EMA mixed into the numerator."""

import math

from keras import ops
from keras.optimizers import Optimizer

from keras_lossopt import _checks
from keras_lossopt.optimizers._sparse import sum_duplicates
from keras_lossopt.optimizers._step_scalars import StepScalarsMixin
from keras_lossopt.optimizers._torch_fast import TorchFastStep
from keras_lossopt.registry import register

__all__ = ["AdEMAMix"]

_HALF_LIFE_EPSILON = 1e-8  # The authors' `f(beta, eps=1e-8)` in linear_hl_warmup_scheduler.


def _half_life(beta):
    """Steps for an EMA with decay `beta` to halve a contribution, minus 1 (authors' f)."""
    return math.log(0.5) / math.log(beta + _HALF_LIFE_EPSILON) - 1.0


@register("optimizer", name="ademamix", aliases=("ad_ema_mix",))
class AdEMAMix(TorchFastStep, StepScalarsMixin, Optimizer):
    """AdEMAMix: Adam plus a slow EMA of gradients that remembers thousands of steps.

    A single EMA cannot both react quickly to recent gradients and keep using
    old ones. AdEMAMix keeps Adam's fast EMA `m_1` and adds a slow one `m_2`
    (`beta_3=0.9999`: a half-life of ~7000 steps), weighted by `alpha`. The
    authors train language models and ViTs to the loss of AdamW runs with
    nearly twice the tokens, and report slower forgetting. Use AdamW's learning
    rate and weight decay; for runs shorter than ~10k steps or with large
    `beta_3`, enable the warm-ups (`alpha_warmup` and `beta_3_warmup`, e.g.
    the total number of steps) to avoid early instability. It keeps three
    slots per variable.

    Update rule for a variable `w` with gradient `g` at step `t` (from 1):

        m_1 = beta_1 * m_1 + (1 - beta_1) * g
        m_2 = beta_3_t * m_2 + (1 - beta_3_t) * g
        nu = beta_2 * nu + (1 - beta_2) * g**2
        w = w - learning_rate * (m_1 / (1 - beta_1**t) + alpha_t * m_2)
                / (sqrt(nu / (1 - beta_2**t)) + epsilon)

    where `m_2` is not bias-corrected, `alpha_t = alpha * min(t / alpha_warmup, 1)`,
    and `beta_3_t` moves from `beta_1` to `beta_3` linearly in half-life
    `f(beta) = ln(0.5) / ln(beta) - 1` over `beta_3_warmup` steps
    (`alpha_t = alpha`, `beta_3_t = beta_3` without warm-up).

    Args:
        learning_rate: float >= 0, a `LearningRateSchedule`, or a callable.
            Defaults to `0.001`.
        beta_1: decay rate of the fast EMA, in [0, 1). Defaults to `0.9`.
        beta_2: decay rate of the second moment, in [0, 1). Defaults to `0.999`.
        beta_3: decay rate of the slow EMA, in [0, 1). Defaults to `0.9999`.
        alpha: weight of the slow EMA, >= 0. Defaults to `5.0`.
        epsilon: added to the bias-corrected `sqrt(nu)`, >= 0. Defaults to `1e-8`.
        alpha_warmup: steps of linear warm-up of `alpha` from 0, int >= 1, or
            `None` for no warm-up. Defaults to `None`.
        beta_3_warmup: steps of half-life warm-up of `beta_3` from `beta_1`,
            int >= 1, or `None`. Defaults to `None`.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
        ema_momentum, ema_overwrite_frequency, loss_scale_factor,
        gradient_accumulation_steps: Keras's base optimizer keywords
            (`weight_decay` is Keras's decoupled decay, identical to the
            authors' AdamW-style decay).
        name: Defaults to `"ademamix"`.

    Example:

    >>> import keras, keras_lossopt
    >>> w = keras.Variable([1.0, 2.0])
    >>> opt = keras_lossopt.optimizers.AdEMAMix(learning_rate=0.1, alpha=5.0)
    >>> _ = opt.apply_gradients([(keras.ops.convert_to_tensor([1.0, -1.0]), w)])
    >>> [round(float(v), 4) for v in w.numpy()]  # lr * (1 + 5 * 1e-4) * sign(g)
    [0.8999, 2.1001]

    References:
        - Pagliardini, Ablin & Grangier, 2024, "The AdEMAMix Optimizer: Better,
          Faster, Older", https://arxiv.org/abs/2409.03152 (ICLR 2025).
        - The authors' code, https://github.com/apple/ml-ademamix
          (pytorch/ademamix.py).

    Follows the authors' code (Algorithm 1 of the paper): the slow EMA is not
    bias-corrected, the fast one and `nu` are; the default `alpha` is 5.0 (the
    authors' code uses 2.0, the paper's experiments 5 to 8, optax 5.0).
    """

    _torch_fast_rule = "ademamix"  # on torch: optimizers/_torch_fast.py

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        beta_3=0.9999,
        alpha=5.0,
        epsilon=1e-8,
        alpha_warmup=None,
        beta_3_warmup=None,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="ademamix",
        **kwargs,
    ):
        _checks.check_learning_rate(learning_rate)
        _checks.check_beta("beta_1", beta_1)
        _checks.check_beta("beta_2", beta_2)
        _checks.check_beta("beta_3", beta_3)
        _checks.check_non_negative("alpha", alpha)
        _checks.check_non_negative("epsilon", epsilon)
        if alpha_warmup is not None:
            alpha_warmup = _checks.check_positive_int("alpha_warmup", alpha_warmup)
        if beta_3_warmup is not None:
            beta_3_warmup = _checks.check_positive_int("beta_3_warmup", beta_3_warmup)
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
        self.beta_3 = beta_3
        self.alpha = alpha
        self.epsilon = epsilon
        self.alpha_warmup = alpha_warmup
        self.beta_3_warmup = beta_3_warmup

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._fast_momentums, self._slow_momentums, self._velocities = (
            self.add_optimizer_variables(var_list, ["fast_momentum", "slow_momentum", "velocity"])
        )

    def _alpha_t(self, step, dtype):
        if self.alpha_warmup is None:
            return ops.cast(self.alpha, dtype)
        # linear_warmup_scheduler(step, alpha_end=alpha, alpha_start=0, warmup=alpha_warmup)
        return self.alpha * ops.minimum(step / float(self.alpha_warmup), 1.0)

    def _one_minus_beta_3_t(self, step, dtype):
        if self.beta_3_warmup is None:
            return ops.cast(1.0 - self.beta_3, dtype)
        # linear_hl_warmup_scheduler(step, beta_end=beta_3, beta_start=beta_1, ...):
        # beta_3_t = 0.5 ** (1 / (h + 1)) with h interpolated between the half-lives;
        # 1 - beta_3_t = -expm1(ln(0.5) / (h + 1)) avoids cancellation in float32.
        a = ops.minimum(step / float(self.beta_3_warmup), 1.0)
        start, end = _half_life(self.beta_1), _half_life(self.beta_3)
        h = (1.0 - a) * start + a * end
        warm = -ops.expm1(math.log(0.5) / (h + 1.0))
        return ops.where(a < 1.0, warm, ops.cast(1.0 - self.beta_3, dtype))

    def _compute_step_scalars(self, learning_rate, dtype):
        lr = ops.cast(learning_rate, dtype)
        step = ops.cast(self.iterations + 1, dtype)
        fast_scale = 1.0 / (1.0 - ops.power(ops.cast(self.beta_1, dtype), step))
        inv_sqrt_bias_2 = ops.rsqrt(1.0 - ops.power(ops.cast(self.beta_2, dtype), step))
        alpha_t = self._alpha_t(step, dtype)
        one_minus_beta_3_t = self._one_minus_beta_3_t(step, dtype)
        return lr, fast_scale, inv_sqrt_bias_2, alpha_t, one_minus_beta_3_t

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        gradient = ops.cast(sum_duplicates(gradient), dtype)  # IndexedSlices: repeats summed
        index = self._get_variable_index(variable)
        m_1 = self._fast_momentums[index]
        m_2 = self._slow_momentums[index]
        nu = self._velocities[index]

        # Per-step scalars, computed once per step (StepScalarsMixin).
        lr, fast_scale, inv_sqrt_bias_2, alpha_t, one_minus_beta_3_t = self._step_scalars(
            learning_rate, dtype
        )

        self.assign_add(m_1, ops.multiply(ops.subtract(gradient, m_1), 1.0 - self.beta_1))
        self.assign_add(m_2, ops.multiply(ops.subtract(gradient, m_2), one_minus_beta_3_t))
        self.assign_add(
            nu, ops.multiply(ops.subtract(ops.square(gradient), nu), 1.0 - self.beta_2)
        )
        numerator = fast_scale * m_1 + alpha_t * m_2
        denominator = ops.sqrt(nu) * inv_sqrt_bias_2 + ops.cast(self.epsilon, dtype)
        self.assign_sub(variable, lr * numerator / denominator)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "beta_3": self.beta_3,
                "alpha": self.alpha,
                "epsilon": self.epsilon,
                "alpha_warmup": self.alpha_warmup,
                "beta_3_warmup": self.beta_3_warmup,
            }
        )
        return config
