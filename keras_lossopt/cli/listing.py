"""`keras-lossopt list`: the catalogue's names with one-line descriptions, with no backend.

The rows come from `keras_lossopt.cli.catalogue`: the live registry when this
process has imported keras_lossopt, else the definition sites read from source.
"""

import fnmatch
import sys

from keras_lossopt.cli import catalogue

_PLURAL = {"loss": "losses", "optimizer": "optimizers", "schedule": "schedules"}


def add_arguments(parser):
    parser.add_argument("pattern", nargs="?", help="substring or glob of a name")
    parser.add_argument("--kind", choices=(*catalogue.KINDS, "all"), default="all")


def _matches(row, pattern):
    return any(fnmatch.fnmatch(name.lower(), pattern.lower()) for name in row.names)


def run(args, out=None):
    out = out or sys.stdout
    kinds = catalogue.KINDS if args.kind == "all" else (args.kind,)
    pattern = args.pattern or "*"
    if not any(c in pattern for c in "*?["):
        pattern = f"*{pattern}*"
    total = 0
    for kind in kinds:
        found = [row for row in catalogue.rows(kind) if _matches(row, pattern)]
        if not found:
            continue
        total += len(found)
        out.write(f"{_PLURAL[kind]} ({len(found)}):\n")
        width = max(len(row.name) for row in found)
        for row in found:
            origin = "keras" if row.builtin else "ours "
            aliases = f"  [also: {', '.join(row.aliases)}]" if row.aliases else ""
            promise = ", ".join(f"{k}={v!r}" for k, v in row.config.items())
            promise = f"  [names give {promise}]" if promise else ""
            out.write(f"  {row.name:<{width}}  {origin}  {row.summary}{aliases}{promise}\n")
        out.write("\n")
    if not total:
        out.write(f"No registered {'names' if args.kind == 'all' else _PLURAL[args.kind]} "
                  f"match {args.pattern!r}.\n")
        return 1
    return 0
