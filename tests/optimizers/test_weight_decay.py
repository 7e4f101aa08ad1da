"""OwnWeightDecay: optimizers that apply their own weight decay, one way for all of them."""

import keras
import numpy as np
import pytest

from keras_lossopt import registry
from keras_lossopt.optimizers._weight_decay import OwnWeightDecay

USERS = sorted(
    entry.name
    for entry in registry.entries("optimizer")
    if issubclass(entry.cls, OwnWeightDecay)
)


def test_the_optimizers_with_their_own_decay_use_it():
    # Found from the registry; this only guards against the discovery finding nothing.
    assert {"adan", "lars", "madgrad", "novograd", "prodigy", "schedule_free_sgd"} <= set(USERS)


@pytest.mark.parametrize("name", USERS)
def test_keras_applies_none_and_the_config_keeps_it(name):
    cls = registry.lookup("optimizer", name).cls
    optimizer = cls(weight_decay=0.03)
    assert optimizer.weight_decay is None  # Keras's decoupled decay is off
    assert optimizer.own_weight_decay == 0.03
    config = optimizer.get_config()
    assert config["weight_decay"] == 0.03
    clone = cls.from_config(config)
    assert clone.own_weight_decay == 0.03 and clone.weight_decay is None
    assert clone.get_config() == config


@pytest.mark.parametrize("name", USERS)
def test_negative_weight_decay_names_the_argument(name):
    with pytest.raises(ValueError, match="weight_decay=-0.5"):
        registry.lookup("optimizer", name).cls(weight_decay=-0.5)


def _trajectory(name, weight_decay, variable_name):
    """Three steps on one variable, with variables named "bias" excluded from decay."""
    optimizer = registry.lookup("optimizer", name).cls(weight_decay=weight_decay)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    variable = keras.Variable(np.array([[1.5, -2.0], [0.5, 3.0]]), dtype="float32",
                              name=variable_name)
    for step in range(3):
        grad = keras.ops.convert_to_tensor(0.1 * (step + 1) * np.sign(variable.numpy()))
        optimizer.apply([grad], [variable])
    return variable.numpy()


@pytest.mark.multibackend
@pytest.mark.parametrize("name", USERS)
def test_decay_acts_and_honours_exclusions(name):
    no_decay = None if name != "lars" else 0.0
    # The decay acts on a variable ...
    assert not np.array_equal(_trajectory(name, 0.3, "kernel"), _trajectory(name, no_decay, "kernel"))
    # ... unless it is excluded (one variable each: Prodigy's d couples variables).
    np.testing.assert_array_equal(_trajectory(name, 0.3, "bias"), _trajectory(name, no_decay, "bias"))
