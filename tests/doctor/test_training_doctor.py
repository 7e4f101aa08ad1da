"""Training doctor: real small training runs provoke each verdict; healthy runs do not."""

import json

import keras
import numpy as np
import pytest

import keras_lossopt
from keras_lossopt.doctor import diagnose
from keras_lossopt.doctor.training_doctor import CODES, Thresholds
from tests.doctor.helpers import linear_data, mlp, moons

INTERFACE_PRIMARY = {"healthy", "converged", "diverged", "lr_too_high", "lr_too_low",
                     "plateau_high", "overfitting", "generalization_gap",
                     "no_better_than_chance", "insufficient_data"}


def _fit(model, optimizer, loss, x, y, epochs, batch_size, doctor=None, **kwargs):
    model.compile(optimizer=optimizer, loss=loss)
    doctor = doctor or keras_lossopt.callbacks.TrainingDoctor(verbose=0)
    model.fit(x, y, batch_size=batch_size, epochs=epochs, callbacks=[doctor], verbose=0,
              **kwargs)
    return doctor, doctor.report()


def _alarms(report):
    return [v.code for v in report.verdicts if v.severity != "info"]


def _check_interface(report):
    assert report.primary in INTERFACE_PRIMARY
    for verdict in report.verdicts:
        assert verdict.severity in ("info", "warning", "fatal")
        assert verdict.message and verdict.advice and isinstance(verdict.evidence, dict)
    json.dumps(report.to_dict())  # JSON-serializable, NaN included
    text = str(report)
    assert text.startswith(f"Training doctor: {report.primary}") and "\n" in text


# --- Verdicts from real runs ------------------------------------------------------------


@pytest.mark.multibackend
def test_sgd_with_lr_50_diverges():
    x, y = linear_data(64)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    _, report = _fit(model, keras.optimizers.SGD(50.0), "mse", x, y, epochs=3, batch_size=16)
    assert report.primary == "diverged"
    verdict = report["diverged"]
    assert verdict.severity == "fatal" and "learning rate" in verdict.advice
    assert "lr=" not in verdict.advice and "now 50" in verdict.advice
    _check_interface(report)


@pytest.mark.multibackend
def test_stop_on_fatal_stops_training():
    x, y = linear_data(64)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    doctor = keras_lossopt.callbacks.TrainingDoctor(stop_on_fatal=True, verbose=0)
    _, report = _fit(model, keras.optimizers.SGD(50.0), "mse", x, y, epochs=20,
                     batch_size=16, doctor=doctor)
    assert doctor.stopped_early and report.primary == "diverged"
    assert len(doctor.batch_losses) < 20 * 4  # stopped well before the 80 planned steps


@pytest.mark.multibackend
def test_lr_1e7_barely_moves():
    x, y = moons(96)
    _, report = _fit(mlp(), keras.optimizers.SGD(1e-7), "binary_crossentropy", x, y,
                     epochs=3, batch_size=32)
    assert report.primary == "lr_too_low", str(report)
    assert report["lr_too_low"].evidence["weight_change"] < 1e-3
    assert _alarms(report) == ["lr_too_low"]


