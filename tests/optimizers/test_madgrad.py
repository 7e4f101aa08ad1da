"""MADGRAD against a numpy transcription of the authors' code (tests/reference/madgrad.py)."""

import keras
import numpy as np
import pytest

from keras_lossopt.optimizers import MADGRAD
from tests.optimizers import _harness
from tests.reference.madgrad import MADGRADReference

SETTINGS = [
    {},
    {"learning_rate": 0.01, "momentum": 0.0},  # the path that recovers x0 from the state
    {"learning_rate": 0.02, "momentum": 0.5, "weight_decay": 0.1},
]


@pytest.mark.multibackend
def test_matches_reference_defaults():
    _harness.assert_matches(MADGRAD, MADGRADReference, steps=50)


@pytest.mark.parametrize("kwargs", SETTINGS[1:])
def test_matches_reference_settings(kwargs):
    _harness.assert_matches(lambda: MADGRAD(**kwargs), lambda: MADGRADReference(**kwargs), steps=50)


def test_golden_first_step():
    # Hand computation of step k = 0 from Algorithm 1 / madgrad.py: lamb = lr + eps,
    # s = lamb g, nu = lamb g^2, z = x0 - s / (cbrt(nu) + eps), x = x0 + (1 - m) (z - x0).
    # lr = 0.01, eps = 1e-6, g = 1: lamb = 0.010001, cbrt(0.010001) = 0.21545065...,
    # x = 1 - 0.1 * 0.010001 / 0.21545165 = 0.99535812...
    w = keras.Variable([1.0])
    opt = MADGRAD(learning_rate=0.01)
    opt.apply_gradients([(np.array([1.0], "float32"), w)])
    assert float(w.numpy()[0]) == pytest.approx(0.99535812, abs=2e-7)


def test_learning_rate_zero_still_moves_by_epsilon():
    # The authors add eps to lr, so even lr = 0 takes a (tiny) step: a documented quirk.
    w = keras.Variable([1.0])
    opt = MADGRAD(learning_rate=0.0, momentum=0.0)
    opt.apply_gradients([(np.array([1.0], "float32"), w)])
    # z = 1 - 1e-6 / (cbrt(1e-6) + 1e-6) = 1 - 1e-6 / 0.010001
    assert float(w.numpy()[0]) == pytest.approx(1 - 1e-6 / 0.010001, abs=1e-7)
    assert float(w.numpy()[0]) < 1.0


def test_own_weight_decay_only():
    opt = MADGRAD(weight_decay=0.1)
    assert opt.weight_decay is None
    clone = MADGRAD.from_config(opt.get_config())
    assert clone.own_weight_decay == 0.1 and clone.weight_decay is None


def test_no_argument_construction_and_config():
    opt = MADGRAD()
    assert MADGRAD.from_config(opt.get_config()).get_config() == opt.get_config()


@pytest.mark.parametrize(
    "kwargs, bad",
    [
        ({"momentum": 1.0}, "momentum=1.0"),
        ({"momentum": -0.5}, "momentum=-0.5"),
        ({"epsilon": 0.0}, "epsilon=0.0"),
        ({"weight_decay": -1.0}, "weight_decay=-1.0"),
        ({"learning_rate": -0.1}, "learning_rate=-0.1"),
    ],
)
def test_bad_arguments(kwargs, bad):
    with pytest.raises(ValueError, match=bad):
        MADGRAD(**kwargs)


def test_initial_point_is_recorded_when_built_inside_fit():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(3, use_bias=False)])
    start = model.get_weights()[0].copy()
    opt = MADGRAD()
    model.compile(optimizer=opt, loss="mse")
    model.fit(np.ones((4, 1), "float32"), np.zeros((4, 3), "float32"), batch_size=1,
              verbose=0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(opt._x0s[0]), start)


@pytest.mark.multibackend
def test_cube_root_is_accurate_in_every_float_dtype():
    # exp(log(x) / 3) replaces ops.power(x, 1/3) for speed (benchmarks/README.md);
    # 16-bit inputs go through float32 so they stay within their own rounding.
    from keras_lossopt.optimizers.madgrad import _cube_root

    x = np.geomspace(1e-8, 1e3, 2001)
    for dtype, rtol in (("float32", 2e-6), ("float16", 1e-3), ("bfloat16", 8e-3)):
        tensor = keras.ops.cast(keras.ops.convert_to_tensor(x.astype("float32")), dtype)
        exact = np.cbrt(keras.ops.convert_to_numpy(keras.ops.cast(tensor, "float32")).astype("float64"))
        got = keras.ops.convert_to_numpy(keras.ops.cast(_cube_root(tensor), "float32"))
        assert keras.backend.standardize_dtype(_cube_root(tensor).dtype) == dtype
        np.testing.assert_allclose(got, exact, rtol=rtol, err_msg=dtype)
    assert float(keras.ops.convert_to_numpy(_cube_root(keras.ops.zeros((1,)))[0])) == 0.0
