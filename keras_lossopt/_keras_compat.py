"""Every use of Keras's private API in keras_lossopt, in one place (private module).

Keras 3's public API lacks a few things keras_lossopt needs: a way to teach
`keras.losses.get` a name, a per-step hook in the optimizer pipeline, the layer
that produced a model output, and so on. Each of them is a named hook below. A
hook says which private thing it uses, checks ("feature detection") at import
or at first use that the private thing is still there, and, if it is not,
raises or warns with a message that names the Keras version, what is missing
and what stops working. `tests/test_keras_compat.py` has a test per hook that
fails loudly when a new Keras changes what we rely on. Nothing outside this
module may use `keras.src` or a private attribute of a Keras object (a test
scans the package); where a public API exists, it is used instead.

Hooks (functions):

| hook | private thing | detection |
|---|---|---|
| `loss_table()` | `keras.src.losses.ALL_OBJECTS_DICT` | each use; warns once, returns None |
| `optimizer_table()` | `keras.src.optimizers.ALL_OBJECTS_DICT` | each use; warns once, probes the public API |
| `producing_layer(tensor)` | `KerasTensor._keras_history` | each use; warns once, raises AttributeError |
| `progbar_forget_line(bar)` | `keras.utils.Progbar._prev_total_width` | each use; warns once, does nothing |
| `track_loss(model, loss, batch_size)` | `Trainer._loss_tracker` (the "loss" of the logs) | each use; raises |
| `forward_pass_losses(model, losses)` | `Layer._losses_override` (what `model.losses` returns) | each use; raises |
| `set_keras_mask(x, mask)` | `keras.src.backend.common.masking.set_keras_mask` | first use; raises |
| `global_random_seed()` | `keras.src.utils.rng_utils.get_random_seed` | each use; warns once, returns None |
| `learning_rate_setting(optimizer)` | `Optimizer._learning_rate` | each use; raises |
| `apply_calls(optimizer)` | `Optimizer._iterations` | each use; raises |
| `uses_weight_decay(optimizer, variable)` | `Optimizer._use_weight_decay` | each use; raises |
| `built_variables(optimizer)` | `Optimizer._trainable_variables` | each use; raises |
| `is_built_variable(optimizer, variable)` | `Optimizer._var_key`, `_trainable_variables_indices` | each use; raises |
| `keras_torch_multi_tensor_step(keras_class)` | torch: `_parallel_update_step` of the class Keras swaps in | first use; warns once, returns None |

Hooks (mixins listed before `keras.optimizers.Optimizer`, each overriding one
private method; checked when an instance is created, which raises):

| mixin | overrides | detection |
|---|---|---|
| `WholeStepHook` | `Optimizer._backend_update_step` (called by `_backend_apply_gradients`) | exists and is called |
| `DelegatedLearningRate` | `Optimizer._get_current_learning_rate` (read by the `learning_rate` property and torch's weight decay) | exists and is called |

`refuse_unsupported_replica_features(optimizer)` (public TensorFlow API; called by
`WholeStepHook` at the first step) refuses, with a ValueError naming the argument,
gradient accumulation and EMA overwrite under several `tf.distribute` replicas,
which Keras's pipeline cannot run there (keras-team/keras#20582).

`loss_reduction_supported(reduction)` answers with the public API what the
conformance harness used `keras.src.losses.loss.standardize_reduction` for, and
`to_numpy(x)` converts without the deprecation warning that numpy 2 raises for
Keras variables (their `__array__` lacks the `copy` keyword).

Not a hook: `Optimizer._get_variable_index(variable)`, which every optimizer's
`update_step` uses, is the documented subclass contract (the example in
`keras.optimizers.Optimizer`'s own docstring); the tests check it anyway.
"""

import contextlib
import functools
import importlib
import inspect
import warnings

import keras
import numpy as np

__all__ = []

KERAS_VERSION = keras.version()


class KerasCompatibilityError(RuntimeError):
    """A private Keras API keras_lossopt relies on is missing or changed."""


class KerasCompatibilityWarning(UserWarning):
    """A private Keras API is missing; keras_lossopt works on with less (the message says what)."""


def _message(problem, consequence):
    """`problem` completes "Keras 3.x ...", e.g. "has no loss name table (keras.src...)"."""
    return (
        f"Keras {KERAS_VERSION} {problem}, which keras_lossopt relies on: {consequence}. "
        "keras_lossopt is tested with Keras 3.15; please report this (the hook is in "
        "keras_lossopt/_keras_compat.py)."
    )


_warned = set()


def _warn_once(key, message):
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, KerasCompatibilityWarning, stacklevel=3)


