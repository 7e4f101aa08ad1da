"""What several subcommands share: the tasks and data sets they train on, their
common options, and the steps around a training run (data, default optimizers,
the recommended loss, writing the outputs, the exit code).

Imported when the parser is built, so it imports neither Keras nor numpy at
module level; the helpers that need them import the lab's machinery when called.
"""

import os

from keras_lossopt.cli._errors import CLIError
from keras_lossopt.cli.specs import LossSpec, OptimizerSpec

# The tasks the lab, compare and lr-find train (keys of registry.LOSS_TASKS).
TASKS = ("regression", "binary", "multiclass")

# Bundled data set -> (task, scikit-learn loader name, description).
DATASETS = {
    "diabetes": ("regression", "load_diabetes", "disease progression, 442 patients x 10 features"),
    "breast_cancer": ("binary", "load_breast_cancer", "malignant/benign, 569 tumours x 30 features"),
    "digits": ("multiclass", "load_digits", "handwritten digits 0-9, 1797 images x 64 pixels"),
}

BACKENDS = ("tensorflow", "jax", "torch")


# --- Options ----------------------------------------------------------------------------


def add_common_options(parser):
    """--backend, -q and -v: every command (and the top level) takes them."""
    parser.add_argument("--backend", choices=BACKENDS,
                        help="Keras backend to run on (default: $KERAS_BACKEND or tensorflow)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show the backend's start-up and log messages (hidden by default)")


def add_data_options(parser, out_default):
    """The data a command trains on (a CSV or a bundled data set) and where it writes."""
    group = parser.add_argument_group("data")
    group.add_argument("--data", metavar="FILE.csv", help="CSV file with a header row")
    group.add_argument("--target", metavar="COLUMN", help="the column to predict")
    group.add_argument("--task", type=one_of("--task", TASKS), metavar="{" + ",".join(TASKS) + "}",
                       help="default: inferred from the --target column (printed)")
    group.add_argument("--dataset", type=one_of("--dataset", tuple(DATASETS)),
                       metavar="{" + ",".join(DATASETS) + "}",
                       help="use a scikit-learn data set instead of --data")
    group.add_argument("--val-fraction", type=float, default=0.2,
                       help="share of rows held out for validation (default 0.2)")
    group.add_argument("--seed", type=int, default=0, help="split and weight seed (default 0)")
    parser.add_argument("--batch-size", type=int, default=32, help="default 32")
    parser.add_argument("--out", default=out_default, help=f"output folder (default {out_default})")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")


def did_you_mean(value, choices):
    """`" Did you mean 'x'?"` for the choices close to `value`, else `""`."""
    import difflib

    close = difflib.get_close_matches(value, list(choices), n=2, cutoff=0.6)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def one_of(option, choices):
    """An argparse `type` that accepts `choices` and suggests the closest on a typo."""
    import argparse

    def check(value):
        if value not in choices:
            raise argparse.ArgumentTypeError(
                f"invalid choice: {value!r} (choose from {', '.join(choices)})."
                f"{did_you_mean(value, choices)}")
        return value

    check.__name__ = option.lstrip("-")  # argparse names the type in some messages
    return check


def add_import_option(parser):
    """--import MODULE: the user's module that registers losses/optimizers by name."""
    parser.add_argument(
        "--import", dest="import_modules", action="append", default=[], metavar="MODULE",
        help="import this module (a name importable from the current folder or "
             "PYTHONPATH, or a .py file) before resolving names, so that the losses and "
             "optimizers it registers with keras_lossopt.register_loss / register_optimizer "
             "can be named; repeat it or give a comma-separated list")


def import_modules(args):
    """Imports the --import modules (after Keras, before any name is resolved)."""
    for text in getattr(args, "import_modules", None) or ():
        for item in parse_list(text, "--import"):
            _import_module(item)


def _import_module(item):
    import importlib
    import sys

    name = item
    if item.endswith(".py") or os.sep in item:
        path = os.path.abspath(item)
        if not os.path.isfile(path):
            raise CLIError(f"--import: no such file. Received: --import={item}")
        folder, name = os.path.split(os.path.splitext(path)[0])
        if folder not in sys.path:
            sys.path.insert(0, folder)  # imported under its own name, as a reload will need
    elif os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # a console script does not search the current folder
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name and name.startswith(error.name):
            raise CLIError(f"--import: no module named {error.name!r} in the current folder "
                           f"or on PYTHONPATH. Received: --import={item}") from error
        raise CLIError(f"--import={item} failed: {error}") from error
    except Exception as error:  # noqa: BLE001 - the user's module: one clear line
        raise CLIError(f"--import={item} failed: {type(error).__name__}: "
                       f"{str(error).splitlines()[0] if str(error) else ''}") from error


def parse_list(text, option):
    """`"a,b"` -> `["a", "b"]`, rejecting empty items."""
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise CLIError(f"{option} takes a comma-separated list of names. Received: "
                       f"{option}={text!r}")
    return items


def check_at_least(option, value, minimum=1):
    """A CLIError unless `value >= minimum` ("--epochs must be >= 1. Received: ...")."""
    if value < minimum:
        raise CLIError(f"{option} must be >= {minimum}. Received: {option}={value}")


# --- Around a run -----------------------------------------------------------------------


