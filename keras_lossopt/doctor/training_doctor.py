"""The training doctor: names what a loss curve shows, with evidence and a next step.

`TrainingDoctor` is a Keras callback that records the batch and epoch losses
(train and validation) during `fit`; `diagnose(...)` turns such a history into a
`DoctorReport`. Both work on every backend: the callback only reads the logs
Keras already computes.

Verdict codes (most important first), one rule each in `RULES`: "diverged" (fatal:
NaN, or the loss `explode_factor` times the loss before any update), "insufficient_data",
"lr_too_high" (oscillating with no downward trend), "overfitting" (validation loss
rising), "generalization_gap" (training loss near zero, validation many times
higher), "no_better_than_chance" (validation loss not below the chance level, or
accuracy at the majority class), then one of "lr_too_low" (barely moving),
"plateau_high" (flat at a high value), "converged" (flat at a low value), "healthy"
(still improving). Adding a verdict is one rule function plus its row in `RULES`
(see CONTRIBUTING.md).
"""

import dataclasses
import json
import math

import keras
import numpy as np

from keras_lossopt import _checks, _keras_compat
from keras_lossopt.doctor import _curves

__all__ = ["DoctorReport", "TrainingDoctor", "Verdict", "diagnose"]

SEVERITIES = ("info", "warning", "fatal")


@dataclasses.dataclass
class Verdict:
    """One diagnosis: a code, its severity, one sentence each of message and advice,
    and the numbers it rests on."""

    code: str
    severity: str
    message: str
    evidence: dict
    advice: str

    def to_dict(self):
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "evidence": {k: _json_number(v) for k, v in self.evidence.items()},
            "advice": self.advice,
        }


def _json_number(value):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else str(float(value))
    return value


class DoctorReport:
    """What the doctor concluded: `verdicts`, the `primary` code and the history."""

    def __init__(self, verdicts, history=None, context=None):
        self.verdicts = sorted(verdicts, key=lambda v: _PRIORITY.get(v.code, len(CODES)))
        self.history = dict(history or {})
        # What the run was measured against: the loss before any update, the chance
        # levels and the majority-class accuracy (None when unknown).
        self.context = dict(context or {})

    @property
    def primary(self):
        """The code of the most important verdict."""
        return self.verdicts[0].code if self.verdicts else "insufficient_data"

    @property
    def severity(self):
        return max((v.severity for v in self.verdicts), key=SEVERITIES.index, default="info")

    def codes(self):
        return [v.code for v in self.verdicts]

    def __getitem__(self, code):
        for verdict in self.verdicts:
            if verdict.code == code:
                return verdict
        raise KeyError(code)

    def __contains__(self, code):
        return code in self.codes()

    def to_dict(self):
        """JSON-serializable form (non-finite numbers become strings such as "nan")."""
        return {
            "primary": self.primary,
            "severity": self.severity,
            "verdicts": [v.to_dict() for v in self.verdicts],
            "history": {
                k: [_json_number(float(x)) for x in v] for k, v in self.history.items()
            },
            "context": {k: _json_number(v) for k, v in self.context.items()},
        }

    def to_json(self, **kwargs):
        return json.dumps(self.to_dict(), **kwargs)

    def plot(self, path=None, ax=None):
        """The loss curves with the verdicts marked (needs matplotlib)."""
        from keras_lossopt.doctor.plotting import plot_training

        return plot_training(self, path=path, ax=ax)

    def __str__(self):
        lines = [f"Training doctor: {self.primary}"]
        for v in self.verdicts:
            lines.append(f"  [{v.severity}] {v.code}: {v.message}")
            if v.advice:
                lines.append(f"      next: {v.advice}")
            evidence = ", ".join(f"{k}={_fmt(x)}" for k, x in v.evidence.items())
            if evidence:
                lines.append(f"      evidence: {evidence}")
        return "\n".join(lines)

    def __repr__(self):
        return f"DoctorReport(primary={self.primary!r}, codes={self.codes()})"


def _fmt(value):
    if isinstance(value, (float, np.floating)):
        return f"{value:.4g}"
    return str(value)


# --- The evidence ----------------------------------------------------------------------