# --- Name tables of keras.losses.get and keras.optimizers.get -----------------------


def _private_table(package):
    """`keras.src.<package>.ALL_OBJECTS_DICT`, or None."""
    try:
        module = importlib.import_module(f"keras.src.{package}")
        return module.ALL_OBJECTS_DICT
    except (ImportError, AttributeError):
        return None


def loss_table():
    """Keras's private string -> loss table (the only one `keras.losses.get` reads), or None.

    Private: `keras.src.losses.ALL_OBJECTS_DICT`. `keras.losses.get` ignores
    custom objects (keras-team/keras#20112), so adding our names to this dict
    is the only way `compile(loss="pseudo_huber")` works. Without it we warn
    once and the strings resolve only through `keras_lossopt.losses.get`.
    """
    table = _private_table("losses")
    if isinstance(table, dict):
        return table
    _warn_once(
        "loss_table",
        _message(
            "has no loss name table (keras.src.losses.ALL_OBJECTS_DICT, private)",
            "`compile(loss='pseudo_huber')` style strings of keras_lossopt will not "
            "resolve inside Keras. Pass a loss instance, or resolve the name with "
            "keras_lossopt.losses.get(name)",
        ),
    )
    return None


def optimizer_table():
    """The strings `keras.optimizers.get` resolves on its own: {name: class} (a copy).

    Private: `keras.src.optimizers.ALL_OBJECTS_DICT`, read to refuse names that
    would shadow Keras's and for close-match suggestions. Without it we warn once
    and probe the public API instead (slower, builds each optimizer once).
    """
    table = _private_table("optimizers")
    if isinstance(table, dict) and table:
        return dict(table)
    _warn_once(
        "optimizer_table",
        _message(
            "has no optimizer name table (keras.src.optimizers.ALL_OBJECTS_DICT, private)",
            "the names Keras resolves are probed with keras.optimizers.get instead",
        ),
    )
    return _probe_optimizer_names()


def _probe_optimizer_names():
    found = {}
    for name, obj in vars(keras.optimizers).items():
        if inspect.isclass(obj) and issubclass(obj, keras.optimizers.Optimizer):
            try:
                resolved = keras.optimizers.get(name.lower())
            except Exception:  # noqa: BLE001 - some need arguments (LossScaleOptimizer): skip
                continue
            if isinstance(resolved, obj):  # on torch, a torch-specific subclass
                found[name.lower()] = obj
    return found


# --- Models and utilities -------------------------------------------------------------


def producing_layer(tensor):
    """The layer (operation) that produced the symbolic `tensor` of a functional model.

    Private: `KerasTensor._keras_history.operation`. Raises AttributeError when
    `tensor` has no history (not a symbolic model tensor), warning once if that
    is because Keras removed the attribute.
    """
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        if isinstance(tensor, keras.KerasTensor) and not hasattr(tensor, "_keras_history"):
            _warn_once(
                "producing_layer",
                _message(
                    "has no KerasTensor._keras_history (private)",
                    "the training doctor cannot find the output layer of functional "
                    "models (it still checks Sequential models)",
                ),
            )
        raise AttributeError(f"{tensor!r} has no Keras history (not a model's symbolic tensor)")
    return history.operation


def progbar_forget_line(bar):
    """Tells a `keras.utils.Progbar` that its line was erased, so it redraws from column 0.

    Private: `Progbar._prev_total_width` (the width it backspaces over before
    redrawing). Without it we warn once and the bar may redraw with stray
    characters.
    """
    if not hasattr(bar, "_prev_total_width"):
        _warn_once(
            "progbar_forget_line",
            _message(
                "has no keras.utils.Progbar._prev_total_width (private)",
                "the progress bar may be redrawn with stray characters after a "
                "progress line",
            ),
        )
        return
    bar._prev_total_width = 0


def track_loss(model, loss, batch_size):
    """Adds a step's (unscaled) loss to the "loss" that `fit` reports, weighted by `batch_size`.

    Private: `Trainer._loss_tracker`, the Mean that every backend's own
    `train_step` updates (Keras has no public way for a custom `train_step` to
    report the compiled loss under "loss"). Used by
    `models.SharpnessAwareMinimization`; raises KerasCompatibilityError if gone.
    """
    tracker = getattr(model, "_loss_tracker", None)
    if tracker is None or not callable(getattr(tracker, "update_state", None)):
        raise KerasCompatibilityError(
            _message(
                "has no compiled Trainer._loss_tracker (private)",
                "SharpnessAwareMinimization cannot report its loss to fit",
            )
        )
    tracker.update_state(loss, sample_weight=batch_size)


