"""Optimizer step time against the memory-bandwidth floor.

For every registered element-wise optimizer (and Keras's own Adam, RMSprop and SGD
for comparison) this applies one step to N float32 parameters split into 10
variables, compiled with XLA (`tf.function(jit_compile=True)` on TensorFlow,
`jax.jit` of the stateless apply on JAX, with the state donated), and reports the
median of repeated steps after warm-up. With `--eager` it also times the step
without compilation (TensorFlow eager, JAX op-by-op, PyTorch), the cost a custom
training loop pays.

The floor: an XLA-compiled axpy (`v -= a * g`, reading v and g, writing v) over
the same N gives the machine's achievable bytes/second. An optimizer that must
read the variable, the gradient and its k full-size slots and write the variable
and the slots moves (2 * (1 + k) + 1) * 4 * N bytes per step; its floor is that
divided by the axpy speed. k is counted from the optimizer's own variables after
`build` (slot elements / N), so nothing here is hand-kept. The axpy samples are
taken interleaved with each optimizer's samples (one of each in turn), so load
from other processes hits both alike: the ratio is more robust than either time.

Why an optimizer is above its floor is shown by a second, load-independent
number: the memory traffic of the compiled program, read from the optimized HLO
(bytes of every full-size operand and result of every top-level fusion/kernel,
in units of N float32 values). XLA's CPU backend does not fuse sibling loops into
one multi-output kernel, so an update whose new variable needs the new slots
(Adam: m, v, then w from m and v) re-reads those slots from memory: Keras's Adam
moves 10 tensors for a floor of 7, which is its 1.43x.

Timing pitfalls handled here:
- tf.function dispatch and the host sync are measured on their own (a compiled
  scalar assign: "call overhead") and reported, not hidden; at 10M parameters
  they are ~2-5% of a step.
- No step is looped inside one compiled function: XLA would fuse k steps with
  the same gradient into one pass and report a time below the floor.
- The sync reads one element, not the whole variable (a 4 MB host copy).

    python benchmarks/optimizer_step.py                      # TensorFlow, 10M params
    KERAS_BACKEND=jax python benchmarks/optimizer_step.py
    python benchmarks/optimizer_step.py --params 1000000 --repeats 5 --only adam,radam
    python benchmarks/optimizer_step.py --eager               # also time eager steps
    KERAS_BACKEND=torch python benchmarks/optimizer_step.py   # eager only (no XLA)

Speed is never asserted in tests; results go to benchmarks/results/.
"""

import argparse
import gc
import os
import re
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
from matrix_step import MATRIX_OPTIMIZERS  # noqa: E402

import keras_lossopt  # noqa: E402, F401  (imported for its registrations)
from keras_lossopt import registry  # noqa: E402

NUM_VARIABLES = 10
KERAS_REFERENCE = ("sgd", "rmsprop", "adam")
# Optimizers whose step needs a whole-tensor reduction (a norm) before the
# element-wise update, or which wrap another optimizer: the element-wise floor
# does not apply to them; the table says why next to their numbers.
NOT_ELEMENTWISE_REASON = {
    "lookahead": "wrapper: inner optimizer plus a slow-weight sync every k steps",
    "ranger": "wrapper: RAdam plus a slow-weight sync every k steps",
    "swa": "wrapper: inner optimizer plus periodic averaging",
    "lars": "per-variable norms of w and g: a reduction pass before the update",
    "novograd": "per-variable gradient norm: a reduction pass before the update "
                "(XLA on CPU writes g**2 and reads it back: +2 tensors)",
    "conditional_gradient": "per-variable gradient norm: a reduction pass before the update",
    "prodigy": "global d estimate: reductions over all variables each step",
    "mars": "measured with optimize_1d=True, the MARS step (these 1-D variables take its "
            "AdamW branch by default): the corrected gradient's norm is a reduction pass, "
            "and the previous gradient a third slot",
    "cautious": "wrapper: Keras's AdamW plus the mask and its mean over each variable",
    "gradient_centralization": "wrapper: Keras's Adam; these 1-D variables are not centralised "
                               "(rank < 2), so this is the wrapper's own cost",
    "adaptive_gradient_clipping": "wrapper: Keras's Adam plus the norms of w and g "
                                  "(reduction passes) before it",
}
# Constructor arguments for the optimizers whose defaults would not run the step the
# table describes on these 1-D variables (the note says which).
CONSTRUCTOR_KWARGS = {"mars": {"optimize_1d": True}}


