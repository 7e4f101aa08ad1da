"""The torch multi-tensor fast path (private): one in-place step over all variables.

On the PyTorch backend a `keras.ops` step runs op by op and variable by
variable, each op allocating a full-size temporary and each `assign_add` adding
into a new tensor and copying it back. Keras's own torch backend avoids that for
its exact classes (Adam, SGD, ...) with `torch._foreach_*` updates; this module
is the one place where keras_lossopt does the like. Nothing else in the package
branches on the torch backend for speed.

- `TorchFastStep` is a mixin listed first in an optimizer's bases. A class
  opts in by naming its rule: `_torch_fast_rule = "yogi"`. On torch, with
  the fast path on, a step whose gradients are dense tensors of the variables'
  one dtype runs the rule once for all variables; everything else (another
  backend, sparse or mixed-dtype gradients, the switch off, or a subclass that
  overrides `update_step` or `_compute_step_scalars`) runs the class's own
  `keras.ops` step, which stays the reference.
- Rules: `"keras_sgd"` is Keras's own torch step for SGD
  (`_keras_compat.keras_torch_multi_tensor_step`), which GradientDescent, a
  subclass, otherwise loses; the others are ours: `"adam"` (LazyAdam's dense
  step, i.e. Keras's Adam), `"yogi"`, `"adabelief"`, `"radam"`, `"prodigy"`,
  `"schedule_free_sgd"`, `"adan"`, `"ademamix"`, `"lars"`, `"novograd"`,
  `"adabound"`: each the arithmetic of its class's `update_step` in the same
  order, done in place with at most two scratch tensors per variable (or none:
  `lerp_`/`addcmul_` where the expression allows), with the per-step scalars of
  its `_compute_step_scalars` (and `_begin_step`, for Prodigy's global `d`
  statistics and Schedule-Free SGD's running maximum). A class whose weight
  decay is its own (`OwnWeightDecay`) sets `_torch_fast_own_decay = True` where
  its rule applies that decay too; otherwise decaying instances take the
  `keras.ops` step (LazyAdam). Not Keras's torch Adam: its foreach step
  allocates four intermediates for all variables at once and measured 3.3x
  torch.optim.Adam (benchmarks/torch_peers.py).
- Wrappers' bookkeeping: `lookahead_synchronise` is Lookahead's (and Ranger's)
  sync in place (`lerp_` and `copy_`, no temporary), called by
  `Lookahead._after_inner_apply`, which runs its `keras.ops` sync where it
  returns False.
- Keras's base pipeline (gradient clipping, gradient accumulation, decoupled
  weight decay, EMA) runs around the step exactly as for the `keras.ops` path.
- `tests/optimizers/test_torch_fast.py` holds each rule to its `keras.ops`
  path (<= 1e-6 over 50 steps, with weight decay, clipnorm, EMA and gradient
  accumulation on); `benchmarks/torch_peers.py` measures it against
  torch.optim and pytorch_optimizer.

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


class TorchFastStep(_keras_compat.WholeStepHook):
    """Mixin (listed first): the step of rule `_torch_fast_rule` on torch, if it applies."""

    _torch_fast_rule = None  # a key of _RULES, set by the class that opts in
    _torch_fast_owner = None  # that class (set by __init_subclass__)
    _torch_fast_own_decay = False  # True: the rule applies the class's own weight decay
    _torch_fast_16_bit = True  # False: 16-bit variables (float32 state) take the keras.ops step

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("_torch_fast_rule") is not None:
            cls._torch_fast_owner = cls

    def _whole_step(self, grads, trainable_variables, learning_rate):
        rule = self._torch_fast_rule_for(grads, trainable_variables)
        if rule is None:
            return super()._whole_step(grads, trainable_variables, learning_rate)
        import torch

        with torch.no_grad():
            rule(self, list(grads), list(trainable_variables), learning_rate)
        return None

    def _torch_fast_rule_for(self, grads, trainable_variables):
        """The rule's function, or None where the `keras.ops` step must run."""
        owner = self._torch_fast_owner
        if not _enabled or owner is None or keras.backend.backend() != "torch":
            return None
        cls = type(self)
        for method in ("update_step", "_compute_step_scalars", "_begin_step"):
            if getattr(cls, method, None) is not getattr(owner, method, None):
                return None  # a subclass changed the rule: its own step is the truth
        if getattr(self, "own_weight_decay", None) and not owner._torch_fast_own_decay:
            return None  # its own (lazy) decay lives in update_step: run that step
        rule = _RULES[owner._torch_fast_rule]()
        if rule is None or not trainable_variables:
            return None
        import torch

        dtype = trainable_variables[0].value.dtype
        if not owner._torch_fast_16_bit and dtype in (torch.float16, torch.bfloat16):
            return None
        for gradient, variable in zip(grads, trainable_variables):
            if not (
                isinstance(gradient, torch.Tensor)
                and gradient.layout == torch.strided
                and gradient.dtype == dtype
                and variable.value.dtype == dtype
            ):
                return None
        return rule


