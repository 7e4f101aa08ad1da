"""Loss/activation checker: the classic output-layer and loss mistakes, with fixes.

`check_model(model, x=None, y=None, mode="warn")` inspects the output layer
(activation and units), the compiled loss (its kind and `from_logits`) and, when
given, a batch of labels, and returns one `Finding` per mistake. Keras trains
most of these mistakes silently (and badly); some only fail at the first step.
"""

import dataclasses
import math
import warnings

import keras
import numpy as np

from keras_lossopt import _checks, _keras_compat, registry

__all__ = ["Finding", "ModelCheckError", "ModelCheckWarning", "check_model"]

MODES = ("warn", "raise", "silent")


class ModelCheckWarning(UserWarning):
    """Warning category of `check_model(mode="warn")`."""


class ModelCheckError(ValueError):
    """Raised by `check_model(mode="raise")`; `.findings` holds the findings."""

    def __init__(self, findings):
        self.findings = list(findings)
        super().__init__(
            "check_model found {} problem(s):\n{}".format(
                len(self.findings), "\n".join(f"- {f}" for f in self.findings)
            )
        )


@dataclasses.dataclass
class Finding:
    """One mistake found by `check_model`.

    Attributes:
        code: a stable identifier, e.g. `"activation_with_from_logits"`.
        message: what is wrong, naming the layer and the loss.
        fix: how to fix it.
        layer: the name of the output layer concerned (or `None`).
    """

    code: str
    message: str
    fix: str
    layer: object = None

    def __str__(self):
        return f"[{self.code}] {self.message} Fix: {self.fix}"

    def to_dict(self):
        return dataclasses.asdict(self)


# --- What the loss is ------------------------------------------------------------------


@dataclasses.dataclass
class LossInfo:
    name: str
    kind: str  # "binary", "categorical", "sparse", "regression" or "other"
    from_logits: bool


_CLASSIFICATION_KINDS = {"integers": "sparse", "one_hot": "categorical"}


def _kind(entry, family):
    """The checker's kind of a registered loss, from its task, labels and input family.

    "binary", "categorical" and "sparse" are the losses on probabilities or
    logits (the input family is a `_logits` / `_probabilities` one), for which
    the output activation and `from_logits` must agree.
    """
    tasks = set(entry.tasks)
    if "regression" in tasks:
        return "regression"
    if not (isinstance(family, str) and family.endswith(("_logits", "_probabilities"))):
        return "other"
    if "multiclass" in tasks and entry.labels in _CLASSIFICATION_KINDS:
        return _CLASSIFICATION_KINDS[entry.labels]
    if tasks & {"binary", "multilabel"}:
        return "binary"
    return "other"


def _entry_of(obj):
    """The registry entry of a loss instance, class or function (by its name), or None."""
    if isinstance(obj, keras.losses.Loss):
        entry = registry.lookup_class("loss", type(obj))
        fn = getattr(obj, "fn", None)  # a bare LossFunctionWrapper: look up its function
        if entry is None and fn is not None:
            entry = registry.lookup("loss", getattr(fn, "__name__", ""))
        return entry
    # A function such as the one keras.losses.get("mse") returns: Keras names its
    # loss functions after the loss (mean_squared_error), the canonical names.
    return registry.lookup("loss", getattr(obj, "__name__", ""))


def describe_loss(loss):
    """`LossInfo` for a loss given as a string, an instance or a function; None if unknown.

    The kind comes from the loss's registry entry (its `task`, `labels` and
    `inputs`); a loss the registry does not know is "other".
    """
    if loss is None or isinstance(loss, (list, tuple, dict)):
        return None
    obj = loss
    entry = None
    if isinstance(loss, str):
        entry = registry.lookup("loss", loss)
        if entry is not None:
            obj = entry.cls()
        else:
            try:
                obj = keras.losses.get(loss)
            except (ValueError, TypeError):
                return LossInfo(loss, "other", False)
    entry = entry or _entry_of(obj)
    config = {}
    if isinstance(obj, keras.losses.Loss):
        try:
            config = obj.get_config() or {}
        except (NotImplementedError, TypeError):
            config = {}
    from_logits = config.get("from_logits")
    if entry is None:
        name = getattr(obj, "__name__", None) or getattr(obj, "name", None) or type(obj).__name__
        return LossInfo(str(name), "other", bool(from_logits))
    family = registry.input_family(entry.inputs, bool(from_logits))
    if from_logits is None:  # a loss without the option: its inputs say which it takes
        from_logits = isinstance(family, str) and family.endswith("_logits")
    return LossInfo(entry.name, _kind(entry, family), bool(from_logits))


