"""keras_lossopt: the losses, optimizers and training tools Keras 3 lacks.

`import keras_lossopt` registers every loss, optimizer and schedule (and the
`models.SharpnessAwareMinimization` wrapper for serialization), so that
`model.compile(optimizer="gd", loss="pseudo_huber")` works by string name, and
saved models that use them reload with no `custom_objects`; `register_loss` and
`register_optimizer` do the same for your own.
"""

from keras_lossopt import (
    callbacks,
    doctor,
    losses,
    models,
    optimizers,
    plotting,
    registry,
    schedules,
)
from keras_lossopt._version import __version__
from keras_lossopt.doctor import check_model, find_learning_rate, recommend
from keras_lossopt.losses import list_losses
from keras_lossopt.optimizers import list_optimizers
from keras_lossopt.plotting import loss_shapes, plot_losses
from keras_lossopt.registry import register_loss, register_optimizer
from keras_lossopt.schedules import list_schedules

__all__ = [
    "__version__",
    "registry",
    "losses",
    "optimizers",
    "schedules",
    "models",
    "list_losses",
    "list_optimizers",
    "list_schedules",
    "register_loss",
    "register_optimizer",
    "doctor",
    "callbacks",
    "recommend",
    "check_model",
    "find_learning_rate",
    "plotting",
    "loss_shapes",
    "plot_losses",
]
