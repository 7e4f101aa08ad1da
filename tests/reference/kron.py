"""Numpy reference of PSGD Kron, transcribed from the reference code.

Source: Li 2017/2024 (https://arxiv.org/abs/1512.04202, https://arxiv.org/abs/2402.11858),
with every detail of https://github.com/evanatyourservice/kron_torch/blob/main/kron_torch/kron.py
(Kron.step, precond_update_prob_schedule, _init_Q_exprs, _balance_Q, _lb,
_solve_triangular_right, _calc_A_and_conjB, _update_precond, _precond_grad,
_clip_update_rms), einsum expressions written out. Float64 throughout (kron.py solves
in float32: `.float()`).

Kept as in kron.py: for float32 parameters (precond_dtype = param dtype) the probe noise
is added to the debiased momentum in place (`G += ...` inside `_calc_A_and_conjB`
on an aliased tensor), so the preconditioned step uses the perturbed momentum.

The one deliberate replacement: `torch.randn_like(G)` and `self.rng.random()` are
replaced by the counter-based generator keras_lossopt documents in
keras_lossopt/optimizers/_probes.py (Threefry-style add-rotate-xor on 30-bit words,
20 rounds, Box-Muller in float32), implemented here from that specification so that
both sides draw the same probes.
"""

import numpy as np

# ---- the counter-based generator, from its specification ----------------------------

BITS = 30
MASK = (1 << BITS) - 1
ROT = (13, 15, 26, 6, 17, 29, 16, 24)
PARITY = 0x1BD11BDA & MASK
BALANCE_STREAM = (1 << 29) + 7


def _rotl(x, r):
    return ((x << r) & MASK) | (x >> (BITS - r))


def threefry30(k0, k1, c0, c1):
    k0, k1 = np.int64(k0) & MASK, np.int64(k1) & MASK
    keys = (k0, k1, k0 ^ k1 ^ PARITY)
    x0 = (np.asarray(c0, np.int64) + keys[0]) & MASK
    x1 = (np.asarray(c1, np.int64) + keys[1]) & MASK
    for i in range(20):
        x0 = (x0 + x1) & MASK
        x1 = _rotl(x1, ROT[i % 8]) ^ x0
        if i % 4 == 3:
            s = i // 4 + 1
            x0 = (x0 + keys[s % 3]) & MASK
            x1 = (x1 + keys[(s + 1) % 3] + s) & MASK
    return x0, x1


def uniforms(k0, k1, c0, c1):
    w0, w1 = threefry30(k0, k1, c0, c1)
    scale = np.float32(1.0 / (1 << BITS))
    return [(w.astype(np.float32) + np.float32(0.5)) * scale for w in (w0, w1)]


def normal(shape, seed, stream, step):
    size = int(np.prod(shape)) if len(shape) else 1
    pairs = (size + 1) // 2
    u1, u2 = uniforms(seed, stream, np.full(pairs, step), np.arange(pairs))
    r = np.sqrt(np.float32(-2.0) * np.log(u1))
    angle = np.float32(2.0 * np.pi) * u2
    values = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1).reshape(-1)
    return values[:size].reshape(shape).astype(np.float64)


# ---- kron.py -------------------------------------------------------------------------


def _lb(a, max_abs):
    a = a / max_abs
    a0 = np.einsum("ij,ij->j", a, a)
    i = np.argmax(a0)
    x = a[:, i]
    x = np.einsum("i,ij->j", x, a)
    x = x / np.linalg.norm(x)
    x = np.einsum("j,kj->k", x, a)
    return np.linalg.norm(x) * max_abs


def _mode(x, mat, axis):
    """sum_N mat[a, N] x[.., N, ..] (the einsum of exprA for a triangular factor)."""
    return np.moveaxis(np.tensordot(mat, x, axes=([1], [axis])), 0, axis)


