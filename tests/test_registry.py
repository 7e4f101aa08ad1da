"""The registry is the one list of names: it must equal the public API and never shadow Keras."""

import inspect
import warnings

import keras
import pytest

import keras_lossopt
from keras_lossopt import _catalogue, _keras_compat, losses, optimizers, registry, schedules

PUBLIC_MODULES = {"loss": losses, "optimizer": optimizers, "schedule": schedules}


def _public_classes(kind):
    module = PUBLIC_MODULES[kind]
    base = registry._KIND_BASES[kind]
    return {
        name: obj
        for name in module.__all__
        if inspect.isclass(obj := getattr(module, name)) and issubclass(obj, base)
    }


@pytest.mark.parametrize("kind", registry.KINDS)
def test_public_api_equals_registry(kind):
    public = _public_classes(kind)
    registered = {entry.cls for entry in registry.entries(kind)}
    # Every exported class is registered (FunctionLoss is the abstract base, not a loss).
    unregistered = {n for n, c in public.items() if c not in registered and n != "FunctionLoss"}
    assert not unregistered, f"exported but not registered: {sorted(unregistered)}"
    # Every registered class is exported under its class name, except a Keras class
    # whose name is, for now, a deprecated former name of one of ours
    # (SparseCategoricalCrossentropy: our smoothed sparse CE until 0.1).
    module = PUBLIC_MODULES[kind]
    deprecated = _catalogue.deprecated_names(module.__name__, module.__path__)
    for entry in registry.entries(kind):
        name = entry.cls.__name__
        if name in deprecated:
            assert entry.builtin and name not in public and deprecated[name] in registered
            continue
        assert public.get(name) is entry.cls, f"{name} is registered but not exported"


@pytest.mark.parametrize("kind", registry.KINDS)
def test_no_registered_name_shadows_keras(kind):
    for entry in registry.entries(kind):
        for name in entry.names:
            if registry.keras_resolves(kind, name):
                assert entry.builtin, f"{name!r} of {entry.cls.__name__} shadows a Keras name"
                assert name in (entry.name, entry.cls.__name__)


def test_registering_a_keras_name_is_refused():
    with pytest.raises(ValueError, match="'muon' already resolves in Keras"):

        @registry.register("optimizer", name="muon")
        class NotMuon(keras.optimizers.SGD):
            pass
    assert registry.lookup("optimizer", "NotMuon") is None
    assert "keras_lossopt>NotMuon" not in keras.saving.get_custom_objects()


def test_registering_a_taken_name_is_refused():
    with pytest.raises(ValueError, match="'pseudo_huber' is already registered"):

        @registry.register("loss", name="pseudo_huber")
        class Other(losses.FunctionLoss):
            pass


def test_registering_the_wrong_base_class_is_refused():
    with pytest.raises(TypeError, match="must subclass"):
        registry.register("loss", name="not_a_loss")(object)


@pytest.mark.parametrize(
    "name, cls",
    [
        ("pseudo_huber", losses.PseudoHuber),
        ("PseudoHuber", losses.PseudoHuber),
        ("rmse", losses.RootMeanSquaredError),
        ("root_mean_squared_error", losses.RootMeanSquaredError),
        ("sigmoid_cross_entropy", losses.SigmoidCrossEntropy),
        ("smoothed_sparse_categorical_crossentropy", losses.SmoothedSparseCategoricalCrossentropy),
        ("l2", keras.losses.MeanSquaredError),
        ("l1", keras.losses.MeanAbsoluteError),
        ("log_loss", keras.losses.BinaryCrossentropy),
        ("logcosh", keras.losses.LogCosh),
        ("huber_loss", keras.losses.Huber),
    ],
)
def test_loss_strings_resolve_in_keras_and_ours(name, cls):
    assert isinstance(keras.losses.get(name), cls)
    assert isinstance(losses.get(name), cls)


@pytest.mark.parametrize(
    "name, cls",
    [
        ("gd", optimizers.GradientDescent),
        ("gradient_descent", optimizers.GradientDescent),
        ("GradientDescent", optimizers.GradientDescent),
        ("lamb", keras.optimizers.Lamb),  # Keras exports Lamb but cannot resolve "lamb"
        ("adam", keras.optimizers.Adam),
        ("rmsprop", keras.optimizers.RMSprop),
        ("sgd", keras.optimizers.SGD),
    ],
)
def test_optimizer_strings_resolve_in_keras_and_ours(name, cls):
    assert type(keras.optimizers.get(name)) is cls
    assert type(optimizers.get(name)) is cls


