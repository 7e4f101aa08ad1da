"""The lab's training engine: one small model per (loss, optimizer) run, same budget.

Every run of a task gets the same data split, the same architecture, the same
seed (so the same initial weights) and the same number of epochs; only the loss
and the optimizer change. Losses and optimizers are resolved by their string
names through `keras_lossopt.losses.get` / `keras_lossopt.optimizers.get`, and
what a loss is for (its tasks, label format and whether it takes logits) comes
from its registry entry.
"""

import math
import sys
import time

import keras
import numpy as np

from keras_lossopt import _keras_compat, registry
from keras_lossopt.callbacks import TrainingDoctor
from keras_lossopt.cli._errors import CLIError
from keras_lossopt.cli.specs import RunResult, failed_result
from keras_lossopt.doctor.recommend import recommend

HIDDEN_UNITS = 32
# None: one compiled call per epoch (steps_per_execution = steps per epoch).
# Measured on TensorFlow (CPU): 10-30% less CPU time per run than one step per
# call on these tiny data sets; the doctor then sees one batch loss per epoch.
STEPS_PER_EXECUTION = None


def steps_per_execution(steps_per_epoch):
    """`STEPS_PER_EXECUTION`, or one call per epoch; always 1 on PyTorch (Keras's rule)."""
    if keras.backend.backend() == "torch":
        return 1
    return STEPS_PER_EXECUTION or steps_per_epoch


def loss_entry(spec, loss):
    """The registry entry of a resolved loss: by the name it was asked for, else by
    its class (a Keras class asked for by another string). None for a loss the
    registry does not know (say, a plain Keras function)."""
    entry = registry.lookup("loss", spec.name)
    if entry is None:
        entry = next((e for e in registry.entries("loss") if e.cls is type(loss)), None)
    return entry


def takes_logits(loss, entry):
    """Whether `loss` expects logits (so the model ends with a linear layer): its
    `from_logits` setting, or a registry entry whose inputs are logits only."""
    config = loss.get_config() if hasattr(loss, "get_config") else {}
    if config.get("from_logits"):
        return True
    inputs = entry.inputs if entry is not None else None
    return isinstance(inputs, str) and inputs.endswith("_logits")


def integer_labels(entry):
    """Whether a classification loss takes integer class labels (else one-hot), as
    its registry entry says (`labels`)."""
    return entry is not None and entry.labels == "integers"


def fits(entry, task):
    """Whether the loss of `entry` is registered for `task` (unknown losses pass)."""
    return entry is None or not entry.tasks or task in entry.tasks


def _task_mismatch(spec, entry, task):
    return (f"Loss {spec.name!r} is a {'/'.join(entry.tasks)} loss; task {task!r} needs a "
            f"{task} loss such as {recommend(task).loss_name} (see keras-lossopt list).")


def check_task(spec, entry, task):
    """A CLIError unless the loss of `spec` (registry `entry`) is registered for `task`."""
    if not fits(entry, task):
        raise CLIError(_task_mismatch(spec, entry, task))


def check_plans(plans, *, per_task=False):
    """Resolves every loss and optimizer once, before any training starts, then
    checks that each loss is registered for its plan's task.

    With `per_task` (the lab, whose `--losses` serve several tasks) each plan keeps
    the losses registered for its task; a loss that fits no plan, or a plan left
    with no loss, is an error. Otherwise any mismatch is an error.
    """
    entries = {}
    for plan in plans:
        for spec in plan.losses:
            entries[id(spec)] = loss_entry(spec, spec.make())
        for spec in plan.optimizers:
            spec.make()
    if not per_task:
        for plan in plans:
            for spec in plan.losses:
                check_task(spec, entries[id(spec)], plan.dataset.task)
        return plans
    kept_names, unfit = set(), {}
    for plan in plans:
        task = plan.dataset.task
        kept = [s for s in plan.losses if fits(entries[id(s)], task)]
        if not kept:
            first = plan.losses[0]
            raise CLIError(f"None of the --losses fits task {task!r}: "
                           f"{_task_mismatch(first, entries[id(first)], task)} "
                           "Add one, or leave the task out with --tasks.")
        kept_names.update(s.name for s in kept)
        unfit.update((s.name, entries[id(s)]) for s in plan.losses
                     if not fits(entries[id(s)], task))
        plan.losses = kept
    for name, entry in unfit.items():
        if name not in kept_names:
            tasks = ", ".join(p.dataset.task for p in plans)
            raise CLIError(f"Loss {name!r} is a {'/'.join(entry.tasks)} loss and fits none "
                           f"of the tasks run here ({tasks}).")
    return plans


