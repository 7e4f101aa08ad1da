"""MARS: AdamW on a variance-reduced (STORM-like) gradient estimate."""

import keras
from keras import ops
from keras.optimizers import Optimizer

from keras_lossopt import _checks
from keras_lossopt.optimizers._sparse import dense_gradient
from keras_lossopt.optimizers._step_scalars import StepScalarsMixin
from keras_lossopt.optimizers._weight_decay import OwnWeightDecay
from keras_lossopt.registry import register

__all__ = ["MARS"]


def _reference_learning_rate(learning_rate):
    """The learning rate the 1-D rate is a ratio of (the authors' `lr` at construction)."""
    if isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        return float(ops.convert_to_numpy(learning_rate(0)))
    if callable(learning_rate):
        return float(ops.convert_to_numpy(learning_rate()))
    return float(learning_rate)


@register("optimizer", name="mars")
class MARS(OwnWeightDecay, StepScalarsMixin, Optimizer):
    """MARS-AdamW: AdamW on a gradient corrected by the change of gradient (variance reduction).

    MARS (Make vAriance Reduction Shine) adds a scaled difference of consecutive
    gradients to each gradient, `c = g + gamma * beta_1 / (1 - beta_1) * (g -
    g_prev)`, a cheap stand-in for the STORM variance-reduced estimate, clips it to
    unit norm, and feeds it to AdamW. The authors report lower loss than AdamW and
    Muon for GPT-2 pre-training at the same token budget. As in their code, only
    2-D variables (Dense kernels, embeddings) take the MARS step; all others
    (biases, normalisation scales, convolution kernels) take a plain AdamW step
    with their own `*_1d` hyperparameters, unless `optimize_1d=True`. The
    authors' GPT-2 settings (125M to 1.5B parameters): `learning_rate` 6e-3 down
    to 2e-3, `learning_rate_1d` half of it, `weight_decay` 1e-2, with warm-up
    and cosine decay. It keeps the previous gradient of every MARS-branch
    variable (one slot more than AdamW there).

    Update rule for a variable `w` with gradient `g` at step `t` (from 1). MARS
    branch (`w` 2-D, or `optimize_1d=True`), `g_prev` the previous step's
    gradient (0 at `t = 1`):

        c = g + gamma * beta_1 / (1 - beta_1) * (g - g_prev)
        c = c / max(||c||, 1)                          # Frobenius norm of the tensor
        m = beta_1 * m + (1 - beta_1) * c
        v = beta_2 * v + (1 - beta_2) * c**2
        v_hat = max(v_hat, v) if amsgrad else v
        w = w - learning_rate * (weight_decay * w
                + m / (1 - beta_1**t) / (sqrt(v_hat / (1 - beta_2**t)) + epsilon))
        g_prev = g

    AdamW branch (every other variable while `optimize_1d=False`), with
    `lr_1d = learning_rate * learning_rate_1d / learning_rate_0`:

        m = beta_1_1d * m + (1 - beta_1_1d) * g
        v = beta_2_1d * v + (1 - beta_2_1d) * g**2
        w = w - lr_1d * (weight_decay_1d * w
                + m / (1 - beta_1_1d**t) / (sqrt(v_hat / (1 - beta_2_1d**t)) + epsilon))

    `learning_rate_0` is `learning_rate` at construction (a schedule's value at
    step 0): as in the authors' code the 1-D rate is a fixed multiple of the
    current learning rate, so it follows schedules and `ReduceLROnPlateau`.

    The authors' names of the arguments are in brackets.

    Args:
        learning_rate: [`lr`] float >= 0, a `LearningRateSchedule`, or a callable.
            Defaults to `0.003`.
        beta_1: [`betas[0]`] decay of the first moment, in [0, 1); also sets the
            correction's scale `gamma * beta_1 / (1 - beta_1)`. Defaults to `0.95`.
        beta_2: [`betas[1]`] decay of the second moment, in [0, 1).
            Defaults to `0.99`.
        gamma: [`gamma`] strength of the gradient correction, >= 0 (0 gives
            AdamW on the clipped gradient). Defaults to `0.025`.
        epsilon: [`eps`] added to the bias-corrected `sqrt(v)`, >= 0.
            Defaults to `1e-8`.
        amsgrad: [`amsgrad`] divide by the running maximum of `v` (both branches).
            Defaults to `False`.
        optimize_1d: [`optimize_1d`] give every variable the MARS step with the
            main hyperparameters. Defaults to `False`.
        learning_rate_1d: [`lr_1d`] the AdamW branch's learning rate when
            `learning_rate` is `learning_rate_0` (see above), > 0; `None` uses
            `learning_rate` itself. Defaults to `0.003`.
        beta_1_1d: [`betas_1d[0]`] AdamW branch's first-moment decay,
            in [0, 1). Defaults to `0.9`.
        beta_2_1d: [`betas_1d[1]`] AdamW branch's second-moment decay,
            in [0, 1). Defaults to `0.95`.
        weight_decay_1d: [`weight_decay_1d`] AdamW branch's decoupled weight
            decay (scaled by `lr_1d`), >= 0. Defaults to `0.1`.
        weight_decay: [`weight_decay`] the MARS branch's decoupled weight decay,
            `w -= learning_rate * weight_decay * w`, float >= 0 or `None` (0).
            `exclude_from_weight_decay` exempts variables from both decays.
            Defaults to `None`.
        clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor,
        gradient_accumulation_steps: Keras's base optimizer keywords.
        name: Defaults to `"mars"`.

    Example:

    >>> import keras, keras_lossopt
    >>> w = keras.Variable([[1.0, 2.0]])
    >>> opt = keras_lossopt.optimizers.MARS(learning_rate=0.1)
    >>> g = keras.ops.convert_to_tensor([[3.0, -4.0]])
    >>> _ = opt.apply_gradients([(g, w)])  # step 1: c clipped to norm 1, lr * sign(c)
    >>> [round(float(x), 4) for x in w.numpy()[0]]
    [0.9, 2.1]

    References:
        - Yuan, Liu, Wu, Zhou & Gu, 2024, "MARS: Unleashing the Power of
          Variance Reduction for Training Large Models",
          https://arxiv.org/abs/2411.10438 (Algorithm 2, MARS-AdamW).
        - The authors' code, https://github.com/AGI-Arena/MARS
          (`MARS/optimizers/mars.py`, `mars_type="mars-adamw"`,
          `is_approx=True`).

    Follows the authors' code where it differs from the paper: the default
    approximate correction (`g_prev` is the gradient of the previous step at the
    previous weights, not a second gradient evaluation of the previous batch at the
    current weights); the MARS step only for tensors with exactly 2 dimensions
    (convolution kernels take the AdamW branch; kozistr/pytorch_optimizer's MARS
    uses `ndim >= 2` instead); the correction clipped to norm 1 per tensor;
    epsilon added after the bias correction of `sqrt(v)`; and the 1-D rate as a
    multiple of the current learning rate. Their `mars-lion` and
    `mars-shampoo` variants and the exact (`is_approx=False`) mode are not
    included.
    """

    conformance_opt_outs = {
        "base_features:weight_decay": "`weight_decay` is the decay of the MARS branch (2-D "
        "variables) only; the others decay by `weight_decay_1d` at the 1-D rate, as in the "
        "authors' code, not by Keras's uniform `w -= w * weight_decay * lr`",
    }

    def __init__(
        self,
        learning_rate=0.003,
        beta_1=0.95,
        beta_2=0.99,
        gamma=0.025,
        epsilon=1e-8,
        amsgrad=False,
        optimize_1d=False,
        learning_rate_1d=0.003,
        beta_1_1d=0.9,
        beta_2_1d=0.95,
        weight_decay_1d=0.1,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="mars",
        **kwargs,
    ):
        # Saved configs carry the ratio itself, so that a learning rate changed
        # during training (and saved as its current value) keeps the 1-D rate.
        learning_rate_1d_factor = kwargs.pop("learning_rate_1d_factor", None)
        _checks.check_learning_rate(learning_rate)
        _checks.check_beta("beta_1", beta_1)
        _checks.check_beta("beta_2", beta_2)
        _checks.check_non_negative("gamma", gamma)
        _checks.check_non_negative("epsilon", epsilon)
        for flag_name, flag in (("amsgrad", amsgrad), ("optimize_1d", optimize_1d)):
            if not isinstance(flag, bool):
                raise ValueError(f"`{flag_name}` must be a bool. Received: {flag_name}={flag!r}")
        if learning_rate_1d is not None:
            _checks.check_positive("learning_rate_1d", learning_rate_1d)
        _checks.check_beta("beta_1_1d", beta_1_1d)
        _checks.check_beta("beta_2_1d", beta_2_1d)
        _checks.check_non_negative("weight_decay_1d", weight_decay_1d)
        if learning_rate_1d_factor is None:
            learning_rate_1d_factor = self._factor(learning_rate, learning_rate_1d)
        else:
            _checks.check_positive("learning_rate_1d_factor", learning_rate_1d_factor)
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,  # MARS decays itself, a rate per branch (OwnWeightDecay).
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
        self.gamma = gamma
        self.epsilon = epsilon
        self.amsgrad = amsgrad
        self.optimize_1d = optimize_1d
        self.learning_rate_1d = learning_rate_1d
        self.learning_rate_1d_factor = float(learning_rate_1d_factor)
        self.beta_1_1d = beta_1_1d
        self.beta_2_1d = beta_2_1d
        self.weight_decay_1d = weight_decay_1d

    @staticmethod
    def _factor(learning_rate, learning_rate_1d):
        if learning_rate_1d is None:
            return 1.0
        reference = _reference_learning_rate(learning_rate)
        if not reference > 0:
            raise ValueError(
                "MARS's AdamW branch runs at learning_rate * learning_rate_1d / "
                "learning_rate_0 (the authors' lr_1d / lr), so learning_rate_0, the "
                "learning rate at construction (a schedule's value at step 0), must be "
                "> 0; pass `learning_rate_1d=None` to give those variables the "
                f"learning rate itself. Received: learning_rate_0={reference!r}"
            )
        return learning_rate_1d / reference

    def _takes_mars_step(self, variable):
        # The authors' `is_grad_2d = (len(grad.shape) == 2)`.
        return self.optimize_1d or len(variable.shape) == 2

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )
        self._max_velocities = (
            self.add_optimizer_variables(var_list, "max_velocity") if self.amsgrad else None
        )
        # The previous gradient only where the MARS step needs it; the others get a
        # scalar placeholder so that slot lists stay aligned with var_list.
        self._previous_gradients = []
        for variable in var_list:
            if self._takes_mars_step(variable):
                slot = self.add_variable_from_reference(variable, "previous_gradient")
            else:
                slot = self.add_variable((), dtype=variable.dtype,
                                         name=f"unused_previous_gradient_{len(self._previous_gradients)}")
            self._previous_gradients.append(slot)

    def _compute_step_scalars(self, learning_rate, dtype):
        lr = ops.cast(learning_rate, dtype)
        step = ops.cast(self.iterations + 1, dtype)

        def bias_corrections(beta_1, beta_2):
            # convert_to_tensor, not cast: TensorFlow's cast of a Python float goes
            # through float32.
            beta_1, beta_2 = (ops.convert_to_tensor(b, dtype=dtype) for b in (beta_1, beta_2))
            return (1.0 - ops.power(beta_1, step), ops.rsqrt(1.0 - ops.power(beta_2, step)))

        bc1, inv_sqrt_bc2 = bias_corrections(self.beta_1, self.beta_2)
        bc1_1d, inv_sqrt_bc2_1d = bias_corrections(self.beta_1_1d, self.beta_2_1d)
        lr_1d = lr * ops.convert_to_tensor(self.learning_rate_1d_factor, dtype=dtype)
        return lr, lr / bc1, inv_sqrt_bc2, lr_1d, lr_1d / bc1_1d, inv_sqrt_bc2_1d

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        gradient = ops.cast(dense_gradient(gradient), dtype)
        lr, step_size, inv_sqrt_bc2, lr_1d, step_size_1d, inv_sqrt_bc2_1d = self._step_scalars(
            learning_rate, dtype
        )
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]
        decays = self._not_excluded(variable)

        if self._takes_mars_step(variable):
            g_prev = self._previous_gradients[index]
            scale = self.gamma * self.beta_1 / (1.0 - self.beta_1)
            c = ops.add(gradient, ops.multiply(ops.subtract(gradient, g_prev),
                                               ops.convert_to_tensor(scale, dtype=dtype)))
            # c / max(||c||, 1) as a scalar factor, so that XLA fuses it into the
            # moments' loops instead of writing the clipped c (2 tensors fewer).
            c = ops.multiply(c, 1.0 / ops.maximum(ops.sqrt(ops.sum(ops.square(c))), 1.0))
            beta_1, beta_2, weight_decay = self.beta_1, self.beta_2, self.own_weight_decay
        else:
            c = gradient
            beta_1, beta_2, weight_decay = self.beta_1_1d, self.beta_2_1d, self.weight_decay_1d
            lr, step_size, inv_sqrt_bc2 = lr_1d, step_size_1d, inv_sqrt_bc2_1d

        # The decay uses the weights before the step, as theirs (one expression).
        if weight_decay and decays:
            self.assign_sub(variable, ops.multiply(variable, lr * ops.convert_to_tensor(weight_decay, dtype=dtype)))
        one_minus = [ops.convert_to_tensor(1.0 - b, dtype=dtype) for b in (beta_1, beta_2)]
        self.assign_add(m, ops.multiply(ops.subtract(c, m), one_minus[0]))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(c), v), one_minus[1]))
        if self.amsgrad:
            v_max = self._max_velocities[index]
            self.assign(v_max, ops.maximum(v_max, v))
            v = v_max
        denominator = ops.add(ops.multiply(ops.sqrt(v), inv_sqrt_bc2), ops.convert_to_tensor(self.epsilon, dtype=dtype))
        self.assign_sub(variable, ops.divide(ops.multiply(m, step_size), denominator))
        if self._takes_mars_step(variable):
            # g_prev = g, written last and made to depend on the new m (`+ 0 * m`
            # changes no value while m is finite): XLA then overwrites g_prev in place
            # instead of copying the old one for c.
            self.assign(g_prev, ops.add(gradient, ops.multiply(m, ops.convert_to_tensor(0.0, dtype=dtype))))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "gamma": self.gamma,
                "epsilon": self.epsilon,
                "amsgrad": self.amsgrad,
                "optimize_1d": self.optimize_1d,
                "learning_rate_1d": self.learning_rate_1d,
                "learning_rate_1d_factor": self.learning_rate_1d_factor,
                "beta_1_1d": self.beta_1_1d,
                "beta_2_1d": self.beta_2_1d,
                "weight_decay_1d": self.weight_decay_1d,
            }
        )
        return config
