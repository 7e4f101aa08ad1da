"""Loss shapes: each loss and its gradient drawn from the real implementation.

The pictures of introductory material ("loss charts for both L1 and L2": error 2 costs
4 under L2, error 10 costs 100; a confident wrong prediction costs far more under
cross-entropy than a hesitant one), made by calling the loss objects themselves, so
the picture is the code: `plot_losses(["l1", "l2", "huber"])`.

The horizontal axis comes from what the registry says the loss takes (its entry's
`inputs` family, picked by the loss's `from_logits`, and its `labels`):

- element-wise regression losses (`regression`, `positive` families): the residual
  `y_pred - y_true` with `y_true = 1` (a `positive` loss only where `y_pred > 0`);
- classification losses on probabilities or logits (`binary_*`, `categorical_*`,
  `sparse_*`): the predicted probability `p` of the true class; binary losses see
  `y_true = 1, y_pred = p` (or its logit), multi-class losses the true class 0 of
  `num_classes` with probability `p` and `(1 - p) / (num_classes - 1)` on each
  other class (their logarithms as logits);
- margin losses (`hinge`): the margin `y * f(x)` with `y = +1`.

Values are the per-sample losses (a copy of the loss object with
`reduction="none"`; a Keras loss function is called as it is); gradients are
`d loss / d x` along the axis, from the backend's autodiff (TensorFlow, JAX or
PyTorch). matplotlib is needed for `plot_losses` only (`pip install
keras_lossopt[plot]`); `loss_shapes` returns the numbers.
"""

import dataclasses

import numpy as np

__all__ = ["LossShape", "loss_shapes", "plot_losses", "plot_shapes"]

# Axis -> (x label, what the row is about).
AXES = {
    "residual": ("residual  y_pred - y_true   (y_true = 1)", "regression losses"),
    "probability": ("predicted probability p of the true class", "classification losses"),
    "margin": ("margin  y * f(x)   (y = +1)", "margin losses"),
}
# Input family (keras_lossopt.testing.inputs) -> axis.
_FAMILY_AXES = {
    "regression": "residual",
    "positive": "residual",
    "binary_probabilities": "probability",
    "binary_logits": "probability",
    "categorical_probabilities": "probability",
    "categorical_logits": "probability",
    "sparse_probabilities": "probability",
    "sparse_logits": "probability",
    "hinge": "margin",
}
_NOT_HYPERPARAMETERS = ("name", "reduction", "dtype")
_LINE_STYLES = ("-", "--", "-.", ":")


@dataclasses.dataclass(frozen=True)
class LossShape:
    """One loss along one axis: `value[i]` and `gradient[i]` at `x[i]` (NaN off its domain).

    `loss` is the loss object (or function) as given or resolved, `per_sample` the
    one that was called (`loss` with `reduction="none"`), `family` the input
    family the axis comes from.
    """

    label: str
    axis: str
    x: np.ndarray
    value: np.ndarray
    gradient: np.ndarray
    loss: object
    per_sample: object
    family: str