@dataclasses.dataclass
class Thresholds:
    """The doctor's heuristics (all relative, so they hold for any loss scale).

    Attributes:
        min_points: fewer batch losses than this (and fewer than `min_epochs`
            epoch losses) -> "insufficient_data".
        min_epochs: epoch losses needed to read the trend from epochs.
        explode_factor: recent loss this many times the initial one -> "diverged".
        low_drop: less than this fraction of the initial loss removed -> the loss
            has "barely moved".
        trend_drop: less than this fraction removed -> "no downward trend".
        oscillation: median |successive change| / median loss above this, with no
            downward trend -> "lr_too_high".
        spike_factor: a peak this many times the initial loss, with no
            downward trend -> "lr_too_high".
        flat: decrease over the last third, as a fraction of the initial loss,
            below this -> flat.
        high: a flat loss above this fraction of the reference loss (the chance
            level when known, else the initial loss) -> "plateau_high".
        overfit_rise: validation loss this fraction above its minimum while the
            training loss keeps falling -> "overfitting".
        overfit_patience: epochs since the validation minimum needed.
        still_weights: relative weight change below this -> the optimizer
            barely moved the weights.
        gap_train: training loss at or below this fraction of its start (or of the
            chance level when known: "near zero") ...
        gap_ratio: ... and validation loss at least this many times the training
            loss -> "generalization_gap".
        chance_margin: a validation loss above `(1 - chance_margin)` times the
            chance level (the loss of the best constant prediction) is "no better
            than chance"; so is an accuracy at or below the majority class's
            frequency plus `chance_margin / 10`.
    """

    min_points: int = 8
    min_epochs: int = 3
    explode_factor: float = 3.0
    low_drop: float = 0.05
    trend_drop: float = 0.1
    oscillation: float = 0.2
    flat: float = 0.02
    high: float = 0.5
    spike_factor: float = 10.0
    overfit_rise: float = 0.05
    overfit_patience: int = 2
    still_weights: float = 1e-3
    gap_train: float = 0.05
    gap_ratio: float = 5.0
    chance_margin: float = 0.02


def _median(values):
    values = np.asarray(values, dtype="float64")
    return float(np.median(values)) if values.size else float("nan")


def _array(values):
    return np.asarray(values if values is not None else [], dtype="float64").ravel()


@dataclasses.dataclass
class Evidence:
    """The numbers every rule reads, computed once from the history (see `diagnose`)."""

    t: Thresholds
    epochs: np.ndarray
    val: np.ndarray
    batches: np.ndarray
    fine: np.ndarray  # the finest curve: batch losses when enough, else epoch losses
    fine_unit: str
    trend: np.ndarray  # the curve the trend is read from: epochs when enough
    unit: str
    initial: float  # the loss before any update (measured, or the first point)
    initial_measured: bool
    lr_text: str
    baseline: float  # chance level of the training loss (None when unknown)
    val_baseline: float  # chance level of the validation loss (None when unknown)
    val_accuracy: np.ndarray
    majority: float  # accuracy of always predicting the majority class (None if unknown)
    weight_change: float
    numbers: dict = dataclasses.field(default_factory=dict)  # the shared trend evidence

    @property
    def enough(self):
        return self.trend.size >= (self.t.min_epochs if self.trend is self.epochs
                                   else self.t.min_points)


def _evidence(loss, val_loss, batch_loss, learning_rate, baseline_loss, weight_change,
              thresholds, initial_loss, val_baseline_loss, val_accuracy, majority_accuracy):
    t = thresholds or Thresholds()
    epochs, val, batches = _array(loss), _array(val_loss), _array(batch_loss)
    # The finest curve: batch losses when there are enough of them (a run stopped
    # after a few batches still shows its divergence), else epoch losses.
    fine = batches if batches.size >= min(t.min_points, max(2, epochs.size + 1)) else epochs
    if epochs.size >= t.min_epochs:
        trend, unit = epochs, "epoch"
    elif batches.size >= t.min_points:
        trend, unit = batches, "step"
    else:
        trend, unit = epochs, "epoch"
    measured = initial_loss is not None and math.isfinite(initial_loss)
    first = float(fine[0]) if fine.size else float("nan")
    ev = Evidence(
        t=t, epochs=epochs, val=val, batches=batches, fine=fine,
        fine_unit="step" if fine is batches else "epoch", trend=trend, unit=unit,
        initial=float(initial_loss) if measured else first, initial_measured=measured,
        lr_text=f" (now {learning_rate:.3g})" if learning_rate else "",
        baseline=baseline_loss, val_baseline=(val_baseline_loss if val_baseline_loss
                                              is not None else baseline_loss),
        val_accuracy=_array(val_accuracy), majority=majority_accuracy,
        weight_change=weight_change)
    if ev.enough and np.all(np.isfinite(np.concatenate([epochs, batches, val]))):
        ev.numbers = _trend_numbers(ev)
    return ev