# --- What the output layer is ----------------------------------------------------------

_ACTIVATION_LAYERS = {"Softmax": "softmax", "ReLU": "relu"}


def _output_layer(model):
    outputs = getattr(model, "outputs", None)
    try:
        if outputs and len(outputs) == 1:
            return _keras_compat.producing_layer(outputs[0])
    except (AttributeError, ValueError):
        pass
    if isinstance(model, keras.Sequential) and model.layers:
        return model.layers[-1]
    return None  # a subclassed model: its last-built layer need not be its output


def _activation_name(layer):
    if layer is None:
        return None
    cls = type(layer).__name__
    if cls in _ACTIVATION_LAYERS:
        return _ACTIVATION_LAYERS[cls]
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    name = getattr(activation, "__name__", None)
    if name is None:
        try:
            name = keras.activations.serialize(activation)
        except (ValueError, TypeError):
            return None
        if isinstance(name, dict):
            name = name.get("config", {}).get("name") or name.get("class_name")
    return str(name).lower()


def _output_units(model, layer):
    try:
        if getattr(model, "outputs", None) and len(model.outputs) == 1:
            return model.outputs[0].shape[-1]
    except (AttributeError, ValueError):
        pass
    return getattr(layer, "units", None)


def _activation_from_outputs(pred):
    """Guesses the activation from output values: softmax, sigmoid or linear."""
    pred = np.asarray(pred, dtype="float64")
    if pred.size == 0 or not np.all(np.isfinite(pred)):
        return None
    if pred.min() >= 0.0 and pred.max() <= 1.0:
        if pred.ndim >= 2 and pred.shape[-1] > 1 and np.allclose(pred.sum(-1), 1.0, atol=1e-3):
            return "softmax"
        return "sigmoid"
    return "linear"


# --- Labels ----------------------------------------------------------------------------


def _to_numpy(value):
    if hasattr(value, "numpy"):
        try:
            value = value.detach().cpu() if hasattr(value, "detach") else value
            return np.asarray(value.numpy())
        except (TypeError, ValueError, AttributeError):
            pass
    return np.asarray(value)


def first_batch(x, y=None):
    """`(x_batch, y_batch)` from arrays, a tf.data.Dataset, a PyDataset or an iterable.

    Arrays are returned whole (the caller slices). For a Python iterator the first
    element is consumed.
    """
    if x is None:
        return None, y
    if y is not None or isinstance(x, np.ndarray) or hasattr(x, "shape"):
        return x, y
    batch = None
    if isinstance(x, keras.utils.PyDataset):
        batch = x[0]
    elif hasattr(x, "take") and hasattr(x, "element_spec"):  # tf.data.Dataset
        for item in x.take(1):
            batch = item
    else:
        try:
            batch = next(iter(x))
        except (TypeError, StopIteration):
            return x, None
    if isinstance(batch, (tuple, list)):
        return batch[0], (batch[1] if len(batch) > 1 else None)
    if isinstance(batch, dict):
        return batch, None
    return batch, None


def _label_format(y, units):
    """`"integers"`, `"one_hot"`, `"multi_hot"`, `"probabilities"` or `"real"`."""
    y = np.asarray(y)
    if y.size == 0:
        return None
    y = y.astype("float64")
    is_int = np.all(np.isfinite(y)) and np.all(np.round(y) == y)
    single_column = y.ndim == 1 or (y.ndim >= 2 and y.shape[-1] == 1)
    if not single_column and units is not None and y.shape[-1] == units:
        if is_int and np.all((y == 0) | (y == 1)):
            sums = y.sum(-1)
            return "one_hot" if np.all(sums == 1) else "multi_hot"
        if y.min() >= 0 and y.max() <= 1:
            return "one_hot" if np.allclose(y.sum(-1), 1.0) else "probabilities"
        return "real"
    if single_column and is_int:
        return "integers"
    if y.min() >= 0 and y.max() <= 1:
        return "probabilities"
    return "real"


# --- The checks ------------------------------------------------------------------------


