"""Compile by string -> fit -> save -> reload in a fresh process
with only `import keras_lossopt` -> fit -> save again, for the seed catalogue."""

import os

import keras
import numpy as np
import pytest

from keras_lossopt import losses, optimizers
from tests.conftest import run_fresh_python

RNG = np.random.default_rng(7)
X = RNG.normal(size=(64, 4)).astype("float32")
Y_REG = (X @ np.array([1.0, -2.0, 0.5, 0.0], "float32") + 0.3)[:, None]
Y_BIN = (X[:, 0] + X[:, 1] > 0).astype("float32")[:, None]
Y_CLS = (X[:, 0] > 0).astype("int32") + (X[:, 1] > 0).astype("int32")  # 3 classes

# (optimizer, loss, target, output units, output activation, metrics)
CASES = {
    "gd_pseudo_huber": ("gd", "pseudo_huber", Y_REG, 1, None, []),
    "adam_rmse": ("adam", "rmse", Y_REG, 1, None, []),
    "adam_mse": ("adam", "mean_squared_error", Y_REG, 1, None, []),
    "gd_l2": ("gradient_descent", "l2", Y_REG, 1, None, []),
    "adam_bce": ("adam", "binary_crossentropy", Y_BIN, 1, "sigmoid", ["accuracy"]),
    "gd_sigmoid_ce": ("gd", "sigmoid_cross_entropy", Y_BIN, 1, None, []),
    "adam_cce": ("adam", "categorical_crossentropy", np.eye(3)[Y_CLS], 3, "softmax", ["accuracy"]),
    "lamb_smoothed_scce": ("lamb", "smoothed_sparse_categorical_crossentropy", Y_CLS, 3, "softmax", []),
}


def _model(units, activation):
    return keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(units, activation=activation)]
    )


def _train(name):
    optimizer, loss, y, units, activation, metrics = CASES[name]
    model = _model(units, activation)
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    before = model.evaluate(X, y, verbose=0, return_dict=True)["loss"]
    model.fit(X, y, epochs=5, batch_size=16, verbose=0)
    after = model.evaluate(X, y, verbose=0, return_dict=True)["loss"]
    return model, before, after, y


@pytest.mark.slow
def test_compile_by_string_fit_save_reload_in_fresh_process_fit_save_again(tmp_path):
    expected = {}
    for name in CASES:
        model, before, after, y = _train(name)
        assert np.isfinite(after) and after < before, f"{name}: loss {before} -> {after}"
        model.save(tmp_path / f"{name}.keras")
        np.save(tmp_path / f"{name}_y.npy", y)
        expected[name] = model.evaluate(X, y, verbose=0, return_dict=True)["loss"]
    np.save(tmp_path / "x.npy", X)

    out = run_fresh_python(
        f"""
        import os, sys
        import numpy as np
        import keras, keras_lossopt
        d = {str(tmp_path)!r}
        x = np.load(os.path.join(d, "x.npy"))
        for name in {sorted(CASES)!r}:
            y = np.load(os.path.join(d, name + "_y.npy"))
            model = keras.saving.load_model(os.path.join(d, name + ".keras"))
            loaded = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
            model.fit(x, y, epochs=2, batch_size=16, verbose=0)
            model.save(os.path.join(d, name + "_again.keras"))
            again = keras.saving.load_model(os.path.join(d, name + "_again.keras"))
            print(name, loaded, type(model.optimizer).__name__, type(again.optimizer).__name__,
                  again.evaluate(x, y, verbose=0, return_dict=True)["loss"])
        """
    )
    rows = {line.split()[0]: line.split()[1:] for line in out.strip().splitlines()}
    for name, (optimizer, *_rest) in CASES.items():
        loaded, opt_type, opt_type_again, after_again = rows[name]
        assert float(loaded) == pytest.approx(expected[name], rel=1e-5), name
        assert opt_type == opt_type_again == type(optimizers.get(optimizer)).__name__
        assert np.isfinite(float(after_again))


@pytest.mark.multibackend
@pytest.mark.parametrize("name", ["gd_pseudo_huber", "adam_rmse", "gd_sigmoid_ce", "lamb_smoothed_scce"])
def test_compile_by_string_trains_on_every_backend(name):
    _, before, after, _ = _train(name)
    assert np.isfinite(after) and after < before


@pytest.mark.multibackend
def test_compile_by_instance_trains_and_round_trips_in_process(tmp_path):
    model = _model(1, None)
    model.compile(optimizer=optimizers.GradientDescent(0.05), loss=losses.PseudoHuber(delta=0.5))
    model.fit(X, Y_REG, epochs=3, batch_size=16, verbose=0)
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.loss, losses.PseudoHuber) and loaded.loss.get_config() == model.loss.get_config()
    assert isinstance(loaded.optimizer, optimizers.GradientDescent)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6)


def test_unknown_loss_string_fails_at_fit_with_keras_error():
    # Keras resolves loss strings lazily; our getter fails early with suggestions.
    with pytest.raises(ValueError, match="pseudo_huber"):
        losses.get("pseudohuber")