def make_variables(num_params):
    size = num_params // NUM_VARIABLES
    rng = np.random.default_rng(0)
    values = [rng.normal(size=(size,)).astype("float32") for _ in range(NUM_VARIABLES)]
    grads = [rng.normal(size=(size,)).astype("float32") * 1e-3 for _ in range(NUM_VARIABLES)]
    return values, grads


def slots_per_param(optimizer, variables):
    """Full-size optimizer state per parameter (Adam: 2), from the built optimizer."""
    total = sum(int(np.prod(v.shape)) for v in variables)
    own = {id(v) for v in variables}
    state = sum(
        int(np.prod(v.shape))
        for v in optimizer.variables
        if id(v) not in own and len(v.shape) > 0
    )
    return state / total


# --- Memory traffic of a compiled program, from its optimized HLO ----------------------

_DTYPE_BYTES = {"f32": 4, "f64": 8, "f16": 2, "bf16": 2, "s64": 8, "u64": 8, "s32": 4,
                "u32": 4, "s16": 2, "u16": 2, "s8": 1, "u8": 1, "pred": 1}
_SHAPE = re.compile(r"\b(f32|f64|f16|bf16|s64|u64|s32|u32|s16|u16|s8|u8|pred)\[([\d,]*)\]")
_INSTRUCTION = re.compile(
    r"^\s*(?:ROOT\s+)?%([\w.\-]+)\s*=\s*(\([^=]*?\)|\S+)\s+([\w\-]+)\((.*?)\)(?:,|$)"
)
_NO_TRAFFIC = {"parameter", "tuple", "get-tuple-element", "bitcast", "constant",
               "after-all", "partition-id", "replica-id", "opt-barrier"}


def _shape_bytes(shape_text, min_elements):
    total = 0
    for dtype, dims in _SHAPE.findall(shape_text):
        elements = int(np.prod([int(d) for d in dims.split(",") if d])) if dims else 1
        if elements >= min_elements:
            total += elements * _DTYPE_BYTES[dtype]
    return total


def _computations(hlo_text):
    """{name: body lines} of every computation in an HLO module's text."""
    bodies, name = {}, None
    for line in hlo_text.splitlines():
        header = re.match(r"^(?:ENTRY\s+)?%([\w.\-]+)\s.*\{\s*$", line)
        if header:
            name = "ENTRY" if line.startswith("ENTRY") else header.group(1)
            bodies[name] = []
        elif line.startswith("}"):
            name = None
        elif name is not None:
            bodies[name].append(line)
    return bodies


def _branches(line):
    """Names of the branch computations of a `conditional` instruction."""
    found = re.findall(r"(?:true_computation|false_computation)=%([\w.\-]+)", line)
    listed = re.search(r"branch_computations=\{([^}]*)\}", line)
    if listed:
        found += re.findall(r"%([\w.\-]+)", listed.group(1))
    return found


