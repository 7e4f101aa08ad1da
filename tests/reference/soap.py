"""Numpy reference of SOAP, transcribed from the authors' code.

Source: Vyas et al. 2024, "SOAP: Improving and Stabilizing Shampoo using Adam"
(https://arxiv.org/abs/2409.11321), with every detail of
https://github.com/nikhilvyas/SOAP/blob/main/soap.py (class SOAP: step,
init_preconditioner, update_preconditioner, project, project_back,
get_orthogonal_matrix, get_orthogonal_matrix_QR, merge_dims), data_format
"channels_first" (no permutation). Float64 throughout; the authors cast the factors
to float32 for eigh/QR, which this reference (like keras_lossopt) does not.

Kept as in soap.py, on purpose: the first call returns the parameter unchanged; the
first moment is stored in the eigenbasis and projected back and forth at every call;
weight decay comes after the step; the refresh re-orders exp_avg_sq.
"""

import numpy as np


def _merge_dims(shape, max_precond_dim):
    # soap.py SOAP.merge_dims
    new_shape, curr = [], 1
    for sh in shape:
        temp = curr * sh
        if temp > max_precond_dim:
            if curr > 1:
                new_shape.append(curr)
                curr = sh
            else:
                new_shape.append(sh)
                curr = 1
        else:
            curr = temp
    if curr > 1 or len(new_shape) == 0:
        new_shape.append(curr)
    return tuple(new_shape)


class SOAPReference:
    def __init__(self, learning_rate=3e-3, beta_1=0.95, beta_2=0.95, shampoo_beta=None,
                 epsilon=1e-8, weight_decay=0.0, precondition_frequency=10,
                 max_precondition_dim=10000, merge_dims=False, precondition_1d=False,
                 normalize_grads=False, correct_bias=True):
        self.lr, self.b1, self.b2 = learning_rate, beta_1, beta_2
        self.shampoo_beta = beta_2 if shampoo_beta is None else shampoo_beta
        self.eps, self.wd = epsilon, weight_decay or 0.0
        self.freq, self.max_dim = precondition_frequency, max_precondition_dim
        self.merge, self.p1d = merge_dims, precondition_1d
        self.normalize, self.correct_bias = normalize_grads, correct_bias
        self.state = {}

    # --- soap.py helpers --------------------------------------------------------------

    def _view(self, x):
        return x.reshape(_merge_dims(x.shape, self.max_dim)) if self.merge else x

    def _project(self, x, back=False):
        shape = x.shape
        if self.merge:
            x = self._view(x)
        for mat in self.state["Q"]:
            if mat is not None:
                # torch.tensordot(grad, mat, dims=[[0], [0]]) (project) / [[0], [1]] (back)
                x = np.tensordot(x, mat, axes=([0], [1 if back else 0]))
            else:
                x = np.transpose(x, list(range(1, x.ndim)) + [0])
        return x.reshape(shape) if self.merge else x

    def _init_preconditioner(self, grad):
        gg = []
        if grad.ndim == 1:
            if not self.p1d or grad.shape[0] > self.max_dim:
                gg.append(None)
            else:
                gg.append(np.zeros((grad.shape[0], grad.shape[0])))
        else:
            g = self._view(grad)
            for sh in g.shape:
                gg.append(None if sh > self.max_dim else np.zeros((sh, sh)))
        self.state["GG"] = gg
        self.state["Q"] = None

    def _update_preconditioner(self, grad):
        state = self.state
        if state["Q"] is not None:
            state["exp_avg"] = self._project(state["exp_avg"], back=True)
        w = 1 - self.shampoo_beta
        if grad.ndim == 1:
            if self.p1d and grad.shape[0] <= self.max_dim:
                gg = state["GG"][0]
                state["GG"][0] = gg + w * (np.outer(grad, grad) - gg)  # lerp_
        else:
            g = self._view(grad)
            for idx, sh in enumerate(g.shape):
                if sh <= self.max_dim:
                    others = [d for d in range(g.ndim) if d != idx]
                    outer = np.tensordot(g, g, axes=(others, others))
                    gg = state["GG"][idx]
                    state["GG"][idx] = gg + w * (outer - gg)
        if state["Q"] is None:
            state["Q"] = self._orthogonal_matrix(state["GG"])
        if state["step"] > 0 and state["step"] % self.freq == 0:
            state["Q"] = self._orthogonal_matrix_qr()
        if state["step"] > 0:
            state["exp_avg"] = self._project(state["exp_avg"])

    @staticmethod
    def _orthogonal_matrix(mats):
        # get_orthogonal_matrix: eigh(m + 1e-30 I), columns flipped (largest first)
        out = []
        for m in mats:
            if m is None:
                out.append(None)
                continue
            _, q = np.linalg.eigh(m + 1e-30 * np.eye(m.shape[0]))
            out.append(np.flip(q, axis=1))
        return out

    def _orthogonal_matrix_qr(self):
        # get_orthogonal_matrix_QR: one power iteration + QR, exp_avg_sq re-sorted
        state = self.state
        orig_shape = state["exp_avg_sq"].shape
        exp_avg_sq = self._view(state["exp_avg_sq"]) if self.merge else state["exp_avg_sq"]
        final = []
        for ind, (m, o) in enumerate(zip(state["GG"], state["Q"])):
            if m is None:
                final.append(None)
                continue
            est_eig = np.diag(o.T @ m @ o)
            sort_idx = np.argsort(-est_eig, kind="stable")
            exp_avg_sq = np.take(exp_avg_sq, sort_idx, axis=ind)
            o = o[:, sort_idx]
            q, _ = np.linalg.qr(m @ o)
            final.append(q)
        state["exp_avg_sq"] = exp_avg_sq.reshape(orig_shape)
        return final

    # --- SOAP.step ------------------------------------------------------------------------

    def step(self, p, grad):
        p = np.array(p, dtype=np.float64)
        grad = np.asarray(grad, dtype=np.float64)
        state = self.state
        if "step" not in state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(grad)
            state["exp_avg_sq"] = np.zeros_like(grad)
        if "Q" not in state:
            self._init_preconditioner(grad)
            self._update_preconditioner(grad)
            return p  # "first step is skipped"
        grad_projected = self._project(grad)
        state["step"] += 1
        b1, b2, k = self.b1, self.b2, state["step"]
        state["exp_avg"] = b1 * state["exp_avg"] + (1 - b1) * grad_projected
        state["exp_avg_sq"] = b2 * state["exp_avg_sq"] + (1 - b2) * grad_projected ** 2
        denom = np.sqrt(state["exp_avg_sq"]) + self.eps
        step_size = self.lr
        if self.correct_bias:
            step_size = step_size * (1.0 - b2 ** k) ** 0.5 / (1.0 - b1 ** k)
        norm_grad = self._project(state["exp_avg"] / denom, back=True)
        if self.normalize:
            norm_grad = norm_grad / (1e-30 + np.mean(norm_grad ** 2) ** 0.5)
        p = p - step_size * norm_grad
        if self.wd > 0.0:
            p = p - self.lr * self.wd * p
        self._update_preconditioner(grad)
        return p