# --- Wrappers' bookkeeping ------------------------------------------------------------


def lookahead_synchronise(variables, slows, alpha):
    """Lookahead's sync on torch, in place: slow = lerp(slow, w, alpha); w = slow.

    Returns False (and changes nothing) where it does not apply: another
    backend, the switch off, or a slow weight of another dtype or shape than
    its variable; the caller then runs its `keras.ops` sync.
    """
    if not _enabled or keras.backend.backend() != "torch":
        return False
    pairs = [(var.value, slow.value) for var, slow in zip(variables, slows)]
    if any(w.dtype != s.dtype or w.shape != s.shape for w, s in pairs):
        return False
    import torch

    with torch.no_grad():
        for w, s in pairs:
            s.lerp_(w, float(alpha))  # slow + alpha * (w - slow)
            w.copy_(s)
    return True


# --- Keras's own steps, for subclasses of Keras's classes ------------------------------


def _keras_rule(class_name):
    return lambda: _keras_compat.keras_torch_multi_tensor_step(
        getattr(keras.optimizers, class_name)
    )


# --- Our rules: the arithmetic of each class's update_step, in place ----------------------
#
# Per variable, with one (Yogi: two) variable-sized scratch tensor reused for every
# intermediate. On CPU `torch._foreach_*` has no fused kernel (it loops over the
# tensors) and allocates each intermediate for all variables at once: our first
# version, foreach with 4 intermediates, was 1.8-2.2x pytorch_optimizer (10M
# parameters, 1 thread); a scratch tensor that is freed per variable is reused by
# the allocator instead of being mapped and faulted in anew.


def _scratch_loop(optimizer, grads, variables, slot_lists):
    for gradient, variable in zip(grads, variables):
        index = optimizer._get_variable_index(variable)
        yield (gradient, variable.value, *(slots[index].value for slots in slot_lists))


def _moving_average(torch, m, g, beta):
    """m += (1 - beta) * (g - m) in one pass.

    `lerp_` computes exactly that formula for weights below 0.5 (the keras.ops
    steps' own order); for beta <= 0.5 the three-op form keeps that order. The
    rules below also fuse `v * beta_2 + (1 - beta_2) * g**2` into `addcmul_` and
    the step into `addcdiv_` (fewer passes over memory, as torch.optim does); both
    reorder the keras.ops arithmetic, a rounding-level difference that
    tests/optimizers/test_torch_fast.py bounds.
    """
    if 1.0 - beta < 0.5:
        m.lerp_(g, 1.0 - beta)
    else:
        m.add_(torch.sub(g, m).mul_(1.0 - beta))


def _adam_step(optimizer, grads, variables, learning_rate):
    """Keras's Adam (LazyAdam's dense step): m, v, then w -= alpha * m / (sqrt(v) + eps)."""
    import torch

    dtype = variables[0].value.dtype
    ops = keras.ops  # the scalars as keras.optimizers.Adam.update_step computes them
    lr = ops.cast(learning_rate, dtype)
    step = ops.cast(optimizer.iterations + 1, dtype)
    beta_1_power = ops.power(ops.cast(optimizer.beta_1, dtype), step)
    beta_2_power = ops.power(ops.cast(optimizer.beta_2, dtype), step)
    alpha = lr * ops.sqrt(1 - beta_2_power) / (1 - beta_1_power)
    slot_lists = [optimizer._momentums, optimizer._velocities]
    if optimizer.amsgrad:
        slot_lists.append(optimizer._velocity_hats)
    alpha = float(alpha)  # a Python number, as torch.optim keeps it (one host read per step)
    for g, w, m, v, *v_hat in _scratch_loop(optimizer, grads, variables, slot_lists):
        _moving_average(torch, m, g, optimizer.beta_1)
        v.mul_(optimizer.beta_2).addcmul_(g, g, value=1.0 - optimizer.beta_2)
        if v_hat:
            torch.maximum(v_hat[0], v, out=v_hat[0])
            v = v_hat[0]
        t = torch.sqrt(v)
        t.add_(float(optimizer.epsilon))
        w.addcdiv_(m, t, value=-alpha)


