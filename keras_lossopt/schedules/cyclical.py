"""Cyclical learning rates (Smith, 2017): TensorFlow Addons' three schedules for Keras 3."""

import keras
from keras import ops

from keras_lossopt import _checks
from keras_lossopt.registry import register

__all__ = [
    "CyclicalLearningRate",
    "TriangularCyclicalLearningRate",
    "Triangular2CyclicalLearningRate",
    "ExponentialCyclicalLearningRate",
]

_SCHEDULE_DOC = """
    The learning rate goes linearly from `initial_learning_rate` up to
    `maximal_learning_rate` in `step_size` steps and back down in `step_size`
    steps (one cycle = `2 * step_size` steps), the amplitude scaled by
    `scale_fn`:

        cycle = floor(1 + step / (2 * step_size))
        x     = |step / step_size - 2 * cycle + 1|
        lr    = initial_learning_rate
                + (maximal_learning_rate - initial_learning_rate)
                  * max(0, 1 - x) * scale_fn(cycle if scale_mode == "cycle" else step)

    Smith recommends `step_size` of 2 to 10 epochs' worth of steps and finding
    the two bounds with a learning-rate range test. Same arguments and values
    as TensorFlow Addons' class of the same name.
"""


class _CyclicalLearningRate(keras.optimizers.schedules.LearningRateSchedule):
    _default_scale_mode = "cycle"

    def __init__(self, initial_learning_rate, maximal_learning_rate, step_size,
                 scale_mode, name):
        _checks.check_non_negative("initial_learning_rate", initial_learning_rate)
        _checks.check_non_negative("maximal_learning_rate", maximal_learning_rate)
        _checks.check_positive("step_size", step_size)
        _checks.check_choice("scale_mode", scale_mode, ("cycle", "iterations"))
        self.initial_learning_rate = initial_learning_rate
        self.maximal_learning_rate = maximal_learning_rate
        self.step_size = step_size
        self.scale_mode = scale_mode
        self.name = name

    def _scale_fn(self, x):
        raise NotImplementedError

    def __call__(self, step):
        initial = ops.convert_to_tensor(self.initial_learning_rate, "float32")
        maximal = ops.cast(self.maximal_learning_rate, "float32")
        step_size = ops.cast(self.step_size, "float32")
        step = ops.cast(step, "float32")
        cycle = ops.floor(1.0 + step / (2.0 * step_size))
        x = ops.abs(step / step_size - 2.0 * cycle + 1.0)
        mode_step = cycle if self.scale_mode == "cycle" else step
        amplitude = (maximal - initial) * ops.maximum(0.0, 1.0 - x)
        return initial + amplitude * self._scale_fn(mode_step)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "maximal_learning_rate": self.maximal_learning_rate,
            "step_size": self.step_size,
            "scale_mode": self.scale_mode,
            "name": self.name,
        }


@register("schedule", name="triangular_cyclical_learning_rate", aliases=("triangular_clr",))
class TriangularCyclicalLearningRate(_CyclicalLearningRate):
    """Cyclical learning rate, triangular policy: constant amplitude, `scale_fn(x) = 1`.
    {formula}
    Args:
        initial_learning_rate: >= 0, the lower bound. Defaults to `1e-4`.
        maximal_learning_rate: >= 0, the upper bound. Defaults to `1e-2`.
        step_size: > 0, steps in half a cycle. Defaults to `2000`.
        scale_mode: `"cycle"` or `"iterations"`: what `scale_fn` is applied
            to (no effect here). Defaults to `"cycle"`.
        name: Defaults to `"TriangularCyclicalLearningRate"`.

    Example:

    >>> import keras_lossopt
    >>> lr = keras_lossopt.schedules.TriangularCyclicalLearningRate(0.1, 1.0, step_size=2)
    >>> [round(float(lr(s)), 3) for s in range(6)]
    [0.1, 0.55, 1.0, 0.55, 0.1, 0.55]

    References:
        - Smith, 2017, "Cyclical Learning Rates for Training Neural Networks",
          WACV 2017, https://arxiv.org/abs/1506.01186 (section 3.1).
        - TensorFlow Addons, `tfa.optimizers.TriangularCyclicalLearningRate`
          (same arguments; the schedule computes in float32).
    """

    def __init__(self, initial_learning_rate=1e-4, maximal_learning_rate=1e-2,
                 step_size=2000, scale_mode="cycle",
                 name="TriangularCyclicalLearningRate"):
        super().__init__(initial_learning_rate, maximal_learning_rate, step_size,
                         scale_mode, name)

    def _scale_fn(self, x):
        return ops.ones_like(x)


