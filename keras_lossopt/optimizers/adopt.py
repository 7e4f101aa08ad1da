"""ADOPT: Adam with the second moment taken one step behind, so it converges for any beta_2."""

import math

from keras import ops
from keras.optimizers import Optimizer

from keras_lossopt import _checks
from keras_lossopt.optimizers._sparse import dense_gradient
from keras_lossopt.optimizers._step_scalars import StepScalarsMixin
from keras_lossopt.optimizers._weight_decay import OwnWeightDecay
from keras_lossopt.registry import register

__all__ = ["ADOPT"]


@register("optimizer", name="adopt")
class ADOPT(OwnWeightDecay, StepScalarsMixin, Optimizer):
    """ADOPT: normalise the gradient by the PREVIOUS second moment, then take momentum.

    Adam can diverge for some `beta_2` (Reddi et al. 2018) because the current
    gradient enters both its numerator and its second-moment estimate. ADOPT
    divides the gradient by the second moment of the steps BEFORE it, and applies
    the momentum after that normalisation; Taniguchi et al. prove convergence at
    the optimal rate for any `beta_2` and report Adam-level or better results on
    image classification, GPT-2 pre-training and LLM fine-tuning, with the
    default `beta_2=0.9999`. Use it where you would use Adam (learning rate about
    1e-3); with `weight_decay` it is the authors' decoupled ("AdamW-like") mode.
    The first step only initialises the second moment and moves nothing.

    Update rule for a variable `w` with gradient `g`, `t` the number of earlier
    calls (0 at the first call, the authors' step count):

        if t == 0:
            v = g**2                                  # no update, no decay
        else:
            w = w - learning_rate * weight_decay * w
            n = g / max(sqrt(v), epsilon)             # v from the steps before
            n = clip(n, -t**clip_exponent, t**clip_exponent)
            m = beta_1 * m + (1 - beta_1) * n
            w = w - learning_rate * m
            v = beta_2 * v + (1 - beta_2) * g**2

    Args:
        learning_rate: float >= 0, a `LearningRateSchedule`, or a callable.
            Defaults to `0.001`.
        beta_1: decay rate of the momentum of the normalised gradient, in [0, 1).
            Defaults to `0.9`.
        beta_2: decay rate of the second moment, in [0, 1). Defaults to `0.9999`.
        epsilon: a floor on `sqrt(v)` (not added to it), >= 0. Defaults to `1e-6`.
        clip_exponent: the normalised gradient is clipped to `[-t**clip_exponent,
            t**clip_exponent]`; `None` turns the clipping off (the paper's
            Algorithm 1 has none). Float >= 0 or `None`. Defaults to `0.25`.
        weight_decay: decoupled weight decay, `w -= learning_rate * weight_decay
            * w` before each update except the first (the authors'
            `decouple=True`); variables excluded with `exclude_from_weight_decay`
            get none. Float >= 0 or `None`. Defaults to `None`.
        clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor,
        gradient_accumulation_steps: Keras's base optimizer keywords.
        name: Defaults to `"adopt"`.

    Example:

    >>> import keras, keras_lossopt
    >>> w = keras.Variable([1.0, 2.0])
    >>> opt = keras_lossopt.optimizers.ADOPT(learning_rate=0.1)
    >>> g = keras.ops.convert_to_tensor([1.0, -4.0])
    >>> _ = opt.apply_gradients([(g, w)])  # step 1 only sets v = g**2
    >>> [round(float(x), 4) for x in w.numpy()]
    [1.0, 2.0]
    >>> _ = opt.apply_gradients([(g, w)])  # n = g / |g| = [1, -1]; m = 0.1 * n
    >>> [round(float(x), 4) for x in w.numpy()]
    [0.99, 2.01]

    References:
        - Taniguchi, Harada, Minegishi, Oshima, Jeong, Nagahara, Iiyama, Suzuki,
          Iwasawa & Matsuo, 2024, "ADOPT: Modified Adam Can Converge with Any
          beta_2 with the Optimal Rate", NeurIPS 2024,
          https://arxiv.org/abs/2411.02853.
        - The authors' code, https://github.com/iShohei220/adopt
          (`src/adopt/adopt.py`, `_single_tensor_adopt`).

    Follows the authors' code where it differs from the paper's Algorithm 1:
    the clipping of the normalised gradient (their default `clip_lambda =
    step ** 0.25`, with their step count, so the first update is clipped to
    [-1, 1]); epsilon as a floor `max(sqrt(v), epsilon)` rather than added to
    `sqrt(v)`; and the first call, which only sets `v = g**2` and applies no
    decay. The authors' coupled L2 mode (`weight_decay` with `decouple=False`,
    which adds `weight_decay * w` to the gradient) is not included: add an L2
    regulariser to the layers for that.
    """

    # The first call moves nothing (it only initialises v), so Keras's decoupled
    # weight decay, applied at every call, is not ADOPT's.
    conformance_opt_outs = {
        "base_features:weight_decay": "ADOPT's decay is skipped at the first call, which "
        "only initialises v (the authors' code); every later call decays as Keras does",
    }

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.9999,
        epsilon=1e-6,
        clip_exponent=0.25,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="adopt",
        **kwargs,
    ):
        _checks.check_learning_rate(learning_rate)
        _checks.check_beta("beta_1", beta_1)
        _checks.check_beta("beta_2", beta_2)
        _checks.check_non_negative("epsilon", epsilon)
        if clip_exponent is not None:
            _checks.check_non_negative("clip_exponent", clip_exponent)
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,  # ADOPT decays itself, not at the first call (OwnWeightDecay).
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
        self.clip_exponent = clip_exponent

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )

    def _compute_step_scalars(self, learning_rate, dtype):
        # In float32 at least: t**clip_exponent of a float16 step count overflows
        # after 65504 steps.
        # (Constants through convert_to_tensor: ops.cast of a Python float rounds it
        # to float32 first on TensorFlow.)
        wide = "float64" if str(dtype) == "float64" else "float32"

        def constant(value):
            return ops.convert_to_tensor(value, dtype=wide)

        first = ops.equal(self.iterations, 0)
        step = ops.cast(self.iterations, wide)
        if self.clip_exponent is None:
            bound = constant(math.inf)
        else:
            bound = ops.power(step, constant(self.clip_exponent))
        # At the first call the bound is 0: m stays 0 (so w does not move) and the
        # g / epsilon there never reaches the moments, whatever its size.
        bound = ops.where(first, constant(0.0), bound)
        v_rate = ops.where(first, constant(1.0), constant(1.0 - self.beta_2))
        lr = ops.cast(learning_rate, wide)
        decay = ops.where(first, constant(0.0), lr * constant(self.own_weight_decay or 0.0))
        return tuple(ops.cast(x, dtype) for x in (lr, bound, v_rate, decay))

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        gradient = ops.cast(dense_gradient(gradient), dtype)
        lr, bound, v_rate, decay = self._step_scalars(learning_rate, dtype)
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]

        normalised = ops.divide(gradient, ops.maximum(ops.sqrt(v), ops.convert_to_tensor(self.epsilon, dtype=dtype)))
        normalised = ops.clip(normalised, -bound, bound)
        if self._decays(variable):
            self.assign_sub(variable, ops.multiply(variable, decay))
        self.assign_add(m, ops.multiply(ops.subtract(normalised, m),
                                        ops.convert_to_tensor(1.0 - self.beta_1, dtype=dtype)))
        self.assign_sub(variable, ops.multiply(m, lr))
        # `+ 0 * m` (m the NEW momentum) changes no value while m is finite (when it is
        # not, w is not either) but makes v's update depend on m's, which read the old
        # v: XLA then overwrites v in place instead of copying the old v first. That
        # copy made the compiled step 2.5x slower (benchmarks/README.md).
        new_v_part = ops.multiply(ops.subtract(ops.square(gradient), v), v_rate)
        self.assign_add(v, ops.add(new_v_part, ops.multiply(m, ops.convert_to_tensor(0.0, dtype=dtype))))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "clip_exponent": self.clip_exponent,
            }
        )
        return config
