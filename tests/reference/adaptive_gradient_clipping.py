"""Numpy reference of adaptive gradient clipping (AGC), transcribed from the NFNets code.

Source: Brock et al. 2021, "High-Performance Large-Scale Image Recognition Without
Normalization" (https://arxiv.org/abs/2102.06171), section 4.1 eq. (3), with the details
of https://github.com/deepmind/deepmind-research/blob/master/nfnets/optim.py
(`compute_norm`, `unitwise_norm`, `SGD_AGC.update_param`, `SGD.update_param`):

    def unitwise_norm(x):
        if len(jnp.squeeze(x).shape) <= 1: axis, keepdims = None, False   # scalars, vectors
        elif len(x.shape) in [2, 3]: axis, keepdims = 0, True              # linear, IO
        elif len(x.shape) == 4: axis, keepdims = [0, 1, 2], True           # conv, HWIO
        return jnp.sum(x ** 2, axis=axis, keepdims=keepdims) ** 0.5
    param_norm = jnp.maximum(unitwise_norm(param), eps)
    grad_norm = unitwise_norm(grad)
    max_norm = param_norm * clipping
    trigger = grad_norm > max_norm
    clipped_grad = grad * (max_norm / jnp.maximum(grad_norm, 1e-6))
    grad = jnp.where(trigger, clipped_grad, grad)
    # then SGD: momentum = momentum * momentum + (1 - dampening) * grad;
    #           grad = grad + momentum * momentum (nesterov) or momentum; param -= lr * grad

Haiku's layouts (IO, HWIO) are Keras's. Rank 3 is kept as theirs (axis 0) here; the
tests use ranks 1, 2 and 4, the ranks of NFNets' own models. Float64 throughout.
"""

import numpy as np


def unitwise_norm(x):
    if np.squeeze(x).ndim <= 1:
        axis, keepdims = None, False
    elif x.ndim in (2, 3):
        axis, keepdims = 0, True
    elif x.ndim == 4:
        axis, keepdims = (0, 1, 2), True
    else:
        raise ValueError(f"Got a parameter with shape not in [1, 2, 3, 4]! {x.shape}")
    return np.sum(x ** 2, axis=axis, keepdims=keepdims) ** 0.5


def adaptive_clip(param, grad, clipping=0.01, eps=1e-3):
    param_norm = np.maximum(unitwise_norm(param), eps)
    grad_norm = unitwise_norm(grad)
    max_norm = param_norm * clipping
    trigger = grad_norm > max_norm
    clipped_grad = grad * (max_norm / np.maximum(grad_norm, 1e-6))
    return np.where(trigger, clipped_grad, grad)


class SGDAGCReference:
    def __init__(self, learning_rate=0.01, momentum=None, nesterov=None, clipping=0.01,
                 eps=1e-3, dampening=0.0):
        self.lr, self.momentum, self.nesterov = learning_rate, momentum, nesterov
        self.clipping, self.eps, self.dampening = clipping, eps, dampening
        self.buf = None

    def step(self, p, grad):
        p = np.asarray(p, dtype=np.float64)
        grad = adaptive_clip(p, np.asarray(grad, dtype=np.float64), self.clipping, self.eps)
        if self.momentum is not None:
            if self.buf is None:
                self.buf = np.zeros_like(p)
            self.buf = self.momentum * self.buf + (1 - self.dampening) * grad
            grad = grad + self.momentum * self.buf if self.nesterov else self.buf
        return p - self.lr * grad
