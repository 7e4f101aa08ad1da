"""`keras-lossopt plot-losses`: loss shapes (value and gradient) drawn from the losses themselves.

A front end to `keras_lossopt.plot_losses`: regression losses against the residual,
classification losses against the probability of the true class, margin losses
against the margin, each axis chosen from the loss's registry entry.
"""

import os
import sys

from keras_lossopt.cli import common
from keras_lossopt.cli._errors import CLIError

_AGAINST = {"residual": "the residual", "probability": "the probability of the true class",
            "margin": "the margin"}


def add_arguments(parser):
    parser.add_argument("losses", metavar="LOSSES",
                        help="comma-separated registered loss names, e.g. l1,l2,huber")
    parser.add_argument("--out", default="loss_shapes.png",
                        help="image file to write (.png, .svg, .pdf; default loss_shapes.png)")
    parser.add_argument("--title", help="figure title (default none)")
    parser.add_argument("--points", type=int, default=201, help="grid points per axis (default 201)")
    parser.add_argument("--residual-range", type=float, nargs=2, metavar=("LOW", "HIGH"),
                        default=(-3.0, 3.0), help="residual axis (default -3 3)")
    parser.add_argument("--probability-range", type=float, nargs=2, metavar=("LOW", "HIGH"),
                        default=(0.01, 0.99), help="probability axis, inside (0, 1) "
                        "(default 0.01 0.99)")
    parser.add_argument("--margin-range", type=float, nargs=2, metavar=("LOW", "HIGH"),
                        default=(-2.0, 3.0), help="margin axis (default -2 3)")
    parser.add_argument("--num-classes", type=int, default=3,
                        help="classes of the multi-class inputs (default 3)")
    common.add_import_option(parser)


def run(args, out=None):
    from keras_lossopt import plotting
    from keras_lossopt.cli import plots

    out = out or sys.stdout
    names = common.parse_list(args.losses, "LOSSES")
    plots.check_matplotlib()
    folder = os.path.dirname(args.out)
    if folder and not os.path.isdir(folder):
        raise CLIError(f"--out: the folder {folder!r} does not exist. Received: --out={args.out}")
    try:
        shapes = plotting.loss_shapes(
            names, points=args.points, residual_range=tuple(args.residual_range),
            probability_range=tuple(args.probability_range),
            margin_range=tuple(args.margin_range), num_classes=args.num_classes)
    except ValueError as error:  # unknown names (with suggestions), unplottable losses
        raise CLIError(_option_names(str(error).splitlines()[0])) from error
    try:
        plotting.plot_shapes(shapes, args.out, title=args.title)
    except (OSError, ValueError) as error:  # unwritable file, unknown image format
        raise CLIError(f"--out: cannot write {args.out!r}: {error}") from error
    for axis in plotting.AXES:  # the figure's rows, top to bottom
        labels = [shape.label for shape in shapes if shape.axis == axis]
        if not labels:
            continue
        out.write(f"{plotting.AXES[axis][1]} against {_AGAINST[axis]}: {', '.join(labels)}\n")
    out.write(f"Wrote {args.out}\n")
    return 0


def _option_names(message):
    """The Python argument names in `loss_shapes`' messages as this command's options."""
    for argument in ("points", "residual_range", "probability_range", "margin_range",
                     "num_classes"):
        option = "--" + argument.replace("_", "-")
        message = message.replace(f"`{argument}`", option).replace(f"{argument}=", f"{option}=")
    return message
