"""PyTorch backend: our optimizer steps against the peers a torch user would pick (issue 15).

For each optimizer with a torch peer, one step over N float32 parameters in 10
variables, 1 torch thread, eager, timed interleaved in one round-robin with:

- ours with the torch multi-tensor fast path (keras_lossopt/optimizers/_torch_fast.py),
- ours with it switched off (the `keras.ops` per-variable step: "before"),
- the peers: torch.optim (default, foreach=True, fused=True where it exists) and
  pytorch_optimizer (default and foreach=True), on their own tensors with
  preset `.grad`.

The table gives medians and ratios ours / peer of samples from the same rounds;
the machine is shared, so read ratios, not times. Needs the `benchmark` extra
(pytorch-optimizer); a peer that is not installed is left out of its row.

    KERAS_BACKEND=torch python benchmarks/torch_peers.py
    KERAS_BACKEND=torch python benchmarks/torch_peers.py --params 1000000 --repeats 5

Per-step temporaries: one extra step of each function runs under a
`TorchDispatchMode` that counts every tensor an aten op returns in new memory
(not written in place, not into `out=`, not a view of an input) with at least
as many elements as one variable: the full-size temporaries of a step, given
per variable ("temps/var"). Scalars and reductions are not counted; a scratch
tensor reused within a variable counts once.
"""

import argparse
import gc
import os
import sys

os.environ["KERAS_BACKEND"] = "torch"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import interleaved, machine_description, markdown_table, median, write_result  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

import keras_lossopt  # noqa: E402
from keras_lossopt.optimizers import _torch_fast  # noqa: E402

NUM_VARIABLES = 10


class _CountFullSize(TorchDispatchMode):
    """Counts op outputs in fresh memory with at least `min_numel` elements."""

    def __init__(self, min_numel):
        super().__init__()
        self.min_numel = min_numel
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        inputs = set()
        for x in torch.utils._pytree.tree_leaves((args, kwargs)):
            if isinstance(x, torch.Tensor):
                inputs.add(x.untyped_storage().data_ptr())
        for x in torch.utils._pytree.tree_leaves(out):
            if (isinstance(x, torch.Tensor) and x.numel() >= self.min_numel
                    and x.untyped_storage().data_ptr() not in inputs):
                self.count += 1
        return out


def count_temporaries(fn, min_numel):
    """Full-size tensors one call of `fn` creates (see the module docstring)."""
    counter = _CountFullSize(min_numel)
    with counter:
        fn()
    return counter.count


def _torch_optim(cls_name, **kwargs):
    def variants():
        cls = getattr(torch.optim, cls_name)
        out = [(f"torch.optim.{cls_name}", dict(kwargs, foreach=False)),
               (f"torch.optim.{cls_name}(foreach)", dict(kwargs, foreach=True))]
        if cls_name in ("Adam", "SGD"):
            out.append((f"torch.optim.{cls_name}(fused)", dict(kwargs, fused=True)))
        return [(label, lambda params, kw=kw: cls(params, **kw)) for label, kw in out]

    return variants


def _pytorch_optimizer(cls_name, **kwargs):
    def variants():
        try:
            import pytorch_optimizer
        except ImportError:
            return []
        cls = getattr(pytorch_optimizer, cls_name)
        return [
            (f"pytorch_optimizer.{cls_name}", lambda p: cls(p, foreach=False, **kwargs)),
            (f"pytorch_optimizer.{cls_name}(foreach)", lambda p: cls(p, foreach=True, **kwargs)),
        ]

    return variants


def _peer_lookahead(inner, **kwargs):
    def variants():
        try:
            import pytorch_optimizer
        except ImportError:
            return []
        return [
            (f"pytorch_optimizer.Lookahead(torch.optim.Adam{tag})",
             lambda p, fe=fe: pytorch_optimizer.Lookahead(
                 torch.optim.Adam(p, foreach=fe, **inner), **kwargs))
            for tag, fe in (("", False), ("(foreach)", True))
        ]

    return variants


# Lookahead rows sync at every step (k = 1), the bookkeeping's worst case: with
# k > 1 a median sample is a step without a sync on both sides.
OURS = {
    "lookahead(adam)": lambda: keras_lossopt.optimizers.Lookahead("adam", sync_period=1),
    "lookahead(lazy_adam)": lambda: keras_lossopt.optimizers.Lookahead(
        keras_lossopt.optimizers.LazyAdam(), sync_period=1),
    "ranger": lambda: keras_lossopt.optimizers.Ranger(sync_period=1),
}

# Rows whose variables are matrices (rows of 1000), not vectors: pytorch_optimizer's
# LARS applies its trust ratio only to variables with ndim > 1 (ours: to every one
# not excluded), so with vectors it would time plain momentum SGD.
MATRIX_ROWS = {"lars"}

