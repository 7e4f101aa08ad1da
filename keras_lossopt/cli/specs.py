"""What the lab trains, as plain data: losses and optimizers by name, task plans, results.

Nothing here imports Keras: a spec is resolved (`make()`) only when a run starts,
so the command modules can build their plans while the parser is still cheap.
"""

import dataclasses
import math
import traceback

from keras_lossopt.cli._errors import CLIError


@dataclasses.dataclass
class LossSpec:
    """A loss by registered name, with optional hyperparameter overrides."""

    name: str
    overrides: dict = dataclasses.field(default_factory=dict)
    label: str = None

    def __post_init__(self):
        if self.label is None:
            extra = ", ".join(f"{k}={v}" for k, v in self.overrides.items())
            self.label = f"{self.name}({extra})" if extra else self.name

    def make(self):
        """The loss as a `keras.losses.Loss` instance (see `loss_instance`)."""
        from keras_lossopt import losses

        return _resolve(lambda name: loss_instance(losses.get(name), name), self.name,
                        self.overrides)


@dataclasses.dataclass
class OptimizerSpec:
    """An optimizer by registered name, with overrides; `full_batch` trains on
    the whole training split at each step (batch_size = number of rows)."""

    name: str
    overrides: dict = dataclasses.field(default_factory=dict)
    full_batch: bool = False
    label: str = None

    def __post_init__(self):
        if self.label is None:
            self.label = self.name

    def make(self):
        from keras_lossopt import optimizers

        return _resolve(optimizers.get, self.name, self.overrides)


def loss_instance(loss, name):
    """What `model.compile(loss=name)` trains with, as a `keras.losses.Loss`.

    `losses.get` answers some strings ("mse", "mae", "kld", "bce", "dice") with
    Keras's plain function, as `keras.losses.get` does, and `compile` wraps such
    a function in a Loss that averages its per-sample values over the batch. The
    lab calls its losses itself (the validation loss) and reads what they are for
    (task, label format, logits) from their class, so a function becomes that
    Loss here: the Keras class registered under the function's own name when
    Keras maps that name to this same function ("mse" -> `MeanSquaredError`, with
    its registry entry), else a `FunctionLoss` around the function.
    """
    import inspect

    import keras

    from keras_lossopt import registry
    from keras_lossopt.losses.base import FunctionLoss

    if isinstance(loss, keras.losses.Loss) or not callable(loss) or inspect.isclass(loss):
        return loss
    own_name = getattr(loss, "__name__", None)
    entry = registry.lookup("loss", own_name) if own_name else None
    if entry is not None and entry.builtin and _keras_loss(own_name) is loss:
        return entry.cls()
    return FunctionLoss(loss, name=name)


def _keras_loss(name):
    import keras

    try:
        return keras.losses.get(name)
    except (ValueError, TypeError):
        return None


def _resolve(get, name, overrides):
    """`get(name)`, then rebuilt from its config with `overrides` applied."""
    try:
        obj = get(name)
    except ValueError as error:
        raise CLIError(str(error).splitlines()[0]) from error
    if not overrides:
        return obj
    config = obj.get_config()
    unknown = sorted(set(overrides) - set(config))
    if unknown:
        raise CLIError(f"{name!r} has no argument {unknown[0]!r}; it takes "
                       f"{', '.join(sorted(config))}.")
    config.update(overrides)
    return type(obj).from_config(config)


@dataclasses.dataclass
class TaskPlan:
    """What to train on one data set: every loss x every optimizer."""

    key: str  # short name used in file names ("regression", "mydata")
    dataset: object  # cli.data.Dataset
    losses: list
    optimizers: list
    epochs: int
    batch_size: int
    goal: float  # metric value to reach (MAE <= goal, or accuracy >= goal)

    @property
    def metric(self):
        return "val_mae" if self.dataset.task == "regression" else "val_accuracy"

    @property
    def n_runs(self):
        return len(self.losses) * len(self.optimizers)

    def reached(self, value):
        if value is None or not math.isfinite(value):
            return False
        return value <= self.goal if self.dataset.task == "regression" else value >= self.goal


@dataclasses.dataclass
class RunResult:
    """One finished training run and the numbers the tables and plots show."""

    task: str
    dataset: str
    loss: str
    optimizer: str
    learning_rate: float
    batch_size: int
    epochs: int
    metric: str
    goal: float
    final_val_loss: float
    best_val_loss: float
    best_epoch: int
    final_metric: float
    best_metric: float
    epochs_to_goal: int
    wall_time_s: float
    doctor: str
    history: dict
    doctor_report: dict = None
    error: str = None  # "ExceptionType: message" when the run failed
    traceback: str = None  # the failed run's full traceback (report.json, not the CSV)
    seed: int = None
    test_loss: float = None  # on the test split (when the data set has one)
    test_metric: float = None
    role: str = None  # "lr_trial" or "seed" under the protocol (cli.protocol)

    def row(self):
        """The flat (CSV) form: everything but the per-epoch history and the traceback."""
        out = dataclasses.asdict(self)
        out.pop("history")
        out.pop("doctor_report")
        out.pop("traceback")
        return out


def describe_error(error):
    """`("ExceptionType: first line of the message", full traceback)` of a failed run."""
    message = (str(error).strip().splitlines() or [""])[0][:300]
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return f"{type(error).__name__}: {message}", text


def failed_result(plan, loss_spec, optimizer_spec, error):
    """The RunResult of a run that raised: NaN numbers, doctor "error", the message
    (its first line) and the full traceback."""
    message, trace = describe_error(error)
    nan = float("nan")
    return RunResult(
        task=plan.dataset.task, dataset=plan.dataset.name, loss=loss_spec.label,
        optimizer=optimizer_spec.label, learning_rate=None, batch_size=plan.batch_size,
        epochs=plan.epochs, metric=plan.metric, goal=plan.goal, final_val_loss=nan,
        best_val_loss=nan, best_epoch=None, final_metric=nan, best_metric=nan,
        epochs_to_goal=None, wall_time_s=0.0, doctor="error",
        history={"loss": [], "val_loss": [], plan.metric: []},
        error=message, traceback=trace,
    )
