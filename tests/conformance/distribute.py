"""Distribution checks, each batched into ONE child process (device set-up must precede TF/JAX).

- "mirrored" (TensorFlow only): `tf.distribute.MirroredStrategy` over 2 logical CPU
  devices, model and optimizer created in `strategy.scope()`, equals single-device
  training (<= 1e-5 relative).
- "multi_worker" (TensorFlow only): a real two-process `MultiWorkerMirroredStrategy`
  on loopback (TF_CONFIG, two local workers, each global batch split between them,
  so the all-reduced gradient equals the single-device one) for a representative
  subset; a custom training loop, because Keras 3's `fit` fails under this strategy.
- "data_parallel" (JAX only): `keras.distribution.DataParallel` over 2 host devices
  (XLA_FLAGS=--xla_force_host_platform_device_count=2) equals single-device training.

To keep CI inside its budget these run the default settings only (the other
checks cover the non-default setting), and Keras's own classes are skipped.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

from keras_lossopt.testing import _core, _data, optimizers
from keras_lossopt.testing._core import FAIL, NA, PASS, Result

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TOLERANCE = 1e-5
STEPS = 4


def _result(entry, check, status, reason="", seconds=0.0, backend=None):
    return Result(entry.kind, entry.name, check, backend or _core.backend(), status, reason, {},
                  seconds)


def _own(entries, check):
    todo, results = [], []
    for entry in entries:
        reason = _core.opt_out_reason(entry, check, optimizers.OPT_OUTS)
        if reason:
            results.append((entry, f"opt-out: {reason}"))
        elif entry.builtin:
            results.append((entry, _core.BUILTIN_REASON))
        else:
            todo.append(entry)
    return todo, results


def _compare(single, distributed):
    worst = max(float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b))))
                for a, b in zip(distributed, single))
    return worst


def _child_env(**extra):
    """The environment of a child: it imports this module, so the repository root is on its path."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def _run_batched(check, entries, backend, env, code):
    """Runs `code` (which reads names from argv[1] and writes JSON to argv[2]) in one child."""
    todo, skipped = _own(entries, check)
    results = [_result(e, check, NA, why, backend=backend) for e, why in skipped]
    if not todo:
        return results
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.json")
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", code, ",".join(e.name for e in todo), out],
                              env=env, capture_output=True, text=True, timeout=900)
        share = (time.perf_counter() - start) / len(todo)
        found = {}
        if proc.returncode == 0 and os.path.exists(out):
            with open(out) as f:
                found = json.load(f)
        for entry in todo:
            got = found.get(entry.name)
            if got is None:
                got = {"status": FAIL, "reason": f"child failed: {proc.stderr[-1500:]}"}
            results.append(_result(entry, check, got["status"], got["reason"], share,
                                   backend=backend))
    return results


def _compare_runs(names, run_single, run_distributed):
    """Child side: `{name: {"status", "reason"}}` comparing the two trainings."""
    from keras_lossopt import registry

    out = {}
    for name in names:
        entry = registry.lookup("optimizer", name)
        try:
            single = run_single(entry)
            distributed = run_distributed(entry)
            worst = _compare(single, distributed)
            ok = worst <= TOLERANCE
            out[name] = {"status": PASS if ok else FAIL,
                         "reason": "" if ok else f"distributed != single device: max rel diff "
                                                 f"{worst:.3g} > {TOLERANCE}"}
        except Exception as e:  # noqa: BLE001
            out[name] = {"status": FAIL, "reason": f"{type(e).__name__}: {e}"[:600]}
    return out


# --- MirroredStrategy (TensorFlow) -----------------------------------------------------

_MIRRORED_CHILD = """
import sys, json
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras_lossopt  # noqa
from tests.conformance import distribute
json.dump(distribute._mirrored_child(sys.argv[1].split(",")), open(sys.argv[2], "w"))
"""


def _mirrored_child(names):
    import tensorflow as tf

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])

    def single(entry):
        return _data.fit_run(optimizers.make(entry), STEPS).get_weights()

    def mirrored(entry):
        with strategy.scope():
            model = _data.fit_model()
            opt = optimizers.make(entry)
        return _data.fit_run(opt, STEPS, model=model).get_weights()

    return _compare_runs(names, single, mirrored)


def run_mirrored(entries):
    return _run_batched("mirrored", entries, "tensorflow", _child_env(KERAS_BACKEND="tensorflow"),
                        _MIRRORED_CHILD)


# --- DataParallel (JAX) ---------------------------------------------------------------

_DATA_PARALLEL_CHILD = """
import sys, json
import keras_lossopt  # noqa
from tests.conformance import distribute
json.dump(distribute._data_parallel_child(sys.argv[1].split(",")), open(sys.argv[2], "w"))
"""


def _data_parallel_child(names):
    import keras

    devices = keras.distribution.list_devices("cpu")
    if len(devices) < 2:
        raise RuntimeError(f"expected 2 host devices, found {devices}")

    def single(entry):
        keras.distribution.set_distribution(None)
        return _data.fit_run(optimizers.make(entry), STEPS).get_weights()

    def parallel(entry):
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices[:2]))
        try:
            return _data.fit_run(optimizers.make(entry), STEPS).get_weights()
        finally:
            keras.distribution.set_distribution(None)

    return _compare_runs(names, single, parallel)


def run_data_parallel(entries):
    flags = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip()
    return _run_batched("data_parallel", entries, "jax",
                        _child_env(KERAS_BACKEND="jax", XLA_FLAGS=flags), _DATA_PARALLEL_CHILD)


# --- MultiWorkerMirroredStrategy (TensorFlow, two local processes) -------------------------