def loss_shapes(losses, *, labels=None, points=201, residual_range=(-3.0, 3.0),
                probability_range=(0.01, 0.99), margin_range=(-2.0, 3.0), num_classes=3):
    """Each loss's per-sample value and gradient along its axis (see the module docstring).

    Args:
        losses: registered loss names (`"huber"`, `"l1"`, your own names) and/or
            loss instances with their hyperparameters (`keras.losses.Huber(0.5)`).
            Defaults: none; pass at least one.
        labels: one legend label per loss. Defaults to `None`: the name given,
            or for an instance its registered name with the hyperparameters its
            config shows differing from the defaults (`"huber(delta=0.5)"` for a
            loss whose config has `delta`); a repeated label gets `" #2"`, ...
        points: grid points per axis. Defaults to `201`.
        residual_range: `(low, high)` of the residual axis. Defaults to `(-3.0, 3.0)`.
        probability_range: `(low, high)` of the probability axis, inside (0, 1).
            Defaults to `(0.01, 0.99)`.
        margin_range: `(low, high)` of the margin axis. Defaults to `(-2.0, 3.0)`.
        num_classes: classes of the multi-class inputs (>= 2). Defaults to `3`.

    Returns:
        A list of `LossShape`, one per loss, in the order given.

    Raises:
        ValueError: for an unknown name, a loss whose registry entry names no
            plottable input family (boxes, embeddings, distributions ...), or a
            loss whose value for a point depends on the rest of the batch.

    Example:

    >>> import keras_lossopt
    >>> l1, l2 = keras_lossopt.loss_shapes(["l1", "l2"], points=5, residual_range=(-2, 2))
    >>> l2.x.tolist(), l2.value.tolist(), l2.gradient.tolist()
    ([-2.0, -1.0, 0.0, 1.0, 2.0], [4.0, 1.0, 0.0, 1.0, 4.0], [-4.0, -2.0, 0.0, 2.0, 4.0])
    >>> l1.value.tolist()
    [2.0, 1.0, 0.0, 1.0, 2.0]
    """
    if isinstance(losses, str) or not hasattr(losses, "__iter__"):
        losses = [losses]
    losses = list(losses)
    if not losses:
        raise ValueError("Pass at least one loss (a name or an instance). Received: losses=[]")
    if labels is not None:
        labels = [labels] if isinstance(labels, str) else list(labels)
        if len(labels) != len(losses) or not all(isinstance(x, str) for x in labels):
            raise ValueError(f"`labels` must be {len(losses)} strings, one per loss. "
                             f"Received: labels={labels!r}")
    _check_at_least("points", points, 3)
    _check_at_least("num_classes", num_classes, 2)
    _check_range("residual_range", residual_range)
    _check_range("margin_range", margin_range)
    _check_range("probability_range", probability_range)
    if not 0.0 < probability_range[0] < probability_range[1] < 1.0:
        raise ValueError("`probability_range` must lie inside (0, 1). "
                         f"Received: probability_range={probability_range!r}")
    grids = {"residual": np.linspace(*residual_range, points),
             "probability": np.linspace(*probability_range, points),
             "margin": np.linspace(*margin_range, points)}
    shapes = [_shape(item, grids, num_classes) for item in losses]
    if labels is not None:
        return [dataclasses.replace(shape, label=label) for shape, label in zip(shapes, labels)]
    seen = {}
    for i, shape in enumerate(shapes):
        seen[shape.label] = seen.get(shape.label, 0) + 1
        if seen[shape.label] > 1:
            shapes[i] = dataclasses.replace(shape, label=f"{shape.label} #{seen[shape.label]}")
    return shapes


def plot_losses(losses, path=None, *, labels=None, figure=None, title=None, points=201,
                residual_range=(-3.0, 3.0), probability_range=(0.01, 0.99),
                margin_range=(-2.0, 3.0), num_classes=3):
    """Draws each loss and its gradient against the residual, probability or margin.

    One row per axis the losses need (regression losses against the residual,
    classification losses against the probability of the true class, margin
    losses against the margin), two panels per row: the loss, and its gradient
    `d loss / d x`. Values are the loss objects' own (see `loss_shapes`), so the
    picture is the code.

    Args:
        losses: loss names and/or instances, as in `loss_shapes`.
        path: file to save the figure to (PNG, SVG, ... by extension). Defaults
            to `None` (not saved).
        labels: legend labels, one per loss, as in `loss_shapes`. Defaults to
            `None` (the names).
        figure: a matplotlib `Figure` to draw into (e.g. `plt.figure("shapes")`);
            it is cleared and resized to the layout. Defaults to `None`: a new
            figure, not registered with pyplot.
        title: the figure title. Defaults to `None` (none).
        points, residual_range, probability_range, margin_range, num_classes:
            as in `loss_shapes`.

    Raises:
        ImportError: matplotlib is not installed (`pip install keras_lossopt[plot]`).
        ValueError: as `loss_shapes`.

    Returns:
        The matplotlib `Figure`.

    Example:

    ```python
    import keras, keras_lossopt

    keras_lossopt.plot_losses(["l1", "l2", "huber", "pseudo_huber", "log_cosh"],
                              path="regression_losses.png")
    keras_lossopt.plot_losses(["binary_crossentropy", keras.losses.BinaryFocalCrossentropy(
        gamma=2.0), "hinge", "squared_hinge", "poly1"], path="classification_losses.png")
    ```
    """
    _require_matplotlib()
    shapes = loss_shapes(losses, labels=labels, points=points, residual_range=residual_range,
                         probability_range=probability_range, margin_range=margin_range,
                         num_classes=num_classes)
    return plot_shapes(shapes, path, figure=figure, title=title)


