"""Small helpers for the loss-family tests: values and gradients on
any backend, and a tiny compile + fit smoke run."""

import keras
import numpy as np
from keras import ops

from keras_lossopt import _autodiff


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def value_and_grad(fn, x, dtype="float32"):
    """`fn(tensor) -> scalar tensor`; returns (value, d value / d x) as numpy arrays.

    `x` is cast to `dtype` first; `dtype=None` keeps its own. The library's one
    autodiff helper (`keras_lossopt._autodiff`), so these tests exercise it too.
    """
    return _autodiff.value_and_grad(fn, x, dtype=dtype)


def grad(fn, x):
    """d fn / d x at `x` (in its own dtype) as a numpy array, on the current backend."""
    return value_and_grad(fn, x, dtype=None)[1]


def fit_smoke(loss_name, x, y, units, activation=None, epochs=2):
    """Compiles a one-layer model with the loss given by its string name, fits it
    briefly and returns the per-epoch training losses."""
    model = keras.Sequential([keras.Input(shape=x.shape[1:]),
                              keras.layers.Dense(units, activation=activation)])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=loss_name)
    history = model.fit(x, y, batch_size=len(x), epochs=epochs, verbose=0)
    return history.history["loss"]
