"""JAX backend: our optimizer steps against optax, the peer a JAX user would pick (issue 15).

Each row times one XLA-compiled step of ours (`jax.jit` of Keras's
`stateless_apply` with the state donated, exactly as `optimizer_step.py` times
it) and one of optax's (`jax.jit` of `tx.update` + `optax.apply_updates`, params
and optimizer state donated) on the same 10 float32 variables, interleaved in
the same rounds (so load hits both alike), median of `--repeats`. Both sides use
their own defaults except a learning rate of 1e-3; timings depend on the update
rule's arithmetic and memory traffic, not on those values. optax is in the
`benchmark` extra, not a dependency of the package.

    KERAS_BACKEND=jax python benchmarks/jax_peers.py
    python benchmarks/jax_peers.py --params 1000000 --only radam,yogi

Speed is never asserted in tests; results go to benchmarks/results/jax_peers.md.
"""

import argparse
import os
import sys

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import interleaved, machine_description, markdown_table, median, write_result  # noqa: E402
from optimizer_step import jax_step, make_variables  # noqa: E402

import keras_lossopt  # noqa: E402

LR = 1e-3


def _peers():
    """{our registered name: (optax label, factory)}; optax imported here (optional)."""
    import optax

    contrib = optax.contrib
    return {
        "gradient_descent": ("optax.sgd", lambda: optax.sgd(LR)),
        "radam": ("optax.radam", lambda: optax.radam(LR)),
        "adabelief": ("optax.adabelief", lambda: optax.adabelief(LR)),
        "yogi": ("optax.yogi", lambda: optax.yogi(LR)),
        "novograd": ("optax.novograd", lambda: optax.novograd(LR)),
        "lars": ("optax.lars", lambda: optax.lars(LR)),
        "adan": ("optax.adan", lambda: optax.adan(LR)),
        "prodigy": ("optax.contrib.prodigy", lambda: contrib.prodigy(LR)),
        "schedule_free_sgd": ("optax.contrib.schedule_free_sgd",
                              lambda: contrib.schedule_free_sgd(LR)),
        "ademamix": ("optax.contrib.ademamix", lambda: contrib.ademamix(LR)),
        "cocob": ("optax.contrib.cocob", lambda: contrib.cocob(LR)),
    }


def optax_step(factory, values, grads):
    import jax
    import jax.numpy as jnp
    import optax

    tx = factory()
    gs = [jnp.asarray(g) for g in grads]
    params = [jnp.asarray(v) for v in values]
    # Copies of the state's leaves: some states hold the initial params themselves
    # (prodigy, schedule-free), and one buffer cannot be donated twice.
    state = {"params": params, "opt": jax.tree.map(jnp.copy, tx.init(params))}

    def apply(params, opt_state, grads):
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    step = jax.jit(apply, donate_argnums=(0, 1))

    def run():
        state["params"], state["opt"] = step(state["params"], state["opt"], gs)
        jax.block_until_ready(state["params"])

    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--only", default="", help="comma-separated names of ours")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = parser.parse_args(argv)
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    description = machine_description()
    values, grads = make_variables(args.params)
    rows = []
    for name, (label, factory) in _peers().items():
        if only and name not in only:
            continue
        optimizer = keras_lossopt.optimizers.get(name)
        optimizer.learning_rate = LR
        ours, _, _, _ = jax_step(optimizer, values, grads)
        peer = optax_step(factory, values, grads)
        ours_s, peer_s = (median(s) for s in interleaved([ours, peer], args.repeats))
        rows.append([name, label, f"{ours_s * 1e3:.2f}", f"{peer_s * 1e3:.2f}",
                     f"{ours_s / peer_s:.2f}"])
        print(" | ".join(rows[-1]), flush=True)
    table = markdown_table(["ours", "peer", "ours (ms)", "optax (ms)", "ours / optax"], rows,
                           ["---", "---", "---:", "---:", "---:"])
    text = (
        "# Optimizer step, JAX: ours against optax\n\n"
        f"{description}\n\n"
        f"{args.params:,} float32 parameters in 10 variables, XLA-compiled steps (`jax.jit`, "
        f"state donated) on both sides, median of {args.repeats} interleaved samples after "
        "two warm-up rounds. Ratios < 1: ours is faster.\n\n" + table + "\n"
    )
    write_result(args.out, "jax_peers.md", text)
    print(f"written {os.path.join(args.out, 'jax_peers.md')}")


if __name__ == "__main__":
    main()
