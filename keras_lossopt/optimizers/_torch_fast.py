"""The torch multi-tensor fast path (private): one in-place step over all variables.

On the PyTorch backend a `keras.ops` step runs op by op and variable by
variable, each op allocating a full-size temporary and each `assign_add` adding
into a new tensor and copying it back. Keras's own torch backend avoids that for
its exact classes (Adam, SGD, ...) with `torch._foreach_*` in-place updates;
this module is the one place where keras_lossopt does the same. Nothing else in
the package branches on the torch backend for speed.

- `MultiTensorStep` is a mixin listed first in an optimizer's bases. A class
  opts in by naming its rule: `_multi_tensor_rule = "yogi"`. On torch, with
  the fast path on, a step whose gradients are dense tensors of the variables'
  one dtype runs the rule once for all variables; everything else (another
  backend, sparse or mixed-dtype gradients, the switch off, or a subclass that
  overrides `update_step` or `_compute_step_scalars`) runs the class's own
  `keras.ops` step, which stays the reference.
- Rules: `"keras_adam"` and `"keras_sgd"` are Keras's own torch steps
  (`_keras_compat.keras_torch_multi_tensor_step`), which subclasses of Keras's
  Adam and SGD (LazyAdam, GradientDescent) otherwise lose; `"yogi"`,
  `"adabelief"` and `"radam"` are ours, each the same arithmetic as its
  class's `update_step`, op for op, with the per-step scalars of its
  `_compute_step_scalars`.
- Keras's base pipeline (gradient clipping, gradient accumulation, decoupled
  weight decay, EMA) runs around the step exactly as for the `keras.ops` path.
- `tests/optimizers/test_torch_fast.py` holds each rule to its `keras.ops`
  path (<= 1e-6 over 50 steps, with weight decay, clipnorm, EMA and gradient
  accumulation on); `benchmarks/optimizer_step.py --torch-peers` measures it.

The switch: set the environment variable `KERAS_LOSSOPT_TORCH_FAST=0` before
importing keras_lossopt to turn the fast path off for the process, or call
`set_enabled(False)` (and `set_enabled(True)`) from this module at any time.
"""

import os

import keras

from keras_lossopt import _keras_compat

__all__ = []

_enabled = os.environ.get("KERAS_LOSSOPT_TORCH_FAST", "1").strip().lower() not in (
    "0", "false", "no", "off",
)


def set_enabled(enabled):
    """Turns the torch multi-tensor fast path on or off (for every optimizer)."""
    global _enabled
    _enabled = bool(enabled)


def is_enabled():
    return _enabled


class MultiTensorStep(_keras_compat.WholeStepHook):
    """Mixin (listed first): the step of rule `_multi_tensor_rule` on torch, if it applies."""

    _multi_tensor_rule = None  # a key of _RULES, set by the class that opts in
    _multi_tensor_owner = None  # that class (set by __init_subclass__)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("_multi_tensor_rule") is not None:
            cls._multi_tensor_owner = cls

    def _whole_step(self, grads, trainable_variables, learning_rate):
        rule = self._multi_tensor_rule_for(grads, trainable_variables)
        if rule is None:
            return super()._whole_step(grads, trainable_variables, learning_rate)
        import torch

        with torch.no_grad():
            rule(self, list(grads), list(trainable_variables), learning_rate)
        return None

    def _multi_tensor_rule_for(self, grads, trainable_variables):
        """The rule's function, or None where the `keras.ops` step must run."""
        owner = self._multi_tensor_owner
        if not _enabled or owner is None or keras.backend.backend() != "torch":
            return None
        cls = type(self)
        for method in ("update_step", "_compute_step_scalars"):
            if getattr(cls, method, None) is not getattr(owner, method, None):
                return None  # a subclass changed the rule: its own step is the truth
        rule = _RULES[owner._multi_tensor_rule]()
        if rule is None or not trainable_variables:
            return None
        import torch

        dtype = trainable_variables[0].value.dtype
        for gradient, variable in zip(grads, trainable_variables):
            if not (
                isinstance(gradient, torch.Tensor)
                and gradient.layout == torch.strided
                and gradient.dtype == dtype
                and variable.value.dtype == dtype
            ):
                return None
        return rule


# --- Keras's own steps, for subclasses of Keras's classes ------------------------------


def _keras_rule(class_name):
    return lambda: _keras_compat.keras_torch_multi_tensor_step(
        getattr(keras.optimizers, class_name)
    )


# --- Our rules: the arithmetic of each class's update_step, for all variables at once ----


def _values(variables):
    return [v.value for v in variables]


def _slots(optimizer, slots, variables):
    return [slots[optimizer._get_variable_index(v)].value for v in variables]


