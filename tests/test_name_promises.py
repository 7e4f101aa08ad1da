"""A string name that promises something delivers it (issue 20.3).

The promises are read from the registry, never from a list kept here:

- what a definition site declares with `register(..., config={...})` must come out
  of every getter (ours, Keras's, `compile`) and survive a `.keras` round trip;
- a word of a name that names one of the class's own hyperparameters
  ("smoothed" -> `label_smoothing`, "warmup" -> `warmup_steps`) promises that the
  hyperparameter is switched on (not 0, None, False or "none") in what the name
  resolves to;
- "sparse" (Keras's word for integer class labels) promises integer labels: the
  entry says `labels="integers"` and the loss evaluates on labels of shape (B,).
"""

import inspect
import os

import keras
import numpy as np
import pytest

from keras_lossopt import losses, optimizers, registry, schedules

GETTERS = {"loss": losses.get, "optimizer": optimizers.get, "schedule": schedules.get}
_OFF = (None, False, 0, 0.0, "", "none")


def _keras_getters(kind):
    """What Keras itself makes of the string (`compile` uses the first)."""
    if kind == "loss":
        return (keras.losses.get, keras.losses.deserialize,
                lambda n: keras.losses.get({"class_name": n, "config": {}}))
    if kind == "optimizer":
        return (keras.optimizers.get,)
    return (lambda n: keras.optimizers.schedules.deserialize({"class_name": n, "config": {}}),
            lambda n: keras.optimizers.schedules.deserialize(n)())


def _promises():
    return [(e.kind, name, e) for kind in registry.KINDS for e in registry.entries(kind)
            if e.config for name in e.names]


def _same_stem(word, other):
    """"smoothed" and "smoothing", "weighted" and "weightage", "warmup" and "warmup"."""
    return word == other or len(os.path.commonprefix([word, other])) >= 5


def _own_hyperparameters(entry):
    """`__init__` arguments of the class that its Keras base class does not take."""
    base = registry._KIND_BASES[entry.kind]
    inherited = {name for klass in base.__mro__ if "__init__" in vars(klass)
                 for name in inspect.signature(klass.__init__).parameters}
    return [p for p in inspect.signature(entry.cls.__init__).parameters.values()
            if p.name not in inherited | {"self"}
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _hyperparameter_words():
    """(kind, string name, word, [hyperparameters the word names], entry) for every name."""
    found = []
    for kind in registry.KINDS:
        for entry in registry.entries(kind):
            params = _own_hyperparameters(entry)
            for name in entry.names:
                for word in registry.snake_case(name).split("_"):
                    if len(word) < 4:
                        continue
                    named = [p.name for p in params
                             if any(_same_stem(word, w) for w in p.name.split("_"))]
                    if named:
                        found.append((kind, name, word, named, entry))
    return found


def test_the_audit_finds_the_promises_it_is_about():
    # Guards the derivation itself: these words must be found in the registry.
    words = {(name, word) for _, name, word, _, _ in _hyperparameter_words()}
    assert ("smoothed_sparse_categorical_crossentropy", "smoothed") in words
    assert ("warmup_stable_decay", "warmup") in words
    assert _promises(), "no registered name declares a promise"


@pytest.mark.parametrize("kind, name, word, hyperparameters, entry", _hyperparameter_words(),
                         ids=lambda v: v if isinstance(v, str) else None)
def test_a_word_naming_a_hyperparameter_promises_it_is_on(kind, name, word, hyperparameters,
                                                            entry):
    config = GETTERS[kind](name).get_config()
    values = {p: config.get(p) for p in hyperparameters}
    assert any(v not in _OFF for v in values.values()), (
        f"{name!r} says {word!r} but resolves to {values}; declare what it promises with "
        f"register(..., config={{...}}) at {entry.cls.__module__}.{entry.cls.__name__}")


@pytest.mark.parametrize("kind, name, entry", _promises(), ids=lambda v: v if isinstance(v, str)
                         else None)
def test_a_declared_promise_comes_out_of_every_getter(kind, name, entry):
    for getter in (GETTERS[kind], *_keras_getters(kind)):
        obj = getter(name)
        assert type(obj) is entry.cls
        config = obj.get_config()
        assert {k: config[k] for k in entry.config} == entry.config, getter
    # Arguments given explicitly still win over the promise.
    key = next(iter(entry.config))
    assert entry.build(**{key: entry.cls().get_config()[key]}).get_config() == \
        entry.cls().get_config()


def test_a_promise_survives_compile_and_a_keras_round_trip(tmp_path):
    name = "smoothed_sparse_categorical_crossentropy"
    promise = registry.lookup("loss", name).config
    assert promise == {"label_smoothing": 0.1}
    x = 2 * np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    y = np.arange(16) % 3
    for loss in (name, losses.get(name)):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
        model.compile(optimizer="sgd", loss=loss)
        model.fit(x, y, epochs=1, verbose=0)
        path = tmp_path / "model.keras"
        model.save(path)
        reloaded = keras.saving.load_model(path)
        for m in (model, reloaded):
            compiled = m.loss if isinstance(m.loss, keras.losses.Loss) else keras.losses.get(m.loss)
            assert compiled.get_config()["label_smoothing"] == 0.1, loss
        evaluated = model.evaluate(x, y, verbose=0)
        np.testing.assert_allclose(reloaded.evaluate(x, y, verbose=0), evaluated, rtol=1e-6)
        # ... and it is the smoothed loss, not the plain one.
        probs = model.predict(x, verbose=0)
        smoothed = losses.SmoothedSparseCategoricalCrossentropy(label_smoothing=0.1)(y, probs)
        plain = keras.losses.SparseCategoricalCrossentropy()(y, probs)
        np.testing.assert_allclose(evaluated, float(smoothed), rtol=1e-5)
        assert abs(float(plain) - float(smoothed)) > 1e-3  # 100x the tolerance above


def _sparse_names():
    return [(e.kind, n, e) for e in registry.entries("loss") for n in e.names
            if "sparse" in registry.snake_case(n).split("_")]


@pytest.mark.parametrize("kind, name, entry", _sparse_names(), ids=lambda v: v if isinstance(
    v, str) else None)
def test_sparse_promises_integer_labels(kind, name, entry):
    assert entry.labels == "integers", f"{name!r} is sparse but registered labels={entry.labels!r}"
    loss = losses.get(name)
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]], "float32")
    if loss.get_config().get("from_logits"):
        probs = np.log(probs)
    values = [float(loss(np.array(labels), probs)) for labels in ([0, 1, 2], [2, 0, 1])]
    assert all(np.isfinite(values)) and values[0] < values[1]  # the right classes cost less
