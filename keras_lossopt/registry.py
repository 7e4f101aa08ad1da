"""The one name -> class map of keras_lossopt.

Every loss, optimizer and learning-rate schedule of the catalogue is entered here
by a decorator at its definition site (or, for the classes Keras already ships,
by one `register_keras` call in the module that re-exports them). Nothing else in
the project keeps a list of names: the public modules, `list_losses()`, the
command line and the conformance tests all read this registry.

Registering a class does three things:

1. `keras.saving.register_keras_serializable(package="keras_lossopt")` so that
   saved models reload after a plain `import keras_lossopt`;
2. records the canonical snake_case name, its aliases and the class name;
3. makes those strings resolve inside Keras itself:
   - optimizers and schedules through `keras.saving.get_custom_objects()`
     (public API; `keras.optimizers.get("radam")` and `compile(optimizer=...)`
     consult it);
   - losses through Keras's private loss table, because `keras.losses.get`
     reads nothing else (keras-team/keras#20112). The table is feature-detected
     (`_keras_compat.loss_table`): if a future Keras removes it we warn once and
     `keras_lossopt.losses.get` keeps working.

A name Keras already resolves is never registered: that would hijack the
built-in and break the deserialization of Keras's own objects.

A name may promise a configuration (`"smoothed_sparse_categorical_crossentropy"`
promises `label_smoothing=0.1`): `register(..., config={...})` states it at the
definition site, and every string name of the entry then resolves to
`cls(**config)` in our getters, in Keras's getters and in `compile` (calling the
class in Python still gives its own defaults). `keras-lossopt list` and the API
pages show the promise from the same argument.

Users register their own losses and optimizers with `register_loss` and
`register_optimizer` (plain functions too): the same checks, under the user's
package name for serialization.
"""

import dataclasses
import difflib
import fnmatch
import inspect
import re

import keras

from keras_lossopt import _arguments, _keras_compat

PACKAGE = "keras_lossopt"
KINDS = ("loss", "optimizer", "schedule")
_KIND_BASES = {
    "loss": keras.losses.Loss,
    "optimizer": keras.optimizers.Optimizer,
    "schedule": keras.optimizers.schedules.LearningRateSchedule,
}


# What a loss is for. The conformance harness, the training doctor and the command
# line read these from the registry; nothing else keeps a list of loss names.
LOSS_TASKS = {
    "regression": "one real-valued target per output; y_pred has y_true's shape",
    "probabilistic_regression": "y_pred holds a predictive distribution's parameters",
    "binary": "0/1 labels, one probability or logit per output",
    "multilabel": "several independent 0/1 labels per sample",
    "multiclass": "one class per sample (`labels` says how y_true encodes it)",
    "ordinal": "ordered classes",
    "distribution": "y_true and y_pred are probability distributions",
    "metric_learning": "labels or pairs, and embeddings or distances",
    "detection": "bounding boxes",
    "segmentation": "a label per pixel",
}
# How y_true encodes classes, for the classification tasks.
LABEL_FORMATS = ("integers", "one_hot")
# Input family names that stand for "<name>_logits" or "<name>_probabilities",
# picked by the loss's `from_logits` (see `register`'s `inputs` and `input_family`).
BY_FROM_LOGITS = ("binary", "categorical", "sparse")


def _loss_metadata(kind, task, labels, inputs):
    """Validated `(tasks, labels, inputs)` for `register`; every argument names itself."""
    if kind != "loss":
        if (task, labels, inputs) != (None, None, None):
            raise ValueError(
                "`task`, `labels` and `inputs` describe losses only. Received for a "
                f"{kind}: task={task!r}, labels={labels!r}, inputs={inputs!r}"
            )
        return (), None, None
    tasks = (task,) if isinstance(task, str) else tuple(task or ())
    for one in tasks:
        if one not in LOSS_TASKS:
            raise ValueError(
                f"`task` must be one of {sorted(LOSS_TASKS)} (or a tuple of them). "
                f"Received: task={task!r}"
            )
    if labels is not None and labels not in LABEL_FORMATS:
        raise ValueError(
            f"`labels` must be one of {LABEL_FORMATS} or None. Received: labels={labels!r}"
        )
    pair = isinstance(inputs, tuple) and len(inputs) == 2 and all(
        isinstance(i, str) for i in inputs
    )
    if inputs is not None and not (isinstance(inputs, str) or pair or callable(inputs)):
        raise ValueError(
            "`inputs` must be a conformance input family name, a (logits family, "
            "probabilities family) pair or a sampler function (see keras_lossopt.testing). "
            f"Received: inputs={inputs!r}"
        )
    return tasks, labels, inputs