def test_keras_own_names_still_resolve_to_keras():
    assert type(keras.optimizers.get("adam")) is keras.optimizers.Adam
    assert keras.losses.get("mse") is keras.losses.mean_squared_error
    assert type(keras.losses.get("SparseCategoricalCrossentropy")) is keras.losses.SparseCategoricalCrossentropy


@pytest.mark.parametrize(
    "getter, name, suggestion",
    [
        (losses.get, "psuedo_huber", "pseudo_huber"),
        (losses.get, "mean_squared_eror", "mean_squared_error"),
        (optimizers.get, "adamm", "adam"),
        (optimizers.get, "gradient_decent", "gradient_descent"),
    ],
)
def test_unknown_names_suggest_close_matches(getter, name, suggestion):
    with pytest.raises(ValueError, match=rf"Unknown \w+ name: '{name}'.*'{suggestion}'"):
        getter(name)


def test_get_passes_instances_and_builds_classes_and_configs():
    loss = losses.PseudoHuber(delta=2.0)
    assert losses.get(loss) is loss
    assert isinstance(losses.get(losses.PseudoHuber), losses.PseudoHuber)
    restored = losses.get(keras.losses.serialize(loss))
    assert isinstance(restored, losses.PseudoHuber) and restored.get_config() == loss.get_config()
    opt = optimizers.GradientDescent(0.5)
    assert optimizers.get(opt) is opt
    assert optimizers.get(keras.optimizers.serialize(opt)).get_config() == opt.get_config()
    assert losses.get(None) is None and optimizers.get(None) is None


def test_list_functions_filter_by_pattern():
    assert keras_lossopt.list_losses("pseudo*") == ["pseudo_huber"]
    assert "gradient_descent" in keras_lossopt.list_optimizers()
    assert keras_lossopt.list_optimizers("gd") == ["gradient_descent"]  # aliases match too
    assert keras_lossopt.list_losses("no_such_loss*") == []
    assert all(isinstance(e.summary, str) and e.summary for e in registry.entries("loss"))


def test_every_entry_constructs_with_no_arguments():
    # A string name in compile() builds the class with its defaults.
    for kind in ("loss", "optimizer"):
        for entry in registry.entries(kind):
            assert isinstance(entry.cls(), registry._KIND_BASES[kind])


def test_missing_loss_table_warns_once_and_our_get_keeps_working(monkeypatch):
    import keras.src.losses as keras_src_losses

    monkeypatch.delattr(keras_src_losses, "ALL_OBJECTS_DICT")
    monkeypatch.setattr(_keras_compat, "_warned", set())
    with pytest.warns(UserWarning, match="no loss name table"):
        assert _keras_compat.loss_table() is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _keras_compat.loss_table() is None  # second call: no second warning
    assert isinstance(losses.get("pseudo_huber"), losses.PseudoHuber)


def test_snake_case():
    assert registry.snake_case("PseudoHuber") == "pseudo_huber"
    assert registry.snake_case("GIoULoss") == "g_io_u_loss"
    assert registry.snake_case("NTXent") == "nt_xent"


def test_every_loss_says_what_it_is_for():
    """Task and conformance inputs are written at each definition site, not in a table."""
    for entry in registry.entries("loss"):
        assert entry.tasks, f"{entry.name} has no `task`"
        assert entry.inputs is not None, f"{entry.name} has no `inputs`"
        if {"multiclass", "ordinal"} & set(entry.tasks):
            assert entry.labels in registry.LABEL_FORMATS, f"{entry.name} has no `labels`"


@pytest.mark.parametrize("bad", [
    {"task": "regresion"}, {"labels": "onehot"}, {"inputs": 3}, {"inputs": ("a",)},
])
def test_loss_metadata_is_validated(bad):
    key, value = next(iter(bad.items()))
    with pytest.raises(ValueError, match=rf"{key}={value!r}".replace("(", r"\(").replace(")", r"\)")):
        registry.register("loss", name="never_registered_loss", **bad)


def test_loss_metadata_is_refused_for_optimizers():
    with pytest.raises(ValueError, match="describe losses only"):
        registry.register("optimizer", name="never_registered_opt", task="regression")
