"""MARS against a numpy transcription of the authors' code (tests/reference/mars.py)."""

import keras
import numpy as np
import pytest

from keras_lossopt.optimizers import MARS
from tests.optimizers import _harness, _linear_model
from tests.reference.lookahead import AdamReference
from tests.reference.mars import MARSReference

needs_float64 = pytest.mark.skipif(not _linear_model.float64_available(),
                                   reason="no float64 on this backend (JAX without x64)")

SETTINGS = [
    # Defaults but the learning rate: the 1-D problems take the AdamW branch, the
    # matrix the MARS branch.
    dict(learning_rate=0.01, learning_rate_1d=0.01),
    # Every problem on the MARS branch, with decay.
    dict(learning_rate=0.01, optimize_1d=True, weight_decay=0.1),
    # Both branches with their own rates and decays, amsgrad, a stronger correction.
    dict(learning_rate=0.005, gamma=0.1, amsgrad=True, learning_rate_1d=0.002,
         weight_decay_1d=0.2, weight_decay=0.05, beta_1=0.9),
]


@pytest.mark.multibackend
@pytest.mark.parametrize("kwargs", SETTINGS)
def test_matches_reference_float32(kwargs):
    # Measured max relative error over the 50 steps: 1e-7 to 7e-7.
    _harness.assert_matches(lambda: MARS(**kwargs), lambda: MARSReference(**kwargs))


@needs_float64
@pytest.mark.multibackend
@pytest.mark.parametrize("kwargs", SETTINGS)
def test_matches_reference_float64(kwargs):
    # Measured on TensorFlow: <= 1e-8, the float32 rounding of Keras's learning-rate
    # variable; <= 8e-16 with learning_rate=2**-7.
    _harness.assert_matches(lambda: MARS(**kwargs), lambda: MARSReference(**kwargs),
                            rtol=1e-5, dtype="float64")


@pytest.mark.parametrize("dtype, rtol", [("float32", 2e-6), ("float64", 1e-12)])
def test_golden_authors_code(dtype, rtol):
    if dtype == "float64" and not _linear_model.float64_available():
        pytest.skip("no float64 on this backend")
    # Golden values: the authors' MARS (AGI-Arena/MARS, MARS/optimizers/mars.py at
    # 4831e28) in float64 PyTorch, lr=2**-6, lr_1d=2**-7, weight_decay=0.125, other
    # arguments default (mars-adamw, is_approx=True, optimize_1d=False: the kernel takes
    # the MARS step, the bias AdamW with betas_1d and weight_decay_1d=0.1), 10 step()
    # calls on tests/optimizers/_linear_model.py.
    opt = MARS(learning_rate=2**-6, learning_rate_1d=2**-7, weight_decay=0.125)
    w, b = _linear_model.run(opt, 10, dtype)
    np.testing.assert_allclose(w, [[-0.1317363282, 0.0721176282, -0.3347764691],
                                   [-0.6437624227, 0.3198900441, 0.1186314839],
                                   [-0.5905328550, -0.9278358851, 0.9502027507],
                                   [-0.0565867015, 0.1955132910, 0.4330699010]],
                               rtol=rtol, atol=1e-10)
    np.testing.assert_allclose(b, [-1.0544626604, 0.9114404588, 0.3199452141],
                               rtol=rtol, atol=1e-10)


def test_branches_follow_the_rank_and_keep_the_previous_gradient_only_where_needed():
    # The authors' `is_grad_2d = (len(grad.shape) == 2)`: a conv kernel (rank 4) and a
    # bias take the AdamW branch; only the Dense kernel gets a previous-gradient slot.
    kernel = keras.Variable(np.ones((3, 2)), name="kernel")
    conv = keras.Variable(np.ones((2, 2, 1, 2)), name="conv")
    bias = keras.Variable(np.ones(2), name="bias")
    opt = MARS()
    opt.build([kernel, conv, bias])
    shapes = [tuple(v.shape) for v in opt._previous_gradients]
    assert shapes == [(3, 2), (), ()]
    assert [opt._takes_mars_step(v) for v in (kernel, conv, bias)] == [True, False, False]
    opt = MARS(optimize_1d=True)
    opt.build([kernel, conv, bias])
    assert [tuple(v.shape) for v in opt._previous_gradients] == [(3, 2), (2, 2, 1, 2), (2,)]


def test_adamw_branch_is_adamw_with_epsilon_after_the_bias_correction():
    # Special case: a 1-D variable, weight_decay_1d=0, learning_rate_1d=learning_rate:
    # PyTorch-style Adam (epsilon after the correction); with epsilon=0 both placements
    # agree, so Kingma & Ba's Adam reference applies.
    results = _harness.compare_problems(
        lambda: MARS(learning_rate=0.01, learning_rate_1d=0.01, beta_1_1d=0.8,
                     beta_2_1d=0.99, weight_decay_1d=0.0, epsilon=0.0),
        lambda: AdamReference(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=0.0),
        problems=("rosenbrock", "quadratic"),
    )
    assert max(err for err, _, _ in results.values()) <= 1e-4