@dataclasses.dataclass(frozen=True)
class Entry:
    """One catalogue row: a class, every string that names it, and what it is for.

    Losses also carry `tasks` (keys of `LOSS_TASKS`), `labels` (one of
    `LABEL_FORMATS` for classification losses, else None) and `inputs` (the
    sample-input family the conformance checks feed it: a family name of
    `keras_lossopt.testing`, or a sampler function).
    """

    kind: str
    name: str
    cls: type
    aliases: tuple = ()
    lookup_class_name: bool = True
    builtin: bool = False  # True when `cls` is Keras's own class.
    tasks: tuple = ()
    labels: str = None
    inputs: object = None
    # What every string name of the entry promises: they resolve to cls(**config).
    config: dict = dataclasses.field(default_factory=dict)
    # The `package>` prefix the class is serialized under ("keras" for Keras's own).
    package: str = PACKAGE
    # What was registered: the class, or the user's function that `cls` wraps.
    source: object = None

    @property
    def names(self):
        """Every string that resolves to this entry in our lookup."""
        extra = (self.cls.__name__,) if self.lookup_class_name else ()
        return (self.name, *self.aliases, *extra)

    def build(self, **overrides):
        """The object a string name of this entry stands for: `cls(**config, **overrides)`."""
        return self.cls(**{**self.config, **overrides})

    @property
    def summary(self):
        """First line of the class docstring."""
        doc = inspect.getdoc(self.cls) or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""


_LISTERS = {"loss": "list_losses", "optimizer": "list_optimizers", "schedule": "list_schedules"}
_ENTRIES = {kind: {} for kind in KINDS}  # kind -> canonical name -> Entry
_NAMES = {kind: {} for kind in KINDS}  # kind -> any of our names -> Entry