def build_model(dataset, logits):
    """The same small network for every run of a task."""
    task = dataset.task
    if task == "regression":
        units, activation = 1, None
    elif task == "binary":
        units, activation = 1, None if logits else "sigmoid"
    else:
        units, activation = dataset.n_classes, None if logits else "softmax"
    return keras.Sequential([
        keras.Input((dataset.n_features,)),
        keras.layers.Dense(HIDDEN_UNITS, activation="relu"),
        keras.layers.Dense(units, activation=activation),
    ])


def labels_for(dataset, y, sparse):
    """`y` as the loss wants it: a (n, 1) float column for binary tasks, one-hot rows
    for a multiclass loss that does not take integer labels."""
    if dataset.task == "binary":
        return y.reshape(-1, 1).astype("float32")
    if dataset.task == "multiclass" and not sparse:
        return np.eye(dataset.n_classes, dtype="float32")[y]
    return y


class ValidationLogger(keras.callbacks.Callback):
    """Adds `val_loss` and `val_<metric>` to the epoch logs with one forward pass.

    Does what `fit(validation_data=...)` does for a validation set that fits in
    one batch, without Keras's evaluation loop (which costs more than the
    training epoch itself on these tiny data sets). Put it before the callbacks
    that read `val_loss` (the doctor); `History` records what it adds.
    """

    def __init__(self, x, y, loss, metric_name, metric_fn):
        super().__init__()
        self.x, self.y, self.loss = x, y, loss
        self.metric_name, self.metric_fn = metric_name, metric_fn

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        y_pred = self.model(self.x, training=False)
        logs["val_loss"] = float(keras.ops.convert_to_numpy(self.loss(self.y, y_pred)))
        logs[self.metric_name] = self.metric_fn(
            self.y, np.asarray(keras.ops.convert_to_numpy(y_pred), dtype="float64"))


def _numpy_metric(task, logits, sparse):
    """The validation metric in numpy: MAE, or accuracy."""
    if task == "regression":
        return lambda y, p: float(np.mean(np.abs(p - y)))
    if task == "binary":
        threshold = 0.0 if logits else 0.5
        return lambda y, p: float(np.mean((p > threshold) == (y > 0.5)))
    if sparse:
        return lambda y, p: float(np.mean(np.argmax(p, -1) == np.asarray(y).reshape(-1)))
    return lambda y, p: float(np.mean(np.argmax(p, -1) == np.argmax(y, -1)))


def make_doctor():
    """The `TrainingDoctor` that watches every run (quietly; it never stops one)."""
    return TrainingDoctor(stop_on_fatal=False, verbose=0)


