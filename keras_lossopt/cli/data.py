"""Data for the lab: scikit-learn's bundled data sets and the user's own CSV files.

Everything here is numpy; scikit-learn is imported lazily (only when a bundled
data set is loaded), so `import keras_lossopt` never needs it.
"""

import csv
import dataclasses
import difflib
import math
import os

import numpy as np

from keras_lossopt.cli._errors import CLIError, missing_extra
from keras_lossopt.cli.common import DATASETS, TASKS

_MISSING = {"", "na", "nan", "n/a", "null", "none", "?"}


@dataclasses.dataclass
class Dataset:
    """A task's data, split and standardized, ready for `fit`.

    Features are standardized with the training split's mean and standard
    deviation. A regression target is standardized too (`target_mean`,
    `target_scale` turn predictions and errors back into the target's units);
    a classification target is encoded as integers 0..n_classes-1 (`classes`
    holds the original labels in that order).
    """

    name: str
    task: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    feature_names: list
    classes: list = None
    target_mean: float = 0.0
    target_scale: float = 1.0
    target: str = None  # the CSV column predicted (None for a bundled data set)
    task_reason: str = None  # why the task was inferred; None when it was given
    x_test: np.ndarray = None  # the protocol's test split (cli.protocol.split_test)
    y_test: np.ndarray = None

    @property
    def n_classes(self):
        return len(self.classes) if self.classes is not None else 0

    @property
    def n_features(self):
        return self.x_train.shape[1]

    def target_info(self):
        """What the target is and how it was encoded (for report.json)."""
        info = {"target": self.target, "task": self.task, "task_inferred": self.task_reason}
        if self.classes is None:
            info.update(target_mean=self.target_mean, target_scale=self.target_scale)
        else:
            info["classes"] = {str(i): label for i, label in enumerate(self.classes)}
            if self.task == "binary":
                info["positive_class"] = self.classes[1]
        return info

    def target_lines(self, shown=10):
        """The task (inferred or given) and the class encoding, for the terminal."""
        column = f"Target {self.target!r}" if self.target else f"Target of {self.name}"
        if self.task_reason:
            how = f"inferred from the target: {self.task_reason}; --task overrides"
        else:
            how = "given by --task" if self.target else "the data set's task"
        lines = [f"{column}: task {self.task} ({how})"]
        if self.classes is not None:
            pairs = [f"{i} = {label!r}" for i, label in enumerate(self.classes[:shown])]
            more = f", ... ({self.n_classes} classes)" if self.n_classes > shown else ""
            lines.append(f"  class encoding (index = label): {', '.join(pairs)}{more}")
            if self.task == "binary":
                lines.append(f"  positive class (1, the model's probability): "
                             f"{self.classes[1]!r}")
        return lines

    def describe(self):
        kind = f"{self.n_classes} classes" if self.classes is not None else "numeric target"
        test = f" / {len(self.x_test)} test" if self.x_test is not None else ""
        return (f"{self.name}: {self.task}, {len(self.x_train)} train / {len(self.x_val)} "
                f"validation{test} rows, {self.n_features} features, {kind}")


def split_and_scale(name, task, x, y, *, val_fraction=0.2, seed=0, feature_names=None,
                    classes=None):
    """Shuffles with a fixed seed, holds out `val_fraction`, standardizes."""
    x = np.asarray(x, dtype="float64")
    n = len(x)
    n_val = max(1, int(round(n * val_fraction)))
    if n - n_val < 2:
        raise CLIError(f"{name}: too few rows to split ({n}); the lab needs at least 4.")
    order = np.random.default_rng(seed).permutation(n)
    val_idx, train_idx = order[:n_val], order[n_val:]
    mean = x[train_idx].mean(axis=0)
    std = x[train_idx].std(axis=0)
    std = np.where(std > 0, std, 1.0)
    x = ((x - mean) / std).astype("float32")
    target_mean, target_scale = 0.0, 1.0
    if task == "regression":
        y = np.asarray(y, dtype="float64")
        target_mean = float(y[train_idx].mean())
        target_scale = float(y[train_idx].std()) or 1.0
        y = ((y - target_mean) / target_scale).astype("float32").reshape(-1, 1)
    else:
        y = np.asarray(y, dtype="int32")
    return Dataset(
        name=name, task=task,
        x_train=x[train_idx], y_train=y[train_idx], x_val=x[val_idx], y_val=y[val_idx],
        feature_names=list(feature_names or [f"x{i}" for i in range(x.shape[1])]),
        classes=classes, target_mean=target_mean, target_scale=target_scale,
    )


