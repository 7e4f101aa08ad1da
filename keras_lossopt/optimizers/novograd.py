"""NovoGrad: layer-wise normalised gradients with momentum and its own weight decay."""

from keras import ops
from keras.optimizers import Optimizer

from keras_lossopt import _checks
from keras_lossopt.optimizers._sparse import sum_duplicates
from keras_lossopt.optimizers._torch_fast import TorchFastStep
from keras_lossopt.optimizers._weight_decay import OwnWeightDecay
from keras_lossopt.registry import register

__all__ = ["NovoGrad"]


@register("optimizer", name="novograd", aliases=("novo_grad",))
class NovoGrad(TorchFastStep, OwnWeightDecay, Optimizer):
    """NovoGrad: momentum SGD on gradients normalised by their per-variable norm.

    NovoGrad keeps one second-moment number per variable (per layer kernel or
    bias): an EMA of the squared norm of that variable's whole gradient. Each
    gradient is divided by its root, weight decay is added, and the result is
    accumulated into a momentum. It needs half of Adam's memory, is robust to
    the scale of each layer's gradients, and was designed for large-batch
    training of speech and language models (Jasper, BERT). Typical learning
    rates are 0.01-0.05 with a warm-up; `weight_decay` around 1e-3.

    Update rule for a variable `w` with gradient `g` at step `t` (from 1);
    `n` is a scalar per variable:

        n = ||g||**2                                   at t = 1
        n = beta_2 * n + (1 - beta_2) * ||g||**2        afterwards
        u = g / (sqrt(n) + epsilon) + weight_decay * w
        m = beta_1 * m + u
        w = w - learning_rate * m

    Args:
        learning_rate: float >= 0, a `LearningRateSchedule`, or a callable.
            Defaults to `0.001`.
        beta_1: momentum, in [0, 1). Defaults to `0.9`.
        beta_2: decay rate of the per-variable squared gradient norm, in
            [0, 1). Defaults to `0.999`.
        epsilon: added to `sqrt(n)`, >= 0. Defaults to `1e-7`.
        weight_decay: NovoGrad's own weight decay, added to the normalised
            gradient before the momentum (variables excluded with
            `exclude_from_weight_decay` get none); Keras's decoupled decay is
            not applied on top. Float >= 0 or `None` (no decay).
            Defaults to `None`.
        clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor,
        gradient_accumulation_steps: Keras's base optimizer keywords.
        name: Defaults to `"novograd"`.

    Example:

    >>> import keras, keras_lossopt
    >>> w = keras.Variable([1.0, 2.0])
    >>> opt = keras_lossopt.optimizers.NovoGrad(learning_rate=0.1)
    >>> _ = opt.apply_gradients([(keras.ops.convert_to_tensor([3.0, 4.0]), w)])
    >>> [round(float(v), 4) for v in w.numpy()]  # g / ||g|| = [0.6, 0.8]
    [0.94, 1.92]

    References:
        - Ginsburg, Castonguay, Hrinchuk, Kuchaiev, Lavrukhin, Leary, Li, Nguyen,
          Zhang & Cohen, 2019, "Stochastic Gradient Methods with Layer-wise
          Adaptive Moments for Training of Deep Networks",
          https://arxiv.org/abs/1905.11286.
        - TensorFlow Addons `tfa.optimizers.NovoGrad`
          (tensorflow_addons/optimizers/novograd.py), same defaults.

    Deviates from the paper in initialising `n` with the first squared norm
    (no EMA at step 1) and adding `epsilon` to `sqrt(n)`, as the authors' code
    (NVIDIA OpenSeq2Seq / NeMo) and TFA do. TFA's `grad_averaging` and `amsgrad`
    options are not included.
    """

    # TensorFlow Addons arguments that do not exist here (the constructor names the way).
    _torch_fast_rule = "novograd"  # on torch: optimizers/_torch_fast.py
    _torch_fast_own_decay = True  # the fast rule applies the own weight decay too
    tfa_removed_arguments = {
        'grad_averaging': "gradient averaging is not offered (TFA's default `False` is what you get)",
        'amsgrad': 'AMSGrad is not offered with NovoGrad',
    }


    conformance_opt_outs = {
        "base_features:weight_decay":
            "NovoGrad's own weight decay is added to the normalised gradient before the "
            "momentum (paper Algorithm 1, TFA), not Keras's decoupled `v -= v * wd * lr`",
    }

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="novograd",
        **kwargs,
    ):
        _checks.check_learning_rate(learning_rate)
        _checks.check_beta("beta_1", beta_1)
        _checks.check_beta("beta_2", beta_2)
        _checks.check_non_negative("epsilon", epsilon)
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,  # NovoGrad's own decay (OwnWeightDecay).
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
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums = self.add_optimizer_variables(var_list, "momentum")
        self._norms = [
            self.add_variable(
                shape=(),
                dtype=var.dtype,
                name=f"{str(getattr(var, 'path', var.name)).replace('/', '_')}_grad_norm_sq",
            )
            for var in var_list
        ]

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(sum_duplicates(gradient), dtype)  # IndexedSlices: repeats summed
        beta_1 = ops.cast(self.beta_1, dtype)
        beta_2 = ops.cast(self.beta_2, dtype)
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        n = self._norms[index]

        # Per-variable scalars.
        squared_norm = ops.sum(ops.square(gradient))
        first_step = ops.equal(self.iterations, 0)
        self.assign(n, ops.where(first_step, squared_norm,
                                 beta_2 * n + (1.0 - self.beta_2) * squared_norm))
        inv_denominator = 1.0 / (ops.sqrt(n) + ops.cast(self.epsilon, dtype))

        update = gradient * inv_denominator
        if self._decays(variable):
            update = update + ops.cast(self.own_weight_decay, dtype) * variable
        self.assign(m, beta_1 * m + update)
        self.assign_sub(variable, lr * m)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
            }
        )
        return config
