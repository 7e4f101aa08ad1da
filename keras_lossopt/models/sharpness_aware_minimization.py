"""Sharpness-aware minimization (SAM) and adaptive SAM as a `keras.Model` wrapper.

One `train_step` per backend (TensorFlow: `tf.GradientTape`; JAX: the stateless
`compute_loss_and_updates`; PyTorch: `torch.autograd`), sharing the algorithm's
arithmetic (`_perturbation`, written in keras.ops) and the micro-batch logic.
The second (perturbed) pass is a stateless call on every backend: the weights are
never moved in place, so the restore to `w` is exact and the second pass can not
touch the non-trainable state or the metrics.
"""

import copy
import inspect
import math

import keras
from keras import ops, tree

from keras_lossopt import _checks, _keras_compat

__all__ = ["SharpnessAwareMinimization"]

# Added to the gradient norm, as in tf.keras 2.x and davda54/sam (a zero gradient
# then gives a zero perturbation, not a NaN).
NORM_EPSILON = 1e-12


@keras.saving.register_keras_serializable(package="keras_lossopt")
class SharpnessAwareMinimization(keras.Model):
    """Sharpness-aware minimization: trains any model at the worst point of a rho-ball.

    SAM (Foret et al. 2021) minimises the loss in a neighbourhood of the
    weights instead of the loss at the weights: each step first climbs to the
    (first-order) worst point within distance `rho`, takes the gradient there,
    and hands that gradient to the compiled optimizer to update the original
    weights. It costs two forward/backward passes per step and tends to find
    flatter minima that generalize better, notably under label noise. ASAM
    (`adaptive=True`, Kwon et al. 2021) measures the neighbourhood relative to
    each weight's magnitude, which makes it invariant to weight rescaling; it
    wants a larger `rho` (the ASAM authors use about 10x SAM's, e.g. 0.5-2.0).
    Typical SAM `rho`: 0.05 (0.01-0.2); tune it like a learning rate.

    Wrap the model, then compile and fit the wrapper with any optimizer (a
    string or an instance, Keras's or keras_lossopt's); `predict` and
    `evaluate` are the inner model's, and `sam.model` is the trained model.

    Update rule for one step on the batch (or micro-batch) loss `L`, with `w`
    every trainable variable of the inner model and `T_w = |w|` for ASAM
    (`T_w = 1` for SAM), all products element-wise:

        g = grad L(w)
        e = rho * T_w^2 * g / (||T_w * g|| + 1e-12)     # ||.||: global norm over all variables
        g_sam = grad L(w + e)
        w = optimizer_step(w, g_sam)

    With `num_batch_splits=k` the batch is cut into `k` equal micro-batches,
    each gets its own `e` from its own gradient ("m-sharpness", m = batch/k) and
    `g_sam` is the mean of the `k` micro-batch SAM gradients.

    Non-trainable state (BatchNormalization statistics, dropout seeds) is taken
    from the first pass at `w`, as in the authors' code (google-research/sam
    keeps the state of the unperturbed pass and discards the perturbed one) and
    davda54/sam (running statistics only in the first pass): the statistics
    update once per step. The second pass starts from the same state as the
    first, so both see the same dropout masks (the authors' code reuses one RNG
    key). With micro-batches, each micro-batch's first pass starts from the
    step's state and the float state is averaged over micro-batches (one
    momentum update with the mean of their statistics, which is what replicas of
    a data-parallel run do); integer state (seeds) advances through them. The
    reported loss and metrics are those of the first pass (at `w`).

    Under `tf.distribute.MirroredStrategy` the first-pass gradient is
    all-reduced before the perturbation, and micro-batches are cut from the
    global batch (`num_batch_splits` must then be a multiple of the number of
    replicas, each replica taking its share of micro-batches), so training equals
    single-device training; `keras.distribution.DataParallel` (JAX) is the same
    by construction. For the paper's per-accelerator perturbation set
    `num_batch_splits` to the number of replicas.

    Args:
        model: the `keras.Model` to train (any model: Sequential, functional or
            subclassed).
        rho: radius of the neighbourhood, >= 0; 0 reduces SAM to the compiled
            optimizer (the same training as the plain model). Defaults to `0.05`.
        adaptive: ASAM's element-wise scaling by `|w|` (davda54/sam's
            `adaptive=True`). Defaults to `False`.
        num_batch_splits: number of micro-batches each batch is cut into, an
            integer >= 1, each with its own perturbation; must divide every
            batch size. `None`
            (same as 1) perturbs with the whole batch's gradient. Defaults to
            `None`.
        name: the wrapper's name. Defaults to `None`.

    Example (one SGD step on one sample, hand-checkable: at w = (1, 1), b = 0
    the gradient of (w.x + b)^2 for x = (1, 2) is g = (6, 12, 6), ||g|| =
    sqrt(216); w + e with rho = 0.1 predicts 3 + 0.1 * 36 / sqrt(216) = 3.245,
    so g_sam = 2 * 3.245 * (1, 2, 1) and w = 1 - 0.01 * (6.490, 12.980)):

    >>> import keras, numpy as np
    >>> from keras_lossopt.models import SharpnessAwareMinimization
    >>> inner = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, kernel_initializer="ones")])
    >>> sam = SharpnessAwareMinimization(inner, rho=0.1)
    >>> sam.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    >>> _ = sam.fit(np.array([[1.0, 2.0]]), np.array([[0.0]]), verbose=0)
    >>> [round(float(v), 4) for v in inner.get_weights()[0].ravel()]
    [0.9351, 0.8702]

    Migrating from tf.keras 2.x: `tf.keras.models.experimental.
    SharpnessAwareMinimization(model, rho, num_batch_splits)` has the same
    arguments and meaning; pass `num_batch_splits` by keyword (the third
    positional argument here is `adaptive`, which must be a bool). Deviations
    from tf.keras 2.x, each following the authors' code: micro-batch SAM
    gradients are averaged (tf.keras summed them, which scaled the learning
    rate by `num_batch_splits`); the first pass runs in training mode and its
    BatchNorm statistics are kept (tf.keras ran it in inference mode and kept
    the second, perturbed pass's statistics); weights return exactly to `w`
    (tf.keras added and subtracted `e`); under MirroredStrategy the perturbation
    uses the global batch (tf.keras perturbed each replica with its own
    gradient).

    References:
        - Foret, Kleiner, Mobahi & Neyshabur, 2021, "Sharpness-Aware
          Minimization for Efficiently Improving Generalization", ICLR.
          https://arxiv.org/abs/2010.01412 (eq. 2 and Algorithm 1; the
          authors' code: github.com/google-research/sam,
          `sam_jax/training_utils/flax_training.py`).
        - Kwon, Kim, Park & Choi, 2021, "ASAM: Adaptive Sharpness-Aware
          Minimization for Scale-Invariant Learning of Deep Neural Networks",
          ICML. https://arxiv.org/abs/2102.11600. The scaling follows
          davda54/sam's `adaptive=True` (T_w = |w| for every variable;
          the ASAM authors' code, SamsungLabs/ASAM `asam.py`,
          uses T_w = |w| + 0.01 for weight matrices and T_w = 1 for biases).
    """

    def __init__(self, model, rho=0.05, adaptive=False, num_batch_splits=None, name=None,
                 **kwargs):
        if not isinstance(model, keras.Model):
            raise ValueError(f"`model` must be a keras.Model instance. Received: model={model!r}")
        _checks.check_non_negative("rho", rho)
        if not isinstance(adaptive, bool):
            raise ValueError(
                f"`adaptive` must be a bool (tf.keras 2.x's third positional argument was "
                f"`num_batch_splits`: pass it by keyword). Received: adaptive={adaptive!r}"
            )
        if num_batch_splits is not None:
            _checks.check_positive_int("num_batch_splits", num_batch_splits)
        super().__init__(name=name, **kwargs)
        self.model = model
        self.rho = float(rho)
        self.adaptive = adaptive
        self.num_batch_splits = None if num_batch_splits is None else int(num_batch_splits)
        if model.built:
            self.built = True

    def call(self, inputs, training=None):
        return self.model(inputs, training=training)

    # --- the algorithm, in keras.ops ------------------------------------------------

    def _perturbation(self, gradients, weights):
        """`e = rho * T_w^2 * g / (||T_w * g|| + eps)`; None where a gradient is None."""
        pairs = [(g, w) for g, w in zip(gradients, weights) if g is not None]
        scaled = [ops.abs(w) * g if self.adaptive else g for g, w in pairs]
        # float32 at least (float16 gradients would overflow the squares), float64 if any is.
        dtype = "float64" if any(keras.backend.standardize_dtype(g.dtype) == "float64" for g, _ in pairs) else "float32"
        norm = ops.sqrt(sum(ops.sum(ops.square(ops.cast(s, dtype))) for s in scaled))
        scale = self.rho / (norm + NORM_EPSILON)
        out = []
        for g, w in zip(gradients, weights):
            if g is None:
                out.append(None)
                continue
            e = g * ops.cast(scale, g.dtype)
            out.append(ops.square(w) * e if self.adaptive else e)
        return out

    def _local_splits(self, num_replicas=1):
        """Micro-batches per replica; the first pass's gradient is synced when it is 0."""
        splits = self.num_batch_splits or 1
        if num_replicas == 1:
            return splits
        if splits == 1:
            return 0  # one global micro-batch: all-reduce the first gradient
        if splits % num_replicas:
            raise ValueError(
                "Under a distribution strategy `num_batch_splits` must be 1 (or None) or a "
                f"multiple of the {num_replicas} replicas, so that micro-batches are cut from "
                f"the global batch. Received: num_batch_splits={self.num_batch_splits}"
            )
        return splits // num_replicas

    def _split(self, x, y, sample_weight, splits):
        """`splits` equal micro-batches `(x, y, sample_weight)` of the batch."""
        if splits == 1:
            return [(x, y, sample_weight)]
        first = next(t for t in tree.flatten(x) if t is not None)
        size = first.shape[0]
        if size is None:  # TensorFlow graph with an unknown batch size
            size = ops.shape(first)[0]
            _assert_divisible_tf(size, splits)
        elif size % splits:
            raise _not_divisible_error(splits, size)
        step = size // splits

        def part(i):
            return tree.map_structure(lambda t: None if t is None else t[i * step:(i + 1) * step], (x, y, sample_weight))

        return [part(i) for i in range(splits)]

    @staticmethod
    def _float_indices(variables):
        return [i for i, v in enumerate(variables) if keras.backend.is_float_dtype(v.dtype)]

    def _stateless_loss(self, trainable, non_trainable, x, y, sample_weight):
        """Loss at the given variable values, without side effects (TensorFlow, PyTorch)."""
        y_pred, _, losses = self.stateless_call(
            trainable, non_trainable, x, return_losses=True, training=True
        )
        mapping = list(zip(self.trainable_variables, trainable))
        mapping += list(zip(self.non_trainable_variables, non_trainable))
        with _keras_compat.forward_pass_losses(self, losses):
            with keras.StatelessScope(state_mapping=mapping):
                loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                         training=True)
                return self.optimizer.scale_loss(loss)

    def _track_loss_and_metrics(self, losses, x, y, y_preds, sample_weight):
        """Reports the first pass: the mean micro-batch loss and metrics on the batch."""
        loss = losses[0] if len(losses) == 1 else ops.mean(ops.stack(losses))
        first = next(t for t in tree.flatten(x) if t is not None)
        _keras_compat.track_loss(self, _unscale_for_distribution(loss), ops.shape(first)[0])
        return self.compute_metrics(x, y, _concat(y_preds), sample_weight=sample_weight)

    def _average_state(self, variables, start, ends):
        """Float state: `start + mean(end - start)` over micro-batches (stateful backends)."""
        for i in self._float_indices(variables):
            delta = sum(end[i] - start[i] for end in ends)
            variables[i].assign(start[i] + delta / len(ends))

    # --- one train_step per backend -------------------------------------------------

    def train_step(self, *args):
        backend = keras.backend.backend()
        if backend == "jax":
            return self._train_step_jax(*args)
        if backend == "tensorflow":
            return self._train_step_tensorflow(*args)
        if backend == "torch":
            return self._train_step_torch(*args)
        raise NotImplementedError(
            f"SharpnessAwareMinimization trains on TensorFlow, JAX and PyTorch. "
            f"Received: backend={backend!r}"
        )

    def _train_step_tensorflow(self, data):
        import tensorflow as tf

        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        weights = self.trainable_variables
        state_vars = self.non_trainable_variables
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        local = self._local_splits(replicas)
        batches = self._split(x, y, sample_weight, max(local, 1))
        start = [tf.identity(v.value) for v in state_vars]
        ends, losses, y_preds, sam_grads = [], [], [], []
        for i, (xb, yb, swb) in enumerate(batches):
            if i:
                for j in self._float_indices(state_vars):
                    state_vars[j].assign(start[j])
            before = start if i == 0 else [tf.identity(v.value) for v in state_vars]
            with tf.GradientTape() as tape:
                y_pred = self(xb, training=True)
                loss = self.compute_loss(x=xb, y=yb, y_pred=y_pred, sample_weight=swb,
                                          training=True)
                scaled = self.optimizer.scale_loss(loss)
            grads = tape.gradient(scaled, weights)
            if local == 0:
                grads = _all_reduce_tf(grads, weights)
            losses.append(loss)
            y_preds.append(y_pred)
            if len(batches) > 1:
                ends.append([tf.identity(v.value) for v in state_vars])
            eps = self._perturbation(grads, weights)
            perturbed = [w.value if e is None else w.value + e for w, e in zip(weights, eps)]
            with tf.GradientTape() as tape:
                tape.watch(perturbed)
                scaled = self._stateless_loss(perturbed, before, xb, yb, swb)
            sam_grads.append(tape.gradient(scaled, perturbed))
        if len(batches) > 1:
            self._average_state(state_vars, start, ends)
        self.optimizer.apply_gradients(zip(_mean_gradients(sam_grads), weights))
        return self._track_loss_and_metrics(losses, x, y, y_preds, sample_weight)

    def _train_step_torch(self, data):
        import torch

        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        weights = self.trainable_variables
        state_vars = self.non_trainable_variables
        batches = self._split(x, y, sample_weight, self._local_splits())
        start = [v.value.detach().clone() for v in state_vars]
        ends, losses, y_preds, sam_grads = [], [], [], []
        for i, (xb, yb, swb) in enumerate(batches):
            if i:
                for j in self._float_indices(state_vars):
                    state_vars[j].assign(start[j])
            before = start if i == 0 else [v.value.detach().clone() for v in state_vars]
            rng_before = _torch_rng_state()
            y_pred = self(xb, training=True)
            loss = self.compute_loss(x=xb, y=yb, y_pred=y_pred, sample_weight=swb,
                                      training=True)
            grads = torch.autograd.grad(self.optimizer.scale_loss(loss),
                                        [w.value for w in weights], allow_unused=True)
            losses.append(loss.detach())
            y_preds.append(tree.map_structure(lambda t: t.detach(), y_pred))
            if len(batches) > 1:
                ends.append([v.value.detach().clone() for v in state_vars])
            with torch.no_grad():
                eps = self._perturbation(list(grads), [w.value for w in weights])
                perturbed = [w.value.detach().clone() if e is None else w.value + e
                             for w, e in zip(weights, eps)]
            perturbed = [p.requires_grad_(True) for p in perturbed]
            # Unseeded dropout draws from torch's global generator, not from a Keras
            # SeedGenerator: replay it so both passes see the same masks.
            rng_after = _torch_rng_state()
            _set_torch_rng_state(rng_before)
            scaled = self._stateless_loss(perturbed, before, xb, yb, swb)
            sam_grads.append(list(torch.autograd.grad(scaled, perturbed, allow_unused=True)))
            _set_torch_rng_state(rng_after)
        with torch.no_grad():
            if len(batches) > 1:
                self._average_state(state_vars, start, ends)
            self.optimizer.apply(_mean_gradients(sam_grads), weights)
        return self._track_loss_and_metrics(losses, x, y, y_preds, sample_weight)

    def _train_step_jax(self, state, data):
        import jax

        trainable, non_trainable, optimizer_vars, metrics_vars = state
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        batches = self._split(x, y, sample_weight, self._local_splits())
        grad_fn = jax.value_and_grad(self.compute_loss_and_updates, has_aux=True)
        floats = set(self._float_indices(self.non_trainable_variables))
        start, current = list(non_trainable), list(non_trainable)
        ends, losses, y_preds, sam_grads = [], [], [], []
        for xb, yb, swb in batches:
            before = [start[i] if i in floats else current[i] for i in range(len(start))]
            (_, (loss, y_pred, current, metrics_vars)), grads = grad_fn(
                trainable, before, metrics_vars, xb, yb, swb, training=True,
                optimizer_variables=optimizer_vars)
            losses.append(loss)
            y_preds.append(y_pred)
            ends.append(current)
            eps = self._perturbation(grads, trainable)
            perturbed = [w if e is None else w + e for w, e in zip(trainable, eps)]
            # The perturbed pass's state and metrics are discarded (see the docstring).
            _, sam_grad = grad_fn(perturbed, before, metrics_vars, xb, yb, swb, training=True,
                                  optimizer_variables=optimizer_vars)
            sam_grads.append(sam_grad)
        if len(batches) > 1:
            current = [
                start[i] + sum(end[i] - start[i] for end in ends) / len(ends) if i in floats
                else current[i]
                for i in range(len(start))
            ]
        trainable, optimizer_vars = self.optimizer.stateless_apply(
            optimizer_vars, _mean_gradients(sam_grads), trainable)
        mapping = list(zip(self.metrics_variables, metrics_vars))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            logs = self._track_loss_and_metrics(losses, x, y, y_preds, sample_weight)
        metrics_vars = [
            v.value if scope.get_current_value(v) is None else scope.get_current_value(v)
            for v in self.metrics_variables
        ]
        return logs, (trainable, current, optimizer_vars, metrics_vars)

    # --- fit: fail before training on a batch size num_batch_splits does not divide --

    def fit(self, *args, **kwargs):
        bound = inspect.signature(keras.Model.fit).bind(self, *args, **kwargs).arguments
        self._check_array_batches(bound.get("x"), bound.get("batch_size"),
                                  bound.get("validation_split", 0.0))
        return super().fit(*args, **kwargs)

    def _check_array_batches(self, x, batch_size, validation_split):
        """Array inputs: every batch `fit` will cut must split into `num_batch_splits`.

        (In a TensorFlow graph the batch size is unknown when the step is traced, so the
        step itself can only check it at run time.)
        """
        splits = self.num_batch_splits or 1
        leaves = [t for t in tree.flatten(x) if hasattr(t, "shape") and len(t.shape)]
        if splits == 1 or not leaves:
            return
        samples = int(leaves[0].shape[0])
        if validation_split:
            samples = int(math.ceil(samples * (1.0 - validation_split)))
        batch_size = batch_size or 32
        for size in {min(batch_size, samples), samples % batch_size} - {0}:
            if size % splits:
                raise _not_divisible_error(splits, size, batch_size)

    # --- serialization --------------------------------------------------------------

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "model": keras.saving.serialize_keras_object(self.model),
            "rho": self.rho,
            "adaptive": self.adaptive,
            "num_batch_splits": self.num_batch_splits,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = copy.deepcopy(config)
        config["model"] = keras.saving.deserialize_keras_object(
            config["model"], custom_objects=custom_objects)
        return cls(**config)