def hlo_traffic_bytes(hlo_text, min_elements):
    """Bytes read + written per step by the top-level kernels of the ENTRY computation.

    Counts every operand and result with at least `min_elements` elements (the
    full-size tensors; scalars and per-step constants are ignored). A
    `conditional` counts the traffic inside its cheapest branch, the one the
    common steps take (e.g. Lookahead's steps without a sync): XLA may copy
    whole variables there, in the branch that changes nothing.
    """
    bodies = _computations(hlo_text)

    def traffic(lines):
        shapes, total = {}, 0
        for line in lines:
            # Tuple shapes carry /*index=5*/ comments, whose '=' the pattern refuses.
            match = _INSTRUCTION.match(re.sub(r"/\*.*?\*/", "", line))
            if not match:
                continue
            name, shape, opcode, operands = match.groups()
            shapes[name] = shape
            if opcode in _NO_TRAFFIC:
                continue
            if opcode == "conditional":
                total += min(traffic(bodies[b]) for b in _branches(line))
                continue
            total += _shape_bytes(shape, min_elements)
            for operand in set(re.findall(r"%([\w.\-]+)", operands)):
                total += _shape_bytes(shapes.get(operand, ""), min_elements)
        return total

    return traffic(bodies["ENTRY"])


# --- TensorFlow -----------------------------------------------------------------------


def tf_axpy(values, grads):
    import tensorflow as tf

    vs = [tf.Variable(v) for v in values]
    gs = [tf.constant(g) for g in grads]

    @tf.function(jit_compile=True)
    def axpy():
        for v, g in zip(vs, gs):
            v.assign_sub(0.01 * g)

    @tf.function(jit_compile=True)
    def tiny():
        vs[0][0:1].assign(gs[0][0:1])

    def run():
        axpy()
        _ = vs[0][0].numpy()

    def run_tiny():
        tiny()
        _ = vs[0][0].numpy()

    return run, run_tiny


def tf_step(optimizer, values, grads):
    """(compiled step, eager step, slots, HLO bytes) for one optimizer on TensorFlow."""
    import tensorflow as tf

    vs = [keras.Variable(v) for v in values]
    gs = [tf.constant(g) for g in grads]
    optimizer.build(vs)

    def apply():
        optimizer.apply(gs, vs)

    compiled = tf.function(apply, jit_compile=True)
    hlo = compiled.experimental_get_compiler_ir()(stage="optimized_hlo")

    def run_compiled():
        compiled()
        _ = vs[0].value[0].numpy()

    def run_eager():
        apply()
        _ = vs[0].value[0].numpy()

    min_elements = int(np.prod(vs[0].shape)) // 2
    return run_compiled, run_eager, slots_per_param(optimizer, vs), hlo_traffic_bytes(
        hlo, min_elements
    )


# --- JAX ------------------------------------------------------------------------------


def jax_axpy(values, grads):
    import jax
    import jax.numpy as jnp

    gs = [jnp.asarray(g) for g in grads]
    axpy = jax.jit(lambda vs, gs: [v - 0.01 * g for v, g in zip(vs, gs)], donate_argnums=0)
    tiny = jax.jit(lambda x: x + 1.0, donate_argnums=0)
    state = {"vs": [jnp.asarray(v) for v in values], "x": jnp.zeros(())}

    def run():
        state["vs"] = axpy(state["vs"], gs)
        jax.block_until_ready(state["vs"])

    def run_tiny():
        state["x"] = tiny(state["x"])
        jax.block_until_ready(state["x"])

    return run, run_tiny


def jax_step(optimizer, values, grads):
    import jax
    import jax.numpy as jnp

    vs = [keras.Variable(v) for v in values]
    gs = [jnp.asarray(g) for g in grads]
    optimizer.build(vs)
    slots = slots_per_param(optimizer, vs)

    def apply(opt_vars, grads, train_vars):
        # Outputs in the order of the donated inputs, as Keras's JAX trainer keeps its
        # state: JAX pairs donated buffers with outputs by position and shape, and
        # `stateless_apply`'s own (trainable, optimizer) order would pair the new
        # variable with the first slot, forcing copies (18 instead of 10 tensors
        # moved for Adam).
        new_train, new_opt = optimizer.stateless_apply(opt_vars, grads, train_vars)
        return new_opt, new_train

    step = jax.jit(apply, donate_argnums=(0, 2))
    state = {"opt": [v.value for v in optimizer.variables], "train": [v.value for v in vs]}
    hlo = step.lower(state["opt"], gs, state["train"]).compile().as_text()

    def run_compiled():
        state["opt"], state["train"] = step(state["opt"], gs, state["train"])
        jax.block_until_ready(state["train"])

    def run_eager():
        # The compiled steps donated the variables' buffers: put the state back first.
        if state["opt"] is not None:
            for v, value in zip(optimizer.variables, state["opt"]):
                v.assign(value)
            for v, value in zip(vs, state["train"]):
                v.assign(value)
            state["opt"] = state["train"] = None
        optimizer.apply(gs, vs)
        jax.block_until_ready(vs[0].value)

    min_elements = int(np.prod(vs[0].shape)) // 2
    return run_compiled, run_eager, slots, hlo_traffic_bytes(hlo, min_elements)