@register("schedule", name="triangular2_cyclical_learning_rate", aliases=("triangular2_clr",))
class Triangular2CyclicalLearningRate(_CyclicalLearningRate):
    """Cyclical learning rate, triangular2 policy: amplitude halved every cycle.

    `scale_fn(x) = 1 / 2^(x - 1)`.
    {formula}
    Args:
        initial_learning_rate: >= 0, the lower bound. Defaults to `1e-4`.
        maximal_learning_rate: >= 0, the upper bound of the first cycle.
            Defaults to `1e-2`.
        step_size: > 0, steps in half a cycle. Defaults to `2000`.
        scale_mode: `"cycle"` (halve per cycle) or `"iterations"` (halve per
            step, as TFA allows). Defaults to `"cycle"`.
        name: Defaults to `"Triangular2CyclicalLearningRate"`.

    Example:

    >>> import keras_lossopt
    >>> lr = keras_lossopt.schedules.Triangular2CyclicalLearningRate(0.0, 1.0, step_size=1)
    >>> [round(float(lr(s)), 3) for s in range(7)]
    [0.0, 1.0, 0.0, 0.5, 0.0, 0.25, 0.0]

    References:
        - Smith, 2017, "Cyclical Learning Rates for Training Neural Networks",
          https://arxiv.org/abs/1506.01186 (section 3.1, "triangular2").
        - TensorFlow Addons, `tfa.optimizers.Triangular2CyclicalLearningRate`.
    """

    def __init__(self, initial_learning_rate=1e-4, maximal_learning_rate=1e-2,
                 step_size=2000, scale_mode="cycle",
                 name="Triangular2CyclicalLearningRate"):
        super().__init__(initial_learning_rate, maximal_learning_rate, step_size,
                         scale_mode, name)

    def _scale_fn(self, x):
        return 1.0 / ops.power(2.0, x - 1.0)


@register("schedule", name="exponential_cyclical_learning_rate", aliases=("exp_range_clr",))
class ExponentialCyclicalLearningRate(_CyclicalLearningRate):
    """Cyclical learning rate, exp_range policy: amplitude scaled by `gamma^step`.

    `scale_fn(x) = gamma^x`, by default on the step count (`scale_mode=
    "iterations"`), as in TFA and Smith's "exp_range".
    {formula}
    Args:
        initial_learning_rate: >= 0, the lower bound. Defaults to `1e-4`.
        maximal_learning_rate: >= 0, the upper bound before scaling.
            Defaults to `1e-2`.
        step_size: > 0, steps in half a cycle. Defaults to `2000`.
        scale_mode: `"iterations"` or `"cycle"`. Defaults to `"iterations"`.
        gamma: in (0, 1], decay of the amplitude. Defaults to `1.0` (TFA's
            default, which equals the triangular policy); Smith uses values
            such as 0.99994.
        name: Defaults to `"ExponentialCyclicalLearningRate"`.

    Example:

    >>> import keras_lossopt
    >>> lr = keras_lossopt.schedules.ExponentialCyclicalLearningRate(
    ...     0.0, 1.0, step_size=1, gamma=0.5)
    >>> [round(float(lr(s)), 4) for s in range(4)]
    [0.0, 0.5, 0.0, 0.125]

    References:
        - Smith, 2017, "Cyclical Learning Rates for Training Neural Networks",
          https://arxiv.org/abs/1506.01186 (section 3.1, "exp_range").
        - TensorFlow Addons, `tfa.optimizers.ExponentialCyclicalLearningRate`.
    """

    def __init__(self, initial_learning_rate=1e-4, maximal_learning_rate=1e-2,
                 step_size=2000, scale_mode="iterations", gamma=1.0,
                 name="ExponentialCyclicalLearningRate"):
        super().__init__(initial_learning_rate, maximal_learning_rate, step_size,
                         scale_mode, name)
        _checks.check_real("gamma", gamma, low=0, high=1, low_inclusive=False)
        self.gamma = gamma

    def _scale_fn(self, x):
        return ops.power(ops.cast(self.gamma, "float32"), x)

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma}


