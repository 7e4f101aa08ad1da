"""Loss shapes: each loss and its gradient, drawn from the real implementations.

    python examples/loss_shapes.py        # a few seconds after import, no training

The pictures introductory material explains losses with, made by calling the loss
objects themselves (`keras_lossopt.plot_losses`), so the picture is the code:

1. Regression losses against the residual `y_pred - y_true`: L2 grows with the
   square of the error (error 2 costs 4, error 10 costs 100: the archery analogy),
   L1 linearly; Huber, pseudo-Huber and log-cosh are quadratic near 0 and linear
   beyond, so their gradient is bounded and one outlier cannot dominate a batch.
2. Classification losses against the predicted probability `p` of the true class:
   cross-entropy's `-log p` makes a confident wrong prediction (p = 0.01) cost five
   times a hesitant one (p = 0.4); the focal loss silences the easy, confident right
   ones; poly-1 adds a linear term `epsilon (1 - p)`. Hinge and squared hinge are
   drawn against the margin `y * f(x)`: zero loss, and zero gradient, past margin 1.

The numbers printed are the loss objects' own values at the points named above.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

import keras_lossopt  # noqa: E402

REGRESSION = ["l1", "l2", "huber", "pseudo_huber", "log_cosh"]
CLASSIFICATION = ["binary_crossentropy", keras.losses.BinaryFocalCrossentropy(gamma=2.0),
                  "poly1", "hinge", "squared_hinge"]


def _at(shape, x):
    """The drawn value of `shape` at the grid point nearest to `x`."""
    i = abs(shape.x - x).argmin()
    return float(shape.x[i]), float(shape.value[i])


def main():
    regression = keras_lossopt.loss_shapes(REGRESSION, points=201, residual_range=(-10, 10))
    print("Regression losses at residual 2 and 10 (y_true = 1):")
    for shape in regression:
        values = [f"{_at(shape, x)[1]:7.3f}" for x in (2.0, 10.0)]
        print(f"  {shape.label:<13} loss(2) = {values[0]}   loss(10) = {values[1]}")
    classification = keras_lossopt.loss_shapes(CLASSIFICATION, points=99,
                                               probability_range=(0.01, 0.99))
    print("Classification losses at the true class's probability 0.01 and 0.4:")
    for shape in classification:
        if shape.axis != "probability":
            continue
        (_, low), (_, mid) = _at(shape, 0.01), _at(shape, 0.4)
        print(f"  {shape.label:<30} loss(0.01) = {low:6.3f}   loss(0.4) = {mid:6.3f}   "
              f"ratio {low / mid:5.1f}")
    return regression, classification


def plot():
    import matplotlib.pyplot as plt

    keras_lossopt.plot_losses(REGRESSION, figure=plt.figure("regression_losses"),
                              title="Regression losses and their gradients")
    keras_lossopt.plot_losses(CLASSIFICATION, figure=plt.figure("classification_losses"),
                              title="Classification losses and their gradients")


if __name__ == "__main__":
    main()
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("(install matplotlib to see the figures: pip install keras_lossopt[plot])")
    else:
        import matplotlib.pyplot as plt

        plot()
        plt.show()
