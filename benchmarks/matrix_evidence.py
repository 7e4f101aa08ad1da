"""Steps to a target validation loss: SOAP, Shampoo, Kron against Keras's Muon and AdamW.

Data: scikit-learn's bundled digits (1797 8x8 images, no network), standardized,
a fixed 75/25 train/validation split. Model: an MLP 64 -> 128 -> 128 -> 10 (ReLU,
Glorot-uniform kernels, zero biases), sparse categorical cross-entropy on logits.
Every optimizer runs with its defaults except the learning rate, which is swept
over the same relative grid around its default (`--grid`, default
{10^-0.5, 1, 10^0.5, 10} x default: 4 rates each), for `--seeds` seeds (the seed
sets the initial weights, the batch order and Kron's probe vectors).

Each run takes `--steps` updates of batch `--batch` (fresh shuffles of the
training set) and evaluates the full validation loss every `--eval-every`
updates; *steps to target* is the first evaluation at or below `--target`.
The table reports, per optimizer, the rate with the most seeds reaching the target
(ties: the fewest mean steps), its steps to target (mean ± standard deviation over
the seeds that reached it), how many seeds reached it, and the lowest validation
loss seen (mean ± standard deviation over all seeds); a second table gives every rate.

One compiled train step per optimizer (JAX: `jax.jit` of `stateless_call` +
`stateless_apply`; TensorFlow: `tf.function(jit_compile=True)`), reused for every
rate and seed by resetting the model's and the optimizer's variables (the learning
rate is one of them), so the sweep compiles five steps, not sixty.

    KERAS_BACKEND=jax python benchmarks/matrix_evidence.py         # committed run: 30 min
    python benchmarks/matrix_evidence.py --quick                   # smoke run, ~2 min (compiles)
    python benchmarks/matrix_evidence.py --only soap --json a.json   # split over processes,
    python benchmarks/matrix_evidence.py --from-json a.json,b.json   # then one table

The committed run took 30 minutes on 2 shared cores (load average 7-12), most of it
SOAP's and Kron's steps; an idle machine should need far less, not measured.

Writes benchmarks/results/matrix_evidence.md and copies the table into
benchmarks/README.md (between the `matrix_evidence` markers).
"""

import argparse
import json
import math
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _common import machine_description, markdown_table, write_result  # noqa: E402

import keras_lossopt  # noqa: E402, F401
from keras_lossopt import registry  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(HERE, "README.md")
MARK = ("<!-- matrix_evidence -->", "<!-- /matrix_evidence -->")


def optimizers():
    """name -> (constructor taking the learning rate, default learning rate)."""
    found = {name: registry.lookup("optimizer", name).cls for name in ("soap", "shampoo", "kron")}
    return {
        "SOAP": (found["soap"], 3e-3),
        "Shampoo": (found["shampoo"], 1e-3),
        "Kron": (found["kron"], 3e-4),
        "Muon (Keras)": (keras.optimizers.Muon, 1e-3),
        "AdamW (Keras)": (keras.optimizers.AdamW, 1e-3),
    }


def load_digits():
    from sklearn.datasets import load_digits as load

    x, y = load(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order].astype("float64"), y[order].astype("int32")
    n_val = len(x) // 4
    mean, std = x[n_val:].mean(0), x[n_val:].std(0) + 1e-6
    x = ((x - mean) / std).astype("float32")
    return x[n_val:], y[n_val:], x[:n_val], y[:n_val]


def build_model():
    return keras.Sequential([keras.Input((64,)),
                             keras.layers.Dense(128, activation="relu"),
                             keras.layers.Dense(128, activation="relu"),
                             keras.layers.Dense(10)])


# --- compiled steps ------------------------------------------------------------------


