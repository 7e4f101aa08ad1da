"""Models: training procedures that wrap any Keras model.

`SharpnessAwareMinimization` wraps a model and trains it with SAM or ASAM, with
whatever optimizer `compile` receives. It is registered for serialization only
(a model is never named by a string in Keras, so it has no entry in the
name registry): `.keras` files reload after a plain `import keras_lossopt`.
"""

from keras_lossopt.models.sharpness_aware_minimization import SharpnessAwareMinimization

__all__ = ["SharpnessAwareMinimization"]
