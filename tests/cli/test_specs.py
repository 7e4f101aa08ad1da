"""Loss strings in the lab: every string `model.compile` accepts trains in lab/compare/lr-find."""

import csv
import inspect
import math

import keras
import numpy as np
import pytest

from keras_lossopt import _keras_compat
from keras_lossopt.cli import engine, lab, specs
from keras_lossopt.losses import base

# The strings Keras itself answers with a plain function ("mse", "MAE", "kld", ...),
# read from Keras's own table: the lab wrapped none of them in a reducing Loss.
KERAS_FUNCTION_NAMES = sorted(
    name for name, obj in (_keras_compat.loss_table() or {}).items()
    if callable(obj) and not inspect.isclass(obj))


def test_keras_has_function_strings():
    assert {"mse", "mae", "mean_squared_error"} <= set(KERAS_FUNCTION_NAMES)


@pytest.mark.parametrize("name", KERAS_FUNCTION_NAMES)
def test_a_function_string_becomes_the_loss_compile_trains_with(name):
    function = keras.losses.get(name)
    loss = specs.LossSpec(name).make()
    assert isinstance(loss, keras.losses.Loss)
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, size=(6, 1)).astype("float32")
    y_pred = rng.uniform(0.05, 0.95, size=(6, 1)).astype("float32")
    try:
        per_sample = keras.ops.convert_to_numpy(function(y_true, y_pred))
    except Exception:  # noqa: BLE001 - ctc, circle: other input shapes; the type check holds
        return
    # compile wraps the function in a Loss that averages over the batch: the same number.
    value = keras.ops.convert_to_numpy(loss(y_true, y_pred))
    assert np.shape(value) == ()
    np.testing.assert_allclose(value, np.mean(per_sample), rtol=1e-6)


@pytest.mark.parametrize("name, cls, tasks", [
    ("mse", keras.losses.MeanSquaredError, ("regression",)),
    ("MAE", keras.losses.MeanAbsoluteError, ("regression",)),
    ("bce", keras.losses.BinaryCrossentropy, ("binary", "multilabel")),
    ("kld", keras.losses.KLDivergence, ("distribution",)),
])
def test_a_function_string_keeps_its_registry_entry(name, cls, tasks):
    spec = specs.LossSpec(name)
    loss = spec.make()
    assert type(loss) is cls
    assert engine.loss_entry(spec, loss).tasks == tasks


def test_a_function_keras_has_no_class_entry_for_is_wrapped():
    loss = specs.LossSpec("dice").make()
    assert isinstance(loss, base.FunctionLoss) and loss.fn is keras.losses.dice
    assert loss.name == "dice"


def test_overrides_apply_to_a_function_string():
    loss = specs.LossSpec("mse", {"reduction": "sum"}).make()
    assert loss.get_config()["reduction"] == "sum"


def test_the_lab_gives_a_function_string_to_its_task_only():
    plans = lab.build_plans(("regression", "binary"), losses=["mse", "bce"])
    engine.check_plans(plans, per_task=True)
    assert [[s.name for s in p.losses] for p in plans] == [["mse"], ["bce"]]


def test_compare_trains_every_kind_of_loss_string(cli, tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 2))
    y = 3.0 * x[:, 0] - x[:, 1] + 10.0
    path = tmp_path / "houses.csv"
    path.write_text("a,b,price\n" + "".join(f"{a:.4f},{b:.4f},{t:.4f}\n"
                                             for (a, b), t in zip(x, y)))
    # Keras functions ("mse", "mae"), a Keras class name, ours.
    names = ["mse", "mae", "MeanSquaredError", "pseudo_huber"]
    out = tmp_path / "cmp"
    ran = cli("compare", "--data", path, "--target", "price", "--task", "regression",
              "--losses", ",".join(names), "--optimizers", "adam", "--epochs", "1",
              "--budget", "1", "--seeds", "1", "--no-plots", "-q", "--out", out)
    assert ran.code == 0, ran.out + ran.err
    with open(out / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["loss"] for r in rows] == names
    for row in rows:
        assert row["error"] == "" and row["doctor"] != "error", row
        assert math.isfinite(float(row["selection_scores"]))  # the final validation loss
        assert math.isfinite(float(row["test_metric_mean"]))
    # "mse" and "MeanSquaredError" are the same loss: the same run.
    assert float(rows[0]["selection_scores"]) == pytest.approx(float(rows[2]["selection_scores"]))
    assert float(rows[0]["test_metric_mean"]) == pytest.approx(float(rows[2]["test_metric_mean"]))
