"""SAM against the same optimizer on scikit-learn's digits with 30% of the training labels flipped.

A small MLP is trained twice per seed with the same optimizer, schedule, epochs and
batches: once plainly, once wrapped in `keras_lossopt.models.SharpnessAwareMinimization`.
The validation set keeps its true labels; the script reports the validation accuracy after
the last epoch (no early stopping, no selection on the validation set), mean +- std over
the seeds, and draws the mean validation accuracy per epoch of both.

    python examples/sam_label_noise.py              # 5 seeds
    python examples/sam_label_noise.py --seeds 3 --rho 0.1
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_lossopt.models import SharpnessAwareMinimization  # noqa: E402

NOISE = 0.3
EPOCHS = 30
BATCH = 64


def load_digits_with_noise(seed, noise=NOISE):
    """Standardised digits, a fixed 70/30 split, `noise` of the training labels flipped."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    rng = np.random.default_rng(0)  # the same split for every seed
    order = rng.permutation(len(x))
    split = int(0.7 * len(x))
    train, val = order[:split], order[split:]
    y_train = y[train].copy()
    noisy_rng = np.random.default_rng(seed)
    flip = noisy_rng.random(len(train)) < noise
    # A flipped label is any *other* class, uniformly.
    y_train[flip] = (y_train[flip] + noisy_rng.integers(1, 10, flip.sum())) % 10
    return (x[train], y_train), (x[val], y[val])


def make_model(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10),
    ])


def train(seed, rho, epochs=EPOCHS, noise=NOISE):
    """Validation accuracy after each epoch of one run; `rho=None` trains the plain model."""
    (x, y), (x_val, y_val) = load_digits_with_noise(seed, noise)
    model = make_model(seed)
    if rho is not None:
        model = SharpnessAwareMinimization(model, rho=rho)
    steps = epochs * int(np.ceil(len(x) / BATCH))
    schedule = keras.optimizers.schedules.CosineDecay(0.05, steps)
    model.compile(optimizer=keras.optimizers.SGD(schedule, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    keras.utils.set_random_seed(seed)  # the same batch order for both runs
    history = model.fit(x, y, batch_size=BATCH, epochs=epochs, validation_data=(x_val, y_val),
                        verbose=0)
    return history.history["val_accuracy"]


def main(seeds=5, rho=0.05, epochs=EPOCHS, noise=NOISE):
    start = time.perf_counter()
    curves = {"SGD + momentum": [], f"SAM (rho={rho}) + SGD + momentum": []}
    plain, sam = curves.values()
    for seed in range(seeds):
        plain.append(train(seed, None, epochs, noise))
        sam.append(train(seed, rho, epochs, noise))
        print(f"seed {seed}: SGD {plain[-1][-1]:.4f}   SAM(rho={rho}) + SGD {sam[-1][-1]:.4f}")
    print(f"validation accuracy, {round(noise * 100)}% flipped training labels, {seeds} seeds, "
          f"{epochs} epochs, {time.perf_counter() - start:.0f} s:")
    final = {name: [run[-1] for run in runs] for name, runs in curves.items()}
    for name, values in zip(("SGD + momentum", "SAM + SGD + momentum"), final.values()):
        print(f"  {name:<20}  {np.mean(values):.4f} +- {np.std(values):.4f}")
    return curves


def plot(curves):
    """Mean validation accuracy per epoch over the seeds, with the seeds' range (needs matplotlib)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(num="validation_accuracy", figsize=(6.0, 3.6))
    for name, runs in curves.items():
        runs = np.array(runs)
        epochs = np.arange(1, runs.shape[1] + 1)
        ax.plot(epochs, runs.mean(0), lw=2, label=f"{name} ({len(runs)} seeds)")
        ax.fill_between(epochs, runs.min(0), runs.max(0), alpha=0.2)
    ax.set(xlabel="epoch", ylabel="validation accuracy (true labels)",
           title=f"digits, {round(NOISE * 100)}% of the training labels flipped")
    ax.legend(fontsize="small", loc="lower right")
    fig.tight_layout()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rho", type=float, default=0.05)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--noise", type=float, default=NOISE, help="fraction of flipped labels")
    args = parser.parse_args()
    curves = main(args.seeds, args.rho, args.epochs, args.noise)
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no figure (pip install keras_lossopt[plot]).")
    else:
        plot(curves)
        plt.show()
