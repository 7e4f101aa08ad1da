"""Stochastic Weight Averaging (SWA): an equal-weight running average of the iterates."""

from keras import ops

from keras_lossopt import _checks, _keras_compat
from keras_lossopt.optimizers._wrapper import OptimizerWrapper, run_if, traced_on_jax
from keras_lossopt.registry import register

__all__ = ["SWA"]


@register("optimizer", name="swa", aliases=("stochastic_weight_averaging",))
class SWA(OptimizerWrapper):
    """Stochastic Weight Averaging: trains with any optimizer, keeps an average of snapshots.

    The inner optimizer trains as usual; every `average_period` steps from step
    `start_averaging` on, a snapshot of the weights enters an equal-weight
    running average. The averaged weights lie in flatter regions of the loss
    and usually generalise better than the last iterate. Typical use: train
    normally for most of the budget, then continue with a constant or cyclical
    learning rate and `start_averaging` at that point, `average_period` equal to
    the cycle length (or about one epoch of steps). The model keeps training on
    its own weights; the average is used for evaluation and for the final model.

    Using the averaged weights: `swa.swap_average_weights(model.trainable_variables)`
    exchanges the model's weights and the averages in place (call it again to
    swap back and go on training), e.g. around `model.evaluate` or
    `model.save`; `swa.assign_average_vars(model.trainable_variables)` copies
    the averages into the model for good (TensorFlow Addons' method), and
    `swa.average_weights` lists the averages. This is Keras's EMA design
    (`use_ema`, averages kept as optimizer variables and so saved with the
    optimizer), but nothing is overwritten automatically. Batch normalisation
    statistics are not averaged: after swapping in the averages, recompute
    them with a pass over the training data in training mode (for example
    `model.fit` one epoch with `learning_rate=0`).

    Update rule, with `t` the number of steps taken before this one (0 at the
    first step) and `w_swa` the averages (zeros until the first snapshot):

        w = inner_optimizer_step(w, g)
        if t >= start_averaging and (t - start_averaging) % average_period == 0:
            n = (t - start_averaging) // average_period   # snapshots so far
            w_swa = (w_swa * n + w) / (n + 1)

    Args:
        optimizer: the inner optimizer: a `keras.optimizers.Optimizer` instance,
            a registered name, a config dict or an optimizer class.
            Defaults to `"adam"`.
        start_averaging: the first snapshot is taken after the step with
            `t == start_averaging`, i.e. after `start_averaging + 1` steps;
            an integer >= 0. Defaults to `0`.
        average_period: steps between snapshots, an integer >= 1.
            Defaults to `10`.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
        ema_momentum, ema_overwrite_frequency, loss_scale_factor,
        gradient_accumulation_steps: Keras's base optimizer keywords, applied by
            the wrapper before the inner step. Set gradient accumulation here,
            not on the inner optimizer: the wrapper counts its own steps.
        name: Defaults to `"swa"`.

    Example:

    >>> import keras, keras_lossopt
    >>> w = keras.Variable([1.0, 2.0])
    >>> opt = keras_lossopt.optimizers.SWA(
    ...     keras.optimizers.SGD(learning_rate=0.1), average_period=2)
    >>> g = keras.ops.convert_to_tensor([1.0, 1.0])
    >>> for _ in range(3):  # snapshots after steps 1 and 3: [0.9, 1.9], [0.7, 1.7]
    ...     _ = opt.apply_gradients([(g, w)])
    >>> [round(float(v), 4) for v in opt.average_weights[0].numpy()]
    [0.8, 1.8]
    >>> opt.swap_average_weights([w])
    >>> [round(float(v), 4) for v in w.numpy()]
    [0.8, 1.8]

    References:
        - Izmailov, Podoprikhin, Garipov, Vetrov & Wilson, 2018, "Averaging
          Weights Leads to Wider Optima and Better Generalization", UAI 2018,
          https://arxiv.org/abs/1803.05407 (Algorithm 1).
        - TensorFlow Addons `tfa.optimizers.SWA`, whose arguments and step
          indexing this follows: the paper averages after every `c`-th step of
          a learning-rate cycle and leaves the schedule to the user; here, as in
          TFA, after the steps `t = start_averaging + k * average_period`
          (0-based), with any inner optimizer and any learning rate.
    """

    # TensorFlow Addons arguments that do not exist here (the constructor names the way).
    tfa_removed_arguments = {
        'sequential_update': "the average is always taken after the inner step (TFA's default `True`); drop the argument",
    }


    conformance_opt_outs = {
    }

    def __init__(
        self,
        optimizer="adam",
        start_averaging=0,
        average_period=10,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="swa",
        **kwargs,
    ):
        start_averaging = _checks.check_positive_int(
            "start_averaging", start_averaging, allow_zero=True)
        average_period = _checks.check_positive_int("average_period", average_period)
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
        self.start_averaging = start_averaging
        self.average_period = average_period

    def _build_wrapper(self, var_list):
        self._average_weights = self.add_optimizer_variables(var_list, "swa_average")

    @property
    def average_weights(self):
        """The averaged weights, one per variable the optimizer was built on."""
        return list(self._average_weights) if self.built else []

    def _before_inner_apply(self, trainable_variables):
        # The step count before this step (TFA's `self.iterations` in average_op).
        return ops.cast(self.iterations, "int32")

    def _after_inner_apply(self, trainable_variables, t):
        since_start = t - self.start_averaging
        snapshot = ops.logical_and(
            ops.greater_equal(since_start, 0),
            ops.equal(ops.mod(since_start, self.average_period), 0),
        )
        n = ops.floor_divide(ops.maximum(since_start, 0), self.average_period)
        averages = [self._average_weights[self._get_variable_index(v)]
                    for v in trainable_variables]
        if traced_on_jax(snapshot):
            # No assignment inside a branch here, so the branch returns the
            # values; a conditional (not `where`) so that steps without a
            # snapshot do not touch the averages.
            def averaged():
                out = []
                for var, average in zip(trainable_variables, averages):
                    n_cast = ops.cast(n, average.dtype)
                    out.append((average.value * n_cast + var.value) / (n_cast + 1))
                return out

            new_averages = ops.cond(
                snapshot, averaged, lambda: [average.value for average in averages]
            )
            for average, new in zip(averages, new_averages):
                self.assign(average, new)
            return

        def take_snapshot():
            for var, average in zip(trainable_variables, averages):
                n_cast = ops.cast(n, average.dtype)
                self.assign(average, (average * n_cast + var) / (n_cast + 1))

        run_if(snapshot, take_snapshot)

    def _averages_for(self, var_list):
        if not self.built:
            raise ValueError(
                "SWA has no averaged weights before it is built (before the first "
                "training step or `optimizer.build(variables)`)."
            )
        if var_list is None:
            var_list = _keras_compat.built_variables(self)
        # Variables the optimizer does not train (e.g. batch-norm statistics in
        # `model.variables`) have no average and are left alone.
        known = [v for v in var_list if _keras_compat.is_built_variable(self, v)]
        return known, [self._average_weights[self._get_variable_index(v)] for v in known]

    def _has_snapshot(self):
        # At least one snapshot exists once start_averaging + 1 steps were taken.
        return ops.greater(self.iterations, self.start_averaging)

    def swap_average_weights(self, var_list=None):
        """Exchanges the variables' values with their averages, in place.

        Call it before evaluating or saving with the averaged weights and call it
        again to restore the training weights. Before the first snapshot the
        averages are the current weights, so the swap changes nothing.

        Args:
            var_list: the variables to swap (e.g. `model.trainable_variables`;
                variables the optimizer does not train are skipped); defaults to
                the variables the optimizer was built on.
        """
        var_list, averages = self._averages_for(var_list)
        ready = self._has_snapshot()
        for var, average in zip(var_list, averages):
            current = ops.copy(var.value)
            var.assign(ops.where(ready, average.value, current))
            average.assign(ops.where(ready, current, average.value))

    def assign_average_vars(self, var_list=None):
        """Copies the averages into the variables (one way; TFA's method).

        Before the first snapshot the variables are left as they are.

        Args:
            var_list: the variables to overwrite (e.g. `model.variables`;
                variables the optimizer does not train are skipped); defaults to
                the variables the optimizer was built on.
        """
        var_list, averages = self._averages_for(var_list)
        ready = self._has_snapshot()
        for var, average in zip(var_list, averages):
            var.assign(ops.where(ready, average.value, var.value))

    def get_config(self):
        config = super().get_config()
        config.update(start_averaging=self.start_averaging,
                      average_period=self.average_period)
        return config
