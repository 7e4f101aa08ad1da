"""keras_lossopt.testing, the public checks, run on classes that are not registered."""

import keras
import numpy as np
import pytest
from keras import ops

import keras_lossopt
from keras_lossopt import registry, testing


class SquaredErrorOnPairs(keras.losses.Loss):
    """An unregistered loss: (y_pred - y_true)^2 averaged over the last axis."""

    def __init__(self, reduction="sum_over_batch_size", name="pairs", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return ops.mean(ops.square(y_pred - y_true), axis=-1)

    def get_config(self):
        return {**super().get_config(), "dtype": self.dtype}


class NaNAtZero(SquaredErrorOnPairs):
    """Broken on purpose: sqrt(0) has an infinite gradient at the 'zero error' edge input."""

    def call(self, y_true, y_pred):
        return ops.mean(ops.sqrt(ops.square(y_pred - y_true)), axis=-1)


def _pairs(rng, batch):
    return (rng.normal(size=(batch, 2)).astype("float32"),
            rng.normal(size=(batch, 2)).astype("float32"))


def test_an_unregistered_loss_with_a_sampler_passes():
    results = testing.check_loss(SquaredErrorOnPairs, inputs=_pairs,
                                 checks=["reductions", "edge_gradients"])
    assert [(r.entry, r.check, r.status) for r in results] == [
        ("squared_error_on_pairs", "reductions", testing.PASS),
        ("squared_error_on_pairs", "edge_gradients", testing.PASS)]
    assert "no edge inputs" in results[1].reason  # a plain sampler brings no edge inputs


def test_a_broken_loss_raises_with_every_failure_named():
    with pytest.raises(testing.ConformanceError, match="edge_gradients") as info:
        testing.check_loss(NaNAtZero, inputs="regression", checks=["config", "edge_gradients"])
    failed = {r.check for r in info.value.failures}
    # config fails too: an unregistered class does not survive keras.losses.deserialize.
    assert failed == {"config", "edge_gradients"} and len(info.value.results) == 2
    quiet = testing.check_loss(NaNAtZero, inputs="regression", checks=["edge_gradients"],
                               raise_on_failure=False)
    assert quiet[0].status == testing.FAIL and "zero error" in quiet[0].reason


def test_a_family_is_a_sampler_with_edge_inputs():
    family = testing.Family("pairs", _pairs, edges=lambda b: [("equal", *_pairs(
        np.random.default_rng(0), b)[:1] * 2)])
    results = testing.check_loss(SquaredErrorOnPairs, inputs=family, checks=["edge_gradients"])
    assert results[0].status == testing.PASS and not results[0].reason


def test_registered_classes_use_their_entry():
    loss_results = testing.check_loss(keras_lossopt.losses.PseudoHuber, checks=["config"])
    assert loss_results[0].entry == "pseudo_huber" and loss_results[0].status == testing.PASS
    opt_results = testing.check_optimizer(keras_lossopt.optimizers.GradientDescent,
                                          checks=["config"])
    assert [(r.entry, r.status) for r in opt_results] == [("gradient_descent", testing.PASS)]


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match=r"checks=\['speed'\]"):
        testing.check_optimizer(keras_lossopt.optimizers.GradientDescent, checks=["speed"])
    with pytest.raises(TypeError, match="subclass of keras.losses.Loss"):
        testing.check_loss(keras_lossopt.optimizers.GradientDescent)


@pytest.mark.parametrize("from_logits, family", [(False, "binary_probabilities"),
                                                 (True, "binary_logits")])
def test_by_from_logits_families_follow_the_loss(from_logits, family):
    entry = testing.entry_for("loss", keras.losses.BinaryCrossentropy)
    found, _ = testing.family_for(entry, keras.losses.BinaryCrossentropy(from_logits=from_logits))
    assert found.name == family


def test_every_registered_loss_names_a_known_family():
    for entry in registry.entries("loss"):
        family, how = testing.family_for(entry)
        assert family is not None, (entry.name, how)
