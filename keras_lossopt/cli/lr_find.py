"""`keras-lossopt lr-find`: the learning-rate range test on a data set, with its plot."""

import json
import os
import sys
import warnings

from keras_lossopt.cli import common
from keras_lossopt.cli._errors import CLIError
from keras_lossopt.cli.specs import LossSpec, OptimizerSpec


def add_arguments(parser):
    common.add_data_options(parser, "lr-find-results")
    common.add_import_option(parser)
    parser.add_argument("--loss", help="loss name (default: the loss guide's)")
    parser.add_argument("--optimizer", default="adam", help="default adam")
    parser.add_argument("--start-lr", type=float, default=1e-7, help="default 1e-7")
    parser.add_argument("--end-lr", type=float, default=10.0, help="default 10")
    parser.add_argument("--num-steps", type=int, default=100, help="default 100")


def run(args, out=None):
    import keras

    from keras_lossopt.cli import engine, plots, report
    from keras_lossopt.doctor.lr_finder import LRFinderWarning, find_learning_rate

    out = out or sys.stdout
    common.check_at_least("--batch-size", args.batch_size)
    if not args.start_lr > 0 or not args.end_lr > args.start_lr:
        raise CLIError(f"Need 0 < --start-lr < --end-lr. Received: --start-lr={args.start_lr}, "
                       f"--end-lr={args.end_lr}")
    common.check_at_least("--num-steps", args.num_steps, 2)
    if not args.no_plots:
        plots.check_matplotlib()
    dataset = common.load_data(args, out)
    loss_spec = LossSpec(args.loss) if args.loss else common.recommended_loss(dataset.task, out)
    optimizer_spec = OptimizerSpec(args.optimizer)
    keras.utils.set_random_seed(args.seed)
    loss = loss_spec.make()
    entry = engine.loss_entry(loss_spec, loss)
    engine.check_task(loss_spec, entry, dataset.task)
    model = engine.build_model(dataset, engine.takes_logits(loss, entry))
    model.compile(optimizer=optimizer_spec.make(), loss=loss)
    y = engine.labels_for(dataset, dataset.y_train, engine.integer_labels(entry))
    os.makedirs(args.out, exist_ok=True)
    try:
        with warnings.catch_warnings():  # said below, in the command's own words
            warnings.simplefilter("ignore", LRFinderWarning)
            result = find_learning_rate(model, dataset.x_train, y, batch_size=args.batch_size,
                                        start_lr=args.start_lr, end_lr=args.end_lr,
                                        num_steps=args.num_steps, seed=args.seed)
    except Exception as error:  # noqa: BLE001 - reported, with its traceback, in lr_find.json
        return _failed(args, dataset, loss_spec, optimizer_spec, error, out)
    written = []
    if not args.no_plots:
        path = os.path.join(args.out, "lr_finder.png")
        result.plot(path=path)
        written.append(path)
    payload = {
        "data": args.data or args.dataset, "task": dataset.task, "loss": loss_spec.label,
        "optimizer": optimizer_spec.label, "batch_size": args.batch_size,
        "suggestion": result.suggestion, "suggestions": dict(result.suggestions),
        "method": result.method, "reliable": result.reliable, "reason": result.reason,
        "diverged": result.diverged, "rise_lr": result.rise_lr,
        "start_lr": args.start_lr, "end_lr": args.end_lr,
        "lrs": [float(v) for v in result.lrs], "losses": [float(v) for v in result.losses],
        "raw_losses": [float(v) for v in result.raw_losses],
    }
    path = os.path.join(args.out, "lr_find.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(report.json_safe(payload), handle, indent=1)
    written.append(path)
    if result.reliable:
        out.write(f"Suggested learning rate for {optimizer_spec.label} with {loss_spec.label}: "
                  f"{report.fmt(result.suggestion, 3)}\n")
    else:
        out.write(f"No reliable learning rate for {optimizer_spec.label} with "
                  f"{loss_spec.label}: {result.reason}\n")
        sys.stderr.write(f"warning: the range test is unreliable: {result.reason}\n")
    for method, value in dict(result.suggestions).items():
        text = report.fmt(value, 3) if value == value else "none"
        out.write(f"  {method:<12} {text}\n")
    out.write(f"  the loss started to rise at {report.fmt(result.rise_lr, 3)}"
              f"{' (the test stopped: the loss diverged)' if result.diverged else ''}\n")
    out.write(f"Wrote {', '.join(written)}\n")
    # A range test that cannot suggest a rate has failed at its job: exit 1 (like a
    # failed run), so a script does not go on with a rate from it.
    return 0 if result.reliable else common.EXIT_RUNS_FAILED


def _failed(args, dataset, loss_spec, optimizer_spec, error, out):
    """Writes the failure (message and full traceback) to lr_find.json; exit code 1."""
    from keras_lossopt.cli import report
    from keras_lossopt.cli.specs import describe_error

    message, trace = describe_error(error)
    payload = {
        "data": args.data or args.dataset, "task": dataset.task, "loss": loss_spec.label,
        "optimizer": optimizer_spec.label, "batch_size": args.batch_size,
        "suggestion": None, "error": message, "traceback": trace,
    }
    path = os.path.join(args.out, "lr_find.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(report.json_safe(payload), handle, indent=1)
    out.write(f"The learning-rate test failed: {message}\n"
              f"Wrote {path} (with the full traceback)\n")
    return common.EXIT_RUNS_FAILED