def snake_case(name):
    """`"RAdam"` -> `"r_adam"`; `"PseudoHuber"` -> `"pseudo_huber"`."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


# --- What Keras itself resolves -------------------------------------------------------

# Snapshots of what Keras resolves before we add anything: the "never shadow"
# check and the close-match suggestions use these. Keras's name tables are
# private: `_keras_compat` reads and feature-detects them.
_KERAS_LOSS_NAMES = frozenset(_keras_compat.loss_table() or ())
_KERAS_OPTIMIZER_NAMES = frozenset(_keras_compat.optimizer_table())
_KERAS_SCHEDULE_NAMES = frozenset(
    name
    for name in dir(keras.optimizers.schedules)
    if not name.startswith("_") and name not in ("serialize", "deserialize")
)
_PRE_EXISTING_CUSTOM_OBJECTS = frozenset(keras.saving.get_custom_objects())


def keras_names(kind):
    """The strings Keras resolves on its own for `kind` (before keras_lossopt)."""
    return {
        "loss": _KERAS_LOSS_NAMES,
        "optimizer": _KERAS_OPTIMIZER_NAMES,
        "schedule": _KERAS_SCHEDULE_NAMES,
    }[kind]


def keras_resolves(kind, name):
    """Whether Keras, without keras_lossopt, maps the string `name` to an object."""
    if kind == "optimizer":
        # keras.optimizers.get lower-cases names of built-ins.
        return name in _KERAS_OPTIMIZER_NAMES or name.lower() in _KERAS_OPTIMIZER_NAMES
    if kind == "loss":
        return name in _KERAS_LOSS_NAMES
    return name in _KERAS_SCHEDULE_NAMES


def _configured_factory(entry):
    """What Keras's name tables hold for an entry whose names promise a configuration.

    A class object (so `keras.losses.get` and Keras's deserializer call it) that
    builds `entry.cls(**entry.config)`: `factory()` and `factory.from_config(c)`
    return an instance of the real class, so what gets saved is the real class
    with its full config. It is also registered for serialization under
    `"<package>><canonical name>"`, the path `keras.losses.deserialize("name")` and
    `keras.losses.get({"class_name": "name", ...})` take.
    """
    cls, config = entry.cls, dict(entry.config)

    def __new__(factory, *args, **kwargs):  # an instance of cls: __init__ is not rerun
        return cls(*args, **{**config, **kwargs})

    def from_config(factory, inner_config):
        return cls.from_config({**config, **(inner_config or {})})

    return type(f"{entry.package}>{entry.name}", (), {
        "__new__": __new__,
        "from_config": classmethod(from_config),
        "__module__": cls.__module__,
        "__doc__": f"`{cls.__name__}(**{config!r})`: what the names of {cls.__name__} promise.",
    })


def _keras_object(entry):
    """The class, or its configured factory, that Keras's tables map the entry's names to."""
    return _configured_factory(entry) if entry.config else entry.cls


def _install_in_keras(kind, name, obj):
    if kind == "loss":
        table = _keras_compat.loss_table()
        if table is not None:
            table[name] = obj
    else:
        keras.saving.get_custom_objects()[name] = obj


def _uninstall_from_keras(entry):
    """Removes what `_add_entry` put into Keras for `entry` (a user's re-registration)."""
    table = _keras_compat.loss_table() if entry.kind == "loss" else None
    custom = keras.saving.get_custom_objects()
    for name in entry.names:
        for mapping in (table, custom):
            if mapping is not None and _made_for(mapping.get(name), entry):
                del mapping[name]
    for key in (f"{entry.package}>{entry.cls.__name__}", f"{entry.package}>{entry.name}"):
        if _made_for(custom.get(key), entry):
            del custom[key]


def _made_for(obj, entry):
    return obj is not None and (obj is entry.cls or getattr(obj, "__name__", None)
                                == f"{entry.package}>{entry.name}")


# --- Registration ---------------------------------------------------------------------


def _check_kind(kind):
    if kind not in KINDS:
        raise ValueError(f"`kind` must be one of {KINDS}. Received: kind={kind!r}")


def _check_names(name, aliases):
    """`(name, aliases)` checked: non-empty strings without `>` (Keras's package separator)."""
    if isinstance(aliases, str) or not all(isinstance(a, str) for a in aliases):
        raise ValueError(f"`aliases` must be a tuple of strings. Received: aliases={aliases!r}")
    for value, argument in ((name, "name"), *((a, "aliases") for a in aliases)):
        if not isinstance(value, str) or not value.strip() or ">" in value or value != value.strip():
            raise ValueError(
                f"`{argument}` must be non-empty strings without '>' or surrounding spaces. "
                f"Received: {argument}={name if argument == 'name' else aliases!r}"
            )
    return name, tuple(aliases)


def _check_config(kind, cls, config):
    """The validated `config` a class's names promise ({} for None).

    The class is built once with it, and its `get_config()` must report every
    promised value, so that the promise is checkable and survives saving.
    """
    if config is None:
        return {}
    if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
        raise ValueError(
            "`config` must be a dict of constructor arguments (argument name -> value). "
            f"Received: config={config!r}"
        )
    try:
        built = cls(**config)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"`config` must be arguments {cls.__name__} accepts; {cls.__name__}(**config) "
            f"raised {type(error).__name__}: {error} Received: config={config!r}"
        ) from error
    reported = built.get_config()
    wrong = {k: reported.get(k, "<missing>") for k, v in config.items()
             if reported.get(k, "<missing>") != v}
    if wrong:
        raise ValueError(
            f"{cls.__name__}(**config).get_config() must report every promised value, or "
            f"the promise is lost on saving. Received: config={config!r}; get_config() "
            f"gives {wrong!r}"
        )
    return dict(config)


def _definition(obj):
    """Where `obj` was defined: (module, qualified name)."""
    return getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)