def _yogi_step(optimizer, grads, variables, learning_rate):
    import torch

    dtype = variables[0].value.dtype
    (step_size,) = optimizer._compute_step_scalars(learning_rate, dtype)
    slot_lists = [optimizer._momentums, optimizer._velocities]
    step_size = float(step_size)  # a Python number (one host read per step)
    for g, w, m, v in _scratch_loop(optimizer, grads, variables, slot_lists):
        _moving_average(torch, m, g, optimizer.beta_1)
        t = torch.mul(g, g)  # v -= (1 - beta_2) * sign(v - g**2) * g**2
        u = torch.sub(v, t)
        u.sign_()
        u.mul_(t)
        v.add_(u, alpha=-(1.0 - optimizer.beta_2))
        del u
        torch.sqrt(v, out=t)  # w -= step_size * m / (sqrt(v) + epsilon)
        t.add_(float(optimizer.epsilon))
        w.addcdiv_(m, t, value=-step_size)


def _adabelief_step(optimizer, grads, variables, learning_rate):
    import torch

    dtype = variables[0].value.dtype
    step_size, inv_sqrt_bias_2 = optimizer._compute_step_scalars(learning_rate, dtype)
    epsilon = float(optimizer.epsilon)
    slot_lists = [optimizer._momentums, optimizer._beliefs]
    step_size = float(step_size)  # a Python number (one host read per step)
    for g, w, m, s in _scratch_loop(optimizer, grads, variables, slot_lists):
        _moving_average(torch, m, g, optimizer.beta_1)
        t = torch.sub(g, m)  # s = s * beta_2 + (1 - beta_2) * (g - m)**2 + epsilon (new m)
        s.mul_(optimizer.beta_2).addcmul_(t, t, value=1.0 - optimizer.beta_2).add_(epsilon)
        torch.sqrt(s, out=t)  # w -= step_size * m / (sqrt(s) * inv_sqrt_bias_2 + epsilon)
        t.mul_(inv_sqrt_bias_2)
        t.add_(epsilon)
        w.addcdiv_(m, t, value=-step_size)


def _radam_step(optimizer, grads, variables, learning_rate):
    import torch

    dtype = variables[0].value.dtype
    adaptive_size, momentum_size = optimizer._compute_step_scalars(learning_rate, dtype)
    slot_lists = [optimizer._momentums, optimizer._velocities]
    # The two step sizes as Python numbers, as torch.optim and pytorch_optimizer keep
    # theirs (one host read per step, not per variable).
    adaptive, momentum = float(adaptive_size), float(momentum_size)
    for g, w, m, v in _scratch_loop(optimizer, grads, variables, slot_lists):
        _moving_average(torch, m, g, optimizer.beta_1)
        v.mul_(optimizer.beta_2).addcmul_(g, g, value=1.0 - optimizer.beta_2)
        # w -= m * (adaptive_size / (sqrt(v) + epsilon) + momentum_size): one of the two
        # sizes is 0 at each step (rectified or not), and that term is skipped.
        if adaptive != 0.0:
            t = torch.sqrt(v)
            t.add_(float(optimizer.epsilon))
            w.addcdiv_(m, t, value=-adaptive)
        if momentum != 0.0:
            w.add_(m, alpha=-momentum)


