"""SharpnessAwareMinimization against a numpy transcription of SAM / ASAM (tests/reference/sam.py)."""

import keras
import numpy as np
import pytest

import keras_lossopt
from keras_lossopt.models import SharpnessAwareMinimization
from tests.conftest import run_fresh_python
from tests.models import _sam_children
from tests.reference import sam as reference

STEPS = 5


def _data(n=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    y = np.stack([np.sin(x[:, 0]) + x[:, 1], x[:, 2] * x[:, 0]], axis=1).astype("float32")
    return x, y


def _initial_params(seed=1):
    rng = np.random.default_rng(seed)
    return [rng.normal(scale=0.8, size=(3, 4)), rng.normal(scale=0.1, size=(4,)),
            rng.normal(scale=0.8, size=(4, 2)), rng.normal(scale=0.1, size=(2,))]


def _mlp(params=None):
    """The reference's model: tanh(x W1 + b1) W2 + b2."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
                              keras.layers.Dense(2)])
    model.set_weights([np.asarray(p, "float32") for p in (params or _initial_params())])
    return model


def _weights(model):
    return [keras.ops.convert_to_numpy(w) for w in model.weights]


def _fit(model, x, y, steps=STEPS, batch_size=None):
    model.fit(x, y, batch_size=batch_size or len(x), epochs=steps, shuffle=False, verbose=0)
    return model


# --- the update rule ---------------------------------------------------------------


@pytest.mark.multibackend
@pytest.mark.parametrize(
    "adaptive, rho, splits, optimizer",
    [(False, 0.05, None, "sgd"), (True, 0.5, None, "sgd"), (False, 0.1, 2, "sgd"),
     (True, 1.0, 2, "adam"), (False, 0.05, None, "adam")],
    ids=["sam-sgd", "asam-sgd", "sam-m2-sgd", "asam-m2-adam", "sam-adam"],
)
def test_weights_after_n_steps_match_the_numpy_reference(adaptive, rho, splits, optimizer):
    x, y = _data()
    params = _initial_params()
    if optimizer == "sgd":
        keras_opt, ref_opt = keras.optimizers.SGD(0.1), reference.SGD(0.1)
    else:
        keras_opt, ref_opt = keras.optimizers.Adam(0.02), reference.Adam(0.02)
    sam = SharpnessAwareMinimization(_mlp(params), rho=rho, adaptive=adaptive,
                                     num_batch_splits=splits)
    sam.compile(optimizer=keras_opt, loss="mse")
    got = _weights(_fit(sam, x, y))
    want = reference.train(params, x.astype("float64"), y.astype("float64"), STEPS, ref_opt,
                           rho, adaptive, splits or 1)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6)
    # The perturbation matters at these settings: plain training ends elsewhere.
    plain = reference.train(params, x.astype("float64"), y.astype("float64"), STEPS,
                            reference.SGD(0.1) if optimizer == "sgd" else reference.Adam(0.02),
                            0.0)
    assert max(np.max(np.abs(g - p)) for g, p in zip(got, plain)) > 1e-4


def test_golden_one_step_hand_computed():
    # Hand computation (as in the docstring): w = (1, 1), b = 0, x = (1, 2), y = 0:
    # g = 2 * 3 * (1, 2, 1); ||g|| = sqrt(216); w + e predicts 3 + 0.1 * 36 / sqrt(216);
    # g_sam = 2 * 3.2449490 * (1, 2, 1); SGD(0.01) moves w by 0.01 * g_sam.
    inner = keras.Sequential([keras.Input((2,)),
                              keras.layers.Dense(1, kernel_initializer="ones")])
    sam = SharpnessAwareMinimization(inner, rho=0.1)
    sam.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    sam.fit(np.array([[1.0, 2.0]]), np.array([[0.0]]), verbose=0)
    g_sam = 2 * (3 + 0.1 * 36 / np.sqrt(216))
    kernel, bias = inner.get_weights()
    np.testing.assert_allclose(kernel.ravel(), [1 - 0.01 * g_sam, 1 - 0.02 * g_sam], rtol=1e-6)
    np.testing.assert_allclose(bias, [-0.01 * g_sam], rtol=1e-6)


def _bn_dropout_model(seed=5, dropout=0.3):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((3,)), keras.layers.Dense(6, activation="relu"),
        keras.layers.BatchNormalization(momentum=0.5), keras.layers.Dropout(dropout),
        keras.layers.Dense(2, kernel_regularizer=keras.regularizers.L2(0.01)),
    ])


@pytest.mark.multibackend
def test_rho_zero_equals_plain_training_exactly():
    # BatchNorm, dropout and a regularizer: the step's state handling must reproduce
    # Keras's own train_step bit for bit (same dropout masks, statistics, losses, metrics).
    x, y = _data(16)
    plain = _bn_dropout_model()
    plain.compile(optimizer="adam", loss="mse", metrics=["mae"])
    plain_history = plain.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0).history
    sam = SharpnessAwareMinimization(_bn_dropout_model(), rho=0.0)
    sam.compile(optimizer="adam", loss="mse", metrics=["mae"])
    sam_history = sam.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0).history
    for a, b in zip(_weights(sam.model), _weights(plain)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(sam.optimizer.variables, plain.optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    assert sam_history == plain_history


@pytest.mark.multibackend
def test_batchnorm_statistics_come_from_the_first_pass_once_per_step():
    x, _ = _data(8)
    y = np.zeros((8, 2), "float32")
    for splits in (None, 2):
        keras.utils.set_random_seed(2)
        inner = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4),
                                  keras.layers.BatchNormalization(momentum=0.5),
                                  keras.layers.Dense(2)])
        kernel, bias = (keras.ops.convert_to_numpy(w) for w in inner.layers[0].weights)
        sam = SharpnessAwareMinimization(inner, rho=0.5, num_batch_splits=splits)
        sam.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
        _fit(sam, x, y, steps=1)
        # Pre-BN activations at the step's starting weights (the first, unperturbed pass).
        z = np.split(x @ kernel + bias, splits or 1)
        bn = inner.layers[1]
        want_mean = 0.5 * 0.0 + 0.5 * np.mean([part.mean(axis=0) for part in z], axis=0)
        want_var = 0.5 * 1.0 + 0.5 * np.mean([part.var(axis=0) for part in z], axis=0)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(bn.moving_mean), want_mean,
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(bn.moving_variance), want_var,
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.multibackend
def test_any_registered_optimizer_by_string_and_instance():
    x, y = _data(16)
    for optimizer in ("gd", "radam", keras_lossopt.optimizers.Lookahead("sgd"), "adamw"):
        sam = SharpnessAwareMinimization(_mlp(), rho=0.05)
        sam.compile(optimizer=optimizer, loss="mse")
        history = sam.fit(x, y, batch_size=8, epochs=4, shuffle=False, verbose=0).history
        assert np.isfinite(history["loss"]).all()
        assert history["loss"][-1] < history["loss"][0], optimizer


@pytest.mark.multibackend
def test_predict_and_evaluate_are_the_inner_models():
    x, y = _data(16)
    sam = SharpnessAwareMinimization(_bn_dropout_model(), rho=0.05)
    sam.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    _fit(sam, x, y, steps=2, batch_size=8)
    inner = sam.model
    inner.compile(loss="mse", metrics=["mae"])
    np.testing.assert_array_equal(sam.predict(x, verbose=0), inner.predict(x, verbose=0))
    np.testing.assert_allclose(sam.evaluate(x, y, verbose=0), inner.evaluate(x, y, verbose=0),
                               rtol=1e-6)


# --- saving and resuming -------------------------------------------------------------


def _resumable(path):
    x, y = _data(16)

    def make():
        # No dropout: Keras does not save a SeedGenerator's state (plain models neither),
        # so a resumed run draws other masks.
        sam = SharpnessAwareMinimization(_bn_dropout_model(dropout=0.0), rho=0.1, adaptive=True,
                                         num_batch_splits=2)
        sam.compile(optimizer="adam", loss="mse", metrics=["mae"])
        return sam

    straight = make()
    straight.fit(x, y, batch_size=8, epochs=4, shuffle=False, verbose=0)
    interrupted = make()
    interrupted.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    interrupted.save(path)
    return straight, interrupted, x, y


@pytest.mark.multibackend
def test_fit_save_reload_resume_loses_nothing(tmp_path):
    path = str(tmp_path / "sam.keras")
    straight, interrupted, x, y = _resumable(path)
    resumed = keras.saving.load_model(path)
    assert isinstance(resumed, SharpnessAwareMinimization)
    assert (resumed.rho, resumed.adaptive, resumed.num_batch_splits) == (0.1, True, 2)
    np.testing.assert_array_equal(resumed.predict(x, verbose=0),
                                  interrupted.predict(x, verbose=0))
    for a, b in zip(resumed.optimizer.variables, interrupted.optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    # Two more epochs from the file equal the uninterrupted run.
    resumed.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(_weights(resumed), _weights(straight)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.slow
@pytest.mark.multibackend
def test_reloads_in_a_fresh_process_with_only_import_keras_lossopt(tmp_path):
    path = str(tmp_path / "sam.keras")
    straight, _, x, y = _resumable(path)
    np.savez(tmp_path / "data.npz", x=x, y=y)
    out = run_fresh_python(f"""
        import numpy as np, keras
        import keras_lossopt
        model = keras.saving.load_model({path!r})
        data = np.load({str(tmp_path / "data.npz")!r})
        model.fit(data["x"], data["y"], batch_size=8, epochs=2, shuffle=False, verbose=0)
        np.savez({str(tmp_path / "out.npz")!r}, *[keras.ops.convert_to_numpy(w)
                                                  for w in model.weights])
        print(type(model).__name__, type(model.optimizer).__name__)
    """)
    assert out.split() == ["SharpnessAwareMinimization", "Adam"]
    got = np.load(tmp_path / "out.npz")
    for i, want in enumerate(_weights(straight)):
        np.testing.assert_allclose(got[f"arr_{i}"], want, rtol=1e-6, atol=1e-7)


def test_config_round_trip():
    sam = SharpnessAwareMinimization(_mlp(), rho=0.2, adaptive=True, num_batch_splits=4,
                                     name="sam")
    clone = SharpnessAwareMinimization.from_config(sam.get_config())
    assert clone.get_config() == sam.get_config()
    assert [w.shape for w in clone.weights] == [w.shape for w in sam.weights]


# --- distribution (one child process each) -----------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow only")
def test_mirrored_strategy_equals_single_device():
    results = _sam_children.run("mirrored")
    assert results["bad_splits_error"].startswith("ValueError"), results
    assert "multiple of the 2 replicas" in results["bad_splits_error"], results
    assert results["batchnorm_finite"], results
    for case, diff in results["max_rel_diff"].items():
        assert diff <= 1e-5, (case, results)


@pytest.mark.slow
@pytest.mark.multibackend
@pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX only (runs in the JAX pass)")
def test_jax_data_parallel_equals_single_device():
    results = _sam_children.run("data_parallel")
    for case, diff in results["max_rel_diff"].items():
        assert diff <= 1e-5, (case, results)


# --- bad arguments -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [({"rho": -0.1}, "rho=-0.1"), ({"rho": float("nan")}, "rho=nan"),
     ({"num_batch_splits": 0}, "num_batch_splits=0"),
     ({"num_batch_splits": 1.5}, "num_batch_splits=1.5"),
     ({"adaptive": 2}, "adaptive=2")],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SharpnessAwareMinimization(_mlp(), **kwargs)


@pytest.mark.parametrize("model", ["mlp", keras.layers.Dense(2), None])
def test_model_must_be_a_keras_model(model):
    with pytest.raises(ValueError, match="model="):
        SharpnessAwareMinimization(model)


@pytest.mark.multibackend
def test_num_batch_splits_that_does_not_divide_the_batch_raises():
    x, y = _data(12)
    sam = SharpnessAwareMinimization(_mlp(), num_batch_splits=3)
    sam.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"num_batch_splits=3.*|.*batch has 4 samples"):
        sam.fit(x, y, batch_size=8, verbose=0)  # batches of 8 and 4
    with pytest.raises(ValueError, match="num_batch_splits=3"):
        sam.train_on_batch(x[:7], y[:7])
    sam.fit(x, y, batch_size=6, verbose=0)  # 6 and 6 split into 3


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow graphs only")
def test_tensorflow_graph_with_an_unknown_batch_size_checks_at_run_time():
    import tensorflow as tf

    x, y = _data(12)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)  # 8, then 4
    sam = SharpnessAwareMinimization(_mlp(), num_batch_splits=3)
    sam.compile(optimizer="sgd", loss="mse")
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_batch_splits=3"):
        sam.fit(dataset, shuffle=False, verbose=0)
