"""Batched "fresh process" checks: one new Python process per backend reloads every model.

Starting Python with a backend costs seconds, so the main process trains and saves
every model first, writes a manifest, and ONE child process (`import keras_lossopt`
and nothing else of ours) reloads them all, continues or evaluates, and writes the
numbers back; the main process then compares entry by entry.

- optimizers, check "resume": train k steps, `model.save(".keras")`, train n more
  steps (the uninterrupted run); the child loads the file and trains the same n
  steps; weights and every optimizer variable (slots, iterations, averages, inner
  optimizers) must agree to max |diff| <= 1e-6.
- losses, check "compile_fit_reload": compile by registered string and by instance,
  fit one step, save; the child reloads and `evaluate` must give the same loss
  (<= 1e-6 relative).
"""

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

from keras_lossopt.testing import _core, _data, optimizers
from keras_lossopt.testing import losses as loss_checks
from keras_lossopt.testing._core import FAIL, NA, PASS, Result
from keras_lossopt.testing.inputs import family_for

RESUME_TOLERANCE = 1e-6
RELOAD_TOLERANCE = 1e-6
IMPORTS_ENV = "KERAS_LOSSOPT_CONFORMANCE_IMPORTS"  # extra modules a child imports (tests)

_CHILD = textwrap.dedent(
    """
    import importlib, json, sys, traceback
    import numpy as np
    import keras
    import keras_lossopt  # the only import of ours: saved files must reload after it
    manifest = json.load(open(sys.argv[1]))
    for module in manifest["imports"]:
        importlib.import_module(module)
    out = {}
    for item in manifest["items"]:
        try:
            data = np.load(item["data"])
            model = keras.saving.load_model(item["path"])
            if item["action"] == "fit":
                model.fit(data["x"], data["y"], batch_size=item["batch_size"],
                          epochs=item["epochs"], shuffle=False, verbose=0)
                np.savez(item["result"], *model.get_weights(),
                         *[keras.ops.convert_to_numpy(v) for v in model.optimizer.variables])
                out[item["id"]] = {"optimizer": type(model.optimizer).__name__,
                                   "n_weights": len(model.get_weights())}
            else:
                value = model.evaluate(data["x"], data["y"], batch_size=item["batch_size"],
                                       verbose=0)
                out[item["id"]] = {"loss": float(value), "loss_class": type(model.loss).__name__
                                   if not isinstance(model.loss, str) else model.loss}
        except Exception as e:
            out[item["id"]] = {"error": f"{type(e).__name__}: {e}"[:800]
                               + traceback.format_exc(limit=-2)[-600:]}
    json.dump(out, open(manifest["output"], "w"))
    """
)