# --- helpers shared by the backends --------------------------------------------------


def _not_divisible_error(splits, size, batch_size=None):
    given = f" (batch_size={batch_size})" if batch_size is not None else ""
    return ValueError(
        f"`num_batch_splits` must divide every batch size, but a batch has {size} samples"
        f"{given}. Received: num_batch_splits={splits}. Choose a batch size that it divides "
        "(and drop the last partial batch, e.g. `dataset.batch(n, drop_remainder=True)`)."
    )


def _assert_divisible_tf(size, splits):
    """TensorFlow only: a run-time check where the traced batch size is unknown."""
    import tensorflow as tf

    tf.debugging.assert_equal(
        size % splits, 0,
        message=f"`num_batch_splits` must divide every batch size (x below is the batch "
                f"size modulo {splits}). Received: num_batch_splits={splits}")


def _all_reduce_tf(gradients, weights):
    """TensorFlow only: sums the replicas' first-pass gradients (of the replica-scaled loss)."""
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    dense = [ops.zeros_like(w) if g is None else ops.convert_to_tensor(g)
             for g, w in zip(gradients, weights)]
    summed = context.all_reduce(tf.distribute.ReduceOp.SUM, dense)
    return [None if g is None else s for g, s in zip(gradients, summed)]


def _torch_rng_state():
    """PyTorch only: the global generators' states (CPU, and CUDA when present)."""
    import torch

    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    return torch.random.get_rng_state(), cuda


def _set_torch_rng_state(state):
    import torch

    cpu, cuda = state
    torch.random.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)


def _unscale_for_distribution(loss):
    if keras.backend.backend() != "tensorflow":
        return loss
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss * replicas if replicas > 1 else loss


def _mean_gradients(per_batch):
    """The element-wise mean of the micro-batches' gradient lists (None stays None)."""
    if len(per_batch) == 1:
        return list(per_batch[0])
    out = []
    for grads in zip(*per_batch):
        if any(g is None for g in grads):
            out.append(None)
        else:
            out.append(sum(grads[1:], grads[0]) / len(grads))
    return out


def _concat(y_preds):
    if len(y_preds) == 1:
        return y_preds[0]
    return tree.map_structure(lambda *parts: ops.concatenate(parts, axis=0), *y_preds)