def _along_last(x, axis, fn):
    return np.moveaxis(fn(np.moveaxis(x, axis, -1)), -1, axis)


class KronReference:
    def __init__(self, learning_rate=3e-4, beta_1=0.9, weight_decay=0.0,
                 preconditioner_update_probability=None, update_probability_min=0.03,
                 update_probability_decay=0.001, update_probability_flat_start=500,
                 max_size_triangular=8192, min_ndim_triangular=2, memory_save_mode=None,
                 momentum_into_precond_update=True, preconditioner_learning_rate=0.1,
                 preconditioner_init_scale=1.0, merge_dims=True, seed=0, variable_index=0):
        self.lr, self.b1, self.wd = learning_rate, beta_1, weight_decay or 0.0
        self.prob = preconditioner_update_probability
        self.min_prob, self.decay = update_probability_min, update_probability_decay
        self.flat_start = update_probability_flat_start
        self.max_size, self.min_ndim = max_size_triangular, min_ndim_triangular
        self.mode, self.into = memory_save_mode, momentum_into_precond_update
        self.precond_lr, self.init_scale = preconditioner_learning_rate, preconditioner_init_scale
        self.merge, self.seed, self.index = merge_dims, seed, variable_index
        self.prob_step = 0
        self.update_counter = 0
        self.state = None

    def _schedule(self, n):
        if self.prob is not None:
            return np.float32(self.prob)
        # ProbScheduler._schedule_fn, float32 tensors
        p = np.float32(1.0) * np.exp(np.float32(-self.decay) * (np.float32(n)
                                                                - np.float32(self.flat_start)))
        return np.float32(np.clip(p, np.float32(self.min_prob), np.float32(1.0)))

    def _init(self, g):
        shape = g.shape
        if len(shape) == 0:
            return [self.init_scale * np.ones(())], [True]
        scale = self.init_scale ** (1 / len(shape))
        if self.mode is None:
            dim_diag = [False] * len(shape)
        elif self.mode == "smart_one_diag":
            rev = np.argsort(shape)[::-1]
            dim_diag = [False] * len(shape)
            srt = sorted(shape)
            if len(shape) > 1 and srt[-1] > srt[-2]:
                dim_diag[rev[0]] = True
        elif self.mode == "one_diag":
            rev = np.argsort(shape)[::-1]
            dim_diag = [False] * len(shape)
            dim_diag[rev[0]] = True
        else:
            dim_diag = [True] * len(shape)
        qs, diag = [], []
        for size, d in zip(shape, dim_diag):
            if size == 1 or size > self.max_size or len(shape) < self.min_ndim or d:
                qs.append(scale * np.ones(size))
                diag.append(True)
            else:
                qs.append(scale * np.eye(size))
                diag.append(False)
        return qs, diag

    def step(self, p, grad):
        p = np.array(p, dtype=np.float64)
        grad = np.asarray(grad, dtype=np.float64)
        # per-step decision (Kron.step, before the parameter loop)
        update_prob = self._schedule(self.prob_step)
        self.update_counter += 1
        do_update = np.float32(self.update_counter) >= np.float32(1) / update_prob
        if do_update:
            self.update_counter = 0
        step_index = self.prob_step  # = the number of earlier steps
        self.prob_step += 1
        balance = bool(do_update) and (
            uniforms(self.seed, BALANCE_STREAM, step_index, 0)[0] < 0.01)

        if self.state is None:
            g = grad
            if g.ndim > 2 and self.merge:
                shape1 = [int(np.prod(g.shape[:-1])), g.shape[-1]]
                shape2 = [g.shape[0], int(np.prod(g.shape[1:]))]
                shape = shape1 if np.diff(shape1) <= np.diff(shape2) else shape2
            else:
                shape = list(g.shape)
            qs, diag = self._init(g.reshape(shape))
            self.state = dict(step=0, shape=tuple(shape), mu=np.zeros(shape), Q=qs, diag=diag)
        st = self.state
        st["step"] += 1
        g = grad.reshape(st["shape"])
        st["mu"] = self.b1 * st["mu"] + (1 - self.b1) * g
        debiased = st["mu"] / (1 - self.b1 ** st["step"])
        if g.ndim > 1 and balance:  # _balance_Q
            norms = np.array([np.max(np.abs(q)) for q in st["Q"]])
            gm = np.exp(np.mean(np.log(norms)))
            st["Q"] = [q * (gm / n) for q, n in zip(st["Q"], norms)]
        if do_update:
            target = debiased if self.into else g.copy()
            v = normal(g.shape, self.seed, 4 * self.index, step_index)
            eps = np.float32(np.finfo(np.float32).eps)
            target = target + np.sqrt(eps) * np.mean(np.abs(target)) * v  # G += (in place)
            if self.into:
                debiased = target
            self._update_precond(target, v)
        pre = self._precond_grad(debiased)
        pre = pre * min(1.0, 1.1 / (np.sqrt(np.mean(pre ** 2)) + 1e-12))  # _clip_update_rms
        pre = pre.reshape(p.shape)
        if self.wd != 0 and p.ndim >= 2:
            pre = pre + self.wd * p
        return p - self.lr * pre

    def _update_precond(self, G, V):
        qs, diag = self.state["Q"], self.state["diag"]
        order = G.ndim
        tiny = np.finfo(np.float64).tiny
        if order == 0:
            q = qs[0]
            a, b = q * G, V / q
            t1 = (a * a - b * b) * self.precond_lr
            self.state["Q"] = [q - t1 * q / max(abs(a * a + b * b), tiny)]
            return
        # _calc_A_and_conjB: A = einsum(exprA, *Q, G); conjB = V ./ or solved per axis
        A = G
        conjB = V
        for k, (q, d) in enumerate(zip(qs, diag)):
            if d:
                shape = [1] * order
                shape[k] = q.shape[0]
                A = A * q.reshape(shape)
                conjB = conjB / q.reshape(shape)
            else:
                A = _mode(A, q, k)
                # _solve_triangular_right: X @ inv(Q) on the axis
                conjB = _along_last(conjB, k, lambda x, q=q: np.linalg.solve(q.T, x.reshape(
                    -1, x.shape[-1]).T).T.reshape(x.shape))
        new = []
        for k, (q, d) in enumerate(zip(qs, diag)):
            others = [j for j in range(order) if j != k]
            if d:
                ta = np.sum(A * A, axis=tuple(others)) if others else A * A
                tb = np.sum(conjB * conjB, axis=tuple(others)) if others else conjB * conjB
                term1, term2 = ta - tb, ta + tb
                term1 = term1 * self.precond_lr
                norm = np.max(np.abs(term2))
                new.append(q - term1 * q / max(norm, tiny))
            else:
                ta = np.tensordot(A, A, axes=(others, others)) if others else np.outer(A, A)
                tb = (np.tensordot(conjB, conjB, axes=(others, others)) if others
                      else np.outer(conjB, conjB))
                term1, term2 = ta - tb, ta + tb
                term1 = term1 * self.precond_lr
                norm = np.max(np.abs(term2))
                term1 = np.triu(term1)
                denom = _lb(term2, norm) if norm > 0 else norm
                new.append(q - (term1 / max(denom, tiny)) @ q)
        self.state["Q"] = new

    def _precond_grad(self, G):
        qs, diag = self.state["Q"], self.state["diag"]
        if G.ndim == 0:
            return qs[0] * qs[0] * G
        out = G
        for k, (q, d) in enumerate(zip(qs, diag)):
            if d:
                shape = [1] * G.ndim
                shape[k] = q.shape[0]
                out = out * (q * q).reshape(shape)
            else:
                out = _mode(out, q.T @ q, k)  # sum_{a,c} Q[a,b] Q[a,c] G[c]
        return out
