"""keras_lossopt/_keras_compat.py: one test per hook into private Keras.

Each test asserts that the private thing exists AND behaves as keras_lossopt relies
on, so that a Keras release that changes it fails here, loudly, with the hook's
name, instead of silently degrading somewhere else.
"""

import inspect
import io
import pathlib
import re
import warnings

import keras
import numpy as np
import pytest

from keras_lossopt import _keras_compat, losses, optimizers

# --- Name tables ----------------------------------------------------------------------


def test_loss_table_is_what_keras_losses_get_reads():
    table = _keras_compat.loss_table()
    assert isinstance(table, dict)
    assert table["mean_squared_error"] is keras.losses.mean_squared_error

    class _CompatProbeLoss(keras.losses.Loss):
        def call(self, y_true, y_pred):
            return keras.ops.mean(y_pred - y_true, axis=-1)

    name = "_keras_lossopt_compat_probe"
    table[name] = _CompatProbeLoss
    try:
        assert isinstance(keras.losses.get(name), _CompatProbeLoss)
    finally:
        del table[name]
    # What registration put there resolves in Keras itself.
    assert isinstance(keras.losses.get("pseudo_huber"), losses.PseudoHuber)


def test_optimizer_table_lists_what_keras_optimizers_get_resolves():
    table = _keras_compat.optimizer_table()
    assert {"adam", "sgd", "adamw", "lion"} <= set(table)
    assert "lamb" not in table  # Keras's own hole, repaired by optimizers/keras_builtin.py
    for name in ("adam", "sgd", "rmsprop", "adafactor"):
        assert isinstance(keras.optimizers.get(name), table[name])
    # The public probe (the fallback) finds the same names, all of them in the table.
    # (After import, our registrations resolve too: "lamb" is keras_builtin's repair.)
    probed = _keras_compat._probe_optimizer_names()
    assert {"adam", "sgd"} <= set(probed) <= set(table) | set(keras.saving.get_custom_objects())


def test_missing_optimizer_table_warns_naming_the_version_and_probes(monkeypatch):
    # Only our read fails: keras.optimizers.get itself needs the table in this Keras.
    monkeypatch.setattr(_keras_compat, "_private_table", lambda package: None)
    monkeypatch.setattr(_keras_compat, "_warned", set())
    with pytest.warns(_keras_compat.KerasCompatibilityWarning,
                      match=rf"Keras {re.escape(keras.version())} has no optimizer name table"):
        table = _keras_compat.optimizer_table()
    assert table["adam"] is keras.optimizers.Adam


# --- Models and utilities ---------------------------------------------------------------


def test_producing_layer_finds_the_output_layer_of_a_functional_model():
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(4, name="hidden")(inputs)
    outputs = keras.layers.Dense(2, name="head")(hidden)
    model = keras.Model(inputs, outputs)
    assert _keras_compat.producing_layer(model.outputs[0]) is model.get_layer("head")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not a symbolic tensor: an error, no warning
        with pytest.raises(AttributeError):
            _keras_compat.producing_layer(np.zeros(3))


def test_producing_layer_warns_when_keras_tensors_lose_their_history(monkeypatch):
    tensor = keras.layers.Dense(2)(keras.Input((3,)))
    del tensor._keras_history
    monkeypatch.setattr(_keras_compat, "_warned", set())
    with pytest.warns(_keras_compat.KerasCompatibilityWarning, match="_keras_history"):
        with pytest.raises(AttributeError):
            _keras_compat.producing_layer(tensor)


def test_progbar_forget_line_makes_the_bar_redraw_from_column_0(monkeypatch, capsys):
    bar = keras.utils.Progbar(10, interval=0)
    assert isinstance(bar._prev_total_width, int)
    bar._dynamic_display = True  # as on a terminal
    bar.update(3)
    assert bar._prev_total_width > 0
    capsys.readouterr()
    bar.update(4)
    assert capsys.readouterr().out.startswith("\b")  # it backspaces over its old line ...
    _keras_compat.progbar_forget_line(bar)
    bar.update(5)
    assert capsys.readouterr().out.startswith("\r")  # ... unless told the line is gone


