"""A two-variable problem (a 4x3 kernel and a bias) for golden values from authors' code.

The loss 0.5 * ||A @ W + b - B||^2 with A (5, 4), B (5, 3), W0 (4, 3), b0 (3,) drawn from
`np.random.default_rng(20241201)` in that order. The golden values in the tests were made
by running the authors' PyTorch (or JAX) optimizers in float64 on exactly this problem
(autograd gradients, `steps` calls of `step()`), with the script described in each test;
their code is not part of this repository. A kernel and a bias together exercise the
rank-dependent rules (MARS's two branches, GC and AGC's per-unit reductions).
"""

import keras
import numpy as np

from tests.optimizers._harness import make_apply

_rng = np.random.default_rng(20241201)
A = _rng.normal(size=(5, 4))
B = _rng.normal(size=(5, 3))
W0 = _rng.normal(size=(4, 3))
B0 = _rng.normal(size=(3,))


def gradients(w, b):
    residual = A @ w + b - B
    return A.T @ residual, residual.sum(axis=0)


def run(optimizer, steps=10, dtype="float32"):
    """`(W, b)` after `steps` steps of `optimizer` from (W0, b0), as float64 arrays."""
    variables = [keras.Variable(W0.astype(dtype), dtype=dtype),
                 keras.Variable(B0.astype(dtype), dtype=dtype)]
    apply = make_apply(optimizer, variables)
    for _ in range(steps):
        w, b = (np.asarray(keras.ops.convert_to_numpy(v), dtype=np.float64) for v in variables)
        apply([keras.ops.convert_to_tensor(g.astype(dtype)) for g in gradients(w, b)])
    return tuple(np.asarray(keras.ops.convert_to_numpy(v), dtype=np.float64) for v in variables)


def float64_available():
    """False on JAX without x64, where a float64 variable silently holds float32."""
    return np.asarray(keras.ops.convert_to_numpy(
        keras.ops.convert_to_tensor(np.ones(1), dtype="float64"))).dtype == np.float64
