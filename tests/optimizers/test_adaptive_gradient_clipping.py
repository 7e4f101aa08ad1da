"""AdaptiveGradientClipping against a numpy transcription of the NFNets code."""

import keras
import numpy as np
import pytest

from keras_lossopt.optimizers import AdaptiveGradientClipping
from tests.optimizers import _harness, _linear_model
from tests.reference.adaptive_gradient_clipping import SGDAGCReference, adaptive_clip

needs_float64 = pytest.mark.skipif(not _linear_model.float64_available(),
                                   reason="no float64 on this backend (JAX without x64)")

# clip_factor 0.125 clips most steps of the three problems (their gradients are large
# against their weights), 0.5 only some: both branches of the rule are exercised.
SETTINGS = [dict(clipping=0.125, nesterov=None), dict(clipping=0.5, nesterov=True)]


def _pair(clipping, nesterov):
    def keras_side():
        return AdaptiveGradientClipping(
            keras.optimizers.SGD(2**-8, momentum=0.875, nesterov=bool(nesterov)),
            clip_factor=clipping)

    def reference():
        return SGDAGCReference(2**-8, momentum=0.875, nesterov=nesterov, clipping=clipping)

    return keras_side, reference


@pytest.mark.multibackend
@pytest.mark.parametrize("setting", SETTINGS)
def test_matches_nfnets_sgd_agc_float32(setting):
    # Measured max relative error over the 50 steps: <= 5e-7.
    _harness.assert_matches(*_pair(**setting))


@needs_float64
@pytest.mark.multibackend
@pytest.mark.parametrize("setting", SETTINGS)
def test_matches_nfnets_sgd_agc_float64(setting):
    _harness.assert_matches(*_pair(**setting), rtol=1e-5, dtype="float64")


@pytest.mark.parametrize("dtype, rtol, atol", [("float32", 2e-6, 1e-7), ("float64", 1e-12, 1e-10)])
def test_golden_authors_code(dtype, rtol, atol):
    if dtype == "float64" and not _linear_model.float64_available():
        pytest.skip("no float64 on this backend")
    # Golden values: NFNets' adaptive_grad_clip(0.125, eps=1e-3)
    # (deepmind-research nfnets/agc_optax.py, run in float64 JAX with its two optax
    # names stubbed and jax.tree_map = jax.tree.map), then SGD with momentum 0.875 as in
    # nfnets/optim.py's SGD (m = 0.875 m + g; p -= lr m), lr=2**-5, 10 steps on
    # tests/optimizers/_linear_model.py.
    opt = AdaptiveGradientClipping(keras.optimizers.SGD(2**-5, momentum=0.875), clip_factor=0.125)
    w, b = _linear_model.run(opt, 10, dtype)
    np.testing.assert_allclose(w, [[-0.2105347830, -0.0117712282, -0.3923011337],
                                   [-0.7912880091, 0.2823870810, 0.0355550426],
                                   [-0.6565411696, -1.0126894867, 0.9092452484],
                                   [-0.0063271929, 0.2944886329, 0.5234350494]],
                               rtol=rtol, atol=atol)
    np.testing.assert_allclose(b, [-1.0262677393, 0.8188661386, 0.3118318756],
                               rtol=rtol, atol=atol)


@pytest.mark.parametrize("shape", [(5,), (4, 3), (1, 6), (6, 1), (3, 3, 2, 4), ()])
def test_clipped_gradient_matches_nfnets_per_shape(shape):
    # Ranks 0, 1, 2 (including the squeeze rule: a (1, n) or (n, 1) kernel is one unit)
    # and 4, against NFNets' unitwise_norm and clipping; SGD(lr=1) exposes the gradient.
    rng = np.random.default_rng(1)
    w0 = rng.normal(size=shape)
    g = 0.05 * rng.normal(size=shape) * rng.choice([1.0, 30.0], size=shape)
    w = keras.Variable(w0.astype("float32"))
    AdaptiveGradientClipping(keras.optimizers.SGD(learning_rate=1.0), clip_factor=0.02).apply_gradients(
        [(keras.ops.convert_to_tensor(g.astype("float32")), w)])
    clipped = w0 - w.numpy()
    expected = adaptive_clip(w0, g, clipping=0.02, eps=1e-3)
    np.testing.assert_allclose(clipped, expected, rtol=1e-4, atol=1e-6)
    assert not np.allclose(expected, g) or shape == ()  # the clipping was active


def test_rank_3_units_are_on_the_last_axis():
    # Keras's Conv1D kernel (width, in, out): one unit per output channel (NFNets' code
    # would take axis 0 only, its multi-head linear layout; see the class docstring).
    rng = np.random.default_rng(2)
    w0, g = rng.normal(size=(3, 2, 4)), 10.0 * rng.normal(size=(3, 2, 4))
    w = keras.Variable(w0.astype("float32"))
    AdaptiveGradientClipping(keras.optimizers.SGD(learning_rate=1.0), clip_factor=0.1).apply_gradients(
        [(keras.ops.convert_to_tensor(g.astype("float32")), w)])
    step = w0 - w.numpy()
    ratio = np.linalg.norm(step.reshape(6, 4), axis=0) / np.linalg.norm(w0.reshape(6, 4), axis=0)
    np.testing.assert_allclose(ratio, 0.1, rtol=1e-5)


def test_epsilon_lets_zero_weights_move_and_exclude_skips_variables():
    # Zero weights: max_norm = clip_factor * epsilon = 0.01 * 1e-3.
    zero = keras.Variable(np.zeros(3, "float32"), name="kernel")
    head = keras.Variable(np.ones(3, "float32"), name="head")
    opt = AdaptiveGradientClipping(keras.optimizers.SGD(learning_rate=1.0), exclude=("head",))
    g = keras.ops.convert_to_tensor([3.0, 0.0, 4.0])
    opt.apply_gradients([(g, zero), (g, head)])
    np.testing.assert_allclose(-zero.numpy(), [0.6e-5, 0.0, 0.8e-5], rtol=1e-5)
    np.testing.assert_allclose(head.numpy(), [-2.0, 1.0, -3.0])  # not clipped


def test_defaults_and_config_round_trip():
    opt = AdaptiveGradientClipping()
    assert type(opt.inner_optimizer) is keras.optimizers.Adam
    assert (opt.clip_factor, opt.epsilon, opt.exclude) == (0.01, 1e-3, ())
    for name in ("agc", "adaptive_gradient_clipping"):
        assert type(keras.optimizers.get(name)) is AdaptiveGradientClipping
    opt = AdaptiveGradientClipping("sgd", clip_factor=0.16, exclude=["dense_2", "bias$"])
    clone = AdaptiveGradientClipping.from_config(opt.get_config())
    assert clone.exclude == ("dense_2", "bias$") and clone.clip_factor == 0.16
    assert clone.get_config() == opt.get_config()


@pytest.mark.parametrize("kwargs, message", [
    (dict(clip_factor=0.0), r"clip_factor=0\.0"),
    (dict(epsilon=-1.0), r"epsilon=-1\.0"),
    (dict(exclude="head"), "exclude='head'"),
    (dict(exclude=["("]), r"exclude=\['\('\]"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AdaptiveGradientClipping(**kwargs)
