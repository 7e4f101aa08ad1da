"""`keras-lossopt compare`: the lab on the user's own data (a CSV or a bundled set)."""

import argparse
import sys
import time

from keras_lossopt.cli import common, protocol
from keras_lossopt.cli._errors import CLIError
from keras_lossopt.cli.specs import LossSpec, OptimizerSpec, TaskPlan


def add_arguments(parser):
    common.add_data_options(parser, "compare-results")
    common.add_import_option(parser)
    parser.add_argument("--losses", help="comma-separated loss names (default: the loss "
                        "guide's)")
    parser.add_argument("--optimizers", help="comma-separated optimizer names "
                        "(default: gd, sgd, adam, rmsprop and ours)")
    parser.add_argument("--epochs", type=int, default=20, help="default 20")
    parser.add_argument("--goal", type=float, help="metric target for 'epochs to target' "
                        "(validation MAE for regression, default half the target's std; "
                        "accuracy, default 0.9)")
    protocol.add_arguments(parser)


def _default_goal(dataset):
    # Regression: half the target's standard deviation (a constant guess scores
    # about 0.8 of it); classification: 90% accuracy.
    return 0.5 * dataset.target_scale if dataset.task == "regression" else 0.9


def _load(args, rules, out):
    """The data, its held-out rows divided into the validation and the test split."""
    held = argparse.Namespace(**vars(args))
    held.val_fraction = rules.val_fraction + rules.test_fraction
    dataset = common.load_data(held, out)
    return protocol.split_test(dataset, rules.test_fraction / held.val_fraction,
                               seed=args.seed)


def run(args, out=None):
    from keras_lossopt.cli import engine, plots

    out = out or sys.stdout
    common.check_at_least("--epochs", args.epochs)
    common.check_at_least("--batch-size", args.batch_size)
    if not 0.0 < args.val_fraction < 1.0:
        raise CLIError(f"--val-fraction must be in (0, 1). Received: "
                       f"--val-fraction={args.val_fraction}")
    rules = protocol.from_args(args, val_fraction=args.val_fraction)
    if not args.no_plots:
        plots.check_matplotlib()
    dataset = _load(args, rules, out)
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
        "task": dataset.task, "seed": args.seed, "val_fraction": rules.val_fraction,
        "test_fraction": rules.test_fraction,
        "hidden_units": engine.HIDDEN_UNITS, "epochs": args.epochs,
        "batch_size": args.batch_size, "goal": goal,
        "losses": [s.label for s in losses], "optimizers": [s.label for s in optimizers],
    }
    out.write(f"Protocol: {rules.describe()}.\n")
    start = time.perf_counter()
    progress = engine.Progress(plan.n_runs * rules.runs_per_pair, stream=out, quiet=args.quiet)
    results, runs, interrupted = protocol.run([plan], rules, progress=progress)
    settings["total_time_s"] = round(time.perf_counter() - start, 1)
    files = common.write_outputs(args.out, [plan], results, runs, settings, rules, interrupted,
                                 make_plots=not args.no_plots,
                                 title=f"keras_lossopt compare: {dataset.name}")
    common.summarize(results, files, args.out, out)
    return common.finish(runs, interrupted, out)