class Trainer:
    """A model + optimizer with one compiled train step and one compiled validation loss."""

    def __init__(self, make, lr, x_val, y_val):
        self.model = build_model()
        self.optimizer = make(learning_rate=lr)
        self.optimizer.build(self.model.trainable_variables)
        self.loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.x_val, self.y_val = x_val, y_val
        self.initial_opt = [np.array(keras.ops.convert_to_numpy(v))
                            for v in self.optimizer.variables]
        self.lr_index = [i for i, v in enumerate(self.optimizer.variables)
                         if v is getattr(self.optimizer, "_learning_rate", None)]
        if len(self.lr_index) != 1:
            raise RuntimeError(f"{type(self.optimizer).__name__}: learning rate variable not found")
        getattr(self, f"_compile_{keras.backend.backend()}")()

    def reset(self, lr, seed):
        keras.utils.set_random_seed(seed)
        fresh = build_model()  # the seed's initial weights
        weights = [np.array(keras.ops.convert_to_numpy(v)) for v in fresh.trainable_variables]
        opt = [value.copy() for value in self.initial_opt]
        opt[self.lr_index[0]] = np.asarray(lr, opt[self.lr_index[0]].dtype)
        for i, v in enumerate(self.optimizer.variables):
            if v is getattr(self.optimizer, "_seed", None):  # Kron: probes follow the run's seed
                opt[i] = np.asarray(seed, opt[i].dtype)
        self._set_state(weights, opt)

    # JAX: stateless functions, state held as arrays.
    def _compile_jax(self):
        import jax

        model, optimizer, loss = self.model, self.optimizer, self.loss

        def loss_fn(train_vars, x, y):
            logits, _ = model.stateless_call(train_vars, [], x)
            return loss(y, logits)

        def step(train_vars, opt_vars, x, y):
            grads = jax.grad(loss_fn)(train_vars, x, y)
            new_train, new_opt = optimizer.stateless_apply(opt_vars, grads, train_vars)
            return new_train, new_opt

        self._step = jax.jit(step, donate_argnums=(0, 1))
        self._val = jax.jit(loss_fn)

    def _set_state(self, weights, opt):
        if keras.backend.backend() == "jax":
            import jax.numpy as jnp

            self.train = [jnp.asarray(w) for w in weights]
            self.opt = [jnp.asarray(o) for o in opt]
        else:
            for v, w in zip(self.model.trainable_variables, weights):
                v.assign(w)
            for v, o in zip(self.optimizer.variables, opt):
                v.assign(o)

    def step(self, x, y):
        if keras.backend.backend() == "jax":
            self.train, self.opt = self._step(self.train, self.opt, x, y)
        else:
            self._step(x, y)

    def val_loss(self):
        if keras.backend.backend() == "jax":
            value = float(self._val(self.train, self.x_val, self.y_val))
        else:
            value = float(self._val(self.x_val, self.y_val))
        return value if math.isfinite(value) else math.inf

    # TensorFlow: variables updated in place by a compiled step.
    def _compile_tensorflow(self):
        import tensorflow as tf

        model, optimizer, loss = self.model, self.optimizer, self.loss

        @tf.function(jit_compile=True)
        def step(x, y):
            with tf.GradientTape() as tape:
                value = loss(y, model(x, training=True))
            grads = tape.gradient(value, model.trainable_variables)
            optimizer.apply(grads, model.trainable_variables)

        @tf.function(jit_compile=True)
        def val(x, y):
            return loss(y, model(x, training=False))

        self._step, self._val = step, val


def run_one(trainer, lr, seed, data, args):
    x, y, _, _ = data
    trainer.reset(lr, seed)
    rng = np.random.default_rng(seed)
    batches = len(x) // args.batch
    order = np.concatenate([rng.permutation(len(x))[:batches * args.batch]
                            for _ in range(math.ceil(args.steps / batches))])
    order = order.reshape(-1, args.batch)
    reached, best = None, math.inf
    for t in range(1, args.steps + 1):
        idx = order[t - 1]
        trainer.step(x[idx], y[idx])
        if t % args.eval_every == 0:
            value = trainer.val_loss()
            best = min(best, value)
            if reached is None and value <= args.target:
                reached = t
            if not math.isfinite(value):
                break  # diverged
    return reached, best


# --- tables ---------------------------------------------------------------------------


def _mean_std(values, digits=0):
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


def _losses(values):
    finite = [v for v in values if math.isfinite(v)]
    text = _mean_std(finite, 3)
    return text if len(finite) == len(values) else f"{text} ({len(values) - len(finite)} diverged)"