def _redefinition(taken, entry):
    """True when a user entry is registered again from the same definition (a notebook
    cell run twice, a reloaded module): the new one replaces the old."""
    return (taken.package != PACKAGE and not taken.builtin and taken.kind == entry.kind
            and _definition(taken.source) == _definition(entry.source))


def _add_entry(entry, keras_may_resolve=(), serializable=False):
    """Validates and records `entry`, then makes its names resolve in Keras.

    Nothing is changed (in Keras or here) unless every check passes.
    """
    kind = entry.kind
    base = _KIND_BASES[kind]
    if not (inspect.isclass(entry.cls) and issubclass(entry.cls, base)):
        raise TypeError(
            f"A registered {kind} must subclass {base.__module__}.{base.__name__}. "
            f"Received: {entry.cls!r}"
        )
    replaced = {}
    for name in entry.names:
        if name not in keras_may_resolve and (keras_resolves(kind, name) or (
            name in _PRE_EXISTING_CUSTOM_OBJECTS
            and keras.saving.get_custom_objects()[name] is not entry.cls
        )):
            raise ValueError(
                f"The {kind} name {name!r} already resolves in Keras; registering "
                f"{entry.cls.__name__} under it would shadow Keras's own object. "
                "Choose another name."
            )
        taken = _NAMES[kind].get(name)
        if taken is not None and taken.cls is not entry.cls:
            if _redefinition(taken, entry):
                replaced[id(taken)] = taken
                continue
            owner = (f"Keras's own {taken.cls.__name__}" if taken.builtin
                     else f"{taken.cls.__module__}.{taken.cls.__name__}")
            raise ValueError(
                f"The {kind} name {name!r} is already registered for {owner}; cannot also "
                f"register it for {entry.cls.__module__}.{entry.cls.__name__}. "
                "Choose another name."
            )
    serialized_as = f"{entry.package}>{entry.cls.__name__}"
    holder = keras.saving.get_custom_objects().get(serialized_as)
    held_by = lookup_class(kind, holder) if inspect.isclass(holder) else None
    if held_by is not None and held_by.cls is not entry.cls and _redefinition(held_by, entry):
        replaced[id(held_by)] = held_by
    if serializable and holder is not None and holder is not entry.cls and not any(
            holder is old.cls for old in replaced.values()):
        raise ValueError(
            f"{serialized_as!r} is already registered for serialization (to {holder!r}); "
            f"registering {entry.cls.__module__}.{entry.cls.__qualname__} under it would make "
            "saved models load the wrong class. Rename the class or pass another `package`."
        )
    for old in replaced.values():
        _remove_entry(old)
    if serializable:
        keras.saving.register_keras_serializable(package=entry.package)(entry.cls)
    _ENTRIES[kind][entry.name] = entry
    keras_object = _keras_object(entry)
    if keras_object is not entry.cls:
        keras.saving.get_custom_objects()[keras_object.__name__] = keras_object
    for name in entry.names:
        _NAMES[kind][name] = entry
        if name not in keras_may_resolve:
            _install_in_keras(kind, name, keras_object)
    return entry


def _remove_entry(entry):
    _uninstall_from_keras(entry)
    _ENTRIES[entry.kind].pop(entry.name, None)
    for name in entry.names:
        if _NAMES[entry.kind].get(name) is entry:
            del _NAMES[entry.kind][name]


