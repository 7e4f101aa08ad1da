"""Ordinal classification: the weighted kappa loss (TensorFlow Addons' `WeightedKappaLoss`)."""

import keras
from keras import ops

from keras_lossopt import _checks
from keras_lossopt.registry import register

__all__ = ["weighted_kappa_loss", "WeightedKappaLoss"]

_WEIGHTAGES = ("linear", "quadratic")


def _one_hot_labels(y_true, y_pred, num_classes):
    """One-hot (B, C) labels from one-hot (B, C) or integer (B,)/(B, 1) labels."""
    if len(y_true.shape) == 2 and y_true.shape[-1] == num_classes and num_classes != 1:
        return ops.cast(y_true, y_pred.dtype)
    if len(y_true.shape) == 2 and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, -1)
    if len(y_true.shape) == 1:
        return ops.one_hot(ops.cast(y_true, "int32"), num_classes, dtype=y_pred.dtype)
    raise ValueError(
        "WeightedKappaLoss: `y_true` must be one-hot labels of shape (batch, "
        "num_classes) or integer labels of shape (batch,) or (batch, 1), and "
        "`y_pred` class probabilities of shape (batch, num_classes). Received: "
        f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}"
    )


def weighted_kappa_loss(y_true, y_pred, num_classes=None, weightage="quadratic",
                        epsilon=1e-6, sample_weight=None):
    """`log(1 - kappa + epsilon)` for the whole batch: one scalar, not one value per sample.

    `sample_weight` (shape (batch,)) weights each sample's row of the soft
    confusion matrix; `None` gives TFA's value.
    """
    _checks.check_choice("weightage", weightage, _WEIGHTAGES)
    _checks.check_positive("epsilon", epsilon)
    y_pred = ops.convert_to_tensor(y_pred)
    if not keras.backend.is_float_dtype(y_pred.dtype):
        y_pred = ops.cast(y_pred, keras.backend.floatx())
    if len(y_pred.shape) != 2:
        raise ValueError(
            "WeightedKappaLoss: `y_pred` must have shape (batch, num_classes). "
            f"Received: y_pred.shape={tuple(y_pred.shape)}"
        )
    if num_classes is None:
        num_classes = y_pred.shape[-1]
    elif y_pred.shape[-1] is not None and y_pred.shape[-1] != num_classes:
        raise ValueError(
            "WeightedKappaLoss: `y_pred` must have num_classes columns. Received: "
            f"num_classes={num_classes}, y_pred.shape={tuple(y_pred.shape)}"
        )
    labels = _one_hot_labels(ops.convert_to_tensor(y_true), y_pred, num_classes)

    classes = ops.arange(num_classes, dtype=y_pred.dtype)
    difference = classes[:, None] - classes[None, :]  # true class (row) - predicted (col)
    weights = ops.abs(difference) if weightage == "linear" else ops.square(difference)

    if sample_weight is None:
        sample_weight = ops.ones_like(y_pred[:, 0])
    else:
        sample_weight = ops.cast(ops.convert_to_tensor(sample_weight), y_pred.dtype)
        sample_weight = ops.reshape(sample_weight, (-1,)) * ops.ones_like(y_pred[:, 0])
    weighted_labels = labels * sample_weight[:, None]
    weighted_preds = y_pred * sample_weight[:, None]

    # Observed disagreement: sum_i w_i sum_j W[label_i, j] * p_ij.
    numerator = ops.sum(ops.matmul(weighted_labels, weights) * y_pred)
    # Expected disagreement under independent marginals.
    label_dist = ops.sum(weighted_labels, axis=0)
    pred_dist = ops.sum(weighted_preds, axis=0)
    denominator = ops.sum(label_dist[:, None] * weights * pred_dist[None, :])
    denominator = denominator / ops.sum(sample_weight)
    # 0/0 -> 0 (TFA's divide_no_nan), written out because ops.divide_no_nan
    # returns float32 for float64 inputs on the PyTorch backend.
    empty = ops.equal(denominator, 0.0)
    ratio = ops.where(empty, 0.0, numerator / ops.where(empty, 1.0, denominator))
    return ops.log(ratio + epsilon)


