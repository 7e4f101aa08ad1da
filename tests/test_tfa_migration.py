"""Migrating from TensorFlow Addons by memory (issues #20.9, #19.4-6): TFA's class names
resolve to our classes, TFA-only arguments name their replacement, and hyperparameters
that Keras 3 cannot evaluate per step are refused at construction."""

import inspect
import pathlib
import re

import keras
import numpy as np
import pytest

import keras_lossopt
from keras_lossopt import losses, optimizers, registry, schedules

TABLE = pathlib.Path(__file__).parents[1] / "docs" / "guides" / "migrating-from-tfa.md"
OURS = sorted((e.name, e.cls) for e in registry.entries("optimizer") if not e.builtin)


def _tfa_rows():
    """(TFA class name, our class) for each table row naming one TFA class and one of ours."""
    found = []
    for line in TABLE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3:
            continue
        tfa = re.findall(r"tfa\.(?:optimizers|losses)\.([A-Z]\w+)", cells[0])
        ours = re.findall(r"`(?:keras_lossopt\.\w+\.)?([A-Z]\w+)", cells[1])
        if len(set(tfa)) != 1 or not ours:
            continue  # e.g. Lookahead(RectifiedAdam) ("Ranger"), or "not provided"
        cls = next((getattr(m, ours[0]) for m in (optimizers, losses, schedules)
                    if inspect.isclass(getattr(m, ours[0], None))), None)
        if cls is not None:
            found.append((tfa[0], cls))
    return found


TFA_ROWS = _tfa_rows()


def test_the_table_was_read():
    assert ("RectifiedAdam", optimizers.RAdam) in TFA_ROWS
    assert ("PinballLoss", losses.Pinball) in TFA_ROWS
    assert len(TFA_ROWS) >= 20


@pytest.mark.parametrize("tfa_name,cls", TFA_ROWS, ids=[n for n, _ in TFA_ROWS])
def test_every_tfa_class_name_in_the_table_is_our_class(tfa_name, cls):
    module = {"optimizer": optimizers, "loss": losses, "schedule": schedules}
    kind = next(k for k, base in registry._KIND_BASES.items() if issubclass(cls, base))
    assert getattr(module[kind], tfa_name) is cls  # the same class, not a copy
    assert registry.lookup(kind, tfa_name) is registry.lookup_class(kind, cls)  # one entry


def test_tfa_names_compile_as_strings():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="RectifiedAdam", loss="PinballLoss")
    model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=1, verbose=0)
    assert isinstance(model.optimizer, optimizers.RAdam)
    assert isinstance(keras.losses.get("PinballLoss"), losses.Pinball)  # what fit used
    assert keras_lossopt.optimizers.RectifiedAdam is keras_lossopt.optimizers.RAdam


@pytest.mark.parametrize("name,cls", OURS, ids=[n for n, _ in OURS])
def test_tfa_argument_names_say_what_to_pass(name, cls):
    for old, new in (("lr", "learning_rate"), ("beta1", "beta_1"), ("beta2", "beta_2")):
        with pytest.raises(ValueError, match=rf"has no `{old}`.*`{new}=`"):
            cls(**{old: 0.5})


@pytest.mark.parametrize("cls", [optimizers.RAdam, optimizers.AdaBelief])
@pytest.mark.parametrize("argument", ["total_steps", "warmup_proportion", "min_lr"])
def test_radam_warmup_arguments_name_the_schedule(cls, argument):
    with pytest.raises(ValueError, match=rf"has no `{argument}`.*WarmupStableDecay\.from_tfa_warmup"):
        cls(learning_rate=1e-3, **{argument: 10})


def test_other_removed_tfa_arguments_are_explained():
    for cls, argument in ((optimizers.AdaBelief, "rectify"), (optimizers.Yogi, "activation"),
                          (optimizers.Yogi, "l1_regularization_strength"),
                          (optimizers.NovoGrad, "grad_averaging"),
                          (optimizers.SWA, "sequential_update")):
        with pytest.raises(ValueError, match=rf"{cls.__name__} has no `{argument}`"):
            cls(**{argument: True})


WEIGHT_DECAY_USERS = [(n, c) for n, c in OURS
                      if "weight_decay" in inspect.signature(c.__init__).parameters]


@pytest.mark.parametrize("name,cls", WEIGHT_DECAY_USERS, ids=[n for n, _ in WEIGHT_DECAY_USERS])
def test_a_weight_decay_schedule_is_refused_at_construction(name, cls):
    # TFA's test_schedulers passed InverseTimeDecay as weight_decay; Keras 3 crashed at
    # the first step. Refused up front, naming the argument and what to do.
    schedule = keras.optimizers.schedules.InverseTimeDecay(2e-3, 25, 0.25)
    with pytest.raises(ValueError, match=r"`weight_decay` must be a number.*learning-rate schedule"):
        cls(weight_decay=schedule)


def test_a_callable_hyperparameter_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"RAdam: `beta_1` must be a number.*beta_1=<function"):
        optimizers.RAdam(beta_1=lambda: 0.9)
    optimizers.RAdam(learning_rate=lambda: 0.01)  # learning_rate takes callables, as in Keras


def test_conditional_gradient_lambda_takes_a_tensor_or_callable_as_tfa():
    def one_step(lambda_):
        variable = keras.Variable(np.array([1.0, 2.0]), dtype="float32")
        opt = optimizers.ConditionalGradient(learning_rate=0.5, lambda_=lambda_)
        opt.apply([keras.ops.convert_to_tensor(np.array([0.1, 0.2], "float32"))], [variable])
        return variable.numpy()

    expected = one_step(0.01)
    np.testing.assert_allclose(one_step(keras.ops.convert_to_tensor(0.01)), expected, rtol=1e-6)
    np.testing.assert_allclose(one_step(lambda: 0.01), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="lambda_=-1"):
        optimizers.ConditionalGradient(lambda_=-1.0)


WRAPPERS = [(n, c) for n, c in OURS if "optimizer" in inspect.signature(c.__init__).parameters]


@pytest.mark.parametrize("name,cls", WRAPPERS, ids=[n for n, _ in WRAPPERS])
def test_a_wrapper_given_the_wrong_type_raises_type_error(name, cls):
    with pytest.raises(TypeError, match="optimizer=None"):  # TFA: SWA(None) -> TypeError
        cls(optimizer=None)
