"""Matrix-preconditioned optimizer steps against a matmul floor.

SOAP, Shampoo and Kron (`MATRIX_OPTIMIZERS`) and Keras's Adam and Muon take one
XLA-compiled step (`tf.function(jit_compile=True)` on TensorFlow, `jax.jit` of the stateless apply
with donated state on JAX) on two weight sets:

- `mlp` (default): an MNIST-size MLP 784->256->128->10, kernels and biases;
- `cnn` (default): the kernels of a small CNN for 32x32x3 images: conv 3x3 3->32,
  32->64, 64->64, dense 1024->128, 128->10;
- `dense` (`--sets dense`): `--count` float32 matrices of `--size` x `--size`
  (default 4 x 512^2; the large case is `--size 1024 --count 10`, minutes
  per optimizer on 2 cores).

Each step is split into the part every step runs and the refresh part, timed
separately by setting the step counter before each call (the refresh is a
conditional inside the same compiled step):

- SOAP (`precondition_frequency=10`): *step* = a step between refreshes; *refresh* =
  a step with the eigenbasis refresh (power iteration + QR, moments rotated);
- Shampoo (`precondition_frequency=100`): *step* = a step between inverse roots;
  *refresh* = a step computing the inverse roots (eigh);
- Kron: *step* = a step without a preconditioner update (probability 0.03, the
  schedule's floor); *refresh* = a step with one (probability 1, the first 500 steps).

The floor of each part is the FLOPs of its matrix products divided by the matmul
FLOP/s measured in the same run (`--size`-square matmuls, compiled, interleaved with
the optimizer's samples). FLOPs counted per weight of N elements with axis sizes d_k
(matrices: m, n; Shampoo per block of its merged shape; Kron on its merged shape):

- SOAP step: project G, project back M/sqrt(V), the factors' grams:
  3 x sum_k 2 N d_k (a matrix: 6 m n (m + n)); refresh adds per factor 2 d^3 (L Q)
  + 4/3 d^3 (QR) + 2 d^3 (the new estimates), and rotating M: 4 N sum_k d_k;
- Shampoo step: grams + preconditioning: 4 N sum_k d_k; refresh adds 2 d^3 per factor
  (V diag V^T) and the eigh, which is not a matrix product and not counted: the
  refresh ratio shows its cost;
- Kron step: Q^T Q per triangular factor 2 d^3 + applying it 2 N d_k; an update adds
  A (2 N d_k), the triangular solves (N d_k), the grams of A and B (4 N d_k) and
  the factor update (2 d^3);
- Muon: 5 Newton-Schulz iterations of 4 m^2 n + 2 m^3 (m the smaller side) per 2-D
  weight (Keras's Muon steps other shapes with AdamW); Adam: no matrix products.

Memory: optimizer state / parameter bytes, from the built optimizer's variables.

    python benchmarks/matrix_step.py                          # TensorFlow + XLA, mlp + cnn
    KERAS_BACKEND=jax python benchmarks/matrix_step.py
    python benchmarks/matrix_step.py --sets dense --size 1024 --count 10   # large

    python benchmarks/matrix_step.py --sets "" --linalg --size 256     # QR, eigh vs matmul
    python benchmarks/matrix_step.py --sets dense --only soap,adam --parts step

The committed tables (benchmarks/results/matrix_step_*.md) use `--sets dense --size 256
--count 10`: on 2 loaded cores one XLA eigh of 256^2 took about a second, and a SOAP
refresh of the cnn set (a 1024^2 factor) 106 s per sample.

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
from _common import interleaved, machine_description, markdown_table, median, write_result  # noqa: E402

import keras_lossopt  # noqa: E402, F401
from keras_lossopt import registry  # noqa: E402
from keras_lossopt.optimizers import kron as kron_module  # noqa: E402
from keras_lossopt.optimizers import shampoo as shampoo_module  # noqa: E402

CNN = [(3, 3, 3, 32), (3, 3, 32, 64), (3, 3, 64, 64), (1024, 128), (128, 10)]
MLP = [(784, 256), (256,), (256, 128), (128,), (128, 10), (10,)]


def weight_sets(size, count):
    return {"dense": [(size, size)] * count, "cnn": CNN, "mlp": MLP}


# --- FLOPs of the matrix products ----------------------------------------------------


def _soap_flops(shapes, refresh):
    total = 0
    for shape in shapes:
        if len(shape) == 1:
            continue  # vectors: Adam (precondition_1d=False)
        n = int(np.prod(shape))
        dims = [d for d in shape if d <= 10000]
        total += 3 * sum(2 * n * d for d in dims)
        if refresh:
            total += sum((2 + 4 / 3 + 2) * d**3 for d in dims) + 4 * n * sum(dims)
    return total


def _shampoo_flops(shapes, refresh, max_dim=1024):
    total = 0
    for shape in shapes:
        _, blocks = shampoo_module.plan(shape, max_dim, True)
        for block in blocks:
            dims = [size for _, size in block]
            n = int(np.prod(dims))
            total += 4 * n * sum(dims)
            if refresh:
                total += sum(2 * d**3 for d in dims)
    return total


def _kron_flops(shapes, refresh):
    total = 0
    for shape in shapes:
        merged = kron_module.merged_shape(shape, True)
        diag = kron_module.diagonal_axes(merged, 8192, 2, None)
        n = int(np.prod(merged))
        for d, is_diag in zip(merged, diag):
            if is_diag:
                continue
            total += 2 * d**3 + 2 * n * d
            if refresh:
                total += 2 * n * d + n * d + 4 * n * d + 2 * d**3
    return total


def _muon_flops(shapes, refresh=False):
    total = 0
    for shape in shapes:
        if len(shape) != 2:
            continue
        m, n = sorted(shape)
        total += 5 * (4 * m * m * n + 2 * m**3)
    return total


# The registered optimizers this benchmark times (benchmarks/optimizer_step.py, which
# times element-wise optimizers on vectors, skips them); each needs settings below.
MATRIX_OPTIMIZERS = ("soap", "shampoo", "kron")


# name -> (constructor, {part: step counter before the call}, flops)
def optimizers():
    found = {name: registry.lookup("optimizer", name).cls for name in MATRIX_OPTIMIZERS}
    table = {
        "soap": (lambda: found["soap"](precondition_frequency=10),
                 {"step": 11, "refresh": 10}, _soap_flops),
        # Shampoo's t = iterations + 1: 151 is between roots, 200 computes them.
        "shampoo": (lambda: found["shampoo"](precondition_frequency=100),
                    {"step": 150, "refresh": 199}, _shampoo_flops),
        "kron": ({"step": lambda: found["kron"](preconditioner_update_probability=0.03),
                  "refresh": lambda: found["kron"](preconditioner_update_probability=1.0)},
                 {"step": 1000, "refresh": 1000}, _kron_flops),
        "adam (Keras)": (keras.optimizers.Adam, {"step": None}, lambda s, r: 0),
        "muon (Keras)": (keras.optimizers.Muon, {"step": None}, _muon_flops),
    }
    return table


def state_ratio(optimizer, variables):
    params = sum(int(np.prod(v.shape)) for v in variables)
    own = {id(v) for v in variables}
    state = sum(int(np.prod(v.shape)) * np.dtype(keras.backend.standardize_dtype(v.dtype)).itemsize
                for v in optimizer.variables if id(v) not in own)
    return state / (4 * params)


# --- compiled steps ----------------------------------------------------------------------


def _presets(optimizer, counter):
    out = {}
    if counter is not None:
        out[id(optimizer.iterations)] = counter
    if hasattr(optimizer, "_update_counter"):
        out[id(optimizer._update_counter)] = 0  # Kron: the next step decides afresh
    return out


def tf_step(make, shapes, counter):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    vs = [keras.Variable(rng.normal(size=s).astype("float32") * 0.05) for s in shapes]
    gs = [tf.constant(rng.normal(size=s).astype("float32") * 1e-2) for s in shapes]
    optimizer = make()
    optimizer.build(vs)
    optimizer.apply(gs, vs)  # the first call (SOAP: the initial eigenbasis), not timed
    presets = [(v, value) for v in optimizer.variables
               for key, value in _presets(optimizer, counter).items() if id(v) == key]

    @tf.function(jit_compile=True)
    def step():
        optimizer.apply(gs, vs)

    def run():
        for v, value in presets:
            v.assign(value)
        step()
        _ = vs[0].value[0, 0].numpy()

    return run, state_ratio(optimizer, vs)


def jax_step(make, shapes, counter):
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(0)
    vs = [keras.Variable(rng.normal(size=s).astype("float32") * 0.05) for s in shapes]
    gs = [jnp.asarray(rng.normal(size=s).astype("float32") * 1e-2) for s in shapes]
    optimizer = make()
    optimizer.build(vs)
    optimizer.apply(gs, vs)
    ratio = state_ratio(optimizer, vs)
    keyed = _presets(optimizer, counter)
    positions = [(i, value) for i, v in enumerate(optimizer.variables)
                 for key, value in keyed.items() if id(v) == key]

    def apply(opt_vars, grads, train_vars):
        new_train, new_opt = optimizer.stateless_apply(opt_vars, grads, train_vars)
        return new_opt, new_train

    step = jax.jit(apply, donate_argnums=(0, 2))
    state = {"opt": [v.value for v in optimizer.variables], "train": [v.value for v in vs]}

    def run():
        for i, value in positions:
            state["opt"][i] = jnp.asarray(value, state["opt"][i].dtype)
        state["opt"], state["train"] = step(state["opt"], gs, state["train"])
        jax.block_until_ready(state["train"])

    return run, ratio


def tf_matmul(size, count):
    import tensorflow as tf

    rng = np.random.default_rng(1)
    a = [tf.constant(rng.normal(size=(size, size)).astype("float32")) for _ in range(count)]
    out = [tf.Variable(tf.zeros((size, size))) for _ in range(count)]

    @tf.function(jit_compile=True)
    def mm():
        for x, o in zip(a, out):
            o.assign(tf.matmul(x, x))

    def run():
        mm()
        _ = out[0][0, 0].numpy()

    return run


def jax_matmul(size, count):
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(1)
    a = [jnp.asarray(rng.normal(size=(size, size)).astype("float32")) for _ in range(count)]
    mm = jax.jit(lambda xs: [x @ x for x in xs])

    def run():
        jax.block_until_ready(mm(a))

    return run


def tf_linalg(size):
    """One compiled matmul, QR and eigh of a `size`^2 matrix; eigh also outside XLA."""
    import tensorflow as tf

    rng = np.random.default_rng(2)
    g = rng.normal(size=(size, size)).astype("float32")
    a, sym = tf.constant(g), tf.constant(g @ g.T)
    # Operands are arguments, not captured constants, which XLA could fold at compile time.
    fns = {"matmul": (lambda x: tf.matmul(x, x), a), "qr": (lambda x: tf.linalg.qr(x)[0], a),
           "eigh": (lambda x: tf.linalg.eigh(x)[1], sym)}
    out = {name: (tf.function(fn, jit_compile=True), x) for name, (fn, x) in fns.items()}
    out["eigh, TF kernel (no XLA)"] = (tf.function(fns["eigh"][0], jit_compile=False), sym)
    return {name: (lambda fn=fn, x=x: fn(x)[0, 0].numpy()) for name, (fn, x) in out.items()}


def jax_linalg(size):
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(2)
    g = rng.normal(size=(size, size)).astype("float32")
    a, sym = jnp.asarray(g), jnp.asarray(g @ g.T)
    fns = {"matmul": (jax.jit(lambda x: x @ x), a), "qr": (jax.jit(lambda x: jnp.linalg.qr(x)[0]), a),
           "eigh": (jax.jit(lambda x: jnp.linalg.eigh(x)[1]), sym)}
    return {name: (lambda fn=fn, x=x: jax.block_until_ready(fn(x))) for name, (fn, x) in fns.items()}


BACKENDS = {"tensorflow": (tf_step, tf_matmul, tf_linalg),
            "jax": (jax_step, jax_matmul, jax_linalg)}


def _fmt(value, digits):
    return "—" if value is None else f"{value:.{digits}f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--count", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sets", default="mlp,cnn")
    parser.add_argument("--only", default="", help="e.g. soap,adam,muon (default: all)")
    parser.add_argument("--parts", default="step,refresh")
    parser.add_argument("--linalg", action="store_true",
                        help="also time one compiled QR and eigh of a --size matrix")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = parser.parse_args(argv)
    backend = keras.backend.backend()
    if backend not in BACKENDS:
        sys.exit(f"XLA backends only (tensorflow, jax). Received backend={backend}")
    step_fn, matmul_fn, linalg_fn = BACKENDS[backend]
    description = machine_description()
    matmul = matmul_fn(args.size, args.count)
    matmul_flops = args.count * 2 * args.size**3
    sets = weight_sets(args.size, args.count)
    rows, rates = [], []
    for set_name in [s for s in args.sets.split(",") if s]:
        shapes = sets[set_name]
        params = sum(int(np.prod(s)) for s in shapes)
        times = {}
        for name, (make, parts, flops) in optimizers().items():
            if args.only and name.split()[0] not in args.only.split(","):
                continue
            for part, counter in parts.items():
                if part not in args.parts.split(","):
                    continue
                maker = make[part] if isinstance(make, dict) else make
                run, ratio = step_fn(maker, shapes, counter)
                step_s, mm_s = interleaved([run, matmul], args.repeats, warmup=1)
                rate = matmul_flops / median(mm_s)
                rates.append(rate)
                t = median(step_s)
                times[(name, part)] = t
                f = flops(shapes, part == "refresh")
                floor = f / rate if f else None
                rows.append(dict(set=set_name, params=params, name=name, part=part, time=t,
                                 flops=f, floor=floor, ratio=(t / floor) if floor else None,
                                 memory=ratio))
                print(f"{set_name:6} {name:14} {part:8} {t * 1e3:9.1f} ms  "
                      f"floor {'—' if floor is None else f'{floor * 1e3:.1f} ms'}  "
                      f"state/params {ratio:.2f}", flush=True)
        for r in rows:
            if r["set"] == set_name:
                for key, peer in (("vs_adam", "adam (Keras)"), ("vs_muon", "muon (Keras)")):
                    base = times.get((peer, "step"))
                    r[key] = r["time"] / base if base else None
    text = [
        f"# Matrix-preconditioned optimizer steps, {backend}\n",
        description + "\n",
        f"Run: `{'KERAS_BACKEND=jax ' if backend == 'jax' else ''}python "
        f"benchmarks/matrix_step.py --sets {args.sets} --size {args.size} --count "
        f"{args.count} --repeats {args.repeats}"
        + (f" --only {args.only}" if args.only else "")
        + (f" --parts {args.parts}" if args.parts != "step,refresh" else "")
        + (" --linalg" if args.linalg else "") + "`. XLA-compiled steps, median of "
        f"{args.repeats} after one warm-up; matmul rate ({args.count} compiled "
        f"{args.size}^2 matmuls, interleaved): median "
        f"{(median(rates) / 1e9) if rates else float('nan'):.1f} GFLOP/s. "
        f"Sets: *mlp* = {MLP}; *cnn* = kernels {CNN}; *dense* = {args.count} x "
        f"{args.size}x{args.size}.\n",
        "Columns: *floor* = FLOPs of the part's matrix products / the matmul rate of the "
        "same rounds (see the script's docstring for the counts; eigh and QR beyond their "
        "stated FLOPs are not matrix products, so a refresh's ratio includes them); "
        "*vs Adam*, *vs Muon* = time / Keras's Adam or Muon step on the same weights; "
        "*state* = optimizer state bytes / parameter bytes.\n",
    ]
    header = ["weights", "optimizer", "part", "time (ms)", "GFLOP", "floor (ms)",
              "ratio to floor", "vs Adam", "vs Muon", "state"]
    table = [[r["set"], r["name"], r["part"], f"{r['time'] * 1e3:.1f}",
              f"{r['flops'] / 1e9:.2f}", "—" if r["floor"] is None else f"{r['floor'] * 1e3:.1f}",
              "—" if r["ratio"] is None else f"{r['ratio']:.2f}", _fmt(r["vs_adam"], 1),
              _fmt(r["vs_muon"], 2), f"{r['memory']:.2f}"] for r in rows]
    out = "\n".join(text) + "\n" + markdown_table(
        header, table, ["---"] * 3 + ["---:"] * 7)
    if args.linalg:
        # What a refresh is made of: QR (SOAP) and eigh (Shampoo; SOAP's first call and
        # its canonical null-space basis), each against one matmul of the same size.
        ops_ = linalg_fn(args.size)
        samples = dict(zip(ops_, interleaved(list(ops_.values()), args.repeats, warmup=1)))
        base = median(samples["matmul"])
        out += (f"\nOne {args.size}x{args.size} float32 matrix, compiled, median of "
                f"{args.repeats} interleaved:\n\n" + markdown_table(
                    ["operation", "time (ms)", "vs one matmul"],
                    [[name, f"{median(t) * 1e3:.1f}", f"{median(t) / base:.0f}"]
                     for name, t in samples.items()], ["---", "---:", "---:"]))
    print(out)
    write_result(args.out, f"matrix_step_{backend}.md", out)


if __name__ == "__main__":
    main()