def _trend_numbers(ev):
    """Drop from the start, oscillation, flatness of the last third, and their inputs."""
    trend, fine = ev.trend, ev.fine
    n, n_fine = trend.size, fine.size
    w = 1 if trend is ev.epochs else max(1, n // 10)
    # With a measured initial loss the trend starts before the first update (an
    # exploded first epoch is then seen as the jump it is).
    start = ev.initial if ev.initial_measured else _median(trend[:w])
    recent = _median(trend[-w:])
    scale = max(abs(start), 1e-12)
    tail = fine[-max(3, n_fine // 2):]
    level = _median(tail)
    # Decrease over the last third, relative to the start; and the pace of the
    # last third against the first third (1 = steady, 0 = flattened).
    wt = 1 if trend is ev.epochs else max(1, n // 6)
    a, b = n // 3, n - 1 - n // 3
    first_third = (start - _median(trend[max(0, a - wt + 1):a + 1])) / scale
    tail_change = (_median(trend[max(0, b - wt + 1):b + 1]) - recent) / scale
    numbers = {
        "start_loss": start, "recent_loss": recent, "drop": (start - recent) / scale,
        "oscillation": _median(np.abs(np.diff(tail))) / max(abs(level), 1e-12),
        "tail_change": tail_change, f"{ev.unit}s": n, "initial_loss": ev.initial,
        "level": level, "spike": float(np.max(fine)) / max(abs(ev.initial), 1e-12),
        "fine_drop": (ev.initial - level) / max(abs(ev.initial), 1e-12),
        "steady": bool(first_third > 0 and tail_change > 0.5 * first_third),
    }
    if ev.weight_change is not None:
        numbers["weight_change"] = float(ev.weight_change)
    return numbers


def _shown(ev, *extra):
    """The shared trend evidence a verdict quotes (internal flags left out)."""
    shown = {k: v for k, v in ev.numbers.items() if k not in ("fine_drop", "steady")}
    for item in extra:
        shown.update(item)
    return shown


# --- The rules -------------------------------------------------------------------------
# Each rule reads the Evidence and returns (message, evidence, advice) or None. The
# table below is the doctor: its order is the verdicts' priority and it defines the
# verdict codes. A "final" rule ends the diagnosis when it fires; the "trend" rules
# (what the training curve alone says) are tried only when no earlier rule fired, and
# the first that fires is the verdict.


def nonfinite(ev):
    """The loss became NaN or infinite anywhere (train, validation, batches)."""
    values = np.concatenate([ev.epochs, ev.batches, ev.val])
    if np.all(np.isfinite(values)):
        return None
    series = ev.fine if ev.fine.size else values
    bad = np.flatnonzero(~np.isfinite(series))
    first = int(bad[0]) if bad.size else -1
    finite = series[np.isfinite(series)]
    return (
        f"The loss became NaN or infinite (first at {ev.fine_unit} {first + 1})."
        if bad.size else "The loss became NaN or infinite.",
        {f"first_nonfinite_{ev.fine_unit}": first + 1,
         "last_finite_loss": float(finite[-1]) if finite.size else float("nan")},
        f"Lower the learning rate by 10x{ev.lr_text} or run keras_lossopt.find_learning_rate; "
        "clipnorm=1.0 also guards against exploding gradients.")


def exploded(ev):
    """The recent loss is `explode_factor` times the loss before any update."""
    fine, initial = ev.fine, ev.initial
    if fine.size < (1 if ev.initial_measured else 2) or not initial > 0:
        return None
    latest = _median(fine[-max(1, fine.size // 10):])
    if not latest > ev.t.explode_factor * initial:
        return None
    start_name = "before any update" if ev.initial_measured else "at its start"
    return (
        f"The loss exploded from {initial:.4g} ({start_name}) to {latest:.4g} "
        f"({latest / initial:.1f}x).",
        {"start_loss": initial, "recent_loss": latest, "max_loss": float(fine.max()),
         "ratio": latest / initial, "initial_measured": ev.initial_measured},
        f"Lower the learning rate by 10x{ev.lr_text} or run keras_lossopt.find_learning_rate.")


def insufficient(ev):
    """Too few loss points to read a trend."""
    if ev.enough:
        return None
    n = ev.trend.size
    return (f"Only {n} loss points were recorded; the doctor needs at least "
            f"{ev.t.min_points}.",
            {"points": n, "needed": ev.t.min_points},
            "Train for more steps or epochs before asking for a diagnosis.")


def oscillating(ev):
    """No downward trend from the initial loss, and an oscillating or spiking curve."""
    x, t = ev.numbers, ev.t
    if not (x["fine_drop"] < t.trend_drop
            and (x["oscillation"] > t.oscillation or x["spike"] > t.spike_factor)):
        return None
    unit = ev.fine_unit
    return (
        f"The loss oscillates (typical {unit}-to-{unit} change {x['oscillation']:.0%} of "
        f"its level, peak {x['spike']:.1f}x the start) with no downward trend "
        f"({-x['fine_drop']:+.0%} from its start).",
        _shown(ev),
        f"Lower the learning rate by 3-10x{ev.lr_text} (keras_lossopt.find_learning_rate "
        "suggests one), or use a larger batch.")


def overfitting(ev):
    """Validation loss rose `overfit_rise` above its minimum while training loss fell."""
    val, epochs, t = ev.val, ev.epochs, ev.t
    if not (val.size >= 3 and epochs.size == val.size):
        return None
    best = int(np.argmin(val))
    rise = (val[-1] - val[best]) / max(abs(val[best]), 1e-12)
    train_fall = (epochs[best] - epochs[-1]) / max(abs(epochs[best]), 1e-12)
    if not (best <= val.size - 1 - t.overfit_patience and rise > t.overfit_rise
            and train_fall > 0):
        return None
    return (
        f"Validation loss rose {rise:.0%} above its minimum (epoch {best + 1}) "
        f"while training loss kept falling ({train_fall:.0%} lower).",
        {"best_val_epoch": best + 1, "best_val_loss": float(val[best]),
         "final_val_loss": float(val[-1]), "val_rise": rise, "train_fall": train_fall},
        f"Use the weights of epoch {best + 1} (EarlyStopping(restore_best_weights=True)), "
        "add regularization (dropout, weight decay) or more data.")


def generalization_gap(ev):
    """Training loss near zero, validation loss `gap_ratio` times higher."""
    val, epochs, t = ev.val, ev.epochs, ev.t
    if not (val.size and epochs.size == val.size):
        return None
    train, final_val = float(epochs[-1]), float(val[-1])
    reference = ev.baseline if ev.baseline else ev.numbers["start_loss"]
    near_zero = train <= t.gap_train * abs(reference)
    if not (near_zero and final_val >= t.gap_ratio * max(train, 1e-12)
            and final_val - train > t.gap_train * abs(reference)):
        return None
    return (
        f"The training loss is near zero ({train:.3g}, {train / abs(reference):.1%} of "
        f"{'the chance level' if ev.baseline else 'its start'}) while the validation loss "
        f"is {final_val / max(train, 1e-12):.0f}x higher ({final_val:.3g}): the model "
        "memorizes the training set.",
        {"train_loss": train, "val_loss": final_val, "gap_ratio": final_val / max(train, 1e-12),
         "reference_loss": reference},
        "Add regularization (dropout, weight decay, data augmentation), use a smaller model "
        "or more data; stop at the best validation epoch (EarlyStopping).")


def chance_level(ev):
    """Validation loss no better than the best constant prediction, or accuracy at or
    below the majority class. (A training loss at the chance level is "plateau_high",
    whose reference is the chance level.)"""
    t = ev.t
    findings, numbers = [], {}
    if ev.val.size and ev.val_baseline:
        val = float(ev.val[-1])
        numbers.update(val_loss=val, chance_loss=float(ev.val_baseline),
                       val_vs_chance=val / ev.val_baseline)
        if val > (1.0 - t.chance_margin) * ev.val_baseline:
            findings.append(f"the validation loss {val:.4g} is not below the chance level "
                            f"{ev.val_baseline:.4g} (the loss of always predicting the "
                            "class frequencies or the target mean)")
    if ev.val_accuracy.size and ev.majority is not None:
        accuracy = float(ev.val_accuracy[-1])
        numbers.update(val_accuracy=accuracy, majority_accuracy=ev.majority)
        if accuracy <= ev.majority + t.chance_margin / 10:
            findings.append(f"the validation accuracy {accuracy:.1%} is at or below the "
                            f"majority class's share {ev.majority:.1%}")
    if not findings:
        return None
    text = "; ".join(findings)
    return (text[0].upper() + text[1:] + ": the model has learned nothing a constant "
            "guess does not know.",
            numbers,
            "Check that the inputs carry signal and line up with the labels (shuffling, "
            "preprocessing), that the loss fits the task, then the learning rate "
            f"{ev.lr_text.strip()} and the model's capacity.")


def _judged(ev):
    # A batch curve must be long enough for its tail to say "flat" through the noise.
    return ev.trend is ev.epochs or ev.trend.size >= 3 * ev.t.min_points


def _reference(ev):
    return ev.baseline if ev.baseline is not None else ev.initial


def lr_too_low(ev):
    """The loss barely moved (and the weights barely moved, or the decline is steady)."""
    x, t = ev.numbers, ev.t
    still = ev.weight_change is not None and ev.weight_change < t.still_weights
    if not (x["drop"] < t.low_drop and (still or x["steady"])):
        return None
    n, unit = x[f"{ev.unit}s"], ev.unit
    return (
        f"The loss barely moved in {n} {unit}s ({x['drop']:.1%} below its start "
        f"{x['start_loss']:.4g})" + (f" and the weights changed by only {ev.weight_change:.1e}."
                                     if ev.weight_change is not None else "."),
        _shown(ev),
        f"Raise the learning rate by 10x{ev.lr_text} or run keras_lossopt.find_learning_rate; "
        "if it still does not move, check that gradients reach the weights.")


def plateau_high(ev):
    """Flat (or barely moved) at more than `high` times the reference loss."""
    x, t = ev.numbers, ev.t
    flat = _judged(ev) and x["tail_change"] < t.flat
    reference = _reference(ev)
    if not ((flat or (x["drop"] < t.low_drop and _judged(ev)))
            and x["recent_loss"] > t.high * reference):
        return None
    return (
        f"The loss flattened at {x['recent_loss']:.4g}, still "
        f"{x['recent_loss'] / reference:.0%} of the reference {reference:.4g}"
        + (" (chance level)." if ev.baseline is not None else "."),
        _shown(ev, {"reference_loss": reference}),
        "Try a learning-rate schedule (ReduceLROnPlateau or a cosine decay) or a model "
        "with more capacity, and check that the inputs carry signal.")


def converged(ev):
    """Flat at a low value."""
    x = ev.numbers
    if not (_judged(ev) and x["tail_change"] < ev.t.flat):
        return None
    return (f"The loss flattened at {x['recent_loss']:.4g} ({x['drop']:.0%} below its "
            "start).",
            _shown(ev),
            "Training is done: stop here (EarlyStopping) or lower the learning rate to "
            "fine-tune.")


def healthy(ev):
    """Still improving (what is left when nothing else fired)."""
    x = ev.numbers
    return (f"The loss is still falling ({x['drop']:.0%} below its start, "
            f"{x['tail_change']:.1%} of it over the last third).",
            _shown(ev),
            "Keep training: more epochs should lower the loss further.")


@dataclasses.dataclass(frozen=True)
class Rule:
    """One verdict: its code, severity, the check and how it combines with others."""

    code: str
    severity: str
    check: object  # Evidence -> (message, evidence, advice) or None
    final: bool = False  # a fired final rule ends the diagnosis
    trend: bool = False  # one of the mutually exclusive training-curve verdicts


RULES = (
    Rule("diverged", "fatal", nonfinite, final=True),
    Rule("diverged", "fatal", exploded, final=True),
    Rule("insufficient_data", "info", insufficient, final=True),
    Rule("lr_too_high", "warning", oscillating),
    Rule("overfitting", "warning", overfitting),
    Rule("generalization_gap", "warning", generalization_gap),
    Rule("no_better_than_chance", "warning", chance_level),
    Rule("lr_too_low", "warning", lr_too_low, trend=True),
    Rule("plateau_high", "warning", plateau_high, trend=True),
    Rule("converged", "info", converged, trend=True),
    Rule("healthy", "info", healthy, trend=True),
)
CODES = tuple(dict.fromkeys(rule.code for rule in RULES))
_PRIORITY = {code: i for i, code in enumerate(CODES)}


def diagnose(loss, val_loss=None, batch_loss=None, learning_rate=None, baseline_loss=None,
             weight_change=None, thresholds=None, *, initial_loss=None,
             val_baseline_loss=None, val_accuracy=None, majority_accuracy=None):
    """Diagnoses a training run from its loss history.

    Runs the rules of `RULES` in order (see the module docstring for the codes).
    The trend (drop from the start, flatness of the last third) is read from the
    epoch losses when there are at least 3 of them (they average out minibatch
    noise), otherwise from the batch losses; oscillation and divergence are read
    from the batch losses when given. All thresholds are relative (see
    `Thresholds`), so they hold for any loss scale.

    Args:
        loss: training loss per epoch (e.g. `history.history["loss"]`).
        val_loss: validation loss per epoch. Defaults to `None`.
        batch_loss: training loss per batch. Defaults to `None`.
        learning_rate: the learning rate used (quoted in the advice). Defaults
            to `None`.
        baseline_loss: the chance level of the training loss: the loss of the
            best constant prediction (`TrainingDoctor` computes it from the
            labels). Defaults to `None` (unknown; the initial loss is the
            reference "high" loss).
        weight_change: relative change of the weights over the run,
            `||w_end - w_start|| / ||w_start||` (the callback measures it); it
            separates "the optimizer barely moved" (learning rate too low) from
            "it moved but the loss stayed high" (plateau). Defaults to `None`.
        thresholds: a `Thresholds` instance. Defaults to `None` (the defaults).
        initial_loss: the loss before any update (the callback measures it on
            the first training samples). Defaults to `None` (the first recorded
            loss, which is already an epoch's mean when only epochs are logged).
        val_baseline_loss: the chance level of the validation loss. Defaults to
            `None` (`baseline_loss`).
        val_accuracy: validation accuracy per epoch. Defaults to `None`.
        majority_accuracy: the accuracy of always predicting the most frequent
            class. Defaults to `None`.

    Returns:
        A `DoctorReport`.

    Example:

    >>> from keras_lossopt.doctor import diagnose
    >>> diagnose([1.0, 0.5, 0.2, 0.1, 0.05, 0.04, 0.04, 0.04]).primary
    'converged'
    >>> diagnose([1.0, 1.5, 30.0, float("nan")]).primary
    'diverged'
    >>> diagnose([2.5, 2.4, 2.45, 2.4], initial_loss=0.7).primary  # epoch 1 exploded
    'diverged'
    """
    ev = _evidence(loss, val_loss, batch_loss, learning_rate, baseline_loss, weight_change,
                   thresholds, initial_loss, val_baseline_loss, val_accuracy,
                   majority_accuracy)
    history = {"loss": ev.epochs, "val_loss": ev.val, "batch_loss": ev.batches}
    if ev.epochs.size + ev.batches.size + ev.val.size == 0:
        return DoctorReport([_verdict(RULES[2], insufficient(ev))], history)
    verdicts = []
    for rule in RULES:
        if rule.trend and verdicts:
            break
        found = rule.check(ev)
        if found is None:
            continue
        verdicts.append(_verdict(rule, found))
        if rule.final or rule.trend:
            break
    return DoctorReport(verdicts, history)


def _verdict(rule, found):
    message, evidence, advice = found
    return Verdict(rule.code, rule.severity, message, evidence, advice)


# --- The callback ----------------------------------------------------------------------


def _output_width(model):
    from keras_lossopt.doctor.checker import _output_layer, _output_units

    try:
        return _output_units(model, _output_layer(model))
    except Exception:  # noqa: BLE001 - a subclassed model: read it from the labels
        return None


def _initial_loss(model, x, y):
    """The compiled loss (regularization included) at the current weights on (x, y)."""
    pred = model(x, training=False)
    value = model.compute_loss(x=x, y=keras.ops.convert_to_tensor(y), y_pred=pred,
                               training=False)
    return float(np.mean(_keras_compat.to_numpy(value)))


def _head(data, n):
    return keras.tree.map_structure(lambda a: np.asarray(a)[:n], data)


_VAL_ACCURACY_KEYS = ("val_accuracy", "val_acc", "val_binary_accuracy",
                      "val_sparse_categorical_accuracy", "val_categorical_accuracy")
_INITIAL_SAMPLES = 512  # training samples the loss before any update is measured on
_CHANCE_LABELS = 4096  # labels kept for the chance level
_SAMPLE = 4096  # weights per variable kept to measure how far the weights moved


class TrainingDoctor(keras.callbacks.Callback):
    """Watches the loss curves during `fit` and names what it sees.

    Records every batch loss and the epoch losses (training and validation);
    at the end of `fit` (and on `report()`) it diagnoses the run: divergence,
    an oscillating loss (learning rate too high), a loss that barely moves
    (too low), an early high plateau (schedule or capacity), overfitting
    (validation loss rising while training loss falls), convergence, or a
    healthy run still improving. Each verdict carries evidence numbers and a
    concrete next step. With `stop_on_fatal=True` it stops training on a NaN or
    exploding loss.

    Keras 3 logs the running mean of the epoch loss after each batch; the doctor
    recovers each batch loss as `k * mean_k - (k - 1) * mean_{k-1}` (exact for
    equal batch sizes). Its per-batch work is one float conversion and a list
    append, dispatched off the training loop where Keras allows it (JAX,
    PyTorch); see benchmarks/doctor_overhead.py.

    Args:
        stop_on_fatal: stop training on a fatal verdict. Defaults to `False`.
        verbose: 1 prints the report at the end of `fit`, 0 is silent. Defaults
            to `1`.
        baseline_loss: the reference "high" loss. Defaults to `None` (the
            chance-level cross-entropy for classification losses, else the
            initial loss).
        record_batches: record batch losses. Defaults to `True`.
        thresholds: a `Thresholds` instance. Defaults to `None`.

    Example:

    >>> import numpy as np, keras, keras_lossopt
    >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer=keras.optimizers.SGD(50.0), loss="mse")
    >>> doctor = keras_lossopt.callbacks.TrainingDoctor(verbose=0)
    >>> x = np.linspace(-1, 1, 32)[:, None]
    >>> _ = model.fit(x, 3 * x, batch_size=8, epochs=3, callbacks=[doctor], verbose=0)
    >>> doctor.report().primary
    'diverged'
    """

    # Not async-safe: run in Keras's callback thread on JAX, reading a batch's
    # logged loss raced with the next step donating that buffer ("Array has been
    # deleted"), and stop_on_fatal must set `stop_training` in step with the loop.
    async_safe = False

    def __init__(self, stop_on_fatal=False, verbose=1, baseline_loss=None,
                 record_batches=True, thresholds=None, data=None, validation_labels=None):
        super().__init__()
        _checks.check_choice("verbose", verbose, (0, 1, 2, False, True))
        if baseline_loss is not None:
            _checks.check_positive("baseline_loss", baseline_loss)
        self.stop_on_fatal = bool(stop_on_fatal)
        self.verbose = int(verbose)
        self.baseline_loss = baseline_loss
        self.record_batches = bool(record_batches)
        self.thresholds = thresholds or Thresholds()
        self.set_data(data, validation_labels)
        self._reset()

    def set_data(self, data=None, validation_labels=None):
        """Gives the doctor the training data `(x, y)` and the validation labels.

        From them it measures the loss before any update (on the first
        `_INITIAL_SAMPLES` training samples, at the start of `fit`) and the chance
        levels: the loss of the best constant prediction (class frequencies or the
        target mean, see `keras_lossopt.doctor._curves.chance_level`) on the
        training and on the validation labels, and the majority-class accuracy.
        """
        if data is not None and (not isinstance(data, (tuple, list)) or len(data) != 2):
            raise ValueError("`data` must be a pair `(x, y)` of training inputs and labels. "
                             f"Received: data of type {type(data).__name__}")
        self.data = None if data is None else (_head(data[0], _CHANCE_LABELS),
                                               _head(data[1], _CHANCE_LABELS))
        self.validation_labels = None if validation_labels is None else _head(
            validation_labels, _CHANCE_LABELS)
        self._chance = None

    def _reset(self):
        self._records = []  # (epoch, batch, running mean loss) in arrival order
        self._batch_cache = None
        self.epoch_losses = []
        self.val_losses = []
        self.epoch_end_steps = []
        self.stopped_early = False
        self._epoch = 0
        self._first = None
        self._report = None
        self._start_weights = None
        self.initial_loss = None
        self.val_accuracies = []

    @property
    def batch_losses(self):
        """The loss of each training batch, recovered from Keras's running means."""
        if self._batch_cache is None or self._batch_cache[0] != len(self._records):
            losses, prev_epoch, recovery = [], None, _curves.RunningMeanRecovery()
            for epoch, batch, mean in sorted(self._records, key=lambda r: (r[0], r[1])):
                if epoch != prev_epoch:
                    prev_epoch = epoch
                    recovery.reset()
                losses.append(recovery.add(batch + 1, mean))
            self._batch_cache = (len(self._records), losses)
        return list(self._batch_cache[1])

    def _weight_sample(self):
        """Up to `_SAMPLE` leading values of each trainable variable, as float64."""
        return [
            np.array(_keras_compat.to_numpy(v), dtype="float64").ravel()[:_SAMPLE]
            for v in self.model.trainable_variables
        ]

    def weight_change(self):
        """`||w_now - w_start|| / ||w_start||` over a sample of the weights, or None."""
        if not self._start_weights or self.model is None:
            return None
        try:
            now = self._weight_sample()
        except Exception:  # noqa: BLE001 - e.g. JAX state not attached mid-epoch
            return None
        diff = math.sqrt(sum(float(np.sum((a - b) ** 2))
                             for a, b in zip(now, self._start_weights)))
        norm = math.sqrt(sum(float(np.sum(b ** 2)) for b in self._start_weights))
        return diff / norm if norm > 0 else None

    def on_train_begin(self, logs=None):
        self._reset()
        try:
            self._start_weights = self._weight_sample()
        except Exception:  # noqa: BLE001 - the weight change is optional evidence
            self._start_weights = None
        if self.data is not None:
            x, y = self.data
            try:
                self.initial_loss = _initial_loss(self.model, _head(x, _INITIAL_SAMPLES),
                                                  _head(y, _INITIAL_SAMPLES))
            except Exception:  # noqa: BLE001 - optional evidence (e.g. a custom train_step)
                self.initial_loss = None
            if self.initial_loss is not None and math.isfinite(self.initial_loss):
                self._first = self.initial_loss  # stop_on_fatal measures from it too

    def chance_levels(self):
        """`(train_chance_loss, val_chance_loss, majority_accuracy)` from the labels given
        (`data`, `validation_labels`); Nones when unknown."""
        if self._chance is None:
            self._chance = (None, None, None)
            if self.data is not None and self.model is not None:
                loss, units = getattr(self.model, "loss", None), _output_width(self.model)
                train, majority = _curves.chance_level(loss, self.data[1], units)
                val = None
                if self.validation_labels is not None:
                    val, majority = _curves.chance_level(loss, self.data[1], units,
                                                         y_eval=self.validation_labels)
                self._chance = (train, val, majority)
        return self._chance

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        # Only record here; the batch losses are put in order when they are read.
        if not self.record_batches or not logs or "loss" not in logs:
            return
        mean = float(logs["loss"])
        self._records.append((self._epoch, batch, mean))
        if self.stop_on_fatal:
            # The running mean turns NaN with the first NaN batch, and jumps
            # when one batch explodes.
            if self._first is None and batch == 0:
                self._first = mean
            exploded = (self._first is not None and self._first > 0
                        and mean > 10 * self.thresholds.explode_factor * self._first)
            if not math.isfinite(mean) or exploded:
                self.stopped_early = True
                self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if "loss" in logs:
            self.epoch_losses.append(float(logs["loss"]))
            self.epoch_end_steps.append(len(self._records))
        if "val_loss" in logs:
            self.val_losses.append(float(logs["val_loss"]))
        accuracy = next((logs[k] for k in _VAL_ACCURACY_KEYS if k in logs), None)
        if accuracy is not None:
            self.val_accuracies.append(float(accuracy))
        if self.stop_on_fatal and not self.model.stop_training:
            # Mid-fit the weights are not read: on JAX the trainer holds (and
            # donates) their buffers until fit ends, and a fatal verdict comes
            # from the losses alone.
            if self.report(read_weights=False).severity == "fatal":
                self.stopped_early = True
                self.model.stop_training = True

    def on_train_end(self, logs=None):
        report = self.report()
        if self.verbose:
            print(report)

    def _learning_rate(self):
        try:
            return float(_keras_compat.to_numpy(self.model.optimizer.learning_rate))
        except Exception:  # noqa: BLE001 - only used in the advice text
            return None

    def report(self, read_weights=True):
        """Diagnoses what was recorded so far; returns a `DoctorReport`.

        `read_weights=False` leaves out the weight-change evidence (used while
        fit is running).
        """
        train_chance, val_chance, majority = self.chance_levels()
        baseline = self.baseline_loss if self.baseline_loss is not None else train_chance
        report = diagnose(
            self.epoch_losses,
            val_loss=self.val_losses if len(self.val_losses) == len(self.epoch_losses)
            else None,
            batch_loss=self.batch_losses,
            learning_rate=self._learning_rate() if self.model is not None else None,
            baseline_loss=baseline,
            weight_change=self.weight_change() if read_weights else None,
            thresholds=self.thresholds,
            initial_loss=self.initial_loss,
            val_baseline_loss=val_chance,
            val_accuracy=self.val_accuracies
            if len(self.val_accuracies) == len(self.epoch_losses) else None,
            majority_accuracy=majority,
        )
        report.context = {"initial_loss": self.initial_loss, "chance_loss": baseline,
                          "val_chance_loss": val_chance, "majority_accuracy": majority}
        report.history["epoch_end_step"] = np.asarray(self.epoch_end_steps, dtype="float64")
        if self.stopped_early:
            report.history["stopped_early"] = np.asarray([1.0])
        self._report = report
        return report

    def plot(self, path=None, ax=None):
        """The loss curves with the verdicts marked (needs matplotlib)."""
        return self.report().plot(path=path, ax=ax)