# --- PyTorch (eager only) ---------------------------------------------------------------


def torch_axpy(values, grads):
    import torch

    vs = [torch.tensor(v) for v in values]
    gs = [torch.tensor(g) for g in grads]

    def run():
        with torch.no_grad():
            for v, g in zip(vs, gs):
                v.sub_(g, alpha=0.01)

    return run, lambda: None


def torch_step(optimizer, values, grads):
    import torch

    vs = [keras.Variable(v) for v in values]
    gs = [torch.tensor(g) for g in grads]
    optimizer.build(vs)

    def run_eager():
        with torch.no_grad():
            optimizer.apply(gs, vs)

    return None, run_eager, slots_per_param(optimizer, vs), None


# --- Driver ---------------------------------------------------------------------------

BACKENDS = {
    "tensorflow": (tf_axpy, tf_step),
    "jax": (jax_axpy, jax_step),
    "torch": (torch_axpy, torch_step),
}


def candidates(only):
    names = []
    for entry in registry.entries("optimizer"):
        if entry.builtin and entry.name not in KERAS_REFERENCE:
            continue
        if only and entry.name not in only:
            continue
        if entry.name in MATRIX_OPTIMIZERS:
            continue  # matrix-preconditioned: benchmarks/matrix_step.py times them
        names.append(entry)
    # Keras's reference optimizers first, then ours.
    return sorted(names, key=lambda e: (not e.builtin, e.name))


