"""Prodigy: Adam whose step size is estimated on line (Mishchenko & Defazio, 2023)."""

import keras
from keras import ops

from keras_lossopt import _checks
from keras_lossopt.optimizers._initial_copy import copy_variables_into
from keras_lossopt.optimizers._sparse import dense_gradient
from keras_lossopt.optimizers._step_scalars import StepScalarsMixin
from keras_lossopt.optimizers._torch_fast import TorchFastStep
from keras_lossopt.optimizers._weight_decay import OwnWeightDecay
from keras_lossopt.registry import register

__all__ = ["Prodigy"]


@register("optimizer")
class Prodigy(TorchFastStep, OwnWeightDecay, StepScalarsMixin, keras.optimizers.Optimizer):
    """Prodigy: Adam with a learning rate it estimates itself (parameter-free Adam).

    Prodigy keeps Adam's moments but multiplies the step by an estimate `d` of
    the distance from the starting point to the solution, learned on line from
    the correlation of gradients with the distance already travelled. Leave
    `learning_rate=1.0` (it is a multiplier of the estimated step, not a step
    size); use `d_coef` (e.g. 0.5 or 2.0) to bias the estimate down or up. The
    authors recommend pairing it with a cosine decay of `learning_rate`
    (no restarts). With a linear warm-up, set `safeguard_warmup=True`. `d`
    never decreases, so a large initial transient can leave it too large:
    lower `d_coef` if training diverges.

    `d` is global: it is computed from ALL trained variables before any of
    them is updated, exactly as in the authors' code.

    Update rule at step `t` (`lr` = `learning_rate` at step t, `d` the current
    estimate, `x0` the value of each variable when the optimizer was built,
    sums run over every element of every variable):

        beta_3 = sqrt(beta_2)                              if beta_3 is None
        m  <- beta_1 * m + d * (1 - beta_1) * g
        v  <- beta_2 * v + d^2 * (1 - beta_2) * g^2
        c  = d * lr            (d itself when safeguard_warmup=True)
        s  <- beta_3 * s + (d / d0) * c * g
        r  <- beta_3 * r + (d / d0) * d * lr * sum(g * (x0 - x))
        d_new = max(d, d_coef * r / sum(|s|))
        x  <- x - d * lr * weight_decay * x
        x  <- x - d * lr * m / (sqrt(v) + d_new * epsilon)

    When `lr == 0` or `sum(|s|) == 0` the step is skipped as in the authors'
    code (nothing changes), so a warm-up that starts at 0 is safe.

    Args:
        learning_rate: float >= 0, a `LearningRateSchedule`, or a callable:
            multiplier of the estimated step size. Defaults to `1.0`.
        beta_1: decay of the first moment, in [0, 1). Defaults to `0.9`.
        beta_2: decay of the second moment, in [0, 1). Defaults to `0.999`.
        beta_3: decay of the step-size statistics `s` and `r`, in [0, 1),
            or None for `sqrt(beta_2)`. Defaults to `None`.
        epsilon: > 0, added to `sqrt(v)` (scaled by `d`). Defaults to `1e-8`.
        d0: > 0, initial estimate of the step size. Defaults to `1e-6`.
        d_coef: > 0, multiplier of the estimate. Defaults to `1.0`.
        weight_decay: >= 0, decoupled decay `d * lr * weight_decay * x`
            (Prodigy's own; Keras's base decay is not applied on top). Honors
            `exclude_from_weight_decay`. Defaults to `None` (no decay).
        safeguard_warmup: if True, `s` accumulates `d * g` instead of
            `d * lr * g`, which avoids over-estimating `d` during a
            learning-rate warm-up. Defaults to `False`.
        clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor,
        gradient_accumulation_steps: Keras's base optimizer keywords.
        name: Defaults to `"prodigy"`.

    Example:

    >>> import keras, keras_lossopt
    >>> w = keras.Variable([1.0, 2.0])
    >>> opt = keras_lossopt.optimizers.Prodigy()
    >>> for _ in range(50):  # minimise |w|^2, gradient 2 w
    ...     _ = opt.apply_gradients([(keras.ops.convert_to_tensor(2.0 * w.numpy()), w)])
    >>> [round(float(v), 2) for v in w.numpy()]
    [0.11, -0.17]
    >>> round(float(opt.d.numpy()), 2)  # grew from d0 = 1e-6 to ~ the distance to 0
    0.49

    References:
        - Mishchenko & Defazio, 2023, "Prodigy: An Expeditiously Adaptive
          Parameter-Free Learner", https://arxiv.org/abs/2306.06101
          (Algorithm 4, Adam version).
        - Authors' code: https://github.com/konstmish/prodigy
          (prodigyopt/prodigy.py), whose defaults this follows: no Adam bias
          correction (`use_bias_correction=False`), unbounded growth of `d`
          (`growth_rate=inf`), decoupled weight decay, `slice_p=1`. Those
          options are not exposed. Deviates from the paper in the same ways the
          authors' code does (`d/d0` scaling of `s` and `r`, `d * epsilon`).
          State `d` and `r` are kept in float32 (Python floats in the authors'
          code). Under `tf.distribute` strategies the gradients are summed
          over the replicas before the global statistics are computed, so
          every replica computes the same `d` as single-device training.
    """

    # learning_rate is a multiplier of the estimated step: 1.0 is the intended value.
    conformance_convergence = {"kwargs": {"learning_rate": 1.0}}
    _torch_fast_rule = "prodigy"  # on torch: optimizers/_torch_fast.py (own decay included)
    _torch_fast_own_decay = True
    _torch_fast_16_bit = False  # float32 state for 16-bit variables: the keras.ops step
    conformance_opt_outs = {
        "base_features:weight_decay": (
            "Prodigy's own decoupled decay is d * lr * weight_decay * x (authors' code); Keras's lr * weight_decay decay is not applied"
        ),
    }

    def __init__(
        self,
        learning_rate=1.0,
        beta_1=0.9,
        beta_2=0.999,
        beta_3=None,
        epsilon=1e-8,
        d0=1e-6,
        d_coef=1.0,
        weight_decay=None,
        safeguard_warmup=False,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="prodigy",
        **kwargs,
    ):
        _checks.check_learning_rate(learning_rate)
        _checks.check_beta("beta_1", beta_1)
        _checks.check_beta("beta_2", beta_2)
        if beta_3 is not None:
            _checks.check_beta("beta_3", beta_3)
        _checks.check_positive("epsilon", epsilon)
        _checks.check_positive("d0", d0)
        _checks.check_positive("d_coef", d_coef)
        _checks.check_choice("safeguard_warmup", safeguard_warmup, (True, False))
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,  # Prodigy's own, d-scaled (OwnWeightDecay).
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
        self.epsilon = epsilon
        self.d0 = d0
        self.d_coef = d_coef
        self.safeguard_warmup = bool(safeguard_warmup)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        names = ["initial_value", "s", "velocity"] + (["momentum"] if self.beta_1 > 0 else [])
        slots = {name: [] for name in names}
        for var in var_list:
            for name in names:
                slots[name].append(self._make_slot(var, name))
        self._x0s, self._ss, self._velocities = (
            slots["initial_value"], slots["s"], slots["velocity"]
        )
        self._momentums = slots.get("momentum", [None] * len(var_list))
        copy_variables_into(self, self._x0s, var_list)
        self._d = self.add_variable(
            (), initializer=keras.initializers.Constant(self.d0), dtype="float32",
            name="d",
        )
        self._d_numerator = self.add_variable(
            (), initializer="zeros", dtype="float32", name="d_numerator"
        )

    def _make_slot(self, var, name):
        """Like `add_variable_from_reference`, but float32 state for 16-bit variables.

        d starts at 1e-6, so d^2 (1 - beta_2) g^2 underflows in float16: the
        authors' code does not support fp16 state either.
        """
        if getattr(var, "overwrite_with_gradient", False):  # Keras makes no slot for these
            return None
        if _is_16_bit(var.dtype):
            prefix = var.path.replace("/", "_") if hasattr(var, "path") else str(var.name)
            return self.add_variable(var.shape, dtype="float32", name=f"{prefix}_{name}")
        return self.add_variable_from_reference(var, name)

    @property
    def d(self):
        """The current step-size estimate (a float32 scalar variable)."""
        return self._d

    def _begin_step(self, grads, trainable_variables, learning_rate):
        # Phase 1 (all variables, old d): moments, s and the sums that give the
        # new d. Phase 2: the new d. Phase 3 (update_step, per variable): the step.
        f32 = "float32"
        coefs = self._phase_1_scalars(learning_rate)
        b1, b2, b3, c1, c2, cs = coefs["b1"], coefs["b2"], coefs["b3"], coefs["c1"], coefs["c2"], coefs["cs"]
        grads = [None if g is None else dense_gradient(g) for g in grads]
        delta_numerator = ops.zeros((), f32)
        d_denom = ops.zeros((), f32)
        for grad, var in zip(grads, trainable_variables):
            if grad is None:
                continue
            i = self._get_variable_index(var)
            x0, s, v, m = self._x0s[i], self._ss[i], self._velocities[i], self._momentums[i]
            dtype = v.dtype  # float32 state for 16-bit variables
            grad = ops.cast(grad, dtype)
            delta_numerator = delta_numerator + ops.cast(
                ops.sum(grad * (x0 - ops.cast(var, dtype))), f32
            )
            if m is not None:
                self.assign(m, m * ops.cast(b1, dtype) + grad * ops.cast(c1, dtype))
            self.assign(v, v * ops.cast(b2, dtype) + ops.square(grad) * ops.cast(c2, dtype))
            self.assign(s, s * ops.cast(b3, dtype) + grad * ops.cast(cs, dtype))
            d_denom = d_denom + ops.cast(ops.sum(ops.abs(s)), f32)
        return self._phase_2(coefs, delta_numerator, d_denom)

    def _phase_1_scalars(self, learning_rate):
        """The float32 coefficients of phase 1 (old d); shared with the torch fast path."""
        f32 = "float32"
        lr = ops.cast(learning_rate, f32)
        d = ops.convert_to_tensor(self._d)
        beta_3 = self.beta_3 if self.beta_3 is not None else self.beta_2 ** 0.5
        on = ops.greater(lr, 0.0)  # The authors skip everything when lr == 0.
        one = ops.ones((), f32)
        on_f = ops.cast(on, f32)
        dlr = d * lr
        d_ratio = d / self.d0
        return {
            "on": on, "d": d, "dlr": dlr, "beta_3": beta_3,
            "b1": ops.where(on, self.beta_1, one),
            "b2": ops.where(on, self.beta_2, one),
            "b3": ops.where(on, beta_3, one),
            "c1": d * (1.0 - self.beta_1) * on_f,
            "c2": d * d * (1.0 - self.beta_2) * on_f,
            "cs": d_ratio * (d if self.safeguard_warmup else dlr) * on_f,
            "cn": d_ratio * dlr * on_f,
        }

    def _phase_2(self, coefs, delta_numerator, d_denom):
        """The new d from phase 1's sums; assigns d and its numerator, returns phase 3's scalars."""
        f32 = "float32"
        one = ops.ones((), f32)
        d = coefs["d"]
        active = ops.logical_and(coefs["on"], ops.greater(d_denom, 0.0))
        old_numerator = ops.convert_to_tensor(self._d_numerator)
        numerator = old_numerator * coefs["beta_3"] + coefs["cn"] * delta_numerator
        d_hat = self.d_coef * numerator / ops.where(active, d_denom, one)
        new_d = ops.where(active, ops.maximum(d, d_hat), d)
        self.assign(self._d_numerator, ops.where(active, numerator, old_numerator))
        self.assign(self._d, new_d)
        # Scalars of phase 3 (float32), read by update_step within this same step.
        return ops.where(active, coefs["dlr"], ops.zeros((), f32)), new_d * self.epsilon

    def _compute_step_scalars(self, learning_rate, dtype):
        # In the state's dtype: float32 for 16-bit variables (see _make_slot).
        state_dtype = "float32" if _is_16_bit(dtype) else dtype
        return tuple(ops.cast(value, state_dtype) for value in self._begun_step())

    def update_step(self, gradient, variable, learning_rate):
        i = self._get_variable_index(variable)
        v, m = self._velocities[i], self._momentums[i]
        dtype = v.dtype  # float32 state for 16-bit variables
        # Per-step scalars, computed once per step (StepScalarsMixin).
        step_size, eps_d = self._step_scalars(learning_rate, variable.dtype)
        if self._decays(variable):
            decay = ops.cast(step_size * self.own_weight_decay, variable.dtype)
            self.assign_sub(variable, variable * decay)
        denom = ops.sqrt(v) + eps_d
        if m is None:  # beta_1 == 0: the authors step along d * g.
            m = ops.cast(dense_gradient(gradient), dtype) * ops.cast(
                ops.convert_to_tensor(self._d), dtype
            )
        self.assign_sub(variable, ops.cast(m / denom * step_size, variable.dtype))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "beta_3": self.beta_3,
                "epsilon": self.epsilon,
                "d0": self.d0,
                "d_coef": self.d_coef,
                "safeguard_warmup": self.safeguard_warmup,
            }
        )
        return config


def _is_16_bit(dtype):
    return keras.backend.standardize_dtype(dtype) in ("float16", "bfloat16")
