"""Numpy reference of LARS.

You, Gitman & Ginsburg 2017, "Large Batch Training of Convolutional Networks"
(https://arxiv.org/abs/1708.03888), Algorithm 1 (LARS), per layer l:

    g_t = grad L(w_t)
    lambda = eta * ||w_t|| / (||g_t|| + beta * ||w_t||)        (local LR, eq. 6 with wd)
    v_{t+1} = m * v_t + gamma_{t+1} * lambda * (g_t + beta * w_t)
    w_{t+1} = w_t - v_{t+1}

with eta = trust_coefficient, beta = weight_decay, m = momentum, gamma = learning_rate.
Additions not in the paper, following the package's documented semantics: epsilon in the denominator,
lambda = 1 when ||w|| = 0 or ||g|| = 0, and a Nesterov variant
w_{t+1} = w_t - (m * v_{t+1} + gamma * lambda * (g_t + beta * w_t)). Float64.
"""

import numpy as np


class LARSReference:
    def __init__(self, learning_rate=0.01, momentum=0.9, weight_decay=0.0,
                 trust_coefficient=0.001, epsilon=0.0, nesterov=False):
        self.lr, self.m, self.beta = learning_rate, momentum, weight_decay
        self.eta, self.eps, self.nesterov = trust_coefficient, epsilon, nesterov
        self.v = 0.0

    def step(self, w, g):
        w_norm, g_norm = np.linalg.norm(w), np.linalg.norm(g)
        if w_norm > 0 and g_norm > 0:
            local_lr = self.eta * w_norm / (g_norm + self.beta * w_norm + self.eps)
        else:
            local_lr = 1.0
        step = self.lr * local_lr * (g + self.beta * w)
        self.v = self.m * self.v + step
        if self.nesterov:
            return w - (self.m * self.v + step)
        return w - self.v
