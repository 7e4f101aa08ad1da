"""Shared machinery of the optimizers that wrap another optimizer (Lookahead, SWA, ...).

Private module (not auto-exported). A wrapper runs Keras's base pipeline itself
(its own clipping, decoupled weight decay, EMA, gradient accumulation and loss
scale, all off by default) and, where the base class would call `update_step`
per variable, hands the whole list to the inner optimizer's `apply`, which runs
the inner optimizer's own pipeline and increments the inner step counter. The
wrapper then does its own work on the variables (`_after_inner_apply`).

The inner optimizer's variables are part of `wrapper.variables`, so they are
saved in `.keras` files and checkpoints, and JAX's stateless training step
threads them through (`stateless_apply` maps every entry of `variables`).
"""

import copy
import warnings

import keras

from keras_lossopt import _keras_compat
from keras_lossopt.optimizers._sparse import dense_gradient, sum_duplicates

__all__ = []

# Keras's base optimizer keywords and their defaults, in Keras's order.
BASE_KEYWORDS = (
    ("weight_decay", None),
    ("clipnorm", None),
    ("clipvalue", None),
    ("global_clipnorm", None),
    ("use_ema", False),
    ("ema_momentum", 0.99),
    ("ema_overwrite_frequency", None),
    ("loss_scale_factor", None),
    ("gradient_accumulation_steps", None),
)


def resolve_optimizer(identifier, argument="optimizer"):
    """An optimizer instance for a name, config dict, class or instance."""
    from keras_lossopt import _catalogue  # late: the catalogue imports this package

    if isinstance(identifier, keras.optimizers.Optimizer):
        return identifier
    if not isinstance(identifier, (str, dict, type)):
        raise TypeError(  # a wrong type (None, a number) is a TypeError, as TFA's was
            f"`{argument}` must be a Keras optimizer instance, name, config dict or "
            f"class. Received: {argument}={identifier!r}"
        )
    try:
        optimizer = _catalogue.get(
            "optimizer", identifier, keras.optimizers.get, keras.optimizers.deserialize
        )
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"`{argument}` could not be resolved to an optimizer ({error}). "
            f"Received: {argument}={identifier!r}"
        ) from error
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise ValueError(
            f"`{argument}` must resolve to a keras.optimizers.Optimizer. "
            f"Received: {argument}={identifier!r}"
        )
    return optimizer


def traced_on_jax(value):
    """True inside a JAX trace (jit, JAX's stateless training step).

    There an assignment made inside a branch would leak a tracer, so the
    wrappers use conditionals that return values instead. Eager JAX is not
    traced: `lax.cond` would re-trace its branches at every call there (a
    Lookahead step on 10 small variables took 91 ms instead of 6 ms), so the
    branch is taken in Python, as on TensorFlow-eager and torch.
    """
    if keras.backend.backend() != "jax":
        return False
    import jax

    return isinstance(value, jax.core.Tracer)


def all_reduced_gradients(grads):
    """The gradients summed over replicas, as the inner optimizer will apply them.

    TensorFlow only does anything: under a `tf.distribute` strategy the wrapper
    runs in each replica with that replica's gradients, and the inner optimizer
    sums them (`all_reduce`) before its step. A wrapper whose rule depends on the
    gradient non-linearly (a sign, a norm) must look at that sum, not at the
    replica's share; it then passes the replica's own gradients on (scaled, where
    it changes them), so that the inner sum is what it wants. Elsewhere (one
    replica, JAX's global arrays, torch) the gradients are returned unchanged.
    """
    context = replica_context()
    if context is None:
        return grads
    import tensorflow as tf

    return context.all_reduce(tf.distribute.ReduceOp.SUM, list(grads))


def replica_context():
    """TensorFlow's replica context when the step runs in one of several replicas, else None.

    Under a `tf.distribute` strategy Keras runs the optimizer's step in each
    replica, with that replica's share of the gradients (`all_reduced_gradients`
    sums them). Elsewhere (one replica, JAX, torch) None.
    """
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context


def run_if(pred, fn):
    """Runs `fn()`, which assigns variables, when the scalar `pred` is true.

    Not for traced JAX values (see `traced_on_jax`). On TensorFlow a
    conditional that keeps the assignments (`tf.cond`, also inside
    `tf.function`); elsewhere the concrete predicate picks in Python.
    """
    if keras.backend.backend() == "tensorflow":
        keras.ops.cond(pred, fn, lambda: None)
    elif bool(keras.ops.convert_to_numpy(pred)):
        fn()


