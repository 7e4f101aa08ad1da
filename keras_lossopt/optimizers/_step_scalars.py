"""Per-step scalars: computed once per step and dtype, not once per variable (private).

An optimizer's `update_step` runs once per variable, and the scalars that depend
only on the step and the learning rate (bias corrections, RAdam's
rectification, AdaBound's bounds) were recomputed in each call. Under XLA that
is free (the compiler deduplicates them), but eagerly each is a dispatched op:
RAdam spent about 40 of its ~50 TensorFlow ops per variable on them, and its
eager step on 10 small variables took 27 ms against Keras Adam's 18 ms.

`StepScalarsMixin` is the one way to write them (CONTRIBUTING.md, "Per-step
scalars"):

- `_compute_step_scalars(learning_rate, dtype)` returns them (a tuple) in
  `dtype`; `update_step` reads them with `self._step_scalars(learning_rate,
  dtype)`. They are computed at the first variable of each dtype in a step and
  reused for the others.
- Optionally `_begin_step(grads, trainable_variables, learning_rate)` runs once
  per step before any variable is updated: for scalars that need every
  gradient (Prodigy's `d`) or that update optimizer state once per step
  (Schedule-Free SGD's running maximum). What it returns is
  `self._begun_step()` inside `_compute_step_scalars`.

The cache lives only during Keras's per-step call (`_keras_compat.WholeStepHook`,
the entry point every backend goes through: TensorFlow's distributed update,
JAX's stateless step and torch's loop), so no tensor outlives its step or its
trace. `update_step` called on its own computes them directly (an optimizer with
a `_begin_step` cannot: it raises). The cache is per thread: TensorFlow's
MirroredStrategy runs each replica's step in a thread of its own.

Under a `tf.distribute` strategy Keras calls the step in each replica with that
replica's share of the gradients and sums them (all-reduce) only inside its
per-variable loop. A `_begin_step` that reduced over those shares (Prodigy's
`d` statistics) would compute a different value in each replica, and each
replica would keep its own copy of the state. So an optimizer with a
`_begin_step` sums the gradients over the replicas first (the one all-reduce of
the step), and then every replica runs `_begin_step` and the per-variable
updates on the same summed gradients and the same state, updating its own copy
of each variable (Keras's optimizer variables are not aggregated, so the
replicas stay identical). `update_step` runs in the replica there, not in
Keras's cross-replica `merge_call`.
"""

import threading

from keras_lossopt import _keras_compat
from keras_lossopt.optimizers._wrapper import all_reduced_gradients, replica_context

__all__ = []

_BEGUN = "begin_step"  # cache key of what _begin_step returned


class StepScalarsMixin(_keras_compat.WholeStepHook):
    """Mixin for `keras.optimizers.Optimizer` subclasses (listed before it).

    Subclasses implement `_compute_step_scalars(learning_rate, dtype)`, and
    optionally `_begin_step(grads, trainable_variables, learning_rate)`, and
    call `self._step_scalars(learning_rate, dtype)` in `update_step`.
    """

    @property
    def _step_scalar_cache(self):
        """This thread's cache: a dict during a step, None otherwise."""
        return getattr(_CACHES, "by_optimizer", {}).get(id(self))

    def _set_step_scalar_cache(self, cache):
        caches = _CACHES.__dict__.setdefault("by_optimizer", {})
        if cache is None:
            caches.pop(id(self), None)
        else:
            caches[id(self)] = cache

    def _compute_step_scalars(self, learning_rate, dtype):
        raise NotImplementedError

    def _begin_step(self, grads, trainable_variables, learning_rate):
        """Once per step, before any variable is updated; may assign optimizer state."""
        return None

    def _begun_step(self):
        """What `_begin_step` returned in the current step."""
        return self._step_scalar_cache[_BEGUN]

    def _has_begin_step(self):
        return type(self)._begin_step is not StepScalarsMixin._begin_step

    def _step_scalars(self, learning_rate, dtype):
        cache = self._step_scalar_cache
        if cache is None:
            if self._has_begin_step():
                raise RuntimeError(
                    f"{type(self).__name__}.update_step cannot run on its own: its step "
                    "uses values computed from all variables at once. Call "
                    "`optimizer.apply(grads, variables)` or `apply_gradients` instead."
                )
            return self._compute_step_scalars(learning_rate, dtype)
        key = str(dtype)
        if key not in cache:
            cache[key] = self._compute_step_scalars(learning_rate, dtype)
        return cache[key]

    def _whole_step(self, grads, trainable_variables, learning_rate):
        in_replicas = self._has_begin_step() and replica_context() is not None
        if in_replicas:  # the gradients of the whole batch, before _begin_step
            grads = all_reduced_gradients(grads)
        cache = {}
        self._set_step_scalar_cache(cache)
        try:
            cache[_BEGUN] = self._begin_step(grads, trainable_variables, learning_rate)
            if in_replicas:  # already summed: Keras's loop would sum them again
                for grad, variable in zip(grads, trainable_variables):
                    self.update_step(grad, variable, learning_rate)
            else:
                self._update_each_variable(grads, trainable_variables, learning_rate)
        finally:
            self._set_step_scalar_cache(None)


_CACHES = threading.local()  # .by_optimizer: {id(optimizer): cache of its current step}
