"""Cautious optimizers: keep only the update components that agree with the gradient."""

from keras import ops

from keras_lossopt import _keras_compat
from keras_lossopt.optimizers._sparse import dense_gradient, sum_duplicates
from keras_lossopt.optimizers._wrapper import OptimizerWrapper, all_reduced_gradients
from keras_lossopt.registry import register

__all__ = ["Cautious"]

# The authors' floor on the mask's mean (`mask.mean().clamp_(min=1e-3)`).
_MIN_MASK_MEAN = 1e-3


@register("optimizer", name="cautious")
class Cautious(OptimizerWrapper):
    """Cautious: wraps any optimizer and drops the update components whose sign opposes the gradient.

    A momentum or adaptive optimizer often moves a weight against its current
    gradient (the momentum still points the old way). The cautious mask keeps
    only the components of the update that go downhill for the current gradient
    and rescales them by the fraction kept, so the step keeps its size. Liang et
    al. show that this keeps the inner optimizer's Hamiltonian (Lyapunov)
    descent property and report up to 1.47x faster LLaMA and MAE pre-training
    with C-AdamW and C-Lion; it is also in NanoGPT speedrun records. No extra
    state and no new hyperparameter: wrap the optimizer you would use anyway
    (`"adamw"` by default, or `Cautious(keras.optimizers.Lion(3e-4))`).

    Update rule, with `w` the variable before the inner step, `g` its gradient
    and `lr * weight_decay * w` the inner optimizer's decoupled weight decay
    (Keras's base `weight_decay`):

        w_decayed = w - lr * weight_decay * w
        u = inner_optimizer_step(w, g) - w_decayed        # the inner update
        mask = 1 where u * g < 0 (u goes downhill), else 0
        w = w_decayed + u * mask / max(mean(mask), 0.001) # mean over the tensor

    What "update" means: `u` is the whole change the inner optimizer makes to
    the variable in this step, except Keras's decoupled weight decay (the base
    `weight_decay` of AdamW, Lion, SGD, ...), which is applied unmasked, as in
    the authors' C-AdamW. The inner state (moments) is never masked.

    - Momentum and adaptive methods (AdamW, Lion, SGD with momentum, RAdam, ...):
      `u` is built from moments of PAST gradients too; the mask compares its
      sign with the CURRENT gradient only, as the paper does.
    - Steps that are partly not gradient steps are masked whole: Lookahead's
      synchronisation and SWA's averaging would be masked like a gradient step;
      wrap the inner optimizer instead (`Lookahead(Cautious("adamw"))`).
    - Weight decay that an optimizer applies inside its own update rule (Adan's
      proximal decay, ADOPT's and MARS's decays) is part of `u` and is masked.
    - With `gradient_accumulation_steps` on the inner optimizer, `g` is the last
      micro-batch's gradient: put the accumulation on the wrapper instead.
    - An update component that rounds to zero in the variable's precision (below
      half a unit in the last place of `w`) counts as masked in `mean(mask)`.

    With Keras's AdamW inside this is the authors' C-AdamW: their mask
    `exp_avg * grad > 0` equals `u * g < 0` because AdamW's step is `-alpha * m
    / (sqrt(v) + epsilon)` with `alpha > 0`. Under `tf.distribute` the mask uses
    the gradient summed over replicas (one extra all-reduce per step).

    Args:
        optimizer: the inner optimizer: a `keras.optimizers.Optimizer` instance,
            a registered name (`"adamw"`, `"lion"`, `"radam"`, ...), a config dict
            or an optimizer class. Defaults to `"adamw"` (Keras's AdamW defaults).
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
        ema_momentum, ema_overwrite_frequency, loss_scale_factor,
        gradient_accumulation_steps: Keras's base optimizer keywords, applied by
            the wrapper before the inner optimizer's step (the wrapper's own
            `weight_decay` is unmasked too; usually you set these on the inner
            optimizer instead).
        name: Defaults to `"cautious"`.

    Example:

    >>> import keras, keras_lossopt
    >>> w = keras.Variable([1.0, 2.0, 3.0, 4.0])
    >>> opt = keras_lossopt.optimizers.Cautious(
    ...     keras.optimizers.SGD(learning_rate=0.1, momentum=0.9))
    >>> _ = opt.apply_gradients([(keras.ops.convert_to_tensor([1.0, 1.0, 1.0, 1.0]), w)])
    >>> g = keras.ops.convert_to_tensor([1.0, -0.5, 1.0, -0.5])
    >>> _ = opt.apply_gradients([(g, w)])  # SGD's step -0.09 - 0.1 * g: uphill where g < 0
    >>> # masked there, the others doubled (mean(mask) = 0.5)
    >>> [round(float(x), 4) for x in w.numpy()]
    [0.52, 1.9, 2.52, 3.9]

    References:
        - Liang, Chen, Liu & Liu, 2024, "Cautious Optimizers: Improving Training
          with One Line of Code", https://arxiv.org/abs/2411.16085.
        - The authors' code, https://github.com/kyleliang919/C-Optim
          (`c_adamw.py`, `AdamW.step` with `foreach=False`).

    Follows the authors' code where it differs from the paper's Algorithm 1: the
    mask is normalised by `max(mean(mask), 1e-3)` (the paper and their earlier
    code used `numel / (sum(mask) + 1)`, which kozistr/pytorch_optimizer keeps).
    Their default multi-tensor path (`foreach=True`) adds epsilon after the bias
    correction of `sqrt(v)` (PyTorch's AdamW), their per-tensor path before it
    (Keras's AdamW): with Keras's AdamW inside this equals the per-tensor path.
    """

    conformance_opt_outs = {
    }

    def __init__(
        self,
        optimizer="adamw",
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="cautious",
        **kwargs,
    ):
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

    def _build_wrapper(self, var_list):
        pass  # No state of its own.

    def _inner_decay(self):
        """`(learning_rate, applies)` of the inner optimizer's coming decoupled decay.

        Keras's base pipeline applies it before the inner update step, only on the
        steps that apply (with gradient accumulation, every k-th call); `None` when
        the inner optimizer has no Keras weight decay.
        """
        inner = self.inner_optimizer
        if inner.weight_decay is None:
            return None
        applies = None
        if inner.gradient_accumulation_steps:
            applies = ops.equal(ops.mod(_keras_compat.apply_calls(inner) + 1, inner.gradient_accumulation_steps), 0)
        return inner.learning_rate, applies

    def _whole_step(self, grads, trainable_variables, learning_rate):
        trainable_variables = list(trainable_variables)
        # The sign test uses the gradient the inner optimizer applies: the dense sum
        # of an Embedding's IndexedSlices, summed over replicas under tf.distribute.
        dense = all_reduced_gradients([dense_gradient(g) for g in grads])
        before = [ops.copy(v.value) for v in trainable_variables]
        decay = self._inner_decay()  # read before the inner step moves its schedule
        self.inner_optimizer.apply([sum_duplicates(g) for g in grads], trainable_variables)
        for variable, gradient, start in zip(trainable_variables, dense, before):
            dtype = variable.dtype
            decayed = start
            if decay is not None and _keras_compat.uses_weight_decay(self.inner_optimizer, variable):
                lr, applies = decay
                # The expression of Keras's base-class decoupled decay (its casts included),
                # so the same values.
                wd = ops.cast(self.inner_optimizer.weight_decay, dtype)
                decayed = start - start * wd * ops.cast(lr, dtype)
                if applies is not None:
                    decayed = ops.where(applies, decayed, start)
            update = ops.subtract(variable.value, decayed)
            downhill = ops.less(ops.multiply(update, ops.cast(gradient, dtype)), 0)
            mask = ops.cast(downhill, dtype)
            scale = mask / ops.maximum(ops.mean(mask), ops.convert_to_tensor(_MIN_MASK_MEAN, dtype=dtype))
            self.assign(variable, ops.add(decayed, ops.multiply(update, scale)))
