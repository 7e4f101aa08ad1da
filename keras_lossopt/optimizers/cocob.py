"""COCOB-Backprop: learning-rate-free training by coin betting (Orabona & Tommasi, 2017)."""

import keras
from keras import ops

from keras_lossopt import _checks
from keras_lossopt.optimizers._sparse import dense_gradient
from keras_lossopt.registry import register

__all__ = ["COCOB"]


@register("optimizer", name="cocob")
class COCOB(keras.optimizers.Optimizer):
    """COCOB-Backprop: a parameter-free optimizer with no learning rate to tune.

    Each coordinate is treated as a gambler betting on the sign of the negative
    gradient; the bet grows with the "wealth" won so far, so the effective step
    size adapts on its own. Useful as a tuning-free baseline. `alpha` bounds
    how fast the bets can grow at the start (the paper uses 100). It does not
    take a learning rate: a `learning_rate` passed in is ignored by the update
    (kept only because Keras's base class requires one), and learning-rate
    schedules have no effect. Keras's decoupled `weight_decay` would multiply
    by that unused learning rate; add an L2 regularizer to layers instead.

    Update rule for each element (state: `L` = max |g| so far, starts at 1e-8;
    `G` = sum of g; `S` = sum of |g|; `R` = reward; `w~` = the offset of `x`
    from its initial value):

        L  <- max(L, |g|)
        G  <- G + g
        S  <- S + |g|
        R  <- max(R - g * w~, 0)
        w_new = -G / (L * max(S + L, alpha * L)) * (R + L)
        x  <- x - w~ + w_new
        w~ <- w_new

    Args:
        alpha: > 0, bound on the initial growth of the bets. Defaults to
            `100.0`.
        clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor,
        gradient_accumulation_steps: Keras's base optimizer keywords.
        learning_rate: ignored by the update rule; float >= 0, a
            `LearningRateSchedule`, or a callable. Defaults to `1.0`.
        name: Defaults to `"cocob"`.

    Example:

    >>> import keras, keras_lossopt
    >>> w = keras.Variable([1.0, 2.0])
    >>> opt = keras_lossopt.optimizers.COCOB()
    >>> for _ in range(20):  # minimise |w - 3|^2
    ...     _ = opt.apply_gradients([(keras.ops.convert_to_tensor(2.0 * (w.numpy() - 3.0)), w)])
    >>> [round(float(v), 3) for v in w.numpy()]
    [1.773, 2.567]

    References:
        - Orabona & Tommasi, 2017, "Training Deep Networks without Learning
          Rates Through Coin Betting", NeurIPS 2017,
          https://arxiv.org/abs/1705.07795 (Algorithm 2, COCOB-Backprop).
        - Authors' code: https://github.com/bremen79/cocob
          (cocob_optimizer.py) and TensorFlow Addons' `tfa.optimizers.COCOB`,
          both followed here: L starts at 1e-8 and the update uses the new L.
    """

    def __init__(
        self,
        alpha=100.0,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="cocob",
        learning_rate=1.0,
        **kwargs,
    ):
        _checks.check_positive("alpha", alpha)
        _checks.check_learning_rate(learning_rate)
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
        self.alpha = alpha

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._lipschitz = self.add_optimizer_variables(
            var_list, "max_abs_grad", initializer=keras.initializers.Constant(1e-8)
        )
        self._grad_sums, self._grad_norm_sums, self._rewards, self._offsets = (
            self.add_optimizer_variables(
                var_list, ["grad_sum", "abs_grad_sum", "reward", "offset"]
            )
        )

    def update_step(self, gradient, variable, learning_rate):
        del learning_rate  # COCOB has none.
        dtype = variable.dtype
        i = self._get_variable_index(variable)
        lip, grad_sum = self._lipschitz[i], self._grad_sums[i]
        norm_sum, reward, offset = self._grad_norm_sums[i], self._rewards[i], self._offsets[i]
        # Sparse (IndexedSlices) gradients are densified: every element moves anyway,
        # and element-wise ops on duplicated indices would be wrong.
        gradient = ops.cast(dense_gradient(gradient), dtype)
        abs_grad = ops.abs(gradient)
        new_lip = ops.maximum(lip, abs_grad)
        new_grad_sum = grad_sum + gradient
        new_norm_sum = norm_sum + abs_grad
        # where(y > 0, y, 0), not maximum(y, 0): XLA duplicates a maximum with a
        # constant into the offset's loop, which then needs the old reward and
        # offset and makes it copy both (28 tensors moved per step instead of 24;
        # benchmarks/README.md).
        new_reward = reward - gradient * offset
        new_reward = ops.where(new_reward > 0, new_reward, 0.0)
        new_offset = (
            -new_grad_sum
            / (new_lip * ops.maximum(new_norm_sum + new_lip, ops.cast(self.alpha, dtype) * new_lip))
            * (new_reward + new_lip)
        )
        self.assign_add(variable, new_offset - offset)
        self.assign(lip, new_lip)
        self.assign(grad_sum, new_grad_sum)
        self.assign(norm_sum, new_norm_sum)
        self.assign(reward, new_reward)
        self.assign(offset, new_offset)

    def get_config(self):
        config = super().get_config()
        config["alpha"] = self.alpha
        return config
