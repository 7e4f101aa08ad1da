"""How good are the LR finder's suggestions? Checked against real short training sweeps.

For every data set x optimizer x seed this script

1. runs `keras_lossopt.find_learning_rate` with its defaults (1e-7 .. 10, 100 steps,
   batch 32) on the lab's model (one hidden layer of 32 ReLU units) and records the
   raw batch losses;
2. trains the same model from the same initial weights at every learning rate of a
   grid (3 per decade, 1e-4 .. 10) for a fixed budget of `--steps` updates and
   records the final training and validation losses.

The best swept rate of a data set x optimizer is the grid rate with the lowest
validation loss averaged over the seeds. Each suggestion method is then applied
to the recorded curves (so a new method is scored without retraining: `--from-json`)
and scored by how often it lands within 3x and 10x of the best swept rate, and by
the validation loss at the suggestion (interpolated on the grid in log-lr) over the
best one.

Data sets: scikit-learn's bundled diabetes, linnerud, breast_cancer, digits, wine
and iris (no network) and three generated ones (make_moons, make_classification,
make_friedman1). Optimizers: Adam and plain SGD (and RMSprop with `--optimizers`).

    python benchmarks/lr_finder_accuracy.py                  # collect + score (~15 min)
    python benchmarks/lr_finder_accuracy.py --from-json      # re-score the committed curves

Writes benchmarks/results/lr_finder_sweep.json (the curves and sweeps) and
benchmarks/results/lr_finder_accuracy.md, and copies the table into benchmarks/README.md.
The committed run (about 15 minutes on 2 busy cores, JAX backend):

    KERAS_BACKEND=jax python benchmarks/lr_finder_accuracy.py --seeds 2 --steps 150 \
        --datasets diabetes,breast_cancer,digits,wine,friedman1,moons --optimizers adam,sgd
"""

import argparse
import json
import math
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
EVIDENCE = os.path.join(HERE, "results")
JSON_PATH = os.path.join(EVIDENCE, "lr_finder_sweep.json")
MD_PATH = os.path.join(EVIDENCE, "lr_finder_accuracy.md")
DATASETS = ("diabetes", "linnerud", "friedman1", "breast_cancer", "moons", "digits", "wine",
            "iris", "classification")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
GRID = [float(f"{v:.3g}") for v in 10.0 ** np.arange(-4, 1.0 + 1e-9, 1.0 / 3.0)]


# --- Data ------------------------------------------------------------------------------


def load(name, seed=0):
    """(x_train, y_train, x_val, y_val, task, n_outputs), standardized, 75/25 split."""
    from sklearn import datasets

    if name == "moons":
        x, y = datasets.make_moons(600, noise=0.25, random_state=0)
        task = "binary"
    elif name == "classification":
        x, y = datasets.make_classification(800, n_features=20, n_informative=8,
                                            n_classes=4, random_state=0)
        task = "multiclass"
    elif name == "friedman1":
        x, y = datasets.make_friedman1(500, noise=1.0, random_state=0)
        task = "regression"
    else:
        x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
        task = {"diabetes": "regression", "linnerud": "regression",
                "breast_cancer": "binary"}.get(name, "multiclass")
    x = np.asarray(x, "float64")
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], np.asarray(y)[order]
    n_val = max(2, len(x) // 4)
    x_train, x_val = x[n_val:], x[:n_val]
    mean, std = x_train.mean(0), x_train.std(0) + 1e-12
    x_train, x_val = ((x_train - mean) / std).astype("float32"), ((x_val - mean) / std)
    y_train, y_val = y[n_val:], y[:n_val]
    if task == "regression":
        y_train = y_train.reshape(len(y_train), -1).astype("float64")
        y_val = y_val.reshape(len(y_val), -1).astype("float64")
        mu, sd = y_train.mean(0), y_train.std(0) + 1e-12
        y_train, y_val = (y_train - mu) / sd, (y_val - mu) / sd
        outputs = y_train.shape[1]
    elif task == "binary":
        y_train, y_val = y_train.reshape(-1, 1), y_val.reshape(-1, 1)
        outputs = 1
    else:
        outputs = int(y.max()) + 1
    cast = (lambda a: a.astype("float32")) if task != "multiclass" else (
        lambda a: a.astype("int32"))
    return (x_train, cast(y_train), x_val.astype("float32"), cast(y_val), task, outputs)


def model_for(keras, n_features, task, outputs, seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((n_features,)),
                              keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(outputs)])
    loss = {"regression": keras.losses.MeanSquaredError(),
            "binary": keras.losses.BinaryCrossentropy(from_logits=True),
            "multiclass": keras.losses.SparseCategoricalCrossentropy(from_logits=True)}[task]
    return model, loss


def make_optimizer(keras, name):
    return {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
            "rmsprop": keras.optimizers.RMSprop}[name](1e-3)


# --- Collect ---------------------------------------------------------------------------