def summarize(results, args, backend, description, seconds):
    best_rows, all_rows = [], []
    for name, runs in results.items():
        scored = []
        for lr, outcomes in runs.items():
            steps = [r for r, _ in outcomes if r is not None]
            bests = [b for _, b in outcomes]
            all_rows.append([name, f"{lr:.3g}", f"{len(steps)}/{len(outcomes)}",
                             _mean_std(steps), _losses(bests)])
            key = (-len(steps), np.mean(steps) if steps else math.inf, np.mean(bests))
            scored.append((key, lr, steps, bests, len(outcomes)))
        _, lr, steps, bests, n = min(scored, key=lambda s: s[0])
        best_rows.append([name, f"{lr:.3g}", f"{len(steps)}/{n}", _mean_std(steps), _losses(bests)])
    header = ["optimizer", "learning rate", "seeds at target", "steps to target",
              "lowest val loss"]
    align = ["---", "---:", "---:", "---:", "---:"]
    command = "python benchmarks/matrix_evidence.py" + (
        " --quick" if args.quick else
        f" --steps {args.steps} --seeds {args.seeds} --target {args.target}")
    text = (
        f"`{'KERAS_BACKEND=jax ' if backend == 'jax' else ''}{command}` ({seconds:.0f} s): "
        f"digits (1348 train / 449 validation), MLP 64-128-128-10, batch {args.batch}, "
        f"{args.steps} updates, validation loss every {args.eval_every}; target validation "
        f"cross-entropy {args.target}; learning rates {{{', '.join(f'{g:.3g}' for g in args.grid)}}}"
        f" x each optimizer's default, other arguments at their defaults; {args.seeds} seeds. "
        "Steps to target: mean ± standard deviation over the seeds that reached it; lowest "
        "validation loss: over all seeds.\n\n"
        "Best rate per optimizer (most seeds at target, then fewest steps):\n\n"
        + markdown_table(header, best_rows, align)
        + "\nEvery rate:\n\n" + markdown_table(header, all_rows, align))
    return f"# Matrix optimizers on digits, {backend}\n\n{description}\n\n{text}", text


def copy_to_readme(text):
    with open(README, encoding="utf-8") as handle:
        content = handle.read()
    start, end = content.find(MARK[0]), content.find(MARK[1])
    if start < 0 or end < 0:
        print("README markers not found; table not copied", flush=True)
        return
    content = content[:start + len(MARK[0])] + "\n" + text + content[end:]
    with open(README, "w", encoding="utf-8") as handle:
        handle.write(content)
    print(f"copied into {README}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--eval-every", type=int, default=10)
    parser.add_argument("--target", type=float, default=0.2)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--grid", type=lambda s: [float(v) for v in s.split(",")],
                        default=[10**-0.5, 1.0, 10**0.5, 10.0])
    parser.add_argument("--only", default="")
    parser.add_argument("--quick", action="store_true", help="smoke run: 20 steps, 1 seed, 1 rate")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--no-readme", action="store_true")
    parser.add_argument("--json", default="", help="also save the raw outcomes here")
    parser.add_argument("--from-json", default="",
                        help="comma-separated --json files: summarize them, no training")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.seeds, args.grid, args.eval_every = 20, 1, [1.0], 10
    backend = keras.backend.backend()
    if backend not in ("jax", "tensorflow"):
        sys.exit(f"compiled backends only (jax, tensorflow). Received backend={backend}")
    description = machine_description()
    if args.from_json:  # runs split over processes: one table
        results, seconds = {}, 0.0
        for path in args.from_json.split(","):
            with open(path, encoding="utf-8") as handle:
                saved = json.load(handle)
            seconds += saved["seconds"]
            for name, runs in saved["results"].items():
                results[name] = {float(lr): [tuple(o) for o in outcomes]
                                 for lr, outcomes in runs.items()}
        results = {name: results[name] for name in optimizers() if name in results}
        out, text = summarize(results, args, backend, description, seconds)
        print(out)
        write_result(args.out, f"matrix_evidence_{backend}.md", out)
        if not args.no_readme:
            copy_to_readme(text)
        return results
    data = load_digits()
    results = {}
    start = time.perf_counter()
    table = optimizers()
    names = [n for n in table if not args.only or n.split()[0].lower() in args.only.split(",")]
    for name in names:
        make, default = table[name]
        trainer = Trainer(make, default, data[2], data[3])
        results[name] = {}
        for g in args.grid:
            lr = default * g
            outcomes = []
            for seed in range(args.seeds):
                outcomes.append(run_one(trainer, lr, seed, data, args))
            results[name][lr] = outcomes
            if args.json:
                with open(args.json, "w", encoding="utf-8") as handle:
                    json.dump({"seconds": time.perf_counter() - start, "results": {
                        n: {repr(k): v for k, v in r.items()} for n, r in results.items()}},
                        handle)
            print(f"{name:14} lr {lr:.3g}: steps {[r for r, _ in outcomes]} "
                  f"lowest {[round(b, 3) for _, b in outcomes]} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    out, text = summarize(results, args, backend, description, time.perf_counter() - start)
    print(out)
    if not args.quick:
        write_result(args.out, f"matrix_evidence_{backend}.md", out)
        if not args.no_readme:
            copy_to_readme(text)
    return results


if __name__ == "__main__":
    main()
