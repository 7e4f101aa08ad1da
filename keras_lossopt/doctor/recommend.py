"""The loss selection guide as code: `recommend(task, ...)`.

The classic guide of the introductory courses, with the choices they leave
implicit made explicit (label format, outliers, class imbalance, logits):

    task        labels          loss                              output activation
    regression  -               mean_squared_error (MAE/Huber)    linear
    binary      0/1             binary_crossentropy               sigmoid (1 unit)
    multiclass  one-hot         categorical_crossentropy          softmax (K units)
    multiclass  integers        sparse_categorical_crossentropy   softmax (K units)
    multilabel  multi-hot       binary_crossentropy               sigmoid (K units)
    quantile    -               pinball (quantile) loss           linear
    ordinal     integers        binary_crossentropy on "y > k"    sigmoid (K - 1 units)

Every loss named here is registered in keras_lossopt. The guide itself works on
names and imports nothing heavy: Keras (and so a backend) is imported only when a
`Recommendation`'s `loss` or `output_layer()` is first used, which lets the command
line answer `keras-lossopt recommend` without starting a backend.
"""

import dataclasses
import functools
import math

from keras_lossopt import _checks

__all__ = ["Recommendation", "recommend", "guide_table"]

TASKS = ("regression", "binary", "multiclass", "multilabel", "quantile", "ordinal")
LABELS = (None, "integers", "one_hot", "probabilities")


@dataclasses.dataclass
class Recommendation:
    """What `recommend` returns: a loss, the matching output layer and metrics.

    Attributes:
        task: the task it was asked for.
        labels: the label format it was asked for (or `None`).
        loss_name: a registered string that `model.compile(loss=...)` resolves.
        loss_kwargs: the arguments the recommended loss is built with (such as
            `from_logits` or the pinball loss's `tau`).
        loss: (property) the configured loss instance, built on first use (use
            it when `from_logits` is True: the string alone means
            `from_logits=False`).
        activation: the output layer's activation (`"linear"`, `"sigmoid"`, ...).
        from_logits: whether the loss must be told that the outputs are logits.
        metrics: metric strings for `model.compile(metrics=...)`.
        why: one sentence of reasoning.
        units: number of output units when known (`num_classes`), else `None`.
        alternatives: other sensible loss names.
    """

    task: str
    labels: object
    loss_name: str
    loss_kwargs: dict
    activation: str
    from_logits: bool
    metrics: list
    why: str
    units: object = None
    alternatives: list = dataclasses.field(default_factory=list)

    @functools.cached_property
    def loss(self):
        """The recommended loss, configured with `loss_kwargs`."""
        from keras_lossopt import registry

        return registry.lookup("loss", self.loss_name).cls(**self.loss_kwargs)

    def output_layer(self, **kwargs):
        """A `keras.layers.Dense` output layer matching the recommendation."""
        if self.units is None:
            raise ValueError(
                "The number of output units is unknown: pass `num_classes` to "
                f"`recommend` for task={self.task!r}."
            )
        import keras

        return keras.layers.Dense(self.units, activation=self.activation, **kwargs)

    def compile_kwargs(self):
        """`{"loss": ..., "metrics": [...]}` ready for `model.compile(**...)`."""
        return {"loss": self.loss, "metrics": list(self.metrics)}

    def table(self):
        """The classic loss selection guide, with this recommendation marked `>`."""
        return guide_table(mark=self)

    def to_dict(self):
        return {
            "task": self.task,
            "labels": self.labels,
            "loss_name": self.loss_name,
            "activation": self.activation,
            "from_logits": self.from_logits,
            "metrics": list(self.metrics),
            "why": self.why,
            "units": self.units,
            "alternatives": list(self.alternatives),
        }

    def __str__(self):
        logits = ", from_logits=True" if self.from_logits else ""
        return (
            f"{self.task}: loss={self.loss_name}{logits}, output activation="
            f"{self.activation}, metrics={self.metrics}. {self.why}"
        )


