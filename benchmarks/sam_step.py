"""Cost of a SharpnessAwareMinimization training step against the plain step (issue 13).

SAM does two forward/backward passes per step, so the expected ratio is about 2x
(plus the perturbation: a global norm and one add per weight). Each row trains the
same model on the same batches with `fit` (one epoch of `--steps` batches, compiled
as Keras compiles it on this backend), the plain run and the SAM run interleaved
(`_common.interleaved`), after a warm-up that excludes tracing. The ratio is of the
medians of the same rounds (and of the minima).

    KERAS_BACKEND=jax python benchmarks/sam_step.py
    python benchmarks/sam_step.py --steps 20 --repeats 3 --out benchmarks/results
"""

import argparse
import os
import sys

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

from keras_lossopt.models import SharpnessAwareMinimization  # noqa: E402

VARIANTS = {  # name -> SharpnessAwareMinimization keywords (None: the plain model)
    "plain": None,
    "SAM": {"rho": 0.05},
    "ASAM": {"rho": 0.5, "adaptive": True},
    "SAM, num_batch_splits=4": {"rho": 0.05, "num_batch_splits": 4},
}


def mlp():
    return keras.Sequential([keras.Input((784,)), keras.layers.Dense(512, activation="relu"),
                             keras.layers.Dense(512, activation="relu"), keras.layers.Dense(10)])


def cnn():
    return keras.Sequential([
        keras.Input((16, 16, 3)),
        keras.layers.Conv2D(16, 3, padding="same"), keras.layers.BatchNormalization(),
        keras.layers.ReLU(), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, padding="same"), keras.layers.BatchNormalization(),
        keras.layers.ReLU(), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10),
    ])


MODELS = {"MLP 784-512-512-10": (mlp, (784,)), "CNN 2 conv + BN, 16x16x3": (cnn, (16, 16, 3))}


def build(make, kwargs):
    keras.utils.set_random_seed(0)
    model = make()
    if kwargs is not None:
        model = SharpnessAwareMinimization(model, **kwargs)
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="batches per timed fit")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=None, help="directory for sam_step_<backend>.md")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    rows = []
    for model_name, (make, shape) in MODELS.items():
        n = args.steps * args.batch_size
        x = rng.normal(size=(n, *shape)).astype("float32")
        y = rng.integers(0, 10, n)
        models = {name: build(make, kwargs) for name, kwargs in VARIANTS.items()}

        def fit(model, x=x, y=y):
            return lambda: model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0,
                                     shuffle=False)

        samples = interleaved([fit(m) for m in models.values()], args.repeats, warmup=1)
        plain = samples[0]
        for name, times in zip(models, samples):
            rows.append([model_name, name, f"{median(times) / args.steps * 1e3:.2f}",
                         f"{median(times) / median(plain):.2f}x",
                         f"{min(times) / min(plain):.2f}x"])
        print(markdown_table(["model", "step", "ms / step (median)", "ratio (medians)",
                              "ratio (minima)"], rows[-len(models):]), flush=True)

    backend = keras.backend.backend()
    table = markdown_table(["model", "step", "ms / step (median)", "ratio (medians)",
                            "ratio (minima)"], rows)
    text = (f"# SAM step against the plain step ({backend})\n\n{machine_description()}\n\n"
            f"`fit` over {args.steps} batches of {args.batch_size}, SGD with momentum, "
            f"{args.repeats} interleaved rounds; ratio = SAM time / plain time.\n\n{table}")
    print(text)
    if args.out:
        write_result(args.out, f"sam_step_{backend}.md", text)


if __name__ == "__main__":
    main()