def collect_one(keras, name, optimizer_name, seed, steps):
    import keras_lossopt

    x, y, xv, yv, task, outputs = load(name)
    model, loss = model_for(keras, x.shape[1], task, outputs, seed)
    model.compile(optimizer=make_optimizer(keras, optimizer_name), loss=loss)
    batch = min(32, len(x))
    finder = keras_lossopt.find_learning_rate(model, x, y, batch_size=batch, seed=seed)
    weights = model.get_weights()
    opt_state = [np.array(keras.ops.convert_to_numpy(v)) for v in model.optimizer.variables]
    # One epoch of `steps` batches: the training set repeated in fresh shuffles
    # (the same order for every rate), so each swept run is one call of `fit`.
    steps_per_epoch = math.ceil(len(x) / batch)
    epochs = max(1, round(steps / steps_per_epoch))
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(x)) for _ in range(epochs)])
    x_rep, y_rep = x[order], y[order]
    train, val = [], []
    for lr in GRID:
        model.set_weights(weights)
        for var, value in zip(model.optimizer.variables, opt_state):
            var.assign(value)
        model.optimizer.learning_rate = lr
        model.fit(x_rep, y_rep, batch_size=batch, epochs=1, shuffle=False, verbose=0)
        train.append(_loss(keras, model, loss, x, y))
        val.append(_loss(keras, model, loss, xv, yv))
    clean = [v if math.isfinite(v) else None for v in finder.raw_losses]
    return {"dataset": name, "task": task, "optimizer": optimizer_name, "seed": seed,
            "n_train": len(x), "batch_size": batch, "epochs": epochs,
            "finder_lrs": [float(v) for v in finder.lrs], "finder_raw": clean,
            "grid": GRID, "train_loss": [v if math.isfinite(v) else None for v in train],
            "val_loss": [v if math.isfinite(v) else None for v in val]}


def _loss(keras, model, loss, x, y):
    # A diverged model's NaN logits can make a cross-entropy read 0: check the outputs.
    pred = model(x, training=False)
    if not np.all(np.isfinite(keras.ops.convert_to_numpy(pred))):
        return math.inf
    value = float(keras.ops.convert_to_numpy(loss(y, pred)))
    return value if math.isfinite(value) else math.inf


def collect(args):
    """Collects every run, seed by seed, saving the JSON after each (a partial run is usable)."""
    import keras

    rows = []
    meta = {"backend": keras.backend.backend(), "keras": keras.__version__,
            "steps": args.steps, "seeds": args.seeds, "grid": GRID}
    os.makedirs(EVIDENCE, exist_ok=True)
    for seed in range(args.seeds):
        for name in args.datasets:
            for optimizer_name in args.optimizers:
                start = time.perf_counter()
                rows.append(collect_one(keras, name, optimizer_name, seed, args.steps))
                print(f"{name:15s} {optimizer_name:8s} seed {seed}: "
                      f"{time.perf_counter() - start:5.1f}s", flush=True)
                with open(JSON_PATH, "w", encoding="utf-8") as handle:
                    json.dump({"meta": meta, "runs": rows}, handle, indent=0)
    return {"meta": meta, "runs": rows}


# --- Score -----------------------------------------------------------------------------


def _as_array(values):
    return np.array([np.inf if v is None else v for v in values], "float64")


def best_rates(runs):
    """(dataset, optimizer) -> (best grid lr, best mean validation loss, mean curve)."""
    groups = {}
    for run in runs:
        groups.setdefault((run["dataset"], run["optimizer"]), []).append(_as_array(run["val_loss"]))
    out = {}
    for key, curves in groups.items():
        mean = np.mean(np.stack(curves), axis=0)
        i = int(np.argmin(mean))
        out[key] = (GRID_OF(runs)[i], float(mean[i]), mean)
    return out


def GRID_OF(runs):  # noqa: N802 - the grid the runs were swept on
    return runs[0]["grid"]


def loss_at(lr, grid, curve):
    """Validation loss at `lr`, linear in log-lr between grid points (inf outside)."""
    if not (lr and math.isfinite(lr)) or lr < grid[0] or lr > grid[-1]:
        return math.inf
    logs = np.log(grid)
    finite = np.where(np.isfinite(curve), curve, 1e30)
    return float(np.interp(math.log(lr), logs, finite))


def suggestions_for(run, methods):
    from keras_lossopt.doctor.lr_finder import LRFinderResult

    raw = _as_array(run["finder_raw"])
    raw[~np.isfinite(raw)] = np.nan
    result = LRFinderResult(run["finder_lrs"], raw, diverged=bool(np.isnan(raw[-1])))
    out = {m: result.suggestions.get(m, float("nan")) for m in methods}
    out["default"] = result.suggestion
    return out, result


