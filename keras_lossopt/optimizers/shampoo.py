"""Shampoo with grafting: the Distributed Shampoo variant that won AlgoPerf (Shi et al., 2023)."""

import itertools

from keras import ops
from keras.optimizers import Optimizer

from keras_lossopt import _checks
from keras_lossopt.optimizers import _kronecker as kr
from keras_lossopt.optimizers._sparse import dense_gradient
from keras_lossopt.optimizers._step_scalars import StepScalarsMixin
from keras_lossopt.registry import register

__all__ = ["Shampoo"]

GRAFTINGS = ("adam", "adagrad", "rmsprop", "sgd", None)
_NORM_EPSILON = 1e-16  # distributed_shampoo.py: EPSILON, added to the Shampoo step's norm
NEWTON_MAX_ITERATIONS = 1000  # matrix_functions.py defaults
NEWTON_TOLERANCE = 1e-6


def merge_small_dims(shape, max_dim):
    """Distributed Shampoo's `merge_small_dims`: drop size-1 axes, merge while the product fits."""
    squeezed = [d for d in shape if d > 1] or [1]
    merged = [squeezed[0]]
    for size in squeezed[1:]:
        if merged[-1] * size <= max_dim:
            merged[-1] *= size
        else:
            merged.append(size)
    return tuple(merged)


def block_grid(shape, max_dim):
    """`multi_dim_split`: per axis, the `(start, size)` chunks of at most `max_dim`."""
    return [[(s, min(max_dim, d - s)) for s in range(0, d, max_dim)] for d in shape]


def plan(shape, max_dim, merge_dims):
    """`(merged shape, blocks)`: each block a tuple of `(start, size)` per axis, row-major."""
    shape = tuple(int(d) for d in shape)
    merged = merge_small_dims(shape, max_dim) if merge_dims else shape
    return merged, list(itertools.product(*block_grid(merged, max_dim)))


