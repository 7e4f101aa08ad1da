"""Prodigy against a numpy transcription of the authors' code (tests/reference/prodigy.py)."""

import keras
import numpy as np
import pytest

from keras_lossopt.optimizers import Prodigy
from tests.optimizers import _harness
from tests.reference.prodigy import ProdigyReference as _Reference


def ProdigyReference(**kwargs):
    # d is estimated from x0 - x while the first steps are ~d0 = 1e-6 of |x|, below
    # float32 resolution: the reference stores the parameters in float32 as the
    # authors' float32 torch training does (everything else float64). Without it a
    # float64 trajectory drifts 1e-2 away within 20 steps, for both implementations.
    return _Reference(round_params_to=np.float32, **kwargs)

SETTINGS = [
    {},
    {"d0": 1e-2, "beta_3": 0.99, "weight_decay": 0.05},
    {"learning_rate": 0.5, "d0": 1e-4, "d_coef": 2.0, "safeguard_warmup": True},
    {"beta_1": 0.0, "d0": 1e-3},
]


@pytest.mark.multibackend
@pytest.mark.parametrize("problem", sorted(_harness.PROBLEMS))
def test_matches_reference_defaults(problem):
    err, got, want = _harness.compare(Prodigy, ProdigyReference, problem, steps=60)
    assert err <= 1e-4, err
    assert not np.allclose(got[-1], got[0])  # it moved


# d is global, so each problem needs its own optimizer: one problem per setting keeps
# the file fast while every setting and every problem is covered.
@pytest.mark.parametrize(
    "kwargs, problem", list(zip(SETTINGS[1:], ["matrix", "quadratic", "rosenbrock"]))
)
def test_matches_reference_settings(problem, kwargs):
    err, _, _ = _harness.compare(
        lambda: Prodigy(**kwargs), lambda: ProdigyReference(**kwargs), problem, steps=50
    )
    assert err <= 1e-4, err


@pytest.mark.multibackend
def test_d_is_global_over_variables():
    # Two variables share one d: compare against the reference's multi-parameter step.
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 2))
    b = rng.normal(size=(4,))
    ref = ProdigyReference(d0=1e-2)
    opt = Prodigy(d0=1e-2)
    va, vb = keras.Variable(a.astype("float32")), keras.Variable(b.astype("float32"))
    pa, pb = a.copy(), b.copy()

    def grads(x, y):  # gradient of sum(x^2 * [1, 10]) + sum((y - 1)^4)
        return x * np.array([2.0, 20.0]), 4 * (y - 1.0) ** 3

    for _ in range(20):
        ga, gb = grads(np.asarray(va.numpy(), "float64"), np.asarray(vb.numpy(), "float64"))
        opt.apply_gradients([(ga.astype("float32"), va), (gb.astype("float32"), vb)])
        pa, pb = ref.step_many([pa, pb], list(grads(pa, pb)))
    assert _harness.max_relative_error(va.numpy()[None], pa[None]) <= 1e-4
    assert _harness.max_relative_error(vb.numpy()[None], pb[None]) <= 1e-4
    np.testing.assert_allclose(float(opt.d.numpy()), ref.d, rtol=1e-4)
    assert ref.d > 1e-2  # the estimate grew, so the test exercises the d update


def test_golden_first_step():
    # Hand computation: at step 1, x == x0 so the numerator is 0 and d stays d0;
    # m = d0 (1 - b1) g, v = d0^2 (1 - b2) g^2, so the step is
    # d0 * lr * (1 - b1) / sqrt(1 - b2) * sign(g) / (1 + eps / (sqrt(1 - b2) |g|))
    # = 1e-6 * 0.1 / sqrt(0.001) = 3.16227766e-6 per coordinate (eps negligible).
    w = keras.Variable([0.0, 0.0, 0.0])
    opt = Prodigy()
    opt.apply_gradients([(np.array([0.5, -4.0, 1e-3], "float32"), w)])
    step = -np.asarray(w.numpy(), "float64")
    np.testing.assert_allclose(step, [3.16227766e-6, -3.16227766e-6, 3.16227766e-6], rtol=1e-3)
    assert float(opt.d.numpy()) == pytest.approx(1e-6)


def test_zero_learning_rate_step_changes_nothing():
    # Authors' code: with lr == 0 no state is touched and no step is taken.
    w = keras.Variable([1.0, 2.0])
    opt = Prodigy(learning_rate=0.0)
    for _ in range(3):
        opt.apply_gradients([(np.array([1.0, -1.0], "float32"), w)])
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])
    assert float(opt.d.numpy()) == pytest.approx(1e-6)
    assert all(float(np.abs(keras.ops.convert_to_numpy(v)).sum()) == 0.0
               for v in opt._ss + opt._velocities + opt._momentums)


def test_own_weight_decay_only():
    opt = Prodigy(weight_decay=0.1)
    assert opt.weight_decay is None  # Keras's decoupled decay does not also apply
    config = opt.get_config()
    assert config["weight_decay"] == 0.1
    clone = Prodigy.from_config(config)
    assert clone.own_weight_decay == 0.1 and clone.weight_decay is None


def test_no_argument_construction_and_config():
    opt = Prodigy()
    clone = Prodigy.from_config(opt.get_config())
    assert clone.get_config() == opt.get_config()


@pytest.mark.parametrize(
    "kwargs, bad",
    [
        ({"beta_1": 1.0}, "beta_1=1.0"),
        ({"beta_2": -0.1}, "beta_2=-0.1"),
        ({"beta_3": 1.5}, "beta_3=1.5"),
        ({"epsilon": 0.0}, "epsilon=0.0"),
        ({"d0": -1.0}, "d0=-1.0"),
        ({"d_coef": 0.0}, "d_coef=0.0"),
        ({"weight_decay": -0.1}, "weight_decay=-0.1"),
        ({"learning_rate": -1.0}, "learning_rate=-1.0"),
        ({"safeguard_warmup": "yes"}, "safeguard_warmup='yes'"),
    ],
)
def test_bad_arguments(kwargs, bad):
    with pytest.raises(ValueError, match=bad.replace("(", r"\(")):
        Prodigy(**kwargs)


def test_initial_point_is_recorded_when_built_inside_fit():
    # Keras's TF fit builds the optimizer while tracing the first train step: x0 must
    # still be the starting weights (regression: it stayed 0 and d never grew).
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(3, use_bias=False)])
    start = model.get_weights()[0].copy()
    opt = Prodigy()
    model.compile(optimizer=opt, loss="mse")
    model.fit(np.ones((4, 1), "float32"), np.zeros((4, 3), "float32"), batch_size=1,
              verbose=0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(opt._x0s[0]), start)
    assert float(opt.d.numpy()) > 1e-6
