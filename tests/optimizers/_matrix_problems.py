"""Matrix and tensor test problems for the Kronecker-factored optimizers (SOAP, Shampoo, Kron).

Like `_harness` (whose vector problems and error measure this reuses), the Keras
optimizer and a numpy reference each take the gradient at their own iterate. Unlike
`_harness.run_keras` the Keras variables may be float64, for the <= 1e-5 float64
comparisons, and several problems are trained by one optimizer at once.

Problems (float64 data, fixed seeds):
- `ls_3x4`, `ls_6x5`: 0.5 ||A W C - B||_F^2 with A of 5x3 / 8x6 and C of 4x6 / 5x7.
  The right factor C matters: with 0.5 ||A W - B||^2 alone the column space of the
  updates never leaves that of the first gradient (rank <= m < n for 3x4), so SOAP's
  component along the null eigenvector of G^T G is exactly zero in exact arithmetic
  and pure rounding noise in floating point, which Adam's normalisation amplifies:
  the authors' code itself then moves 7e-3 apart from a 1e-15 change of W0. With C
  every factor is full rank after a few steps and eigen-decompositions are unique up
  to signs (which these algorithms do not depend on);
- `tensor_2x2x3x4`: a conv-kernel-shaped W, 0.5 ||A vec(W) - b||^2 (A 60 x 48);
- `rosenbrock`, `quadratic`: the harness's 2-vector problems.
"""

import keras
import numpy as np

from tests.optimizers import _harness


def _least_squares(name, rows, shape, cols, seed):
    rng = np.random.default_rng(seed)
    m, n = shape
    a = rng.normal(size=(rows, m)) / np.sqrt(rows)
    c = rng.normal(size=(n, cols)) / np.sqrt(cols)
    b = rng.normal(size=(rows, cols))
    x0 = rng.normal(size=shape)

    def grad(w):
        return a.T @ (a @ w @ c - b) @ c.T

    def loss(w):
        return 0.5 * float(np.sum((a @ w @ c - b) ** 2))

    return _harness.Problem(name, x0, grad, loss)


def _tensor_least_squares(name, shape, rows, seed):
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    a = rng.normal(size=(rows, size)) / np.sqrt(size)
    b = rng.normal(size=rows)
    x0 = rng.normal(size=shape)

    def grad(w):
        return (a.T @ (a @ w.ravel() - b)).reshape(shape)

    def loss(w):
        return 0.5 * float(np.sum((a @ w.ravel() - b) ** 2))

    return _harness.Problem(name, x0, grad, loss)


PROBLEMS = {
    p.name: p
    for p in (
        _least_squares("ls_3x4", 5, (3, 4), 6, 3),
        _least_squares("ls_6x5", 8, (6, 5), 7, 65),
        _tensor_least_squares("tensor_2x2x3x4", (2, 2, 3, 4), 60, 48),
        _harness.PROBLEMS["rosenbrock"],
        _harness.PROBLEMS["quadratic"],
    )
}
MATRICES = ("ls_3x4", "ls_6x5")
VECTORS = ("rosenbrock", "quadratic")


def run_keras(optimizer, names, steps, dtype="float64"):
    """Trajectories (steps + 1, *shape) of `optimizer` training one variable per problem."""
    problems = [PROBLEMS[n] for n in names]
    variables = [keras.Variable(p.x0.astype(dtype), dtype=dtype, name=f"w_{p.name}")
                 for p in problems]
    apply = _harness.make_apply(optimizer, variables)
    history = [[p.x0.astype(dtype).astype("float64")] for p in problems]
    for _ in range(steps):
        values = [np.asarray(keras.ops.convert_to_numpy(v), "float64") for v in variables]
        apply([keras.ops.convert_to_tensor(p.grad(x).astype(dtype), dtype=dtype)
               for p, x in zip(problems, values)])
        for h, v in zip(history, variables):
            h.append(np.asarray(keras.ops.convert_to_numpy(v), "float64"))
    return [np.stack(h) for h in history]


def run_reference(make_reference, name, steps):
    return _harness.run_reference(make_reference(), PROBLEMS[name], steps)


def compare(make_optimizer, make_reference, names, steps=60, dtype="float64"):
    """{problem: max over steps of ||x_keras - x_ref||_inf / ||x_ref||_inf}."""
    got = run_keras(make_optimizer(), names, steps, dtype)
    errors = {}
    for name, trajectory in zip(names, got):
        want = run_reference(make_reference, name, steps)
        assert not np.allclose(want[-1], want[0]), f"{name}: the reference did not move"
        errors[name] = _harness.max_relative_error(trajectory, want)
    return errors


def skip_float64_on_jax():
    """JAX computes float64 only under the process-wide `jax_enable_x64` switch."""
    import pytest

    if keras.backend.backend() == "jax":
        pytest.skip("float64 on JAX needs the process-wide jax_enable_x64 switch")


def golden_cases(optimizer):
    """The cases of tests/reference/golden_kronecker.json for `optimizer` (see its generator,
    tests/reference/authors_golden.py: the authors' PyTorch code run in float64)."""
    import json
    import os

    path = os.path.join(os.path.dirname(__file__), "..", "reference", "golden_kronecker.json")
    with open(path) as f:
        data = json.load(f)
    return [(c["label"], c["kwargs"], c["final"], data["steps"]) for c in data["cases"]
            if c["optimizer"] == optimizer]


def assert_golden(make_optimizer, kwargs, final, steps, rtol=1e-5):
    """Keras float64 run vs the authors' final values; returns {problem: relative error}."""
    names = list(final)
    got = run_keras(make_optimizer(**kwargs), names, steps, "float64")
    errors = {}
    for name, trajectory in zip(names, got):
        want = np.asarray(final[name])
        errors[name] = float(np.max(np.abs(trajectory[-1].ravel() - want)) / np.max(np.abs(want)))
    assert max(errors.values()) <= rtol, errors
    return errors


def assert_compiles_and_fits(name, cls, **kwargs):
    """`compile(optimizer=name)` and `compile(optimizer=cls(**kwargs))` each fit 3 eager steps."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 3)).astype("float32")
    y = (x @ np.array([[1.0, 0.0], [-2.0, 1.0], [0.5, 0.5]])).astype("float32")
    for optimizer in (name, cls(**kwargs)):
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        before = [np.array(w) for w in model.get_weights()]
        model.compile(optimizer=optimizer, loss="mse", run_eagerly=True)
        model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
        assert type(model.optimizer) is cls, (optimizer, type(model.optimizer))
        after = model.get_weights()
        assert all(np.all(np.isfinite(w)) for w in after), optimizer
        assert any(not np.array_equal(a, b) for a, b in zip(after, before)), optimizer