def test_first_step_correction_and_clip_hand_computed():
    # Step 1, g_prev = 0: c = g * (1 + gamma * beta_1 / (1 - beta_1)) = 1.475 g; with
    # g = [[3, -4]], ||c|| = 7.375 > 1, so c = [[0.6, -0.8]]; m / (1 - beta_1) = c and
    # sqrt(v / (1 - beta_2)) = |c|, so w moves by lr * c / (|c| + eps) ~ lr * sign(c).
    w = keras.Variable([[1.0, 2.0]])
    opt = MARS(learning_rate=0.1)
    opt.apply_gradients([(keras.ops.convert_to_tensor([[3.0, -4.0]]), w)])
    np.testing.assert_allclose(w.numpy(), [[0.9, 2.1]], rtol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(opt._previous_gradients[0]),
                               [[3.0, -4.0]])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(opt._momentums[0]),
                               [[0.05 * 0.6, -0.05 * 0.8]], rtol=1e-6)


def test_learning_rate_1d_is_a_ratio_of_the_learning_rate():
    # lr_1d / lr is fixed at construction (the authors' lr_1d_factor): halving the
    # learning rate halves the AdamW branch's rate too, and a saved config keeps the
    # ratio although it stores the current learning rate.
    opt = MARS(learning_rate=0.004, learning_rate_1d=0.001)
    assert np.isclose(opt.learning_rate_1d_factor, 0.25)
    opt.learning_rate = 0.002
    clone = MARS.from_config(opt.get_config())
    assert clone.learning_rate_1d_factor == opt.learning_rate_1d_factor
    schedule = keras.optimizers.schedules.ExponentialDecay(0.004, 10, 0.5)
    assert np.isclose(MARS(learning_rate=schedule, learning_rate_1d=0.002).learning_rate_1d_factor,
                      0.5)
    assert MARS(learning_rate=0.004, learning_rate_1d=None).learning_rate_1d_factor == 1.0
    warm_up = keras.optimizers.schedules.CosineDecay(0.0, 100, warmup_target=0.01, warmup_steps=10)
    with pytest.raises(ValueError, match="learning_rate_0=0.0"):
        MARS(learning_rate=warm_up)
    assert MARS(learning_rate=warm_up, learning_rate_1d=None).learning_rate_1d_factor == 1.0


def test_weight_decays_per_branch_and_exclusions():
    # Zero gradients: c = 0, m = v = 0, only the decays act (m / denominator = 0).
    kernel = keras.Variable(np.full((2, 2), 2.0), name="kernel")
    bias = keras.Variable([2.0, 2.0], name="bias")
    frozen = keras.Variable(np.full((2, 2), 2.0), name="frozen")
    opt = MARS(learning_rate=0.1, learning_rate_1d=0.05, weight_decay=0.5, weight_decay_1d=0.2)
    opt.exclude_from_weight_decay(var_names=["frozen"])
    zeros = [keras.ops.zeros((2, 2)), keras.ops.zeros((2,)), keras.ops.zeros((2, 2))]
    opt.apply_gradients(zip(zeros, [kernel, bias, frozen]))
    np.testing.assert_allclose(kernel.numpy(), np.full((2, 2), 2.0 * (1 - 0.1 * 0.5)), rtol=1e-6)
    np.testing.assert_allclose(bias.numpy(), [2.0 * (1 - 0.05 * 0.2)] * 2, rtol=1e-6)
    np.testing.assert_allclose(frozen.numpy(), np.full((2, 2), 2.0))


def test_defaults_and_config_round_trip():
    config = MARS().get_config()
    expected = dict(beta_1=0.95, beta_2=0.99, gamma=0.025, epsilon=1e-8, amsgrad=False,
                    optimize_1d=False, learning_rate_1d=0.003, beta_1_1d=0.9, beta_2_1d=0.95,
                    weight_decay_1d=0.1, weight_decay=None)
    assert {k: config[k] for k in expected} == expected
    assert np.isclose(config["learning_rate"], 3e-3)
    opt = MARS(amsgrad=True, optimize_1d=True, weight_decay=0.01)
    assert MARS.from_config(opt.get_config()).get_config() == opt.get_config()
    assert type(keras.optimizers.get("mars")) is MARS


@pytest.mark.parametrize(
    "kwargs, fragment",
    [(dict(beta_1=1.0), "beta_1=1.0"), (dict(beta_2=-0.1), "beta_2=-0.1"),
     (dict(gamma=-1.0), "gamma=-1.0"), (dict(epsilon=-1.0), "epsilon=-1.0"),
     (dict(amsgrad=1), "amsgrad=1"), (dict(optimize_1d="yes"), "optimize_1d='yes'"),
     (dict(learning_rate_1d=0.0), "learning_rate_1d=0.0"),
     (dict(beta_1_1d=1.5), "beta_1_1d=1.5"), (dict(beta_2_1d=1.0), "beta_2_1d=1.0"),
     (dict(weight_decay_1d=-0.1), "weight_decay_1d=-0.1"),
     (dict(weight_decay=-1.0), "weight_decay=-1.0"),
     (dict(learning_rate=-0.1), "learning_rate=-0.1")],
)
def test_bad_arguments(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        MARS(**kwargs)