def register(kind, name=None, aliases=(), lookup_class_name=True, *, config=None, task=None,
             labels=None, inputs=None):
    """Class decorator: registers a keras_lossopt loss, optimizer or schedule.

    (Your own classes and functions: `register_loss` and `register_optimizer`.)

    Args:
        kind: `"loss"`, `"optimizer"` or `"schedule"`.
        name: canonical snake_case string name. Defaults to the snake_case form
            of the class name.
        aliases: further string names.
        lookup_class_name: also resolve the class name itself (`"RAdam"`) as a
            string. Set False when Keras already uses the class name.
        config: the constructor arguments the string names promise (a name
            such as `"smoothed_..."` that promises `label_smoothing=0.1`):
            every string name of the entry resolves to `cls(**config)`, in
            `keras_lossopt`'s getters, in Keras's getters and in `compile`.
            Calling the class keeps its own defaults. The class must report
            each value in `get_config()`. Defaults to `None` (the defaults).
        task: losses only: what the loss is for, a key of `LOSS_TASKS` or a tuple
            of them. The training doctor, the command line and the conformance
            harness read it.
        labels: losses only: how y_true encodes classes (`"integers"` or
            `"one_hot"`) for classification losses.
        inputs: losses only: the conformance input family (see
            `keras_lossopt.testing`): a family name such as `"regression"`, a
            name with logits/probabilities variants (`"binary"`: picked by the
            loss's `from_logits`), a `(logits_family, probabilities_family)` pair, or
            a sampler `fn(rng, batch) -> (y_true, y_pred)` (a
            `keras_lossopt.testing.Family` is one that also carries edge inputs
            and the activation of the model head that produces `y_pred`).

    Example:

    ```python
    @register("loss", aliases=("quantile",), task="regression", inputs="regression")
    class Pinball(FunctionLoss): ...
    ```
    """
    _check_kind(kind)
    tasks, labels, inputs = _loss_metadata(kind, task, labels, inputs)

    def decorator(cls):
        canonical, extra = _check_names(name or snake_case(cls.__name__), aliases)
        if kind == "optimizer":
            # TFA-only arguments and schedules outside learning_rate fail with a clear error.
            _arguments.guard_constructor(cls)
        _add_entry(
            Entry(
                kind=kind,
                name=canonical,
                cls=cls,
                aliases=extra,
                lookup_class_name=lookup_class_name,
                tasks=tasks,
                labels=labels,
                inputs=inputs,
                config=_check_config(kind, cls, config),
                source=cls,
            ),
            serializable=True,
        )
        return cls

    return decorator


def register_function(fn):
    """Makes a public functional form (`sparsemax_loss`, `pinball_loss`) saveable on its own.

    Keras saves a plain function by its bare name and reloads it from Keras's own
    modules only, so `compile(loss=keras_lossopt.losses.sparsemax_loss)` would save
    but not reload, and a name Keras's loss table also holds (`"sparsemax_loss"`,
    our class; `"sparse_categorical_crossentropy"`, Keras's function) would come back
    as the wrong object. Registered as `"keras_lossopt>name"`, the function
    round-trips through `.keras` files and `keras.losses.serialize`/`deserialize`.
    No string name is added: `compile(loss="sparsemax_loss")` still means the class.
    The public modules call this for every function they export (no list to keep).
    """
    if not inspect.isfunction(fn) or fn.__name__ == "<lambda>":
        raise TypeError(f"register_function expects a named function. Received: {fn!r}")
    key = f"{PACKAGE}>{fn.__name__}"
    taken = keras.saving.get_registered_object(key)
    if taken is not None and taken is not fn:
        raise ValueError(f"{key!r} is already registered for {taken!r}; cannot also "
                         f"register {fn.__module__}.{fn.__name__}.")
    keras.saving.register_keras_serializable(package=PACKAGE)(fn)
    return fn


def register_keras(kind, keras_cls, name, aliases=(), *, task=None, labels=None, inputs=None):
    """Enters one of Keras's own classes in the catalogue (no copy of it).

    `name` is the canonical string (normally one Keras already resolves);
    `aliases` are extra strings that Keras does not resolve (e.g. `"l2"` for mean
    squared error) and that keras_lossopt teaches it. Names Keras already
    resolves are left to Keras; only the missing ones are installed. `task`,
    `labels` and `inputs` describe a loss as in `register`.
    """
    _check_kind(kind)
    tasks, labels, inputs = _loss_metadata(kind, task, labels, inputs)
    if not keras_cls.__module__.startswith("keras."):
        raise TypeError(f"register_keras expects a Keras class. Received: {keras_cls!r}")
    entry = Entry(
        kind=kind,
        name=name,
        cls=keras_cls,
        aliases=tuple(aliases),
        lookup_class_name=True,
        builtin=True,
        tasks=tasks,
        labels=labels,
        inputs=inputs,
        package="keras",
        source=keras_cls,
    )
    own_names = {name, keras_cls.__name__}
    return _add_entry(
        entry,
        keras_may_resolve={n for n in own_names if keras_resolves(kind, n)},
    )