def plot_shapes(shapes, path=None, *, figure=None, title=None):
    """Draws `LossShape`s (from `loss_shapes`) as `plot_losses` does; returns the Figure.

    For when the numbers are wanted too: `shapes = loss_shapes([...])`, then
    `plot_shapes(shapes, "shapes.png")`. `path`, `figure` and `title` as in
    `plot_losses`.
    """
    figure_cls = _require_matplotlib()
    shapes = list(shapes)
    if not shapes or not all(isinstance(shape, LossShape) for shape in shapes):
        raise ValueError("`shapes` must be a non-empty list of LossShape (from loss_shapes). "
                         f"Received: shapes={shapes!r}")
    rows = [axis for axis in AXES if any(shape.axis == axis for shape in shapes)]
    size = (10.0, 3.6 * len(rows) + (0.4 if title else 0.0))
    if figure is None:
        figure = figure_cls(figsize=size, dpi=100)
    else:
        figure.clear()
        figure.set_size_inches(*size)
    axes = figure.subplots(len(rows), 2, squeeze=False)
    # One colour and line style per loss, the same in every panel; the styles keep
    # curves that coincide (BCE and sparse CE against p) both visible.
    styles = {shape.label: (f"C{i % 10}", _LINE_STYLES[i % len(_LINE_STYLES)])
              for i, shape in enumerate(shapes)}
    for row, axis in enumerate(rows):
        members = [s for s in shapes if s.axis == axis]
        xlabel, about = AXES[axis]
        for column, (field, ylabel) in enumerate((("value", "loss"),
                                                  ("gradient", "gradient  d loss / dx"))):
            ax = axes[row][column]
            for shape in members:
                color, style = styles[shape.label]
                ax.plot(shape.x, getattr(shape, field), color=color, ls=style, lw=1.8,
                        label=shape.label)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.set_title(f"{about}: {'loss' if field == 'value' else 'gradient'}", fontsize=10)
            ax.axhline(0.0, color="0.6", lw=0.6)
            ax.grid(alpha=0.3)
            ax.set_ylim(*_limits([getattr(s, field) for s in members],
                                 clip_tails=field == "gradient"))
            ax.legend(fontsize=8, loc="best", framealpha=0.85)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=100)
    return figure


# --- Resolving a loss and its axis ---------------------------------------------------------


def _shape(item, grids, num_classes):
    loss, entry, label = _resolve(item)
    config = _config(loss)
    from keras_lossopt import registry

    inputs = entry.inputs
    if inputs is None and "regression" in entry.tasks:
        inputs = "regression"  # the conformance harness's element-wise default
    family = registry.input_family(inputs, bool(config.get("from_logits", False)))
    axis = _FAMILY_AXES.get(family)
    if axis is None:
        raise ValueError(
            f"plot_losses draws losses of one prediction against the residual, the probability "
            f"of the true class or the margin; {label!r} takes {family or 'its own'} inputs "
            f"(registry entry {entry.name!r}: task {', '.join(entry.tasks) or 'not given'}).")
    per_sample = _per_sample(loss, label)
    x = grids[axis]
    valid = x > -1.0 if family == "positive" else np.ones_like(x, bool)  # y_pred = 1 + x > 0
    build = _INPUT_BUILDERS[axis](family, entry, num_classes)
    value, gradient = _evaluate(per_sample, build, x[valid], label)
    values, gradients = np.full(x.shape, np.nan), np.full(x.shape, np.nan)
    values[valid], gradients[valid] = value, gradient
    return LossShape(label=label, axis=axis, x=x, value=values, gradient=gradients, loss=loss,
                     per_sample=per_sample, family=family)


