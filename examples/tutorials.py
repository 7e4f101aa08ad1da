"""The three classic TensorFlow/Keras tutorial examples, by string name.

Each task is trained twice with the same model and budget: first the tutorial's
own `compile(optimizer="adam", loss=...)`, then with a keras_lossopt name. The
data are generated here (no network), with a fixed seed and a held-out split.

    python examples/tutorials.py          # all three tasks, ~30 s on 2 CPU cores

1. Regression:             loss="mean_squared_error"        vs optimizer="gd",   loss="pseudo_huber"
2. Binary classification:  loss="binary_crossentropy" + accuracy vs optimizer="gd", loss="sigmoid_cross_entropy" (logits)
3. Multiclass:             loss="categorical_crossentropy" + accuracy vs optimizer="lamb", loss="smoothed_sparse_categorical_crossentropy"

With matplotlib installed, a figure shows each run's validation loss per epoch.
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_lossopt  # noqa: E402, F401  (registers the string names)

SEED = 42


def make_data(task, n=1200):
    rng = np.random.default_rng(SEED)
    x = rng.normal(size=(n, 8)).astype("float32")
    if task == "regression":
        w = rng.normal(size=(8,))
        y = (x @ w + 0.5 * np.sin(3 * x[:, 0]) + 0.1 * rng.normal(size=n)).astype("float32")[:, None]
    elif task == "binary":
        score = x[:, 0] * x[:, 1] + x[:, 2] - 0.5 * x[:, 3] ** 2 + 0.3 * rng.normal(size=n)
        y = (score > 0).astype("float32")[:, None]
    else:  # multiclass: the class is the quadrant of (x0 + x2, x1 - x3) -> 4 classes
        a, b = x[:, 0] + x[:, 2], x[:, 1] - x[:, 3]
        y = ((a > 0).astype("int32") * 2 + (b > 0).astype("int32"))
    split = int(0.8 * n)
    return (x[:split], y[:split]), (x[split:], y[split:])


def make_model(units, activation):
    keras.utils.set_random_seed(SEED)
    return keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(units, activation=activation),
        ]
    )


RUNS = [
    # task, title, optimizer, loss, output units, activation, metrics, label transform
    ("regression", "tutorial", "adam", "mean_squared_error", 1, None, ["mae"], None),
    ("regression", "keras_lossopt", "gd", "pseudo_huber", 1, None, ["mae"], None),
    ("binary", "tutorial", "adam", "binary_crossentropy", 1, "sigmoid", ["accuracy"], None),
    ("binary", "keras_lossopt", "gd", "sigmoid_cross_entropy", 1, None,
     [keras.metrics.BinaryAccuracy(threshold=0.0)], None),  # logits: threshold 0
    ("multiclass", "tutorial", "adam", "categorical_crossentropy", 4, "softmax", ["accuracy"],
     lambda y: np.eye(4, dtype="float32")[y]),
    ("multiclass", "keras_lossopt", "lamb", "smoothed_sparse_categorical_crossentropy", 4, "softmax",
     ["accuracy"], None),
]


def main(epochs=20):
    """Trains the six runs; returns one dict per run with its validation-loss curve."""
    runs = []
    print(f"{'task':<11} {'run':<14} {'optimizer':<9} {'loss':<42} {'val loss':>9} {'val metric':>10} {'time':>6}")
    for task, title, optimizer, loss, units, activation, metrics, transform in RUNS:
        (x, y), (x_val, y_val) = make_data(task)
        if transform is not None:
            y, y_val = transform(y), transform(y_val)
        model = make_model(units, activation)
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
        start = time.perf_counter()
        history = model.fit(x, y, validation_data=(x_val, y_val), epochs=epochs, batch_size=32, verbose=0)
        seconds = time.perf_counter() - start
        val_loss = history.history["val_loss"]
        metric_name = [k for k in history.history if k.startswith("val_") and k != "val_loss"][0]
        metric = history.history[metric_name][-1]
        assert val_loss[-1] < val_loss[0], f"{task}/{title}: validation loss did not decrease"
        print(f"{task:<11} {title:<14} {optimizer:<9} {loss:<42} {val_loss[-1]:>9.4f} "
              f"{metric:>10.4f} {seconds:>5.1f}s")
        runs.append({"task": task, "title": title, "optimizer": optimizer, "loss": loss,
                     "val_loss": val_loss})
    return runs


def plot(runs):
    """Validation loss per epoch, one panel per task (needs matplotlib)."""
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(r["task"] for r in runs))
    fig, axes = plt.subplots(1, len(tasks), num="validation_loss", figsize=(10.0, 3.4))
    for ax, task in zip(np.atleast_1d(axes), tasks):
        for r in (r for r in runs if r["task"] == task):
            epochs = np.arange(1, len(r["val_loss"]) + 1)
            ax.plot(epochs, r["val_loss"], lw=2,
                    label=f"{r['title']}: {r['optimizer']} + {r['loss']}")
        ax.set(title=task, xlabel="epoch", ylabel="validation loss")
        ax.legend(fontsize="x-small")
    fig.tight_layout()


if __name__ == "__main__":
    runs = main()
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no figure (pip install keras_lossopt[plot]).")
    else:
        plot(runs)
        plt.show()
