"""Per-step scalars computed once per step, not once per variable (private).

An optimizer's `update_step` runs once per variable, and the scalars that depend
only on the step and the learning rate (bias corrections, RAdam's
rectification, AdaBound's bounds) were recomputed in each call. Under XLA that
is free (the compiler deduplicates them), but eagerly each is a dispatched op:
RAdam spent about 40 of its ~50 TensorFlow ops per variable on them, and its
eager step on 10 small variables took 27 ms against Keras Adam's 18 ms.

`StepScalarsMixin` computes them lazily at the first variable of each dtype in
a step and reuses them for the others. The cache lives only inside Keras's
`_backend_update_step` (the per-step entry point every backend goes through:
TensorFlow's distributed update, JAX's stateless step and torch's loop), so no
tensor outlives its step or its trace; `update_step` called on its own
computes them directly.
"""

__all__ = []


class StepScalarsMixin:
    """Mixin for `keras.optimizers.Optimizer` subclasses.

    Subclasses implement `_compute_step_scalars(learning_rate, dtype)` and call
    `self._step_scalars(learning_rate, dtype)` in `update_step`.
    """

    _step_scalar_cache = None

    def _compute_step_scalars(self, learning_rate, dtype):
        raise NotImplementedError

    def _step_scalars(self, learning_rate, dtype):
        cache = self._step_scalar_cache
        if cache is None:
            return self._compute_step_scalars(learning_rate, dtype)
        key = str(dtype)
        if key not in cache:
            cache[key] = self._compute_step_scalars(learning_rate, dtype)
        return cache[key]

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        self._step_scalar_cache = {}
        try:
            super()._backend_update_step(grads, trainable_variables, learning_rate)
        finally:
            self._step_scalar_cache = None
