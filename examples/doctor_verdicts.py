"""Reading a loss curve: six small training runs, one for each verdict of the training doctor.

    python examples/doctor_verdicts.py     # about 30 s on 2 CPU cores, no network

Each run is a real `fit` watched by `keras_lossopt.callbacks.TrainingDoctor`, set up
to show one classic picture: a learning rate far too high (the loss explodes), too
high (it jumps back and forth), too low (it barely moves), a model too small for its
data (a plateau at chance level), a model that memorises its training set
(validation loss turning up) and a run that converged. Each report is printed and
each curve is drawn with the verdicts (`report.plot`), one figure per run.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_lossopt  # noqa: E402

SEED = 0


def _linear_data(n=64):
    rng = np.random.default_rng(SEED)
    x = rng.normal(size=(n, 2)).astype("float32")
    return x, (x @ np.array([[2.0], [-1.0]]) + 1.0).astype("float32")


def diverged():
    """Plain SGD with learning rate 50 on least squares: every step overshoots more."""
    x, y = _linear_data()
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    return model, keras.optimizers.SGD(50.0), "mse", (x, y), {"epochs": 3, "batch_size": 16}


def lr_too_high():
    """Full-batch SGD on |w x - 2x| from w = 0: w jumps between 0 and 5 across the optimum 2."""
    rng = np.random.default_rng(SEED)
    x = rng.uniform(0.5, 1.5, (64, 1)).astype("float32")
    x = x / np.mean(x)
    model = keras.Sequential([keras.Input((1,)),
                              keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    return model, keras.optimizers.SGD(5.0), "mae", (x, 2 * x), {"epochs": 12, "batch_size": 64}


def lr_too_low():
    """SGD with learning rate 1e-7 on two interleaved half moons: the weights barely move."""
    rng = np.random.default_rng(SEED)
    t = rng.uniform(0, np.pi, 96)
    label = rng.integers(0, 2, 96)
    x = np.stack([np.cos(t), np.sin(t)], 1)
    x[label == 1] = np.stack([1 - np.cos(t[label == 1]), 0.5 - np.sin(t[label == 1])], 1)
    x = (x + 0.1 * rng.normal(size=x.shape)).astype("float32")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    return (model, keras.optimizers.SGD(1e-7), "binary_crossentropy",
            (x, label.astype("float32")[:, None]), {"epochs": 3, "batch_size": 32})


def plateau_high():
    """A logistic regression on XOR labels: no line separates them, the loss stays at ln 2."""
    rng = np.random.default_rng(SEED)
    x = rng.uniform(-1, 1, (128, 2)).astype("float32")
    y = ((x[:, 0] * x[:, 1]) > 0).astype("float32")[:, None]
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
    return model, keras.optimizers.Adam(0.1), "binary_crossentropy", (x, y), {
        "epochs": 6, "batch_size": 16}


def overfitting():
    """256 hidden units for 16 random labels: the training loss falls, validation turns up."""
    rng = np.random.default_rng(SEED)
    x, x_val = rng.normal(size=(2, 16, 4)).astype("float32")
    y, y_val = rng.integers(0, 2, (2, 16, 1)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(256, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    return model, keras.optimizers.Adam(0.05), "binary_crossentropy", (x, y), {
        "epochs": 10, "batch_size": 16, "validation_data": (x_val, y_val)}


def converged():
    """Full-batch gradient descent on well-conditioned least squares: flat near 0 quickly."""
    x, y = _linear_data()
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    return model, keras.optimizers.SGD(0.3), "mse", (x, y), {"epochs": 12, "batch_size": 64}


RUNS = (diverged, lr_too_high, lr_too_low, plateau_high, overfitting, converged)


def run(setup):
    """Trains one run under a TrainingDoctor; returns its report."""
    keras.utils.set_random_seed(SEED)
    model, optimizer, loss, (x, y), fit_kwargs = setup()
    model.compile(optimizer=optimizer, loss=loss)
    doctor = keras_lossopt.callbacks.TrainingDoctor(verbose=0)
    model.fit(x, y, callbacks=[doctor], verbose=0, **fit_kwargs)
    return doctor.report()


def plot(reports):
    """One figure per run, named after the verdict it shows (needs matplotlib)."""
    import matplotlib.pyplot as plt

    for name, report in reports.items():
        fig = plt.figure(name, figsize=(6.4, 3.6))
        report.plot(ax=fig.add_subplot(1, 1, 1))
        fig.tight_layout()


def main(runs=RUNS):
    reports = {}
    for setup in runs:
        print(f"--- {setup.__name__}: {setup.__doc__}")
        reports[setup.__name__] = report = run(setup)
        print(report)
        print()
    return reports


if __name__ == "__main__":
    reports = main()
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no figures (pip install keras_lossopt[plot]).")
    else:
        plot(reports)
        plt.show()
