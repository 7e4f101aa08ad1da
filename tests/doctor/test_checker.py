"""Loss/activation checker: every classic mistake is reported with its fix; correct
models get no finding."""

import warnings

import keras
import numpy as np
import pytest

import keras_lossopt
from keras_lossopt.doctor import ModelCheckError, ModelCheckWarning, check_model
from keras_lossopt.doctor.checker import describe_loss


def _model(units, activation, loss, inputs=3):
    model = keras.Sequential([keras.Input((inputs,)),
                              keras.layers.Dense(units, activation=activation, name="head")])
    model.compile(optimizer="sgd", loss=loss)
    return model


def _codes(findings):
    return [f.code for f in findings]


ONE_HOT = np.eye(4, dtype="float32")[[0, 1, 2, 3, 1, 0]]
INTS = np.array([0, 1, 2, 3, 1, 0])
BINARY = np.array([[0.0], [1.0], [1.0], [0.0]])


# (units, activation, loss, labels, expected code, words the message must contain)
MISTAKES = [
    (4, "softmax", "binary_crossentropy", ONE_HOT, "softmax_with_binary_crossentropy",
     ["'head'", "binary_crossentropy", "softmax"]),
    (4, "sigmoid", "categorical_crossentropy", ONE_HOT, "sigmoid_with_categorical_crossentropy",
     ["'head'", "categorical_crossentropy", "sigmoid"]),
    (1, None, "binary_crossentropy", BINARY, "linear_output_without_from_logits",
     ["'head'", "binary_crossentropy", "from_logits=False"]),
    (1, "sigmoid", keras.losses.BinaryCrossentropy(from_logits=True), BINARY,
     "activation_with_from_logits", ["'head'", "binary_crossentropy", "applied twice"]),
    (4, "softmax", keras.losses.CategoricalCrossentropy(from_logits=True), ONE_HOT,
     "activation_with_from_logits", ["'head'", "categorical_crossentropy", "softmax"]),
    (4, "softmax", "categorical_crossentropy", INTS, "categorical_with_integer_labels",
     ["categorical_crossentropy", "integer"]),
    (4, "softmax", "sparse_categorical_crossentropy", ONE_HOT, "sparse_with_one_hot_labels",
     ["sparse_categorical_crossentropy", "one-hot"]),
    (1, "softmax", None, None, "one_unit_softmax", ["'head'", "1 unit"]),
    (1, "sigmoid", "binary_crossentropy", np.array([[-1.0], [1.0], [1.0]]),
     "binary_labels_outside_unit_interval", ["binary_crossentropy", "-1", "hinge"]),
    (1, "sigmoid", "binary_crossentropy", np.array([[0.0], [2.0], [1.0]]),
     "binary_labels_outside_unit_interval", ["binary_crossentropy", "2"]),
    (3, "softmax", "sparse_categorical_crossentropy", INTS, "class_index_out_of_range",
     ["'head'", "3 units", "0 to 3"]),
    (1, "sigmoid", "mse", BINARY, "regression_loss_on_binary_labels",
     ["'head'", "mean_squared_error", "binary_crossentropy"]),
    (1, "sigmoid", "mse", np.array([[3.0], [-2.0]]), "output_range_excludes_targets",
     ["'head'", "sigmoid", "linear"]),
    (1, "softmax", "sparse_categorical_crossentropy", INTS[:2], "categorical_with_one_unit",
     ["'head'", "1 unit"]),
]


def test_each_mistake_is_reported_with_fix():
    # One test over the table (not parametrized): each case is a cheap model, and
    # per-test set-up/tear-down would cost more than the checks.
    for units, activation, loss, labels, code, words in MISTAKES:
        model = _model(units, activation, loss)
        findings = check_model(model, y=labels, mode="silent")
        assert code in _codes(findings), (code, [str(f) for f in findings])
        finding = next(f for f in findings if f.code == code)
        text = finding.message + " " + finding.fix
        for word in words:
            assert word in text, (code, word, text)
        assert finding.fix and finding.layer == "head"


# (units, activation, loss, labels): the right combinations.
CORRECT = [
    (1, "sigmoid", "binary_crossentropy", BINARY),
    (1, None, keras.losses.BinaryCrossentropy(from_logits=True), BINARY),
    (1, None, "sigmoid_cross_entropy", BINARY),
    (4, "softmax", "categorical_crossentropy", ONE_HOT),
    (4, None, keras.losses.CategoricalCrossentropy(from_logits=True), ONE_HOT),
    (4, "softmax", "sparse_categorical_crossentropy", INTS),
    (4, None, keras.losses.SparseCategoricalCrossentropy(from_logits=True), INTS[:, None]),
    (4, "sigmoid", "binary_crossentropy", np.array([[1, 0, 1, 0], [0, 1, 1, 1]], "float32")),
    (1, None, "mse", np.array([[3.0], [-2.0]])),
    (1, None, "huber", BINARY),
    (1, "sigmoid", "mse", np.array([[0.2], [0.7]])),
]


