"""The training doctor: names what a loss curve shows, with evidence and a next step.

`TrainingDoctor` is a Keras callback that records the batch and epoch losses
(train and validation) during `fit`; `diagnose(...)` turns such a history into a
`DoctorReport`. Both work on every backend: the callback only reads the logs
Keras already computes.

Verdict codes (most important first): "diverged" (fatal), "lr_too_high"
(oscillating with no downward trend), "overfitting", "lr_too_low" (barely
moving), "plateau_high" (flat at a high value), "converged" (flat at a low
value), "healthy" (still improving), "insufficient_data".
"""

import dataclasses
import json
import math

import keras
import numpy as np

from keras_lossopt import _checks, _keras_compat

__all__ = ["DoctorReport", "TrainingDoctor", "Verdict", "diagnose"]

CODES = ("diverged", "lr_too_high", "overfitting", "lr_too_low", "plateau_high",
         "converged", "healthy", "insufficient_data")
_PRIORITY = {code: i for i, code in enumerate(CODES)}
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

    def __init__(self, verdicts, history=None):
        self.verdicts = sorted(verdicts, key=lambda v: _PRIORITY.get(v.code, len(CODES)))
        self.history = dict(history or {})

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


# --- The diagnosis ---------------------------------------------------------------------


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


def _median(values):
    values = np.asarray(values, dtype="float64")
    return float(np.median(values)) if values.size else float("nan")


