"""Value and gradient of a scalar function through the current backend's autodiff.

Keras 3 has no public backend-neutral `grad`; each backend has its own (TensorFlow's
`GradientTape`, `jax.value_and_grad`, torch's `backward`). This is the one place the
library calls them (the loss-shape plots use it); the function differentiated is
written in `keras.ops`. The conformance harness keeps its own copy in
`keras_lossopt/testing/losses.py`, and the tests compare this one with finite
differences on every backend.
"""

import keras
import numpy as np


def value_and_grad(fn, x):
    """`(fn(x), d fn / d x)` as float32 numpy arrays; `fn` maps a tensor to a scalar tensor.

    Raises NotImplementedError on a backend without autodiff (Keras's numpy backend).
    """
    x = np.asarray(x, "float32")
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
    return np.asarray(value.numpy(), "float32"), np.asarray(grad, "float32")


def _jax(fn, x):
    import jax

    value, grad = jax.value_and_grad(fn)(jax.numpy.asarray(x))
    return np.asarray(value, "float32"), np.asarray(grad, "float32")


def _torch(fn, x):
    import torch

    # On Keras's device (a GPU when there is one), as every keras.ops input.
    t = keras.ops.convert_to_tensor(x).detach().requires_grad_(True)
    value = fn(t)
    if value.requires_grad:
        value.backward()
    grad = t.grad if t.grad is not None else torch.zeros_like(t)
    return (np.asarray(value.detach().cpu().numpy(), "float32"),
            np.asarray(grad.detach().cpu().numpy(), "float32"))
