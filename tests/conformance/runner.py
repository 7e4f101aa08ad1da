"""Runs the checks of `keras_lossopt.testing` over the whole registry, and keeps their results.

The registry (`keras_lossopt.registry.entries(kind)`) is the only source of what is
checked: registering a class puts it under test. The per-entry checks are
`keras_lossopt.testing.LOSS_CHECKS` / `OPTIMIZER_CHECKS`; the batched ones,
which start processes (`fresh`: reload in a fresh process; `distribute`:
TensorFlow MirroredStrategy / MultiWorkerMirroredStrategy, JAX DataParallel /
ModelParallel),
live next to this file. Results are plain lists of `Result`: each process writes
its own to a JSON file (`dump_results`), and `report` merges them.
"""

import json
import os

from keras_lossopt import registry
from keras_lossopt.testing import LOSS_CHECKS, OPTIMIZER_CHECKS, Result
from keras_lossopt.testing import losses as loss_checks
from keras_lossopt.testing import optimizers as optimizer_checks
from keras_lossopt.testing._core import backend
from tests.conformance import distribute, fresh

RESULTS_DIR_ENV = "KERAS_LOSSOPT_CONFORMANCE_DIR"  # where pytest writes its results (CI)

PER_ENTRY = {"optimizer": (OPTIMIZER_CHECKS, optimizer_checks.run),
             "loss": (LOSS_CHECKS, loss_checks.run)}
# Batched checks: id -> (kind, fn(entries) -> Results, backends or None).
BATCHED = {
    "resume": ("optimizer", fresh.run_resume, None),
    "compile_fit_reload": ("loss", fresh.run_loss_reload, None),
    "mirrored": ("optimizer", distribute.run_mirrored, ("tensorflow",)),
    "data_parallel": ("optimizer", distribute.run_data_parallel, ("jax",)),
    "model_parallel": ("optimizer", distribute.run_model_parallel, ("jax",)),
    "multi_worker": ("optimizer", distribute.run_multi_worker, ("tensorflow",)),
}


def run_all(kinds=("optimizer", "loss"), only=None, checks=None, log=None):
    """Runs every check on this process's backend; returns the list of Results."""
    results = []

    def add(found):
        for r in found:
            results.append(r)
            if log:
                log(r)

    for kind in kinds:
        entries = [e for e in registry.entries(kind) if only is None or e.name in only]
        table, run = PER_ENTRY[kind]
        for check in table:
            if not checks or check in checks:
                add(run(entry, check) for entry in entries)
        for check, (batch_kind, run_batch, backends) in BATCHED.items():
            if batch_kind != kind or (checks and check not in checks):
                continue
            if backends is None or backend() in backends:
                add(run_batch(entries))
    return results


def dump_results(directory, tag, results):
    """Writes `results` to `directory/<backend>-<tag>.json`; returns the path (None if empty)."""
    if not results:
        return None
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{backend()}-{tag}.json")
    with open(path, "w") as f:
        json.dump([r.to_json() for r in results], f)
    return path


def load_results(directory):
    """Every Result written by `dump_results` into `directory`."""
    found = []
    for name in sorted(os.listdir(directory)):
        if name.endswith(".json"):
            with open(os.path.join(directory, name)) as f:
                found.extend(Result(**r) for r in json.load(f))
    return found