# --- Your own losses and optimizers -----------------------------------------------------


def register_loss(fn_or_class=None, name=None, aliases=(), *, package=None, config=None,
                  lookup_class_name=True, task=None, labels=None, inputs=None):
    """Registers your own loss under a string name (also usable as a decorator).

    After registration the name works as keras_lossopt's own names do: in
    `model.compile(loss="my_loss")`, `keras.losses.get("my_loss")`,
    `keras_lossopt.losses.get`, the command line (`keras-lossopt compare
    --import mymodule --losses my_loss`), and a model saved with it reloads in
    a fresh process once your module is imported (no `custom_objects`).
    Keras 3 alone cannot do this for losses (keras-team/keras#20112).

    `fn_or_class` is either

    - a function `(y_true, y_pred, **hyperparameters) -> per-sample loss`
      (one value per sample, no reduction). Keyword arguments after
      `(y_true, y_pred)` need defaults; they become the loss's
      hyperparameters and config. It is wrapped in a `Loss` class named after
      it (`my_loss` -> `MyLoss`) that converts the inputs, casts `y_true` to
      `y_pred`'s dtype and aligns their ranks (`(B,)` against `(B, 1)`), as
      Keras does for functions passed to `compile`; the function itself is
      returned unchanged; or
    - a `keras.losses.Loss` subclass (it must construct with no arguments and
      rebuild from `get_config()`).

    The same rules as keras_lossopt's own names: a name Keras already resolves
    (`"mse"`) or one already registered is refused with a ValueError, unknown
    names get close-match suggestions, and the class is serialized as
    `"<package>>ClassName"` under your package, not keras_lossopt's.
    Registering the same definition again (a notebook cell run twice)
    replaces the earlier one.

    Args:
        fn_or_class: the function or `Loss` subclass. Omit it (or pass the name
            as a string) to use `register_loss(...)` as a decorator with
            arguments.
        name: the string name. Defaults to the function's name, or the
            snake_case form of the class name.
        aliases: further string names. Defaults to `()`.
        package: the serialization package. Defaults to `None`: the top-level
            package of the module that defines `fn_or_class` (`"__main__"` in a
            script). `"keras_lossopt"` is refused.
        config: constructor arguments the names promise, as in
            `keras_lossopt.registry.register`. Defaults to `None`.
        lookup_class_name: classes only: also resolve the class name as a
            string. Defaults to `True`.
        task, labels, inputs: what the loss is for, as in
            `keras_lossopt.registry.register` (the training doctor, the loss
            plots and `keras_lossopt.testing.check_loss` read them). Default to
            `None`.

    Returns:
        `fn_or_class` itself (or, without it, the decorator).

    Example (not a doctest: a registration lasts for the whole process; the
    guide "Choosing a loss" runs it with a save and reload):

    ```python
    import keras, keras_lossopt
    from keras import ops

    @keras_lossopt.register_loss(task="regression", inputs="regression")
    def mean_quartic_error(y_true, y_pred, scale=1.0):
        return scale * ops.mean((y_pred - y_true) ** 4, axis=-1)

    model.compile(optimizer="adam", loss="mean_quartic_error")
    keras.losses.get("mean_quartic_error")  # a MeanQuarticError(scale=1.0) Loss
    ```
    """
    if isinstance(fn_or_class, str) and name is None:  # @register_loss("my_loss")
        fn_or_class, name = None, fn_or_class

    def decorator(obj):
        _register_user("loss", obj, name, aliases, package, config, lookup_class_name,
                       task=task, labels=labels, inputs=inputs)
        return obj

    return decorator if fn_or_class is None else decorator(fn_or_class)


