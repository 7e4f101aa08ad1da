"""Argument checks shared by losses, optimizers and tools.

Every message names the argument and the value received, in Keras's style:
"`delta` must be > 0. Received: delta=-1.0".
"""

import math
import numbers


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_real(name, value, *, low=None, high=None, low_inclusive=True,
               high_inclusive=True, allow_inf=False):
    """Checks that `value` is a real number inside the given interval."""
    if not _is_real(value) or math.isnan(value) or (math.isinf(value) and not allow_inf):
        raise ValueError(f"`{name}` must be a finite real number. Received: {name}={value!r}")
    if low is not None and (value < low or (value == low and not low_inclusive)):
        op = ">=" if low_inclusive else ">"
        raise ValueError(f"`{name}` must be {op} {low}. Received: {name}={value!r}")
    if high is not None and (value > high or (value == high and not high_inclusive)):
        op = "<=" if high_inclusive else "<"
        raise ValueError(f"`{name}` must be {op} {high}. Received: {name}={value!r}")
    return value


def check_positive(name, value):
    return check_real(name, value, low=0, low_inclusive=False)


def check_non_negative(name, value):
    return check_real(name, value, low=0)


def check_probability(name, value, *, low_inclusive=True, high_inclusive=True):
    """A value in [0, 1] (endpoints as requested), e.g. a beta or label smoothing."""
    return check_real(name, value, low=0, high=1, low_inclusive=low_inclusive,
                      high_inclusive=high_inclusive)


def check_beta(name, value):
    """An exponential-decay rate: 0 <= beta < 1."""
    return check_probability(name, value, high_inclusive=False)


def check_positive_int(name, value, *, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"`{name}` must be an integer. Received: {name}={value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        op = ">= 0" if allow_zero else ">= 1"
        raise ValueError(f"`{name}` must be {op}. Received: {name}={value!r}")
    return int(value)


def check_learning_rate(value, name="learning_rate"):
    """A float learning rate must be >= 0; schedules, callables and tensors pass through."""
    if _is_real(value) or isinstance(value, (bool, str, list, tuple)) or value is None:
        return check_non_negative(name, value)  # a bool, string or list is no learning rate
    return value


def check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(
            f"`{name}` must be one of {tuple(choices)}. Received: {name}={value!r}"
        )
    return value
