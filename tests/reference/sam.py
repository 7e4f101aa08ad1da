"""Numpy reference of SAM and ASAM on a tiny tanh MLP with the mean squared error.

SAM: Foret, Kleiner, Mobahi & Neyshabur 2021, "Sharpness-Aware Minimization for
Efficiently Improving Generalization" (https://arxiv.org/abs/2010.01412), eq. 2 and
Algorithm 1, as the authors' code does it (google-research/sam,
sam_jax/training_utils/flax_training.py: `dual_vector` normalises the gradient by its
global L2 norm over all parameters, `get_sam_gradient` takes the gradient at
`w + rho * dual_vector(grad)`, and the base optimizer applies that gradient at `w`):

    g     = dL/dw (w)
    e     = rho * g / ||g||                    # ||.||: sqrt of the sum of squares of every parameter
    g_sam = dL/dw (w + e)
    w     = base_optimizer(w, g_sam)

ASAM: Kwon, Kim, Park & Choi 2021 (https://arxiv.org/abs/2102.11600), eq. 9 with
T_w = |w|, as davda54/sam's `sam.py` (`adaptive=True`) computes it:

    e = rho * |w|^2 * g / || |w| * g ||

Both add 1e-12 to the norm (davda54/sam's `first_step`; tf.keras 2.x too).

m-sharpness (paper section 4.1 / the authors' per-device perturbations): the batch is
cut into k equal parts, each part's SAM gradient uses its own e, and the final gradient
is the mean of the parts' SAM gradients (their `jax.lax.pmean(grad)`).

The model: h = tanh(x W1 + b1), p = h W2 + b2, L = mean over the batch and outputs of
(p - y)^2; the backward pass is written out by hand. Float64 throughout.
"""

import numpy as np

NORM_EPSILON = 1e-12


def forward(params, x):
    w1, b1, w2, b2 = params
    h = np.tanh(x @ w1 + b1)
    return h, h @ w2 + b2


def loss_and_grads(params, x, y):
    """MSE loss and its gradient with respect to (W1, b1, W2, b2)."""
    w1, b1, w2, b2 = params
    h, p = forward(params, x)
    loss = np.mean((p - y) ** 2)
    dp = 2.0 * (p - y) / p.size
    dz = (dp @ w2.T) * (1.0 - h ** 2)
    return loss, [x.T @ dz, dz.sum(axis=0), h.T @ dp, dp.sum(axis=0)]


def sam_gradient(params, x, y, rho, adaptive=False):
    """Algorithm 1's gradient at the perturbed point (eq. 2), or ASAM's."""
    _, grads = loss_and_grads(params, x, y)
    scales = [np.abs(p) if adaptive else 1.0 for p in params]
    norm = np.sqrt(sum(np.sum((s * g) ** 2) for s, g in zip(scales, grads)))
    perturbed = [p + rho * s ** 2 * g / (norm + NORM_EPSILON)
                 for p, s, g in zip(params, scales, grads)]
    return loss_and_grads(perturbed, x, y)[1]


def m_sharpness_gradient(params, x, y, rho, adaptive=False, splits=1):
    """Mean of the SAM gradients of `splits` equal consecutive parts of the batch."""
    parts = [sam_gradient(params, xs, ys, rho, adaptive)
             for xs, ys in zip(np.split(x, splits), np.split(y, splits))]
    return [np.mean(np.stack(gs), axis=0) for gs in zip(*parts)]


class SGD:
    """Plain gradient descent: w = w - lr * g."""

    def __init__(self, learning_rate):
        self.lr = learning_rate

    def step(self, params, grads):
        return [p - self.lr * g for p, g in zip(params, grads)]


class Adam:
    """Kingma & Ba 2015, Algorithm 1, in the form of the last paragraph of section 2
    (step size lr * sqrt(1 - b2^t) / (1 - b1^t), epsilon added to sqrt(v)), Keras's form."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        self.lr, self.b1, self.b2, self.eps = learning_rate, beta_1, beta_2, epsilon
        self.t, self.m, self.v = 0, None, None

    def step(self, params, grads):
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.t += 1
        alpha = self.lr * np.sqrt(1 - self.b2 ** self.t) / (1 - self.b1 ** self.t)
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            self.m[i] = self.b1 * self.m[i] + (1 - self.b1) * g
            self.v[i] = self.b2 * self.v[i] + (1 - self.b2) * g * g
            out.append(p - alpha * self.m[i] / (np.sqrt(self.v[i]) + self.eps))
        return out


def train(params, x, y, steps, optimizer, rho, adaptive=False, splits=1):
    """`steps` full-batch SAM (or ASAM, m-sharpness) steps; returns the parameters."""
    params = [np.array(p, dtype=np.float64) for p in params]
    for _ in range(steps):
        params = optimizer.step(params, m_sharpness_gradient(params, x, y, rho, adaptive, splits))
    return params
