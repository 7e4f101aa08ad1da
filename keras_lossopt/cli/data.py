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

    @property
    def n_classes(self):
        return len(self.classes) if self.classes is not None else 0

    @property
    def n_features(self):
        return self.x_train.shape[1]

    def describe(self):
        kind = f"{self.n_classes} classes" if self.classes is not None else "numeric target"
        return (f"{self.name}: {self.task}, {len(self.x_train)} train / {len(self.x_val)} "
                f"validation rows, {self.n_features} features, {kind}")


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


def read_csv(path, target, task, *, val_fraction=0.2, seed=0):
    """Reads a CSV with a header row: numeric features, a `target` column.

    Every error (missing file, unknown column, non-numeric feature, missing
    value, a task that does not fit the labels) is a one-line `CLIError`.
    """
    if task not in TASKS:
        raise CLIError(f"--task must be one of {', '.join(TASKS)}. Received: --task={task}")
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
    if target not in header:
        close = difflib.get_close_matches(target, header, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise CLIError(f"Target column {target!r} is not in {path}.{hint} "
                       f"Columns: {', '.join(header)}")
    data = rows[1:]
    for line, row in enumerate(data, start=2):
        if len(row) != len(header):
            raise CLIError(f"{path}, line {line}: {len(row)} fields, but the header has "
                           f"{len(header)}.")
    t = header.index(target)
    feature_idx = [i for i in range(len(header)) if i != t]
    if not feature_idx:
        raise CLIError(f"{path} has no feature columns besides the target {target!r}.")
    x = np.empty((len(data), len(feature_idx)), dtype="float64")
    for j, col in enumerate(feature_idx):
        for line, row in enumerate(data, start=2):
            cell = row[col].strip()
            if cell.lower() in _MISSING:
                raise CLIError(f"Feature column {header[col]!r} has a missing value "
                               f"(line {line}); fill or drop it first.")
            value = _as_float(cell)
            if value is None:
                raise CLIError(f"Feature column {header[col]!r} is not numeric (line {line}: "
                               f"{cell!r}); encode it as numbers or drop it.")
            x[line - 2, j] = value
    raw = [row[t].strip() for row in data]
    missing = [line for line, cell in enumerate(raw, start=2) if cell.lower() in _MISSING]
    if missing:
        raise CLIError(f"Target column {target!r} has missing values (line {missing[0]}"
                       f"{' and others' if len(missing) > 1 else ''}); drop those rows first.")
    classes = None
    if task == "regression":
        values = [_as_float(cell) for cell in raw]
        bad = [cell for cell in raw if _as_float(cell) is None]
        if bad:
            raise CLIError(f"Task 'regression' needs a numeric target, but column {target!r} "
                           f"holds {bad[0]!r}; use --task binary or --task multiclass.")
        y = np.asarray(values, dtype="float64")
    else:
        classes = _sort_labels(sorted(set(raw)))
        if task == "binary" and len(classes) != 2:
            shown = ", ".join(classes[:6]) + (", ..." if len(classes) > 6 else "")
            raise CLIError(f"Task 'binary' needs a target with exactly 2 classes, but column "
                           f"{target!r} has {len(classes)} ({shown}); use --task "
                           f"{'multiclass' if len(classes) > 2 else 'regression'}.")
        if len(classes) < 2:
            raise CLIError(f"Column {target!r} has a single class ({classes[0]}); nothing to "
                           "classify.")
        index = {label: i for i, label in enumerate(classes)}
        y = np.asarray([index[cell] for cell in raw], dtype="int32")
    name = os.path.splitext(os.path.basename(path))[0]
    return split_and_scale(name, task, x, y, val_fraction=val_fraction, seed=seed,
                           feature_names=[header[i] for i in feature_idx], classes=classes)