def _prodigy_step(optimizer, grads, variables, learning_rate):
    """Prodigy: phase 1 (moments, s and the sums for d) over all variables, the new d, phase 3."""
    import torch

    coefs = optimizer._phase_1_scalars(learning_rate)  # the keras.ops path's own scalars
    b1, b2, b3, c1, c2, cs = (coefs[k] for k in ("b1", "b2", "b3", "c1", "c2", "cs"))
    delta_numerator = keras.ops.zeros((), "float32")
    d_denom = keras.ops.zeros((), "float32")
    rows = []
    for g, var in zip(grads, variables):
        i = optimizer._get_variable_index(var)
        w, x0, s = var.value, optimizer._x0s[i].value, optimizer._ss[i].value
        v = optimizer._velocities[i].value
        m = optimizer._momentums[i]
        m = None if m is None else m.value
        # The sums as the keras.ops step reduces them (torch.sum, not torch.dot: with
        # beta_1 = 0 a different summation order moved d by 3e-5 in 50 steps).
        t = torch.sub(x0, w)  # delta_numerator += sum(g * (x0 - w))
        t.mul_(g)
        delta_numerator = delta_numerator + t.sum().float()
        if m is not None:  # m = m * b1 + g * c1
            m.mul_(b1)
            torch.mul(g, c1, out=t)
            m.add_(t)
        v.mul_(b2)  # v = v * b2 + g**2 * c2
        torch.mul(g, g, out=t)
        t.mul_(c2)
        v.add_(t)
        s.mul_(b3)  # s = s * b3 + g * cs
        torch.mul(g, cs, out=t)
        s.add_(t)
        torch.abs(s, out=t)  # d_denom += sum(|s|)
        d_denom = d_denom + t.sum().float()
        rows.append((g, var, w, v, m))
        del t
    step_size, eps_d = optimizer._phase_2(coefs, delta_numerator, d_denom)
    decay = None
    if optimizer.own_weight_decay:
        decay = step_size * optimizer.own_weight_decay
    d = optimizer._d.value
    for g, var, w, v, m in rows:
        t = torch.empty_like(w)
        if decay is not None and optimizer._decays(var):  # w -= w * step_size * wd
            torch.mul(w, decay, out=t)
            w.sub_(t)
        torch.sqrt(v, out=t)  # w -= m / (sqrt(v) + eps_d) * step_size
        t.add_(eps_d)
        if m is None:  # beta_1 == 0: along d * g (the new d)
            torch.div(torch.mul(g, d), t, out=t)
        else:
            torch.div(m, t, out=t)
        t.mul_(step_size)
        w.sub_(t)
        del t


def _adan_step(optimizer, grads, variables, learning_rate):
    import torch

    dtype = variables[0].value.dtype
    lr, not_first, step_size, diff_step_size, inv_sqrt_bias_3 = (
        optimizer._compute_step_scalars(learning_rate, dtype)
    )
    beta_2 = keras.ops.cast(optimizer.beta_2, dtype)
    epsilon = float(optimizer.epsilon)
    shrink = None
    if optimizer.own_weight_decay:
        shrink = 1.0 + lr * keras.ops.cast(optimizer.own_weight_decay, dtype)
    slot_lists = [optimizer._momentums, optimizer._diff_momentums, optimizer._velocities,
                  optimizer._previous_gradients]
    for (g, w, m, d, n, g_prev), variable in zip(
        _scratch_loop(optimizer, grads, variables, slot_lists), variables
    ):
        t = torch.sub(g, g_prev)  # diff = (g - g_prev) * not_first
        t.mul_(not_first)
        u = torch.sub(g, m)  # m += (g - m) * (1 - beta_1)
        u.mul_(1.0 - optimizer.beta_1)
        m.add_(u)
        torch.sub(t, d, out=u)  # d += (diff - d) * (1 - beta_2)
        u.mul_(1.0 - optimizer.beta_2)
        d.add_(u)
        t.mul_(beta_2)  # n += ((g + beta_2 * diff)**2 - n) * (1 - beta_3)
        t.add_(g)
        t.mul_(t)
        t.sub_(n)
        t.mul_(1.0 - optimizer.beta_3)
        n.add_(t)
        g_prev.copy_(g)
        torch.sqrt(n, out=t)  # w -= (step_size * m + diff_step_size * d) / denominator
        t.mul_(inv_sqrt_bias_3)
        t.add_(epsilon)
        torch.mul(m, step_size, out=u)
        u.addcmul_(d, diff_step_size)
        u.div_(t)
        w.sub_(u)
        if shrink is not None and optimizer._decays(variable):  # w / (1 + lr * wd)
            w.div_(shrink)
        del t, u