def _findings(activation, units, info, y, layer_name):
    out = []
    lname = f"Output layer '{layer_name}'" if layer_name else "The output layer"
    loss = info.name if info else None

    def add(code, message, fix):
        out.append(Finding(code, message, fix, layer_name))

    if activation == "softmax" and units == 1:
        add("one_unit_softmax",
            f"{lname} is a softmax over 1 unit, which always outputs 1.0: the model cannot learn.",
            "For a binary problem use Dense(1, activation='sigmoid') with binary_crossentropy, "
            "or use K >= 2 softmax units with a categorical loss.")
    if info is None:
        return out
    probabilistic = info.kind in ("binary", "categorical", "sparse")
    if probabilistic and activation in ("sigmoid", "softmax") and info.from_logits:
        add("activation_with_from_logits",
            f"{lname} applies {activation} but the loss {loss} has from_logits=True: "
            f"{activation} is applied twice (in the layer and again in the loss), so the "
            "outputs are squashed and the gradients shrink.",
            f"Remove the activation (activation='linear') and keep from_logits=True, "
            f"or keep {activation} and set from_logits=False.")
    if probabilistic and activation in ("linear", None) and not info.from_logits:
        add("linear_output_without_from_logits",
            f"{lname} is linear but the loss {loss} has from_logits=False and expects "
            "probabilities: Keras clips the raw outputs to [1e-7, 1 - 1e-7] and trains "
            "silently and badly.",
            f"Set from_logits=True in {loss} (recommended), or add a "
            f"{'sigmoid' if info.kind == 'binary' else 'softmax'} activation.")
    if info.kind == "binary" and activation == "softmax" and units not in (None, 1):
        add("softmax_with_binary_crossentropy",
            f"{lname} is a softmax over {units} units but the loss {loss} is binary "
            "cross-entropy: on a multiclass problem this scores each class as an "
            "independent yes/no and reports misleading accuracy.",
            "Use categorical_crossentropy (one-hot labels) or "
            "sparse_categorical_crossentropy (integer labels) with the softmax; for "
            "multi-label targets use sigmoid with binary_crossentropy.")
    if info.kind in ("categorical", "sparse") and activation == "sigmoid":
        add("sigmoid_with_categorical_crossentropy",
            f"{lname} is sigmoid but the loss {loss} is categorical cross-entropy, "
            "which expects one probability distribution (summing to 1) per sample.",
            "Use activation='softmax' (or a linear output with from_logits=True); for "
            "independent labels use binary_crossentropy.")
    if info.kind in ("categorical", "sparse") and units == 1:
        add("categorical_with_one_unit",
            f"{lname} has 1 unit but the loss {loss} is categorical: a 1-class "
            "distribution always has zero loss.",
            "Use Dense(1, activation='sigmoid') with binary_crossentropy, or one unit "
            "per class.")
    if y is None:
        return out

    y = _to_numpy(y)
    fmt = _label_format(y, units)
    yf = y.astype("float64")
    if info.kind == "categorical" and fmt == "integers" and units not in (None, 1):
        add("categorical_with_integer_labels",
            f"The loss {loss} expects one-hot labels of width {units} but the labels "
            "are integer class indices.",
            "Use sparse_categorical_crossentropy (or one-hot encode the labels with "
            "keras.utils.to_categorical).")
    if info.kind == "sparse" and fmt in ("one_hot", "probabilities") and yf.ndim >= 2 \
            and yf.shape[-1] > 1:
        add("sparse_with_one_hot_labels",
            f"The loss {loss} expects integer class indices but the labels are one-hot "
            f"rows of width {yf.shape[-1]}.",
            "Use categorical_crossentropy (or pass np.argmax(y, axis=-1) as labels).")
    if info.kind == "sparse" and fmt == "integers" and units not in (None, 1):
        if yf.max() >= units or yf.min() < 0:
            add("class_index_out_of_range",
                f"The labels hold class indices from {int(yf.min())} to {int(yf.max())} but "
                f"{lname} has only {units} units (valid indices 0..{units - 1}).",
                f"Give the output layer {int(yf.max()) + 1} units, or re-number the "
                "classes from 0.")
    if info.kind == "binary" and np.all(np.isfinite(yf)) and (yf.min() < 0 or yf.max() > 1):
        hint = (
            "map -1/+1 labels to 0/1 (or use the hinge loss)"
            if set(np.unique(yf)) <= {-1.0, 1.0}
            else "for class indices use sparse_categorical_crossentropy with a softmax"
        )
        add("binary_labels_outside_unit_interval",
            f"The loss {loss} needs labels in [0, 1] but they range from {yf.min():g} "
            f"to {yf.max():g}.",
            f"Rescale the labels to [0, 1]: {hint}.")
    if info.kind == "regression" and activation == "sigmoid" and yf.size and \
            np.all(np.isin(yf, (0.0, 1.0))):
        add("regression_loss_on_binary_labels",
            f"The labels are 0/1 and {lname} is sigmoid, but the loss {loss} is a "
            "regression loss: its gradient vanishes on confident mistakes.",
            "Use binary_crossentropy for 0/1 labels.")
    elif info.kind == "regression" and activation in ("sigmoid", "softmax", "tanh", "relu") \
            and np.all(np.isfinite(yf)) and yf.size:
        low, high = {"sigmoid": (0, 1), "softmax": (0, 1), "tanh": (-1, 1),
                     "relu": (0, math.inf)}[activation]
        if yf.min() < low or yf.max() > high:
            add("output_range_excludes_targets",
                f"{lname} uses {activation}, whose outputs lie in [{low}, {high}], but the "
                f"targets range from {yf.min():g} to {yf.max():g}: the loss {loss} can "
                "never reach zero.",
                "Use a linear output activation for unbounded regression targets (or "
                "scale the targets into the activation's range).")
    return out


