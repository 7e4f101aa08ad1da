"""Value and gradient of a scalar function through the current backend's autodiff.

Keras 3 has no public backend-neutral `grad`; each backend has its own (TensorFlow's
`GradientTape`, `jax.value_and_grad`, torch's `backward`). This is the one place
keras_lossopt calls them: the loss-shape plots (`keras_lossopt.plotting`), the
conformance harness's gradient checks (`keras_lossopt.testing.losses`) and the loss
tests (`tests/losses/_loss_tools.py`) all go through `value_and_grad`; the function
differentiated is written in `keras.ops`. `tests/test_plotting.py` checks it against
central finite differences on every backend.
"""

import keras
import numpy as np


def value_and_grad(fn, x, dtype="float32"):
    """`(fn(x), d fn / d x)` as numpy arrays; `fn` maps a tensor to a scalar tensor.

    `x` is cast to `dtype` first (`None` keeps its own; JAX without x64 computes
    float64 in float32). A function that does not depend on `x` has a zero gradient.
    Raises NotImplementedError on a backend without autodiff (Keras's numpy backend).
    """
    x = np.asarray(x) if dtype is None else np.asarray(x, dtype=dtype)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tensorflow(fn, x)
    if backend == "jax":
        return _jax(fn, x)
    if backend == "torch":
        return _torch(fn, x)
    raise NotImplementedError(
        f"Gradients need the tensorflow, jax or torch backend. Received: backend={backend!r}"
    )


def _tensorflow(fn, x):
    import tensorflow as tf

    t = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(t)
        value = fn(t)
    grad = tape.gradient(value, t)
    grad = np.zeros_like(x) if grad is None else grad.numpy()  # fn did not depend on x
    return np.asarray(value.numpy()), np.asarray(grad)


def _jax(fn, x):
    import jax

    value, grad = jax.value_and_grad(fn)(jax.numpy.asarray(x))
    return np.asarray(value), np.asarray(grad)


def _torch(fn, x):
    import torch

    # On Keras's device (a GPU when there is one), as every keras.ops input.
    t = keras.ops.convert_to_tensor(x, dtype=str(x.dtype)).detach().requires_grad_(True)
    value = fn(t)
    if value.requires_grad:
        value.backward()
    grad = t.grad if t.grad is not None else torch.zeros_like(t)
    return value.detach().cpu().numpy(), grad.detach().cpu().numpy()
