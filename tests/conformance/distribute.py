"""Distribution checks, each batched into ONE child process (device set-up must precede TF/JAX).

- "mirrored" (TensorFlow only): `tf.distribute.MirroredStrategy` over 2 logical CPU
  devices, model and optimizer created in `strategy.scope()`, equals single-device
  training over 16 steps (long enough for adaptive state to move: Prodigy's `d`
  grows ~5e4-fold): weights <= 1e-5 relative, and every optimizer variable, read
  from EACH replica's copy, <= 1e-3 of its own scale. Its self-test: two
  optimizers broken on purpose (statistics of the replica's share of the
  gradients, `SENTINELS`) must FAIL, or the check reports itself blind. And
  gradient accumulation / EMA overwrite, which Keras cannot run under replicas
  (keras-team/keras#20582), are refused with a ValueError at the first step.
- "multi_worker" (TensorFlow only): a real two-process `MultiWorkerMirroredStrategy`
  on loopback (TF_CONFIG, two local workers, each global batch split between them,
  so the all-reduced gradient equals the single-device one) for a representative
  subset; a custom training loop, because Keras 3's `fit` fails under this strategy.
- "data_parallel" (JAX only): `keras.distribution.DataParallel` over 2 host devices
  (XLA_FLAGS=--xla_force_host_platform_device_count=2) equals single-device training
  (16 steps; weights and optimizer state, as "mirrored").
- "model_parallel" (JAX only): `keras.distribution.ModelParallel` on a (2, 4)
  ("batch", "model") mesh of 8 host devices, a LayoutMap sharding both Dense
  kernels along "model": equals single-device training (as "data_parallel"), and
  every optimizer slot of a sharded kernel carries the kernel's sharding (so its
  memory per device is 1/4), scalar state is replicated.

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

from keras_lossopt import _keras_compat
from keras_lossopt.testing import _core, _data, optimizers
from keras_lossopt.testing._core import FAIL, NA, PASS, Result
from keras_lossopt.testing._optimizer_setup import _own_attr

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TOLERANCE = 1e-5
STEPS = 4
# MirroredStrategy and DataParallel: long enough that adaptive state leaves its start (Prodigy's d
# grows from 1e-6 by orders of magnitude), and the state is compared too.
DISTRIBUTED_STEPS = 16
STATE_TOLERANCE = 1e-3  # of each variable's scale (the Prodigy fault: 0.15; float noise: <= 3e-4)


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


def _run_batched(check, entries, backend, env, code, extra=None):
    """Runs `code` (which reads names from argv[1] and writes JSON to argv[2]) in one child.

    `extra` (a dict) receives the child's entries whose names start with "__"
    (e.g. the mirrored check's sentinels).
    """
    todo, skipped = _own(entries, check)
    results = [_result(e, check, NA, why, backend=backend) for e, why in skipped]
    if not todo:
        return results
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.json")
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", code, ",".join(e.name for e in todo), out],
                              env=env, capture_output=True, text=True, timeout=1800)
        share = (time.perf_counter() - start) / len(todo)
        found = {}
        if proc.returncode == 0 and os.path.exists(out):
            with open(out) as f:
                found = json.load(f)
        if extra is not None:
            extra.update({k: v for k, v in found.items() if k.startswith("__")})
        for entry in todo:
            got = found.get(entry.name)
            if got is None:
                got = {"status": FAIL, "reason": f"child failed: {proc.stderr[-1500:]}"}
            result = _result(entry, check, got["status"], got["reason"], share, backend=backend)
            result.numbers = _core.plain(got.get("numbers", {}))
            results.append(result)
    return results


def _fit(opt, model, steps=None, jit_compile=False):
    """`_data.fit_run`'s training (same batches, same order) as ONE epoch of `steps` batches.

    The data repeated `steps / 2` times instead of that many epochs: each epoch
    costs TensorFlow's MirroredStrategy ~0.3 s of CPU on its own. The JAX checks
    pass `jit_compile=True`, what `fit` does on JAX by default: eager JAX
    dispatches every op of a step (SOAP and Kron took 88 s and 110 s for the
    ModelParallel pair eagerly, 28 s and 31 s jitted, on the loaded CI machine).
    """
    steps = steps or DISTRIBUTED_STEPS
    x, y = _data.fit_data()
    per_epoch = len(x) // _data.FIT_BATCH
    repeats, rest = divmod(steps, per_epoch)
    if rest:
        raise ValueError(f"`steps` must be a multiple of {per_epoch}. Received: steps={steps}")
    model.compile(optimizer=opt, loss="mean_squared_error", jit_compile=jit_compile)
    model.fit(np.tile(x, (repeats, 1)), np.tile(y, (repeats, 1)), batch_size=_data.FIT_BATCH,
              epochs=1, shuffle=False, verbose=0)
    return model


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
    """Child side: each optimizer trained single-device and mirrored; weights AND state compared.

    The state of the mirrored run is read from every replica's copy: a step that
    updates state from its own replica's share of the gradients leaves copies
    that differ even where the weights still agree. The two sentinels
    (`SENTINELS`, optimizers broken on purpose in the way a reduction over
    variables goes wrong under replicas) must FAIL; if one passes, the check
    cannot see the fault and every optimizer FAILs with that reason.
    """
    import tensorflow as tf

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])

    def train(make_optimizer, mirrored):
        scope = strategy.scope() if mirrored else _null_scope()
        with scope:
            model = _data.fit_model()
            opt = make_optimizer()
            opt.build(model.trainable_variables)
        before = _state_copies(opt, strategy if mirrored else None)
        _fit(opt, model)
        return model.get_weights(), before, _state_copies(opt, strategy if mirrored else None)

    out = _compare_trainings(names, train, sentinels=_sentinels())
    out["__refusals__"] = _refusals(strategy)
    return out


REFUSED = ({"gradient_accumulation_steps": 2},
           {"use_ema": True, "ema_overwrite_frequency": 2})


def _refusals(strategy):
    """{setting: the error} of Prodigy trained mirrored with each of `REFUSED`.

    Keras cannot run these under replicas (keras-team/keras#20582); ours must
    refuse with a ValueError naming the argument, not train wrongly.
    """
    from keras_lossopt.optimizers import Prodigy

    found = {}
    for kwargs in REFUSED:
        try:
            with strategy.scope():
                model = _data.fit_model()
                opt = Prodigy(**kwargs)
            _fit(opt, model, 2)
            found[repr(kwargs)] = "trained"
        except ValueError as e:
            found[repr(kwargs)] = str(e)
        except Exception as e:  # noqa: BLE001 - recorded: the test says what it wanted
            found[repr(kwargs)] = f"{type(e).__name__}: {e}"
    return found


def _compare_trainings(names, train, sentinels=None, makers=None):
    """Child side: `{name: {"status", "reason", "numbers"}}`, single-device vs distributed.

    `train(make_optimizer, distributed)` returns `(weights, state before, state
    after)` (the state as `_state_copies` gives it). `sentinels`, {label: factory}
    of optimizers broken on purpose, must FAIL: their findings are returned under
    "__sentinels__", and if one passes, every optimizer FAILs (the check is blind).
    """
    def compare(make_optimizer, spec=None):
        weights, start, state = train(make_optimizer, False)
        d_weights, _, d_state = train(make_optimizer, True)
        return _differences(weights, start, state, d_weights, d_state, spec)

    out = {}
    found_in_sentinels = {}
    for label, make_optimizer in (sentinels or {}).items():
        try:
            found_in_sentinels[label] = compare(make_optimizer)["problem"]
        except Exception as e:  # noqa: BLE001 - a crash is not the FAIL we want either
            found_in_sentinels[label] = ""
            out.setdefault("__sentinel_errors__", []).append(f"{label}: {type(e).__name__}: {e}")
    blind = [label for label, problem in found_in_sentinels.items() if not problem]
    if sentinels:
        out["__sentinels__"] = found_in_sentinels

    from keras_lossopt import registry

    for name in names:
        entry = registry.lookup("optimizer", name)
        make = (makers or {}).get(name) or (lambda entry=entry: optimizers.make(entry))
        try:
            found = compare(make, _distribution_spec(entry))
        except Exception as e:  # noqa: BLE001
            out[name] = {"status": FAIL, "reason": f"{type(e).__name__}: {e}"[:600]}
            continue
        status, reason = (FAIL, found["problem"]) if found["problem"] else (PASS, "")
        if blind and status == PASS:
            status, reason = FAIL, ("the check is blind: its sentinel(s) "
                                    f"{', '.join(blind)} passed (see distribute.SENTINELS)")
        out[name] = {"status": status, "reason": reason, "numbers": found["numbers"]}
    return out


class _null_scope:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _StateCopies(list):
    """`_state_copies`'s list, with the variables' paths alongside (`.paths`)."""


def _state_copies(opt, strategy):
    """`[[copy of each replica] for each optimizer variable]` as numpy arrays."""
    copies = _StateCopies()
    copies.paths = []
    for variable in opt.variables:
        value = variable.value
        parts = strategy.experimental_local_results(value) if strategy is not None else (value,)
        copies.append([np.array(_keras_compat.to_numpy(part)) for part in parts])
        copies.paths.append(str(variable.path))
    return copies


def _distribution_spec(entry):
    """The class hook `conformance_distribution` (see `_differences`), or {}."""
    return dict(_own_attr(entry.cls, "conformance_distribution") or {})


def _orthogonality_error(q):
    """max |Q^T Q - I| of a square matrix (0 for anything else)."""
    q = np.asarray(q, "float64")
    if q.ndim != 2 or q.shape[0] != q.shape[1]:
        return 0.0
    return float(np.max(np.abs(q.T @ q - np.eye(q.shape[0]))))


def _scaled_difference(a, b):
    """max |a - b| relative to the magnitude of `b` (the whole variable's, floored at 1e-30).

    Relative to each variable's own scale, not to 1: Prodigy's `d` starts at 1e-6,
    and an absolute 1e-5 would not see it move from 6e-6 to 7e-6.
    """
    a, b = np.asarray(a, "float64"), np.asarray(b, "float64")
    scale = max(float(np.max(np.abs(b))) if b.size else 0.0, 1e-30)
    return float(np.max(np.abs(a - b))) / scale if a.size else 0.0


def _differences(weights, start, state, m_weights, m_state, spec=None):
    """`{"problem": str or "", "numbers": {...}}` of a single-device vs mirrored pair.

    `spec` is the optimizer's `conformance_distribution` hook, for state that is
    defined only up to a rotation: `{"rotation_defined": ("basis_",),
    "weights_tolerance": 1e-4, "why": "..."}`. A variable whose path contains one
    of the `rotation_defined` markers is an orthonormal basis (SOAP's eigenvectors):
    where its matrix has repeated eigenvalues (a factor built from a few gradients
    is rank-deficient) any rotation of that eigenspace is as right, and the
    rounding of a sharded sum picks another. Such a variable must be orthogonal in
    every copy instead of equal elementwise, and the weights, which the basis
    choice then moves, are compared at `weights_tolerance`.
    """
    spec = spec or {}
    markers = tuple(spec.get("rotation_defined", ()))
    tolerance = float(spec.get("weights_tolerance", TOLERANCE))
    paths = getattr(state, "paths", None) or [""] * len(state)
    problems = []
    worst_weights = _compare(weights, m_weights)
    if worst_weights > tolerance:
        problems.append(f"weights: max rel diff {worst_weights:.3g} > {tolerance}")
    worst_state, where = 0.0, ""
    worst_orthogonality = 0.0
    growth = 1.0  # the largest factor a non-zero scalar state moved by (e.g. Prodigy's d)
    for index, (single, before, copies) in enumerate(zip(state, start, m_state)):
        if markers and any(marker in paths[index] for marker in markers):
            for replica, copy in enumerate(copies):
                error = _orthogonality_error(copy)
                worst_orthogonality = max(worst_orthogonality, error)
                if error > STATE_TOLERANCE:
                    problems.append(f"optimizer variable {index} ({paths[index]}, replica "
                                    f"{replica}) is not orthogonal: max |Q^T Q - I| = "
                                    f"{error:.3g}")
            continue
        for replica, copy in enumerate(copies):
            diff = _scaled_difference(copy, single[0])
            if diff > worst_state:
                worst_state, where = diff, f"optimizer variable {index} (replica {replica})"
        if single[0].size == 1:
            a, b = abs(float(single[0].ravel()[0])), abs(float(before[0].ravel()[0]))
            if a > 0 and b > 0:
                growth = max(growth, a / b, b / a)
    if worst_state > STATE_TOLERANCE:
        problems.append(f"optimizer state: {where} differs by {worst_state:.3g} of its scale "
                        f"> {STATE_TOLERANCE}")
    numbers = {"weights": worst_weights, "state": worst_state, "scalar_growth": growth}
    if markers:
        numbers["basis_orthogonality"] = worst_orthogonality
    return {"problem": "; ".join(problems), "numbers": numbers}


# The sentinels: two optimizers broken on purpose, as a global reduction goes wrong under
# replicas (the fault Prodigy had: statistics of the replica's share of the gradients,
# before the all-reduce, written to state once per replica). The mirrored check must FAIL
# both: the first on the weights, the second on the state alone (its weights are right).
SENTINELS = ("per_replica_norm", "per_replica_statistic")


def _sentinels():
    """{label: factory} of the sentinel optimizers (classes made here: keras is imported late)."""
    import keras
    from keras import ops

    from keras_lossopt import _keras_compat

    class PerReplicaStatistic(_keras_compat.WholeStepHook, keras.optimizers.Optimizer):
        """SGD that also keeps `sum |g|^2` of the gradients it is handed (wrongly: per replica)."""

        normalize = False

        def __init__(self, learning_rate=0.05, **kwargs):
            super().__init__(learning_rate=learning_rate, **kwargs)

        def build(self, var_list):
            if self.built:
                return
            super().build(var_list)
            self.statistic = self.add_variable((), initializer="ones", dtype="float32",
                                               name="statistic")

        def _whole_step(self, grads, trainable_variables, learning_rate):
            total = sum(ops.sum(ops.square(ops.cast(g, "float32"))) for g in grads)
            self.assign(self.statistic, self.statistic + total)
            self._update_each_variable(grads, trainable_variables, learning_rate)

        def update_step(self, gradient, variable, learning_rate):
            lr = ops.cast(learning_rate, variable.dtype)
            if self.normalize:
                lr = lr / ops.cast(ops.sqrt(self.statistic), variable.dtype)
            self.assign_sub(variable, lr * gradient)

    class PerReplicaNorm(PerReplicaStatistic):
        """The same, but the step is divided by the root of that statistic (so weights differ)."""

        normalize = True

    return {"per_replica_norm": PerReplicaNorm, "per_replica_statistic": PerReplicaStatistic}


def run_mirrored(entries, sentinels=None):
    """MirroredStrategy vs single device, weights and state, for every optimizer of ours.

    `sentinels` (a dict), if given, receives `{"__sentinels__": {label: problem}}`:
    what the check found wrong with each sentinel ("" would mean it is blind), and
    `{"__refusals__": {setting: error}}` (see `_refusals`).
    """
    return _run_batched("mirrored", entries, "tensorflow",
                        _child_env(KERAS_BACKEND="tensorflow"), _MIRRORED_CHILD, extra=sentinels)


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

    def train(make_optimizer, distributed):
        keras.distribution.set_distribution(
            keras.distribution.DataParallel(devices=devices[:2]) if distributed else None)
        try:
            model = _data.fit_model()
            opt = make_optimizer()
            opt.build(model.trainable_variables)
            before = _state_copies(opt, None)
            _fit(opt, model, jit_compile=True)
            return model.get_weights(), before, _state_copies(opt, None)
        finally:
            keras.distribution.set_distribution(None)

    return _compare_trainings(names, train)


def run_data_parallel(entries):
    flags = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip()
    return _run_batched("data_parallel", entries, "jax",
                        _child_env(KERAS_BACKEND="jax", XLA_FLAGS=flags), _DATA_PARALLEL_CHILD)


# --- ModelParallel (JAX, a (2, 4) mesh of 8 host devices) ---------------------------------

MESH_SHAPE = (2, 4)  # ("batch", "model")
_MP_UNITS = 8  # the hidden layer's width: both Dense kernels split evenly over "model"

_MODEL_PARALLEL_CHILD = """
import sys, json
import keras_lossopt  # noqa
from tests.conformance import distribute
json.dump(distribute._model_parallel_child(sys.argv[1].split(",")), open(sys.argv[2], "w"))
"""


def _model_parallel_model():
    """The tiny model with a hidden layer of 8 units, named layers ("hidden", "out")."""
    import keras

    model = keras.Sequential([
        keras.Input((_data.FIT_FEATURES,)),
        keras.layers.Dense(_MP_UNITS, activation="tanh", name="hidden"),
        keras.layers.Dense(1, name="out"),
    ])
    rng = np.random.default_rng(1)
    model.set_weights([(0.5 * rng.normal(size=w.shape)).astype("float32")
                       for w in model.get_weights()])
    return model


def _model_parallel_child(names):
    """Child side: ModelParallel vs single device, and every slot sharded like its variable.

    The LayoutMap shards the hidden kernel (4, 8) on its output axis and the output
    kernel (8, 1) on its input axis along "model"; biases are replicated. Each
    optimizer variable with the shape of a sharded kernel must carry that kernel's
    sharding (so optimizer memory per device falls as 1 / 4), and scalar state must
    be replicated.
    """
    import keras

    devices = keras.distribution.list_devices("cpu")
    needed = MESH_SHAPE[0] * MESH_SHAPE[1]
    if len(devices) < needed:
        raise RuntimeError(f"expected {needed} host devices, found {devices}")
    mesh = keras.distribution.DeviceMesh(MESH_SHAPE, ["batch", "model"], devices[:needed])
    layout_map = keras.distribution.LayoutMap(mesh)
    layout_map[".*hidden/kernel"] = (None, "model")  # paths fullmatch
    layout_map[".*out/kernel"] = ("model", None)
    distribution = keras.distribution.ModelParallel(layout_map=layout_map,
                                                    batch_dim_name="batch")
    sharding_problems = {}

    def train(make_optimizer, distributed):
        keras.distribution.set_distribution(distribution if distributed else None)
        try:
            model = _model_parallel_model()
            opt = make_optimizer()
            opt.build(model.trainable_variables)
            before = _state_copies(opt, None)
            _fit(opt, model, jit_compile=True)
            if distributed:
                sharding_problems[id(make_optimizer)] = _sharding_problem(model, opt)
            return model.get_weights(), before, _state_copies(opt, None)
        finally:
            keras.distribution.set_distribution(None)

    out = {}
    from keras_lossopt import registry

    for name in names:
        entry = registry.lookup("optimizer", name)

        def make(entry=entry):
            return optimizers.make(entry)

        try:
            found = _compare_trainings([name], train, makers={name: make})[name]
        except Exception as e:  # noqa: BLE001
            out[name] = {"status": FAIL, "reason": f"{type(e).__name__}: {e}"[:600]}
            continue
        problem = sharding_problems.get(id(make), "")
        if problem:
            found = {"status": FAIL, "reason": "; ".join(r for r in (found.get("reason"), problem)
                                                          if r),
                     "numbers": found.get("numbers", {})}
        out[name] = found
    return out


def _sharding_problem(model, opt):
    """"" if every slot of a sharded variable is sharded as it, and scalars are replicated."""
    sharded = {}
    for variable in model.trainable_variables:
        sharding = variable.value.sharding
        if not sharding.is_fully_replicated:
            sharded[tuple(variable.shape)] = (variable.path, sharding)
    if len(sharded) != 2:
        return f"the LayoutMap sharded {len(sharded)} kernels, not 2: {sorted(sharded)}"
    problems = []
    slots = 0
    for variable in opt.variables:
        value = variable.value
        shape = tuple(variable.shape)
        if shape in sharded:
            path, want = sharded[shape]
            slots += 1
            if not value.sharding.is_equivalent_to(want, len(shape)):
                problems.append(f"{variable.path} is {value.sharding.spec}, "
                                f"{path} is {want.spec}")
        elif len(shape) == 0 and not value.sharding.is_fully_replicated:
            problems.append(f"scalar {variable.path} is not replicated ({value.sharding})")
    if problems:
        return "slot sharding: " + "; ".join(problems[:4])
    return ""


def run_model_parallel(entries):
    """ModelParallel on a (2, 4) mesh of 8 host devices vs single device, and slot sharding."""
    flags = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()
    return _run_batched("model_parallel", entries, "jax",
                        _child_env(KERAS_BACKEND="jax", XLA_FLAGS=flags), _MODEL_PARALLEL_CHILD)


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
