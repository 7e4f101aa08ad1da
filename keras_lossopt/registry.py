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

    @property
    def names(self):
        """Every string that resolves to this entry in our lookup."""
        extra = (self.cls.__name__,) if self.lookup_class_name else ()
        return (self.name, *self.aliases, *extra)

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


def _install_in_keras(kind, name, cls):
    if kind == "loss":
        table = _keras_compat.loss_table()
        if table is not None:
            table[name] = cls
    else:
        keras.saving.get_custom_objects()[name] = cls


# --- Registration ---------------------------------------------------------------------


def _check_kind(kind):
    if kind not in KINDS:
        raise ValueError(f"`kind` must be one of {KINDS}. Received: kind={kind!r}")


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
    for name in entry.names:
        taken = _NAMES[kind].get(name)
        if taken is not None and taken.cls is not entry.cls:
            raise ValueError(
                f"The {kind} name {name!r} is already registered for "
                f"{taken.cls.__name__}; cannot also register it for {entry.cls.__name__}."
            )
        if name in keras_may_resolve:
            continue
        if keras_resolves(kind, name) or (
            name in _PRE_EXISTING_CUSTOM_OBJECTS
            and keras.saving.get_custom_objects()[name] is not entry.cls
        ):
            raise ValueError(
                f"The {kind} name {name!r} already resolves in Keras; registering "
                f"{entry.cls.__name__} under it would shadow Keras's own object. "
                "Choose another name."
            )
    if serializable:
        keras.saving.register_keras_serializable(package=PACKAGE)(entry.cls)
    _ENTRIES[kind][entry.name] = entry
    for name in entry.names:
        _NAMES[kind][name] = entry
        if name not in keras_may_resolve:
            _install_in_keras(kind, name, entry.cls)
    return entry


def register(kind, name=None, aliases=(), lookup_class_name=True, *, task=None, labels=None,
             inputs=None):
    """Class decorator: registers a keras_lossopt loss, optimizer or schedule.

    Args:
        kind: `"loss"`, `"optimizer"` or `"schedule"`.
        name: canonical snake_case string name. Defaults to the snake_case form
            of the class name.
        aliases: further string names.
        lookup_class_name: also resolve the class name itself (`"RAdam"`) as a
            string. Set False when Keras already uses the class name.
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
        if kind == "optimizer":
            # TFA-only arguments and schedules outside learning_rate fail with a clear error.
            _arguments.guard_constructor(cls)
        _add_entry(
            Entry(
                kind=kind,
                name=name or snake_case(cls.__name__),
                cls=cls,
                aliases=tuple(aliases),
                lookup_class_name=lookup_class_name,
                tasks=tasks,
                labels=labels,
                inputs=inputs,
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
    )
    own_names = {name, keras_cls.__name__}
    return _add_entry(
        entry,
        keras_may_resolve={n for n in own_names if keras_resolves(kind, n)},
    )


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
