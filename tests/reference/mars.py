"""Numpy reference of MARS-AdamW, transcribed from the authors' code.

Source: Yuan et al. 2024, "MARS: Unleashing the Power of Variance Reduction for Training
Large Models" (https://arxiv.org/abs/2411.10438), Algorithm 2, with the details of
https://github.com/AGI-Arena/MARS/blob/main/MARS/optimizers/mars.py (`MARS.step` and
`update_fn`, mars_type="mars-adamw", is_approx=True):

    state["step"] += 1;  is_grad_2d = (len(grad.shape) == 2)
    if optimize_1d or is_grad_2d:
        c_t = (grad - last_grad).mul(gamma * (beta1 / (1. - beta1))).add(grad)
        if torch.norm(c_t) > 1.: c_t = c_t / torch.norm(c_t)
        exp_avg.mul_(beta1).add_(c_t, alpha=1. - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(c_t, c_t, value=1. - beta2)
        (amsgrad: max_exp_avg_sq = max(max_exp_avg_sq, exp_avg_sq), used below)
        denom = exp_avg_sq.sqrt().mul(1 / math.sqrt(bias_correction2)).add(eps).mul(bias_correction1)
        p.data.add_(-lr * (p.data * wd + exp_avg / denom))
    else:  # AdamW on the raw gradient with betas_1d, lr * (lr_1d / lr), weight_decay_1d
        ...same with grad instead of c_t...
        p.data.add_(-lr * lr_1d_factor * (p.data * weight_decay_1d + exp_avg / denom))
    last_grad = grad                                     # is_approx: every tensor

`last_grad` starts at zeros. Float64 throughout.
"""

import math

import numpy as np


class MARSReference:
    def __init__(self, learning_rate=3e-3, beta_1=0.95, beta_2=0.99, gamma=0.025, epsilon=1e-8,
                 amsgrad=False, optimize_1d=False, learning_rate_1d=3e-3, beta_1_1d=0.9,
                 beta_2_1d=0.95, weight_decay_1d=0.1, weight_decay=0.0):
        self.lr, self.betas, self.gamma, self.eps = learning_rate, (beta_1, beta_2), gamma, epsilon
        self.amsgrad, self.optimize_1d = amsgrad, optimize_1d
        self.lr_1d_factor = learning_rate_1d / learning_rate
        self.betas_1d, self.wd_1d, self.wd = (beta_1_1d, beta_2_1d), weight_decay_1d, weight_decay
        self.t = 0
        self.exp_avg = self.exp_avg_sq = self.max_exp_avg_sq = self.last_grad = None

    def step(self, p, grad):
        p = np.array(p, dtype=np.float64)
        if self.exp_avg is None:
            self.exp_avg, self.exp_avg_sq = np.zeros_like(p), np.zeros_like(p)
            self.max_exp_avg_sq, self.last_grad = np.zeros_like(p), np.zeros_like(p)
        self.t += 1
        step = self.t
        if self.optimize_1d or p.ndim == 2:
            beta1, beta2 = self.betas
            c_t = (grad - self.last_grad) * (self.gamma * (beta1 / (1.0 - beta1))) + grad
            c_t_norm = np.sqrt(np.sum(c_t * c_t))
            if c_t_norm > 1.0:
                c_t = c_t / c_t_norm
            lr, wd = self.lr, self.wd
        else:
            beta1, beta2 = self.betas_1d
            c_t = grad
            lr, wd = self.lr * self.lr_1d_factor, self.wd_1d
        self.exp_avg = beta1 * self.exp_avg + (1.0 - beta1) * c_t
        self.exp_avg_sq = beta2 * self.exp_avg_sq + (1.0 - beta2) * c_t * c_t
        bias_correction1 = 1.0 - beta1 ** step
        bias_correction2 = 1.0 - beta2 ** step
        v = self.exp_avg_sq
        if self.amsgrad:
            self.max_exp_avg_sq = np.maximum(self.max_exp_avg_sq, self.exp_avg_sq)
            v = self.max_exp_avg_sq
        denom = (np.sqrt(v) * (1 / math.sqrt(bias_correction2)) + self.eps) * bias_correction1
        p = p + (-lr) * (p * wd + self.exp_avg / denom)
        self.last_grad = np.array(grad, dtype=np.float64)
        return p
