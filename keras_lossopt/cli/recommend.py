"""`keras-lossopt recommend`: the loss selection guide's answer, with no backend.

`keras_lossopt.doctor.recommend` works on names and imports Keras only to build
a loss instance, which this command never asks for.
"""

import sys

from keras_lossopt.cli._errors import CLIError
from keras_lossopt.doctor.recommend import LABELS, TASKS, recommend


def add_arguments(parser):
    parser.add_argument("--task", required=True, choices=TASKS)
    parser.add_argument("--labels", choices=[label for label in LABELS if label is not None])
    parser.add_argument("--outliers", action="store_true", help="the target has outliers")
    parser.add_argument("--imbalanced", action="store_true", help="rare classes matter")
    parser.add_argument("--from-logits", action="store_true",
                        help="a linear output layer and a loss on logits")


def run(args, out=None):
    out = out or sys.stdout
    try:
        rec = recommend(args.task, labels=args.labels, outliers=args.outliers,
                        imbalanced=args.imbalanced, from_logits=args.from_logits)
    except ValueError as error:
        raise CLIError(str(error).splitlines()[0]) from error
    out.write(rec.table().rstrip() + "\n\n")
    out.write(f"loss:        {rec.loss_name}"
              f"{' (from_logits=True)' if rec.from_logits else ''}\n")
    out.write(f"output:      {rec.activation} activation\n")
    out.write(f"metrics:     {', '.join(rec.metrics)}\n")
    if rec.alternatives:
        out.write(f"also fine:   {', '.join(rec.alternatives)}\n")
    out.write(f"why:         {rec.why}\n")
    return 0