def _yogi_step(optimizer, grads, variables, learning_rate):
    import torch

    dtype = variables[0].value.dtype
    (step_size,) = optimizer._compute_step_scalars(learning_rate, dtype)
    m = _slots(optimizer, optimizer._momentums, variables)
    v = _slots(optimizer, optimizer._velocities, variables)
    # m += (g - m) * (1 - beta_1)
    delta = torch._foreach_sub(grads, m)
    torch._foreach_mul_(delta, 1.0 - optimizer.beta_1)
    torch._foreach_add_(m, delta)
    # v -= (1 - beta_2) * sign(v - g**2) * g**2
    grad_squared = torch._foreach_mul(grads, grads)
    torch._foreach_copy_(delta, v)  # reuse the buffer: delta = v - g**2
    torch._foreach_sub_(delta, grad_squared)
    torch._foreach_sign_(delta)
    torch._foreach_mul_(delta, 1.0 - optimizer.beta_2)
    torch._foreach_mul_(delta, grad_squared)
    torch._foreach_sub_(v, delta)
    # w -= step_size * m / (sqrt(v) + epsilon)
    denominator = torch._foreach_sqrt(v)
    torch._foreach_add_(denominator, float(optimizer.epsilon))
    update = torch._foreach_mul(m, step_size)
    torch._foreach_div_(update, denominator)
    torch._foreach_sub_(_values(variables), update)


def _adabelief_step(optimizer, grads, variables, learning_rate):
    import torch

    dtype = variables[0].value.dtype
    step_size, inv_sqrt_bias_2 = optimizer._compute_step_scalars(learning_rate, dtype)
    epsilon = float(optimizer.epsilon)
    m = _slots(optimizer, optimizer._momentums, variables)
    s = _slots(optimizer, optimizer._beliefs, variables)
    # m += (g - m) * (1 - beta_1)
    delta = torch._foreach_sub(grads, m)
    torch._foreach_mul_(delta, 1.0 - optimizer.beta_1)
    torch._foreach_add_(m, delta)
    # s += ((g - m)**2 - s) * (1 - beta_2) + epsilon   (with the new m)
    torch._foreach_copy_(delta, grads)
    torch._foreach_sub_(delta, m)
    torch._foreach_mul_(delta, delta)
    torch._foreach_sub_(delta, s)
    torch._foreach_mul_(delta, 1.0 - optimizer.beta_2)
    torch._foreach_add_(delta, epsilon)
    torch._foreach_add_(s, delta)
    # w -= step_size * m / (sqrt(s) * inv_sqrt_bias_2 + epsilon)
    denominator = torch._foreach_sqrt(s)
    torch._foreach_mul_(denominator, inv_sqrt_bias_2)
    torch._foreach_add_(denominator, epsilon)
    update = torch._foreach_mul(m, step_size)
    torch._foreach_div_(update, denominator)
    torch._foreach_sub_(_values(variables), update)


def _radam_step(optimizer, grads, variables, learning_rate):
    import torch

    dtype = variables[0].value.dtype
    adaptive_size, momentum_size = optimizer._compute_step_scalars(learning_rate, dtype)
    m = _slots(optimizer, optimizer._momentums, variables)
    v = _slots(optimizer, optimizer._velocities, variables)
    # m += (g - m) * (1 - beta_1)
    delta = torch._foreach_sub(grads, m)
    torch._foreach_mul_(delta, 1.0 - optimizer.beta_1)
    torch._foreach_add_(m, delta)
    # v += (g**2 - v) * (1 - beta_2)
    torch._foreach_zero_(delta)
    torch._foreach_addcmul_(delta, grads, grads)
    torch._foreach_sub_(delta, v)
    torch._foreach_mul_(delta, 1.0 - optimizer.beta_2)
    torch._foreach_add_(v, delta)
    # w -= m * (adaptive_size / (sqrt(v) + epsilon) + momentum_size)
    scale = torch._foreach_sqrt(v)
    torch._foreach_add_(scale, float(optimizer.epsilon))
    torch._foreach_reciprocal_(scale)
    torch._foreach_mul_(scale, adaptive_size)
    torch._foreach_add_(scale, momentum_size)
    torch._foreach_mul_(scale, m)
    torch._foreach_sub_(_values(variables), scale)


# rule name -> a function returning the step function (or None where unavailable)
_RULES = {
    "keras_adam": _keras_rule("Adam"),
    "keras_sgd": _keras_rule("SGD"),
    "yogi": lambda: _yogi_step,
    "adabelief": lambda: _adabelief_step,
    "radam": lambda: _radam_step,
}