@register("optimizer", name="shampoo")
class Shampoo(StepScalarsMixin, Optimizer):
    """Shampoo: Kronecker-factored preconditioning with the step size grafted from Adam.

    For each (block of a) weight, Shampoo accumulates one factor per axis,
    `L = EMA(G G^T)` and `R = EMA(G^T G)` for a matrix, and steps along
    `L^(-1/4) M R^(-1/4)` (M the filtered gradient). The inverse roots are
    recomputed only every `precondition_frequency` steps, by a symmetric
    eigendecomposition. Grafting rescales each block's step to the norm of the
    step Adam (or AdaGrad, RMSprop, SGD) would take, so Shampoo inherits Adam's
    learning rate and schedule: replace AdamW by Shampoo with the same
    `learning_rate`, `beta_1`, `beta_2` and `weight_decay`. Until
    `start_preconditioning_step` the grafted method itself is used.
    Dimensions are merged (`merge_dims`) and tensors larger than
    `max_preconditioner_dim` along an axis are split into blocks, each with its
    own factors and grafting norm, so the cost per refresh is `O(b^3)` for
    blocks of size `b`.

    Update rule at step `t = 1, 2, ...` for a block `G` of order `r` (its
    number of axes after merging) with root `p = 2 r` (`p = 4` for matrices):

        L_k = beta_2 L_k + (1 - beta_2) G_(k) G_(k)^T      (sum if beta_2 = 1)
        A = grafting_beta_2 A + (1 - grafting_beta_2) G^2  (adam, rmsprop)
        A = A + G^2                                          (adagrad)
        if t == start_preconditioning_step or
           (t > start_preconditioning_step and t % precondition_frequency == 0):
            X_k = (L_k / (1 - beta_2^t) + epsilon I)^(-1/p)
                  (eigendecomposition; eigenvalues shifted to >= 0 first)
        M = beta_1 M + (1 - beta_1) G
        F = beta_1 M + (1 - beta_1) G                        if nadam, else M
        F = F / (1 - beta_1^t)
        D_graft = F / (sqrt(A / (1 - grafting_beta_2^t)) + grafting_epsilon)
                  (no bias correction for adagrad/rmsprop; D_graft = F for sgd)
        D = F x_1 X_1 ... x_r X_r                           (L^(-1/4) F R^(-1/4))
        D = D * ||D_graft|| / (||D|| + 1e-16)                (per block)
        D = D_graft                                          while t < start
        W = W - learning_rate * weight_decay * W - learning_rate * D

    Extra memory for an `(m, n)` weight with `m, n <= max_preconditioner_dim`
    and no merging: `m n` (M, if beta_1 > 0) + `m n` (A, except sgd grafting)
    + `2 (m^2 + n^2)` (factors and inverse roots); blocked: `2 sum(b_k^2)`
    over each block's axes. Vectors: `2 n^2` (full-matrix preconditioner).

    Args:
        learning_rate: float >= 0, a `LearningRateSchedule`, or a callable.
            Defaults to `1e-3`.
        beta_1: decay of the filtered gradient `M`, in [0, 1). Defaults to
            `0.9`.
        beta_2: decay of the factors, in (0, 1] (1: AdaGrad-like sums).
            Defaults to `0.999`.
        epsilon: > 0, added to the factors' eigenvalues. Defaults to `1e-8`
            (the AlgoPerf submission's value).
        precondition_frequency: int >= 1, steps between inverse-root
            computations. Defaults to `100`.
        start_preconditioning_step: int >= `precondition_frequency`, or None
            for `precondition_frequency`: the step of the first inverse root;
            the grafted method is used before it. Defaults to `None`.
        max_preconditioner_dim: int >= 1, block size. Defaults to `1024`.
        merge_dims: merge neighbouring axes while their product is
            `<= max_preconditioner_dim` (size-1 axes dropped). Defaults to
            `True`.
        grafting: `"adam"`, `"adagrad"`, `"rmsprop"`, `"sgd"` or None.
            Defaults to `"adam"`.
        grafting_beta_2: decay of the grafting accumulator `A` (adam, rmsprop),
            in (0, 1], or None for `beta_2`. Defaults to `None`.
        grafting_epsilon: > 0, the grafted method's epsilon. Defaults to
            `1e-8`.
        nadam: NAdam-style `F = beta_1 M + (1 - beta_1) G` (the authors'
            `use_nadam`; the AlgoPerf submission tuned it, mostly True).
            Defaults to `False`.
        use_bias_correction: bias corrections of `M` and of the factors.
            Defaults to `True`.
        weight_decay: Keras's decoupled decay, which is the authors'
            `use_decoupled_weight_decay=True` (AdamW-style). Defaults to `None`.
        clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor,
        gradient_accumulation_steps: Keras's base optimizer keywords.
        name: Defaults to `"shampoo"`.

    Inverse roots are computed in the variable's dtype (float32 for 16-bit
    variables, float64 stays float64) by `ops.linalg.eigh`. If that gives a
    non-finite result, a coupled Newton iteration (at most 1000 iterations,
    tolerance 1e-6, as in the authors' `matrix_functions`) is used instead;
    if that also fails, or the factor itself is not finite (where the authors
    raise), the previous inverse root is kept (the authors'
    `use_protected_eigh`). `epsilon > 0` keeps singular factors (e.g. zero
    gradients) finite.

    Example:

    >>> import keras, keras_lossopt, numpy as np
    >>> target = np.array([[1.0, -1.0, 2.0], [0.5, 0.0, -0.5]])
    >>> w = keras.Variable(np.zeros((2, 3)), dtype="float32")
    >>> opt = keras_lossopt.optimizers.Shampoo(learning_rate=0.1, precondition_frequency=5,
    ...                                        merge_dims=False)
    >>> for _ in range(15):  # Adam (grafting) for 4 steps, then Shampoo
    ...     _ = opt.apply_gradients([(keras.ops.convert_to_tensor(w.numpy() - target), w)])
    >>> bool(np.abs(w.numpy() - target).max() < 0.5)
    True
    >>> [tuple(v.shape) for v in opt.variables if "inverse_root" in v.name]  # L, R roots
    [(2, 2), (3, 3)]

    References:
        - Shi, Lee, Iwasaki, Gallego-Posada, Li, Rangadurai, Mudigere & Rabbat,
          2023, "A Distributed Data-Parallel PyTorch Implementation of the
          Distributed Shampoo Optimizer for Training Neural Networks At-Scale",
          https://arxiv.org/abs/2309.06497.
        - Gupta, Koren & Singer, 2018, "Shampoo: Preconditioned Stochastic
          Tensor Optimization", https://arxiv.org/abs/1802.09568.
        - The authors' code as submitted to AlgoPerf v0.5 (winner of the
          external-tuning track), https://github.com/mlcommons/submissions_algorithms
          (previous_leaderboards/algoperf_v05/submissions/external_tuning/
          shampoo_submission: distributed_shampoo.py, shampoo_preconditioner_list.py,
          matrix_functions.py), with the submission's fixed settings as defaults
          (epsilon 1e-8, precondition_frequency 100, max_preconditioner_dim 1024,
          Adam grafting with grafting_epsilon 1e-8 and grafting_beta_2 = beta_2,
          merged dims, bias correction, decoupled decay).

    Follows the authors' code where it differs from the papers: grafting norms
    are per block; inverse factors are zero before the first root (so with
    `grafting=None` nothing moves before `start_preconditioning_step`); the
    root is `-1 / (2 r)` for every order `r`. Not included: the momentum
    (`momentum`, `use_nesterov`, unused in AlgoPerf's winning settings),
    `inv_root_override`, `exponent_multiplier`, normalized grafting, row-wise
    AdaGrad for embeddings and the distributed/FSDP machinery. Their check
    whether a factor has always been diagonal (then `(diag + epsilon)^(-1/p)`)
    is dropped: the eigendecomposition of a diagonal factor gives the same.
    """

    # The harness's runs are 4-6 steps: inverse roots every 2 so that its XLA, resume
    # and distribution checks cover them; epsilon 1e-3 because the tiny model's
    # float32 factors are near-singular, and (lambda + 1e-8)^(-1/4) of their smallest
    # eigenvalues amplifies rounding (eager vs XLA eigh) far above the checks' 1e-5.
    conformance_settings = ({"precondition_frequency": 2, "epsilon": 1e-3},)

    def __init__(
        self,
        learning_rate=1e-3,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        precondition_frequency=100,
        start_preconditioning_step=None,
        max_preconditioner_dim=1024,
        merge_dims=True,
        grafting="adam",
        grafting_beta_2=None,
        grafting_epsilon=1e-8,
        nadam=False,
        use_bias_correction=True,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="shampoo",
        **kwargs,
    ):
        _checks.check_learning_rate(learning_rate)
        _checks.check_beta("beta_1", beta_1)
        _checks.check_real("beta_2", beta_2, low=0, low_inclusive=False, high=1)
        _checks.check_positive("epsilon", epsilon)
        precondition_frequency = _checks.check_positive_int(
            "precondition_frequency", precondition_frequency)
        if start_preconditioning_step is not None:
            start_preconditioning_step = _checks.check_positive_int(
                "start_preconditioning_step", start_preconditioning_step)
            if start_preconditioning_step < precondition_frequency:
                raise ValueError(
                    "`start_preconditioning_step` must be >= `precondition_frequency` "
                    f"({precondition_frequency}). Received: "
                    f"start_preconditioning_step={start_preconditioning_step}")
        max_preconditioner_dim = _checks.check_positive_int(
            "max_preconditioner_dim", max_preconditioner_dim)
        _checks.check_choice("merge_dims", merge_dims, (True, False))
        _checks.check_choice("grafting", grafting, GRAFTINGS)
        if grafting_beta_2 is not None:
            _checks.check_real("grafting_beta_2", grafting_beta_2, low=0, low_inclusive=False,
                               high=1)
        _checks.check_positive("grafting_epsilon", grafting_epsilon)
        _checks.check_choice("nadam", nadam, (True, False))
        _checks.check_choice("use_bias_correction", use_bias_correction, (True, False))
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
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.precondition_frequency = precondition_frequency
        self.start_preconditioning_step = start_preconditioning_step
        self.max_preconditioner_dim = max_preconditioner_dim
        self.merge_dims = bool(merge_dims)
        self.grafting = grafting
        self.grafting_beta_2 = grafting_beta_2
        self.grafting_epsilon = grafting_epsilon
        self.nadam = bool(nadam)
        self.use_bias_correction = bool(use_bias_correction)

    @property
    def _start(self):
        if self.start_preconditioning_step is None:
            return self.precondition_frequency
        return self.start_preconditioning_step

    @property
    def _graft_beta_2(self):
        if self.grafting == "adagrad":
            return 1.0
        return self.beta_2 if self.grafting_beta_2 is None else self.grafting_beta_2

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._plans, self._filtered, self._graft_states = [], [], []
        self._factors, self._roots = [], []
        for var in var_list:
            if getattr(var, "overwrite_with_gradient", False):
                for slots in (self._plans, self._filtered, self._graft_states,
                              self._factors, self._roots):
                    slots.append(None)
                continue
            merged, blocks = plan(var.shape, self.max_preconditioner_dim, self.merge_dims)
            dtype = kr.compute_dtype(var.dtype)
            self._plans.append((merged, blocks))
            self._filtered.append(kr.slot_like(self, var, "filtered_grad", dtype)
                                  if self.beta_1 > 0 else None)
            self._graft_states.append(
                kr.slot_like(self, var, f"{self.grafting}_grafting", dtype)
                if self.grafting not in ("sgd", None) else None)
            factors, roots = [], []
            for b, block in enumerate(blocks):
                factors.append([self.add_variable(
                    (size, size), dtype=dtype, name=kr.state_name(var, f"factor_{b}_{k}"))
                    for k, (_, size) in enumerate(block)])
                roots.append([self.add_variable(
                    (size, size), dtype=dtype, name=kr.state_name(var, f"inverse_root_{b}_{k}"))
                    for k, (_, size) in enumerate(block)])
            self._factors.append(factors)
            self._roots.append(roots)

    def _compute_step_scalars(self, learning_rate, dtype):
        t_int = self.iterations + 1
        t = ops.cast(t_int, dtype)
        one = ops.ones((), dtype)

        def correction(beta, on):
            if not on or beta >= 1.0:
                return one
            return 1.0 - ops.power(kr.constant(beta, dtype), t)

        factor_correction = correction(self.beta_2, self.use_bias_correction)
        filtered_correction = correction(self.beta_1, self.use_bias_correction and self.beta_1 > 0)
        graft_correction = correction(self._graft_beta_2, self.grafting == "adam")
        start = self._start
        compute_root = ops.logical_or(
            ops.equal(t_int, start),
            ops.logical_and(ops.greater(t_int, start),
                            ops.equal(t_int % self.precondition_frequency, 0)))
        grafting_only = ops.logical_and(ops.less(t_int, start), self.grafting is not None)
        return factor_correction, filtered_correction, graft_correction, compute_root, grafting_only

    def update_step(self, gradient, variable, learning_rate):
        i = self._get_variable_index(variable)
        (merged, blocks), filtered, graft_state = self._plans[i], self._filtered[i], self._graft_states[i]
        factors, roots = self._factors[i], self._roots[i]
        dtype = kr.compute_dtype(variable.dtype)
        (factor_correction, filtered_correction, graft_correction, compute_root,
         grafting_only) = self._step_scalars(learning_rate, dtype)
        grad = ops.reshape(ops.cast(dense_gradient(gradient), dtype), merged)
        grad_blocks = [_block(grad, block) for block in blocks]

        # Shampoo factors and the grafting accumulator, from the raw gradient.
        beta_2 = self.beta_2
        new_factors = []
        for block_grad, block_factors in zip(grad_blocks, factors):
            grams = [kr.axis_gram(block_grad, k) for k in range(len(block_factors))]
            if beta_2 == 1.0:
                new_factors.append([f + g for f, g in zip(block_factors, grams)])
            else:
                new_factors.append([beta_2 * f + (1.0 - beta_2) * g
                                    for f, g in zip(block_factors, grams)])
        for block_factors, values in zip(factors, new_factors):
            for f, value in zip(block_factors, values):
                self.assign(f, value)
        if graft_state is not None:
            a = ops.reshape(graft_state, merged)
            graft_beta_2 = self._graft_beta_2
            a = a + ops.square(grad) if graft_beta_2 == 1.0 else (
                graft_beta_2 * a + (1.0 - graft_beta_2) * ops.square(grad))
            self.assign(graft_state, ops.reshape(a, graft_state.shape))

        # Inverse roots every precondition_frequency steps (a conditional, so XLA keeps it).
        flat_factors = [f for fs in new_factors for f in fs]
        flat_roots = [ops.convert_to_tensor(r) for rs in roots for r in rs]
        if flat_factors:
            order = len(merged)
            new_roots = kr.cond(
                compute_root,
                lambda: [protected_inverse_root(f / factor_correction, 2 * order, self.epsilon, r)
                         for f, r in zip(flat_factors, flat_roots)],
                lambda: list(flat_roots),
            )
            for r, value in zip([r for rs in roots for r in rs], new_roots):
                self.assign(r, value)
            flat_roots = list(new_roots)

        # Filtered gradient, grafted and Shampoo directions.
        if filtered is not None:
            m = ops.reshape(filtered, merged)
            m = self.beta_1 * m + (1.0 - self.beta_1) * grad
            self.assign(filtered, ops.reshape(m, filtered.shape))
            f = self.beta_1 * m + (1.0 - self.beta_1) * grad if self.nadam else m
            f = f / filtered_correction
        else:
            f = grad
        if graft_state is not None:
            graft = f / (ops.sqrt(a / graft_correction) + kr.constant(self.grafting_epsilon, dtype))
        else:
            graft = f
        directions, position = [], 0
        for block in blocks:
            block_f = _block(f, block)
            count = len(block)
            direction = kr.mode_product(block_f, flat_roots[position:position + count])
            position += count
            if self.grafting is not None:
                scale = _norm(_block(graft, block)) / (_norm(direction) + _NORM_EPSILON)
                direction = direction * scale
            directions.append(direction)
        direction = _assemble(directions, blocks, merged)
        if self.grafting is not None:
            direction = ops.where(grafting_only, graft, direction)
        lr = ops.cast(learning_rate, dtype)
        self.assign_sub(variable, ops.cast(lr * ops.reshape(direction, variable.shape),
                                           variable.dtype))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "precondition_frequency": self.precondition_frequency,
                "start_preconditioning_step": self.start_preconditioning_step,
                "max_preconditioner_dim": self.max_preconditioner_dim,
                "merge_dims": self.merge_dims,
                "grafting": self.grafting,
                "grafting_beta_2": self.grafting_beta_2,
                "grafting_epsilon": self.grafting_epsilon,
                "nadam": self.nadam,
                "use_bias_correction": self.use_bias_correction,
            }
        )
        return config