def recommend(task, labels=None, outliers=False, imbalanced=False, num_classes=None,
              from_logits=False, quantile=0.5):
    """Recommends a loss, output activation and metrics for a task.

    The loss selection guide as code: regression -> mean squared error and a
    linear output (mean absolute error or Huber when there are outliers);
    binary -> binary cross-entropy and one sigmoid unit; multiclass ->
    categorical cross-entropy and softmax (sparse categorical cross-entropy for
    integer labels); multilabel -> binary cross-entropy and one sigmoid per
    label. With `from_logits=True` the output layer stays linear and the loss
    applies the sigmoid/softmax itself, which is numerically safer on every
    backend. `imbalanced=True` swaps in a focal loss where one exists.

    Args:
        task: one of `"regression"`, `"binary"`, `"multiclass"`, `"multilabel"`,
            `"quantile"`, `"ordinal"`.
        labels: label format, one of `None`, `"integers"`, `"one_hot"`,
            `"probabilities"`. Defaults to `None` (the classic guide's choice).
        outliers: regression targets have outliers. Defaults to `False`.
        imbalanced: classes are imbalanced. Defaults to `False`.
        num_classes: number of classes (sets `units`). Defaults to `None`.
        from_logits: recommend a linear output and a loss on logits. Defaults
            to `False`.
        quantile: the quantile for `task="quantile"`, in (0, 1). Defaults to `0.5`.

    Returns:
        A `Recommendation`.

    Example:

    >>> import keras_lossopt
    >>> rec = keras_lossopt.recommend("multiclass", labels="integers")
    >>> rec.loss_name, rec.activation, rec.from_logits
    ('sparse_categorical_crossentropy', 'softmax', False)
    >>> keras_lossopt.recommend("binary").loss_name
    'binary_crossentropy'
    """
    _checks.check_choice("task", task, TASKS)
    _checks.check_choice("labels", labels, LABELS)
    _checks.check_probability("quantile", quantile, low_inclusive=False, high_inclusive=False)
    if num_classes is not None:
        num_classes = _checks.check_positive_int("num_classes", num_classes)
    logit_note = (
        " The output layer stays linear and the loss applies the "
        "activation itself (from_logits=True), which is more stable."
        if from_logits else ""
    )
    alternatives = []

    if task == "regression":
        if labels not in (None, "probabilities"):
            raise ValueError(
                "Regression targets are real numbers: `labels` must be None or "
                f"'probabilities'. Received: labels={labels!r}"
            )
        if outliers:
            name, why = "huber", (
                "Huber loss is quadratic for small errors and linear for large ones, "
                "so outliers do not dominate the gradient as they do with MSE."
            )
            alternatives = ["mean_absolute_error", "pseudo_huber", "log_cosh"]
        else:
            name, why = "mean_squared_error", (
                "Mean squared error with a linear output is the maximum-likelihood "
                "choice for real-valued targets with Gaussian noise."
            )
            alternatives = ["mean_absolute_error", "huber"]
        return Recommendation(
            task, labels, name, {}, "linear", False,
            ["mean_absolute_error", "root_mean_squared_error"], why,
            units=num_classes, alternatives=alternatives,
        )

    if task == "quantile":
        why = (
            f"The pinball loss is minimised by the {quantile} quantile of the "
            "target, so the linear output estimates that quantile."
        )
        return Recommendation(task, labels, "pinball", {"tau": quantile}, "linear", False,
                              ["mean_absolute_error"], why, units=num_classes)

    if task in ("binary", "multilabel"):
        if task == "binary" and labels == "one_hot":
            name = "categorical_crossentropy"
            return Recommendation(
                task, labels, name, {"from_logits": from_logits},
                "linear" if from_logits else "softmax", from_logits,
                ["categorical_accuracy"],
                "Two one-hot columns make a two-class categorical problem: "
                "categorical cross-entropy with a 2-unit softmax." + logit_note,
                units=2,
            )
        if labels == "integers" and task == "multilabel":
            raise ValueError(
                "Multilabel targets are multi-hot rows, not single integers. "
                f"Received: labels={labels!r}"
            )
        units = 1 if task == "binary" else num_classes
        if imbalanced:
            name = "sigmoid_focal_crossentropy"
            why = (
                "Focal loss down-weights the many easy examples, so the rare "
                "class keeps contributing to the gradient."
            )
            alternatives = ["binary_crossentropy"]
            metrics = ["auc", "precision", "recall"]
        else:
            name = "binary_crossentropy"
            why = (
                "Binary cross-entropy on a sigmoid output is the log-likelihood of "
                "0/1 labels" + (
                    " (one independent sigmoid per label)." if task == "multilabel"
                    else "."
                )
            )
            metrics = ["binary_accuracy", "auc"]
        return Recommendation(
            task, labels, name, {"from_logits": from_logits},
            "linear" if from_logits else "sigmoid", from_logits, metrics,
            why + logit_note, units=units, alternatives=alternatives,
        )

    if task == "ordinal":
        units = None if num_classes is None else max(num_classes - 1, 1)
        name = "binary_crossentropy"
        return Recommendation(
            task, labels, name, {"from_logits": from_logits},
            "linear" if from_logits else "sigmoid", from_logits, ["mean_absolute_error"],
            "Encode an ordinal label k as K - 1 cumulative targets [y > 0, ..., y > K-2] "
            "and fit one sigmoid per threshold with binary cross-entropy (Frank & Hall "
            "2001; CORAL, Cao et al. 2020); the predicted rank is the number of "
            "probabilities above 0.5." + logit_note,
            units=units, alternatives=[
                "weighted_kappa", "sparse_categorical_crossentropy", "mean_squared_error"],
        )

    # multiclass
    if labels == "integers":
        name = "sparse_categorical_crossentropy"
        why = (
            "Integer class labels go with sparse categorical cross-entropy and a "
            "softmax over the classes (no one-hot encoding needed)."
        )
        metrics = ["sparse_categorical_accuracy"]
        if imbalanced:
            name = "sparse_categorical_focal_crossentropy"
            why = (
                "Sparse categorical focal loss takes integer labels and down-weights "
                "the many easy examples of the frequent classes."
            )
            alternatives = ["sparse_categorical_crossentropy"]
    else:
        if imbalanced:
            name = "categorical_focal_crossentropy"
            why = (
                "Categorical focal loss down-weights the many easy examples of the "
                "frequent classes; labels must be one-hot."
            )
        else:
            name = "categorical_crossentropy"
            why = (
                "One-hot (or probability) labels go with categorical cross-entropy "
                "and a softmax over the classes."
            )
        metrics = ["categorical_accuracy"]
    return Recommendation(
        task, labels, name, {"from_logits": from_logits},
        "linear" if from_logits else "softmax", from_logits, metrics, why + logit_note,
        units=num_classes, alternatives=alternatives,
    )