class OptimizerWrapper(
    _keras_compat.DelegatedLearningRate, _keras_compat.WholeStepHook, keras.optimizers.Optimizer
):
    """Base of Lookahead and SWA: an optimizer that drives an inner optimizer.

    Subclasses implement `_build_wrapper(var_list)` (their own slots),
    optionally `_before_inner_apply(trainable_variables)`, and
    `_after_inner_apply(trainable_variables, state)`.

    Saving: `variables` lists the wrapper's own variables then the inner
    optimizer's (JAX's stateless step needs all of them), but Keras's saver also
    visits `inner_optimizer` as a child object, so `save_own_variables` and
    `load_own_variables` handle only the wrapper's own variables: the inner
    state is stored once, under `optimizer/inner_optimizer`.
    """

    def __init__(self, optimizer, name, kwargs, base):
        if "learning_rate" in kwargs:
            raise ValueError(
                f"{type(self).__name__} takes no `learning_rate`: set it on the "
                "inner optimizer (`optimizer=keras.optimizers.Adam(1e-3)`); "
                "`wrapper.learning_rate` reads and writes the inner one. "
                f"Received: learning_rate={kwargs['learning_rate']!r}"
            )
        inner = resolve_optimizer(optimizer)
        super().__init__(learning_rate=0.0, name=name, **base, **kwargs)
        self.inner_optimizer = inner

    # --- The learning rate is the inner optimizer's (DelegatedLearningRate) -----------

    def _learning_rate_source(self):
        return self.inner_optimizer

    # --- State -------------------------------------------------------------------

    def _own_variables(self):
        return super().variables

    @property
    def variables(self):
        return self._own_variables() + self.inner_optimizer.variables

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        if not self.inner_optimizer.built:
            self.inner_optimizer.build(var_list)
        self._build_wrapper(var_list)

    def _build_wrapper(self, var_list):
        raise NotImplementedError

    # --- The step ------------------------------------------------------------------

    def scale_loss(self, loss):
        # The inner optimizer unscales by its own factor, this one by ours.
        return super().scale_loss(self.inner_optimizer.scale_loss(loss))

    def _whole_step(self, grads, trainable_variables, learning_rate):
        trainable_variables = list(trainable_variables)
        state = self._before_inner_apply(trainable_variables)
        # Keras's own inner optimizers (Adam) square an IndexedSlices row by row.
        self.inner_optimizer.apply([sum_duplicates(g) for g in grads], trainable_variables)
        self._after_inner_apply(trainable_variables, state)

    def _before_inner_apply(self, trainable_variables):
        """Runs before the inner step; what it returns goes to `_after_inner_apply`."""
        return None

    def _after_inner_apply(self, trainable_variables, state):
        raise NotImplementedError

    def save_own_variables(self, store):
        for i, variable in enumerate(self._own_variables()):
            store[str(i)] = _keras_compat.to_numpy(variable)

    def load_own_variables(self, store):
        own = self._own_variables()
        if len(store.keys()) != len(own):
            warnings.warn(
                f"Skipping variable loading for optimizer '{self.name}': it has "
                f"{len(own)} variables of its own whereas the saved "
                f"one has {len(store.keys())}. This is likely because it has not "
                "been built yet.",
                stacklevel=2,
            )
            return
        for i, variable in enumerate(own):
            variable.assign(store[str(i)])

    def finalize_variable_values(self, var_list):
        self.inner_optimizer.finalize_variable_values(var_list)
        super().finalize_variable_values(var_list)

    # --- Config ----------------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.pop("learning_rate", None)
        config["optimizer"] = keras.optimizers.serialize(self.inner_optimizer)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("optimizer"), dict):
            # A copy: keras.optimizers.deserialize rewrites the class name in place.
            config["optimizer"] = keras.optimizers.deserialize(
                copy.deepcopy(config["optimizer"]), custom_objects=custom_objects
            )
        return cls(**config)


class GradientTransformWrapper(OptimizerWrapper):
    """Base of the wrappers that change the gradients before the inner step (GC, AGC).

    Subclasses implement `_transform(gradients, trainable_variables)`, which gets
    dense gradients (an Embedding's IndexedSlices summed into a dense tensor) and
    returns the gradients to hand to the inner optimizer. They have no state.
    """

    def _build_wrapper(self, var_list):
        pass

    def _transform(self, gradients, trainable_variables):
        raise NotImplementedError

    def _whole_step(self, grads, trainable_variables, learning_rate):
        trainable_variables = list(trainable_variables)
        grads = self._transform([dense_gradient(g) for g in grads], trainable_variables)
        self.inner_optimizer.apply(grads, trainable_variables)
