"""Warmup-Stable-Decay (WSD, "trapezoidal") learning rate (Hu et al., 2024; Hägele et al., 2024)."""

import math

import keras
from keras import ops

from keras_lossopt import _checks
from keras_lossopt.registry import register

__all__ = ["WarmupStableDecay"]

_SHAPES = ("linear", "cosine", "1-sqrt")


# The names promise a warm-up; the class's own default (warmup_steps=0) has none.
@register("schedule", name="warmup_stable_decay", aliases=("wsd",),
          config={"warmup_steps": 100})
class WarmupStableDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Warmup-Stable-Decay: linear warm-up, a long constant phase, then a short cool-down.

    Unlike cosine decay, the rate stays at its peak for most of training, so a
    run can be extended, or checkpoints branched into short cool-downs, without
    knowing the final length in advance; a cool-down of 10-20% of the steps
    matches cosine (Hägele et al. 2024, who found the "1-sqrt" shape best).

    With `d0 = total_steps - decay_steps` (start of the cool-down), `peak =
    maximal_learning_rate`, `final = final_learning_rate`:

        lr = initial_learning_rate + (peak - initial_learning_rate) * step / warmup_steps
                                                                 step < warmup_steps
        lr = peak                                                warmup_steps <= step < d0
        lr = final + (peak - final) * f(p),  p = (step - d0) / decay_steps
                                                                 d0 <= step < total_steps
        lr = final                                               step >= total_steps

    with `f(p) = 1 - p` ("linear"), `(1 + cos(pi * p)) / 2` ("cosine") or
    `1 - sqrt(p)` ("1-sqrt").

    Args:
        maximal_learning_rate: > 0, the plateau. Defaults to `1e-3`.
        total_steps: int >= 1, end of the cool-down. Defaults to `1000`.
        warmup_steps: int >= 0. Defaults to `0`; the string names
            (`"warmup_stable_decay"`, `"wsd"`) give `100`, the warm-up they promise.
        decay_steps: int >= 1, length of the cool-down;
            `warmup_steps + decay_steps <= total_steps`. Defaults to `200`.
        initial_learning_rate: >= 0, the rate at step 0 of the warm-up.
            Defaults to `0.0`.
        final_learning_rate: >= 0, the rate at the end. Defaults to `0.0`.
        decay_shape: `"linear"`, `"cosine"` or `"1-sqrt"`. Defaults to
            `"linear"`.
        name: Defaults to `"WarmupStableDecay"`.

    Example:

    >>> import keras_lossopt
    >>> lr = keras_lossopt.schedules.WarmupStableDecay(
    ...     1.0, total_steps=10, warmup_steps=2, decay_steps=4)
    >>> [round(float(lr(s)), 4) for s in range(11)]
    [0.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0]

    References:
        - Hu et al., 2024, "MiniCPM: Unveiling the Potential of Small Language
          Models with Scalable Training Strategies",
          https://arxiv.org/abs/2404.06395 (section 4, the WSD scheduler).
        - Hägele et al., 2024, "Scaling Laws and Compute-Optimal Training
          Beyond Fixed Training Durations", https://arxiv.org/abs/2405.18392
          (section 3, linear and 1-sqrt cool-downs).
        - Zhai et al., 2022, "Scaling Vision Transformers" (the "rsqrt"
          schedule with a linear cool-down). MiniCPM's own cool-down is
          exponential; it is not offered here.
    """

    def __init__(self, maximal_learning_rate=1e-3, total_steps=1000, warmup_steps=0,
                 decay_steps=200, initial_learning_rate=0.0, final_learning_rate=0.0,
                 decay_shape="linear", name="WarmupStableDecay"):
        _checks.check_positive("maximal_learning_rate", maximal_learning_rate)
        _checks.check_positive_int("total_steps", total_steps)
        _checks.check_positive_int("warmup_steps", warmup_steps, allow_zero=True)
        _checks.check_positive_int("decay_steps", decay_steps)
        if warmup_steps + decay_steps > total_steps:
            raise ValueError(
                "`warmup_steps + decay_steps` must be <= `total_steps`. Received: "
                f"warmup_steps={warmup_steps!r}, decay_steps={decay_steps!r}, "
                f"total_steps={total_steps!r}"
            )
        _checks.check_non_negative("initial_learning_rate", initial_learning_rate)
        _checks.check_non_negative("final_learning_rate", final_learning_rate)
        _checks.check_choice("decay_shape", decay_shape, _SHAPES)
        self.maximal_learning_rate = maximal_learning_rate
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.decay_steps = int(decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.final_learning_rate = final_learning_rate
        self.decay_shape = decay_shape
        self.name = name

    @classmethod
    def from_tfa_warmup(cls, learning_rate, total_steps, warmup_proportion=0.1, min_lr=0.0):
        """The schedule of TFA's `RectifiedAdam(lr, total_steps, warmup_proportion, min_lr)`.

        TFA computed, at step `s = iterations + 1` with `W = total_steps *
        warmup_proportion` and `D = total_steps - W`: `lr * s / W` for `s <= W`,
        then `lr + (min_lr - lr) * min(s - W, D) / D`. Keras evaluates a schedule
        at `iterations`, so this is a linear warm-up from `lr / W` over `W - 1`
        steps, no plateau and a linear decay over `D` steps to `min_lr`.

        >>> import keras_lossopt
        >>> lr = keras_lossopt.schedules.WarmupStableDecay.from_tfa_warmup(
        ...     1.0, total_steps=10, warmup_proportion=0.2, min_lr=0.2)
        >>> [round(float(lr(i)), 2) for i in range(10)]  # TFA's steps 1..10
        [0.5, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]
        """
        _checks.check_positive_int("total_steps", total_steps)
        warmup = total_steps * warmup_proportion
        if not (1 <= warmup < total_steps) or warmup != int(warmup):
            raise ValueError(
                "`total_steps * warmup_proportion` must be a whole number of steps in "
                f"[1, total_steps). Received: total_steps={total_steps!r}, "
                f"warmup_proportion={warmup_proportion!r}"
            )
        warmup = int(warmup)
        return cls(maximal_learning_rate=learning_rate, total_steps=total_steps - 1,
                   warmup_steps=warmup - 1, decay_steps=total_steps - warmup,
                   initial_learning_rate=learning_rate / warmup, final_learning_rate=min_lr,
                   decay_shape="linear")

    def __call__(self, step):
        step = ops.cast(step, "float32")
        peak = float(self.maximal_learning_rate)
        final = float(self.final_learning_rate)
        decay_start = float(self.total_steps - self.decay_steps)
        p = ops.clip((step - decay_start) / float(self.decay_steps), 0.0, 1.0)
        if self.decay_shape == "linear":
            factor = 1.0 - p
        elif self.decay_shape == "cosine":
            factor = (1.0 + ops.cos(math.pi * p)) / 2.0
        else:
            factor = 1.0 - ops.sqrt(p)
        lr = final + (peak - final) * factor  # the plateau is p = 0
        if self.warmup_steps > 0:
            start = float(self.initial_learning_rate)
            warm = start + (peak - start) * step / float(self.warmup_steps)
            lr = ops.where(step < float(self.warmup_steps), warm, lr)
        return lr

    def get_config(self):
        return {
            "maximal_learning_rate": self.maximal_learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "decay_steps": self.decay_steps,
            "initial_learning_rate": self.initial_learning_rate,
            "final_learning_rate": self.final_learning_rate,
            "decay_shape": self.decay_shape,
            "name": self.name,
        }