def load_data(args, out=None):
    """The Dataset named by --dataset, or read from --data/--target (and --task, else
    inferred); with `out`, the target's task and class encoding are printed there."""
    dataset = _load_data(args)
    if out is not None:
        out.write("".join(line + "\n" for line in dataset.target_lines()))
    return dataset


def _load_data(args):
    from keras_lossopt.cli import data

    if not 0.0 < args.val_fraction < 1.0:
        raise CLIError(f"--val-fraction must be in (0, 1). Received: "
                       f"--val-fraction={args.val_fraction}")
    if args.dataset:
        if args.data:
            raise CLIError("Give either --data FILE.csv or --dataset NAME, not both.")
        dataset = data.load_builtin(args.dataset, val_fraction=args.val_fraction,
                                    seed=args.seed)
        if args.task and args.task != dataset.task:
            raise CLIError(f"Data set {args.dataset!r} is a {dataset.task} task. Received: "
                           f"--task={args.task}")
        return dataset
    missing = [opt for opt, value in (("--data", args.data), ("--target", args.target))
               if not value]
    if missing:
        raise CLIError(f"Missing {', '.join(missing)}: give --data FILE.csv --target COLUMN "
                       f"[--task TASK] (or --dataset {'|'.join(DATASETS)}).")
    return data.read_csv(args.data, args.target, args.task,
                         val_fraction=args.val_fraction, seed=args.seed)


def recommended_loss(task, out):
    """The LossSpec of the loss selection guide's answer for a task, announced on `out`."""
    from keras_lossopt.doctor.recommend import recommend

    rec = recommend(task, labels=None if task == "regression" else "integers")
    out.write(f"Recommended loss for {task}: {rec.loss_name} ({rec.why})\n")
    config = rec.loss.get_config()
    default = LossSpec(rec.loss_name).make().get_config()
    overrides = {k: v for k, v in config.items()
                 if k in default and k not in ("name", "reduction", "dtype") and default[k] != v}
    return LossSpec(rec.loss_name, overrides)


def default_optimizers():
    """Full-batch GD, SGD with momentum, Adam, RMSprop, and keras_lossopt's RAdam,
    Lookahead and Prodigy."""
    return [
        OptimizerSpec("gradient_descent", {"learning_rate": 0.1}, full_batch=True,
                      label="gd (full batch)"),
        OptimizerSpec("sgd", {"learning_rate": 0.01, "momentum": 0.9},
                      label="sgd (momentum 0.9)"),
        OptimizerSpec("adam"),
        OptimizerSpec("rmsprop"),
        OptimizerSpec("radam"),
        OptimizerSpec("lookahead"),
        OptimizerSpec("prodigy"),
    ]


def write_outputs(out_dir, plans, results, runs, settings, protocol, interrupted, *,
                  make_plots=True, rosenbrock=None, title="keras_lossopt lab"):
    """results.csv / .md / report.json and the PNGs; returns the written paths.
    `results` are the protocol's PairResults, `runs` every training."""
    from keras_lossopt.cli import plots, report

    os.makedirs(out_dir, exist_ok=True)
    written_plots = []
    if make_plots:
        for plan in plans:
            rows = [r for r in results if (r.task, r.dataset) == (plan.dataset.task,
                                                                  plan.dataset.name)]
            if rows:
                path = os.path.join(out_dir, f"loss_curves_{plan.key}.png")
                seeds = f"{protocol.seeds} seed{'s' if protocol.seeds != 1 else ''}"
                plots.loss_curves(path, rows, f"{_plot_name(plan)}: validation loss at the "
                                  f"chosen rates (mean, range over {seeds})")
                written_plots.append(path)
        if rosenbrock is not None:
            path = os.path.join(out_dir, "rosenbrock.png")
            plots.rosenbrock_plot(path, rosenbrock[0])
            written_plots.append(path)
    extra = {"rosenbrock": rosenbrock[1]} if rosenbrock is not None else {}
    extra["data"] = {plan.key: plan.dataset.target_info() for plan in plans}
    files = report.write_all(out_dir, results, runs, settings, protocol, interrupted,
                             plots=written_plots, extra=extra, title=title)
    return files + written_plots


def _plot_name(plan):
    """"regression (diabetes)"; a plan named after its data set ("wine") only once."""
    name = plan.dataset.name
    return name if plan.key == name else f"{plan.key} ({name})"


def summarize(results, files, out_dir, out):
    """The results table and the list of written files."""
    from keras_lossopt.cli import report

    if results:
        out.write("\n" + report.text_table(results))
    out.write(f"Wrote {len(files)} files to {out_dir}: "
              f"{', '.join(os.path.basename(f) for f in files)}\n")


# Exit codes of a command that ran (2, bad input, is CLIError's).
EXIT_RUNS_FAILED = 1
EXIT_INTERRUPTED = 130


def finish(results, interrupted, out):
    """Final messages and the exit code: 130 after Ctrl-C, 1 when any run failed, else 0."""
    failed = [r for r in results if r.error]
    if failed:
        out.write(f"{len(failed)} of {len(results)} runs failed (doctor column 'error'); "
                  "their messages are in results.csv, their full tracebacks in "
                  "report.json.\n")
    if interrupted:
        out.write("Interrupted: kept the results of the finished runs.\n")
        return EXIT_INTERRUPTED
    return EXIT_RUNS_FAILED if failed else 0
