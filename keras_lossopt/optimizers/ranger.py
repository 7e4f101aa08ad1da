"""Ranger: Lookahead around RAdam."""

import keras

from keras_lossopt import _checks
from keras_lossopt.optimizers.lookahead import Lookahead
from keras_lossopt.optimizers.radam import RAdam
from keras_lossopt.registry import register

__all__ = ["Ranger"]

_RADAM_ARGUMENTS = ("learning_rate", "beta_1", "beta_2", "epsilon", "sma_threshold")


@register("optimizer", name="ranger")
class Ranger(Lookahead):
    """Ranger: Lookahead around RAdam, with RAdam's and Lookahead's arguments flat.

    RAdam removes the need for a learning-rate warm-up and Lookahead damps the
    oscillations of the fast weights; together they make a robust default
    that needs little tuning of the learning rate (1e-3 is a good start, as for
    Adam). It is exactly `Lookahead(RAdam(learning_rate, beta_1, beta_2,
    epsilon, sma_threshold), sync_period, slow_step_size)` with a flat
    argument list, so that `compile(optimizer="ranger")` and saved configs need
    no nested optimizer.

    Update rule: RAdam's step on the fast weights `w` (see `RAdam`), then, with
    slow weights `phi` starting at the initial `w` and `t` the step count:

        w = radam_step(w, g; learning_rate, beta_1, beta_2, epsilon, sma_threshold)
        if t % sync_period == 0:
            phi = phi + slow_step_size * (w - phi)
            w = phi

    Args:
        learning_rate: RAdam's learning rate: float >= 0, a
            `LearningRateSchedule`, or a callable. Defaults to `0.001`.
        beta_1: decay rate of the first moment, in [0, 1). Defaults to `0.9`.
        beta_2: decay rate of the second moment, in [0, 1). Defaults to `0.999`.
        epsilon: added to `sqrt(v)`, >= 0. Defaults to `1e-7`.
        sma_threshold: RAdam's threshold on `rho_t` for the adaptive step, > 4.
            Defaults to `5.0`.
        sync_period: fast steps between synchronisations, an integer >= 1.
            Defaults to `6`.
        slow_step_size: the slow weights' step towards the fast weights, in
            [0, 1]. Defaults to `0.5`.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
        ema_momentum, ema_overwrite_frequency, loss_scale_factor,
        gradient_accumulation_steps: Keras's base optimizer keywords
            (`weight_decay` is decoupled, `w -= w * weight_decay * learning_rate`
            before the RAdam step, as in AdamW).
        name: Defaults to `"ranger"`.

    Example:

    >>> import keras, keras_lossopt
    >>> w = keras.Variable([1.0, 2.0])
    >>> opt = keras_lossopt.optimizers.Ranger(learning_rate=0.1, sync_period=2)
    >>> g = keras.ops.convert_to_tensor([1.0, -1.0])
    >>> _ = opt.apply_gradients([(g, w)])  # RAdam step 1: momentum step of 0.1
    >>> _ = opt.apply_gradients([(g, w)])  # fast [0.8, 2.2], then back halfway
    >>> [round(float(v), 4) for v in w.numpy()]
    [0.9, 2.1]

    References:
        - Wright, 2019, "Ranger - a synergistic optimizer", the combination and
          its name, https://github.com/lessw2020/Ranger-Deep-Learning-Optimizer.
        - Zhang, Lucas, Hinton & Ba, 2019, "Lookahead Optimizer: k steps
          forward, 1 step back", https://arxiv.org/abs/1907.08610.
        - Liu et al., 2020, "On the Variance of the Adaptive Learning Rate and
          Beyond", https://arxiv.org/abs/1908.03265.

    Deviates from Wright's reference implementation, which fuses the two into
    one PyTorch optimizer with its own defaults (`learning_rate=1e-3`,
    `sync_period=6`, `slow_step_size=0.5`, `epsilon=1e-5`, `sma_threshold=5`)
    and later versions adding gradient centralisation: here Ranger is the plain
    composition of this package's RAdam (the authors' RAdam code) and
    Lookahead (TensorFlow Addons' semantics), with RAdam's `epsilon=1e-7`.
    """

    # For the conformance checks (keras_lossopt.testing): each synchronisation keeps half of the fast
    # progress, so the check's budget needs a larger learning rate than 0.1.
    conformance_convergence = {"kwargs": {"learning_rate": 0.2}}

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        sma_threshold=5.0,
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
        name="ranger",
        **kwargs,
    ):
        if "optimizer" in kwargs:
            raise ValueError(
                "Ranger always wraps RAdam; use Lookahead to wrap another optimizer. "
                f"Received: optimizer={kwargs['optimizer']!r}"
            )
        _checks.check_learning_rate(learning_rate)
        inner = RAdam(
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            sma_threshold=sma_threshold,
        )
        super().__init__(
            inner,
            sync_period=sync_period,
            slow_step_size=slow_step_size,
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

    @property
    def beta_1(self):
        return self.inner_optimizer.beta_1

    @property
    def beta_2(self):
        return self.inner_optimizer.beta_2

    @property
    def epsilon(self):
        return self.inner_optimizer.epsilon

    @property
    def sma_threshold(self):
        return self.inner_optimizer.sma_threshold

    def get_config(self):
        config = super().get_config()
        inner_config = config.pop("optimizer")["config"]
        for key in _RADAM_ARGUMENTS:
            config[key] = inner_config[key]
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = keras.saving.deserialize_keras_object(
                config["learning_rate"], custom_objects=custom_objects
            )
        return cls(**config)