def _resolve(item):
    """(loss object or function, registry entry, legend label) for a name or a loss."""
    import keras

    from keras_lossopt import losses, registry

    if isinstance(item, str):
        loss = losses.get(item)  # a name's promised configuration included
        entry = registry.lookup("loss", item) or _entry_of(loss)
        label = item
    elif isinstance(item, keras.losses.Loss) or callable(item):
        if isinstance(item, type):
            raise ValueError(f"Pass a loss instance or name, not the class. Received: {item!r}")
        loss, entry = item, _entry_of(item)
        label = _label(loss, entry)
    else:
        raise ValueError(f"A loss must be a registered name or a loss instance. "
                         f"Received: {item!r}")
    if entry is None:
        raise ValueError(
            f"plot_losses reads what a loss takes from the registry, which does not know "
            f"{label!r}; register it with keras_lossopt.register_loss(..., inputs='regression') "
            "(or another input family).")
    return loss, entry, label


def _entry_of(loss):
    from keras_lossopt import registry

    entry = registry.lookup_class("loss", type(loss))
    if entry is None and not isinstance(loss, type) and hasattr(loss, "__name__"):
        # A Keras loss function ("mse" resolves to mean_squared_error): Keras names its
        # functions after the loss, the canonical names of its classes' entries.
        entry = registry.lookup("loss", loss.__name__)
    return entry


def _config(loss):
    get_config = getattr(loss, "get_config", None)
    try:
        return dict(get_config() or {}) if get_config is not None else {}
    except (NotImplementedError, TypeError):
        return {}


def _label(loss, entry):
    """`"huber(delta=0.5)"`: the entry's name with the hyperparameters that differ
    from the class's defaults."""
    name = entry.name if entry is not None else getattr(loss, "__name__", type(loss).__name__)
    config = _config(loss)
    try:
        defaults = _config(type(loss)()) if entry is not None and config else {}
    except (TypeError, ValueError):
        defaults = {}
    changed = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in config.items()
               if k not in _NOT_HYPERPARAMETERS and defaults.get(k, v) != v]
    return f"{name}({', '.join(changed)})" if changed else name


def _per_sample(loss, label):
    """The callable giving one value per sample: a copy of `loss` with `reduction="none"`.

    A copy of the object's attributes, not a rebuild from its config: some configs
    miss hyperparameters (Keras 3.15's `Huber.get_config()` has no `delta`), and
    `copy.copy` goes through the config too (Keras objects pickle by config).
    """
    import keras

    if not isinstance(loss, keras.losses.Loss):
        return loss  # a loss function: already per sample
    if getattr(loss, "reduction", None) in (None, "none"):
        return loss
    per_sample = object.__new__(type(loss))
    per_sample.__dict__.update(vars(loss))
    per_sample.reduction = "none"  # the public attribute Loss.__call__ reduces with
    return per_sample


# --- Inputs along each axis (keras.ops, differentiable in x) ----------------------------


def _residual_inputs(family, entry, num_classes):
    from keras import ops

    def build(x):
        y_pred = ops.expand_dims(1.0 + x, -1)
        return ops.ones_like(y_pred), y_pred

    return build


def _margin_inputs(family, entry, num_classes):
    from keras import ops

    def build(x):
        y_pred = ops.expand_dims(x, -1)
        return ops.ones_like(y_pred), y_pred

    return build


