"""Side-by-side runs of a Keras optimizer and a numpy reference on small test problems.

Shared by the optimizer tests (reuse it; a change here changes what every optimizer test
checks). Each problem gives a float64 starting point and a float64 gradient
function. The Keras optimizer updates a float32 `keras.Variable`; the reference
updates a float64 numpy array; each side takes the gradient at its OWN iterate, so the
two trajectories are independent and any difference in the update rule shows up.

A reference is any object with a method `step(params, grad) -> new_params` (numpy
arrays) that keeps its own state between calls; see tests/reference/.

`assert_matches` is the usual entry point. Errors are measured per step as ||x_keras - x_ref||_inf / ||x_ref||_inf (the problems'
minimisers are away from 0, so the denominator never vanishes), and the maximum over
all steps is returned.
"""

import dataclasses

import keras
import numpy as np


@dataclasses.dataclass(frozen=True)
class Problem:
    name: str
    x0: np.ndarray
    grad: object  # float64 array -> float64 array of the same shape
    loss: object  # float64 array -> float


def _rosenbrock():
    a, b = 1.0, 100.0

    def loss(x):
        return (a - x[0]) ** 2 + b * (x[1] - x[0] ** 2) ** 2

    def grad(x):
        return np.array(
            [-2.0 * (a - x[0]) - 4.0 * b * x[0] * (x[1] - x[0] ** 2),
             2.0 * b * (x[1] - x[0] ** 2)]
        )

    return Problem("rosenbrock", np.array([-1.5, 2.0]), grad, loss)


def _ill_conditioned_quadratic():
    # 0.5 * (x - c)^T diag(1, 100) (x - c), minimiser c away from the origin.
    h = np.array([1.0, 100.0])
    c = np.array([1.0, -2.0])

    def loss(x):
        return 0.5 * float(np.sum(h * (x - c) ** 2))

    def grad(x):
        return h * (x - c)

    return Problem("quadratic", np.array([3.0, 1.0]), grad, loss)


def _matrix_least_squares():
    # 0.5 * ||A W - B||_F^2 with a fixed random A (5x4), B (5x3); W is 4x3.
    rng = np.random.default_rng(20240611)
    a = rng.normal(size=(5, 4))
    b = rng.normal(size=(5, 3))
    x0 = rng.normal(size=(4, 3))

    def loss(w):
        return 0.5 * float(np.sum((a @ w - b) ** 2))

    def grad(w):
        return a.T @ (a @ w - b)

    return Problem("matrix", x0, grad, loss)


PROBLEMS = {p.name: p for p in (_rosenbrock(), _ill_conditioned_quadratic(),
                                _matrix_least_squares())}


def _as_problems(problems):
    if isinstance(problems, (str, Problem)):
        problems = [problems]
    return [PROBLEMS[p] if isinstance(p, str) else p for p in problems]


def make_apply(optimizer, variables):
    """A callable `apply(grads)` doing `optimizer.apply_gradients(zip(grads, variables))`.

    On TensorFlow the step runs inside a `tf.function`, as in `fit` (this also catches
    Python control flow on tensors, and is much faster than eager steps); the
    optimizer is built first because state cannot be created inside a tf.function.
    Other backends run eagerly.
    """
    optimizer.build(variables)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        @tf.function(jit_compile=False, reduce_retracing=True)
        def apply(grads):
            optimizer.apply_gradients(zip(grads, variables))

        return apply
    return lambda grads: optimizer.apply_gradients(zip(grads, variables))


def run_keras(optimizer, problems, steps=50, dtype="float32"):
    """Trajectories of one `optimizer` updating one variable per problem (float32 unless
    `dtype` says otherwise).

    All variables are updated by the same `apply_gradients` call each step (cheaper
    than one optimizer per problem). Returns a list of arrays (steps + 1, *shape).
    """
    problems = _as_problems(problems)
    variables = [keras.Variable(p.x0.astype(dtype), dtype=dtype) for p in problems]
    trajectories = [[p.x0.astype(dtype)] for p in problems]
    apply = make_apply(optimizer, variables)
    for _ in range(steps):
        values = [np.asarray(keras.ops.convert_to_numpy(v), dtype=np.float64)
                  for v in variables]
        grads = [keras.ops.convert_to_tensor(p.grad(x).astype(dtype))
                 for p, x in zip(problems, values)]
        apply(grads)
        for trajectory, v in zip(trajectories, variables):
            trajectory.append(np.asarray(keras.ops.convert_to_numpy(v)))
    return [np.stack(t) for t in trajectories]


def run_reference(reference, problem, steps=50):
    """Trajectory (steps + 1, *shape) of the numpy `reference` on one problem, float64."""
    (problem,) = _as_problems(problem)
    x = problem.x0.astype(np.float64).copy()
    trajectory = [x.copy()]
    for _ in range(steps):
        x = np.asarray(reference.step(x, problem.grad(x)), dtype=np.float64)
        trajectory.append(x.copy())
    return np.stack(trajectory)


def max_relative_error(actual, expected):
    """max over steps of ||actual_k - expected_k||_inf / ||expected_k||_inf."""
    axes = tuple(range(1, expected.ndim))
    num = np.max(np.abs(actual - expected), axis=axes)
    den = np.maximum(np.max(np.abs(expected), axis=axes), 1e-12)
    return float(np.max(num / den))


def compare_problems(make_optimizer, make_reference, problems=tuple(PROBLEMS), steps=50,
                     dtype="float32"):
    """One Keras optimizer on all `problems` at once, one fresh reference per problem.

    Returns {problem name: (max relative error, keras trajectory, reference trajectory)}.
    """
    problems = _as_problems(problems)
    got = run_keras(make_optimizer(), problems, steps, dtype)
    result = {}
    for problem, keras_trajectory in zip(problems, got):
        want = run_reference(make_reference(), problem, steps)
        result[problem.name] = (max_relative_error(keras_trajectory, want),
                                keras_trajectory, want)
    return result


def compare(make_optimizer, make_reference, problem, steps=50):
    """Single-problem form of `compare_problems`: returns (error, keras, ref)."""
    (result,) = compare_problems(make_optimizer, make_reference, [problem], steps).values()
    return result


def assert_matches(make_optimizer, make_reference, problems=tuple(PROBLEMS), steps=50,
                   rtol=1e-4, dtype="float32"):
    """Asserts <= `rtol` relative agreement on every problem and that each one moved."""
    results = compare_problems(make_optimizer, make_reference, problems, steps, dtype)
    errors = {name: err for name, (err, _, _) in results.items()}
    assert max(errors.values()) <= rtol, errors
    for name, (_, got, _) in results.items():
        assert not np.allclose(got[-1], got[0]), f"{name}: the variable did not move"
    return errors


def run_constant_gradients(optimizer, initial_values, gradients, steps):
    """Applies the same `gradients` `steps` times; returns the final values (numpy).

    The shape of TensorFlow Addons' `run_dense_sample` tests, whose expected values
    serve as golden values.
    """
    variables = [keras.Variable(np.asarray(v, dtype="float32")) for v in initial_values]
    grads = [keras.ops.convert_to_tensor(np.asarray(g, dtype="float32")) for g in gradients]
    apply = make_apply(optimizer, variables)
    for _ in range(steps):
        apply(grads)
    return [np.asarray(keras.ops.convert_to_numpy(v)) for v in variables]