@contextlib.contextmanager
def forward_pass_losses(model, losses):
    """Within the block, `model.losses` are `losses` (those a `stateless_call` returned).

    Private: `Layer._losses_override`, what Keras's own JAX trainer sets so that
    `compute_loss` adds the activity-regularization losses of a stateless
    forward pass. Used by `models.SharpnessAwareMinimization` for its perturbed
    pass on TensorFlow and PyTorch; raises KerasCompatibilityError if gone.
    """
    if not isinstance(getattr(model, "_losses_override", None), list):
        raise KerasCompatibilityError(
            _message(
                "has no Layer._losses_override list (private)",
                "SharpnessAwareMinimization cannot add activity-regularization losses "
                "to its perturbed pass",
            )
        )
    model._losses_override = list(losses or [])
    try:
        yield
    finally:
        model._losses_override = []


@functools.cache
def _mask_setter():
    try:
        from keras.src.backend.common.masking import set_keras_mask as setter
    except ImportError as error:
        raise KerasCompatibilityError(
            _message(
                "has no keras.src.backend.common.masking.set_keras_mask (private)",
                "masks cannot be attached to tensors to check that losses honour them",
            )
        ) from error
    return setter


def attach_mask(x, mask):
    """Attaches the Keras mask `mask` to tensor `x` in place (what a Masking layer does).

    Private: `keras.src.backend.common.masking.set_keras_mask`; a loss's
    `__call__` then weighs masked-out samples by 0. Raises
    KerasCompatibilityError if the setter is gone.
    """
    _mask_setter()(x, mask)


def global_random_seed():
    """The seed last given to `keras.utils.set_random_seed`, or None if none was given.

    Private: `keras.src.utils.rng_utils.get_random_seed` (Keras has no public
    getter). Kron takes its probe seed from it, so that two optimizers built
    alike after `set_random_seed` draw the same probes. Without it we warn once
    and return None (Kron then uses its fixed default seed).
    """
    try:
        from keras.src.utils import rng_utils

        getter = rng_utils.get_random_seed
    except (ImportError, AttributeError):
        _warn_once(
            "global_random_seed",
            _message(
                "has no keras.src.utils.rng_utils.get_random_seed (private)",
                "Kron ignores keras.utils.set_random_seed and uses its fixed default "
                "seed (pass `seed=` to choose one)",
            ),
        )
        return None
    seed = getter()
    return None if seed is None else int(seed)


def to_numpy(x):
    """`keras.ops.convert_to_numpy(x)`, without numpy 2's deprecation warning for variables.

    Keras 3.15's `keras.Variable.__array__` (and TensorFlow's `tf.Variable`'s,
    and torch 2.13's `Tensor.__array__`) lacks numpy 2's `copy` keyword, so numpy
    warns (DeprecationWarning) whenever Keras converts with `np.array`:
    `convert_to_numpy(v)`, `v.numpy()` on JAX, any tensor on torch. A Keras
    variable is read through its backend value (the public `Variable.value`);
    TensorFlow tensors and variables through their own `numpy()`, torch tensors
    as Keras's converter does but without `np.array`; everything else goes
    through Keras.
    """
    if isinstance(x, keras.Variable):
        x = x.value
    backend = keras.backend.backend()
    if backend == "tensorflow" and callable(getattr(x, "numpy", None)):
        return np.asarray(x.numpy())
    if backend == "torch":
        return _torch_to_numpy(x)
    return keras.ops.convert_to_numpy(x)


def _torch_to_numpy(x):
    """PyTorch only: Keras's torch `convert_to_numpy` (detach, to CPU, bfloat16 via float32)."""
    import torch

    if not isinstance(x, torch.Tensor):
        return keras.ops.convert_to_numpy(x)
    x = x.detach().cpu()
    if x.dtype == torch.bfloat16:
        import ml_dtypes

        return x.to(torch.float32).numpy().astype(ml_dtypes.bfloat16)
    return x.numpy()


def loss_reduction_supported(reduction):
    """Whether this Keras's losses accept `reduction` (e.g. "mean_with_sample_weight").

    Public API: constructs a Keras loss with it.
    """
    try:
        keras.losses.MeanSquaredError(reduction=reduction)
    except ValueError:
        return False
    return True


# --- Optimizers: attributes read -----------------------------------------------------


def _optimizer_attribute(optimizer, name, consequence):
    try:
        return getattr(optimizer, name)
    except AttributeError as error:
        raise KerasCompatibilityError(
            _message(f"has no keras.optimizers.Optimizer.{name} (private)", consequence)
        ) from error


