"""Produces the golden values of tests/reference/golden_kronecker.json from the authors' code.

Not run in CI (it needs PyTorch and the authors' files, which are not part of this
repository). To regenerate:

    git clone https://github.com/nikhilvyas/SOAP                    # soap.py @ a1e5535
    git clone https://github.com/evanatyourservice/kron_torch       # kron.py @ 884427c
    git clone https://github.com/mlcommons/submissions_algorithms   # @ c5f0695
    # Distributed Shampoo as submitted to AlgoPerf v0.5 imports itself as
    # submissions.submissions_algorithms_v0_5.AlgoPerf_Team_21.external_tuning.
    # shampoo_submission.optimizers...: copy
    # previous_leaderboards/algoperf_v05/submissions/external_tuning/shampoo_submission
    # to ROOT/submissions/submissions_algorithms_v0_5/AlgoPerf_Team_21/external_tuning/
    # (adding empty __init__.py files on the way).
    TORCHDYNAMO_DISABLE=1 python tests/reference/authors_golden.py \\
        --soap SOAP/soap.py --kron kron_torch/kron_torch/kron.py --shampoo-root ROOT \\
        > tests/reference/golden_kronecker.json

Every run is float64 (`torch.set_default_dtype(torch.float64)`, float64 parameters
and preconditioner dtypes). Three interventions, none of which changes the
algorithm:
- SOAP and Kron cast their factors to float32 before eigh/QR/triangular solves
  (`.float()`); for these runs `Tensor.float` returns float64 tensors unchanged, as
  keras_lossopt keeps float64 state in float64.
- Kron's random probes (`torch.randn_like`) and its 1% balancing draw
  (`random.Random(42).random()`) are replaced by keras_lossopt's counter-based
  generator (re-implemented in numpy in tests/reference/kron.py), so that the
  Keras run can draw the same numbers.
- Kron's `@torch.compile` is disabled (TORCHDYNAMO_DISABLE=1); eager semantics,
  including the in-place probe perturbation of the momentum, are unchanged.
"""

import argparse
import contextlib
import importlib.util
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

from tests.optimizers import _matrix_problems as mp  # noqa: E402
from tests.reference import kron as kron_reference  # noqa: E402

STEPS = 60
# (optimizer, label, kwargs of the keras_lossopt class, problems); the authors' keyword
# names are derived in the runners below.
CASES = [
    ("soap", "freq5", dict(learning_rate=2**-7, precondition_frequency=5),
     ("ls_3x4", "ls_6x5", "rosenbrock")),
    ("soap", "1d_wd", dict(learning_rate=2**-7, precondition_frequency=3, precondition_1d=True,
                           beta_1=0.9, beta_2=0.99, shampoo_beta=0.8, weight_decay=0.1),
     ("ls_3x4", "quadratic")),
    ("soap", "merge", dict(learning_rate=2**-7, precondition_frequency=4, merge_dims=True,
                           max_precondition_dim=6, normalize_grads=True, correct_bias=False),
     ("tensor_2x2x3x4",)),
    ("shampoo", "adam", dict(learning_rate=2**-7, precondition_frequency=5, merge_dims=False),
     ("ls_3x4", "ls_6x5", "rosenbrock")),
    ("shampoo", "blocked_adagrad", dict(learning_rate=2**-7, precondition_frequency=3,
                                        start_preconditioning_step=7, max_preconditioner_dim=4,
                                        grafting="adagrad", nadam=True, beta_2=0.99,
                                        weight_decay=0.1),
     ("ls_6x5", "tensor_2x2x3x4")),
    ("kron", "default", dict(learning_rate=2**-7, seed=5),
     ("ls_3x4", "ls_6x5", "rosenbrock")),
    ("kron", "anneal", dict(learning_rate=2**-7, seed=11, update_probability_flat_start=5,
                            update_probability_decay=0.2, update_probability_min=0.1,
                            memory_save_mode="one_diag", beta_1=0.8, weight_decay=0.1,
                            preconditioner_learning_rate=0.3),
     ("ls_3x4", "quadratic")),
]


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _train(torch, make_optimizer, names):
    """One optimizer over one parameter per problem (as the Keras tests do)."""
    params = [torch.nn.Parameter(torch.tensor(mp.PROBLEMS[n].x0, dtype=torch.float64))
              for n in names]
    opt = make_optimizer(params)
    for _ in range(STEPS):
        for p, n in zip(params, names):
            p.grad = torch.tensor(mp.PROBLEMS[n].grad(p.detach().numpy().copy()),
                                  dtype=torch.float64)
        opt.step()
    return {n: p.detach().numpy().ravel().tolist() for p, n in zip(params, names)}


def run_soap(torch, module, kw, names):
    args = dict(lr=kw["learning_rate"], betas=(kw.get("beta_1", 0.95), kw.get("beta_2", 0.95)),
                shampoo_beta=kw.get("shampoo_beta", -1), eps=kw.get("epsilon", 1e-8),
                weight_decay=kw.get("weight_decay", 0.0),
                precondition_frequency=kw["precondition_frequency"],
                max_precond_dim=kw.get("max_precondition_dim", 10000),
                merge_dims=kw.get("merge_dims", False),
                precondition_1d=kw.get("precondition_1d", False),
                normalize_grads=kw.get("normalize_grads", False),
                correct_bias=kw.get("correct_bias", True))
    return _train(torch, lambda ps: module.SOAP(ps, **args), names)


