"""Loss shapes: `loss_shapes` / `plot_losses` draw the loss objects' own values, with
gradients from the backend's autodiff (`keras_lossopt._autodiff`), along the axis the
registry's metadata gives each loss.

The inputs along each axis are rebuilt here from the documented definitions (residual
`y_pred - y_true` with `y_true = 1`, probability `p` of the true class, margin
`y * f(x)` with `y = +1`), independently of plotting.py, and the ORIGINAL loss object
(its own reduction, one sample at a time) is called on them.
"""

import sys

import keras
import numpy as np
import pytest
from keras import ops

import keras_lossopt
from keras_lossopt import _autodiff
from keras_lossopt.plotting import loss_shapes, plot_losses
from tests.cli.conftest import assert_valid_png
from tests.test_register_loss import scratch_registry  # noqa: F401  (a fixture)

NUM_CLASSES = 3


def _sample(axis, family, x):
    """(y_true, y_pred) of ONE sample at the point `x` of `axis`, from the definitions."""
    if axis == "residual":
        return np.ones((1, 1), "float32"), np.full((1, 1), 1.0 + x, "float32")
    if axis == "margin":
        return np.ones((1, 1), "float32"), np.full((1, 1), x, "float32")
    logits = family.endswith("_logits")
    if family.startswith("binary"):
        y_pred = np.log(x) - np.log1p(-x) if logits else x
        return np.ones((1, 1), "float32"), np.full((1, 1), y_pred, "float32")
    probs = np.array([[x] + [(1 - x) / (NUM_CLASSES - 1)] * (NUM_CLASSES - 1)], "float32")
    y_pred = np.log(probs) if logits else probs
    if family.startswith("sparse"):
        return np.zeros((1,), "float32"), y_pred
    return np.eye(NUM_CLASSES, dtype="float32")[:1], y_pred


def _call(loss, axis, family, x):
    y_true, y_pred = _sample(axis, family, x)
    return float(keras_lossopt._keras_compat.to_numpy(loss(y_true, y_pred)))


LOSSES = ["l2", keras.losses.Huber(delta=0.5), "pseudo_huber", "poisson", "binary_crossentropy",
          keras.losses.BinaryCrossentropy(from_logits=True), "sparse_categorical_crossentropy",
          "poly1", "hinge", "squared_hinge"]
AXES = ["residual", "residual", "residual", "residual", "probability", "probability",
        "probability", "probability", "margin", "margin"]
FAMILIES = ["regression", "regression", "regression", "positive", "binary_probabilities",
            "binary_logits", "sparse_probabilities", "categorical_probabilities", "hinge", "hinge"]


@pytest.mark.multibackend
def test_value_and_grad_matches_central_finite_differences():
    x = np.array([-1.5, -0.2, 0.3, 2.0], "float32")

    def fn(t):
        return ops.sum(ops.softplus(t) * t ** 2 + ops.sin(3.0 * t))

    value, grad = _autodiff.value_and_grad(fn, x)
    h = 1e-2
    numeric = [(float(fn(ops.convert_to_tensor(x + h * e))) - float(fn(ops.convert_to_tensor(
        x - h * e)))) / (2 * h) for e in np.eye(len(x), dtype="float32")]
    assert value == pytest.approx(float(fn(ops.convert_to_tensor(x))), rel=1e-6)
    np.testing.assert_allclose(grad, numeric, rtol=2e-3, atol=2e-3)
    # A function that does not depend on x: zero gradient, no error (each backend's branch).
    value, grad = _autodiff.value_and_grad(lambda t: ops.sum(ops.zeros_like(t)) + 2.0, x)
    assert float(value) == 2.0 and grad.tolist() == [0.0] * 4


@pytest.mark.multibackend
def test_plotted_values_are_the_loss_objects_values_and_gradients_their_slopes():
    shapes = loss_shapes(LOSSES, points=9, residual_range=(-2.0, 2.5),
                         probability_range=(0.05, 0.95), margin_range=(-1.4, 2.6))  # no kink
    assert [s.axis for s in shapes] == AXES
    assert [s.family for s in shapes] == FAMILIES
    h = 1e-3
    for shape, loss in zip(shapes, LOSSES):
        loss = keras_lossopt.losses.get(loss) if isinstance(loss, str) else loss
        for i in (0, 3, 5, 8):
            x = float(shape.x[i])
            if shape.family == "positive" and x <= -1.0 + h:
                assert np.isnan(shape.value[i])
                continue
            assert shape.value[i] == pytest.approx(_call(loss, shape.axis, shape.family, x),
                                                   rel=1e-5, abs=1e-6), (shape.label, x)
            slope = (_call(loss, shape.axis, shape.family, x + h)
                     - _call(loss, shape.axis, shape.family, x - h)) / (2 * h)
            assert shape.gradient[i] == pytest.approx(slope, rel=2e-2, abs=2e-2), (shape.label, x)
    huber = shapes[1]
    assert huber.value[-1] == pytest.approx(0.5 * 2.5 - 0.5 * 0.25)  # delta=0.5 kept