def learning_rate_setting(optimizer):
    """What `optimizer` holds as its learning rate: a Variable, a schedule or a callable.

    Private: `Optimizer._learning_rate` (the public `learning_rate` is the
    current value, which does not tell a schedule apart).
    """
    return _optimizer_attribute(
        optimizer, "_learning_rate", "AdaBound cannot tell whether its learning rate is a schedule"
    )


def apply_calls(optimizer):
    """How many times `optimizer.apply` ran (a variable), counting accumulation-only calls.

    Private: `Optimizer._iterations`; the public `iterations` counts applied
    steps only (it is `_iterations // gradient_accumulation_steps`).
    """
    return _optimizer_attribute(
        optimizer, "_iterations",
        "Cautious cannot tell on which calls an accumulating inner optimizer decays",
    )


def uses_weight_decay(optimizer, variable):
    """False if `variable` was excluded with `optimizer.exclude_from_weight_decay`.

    Private: `Optimizer._use_weight_decay`. Optimizers that apply their own
    weight decay (`optimizers/_weight_decay.py`) honour the exclusions through it.
    """
    method = _optimizer_attribute(
        optimizer, "_use_weight_decay",
        "optimizers with their own weight decay cannot honour exclude_from_weight_decay",
    )
    return method(variable)


def variable_layout(variable):
    """The distribution layout of `variable` (None when it has none).

    An optimizer slot shaped like its variable should be created with this layout,
    as `Optimizer.add_variable_from_reference` does, so that under
    `keras.distribution.ModelParallel` the slot is sharded like the variable.
    Private: `Variable._layout`; without it slots are replicated (correct, but they
    use a full copy of memory on every device).
    """
    return getattr(variable, "_layout", None)


def built_variables(optimizer):
    """The variables `optimizer` was built with (a list, in build order).

    Private: `Optimizer._trainable_variables`.
    """
    return list(_optimizer_attribute(
        optimizer, "_trainable_variables",
        "SWA and Schedule-Free SGD cannot find their variables when var_list is not given",
    ))


def is_built_variable(optimizer, variable):
    """Whether `optimizer` was built with `variable` (and so has slots for it).

    Private: `Optimizer._var_key` (backend-specific: on TensorFlow it sees through
    distributed variables) and `Optimizer._trainable_variables_indices`.
    """
    consequence = "SWA cannot tell which variables it averages"
    key = _optimizer_attribute(optimizer, "_var_key", consequence)(variable)
    return key in _optimizer_attribute(optimizer, "_trainable_variables_indices", consequence)


def keras_torch_multi_tensor_step(keras_class):
    """Torch backend only: Keras's own multi-tensor step for `keras_class`, or None.

    On torch, creating exactly `keras.optimizers.Adam` (or SGD, RMSprop, ...)
    gives an instance of a torch subclass (keras.src.backend.torch.optimizers,
    private) whose `_parallel_update_step(grads, variables, learning_rate)` runs
    the whole step with in-place `torch._foreach_*` ops; a subclass of ours
    (LazyAdam, GradientDescent) is not swapped and loses it. This returns that
    unbound method, to be called on our instance (it reads only the attributes
    the Keras class defines) inside `torch.no_grad()`. Without it we warn once
    and return None (the per-variable loop is used: slower, same result).
    """
    return _keras_torch_multi_tensor_step(keras_class)


@functools.cache
def _keras_torch_multi_tensor_step(keras_class):
    swapped = type(keras_class.__new__(keras_class))  # what Keras swaps in; no __init__ runs
    method = getattr(swapped, "_parallel_update_step", None)
    if swapped is not keras_class and issubclass(swapped, keras_class) and callable(method):
        return method
    _warn_once(
        f"torch_multi_tensor_{keras_class.__name__}",
        _message(
            f"no longer swaps in a torch multi-tensor {keras_class.__name__} with "
            "`_parallel_update_step` (keras.src.backend.torch.optimizers, private)",
            f"subclasses of keras.optimizers.{keras_class.__name__} in keras_lossopt take "
            "the per-variable loop on torch (slower, same result)",
        ),
    )
    return None


# --- Optimizers: private methods overridden ---------------------------------------------

# hook -> (the method of keras.optimizers.Optimizer that must call it, what breaks)
_OPTIMIZER_HOOKS = {
    "_backend_update_step": (
        "_backend_apply_gradients",
        "optimizers with per-step work (Prodigy, Schedule-Free SGD, Lookahead, SWA, "
        "the per-step scalars of RAdam and others) would not run it",
    ),
    "_get_current_learning_rate": (
        "learning_rate",
        "Lookahead and SWA would not report the inner optimizer's learning rate",
    ),
}