@register("loss", name="weighted_kappa", aliases=("weighted_kappa_loss", "cohen_kappa_loss"),
          task="ordinal", labels="one_hot", inputs="categorical_probabilities")
class WeightedKappaLoss(keras.losses.Loss):
    """Weighted kappa loss: trains ordinal classifiers to maximise Cohen's weighted kappa.

    For ordered classes (grades, severity levels, ratings) where predicting a
    class two steps away is worse than one step away. The model outputs class
    probabilities (softmax); the loss is a smooth surrogate of `1 - kappa`
    computed from the soft confusion matrix of the whole batch, so it is
    bounded by `log(epsilon)` below and may be negative. Use batches large
    enough to contain most classes (the expected-agreement term comes from the
    batch's marginals); a few epochs of cross-entropy first often help.

    Formula, with one-hot labels `y` (B, C), probabilities `p` (B, C), weights
    `W[i, j] = |i - j|` ("linear") or `(i - j)**2` ("quadratic") and sample
    weights `w` (1 by default):

        observed = sum_b w_b * sum_j W[label_b, j] * p_bj
        expected = (sum_b w_b y_b) W (sum_b w_b p_b)^T / sum_b w_b
        loss     = log(observed / expected + epsilon)        (0/0 -> log(epsilon))

    Batch-level loss: `call` returns one scalar per batch (TFA convention), so
    Keras's reduction leaves it as is. `sample_weight` (shape (batch,)) is
    folded into the confusion matrix (each sample counts `w_b` times), not
    multiplied onto the result; `None` gives TFA's value.

    Args:
        num_classes: number of classes `C`; `None` takes `y_pred.shape[-1]`.
            Defaults to `None`.
        weightage: `"quadratic"` or `"linear"`. Defaults to `"quadratic"`.
        epsilon: added inside the log. Defaults to `1e-6`.
        reduction: kept for the Keras API; the value is already one scalar per
            batch. Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"weighted_kappa"`.
        dtype: computation dtype. Defaults to `None` (floatx).

    Example:

    >>> import keras_lossopt
    >>> loss = keras_lossopt.losses.WeightedKappaLoss(num_classes=3)
    >>> y_true = [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    >>> y_pred = [[0.8, 0.2, 0.0], [0.0, 0.3, 0.7]]
    >>> round(float(loss(y_true, y_pred)), 4)  # log(0.5 / 3.5 + 1e-6)
    -1.9459

    References:
        - de la Torre, Puig & Valls, 2018, "Weighted kappa loss function for
          multi-class classification of ordinal data in deep learning",
          Pattern Recognition Letters 105. https://doi.org/10.1016/j.patrec.2017.05.018
        - Cohen, 1968, "Weighted kappa", Psychological Bulletin 70(4).
        - TensorFlow Addons, `tfa.losses.WeightedKappaLoss` (same formula).

    Deviations from TFA: `num_classes` may be omitted (read from `y_pred`);
    integer labels are accepted besides one-hot ones; sample weights enter
    the confusion matrix; TFA's default name was `"cohen_kappa_loss"` and its
    default reduction `NONE` (both give the same scalar here).
    """

    def __init__(self, num_classes=None, weightage="quadratic", epsilon=1e-6,
                 reduction="sum_over_batch_size", name="weighted_kappa", dtype=None):
        if num_classes is not None:
            num_classes = _checks.check_positive_int("num_classes", num_classes)
        _checks.check_choice("weightage", weightage, _WEIGHTAGES)
        _checks.check_positive("epsilon", epsilon)
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.num_classes = num_classes
        self.weightage = weightage
        self.epsilon = float(epsilon)

    def _kwargs(self):
        return {"num_classes": self.num_classes, "weightage": self.weightage,
                "epsilon": self.epsilon}

    def call(self, y_true, y_pred):
        return weighted_kappa_loss(y_true, y_pred, **self._kwargs())

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.convert_to_tensor(y_pred, dtype=self.dtype)
        return weighted_kappa_loss(y_true, y_pred, sample_weight=sample_weight,
                                   **self._kwargs())

    def get_config(self):
        config = super().get_config()
        config["dtype"] = self.dtype
        config.update(self._kwargs())
        return config
