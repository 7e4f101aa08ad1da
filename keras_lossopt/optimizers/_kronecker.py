"""Tensor helpers shared by the Kronecker-factored optimizers (SOAP, Shampoo, Kron); private.

All of it is `keras.ops`, so the same code runs on TensorFlow, JAX and PyTorch and
compiles under XLA. A tensor `x` of rank r is preconditioned "along axis k" by a
d_k x d_k matrix; `mode_product(x, mats)` applies one matrix per axis. Matrix
products go through `ops.einsum` (see `matmul` for why).
"""

import keras
from keras import ops

from keras_lossopt import _keras_compat

__all__ = []


def compute_dtype(variable_dtype):
    """float32 for 16-bit variables (eigh/QR/solves need it), else the variable's dtype.

    float64 variables keep float64 state and linear algebra.
    """
    name = keras.backend.standardize_dtype(variable_dtype)
    return "float32" if name in ("float16", "bfloat16") else name


def slot_like(optimizer, variable, suffix, dtype):
    """A zero optimizer slot shaped, and sharded, like `variable`, in `dtype`.

    Like `Optimizer.add_variable_from_reference` but with the state dtype of
    `compute_dtype`, so that under `keras.distribution.ModelParallel` the slot
    takes the variable's layout instead of being replicated.
    """
    return optimizer.add_variable(
        variable.shape, dtype=dtype, name=state_name(variable, suffix),
        layout=_keras_compat.variable_layout(variable))


def state_name(variable, suffix):
    """A readable, unique optimizer-variable name for `variable`'s state `suffix`."""
    prefix = variable.path.replace("/", "_") if hasattr(variable, "path") else str(variable.name)
    return f"{prefix}_{suffix}"


_LETTERS = "abcdefghijklmnopqrstuvwxy"


def matmul(a, b):
    """`a @ b` for 1-D or 2-D operands, through `ops.einsum`.

    Keras 3.15 computes `ops.matmul`, `ops.tensordot` and `ops.mean` of float64
    tensors in float32 on PyTorch (its type promotion maps 64-bit to 32-bit
    dtypes), which costs these optimizers 7 digits in float64; `ops.einsum` keeps
    float64 on every backend and lowers to the same matrix product.
    """
    left = "ij" if len(a.shape) == 2 else "j"
    right = "jk" if len(b.shape) == 2 else "j"
    return ops.einsum(f"{left},{right}->{left[:-1] + right[1:]}", a, b)


def mean(x):
    """`ops.mean` without its float32 round trip on PyTorch (see `matmul`)."""
    size = 1
    for d in x.shape:
        size *= d
    return ops.sum(x) / size


def along_axis(x, mat, axis, transpose=False):
    """`sum_i x[.., i, ..] M[i, j]` along `axis` (`M[j, i]` with `transpose=True`)."""
    rank = len(x.shape)
    idx = _LETTERS[:rank]
    mat_idx = (idx[axis] + "z") if not transpose else ("z" + idx[axis])
    out = idx[:axis] + "z" + idx[axis + 1:]
    return ops.einsum(f"{idx},{mat_idx}->{out}", x, mat)


def mode_product(x, mats, transpose=False):
    """`x` with `mats[k]` applied along axis k: `sum_i x[.., i, ..] M[i, j]`.

    `mats[k] is None` leaves axis k unchanged. With `transpose=True` each
    matrix is applied transposed (`sum_i x[.., i, ..] M[j, i]`). For a matrix
    `x` and `mats = [L, R]` this is `L^T x R` (or `L x R^T` transposed): the
    authors' cyclic `torch.tensordot(x, q, [[0], [0]])` over all axes, written
    one axis at a time.
    """
    for axis, mat in enumerate(mats):
        if mat is not None:
            x = along_axis(x, mat, axis, transpose)
    return x


def axis_gram(x, axis):
    """`x` contracted with itself over every axis but `axis`: a d x d matrix.

    For a matrix: `x x^T` (axis 0) or `x^T x` (axis 1); for a vector its outer
    product.
    """
    rank = len(x.shape)
    idx = _LETTERS[:rank]
    other = idx[:axis] + "z" + idx[axis + 1:]
    return ops.einsum(f"{idx},{other}->{idx[axis]}z", x, x)


def all_finite(x):
    return ops.all(ops.isfinite(x))


def constant(value, dtype):
    """A Python float as a tensor of `dtype`, rounded once (`ops.cast(0.999, "float64")`
    would round through float32 first)."""
    return ops.convert_to_tensor(value, dtype=dtype)


def cond(pred, true_fn, false_fn):
    """`ops.cond`, except that on JAX outside a trace only the taken branch runs.

    JAX only (the one backend path of these optimizers, isolated here): eagerly,
    `jax.lax.cond` traces and compiles both branches at every call (they are new
    closures each step), so an eager SOAP or Kron step on one 3x4 variable took
    seconds; with a concrete predicate the branch is chosen in Python instead.
    Under a trace (`jax.jit`, `fit`, `tf.function`) this is `ops.cond`, a
    conditional inside the compiled step; TensorFlow eager and PyTorch already
    run only the taken branch. Both paths give the same values (tested in
    tests/optimizers/test_soap.py).
    """
    if keras.backend.backend() == "jax":
        import jax

        if not isinstance(pred, jax.core.Tracer):
            return true_fn() if bool(pred) else false_fn()
    return ops.cond(pred, true_fn, false_fn)