def register_optimizer(cls=None, name=None, aliases=(), *, package=None, config=None,
                       lookup_class_name=True):
    """Registers your own `keras.optimizers.Optimizer` subclass under a string name.

    The optimizer twin of `register_loss` (usable as a decorator, same rules):
    the name then works in `model.compile(optimizer="my_opt")`,
    `keras.optimizers.get`, `keras_lossopt.optimizers.get` and the command
    line, and saved models reload once your module is imported.

    Args:
        cls: the `Optimizer` subclass (constructible with no arguments).
        name: the string name. Defaults to the snake_case class name.
        aliases: further string names. Defaults to `()`.
        package: the serialization package. Defaults to `None` (the top-level
            package of the defining module).
        config: constructor arguments the names promise. Defaults to `None`.
        lookup_class_name: also resolve the class name as a string. Defaults
            to `True`.

    Returns:
        `cls` itself (or, without it, the decorator).
    """
    if isinstance(cls, str) and name is None:
        cls, name = None, cls

    def decorator(obj):
        _register_user("optimizer", obj, name, aliases, package, config, lookup_class_name)
        return obj

    return decorator if cls is None else decorator(cls)


def _register_user(kind, obj, name, aliases, package, config, lookup_class_name, **metadata):
    tasks, labels, inputs = _loss_metadata(kind, metadata.get("task"), metadata.get("labels"),
                                           metadata.get("inputs"))
    base = _KIND_BASES[kind]
    if inspect.isclass(obj) and issubclass(obj, base):
        cls, default_name = obj, snake_case(obj.__name__)
    elif kind == "loss" and callable(obj) and not inspect.isclass(obj) and not isinstance(
            obj, base):
        default_name = getattr(obj, "__name__", "")
        if name is None and not default_name.isidentifier():
            raise ValueError(f"Pass `name=` for a loss function without a name. "
                             f"Received: {obj!r}")
        cls, lookup_class_name = _function_loss_class(obj, name or default_name), False
    else:
        what = ("a function (y_true, y_pred) -> per-sample loss, or a keras.losses.Loss "
                "subclass" if kind == "loss" else "a keras.optimizers.Optimizer subclass")
        raise TypeError(f"register_{kind} takes {what} (the class, not an instance). "
                        f"Received: {obj!r}")
    canonical, extra = _check_names(name or default_name, aliases)
    package = _user_package(obj, package)
    _add_entry(
        Entry(kind=kind, name=canonical, cls=cls, aliases=extra,
              lookup_class_name=lookup_class_name, tasks=tasks, labels=labels, inputs=inputs,
              config=_check_config(kind, cls, config), package=package, source=obj),
        serializable=True,
    )


def _user_package(obj, package):
    if package is None:
        package = (getattr(obj, "__module__", None) or "Custom").split(".")[0]
    if not isinstance(package, str) or not package.strip() or ">" in package:
        raise ValueError(f"`package` must be a non-empty string without '>'. "
                         f"Received: package={package!r}")
    if package == PACKAGE:
        raise ValueError(
            f"`package` {PACKAGE!r} is keras_lossopt's own; your classes are serialized under "
            f"your package (the default, from the defining module). Received: package={package!r}"
        )
    return package


