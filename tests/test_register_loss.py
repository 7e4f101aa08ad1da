"""Your own loss (and optimizer) by string name: `register_loss` / `register_optimizer`.

A user module, written to a temporary folder, registers a loss function, a `Loss`
subclass and an optimizer. They are compiled by string, trained and saved here;
ONE fresh process (the fresh-process budget of CI) imports only that module and
keras_lossopt, reloads every model and evaluates it. Every registration this file
makes is undone after it (`user_registry`), so the registry-driven tests of the rest
of the suite never see them.
"""

import importlib
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import keras_lossopt
from keras_lossopt import _keras_compat, losses, optimizers, registry
from tests.cli.conftest import assert_one_line_error, cli  # noqa: F401  (cli is a fixture)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
USER_MODULE = "my_losses_for_tests"
CLI_MODULE = "cli_losses_for_tests"

SOURCE = textwrap.dedent('''
    """A user's own losses and optimizer, registered by name."""
    import keras
    from keras import ops

    import keras_lossopt


    @keras_lossopt.register_loss(aliases=("cubic_error",), task="regression",
                                 inputs="regression")
    def mean_cubic_error(y_true, y_pred, scale=1.0):
        """Mean of |error|^3 over the last axis, times `scale`."""
        return scale * ops.mean(ops.abs(y_pred - y_true) ** 3, axis=-1)


    @keras_lossopt.register_loss(name="scaled_l1", config={"scale": 3.0}, task="regression")
    class ScaledL1(keras.losses.Loss):
        """`scale` times the mean absolute error."""

        def __init__(self, scale=2.0, reduction="sum_over_batch_size", name="scaled_l1",
                     dtype=None):
            super().__init__(name=name, reduction=reduction, dtype=dtype)
            self.scale = scale

        def call(self, y_true, y_pred):
            y_true = ops.reshape(ops.cast(y_true, y_pred.dtype), ops.shape(y_pred))
            return self.scale * ops.mean(ops.abs(y_pred - y_true), axis=-1)

        def get_config(self):
            return {**super().get_config(), "scale": self.scale}


    @keras_lossopt.register_optimizer(aliases=("slow_sgd",))
    class HalvedSGD(keras.optimizers.SGD):
        """SGD at half the given learning rate."""

        def update_step(self, gradient, variable, learning_rate):
            super().update_step(gradient, variable, learning_rate * 0.5)
''')

CLI_SOURCE = textwrap.dedent('''
    from keras import ops

    import keras_lossopt


    @keras_lossopt.register_loss(task="regression", inputs="regression")
    def cli_fourth_power(y_true, y_pred):
        return ops.mean((y_pred - y_true) ** 4, axis=-1)
''')

CHILD = textwrap.dedent('''
    import json, sys
    import numpy as np
    import keras
    import keras_lossopt
    import my_losses_for_tests  # the only mention of the user's names

    data = np.load(sys.argv[1])
    out = {}
    for name in sys.argv[2:]:
        model = keras.saving.load_model(f"{sys.argv[1][:-4]}_{name}.keras")
        out[name] = {"loss": float(model.evaluate(data["x"], data["y"], verbose=0)),
                     "loss_config": model.loss if isinstance(model.loss, str)
                     else model.loss.get_config(),
                     "optimizer": type(model.optimizer).__name__}
    print(json.dumps(out))
''')


def _snapshot():
    return ({k: dict(v) for k, v in registry._ENTRIES.items()},
            {k: dict(v) for k, v in registry._NAMES.items()},
            dict(_keras_compat.loss_table()), dict(keras.saving.get_custom_objects()))


def _restore(snapshot):
    entries, names, table, custom = snapshot
    for live, saved in [*zip(registry._ENTRIES.values(), entries.values()),
                        *zip(registry._NAMES.values(), names.values()),
                        (_keras_compat.loss_table(), table),
                        (keras.saving.get_custom_objects(), custom)]:
        live.clear()
        live.update(saved)


@pytest.fixture(scope="module")
def user_registry(tmp_path_factory):
    """The user's module imported from a temporary folder; undone afterwards."""
    folder = tmp_path_factory.mktemp("user_module")
    (folder / f"{USER_MODULE}.py").write_text(SOURCE)
    (folder / f"{CLI_MODULE}.py").write_text(CLI_SOURCE)
    snapshot = _snapshot()
    sys.path.insert(0, str(folder))
    try:
        yield folder, importlib.import_module(USER_MODULE)
    finally:
        sys.path.remove(str(folder))
        for name in (USER_MODULE, CLI_MODULE):
            sys.modules.pop(name, None)
        _restore(snapshot)


@pytest.fixture
def scratch_registry():
    """Registrations made inside one test are undone after it."""
    snapshot = _snapshot()
    yield
    _restore(snapshot)


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]], "float32") + 0.1).astype("float32")
    return x, y


def _model():
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])