# ours (registered name, or a key of OURS) -> peers of the same update rule
ROWS = {
    "lazy_adam": [_torch_optim("Adam", lr=1e-3, eps=1e-7)],
    "gradient_descent": [_torch_optim("SGD", lr=1e-2)],
    "yogi": [_pytorch_optimizer("Yogi", lr=1e-2, eps=1e-3)],
    "adabelief": [_pytorch_optimizer("AdaBelief", lr=1e-3, rectify=False, eps=1e-16)],
    "radam": [_torch_optim("RAdam", lr=1e-3), _pytorch_optimizer("RAdam", lr=1e-3)],
    "prodigy": [_pytorch_optimizer("Prodigy", lr=1.0)],
    "schedule_free_sgd": [_pytorch_optimizer("ScheduleFreeSGD", lr=1.0)],
    "adan": [_pytorch_optimizer("Adan", lr=1e-3)],
    "lars": [_pytorch_optimizer("LARS", lr=1e-2, momentum=0.9, trust_coefficient=1e-3)],
    "novograd": [_pytorch_optimizer("NovoGrad", lr=1e-3, betas=(0.9, 0.999), eps=1e-7)],
    "ademamix": [_pytorch_optimizer("AdEMAMix", lr=1e-3)],
    "adabound": [_pytorch_optimizer("AdaBound", lr=1e-3, final_lr=0.1, eps=1e-8)],
    "lookahead(adam)": [_peer_lookahead(dict(lr=1e-3, eps=1e-7), k=1, alpha=0.5)],
    "lookahead(lazy_adam)": [_peer_lookahead(dict(lr=1e-3, eps=1e-7), k=1, alpha=0.5)],
    "ranger": [_pytorch_optimizer("Ranger", lr=1e-3, k=1, alpha=0.5, eps=1e-7, use_gc=False)],
}


def make_data(num_params):
    size = num_params // NUM_VARIABLES
    rng = np.random.default_rng(0)
    values = [rng.normal(size=(size,)).astype("float32") for _ in range(NUM_VARIABLES)]
    grads = [rng.normal(size=(size,)).astype("float32") * 1e-3 for _ in range(NUM_VARIABLES)]
    return values, grads


def shaped(name, arrays):
    return [a.reshape(-1, 1000) for a in arrays] if name in MATRIX_ROWS else arrays


def ours(name, values, grads, fast):
    optimizer = OURS[name]() if name in OURS else keras_lossopt.optimizers.get(name)
    vs = [keras.Variable(v) for v in shaped(name, values)]
    gs = [torch.tensor(g) for g in shaped(name, grads)]
    optimizer.build(vs)

    def run():
        _torch_fast.set_enabled(fast)
        try:
            with torch.no_grad():
                optimizer.apply(gs, vs)
        finally:
            _torch_fast.set_enabled(True)

    return run


def peer(name, factory, values, grads):
    params = [torch.tensor(v, requires_grad=True) for v in shaped(name, values)]
    for p, g in zip(params, shaped(name, grads)):
        p.grad = torch.tensor(g)
    optimizer = factory(params)
    return optimizer.step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--only", default="", help="comma-separated names of ours")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = parser.parse_args(argv)
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    torch.set_num_threads(1)
    description = machine_description()
    values, grads = make_data(args.params)

    table_rows = []
    for name, peer_groups in ROWS.items():
        if only and name not in only:
            continue
        peers = [p for group in peer_groups for p in group()]
        fns = [ours(name, values, grads, True), ours(name, values, grads, False)]
        fns += [peer(name, factory, values, grads) for _, factory in peers]
        samples = interleaved(fns, args.repeats)
        size = args.params // NUM_VARIABLES
        temps = [count_temporaries(fn, size) / NUM_VARIABLES for fn in fns]
        fast, slow, *peer_samples = [median(s) for s in samples]
        for (label, _), peer_s, peer_t in zip(peers, peer_samples, temps[2:]):
            table_rows.append([
                name, label, f"{fast * 1e3:.1f}", f"{slow * 1e3:.1f}", f"{peer_s * 1e3:.1f}",
                f"{fast / peer_s:.2f}", f"{slow / peer_s:.2f}",
                f"{temps[0]:g} / {temps[1]:g} / {peer_t:g}",
            ])
            print("  ".join(table_rows[-1]), flush=True)
        del fns
        gc.collect()

    text = (
        "# Optimizer step, PyTorch backend: ours against torch peers\n\n"
        + description + "\n\n"
        + f"{args.params:,} float32 parameters in {NUM_VARIABLES} variables, eager, "
        f"torch.set_num_threads(1), median of {args.repeats} interleaved samples (one round "
        "holds ours fast, ours off and every peer of the row). *fast* = the torch multi-tensor "
        "path (optimizers/_torch_fast.py); *off* = `KERAS_LOSSOPT_TORCH_FAST=0` (the keras.ops "
        "per-variable step). Ratios < 1: ours is faster. *temps/var*: full-size "
        "temporaries created per variable in one step (a TorchDispatchMode count).\n\n"
        + markdown_table(
            ["ours", "peer", "ours fast (ms)", "ours off (ms)", "peer (ms)",
             "fast / peer", "off / peer", "temps/var: fast / off / peer"],
            table_rows,
            ["---", "---"] + ["---:"] * 6,
        )
    )
    print()
    print(text)
    write_result(args.out, "torch_peers.md", text)


if __name__ == "__main__":
    main()