@pytest.mark.multibackend
def test_oscillating_loss_means_lr_too_high():
    # Full-batch SGD on |w x - 2x| from w = 0 with steps of lr * mean|x| = 5: w jumps
    # between 0 and 5 across the optimum 2, the loss between 2 and 3 (no trend).
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 1.5, (64, 1)).astype("float32")
    x = x / np.mean(x)  # mean |x| exactly 1
    model = keras.Sequential([keras.Input((1,)),
                              keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    _, report = _fit(model, keras.optimizers.SGD(5.0), "mae", x, 2 * x, epochs=12,
                     batch_size=64)
    assert report.primary == "lr_too_high", str(report)
    assert report["lr_too_high"].evidence["oscillation"] > 0.2
    _check_interface(report)


def test_tiny_model_on_hard_data_plateaus_high():
    # A logistic regression cannot separate XOR: the loss settles near the chance level.
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (128, 2)).astype("float32")
    y = ((x[:, 0] * x[:, 1]) > 0).astype("float32")[:, None]
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
    doctor = keras_lossopt.callbacks.TrainingDoctor(verbose=0, data=(x, y))
    _, report = _fit(model, keras.optimizers.Adam(0.1), "binary_crossentropy", x, y,
                     epochs=6, batch_size=16, doctor=doctor)
    assert report.primary == "plateau_high", str(report)
    evidence = report["plateau_high"].evidence
    p = float(y.mean())  # chance level: the entropy of the label frequencies
    assert evidence["reference_loss"] == pytest.approx(-p * np.log(p) - (1 - p) * np.log(1 - p),
                                                       rel=1e-4)
    assert evidence["weight_change"] > 1e-2  # the optimizer did move: not "too low"


def test_large_model_on_few_samples_overfits():
    rng = np.random.default_rng(0)
    x, xv = rng.normal(size=(2, 16, 4)).astype("float32")
    y, yv = rng.integers(0, 2, (2, 16, 1)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(256, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    _, report = _fit(model, keras.optimizers.Adam(0.05), "binary_crossentropy", x, y,
                     epochs=10, batch_size=16, validation_data=(xv, yv))
    assert report.primary == "overfitting", str(report)
    evidence = report["overfitting"].evidence
    assert evidence["final_val_loss"] > evidence["best_val_loss"]
    assert evidence["best_val_epoch"] < 10


@pytest.mark.multibackend
def test_healthy_run_gets_no_false_alarm():
    x, y = moons(128)
    _, report = _fit(mlp(units=32), keras.optimizers.Adam(0.02), "binary_crossentropy", x, y,
                     epochs=5, batch_size=32)
    assert report.primary in ("healthy", "converged"), str(report)
    assert _alarms(report) == []
    _check_interface(report)


def test_converged_regression():
    x, y = linear_data(64)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    # Full-batch gradient descent on a well-conditioned least-squares problem
    # contracts the error geometrically: the loss is flat near 0 within 12 steps.
    _, report = _fit(model, keras.optimizers.SGD(0.3), "mse", x, y, epochs=12,
                     batch_size=64)
    assert report.primary == "converged", str(report)
    assert _alarms(report) == []


def test_short_run_is_insufficient_data():
    x, y = linear_data(16)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    _, report = _fit(model, keras.optimizers.SGD(0.01), "mse", x, y, epochs=2, batch_size=8)
    assert report.primary == "insufficient_data"
    _check_interface(report)


def test_batch_losses_recovered_from_running_means():
    # With lr = 0 the weights are fixed, so each recorded batch loss must be the
    # loss of that batch (Keras logs only the running mean of the epoch).
    x, y = linear_data(40)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    doctor, _ = _fit(model, keras.optimizers.SGD(0.0), "mse", x, y, epochs=2, batch_size=8,
                     shuffle=False)
    pred = model.predict(x, verbose=0)
    per_batch = [float(np.mean((pred[i:i + 8] - y[i:i + 8]) ** 2)) for i in range(0, 40, 8)]
    np.testing.assert_allclose(doctor.batch_losses, per_batch * 2, rtol=1e-4)
    np.testing.assert_allclose(doctor.epoch_losses, [np.mean(per_batch)] * 2, rtol=1e-5)
    assert doctor.epoch_end_steps == [5, 10]


def test_report_printed_at_end_of_fit_and_plotted(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    x, y = linear_data(32)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    doctor = keras_lossopt.callbacks.TrainingDoctor(verbose=1)
    _fit(model, keras.optimizers.SGD(0.05), "mse", x, y, epochs=3, batch_size=4,
         doctor=doctor)
    assert "Training doctor:" in capsys.readouterr().out
    path = tmp_path / "doctor.png"
    ax = doctor.plot(path=str(path))
    assert path.stat().st_size > 1000 and ax.get_title().startswith("Training doctor")


# --- diagnose() on hand-made curves -------------------------------------------------


def test_diagnose_hand_made_curves():
    assert diagnose([]).primary == "insufficient_data"
    assert diagnose([1.0, 0.9]).primary == "insufficient_data"
    assert diagnose([1.0, 2.0, float("inf")]).primary == "diverged"
    # 4x the start: exploded (fatal), and the ratio is reported.
    exploded = diagnose([1.0, 2.0, 3.0, 4.0])
    assert exploded.primary == "diverged" and exploded["diverged"].evidence["ratio"] == 4.0
    # Still falling steadily: healthy.
    assert diagnose([1.0, 0.8, 0.6, 0.45, 0.3]).primary == "healthy"
    # Flat near its start, with a steady tiny decline: too low.
    assert diagnose([1.0, 0.999, 0.998, 0.997, 0.996]).primary == "lr_too_low"
    # Fell, then flat at 80% of the chance level: plateau.
    report = diagnose([0.75, 0.56, 0.555, 0.555, 0.555], baseline_loss=0.6931)
    assert report.primary == "plateau_high"
    # Same curve far below the reference: converged.
    assert diagnose([0.75, 0.06, 0.055, 0.055, 0.055], baseline_loss=0.6931).primary == \
        "converged"
    # Zig-zag around its start: too high.
    assert diagnose([1.0, 1.6, 1.0, 1.6, 1.0, 1.6, 1.0, 1.6, 1.0, 1.6]).primary == "lr_too_high"
    # Validation rising while training falls: overfitting (along with the train verdict).
    report = diagnose([1.0, 0.6, 0.4, 0.3, 0.2, 0.1], val_loss=[1.0, 0.7, 0.8, 0.9, 1.0, 1.2])
    assert report.primary == "overfitting" and report["overfitting"].evidence[
        "best_val_epoch"] == 2
    # The weight change separates "barely moved" from "moved, loss stayed high".
    flat = [0.70, 0.699, 0.699, 0.699, 0.699]
    assert diagnose(flat, weight_change=1e-8).primary == "lr_too_low"
    assert diagnose(flat, weight_change=0.5, baseline_loss=0.6931).primary == "plateau_high"


def test_report_interface_and_thresholds():
    report = diagnose([1.0, 0.999, 0.998, 0.997, 0.996], learning_rate=1e-5)
    assert "now 1e-05" in report["lr_too_low"].advice
    as_dict = report.to_dict()
    assert as_dict["primary"] == "lr_too_low" and as_dict["verdicts"][0]["code"] == "lr_too_low"
    assert json.loads(report.to_json())["severity"] == "warning"
    assert "lr_too_low" in report and "diverged" not in report
    assert set(CODES) == INTERFACE_PRIMARY
    # Looser thresholds change the verdict: the heuristics are parameters.
    assert diagnose([1.0, 0.999, 0.998, 0.997, 0.996],
                    thresholds=Thresholds(low_drop=0.001)).primary != "lr_too_low"


def test_bad_arguments():
    with pytest.raises(ValueError, match="verbose=3"):
        keras_lossopt.callbacks.TrainingDoctor(verbose=3)
    with pytest.raises(ValueError, match="baseline_loss=-1.0"):
        keras_lossopt.callbacks.TrainingDoctor(baseline_loss=-1.0)


# --- Issue 20: measured start, generalization gap, chance level -------------------------


def _digits(n_train, n_val=400):
    datasets = pytest.importorskip("sklearn.datasets")
    x, y = datasets.load_digits(return_X_y=True)
    x = ((x - x.mean(0)) / (x.std(0) + 1e-9)).astype("float32")
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order].astype("int32")
    return x[:n_train], y[:n_train], x[-n_val:], y[-n_val:]


def _digits_run(n_train, units, optimizer, epochs, batch_size, init="glorot_uniform",
                steps_per_execution=1):
    x, y, xv, yv = _digits(n_train)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((64,)), keras.layers.Dense(units, activation="relu", kernel_initializer=init),
        keras.layers.Dense(10, kernel_initializer=init)])
    model.compile(optimizer=optimizer, metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  steps_per_execution=steps_per_execution)
    doctor = keras_lossopt.callbacks.TrainingDoctor(verbose=0, data=(x, y),
                                                    validation_labels=yv)
    model.fit(x, y, batch_size=batch_size, epochs=epochs, validation_data=(xv, yv),
              callbacks=[doctor], verbose=0)
    return doctor, doctor.report()


def test_first_epoch_explosion_is_measured_from_before_any_update():
    # Adam at lr 5 explodes within epoch 1; with one compiled call per epoch (the lab's
    # setting) the doctor sees only epoch means. Main measured from the exploded epoch 1
    # and said "overfitting"; the loss before any update (~ln 10) shows the jump.
    doctor, report = _digits_run(1000, 32, keras.optimizers.Adam(5.0), epochs=4,
                                 batch_size=32, steps_per_execution=32)
    assert doctor.batch_losses == doctor.epoch_losses  # one logged loss per epoch
    assert report.primary == "diverged", str(report)
    evidence = report["diverged"].evidence
    assert evidence["initial_measured"] and evidence["start_loss"] < 5.0
    assert evidence["ratio"] > 3.0
    # The same curves without the measured start: read from the exploded epoch 1.
    blind = diagnose(doctor.epoch_losses, doctor.val_losses, doctor.batch_losses)
    assert blind.primary != "diverged"


def test_memorized_training_set_is_a_generalization_gap_not_converged():
    # 60 digits, 256 hidden units: training loss ~0.006 while validation is flat at ~0.5.
    doctor, report = _digits_run(60, 256, keras.optimizers.Adam(3e-3), epochs=30,
                                 batch_size=60)
    assert "generalization_gap" in report and "converged" not in report, str(report)
    evidence = report["generalization_gap"].evidence
    assert evidence["gap_ratio"] >= Thresholds().gap_ratio
    assert evidence["val_loss"] == pytest.approx(doctor.val_losses[-1])
    # The validation loss is flat, so it is no "overfitting" (it did not rise).
    assert "overfitting" not in report
    # Thresholds are adjustable: demand a 1000x gap and the verdict goes.
    assert "generalization_gap" not in diagnose(
        doctor.epoch_losses, doctor.val_losses, thresholds=Thresholds(gap_ratio=1000.0))


def test_loss_above_chance_is_not_healthy():
    # Huge initial weights: the loss falls steadily (main: "healthy") but stays far above
    # the loss of predicting the class frequencies.
    doctor, report = _digits_run(1000, 32, keras.optimizers.Adam(1e-3), epochs=4,
                                 batch_size=32, init=keras.initializers.RandomNormal(stddev=2.0))
    assert report.primary == "no_better_than_chance", str(report)
    assert "healthy" not in report
    train_chance, val_chance, majority = doctor.chance_levels()
    _, y, _, yv = _digits(1000)
    freq = np.bincount(y, minlength=10) / len(y)  # the constant prediction, by hand
    assert train_chance == pytest.approx(-np.sum(freq * np.log(freq)), rel=1e-4)
    # On the validation labels the training frequencies (2.314) do a little worse than
    # a near-uniform constant (ln 10 = 2.3026), which the doctor also tries.
    assert val_chance == pytest.approx(min(-np.mean(np.log(freq[yv])), np.log(10.0)), rel=1e-3)
    assert val_chance <= -np.mean(np.log(freq[yv])) + 1e-6
    assert majority == pytest.approx(np.max(np.bincount(yv, minlength=10)) / len(yv))
    assert report["no_better_than_chance"].evidence["val_vs_chance"] > 1.0


def test_accuracy_at_majority_and_shuffled_labels_are_no_better_than_chance():
    datasets = pytest.importorskip("sklearn.datasets")
    x, y = datasets.load_breast_cancer(return_X_y=True)
    x = ((x - x.mean(0)) / x.std(0)).astype("float32")
    y = y.astype("float32")[:, None]
    rng = np.random.default_rng(1)
    x_train, y_train = x[:400], rng.permutation(y[:400])  # labels carry no signal
    x_val, y_val = x[400:], y[400:]
    keras.utils.set_random_seed(0)
    model = mlp(inputs=30, units=64, activation=None)
    model.compile(optimizer=keras.optimizers.Adam(0.01), metrics=["accuracy"],
                  loss=keras.losses.BinaryCrossentropy(from_logits=True))
    doctor = keras_lossopt.callbacks.TrainingDoctor(verbose=0, data=(x_train, y_train),
                                                    validation_labels=y_val)
    model.fit(x_train, y_train, batch_size=32, epochs=8, validation_data=(x_val, y_val),
              callbacks=[doctor], verbose=0)
    report = doctor.report()
    assert "no_better_than_chance" in report and "healthy" not in report, str(report)
    evidence = report["no_better_than_chance"].evidence
    assert evidence["val_loss"] > evidence["chance_loss"]
    assert "majority_accuracy" in evidence
    # Accuracy alone: an accuracy at the majority share is flagged even without losses.
    assert diagnose([0.7, 0.6, 0.5, 0.4], val_loss=[0.7, 0.6, 0.5, 0.45],
                    val_accuracy=[0.6, 0.6, 0.62, 0.62],
                    majority_accuracy=0.62).primary == "no_better_than_chance"


def test_chance_level_evaluates_the_actual_loss():
    from keras_lossopt.doctor._curves import chance_level

    y = np.array([0, 0, 0, 1], "float32")[:, None]
    p = 0.25
    bce, majority = chance_level("binary_crossentropy", y, 1)
    assert bce == pytest.approx(-p * np.log(p) - (1 - p) * np.log(1 - p), rel=1e-5)
    assert majority == 0.75
    # Regression: the target mean's MSE is the variance.
    t = np.array([1.0, 2.0, 3.0, 6.0], "float32")[:, None]
    assert chance_level("mse", t, 1)[0] == pytest.approx(np.var(t), rel=1e-5)
    assert chance_level("mse", t, 1)[1] is None
    # A non-cross-entropy loss that the checker files as "binary" (focal loss): its chance
    # level is its own value at the class frequency, not ln 2 (nor the entropy).
    focal = keras_lossopt.losses.get("sigmoid_focal_crossentropy")
    level, _ = chance_level(focal, y, 1)
    at_frequency = float(np.mean(keras.ops.convert_to_numpy(focal(y, np.full_like(y, p)))))
    assert level == pytest.approx(at_frequency, rel=1e-5) and level < 0.2
