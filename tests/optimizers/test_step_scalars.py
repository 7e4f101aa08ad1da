"""StepScalarsMixin: per-step scalars computed once per step and dtype, not once per variable."""

import keras
import numpy as np
import pytest

from keras_lossopt import registry
from keras_lossopt.optimizers import _torch_fast
from keras_lossopt.optimizers._step_scalars import StepScalarsMixin

USERS = sorted(
    entry.name
    for entry in registry.entries("optimizer")
    if issubclass(entry.cls, StepScalarsMixin)
)
# Those whose step starts with work over all variables (`_begin_step`).
WHOLE_STEP_USERS = [n for n in USERS if registry.lookup("optimizer", n).cls()._has_begin_step()]


def test_the_adam_family_uses_it():
    # Found from the registry, not listed by hand; this only guards against the
    # discovery above silently finding nothing.
    assert {"radam", "adan", "adabound", "ademamix", "adabelief", "yogi", "madgrad"} <= set(USERS)
    assert {"prodigy", "schedule_free_sgd"} <= set(WHOLE_STEP_USERS)


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
    # Once per step and dtype. The dtype is the one the update computes in: the
    # variable's, or float32 for the float16 variable where the optimizer keeps
    # float32 state (SOAP, Shampoo, Kron: eigh/QR/solves need it).
    assert "float32" in calls and set(calls) <= {"float16", "float32"}, calls
    assert all(calls.count(d) == 2 for d in set(calls)), calls
    assert optimizer._step_scalar_cache is None  # nothing outlives the step


@pytest.mark.parametrize("name", sorted(set(USERS) - set(WHOLE_STEP_USERS)))
def test_update_step_on_its_own_still_computes_them(name):
    optimizer = registry.lookup("optimizer", name).cls()
    variable = keras.Variable(np.ones((3,)), dtype="float32")
    # One step first: ADOPT's first step only initialises its second moment.
    optimizer.apply([keras.ops.ones((3,))], [variable])
    before = keras.ops.convert_to_numpy(variable)
    optimizer.update_step(keras.ops.ones((3,)), variable, optimizer.learning_rate)
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(variable)))
    assert not np.allclose(keras.ops.convert_to_numpy(variable), before)


@pytest.mark.parametrize("name", WHOLE_STEP_USERS)
def test_update_step_on_its_own_says_to_call_apply(name):
    optimizer = registry.lookup("optimizer", name).cls()
    variable = keras.Variable(np.ones((3,)), dtype="float32")
    optimizer.build([variable])
    with pytest.raises(RuntimeError, match="cannot run on its own.*apply"):
        optimizer.update_step(keras.ops.ones((3,)), variable, optimizer.learning_rate)


@pytest.mark.multibackend
@pytest.mark.parametrize("name", WHOLE_STEP_USERS)
def test_begin_step_runs_once_per_step_before_any_update(name, monkeypatch):
    optimizer = registry.lookup("optimizer", name).cls()
    events = []
    begin, update = type(optimizer)._begin_step, type(optimizer).update_step

    def counting_begin(self, grads, trainable_variables, learning_rate):
        events.append(("begin", len(list(trainable_variables))))
        return begin(self, grads, trainable_variables, learning_rate)

    def counting_update(self, gradient, variable, learning_rate):
        events.append(("update", None))
        return update(self, gradient, variable, learning_rate)

    monkeypatch.setattr(type(optimizer), "_begin_step", counting_begin)
    monkeypatch.setattr(type(optimizer), "update_step", counting_update)
    # The keras.ops pipeline's order; on torch the fast path (held to this pipeline's
    # results by test_torch_fast.py) would run neither patched method per variable.
    monkeypatch.setattr(_torch_fast, "_enabled", False)
    variables = [keras.Variable(np.full((3,), float(i + 1)), dtype="float32") for i in range(3)]
    grads = [keras.ops.ones(v.shape) * 0.1 for v in variables]
    for _ in range(2):
        optimizer.apply(grads, variables)
    assert events == 2 * [("begin", 3), ("update", None), ("update", None), ("update", None)]
    assert optimizer._step_scalar_cache is None