def check_model(model, x=None, y=None, mode="warn", loss=None):
    """Checks a model's output layer, loss and labels for the classic mistakes.

    Reports, with the layer, the loss and the fix: softmax with binary
    cross-entropy; sigmoid with categorical cross-entropy; a linear output with
    `from_logits=False`; a sigmoid/softmax output with `from_logits=True` (the
    activation is applied twice); categorical cross-entropy with integer labels
    and sparse categorical cross-entropy with one-hot labels; a one-unit softmax;
    binary cross-entropy labels outside [0, 1]; class indices >= the number of
    outputs; a regression loss on 0/1 labels with a sigmoid head; a bounded
    output activation for targets outside its range. Works on any backend.

    Args:
        model: a `keras.Model` (compiled, or pass `loss`).
        x: optional inputs: an array, a tf.data.Dataset, a PyDataset or an
            iterable of `(x, y)` batches (a batch is drawn from it). Used to find
            `y` and, for subclassed models, to infer the activation from the
            outputs. Defaults to `None`.
        y: optional labels (a batch is enough). Defaults to `None`.
        mode: `"warn"` (a `ModelCheckWarning` per finding), `"raise"` (a
            `ModelCheckError`, a ValueError, listing them) or `"silent"`.
            Defaults to `"warn"`.
        loss: the loss to check instead of the compiled one. Defaults to `None`.

    Returns:
        A list of `Finding` (empty when nothing is wrong).

    Example:

    >>> import keras, keras_lossopt
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    >>> model.compile(loss="binary_crossentropy")
    >>> [f.code for f in keras_lossopt.check_model(model, mode="silent")]
    ['softmax_with_binary_crossentropy']
    """
    _checks.check_choice("mode", mode, MODES)
    if loss is None:
        loss = getattr(model, "loss", None)
    info = describe_loss(loss)
    layer = _output_layer(model)
    activation = _activation_name(layer)
    units = _output_units(model, layer)
    x_batch, y_batch = first_batch(x, y)
    if y_batch is not None:
        y_batch = _to_numpy(y_batch)[:256]
    if (layer is None or activation is None) and x_batch is not None:
        try:
            xb = keras.tree.map_structure(lambda t: _to_numpy(t)[:32], x_batch)
            pred = keras.ops.convert_to_numpy(model(xb, training=False))
            activation = activation or _activation_from_outputs(pred)
            units = units or pred.shape[-1]
        except Exception:  # noqa: BLE001 - a best-effort inference, never fatal
            pass
    layer_name = getattr(layer, "name", None)
    findings = _findings(activation, units, info, y_batch, layer_name)
    if mode == "warn":
        for finding in findings:
            warnings.warn(str(finding), ModelCheckWarning, stacklevel=2)
    elif mode == "raise" and findings:
        raise ModelCheckError(findings)
    return findings
