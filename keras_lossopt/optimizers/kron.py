"""PSGD Kron: a Kronecker-factored preconditioner fitted by Li's PSGD (Li, 2017/2024)."""

import keras
import numpy as np
from keras import ops
from keras.optimizers import Optimizer

from keras_lossopt import _checks, _keras_compat
from keras_lossopt.optimizers import _kronecker as kr
from keras_lossopt.optimizers import _probes
from keras_lossopt.optimizers._sparse import dense_gradient
from keras_lossopt.optimizers._step_scalars import StepScalarsMixin
from keras_lossopt.optimizers._weight_decay import OwnWeightDecay
from keras_lossopt.registry import register

__all__ = ["Kron"]

MEMORY_SAVE_MODES = (None, "smart_one_diag", "one_diag", "all_diag")
BALANCE_PROBABILITY = 0.01  # kron.py: "balance preconditioners roughly every 100 updates"
_BALANCE_STREAM = (1 << 29) + 7  # probe streams are 4 * variable index + 0
_SQRT_EPS32 = float(np.sqrt(np.finfo(np.float32).eps))  # kron.py: sqrt(finfo(float32).eps)


def merged_shape(shape, merge_dims):
    """kron.py: tensors of rank > 2 become the matrix whose two sides differ least (signed)."""
    shape = tuple(int(d) for d in shape)
    if len(shape) <= 2 or not merge_dims:
        return shape
    shape1 = (int(np.prod(shape[:-1])), shape[-1])
    shape2 = (shape[0], int(np.prod(shape[1:])))
    return shape1 if shape1[1] - shape1[0] <= shape2[1] - shape2[0] else shape2


def diagonal_axes(shape, max_size_triangular, min_ndim_triangular, memory_save_mode):
    """kron.py `_init_Q_exprs`: which axes get a diagonal (vector) preconditioner."""
    if len(shape) == 0:
        return []
    if memory_save_mode is None:
        diag = [False] * len(shape)
    elif memory_save_mode == "all_diag":
        diag = [True] * len(shape)
    else:
        largest = int(np.argsort(shape, kind="stable")[::-1][0])
        diag = [False] * len(shape)
        ordered = sorted(shape)
        if memory_save_mode == "one_diag" or (len(shape) > 1 and ordered[-1] > ordered[-2]):
            diag[largest] = True
    return [d or size == 1 or size > max_size_triangular or len(shape) < min_ndim_triangular
            for size, d in zip(shape, diag)]


