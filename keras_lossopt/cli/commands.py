"""The command table: one row per `keras-lossopt` subcommand.

A row gives the subcommand's name, its one-line help, description and examples,
and the module that implements it. From this table `build_parser` makes the
parser, the help texts with their examples and the top-level examples, and
`main` dispatches to the row's module.

A command module defines `add_arguments(parser)` and `run(args)` (returning the
exit code). The parser imports every command module, and `--help` must answer
without starting a backend, so a command module imports only the standard library
and the light modules of this package (`common`, `specs`, `_errors`) at module
level; the Keras-backed machinery (`engine`, `report`, `data`, `plots`) is imported
inside `run`. `needs_backend=False` marks the commands that answer without Keras
(`list`, `recommend`); the others get Keras and their backend, quietly, before
`run` (see `backend.py`).

Adding a subcommand: write `keras_lossopt/cli/<name>.py` and add its row below.
"""

import argparse
import dataclasses

from keras_lossopt._version import __version__
from keras_lossopt.cli import common, compare, lab, listing, lr_find, plot_losses, recommend

PROG = "keras-lossopt"


@dataclasses.dataclass(frozen=True)
class Command:
    """One subcommand: what `--help` says about it and the module that runs it."""

    name: str
    module: object  # has add_arguments(parser) and run(args)
    help: str
    description: str
    examples: tuple  # command lines after "keras-lossopt "; the first also goes in --help
    note: str = ""  # a paragraph after the examples
    needs_backend: bool = True


COMMANDS = (
    Command(
        "lab", lab, help="the main job: three tasks x losses x optimizers",
        description="Train regression (diabetes), binary (breast cancer) and multiclass "
        "(digits) models with several losses and optimizers, each optimizer with the same "
        "learning-rate budget and several seeds, scored on a held-out test split; write "
        "tables and plots.",
        examples=("lab                                   # about 3 min, results in ./lab-results",
                  "lab --full                            # every loss, 5 rates x 5 seeds",
                  "lab --out /tmp/lab --tasks binary,multiclass --budget 5 --seeds 5",
                  "lab --optimizers adam,rmsprop --epochs 10",
                  "lab --backend jax"),
        note="Protocol: per optimizer, --budget learning rates on a log grid around its\n"
        "default (half a decade apart), the one with the lowest validation loss kept, then\n"
        "--seeds seeds at that rate; the test split is read only for the final score."),
    Command(
        "compare", compare, help="the lab on your own CSV file",
        description="Train one small model per (loss, optimizer) on your CSV and compare them.",
        examples=("compare --data houses.csv --target price --task regression",
                  "compare --data houses.csv --target price --task regression \\\n"
                  "      --losses mse,huber,pseudo_huber --optimizers adam,sgd --epochs 30",
                  "compare --data churn.csv --target churned --task binary  # loss from the guide",
                  "compare --dataset breast_cancer --losses binary_crossentropy,"
                  "binary_focal_crossentropy"),
        note="The CSV needs a header row and numeric feature columns; a categorical target is\n"
        "encoded for you (the encoding is printed). Without --task the task is inferred from\n"
        "the target and printed. When --losses is omitted the loss selection guide picks one."),
    Command(
        "lr-find", lr_find, help="learning-rate range test and plot",
        description="Run the learning-rate finder on a data set and write its plot.",
        examples=("lr-find --dataset digits",
                  "lr-find --data houses.csv --target price --task regression --optimizer sgd")),
    Command(
        "plot-losses", plot_losses, help="loss shapes: each loss and its gradient",
        description="Draw each loss and its gradient from the real implementation: "
        "regression losses against the residual, classification losses against the "
        "probability of the true class, margin losses against the margin.",
        examples=("plot-losses l1,l2,huber --out shapes.png",
                  "plot-losses binary_crossentropy,binary_focal_crossentropy,poly1,hinge "
                  "--out classification.png",
                  "plot-losses huber,pseudo_huber,log_cosh --residual-range -6 6"),
        note="The axis of each loss comes from its registry entry; losses of other inputs\n"
        "(boxes, embeddings, distributions) are refused with the reason."),
    Command(
        "recommend", recommend, help="which loss, activation and metrics to use",
        description="Print the loss selection guide's answer.",
        examples=("recommend --task binary --imbalanced",
                  "recommend --task multiclass --labels integers",
                  "recommend --task regression --outliers"),
        needs_backend=False),
    Command(
        "list", listing, help="registered losses, optimizers and schedules",
        description="List the catalogue with one-line descriptions.",
        examples=("list huber                            # names containing \"huber\"",
                  "list                                  # every loss, optimizer and schedule",
                  "list 'r*' --kind optimizer"),
        needs_backend=False),
)


def find(name):
    """The row of the subcommand `name`."""
    return next(command for command in COMMANDS if command.name == name)


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error and exit code 2 (no usage dump)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _examples(lines, note=""):
    text = "examples:\n" + "".join(f"  {PROG} {line}\n" for line in lines)
    return text + (f"\n{note}\n" if note else "")


def build_parser():
    """The parser of every subcommand, built from `COMMANDS`."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(prog=PROG, description="Compare Keras losses and optimizers on real "
                     "data: tables, plots and a training doctor.",
                     epilog=_examples([c.examples[0] for c in COMMANDS]), formatter_class=fmt)
    common.add_common_options(parser)
    parser.add_argument("--version", action="version", version=f"keras_lossopt {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        sub = subparsers.add_parser(command.name, help=command.help,
                                    description=command.description,
                                    epilog=_examples(command.examples, command.note),
                                    formatter_class=fmt)
        common.add_common_options(sub)
        command.module.add_arguments(sub)
    return parser