def _probability_inputs(family, entry, num_classes):
    from keras import ops

    logits = family.endswith("_logits")
    if family.startswith("binary"):
        def build(p):
            p = ops.expand_dims(p, -1)
            return ops.ones_like(p), (ops.log(p) - ops.log(1.0 - p)) if logits else p

        return build
    sparse = family.startswith("sparse") or entry.labels == "integers"

    def build(p):
        rest = ops.repeat(ops.expand_dims((1.0 - p) / (num_classes - 1), -1), num_classes - 1,
                          axis=-1)
        probs = ops.concatenate([ops.expand_dims(p, -1), rest], axis=-1)
        if sparse:
            y_true = ops.zeros_like(p)
        else:
            y_true = ops.one_hot(ops.zeros_like(p, dtype="int32"), num_classes)
        return y_true, ops.log(probs) if logits else probs

    return build


_INPUT_BUILDERS = {"residual": _residual_inputs, "probability": _probability_inputs,
                   "margin": _margin_inputs}


def _evaluate(per_sample, build, x, label):
    """Per-sample values and d value / d x at each point of `x`, checked to be per sample."""
    from keras import ops

    from keras_lossopt import _autodiff, _keras_compat

    def total(t):
        return ops.sum(_values(per_sample, build, t, len(x), label))

    _, gradient = _autodiff.value_and_grad(total, x)
    value = _keras_compat.to_numpy(_values(per_sample, build, ops.convert_to_tensor(x, "float32"), len(x),
                                 label))
    # A point's value must not depend on the rest of the batch (a batch-level loss,
    # such as a kappa, has no per-prediction shape to draw).
    for i in sorted({0, len(x) // 2, len(x) - 1}):
        alone = _keras_compat.to_numpy(_values(per_sample, build, ops.convert_to_tensor(x[i:i + 1],
                                                                              "float32"), 1, label))
        if not np.allclose(alone, value[i:i + 1], rtol=1e-4, atol=1e-6):
            raise ValueError(f"{label!r} is not a per-sample loss: its value at one point "
                             f"depends on the rest of the batch ({float(alone[0]):.6g} alone, "
                             f"{float(value[i]):.6g} in the batch).")
    # + 0.0 turns autodiff's -0.0 (a flat loss's gradient) into 0.0.
    return value.astype("float64"), gradient.astype("float64") + 0.0


def _values(per_sample, build, t, n, label):
    from keras import ops

    y_true, y_pred = build(t)
    out = ops.convert_to_tensor(per_sample(y_true, y_pred))
    if tuple(out.shape) != (n,):
        raise ValueError(f"{label!r} gave values of shape {tuple(out.shape)} for {n} samples; "
                         "plot_losses needs one value per sample.")
    return out


# --- Drawing ------------------------------------------------------------------------------


def _require_matplotlib():
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            "plot_losses needs matplotlib, an optional dependency of keras_lossopt. "
            "Install it with `pip install keras_lossopt[plot]`."
        ) from error
    return Figure


def _limits(curves, clip_tails):
    """y-limits of a panel: every finite value, padded, with 0 in view; with
    `clip_tails` (the gradient panels) the 1st-99th percentile, so that one loss's
    steep end (cross-entropy's gradient -1/p) does not flatten every other curve
    (values beyond are cut off at the panel's edge)."""
    values = np.concatenate([c[np.isfinite(c)] for c in curves] or [np.zeros(1)])
    if values.size == 0:
        return -1.0, 1.0
    low, high = np.percentile(values, [1, 99] if clip_tails else [0, 100])
    low, high = min(low, 0.0), max(high, 0.0)
    pad = 0.06 * (high - low) or 1.0
    return low - pad, high + pad


def _check_at_least(argument, value, minimum):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"`{argument}` must be an integer >= {minimum}. "
                         f"Received: {argument}={value!r}")


def _check_range(argument, value):
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        low = high = None
    if low is None or not np.isfinite([low, high]).all() or not low < high:
        raise ValueError(f"`{argument}` must be a (low, high) pair with low < high. "
                         f"Received: {argument}={value!r}")
