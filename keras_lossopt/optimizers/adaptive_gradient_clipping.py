"""Adaptive gradient clipping (AGC): clip each unit's gradient relative to its weights' norm."""

import re

from keras import ops

from keras_lossopt import _checks
from keras_lossopt.optimizers._wrapper import GradientTransformWrapper, all_reduced_gradients
from keras_lossopt.registry import register

__all__ = ["AdaptiveGradientClipping"]

# NFNets' guard against dividing by a zero gradient norm ("technically should be
# impossible to engage": clipping never triggers for a zero gradient).
_MIN_GRADIENT_NORM = 1e-6


def _unitwise_norm(x):
    """The L2 norm of each output unit of `x`, broadcastable against `x`.

    As NFNets' `unitwise_norm`: tensors with at most one axis longer than 1
    (scalars, biases, a Dense kernel with one input or one unit) by their whole
    norm; otherwise over all axes but the last (the output units in Keras's
    layouts: Dense `(in, out)`, ConvND `(*kernel, in, out)`).
    """
    squared = ops.square(x)
    if sum(1 for d in x.shape if d != 1) <= 1:
        return ops.sqrt(ops.sum(squared))
    return ops.sqrt(ops.sum(squared, axis=tuple(range(len(x.shape) - 1)), keepdims=True))