@register("optimizer", name="kron", aliases=("psgd_kron",))
class Kron(OwnWeightDecay, StepScalarsMixin, Optimizer):
    """PSGD Kron: momentum preconditioned by Kronecker factors fitted to gradient noise.

    PSGD ("preconditioned SGD") learns a preconditioner `P = Q^T Q` with one
    factor per axis, `Q = Q_1 x ... x Q_r` (upper-triangular, or diagonal for
    large or 1-D axes), by a few steps of a fitting rule that needs one random
    probe vector per update and no matrix decomposition, so it is cheap enough
    to update at every step early on (the update probability then anneals
    towards `update_probability_min`). Each step is clipped to an RMS of 1.1,
    so learning rates are small: the authors suggest 3e-4 (about a third of
    Adam's), with weight decay about three times Adam's. Deterministic under
    `keras.utils.set_random_seed` (or `seed`), identically on every backend.

    Update rule at step `t = 1, 2, ...` (r = rank of the merged gradient):

        M = beta_1 M + (1 - beta_1) G;  H = M / (1 - beta_1^t)
        p_t = clip(update_probability_max * exp(-decay (t - 1 - flat_start)),
                   update_probability_min, 1)           (or the fixed probability)
        counter += 1; update if counter >= 1 / p_t (then counter = 0)
        if update:
            with probability 0.01: Q_k *= gmean_j(max|Q_j|) / max|Q_k|  (balance)
            V ~ N(0, I);  H = H + sqrt(eps_float32) * mean|H| * V
            A = H x_1 Q_1 ... x_r Q_r;  B = V x_1 Q_1^(-T) ... x_r Q_r^(-T)
            for each axis k:  T1 = A_(k) A_(k)^T - B_(k) B_(k)^T,
                              T2 = A_(k) A_(k)^T + B_(k) B_(k)^T
                triangular Q_k: Q_k -= preconditioner_learning_rate
                                       * triu(T1) / lower_bound(||T2||_2) Q_k
                diagonal Q_k:   Q_k -= preconditioner_learning_rate
                                       * T1 Q_k / max|T2|
        D = H x_1 (Q_1^T Q_1) ... x_r (Q_r^T Q_r)
        D = D * min(1, 1.1 / (rms(D) + 1e-12))
        W = W - learning_rate * weight_decay * W   (only variables of rank >= 2)
        W = W - learning_rate * D

    Extra memory for an `(m, n)` weight with both sides triangular:
    `m n` (momentum) + `m^2 + n^2` (the factors, stored as full matrices);
    a diagonal side costs `m` instead of `m^2`; vectors `2 n`.

    Args:
        learning_rate: float >= 0, a `LearningRateSchedule`, or a callable.
            Defaults to `3e-4`.
        beta_1: momentum, in [0, 1). Defaults to `0.9`.
        preconditioner_update_probability: a fixed probability in (0, 1], or
            None for the annealing schedule below. Defaults to `None`.
        update_probability_min: the schedule's floor, in (0, 1]. Defaults to
            `0.03`.
        update_probability_decay: the schedule's exponential rate, >= 0.
            Defaults to `0.001`.
        update_probability_flat_start: steps at probability 1, >= 0.
            Defaults to `500`.
        max_size_triangular: int >= 1, axes longer than this get a diagonal factor.
            Defaults to `8192`.
        min_ndim_triangular: int >= 0, tensors of lower rank get only diagonal
            factors. Defaults to `2`.
        memory_save_mode: None, `"smart_one_diag"` (the largest axis diagonal
            if it is strictly the largest), `"one_diag"` or `"all_diag"`.
            Defaults to `None`.
        momentum_into_precond_update: fit the preconditioner to the momentum
            `H` (True) or the raw gradient. Defaults to `True`.
        preconditioner_learning_rate: step of the fitting rule, in (0, 1].
            Defaults to `0.1`.
        preconditioner_init_scale: > 0, the initial `P = scale^2 I` (each of
            the r factors starts at `scale^(1/r)`). Defaults to `1.0`.
        merge_dims: merge tensors of rank > 2 into matrices. Defaults to `True`.
        seed: int or None: the seed of the probe vectors and balancing draws.
            None takes the seed given to `keras.utils.set_random_seed`, or 42
            (the seed of kron.py's `random.Random(42)`) if none was given, so
            two optimizers built alike behave alike. It is kept as an
            optimizer variable: a resumed run continues the same random stream.
            Defaults to `None`.
        weight_decay: >= 0 or None: decoupled decay
            `W -= learning_rate * weight_decay * W` before the step, applied
            (as in the authors' code) only to variables of rank >= 2 and
            honouring `exclude_from_weight_decay`; Keras's base decay is not
            applied on top. Defaults to `None` (none).
        clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor,
        gradient_accumulation_steps: Keras's base optimizer keywords.
        name: Defaults to `"kron"`.

    Example:

    >>> import keras, keras_lossopt, numpy as np
    >>> def train(seed):
    ...     w = keras.Variable(np.zeros((2, 3)), dtype="float32")
    ...     opt = keras_lossopt.optimizers.Kron(learning_rate=0.1, seed=seed)
    ...     for _ in range(3):
    ...         _ = opt.apply_gradients([(keras.ops.convert_to_tensor(w.numpy() - 1.0), w)])
    ...     return w.numpy()
    >>> bool(np.array_equal(train(seed=3), train(seed=3)))  # random probes, reproducible
    True
    >>> [round(float(v), 2) for v in train(seed=3)[0]]
    [0.27, 0.27, 0.29]

    References:
        - Li, 2017, "Preconditioned Stochastic Gradient Descent", IEEE TNNLS,
          https://arxiv.org/abs/1512.04202; Li, 2024, "Stochastic Hessian
          Fittings with Lie Groups", https://arxiv.org/abs/2402.11858.
        - The reference code, https://github.com/evanatyourservice/kron_torch
          (kron_torch/kron.py, class Kron), from https://github.com/lixilinx/psgd_torch;
          its defaults are the defaults here.

    Follows that code where it differs from the papers: the preconditioner is
    fitted to the bias-corrected momentum, and the probe perturbs that momentum
    in place, so the step preconditions the perturbed momentum (for float32
    parameters, where the code's dtype conversion is a no-op); the update
    probability is realised by a deterministic counter. Deviations: the probe
    vectors and the 1% balancing draw come from a counter-based generator of
    (seed, variable index, step) instead of `torch.randn_like` and
    `random.Random(42)`, so runs are reproducible on every backend and across a
    resume; triangular solves run in the variable's dtype (the code casts to
    float32), float64 stays float64 and 16-bit variables use float32 state;
    0-D variables (which the code cannot handle) get a scalar factor;
    `mu_dtype`/`precond_dtype` are not offered.
    """

    conformance_opt_outs = {
        "base_features:weight_decay": (
            "Kron decays only variables of rank >= 2 (authors' code); the check decays "
            "the vector too"
        ),
    }

    def __init__(
        self,
        learning_rate=3e-4,
        beta_1=0.9,
        preconditioner_update_probability=None,
        update_probability_min=0.03,
        update_probability_decay=0.001,
        update_probability_flat_start=500,
        max_size_triangular=8192,
        min_ndim_triangular=2,
        memory_save_mode=None,
        momentum_into_precond_update=True,
        preconditioner_learning_rate=0.1,
        preconditioner_init_scale=1.0,
        merge_dims=True,
        seed=None,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="kron",
        **kwargs,
    ):
        _checks.check_learning_rate(learning_rate)
        _checks.check_beta("beta_1", beta_1)
        if preconditioner_update_probability is not None:
            _checks.check_real("preconditioner_update_probability",
                               preconditioner_update_probability, low=0, low_inclusive=False,
                               high=1)
        _checks.check_real("update_probability_min", update_probability_min, low=0,
                           low_inclusive=False, high=1)
        _checks.check_non_negative("update_probability_decay", update_probability_decay)
        _checks.check_non_negative("update_probability_flat_start",
                                   update_probability_flat_start)
        max_size_triangular = _checks.check_positive_int("max_size_triangular",
                                                         max_size_triangular)
        min_ndim_triangular = _checks.check_positive_int("min_ndim_triangular",
                                                         min_ndim_triangular, allow_zero=True)
        _checks.check_choice("memory_save_mode", memory_save_mode, MEMORY_SAVE_MODES)
        _checks.check_choice("momentum_into_precond_update", momentum_into_precond_update,
                             (True, False))
        _checks.check_real("preconditioner_learning_rate", preconditioner_learning_rate,
                           low=0, low_inclusive=False, high=1)
        _checks.check_positive("preconditioner_init_scale", preconditioner_init_scale)
        _checks.check_choice("merge_dims", merge_dims, (True, False))
        if seed is not None:
            seed = _checks.check_positive_int("seed", seed, allow_zero=True)
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
        self.beta_1 = beta_1
        self.preconditioner_update_probability = preconditioner_update_probability
        self.update_probability_min = update_probability_min
        self.update_probability_decay = update_probability_decay
        self.update_probability_flat_start = update_probability_flat_start
        self.max_size_triangular = max_size_triangular
        self.min_ndim_triangular = min_ndim_triangular
        self.memory_save_mode = memory_save_mode
        self.momentum_into_precond_update = bool(momentum_into_precond_update)
        self.preconditioner_learning_rate = preconditioner_learning_rate
        self.preconditioner_init_scale = preconditioner_init_scale
        self.merge_dims = bool(merge_dims)
        self.seed = seed

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        seed = self.seed
        if seed is None:  # keras.utils.set_random_seed's seed, else kron.py's fixed 42
            seed = _keras_compat.global_random_seed()  # read, not drawn: alike builds alike
            seed = 42 if seed is None else seed
        self._seed = self.add_variable(
            (), initializer=keras.initializers.Constant(seed & _probes.MASK), dtype="int32",
            name="seed")
        # Counted like `iterations`: on the first replica only under tf.distribute.
        self._update_counter = self.add_variable(
            (), initializer="zeros", dtype="int32", aggregation="only_first_replica",
            name="update_counter")
        self._plans, self._momentums, self._factors = [], [], []
        for var in var_list:
            if getattr(var, "overwrite_with_gradient", False):
                for slots in (self._plans, self._momentums, self._factors):
                    slots.append(None)
                continue
            shape = merged_shape(var.shape, self.merge_dims)
            diag = diagonal_axes(shape, self.max_size_triangular, self.min_ndim_triangular,
                                 self.memory_save_mode)
            dtype = kr.compute_dtype(var.dtype)
            self._plans.append((shape, diag))
            self._momentums.append(kr.slot_like(self, var, "momentum", dtype))
            if not shape:  # a scalar: one scalar factor
                init = keras.initializers.Constant(self.preconditioner_init_scale)
                self._factors.append([self.add_variable(
                    (), initializer=init, dtype=dtype, name=kr.state_name(var, "q"))])
                continue
            scale = self.preconditioner_init_scale ** (1.0 / len(shape))
            factors = []
            for k, (size, d) in enumerate(zip(shape, diag)):
                if d:
                    init = keras.initializers.Constant(scale)
                    factors.append(self.add_variable(
                        (size,), initializer=init, dtype=dtype, name=kr.state_name(var, f"q_{k}")))
                else:
                    factors.append(self.add_variable(
                        (size, size), initializer=_ScaledIdentity(scale), dtype=dtype,
                        name=kr.state_name(var, f"q_{k}")))
            self._factors.append(factors)

    # --- the per-step decision (counter), shared by every variable --------------------

    def _update_probability(self):
        if self.preconditioner_update_probability is not None:
            return ops.convert_to_tensor(self.preconditioner_update_probability, "float32")
        n = ops.cast(self.iterations, "float32")  # kron.py: _prob_step before its += 1
        p = ops.exp(-self.update_probability_decay * (n - self.update_probability_flat_start))
        return ops.clip(p, self.update_probability_min, 1.0)

    def _begin_step(self, grads, trainable_variables, learning_rate):
        # One decision per step (StepScalarsMixin), read by every update_step of this step.
        counter = self._update_counter + 1
        update = ops.greater_equal(ops.cast(counter, "float32"), 1.0 / self._update_probability())
        draw = _probes.uniform_scalar(self._seed, _BALANCE_STREAM, self.iterations)
        balance = ops.logical_and(update, draw < BALANCE_PROBABILITY)
        self.assign(self._update_counter, ops.where(update, ops.zeros_like(counter), counter))
        return update, balance

    def _compute_step_scalars(self, learning_rate, dtype):
        return self._begun_step()

    # --- one variable ----------------------------------------------------------------------

    def update_step(self, gradient, variable, learning_rate):
        i = self._get_variable_index(variable)
        (shape, diag), momentum, factors = self._plans[i], self._momentums[i], self._factors[i]
        dtype = momentum.dtype
        update, balance = self._step_scalars(learning_rate, dtype)
        grad = ops.reshape(ops.cast(dense_gradient(gradient), dtype), shape)
        t = ops.cast(self.iterations + 1, dtype)
        beta_1 = kr.constant(self.beta_1, dtype)
        m = ops.reshape(momentum, shape)
        m = m + (1.0 - beta_1) * (grad - m)
        self.assign(momentum, ops.reshape(m, momentum.shape))
        debiased = m / (1.0 - ops.power(beta_1, t))
        qs = [ops.convert_to_tensor(q) for q in factors]

        def fitted():
            q_now = qs
            if len(shape) > 1:
                q_now = _balanced(qs, balance)
            probe = ops.cast(_probes.normal(shape, self._seed, 4 * i, self.iterations), dtype)
            target = debiased if self.momentum_into_precond_update else grad
            perturbed = target + _SQRT_EPS32 * kr.mean(ops.abs(target)) * probe
            new_qs = _fit(q_now, diag, perturbed, probe, self.preconditioner_learning_rate)
            # kron.py adds the probe noise to the momentum in place (a float32 no-op
            # conversion aliases it), so the step preconditions the perturbed momentum.
            used = perturbed if self.momentum_into_precond_update else debiased
            return new_qs + [used]

        def kept():
            return qs + [debiased]

        out = kr.cond(update, fitted, kept)
        new_qs, used = out[:-1], out[-1]
        for q, value in zip(factors, new_qs):
            self.assign(q, value)
        step = _precondition(new_qs, diag, used)
        rms = ops.sqrt(kr.mean(ops.square(step)))
        step = step * ops.minimum(ops.ones((), dtype), 1.1 / (rms + 1e-12))
        if len(variable.shape) >= 2 and self._decays(variable):
            # kron.py: `if group["weight_decay"] != 0 and p.dim() >= 2`; decoupled, as
            # Keras's base decay (before the step), which is off (OwnWeightDecay).
            rate = ops.cast(learning_rate, variable.dtype)
            wd = ops.cast(self.own_weight_decay, variable.dtype)
            self.assign(variable, variable - variable * wd * rate)
        lr = ops.cast(learning_rate, dtype)
        self.assign_sub(variable, ops.cast(lr * ops.reshape(step, variable.shape),
                                           variable.dtype))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "preconditioner_update_probability": self.preconditioner_update_probability,
                "update_probability_min": self.update_probability_min,
                "update_probability_decay": self.update_probability_decay,
                "update_probability_flat_start": self.update_probability_flat_start,
                "max_size_triangular": self.max_size_triangular,
                "min_ndim_triangular": self.min_ndim_triangular,
                "memory_save_mode": self.memory_save_mode,
                "momentum_into_precond_update": self.momentum_into_precond_update,
                "preconditioner_learning_rate": self.preconditioner_learning_rate,
                "preconditioner_init_scale": self.preconditioner_init_scale,
                "merge_dims": self.merge_dims,
                "seed": self.seed,
            }
        )
        return config


