"""`keras-lossopt lab`: the main job. Three classic tasks on real data, every loss
with every optimizer, tables and plots.

- regression (scikit-learn's diabetes): MSE (`--full`: also MAE, Huber, pseudo-Huber);
- binary classification (breast cancer): binary cross-entropy (`--full`: also focal);
- multiclass classification (digits): sparse categorical cross-entropy (`--full`:
  also the same with label smoothing 0.1);

each with full-batch gradient descent, SGD with momentum, Adam, RMSprop and
keras_lossopt's RAdam, Lookahead and Prodigy, under the protocol of
`cli.protocol` (an equal learning-rate budget, several seeds, a test split).
`--losses` replaces the defaults: each task trains the given losses that are
registered for it.
"""

import sys
import time

from keras_lossopt.cli import common, protocol
from keras_lossopt.cli._errors import CLIError
from keras_lossopt.cli.specs import LossSpec, OptimizerSpec, TaskPlan

# task -> (data set, epochs, batch size, goal)
_TASK_SETTINGS = {
    "regression": ("diabetes", 20, 32, 50.0),  # goal: validation MAE <= 50 (target units)
    "binary": ("breast_cancer", 15, 32, 0.95),  # goal: validation accuracy >= 0.95
    "multiclass": ("digits", 12, 64, 0.95),
}


def add_arguments(parser):
    parser.add_argument("--out", default="lab-results", help="output folder (default lab-results)")
    common.add_import_option(parser)
    parser.add_argument("--tasks", help=f"comma-separated subset of {','.join(common.TASKS)}")
    parser.add_argument("--losses", help="comma-separated loss names (replace the defaults; "
                        "each task trains those registered for it)")
    parser.add_argument("--optimizers", help="comma-separated optimizer names (replace the "
                        "defaults)")
    parser.add_argument("--epochs", type=int, help="epochs per run (default: per task, 12-20)")
    parser.add_argument("--seed", type=int, default=0, help="split seed and first weight "
                        "seed (default 0)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--no-rosenbrock", action="store_true",
                        help="skip the optimizer-path plot on the Rosenbrock function")
    protocol.add_arguments(parser)


def default_losses(task, full=False):
    """The loss specs of a lab task, resolved by name at run time: the task's
    standard loss by default (so that the protocol's K + S - 1 trainings per
    optimizer fit in about three minutes), every one with `full`."""
    if task == "regression":
        names = ("mean_squared_error",) + (
            ("mean_absolute_error", "huber", "pseudo_huber") if full else ())
        return [LossSpec(n) for n in names]
    if task == "binary":
        return [LossSpec("binary_crossentropy")] + (
            [LossSpec("sigmoid_focal_crossentropy")] if full else [])
    return [LossSpec("sparse_categorical_crossentropy")] + ([
        LossSpec("smoothed_sparse_categorical_crossentropy", {"label_smoothing": 0.1},
                 label="sparse_categorical_crossentropy(label_smoothing=0.1)")] if full else [])


def build_plans(tasks=common.TASKS, losses=None, optimizers=None, epochs=None, seed=0,
                val_fraction=0.2, test_fraction=None, full=False):
    """The lab's TaskPlans; `losses`/`optimizers` (names) replace the defaults
    (`full`: every default loss). With `test_fraction` each data set also gets the
    protocol's test split, taken from rows that selection never reads."""
    from keras_lossopt.cli import data

    unknown = [task for task in tasks if task not in common.TASKS]
    if unknown:
        raise CLIError(f"--tasks must name some of {', '.join(common.TASKS)}. "
                       f"Received: {unknown[0]!r}.{common.did_you_mean(unknown[0], common.TASKS)}")
    plans = []
    for task in tasks:
        name, task_epochs, batch_size, goal = _TASK_SETTINGS[task]
        held_out = val_fraction + (test_fraction or 0.0)
        dataset = data.load_builtin(name, val_fraction=held_out, seed=seed)
        if test_fraction:
            dataset = protocol.split_test(dataset, test_fraction / held_out, seed=seed)
        task_losses = default_losses(task, full=full)
        if losses is not None:
            by_name = {s.name: s for s in task_losses}
            task_losses = [by_name.get(n, LossSpec(n)) for n in losses]
        task_optimizers = common.default_optimizers()
        if optimizers is not None:
            by_name = {}
            for spec in task_optimizers:
                by_name[spec.name] = spec
                by_name.setdefault(spec.label.split()[0], spec)
            task_optimizers = [by_name.get(n, OptimizerSpec(n)) for n in optimizers]
        plans.append(TaskPlan(
            key=task, dataset=dataset, losses=task_losses, optimizers=task_optimizers,
            epochs=epochs or task_epochs, batch_size=batch_size, goal=goal))
    return plans


def run(args, out=None):
    """Runs the lab for parsed `args`; returns the exit code."""
    from keras_lossopt.cli import engine, plots

    out = out or sys.stdout
    tasks = common.parse_list(args.tasks, "--tasks") if args.tasks else list(common.TASKS)
    losses = common.parse_list(args.losses, "--losses") if args.losses else None
    optimizers = common.parse_list(args.optimizers, "--optimizers") if args.optimizers else None
    if args.epochs is not None:
        common.check_at_least("--epochs", args.epochs)
    rules = protocol.from_args(args)
    if not args.no_plots:
        plots.check_matplotlib()
    plans = build_plans(tasks, losses, optimizers, args.epochs, seed=args.seed,
                        val_fraction=rules.val_fraction, test_fraction=rules.test_fraction,
                        full=args.full)
    engine.check_plans(plans, per_task=True)
    settings = {
        "command": "lab", "tasks": tasks, "seed": args.seed,
        "val_fraction": rules.val_fraction, "test_fraction": rules.test_fraction,
        "hidden_units": engine.HIDDEN_UNITS,
        "epochs": {p.key: p.epochs for p in plans},
        "batch_size": {p.key: p.batch_size for p in plans},
        "losses": {p.key: [s.label for s in p.losses] for p in plans},
        "optimizers": [s.label for s in plans[0].optimizers],
    }
    out.write(f"Protocol: {rules.describe()}.\n")
    start = time.perf_counter()
    progress = engine.Progress(sum(p.n_runs for p in plans) * rules.runs_per_pair, stream=out,
                               quiet=args.quiet)
    results, runs, interrupted = protocol.run(plans, rules, progress=progress)
    rosenbrock = None
    if not interrupted and not args.no_plots and not args.no_rosenbrock:
        from keras_lossopt.cli import rosenbrock as rb

        try:
            rosenbrock = rb.walks()
        except KeyboardInterrupt:
            interrupted = True
    settings["total_time_s"] = round(time.perf_counter() - start, 1)
    files = common.write_outputs(args.out, plans, results, runs, settings, rules, interrupted,
                                 make_plots=not args.no_plots, rosenbrock=rosenbrock)
    common.summarize(results, files, args.out, out)
    return common.finish(runs, interrupted, out)
