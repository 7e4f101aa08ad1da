"""Plain gradient descent, the optimizer of every introductory course."""

import keras

from keras_lossopt import _checks
from keras_lossopt.optimizers._torch_fast import TorchFastStep
from keras_lossopt.registry import register

__all__ = ["GradientDescent"]


@register("optimizer", aliases=("gd",))
class GradientDescent(TorchFastStep, keras.optimizers.SGD):
    """Gradient descent: step against the gradient, scaled by the learning rate.

    The update rule, for a variable `w` with gradient `g` and learning rate `lr`:

        w <- w - lr * g

    Which "gradient descent" you get is decided by the batch size you give `fit`,
    not by the optimizer:

    - full-batch gradient descent: `batch_size=len(x)`; `g` is the exact gradient
      of the training loss, each epoch is one step, and the loss curve is smooth;
    - mini-batch (the usual "SGD"): `batch_size` of 16-512; `g` is a noisy but
      cheap estimate, many steps per epoch;
    - stochastic gradient descent in the strict sense: `batch_size=1`.

    A learning rate that is too high makes the loss oscillate or blow up; one
    that is too low makes it barely move (see `keras_lossopt.find_learning_rate`
    when it lands). This is Keras's `SGD` with `momentum=0` and no Nesterov term;
    use `"sgd"` for momentum.

    Args:
        learning_rate: float >= 0, a `LearningRateSchedule`, or a callable.
            Defaults to `0.01`.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
        ema_momentum, ema_overwrite_frequency, loss_scale_factor,
        gradient_accumulation_steps: Keras's base optimizer keywords.
        name: Defaults to `"gradient_descent"`.

    Example:

    >>> import keras, keras_lossopt
    >>> w = keras.Variable([1.0, 2.0])
    >>> opt = keras_lossopt.optimizers.GradientDescent(learning_rate=0.1)
    >>> _ = opt.apply_gradients([(keras.ops.convert_to_tensor([1.0, 1.0]), w)])
    >>> [round(float(v), 4) for v in w.numpy()]
    [0.9, 1.9]

    References:
        - Cauchy, "Méthode générale pour la résolution des systèmes d'équations
          simultanées", 1847.
        - Goodfellow, Bengio & Courville, "Deep Learning", 2016, section 8.3.1.
    """

    _torch_fast_rule = "keras_sgd"  # on torch: optimizers/_torch_fast.py

    def __init__(
        self,
        learning_rate=0.01,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="gradient_descent",
        **kwargs,
    ):
        _checks.check_learning_rate(learning_rate)
        super().__init__(
            learning_rate=learning_rate,
            momentum=0.0,
            nesterov=False,
            weight_decay=weight_decay,
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

    def get_config(self):
        config = super().get_config()
        config.pop("momentum", None)
        config.pop("nesterov", None)
        return config
