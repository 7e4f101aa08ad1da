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
    # (header, PairResult attribute; None: composed in _cells)
    ("tier", None),
    ("loss", "loss"),
    ("optimizer", "optimizer"),
    ("test metric (mean +- std)", None),
    ("lr (chosen)", None),
    ("epochs to target", "epochs_to_target"),
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


def _cells(result, tier):
    if result.error or not math.isfinite(result.test_metric_mean):
        score = "failed" if result.error else "diverged"
    else:
        digits = 3 if result.task == "regression" else 2
        score = (f"{result.test_metric_mean:.{digits}f} +- {result.test_metric_std:.{digits}f}"
                 if result.task == "regression" else
                 f"{result.test_metric_mean:.3f} +- {result.test_metric_std:.3f}")
    lr = fmt(result.learning_rate, 3)
    if result.lr_at_grid_edge:
        lr += " (edge)"
    cells = []
    for header, attr in COLUMNS:
        if header == "tier":
            cells.append(tier)
        elif header.startswith("test metric"):
            cells.append(score)
        elif header.startswith("lr"):
            cells.append(lr)
        elif attr == "wall_time_s":
            cells.append(f"{result.wall_time_s:.1f}")
        elif attr == "epochs_to_target":
            cells.append(fmt(result.epochs_to_target) if result.epochs_to_target else "-")
        else:
            cells.append(fmt(getattr(result, attr)))
    return cells


def metric_caption(result):
    if result.task == "regression":
        return (f"metric = test MAE in target units (lower is better); target: validation "
                f"MAE <= {fmt(result.goal)}")
    return (f"metric = test accuracy (higher is better); target: validation accuracy >= "
            f"{fmt(result.goal)}")


def group(results):
    """`{(task, dataset): [results...]}`, each sorted best first (by tier, then mean)."""
    groups = {}
    for result in results:
        groups.setdefault((result.task, result.dataset), []).append(result)
    for (task, _), rows in groups.items():
        sign = -1.0 if task != "regression" else 1.0
        rows.sort(key=lambda r: (r.tier is None, r.tier or 0, sign * r.test_metric_mean
                                 if math.isfinite(r.test_metric_mean) else 0.0))
    return groups


def _title(task, dataset):
    return task if task == dataset else f"{task} ({dataset})"


def _notes(rows):
    return [f"{r.optimizer} on {r.loss}: {r.note}" for r in rows if r.note]


def text_table(results):
    """A fixed-width table per task, for the terminal."""
    from keras_lossopt.cli.protocol import tier_labels

    blocks = []
    for (task, dataset), rows in group(results).items():
        labels = tier_labels(rows)
        headers = [h for h, _ in COLUMNS]
        body = [_cells(r, labels[id(r)]) for r in rows]
        widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(headers)]
        line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
        blocks.append(f"{_title(task, dataset)}: {metric_caption(rows[0])}")
        blocks.append(line)
        blocks.append("  ".join("-" * w for w in widths))
        for row in body:
            blocks.append("  ".join(c.ljust(w) for c, w in zip(row, widths)))
        blocks.extend(f"  note: {n}" for n in _notes(rows))
        blocks.append("")
    return "\n".join(blocks)


def markdown_tables(results):
    from keras_lossopt.cli.protocol import tier_labels

    blocks = []
    for (task, dataset), rows in group(results).items():
        labels = tier_labels(rows)
        blocks.append(f"### {_title(task, dataset)}\n")
        blocks.append(metric_caption(rows[0]) + ".\n")
        blocks.append("| " + " | ".join(h for h, _ in COLUMNS) + " |")
        blocks.append("|" + "|".join("---" for _ in COLUMNS) + "|")
        for r in rows:
            blocks.append("| " + " | ".join(c.replace("|", "/") for c in _cells(
                r, labels[id(r)])) + " |")
        blocks.append("")
        blocks.extend(f"- {n}" for n in _notes(rows))
        blocks.append("")
    return "\n".join(blocks)


TABLE_LEGEND = (
    "*test metric*: mean +- standard deviation over the seeds, on the test split; *tier*: "
    "results whose mean +- std intervals overlap the tier leader's share a tier (`=` marks "
    "a tie), so read `1=` as \"among the best\", not as a strict rank; *lr*: the learning "
    "rate chosen on the validation split (*edge*: the end of the grid, a wider grid may do "
    "better); *epochs to target*: median over the seeds of the first epoch whose "
    "validation metric reached the target (`-`: most seeds never did); *time*: all the "
    "trainings of that loss and optimizer; *doctor*: the seeds' most frequent verdict of "
    "`keras_lossopt.callbacks.TrainingDoctor`."
)


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


def write_json(path, results, runs, settings, protocol, interrupted, extra=None):
    """report.json: the protocol, one entry per (task, loss, optimizer) and every run."""
    import dataclasses

    payload = {
        "settings": settings,
        "protocol": protocol,
        "environment": environment(),
        "interrupted": interrupted,
        "failed_runs": sum(1 for r in runs if r.error),
        "results": [dataclasses.asdict(r) for r in results],
        "runs": [dict(r.row(), history=r.history, doctor_report=r.doctor_report,
                      traceback=r.traceback) for r in runs],
    }
    payload.update(extra or {})
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(json_safe(payload), handle, indent=1)


def write_markdown(path, results, settings, interrupted, plots=(), title="keras_lossopt lab",
                   protocol_text=""):
    env = environment()
    lines = [f"# {title}\n"]
    lines.append(
        f"keras_lossopt {env['keras_lossopt']}, Keras {env['keras']} ({env['backend']} backend), "
        f"Python {env['python']}, {env['machine']}; {settings.get('total_time_s')} s in all. "
        f"Protocol: {protocol_text}. Every run of a task has the same model (one hidden "
        f"layer of {settings.get('hidden_units')} ReLU units) and the same number of epochs; "
        "a seed sets the initial weights and the batch order, the split stays fixed. "
        "Full-batch gradient descent takes one step per epoch; the others use mini-batches.\n"
    )
    if interrupted:
        lines.append("**Interrupted (Ctrl-C): only the runs that finished are listed.**\n")
    lines.append(TABLE_LEGEND + "\n")
    lines.append(markdown_tables(results))
    for plot in plots:
        name = os.path.basename(plot)
        lines.append(f"![{name}]({name})\n")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))


def write_all(out_dir, results, runs, settings, protocol, interrupted, plots=(), extra=None,
              title=None):
    """Writes results.csv, results.md and report.json; returns their paths. `protocol`
    is the run's cli.protocol.Protocol."""
    os.makedirs(out_dir, exist_ok=True)
    paths = [os.path.join(out_dir, n) for n in ("results.csv", "results.md", "report.json")]
    write_csv(paths[0], results)
    write_markdown(paths[1], results, settings, interrupted, plots=plots,
                   title=title or "keras_lossopt lab", protocol_text=protocol.describe())
    write_json(paths[2], results, runs, settings, protocol.to_dict(), interrupted, extra=extra)
    return paths
