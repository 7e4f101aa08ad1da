"""Loss forward + backward time against Keras's twin.

Two tables:

1. Losses with a Keras twin, at batch 8192: the time of the loss value and its
   gradient with respect to `y_pred`, ours next to Keras's, measured interleaved
   (one sample of each in turn) so that load from other processes hits both.
   Target: ratio <= 1.05.
2. Pairwise metric-learning losses (O(B^2) by nature) at batch 256, 1024 and
   4096 with 64-dimensional embeddings: time per batch and per sample, and on
   JAX the compiled program's temporary memory (XLA's own buffer accounting)
   divided by B^2, which stays bounded when memory is O(B^2).

Compiled as a training step would be: `tf.function` on TensorFlow (what
`model.fit` uses on a CPU, where `jit_compile="auto"` means no XLA; `--xla`
adds an XLA column), `jax.jit` on JAX; PyTorch runs eagerly.

    python benchmarks/loss_step.py
    KERAS_BACKEND=jax python benchmarks/loss_step.py
    python benchmarks/loss_step.py --repeats 5 --pairwise-batches 256,1024 --xla

Speed is never asserted in tests; results go to benchmarks/results/.
"""

import argparse
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _common import (  # noqa: E402
    interleaved,
    machine_description,
    markdown_table,
    median,
    write_result,
)

import keras_lossopt  # noqa: E402

L = keras_lossopt.losses
BATCH = 8192


def _sparse_inputs(rng, classes):
    return (rng.integers(0, classes, BATCH).astype("int32"),
            rng.normal(size=(BATCH, classes)).astype("float32"))


def _one_hot(labels, classes):
    return np.eye(classes, dtype="float32")[labels]


def twin_cases(rng):
    """(name, ours, keras twin, y_true ours, y_true twin, y_pred, note)."""
    cases = []
    for classes in (10, 1000):
        labels, logits = _sparse_inputs(rng, classes)
        cases.append((
            f"SparseCategoricalCrossentropy(label_smoothing=0.1), C={classes}",
            L.SmoothedSparseCategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            labels, labels, logits,
            "twin has no smoothing (the issue's comparison)",
        ))
        cases.append((
            f"SparseCategoricalCrossentropy(label_smoothing=0.1), C={classes}",
            L.SmoothedSparseCategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
            keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
            labels, _one_hot(labels, classes), logits,
            "twin: Keras CE with smoothing on one-hot labels made beforehand",
        ))
        cases.append((
            f"SparseCategoricalCrossentropy(label_smoothing=0), C={classes}",
            L.SmoothedSparseCategoricalCrossentropy(from_logits=True),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            labels, labels, logits, "same math",
        ))
        cases.append((
            f"SparseCategoricalFocalCrossentropy, C={classes}",
            L.SparseCategoricalFocalCrossentropy(from_logits=True),
            keras.losses.CategoricalFocalCrossentropy(from_logits=True),
            labels, _one_hot(labels, classes), logits,
            "twin on one-hot labels made beforehand",
        ))
    multi = 20
    y_true = (rng.random((BATCH, multi)) < 0.2).astype("float32")
    logits = rng.normal(size=(BATCH, multi)).astype("float32")
    cases.append((
        f"SigmoidFocalCrossEntropy, {multi} labels",
        L.SigmoidFocalCrossEntropy(from_logits=True),
        keras.losses.BinaryFocalCrossentropy(
            apply_class_balancing=True, alpha=0.25, gamma=2.0, from_logits=True),
        y_true, y_true, logits,
        "ours sums over labels (TFA), Keras averages: same work",
    ))
    target = rng.normal(size=(BATCH, 64)).astype("float32")
    pred = rng.normal(size=(BATCH, 64)).astype("float32")
    cases.append((
        "PseudoHuber vs Huber, 64 outputs", L.PseudoHuber(), keras.losses.Huber(),
        target, target, pred, "different function, same use",
    ))
    return cases