def _triangular_scale(x):
    """`scale_fn(x) = 1`, `CyclicalLearningRate`'s default (the triangular policy)."""
    return ops.ones_like(x)


keras.saving.register_keras_serializable(package="keras_lossopt")(_triangular_scale)


@register("schedule", name="cyclical_learning_rate", aliases=("clr",))
class CyclicalLearningRate(_CyclicalLearningRate):
    """Cyclical learning rate with your own `scale_fn` (TFA's `CyclicalLearningRate`).

    The three named policies above cover Smith's paper; use this one to port a
    `tfa.optimizers.CyclicalLearningRate(..., scale_fn=...)` as it is. To save and
    reload it (`.keras` files, `get_config`), `scale_fn` must be a named function
    registered with `@keras.saving.register_keras_serializable()`; it receives
    the cycle (or the step, with `scale_mode="iterations"`) as a float32 tensor
    and must use `keras.ops`.
    {formula}
    Args:
        initial_learning_rate: >= 0, the lower bound. Defaults to `1e-4`.
        maximal_learning_rate: >= 0, the upper bound. Defaults to `1e-2`.
        step_size: > 0, steps in half a cycle. Defaults to `2000`.
        scale_fn: function of the cycle or step giving the amplitude factor.
            Defaults to the constant 1 (the triangular policy).
        scale_mode: `"cycle"` or `"iterations"`. Defaults to `"cycle"`.
        name: Defaults to `"CyclicalLearningRate"`.

    Example:

    >>> import keras, keras_lossopt
    >>> @keras.saving.register_keras_serializable(package="docs")
    ... def halve_per_cycle(cycle):
    ...     return 0.5 ** (cycle - 1.0)
    >>> lr = keras_lossopt.schedules.CyclicalLearningRate(0.0, 1.0, 1, halve_per_cycle)
    >>> [round(float(lr(s)), 3) for s in range(5)]
    [0.0, 1.0, 0.0, 0.5, 0.0]

    References:
        - Smith, 2017, "Cyclical Learning Rates for Training Neural Networks",
          https://arxiv.org/abs/1506.01186.
        - TensorFlow Addons, `tfa.optimizers.CyclicalLearningRate` (same arguments).
    """

    def __init__(self, initial_learning_rate=1e-4, maximal_learning_rate=1e-2,
                 step_size=2000, scale_fn=_triangular_scale, scale_mode="cycle",
                 name="CyclicalLearningRate"):
        if not callable(scale_fn):
            raise TypeError(f"`scale_fn` must be a function. Received: scale_fn={scale_fn!r}")
        super().__init__(initial_learning_rate, maximal_learning_rate, step_size,
                         scale_mode, name)
        self.scale_fn = scale_fn

    def _scale_fn(self, x):
        return self.scale_fn(x)

    def get_config(self):
        return {**super().get_config(),
                "scale_fn": keras.saving.serialize_keras_object(self.scale_fn)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if not callable(config.get("scale_fn", _triangular_scale)):
            config["scale_fn"] = keras.saving.deserialize_keras_object(config["scale_fn"])
        return cls(**config)


for _cls in (TriangularCyclicalLearningRate, Triangular2CyclicalLearningRate,
             ExponentialCyclicalLearningRate, CyclicalLearningRate):
    _cls.__doc__ = _cls.__doc__.replace("    {formula}", "\n" + _SCHEDULE_DOC.strip("\n") + "\n")