@register("optimizer", name="adaptive_gradient_clipping", aliases=("agc",))
class AdaptiveGradientClipping(GradientTransformWrapper):
    """Adaptive gradient clipping: wraps any optimizer and clips each unit's gradient to a fraction of its weights' norm.

    AGC rescales the gradient of every output unit whose norm exceeds
    `clip_factor` times the norm of that unit's weights, so no step can change a
    unit's weights by more than that fraction (times the learning rate). It is
    what let Brock et al. train normaliser-free ResNets (NFNets) with large
    batches and strong augmentation without batch normalisation. Use it with
    large learning rates or batches and models without normalisation. NFNets
    used `clip_factor` 0.01 at batch size 4096 (larger values suit smaller
    batches), SGD with Nesterov momentum 0.9, and did not clip the final
    classifier layer (`exclude=("predictions",)` with its layer name).

    Update rule for each variable `w` with gradient `g`, where `||.||_u` is the
    norm of each output unit (see below) broadcast over the unit:

        max_norm = clip_factor * max(||w||_u, epsilon)
        g = g * max_norm / max(||g||_u, 1e-6)   where ||g||_u > max_norm
        w = inner_optimizer_step(w, g)

    Units, as in the NFNets code: a Dense kernel `(in, out)` has one unit per
    output (a column of the kernel; a row of PyTorch's `(out, in)` weight), a
    convolution kernel `(*kernel_size, in, out)` one per output channel;
    biases, scales and any tensor with at most one axis longer than 1 are one
    unit. Under `tf.distribute` the norms are those of the gradient summed over
    replicas (one extra all-reduce per step), so the clipping equals
    single-device training.

    Args:
        optimizer: the inner optimizer: a `keras.optimizers.Optimizer` instance,
            a registered name, a config dict or an optimizer class. Defaults to
            `"adam"` (Keras's Adam defaults); NFNets used
            `keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True)`.
        clip_factor: the largest allowed ratio of a unit's gradient norm to its
            weight norm, > 0. Defaults to `0.01`.
        epsilon: floor on the weight norm, so that units initialised at 0 can
            move, >= 0. Defaults to `1e-3`.
        exclude: variables whose gradient is not clipped: regular expressions
            searched in each variable's path (`"dense_2/kernel"`), e.g.
            `("predictions",)` for the classifier layer. Defaults to `()`.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
        ema_momentum, ema_overwrite_frequency, loss_scale_factor,
        gradient_accumulation_steps: Keras's base optimizer keywords, applied by
            the wrapper before the adaptive clipping (usually you set them on
            the inner optimizer instead).
        name: Defaults to `"adaptive_gradient_clipping"`.

    Example:

    >>> import keras, keras_lossopt
    >>> w = keras.Variable([3.0, 4.0])  # one unit of norm 5: max_norm = 0.1 * 5
    >>> opt = keras_lossopt.optimizers.AdaptiveGradientClipping(
    ...     keras.optimizers.SGD(learning_rate=1.0), clip_factor=0.1)
    >>> _ = opt.apply_gradients([(keras.ops.convert_to_tensor([0.0, 2.0]), w)])
    >>> [round(float(x), 4) for x in w.numpy()]  # the gradient clipped to norm 0.5
    [3.0, 3.5]

    References:
        - Brock, De, Smith & Simonyan, 2021, "High-Performance Large-Scale Image
          Recognition Without Normalization", ICML 2021,
          https://arxiv.org/abs/2102.06171 (section 4.1).
        - The authors' code, https://github.com/deepmind/deepmind-research
          (`nfnets/agc_optax.py` and `nfnets/optim.py`, `unitwise_norm`, `SGD_AGC`).

    Deviates from the NFNets code for rank-3 and rank-5 tensors: theirs takes
    rank 3 as a multi-head linear layer (norm over axis 0 only) and refuses rank
    5; here every tensor of rank >= 2 has its units on the last axis (Keras's
    Conv1D and Conv3D kernels). For rank 2 and 4, the ranks of NFNets' own
    models, it is their rule. Keras's MultiHeadAttention query/key/value
    kernels `(in, heads, head_dim)` therefore take per-`head_dim` units across
    heads; exclude them if that matters.
    """

    def __init__(
        self,
        optimizer="adam",
        clip_factor=0.01,
        epsilon=1e-3,
        exclude=(),
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="adaptive_gradient_clipping",
        **kwargs,
    ):
        clip_factor = float(_checks.check_positive("clip_factor", clip_factor))
        epsilon = float(_checks.check_non_negative("epsilon", epsilon))
        if isinstance(exclude, str) or not all(isinstance(p, str) for p in exclude or ()):
            raise ValueError(
                "`exclude` must be a list or tuple of regular-expression strings. "
                f"Received: exclude={exclude!r}"
            )
        for pattern in exclude or ():
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(
                    f"`exclude` holds an invalid regular expression ({error}). "
                    f"Received: exclude={exclude!r}"
                ) from error
        exclude = tuple(exclude or ())
        super().__init__(
            optimizer,
            name,
            kwargs,
            dict(
                weight_decay=weight_decay,
                clipnorm=clipnorm,
                clipvalue=clipvalue,
                global_clipnorm=global_clipnorm,
                use_ema=use_ema,
                ema_momentum=ema_momentum,
                ema_overwrite_frequency=ema_overwrite_frequency,
                loss_scale_factor=loss_scale_factor,
                gradient_accumulation_steps=gradient_accumulation_steps,
            ),
        )
        self.clip_factor = clip_factor
        self.epsilon = epsilon
        self.exclude = exclude

    def _excluded(self, variable):
        path = getattr(variable, "path", None) or variable.name
        return any(re.search(pattern, path) for pattern in self.exclude)

    def _transform(self, gradients, trainable_variables):
        # Under tf.distribute the norms are those of the summed gradient; each
        # replica's share is scaled by the same factors, so the inner optimizer's
        # sum is the clipped sum.
        summed = all_reduced_gradients(gradients)
        clipped = []
        for gradient, total, variable in zip(gradients, summed, trainable_variables):
            if self._excluded(variable):
                clipped.append(gradient)
                continue
            dtype = variable.dtype
            total = ops.cast(total, dtype)
            max_norm = ops.convert_to_tensor(self.clip_factor, dtype=dtype) * ops.maximum(
                _unitwise_norm(variable.value), ops.convert_to_tensor(self.epsilon, dtype=dtype)
            )
            norm = _unitwise_norm(total)
            scale = ops.where(
                norm > max_norm,
                max_norm / ops.maximum(norm, ops.convert_to_tensor(_MIN_GRADIENT_NORM, dtype=dtype)),
                ops.ones_like(norm),
            )
            clipped.append(ops.multiply(ops.cast(gradient, dtype), scale))
        return clipped

    def get_config(self):
        config = super().get_config()
        config.update(clip_factor=self.clip_factor, epsilon=self.epsilon,
                      exclude=list(self.exclude))
        return config