class _ScaledIdentity(keras.initializers.Initializer):
    def __init__(self, scale):
        self.scale = scale

    def __call__(self, shape, dtype=None):
        return self.scale * ops.eye(shape[0], dtype=dtype)

    def get_config(self):
        return {"scale": self.scale}


def _along(x, axis, fn):
    """`fn` applied to the rows of `x` with `axis` moved last: (..., d) -> (..., d)."""
    moved = ops.moveaxis(x, axis, -1)
    return ops.moveaxis(fn(moved), -1, axis)


def _scale_along(x, vector, axis):
    shape = [1] * len(x.shape)
    shape[axis] = vector.shape[0]
    return x * ops.reshape(vector, shape)


def _diag_gram(x, axis):
    rank = len(x.shape)
    if rank == 0:
        return x * x
    others = tuple(j for j in range(rank) if j != axis)
    return ops.sum(ops.square(x), axis=others) if others else ops.square(x)


def _balanced(qs, balance):
    """kron.py `_balance_Q`: every factor rescaled to the geometric mean of their max |q|."""
    norms = ops.stack([ops.max(ops.abs(q)) for q in qs])
    gmean = ops.exp(kr.mean(ops.log(norms)))
    return [ops.where(balance, q * (gmean / norms[k]), q) for k, q in enumerate(qs)]