def test_the_axis_comes_from_the_registry_metadata_not_the_name(scratch_registry):  # noqa: F811
    @keras_lossopt.register_loss(task="binary", inputs="hinge")
    def my_margin_loss(y_true, y_pred):
        return ops.mean(ops.exp(-y_true * y_pred), axis=-1)

    @keras_lossopt.register_loss(task="regression")  # no inputs: element-wise regression
    def my_quartic_error(y_true, y_pred):
        return ops.mean((y_pred - y_true) ** 4, axis=-1)

    margin, quartic = loss_shapes(["my_margin_loss", "my_quartic_error"], points=3,
                                  margin_range=(-1.0, 1.0), residual_range=(-1.0, 1.0))
    assert (margin.axis, quartic.axis) == ("margin", "residual")
    np.testing.assert_allclose(margin.value, np.exp([1.0, 0.0, -1.0]), rtol=1e-6)
    np.testing.assert_allclose(quartic.value, [1.0, 0.0, 1.0], rtol=1e-6)


def test_unknown_and_unplottable_losses_raise_clear_value_errors():
    with pytest.raises(ValueError, match="Unknown loss name: 'hubre'.*'huber'"):
        loss_shapes(["l1", "hubre"])
    with pytest.raises(ValueError, match="'giou' takes boxes inputs"):
        loss_shapes(["giou"])
    with pytest.raises(ValueError, match="'weighted_kappa' gave values of shape"):
        loss_shapes(["weighted_kappa"], points=5)
    with pytest.raises(ValueError, match=r"Received: losses=\[\]"):
        loss_shapes([])
    with pytest.raises(ValueError, match="Received: points=2"):
        loss_shapes(["l1"], points=2)
    with pytest.raises(ValueError, match=r"Received: probability_range=\(0.0, 1.0\)"):
        loss_shapes(["binary_crossentropy"], probability_range=(0.0, 1.0))
    with pytest.raises(ValueError, match="`labels` must be 2 strings"):
        loss_shapes(["l1", "l2"], labels=["only one"])


def test_labels_show_hyperparameters_and_repeats_are_numbered():
    shapes = loss_shapes(["huber", keras.losses.BinaryFocalCrossentropy(gamma=3.0),
                          keras.losses.Huber(delta=0.5)], points=3)
    # Keras's Huber config has no delta: the label cannot show it, the number tells them apart.
    assert [s.label for s in shapes] == ["huber", "binary_focal_crossentropy(gamma=3)",
                                         "huber #2"]
    assert [s.label for s in loss_shapes(["l1"], labels=["MAE"], points=3)] == ["MAE"]


def test_plot_mixing_regression_and_classification_gives_one_row_per_axis(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "shapes.png"
    figure = plot_losses(["hinge", "l1", "huber", "binary_crossentropy"], path=path,
                         title="mixed", points=21)
    assert_valid_png(path, (1000, int(3 * 3.6 * 100 + 40)))
    axes = figure.axes
    assert len(axes) == 6
    xlabels = [ax.get_xlabel().split()[0] for ax in axes]
    assert xlabels == ["residual"] * 2 + ["predicted"] * 2 + ["margin"] * 2
    legends = [[t.get_text() for t in ax.get_legend().get_texts()] for ax in axes]
    assert legends == [["l1", "huber"]] * 2 + [["binary_crossentropy"]] * 2 + [["hinge"]] * 2
    np.testing.assert_allclose(axes[0].get_lines()[0].get_ydata(), np.abs(np.linspace(-3, 3, 21)),
                               atol=1e-6)  # the panel holds the loss's values


def test_without_matplotlib_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install keras_lossopt\[plot\]"):
        plot_losses(["l1"])


def test_the_example_prints_the_archery_numbers_from_the_loss_objects(capsys):
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parent.parent / "examples" / "loss_shapes.py"
    spec = importlib.util.spec_from_file_location("loss_shapes_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    regression, classification = example.main()
    out = capsys.readouterr().out
    assert "l2            loss(2) =   4.000   loss(10) = 100.000" in out
    assert "binary_crossentropy            loss(0.01) =  4.605   loss(0.4) =  0.916" in out
    assert [s.axis for s in classification] == ["probability"] * 3 + ["margin"] * 2
