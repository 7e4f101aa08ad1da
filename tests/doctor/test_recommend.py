"""Loss selection guide: the classic table, flags, and models that pass the checker."""

import keras
import numpy as np
import pytest

import keras_lossopt
from keras_lossopt import registry
from keras_lossopt.doctor import check_model, guide_table

# The classic guide (any introductory course): task/labels -> loss, activation.
CLASSIC = [
    ({"task": "regression"}, "mean_squared_error", "linear"),
    ({"task": "binary"}, "binary_crossentropy", "sigmoid"),
    ({"task": "multiclass", "labels": "one_hot"}, "categorical_crossentropy", "softmax"),
    ({"task": "multiclass"}, "categorical_crossentropy", "softmax"),
    ({"task": "multiclass", "labels": "integers"}, "sparse_categorical_crossentropy", "softmax"),
    ({"task": "multilabel"}, "binary_crossentropy", "sigmoid"),
]


@pytest.mark.parametrize("kwargs, loss_name, activation", CLASSIC)
def test_classic_guide(kwargs, loss_name, activation):
    rec = keras_lossopt.recommend(**kwargs)
    assert (rec.loss_name, rec.activation, rec.from_logits) == (loss_name, activation, False)
    assert isinstance(rec.loss, keras.losses.Loss)
    assert type(rec.loss) is type(keras_lossopt.losses.get(loss_name))
    assert rec.why.endswith(".") and rec.metrics
    for metric in rec.metrics:
        keras.metrics.get(metric)  # every metric string resolves


def test_flags():
    rec = keras_lossopt.recommend("regression", outliers=True)
    assert rec.loss_name == "huber" and rec.activation == "linear"
    rec = keras_lossopt.recommend("binary", from_logits=True)
    assert rec.activation == "linear" and rec.from_logits
    assert rec.loss.get_config()["from_logits"] is True
    rec = keras_lossopt.recommend("binary", imbalanced=True)
    assert rec.loss_name == "sigmoid_focal_crossentropy" and "auc" in rec.metrics
    rec = keras_lossopt.recommend("multiclass", labels="one_hot", imbalanced=True)
    assert rec.loss_name == "categorical_focal_crossentropy"
    rec = keras_lossopt.recommend("binary", labels="one_hot")
    assert rec.loss_name == "categorical_crossentropy" and rec.units == 2


def test_quantile_uses_pinball():
    rec = keras_lossopt.recommend("quantile", quantile=0.9)
    assert rec.loss_name == "pinball" and rec.loss.get_config()["tau"] == 0.9
    assert rec.activation == "linear"


def test_every_name_the_guide_gives_is_registered_and_builds():
    # The guide names keras_lossopt's own losses without asking whether they exist:
    # this checks every answer it can give.
    import itertools

    from keras_lossopt.doctor.recommend import LABELS, TASKS

    seen = 0
    for task, labels, outliers, imbalanced, from_logits in itertools.product(
            TASKS, LABELS, (False, True), (False, True), (False, True)):
        try:
            rec = keras_lossopt.recommend(task, labels=labels, outliers=outliers,
                                          imbalanced=imbalanced, from_logits=from_logits)
        except ValueError:
            continue  # e.g. regression with integer labels
        seen += 1
        for name in (rec.loss_name, *rec.alternatives):
            assert registry.lookup("loss", name) is not None, (task, name)
        assert rec.loss.get_config().get("from_logits", False) == rec.from_logits
    assert seen > 50


def test_ordinal_and_units():
    rec = keras_lossopt.recommend("ordinal", labels="integers", num_classes=5)
    assert rec.loss_name == "binary_crossentropy" and rec.units == 4
    assert "cumulative" in rec.why
    layer = keras_lossopt.recommend("multiclass", labels="integers", num_classes=3).output_layer()
    assert layer.units == 3
    with pytest.raises(ValueError, match="num_classes"):
        keras_lossopt.recommend("multiclass").output_layer()


def test_table_reproduces_the_guide_and_marks_the_row():
    table = guide_table()
    for _, loss_name, activation in CLASSIC:
        assert loss_name in table and activation in table
    marked = keras_lossopt.recommend("multiclass", labels="integers").table()
    lines = [line for line in marked.splitlines() if line.startswith(">")]
    assert len(lines) == 1 and "sparse_categorical_crossentropy" in lines[0]
    assert "integers" in lines[0]


LABELS = {
    "binary": np.array([[0.0], [1.0], [1.0]]),
    "multilabel": np.array([[1, 0, 1], [0, 1, 0]], "float32"),
    "multiclass": np.eye(3, dtype="float32")[[0, 2, 1]],
    "regression": np.array([[3.5], [-1.0]]),
}


def test_recommended_models_pass_the_checker():
    for task, kwargs in [
        ("binary", {}), ("binary", {"from_logits": True}), ("binary", {"imbalanced": True}),
        ("multilabel", {"num_classes": 3}),
        ("multiclass", {"labels": "one_hot", "num_classes": 3}),
        ("multiclass", {"labels": "integers", "num_classes": 3, "from_logits": True}),
        ("multiclass", {"labels": "integers", "num_classes": 3, "imbalanced": True}),
        ("regression", {"num_classes": 1}), ("regression", {"outliers": True, "num_classes": 1}),
    ]:
        rec = keras_lossopt.recommend(task, **kwargs)
        model = keras.Sequential([keras.Input((2,)), rec.output_layer()])
        model.compile(optimizer="adam", **rec.compile_kwargs())
        labels = np.array([0, 2, 1]) if kwargs.get("labels") == "integers" else LABELS[task]
        assert check_model(model, y=labels, mode="silent") == [], (task, kwargs)


@pytest.mark.multibackend
def test_recommended_binary_model_trains():
    rec = keras_lossopt.recommend("binary", from_logits=True)
    model = keras.Sequential([keras.Input((2,)), rec.output_layer()])
    model.compile(optimizer=keras.optimizers.Adam(0.1), **rec.compile_kwargs())
    x = np.array([[2.0, 0.0], [-2.0, 0.0], [1.5, 1.0], [-1.5, -1.0]], "float32")
    y = np.array([[1.0], [0.0], [1.0], [0.0]], "float32")
    history = model.fit(x, y, epochs=10, batch_size=4, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


@pytest.mark.parametrize("kwargs, message", [
    ({"task": "ranking"}, "task='ranking'"),
    ({"task": "binary", "labels": "strings"}, "labels='strings'"),
    ({"task": "quantile", "quantile": 1.0}, "quantile=1.0"),
    ({"task": "multiclass", "num_classes": 0}, "num_classes=0"),
    ({"task": "regression", "labels": "integers"}, "labels='integers'"),
    ({"task": "multilabel", "labels": "integers"}, "labels='integers'"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        keras_lossopt.recommend(**kwargs)
