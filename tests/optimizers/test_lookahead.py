"""Lookahead against a numpy transcription of Algorithm 1 of Zhang et al. 2019."""

import keras
import numpy as np
import pytest

from keras_lossopt.optimizers import Lookahead
from tests.optimizers import _harness, _resume
from tests.reference.lookahead import AdamReference, LookaheadReference, MomentumReference


@pytest.mark.multibackend
def test_matches_reference_around_adam():
    _harness.assert_matches(
        lambda: Lookahead(keras.optimizers.Adam(learning_rate=0.05), sync_period=5,
                          slow_step_size=0.5),
        lambda: LookaheadReference(AdamReference(learning_rate=0.05), 5, 0.5),
    )


def test_matches_reference_around_momentum_sgd():
    # Small learning rate: the diag(1, 100) quadratic and Rosenbrock need lr < 2/100.
    _harness.assert_matches(
        lambda: Lookahead(keras.optimizers.SGD(learning_rate=0.001, momentum=0.9),
                          sync_period=3, slow_step_size=0.8),
        lambda: LookaheadReference(MomentumReference(0.001, 0.9), 3, 0.8),
    )


def test_golden_constant_gradient_hand_computed():
    # Hand computation: SGD(0.1) with a constant gradient 1 moves each weight by 0.1 a
    # step; sync_period=3, slow_step_size=0.5 keeps half of each 0.3 excursion, so
    # after 6 steps the weights moved 2 * 0.15 = 0.3, and after 7 steps 0.4.
    opt = Lookahead(keras.optimizers.SGD(learning_rate=0.1), sync_period=3)
    (w,) = _harness.run_constant_gradients(opt, [[1.0, 2.0]], [[1.0, 1.0]], 6)
    np.testing.assert_allclose(w, [0.7, 1.7], rtol=1e-6)
    opt = Lookahead(keras.optimizers.SGD(learning_rate=0.1), sync_period=3)
    (w,) = _harness.run_constant_gradients(opt, [[1.0, 2.0]], [[1.0, 1.0]], 7)
    np.testing.assert_allclose(w, [0.6, 1.6], rtol=1e-6)


def test_slow_step_size_one_is_the_inner_optimizer():
    # alpha = 1: phi_t = theta_{t,k}, the synchronisation is a no-op.
    results = _harness.compare_problems(
        lambda: Lookahead(keras.optimizers.Adam(learning_rate=0.05), sync_period=2,
                          slow_step_size=1.0),
        lambda: AdamReference(learning_rate=0.05),
    )
    assert max(err for err, _, _ in results.values()) <= 1e-4
    plain = _harness.run_keras(keras.optimizers.Adam(learning_rate=0.05), "matrix", 20)
    wrapped = _harness.run_keras(
        Lookahead(keras.optimizers.Adam(learning_rate=0.05), 2, 1.0), "matrix", 20)
    np.testing.assert_allclose(wrapped[0], plain[0], rtol=1e-6, atol=1e-7)


def test_slow_step_size_zero_returns_to_start():
    opt = Lookahead(keras.optimizers.SGD(learning_rate=0.1), sync_period=4, slow_step_size=0.0)
    (w,) = _harness.run_constant_gradients(opt, [[1.0, -2.0]], [[3.0, 1.0]], 8)
    np.testing.assert_allclose(w, [1.0, -2.0], rtol=1e-6)


@pytest.mark.multibackend
def test_save_and_resume_is_exact(tmp_path):
    # 2 steps per epoch; sync every 3 steps, so the save at step 4 falls between two
    # synchronisations and the slow weights and Adam's moments must be restored.
    def make():
        return Lookahead(keras.optimizers.Adam(learning_rate=0.05), sync_period=3)

    straight, resumed, _, model = _resume.resume_matches(make, str(tmp_path / "m.keras"))
    for a, b in zip(straight, resumed):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    assert int(keras.ops.convert_to_numpy(model.optimizer.inner_optimizer.iterations)) == 8


def test_learning_rate_is_the_inner_one():
    inner = keras.optimizers.SGD(learning_rate=0.1)
    opt = Lookahead(inner)
    assert np.isclose(float(keras.ops.convert_to_numpy(opt.learning_rate)), 0.1)
    opt.learning_rate = 0.02
    assert np.isclose(float(keras.ops.convert_to_numpy(inner.learning_rate)), 0.02)


def test_default_and_string_inner_and_config_round_trip():
    opt = Lookahead()
    assert isinstance(opt.inner_optimizer, keras.optimizers.Adam)
    opt = Lookahead("sgd", sync_period=4, slow_step_size=0.25, clipnorm=1.0)
    config = opt.get_config()
    assert config["optimizer"]["class_name"] == "SGD"
    assert "learning_rate" not in config
    clone = Lookahead.from_config(config)
    assert (clone.sync_period, clone.slow_step_size, clone.clipnorm) == (4, 0.25, 1.0)
    assert type(clone.inner_optimizer).__name__ == "SGD"
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(
        Lookahead(keras.optimizers.Adam(learning_rate=0.003, beta_1=0.8))))
    assert np.isclose(clone.inner_optimizer.beta_1, 0.8)
    assert np.isclose(float(keras.ops.convert_to_numpy(clone.learning_rate)), 0.003)


def test_optimizer_state_includes_inner_and_slow_weights():
    opt = Lookahead(keras.optimizers.Adam())
    opt.build([keras.Variable([1.0, 2.0])])
    names = [v.name for v in opt.variables]
    assert sum("slow" in n for n in names) == 1
    own = {id(v) for v in opt.variables}
    assert all(id(v) in own for v in opt.inner_optimizer.variables)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(sync_period=0), "sync_period=0"),
        (dict(sync_period=2.5), "sync_period=2.5"),
        (dict(slow_step_size=1.5), "slow_step_size=1.5"),
        (dict(slow_step_size=-0.1), "slow_step_size=-0.1"),
        (dict(optimizer="no_such_optimizer"), "optimizer='no_such_optimizer'"),
        (dict(learning_rate=0.1), "learning_rate=0.1"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.").replace("(", r"\(")):
        Lookahead(**kwargs)


def test_an_optimizer_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="optimizer=3"):
        Lookahead(3)


def test_gradient_accumulation_on_wrapper_or_inner_agree():
    # Synchronisation counts the inner optimizer's applied steps, so accumulating on
    # the wrapper or on the inner optimizer gives the same trajectory; with 2
    # micro-steps per step and sync_period=2 the sync falls every 4 micro-steps.
    grads = [[1.0, -2.0], [3.0, 0.5], [-1.0, 1.0], [0.5, 0.5]] * 3
    results = []
    for outer, inner in ((2, None), (None, 2)):
        var = keras.Variable([1.0, 2.0])
        opt = Lookahead(keras.optimizers.SGD(0.1, momentum=0.5, gradient_accumulation_steps=inner),
                        sync_period=2, gradient_accumulation_steps=outer)
        for g in grads:
            opt.apply_gradients([(keras.ops.convert_to_tensor(g), var)])
        results.append(keras.ops.convert_to_numpy(var))
    reference = LookaheadReference(MomentumReference(0.1, 0.5), 2, 0.5)
    w = np.array([1.0, 2.0])
    for i in range(0, len(grads), 2):
        w = reference.step(w, (np.array(grads[i]) + np.array(grads[i + 1])) / 2)
    np.testing.assert_allclose(results[0], w, rtol=1e-5)
    np.testing.assert_allclose(results[1], w, rtol=1e-5)