def _camel_case(name):
    """`"my_loss"` -> `"MyLoss"` (the class a registered loss function is wrapped in)."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", name)
                   if part) or "Loss"


def _function_loss_class(fn, name):
    """A `FunctionLoss` subclass whose per-sample values are `fn(y_true, y_pred, **h)`."""
    from keras_lossopt.losses.base import FunctionLoss, prepare

    hyperparameters = _loss_function_hyperparameters(fn)
    class_name = _camel_case(name)

    def aligned(y_true, y_pred, **kwargs):
        y_true, y_pred = prepare(y_true, y_pred, class_name, same_shape=False)
        return fn(y_true, y_pred, **kwargs)

    def __init__(self, reduction="sum_over_batch_size", name=name, dtype=None, **kwargs):
        unknown = sorted(set(kwargs) - set(hyperparameters))
        if unknown:
            raise ValueError(
                f"{class_name} takes the hyperparameters {sorted(hyperparameters)} of "
                f"{fn.__name__}. Received: {unknown[0]}={kwargs[unknown[0]]!r}"
            )
        FunctionLoss.__init__(self, aligned, name=name, reduction=reduction, dtype=dtype,
                              **{**hyperparameters, **kwargs})

    doc = inspect.getdoc(fn) or f"The loss function `{fn.__name__}`."
    return type(class_name, (FunctionLoss,), {
        "__init__": __init__,
        "__module__": getattr(fn, "__module__", None) or "__main__",
        "__qualname__": class_name,
        "__doc__": f"{doc}\n\n(`{fn.__module__}.{fn.__qualname__}`, registered with "
                   "`keras_lossopt.register_loss`.)",
    })


def _loss_function_hyperparameters(fn):
    """`{name: default}` of the arguments after `(y_true, y_pred)`; each needs a default."""
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError) as error:
        raise TypeError(f"Cannot read the signature of the loss function {fn!r}.") from error
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if len(parameters) < 2 or any(p.kind not in positional for p in parameters[:2]):
        raise TypeError(
            "A loss function takes (y_true, y_pred) first and returns one value per sample. "
            f"Received: {getattr(fn, '__name__', fn)}{inspect.signature(fn)}"
        )
    hyperparameters = {}
    for p in parameters[2:]:
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        if p.default is inspect.Parameter.empty:
            raise TypeError(
                f"Every argument of a loss function after (y_true, y_pred) needs a default "
                f"(it becomes a hyperparameter). Received: {fn.__name__}{inspect.signature(fn)}"
            )
        hyperparameters[p.name] = p.default
    return hyperparameters


# --- Reading the registry --------------------------------------------------------------


def entries(kind, pattern="*"):
    """Registered entries of `kind` whose name or alias matches the glob `pattern`."""
    _check_kind(kind)
    found = [
        entry
        for entry in _ENTRIES[kind].values()
        if any(fnmatch.fnmatch(n.lower(), pattern.lower()) for n in entry.names)
    ]
    return sorted(found, key=lambda e: e.name)


def names(kind, pattern="*"):
    """Canonical names of the registered entries of `kind` matching `pattern`."""
    return [entry.name for entry in entries(kind, pattern)]


def lookup(kind, name):
    """The entry registered under `name` (any of its names), or None."""
    _check_kind(kind)
    return _NAMES[kind].get(name)


def lookup_class(kind, cls):
    """The entry registered for the class `cls` itself, or None."""
    _check_kind(kind)
    return next((entry for entry in _ENTRIES[kind].values() if entry.cls is cls), None)


def input_family(inputs, from_logits):
    """The input family name that a loss's `inputs` stands for, given its `from_logits`.

    A `(logits_family, probabilities_family)` pair and the names in
    `BY_FROM_LOGITS` pick by `from_logits` (`"binary"` -> `"binary_logits"` or
    `"binary_probabilities"`); another name stands for itself; a sampler function
    (or None) names no family and gives None.

    >>> input_family("sparse", from_logits=True), input_family("boxes", from_logits=True)
    ('sparse_logits', 'boxes')
    """
    if isinstance(inputs, tuple):
        return inputs[0] if from_logits else inputs[1]
    if inputs in BY_FROM_LOGITS:
        return f"{inputs}_{'logits' if from_logits else 'probabilities'}"
    return inputs if isinstance(inputs, str) else None


def close_matches(kind, name, n=5):
    """The registered and Keras names closest to `name`, best first."""
    candidates = set(_NAMES[kind]) | set(keras_names(kind))
    by_lower = {}
    for candidate in sorted(candidates, key=lambda c: (c != c.lower(), c)):
        by_lower.setdefault(candidate.lower(), candidate)  # prefer "adam" to "Adam"
    matches = difflib.get_close_matches(name.lower(), list(by_lower), n=n, cutoff=0.5)
    return [by_lower[m] for m in matches]


def unknown_name_error(kind, name):
    """A ValueError for an unknown `name`, listing the closest known names."""
    suggestions = close_matches(kind, name)
    hint = (
        f" Did you mean one of: {', '.join(repr(s) for s in suggestions)}?"
        if suggestions
        else ""
    )
    return ValueError(
        f"Unknown {kind} name: {name!r}.{hint} "
        f"keras_lossopt.{_LISTERS[kind]}() lists every name keras_lossopt adds."
    )