def _ademamix_step(optimizer, grads, variables, learning_rate):
    import torch

    dtype = variables[0].value.dtype
    lr, fast_scale, inv_sqrt_bias_2, alpha_t, one_minus_beta_3_t = (
        optimizer._compute_step_scalars(learning_rate, dtype)
    )
    epsilon = float(optimizer.epsilon)
    slot_lists = [optimizer._fast_momentums, optimizer._slow_momentums, optimizer._velocities]
    for g, w, m_1, m_2, nu in _scratch_loop(optimizer, grads, variables, slot_lists):
        t = torch.sub(g, m_1)  # m_1 += (g - m_1) * (1 - beta_1)
        t.mul_(1.0 - optimizer.beta_1)
        m_1.add_(t)
        torch.sub(g, m_2, out=t)  # m_2 += (g - m_2) * (1 - beta_3_t)
        t.mul_(one_minus_beta_3_t)
        m_2.add_(t)
        torch.mul(g, g, out=t)  # nu += (g**2 - nu) * (1 - beta_2)
        t.sub_(nu)
        t.mul_(1.0 - optimizer.beta_2)
        nu.add_(t)
        u = torch.mul(m_1, fast_scale)  # w -= lr * (fast_scale * m_1 + alpha_t * m_2) / denom
        u.addcmul_(m_2, alpha_t)
        u.mul_(lr)
        torch.sqrt(nu, out=t)  # denom = sqrt(nu) * inv_sqrt_bias_2 + epsilon
        t.mul_(inv_sqrt_bias_2)
        t.add_(epsilon)
        u.div_(t)
        w.sub_(u)
        del t, u


def _lars_step(optimizer, grads, variables, learning_rate):
    """No temporary without weight decay or nesterov (v += scaled_lr * update in place)."""
    import torch

    ops = keras.ops
    dtype = variables[0].value.dtype
    lr = ops.cast(learning_rate, dtype)
    momentum = ops.cast(optimizer.momentum, dtype)
    wd = float(optimizer.own_weight_decay or 0.0)
    for (g, w, v), variable in zip(
        _scratch_loop(optimizer, grads, variables, [optimizer._momentums]), variables
    ):
        update, scaled_lr = g, lr  # excluded (bias, batch norm): plain momentum SGD
        if optimizer._not_excluded(variable):
            # The norms in one pass each (torch's norm kernel, not sum(square)):
            # a different summation order, rounding-level (the test holds it to 1e-6).
            w_norm = torch.linalg.vector_norm(w)
            g_norm = torch.linalg.vector_norm(g)
            denominator = g_norm
            if wd > 0:
                denominator = g_norm + ops.cast(wd, dtype) * w_norm
                update = torch.add(g, w, alpha=wd)  # g + wd * w
            scaled_lr = lr * optimizer._trust(w_norm, g_norm, denominator, dtype)
        v.mul_(momentum)  # v = momentum * v + scaled_lr * update
        v.addcmul_(update, scaled_lr)
        if optimizer.nesterov:  # w -= momentum * v + scaled_lr * update
            t = torch.mul(update, scaled_lr)
            t.addcmul_(v, momentum)
            w.sub_(t)
            del t
        else:
            w.sub_(v)
        del update


def _novograd_step(optimizer, grads, variables, learning_rate):
    import torch

    ops = keras.ops
    dtype = variables[0].value.dtype
    lr = ops.cast(learning_rate, dtype)
    beta_1 = ops.cast(optimizer.beta_1, dtype)
    beta_2 = ops.cast(optimizer.beta_2, dtype)
    epsilon = ops.cast(optimizer.epsilon, dtype)
    first_step = ops.equal(optimizer.iterations, 0)
    wd = optimizer.own_weight_decay
    for g, variable in zip(grads, variables):
        index = optimizer._get_variable_index(variable)
        w, m, n = variable.value, optimizer._momentums[index].value, optimizer._norms[index]
        # sum(g**2) in one pass (a dot product: rounding-level, held to 1e-6 by the test)
        squared_norm = torch.dot(g.reshape(-1), g.reshape(-1))
        n.assign(ops.where(first_step, squared_norm,
                           beta_2 * n.value + (1.0 - optimizer.beta_2) * squared_norm))
        t = torch.mul(g, 1.0 / (ops.sqrt(n.value) + epsilon))  # g / (sqrt(n) + epsilon)
        if wd and optimizer._decays(variable):  # + wd * w
            t.add_(w, alpha=float(wd))
        m.mul_(beta_1)  # m = beta_1 * m + update
        m.add_(t)
        torch.mul(m, lr, out=t)  # w -= lr * m
        w.sub_(t)
        del t