def test_progbar_forget_line_warns_when_keras_changes_the_bar(monkeypatch):
    monkeypatch.setattr(_keras_compat, "_warned", set())
    with pytest.warns(_keras_compat.KerasCompatibilityWarning, match="_prev_total_width"):
        _keras_compat.progbar_forget_line(io.StringIO())


@pytest.mark.multibackend
def test_track_loss_is_the_loss_that_fit_reports():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(loss="mse")
    model.reset_metrics()
    _keras_compat.track_loss(model, 2.0, 1)
    _keras_compat.track_loss(model, 5.0, 2)
    assert float(model.get_metrics_result()["loss"]) == pytest.approx(4.0)
    with pytest.raises(_keras_compat.KerasCompatibilityError, match="_loss_tracker"):
        _keras_compat.track_loss(keras.Sequential([keras.Input((1,))]), 1.0, 1)  # not compiled


def test_forward_pass_losses_are_what_compute_loss_adds():
    inner = keras.Sequential([keras.Input((2,)),
                              keras.layers.Dense(1, activity_regularizer="l2")])
    inner.compile(loss="mse")
    x, y = np.ones((3, 2), "float32"), np.zeros((3, 1), "float32")
    y_pred, _, extra = inner.stateless_call(
        [v.value for v in inner.trainable_variables],
        [v.value for v in inner.non_trainable_variables], x, return_losses=True)
    assert len(extra) == 1
    plain = float(inner.compute_loss(x=x, y=y, y_pred=y_pred))
    with _keras_compat.forward_pass_losses(inner, [keras.ops.convert_to_tensor(7.0)]):
        assert float(inner.compute_loss(x=x, y=y, y_pred=y_pred)) == pytest.approx(plain + 7.0)
    assert float(inner.compute_loss(x=x, y=y, y_pred=y_pred)) == pytest.approx(plain)  # cleared


def test_attach_mask_is_honoured_by_keras_losses():
    y_pred = keras.ops.convert_to_tensor(np.ones((4, 1), "float32"))
    y_true = np.zeros((4, 1), "float32")
    _keras_compat.attach_mask(y_pred, keras.ops.convert_to_tensor(np.array([1, 1, 0, 0], bool)))
    assert float(keras.losses.MeanSquaredError(reduction="sum")(y_true, y_pred)) == 2.0
    assert float(keras.losses.MeanSquaredError()(y_true, y_pred)) == 1.0  # mean of the kept


def test_global_random_seed_is_the_one_set_random_seed_got(monkeypatch):
    keras.utils.set_random_seed(1234)
    assert _keras_compat.global_random_seed() == 1234
    keras.utils.set_random_seed(7)
    assert _keras_compat.global_random_seed() == 7
    monkeypatch.setattr(_keras_compat, "_warned", set())
    monkeypatch.delattr("keras.src.utils.rng_utils.get_random_seed")
    with pytest.warns(_keras_compat.KerasCompatibilityWarning, match="get_random_seed"):
        assert _keras_compat.global_random_seed() is None