MULTI_WORKER_SUBSET = 3  # gradient_descent and the first two other optimizers of ours

_WORKER_CHILD = """
import sys, json
import tensorflow as tf
strategy = tf.distribute.MultiWorkerMirroredStrategy()
import keras_lossopt  # noqa
from tests.conformance import distribute
json.dump(distribute._multi_worker_child(strategy, sys.argv[1].split(",")), open(sys.argv[2], "w"))
"""


def _multi_worker_child(strategy, names):
    """Worker side: trains each optimizer with a custom loop under the strategy.

    Keras 3's `fit` does not run under MultiWorkerMirroredStrategy (it fails with
    "Attempt to convert a value (PerReplica...)" for Keras's own SGD too;
    keras-team/keras#20585, tensorflow/tensorflow#72388), so the step is the
    loop `fit` would run: `strategy.run` of a forward/backward pass and
    `optimizer.apply_gradients`, which all-reduces the gradients across the
    workers. Each step's global batch (the rows `fit` with shuffle=False would
    take) is split between the replicas by replica id; the loss of each replica is
    its squared errors divided by the global batch, so the summed gradient equals
    the single-device mean-squared-error one.
    """
    import tensorflow as tf

    from keras_lossopt import registry

    x, y = _data.fit_data()
    replicas = strategy.num_replicas_in_sync
    per_replica = _data.FIT_BATCH // replicas

    def batches(step):
        """Step `step`'s global batch (as fit with shuffle=False), split by replica id."""
        start = (step * _data.FIT_BATCH) % _data.FIT_SAMPLES

        def rows(context, a):
            first = start + context.replica_id_in_sync_group * per_replica
            return tf.constant(a[first:first + per_replica])

        return (strategy.experimental_distribute_values_from_function(lambda c: rows(c, x)),
                strategy.experimental_distribute_values_from_function(lambda c: rows(c, y)))

    out = {}
    for name in names:
        entry = registry.lookup("optimizer", name)
        try:
            with strategy.scope():
                model = _data.fit_model()
                opt = optimizers.make(entry)
                opt.build(model.trainable_variables)  # state cannot be created in tf.function

            def replica_step(xb, yb, model=model, opt=opt):
                with tf.GradientTape() as tape:
                    per_sample = tf.reduce_mean(tf.square(model(xb, training=True) - yb), -1)
                    loss = tf.nn.compute_average_loss(per_sample,
                                                      global_batch_size=_data.FIT_BATCH)
                grads = tape.gradient(loss, model.trainable_variables)
                opt.apply_gradients(zip(grads, model.trainable_variables))

            @tf.function
            def train_step(xb, yb, replica_step=replica_step):
                strategy.run(replica_step, args=(xb, yb))

            for step in range(STEPS):
                train_step(*batches(step))
            out[name] = [w.tolist() for w in model.get_weights()]
        except Exception as e:  # noqa: BLE001
            import traceback

            out[name] = {"error": f"{type(e).__name__}: {e}"[:300] + " at "
                         + " <- ".join(f"{f.name}:{f.lineno}" for f in
                                       traceback.extract_tb(e.__traceback__)[::-1][:8])}
    return out


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def multi_worker_subset(entries):
    own = [e for e in entries if not e.builtin]
    first = [e for e in own if e.name == "gradient_descent"]
    rest = [e for e in own if e.name != "gradient_descent"]
    return (first + rest)[:MULTI_WORKER_SUBSET]


def run_multi_worker(entries):
    """Two local workers on loopback; each entry's weights must equal single-device training."""
    subset = multi_worker_subset(entries)
    chosen = {e.name for e in subset}
    results = [_result(e, "multi_worker", NA, reason, backend="tensorflow") for e, reason in
               _own(entries, "multi_worker")[1]]
    results += [_result(e, "multi_worker", NA, "not in the representative subset "
                        f"(the first {MULTI_WORKER_SUBSET} of ours)", backend="tensorflow")
                for e in entries if not e.builtin and e.name not in chosen]
    if not subset:
        return results
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    names = ",".join(e.name for e in subset)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        procs = []
        for index in range(2):
            tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
            env = _child_env(KERAS_BACKEND="tensorflow", TF_CONFIG=tf_config)
            procs.append(subprocess.Popen(
                [sys.executable, "-c", _WORKER_CHILD, names, os.path.join(tmp, f"w{index}.json")],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        errors = []
        for p in procs:
            try:
                _, err = p.communicate(timeout=600)
            except subprocess.TimeoutExpired:
                p.kill()
                _, err = p.communicate()
            if p.returncode != 0:
                errors.append(err[-1500:])
        share = (time.perf_counter() - start) / len(subset)
        outputs = []
        for index in range(2):
            path = os.path.join(tmp, f"w{index}.json")
            outputs.append(json.load(open(path)) if os.path.exists(path) else {})
    for entry in subset:
        got = [o.get(entry.name) for o in outputs]
        if any(g is None or isinstance(g, dict) for g in got):
            detail = [g["error"] for g in got if isinstance(g, dict)] or errors or ["no output"]
            results.append(_result(entry, "multi_worker", FAIL, f"worker failed: {detail[0]}",
                                   share, "tensorflow"))
            continue
        single = _data.fit_run(optimizers.make(entry), STEPS).get_weights()
        worst = max(_compare(single, [np.asarray(w) for w in g]) for g in got)
        status = PASS if worst <= TOLERANCE else FAIL
        reason = "" if status == PASS else f"max rel diff {worst:.3g} > {TOLERANCE}"
        results.append(_result(entry, "multi_worker", status, reason, share, "tensorflow"))
    return results