def _find_optimizer_hook_problem(name):
    """None if keras.optimizers.Optimizer still has the private method `name` and calls it."""
    caller_name, _ = _OPTIMIZER_HOOKS[name]
    base = keras.optimizers.Optimizer
    if not callable(getattr(base, name, None)):
        return f"has no keras.optimizers.Optimizer.{name} (private)"
    caller = inspect.getattr_static(base, caller_name, None)
    caller = getattr(caller, "fget", caller)  # a property: its getter
    try:
        source = inspect.getsource(caller)
    except (OSError, TypeError):
        return None  # no source to read (e.g. a compiled install): the method exists
    if f"self.{name}(" not in source:
        return (
            f"no longer calls keras.optimizers.Optimizer.{name} (private) from "
            f"Optimizer.{caller_name}"
        )
    return None


@functools.cache
def _optimizer_hook_problem(name):
    return _find_optimizer_hook_problem(name)


def require_optimizer_hook(name):
    """Raises KerasCompatibilityError unless the private Optimizer method `name` works as we use it."""
    problem = _optimizer_hook_problem(name)
    if problem is not None:
        raise KerasCompatibilityError(_message(problem, _OPTIMIZER_HOOKS[name][1]))


def refuse_unsupported_replica_features(optimizer):
    """Raises ValueError for base features Keras 3.15 cannot run under several TF replicas.

    Keras's gradient accumulation and EMA overwrite (`ema_overwrite_frequency`)
    put a cross-replica `merge_call` inside a `tf.cond`, which TensorFlow refuses
    while tracing the step (keras-team/keras#20582: "`merge_call` called while
    defining a new graph"), for Keras's own optimizers too. This says so, naming
    the argument, at the first step instead. EMA without overwrite works.
    """
    if keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return
    for argument in ("gradient_accumulation_steps", "ema_overwrite_frequency"):
        value = getattr(optimizer, argument, None)
        if value and (argument != "ema_overwrite_frequency" or optimizer.use_ema):
            raise ValueError(
                f"{type(optimizer).__name__}: `{argument}` is not supported under a "
                f"tf.distribute strategy with {context.num_replicas_in_sync} replicas in "
                f"Keras {KERAS_VERSION} (its step puts a cross-replica merge_call inside "
                "tf.cond, which TensorFlow refuses; keras-team/keras#20582). Use a larger "
                "global batch instead of accumulation, or EMA without overwrite (the average "
                f"is written to the model at the end of fit). Received: {argument}={value!r}"
            )


class WholeStepHook:
    """Mixin (listed before `keras.optimizers.Optimizer`): one method call per step.

    Keras's apply pipeline (clipping, decoupled weight decay, then the updates)
    calls the private `Optimizer._backend_update_step(grads, trainable_variables,
    learning_rate)` once per applied step; the base version calls `update_step`
    for each variable (TensorFlow's adds the tf.distribute all-reduce and
    per-replica updates). This mixin routes it to `_whole_step`, which a
    subclass overrides to do work once per step (calling
    `_update_each_variable` to run Keras's per-variable loop, or not).
    """

    def __init__(self, *args, **kwargs):
        require_optimizer_hook("_backend_update_step")
        super().__init__(*args, **kwargs)

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        refuse_unsupported_replica_features(self)
        self._whole_step(grads, trainable_variables, learning_rate)

    def _whole_step(self, grads, trainable_variables, learning_rate):
        """Once per applied step; by default Keras's per-variable loop."""
        self._update_each_variable(grads, trainable_variables, learning_rate)

    def _update_each_variable(self, grads, trainable_variables, learning_rate):
        """Keras's own loop: `update_step` for each variable (through tf.distribute on TF)."""
        super()._backend_update_step(grads, trainable_variables, learning_rate)


class DelegatedLearningRate:
    """Mixin (listed before `keras.optimizers.Optimizer`): the learning rate is another optimizer's.

    The subclass implements `_learning_rate_source()` (the optimizer whose
    learning rate this one reads and sets). Keras reads the current learning
    rate through the private `Optimizer._get_current_learning_rate` (the
    `learning_rate` property, TensorFlow's and torch's weight decay), which this
    mixin overrides.
    """

    def __init__(self, *args, **kwargs):
        require_optimizer_hook("_get_current_learning_rate")
        super().__init__(*args, **kwargs)

    def _learning_rate_source(self):
        raise NotImplementedError

    @property
    def learning_rate(self):
        return self._learning_rate_source().learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        self._learning_rate_source().learning_rate = learning_rate

    def _get_current_learning_rate(self):
        return self._learning_rate_source().learning_rate