@pytest.mark.multibackend
def test_to_numpy_reads_variables_and_tensors_without_warnings():
    variable = keras.Variable(np.array([1.0, 2.0], "float32"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(_keras_compat.to_numpy(variable), [1.0, 2.0])
        np.testing.assert_array_equal(_keras_compat.to_numpy(variable.value), [1.0, 2.0])
        np.testing.assert_array_equal(_keras_compat.to_numpy(keras.ops.ones((2,))), [1.0, 1.0])
        half = _keras_compat.to_numpy(keras.Variable([0.5, 4.0], dtype="bfloat16"))
        assert str(half.dtype) == "bfloat16"
        np.testing.assert_array_equal(half.astype("float32"), [0.5, 4.0])


@pytest.mark.multibackend
def test_kerass_variables_still_lack_numpy_2s_copy_keyword():
    # The reason for to_numpy and for the one third-party filter in pyproject.toml:
    # when this fails, Keras fixed it; remove both.
    assert "copy" not in inspect.signature(keras.Variable.__array__).parameters
    with pytest.warns(DeprecationWarning, match="copy keyword"):
        keras.ops.convert_to_numpy(keras.Variable([1.0]))


def test_loss_reduction_supported():
    assert _keras_compat.loss_reduction_supported("sum_over_batch_size")
    assert _keras_compat.loss_reduction_supported("mean_with_sample_weight")
    assert not _keras_compat.loss_reduction_supported("no_such_reduction")


# --- Optimizers: attributes read ----------------------------------------------------------


def test_learning_rate_setting_tells_a_schedule_apart():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    assert _keras_compat.learning_rate_setting(keras.optimizers.SGD(schedule)) is schedule
    setting = _keras_compat.learning_rate_setting(keras.optimizers.SGD(0.25))
    assert isinstance(setting, keras.Variable) and float(setting.numpy()) == 0.25

    def constant():
        return 0.5

    assert _keras_compat.learning_rate_setting(keras.optimizers.SGD(constant)) is constant


@pytest.mark.multibackend
def test_apply_calls_counts_every_call_with_gradient_accumulation():
    variable = keras.Variable(np.ones((2,)), dtype="float32")
    optimizer = keras.optimizers.SGD(gradient_accumulation_steps=2)
    for _ in range(3):
        optimizer.apply([keras.ops.ones((2,))], [variable])
    assert int(_keras_compat.to_numpy(_keras_compat.apply_calls(optimizer))) == 3
    assert int(_keras_compat.to_numpy(optimizer.iterations)) == 1  # applied steps only


def test_uses_weight_decay_honours_exclude_from_weight_decay():
    kernel = keras.Variable(np.ones(2), name="kernel")
    bias = keras.Variable(np.ones(2), name="bias")
    other = keras.Variable(np.ones(2), name="other")
    by_name = keras.optimizers.SGD()
    by_name.exclude_from_weight_decay(var_names=["bias"])
    by_list = keras.optimizers.SGD()
    by_list.exclude_from_weight_decay(var_list=[other])
    assert _keras_compat.uses_weight_decay(by_name, kernel)
    assert not _keras_compat.uses_weight_decay(by_name, bias)
    assert not _keras_compat.uses_weight_decay(by_list, other)
    assert _keras_compat.uses_weight_decay(by_list, bias)


@pytest.mark.multibackend
def test_built_variables_and_is_built_variable():
    a, b, c = (keras.Variable(np.ones(2)) for _ in range(3))
    optimizer = keras.optimizers.SGD()
    optimizer.build([a, b])
    assert _keras_compat.built_variables(optimizer) == [a, b]
    assert _keras_compat.is_built_variable(optimizer, a)
    assert not _keras_compat.is_built_variable(optimizer, c)
    # The documented subclass contract every update_step uses.
    assert optimizer._get_variable_index(b) == 1


def test_missing_optimizer_attribute_raises_naming_the_version():
    class Bare:
        pass

    with pytest.raises(_keras_compat.KerasCompatibilityError,
                       match=rf"Keras {re.escape(keras.version())} has no .*_use_weight_decay"):
        _keras_compat.uses_weight_decay(Bare(), None)


# --- Optimizers: private methods overridden ---------------------------------------------


@pytest.mark.parametrize("hook", sorted(_keras_compat._OPTIMIZER_HOOKS))
def test_optimizer_hook_exists_and_is_called(hook):
    assert _keras_compat._find_optimizer_hook_problem(hook) is None


def _defining_classes(name):
    return [k for k in keras.optimizers.Optimizer.__mro__ if name in vars(k)]


def test_a_removed_optimizer_hook_fails_at_construction_naming_the_version(monkeypatch):
    for cls in _defining_classes("_backend_update_step"):
        monkeypatch.delattr(cls, "_backend_update_step")
    monkeypatch.setattr(_keras_compat, "_optimizer_hook_problem",
                        _keras_compat._find_optimizer_hook_problem)
    with pytest.raises(_keras_compat.KerasCompatibilityError,
                       match=rf"Keras {re.escape(keras.version())} has no .*_backend_update_step"):
        optimizers.RAdam()


def test_a_hook_keras_no_longer_calls_is_detected(monkeypatch):
    def apply_without_hooks(self, grads, trainable_variables):
        for grad, variable in zip(grads, trainable_variables):
            self.update_step(grad, variable, self.learning_rate)

    monkeypatch.setattr(_defining_classes("_backend_apply_gradients")[0],
                        "_backend_apply_gradients", apply_without_hooks)
    problem = _keras_compat._find_optimizer_hook_problem("_backend_update_step")
    assert problem is not None and "no longer calls" in problem


class CountingSGD(_keras_compat.WholeStepHook, keras.optimizers.SGD):
    """SGD that counts its steps in an optimizer variable, once per `_whole_step`."""

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self.whole_steps = self.add_variable((), initializer="zeros", dtype="float32",
                                             name="whole_steps")

    def _whole_step(self, grads, trainable_variables, learning_rate):
        self.assign_add(self.whole_steps, keras.ops.ones((), "float32"))
        self._update_each_variable(grads, trainable_variables, learning_rate)


@pytest.mark.multibackend
def test_whole_step_hook_runs_once_per_step_eager_and_in_fit():
    variables = [keras.Variable(np.ones((2,)), dtype="float32") for _ in range(3)]
    optimizer = CountingSGD(learning_rate=0.5)
    grads = [keras.ops.ones((2,)) for _ in variables]
    for _ in range(2):
        optimizer.apply(grads, variables)
    assert float(optimizer.whole_steps.numpy()) == 2.0
    np.testing.assert_allclose(keras.ops.convert_to_numpy(variables[2]), [0.0, 0.0])

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=CountingSGD(learning_rate=0.01), loss="mse")
    x = np.ones((12, 3), "float32")
    model.fit(x, np.zeros((12, 1), "float32"), batch_size=4, epochs=2, verbose=0)
    assert float(model.optimizer.whole_steps.numpy()) == 6.0 == int(model.optimizer.iterations)


class Delegating(_keras_compat.DelegatedLearningRate, keras.optimizers.Optimizer):
    def __init__(self, source, **kwargs):
        super().__init__(learning_rate=0.0, **kwargs)
        self.source = source

    def _learning_rate_source(self):
        return self.source

    def update_step(self, gradient, variable, learning_rate):
        pass  # only Keras's weight decay moves the variable


@pytest.mark.multibackend
def test_delegated_learning_rate_reaches_kerass_own_reads():
    source = keras.optimizers.SGD(0.1)
    optimizer = Delegating(source, weight_decay=0.5)
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(0.1)
    optimizer.learning_rate = 0.2
    assert float(keras.ops.convert_to_numpy(source.learning_rate)) == pytest.approx(0.2)
    # Keras's decoupled decay (each backend's own version) reads the delegated rate.
    variable = keras.Variable(np.ones((2,)), dtype="float32")
    optimizer.apply([keras.ops.zeros((2,))], [variable])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(variable), [0.9, 0.9], rtol=1e-6)