def test_correct_models_get_no_finding():
    for units, activation, loss, labels in CORRECT:
        model = _model(units, activation, loss)
        with warnings.catch_warnings():
            warnings.simplefilter("error", ModelCheckWarning)
            assert check_model(model, y=labels) == [], (units, activation, loss)


@pytest.mark.parametrize("loss, kind, from_logits", [
    ("mse", "regression", False),  # Keras's function, through the entry of the same name
    (keras.losses.mean_absolute_error, "regression", False),
    ("barron", "regression", False),
    (keras.losses.BinaryCrossentropy(from_logits=True), "binary", True),
    ("lovasz_hinge", "binary", True),  # no from_logits option: its inputs are logits
    ("smoothed_sparse_categorical_crossentropy", "sparse", False),
    ("poly_loss", "categorical", False),
    ("hinge", "other", False),  # -1/+1 labels, raw scores: not probabilities or logits
    ("triplet_semihard", "other", False),
    ("not_a_loss_anywhere", "other", False),
])
def test_the_loss_kind_comes_from_its_registry_entry(loss, kind, from_logits):
    info = describe_loss(loss)
    assert (info.kind, info.from_logits) == (kind, from_logits), info


def test_modes_warn_raise_silent():
    model = _model(4, "softmax", "binary_crossentropy")
    with pytest.warns(ModelCheckWarning, match="softmax_with_binary_crossentropy"):
        assert len(check_model(model)) == 1
    with pytest.raises(ModelCheckError, match="categorical_crossentropy") as info:
        check_model(model, mode="raise")
    assert isinstance(info.value, ValueError) and len(info.value.findings) == 1
    with pytest.raises(ValueError, match="mode='loud'"):
        check_model(model, mode="loud")


def test_labels_from_a_dataset_and_loss_override():
    import tensorflow as tf

    model = _model(4, "softmax", "categorical_crossentropy")
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((6, 3), "float32"), INTS)).batch(3)
    assert _codes(check_model(model, ds, mode="silent")) == ["categorical_with_integer_labels"]
    uncompiled = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="head")])
    assert _codes(check_model(uncompiled, loss="categorical_crossentropy", mode="silent")) == [
        "linear_output_without_from_logits"]


@pytest.mark.multibackend
def test_subclassed_model_activation_inferred_from_outputs():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(4)

        def call(self, x):
            return keras.ops.softmax(self.dense(x))

    model = Net()
    model.compile(optimizer="sgd",
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    x = np.random.default_rng(0).normal(size=(6, 3)).astype("float32")
    findings = check_model(model, x, ONE_HOT, mode="silent")
    assert _codes(findings) == ["activation_with_from_logits"]


@pytest.mark.multibackend
def test_model_check_callback_runs_at_fit_start():
    model = _model(4, "softmax", "binary_crossentropy")
    callback = keras_lossopt.callbacks.ModelCheck(mode="raise", y=ONE_HOT)
    with pytest.raises(ModelCheckError, match="softmax_with_binary_crossentropy"):
        model.fit(np.zeros((6, 3)), ONE_HOT, callbacks=[callback], verbose=0)
    good = _model(4, "softmax", "categorical_crossentropy")
    callback = keras_lossopt.callbacks.ModelCheck(y=ONE_HOT)
    good.fit(np.zeros((6, 3)), ONE_HOT, epochs=1, callbacks=[callback], verbose=0)
    assert callback.findings == []
    with pytest.raises(ValueError, match="mode='x'"):
        keras_lossopt.callbacks.ModelCheck(mode="x")


@pytest.mark.multibackend
def test_the_double_activation_really_hurts():
    # Why the checker flags sigmoid + from_logits=True: the loss applies sigmoid again,
    # so even a perfect prediction (p = 1) cannot push the loss below log(1 + e^-1).
    loss = keras.losses.BinaryCrossentropy(from_logits=True)
    perfect = float(loss(np.array([[1.0]]), np.array([[1.0]])))
    assert perfect == pytest.approx(np.log1p(np.exp(-1.0)), rel=1e-5)
