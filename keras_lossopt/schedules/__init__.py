"""Learning-rate schedules (`keras.optimizers.schedules.LearningRateSchedule`s).

Registered schedules resolve by class name in `keras.optimizers.schedules.deserialize`
and reload from `.keras` files after `import keras_lossopt`.
"""

from keras_lossopt import _catalogue
from keras_lossopt import registry as _registry

_public = _catalogue.public_namespace("schedule", __name__, __path__)
globals().update(_public)


def get(identifier):
    """Returns a schedule instance for a registered name, class or config dict."""
    import keras

    if isinstance(identifier, str):
        entry = _registry.lookup("schedule", identifier)
        if entry is None:
            raise _registry.unknown_name_error("schedule", identifier)
        return entry.build()
    if isinstance(identifier, dict):
        return keras.optimizers.schedules.deserialize(identifier)
    if isinstance(identifier, keras.optimizers.schedules.LearningRateSchedule):
        return identifier
    raise ValueError(
        "Could not interpret a learning-rate schedule identifier. "
        f"Received: identifier={identifier!r}"
    )


def list_schedules(pattern="*"):
    """Canonical names of the registered schedules matching the glob `pattern`."""
    return _registry.names("schedule", pattern)


__all__ = sorted([*_public, "get", "list_schedules"])