def load_builtin(name, *, val_fraction=0.2, seed=0):
    """One of scikit-learn's bundled data sets (no network), split and scaled."""
    if name not in DATASETS:
        raise CLIError(f"Unknown data set {name!r}; choose one of {', '.join(DATASETS)}.")
    try:
        import sklearn.datasets
    except ImportError as error:
        raise missing_extra("scikit-learn", "lab") from error
    task, loader, _ = DATASETS[name]
    bunch = getattr(sklearn.datasets, loader)()
    classes = None
    if task != "regression":
        classes = [str(c) for c in getattr(bunch, "target_names", np.unique(bunch.target))]
    return split_and_scale(name, task, bunch.data, bunch.target, val_fraction=val_fraction,
                           seed=seed, feature_names=[str(f) for f in bunch.feature_names],
                           classes=classes)


def _as_float(text):
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _sort_labels(labels):
    numeric = [_as_float(label) for label in labels]
    if all(v is not None for v in numeric):
        return [label for _, label in sorted(zip(numeric, labels))]
    return sorted(labels)


def read_csv(path, target, task=None, *, val_fraction=0.2, seed=0):
    """Reads a CSV with a header row: numeric features, a `target` column.

    `task=None` infers the task from the target (`infer_task`); the Dataset's
    `task_reason` then says why. Every error (missing file, a directory, unknown
    column, non-numeric features, missing values, a task that does not fit the
    labels) is a one-line `CLIError` that counts every bad cell, not only the first.
    """
    if task is not None and task not in TASKS:
        raise CLIError(f"--task must be one of {', '.join(TASKS)}. Received: --task={task}")
    header, data = _read_rows(path)
    if target not in header:
        close = difflib.get_close_matches(target, header, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise CLIError(f"Target column {target!r} is not in {path}.{hint} "
                       f"Columns: {', '.join(header)}")
    t = header.index(target)
    feature_idx = [i for i in range(len(header)) if i != t]
    if not feature_idx:
        raise CLIError(f"{path} has no feature columns besides the target {target!r}.")
    x, problems = _features(header, data, feature_idx)
    raw = [row[t].strip() for row in data]
    missing = [line for line, cell in enumerate(raw, start=2) if cell.lower() in _MISSING]
    if missing:
        problems.append(f"target column {target!r} has {_count(missing, 'missing value')} "
                        f"({_lines(missing)}): drop those rows")
    if problems:
        text = "; ".join(problems)
        raise CLIError(f"{path}: {text[0].upper()}{text[1:]}.")
    reason = None
    if task is None:
        task, reason = infer_task(raw, target)
    classes = None
    if task == "regression":
        bad = [(line, cell) for line, cell in enumerate(raw, start=2) if _as_float(cell) is None]
        if bad:
            raise CLIError(f"Task 'regression' needs a numeric target, but column {target!r} "
                           f"holds {_count(bad, 'non-numeric value')} ({_cells(bad)}); use "
                           "--task binary or --task multiclass.")
        y = np.asarray([_as_float(cell) for cell in raw], dtype="float64")
    else:
        classes = _sort_labels(sorted(set(raw)))
        if len(classes) < 2:
            raise CLIError(f"Column {target!r} has a single class ({classes[0]!r}) in every "
                           f"row; nothing to classify: task {task!r} needs at least 2 classes.")
        if task == "binary" and len(classes) != 2:
            shown = ", ".join(classes[:6]) + (", ..." if len(classes) > 6 else "")
            raise CLIError(f"Task 'binary' needs a target with exactly 2 classes, but column "
                           f"{target!r} has {len(classes)} ({shown}); use --task multiclass.")
        index = {label: i for i, label in enumerate(classes)}
        y = np.asarray([index[cell] for cell in raw], dtype="int32")
    name = os.path.splitext(os.path.basename(path))[0]
    dataset = split_and_scale(name, task, x, y, val_fraction=val_fraction, seed=seed,
                              feature_names=[header[i] for i in feature_idx], classes=classes)
    return dataclasses.replace(dataset, target=target, task_reason=reason)


# Inferring the task: at most this many distinct integer values (and at least two
# rows per value on average) are classes; more are a numeric (regression) target.
MAX_INFERRED_CLASSES = 20


def infer_task(cells, target="target"):
    """`(task, reason)` for a target column's (non-missing) cells.

    Two distinct values: binary. Numbers with a fractional part: regression.
    Integers: multiclass when there are few distinct values (at most
    `MAX_INFERRED_CLASSES`, and at most half the rows), else regression. Labels
    that are not all numbers: multiclass. A single value is an error.

    >>> infer_task(["1.5", "2.25", "3"])
    ('regression', 'numbers with a fractional part')
    >>> infer_task(["yes", "no", "yes"])
    ('binary', '2 distinct values')
    >>> infer_task(["1", "2", "3", "1", "2", "3"])
    ('multiclass', '3 distinct integers')
    """
    distinct = sorted(set(cells))
    if len(distinct) < 2:
        raise CLIError(f"Column {target!r} holds one value ({distinct[0]!r}) in every row; "
                       "there is nothing to predict.")
    if len(distinct) == 2:
        return "binary", "2 distinct values"
    numbers = [_as_float(cell) for cell in distinct]
    if any(v is None for v in numbers):
        return "multiclass", f"{len(distinct)} distinct labels, not all numbers"
    if any(v != math.floor(v) for v in numbers):
        return "regression", "numbers with a fractional part"
    if len(distinct) <= min(MAX_INFERRED_CLASSES, len(cells) // 2):
        return "multiclass", f"{len(distinct)} distinct integers"
    return "regression", (f"{len(distinct)} distinct integers in {len(cells)} rows, too many "
                          "to be classes")


def _read_rows(path):
    """The header and the data rows of a CSV (blank lines skipped)."""
    if os.path.isdir(path):
        inside = sorted(n for n in os.listdir(path) if n.lower().endswith(".csv"))
        hint = (f" such as {', '.join(os.path.join(path, n) for n in inside[:3])}"
                if inside else "; it holds no .csv file")
        raise CLIError(f"--data {path} is a directory; give a CSV file{hint}.")
    if not os.path.isfile(path):
        raise CLIError(f"No such file: {path}")
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise CLIError(f"Cannot read {path} as CSV: {error}") from error
    if len(rows) < 2:
        raise CLIError(f"{path} needs a header row and at least one data row.")
    header = [cell.strip() for cell in rows[0]]
    data = rows[1:]
    ragged = [(line, len(row)) for line, row in enumerate(data, start=2)
              if len(row) != len(header)]
    if ragged:
        shown = ", ".join(f"line {line}: {n} fields" for line, n in ragged[:3])
        more = f" and {len(ragged) - 3} more" if len(ragged) > 3 else ""
        raise CLIError(f"{path}: {_count(ragged, 'line')} with another number of fields "
                       f"than the header's {len(header)} ({shown}{more}).")
    return header, data


def _features(header, data, feature_idx):
    """The feature matrix and, per bad column, one message counting its bad cells."""
    x = np.empty((len(data), len(feature_idx)), dtype="float64")
    problems = []
    for j, col in enumerate(feature_idx):
        missing, text = [], []
        for line, row in enumerate(data, start=2):
            cell = row[col].strip()
            value = None if cell.lower() in _MISSING else _as_float(cell)
            if value is not None:
                x[line - 2, j] = value
            elif cell.lower() in _MISSING:
                missing.append(line)
            else:
                text.append((line, cell))
        if missing:
            problems.append(f"feature column {header[col]!r} has "
                            f"{_count(missing, 'missing value')} ({_lines(missing)}): fill "
                            "in or drop")
        if text:
            problems.append(f"feature column {header[col]!r} is not numeric in "
                            f"{_count(text, 'row')} ({_cells(text)}): encode it as numbers "
                            "or drop it")
    return x, problems


def _count(items, noun):
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _lines(lines, shown=3):
    more = f" and {len(lines) - shown} more" if len(lines) > shown else ""
    return f"line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines[:shown]))}{more}"


def _cells(bad, shown=3):
    more = f" and {len(bad) - shown} more" if len(bad) > shown else ""
    return ", ".join(f"line {line}: {cell!r}" for line, cell in bad[:shown]) + more