def _float_or_none(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _clean(values):
    return [float(v) if v is not None and math.isfinite(float(v)) else float("nan")
            for v in values]


def train_one(plan, loss_spec, optimizer_spec, *, seed=0, doctor_factory=make_doctor,
              learning_rate=None):
    """Trains one run and returns its `RunResult`; `learning_rate` replaces the
    optimizer's (a wrapper's sets its inner optimizer's). With a test split in the
    data set, the final model is scored on it once, after training."""
    dataset = plan.dataset
    # No keras.backend.clear_session() here: its gc.collect() costs more than a
    # whole run; the finished models are simply dropped.
    keras.utils.set_random_seed(seed)
    loss = loss_spec.make()
    optimizer = optimizer_spec.make()
    if learning_rate is not None:
        optimizer.learning_rate = learning_rate
    entry = loss_entry(loss_spec, loss)
    logits = takes_logits(loss, entry)
    sparse = integer_labels(entry)
    model = build_model(dataset, logits)
    n = len(dataset.x_train)
    batch_size = n if optimizer_spec.full_batch else min(plan.batch_size, n)
    steps = steps_per_execution(math.ceil(n / batch_size))
    model.compile(optimizer=optimizer, loss=loss, steps_per_execution=steps)
    metric_fn = _numpy_metric(dataset.task, logits, sparse)
    validation = ValidationLogger(
        dataset.x_val, labels_for(dataset, dataset.y_val, sparse), loss, plan.metric,
        metric_fn)
    doctor = doctor_factory() if doctor_factory is not None else None
    y_train = labels_for(dataset, dataset.y_train, sparse)
    if doctor is not None and hasattr(doctor, "set_data"):
        # The doctor measures the loss before any update and the chance levels from them.
        doctor.set_data((dataset.x_train, y_train), validation.y)
    start = time.perf_counter()
    history = model.fit(
        dataset.x_train, y_train,
        batch_size=batch_size, epochs=plan.epochs, verbose=0, shuffle=True,
        callbacks=[validation] + ([doctor] if doctor is not None else []),
    ).history
    wall = time.perf_counter() - start
    scale = dataset.target_scale if dataset.task == "regression" else 1.0
    test_loss = test_metric = None
    if dataset.x_test is not None:
        test = ValidationLogger(dataset.x_test, labels_for(dataset, dataset.y_test, sparse),
                                loss, "test_metric", metric_fn)
        test.set_model(model)
        scores = {}
        test.on_epoch_end(plan.epochs, scores)
        test_loss = _clean([scores["val_loss"]])[0]
        test_metric = _clean([scores["test_metric"]])[0] * scale
    curves = {
        "loss": _clean(history.get("loss", [])),
        "val_loss": _clean(history.get("val_loss", [])),
        plan.metric: [v * scale for v in _clean(history.get(plan.metric, []))],
    }
    val_loss = np.asarray(curves["val_loss"], dtype="float64")
    metric = curves[plan.metric]
    finite = np.isfinite(val_loss)
    best_epoch = int(np.nanargmin(val_loss)) + 1 if finite.any() else None
    finite_metric = [v for v in metric if math.isfinite(v)]
    if dataset.task == "regression":
        best_metric = min(finite_metric) if finite_metric else float("nan")
    else:
        best_metric = max(finite_metric) if finite_metric else float("nan")
    to_goal = next((i + 1 for i, v in enumerate(metric) if plan.reached(v)), None)
    report = doctor.report() if doctor is not None else None
    return RunResult(
        task=dataset.task, dataset=dataset.name, loss=loss_spec.label,
        optimizer=optimizer_spec.label,
        learning_rate=_float_or_none(keras.ops.convert_to_numpy(optimizer.learning_rate)),
        batch_size=batch_size, epochs=plan.epochs, metric=plan.metric, goal=plan.goal,
        final_val_loss=float(val_loss[-1]) if len(val_loss) else float("nan"),
        best_val_loss=float(np.nanmin(val_loss)) if finite.any() else float("nan"),
        best_epoch=best_epoch,
        final_metric=metric[-1] if metric else float("nan"),
        best_metric=best_metric, epochs_to_goal=to_goal, wall_time_s=round(wall, 3),
        doctor=report.primary if report is not None else "n/a",
        history=curves,
        doctor_report=report.to_dict() if report is not None else None,
        seed=seed, test_loss=test_loss, test_metric=test_metric,
    )


class Progress:
    """Overall progress (Keras's Progbar on a terminal) plus one line per finished run."""

    def __init__(self, total, stream=None, quiet=False):
        self.total = total
        self.done = 0
        self.quiet = quiet
        self.stream = stream or sys.stdout
        self.start = time.perf_counter()
        self.bar = None
        if not quiet and total and getattr(self.stream, "isatty", lambda: False)():
            self.bar = keras.utils.Progbar(total, unit_name="run")

    def _write(self, text):
        if self.quiet:
            return
        if self.bar is not None:
            # Erase the bar, print the line, redraw the bar below it.
            self.stream.write("\r\x1b[K")
            _keras_compat.progbar_forget_line(self.bar)
        self.stream.write(text + "\n")
        self.stream.flush()
        if self.bar is not None:
            self.bar.update(self.done, finalize=self.done >= self.total)

    per_pair = 1  # trainings per (loss, optimizer): the protocol sets K + S - 1

    def begin_task(self, plan):
        n_runs = plan.n_runs * self.per_pair
        runs = f"{n_runs} run{'s' if n_runs != 1 else ''}"
        epochs = f"{plan.epochs} epoch{'s' if plan.epochs != 1 else ''}"
        self._write(f"== {plan.key}: {plan.dataset.describe()}; {runs} of {epochs}")

    def finish_run(self, result):
        self.done += 1
        width = len(str(self.total))
        metric = "MAE" if result.task == "regression" else "acc"
        if result.error:
            self._write(f"[{self.done:>{width}}/{self.total}] {result.loss:<28} "
                        f"{result.optimizer:<17} FAILED: {result.error}")
            return
        setting = ""
        if result.role is not None:
            setting = f"lr {_fmt(result.learning_rate, 3):<7} seed {result.seed}  "
        self._write(
            f"[{self.done:>{width}}/{self.total}] {result.loss:<28} {result.optimizer:<17} "
            f"{setting}"
            f"val_loss {_fmt(result.final_val_loss)}  {metric} {_fmt(result.final_metric)}  "
            f"{result.wall_time_s:5.1f}s  doctor: {result.doctor}"
        )

    def close(self, interrupted=False):
        if self.quiet:
            return
        if self.bar is not None:
            self.stream.write("\n")
        elapsed = time.perf_counter() - self.start
        state = "interrupted after" if interrupted else "finished"
        self.stream.write(f"{state} {self.done}/{self.total} runs in {elapsed:.0f}s\n")
        self.stream.flush()


def _fmt(value, digits=4):
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan"
    return f"{value:.{digits}g}"


def run_plans(plans, *, seed=0, progress=None, train=None, doctor_factory=make_doctor):
    """Runs every plan; returns `(results, interrupted)`.

    Ctrl-C (KeyboardInterrupt) stops the current run; the finished runs are
    returned so their results can still be written. A run that raises any other
    exception (say, a loss that does not fit the labels) is recorded as failed,
    with its error message, and the others go on.
    """
    results = []
    progress = progress or Progress(sum(p.n_runs for p in plans), quiet=True)
    try:
        for plan in plans:
            progress.begin_task(plan)
            for loss_spec in plan.losses:
                for optimizer_spec in plan.optimizers:
                    result = run_one(plan, loss_spec, optimizer_spec, seed=seed, train=train,
                                     doctor_factory=doctor_factory)
                    results.append(result)
                    progress.finish_run(result)
    except KeyboardInterrupt:
        progress.close(interrupted=True)
        return results, True
    progress.close()
    return results, False


def run_one(plan, loss_spec, optimizer_spec, *, seed=0, learning_rate=None, train=None,
            doctor_factory=make_doctor):
    """One training (`train`, default `train_one`); a run that raises anything but
    KeyboardInterrupt comes back as a failed RunResult with its error message."""
    train = train or train_one
    kwargs = {"learning_rate": learning_rate} if learning_rate is not None else {}
    try:
        return train(plan, loss_spec, optimizer_spec, seed=seed,
                     doctor_factory=doctor_factory, **kwargs)
    except Exception as error:  # noqa: BLE001 - reported in the table
        result = failed_result(plan, loss_spec, optimizer_spec, error)
        result.seed, result.learning_rate = seed, learning_rate
        return result
