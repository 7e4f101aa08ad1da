"""Numpy reference of Distributed Shampoo with grafting, transcribed from the authors' code.

Source: Shi et al. 2023, "A Distributed Data-Parallel PyTorch Implementation of the
Distributed Shampoo Optimizer" (https://arxiv.org/abs/2309.06497), with every detail of
the code submitted to AlgoPerf v0.5 (mlcommons/submissions_algorithms,
previous_leaderboards/algoperf_v05/submissions/external_tuning/shampoo_submission/
optimizers/): distributed_shampoo.py (DistributedShampoo.step, _per_group_step_impl),
utils/shampoo_preconditioner_list.py (AdagradPreconditionerList,
ShampooPreconditionerList, SGDPreconditionerList), utils/shampoo_utils.py
(merge_small_dims, multi_dim_split), matrix_functions.py (matrix_inverse_root,
_matrix_root_eigen, matrix_root_diagonal, check_diagonal). Single device, momentum 0,
use_decoupled_weight_decay=True, use_normalized_grafting=False, inv_root_override=0,
exponent_multiplier=1. Float64 throughout.

Kept as in their code: the diagonal shortcut (a factor that has always been diagonal
gets (diag + eps)^(-1/p)); inverse factors start at zero; grafting norms per block.
"""

import itertools

import numpy as np

EPSILON = 1e-16  # distributed_shampoo.py module constant


def merge_small_dims(shape, threshold):
    squeezed = [t for t in shape if t > 1] or [1]
    new = [squeezed[0]]
    for nxt in squeezed[1:]:
        if new[-1] * nxt <= threshold:
            new[-1] *= nxt
        else:
            new.append(nxt)
    return tuple(new)


def multi_dim_split(x, split_size):
    pieces = [x]
    if all(s <= split_size for s in x.shape):
        return pieces
    for dim in range(x.ndim):
        pieces = [s for t in pieces
                  for s in np.split(t, list(range(split_size, t.shape[dim], split_size)),
                                    axis=dim)]
    return pieces


def _inverse_root(a, root, epsilon, is_diagonal):
    if a.size == 1:
        return (a + epsilon) ** (-1.0 / root)
    if is_diagonal:  # matrix_root_diagonal(return_full_matrix=True)
        return np.diag((np.diag(a) + epsilon) ** (-1.0 / root))
    lam, q = np.linalg.eigh(a)  # _matrix_root_eigen
    lam = lam - min(lam.min(), 0.0)
    lam = lam + epsilon
    return (q * (lam ** (-1.0 / root))[None, :]) @ q.T


class ShampooReference:
    def __init__(self, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 precondition_frequency=100, start_preconditioning_step=None,
                 max_preconditioner_dim=1024, merge_dims=True, grafting="adam",
                 grafting_beta_2=None, grafting_epsilon=1e-8, nadam=False,
                 use_bias_correction=True, weight_decay=0.0):
        self.lr, self.b1, self.b2, self.eps = learning_rate, beta_1, beta_2, epsilon
        self.freq = precondition_frequency
        self.start = (precondition_frequency if start_preconditioning_step in (None, -1)
                      else start_preconditioning_step)
        self.max_dim, self.merge = max_preconditioner_dim, merge_dims
        self.grafting = grafting
        # AdaGrad grafting: beta2 = 1; Adam: bias-corrected; RMSprop: not.
        self.gb2 = 1.0 if grafting == "adagrad" else (
            beta_2 if grafting_beta_2 is None else grafting_beta_2)
        self.geps = grafting_epsilon
        self.nadam, self.bias = nadam, use_bias_correction
        self.wd = weight_decay or 0.0
        self.step_count = 0
        self.state = None

    def _blocks(self, x):
        merged = merge_small_dims(x.shape, self.max_dim) if self.merge else x.shape
        return multi_dim_split(x.reshape(merged), self.max_dim), merged

    def step(self, p, grad):
        p = np.array(p, dtype=np.float64)
        grad_blocks, merged = self._blocks(np.asarray(grad, dtype=np.float64))
        param_blocks, _ = self._blocks(p.copy())
        if self.state is None:
            self.state = [dict(
                factors=[np.zeros((d, d)) for d in g.shape],
                inv=[np.zeros((d, d)) for d in g.shape],
                diagonal=[True for _ in g.shape],
                graft=np.zeros_like(g), filtered=np.zeros_like(g)) for g in grad_blocks]
        self.step_count += 1
        t = self.step_count
        compute_root = (t % self.freq == 0 and t > self.start) or t == self.start
        use_grafting_method = t < self.start and self.grafting is not None

        # update_preconditioners (Shampoo, then grafting) on the raw blocked gradients
        for g, s in zip(grad_blocks, self.state):
            order = g.ndim
            for k in range(order):
                others = [d for d in range(order) if d != k]
                outer = np.tensordot(g, g, axes=(others, others)) if order > 1 else np.outer(g, g)
                if self.b2 != 1.0:
                    s["factors"][k] = self.b2 * s["factors"][k] + (1 - self.b2) * outer
                else:
                    s["factors"][k] = s["factors"][k] + outer
            if self.grafting in ("adam", "adagrad", "rmsprop"):
                if self.gb2 == 1.0:
                    s["graft"] = s["graft"] + g * g
                else:
                    s["graft"] = self.gb2 * s["graft"] + (1 - self.gb2) * g * g
        bc2 = 1.0 - self.b2 ** t if (self.bias and self.b2 < 1.0) else 1.0
        gbc2 = 1.0 - self.gb2 ** t if (self.grafting == "adam" and self.gb2 < 1.0) else 1.0

        if compute_root:  # compute_root_inverse
            for g, s in zip(grad_blocks, self.state):
                root = 2 * g.ndim
                for k, f in enumerate(s["factors"]):
                    if s["diagonal"][k] and np.any(f - np.diag(np.diag(f))):
                        s["diagonal"][k] = False
                    s["inv"][k] = _inverse_root(f / bc2, root, self.eps, s["diagonal"][k])

        new_blocks = []
        for g, pb, s in zip(grad_blocks, param_blocks, self.state):
            if self.b1 != 0.0:
                s["filtered"] = self.b1 * s["filtered"] + (1 - self.b1) * g
                f = s["filtered"]
                if self.nadam:
                    f = self.b1 * f + (1 - self.b1) * g
                if self.bias:
                    f = f / (1.0 - self.b1 ** t)
            else:
                f = g
            if self.grafting in ("adam", "adagrad", "rmsprop"):
                graft_dir = f / (np.sqrt(s["graft"] / gbc2) + self.geps)
            else:
                graft_dir = f
            if use_grafting_method:
                direction = graft_dir
            else:
                direction = f
                for inv in s["inv"]:
                    direction = np.tensordot(direction, inv, axes=([0], [0]))
                if self.grafting is not None:
                    direction = direction * (np.linalg.norm(graft_dir)
                                             / (np.linalg.norm(direction) + EPSILON))
            if self.wd != 0.0:
                direction = direction + self.wd * pb
            new_blocks.append(pb - self.lr * direction)
        return _unblock(new_blocks, merged, self.max_dim).reshape(p.shape)


def _unblock(blocks, merged, max_dim):
    out = np.zeros(merged)
    starts = list(itertools.product(*[range(0, d, max_dim) for d in merged]))
    for start, b in zip(starts, blocks):
        index = tuple(slice(s, s + n) for s, n in zip(start, b.shape))
        out[index] = b
    return out