def pairwise_cases(rng, batch, dim=64):
    """(name, loss, y_true, [inputs], how inputs become y_pred)."""
    labels = (np.arange(batch) % max(batch // 8, 2)).astype("int32")  # 8 per class
    embeddings = rng.normal(size=(batch, dim)).astype("float32")
    positives = rng.normal(size=(batch, dim)).astype("float32")
    multilabel = (rng.random((batch, 10)) < 0.3).astype("float32")

    def identity(x):
        return x

    def similarity(a, p):
        return keras.ops.matmul(a, keras.ops.transpose(p))

    return [
        ("TripletSemiHardLoss", L.TripletSemiHardLoss(), labels, [embeddings], identity),
        ("TripletHardLoss", L.TripletHardLoss(), labels, [embeddings], identity),
        ("TripletHardLoss(soft=True)", L.TripletHardLoss(soft=True), labels, [embeddings],
         identity),
        ("LiftedStructLoss", L.LiftedStructLoss(), labels, [embeddings], identity),
        ("NpairsLoss (anchors @ positives.T)", L.NpairsLoss(), labels,
         [embeddings, positives], similarity),
        ("NpairsMultilabelLoss (anchors @ positives.T)", L.NpairsMultilabelLoss(),
         multilabel, [embeddings, positives], similarity),
    ]


# --- Backends: a compiled "loss and gradient w.r.t. the inputs" callable -------------


def make_step(loss, y_true, inputs, to_pred, mode):
    """Zero-argument callable computing loss and gradients, blocking until done."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        y = tf.constant(y_true)
        xs = [tf.constant(x) for x in inputs]

        def value_and_grad(y, *xs):
            with tf.GradientTape() as tape:
                for x in xs:
                    tape.watch(x)
                value = loss(y, to_pred(*xs))
            return value, tape.gradient(value, list(xs))

        fn = tf.function(value_and_grad, jit_compile=(mode == "XLA"))

        def run():
            value, grads = fn(y, *xs)
            _ = value.numpy(), grads[0][0, 0].numpy()

        return run, None
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        y = jnp.asarray(y_true)
        xs = [jnp.asarray(x) for x in inputs]

        def value(xs, y):
            return loss(y, to_pred(*xs))

        fn = jax.jit(jax.value_and_grad(value))
        compiled = fn.lower(xs, y).compile()
        try:
            temp = compiled.memory_analysis().temp_size_in_bytes
        except Exception:  # memory analysis is optional in XLA backends
            temp = None

        def run():
            jax.block_until_ready(fn(xs, y))

        return run, temp
    import torch

    y = torch.tensor(y_true)
    xs = [torch.tensor(x, requires_grad=True) for x in inputs]

    def run():
        for x in xs:
            x.grad = None
        value = loss(y, to_pred(*xs))
        value.backward()

    return run, None


def modes(args):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return ["tf.function"] + (["XLA"] if args.xla else [])
    return ["jit" if backend == "jax" else "eager"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--pairwise-repeats", type=int, default=3)
    parser.add_argument("--pairwise-batches", default="256,1024,4096")
    parser.add_argument("--xla", action="store_true", help="TensorFlow: also time with XLA")
    parser.add_argument("--only", default="", help="substring filter on the case name")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = parser.parse_args(argv)
    backend = keras.backend.backend()
    description = machine_description()
    rng = np.random.default_rng(0)

    twin_rows = []
    for name, ours, twin, y_ours, y_twin, y_pred, note in twin_cases(rng):
        if args.only and args.only not in name:
            continue
        for mode in modes(args):
            run_ours, _ = make_step(ours, y_ours, [y_pred], lambda x: x, mode)
            run_twin, _ = make_step(twin, y_twin, [y_pred], lambda x: x, mode)
            ours_s, twin_s = interleaved([run_ours, run_twin], args.repeats)
            ratio = median(ours_s) / median(twin_s)
            ratio_min = min(ours_s) / min(twin_s)
            twin_name = type(twin).__name__
            twin_rows.append([name, twin_name, mode, f"{median(ours_s) * 1e3:.2f}",
                              f"{median(twin_s) * 1e3:.2f}", f"{ratio:.2f}",
                              f"{ratio_min:.2f}", note])
            print(f"{name:<58} vs {twin_name:<30} {mode:<11} ours "
                  f"{median(ours_s) * 1e3:8.2f} ms  twin {median(twin_s) * 1e3:8.2f} ms  "
                  f"ratio {ratio:.2f} (min {ratio_min:.2f})", flush=True)

    pair_rows = []
    for batch in [int(b) for b in args.pairwise_batches.split(",") if b]:
        for name, loss, y_true, inputs, to_pred in pairwise_cases(rng, batch):
            if args.only and args.only not in name:
                continue
            mode = modes(args)[0]
            run, temp = make_step(loss, y_true, inputs, to_pred, mode)
            (samples,) = interleaved([run], args.pairwise_repeats, warmup=1)
            t = median(samples)
            temp_txt = "—" if temp is None else f"{temp / 2**20:.1f} ({temp / batch**2:.0f})"
            pair_rows.append([name, str(batch), mode, f"{t * 1e3:.2f}",
                              f"{t / batch * 1e6:.2f}", temp_txt])
            print(f"{name:<46} B={batch:<5} {t * 1e3:9.2f} ms  {t / batch * 1e6:8.2f} us/sample"
                  f"  temp {temp_txt}", flush=True)

    text = (
        f"# Loss forward + backward, {backend}\n\n{description}\n\n"
        f"## Losses with a Keras twin (batch {BATCH})\n\n"
        f"Loss value and gradient w.r.t. `y_pred`; median of {args.repeats} after warm-up, "
        "ours and the twin timed interleaved. *ratio* = ours / twin (median); *ratio (min)* "
        "uses the fastest samples, the least disturbed by other load.\n\n"
        + markdown_table(
            ["loss (ours)", "Keras twin", "mode", "ours (ms)", "twin (ms)", "ratio",
             "ratio (min)", "note"],
            twin_rows, ["---", "---", "---", "---:", "---:", "---:", "---:", "---"])
        + f"\n## Pairwise metric-learning losses (64-d embeddings)\n\n"
        f"Loss and gradient w.r.t. the embeddings; median of {args.pairwise_repeats}. "
        "*temp MiB (bytes/B²)*: the compiled program's temporary buffers from XLA's memory "
        "analysis (JAX only); a constant bytes/B² across batch sizes means O(B²) memory.\n\n"
        + markdown_table(
            ["loss", "batch", "mode", "ms / batch", "µs / sample", "temp MiB (bytes/B²)"],
            pair_rows, ["---", "---:", "---", "---:", "---:", "---:"])
    )
    print()
    print(text)
    write_result(args.out, f"loss_step_{backend}.md", text)


if __name__ == "__main__":
    main()
