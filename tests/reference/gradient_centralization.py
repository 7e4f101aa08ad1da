"""Numpy references of gradient centralization, transcribed from the authors' code.

Source: Yong et al. 2020, "Gradient Centralization: A New Optimization Technique for Deep
Neural Networks" (https://arxiv.org/abs/2004.01461), eq. (5), with the details of
https://github.com/Yonghongwei/Gradient-Centralization, GC_code/CIFAR100/algorithm/SGD.py
(`SGD_GC.step`) and Adam.py (`Adam_GC.step`), weight_decay=0:

    # GC operation for Conv layers and FC layers
    if len(list(d_p.size())) > 1:
        d_p.add_(-d_p.mean(dim=tuple(range(1, len(list(d_p.size())))), keepdim=True))

PyTorch stores a weight as (out, in, ...), so the mean runs over every axis but the first.
These references take parameters in Keras's layout, (..., in, out), and transpose to
PyTorch's around the centralisation, so the mean runs over every axis but the LAST: the
transcription stays literal and the layout change is the only step added.

SGD_GC's momentum: buf = d_p at the first step, then buf = momentum * buf + d_p (dampening
0); p -= lr * buf (nesterov: p -= lr * (d_p + momentum * buf)). Adam_GC: PyTorch's Adam of
the time, epsilon added after the bias correction of sqrt(v). Float64 throughout.
"""

import math

import numpy as np


def centralize_torch_layout(d_p):
    """The authors' line, on an array in PyTorch's (out, in, ...) layout."""
    if d_p.ndim > 1:
        d_p = d_p - d_p.mean(axis=tuple(range(1, d_p.ndim)), keepdims=True)
    return d_p


def centralize_keras_layout(grad):
    # Keras (..., in, out) -> PyTorch (out, in, ...): reverse the axes, and back.
    return centralize_torch_layout(grad.T).T


class SGDGCReference:
    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False):
        self.lr, self.momentum, self.nesterov = learning_rate, momentum, nesterov
        self.buf = None

    def step(self, p, grad):
        d_p = centralize_keras_layout(np.asarray(grad, dtype=np.float64))
        if self.momentum != 0:
            if self.buf is None:
                self.buf = d_p.copy()
            else:
                self.buf = self.momentum * self.buf + d_p
            d_p = d_p + self.momentum * self.buf if self.nesterov else self.buf
        return p - self.lr * d_p


class AdamGCReference:
    def __init__(self, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        self.lr, self.b1, self.b2, self.eps = learning_rate, beta_1, beta_2, epsilon
        self.t = 0
        self.exp_avg = self.exp_avg_sq = None

    def step(self, p, grad):
        grad = centralize_keras_layout(np.asarray(grad, dtype=np.float64))
        if self.exp_avg is None:
            self.exp_avg, self.exp_avg_sq = np.zeros_like(grad), np.zeros_like(grad)
        self.t += 1
        bias_correction1 = 1 - self.b1 ** self.t
        bias_correction2 = 1 - self.b2 ** self.t
        self.exp_avg = self.b1 * self.exp_avg + (1 - self.b1) * grad
        self.exp_avg_sq = self.b2 * self.exp_avg_sq + (1 - self.b2) * grad * grad
        denom = np.sqrt(self.exp_avg_sq) / math.sqrt(bias_correction2) + self.eps
        return p - (self.lr / bias_correction1) * self.exp_avg / denom
