"""Optimizer walks on the 2-D Rosenbrock function, with Keras's own optimizers.

Each walk is one `fit` of a one-layer model whose weights are the point (x, y):
the backend's autodiff gives the gradient and the real optimizer takes the steps.
"""

import keras
import numpy as np
from keras import ops

from keras_lossopt import _keras_compat
from keras_lossopt.cli.engine import steps_per_execution
from keras_lossopt.cli.specs import OptimizerSpec

START = (-1.2, 1.0)  # the classic starting point
STEPS = 1500

# (label, optimizer spec) of the default plot; learning rates picked so that each
# walk is stable from START (gradient descent needs lr < 2 / 1330 there) and
# reaches the curved valley; 1500 steps take about a second, compiled.
DEFAULT_WALKERS = (
    ("gradient descent (lr=1e-3)", OptimizerSpec("gradient_descent", {"learning_rate": 1e-3})),
    ("momentum 0.9 (lr=2e-4)", OptimizerSpec("sgd", {"learning_rate": 2e-4, "momentum": 0.9})),
    ("adam (lr=0.02)", OptimizerSpec("adam", {"learning_rate": 0.02})),
    ("rmsprop (lr=0.002)", OptimizerSpec("rmsprop", {"learning_rate": 0.002})),
)


def rosenbrock(x, y, a=1.0, b=100.0):
    """f(x, y) = (a - x)^2 + b (y - x^2)^2, minimum 0 at (a, a^2)."""
    return (a - x) ** 2 + b * (y - x**2) ** 2


def rosenbrock_grad(x, y, a=1.0, b=100.0):
    """(df/dx, df/dy) = (-2 (a - x) - 4 b x (y - x^2), 2 b (y - x^2))."""
    return np.array([-2.0 * (a - x) - 4.0 * b * x * (y - x**2), 2.0 * b * (y - x**2)])


class _Walker(keras.layers.Layer):
    """A layer whose only weight is the point (x, y); its output is f(x, y).

    While training it also records, inside the compiled step, the point at which
    each gradient is taken (like BatchNormalization updates its statistics), so
    a whole walk is one `fit` call with one graph execution.
    """

    def __init__(self, start, steps, **kwargs):
        super().__init__(**kwargs)
        self.start = [float(v) for v in start]
        self.steps = steps

    def build(self, input_shape):
        self.xy = self.add_weight(shape=(2,), name="xy",
                                  initializer=keras.initializers.Constant(self.start))
        self.trail = self.add_weight(shape=(self.steps, 2), name="trail",
                                     initializer="zeros", trainable=False)
        self.count = self.add_weight(shape=(), name="count", initializer="zeros",
                                     trainable=False)

    def call(self, inputs, training=False):
        if training:
            row = ops.one_hot(ops.cast(self.count, "int32"), self.steps, dtype=self.trail.dtype)
            row = ops.expand_dims(row, -1)
            self.trail.assign(self.trail + row * (ops.expand_dims(self.xy, 0) - self.trail))
            self.count.assign(self.count + 1.0)
        value = rosenbrock(self.xy[0], self.xy[1])
        return ops.zeros_like(inputs) + value


def _value(y_true, y_pred):
    return ops.mean(y_pred, axis=-1)


def walk(spec, start=START, steps=STEPS):
    """The (steps + 1, 2) array of points visited by the optimizer of `spec`.

    The gradient of f is taken by the backend's autodiff inside `fit`, and the
    optimizer is the real Keras/keras_lossopt one.
    """
    walker = _Walker(start, steps)
    model = keras.Sequential([keras.Input((1,)), walker])
    model.compile(optimizer=spec.make(), loss=_value,
                  steps_per_execution=steps_per_execution(steps))
    dummy = np.zeros((steps, 1), dtype="float32")
    model.fit(dummy, dummy, batch_size=1, epochs=1, shuffle=False, verbose=0)
    trail = _keras_compat.to_numpy(walker.trail).astype("float64")
    end = _keras_compat.to_numpy(walker.xy).astype("float64")
    return np.concatenate([trail, end[None]], axis=0)


def walks(walkers=None, start=START, steps=None):
    """`{label: path}` for each walker, plus a JSON summary of where they ended.

    `walkers` defaults to `DEFAULT_WALKERS` and `steps` to `STEPS`.
    """
    walkers = DEFAULT_WALKERS if walkers is None else walkers
    steps = STEPS if steps is None else steps
    paths = {label: walk(spec, start, steps) for label, spec in walkers}
    summary = {
        label: {
            "end": [float(v) for v in path[-1]],
            "f_end": float(rosenbrock(*path[-1])),
            "distance_to_minimum": float(np.hypot(path[-1][0] - 1.0, path[-1][1] - 1.0)),
            "steps": len(path) - 1,
        }
        for label, path in paths.items()
    }
    return paths, summary