def _lower_bound(a, max_abs):
    """kron.py `_lb`: a cheap lower bound of the spectral norm of the symmetric `a`."""
    a = a / max_abs
    column = ops.argmax(ops.sum(a * a, axis=0))
    x = ops.take(a, column, axis=1)
    x = kr.matmul(x, a)
    x = x / ops.sqrt(ops.sum(x * x))
    x = kr.matmul(a, x)
    return ops.sqrt(ops.sum(x * x)) * max_abs


def _fit(qs, diag, h, v, step):
    """kron.py `_update_precond` with `_calc_A_and_conjB`: one fitting step of every factor."""
    rank = len(h.shape)
    dtype = h.dtype
    tiny = float(np.finfo(keras.backend.standardize_dtype(dtype)).tiny)
    if rank == 0:
        q = qs[0]
        a, b = q * h, v / q
        t1, t2 = a * a - b * b, a * a + b * b
        return [q - step * t1 * q / ops.maximum(ops.abs(t2), tiny)]
    a, conj_b = h, v
    for k, (q, d) in enumerate(zip(qs, diag)):
        if d:
            a = _scale_along(a, q, k)
            conj_b = _scale_along(conj_b, 1.0 / q, k)
        else:
            # A: sum_N Q[a, N] H[.., N, ..];  conj B: V[.., i, ..] (Q^-1)[i, j] (a right solve).
            a = kr.along_axis(a, q, k, transpose=True)
            conj_b = _along(conj_b, k, lambda x, q=q: _right_solve_upper(x, q))
    new_qs = []
    for k, (q, d) in enumerate(zip(qs, diag)):
        if d:
            ga, gb = _diag_gram(a, k), _diag_gram(conj_b, k)
            t1, t2 = (ga - gb) * step, ga + gb
            new_qs.append(q - t1 * q / ops.maximum(ops.max(ops.abs(t2)), tiny))
        else:
            ga, gb = kr.axis_gram(a, k), kr.axis_gram(conj_b, k)
            t1, t2 = (ga - gb) * step, ga + gb
            norm = ops.max(ops.abs(t2))
            safe = ops.where(norm > 0, norm, ops.ones_like(norm))
            bound = ops.where(norm > 0, _lower_bound(t2, safe), norm)
            new_qs.append(q - kr.matmul(ops.triu(t1) / ops.maximum(bound, tiny), q))
    return new_qs


def _right_solve_upper(x, q):
    """`x @ inv(q)` for an upper-triangular `q`, `x` of shape (..., d)."""
    rows = ops.reshape(x, (-1, x.shape[-1]))
    solved = ops.linalg.solve_triangular(ops.transpose(q), ops.transpose(rows), lower=True)
    return ops.reshape(ops.transpose(solved), x.shape)


def _precondition(qs, diag, h):
    """kron.py `_precond_grad`: H multiplied along each axis by Q_k^T Q_k."""
    if len(h.shape) == 0:
        return qs[0] * qs[0] * h
    for k, (q, d) in enumerate(zip(qs, diag)):
        if d:
            h = _scale_along(h, q * q, k)
        else:
            h = kr.along_axis(h, kr.matmul(ops.transpose(q), q), k)
    return h