def run_child(manifest, tmp):
    """Runs the one fresh child process on the current backend; returns its JSON."""
    path = os.path.join(tmp, "manifest.json")
    manifest = dict(manifest, output=os.path.join(tmp, "child_out.json"),
                    imports=[m for m in os.environ.get(IMPORTS_ENV, "").split(",") if m])
    with open(path, "w") as f:
        json.dump(manifest, f)
    env = dict(os.environ)
    import keras

    env["KERAS_BACKEND"] = keras.backend.backend()
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    proc = subprocess.run([sys.executable, "-c", _CHILD, path], env=env, capture_output=True,
                          text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"fresh process failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    with open(manifest["output"]) as f:
        return json.load(f)


def _skip_result(entry, check_id, central):
    reason = _core.opt_out_reason(entry, check_id, central)
    if reason:
        return f"opt-out: {reason}"
    if entry.builtin:
        return _core.BUILTIN_REASON
    return None


def _result(entry, check_id, status, reason="", numbers=None, seconds=0.0):
    return Result(entry.kind, entry.name, check_id, _core.backend(), status, reason,
                  _core.plain(numbers or {}), seconds)


def resume_variants(entry):
    """Default settings, and the non-default setting with `use_ema=True` (averages saved too)."""
    found = []
    for label, kwargs in optimizers.settings(entry):
        if label != "default":
            kwargs = dict(kwargs, use_ema=True, ema_momentum=0.9)
            label += ",use_ema=True"
        found.append((label, kwargs))
    return found


def run_resume(entries):
    """Check "resume" for every optimizer entry, with one fresh process; returns Results."""
    k_epochs, n_epochs = 1, 1  # 2 + 2 steps of batch 8 on 16 samples
    results, pending = [], []
    with tempfile.TemporaryDirectory() as tmp:
        x, y = _data.fit_data()
        data = os.path.join(tmp, "data.npz")
        np.savez(data, x=x, y=y)
        items = []
        for entry in entries:
            reason = _skip_result(entry, "resume", optimizers.OPT_OUTS)
            if reason:
                results.append(_result(entry, "resume", NA, reason))
                continue
            start = time.perf_counter()
            expected = {}
            try:
                for i, (label, kwargs) in enumerate(resume_variants(entry)):
                    model = _data.fit_model()
                    # Eager: no tracing per optimizer (the XLA check covers compiled steps);
                    # run_eagerly is part of the saved compile config, so the child is eager too.
                    model.compile(optimizer=optimizers.make(entry, **kwargs),
                                  loss="mean_squared_error", run_eagerly=True)
                    model.fit(x, y, batch_size=_data.FIT_BATCH, epochs=k_epochs, shuffle=False,
                              verbose=0)
                    ident = f"{entry.name}-{i}"
                    path = os.path.join(tmp, f"{ident}.keras")
                    model.save(path)
                    model.fit(x, y, batch_size=_data.FIT_BATCH, epochs=n_epochs, shuffle=False,
                              verbose=0)
                    expected[ident] = (label, [*model.get_weights(),
                                               *optimizers.values_of(model.optimizer.variables)],
                                       [w.path for w in model.weights]
                                       + [v.path for v in model.optimizer.variables])
                    items.append({"id": ident, "path": path, "data": data, "action": "fit",
                                  "batch_size": _data.FIT_BATCH, "epochs": n_epochs,
                                  "result": os.path.join(tmp, f"{ident}.npz")})
            except Exception as e:  # noqa: BLE001
                results.append(_result(entry, "resume", FAIL, f"{type(e).__name__}: {e}"[:600]))
                continue
            pending.append((entry, expected, time.perf_counter() - start))
        if not pending:
            return results
        child_start = time.perf_counter()
        out = run_child({"items": items}, tmp)
        child_share = (time.perf_counter() - child_start) / max(len(pending), 1)
        for entry, expected, seconds in pending:
            status, reasons, numbers = PASS, [], {}
            for ident, (label, want, paths) in expected.items():
                got_info = out.get(ident, {"error": "missing from the child's output"})
                if "error" in got_info:
                    status = FAIL
                    reasons.append(f"[{label}] reload/continue failed: {got_info['error']}")
                    continue
                got_npz = np.load(os.path.join(tmp, f"{ident}.npz"))
                got = [got_npz[f"arr_{i}"] for i in range(len(got_npz.files))]
                if len(got) != len(want):
                    status = FAIL
                    reasons.append(f"[{label}] after reload the model+optimizer have {len(got)} "
                                   f"variables, the uninterrupted run {len(want)}")
                    continue
                diff = max((float(np.max(np.abs(np.asarray(a, "float64") - np.asarray(b, "float64"))))
                            if np.size(a) else 0.0) for a, b in zip(got, want))
                n_weights = got_info["n_weights"]
                if not diff <= RESUME_TOLERANCE:
                    status = FAIL
                    worst = max(range(len(got)), key=lambda i: float(np.max(np.abs(
                        np.asarray(got[i], "float64") - np.asarray(want[i], "float64"))))
                        if np.size(got[i]) else 0.0)
                    where = ("model weight " if worst < n_weights
                             else "optimizer variable ") + paths[worst]
                    reasons.append(f"[{label}] resumed != uninterrupted: max |diff| = {diff:.3g} "
                                   f"(worst: {where})")
                numbers[label] = np.concatenate([np.ravel(w) for w in want[:n_weights]])
            results.append(_result(entry, "resume", status, "; ".join(reasons), numbers,
                                   seconds + child_share))
    return results


def run_loss_reload(entries):
    """Check "compile_fit_reload" for every loss entry, with one fresh process; returns Results."""
    results, pending, items = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for entry in entries:
            reason = _skip_result(entry, "compile_fit_reload", loss_checks.OPT_OUTS)
            try:
                family, how = (None, None) if reason else family_for(entry)
            except ValueError as e:  # inputs naming no family
                results.append(_result(entry, "compile_fit_reload", FAIL, str(e)))
                continue
            if reason or family is None:
                results.append(_result(entry, "compile_fit_reload", NA, reason or how))
                continue
            start = time.perf_counter()
            expected = {}
            try:
                x, _ = _data.fit_data()
                y_true, y_pred = loss_checks.sample_inputs(family, batch=16)
                x = x[: len(y_pred)]
                data = os.path.join(tmp, f"{entry.name}.npz")
                np.savez(data, x=x, y=y_true)
                for how_compiled, loss in (("instance", entry.cls()), ("string", entry.name)):
                    model = loss_checks.head_model(family, y_pred)
                    model.compile(optimizer="adam", loss=loss, run_eagerly=True)
                    if how_compiled == "instance":  # the string model is only evaluated
                        model.fit(x, y_true, batch_size=len(x), epochs=1, shuffle=False,
                                  verbose=0)
                    value = model.evaluate(x, y_true, batch_size=len(x), verbose=0)
                    ident = f"{entry.name}-{how_compiled}"
                    path = os.path.join(tmp, f"{ident}.keras")
                    model.save(path)
                    expected[ident] = (how_compiled, float(value))
                    items.append({"id": ident, "path": path, "data": data, "action": "evaluate",
                                  "batch_size": len(x)})
            except Exception as e:  # noqa: BLE001
                results.append(_result(entry, "compile_fit_reload", FAIL,
                                       f"{type(e).__name__}: {e}"[:600]))
                continue
            pending.append((entry, expected, time.perf_counter() - start))
        if not pending:
            return results
        child_start = time.perf_counter()
        out = run_child({"items": items}, tmp)
        child_share = (time.perf_counter() - child_start) / max(len(pending), 1)
        for entry, expected, seconds in pending:
            status, reasons, numbers = PASS, [], {}
            for ident, (how_compiled, want) in expected.items():
                got = out.get(ident, {"error": "missing from the child's output"})
                if "error" in got:
                    status = FAIL
                    reasons.append(f"[{how_compiled}] reload failed: {got['error']}")
                    continue
                if not (np.isfinite(want) and abs(got["loss"] - want) <= RELOAD_TOLERANCE * max(
                        1.0, abs(want))):
                    status = FAIL
                    reasons.append(f"[{how_compiled}] evaluate after reload {got['loss']!r} != "
                                   f"{want!r} before saving")
                numbers[how_compiled] = want
            results.append(_result(entry, "compile_fit_reload", status, "; ".join(reasons),
                                   numbers, seconds + child_share))
    return results