def run_shampoo(torch, root, kw, names):
    sys.path.insert(0, root)
    pkg = ("submissions.submissions_algorithms_v0_5.AlgoPerf_Team_21.external_tuning."
           "shampoo_submission.optimizers.distributed_shampoo")
    ds = importlib.import_module(pkg + ".distributed_shampoo")
    types = importlib.import_module(pkg + ".shampoo_types")
    grafting = {"adam": types.AdamGraftingConfig, "adagrad": types.AdaGradGraftingConfig,
                "rmsprop": types.RMSpropGraftingConfig}[kw.get("grafting", "adam")]
    beta_2 = kw.get("beta_2", 0.999)
    gkw = dict(epsilon=kw.get("grafting_epsilon", 1e-8))
    if grafting is not types.AdaGradGraftingConfig:
        gkw["beta2"] = kw.get("grafting_beta_2") or beta_2
    args = dict(lr=kw["learning_rate"], betas=(kw.get("beta_1", 0.9), beta_2),
                epsilon=kw.get("epsilon", 1e-8), weight_decay=kw.get("weight_decay", 0.0),
                max_preconditioner_dim=kw.get("max_preconditioner_dim", 1024),
                precondition_frequency=kw["precondition_frequency"],
                start_preconditioning_step=kw.get("start_preconditioning_step") or -1,
                use_nadam=kw.get("nadam", False), use_bias_correction=True,
                use_decoupled_weight_decay=True, grafting_config=grafting(**gkw),
                use_merge_dims=kw.get("merge_dims", True), preconditioner_dtype=torch.float64)
    return _train(torch, lambda ps: ds.DistributedShampoo(ps, **args), names)


def run_kron(torch, module, kw, names):
    seed = kw["seed"]
    state = {"param": 0, "step": 0}

    def randn_like(g):
        # Kron.step visits parameters in order; probe stream 4 * index, counter = step.
        index = state["param"]
        return torch.tensor(kron_reference.normal(tuple(g.shape), seed, 4 * index,
                                                  state["step"]), dtype=g.dtype)

    class Draws:
        def random(self):
            return float(kron_reference.uniforms(seed, kron_reference.BALANCE_STREAM,
                                                 state["step"], 0)[0])

    module.torch.randn_like = randn_like
    schedule = module.precond_update_prob_schedule(
        min_prob=kw.get("update_probability_min", 0.03),
        decay=kw.get("update_probability_decay", 0.001),
        flat_start=kw.get("update_probability_flat_start", 500))
    args = dict(lr=kw["learning_rate"], b1=kw.get("beta_1", 0.9),
                weight_decay=kw.get("weight_decay", 0.0),
                preconditioner_update_probability=kw.get("preconditioner_update_probability")
                or schedule,
                memory_save_mode=kw.get("memory_save_mode"),
                precond_lr=kw.get("preconditioner_learning_rate", 0.1),
                precond_init_scale=kw.get("preconditioner_init_scale", 1.0),
                precond_dtype=torch.float64)

    def make(ps):
        opt = module.Kron(ps, **args)
        opt.rng = Draws()
        step = opt.step

        def stepping():
            # The probe stream is 4 * (parameter index): count _calc_A_and_conjB calls.
            originals = module._calc_A_and_conjB

            def calc(expr, G, Q):
                out = originals(expr, G, Q)
                state["param"] += 1
                return out

            module._calc_A_and_conjB = calc
            state["param"] = 0
            step()
            module._calc_A_and_conjB = originals
            state["step"] += 1

        opt.step = stepping
        return opt

    return _train(torch, make, names)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--soap", required=True)
    parser.add_argument("--kron", required=True)
    parser.add_argument("--shampoo-root", required=True)
    args = parser.parse_args()
    import torch
    import torch.distributed as dist

    torch.set_default_dtype(torch.float64)
    original_float = torch.Tensor.float
    torch.Tensor.float = lambda self, *a, **k: (
        self if self.dtype == torch.float64 else original_float(self, *a, **k))
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29533")
    if not dist.is_initialized():  # their preconditioner lists log dist.get_rank()
        dist.init_process_group("gloo", rank=0, world_size=1)
    soap = _load(args.soap, "authors_soap")
    kron = _load(args.kron, "authors_kron")
    out = {"steps": STEPS, "torch": torch.__version__, "cases": []}
    for optimizer, label, kw, names in CASES:
        with contextlib.redirect_stdout(sys.stderr):  # kron.py prints its state sizes
            if optimizer == "soap":
                final = run_soap(torch, soap, kw, names)
            elif optimizer == "shampoo":
                final = run_shampoo(torch, args.shampoo_root, kw, names)
            else:
                final = run_kron(torch, kron, kw, names)
        out["cases"].append({"optimizer": optimizer, "label": label, "kwargs": kw,
                             "final": final})
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
