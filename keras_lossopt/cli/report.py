"""Writing the lab's results: the terminal table, results.csv, results.md, report.json."""

import csv
import json
import math
import os
import platform

import keras
import numpy as np

import keras_lossopt

COLUMNS = (
    # (header, RunResult attribute or callable)
    ("loss", "loss"),
    ("optimizer", "optimizer"),
    ("lr", "learning_rate"),
    ("final val loss", "final_val_loss"),
    ("best val loss (epoch)", None),
    ("metric (final)", "final_metric"),
    ("metric (best)", "best_metric"),
    ("epochs to goal", "epochs_to_goal"),
    ("time (s)", "wall_time_s"),
    ("doctor", "doctor"),
)


def fmt(value, digits=4):
    """Short, stable number formatting for tables."""
    if value is None:
        return "-"
    if isinstance(value, (bool, str)):
        return str(value)
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if not math.isfinite(value):
        return "nan"
    return f"{value:.{digits}g}"


def _cells(result):
    cells = []
    for _header, attr in COLUMNS:
        if attr is None:
            cells.append(f"{fmt(result.best_val_loss)} ({fmt(result.best_epoch)})")
        elif attr == "wall_time_s":
            cells.append(f"{result.wall_time_s:.1f}")
        elif attr == "epochs_to_goal":
            cells.append(fmt(result.epochs_to_goal) if result.epochs_to_goal else "-")
        else:
            cells.append(fmt(getattr(result, attr)))
    return cells


def metric_caption(result):
    if result.task == "regression":
        return f"metric = validation MAE in target units (lower is better); goal: MAE <= {fmt(result.goal)}"
    return f"metric = validation accuracy (higher is better); goal: accuracy >= {fmt(result.goal)}"


def group(results):
    """`{(task, dataset): [results...]}` in run order."""
    groups = {}
    for result in results:
        groups.setdefault((result.task, result.dataset), []).append(result)
    return groups


def text_table(results):
    """A fixed-width table per task, for the terminal."""
    blocks = []
    for (task, dataset), rows in group(results).items():
        headers = [h for h, _ in COLUMNS]
        body = [_cells(r) for r in rows]
        widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(headers)]
        line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
        blocks.append(f"{task} ({dataset}): {metric_caption(rows[0])}")
        blocks.append(line)
        blocks.append("  ".join("-" * w for w in widths))
        for row in body:
            blocks.append("  ".join(c.ljust(w) for c, w in zip(row, widths)))
        blocks.append("")
    return "\n".join(blocks)


def markdown_tables(results):
    blocks = []
    for (task, dataset), rows in group(results).items():
        blocks.append(f"### {task} ({dataset})\n")
        blocks.append(metric_caption(rows[0]) + ".\n")
        blocks.append("| " + " | ".join(h for h, _ in COLUMNS) + " |")
        blocks.append("|" + "|".join("---" for _ in COLUMNS) + "|")
        for r in rows:
            blocks.append("| " + " | ".join(c.replace("|", "/") for c in _cells(r)) + " |")
        blocks.append("")
    return "\n".join(blocks)


def environment():
    return {
        "keras_lossopt": keras_lossopt.__version__,
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
    }


def json_safe(value):
    """`value` with NaN/inf as None and numpy scalars as Python numbers (strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return json_safe(value.item())
    return value


def write_csv(path, results):
    fields = list(results[0].row()) if results else ["task"]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for result in results:
            writer.writerow({k: ("" if v is None else v) for k, v in result.row().items()})


def write_json(path, results, settings, interrupted, extra=None):
    payload = {
        "settings": settings,
        "environment": environment(),
        "interrupted": interrupted,
        "failed_runs": sum(1 for r in results if r.error),
        "runs": [dict(r.row(), history=r.history, doctor_report=r.doctor_report,
                      traceback=r.traceback) for r in results],
    }
    payload.update(extra or {})
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(json_safe(payload), handle, indent=1)


def write_markdown(path, results, settings, interrupted, plots=(), title="keras_lossopt lab"):
    env = environment()
    lines = [f"# {title}\n"]
    lines.append(
        f"keras_lossopt {env['keras_lossopt']}, Keras {env['keras']} ({env['backend']} backend), "
        f"Python {env['python']}, {env['machine']}. Seed {settings.get('seed')}; "
        f"{int(round(100 * settings.get('val_fraction', 0.2)))}% of each data set held out for "
        "validation; every run of a task has the same model (one hidden layer of "
        f"{settings.get('hidden_units')} ReLU units), the same initial weights and the same number "
        "of epochs. Full-batch gradient descent takes one step per epoch; the others use "
        "mini-batches.\n"
    )
    if interrupted:
        lines.append("**Interrupted (Ctrl-C): only the runs that finished are listed.**\n")
    lines.append("Validation losses compare optimizers within one loss; the metric compares "
                 "across losses. *doctor* is the primary verdict of "
                 "`keras_lossopt.callbacks.TrainingDoctor` on that run.\n")
    lines.append(markdown_tables(results))
    for plot in plots:
        name = os.path.basename(plot)
        lines.append(f"![{name}]({name})\n")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))


def write_all(out_dir, results, settings, interrupted, plots=(), extra=None, title=None):
    """Writes results.csv, results.md and report.json; returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = [os.path.join(out_dir, n) for n in ("results.csv", "results.md", "report.json")]
    write_csv(paths[0], results)
    write_markdown(paths[1], results, settings, interrupted, plots=plots,
                   title=title or "keras_lossopt lab")
    write_json(paths[2], results, settings, interrupted, extra=extra)
    return paths