def fmt_ms(seconds):
    return "—" if seconds is None else f"{seconds * 1e3:.2f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=15, help="compiled samples per optimizer")
    parser.add_argument("--eager-repeats", type=int, default=5)
    parser.add_argument("--only", default="", help="comma-separated registered names")
    parser.add_argument("--eager", action="store_true", help="also time eager steps")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = parser.parse_args(argv)
    only = {n.strip() for n in args.only.split(",") if n.strip()}

    backend = keras.backend.backend()
    if backend not in BACKENDS:
        sys.exit(f"Unsupported backend. Received backend={backend}")
    compiled_backend = backend != "torch"
    eager = args.eager or not compiled_backend
    description = machine_description()
    values, grads = make_variables(args.params)
    n = sum(v.size for v in values)
    axpy_fn, step_fn = BACKENDS[backend]
    axpy, tiny = axpy_fn(values, grads)
    if compiled_backend:
        axpy_samples, tiny_samples = interleaved([axpy, tiny], args.repeats)
        overhead = median(tiny_samples)
    else:
        (axpy_samples,) = interleaved([axpy], args.repeats)
        overhead = None

    rows = []
    for entry in candidates(only):
        optimizer = entry.cls(**CONSTRUCTOR_KWARGS.get(entry.name, {}))
        run_compiled, run_eager, slots, hlo_bytes = step_fn(optimizer, values, grads)
        tensors = 2 * (1 + slots) + 1
        step_med = step_min = ratio_med = ratio_min = floor = vs_traffic = None
        if run_compiled is not None:
            step_s, axpy_s = interleaved([run_compiled, axpy], args.repeats)
            step_med, step_min = median(step_s), min(step_s)
            # Floor from the axpy samples taken in the same rounds.
            floor = tensors / 3 * median(axpy_s)
            ratio_med = step_med / floor
            ratio_min = step_min / (tensors / 3 * min(axpy_s))
            if hlo_bytes is not None:
                # How close the compiled program runs to bandwidth on what it moves.
                vs_traffic = step_med / (hlo_bytes / (4 * n) / 3 * median(axpy_s))
        eager_med = None
        if eager:
            (eager_s,) = interleaved([run_eager], args.eager_repeats, warmup=1)
            eager_med = median(eager_s)
        traffic = None if hlo_bytes is None else hlo_bytes / (4 * n)
        rows.append(dict(
            name=entry.name, origin="Keras" if entry.builtin else "ours", step=step_med,
            step_min=step_min, eager=eager_med, slots=slots, tensors=tensors, floor=floor,
            ratio=ratio_med, ratio_min=ratio_min, traffic=traffic, vs_traffic=vs_traffic,
            note=NOT_ELEMENTWISE_REASON.get(entry.name, ""),
        ))
        print(f"{entry.name:<24} step {fmt_ms(step_med)} ms (min {fmt_ms(step_min)})  "
              f"floor {fmt_ms(floor)} ms  ratio {ratio_med or float('nan'):5.2f} "
              f"(min-based {ratio_min or float('nan'):5.2f})  HLO traffic "
              f"{traffic or float('nan'):.1f}/{tensors:.0f}  eager {fmt_ms(eager_med)} ms",
              flush=True)
        del optimizer, run_compiled, run_eager
        gc.collect()

    axpy_med = median(axpy_samples)
    lines = [
        f"# Optimizer step time, {backend}\n",
        description + "\n",
        f"{n:,} float32 parameters in {NUM_VARIABLES} variables. "
        + (
            f"XLA-compiled step, median of {args.repeats} after warm-up. "
            f"axpy (v -= a*g, 3 tensors): {axpy_med * 1e3:.2f} ms -> "
            f"{3 * 4 * n / axpy_med / 1e9:.2f} GB/s; compiled-call overhead (dispatch + sync, "
            f"measured on a scalar assign): {overhead * 1e3:.2f} ms.\n"
            if compiled_backend
            else f"PyTorch has no XLA here: eager steps only, median of {args.eager_repeats}; "
            f"axpy (in-place v -= a*g): {axpy_med * 1e3:.2f} ms.\n"
        ),
        "Columns: *tensors* = float32 N-tensors an optimal step reads + writes "
        "(2(1+slots)+1); *floor* = tensors/3 x the axpy time of the same rounds; "
        "*ratio* = step/floor (median; *min* uses the fastest samples, the least "
        "disturbed by other load); *HLO traffic* = N-tensors the compiled program "
        "actually moves (from the optimized HLO, independent of load); *step / traffic* = "
        "step / (HLO traffic/3 x axpy time): near 1 when the compiled kernels run at the "
        "axpy's bandwidth, so the gap to the floor is the extra traffic, not slow code.\n",
    ]
    header = ["optimizer", "from", "XLA step (ms)", "min (ms)", "tensors", "floor (ms)",
              "ratio", "ratio (min)", "HLO traffic", "step / traffic", "eager step (ms)",
              "note"]
    table_rows = []
    for r in rows:
        table_rows.append([
            r["name"], r["origin"], fmt_ms(r["step"]), fmt_ms(r["step_min"]),
            f"{r['tensors']:.0f}", fmt_ms(r["floor"]),
            "—" if r["ratio"] is None else f"{r['ratio']:.2f}",
            "—" if r["ratio_min"] is None else f"{r['ratio_min']:.2f}",
            "—" if r["traffic"] is None else f"{r['traffic']:.1f}",
            "—" if r["vs_traffic"] is None else f"{r['vs_traffic']:.2f}",
            fmt_ms(r["eager"]), r["note"],
        ])
    align = ["---", "---"] + ["---:"] * 9 + ["---"]
    text = "\n".join(lines) + "\n" + markdown_table(header, table_rows, align)
    print()
    print(text)
    write_result(args.out, f"optimizer_step_{backend}.md", text)
    return rows


if __name__ == "__main__":
    main()