def _adabound_step(optimizer, grads, variables, learning_rate):
    import torch

    ops = keras.ops
    dtype = variables[0].value.dtype
    step_size, lower, upper = optimizer._compute_step_scalars(learning_rate, dtype)
    one_minus_beta_1 = 1 - ops.cast(optimizer.beta_1, dtype)  # in dtype, as update_step
    one_minus_beta_2 = 1 - ops.cast(optimizer.beta_2, dtype)
    epsilon = ops.cast(optimizer.epsilon, dtype)
    slot_lists = [optimizer._momentums, optimizer._velocities]
    if optimizer.amsbound:
        slot_lists.append(optimizer._velocity_hats)
    for g, w, m, v, *v_hat in _scratch_loop(optimizer, grads, variables, slot_lists):
        # m += (g - m) * (1 - beta_1) and v += (g**2 - v) * (1 - beta_2) as lerps
        # (torch's lerp computes that expression for weights < 0.5; held to 1e-6).
        m.lerp_(g, one_minus_beta_1)
        t = torch.mul(g, g)
        v.lerp_(t, one_minus_beta_2)
        if v_hat:
            torch.maximum(v_hat[0], v, out=v_hat[0])
            v = v_hat[0]
        torch.sqrt(v, out=t)  # w -= clip(step_size / (sqrt(v) + epsilon), lower, upper) * m
        t.add_(epsilon)
        torch.div(step_size, t, out=t)
        t.clamp_(lower, upper)
        t.mul_(m)
        w.sub_(t)
        del t


def _begun_scalars(optimizer, grads, variables, learning_rate, dtype):
    """`_begin_step` (state updated once per step), then `_compute_step_scalars` on it."""
    from keras_lossopt.optimizers._step_scalars import _BEGUN

    begun = optimizer._begin_step(grads, variables, learning_rate)
    optimizer._set_step_scalar_cache({_BEGUN: begun})
    try:
        return optimizer._compute_step_scalars(learning_rate, dtype)
    finally:
        optimizer._set_step_scalar_cache(None)


def _schedule_free_sgd_step(optimizer, grads, variables, learning_rate):
    """Three in-place passes per variable, no temporary (one with own decay)."""
    import torch

    dtype = variables[0].value.dtype
    lr, ckp1, grad_coef = _begun_scalars(optimizer, grads, variables, learning_rate, dtype)
    neg_lr = -lr
    coef = grad_coef + ckp1 * lr
    wd = optimizer.own_weight_decay
    for gradient, variable in zip(grads, variables):
        z = optimizer._zs[optimizer._get_variable_index(variable)].value
        w = variable.value
        g = gradient
        if wd and optimizer._decays(variable):  # g + wd * w
            g = torch.add(gradient, w, alpha=float(wd))
        z.addcmul_(g, neg_lr)  # z -= lr * g
        # w += ckp1 * (z - w) + (grad_coef + ckp1 * lr) * g, as a lerp then an add:
        # rounding-level reassociation of the keras.ops sum (the test holds it to 1e-6).
        w.lerp_(z, ckp1)
        w.addcmul_(g, coef)
        del g


# rule name -> a function returning the step function (or None where unavailable)
_RULES = {
    "adam": lambda: _adam_step,
    "keras_sgd": _keras_rule("SGD"),
    "yogi": lambda: _yogi_step,
    "adabelief": lambda: _adabelief_step,
    "radam": lambda: _radam_step,
    "prodigy": lambda: _prodigy_step,
    "schedule_free_sgd": lambda: _schedule_free_sgd_step,
    "adan": lambda: _adan_step,
    "ademamix": lambda: _ademamix_step,
    "lars": lambda: _lars_step,
    "novograd": lambda: _novograd_step,
    "adabound": lambda: _adabound_step,
}