def score(data, methods):
    runs = data["runs"]
    best = best_rates(runs)
    grid = GRID_OF(runs)
    table = {m: {"n": 0, "3x": 0, "10x": 0, "regret": []} for m in methods + ["default"]}
    per_run = []
    for run in runs:
        key = (run["dataset"], run["optimizer"])
        best_lr, best_loss, curve = best[key]
        suggested, result = suggestions_for(run, methods)
        row = {"dataset": run["dataset"], "optimizer": run["optimizer"], "seed": run["seed"],
               "best": best_lr, "reliable": result.reliable}
        for method, lr in suggested.items():
            ratio = max(lr / best_lr, best_lr / lr) if lr and math.isfinite(lr) else math.inf
            cell = table[method]
            cell["n"] += 1
            cell["3x"] += ratio <= 3.0 + 1e-9
            cell["10x"] += ratio <= 10.0 + 1e-9
            cell["regret"].append(loss_at(lr, grid, curve) / best_loss)
            row[method] = lr
        per_run.append(row)
    return table, per_run, best


def markdown(data, table, per_run, best, methods, default):
    meta = data["meta"]
    runs = data["runs"]
    datasets = sorted({r["dataset"] for r in runs}, key=DATASETS.index)
    optimizers = sorted({r["optimizer"] for r in runs}, key=list(OPTIMIZERS + ("rmsprop",)).index)
    lines = [
        "# LR finder suggestions against swept learning rates",
        "",
        f"`benchmarks/lr_finder_accuracy.py`: {len(datasets)} data sets x "
        f"{len(optimizers)} optimizers ({', '.join(optimizers)}) x {meta['seeds']} seeds = "
        f"{len(runs)} range tests (defaults: 1e-7 .. 10, 100 steps, batch 32; Keras "
        f"{meta['keras']}, {meta['backend']}). Each is scored against the grid rate (3 per "
        f"decade, 1e-4 .. 10) with the lowest validation loss after {meta['steps']} "
        "updates from the same initial weights (mean over the seeds).",
        "",
        "| method | within 3x | within 10x | median loss at it / best | worst |",
        "|---|---|---|---|---|",
    ]
    for method in methods:
        cell = table[method]
        n = cell["n"]
        regret = np.array(cell["regret"])
        mark = " (default)" if method == default else ""
        lines.append(f"| `{method}`{mark} | {cell['3x']}/{n} ({cell['3x'] / n:.0%}) | "
                     f"{cell['10x']}/{n} ({cell['10x'] / n:.0%}) | "
                     f"{np.median(regret):.2f} | {_fmt_regret(regret.max())} |")
    lines += ["", "Best swept rate and each seed's suggestions "
              "(valley / steep / minimum; `*`: the result says `reliable=False`):", "",
              "| data set | optimizer | best swept | " + " | ".join(
                  f"seed {s}" for s in range(meta["seeds"])) + " |",
              "|---|---|---|" + "---|" * meta["seeds"]]
    for name in datasets:
        for optimizer_name in optimizers:
            key = (name, optimizer_name)
            if key not in best:
                continue
            cells = []
            for row in per_run:
                if (row["dataset"], row["optimizer"]) == key:
                    star = "" if row["reliable"] else "*"
                    cells.append(" / ".join(f"{row[m]:.2g}" if math.isfinite(row[m]) else "-"
                                            for m in ("valley", "steep", "minimum")) + star)
            lines.append(f"| {name} | {optimizer_name} | {best[key][0]:.3g} | "
                         + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _fmt_regret(value):
    return "diverges" if not math.isfinite(value) or value > 1e6 else f"{value:.2f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-json", action="store_true",
                        help="score the committed curves without training")
    parser.add_argument("--datasets", default=",".join(DATASETS),
                        type=lambda s: [d for d in s.split(",") if d])
    parser.add_argument("--optimizers", default=",".join(OPTIMIZERS),
                        type=lambda s: [d for d in s.split(",") if d])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=300, help="updates per swept run")
    args = parser.parse_args(argv)
    if args.from_json:
        with open(JSON_PATH, encoding="utf-8") as handle:
            data = json.load(handle)
    else:
        data = collect(args)
    sys.path.insert(0, os.path.dirname(HERE))
    from keras_lossopt.doctor import lr_finder

    methods = list(lr_finder.METHODS)
    table, per_run, best = score(data, methods)
    text = markdown(data, table, per_run, best, methods, lr_finder.DEFAULT_METHOD)
    with open(MD_PATH, "w", encoding="utf-8") as handle:
        handle.write(text)
    _copy_into_readme(text)
    print(text)


def _copy_into_readme(text):
    """Replaces the table between the README's lr_finder_accuracy markers."""
    path = os.path.join(HERE, "README.md")
    with open(path, encoding="utf-8") as handle:
        readme = handle.read()
    begin, end = "<!-- lr_finder_accuracy -->", "<!-- /lr_finder_accuracy -->"
    if begin not in readme or end not in readme:
        return
    head, rest = readme.split(begin, 1)
    _, tail = rest.split(end, 1)
    body = text.split("\n", 2)[2]  # without the file's own heading
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(f"{head}{begin}\n{body}{end}{tail}")


if __name__ == "__main__":
    main()