def _norm(x):
    return ops.sqrt(ops.sum(ops.square(x)))


def _block(x, block):
    """The slice of `x` a block covers (x itself for a single whole-tensor block)."""
    if all(start == 0 and size == dim for (start, size), dim in zip(block, x.shape)):
        return x
    return ops.slice(x, [start for start, _ in block], [size for _, size in block])


def _assemble(pieces, blocks, shape):
    """Inverse of the row-major split into `blocks`: concatenates along each axis."""
    if len(pieces) == 1:
        return pieces[0]
    grid = [len({block[k][0] for block in blocks}) for k in range(len(shape))]

    def join(items, axis):
        if axis == len(grid):
            return items[0]
        stride = len(items) // grid[axis]
        parts = [join(items[j * stride:(j + 1) * stride], axis + 1) for j in range(grid[axis])]
        return ops.concatenate(parts, axis=axis) if len(parts) > 1 else parts[0]

    return join(pieces, 0)


def eigen_inverse_root(a, root, epsilon):
    """`(a + epsilon I)^(-1/root)` by eigh, eigenvalues first shifted to >= 0.

    matrix_functions.py `_matrix_root_eigen(make_positive_semidefinite=True)`.
    """
    eigenvalues, vectors = ops.linalg.eigh(a)
    eigenvalues = eigenvalues - ops.minimum(ops.min(eigenvalues), 0.0) + epsilon
    scaled = vectors * ops.power(eigenvalues, -1.0 / root)[None, :]
    return kr.matmul(scaled, ops.transpose(vectors))