_GUIDE = (
    ("regression", None, "regression", {}),
    ("regression, outliers", None, "regression", {"outliers": True}),
    ("binary", "0/1", "binary", {}),
    ("binary, imbalanced", "0/1", "binary", {"imbalanced": True}),
    ("multiclass", "one-hot", "multiclass", {"labels": "one_hot"}),
    ("multiclass", "integers", "multiclass", {"labels": "integers"}),
    ("multilabel", "multi-hot", "multilabel", {}),
    ("quantile", None, "quantile", {}),
    ("ordinal", "integers", "ordinal", {"labels": "integers"}),
)


def guide_table(mark=None):
    """The loss selection guide as a text table (built from `recommend` itself).

    Args:
        mark: a `Recommendation` whose row is marked with `>`. Defaults to `None`.

    Example:

    >>> import keras_lossopt
    >>> print(keras_lossopt.doctor.guide_table().splitlines()[0])
      task                  labels     loss                             activation
    """
    rows = []
    for label, label_text, task, kwargs in _GUIDE:
        rec = recommend(task, **kwargs)
        is_marked = (
            mark is not None and mark.task == rec.task
            and mark.loss_name == rec.loss_name
        )
        rows.append((">" if is_marked else " ", label, label_text or "-", rec.loss_name,
                     rec.activation))
    if mark is not None and not any(row[0] == ">" for row in rows):
        rows.append((">", mark.task, mark.labels or "-", mark.loss_name, mark.activation))
    lines = [f"  {'task':<21} {'labels':<10} {'loss':<32} activation"]
    for flag, label, label_text, loss, activation in rows:
        lines.append(f"{flag} {label:<21} {label_text:<10} {loss:<32} {activation}")
    return "\n".join(lines)


def chance_level_loss(units):
    """Cross-entropy of a uniform guess over `units` classes (ln 2 for one unit)."""
    return math.log(2.0) if units in (None, 1) else math.log(units)
