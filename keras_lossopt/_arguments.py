"""Constructor arguments a migrating user types that Keras would answer badly (private).

`registry.register` applies `guard_constructor` to every optimizer it registers
(no list of classes to keep), so that:

- a TensorFlow Addons argument that no longer exists (`lr`, `beta1`,
  `total_steps`, ...) raises a ValueError naming the replacement, instead of
  Keras's generic "Argument(s) not recognized" (issue #20.9). The renames every
  optimizer shares are `TFA_RENAMES`; a class adds its own removed arguments as
  `tfa_removed_arguments = {"name": "what to pass instead"}`;
- a learning-rate schedule or a callable given to any hyperparameter other than
  `learning_rate` is rejected at construction, naming the argument (issue
  #19.4): Keras 3 evaluates only `learning_rate` per step, and a schedule in,
  say, `weight_decay` would crash at the first step and break config round
  trips. A class that does evaluate a callable itself lists it in
  `callable_arguments` (ConditionalGradient's `lambda_`, as TFA).
"""

import functools
import inspect

import keras

__all__ = []

# TFA's names for Keras's arguments, shared by every optimizer.
TFA_RENAMES = {"lr": "learning_rate", "beta1": "beta_1", "beta2": "beta_2"}

# Arguments that take something callable by design.
_CALLABLE_BY_DESIGN = frozenset({"learning_rate", "optimizer"})

# What replaces RAdam's/AdaBelief's `total_steps`, `warmup_proportion` and `min_lr`.
TFA_WARMUP_ADVICE = (
    "pass `learning_rate=keras_lossopt.schedules.WarmupStableDecay.from_tfa_warmup("
    "learning_rate, total_steps, warmup_proportion, min_lr)` (TFA's linear warm-up and decay)"
)

WEIGHT_DECAY_SCHEDULE_ADVICE = (
    "Keras's decoupled decay is `w -= learning_rate * weight_decay * w`, so a "
    "learning-rate schedule already scales the decay with it; pass a float"
)


def removed_argument_error(cls, name):
    """The ValueError for a TFA argument `name` that `cls` does not take, or None."""
    if name in TFA_RENAMES:
        new = TFA_RENAMES[name]
        return ValueError(
            f"{cls.__name__} has no `{name}` (TensorFlow Addons' name): pass `{new}=` "
            f"instead, e.g. {cls.__name__}({new}=...)."
        )
    advice = getattr(cls, "tfa_removed_arguments", {}).get(name)
    if advice is not None:
        return ValueError(f"{cls.__name__} has no `{name}` (a TensorFlow Addons argument): "
                          f"{advice}.")
    return None


def _is_schedule_or_callable(value):
    if isinstance(value, keras.optimizers.schedules.LearningRateSchedule):
        return True
    return callable(value) and not inspect.isclass(value)


def check_arguments(cls, bound):
    """Raises for TFA-only names and for schedules/callables outside `learning_rate`."""
    for name in bound:
        error = removed_argument_error(cls, name)
        if error is not None:
            raise error
    allowed = _CALLABLE_BY_DESIGN | frozenset(getattr(cls, "callable_arguments", ()))
    for name, value in bound.items():
        if name in allowed or not _is_schedule_or_callable(value):
            continue
        advice = (WEIGHT_DECAY_SCHEDULE_ADVICE if name == "weight_decay"
                  else "pass a number (only `learning_rate` takes a schedule or a callable)")
        raise ValueError(
            f"{cls.__name__}: `{name}` must be a number; Keras 3 optimizers evaluate only "
            f"`learning_rate` at each step ({advice}). Received: {name}={value!r}"
        )


def guard_constructor(cls):
    """Wraps `cls.__init__` (its own, once) with `check_arguments`."""
    init = vars(cls).get("__init__")
    if init is None or getattr(init, "_keras_lossopt_guarded", False):
        return cls
    signature = inspect.signature(init)
    var_keyword = next((p.name for p in signature.parameters.values()
                        if p.kind is inspect.Parameter.VAR_KEYWORD), None)

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        try:
            bound = signature.bind_partial(self, *args, **kwargs).arguments
        except TypeError:
            bound = dict(kwargs)
        named = {k: v for k, v in bound.items() if k != "self"}
        if var_keyword is not None:
            named.update(named.pop(var_keyword, {}) or {})
        check_arguments(type(self), named)
        init(self, *args, **kwargs)

    __init__._keras_lossopt_guarded = True
    cls.__init__ = __init__
    return cls
