"""LARS: momentum SGD with a per-layer learning rate scaled by ||w|| / ||g||."""

from keras import ops
from keras.optimizers import Optimizer

from keras_lossopt import _checks
from keras_lossopt.optimizers import _sparse
from keras_lossopt.optimizers._torch_fast import TorchFastStep
from keras_lossopt.optimizers._weight_decay import OwnWeightDecay
from keras_lossopt.registry import register

__all__ = ["LARS"]


@register("optimizer", name="lars", aliases=("layerwise_adaptive_rate_scaling",))
class LARS(TorchFastStep, OwnWeightDecay, Optimizer):
    """LARS: layer-wise adaptive rate scaling for large-batch momentum SGD.

    Each variable ("layer") gets its own learning rate, proportional to the
    ratio of its weight norm to its gradient norm, so every layer changes by
    about the same relative amount per step whatever the scale of its
    gradients. This is what lets momentum SGD train with very large batches
    (8K-32K) without diverging in the first steps. Use it with a warm-up and a
    polynomial or cosine decay of `learning_rate`. Because the trust ratio
    `trust_coefficient * ||w|| / ||g||` is small, `learning_rate` is much
    larger than SGD's: each step changes a variable by about
    `learning_rate * trust_coefficient` of its norm (the paper used
    `learning_rate` 2-30 with `trust_coefficient=0.001`). A variable whose
    norm is 0 (a zero-initialised bias) gets trust 1, i.e. a plain momentum-SGD
    step with the full `learning_rate`, which diverges with such large values:
    exclude biases, as the recipes do. With a constant learning rate LARS
    behaves like normalised gradient descent and hovers around a minimum
    instead of settling in it: decay the learning rate. Biases and
    batch-normalisation parameters are usually excluded with
    `opt.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])`:
    excluded variables get neither weight decay nor the trust ratio (plain
    momentum SGD with `learning_rate`).

    Update rule for a variable `w` with gradient `g` and momentum buffer `v`:

        trust = trust_coefficient * ||w|| / (||g|| + weight_decay * ||w|| + epsilon)
                (trust = 1 when ||w|| = 0 or ||g|| = 0)
        v = momentum * v + learning_rate * trust * (g + weight_decay * w)
        w = w - v                                          (nesterov=False)
        w = w - (momentum * v + learning_rate * trust * (g + weight_decay * w))
                                                           (nesterov=True)

    `||.||` is the Euclidean (Frobenius) norm of the whole variable.
    `weight_decay` is LARS's own (coupled, inside the trust ratio and the
    momentum); Keras's decoupled decay is not applied on top of it.

    Args:
        learning_rate: the global learning rate: float >= 0, a
            `LearningRateSchedule`, or a callable. Defaults to `0.01` (a safe
            value for `compile(optimizer="lars")`; large-batch recipes use much
            larger ones with a warm-up and biases excluded).
        momentum: momentum coefficient, in [0, 1). Defaults to `0.9`.
        weight_decay: L2 penalty coefficient `beta` of the paper, float >= 0
            (None is 0).
            Defaults to `0.0`.
        trust_coefficient: `eta` of the paper, float > 0. Defaults to `0.001`.
        epsilon: added to the denominator of the trust ratio, float >= 0.
            Defaults to `0.0`.
        nesterov: whether to use Nesterov momentum. Defaults to `False`.
        clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor,
        gradient_accumulation_steps: Keras's base optimizer keywords.
        name: Defaults to `"lars"`.

    Example:

    >>> import keras, keras_lossopt
    >>> w = keras.Variable([3.0, 4.0])  # ||w|| = 5
    >>> opt = keras_lossopt.optimizers.LARS(learning_rate=1.0, trust_coefficient=0.01)
    >>> g = keras.ops.convert_to_tensor([0.0, 10.0])  # ||g|| = 10, trust = 0.005
    >>> _ = opt.apply_gradients([(g, w)])
    >>> [round(float(v), 4) for v in w.numpy()]
    [3.0, 3.95]

    References:
        - You, Gitman & Ginsburg, 2017, "Large Batch Training of Convolutional
          Networks", https://arxiv.org/abs/1708.03888 (Algorithm 1 and eq. 6).

    Follows the paper's Algorithm 1 (learning rate inside the momentum buffer,
    weight decay in the trust ratio's denominator). Adds `epsilon` and the
    zero-norm guard (trust 1 when either norm is 0, as in TensorFlow Models'
    LARS and optax) and the Nesterov variant, which the paper does not have.
    """

    # For the conformance checks (keras_lossopt.testing): LARS's weight decay is its own (coupled, in the
    # trust ratio), not Keras's decoupled one; its steps are ||w||-relative, so the
    # convergence problem (||x|| ~ 1.5) needs a larger trust coefficient than 0.001.
    _torch_fast_rule = "lars"  # on torch: optimizers/_torch_fast.py
    _torch_fast_own_decay = True  # the fast rule applies the own weight decay too
    conformance_opt_outs = {
        "base_features:weight_decay": "LARS's weight_decay is its own coupled L2 term "
        "(inside the trust ratio and the momentum, You et al. 2017), not Keras's "
        "decoupled decay; tested against the paper's Algorithm 1 instead",
    }
    conformance_convergence = {"kwargs": {"learning_rate": 0.1, "trust_coefficient": 0.1}}

    def __init__(
        self,
        learning_rate=0.01,
        momentum=0.9,
        weight_decay=0.0,
        trust_coefficient=0.001,
        epsilon=0.0,
        nesterov=False,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="lars",
        **kwargs,
    ):
        _checks.check_learning_rate(learning_rate)
        momentum = _checks.check_beta("momentum", momentum)
        weight_decay = 0.0 if weight_decay is None else weight_decay
        weight_decay = _checks.check_non_negative("weight_decay", weight_decay)
        trust_coefficient = _checks.check_positive("trust_coefficient", trust_coefficient)
        epsilon = _checks.check_non_negative("epsilon", epsilon)
        if not isinstance(nesterov, bool):
            raise ValueError(f"`nesterov` must be a bool. Received: nesterov={nesterov!r}")
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=float(weight_decay),  # LARS's own, in update_step (OwnWeightDecay).
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            use_ema=use_ema,
            ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps,
            name=name,
            **kwargs,
        )
        self.momentum = float(momentum)
        self.trust_coefficient = float(trust_coefficient)
        self.epsilon = float(epsilon)
        self.nesterov = nesterov

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums = self.add_optimizer_variables(var_list, "momentum")

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = _sparse.dense_gradient(gradient)  # norms need duplicate rows summed
        gradient = ops.cast(gradient, dtype)
        v = self._momentums[self._get_variable_index(variable)]
        if self._not_excluded(variable):
            w_norm = ops.sqrt(ops.sum(ops.square(variable)))
            g_norm = ops.sqrt(ops.sum(ops.square(gradient)))
            denominator = g_norm
            update = gradient
            if self.own_weight_decay > 0:
                wd = ops.cast(self.own_weight_decay, dtype)
                denominator = g_norm + wd * w_norm
                update = gradient + wd * variable
            scaled_lr = lr * self._trust(w_norm, g_norm, denominator, dtype)
        else:
            # Excluded (bias, batch norm): plain momentum SGD.
            scaled_lr = lr
            update = gradient
        step = scaled_lr * update
        self.assign(v, ops.cast(self.momentum, dtype) * v + step)
        if self.nesterov:
            self.assign_sub(variable, ops.cast(self.momentum, dtype) * v + step)
        else:
            self.assign_sub(variable, v)

    def _trust(self, w_norm, g_norm, denominator, dtype):
        ratio = ops.cast(self.trust_coefficient, dtype) * w_norm / (
            denominator + ops.cast(self.epsilon, dtype))
        both_positive = ops.logical_and(ops.greater(w_norm, 0), ops.greater(g_norm, 0))
        # 0/0 in the unused branch (both norms 0, epsilon 0) is discarded here.
        return ops.where(both_positive, ratio, ops.ones((), dtype=dtype))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "momentum": self.momentum,
                "trust_coefficient": self.trust_coefficient,
                "epsilon": self.epsilon,
                "nesterov": self.nesterov,
            }
        )
        return config
