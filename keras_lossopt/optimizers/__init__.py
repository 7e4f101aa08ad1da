"""Optimizers: keras_lossopt's own and, under the same names, Keras's built-ins.

Every class here plugs into `model.compile(optimizer=...)` by instance or by its
registered string name (`"gd"`, `"radam"`, ...); `get(name)` and
`list_optimizers(pattern)` read the one registry.
"""

import keras

from keras_lossopt import _catalogue
from keras_lossopt import registry as _registry

_public = _catalogue.public_namespace("optimizer", __name__, __path__)
globals().update(_public)


def get(identifier):
    """Returns an optimizer for a name, config dict, class or instance.

    Strings are looked up in keras_lossopt's registry, then in Keras. An unknown
    string raises a ValueError that lists the closest known names.

    >>> import keras_lossopt
    >>> type(keras_lossopt.optimizers.get("gd")).__name__
    'GradientDescent'
    """
    return _catalogue.get(
        "optimizer", identifier, keras.optimizers.get, keras.optimizers.deserialize
    )


def list_optimizers(pattern="*"):
    """Canonical names of the registered optimizers matching the glob `pattern`.

    >>> import keras_lossopt
    >>> keras_lossopt.list_optimizers("gradient*")
    ['gradient_centralization', 'gradient_descent']
    """
    return _registry.names("optimizer", pattern)


__all__ = sorted([*_public, "get", "list_optimizers"])
