"""Loss-curve helpers shared by the LR finder and the training doctor (one copy each).

- `smooth_losses`: the debiased exponential moving average of a loss curve;
- `RunningMeanRecovery`: each batch loss from the running epoch means Keras logs;
- `chance_level`: the loss of the best constant prediction on the labels at hand,
  and the majority-class accuracy.
"""

import math

import keras
import numpy as np

_CHANCE_SAMPLE = 4096  # labels used to evaluate the constant predictions


def smooth_losses(raw_losses, beta=0.98):
    """Debiased exponential moving average: `avg_i / (1 - beta ** (i + 1))`.

    `avg_i = beta * avg_{i-1} + (1 - beta) * loss_i`, `avg_{-1} = 0` (Adam's bias
    correction; fastai's `Recorder`).
    """
    out = np.empty(len(raw_losses), dtype="float64")
    avg = 0.0
    for i, loss in enumerate(raw_losses):
        avg = beta * avg + (1.0 - beta) * float(loss)
        out[i] = avg / (1.0 - beta ** (i + 1))
    return out


class RunningMeanRecovery:
    """Recovers batch losses from Keras 3's running epoch mean of the loss.

    Inside `fit`, `logs["loss"]` after batch `k` (1-based) is the mean of the
    epoch's first `k` batch losses, so batch `k`'s loss is
    `k * mean_k - (k - 1) * mean_{k-1}` (exact for equal batch sizes; the last,
    smaller batch of an epoch is approximate). Call `reset()` at each epoch start.
    """

    def __init__(self):
        self.reset()

    def reset(self):
        self.count, self.mean = 0, 0.0

    def add(self, count, mean):
        """The batch loss for the running `mean` after `count` batches of the epoch."""
        steps = max(count - self.count, 1)
        loss = (count * mean - self.count * self.mean) / steps
        self.count, self.mean = count, mean
        return loss


def _labels_array(y):
    y = np.asarray(keras.tree.flatten(y)[0] if isinstance(y, (dict, list, tuple)) else y)
    return y[:_CHANCE_SAMPLE]


def _constant_candidates(y, units):
    """Constant predictions (one row, `units` wide) a model could output knowing only y.

    Several encodings of the same guess — class frequencies as probabilities and as
    logits, the target mean and median, +-1 margins — since which one the loss reads
    depends on the loss; the chance level is the lowest loss over them.
    """
    y = np.asarray(y, dtype="float64")
    rows = []
    if y.ndim >= 2 and y.shape[-1] == units and units > 1:
        columns = y.reshape(-1, units)  # one-hot / per-output targets
        mean, median = columns.mean(0), np.median(columns, 0)
        rows += [mean, median]
        if np.all((columns >= 0) & (columns <= 1)):
            p = np.clip(mean, 1e-7, 1 - 1e-7)
            rows += [np.log(p), np.log(p / (1 - p))]
    elif units > 1:  # integer class labels, `units` classes
        counts = np.bincount(y.astype("int64").ravel().clip(0, units - 1), minlength=units)
        p = np.clip(counts / max(counts.sum(), 1), 1e-7, 1.0)
        rows += [p, np.log(p)]
    else:
        flat = y.ravel()
        mean, median = float(flat.mean()), float(np.median(flat))
        rows += [np.array([mean]), np.array([median])]
        if np.all((flat >= 0) & (flat <= 1)):
            p = min(max(mean, 1e-7), 1 - 1e-7)
            rows += [np.array([math.log(p / (1 - p))]), np.array([2 * p - 1])]
    return rows


def chance_level(loss, y, units, y_eval=None):
    """`(chance_loss, majority_accuracy)`: the loss of predicting the label statistics.

    Evaluates the actual loss (a string, function or `keras.losses.Loss`) on
    constant predictions built from the labels `y` — the class frequencies, or the
    target mean and median — in each encoding of `_constant_candidates`
    (probabilities, logits, +-1 margins) and keeps the lowest; a model that does no
    better has learned nothing from its inputs. No `ln K` is assumed, so a loss that
    is not a cross-entropy (focal, hinge, ...) gets its own chance level.
    `majority_accuracy` is the frequency of the most common class (None for
    regression-like targets). `units` is the model's output width. With `y_eval`
    (e.g. validation labels) the constants are fitted on `y` and the loss and the
    majority class's share are measured on `y_eval`. Returns `(None, None)` when
    the loss cannot be evaluated on such predictions.

    >>> import numpy as np
    >>> loss, majority = chance_level("binary_crossentropy", np.array([0, 0, 0, 1.0]), 1)
    >>> round(loss, 4), majority
    (0.5623, 0.75)
    """
    from keras_lossopt import losses as losses_module

    y = _labels_array(y)
    target = y if y_eval is None else _labels_array(y_eval)
    for labels in (y, target):
        if labels.size == 0 or not np.all(np.isfinite(np.asarray(labels, dtype="float64"))):
            return None, None
    units = int(units or (y.shape[-1] if y.ndim >= 2 else 1))
    try:
        fn = losses_module.get(loss) if isinstance(loss, str) else loss
    except (ValueError, TypeError):
        return None, None
    best = math.inf
    for row in _constant_candidates(y, units):
        pred_shape = (len(target), units) if (target.ndim >= 2 or units > 1) else target.shape
        pred = np.broadcast_to(np.asarray(row, dtype="float32").reshape(
            (1,) * (len(pred_shape) - 1) + (-1,)), pred_shape)
        try:
            value = float(np.mean(keras.ops.convert_to_numpy(
                fn(keras.ops.convert_to_tensor(target), keras.ops.convert_to_tensor(pred)))))
        except Exception:  # noqa: BLE001 - an encoding the loss does not take
            continue
        if math.isfinite(value):
            best = min(best, value)
    return (best if math.isfinite(best) else None), _majority(target, units)


def _majority(y, units):
    y = np.asarray(y)
    if y.ndim >= 2 and y.shape[-1] == units and units > 1:
        if not np.all((y == 0) | (y == 1)):
            return None
        counts = y.reshape(-1, units).sum(0)
    else:
        flat = y.ravel()
        if not np.all(flat == np.round(flat)) or len(np.unique(flat)) > max(units, 2):
            return None
        _, counts = np.unique(flat, return_counts=True)
    return float(np.max(counts) / max(np.sum(counts), 1))
