"""Optimizer-owned weight decay: the one way an optimizer applies its own decay (private).

Keras's base class applies decoupled decay `w <- w - learning_rate *
weight_decay * w` before `update_step` when `weight_decay` is set. Where a
paper defines another decay (a coupled L2 term added to the gradient, a
proximal division, a decay scaled by an estimated step size), the optimizer
lists `OwnWeightDecay` first in its bases and applies `weight_decay` itself
(CONTRIBUTING.md, "Optimizer-owned weight decay"):

    @register("optimizer")
    class MyOptimizer(OwnWeightDecay, keras.optimizers.Optimizer):
        def __init__(self, learning_rate=0.001, weight_decay=None, ..., **kwargs):
            super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, ...)

        def update_step(self, gradient, variable, learning_rate):
            if self._decays(variable):
                gradient = gradient + self.own_weight_decay * variable

The mixin keeps the value from Keras's base class (`self.weight_decay` stays
None, so Keras applies nothing, on every backend and with no private hook),
stores it as `self.own_weight_decay`, checks it (>= 0 or None), and writes it
to `get_config()["weight_decay"]`, so the config and the constructor keyword
are the usual `weight_decay`. `_decays(variable)` is True when the decay is
non-zero and `variable` was not excluded with `exclude_from_weight_decay`.

Such an optimizer opts out of the conformance check of Keras's decoupled decay
with a reason: `conformance_opt_outs = {"base_features:weight_decay": "..."}`.
"""

from keras import ops

from keras_lossopt import _checks, _keras_compat
from keras_lossopt.optimizers._sparse import is_indexed_slices, sum_duplicates

__all__ = []


class OwnWeightDecay:
    """Mixin (listed before `keras.optimizers.Optimizer`): the optimizer applies `weight_decay` itself."""

    def __init__(self, *args, weight_decay=None, **kwargs):
        if weight_decay is not None:
            _checks.check_non_negative("weight_decay", weight_decay)
        super().__init__(*args, weight_decay=None, **kwargs)  # Keras applies none
        self.own_weight_decay = weight_decay

    def _not_excluded(self, variable):
        """False if `variable` was excluded with `exclude_from_weight_decay`."""
        return _keras_compat.uses_weight_decay(self, variable)

    def _decays(self, variable):
        """Whether this optimizer's own decay applies to `variable` (non-zero, not excluded)."""
        return bool(self.own_weight_decay) and self._not_excluded(variable)

    def _lazy_decoupled_decay(self, gradient, variable, learning_rate):
        """Keras's decoupled decay `w <- w - w * weight_decay * learning_rate`, lazily.

        The same expression as Keras's base class on a dense gradient; a
        TensorFlow `IndexedSlices` gradient decays only the rows it touches, as
        TFA's `DecoupledWeightDecayExtension` did for sparse updates (the lazy
        optimizers, LazyAdam first, call it at the start of `update_step`).
        """
        if not self._decays(variable):
            return
        dtype = variable.dtype
        wd = ops.cast(self.own_weight_decay, dtype)
        lr = ops.cast(learning_rate, dtype)
        if not is_indexed_slices(gradient):
            self.assign(variable, variable - variable * wd * lr)
            return
        import tensorflow as tf  # TensorFlow only: sparse rows

        rows = sum_duplicates(gradient).indices
        decay = ops.take(variable, rows, axis=0) * wd * lr
        self.assign_sub(variable, tf.IndexedSlices(decay, rows, gradient.dense_shape))

    def get_config(self):
        config = super().get_config()
        config["weight_decay"] = self.own_weight_decay
        return config
