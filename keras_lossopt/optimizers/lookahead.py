"""Lookahead: k fast steps forward, one step back towards slow weights."""

from keras import ops

from keras_lossopt import _checks
from keras_lossopt.optimizers import _torch_fast
from keras_lossopt.optimizers._wrapper import OptimizerWrapper, run_if, traced_on_jax
from keras_lossopt.registry import register

__all__ = ["Lookahead"]


@register("optimizer", name="lookahead")
class Lookahead(OptimizerWrapper):
    """Lookahead: wraps any optimizer and pulls it back towards slow weights every k steps.

    The inner ("fast") optimizer takes `sync_period` ordinary steps; then the
    slow weights move a fraction `slow_step_size` of the way towards the fast
    weights, and the fast weights restart from there. This damps the
    oscillations of the inner optimizer and makes it less sensitive to its
    learning rate and other hyperparameters, at no extra gradient cost and one
    extra copy of the weights. Wrap the optimizer you would use anyway
    (Adam, SGD with momentum, RAdam: `"ranger"` is Lookahead around RAdam);
    the paper's defaults `sync_period=6`, `slow_step_size=0.5` rarely need
    tuning (`sync_period` 5-10, `slow_step_size` 0.5-0.8).

    Update rule, with slow weights `phi` (initialised to the variable `w` at the
    first step), `t` the inner optimizer's step count after its step:

        w = inner_optimizer_step(w, g)
        if t % sync_period == 0:
            phi = phi + slow_step_size * (w - phi)
            w = phi

    The inner optimizer's learning rate is the wrapper's: `lookahead.learning_rate`
    reads and sets it (so `LearningRateScheduler` and `ReduceLROnPlateau` work).
    The inner optimizer runs its whole pipeline (its own clipping, weight decay,
    EMA, gradient accumulation); the wrapper's own base keywords, all off by
    default, apply before it. The inner optimizer's state and the slow weights
    are in `lookahead.variables`, so `model.save` / `keras.saving.load_model`
    resume training exactly.

    Args:
        optimizer: the inner optimizer: a `keras.optimizers.Optimizer` instance,
            a registered name (`"adam"`, `"radam"`, ...), a config dict or an
            optimizer class. Defaults to `"adam"` (Keras's Adam defaults).
        sync_period: number of fast steps between synchronisations, an
            integer >= 1. Defaults to `6`.
        slow_step_size: the slow weights' step towards the fast weights, in
            [0, 1]. 1 reduces Lookahead to the inner optimizer; 0 resets the fast
            weights to their starting point every `sync_period` steps.
            Defaults to `0.5`.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
        ema_momentum, ema_overwrite_frequency, loss_scale_factor,
        gradient_accumulation_steps: Keras's base optimizer keywords, applied by
            the wrapper before the inner optimizer's step (usually you set them
            on the inner optimizer instead).
        name: Defaults to `"lookahead"`.

    Example:

    >>> import keras, keras_lossopt
    >>> w = keras.Variable([1.0, 2.0])
    >>> opt = keras_lossopt.optimizers.Lookahead(
    ...     keras.optimizers.SGD(learning_rate=0.1), sync_period=2)
    >>> g = keras.ops.convert_to_tensor([1.0, 1.0])
    >>> _ = opt.apply_gradients([(g, w)])  # fast step: w = [0.9, 1.9]
    >>> _ = opt.apply_gradients([(g, w)])  # fast [0.8, 1.8], then back halfway
    >>> [round(float(v), 4) for v in w.numpy()]
    [0.9, 1.9]

    References:
        - Zhang, Lucas, Hinton & Ba, 2019, "Lookahead Optimizer: k steps forward,
          1 step back", NeurIPS. https://arxiv.org/abs/1907.08610
          (Algorithm 1). Follows TensorFlow Addons' `tfa.optimizers.Lookahead`
          in counting steps globally (a synchronisation every `sync_period`
          steps of the inner optimizer) and in keeping the inner optimizer's
          state across synchronisations (the paper's default, "maintain").
    """

    conformance_opt_outs = {
    }

    def __init__(
        self,
        optimizer="adam",
        sync_period=6,
        slow_step_size=0.5,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="lookahead",
        **kwargs,
    ):
        sync_period = _checks.check_positive_int("sync_period", sync_period)
        slow_step_size = float(_checks.check_probability("slow_step_size", slow_step_size))
        super().__init__(
            optimizer,
            name,
            kwargs,
            dict(
                weight_decay=weight_decay,
                clipnorm=clipnorm,
                clipvalue=clipvalue,
                global_clipnorm=global_clipnorm,
                use_ema=use_ema,
                ema_momentum=ema_momentum,
                ema_overwrite_frequency=ema_overwrite_frequency,
                loss_scale_factor=loss_scale_factor,
                gradient_accumulation_steps=gradient_accumulation_steps,
            ),
        )
        self.sync_period = sync_period
        self.slow_step_size = slow_step_size

    def _build_wrapper(self, var_list):
        self._slow_weights = self.add_optimizer_variables(var_list, "slow")

    def _before_inner_apply(self, trainable_variables):
        # First step of this wrapper: the slow weights start at the weights the
        # inner optimizer starts from (not at build time, so that weights loaded
        # after `build` are picked up).
        first = ops.equal(self.iterations, 0)
        slows = [self._slow_weights[self._get_variable_index(v)] for v in trainable_variables]
        if traced_on_jax(first):
            # No assignment inside a branch here, so the branch returns the
            # values. A conditional (not `where`) so that the steps after the
            # first read and write nothing here.
            starts = ops.cond(
                first,
                lambda: [ops.copy(v.value) for v in trainable_variables],
                lambda: [slow.value for slow in slows],
            )
            for slow, start in zip(slows, starts):
                self.assign(slow, start)
            return slows

        def initialise():
            for var, slow in zip(trainable_variables, slows):
                self.assign(slow, var)

        run_if(first, initialise)
        return slows

    def _after_inner_apply(self, trainable_variables, slows):
        sync = ops.equal(ops.mod(self.inner_optimizer.iterations, self.sync_period), 0)
        alpha = self.slow_step_size
        if traced_on_jax(sync):
            # The new slow weights come out of a conditional, so the k - 1 steps
            # without a sync only select the variable (13 tensors moved per step
            # around Adam, against 17 with `where`s; benchmarks/README.md).
            new_slows = ops.cond(
                sync,
                lambda: [
                    slow.value + alpha * (var.value - slow.value)
                    for var, slow in zip(trainable_variables, slows)
                ],
                lambda: [slow.value for slow in slows],
            )
            for var, slow, new_slow in zip(trainable_variables, slows, new_slows):
                self.assign(slow, new_slow)
                self.assign(var, ops.where(sync, new_slow, var.value))
            return

        def synchronise():
            if _torch_fast.lookahead_synchronise(trainable_variables, slows, alpha):
                return  # on torch, in place (optimizers/_torch_fast.py)
            for var, slow in zip(trainable_variables, slows):
                new_slow = slow + ops.cast(alpha, var.dtype) * (var - slow)
                self.assign(slow, new_slow)
                self.assign(var, new_slow)

        run_if(sync, synchronise)

    def get_config(self):
        config = super().get_config()
        config.update(sync_period=self.sync_period, slow_step_size=self.slow_step_size)
        return config
