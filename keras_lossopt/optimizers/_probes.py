"""Counter-based random numbers in `keras.ops`, the same on every backend (private).

Kron needs random probe vectors at every preconditioner update. `keras.random`
would make them reproducible per backend only (TensorFlow, JAX and PyTorch use
different generators), and a stateful generator is awkward inside XLA and for an
exact `.keras` resume. Here a value is a pure function of `(key_0, key_1)` and a
counter `(c_0, c_1)`: a Threefry-style add-rotate-xor mix on 30-bit words, with
int32 arithmetic that never overflows (every sum of two 30-bit words fits in 31
bits; shifts are masked first). So the stream is bit-identical on every backend,
needs no state besides the seed, and the numpy reference in
tests/reference/kron.py reproduces it exactly. Uniforms and Box-Muller normals are
computed in float32 (transcendentals may differ by an ulp across backends).

Not a cryptographic generator; its statistics are tested in
tests/optimizers/test_kron.py (mean, variance, correlations).
"""

import numpy as np
from keras import ops

__all__ = []

BITS = 30
MASK = (1 << BITS) - 1
# Threefry-2x32 rotation constants (all < 30) and key-schedule parity constant, 30-bit.
ROTATIONS = (13, 15, 26, 6, 17, 29, 16, 24)
PARITY = 0x1BD11BDA & MASK
ROUNDS = 20


def _add(a, b):
    return ops.bitwise_and(ops.add(a, b), MASK)


def _rotl(x, r):
    low = ops.left_shift(ops.bitwise_and(x, (1 << (BITS - r)) - 1), r)
    return ops.bitwise_or(low, ops.right_shift(x, BITS - r))


def threefry(key_0, key_1, counter_0, counter_1):
    """Two 30-bit int32 words per counter; every input is an int32 tensor in [0, 2^30)."""
    keys = (key_0, key_1, ops.bitwise_xor(ops.bitwise_xor(key_0, key_1), PARITY))
    x0, x1 = _add(counter_0, keys[0]), _add(counter_1, keys[1])
    for i in range(ROUNDS):
        x0 = _add(x0, x1)
        x1 = ops.bitwise_xor(_rotl(x1, ROTATIONS[i % 8]), x0)
        if i % 4 == 3:
            s = i // 4 + 1
            x0 = _add(x0, keys[s % 3])
            x1 = _add(_add(x1, keys[(s + 1) % 3]), s)
    return x0, x1


def _int(value):
    return ops.bitwise_and(ops.cast(value, "int32"), MASK)


def uniform(key_0, key_1, counter_0, counter_1):
    """Two float32 uniforms in (0, 1] per counter: (word + 0.5) / 2^30."""
    words = threefry(_int(key_0), _int(key_1), _int(counter_0), _int(counter_1))
    return [(ops.cast(w, "float32") + 0.5) * (1.0 / (1 << BITS)) for w in words]


def normal(shape, seed, stream, step):
    """Standard normals of `shape` (float32) for (seed, stream, step).

    Element j of the flattened array uses counter (step, j // 2); the pair of
    uniforms (u1, u2) gives r = sqrt(-2 log u1) and the two values r cos(2 pi u2)
    (even j) and r sin(2 pi u2) (odd j).
    """
    size = int(np.prod(shape)) if len(shape) else 1
    pairs = (size + 1) // 2
    index = ops.arange(pairs, dtype="int32")
    step = ops.cast(step, "int32") + ops.zeros((pairs,), "int32")
    u1, u2 = uniform(seed, stream, step, index)
    radius = ops.sqrt(-2.0 * ops.log(u1))
    angle = (2.0 * np.pi) * u2
    values = ops.reshape(ops.stack([radius * ops.cos(angle), radius * ops.sin(angle)], axis=1),
                         (-1,))
    return ops.reshape(values[:size], shape)


def uniform_scalar(seed, stream, step):
    """One float32 uniform in (0, 1] for (seed, stream, step)."""
    u1, _ = uniform(seed, stream, step, ops.zeros((), "int32"))
    return u1
