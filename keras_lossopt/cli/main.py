"""`keras-lossopt` (also `python -m keras_lossopt`): parse, start Keras if needed, dispatch.

The subcommands and their options are in `commands.COMMANDS`. `main(argv)`
returns the exit code: 0 success, 1 some run failed (`lab`, `compare`,
`lr-find`: the count is printed, each traceback kept in report.json or
lr_find.json) or nothing found (`list`), 2 bad input (one line on stderr, never
a traceback), 130 interrupted with Ctrl-C (finished runs are kept). Arguments are parsed before Keras is imported; `list`, `recommend`,
`--help` and `--version` never import it.
"""

import sys

from keras_lossopt.cli import backend, commands, common
from keras_lossopt.cli._errors import CLIError


def main(argv=None, *, load_package=None):
    """Entry point of `keras-lossopt`; returns the exit code.

    `load_package` is the console script's hook that runs the package
    `__init__` files it deferred (see `keras_lossopt_launcher`).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = commands.build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version and argparse errors
        return exit_.code if isinstance(exit_.code, int) else 2
    if args.command is None:
        parser.print_help()
        return 0
    command = commands.find(args.command)
    try:
        if command.needs_backend:
            code = backend.prepare(args, argv, load_package)
            if code is not None:
                return code
            common.import_modules(args)  # --import: the user's registered names
        return command.module.run(args)
    except CLIError as error:
        sys.stdout.flush()
        sys.stderr.write(f"{commands.PROG} {args.command}: error: {error}\n")
        return error.exit_code
    except KeyboardInterrupt:
        sys.stderr.write(f"{commands.PROG} {args.command}: interrupted\n")
        return 130
