"""StepScalarsMixin: per-step scalars computed once per step, not once per variable."""

import keras
import numpy as np
import pytest

from keras_lossopt import registry
from keras_lossopt.optimizers._step_scalars import StepScalarsMixin

USERS = sorted(
    entry.name
    for entry in registry.entries("optimizer")
    if issubclass(entry.cls, StepScalarsMixin)
)


def test_the_adam_family_uses_it():
    # Found from the registry, not listed by hand; this only guards against the
    # discovery above silently finding nothing.
    assert {"radam", "adan", "adabound", "ademamix"} <= set(USERS)


@pytest.mark.multibackend
@pytest.mark.parametrize("name", USERS)
def test_scalars_computed_once_per_step_and_dtype(name, monkeypatch):
    optimizer = registry.lookup("optimizer", name).cls()
    calls = []
    compute = type(optimizer)._compute_step_scalars

    def counting(self, learning_rate, dtype):
        calls.append(keras.backend.standardize_dtype(dtype))
        return compute(self, learning_rate, dtype)

    monkeypatch.setattr(type(optimizer), "_compute_step_scalars", counting)
    variables = [keras.Variable(np.full((3,), float(i + 1)), dtype="float32") for i in range(4)]
    variables.append(keras.Variable(np.ones((2,)), dtype="float16"))
    grads = [keras.ops.ones(v.shape, dtype=v.dtype) * 0.1 for v in variables]
    for _ in range(2):
        optimizer.apply(grads, variables)
    assert sorted(calls) == ["float16", "float16", "float32", "float32"]
    assert optimizer._step_scalar_cache is None  # nothing outlives the step


@pytest.mark.parametrize("name", USERS)
def test_update_step_on_its_own_still_computes_them(name):
    optimizer = registry.lookup("optimizer", name).cls()
    variable = keras.Variable(np.ones((3,)), dtype="float32")
    optimizer.build([variable])
    optimizer.update_step(keras.ops.ones((3,)), variable, optimizer.learning_rate)
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(variable)))
    assert not np.allclose(keras.ops.convert_to_numpy(variable), 1.0)
