"""A tour of keras_lossopt's optimizers: the same small model trained with each one.

    python examples/optimizers_tour.py            # ~1-2 minutes on 2 CPU cores, no network
    python examples/optimizers_tour.py radam yogi # only some (registered names)

Every optimizer registered in keras_lossopt (read from the registry, so new ones show
up without editing this file) plus Keras's SGD, Adam and AdamW for comparison, each
created from its string name with its default hyperparameters, trains the same
64-32-10 network (same initial weights) on scikit-learn's bundled 8x8 digits for a
few epochs. The table shows the final training loss, the validation accuracy, the
number of optimizer steps and the wall time (which includes tracing the train step).

With matplotlib installed, a figure ranks them by validation accuracy.

Defaults are not tuned for this problem: an optimizer that lags here may simply want
a larger learning rate (plain gradient descent's 0.01, for one).
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_lossopt  # noqa: E402  (registers the string names)
from keras_lossopt import registry  # noqa: E402

SEED = 0
KERAS_FOR_COMPARISON = ("sgd", "adam", "adamw")


def load_data():
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target.astype("int32")
    order = np.random.default_rng(SEED).permutation(len(x))
    x, y = x[order], y[order]
    split = int(0.8 * len(x))
    return (x[:split], y[:split]), (x[split:], y[split:])


def optimizer_names():
    """Keras's comparison baselines first, then every keras_lossopt optimizer."""
    ours = [e.name for e in registry.entries("optimizer") if not e.builtin]
    return [*KERAS_FOR_COMPARISON, *ours]


def _learning_rate(optimizer):
    try:
        return f"{float(keras.ops.convert_to_numpy(optimizer.learning_rate)):.3g}"
    except (AttributeError, TypeError, ValueError):
        return "-"


def train_one(name, data, initial_weights, epochs, batch_size):
    (x_train, y_train), (x_val, y_val) = data
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(10),
    ])
    model.set_weights(initial_weights)
    model.compile(
        optimizer=name,  # the registered string name, default hyperparameters
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size,
                        shuffle=False, verbose=0)
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(x_val, y_val, verbose=0)
    return {
        "name": name,
        "class": type(model.optimizer).__name__,
        "lr": _learning_rate(model.optimizer),
        "loss": history.history["loss"][-1],
        "accuracy": accuracy,
        "steps": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
        "seconds": seconds,
    }


def main(names=None, epochs=5, batch_size=64):
    data = load_data()
    keras.utils.set_random_seed(SEED)
    template = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(10),
    ])
    initial_weights = template.get_weights()
    rows = []
    print(f"{'optimizer':24s} {'class':26s} {'lr':>7s} {'loss':>8s} {'val acc':>8s} "
          f"{'steps':>6s} {'time s':>7s}")
    for name in names or optimizer_names():
        try:
            row = train_one(name, data, initial_weights, epochs, batch_size)
        except Exception as error:  # keep touring; report the failure in the table
            print(f"{name:24s} FAILED: {type(error).__name__}: {error}")
            continue
        rows.append(row)
        print(f"{row['name']:24s} {row['class']:26s} {row['lr']:>7s} {row['loss']:8.4f} "
              f"{row['accuracy']:8.3f} {row['steps']:6d} {row['seconds']:7.2f}")
    print(f"(digits: {len(data[0][0])} training / {len(data[1][0])} validation images, "
          f"{epochs} epochs of batch {batch_size}; keras backend {keras.backend.backend()}, "
          f"keras_lossopt {getattr(keras_lossopt, '__version__', '?')})")
    return rows


def plot(rows):
    """Validation accuracy and final loss per optimizer, best first (needs matplotlib)."""
    import matplotlib.pyplot as plt

    rows = sorted(rows, key=lambda r: r["accuracy"])
    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, num="optimizers_on_digits", sharey=True,
                                          figsize=(9.0, 0.28 * len(rows) + 1.4))
    names = [r["name"] for r in rows]
    colors = ["C1" if r["name"] in KERAS_FOR_COMPARISON else "C0" for r in rows]
    acc_ax.barh(names, [r["accuracy"] for r in rows], color=colors)
    acc_ax.set(xlabel="validation accuracy", xlim=(0, 1))
    loss_ax.barh(names, [r["loss"] for r in rows], color=colors)
    loss_ax.set(xlabel="final training loss", xscale="log")
    fig.suptitle("Default hyperparameters on digits (orange: Keras's own)")
    fig.tight_layout()


if __name__ == "__main__":
    rows = main(sys.argv[1:] or None)
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no figure (pip install keras_lossopt[plot]).")
    else:
        plot(rows)
        plt.show()
