"""Losses: keras_lossopt's own and, under the same names, Keras's built-ins.

Every class here plugs into `model.compile(loss=...)` by instance or by its
registered string name; `get(name)` and `list_losses(pattern)` read the one
registry. Keras's own losses are re-exported (not copied), so
`from keras_lossopt.losses import Huber, RootMeanSquaredError` works for every
catalogue row.
"""

import keras

from keras_lossopt import _catalogue
from keras_lossopt import registry as _registry
from keras_lossopt.losses.base import FunctionLoss  # noqa: F401  (public base class)

_public = _catalogue.public_namespace("loss", __name__, __path__)
globals().update(_public)
# Former names (e.g. SparseCategoricalCrossentropy for ours) still resolve, with a warning.
__getattr__ = _catalogue.deprecated_getattr(
    __name__, _catalogue.deprecated_names(__name__, __path__))


def get(identifier):
    """Returns a loss for a name, config dict, class, instance or function.

    Strings are looked up in keras_lossopt's registry, then in Keras. An unknown
    string raises a ValueError that lists the closest known names.

    >>> import keras_lossopt
    >>> type(keras_lossopt.losses.get("pseudo_huber")).__name__
    'PseudoHuber'
    >>> type(keras_lossopt.losses.get("l2")).__name__
    'MeanSquaredError'
    """
    return _catalogue.get("loss", identifier, keras.losses.get, keras.losses.deserialize)


def list_losses(pattern="*"):
    """Canonical names of the registered losses matching the glob `pattern`.

    >>> import keras_lossopt
    >>> keras_lossopt.list_losses("pseudo*")
    ['pseudo_huber']
    """
    return _registry.names("loss", pattern)


__all__ = sorted([*_public, "FunctionLoss", "get", "list_losses"])
