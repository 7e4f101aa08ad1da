"""Overhead of the TrainingDoctor callback and of the LR finder.

TrainingDoctor (its budget: <= 2% of fit time): trains the same model on
the same data with and without the doctor, in back-to-back pairs whose order
alternates, after a warm-up (tracing excluded). Each pair gives a ratio (with /
without); the median of the pair ratios is robust to load that changes between
pairs. The doctor's per-batch work is one float conversion of the logged loss
and a list append, also timed on its own; the rest happens at epoch ends and at
the end of fit.

LR finder: `find_learning_rate` over `--lr-steps` batches against `fit` over the
same batches, in the same alternating pairs. It trains with `train_on_batch`
(one call per learning rate, the loss read back each step to detect divergence)
and saves and restores the weights and optimizer state, so it costs more per
batch than `fit`; the table says how much.

    KERAS_BACKEND=tensorflow python benchmarks/doctor_overhead.py
    python benchmarks/doctor_overhead.py --steps 1000 --repeats 9 --width 256
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_lossopt  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="batches per fit")
    parser.add_argument("--lr-steps", type=int, default=200,
                        help="batches of the LR range test")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--width", type=int, default=256, help="hidden units")
    parser.add_argument("--repeats", type=int, default=9, help="pairs per comparison")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    n = args.steps * args.batch_size
    x = rng.normal(size=(n, 32)).astype("float32")
    y = rng.integers(0, 10, n)
    model = keras.Sequential([
        keras.Input((32,)),
        keras.layers.Dense(args.width, activation="relu"),
        keras.layers.Dense(args.width, activation="relu"),
        keras.layers.Dense(10),
    ])
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    def fit(with_doctor, steps=args.steps):
        callbacks = [keras_lossopt.callbacks.TrainingDoctor(verbose=0)] if with_doctor else []
        start = time.perf_counter()
        model.fit(x[: steps * args.batch_size], y[: steps * args.batch_size],
                  batch_size=args.batch_size, epochs=1, verbose=0,
                  callbacks=callbacks, shuffle=False)
        return time.perf_counter() - start

    def lr_find():
        start = time.perf_counter()
        keras_lossopt.find_learning_rate(
            model, x, y, batch_size=args.batch_size, start_lr=1e-6, end_lr=1e-2,
            num_steps=args.lr_steps, shuffle=False, stop_on_divergence=False)
        return time.perf_counter() - start

    def pairs(baseline, candidate):
        """Alternating back-to-back pairs: (baseline times, candidate times)."""
        base, cand = [], []
        for i in range(args.repeats):
            if i % 2 == 0:
                base.append(baseline()), cand.append(candidate())
            else:
                cand.append(candidate()), base.append(baseline())
        return base, cand

    def report(name, base, cand, steps):
        ratios = [c / b for b, c in zip(base, cand)]
        print(f"{name}:")
        print(f"  baseline (s):  {[round(t, 3) for t in base]}")
        print(f"  with it (s):   {[round(t, 3) for t in cand]}")
        print(f"  median of pair ratios: {100 * (statistics.median(ratios) - 1):+.2f}%  "
              f"(pair ratios {min(ratios):.3f}..{max(ratios):.3f}); min vs min: "
              f"{100 * (min(cand) / min(base) - 1):+.2f}%")
        per_step = (statistics.median(cand) - statistics.median(base)) / steps
        print(f"  per batch: {per_step * 1e6:+.0f} us on a "
              f"{statistics.median(base) / steps * 1e6:.0f} us step (medians)")

    print(f"backend={keras.backend.backend()} steps={args.steps} batch={args.batch_size} "
          f"width={args.width} repeats={args.repeats} lr_steps={args.lr_steps}")
    fit(True), fit(False), lr_find()  # warm-up: tracing and caches
    plain, doctor = pairs(lambda: fit(False), lambda: fit(True))
    report("TrainingDoctor in fit", plain, doctor, args.steps)
    plain_lr, finder = pairs(lambda: fit(False, args.lr_steps), lr_find)
    report(f"find_learning_rate vs fit, {args.lr_steps} batches", plain_lr, finder,
           args.lr_steps)

    # The callback's own per-batch work, timed directly on the logs Keras passes
    # (a backend tensor holding the running mean loss).
    doctor_cb = keras_lossopt.callbacks.TrainingDoctor(verbose=0)
    doctor_cb.set_model(model)
    doctor_cb.on_train_begin()
    base = statistics.median(plain) / args.steps
    calls = 20000
    # Keras hands batch-end callbacks python floats (it converts the logs first:
    # inline on TensorFlow, in its callback thread on JAX/PyTorch); time the
    # doctor alone, then with that conversion of a backend tensor included.
    for label, logs in (("callback alone (float logs)", {"loss": 0.5}),
                        ("with the tensor->float conversion",
                         {"loss": keras.ops.convert_to_tensor(0.5)})):
        doctor_cb.on_train_begin()
        start = time.perf_counter()
        for batch in range(calls):
            doctor_cb.on_train_batch_end(batch, logs)
        per_call = (time.perf_counter() - start) / calls
        print(f"{label}: {per_call * 1e6:.1f} us per batch = {100 * per_call / base:.2f}% "
              f"of a {base * 1e6:.0f} us step")


if __name__ == "__main__":
    main()