def diagnose(loss, val_loss=None, batch_loss=None, learning_rate=None, baseline_loss=None,
             weight_change=None, thresholds=None):
    """Diagnoses a training run from its loss history.

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
        baseline_loss: a reference "high" loss, e.g. the chance-level cross-
            entropy ln(K). Defaults to `None` (the initial loss).
        weight_change: relative change of the weights over the run,
            `||w_end - w_start|| / ||w_start||` (the callback measures it); it
            separates "the optimizer barely moved" (learning rate too low) from
            "it moved but the loss stayed high" (plateau). Defaults to `None`.
        thresholds: a `Thresholds` instance. Defaults to `None` (the defaults).

    Returns:
        A `DoctorReport`.

    Example:

    >>> from keras_lossopt.doctor import diagnose
    >>> diagnose([1.0, 0.5, 0.2, 0.1, 0.05, 0.04, 0.04, 0.04]).primary
    'converged'
    >>> diagnose([1.0, 1.5, 30.0, float("nan")]).primary
    'diverged'
    """
    t = thresholds or Thresholds()
    epochs = np.asarray(loss if loss is not None else [], dtype="float64").ravel()
    val = np.asarray(val_loss if val_loss is not None else [], dtype="float64").ravel()
    batches = np.asarray(batch_loss if batch_loss is not None else [], dtype="float64").ravel()
    history = {"loss": epochs, "val_loss": val, "batch_loss": batches}
    # The finest curve: batch losses when there are enough of them (a run stopped
    # after a few batches still shows its divergence), else epoch losses.
    fine = batches if batches.size >= min(t.min_points, max(2, epochs.size + 1)) else epochs
    if epochs.size >= t.min_epochs:
        trend, unit = epochs, "epoch"
    elif batches.size >= t.min_points:
        trend, unit = batches, "step"
    else:
        trend, unit = epochs, "epoch"
    fine_unit = "step" if fine is batches else "epoch"
    lr_text = f" (now {learning_rate:.3g})" if learning_rate else ""
    verdicts = []

    # 1. Divergence: NaN/inf anywhere, or a loss that blew up.
    all_values = np.concatenate([epochs, batches, val])
    if all_values.size == 0:
        return DoctorReport([_insufficient(0, t)], history)
    series = fine if fine.size else all_values
    bad = np.flatnonzero(~np.isfinite(series))
    if bad.size or not np.all(np.isfinite(all_values)):
        first = int(bad[0]) if bad.size else -1
        finite = series[np.isfinite(series)]
        verdicts.append(Verdict(
            "diverged", "fatal",
            f"The loss became NaN or infinite (first at {fine_unit} {first + 1})."
            if bad.size else "The loss became NaN or infinite.",
            {f"first_nonfinite_{fine_unit}": first + 1,
             "last_finite_loss": float(finite[-1]) if finite.size else float("nan")},
            f"Lower the learning rate by 10x{lr_text} or run keras_lossopt.find_learning_rate; "
            "clipnorm=1.0 also guards against exploding gradients.",
        ))
        return DoctorReport(verdicts, history)

    n_fine = fine.size
    w_fine = max(1, n_fine // 10)
    initial = float(fine[0]) if n_fine else float("nan")  # the loss at the initial weights
    latest = _median(fine[-w_fine:]) if n_fine else float("nan")
    if n_fine >= 2 and initial > 0 and latest > t.explode_factor * initial:
        verdicts.append(Verdict(
            "diverged", "fatal",
            f"The loss exploded from {initial:.4g} to {latest:.4g} "
            f"({latest / initial:.1f}x its start).",
            {"start_loss": initial, "recent_loss": latest, "max_loss": float(fine.max()),
             "ratio": latest / initial},
            f"Lower the learning rate by 10x{lr_text} or run keras_lossopt.find_learning_rate.",
        ))
        return DoctorReport(verdicts, history)
    if trend.size < (t.min_epochs if trend is epochs else t.min_points):
        return DoctorReport([_insufficient(trend.size, t)], history)

    n = trend.size
    w = 1 if trend is epochs else max(1, n // 10)
    start = _median(trend[:w])
    recent = _median(trend[-w:])
    scale = max(abs(start), 1e-12)
    drop = (start - recent) / scale
    tail = fine[-max(3, n_fine // 2):]
    oscillation = _median(np.abs(np.diff(tail))) / max(abs(_median(tail)), 1e-12)
    # Decrease over the last third, relative to the start; and the pace of the
    # last third against the first third (1 = steady, 0 = flattened).
    wt = 1 if trend is epochs else max(1, n // 6)
    a, b = n // 3, n - 1 - n // 3
    first_third = (_median(trend[:wt]) - _median(trend[max(0, a - wt + 1):a + 1])) / scale
    tail_change = (_median(trend[max(0, b - wt + 1):b + 1]) - recent) / scale
    steady = first_third > 0 and tail_change > 0.5 * first_third
    reference = baseline_loss if baseline_loss is not None else (initial if n_fine else start)
    evidence = {"start_loss": start, "recent_loss": recent, "drop": drop,
                "oscillation": oscillation, "tail_change": tail_change,
                f"{unit}s": n}
    if weight_change is not None:
        evidence["weight_change"] = float(weight_change)

    # 2. Oscillating (or spiking) without a downward trend: judged on the fine
    # curve, from the initial loss to the median of its second half.
    level = _median(tail)
    fine_drop = (initial - level) / max(abs(initial), 1e-12)
    spike = float(np.max(fine)) / max(abs(initial), 1e-12)
    evidence.update(initial_loss=initial, level=level, spike=spike)
    if fine_drop < t.trend_drop and (oscillation > t.oscillation or spike > t.spike_factor):
        verdicts.append(Verdict(
            "lr_too_high", "warning",
            f"The loss oscillates (typical {fine_unit}-to-{fine_unit} change "
            f"{oscillation:.0%} of its level, peak {spike:.1f}x the start) with no "
            f"downward trend ({-fine_drop:+.0%} from its start).",
            evidence,
            f"Lower the learning rate by 3-10x{lr_text} (keras_lossopt.find_learning_rate "
            "suggests one), or use a larger batch.",
        ))

    # 3. Overfitting.
    if val.size >= 3 and epochs.size == val.size:
        best = int(np.argmin(val))
        rise = (val[-1] - val[best]) / max(abs(val[best]), 1e-12)
        train_fall = (epochs[best] - epochs[-1]) / max(abs(epochs[best]), 1e-12)
        if (best <= val.size - 1 - t.overfit_patience and rise > t.overfit_rise
                and train_fall > 0):
            verdicts.append(Verdict(
                "overfitting", "warning",
                f"Validation loss rose {rise:.0%} above its minimum (epoch {best + 1}) "
                f"while training loss kept falling ({train_fall:.0%} lower).",
                {"best_val_epoch": best + 1, "best_val_loss": float(val[best]),
                 "final_val_loss": float(val[-1]), "val_rise": rise,
                 "train_fall": train_fall},
                f"Use the weights of epoch {best + 1} (EarlyStopping(restore_best_weights="
                "True)), add regularization (dropout, weight decay) or more data.",
            ))

    if verdicts:
        return DoctorReport(verdicts, history)
    # A batch curve must be long enough for its tail to say "flat" through the noise.
    judged = trend is epochs or n >= 3 * t.min_points
    flat = judged and tail_change < t.flat
    high = recent > t.high * reference
    barely = drop < t.low_drop
    weights_still = weight_change is not None and weight_change < t.still_weights
    if barely and (weights_still or steady):
        verdicts.append(Verdict(
            "lr_too_low", "warning",
            f"The loss barely moved in {n} {unit}s ({drop:.1%} below its start "
            f"{start:.4g})" + (f" and the weights changed by only {weight_change:.1e}."
                               if weight_change is not None else "."),
            evidence,
            f"Raise the learning rate by 10x{lr_text} or run keras_lossopt.find_learning_rate; "
            "if it still does not move, check that gradients reach the weights.",
        ))
    elif (flat or (barely and judged)) and high:
        verdicts.append(Verdict(
            "plateau_high", "warning",
            f"The loss flattened at {recent:.4g}, still {recent / reference:.0%} of the "
            f"reference {reference:.4g}" + (" (chance level)." if baseline_loss else "."),
            dict(evidence, reference_loss=reference),
            "Try a learning-rate schedule (ReduceLROnPlateau or a cosine decay) or a model "
            "with more capacity, and check that the inputs carry signal.",
        ))
    elif flat:
        verdicts.append(Verdict(
            "converged", "info",
            f"The loss flattened at {recent:.4g} ({drop:.0%} below its start).",
            evidence,
            "Training is done: stop here (EarlyStopping) or lower the learning rate to "
            "fine-tune.",
        ))
    else:
        verdicts.append(Verdict(
            "healthy", "info",
            f"The loss is still falling ({drop:.0%} below its start, {tail_change:.1%} of it "
            "over the last third).",
            evidence,
            "Keep training: more epochs should lower the loss further.",
        ))
    return DoctorReport(verdicts, history)


def _insufficient(n, t):
    return Verdict(
        "insufficient_data", "info",
        f"Only {n} loss points were recorded; the doctor needs at least {t.min_points}.",
        {"points": n, "needed": t.min_points},
        "Train for more steps or epochs before asking for a diagnosis.",
    )


# --- The callback ----------------------------------------------------------------------


def _chance_level(model):
    """ln(K) (ln 2 for one unit) when the compiled loss is a cross-entropy, else None."""
    from keras_lossopt.doctor.checker import _output_layer, _output_units, describe_loss

    try:
        info = describe_loss(getattr(model, "loss", None))
        if info is None or info.kind not in ("binary", "categorical", "sparse"):
            return None
        units = _output_units(model, _output_layer(model))
        if info.kind == "binary" or not units or units == 1:
            return math.log(2.0)
        return math.log(units)
    except Exception:  # noqa: BLE001 - the baseline is optional
        return None


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
                 record_batches=True, thresholds=None):
        super().__init__()
        _checks.check_choice("verbose", verbose, (0, 1, 2, False, True))
        if baseline_loss is not None:
            _checks.check_positive("baseline_loss", baseline_loss)
        self.stop_on_fatal = bool(stop_on_fatal)
        self.verbose = int(verbose)
        self.baseline_loss = baseline_loss
        self.record_batches = bool(record_batches)
        self.thresholds = thresholds or Thresholds()
        self._reset()

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

    @property
    def batch_losses(self):
        """The loss of each training batch, recovered from Keras's running means."""
        if self._batch_cache is None or self._batch_cache[0] != len(self._records):
            losses, prev_epoch, prev_count, prev_mean = [], None, 0, 0.0
            for epoch, batch, mean in sorted(self._records, key=lambda r: (r[0], r[1])):
                if epoch != prev_epoch:
                    prev_epoch, prev_count, prev_mean = epoch, 0, 0.0
                count = batch + 1
                losses.append((count * mean - prev_count * prev_mean)
                              / max(count - prev_count, 1))
                prev_count, prev_mean = count, mean
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
        baseline = self.baseline_loss
        if baseline is None and self.model is not None:
            baseline = _chance_level(self.model)
        report = diagnose(
            self.epoch_losses,
            val_loss=self.val_losses if len(self.val_losses) == len(self.epoch_losses)
            else None,
            batch_loss=self.batch_losses,
            learning_rate=self._learning_rate() if self.model is not None else None,
            baseline_loss=baseline,
            weight_change=self.weight_change() if read_weights else None,
            thresholds=self.thresholds,
        )
        report.history["epoch_end_step"] = np.asarray(self.epoch_end_steps, dtype="float64")
        if self.stopped_early:
            report.history["stopped_early"] = np.asarray([1.0])
        self._report = report
        return report

    def plot(self, path=None, ax=None):
        """The loss curves with the verdicts marked (needs matplotlib)."""
        return self.report().plot(path=path, ax=ax)
