"""SAM under MirroredStrategy (TensorFlow) and DataParallel (JAX), all cases in ONE child each.

Device set-up (2 logical CPUs for TensorFlow, 2 host devices for JAX through XLA_FLAGS)
must precede the framework's initialisation, hence a fresh process, as in
keras_lossopt/conformance/distribute.py. The child trains each case on one device and
distributed, and reports the largest relative weight difference per case.
"""

import contextlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

CASES = {  # name -> SharpnessAwareMinimization keywords, optimizer
    "sam-sgd": ({"rho": 0.1}, "sgd"),
    "asam-adam": ({"rho": 1.0, "adaptive": True}, "adam"),
    "sam-m2-adam": ({"rho": 0.1, "num_batch_splits": 2}, "adam"),  # one micro-batch a replica
    "asam-m4-sgd": ({"rho": 0.5, "adaptive": True, "num_batch_splits": 4}, "sgd"),  # two each
}
STEPS = 3

_MIRRORED = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from tests.models import _sam_children
_sam_children.child_main("mirrored", sys.argv[1])
"""

_DATA_PARALLEL = """
import sys
from tests.models import _sam_children
_sam_children.child_main("data_parallel", sys.argv[1])
"""


def _train(case, scope=None, samples=32, batch_size=16, batchnorm=False):
    import keras

    from keras_lossopt.models import SharpnessAwareMinimization

    kwargs, optimizer = CASES[case] if isinstance(case, str) else case
    rng = np.random.default_rng(0)
    x = rng.normal(size=(samples, 3)).astype("float32")
    y = np.stack([np.sin(x[:, 0]), x[:, 1] * x[:, 2]], axis=1).astype("float32")
    keras.utils.set_random_seed(4)
    with scope or contextlib.nullcontext():
        extra = [keras.layers.BatchNormalization()] if batchnorm else []
        inner = keras.Sequential([keras.Input((3,)), keras.layers.Dense(8, activation="tanh"),
                                  *extra, keras.layers.Dense(2)])
        sam = SharpnessAwareMinimization(inner, **kwargs)
        sam.compile(optimizer=keras.optimizers.get(optimizer), loss="mse")
    sam.fit(x, y, batch_size=batch_size, epochs=STEPS, shuffle=False, verbose=0)
    return [keras.ops.convert_to_numpy(w) for w in sam.weights]




def _max_rel_diff(a, b):
    return max(float(np.max(np.abs(u - v) / np.maximum(1.0, np.abs(v)))) for u, v in zip(a, b))


def child_main(kind, output):
    import keras

    out = {"max_rel_diff": {}}
    if kind == "mirrored":
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        for case in CASES:
            out["max_rel_diff"][case] = _max_rel_diff(_train(case, strategy.scope()),
                                                      _train(case))
        # BatchNorm statistics (per-replica batches, so not equal to one device): the
        # averaging of the micro-batches' statistics must run in replica context.
        weights = _train(({"rho": 0.1, "num_batch_splits": 4}, "sgd"), strategy.scope(),
                         batchnorm=True)
        out["batchnorm_finite"] = bool(all(np.isfinite(w).all() for w in weights))
        try:
            # 3 divides the batch of 12 but is not a multiple of the 2 replicas.
            _train(({"num_batch_splits": 3}, "sgd"), strategy.scope(), samples=24, batch_size=12)
            out["bad_splits_error"] = "no error"
        except ValueError as e:
            out["bad_splits_error"] = f"ValueError: {e}"
    else:
        devices = keras.distribution.list_devices("cpu")
        if len(devices) < 2:
            raise RuntimeError(f"expected 2 host devices, found {devices}")
        for case in CASES:
            single = _train(case)
            keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
            try:
                out["max_rel_diff"][case] = _max_rel_diff(_train(case), single)
            finally:
                keras.distribution.set_distribution(None)
    with open(output, "w") as f:
        json.dump(out, f)


def run(kind):
    """Runs the `kind` child ("mirrored" or "data_parallel"); returns its JSON."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    if kind == "mirrored":
        env["KERAS_BACKEND"], code = "tensorflow", _MIRRORED
    else:
        flags = env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
        env.update(KERAS_BACKEND="jax", XLA_FLAGS=flags.strip())
        code = _DATA_PARALLEL
    with tempfile.TemporaryDirectory() as tmp:
        output = os.path.join(tmp, "out.json")
        proc = subprocess.run([sys.executable, "-c", code, output], env=env, cwd=root,
                              capture_output=True, text=True, timeout=600)
        if proc.returncode != 0 or not os.path.exists(output):
            raise AssertionError(f"{kind} child failed:\n{proc.stderr[-4000:]}")
        with open(output) as f:
            return json.load(f)
