"""A tour of keras_lossopt's loss families: one small, runnable example each.

    python examples/losses_tour.py        # about a minute on 2 CPU cores, no network

1. Quantile regression: one model, three outputs trained with the pinball loss at
   tau = 0.1, 0.5, 0.9 gives an 80% prediction band that widens where the noise does.
2. Robust regression: a line fitted to data with 15% gross outliers, with mean
   squared error, Huber and Barron's general loss (alpha = 0, the Cauchy loss).
3. Imbalanced binary classification (5% positives): binary cross-entropy vs the
   sigmoid focal loss (TFA's alpha=0.25 and alpha=0.75), recall / precision at
   the 0.5 threshold and average precision.
4. Metric learning: triplet loss with semi-hard mining on scikit-learn's bundled
   8x8 digits; nearest-neighbour accuracy of an 8-D embedding vs PCA to 8-D.

Every loss is given by its registered string name or its class; the data are
generated (or bundled with scikit-learn) with fixed seeds. With matplotlib installed,
one figure per example shows what the numbers say.
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_lossopt  # noqa: E402  (registers the string names)

SEED = 0


def _epochs(epochs, scale):
    return max(1, round(epochs * scale))


def _mlp(inputs, outputs, hidden=32, activation=None):
    return keras.Sequential([
        keras.Input((inputs,)),
        keras.layers.Dense(hidden, activation="relu"),
        keras.layers.Dense(hidden, activation="relu"),
        keras.layers.Dense(outputs, activation=activation),
    ])


def quantile_regression(scale=1.0, curves=None):
    print("1. Quantile regression with the pinball loss (tau = 0.1, 0.5, 0.9)")
    rng = np.random.default_rng(SEED)
    x = rng.uniform(-3, 3, size=(2000, 1)).astype("float32")
    noise_scale = 0.2 + 0.5 * np.abs(x)  # heteroscedastic: noise grows with |x|
    y = (np.sin(x) + noise_scale * rng.normal(size=x.shape)).astype("float32")
    x_train, y_train, x_test, y_test = x[:1500], y[:1500], x[1500:], y[1500:]

    taus = [0.1, 0.5, 0.9]
    keras.utils.set_random_seed(SEED)
    model = _mlp(1, 3)
    loss = keras_lossopt.losses.Pinball(tau=taus)  # one tau per column
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss)
    model.fit(x_train, np.repeat(y_train, 3, axis=1), batch_size=64, epochs=_epochs(40, scale),
              verbose=0)
    q = model.predict(x_test, verbose=0)

    for i, tau in enumerate(taus):
        print(f"   tau={tau}: fraction of test targets below the prediction "
              f"{np.mean(y_test[:, 0] <= q[:, i]):.2f} (ideal {tau})")
    inside = np.mean((y_test[:, 0] >= q[:, 0]) & (y_test[:, 0] <= q[:, 2]))
    width = q[:, 2] - q[:, 0]
    near, far = np.abs(x_test[:, 0]) < 1, np.abs(x_test[:, 0]) > 2
    noise = 0.2 + 0.5 * np.abs(x_test[:, 0])
    if curves is not None:
        curves["quantile_regression"] = {"x": x_test[:, 0], "y": y_test[:, 0], "q": q,
                                         "taus": taus}
    print(f"   80% band covers {inside:.0%} of the test targets; mean width "
          f"{width[near].mean():.2f} for |x| < 1 vs {width[far].mean():.2f} for |x| > 2 "
          f"(true noise scale {noise[near].mean():.2f} vs {noise[far].mean():.2f})")
    return {"below": [float(np.mean(y_test[:, 0] <= q[:, i])) for i in range(3)],
            "coverage": float(inside), "width_near": float(width[near].mean()),
            "width_far": float(width[far].mean())}


def robust_regression(scale=1.0, curves=None):
    print("2. Robust regression of y = 2x + 1 with 15% gross outliers")
    rng = np.random.default_rng(SEED)
    n = 400
    x = rng.uniform(-2, 2, size=(n, 1)).astype("float32")
    y = 2 * x + 1 + 0.1 * rng.normal(size=(n, 1))
    outliers = rng.random(n) < 0.15
    y[outliers] += rng.uniform(10, 30, size=(outliers.sum(), 1))  # one-sided, large
    y = y.astype("float32")
    x_clean = np.linspace(-2, 2, 101, dtype="float32")[:, None]

    candidates = [
        ("mean_squared_error", "mean_squared_error"),
        ("huber", "huber"),
        ("barron (alpha=0)", keras_lossopt.losses.BarronLoss(alpha=0.0, scale=0.5)),
    ]
    results = {}
    lines = {}
    for label, loss in candidates:
        keras.utils.set_random_seed(SEED)
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.Adam(0.05), loss=loss)
        model.fit(x, y, batch_size=50, epochs=_epochs(60, scale), verbose=0)
        w, b = (float(np.ravel(v)[0]) for v in model.get_weights())
        error = np.mean(np.abs(model.predict(x_clean, verbose=0) - (2 * x_clean + 1)))
        print(f"   {label:20s} slope {w:5.2f} intercept {b:5.2f} "
              f"(truth 2.00, 1.00); mean error on the clean line {error:.2f}")
        results[label.split()[0]] = float(error)
        lines[label] = (w, b)
    if curves is not None:
        curves["robust_regression"] = {"x": x[:, 0], "y": y[:, 0], "outliers": outliers,
                                       "lines": lines}
    return results


def imbalanced_binary(scale=1.0, curves=None):
    print("3. Imbalanced binary classification (5% positives): BCE vs focal loss")
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(SEED)
    n = 4000
    y = (rng.random(n) < 0.05).astype("float32")
    x = rng.normal(size=(n, 6)).astype("float32")
    x[y == 1, :2] += 1.5  # positives shifted in two of six features: they overlap
    split = 3000

    focal = keras_lossopt.losses.SigmoidFocalCrossEntropy
    candidates = [
        ("binary_crossentropy", "binary_crossentropy"),
        ("focal (TFA default a=0.25)", "sigmoid_focal_crossentropy"),
        ("focal (alpha=0.75)", focal(alpha=0.75, gamma=2.0)),
    ]
    results = {}
    for label, loss in candidates:
        keras.utils.set_random_seed(SEED)
        model = _mlp(6, 1, hidden=16, activation="sigmoid")
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss)
        model.fit(x[:split], y[:split, None], batch_size=128, epochs=_epochs(15, scale),
                  verbose=0)
        p = model.predict(x[split:], verbose=0)[:, 0]
        truth = y[split:] == 1
        predicted = p >= 0.5
        recall = np.mean(predicted[truth])
        precision = np.mean(truth[predicted]) if predicted.any() else float("nan")
        ap = average_precision_score(truth, p)
        results[label] = recall
        if curves is not None:
            curves.setdefault("imbalanced_binary", {"truth": truth, "scores": {}})
            curves["imbalanced_binary"]["scores"][label] = p
        print(f"   {label:27s} recall@0.5 {recall:.2f}  precision@0.5 {precision:.2f}  "
              f"average precision {ap:.2f}")
    bce, focal75 = results["binary_crossentropy"], results["focal (alpha=0.75)"]
    print(f"   gamma=2 down-weights the many easy negatives; with alpha=0.75 on the rare "
          f"class the focal loss {'finds more' if focal75 > bce else 'does not find more'} "
          f"positives at the 0.5 threshold ({focal75:.2f} vs {bce:.2f}); alpha=0.25 (tuned "
          "for detection) trades recall for precision")
    return results


def metric_learning(scale=1.0, curves=None):
    print("4. Metric learning on scikit-learn's digits: triplet loss, semi-hard mining")
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target.astype("int32")
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(x))
    x, y = x[order], y[order]
    x_train, y_train, x_test, y_test = x[:1300], y[:1300], x[1300:], y[1300:]

    def one_nn_accuracy(train_emb, test_emb):
        d = ((test_emb[:, None, :] - train_emb[None, :, :]) ** 2).sum(-1)
        return np.mean(y_train[d.argmin(1)] == y_test)

    def distance_ratio(emb, labels):
        d = np.sqrt(((emb[:, None] - emb[None]) ** 2).sum(-1))
        same = labels[:, None] == labels[None]
        off = ~np.eye(len(labels), dtype=bool)
        return d[same & off].mean() / d[~same].mean()

    keras.utils.set_random_seed(SEED)
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(8),
        keras.layers.UnitNormalization(),  # triplet margins need a fixed scale
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.005), loss="triplet_semihard")
    # The batch is the mining pool: 128 shuffled samples hold ~13 per class.
    epochs = _epochs(25, scale)
    history = model.fit(x_train, y_train, batch_size=128, epochs=epochs, verbose=0)
    emb_train = model.predict(x_train, verbose=0)
    emb_test = model.predict(x_test, verbose=0)
    pca = PCA(n_components=8, random_state=SEED).fit(x_train)
    pca_train, pca_test = pca.transform(x_train), pca.transform(x_test)
    loss_start, loss_end = history.history["loss"][0], history.history["loss"][-1]
    if curves is not None:
        curves["metric_learning"] = {"embedding": emb_test, "pca": pca_test, "labels": y_test}
    print(f"   triplet loss {loss_start:.3f} -> {loss_end:.3f} over {epochs} epochs")
    print(f"   1-NN test accuracy: learned 8-D embedding {one_nn_accuracy(emb_train, emb_test):.3f}"
          f" vs PCA to 8-D {one_nn_accuracy(pca_train, pca_test):.3f}")
    print(f"   mean same-class / different-class distance on the test set: embedding "
          f"{distance_ratio(emb_test, y_test):.2f} vs PCA {distance_ratio(pca_test, y_test):.2f}"
          " (lower = tighter clusters)")
    return {"loss_start": float(loss_start), "loss_end": float(loss_end),
            "ratio_embedding": float(distance_ratio(emb_test, y_test)),
            "ratio_pca": float(distance_ratio(pca_test, y_test))}


def plot(curves):
    """One figure per example from the arrays `main(curves=...)` collected (matplotlib)."""
    import matplotlib.pyplot as plt

    if "quantile_regression" in curves:
        c = curves["quantile_regression"]
        fig, ax = plt.subplots(num="quantile_band", figsize=(6.4, 4.0))
        order = np.argsort(c["x"])
        ax.scatter(c["x"], c["y"], s=4, color="0.6", label="test targets")
        for i, tau in enumerate(c["taus"]):
            ax.plot(c["x"][order], c["q"][order, i], lw=2, label=f"pinball, tau={tau}")
        ax.set(title="Quantile regression: an 80% band that follows the noise", xlabel="x",
               ylabel="y")
        ax.legend(fontsize="small")
        fig.tight_layout()
    if "robust_regression" in curves:
        c = curves["robust_regression"]
        fig, ax = plt.subplots(num="robust_regression", figsize=(6.4, 4.0))
        ax.scatter(c["x"][~c["outliers"]], c["y"][~c["outliers"]], s=5, color="0.5",
                   label="clean points")
        ax.scatter(c["x"][c["outliers"]], c["y"][c["outliers"]], s=5, color="C3",
                   label="outliers (15%)")
        grid = np.linspace(-2, 2, 2)
        ax.plot(grid, 2 * grid + 1, "k--", lw=1, label="truth y = 2x + 1")
        for label, (w, b) in c["lines"].items():
            ax.plot(grid, w * grid + b, lw=2, label=label)
        ax.set(title="Robust regression: MSE vs Huber vs Barron", xlabel="x", ylabel="y")
        ax.legend(fontsize="small")
        fig.tight_layout()
    if "imbalanced_binary" in curves:
        from sklearn.metrics import precision_recall_curve

        c = curves["imbalanced_binary"]
        fig, ax = plt.subplots(num="precision_recall", figsize=(6.4, 4.0))
        for label, scores in c["scores"].items():
            precision, recall, _ = precision_recall_curve(c["truth"], scores)
            ax.plot(recall, precision, lw=2, label=label)
        ax.set(title="Imbalanced binary (5% positives): precision-recall", xlabel="recall",
               ylabel="precision")
        ax.legend(fontsize="small")
        fig.tight_layout()
    if "metric_learning" in curves:
        from sklearn.decomposition import PCA

        c = curves["metric_learning"]
        fig, axes = plt.subplots(1, 2, num="embedding", figsize=(8.0, 4.0))
        for ax, key, title in zip(axes, ("embedding", "pca"),
                                  ("triplet semi-hard embedding", "PCA of the pixels")):
            xy = PCA(n_components=2, random_state=SEED).fit_transform(c[key])
            ax.scatter(xy[:, 0], xy[:, 1], c=c["labels"], cmap="tab10", s=6)
            ax.set(title=f"{title} (2-D projection)", xticks=[], yticks=[])
        fig.suptitle("Digits test set, coloured by class")
        fig.tight_layout()


def main(scale=1.0, curves=None):
    """Runs the four examples; `scale` multiplies every epoch count (tests use less).

    Pass a dict as `curves` to collect the arrays that `plot(curves)` draws.
    """
    start = time.perf_counter()
    results = {}
    for section in (quantile_regression, robust_regression, imbalanced_binary, metric_learning):
        results[section.__name__] = section(scale, curves)
        print()
    print(f"done in {time.perf_counter() - start:.0f} s on the {keras.backend.backend()} backend")
    return results


if __name__ == "__main__":
    curves = {}
    main(curves=curves)
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no figures (pip install keras_lossopt[plot]).")
    else:
        plot(curves)
        plt.show()