# (saved model name, loss as compiled, optimizer as compiled)
RUNS = {
    "function": ("mean_cubic_error", "sgd"),
    "alias": ("cubic_error", "halved_sgd"),
    "cls": ("scaled_l1", "slow_sgd"),
    "cls_instance": (None, "HalvedSGD"),  # keras_lossopt.losses.get("scaled_l1")
}


@pytest.fixture(scope="module")
def trained(user_registry, tmp_path_factory):
    """Every RUNS model compiled by string, trained two epochs and saved."""
    folder = tmp_path_factory.mktemp("saved")
    x, y = _data()
    np.savez(folder / "data.npz", x=x, y=y)
    results = {}
    for name, (loss, optimizer) in RUNS.items():
        keras.utils.set_random_seed(0)
        model = _model()
        model.compile(optimizer=optimizer, loss=loss or losses.get("scaled_l1"))
        history = model.fit(x, y, epochs=2, batch_size=8, verbose=0).history["loss"]
        model.save(folder / f"data_{name}.keras")
        results[name] = (model, history, float(model.evaluate(x, y, verbose=0)))
    return folder, results


def test_names_resolve_everywhere_and_serialize_under_the_users_package(user_registry):
    module = user_registry[1]
    loss = keras.losses.get("mean_cubic_error")
    assert type(loss).__name__ == "MeanCubicError" and type(loss) is type(losses.get("cubic_error"))
    assert keras.saving.get_registered_name(type(loss)) == f"{USER_MODULE}>MeanCubicError"
    assert keras.saving.get_registered_name(module.ScaledL1) == f"{USER_MODULE}>ScaledL1"
    assert keras.saving.get_registered_name(module.HalvedSGD) == f"{USER_MODULE}>HalvedSGD"
    assert type(keras.optimizers.get("slow_sgd")) is module.HalvedSGD
    assert type(optimizers.get("halved_sgd")) is module.HalvedSGD
    # The decorator returns the function itself; its hyperparameter is the loss's config.
    assert module.mean_cubic_error.__name__ == "mean_cubic_error"
    assert loss.get_config()["scale"] == 1.0
    assert type(loss).from_config({**loss.get_config(), "scale": 2.0}).get_config()["scale"] == 2
    # A class's names give what `config` promises; the class keeps its own default.
    assert losses.get("ScaledL1").scale == keras.losses.get("scaled_l1").scale == 3.0
    assert module.ScaledL1().scale == 2.0
    entry = registry.lookup("loss", "cubic_error")
    assert (entry.name, entry.tasks, entry.package, entry.source) == (
        "mean_cubic_error", ("regression",), USER_MODULE, module.mean_cubic_error)
    assert "mean_cubic_error" in keras_lossopt.list_losses("mean_cubic*")


def test_a_function_loss_is_per_sample_with_aligned_ranks(user_registry):
    loss = losses.get("mean_cubic_error")
    y_true, y_pred = np.array([0.0, 1.0, 2.0]), np.array([[1.0], [1.0], [0.0]])
    per_sample = loss.__class__(reduction="none")(y_true, y_pred)  # (3,), not (3, 3)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(per_sample), [1.0, 0.0, 8.0])
    assert float(loss(y_true, y_pred)) == pytest.approx(3.0)
    with pytest.raises(ValueError, match=r"hyperparameters \['scale'\].*Received: sclae=2"):
        loss.__class__(sclae=2)


def test_compile_by_string_trains(trained):
    _, results = trained
    for name, (_, history, _) in results.items():
        assert history[-1] < history[0], (name, history)