def newton_inverse_root(a, root, epsilon, max_iterations=NEWTON_MAX_ITERATIONS,
                        tolerance=NEWTON_TOLERANCE):
    """`(a + epsilon I)^(-1/root)` by the coupled inverse Newton iteration.

    matrix_functions.py `_matrix_inverse_root_newton`: with z = (p + 1) / (2 ||A||_F),
    X = z^(1/p) I, M = z A; repeat M' = (1 + 1/p) I - M / p, X = X M', M = M'^p M
    until max |M - I| <= tolerance.
    """
    size = a.shape[0]
    eye = ops.eye(size, dtype=a.dtype)
    a = a + epsilon * eye
    alpha = -1.0 / root
    z = (root + 1) / (2.0 * ops.sqrt(ops.sum(ops.square(a))))
    x = ops.power(z, -alpha) * eye
    m = z * a

    def error(m):
        return ops.max(ops.abs(m - eye))

    def cond(i, x, m, err):
        return ops.logical_and(err > tolerance, i < max_iterations)

    def body(i, x, m, err):
        m_p = (1.0 - alpha) * eye + alpha * m
        x = kr.matmul(x, m_p)
        power = m_p
        for _ in range(root - 1):
            power = kr.matmul(power, m_p)
        m = kr.matmul(power, m)
        return i + 1, x, m, error(m)

    _, x, _, _ = ops.while_loop(cond, body, (ops.zeros((), "int32"), x, m, error(m)))
    return x


def protected_inverse_root(a, root, epsilon, previous):
    """eigh; if not finite, the coupled Newton iteration; if still not, `previous`.

    A non-finite factor (the authors raise a ValueError there, which a compiled
    step cannot) also keeps `previous`.
    """
    x = eigen_inverse_root(a, root, epsilon)
    x = kr.cond(kr.all_finite(x), lambda: x, lambda: newton_inverse_root(a, root, epsilon))
    return ops.where(ops.logical_and(kr.all_finite(a), kr.all_finite(x)), x, previous)
