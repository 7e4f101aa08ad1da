"""The seed losses Keras lacks, against tests/reference/seed_losses.py."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_lossopt import losses
from tests.losses._loss_tools import grad as _grad
from tests.losses._loss_tools import value_and_grad
from tests.reference import seed_losses as ref

RNG = np.random.default_rng(0)


def _np(x):
    return keras.ops.convert_to_numpy(x)


# --- RootMeanSquaredError ------------------------------------------------------------


@pytest.mark.multibackend
@pytest.mark.parametrize(
    "reduction", ["sum_over_batch_size", "mean", "sum", "mean_with_sample_weight", "none"]
)
def test_rmse_matches_reference_for_every_reduction(reduction):
    y_true = RNG.normal(size=(6, 3)).astype("float32")
    y_pred = RNG.normal(size=(6, 3)).astype("float32")
    weights = RNG.uniform(0.1, 2.0, size=(6,)).astype("float32")
    loss = losses.RootMeanSquaredError(reduction=reduction)
    got = _np(loss(y_true, y_pred, sample_weight=weights))
    want = ref.rmse(y_true, y_pred, sample_weight=weights, reduction=reduction)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_rmse_is_root_of_batch_mean_not_mean_of_roots():
    # One output per sample: a mean of per-sample roots would be the MAE (= 2.0).
    y_true = np.zeros((2, 1), "float32")
    y_pred = np.array([[1.0], [3.0]], "float32")
    got = float(losses.RootMeanSquaredError()(y_true, y_pred))
    assert got == pytest.approx(np.sqrt((1 + 9) / 2), rel=1e-6)
    assert got != pytest.approx(2.0)


def test_rmse_golden_3_4_5():
    # Hand computation: errors 3 and 4 -> sqrt((9 + 16) / 2) = 3.5355339.
    got = float(losses.RootMeanSquaredError()([[0.0], [0.0]], [[3.0], [4.0]]))
    assert got == pytest.approx(3.5355339, rel=1e-6)


@pytest.mark.multibackend
def test_rmse_gradient_is_finite_at_zero_error():
    y = np.ones((4, 2), "float32")
    grad = _grad(lambda p: losses.RootMeanSquaredError()(y, p), y)
    assert np.all(np.isfinite(grad))
    np.testing.assert_array_equal(grad, 0.0)


# --- PseudoHuber ---------------------------------------------------------------------


@pytest.mark.multibackend
@pytest.mark.parametrize("delta", [0.1, 1.0, 3.0])
def test_pseudo_huber_matches_reference(delta):
    y_true = RNG.normal(size=(5, 4))
    y_pred = RNG.normal(size=(5, 4)) * 3
    got = _np(losses.pseudo_huber(y_true.astype("float64"), y_pred.astype("float64"), delta=delta))
    # JAX without x64 computes float64 input in float32.
    rtol = 1e-7 if got.dtype == np.float64 else 1e-5
    np.testing.assert_allclose(got, ref.pseudo_huber(y_true, y_pred, delta), rtol=rtol)
    got32 = _np(losses.PseudoHuber(delta=delta, reduction="none")(y_true, y_pred))
    np.testing.assert_allclose(got32, ref.pseudo_huber(y_true, y_pred, delta), rtol=1e-4)


def test_pseudo_huber_limits_quadratic_and_linear():
    # Small error: ~ e^2 / 2 ; large error: ~ delta * |e| - delta^2.
    small = float(losses.PseudoHuber(delta=1.0)([[0.0]], [[1e-3]]))
    assert small == pytest.approx(0.5e-6, rel=1e-3)
    large = float(losses.PseudoHuber(delta=2.0)([[0.0]], [[1e4]]))
    assert large == pytest.approx(2.0 * 1e4 - 4.0, rel=1e-4)


def test_pseudo_huber_no_cancellation_for_tiny_errors():
    # Naive delta^2 (sqrt(1 + s^2) - 1) is 0 in float32 at e = 1e-5; the true value is 5e-11.
    got = float(losses.PseudoHuber()([[0.0]], [[1e-5]]))
    assert got == pytest.approx(5e-11, rel=1e-3)


@pytest.mark.parametrize("delta", [0, -1.0, float("nan"), "1"])
def test_pseudo_huber_rejects_bad_delta(delta):
    with pytest.raises(ValueError, match=r"delta"):
        losses.PseudoHuber(delta=delta)


# --- SigmoidCrossEntropy --------------------------------------------------------------


@pytest.mark.multibackend
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_sigmoid_cross_entropy_matches_reference(label_smoothing):
    labels = RNG.integers(0, 2, size=(6, 3)).astype("float32")
    logits = (RNG.normal(size=(6, 3)) * 5).astype("float32")
    loss = losses.SigmoidCrossEntropy(label_smoothing=label_smoothing, reduction="none")
    np.testing.assert_allclose(
        _np(loss(labels, logits)), ref.sigmoid_cross_entropy(labels, logits, label_smoothing),
        rtol=1e-5, atol=1e-6,
    )


def test_sigmoid_cross_entropy_stable_at_extreme_logits():
    labels = np.array([[1.0, 0.0, 1.0, 0.0]], "float32")
    logits = np.array([[100.0, -100.0, -100.0, 100.0]], "float32")
    value = _np(losses.SigmoidCrossEntropy(reduction="none")(labels, logits))
    np.testing.assert_allclose(value, [100.0 / 2], rtol=1e-5)  # mean of (0, 0, 100, 100)
    grad = _grad(lambda x: losses.SigmoidCrossEntropy()(labels, x), logits)
    assert np.all(np.isfinite(grad))


# --- SmoothedSparseCategoricalCrossentropy: sparse CE with label smoothing ----------------


@pytest.mark.multibackend
@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_smoothed_sparse_cce_matches_reference(from_logits, label_smoothing):
    labels = RNG.integers(0, 4, size=(7,))
    raw = RNG.normal(size=(7, 4)).astype("float32")
    y_pred = raw if from_logits else _np(ops.softmax(raw))
    loss = losses.SmoothedSparseCategoricalCrossentropy(
        from_logits=from_logits, label_smoothing=label_smoothing, reduction="none"
    )
    np.testing.assert_allclose(
        _np(loss(labels, y_pred)),
        ref.smoothed_sparse_cross_entropy(labels, y_pred, from_logits, label_smoothing),
        rtol=1e-5,
    )


def test_smoothed_sparse_cce_equals_keras_cce_on_one_hot_and_keras_sparse_without_smoothing():
    labels = RNG.integers(0, 5, size=(8, 1))
    logits = RNG.normal(size=(8, 5)).astype("float32")
    ours = losses.SmoothedSparseCategoricalCrossentropy(from_logits=True, label_smoothing=0.2)
    theirs = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2)
    one_hot = np.eye(5)[labels[:, 0]]
    assert float(ours(labels, logits)) == pytest.approx(float(theirs(one_hot, logits)), rel=1e-6)
    plain = losses.SmoothedSparseCategoricalCrossentropy(from_logits=True)
    keras_sparse = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    assert float(plain(labels, logits)) == pytest.approx(float(keras_sparse(labels, logits)), rel=1e-6)


@pytest.mark.multibackend
@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_smoothed_sparse_cce_gradient_and_sequence_labels(from_logits, label_smoothing):
    # The sparse path gathers the label's term (no one-hot tensor): its gradient
    # must still be the one-hot formulation's, here for (batch, time) labels.
    labels = RNG.integers(0, 5, size=(3, 4))
    raw = RNG.normal(size=(3, 4, 5)).astype("float32")
    y_pred = raw if from_logits else _np(ops.softmax(raw))
    loss = losses.SmoothedSparseCategoricalCrossentropy(
        from_logits=from_logits, label_smoothing=label_smoothing, reduction="sum"
    )
    value, grad = value_and_grad(lambda x: loss(labels, x), y_pred)
    expected = ref.smoothed_sparse_cross_entropy(
        labels.reshape(-1), y_pred.reshape(-1, 5), from_logits, label_smoothing
    ).sum()
    np.testing.assert_allclose(value, expected, rtol=1e-5)
    q = (1.0 - label_smoothing) * np.eye(5)[labels] + label_smoothing / 5
    if from_logits:  # d/dx = softmax(x) - q
        expected_grad = _np(ops.softmax(raw)) - q
    else:  # d/dp of -sum q log(p / sum p) = -q / p + 1 / sum(p)
        expected_grad = -q / y_pred + 1.0 / y_pred.sum(-1, keepdims=True)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-4, atol=1e-5)


@pytest.mark.multibackend
def test_smoothed_sparse_cce_label_outside_classes_counts_like_an_all_zero_one_hot_row():
    # Same value on every backend (no gather error): only the smoothing term remains.
    logits = RNG.normal(size=(2, 4)).astype("float32")
    loss = losses.SmoothedSparseCategoricalCrossentropy(
        from_logits=True, label_smoothing=0.2, reduction="none"
    )
    log_p = _np(ops.log_softmax(logits))
    np.testing.assert_allclose(
        _np(loss(np.array([4, -1]), logits)), -0.2 * log_p.mean(-1), rtol=1e-5
    )


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_smoothed_sparse_cce_keeps_kerass_softmax_output_handling_in_fit(label_smoothing):
    # In a TensorFlow graph Keras's cross-entropy recovers the logits of a softmax
    # output instead of clipping the probability at 1e-7: a confidently wrong
    # prediction keeps its loss (about 50, not -log(1e-7) = 16.1) and its
    # gradient. Ours must give what Keras's own losses give, on every backend.
    x = np.array([[1.0, 0.0]], "float32")
    labels = np.array([1])

    def evaluate(loss, y):
        model = keras.Sequential([
            keras.Input((2,)),
            keras.layers.Dense(3, activation="softmax", bias_initializer="zeros",
                               kernel_initializer=keras.initializers.Constant(
                                   [[50.0, 0.0, 0.0], [0.0, 0.0, 0.0]])),
        ])
        model.compile(optimizer="sgd", loss=loss)
        return model.evaluate(x, y, verbose=0)

    ours = evaluate(losses.SmoothedSparseCategoricalCrossentropy(label_smoothing=label_smoothing), labels)
    theirs = evaluate(keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
                      np.eye(3, dtype="float32")[labels])
    assert ours == pytest.approx(theirs, rel=1e-5)
    if keras.backend.backend() == "tensorflow":
        assert ours > 40.0  # the recovered logits, not the clipped probability


def test_smoothed_sparse_cce_rejects_one_hot_labels_with_both_shapes():
    with pytest.raises(ValueError, match=r"y_true.shape=\(3, 4\).*y_pred.shape=\(3, 4\)"):
        losses.SmoothedSparseCategoricalCrossentropy()(np.eye(4)[:3], np.full((3, 4), 0.25))


def test_the_former_class_name_still_imports_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="SmoothedSparseCategoricalCrossentropy"):
        from keras_lossopt.losses import SparseCategoricalCrossentropy
    assert SparseCategoricalCrossentropy is losses.SmoothedSparseCategoricalCrossentropy
    with pytest.warns(DeprecationWarning):
        assert (losses.classification.SparseCategoricalCrossentropy
                is losses.SmoothedSparseCategoricalCrossentropy)
    # Our namespace no longer exports Keras's class name for our loss.
    assert "SparseCategoricalCrossentropy" not in losses.__all__


def test_a_file_saved_under_the_former_class_name_still_loads(tmp_path):
    """A .keras file written before the rename names the class
    "keras_lossopt>SparseCategoricalCrossentropy" (as version 0.1 wrote it)."""
    import json
    import zipfile

    x, y = np.ones((4, 3), "float32"), np.array([0, 1, 2, 3])
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
    loss = losses.SmoothedSparseCategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    model.compile(optimizer="adam", loss=loss)
    model.fit(x, y, verbose=0)
    model.save(tmp_path / "new.keras")
    with zipfile.ZipFile(tmp_path / "new.keras") as new, \
            zipfile.ZipFile(tmp_path / "old.keras", "w") as old:
        for item in new.infolist():
            data = new.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                saved = config["compile_config"]["loss"]
                assert saved["registered_name"] == "keras_lossopt>SmoothedSparseCategoricalCrossentropy"
                saved.update(class_name="SparseCategoricalCrossentropy",
                             registered_name="keras_lossopt>SparseCategoricalCrossentropy")
                saved["config"]["name"] = "sparse_categorical_crossentropy"
                data = json.dumps(config)
            old.writestr(item, data)
    reloaded = keras.saving.load_model(tmp_path / "old.keras")
    assert type(reloaded.loss) is losses.SmoothedSparseCategoricalCrossentropy
    assert reloaded.loss.get_config()["label_smoothing"] == 0.1
    np.testing.assert_allclose(reloaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0),
                               rtol=1e-6)


# --- Shared behaviour -----------------------------------------------------------------


@pytest.mark.multibackend
@pytest.mark.parametrize(
    "loss", [losses.RootMeanSquaredError(), losses.PseudoHuber(), losses.SigmoidCrossEntropy()]
)
def test_rank_alignment_never_broadcasts_to_batch_by_batch(loss):
    y_true = np.array([0.0, 1.0, 1.0, 0.0], "float32")  # (B,)
    y_pred = np.array([[0.1], [0.9], [0.8], [0.3]], "float32")  # (B, 1)
    aligned = float(loss(y_true, y_pred))
    explicit = float(loss(y_true[:, None], y_pred))
    assert aligned == pytest.approx(explicit, rel=1e-6)
    assert loss(y_true, y_pred, sample_weight=None).shape == ()


@pytest.mark.parametrize(
    "loss", [losses.RootMeanSquaredError(), losses.PseudoHuber(), losses.SigmoidCrossEntropy()]
)
def test_shape_mismatch_names_both_shapes(loss):
    with pytest.raises(ValueError, match=r"y_true.shape=\(4, 3\), y_pred.shape=\(4, 2\)"):
        loss(np.zeros((4, 3)), np.zeros((4, 2)))


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_label_smoothing_out_of_range(bad):
    with pytest.raises(ValueError, match=rf"label_smoothing={bad}"):
        losses.SmoothedSparseCategoricalCrossentropy(label_smoothing=bad)
    with pytest.raises(ValueError, match=rf"label_smoothing={bad}"):
        losses.SigmoidCrossEntropy(label_smoothing=bad)


@pytest.mark.parametrize(
    "loss",
    [
        losses.RootMeanSquaredError(dtype="float64"),
        losses.PseudoHuber(delta=2.5, reduction="sum", dtype="float64"),
        losses.SigmoidCrossEntropy(label_smoothing=0.1),
        losses.SmoothedSparseCategoricalCrossentropy(from_logits=True, label_smoothing=0.3),
    ],
)
def test_config_round_trip_keeps_arguments_and_dtype(loss):
    config = loss.get_config()
    clone = type(loss).from_config(config)
    assert clone.get_config() == config
    assert clone.dtype == loss.dtype
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(restored) is type(loss) and restored.get_config() == config



@pytest.mark.parametrize(
    "loss", [losses.RootMeanSquaredError(), losses.PseudoHuber(), losses.SigmoidCrossEntropy()]
)
def test_scalar_inputs_are_rejected_with_both_shapes(loss):
    with pytest.raises(ValueError, match=r"batch axis.*y_true.shape=\(\), y_pred.shape=\(\)"):
        loss(1.0, 2.0)
