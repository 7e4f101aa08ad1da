"""Numpy references of cautious optimizers, transcribed from the authors' code.

Source: Liang et al. 2024, "Cautious Optimizers: Improving Training with One Line of Code"
(https://arxiv.org/abs/2411.16085), Algorithm 1 (phi(x) = x * 1[x * g >= 0] rescaled),
with the details of https://github.com/kyleliang919/C-Optim/blob/main/c_adamw.py,
`AdamW.step` with foreach=False (correct_bias=True):

    state["step"] += 1
    if weight_decay > 0.0: p.add_(p, alpha=(-lr * weight_decay))          # unmasked
    exp_avg.mul_(beta1).add_(grad, alpha=(1.0 - beta1))
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
    denom = exp_avg_sq.sqrt().add_(eps)
    step_size = lr * math.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
    mask = (exp_avg * grad > 0).to(grad.dtype)
    mask.div_(mask.mean().clamp_(min=1e-3))
    p.add_((exp_avg * mask) / denom, alpha=-step_size)

`CautiousReference` applies the same mask to the update of any other reference (with
`step(params, grad)`), the authors' rule phi(u) for a generic update u = A(w, g) - w:
the components of u that do not point downhill (u * g >= 0, i.e. not exp_avg * grad > 0
for u = -step_size * exp_avg / denom) are dropped and the rest divided by the kept
fraction (floored at 1e-3). Float64 throughout.
"""

import math

import numpy as np


def _normalised_mask(keep):
    mask = keep.astype(np.float64)
    return mask / max(mask.mean(), 1e-3)


class CAdamWReference:
    def __init__(self, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-6,
                 weight_decay=0.0):
        self.lr, self.b1, self.b2, self.eps, self.wd = (learning_rate, beta_1, beta_2,
                                                        epsilon, weight_decay)
        self.t = 0
        self.exp_avg = self.exp_avg_sq = None

    def step(self, p, grad):
        p = np.array(p, dtype=np.float64)
        if self.exp_avg is None:
            self.exp_avg, self.exp_avg_sq = np.zeros_like(p), np.zeros_like(p)
        self.t += 1
        if self.wd > 0.0:
            p = p + p * (-self.lr * self.wd)
        self.exp_avg = self.b1 * self.exp_avg + (1.0 - self.b1) * grad
        self.exp_avg_sq = self.b2 * self.exp_avg_sq + (1.0 - self.b2) * grad * grad
        denom = np.sqrt(self.exp_avg_sq) + self.eps
        step_size = self.lr * math.sqrt(1 - self.b2 ** self.t) / (1 - self.b1 ** self.t)
        mask = _normalised_mask(self.exp_avg * grad > 0)
        return p - step_size * (self.exp_avg * mask) / denom


class CautiousReference:
    """The cautious mask around any reference optimizer without weight decay."""

    def __init__(self, inner):
        self.inner = inner

    def step(self, p, grad):
        p = np.array(p, dtype=np.float64)
        update = self.inner.step(p, grad) - p
        return p + update * _normalised_mask(update * grad < 0)
