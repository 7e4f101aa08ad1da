"""MADGRAD: momentumized, adaptive, dual-averaged gradient (Defazio & Jelassi, 2021)."""

import keras
from keras import ops

from keras_lossopt import _checks
from keras_lossopt.optimizers._initial_copy import copy_variables_into
from keras_lossopt.optimizers._sparse import dense_gradient
from keras_lossopt.optimizers._step_scalars import StepScalarsMixin
from keras_lossopt.optimizers._weight_decay import OwnWeightDecay
from keras_lossopt.registry import register

__all__ = ["MADGRAD"]


@register("optimizer", name="madgrad")
class MADGRAD(OwnWeightDecay, StepScalarsMixin, keras.optimizers.Optimizer):
    """MADGRAD: dual averaging with a cube-root adaptive scaling and momentum.

    A dual-averaging method (like AdaGrad's dual form) that often matches SGD
    with momentum on vision models and Adam on language models. It needs its
    own learning-rate range: typical values are 1e-2 to 1e-3 for SGD-like
    problems (much smaller than SGD's), 1e-4 to 1e-5 where Adam would use
    1e-3. Do not use Keras's decoupled weight decay with it; use
    `weight_decay` (coupled, as in the authors' default) and set it lower
    than for SGD (often 0).

    Update rule at step `k` = 0, 1, ... (`lr` = `learning_rate`, `x0` the value
    of the variable when the optimizer was built, `ck = 1 - momentum`):

        g      <- g + weight_decay * x
        lamb   = (lr + epsilon) * sqrt(k + 1)
        s      <- s + lamb * g
        nu     <- nu + lamb * g^2
        z      = x0 - s / (cbrt(nu) + epsilon)
        x      <- (1 - ck) * x + ck * z

    With `momentum=0`, `x <- z` and `x0` is not stored (it is recovered as
    `x + s / (cbrt(nu) + epsilon)` before the update, as the authors do).

    Args:
        learning_rate: float >= 0, a `LearningRateSchedule`, or a callable.
            Defaults to `0.01`.
        momentum: in [0, 1). Defaults to `0.9`.
        epsilon: > 0, added to the cube root and to the learning rate.
            Defaults to `1e-6`.
        weight_decay: >= 0, coupled L2 term `weight_decay * x` added to the
            gradient (MADGRAD's own; Keras's base decay is not applied on top).
            Honors `exclude_from_weight_decay`. Defaults to `None` (no decay).
        clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor,
        gradient_accumulation_steps: Keras's base optimizer keywords.
        name: Defaults to `"madgrad"`.

    Example:

    >>> import keras, keras_lossopt
    >>> w = keras.Variable([1.0, 2.0])
    >>> opt = keras_lossopt.optimizers.MADGRAD(learning_rate=0.1)
    >>> for _ in range(20):  # minimise |w|^2, gradient 2 w
    ...     _ = opt.apply_gradients([(keras.ops.convert_to_tensor(2.0 * w.numpy()), w)])
    >>> [round(float(v), 3) for v in w.numpy()]
    [-0.246, -0.346]

    References:
        - Defazio & Jelassi, 2021, "Adaptivity without Compromise: A
          Momentumized, Adaptive, Dual Averaged Gradient Method for Stochastic
          Optimization", https://arxiv.org/abs/2101.11075 (Algorithm 1).
        - Authors' code: https://github.com/facebookresearch/madgrad
          (madgrad/madgrad.py), followed where it differs from the paper:
          `lamb = (lr + epsilon) * sqrt(k + 1)` and epsilon added to the cube
          root. Sparse gradients are densified (the authors' sparse path
          requires momentum=0).
    """

    conformance_opt_outs = {
        "base_features:weight_decay": (
            "MADGRAD's weight_decay is a coupled L2 term added to the gradient (authors' default), not Keras's decoupled decay"
        ),
    }

    def __init__(
        self,
        learning_rate=0.01,
        momentum=0.9,
        epsilon=1e-6,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="madgrad",
        **kwargs,
    ):
        _checks.check_learning_rate(learning_rate)
        _checks.check_beta("momentum", momentum)
        _checks.check_positive("epsilon", epsilon)
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,  # coupled, added to g (OwnWeightDecay).
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
        self.momentum = momentum
        self.epsilon = epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        names = ["grad_sum_sq", "s"] + (["initial_value"] if self.momentum else [])
        slots = self.add_optimizer_variables(var_list, names)
        self._grad_sum_sqs, self._ss = slots[0], slots[1]
        self._x0s = slots[2] if self.momentum else [None] * len(var_list)
        copy_variables_into(self, self._x0s, var_list)

    def _compute_step_scalars(self, learning_rate, dtype):
        eps = ops.cast(self.epsilon, dtype)
        k = ops.cast(self.iterations, dtype)
        return ((ops.cast(learning_rate, dtype) + eps) * ops.sqrt(k + 1.0),)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        i = self._get_variable_index(variable)
        grad_sum_sq, s, x0 = self._grad_sum_sqs[i], self._ss[i], self._x0s[i]
        # Sparse (IndexedSlices) gradients are densified: every element moves anyway,
        # and element-wise ops on duplicated indices would be wrong.
        gradient = ops.cast(dense_gradient(gradient), dtype)
        eps = ops.cast(self.epsilon, dtype)
        # Per-step scalar, computed once per step (StepScalarsMixin).
        (lamb,) = self._step_scalars(learning_rate, dtype)
        if self._decays(variable):
            gradient = gradient + ops.cast(self.own_weight_decay, dtype) * variable
        if x0 is None:  # momentum == 0: recover x0 from the current state.
            x0 = variable + s / (_cube_root(grad_sum_sq) + eps)
        self.assign_add(grad_sum_sq, lamb * ops.square(gradient))
        self.assign_add(s, lamb * gradient)
        z = x0 - s / (_cube_root(grad_sum_sq) + eps)
        if self.momentum:
            ck = ops.cast(1.0 - self.momentum, dtype)
            self.assign_add(variable, ck * (z - variable))
        else:
            self.assign(variable, z)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "momentum": self.momentum,
                "epsilon": self.epsilon,
            }
        )
        return config


def _cube_root(x):
    """The cube root of `x >= 0` as exp(log(x) / 3) (0 at 0), in at least float32.

    Within 1e-6 of the true cube root in float32 on [1e-8, 1e3] (power: 3e-7;
    4e-6 at the ends of the float32 range), but XLA on CPU lowers a general
    power to a much slower routine: on 10M float32 values exp/log takes 18.7 ms,
    power 39.9 ms and `ops.cbrt` 75 ms against 13.4 ms for a plain copy (JAX
    0.10, 2-core CPU); a MADGRAD step went from 39 to 15 ms (benchmarks/README.md).
    16-bit inputs are computed in float32 (in their own precision the exp/log
    form would lose 0.4% / 4% in float16 / bfloat16, power 0.16% / 1.5%).
    """
    dtype = keras.backend.standardize_dtype(x.dtype)
    wide = ops.cast(x, "float32") if dtype in ("float16", "bfloat16") else x
    return ops.cast(ops.exp(ops.log(wide) * ops.cast(1.0 / 3.0, wide.dtype)), dtype)
