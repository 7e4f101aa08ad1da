"""`keras-lossopt compare`: the lab on the user's own data (a CSV or a bundled set)."""

import sys
import time

from keras_lossopt.cli import common
from keras_lossopt.cli.specs import LossSpec, OptimizerSpec, TaskPlan


def add_arguments(parser):
    common.add_data_options(parser, "compare-results")
    common.add_import_option(parser)
    parser.add_argument("--losses", help="comma-separated loss names (default: the loss "
                        "guide's)")
    parser.add_argument("--optimizers", help="comma-separated optimizer names "
                        "(default: gd, sgd, adam, rmsprop and ours)")
    parser.add_argument("--epochs", type=int, default=20, help="default 20")
    parser.add_argument("--goal", type=float, help="metric goal for 'epochs to goal' (MAE for "
                        "regression, default half the target's std; accuracy, default 0.9)")


def _default_goal(dataset):
    # Regression: half the target's standard deviation (a constant guess scores
    # about 0.8 of it); classification: 90% accuracy.
    return 0.5 * dataset.target_scale if dataset.task == "regression" else 0.9


def run(args, out=None):
    from keras_lossopt.cli import engine, plots

    out = out or sys.stdout
    common.check_at_least("--epochs", args.epochs)
    common.check_at_least("--batch-size", args.batch_size)
    if not args.no_plots:
        plots.check_matplotlib()
    dataset = common.load_data(args, out)
    if args.losses:
        losses = [LossSpec(n) for n in common.parse_list(args.losses, "--losses")]
    else:
        losses = [common.recommended_loss(dataset.task, out)]
    if args.optimizers:
        optimizers = [OptimizerSpec(n) for n in common.parse_list(args.optimizers, "--optimizers")]
    else:
        optimizers = common.default_optimizers()
    goal = args.goal if args.goal is not None else _default_goal(dataset)
    plan = TaskPlan(key=dataset.name, dataset=dataset, losses=losses, optimizers=optimizers,
                    epochs=args.epochs, batch_size=args.batch_size, goal=goal)
    engine.check_plans([plan])
    settings = {
        "command": "compare", "data": args.data or args.dataset, "target": args.target,
        "task": dataset.task, "seed": args.seed, "val_fraction": args.val_fraction,
        "hidden_units": engine.HIDDEN_UNITS, "epochs": args.epochs,
        "batch_size": args.batch_size, "goal": goal,
        "losses": [s.label for s in losses], "optimizers": [s.label for s in optimizers],
    }
    start = time.perf_counter()
    progress = engine.Progress(plan.n_runs, stream=out, quiet=args.quiet)
    results, interrupted = engine.run_plans([plan], seed=args.seed, progress=progress)
    settings["total_time_s"] = round(time.perf_counter() - start, 1)
    files = common.write_outputs(args.out, [plan], results, settings, interrupted,
                                 make_plots=not args.no_plots,
                                 title=f"keras_lossopt compare: {dataset.name}")
    common.summarize(results, files, args.out, out)
    return common.finish(results, interrupted, out)
