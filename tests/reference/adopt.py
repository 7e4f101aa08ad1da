"""Numpy reference of ADOPT, transcribed from the authors' code.

Source: Taniguchi et al. 2024, "ADOPT: Modified Adam Can Converge with Any beta_2 with the
Optimal Rate" (https://arxiv.org/abs/2411.02853), Algorithm 1, with the details of
https://github.com/iShohei220/adopt/blob/main/src/adopt/adopt.py, `_single_tensor_adopt`
(decouple=True for weight decay, maximize=False, real tensors):

    if step == 0: exp_avg_sq.addcmul_(grad, grad); step += 1; continue   # v = g^2, nothing else
    if weight_decay != 0 and decouple: param.add_(param, alpha=-lr * weight_decay)
    denom = torch.clamp(exp_avg_sq.sqrt(), eps)
    normed_grad = grad.div(denom)
    if clip_lambda is not None: normed_grad.clamp_(-clip_lambda(step), clip_lambda(step))
    exp_avg.lerp_(normed_grad, 1 - beta1)
    param.add_(exp_avg, alpha=-lr)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    step += 1

`step` is the count of earlier calls (0 at the first one); the default clip_lambda is
`step ** 0.25`. Float64 throughout.
"""

import numpy as np


class ADOPTReference:
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.9999, epsilon=1e-6,
                 clip_exponent=0.25, weight_decay=0.0):
        self.lr, self.b1, self.b2, self.eps = learning_rate, beta_1, beta_2, epsilon
        self.clip_exponent, self.wd = clip_exponent, weight_decay
        self.step_count = 0
        self.exp_avg = self.exp_avg_sq = None

    def step(self, p, grad):
        p = np.array(p, dtype=np.float64)
        if self.exp_avg is None:
            self.exp_avg = np.zeros_like(p)
            self.exp_avg_sq = np.zeros_like(p)
        step = self.step_count
        self.step_count += 1
        if step == 0:
            self.exp_avg_sq = self.exp_avg_sq + grad * grad
            return p
        if self.wd != 0:
            p = p + p * (-self.lr * self.wd)
        denom = np.maximum(np.sqrt(self.exp_avg_sq), self.eps)
        normed_grad = grad / denom
        if self.clip_exponent is not None:
            clip = step ** self.clip_exponent
            normed_grad = np.clip(normed_grad, -clip, clip)
        self.exp_avg = self.exp_avg + (1 - self.b1) * (normed_grad - self.exp_avg)  # lerp_
        p = p - self.lr * self.exp_avg
        self.exp_avg_sq = self.b2 * self.exp_avg_sq + (1 - self.b2) * grad * grad
        return p
