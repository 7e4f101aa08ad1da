"""Keras's own losses in the catalogue: resolved to Keras's classes, never copied.

Each row names the string Keras already resolves and the extra aliases the
tutorials use that Keras does not ("l2", "log_loss", "logcosh", ...).
"""

import keras

from keras_lossopt.registry import register_keras

__all__ = []

R = {"task": "regression", "inputs": "regression"}
_KERAS_LOSSES = (
    # (Keras class, Keras's own string name, aliases keras_lossopt adds, what it is for)
    (keras.losses.MeanSquaredError, "mean_squared_error", ("l2", "squared_error"), R),
    (keras.losses.MeanAbsoluteError, "mean_absolute_error", ("l1", "absolute_error"), R),
    (keras.losses.MeanAbsolutePercentageError, "mean_absolute_percentage_error", (), R),
    (keras.losses.MeanSquaredLogarithmicError, "mean_squared_logarithmic_error", (),
     {"task": "regression", "inputs": "positive"}),
    (keras.losses.Huber, "huber", ("huber_loss",), R),
    (keras.losses.LogCosh, "log_cosh", ("logcosh",), R),
    (keras.losses.BinaryCrossentropy, "binary_crossentropy", ("log_loss", "binary_cross_entropy"),
     {"task": ("binary", "multilabel"), "inputs": "binary"}),
    (keras.losses.CategoricalCrossentropy, "categorical_crossentropy",
     ("categorical_cross_entropy",),
     {"task": "multiclass", "labels": "one_hot", "inputs": "categorical"}),
    (keras.losses.SparseCategoricalCrossentropy, "sparse_categorical_crossentropy", (),
     {"task": "multiclass", "labels": "integers", "inputs": "sparse"}),
    (keras.losses.BinaryFocalCrossentropy, "binary_focal_crossentropy", (),
     {"task": ("binary", "multilabel"), "inputs": "binary"}),
    (keras.losses.CategoricalFocalCrossentropy, "categorical_focal_crossentropy", (),
     {"task": "multiclass", "labels": "one_hot", "inputs": "categorical"}),
    (keras.losses.Hinge, "hinge", (), {"task": "binary", "inputs": "hinge"}),
    (keras.losses.SquaredHinge, "squared_hinge", (), {"task": "binary", "inputs": "hinge"}),
    (keras.losses.CategoricalHinge, "categorical_hinge", (),
     {"task": "multiclass", "labels": "one_hot", "inputs": "categorical_logits"}),
    (keras.losses.KLDivergence, "kl_divergence", ("kullback_leibler_divergence",),
     {"task": "distribution", "inputs": "distribution"}),
    (keras.losses.Poisson, "poisson", (), {"task": "regression", "inputs": "positive"}),
    (keras.losses.CosineSimilarity, "cosine_similarity", (), R),
)

for _cls, _name, _aliases, _about in _KERAS_LOSSES:
    register_keras("loss", _cls, _name, _aliases, **_about)
