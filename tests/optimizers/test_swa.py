"""SWA against a numpy transcription of Algorithm 1 of Izmailov et al. 2018, TFA indexing."""

import keras
import numpy as np
import pytest

from keras_lossopt.optimizers import SWA
from tests.optimizers import _harness, _resume
from tests.reference.lookahead import AdamReference, MomentumReference
from tests.reference.swa import SWAReference


def _run(make_optimizer, make_reference, steps=50):
    """Model trajectories via the harness, plus the final averages on both sides."""
    problems = list(_harness.PROBLEMS.values())
    opt = make_optimizer()
    got = _harness.run_keras(opt, problems, steps)
    averages = [keras.ops.convert_to_numpy(a) for a in opt.average_weights]
    errors = []
    for problem, trajectory, average in zip(problems, got, averages):
        reference = make_reference()
        want = _harness.run_reference(reference, problem, steps)
        errors.append(_harness.max_relative_error(trajectory, want))
        errors.append(_harness.max_relative_error(average[None], reference.average[None]))
        assert not np.allclose(average, trajectory[-1])  # the average is not the iterate
    return max(errors)


@pytest.mark.multibackend
def test_matches_reference_around_adam():
    err = _run(lambda: SWA(keras.optimizers.Adam(learning_rate=0.05), start_averaging=5,
                           average_period=7),
               lambda: SWAReference(AdamReference(learning_rate=0.05), 5, 7))
    assert err <= 1e-4


def test_matches_reference_around_momentum_sgd():
    err = _run(lambda: SWA(keras.optimizers.SGD(learning_rate=0.002, momentum=0.5),
                           average_period=3),
               lambda: SWAReference(MomentumReference(0.002, 0.5), 0, 3))
    assert err <= 1e-4


def test_golden_tfa_test_averaging():
    # Golden values from tensorflow_addons/optimizers/tests/stochastic_weight_averaging_test.py
    # (test_averaging): SGD(1.0), start_averaging=0, average_period=1, gradients 0.1 on
    # variables [1, 1] and [2, 2], 3 steps -> [0.7, 0.7], [1.7, 1.7]; after
    # assign_average_vars -> [0.8, 0.8], [1.8, 1.8].
    opt = SWA(keras.optimizers.SGD(learning_rate=1.0), 0, 1)
    var_0, var_1 = keras.Variable([1.0, 1.0]), keras.Variable([2.0, 2.0])
    grad = keras.ops.convert_to_tensor([0.1, 0.1])
    for _ in range(3):
        opt.apply_gradients([(grad, var_0), (grad, var_1)])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(var_0), [0.7, 0.7], rtol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(var_1), [1.7, 1.7], rtol=1e-6)
    unknown = keras.Variable([5.0])  # not trained by the optimizer: left alone
    opt.assign_average_vars([var_0, var_1, unknown])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(var_0), [0.8, 0.8], rtol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(var_1), [1.8, 1.8], rtol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(unknown), [5.0])


def test_swap_twice_restores_and_no_snapshot_is_a_no_op():
    var = keras.Variable([1.0, 2.0])
    opt = SWA(keras.optimizers.SGD(learning_rate=0.1), start_averaging=3, average_period=2)
    g = keras.ops.convert_to_tensor([1.0, -1.0])
    for _ in range(3):  # t = 0, 1, 2 < start_averaging: no snapshot yet
        opt.apply_gradients([(g, var)])
    opt.swap_average_weights([var])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(var), [0.7, 2.3], rtol=1e-6)
    for _ in range(3):  # snapshots after t = 3 (0.6) and t = 5 (0.4): average 0.5
        opt.apply_gradients([(g, var)])
    opt.swap_average_weights()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(var), [0.5, 2.5], rtol=1e-6)
    opt.swap_average_weights([var])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(var), [0.4, 2.6], rtol=1e-6)
    opt.assign_average_vars([var])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(var), [0.5, 2.5], rtol=1e-6)


@pytest.mark.multibackend
def test_save_and_resume_is_exact(tmp_path):
    def make():
        return SWA(keras.optimizers.Adam(learning_rate=0.05), start_averaging=1,
                   average_period=2)

    straight, resumed, model_a, model_b = _resume.resume_matches(make, str(tmp_path / "m.keras"))
    for a, b in zip(straight, resumed):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    for a, b in zip(model_a.optimizer.average_weights, model_b.optimizer.average_weights):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(b), keras.ops.convert_to_numpy(a),
                                   rtol=1e-5, atol=1e-6)
    # The swapped-in model evaluates with the averages and swaps back exactly.
    before = [keras.ops.convert_to_numpy(w) for w in model_b.trainable_variables]
    model_b.optimizer.swap_average_weights(model_b.trainable_variables)
    swapped = [keras.ops.convert_to_numpy(w) for w in model_b.trainable_variables]
    model_b.optimizer.swap_average_weights(model_b.trainable_variables)
    assert not np.allclose(swapped[0], before[0])
    for a, b in zip(before, model_b.trainable_variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(b), a)


def test_config_round_trip_and_default():
    assert isinstance(SWA().inner_optimizer, keras.optimizers.Adam)
    opt = SWA("sgd", start_averaging=4, average_period=3)
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert isinstance(clone, SWA)
    assert (clone.start_averaging, clone.average_period) == (4, 3)
    assert type(clone.inner_optimizer).__name__ == "SGD"
    assert isinstance(keras.optimizers.get("swa"), SWA)


def test_swap_before_build_raises():
    with pytest.raises(ValueError, match="built"):
        SWA().swap_average_weights()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(start_averaging=-1), "start_averaging=-1"),
        (dict(average_period=0), "average_period=0"),
        (dict(average_period=1.5), "average_period=1.5"),
        (dict(learning_rate=0.1), "learning_rate=0.1"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        SWA(**kwargs)


def test_an_optimizer_of_the_wrong_type_is_a_type_error():
    # TFA: SWA(None) raised TypeError (issue #19.6).
    with pytest.raises(TypeError, match="optimizer=None"):
        SWA(None)