@pytest.mark.slow
def test_saved_models_reload_in_a_fresh_process_with_only_the_users_module(trained,
                                                                           user_registry):
    folder, results = trained
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(user_registry[0]), ROOT]))
    proc = subprocess.run([sys.executable, "-c", CHILD, str(folder / "data.npz"), *RUNS],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    reloaded = json.loads(proc.stdout.strip().splitlines()[-1])
    for name, (loss, _optimizer) in RUNS.items():
        assert reloaded[name]["loss"] == pytest.approx(results[name][2], rel=1e-6), name
        assert reloaded[name]["optimizer"] == type(results[name][0].optimizer).__name__
        if loss is None:  # compiled with an instance: saved with its full config
            assert reloaded[name]["loss_config"]["scale"] == 3.0
        else:  # compiled with a string: saved as the string, resolved again on load
            assert reloaded[name]["loss_config"] == loss


def test_typos_get_close_matches(user_registry):
    with pytest.raises(ValueError, match=r"Unknown loss name: 'mean_cubic_eror'.*"
                                         r"'mean_cubic_error'"):
        losses.get("mean_cubic_eror")
    with pytest.raises(ValueError, match=r"Unknown optimizer name: 'halved_sdg'.*'halved_sgd'"):
        optimizers.get("halved_sdg")


def _fn(y_true, y_pred):
    return keras.ops.mean(keras.ops.abs(y_pred - y_true), axis=-1)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"name": "mse"}, ValueError, "'mse' already resolves in Keras"),
    ({"name": "huber"}, ValueError, "'huber' already resolves in Keras"),
    ({"name": "pseudo_huber"}, ValueError,
     "'pseudo_huber' is already registered for keras_lossopt.losses.regression.PseudoHuber"),
    ({"name": "fresh_name", "aliases": ("l1",)}, ValueError, "'l1' is already registered"),
    ({"name": "fresh_name", "aliases": "one_alias"}, ValueError,
     "`aliases` must be a tuple of strings. Received: aliases='one_alias'"),
    ({"name": "pkg>name"}, ValueError, "without '>'"),
    ({"name": "fresh_name", "package": "keras_lossopt"}, ValueError,
     "Received: package='keras_lossopt'"),
    ({"name": "fresh_name", "task": "regresion"}, ValueError, "Received: task='regresion'"),
    ({"name": "fresh_name", "config": {"delta": 1.0}}, ValueError,
     "`config` must be arguments FreshName accepts"),
])
def test_collisions_and_bad_arguments_are_refused_with_nothing_registered(
        scratch_registry, kwargs, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        keras_lossopt.register_loss(_fn, **kwargs)
    assert registry.lookup("loss", "fresh_name") is None
    assert "fresh_name" not in _keras_compat.loss_table()


def test_a_name_taken_by_another_users_loss_is_refused(user_registry, scratch_registry):
    with pytest.raises(ValueError, match=f"'cubic_error' is already registered for "
                                         f"{USER_MODULE}.MeanCubicError"):
        keras_lossopt.register_loss(_fn, name="cubic_error")


@pytest.mark.parametrize("obj, message", [
    (keras.losses.MeanSquaredError(), "the class, not an instance"),
    (lambda y_true, y_pred: y_pred, "Pass `name=`"),
    (lambda y: y, "Pass `name=`"),
    (keras.optimizers.SGD, "register_loss takes a function"),
])
def test_what_is_not_a_loss_is_refused(scratch_registry, obj, message):
    with pytest.raises((TypeError, ValueError), match=message):
        keras_lossopt.register_loss(obj)


def test_loss_functions_need_y_true_y_pred_and_defaults(scratch_registry):
    def one_argument(y_pred):
        return y_pred

    def no_default(y_true, y_pred, delta):
        return y_pred

    with pytest.raises(TypeError, match=r"takes \(y_true, y_pred\) first"):
        keras_lossopt.register_loss(one_argument)
    with pytest.raises(TypeError, match="needs a default"):
        keras_lossopt.register_loss(no_default)
    with pytest.raises(TypeError, match="register_optimizer takes a keras.optimizers.Optimizer"):
        keras_lossopt.register_optimizer(_fn)


def test_decorator_forms_and_a_rerun_cell_replaces_its_earlier_definition(scratch_registry):
    for _ in range(2):  # a notebook cell run twice: the same definition again
        @keras_lossopt.register_loss("decorated_l1")
        def decorated(y_true, y_pred):
            return keras.ops.mean(keras.ops.abs(y_pred - y_true), axis=-1)

        first = type(keras.losses.get("decorated_l1"))
    assert first is registry.lookup("loss", "decorated_l1").cls
    assert keras.saving.get_custom_objects()[f"{__name__.split('.')[0]}>DecoratedL1"] is first
    assert float(keras.losses.get("decorated_l1")([[1.0]], [[3.0]])) == 2.0

    @keras_lossopt.register_optimizer
    class TinySGD(keras.optimizers.SGD):
        pass

    assert type(keras.optimizers.get("tiny_sgd")) is TinySGD


def test_the_cli_imports_the_users_module_and_trains_its_loss(user_registry, scratch_registry,
                                                             cli, tmp_path):  # noqa: F811
    path = user_registry[0] / f"{CLI_MODULE}.py"
    ran = cli("compare", "--dataset", "diabetes", "--losses", "cli_fourth_power,cubic_error",
              "--optimizers", "slow_sgd", "--epochs", "1", "--no-plots", "-q",
              "--out", tmp_path, "--import", path)
    assert ran.code == 0, ran.out + ran.err
    report = json.loads((tmp_path / "report.json").read_text())
    rows = report.get("results") or report.get("runs")
    assert sorted(r["loss"] for r in rows) == ["cli_fourth_power", "cubic_error"]
    assert all(r["error"] is None for r in rows), rows


def test_the_cli_says_clearly_when_an_import_fails(cli, tmp_path, user_registry):  # noqa: F811
    assert_one_line_error(cli("lr-find", "--dataset", "diabetes", "--import", "no_such_mod_xyz",
                              "--out", tmp_path), "--import", "no_such_mod_xyz")
    bad = tmp_path / "bad_losses.py"
    bad.write_text("import keras_lossopt\nkeras_lossopt.register_loss(lambda t, p: p, "
                   "name='mse')\n")
    assert_one_line_error(cli("compare", "--dataset", "diabetes", "--import", bad,
                              "--out", tmp_path), "--import", "'mse' already resolves in Keras")
