"""Schedule-Free SGD against numpy transcriptions of the authors' code and of the paper."""

import keras
import numpy as np
import pytest

from keras_lossopt.optimizers import ScheduleFreeSGD
from tests.optimizers import _harness
from tests.reference.schedule_free_sgd import PaperScheduleFreeSGD, ScheduleFreeSGDReference


@pytest.mark.multibackend
def test_matches_reference():
    # lr 0.01: the default 0.1 diverges on the curvature-100 test problems (as SGD does).
    _harness.assert_matches(
        lambda: ScheduleFreeSGD(learning_rate=0.01),
        lambda: ScheduleFreeSGDReference(learning_rate=0.01),
    )


def test_matches_reference_with_warmup_decay_and_weighting():
    kwargs = {"learning_rate": 0.002, "momentum": 0.5, "warmup_steps": 10,
              "weight_decay": 0.1, "r": 1.0, "weight_lr_power": 1.0}
    _harness.assert_matches(
        lambda: ScheduleFreeSGD(**kwargs), lambda: ScheduleFreeSGDReference(**kwargs)
    )


def test_matches_the_papers_explicit_three_sequence_form():
    _harness.assert_matches(
        lambda: ScheduleFreeSGD(learning_rate=0.01),
        lambda: PaperScheduleFreeSGD(learning_rate=0.01),
    )


def test_golden_first_step_is_an_sgd_step():
    # Hand computation: at k = 0, weight = weight_sum = lr^2 so c = 1 and
    # y = z0 + lr (beta * 0 - 1) g = y0 - lr g; z = y0 - lr g; x = y0 - lr g.
    w = keras.Variable([1.0, -2.0])
    opt = ScheduleFreeSGD(learning_rate=0.1)
    opt.apply_gradients([(np.array([2.0, 4.0], "float32"), w)])
    np.testing.assert_allclose(w.numpy(), [0.8, -2.4], rtol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(opt.averaged_values()[0]),
                               [0.8, -2.4], rtol=1e-6)


@pytest.mark.multibackend
def test_averaged_weights_swap_and_restore():
    problem = _harness.PROBLEMS["matrix"]
    opt, ref = ScheduleFreeSGD(learning_rate=0.01), ScheduleFreeSGDReference(learning_rate=0.01)
    (traj,) = _harness.run_keras(opt, problem, steps=20)
    var = opt._trainable_variables[0]
    want = _harness.run_reference(ref, problem, steps=20)
    y = np.asarray(keras.ops.convert_to_numpy(var))
    x_ref = ref.averaged(want[-1])
    x_got = keras.ops.convert_to_numpy(opt.averaged_values()[0])
    assert np.max(np.abs(x_got - x_ref)) / np.max(np.abs(x_ref)) <= 1e-4
    assert not np.allclose(x_got, y, atol=1e-3)  # x and y really differ here
    with opt.averaged_weights():
        np.testing.assert_allclose(keras.ops.convert_to_numpy(var), x_got, rtol=1e-6)
        opt.swap_to_averaged()  # idempotent
        np.testing.assert_allclose(keras.ops.convert_to_numpy(opt.averaged_values()[0]),
                                   x_got, rtol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(var), y, rtol=1e-5, atol=1e-6)


def test_evaluate_and_save_with_averaged_weights(tmp_path):
    x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5]], "float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    opt = ScheduleFreeSGD(learning_rate=0.05)
    model.compile(optimizer=opt, loss="mse")
    model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    y_weights = [w.numpy().copy() for w in model.weights]
    with opt.averaged_weights(model.trainable_variables):
        x_loss = model.evaluate(x, y, verbose=0)
        model.save(tmp_path / "averaged.keras")
    restored = keras.saving.load_model(tmp_path / "averaged.keras")
    assert restored.evaluate(x, y, verbose=0) == pytest.approx(x_loss, rel=1e-5)
    for w, before in zip(model.weights, y_weights):
        np.testing.assert_allclose(w.numpy(), before, rtol=1e-5, atol=1e-6)


def test_not_built_has_no_average():
    with pytest.raises(ValueError, match="not built"):
        ScheduleFreeSGD().averaged_values()


def test_own_weight_decay_only():
    opt = ScheduleFreeSGD(weight_decay=0.01)
    assert opt.weight_decay is None
    clone = ScheduleFreeSGD.from_config(opt.get_config())
    assert clone.own_weight_decay == 0.01 and clone.weight_decay is None


def test_no_argument_construction_and_config():
    opt = ScheduleFreeSGD(warmup_steps=5, r=0.5)
    assert ScheduleFreeSGD.from_config(opt.get_config()).get_config() == opt.get_config()
    ScheduleFreeSGD()


@pytest.mark.parametrize(
    "kwargs, bad",
    [
        ({"momentum": 0.0}, "momentum=0.0"),
        ({"momentum": 1.0}, "momentum=1.0"),
        ({"warmup_steps": -1}, "warmup_steps=-1"),
        ({"warmup_steps": 2.5}, "warmup_steps=2.5"),
        ({"weight_decay": -0.1}, "weight_decay=-0.1"),
        ({"r": -1.0}, "r=-1.0"),
        ({"weight_lr_power": -2.0}, "weight_lr_power=-2.0"),
    ],
)
def test_bad_arguments(kwargs, bad):
    with pytest.raises(ValueError, match=bad):
        ScheduleFreeSGD(**kwargs)


def test_z_starts_at_the_weights_when_built_inside_fit():
    # After one step z = y0 - lr g = y (the first step is an SGD step), which only holds
    # if z started at the weights although Keras's TF fit builds the optimizer in a trace.
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False)])
    opt = ScheduleFreeSGD(learning_rate=0.1)
    model.compile(optimizer=opt, loss="mse")
    model.fit(np.ones((1, 2), "float32"), np.zeros((1, 1), "float32"), verbose=0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(opt._zs[0]), model.get_weights()[0],
                               rtol=1e-6)
