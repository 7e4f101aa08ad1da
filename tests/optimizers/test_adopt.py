"""ADOPT against a numpy transcription of the authors' code (tests/reference/adopt.py)."""

import keras
import numpy as np
import pytest

from keras_lossopt.optimizers import ADOPT
from tests.optimizers import _harness, _linear_model
from tests.reference.adopt import ADOPTReference

needs_float64 = pytest.mark.skipif(not _linear_model.float64_available(),
                                   reason="no float64 on this backend (JAX without x64)")

SETTINGS = [
    dict(learning_rate=0.01),
    # No clipping, a larger epsilon floor, a fast beta_2, and decoupled decay.
    dict(learning_rate=0.003, beta_1=0.8, beta_2=0.99, epsilon=1e-3, clip_exponent=None,
         weight_decay=0.1),
    dict(learning_rate=0.01, clip_exponent=0.5, weight_decay=0.05),
]


@pytest.mark.multibackend
@pytest.mark.parametrize("kwargs", SETTINGS)
def test_matches_reference_float32(kwargs):
    # Measured max relative error over the 50 steps: 2e-7 to 6e-7.
    _harness.assert_matches(lambda: ADOPT(**kwargs), lambda: ADOPTReference(**kwargs))


@needs_float64
@pytest.mark.multibackend
@pytest.mark.parametrize("kwargs", SETTINGS)
def test_matches_reference_float64(kwargs):
    # Measured on TensorFlow: <= 5e-9, the float32 rounding of Keras's learning-rate
    # variable (0.01 is not a float32 number); <= 6e-13 with learning_rate=2**-7.
    _harness.assert_matches(lambda: ADOPT(**kwargs), lambda: ADOPTReference(**kwargs),
                            rtol=1e-5, dtype="float64")


@pytest.mark.parametrize("dtype, rtol", [("float32", 2e-6), ("float64", 1e-12)])
def test_golden_authors_code(dtype, rtol):
    if dtype == "float64" and not _linear_model.float64_available():
        pytest.skip("no float64 on this backend")
    # Golden values: the authors' adopt.ADOPT (iShohei220/adopt, src/adopt/adopt.py at
    # 6468572) in float64 PyTorch, lr=2**-6, weight_decay=0.125, decouple=True, other
    # arguments default, 10 step() calls on tests/optimizers/_linear_model.py (both the
    # foreach and the single-tensor path give these digits).
    w, b = _linear_model.run(ADOPT(learning_rate=2**-6, weight_decay=0.125), 10, dtype)
    np.testing.assert_allclose(w, [[-0.2342423152, -0.0302511038, -0.4369145171],
                                   [-0.7431893075, 0.2183085150, 0.0188689766],
                                   [-0.6939515052, -1.0321154980, 0.8529402742],
                                   [0.0455439207, 0.2982946523, 0.5316965051]],
                               rtol=rtol, atol=1e-10)
    np.testing.assert_allclose(b, [-1.0674594593, 0.9262919362, 0.3409072716],
                               rtol=rtol, atol=1e-10)


def test_first_call_only_sets_the_second_moment():
    # The authors' `if step == 0: exp_avg_sq.addcmul_(grad, grad); continue`: no move,
    # no decay, m untouched, v = g**2 (not (1 - beta_2) * g**2).
    w = keras.Variable([1.0, -2.0])
    opt = ADOPT(learning_rate=0.1, weight_decay=0.5)
    opt.apply_gradients([(keras.ops.convert_to_tensor([3.0, 0.5]), w)])
    np.testing.assert_array_equal(w.numpy(), [1.0, -2.0])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(opt._velocities[0]), [9.0, 0.25])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(opt._momentums[0]), [0.0, 0.0])


def test_epsilon_is_a_floor_not_added():
    # Hand computation with epsilon=1: v = 0.25 after the first call, sqrt(v) = 0.5 < 1,
    # so the floor divides by 1 (n = 0.5, m = 0.05, w = -0.1 * 0.05); an added epsilon
    # would divide by 1.5 (w = -0.00333).
    w = keras.Variable([0.0])
    opt = ADOPT(learning_rate=0.1, epsilon=1.0)
    for _ in range(2):
        opt.apply_gradients([(keras.ops.convert_to_tensor([0.5]), w)])
    np.testing.assert_allclose(w.numpy(), [-0.005], rtol=1e-6)


def test_clip_is_step_to_the_clip_exponent():
    # Hand computation. First gradient 0: v = 0, so the second call divides by
    # max(0, 1e-6): n = 1e6, clipped to 1**0.25 = 1; m = 0.1, w = -0.01. Third call:
    # v = 1e-4, n = 1 / 0.01 = 100, clipped to 2**0.25; m = 0.09 + 0.1 * 2**0.25.
    w = keras.Variable([0.0])
    opt = ADOPT(learning_rate=0.1)
    for g in (0.0, 1.0, 1.0):
        opt.apply_gradients([(keras.ops.convert_to_tensor([g]), w)])
    m3 = 0.9 * 0.1 + 0.1 * 2**0.25
    np.testing.assert_allclose(w.numpy(), [-0.1 * 0.1 - 0.1 * m3], rtol=1e-6)
    # clip_exponent=None: nothing is clipped (m = 0.1 * 1e6, then 0.9 m + 0.1 * 100).
    w = keras.Variable([0.0])
    opt = ADOPT(learning_rate=0.1, clip_exponent=None)
    for g in (0.0, 1.0, 1.0):
        opt.apply_gradients([(keras.ops.convert_to_tensor([g]), w)])
    m2 = 0.1 * 1e6
    np.testing.assert_allclose(w.numpy(), [-0.1 * m2 - 0.1 * (0.9 * m2 + 0.1 * 100.0)],
                               rtol=1e-6)


def test_weight_decay_is_decoupled_and_respects_exclusions():
    # Zero gradients after the first call: m stays 0, so only the decay moves w.
    kept, decayed = keras.Variable([2.0], name="bias"), keras.Variable([2.0], name="kernel")
    opt = ADOPT(learning_rate=0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["bias"])
    zero = keras.ops.convert_to_tensor([0.0])
    for _ in range(3):
        opt.apply_gradients([(zero, kept), (zero, decayed)])
    np.testing.assert_allclose(kept.numpy(), [2.0])
    np.testing.assert_allclose(decayed.numpy(), [2.0 * 0.95**2], rtol=1e-6)
    assert opt.weight_decay is None  # Keras's own decay is not applied on top


def test_defaults_and_config_round_trip():
    opt = ADOPT()
    config = opt.get_config()
    assert (config["beta_1"], config["beta_2"], config["epsilon"], config["clip_exponent"]) == (
        0.9, 0.9999, 1e-6, 0.25)
    assert np.isclose(config["learning_rate"], 1e-3) and config["weight_decay"] is None
    opt = ADOPT(clip_exponent=None, weight_decay=0.01)
    assert ADOPT.from_config(opt.get_config()).get_config() == opt.get_config()
    assert type(keras.optimizers.get("adopt")) is ADOPT


@pytest.mark.parametrize(
    "kwargs, fragment",
    [(dict(beta_1=1.0), "beta_1=1.0"), (dict(beta_2=-0.1), "beta_2=-0.1"),
     (dict(epsilon=-1.0), "epsilon=-1.0"), (dict(clip_exponent=-0.5), "clip_exponent=-0.5"),
     (dict(weight_decay=-1.0), "weight_decay=-1.0"),
     (dict(learning_rate=-0.1), "learning_rate=-0.1")],
)
def test_bad_arguments(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        ADOPT(**kwargs)
