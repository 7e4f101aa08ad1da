"""AdaBound / AMSBound: Adam whose per-element step is clipped into a band that tightens to SGD."""

import keras
from keras import ops

from keras_lossopt import _checks, _keras_compat
from keras_lossopt.optimizers._sparse import dense_gradient
from keras_lossopt.optimizers._step_scalars import StepScalarsMixin
from keras_lossopt.optimizers._torch_fast import TorchFastStep
from keras_lossopt.registry import register

__all__ = ["AdaBound"]


@register("optimizer", name="adabound")
class AdaBound(TorchFastStep, StepScalarsMixin, keras.optimizers.Optimizer):
    """AdaBound: Adam with dynamic bounds on the step size that converge to SGD's.

    Early in training it behaves like Adam; as the band
    `[final_lr * (1 - 1/(gamma t + 1)), final_lr * (1 + 1/(gamma t))]` closes
    around `final_lr`, every element's step size tends to `final_lr`, i.e. to
    SGD (with momentum `beta_1`). Use Adam's usual `learning_rate` (1e-3) and
    the SGD learning rate you would pick as `final_lr` (0.1 for image
    classifiers); `gamma` sets how fast the transition happens (about
    `1/gamma` steps). `amsbound=True` gives AMSBound (the maximum of past
    second moments).

    Update rule at step `t` (`lr` = `learning_rate` at step t):

        m <- beta_1 * m + (1 - beta_1) * g
        v <- beta_2 * v + (1 - beta_2) * g^2
        v_hat = max(v_hat, v) if amsbound else v
        final = final_lr * lr / base_lr
        eta = clip(lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) / (sqrt(v_hat) + epsilon),
                   final * (1 - 1 / (gamma * t + 1)), final * (1 + 1 / (gamma * t)))
        x <- x - eta * m

    `base_lr` is the float `learning_rate` given at construction (or a
    `LearningRateSchedule`'s value at step 0), so that a learning-rate decay or
    a later change (e.g. by `ReduceLROnPlateau`) scales the bounds too, as in
    the authors' code; with a callable learning rate, or a schedule starting
    at 0, the bounds use `final_lr` unscaled.

    Args:
        learning_rate: float >= 0, a `LearningRateSchedule`, or a callable.
            Defaults to `0.001`.
        final_lr: > 0, the SGD learning rate the bounds converge to.
            Defaults to `0.1`.
        gamma: > 0, convergence speed of the bounds. Defaults to `1e-3`.
        beta_1: in [0, 1). Defaults to `0.9`.
        beta_2: in [0, 1). Defaults to `0.999`.
        epsilon: >= 0, added to `sqrt(v_hat)`. Defaults to `1e-8`.
        amsbound: use the running maximum of `v` (AMSBound). Defaults to
            `False`.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
        ema_momentum, ema_overwrite_frequency, loss_scale_factor,
        gradient_accumulation_steps: Keras's base optimizer keywords
            (`weight_decay` is Keras's decoupled decay `x -= lr * wd * x`).
        name: Defaults to `"adabound"`.

    Example:

    >>> import keras, keras_lossopt
    >>> w = keras.Variable([1.0, 2.0])
    >>> opt = keras_lossopt.optimizers.AdaBound(learning_rate=0.1)
    >>> for _ in range(10):  # minimise |w|^2, gradient 2 w
    ...     _ = opt.apply_gradients([(keras.ops.convert_to_tensor(2.0 * w.numpy()), w)])
    >>> [round(float(v), 3) for v in w.numpy()]
    [0.076, 1.025]

    References:
        - Luo, Xiong, Liu & Sun, 2019, "Adaptive Gradient Methods with Dynamic
          Bound of Learning Rate", ICLR 2019, https://arxiv.org/abs/1902.09843.
        - Authors' code: https://github.com/Luolc/AdaBound
          (adabound/adabound.py), followed instead of the paper's Algorithm 2:
          bias-corrected step size, epsilon outside the square root, the bounds
          applied to the step size before multiplying by `m`, and `final_lr`
          scaled by `lr / base_lr`. Deviates from the authors' code in one
          way: their `weight_decay` is a coupled L2 term (`g + wd * x`); here
          `weight_decay` is Keras's decoupled decay (add an L2 regularizer to
          the layers for the coupled form).
    """

    _torch_fast_rule = "adabound"  # on torch: optimizers/_torch_fast.py

    def __init__(
        self,
        learning_rate=0.001,
        final_lr=0.1,
        gamma=1e-3,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        amsbound=False,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="adabound",
        **kwargs,
    ):
        _checks.check_learning_rate(learning_rate)
        _checks.check_positive("final_lr", final_lr)
        _checks.check_positive("gamma", gamma)
        _checks.check_beta("beta_1", beta_1)
        _checks.check_beta("beta_2", beta_2)
        _checks.check_non_negative("epsilon", epsilon)
        _checks.check_choice("amsbound", amsbound, (True, False))
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
        self.final_lr = final_lr
        self.gamma = gamma
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsbound = bool(amsbound)
        # The authors' `base_lr`: the bounds follow later changes of a float lr.
        self._base_lr = (
            float(learning_rate)
            if isinstance(learning_rate, (int, float)) and learning_rate > 0
            else None
        )

    def _base_learning_rate(self):
        """The authors' `base_lr`: the constructor's float, or a schedule's value at step 0."""
        if self._base_lr is not None:
            return self._base_lr
        schedule = _keras_compat.learning_rate_setting(self)
        if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            return schedule(0)
        return None

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        names = ["momentum", "velocity"] + (["velocity_hat"] if self.amsbound else [])
        slots = self.add_optimizer_variables(var_list, names)
        self._momentums, self._velocities = slots[0], slots[1]
        self._velocity_hats = slots[2] if self.amsbound else None

    def _compute_step_scalars(self, learning_rate, dtype):
        lr = ops.cast(learning_rate, dtype)
        t = ops.cast(self.iterations + 1, dtype)
        beta_1 = ops.cast(self.beta_1, dtype)
        beta_2 = ops.cast(self.beta_2, dtype)
        step_size = lr * ops.sqrt(1 - ops.power(beta_2, t)) / (1 - ops.power(beta_1, t))
        final_lr = ops.cast(self.final_lr, dtype)
        base_lr = self._base_learning_rate()
        if base_lr is not None:
            base_lr = ops.cast(base_lr, dtype)
            positive = ops.greater(base_lr, 0.0)
            final_lr = final_lr * ops.where(positive, lr / ops.where(positive, base_lr, 1.0), 1.0)
        gamma_t = ops.cast(self.gamma, dtype) * t
        lower = final_lr * (1 - 1 / (gamma_t + 1))
        upper = final_lr * (1 + 1 / gamma_t)
        return step_size, lower, upper

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        i = self._get_variable_index(variable)
        m, v = self._momentums[i], self._velocities[i]
        # Sparse (IndexedSlices) gradients are densified: every element moves anyway,
        # and element-wise ops on duplicated indices would be wrong.
        gradient = ops.cast(dense_gradient(gradient), dtype)
        beta_1 = ops.cast(self.beta_1, dtype)
        beta_2 = ops.cast(self.beta_2, dtype)
        # Per-step scalars, computed once per step (StepScalarsMixin).
        step_size, lower, upper = self._step_scalars(learning_rate, dtype)

        self.assign_add(m, (gradient - m) * (1 - beta_1))
        self.assign_add(v, (ops.square(gradient) - v) * (1 - beta_2))
        v_hat = v
        if self.amsbound:
            v_hat = self._velocity_hats[i]
            self.assign(v_hat, ops.maximum(v_hat, v))
        eta = ops.clip(step_size / (ops.sqrt(v_hat) + ops.cast(self.epsilon, dtype)), lower, upper)
        self.assign_sub(variable, eta * m)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "final_lr": self.final_lr,
                "gamma": self.gamma,
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "amsbound": self.amsbound,
            }
        )
        return config