def test_kerass_learning_rate_property_goes_through_the_hook():
    class Fixed(keras.optimizers.SGD):
        def _get_current_learning_rate(self):
            return 0.125

    assert Fixed().learning_rate == 0.125
    source = inspect.getsource(inspect.getattr_static(keras.optimizers.Optimizer,
                                                      "learning_rate").fget)
    assert "self._get_current_learning_rate()" in source


# --- Nothing else uses private Keras --------------------------------------------------------

_PRIVATE_KERAS = re.compile(
    # (\b: `model.non_trainable_variables` is public, `._non_trainable_variables` is not.)
    r"keras\.src|_backend_update_step|_apply_weight_decay|\b_(?:non_)?trainable_variables|\._var_key"
    r"|_get_current_learning_rate|\._learning_rate\b(?!\()|_keras_history|_prev_total_width"
    r"|set_keras_mask|_keras_mask|_use_weight_decay|_overwrite_variable_with_gradient"
    r"|\._variables\b|\._iterations\b"
    r"|_loss_tracker|_losses_override|\._compute_loss\b|_update_metrics_variables"
)


def test_private_keras_is_used_only_in_keras_compat():
    package = pathlib.Path(_keras_compat.__file__).parent
    offenders = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if path.name == "_keras_compat.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _PRIVATE_KERAS.search(line):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert not offenders, "private Keras outside _keras_compat.py:\n" + "\n".join(offenders)
