"""The `keras-lossopt` console script: the command line, before Keras is imported.

`import keras_lossopt` registers every loss and optimizer, so it imports Keras
and its backend (TensorFlow: 5-10 s and several lines of log output). Python
runs a package's `__init__.py` before any module inside it, so a console script
inside the package could not parse its arguments, print `--help` or answer
`list` and `recommend` without paying for that. This module, outside the package,
creates the `keras_lossopt` and `keras_lossopt.doctor` package modules without
running their `__init__.py` (the modules the command line needs import neither
Keras nor numpy), and hands `keras_lossopt.cli.main.main` a `load_package` hook
that runs those files, innermost first, before a command that trains imports
anything else. In a process that has already imported keras_lossopt, nothing is
deferred.

Also `python -m keras_lossopt_launcher ...`; `python -m keras_lossopt ...` works
too, but imports the whole package first.
"""

import importlib.util
import sys

# Packages whose __init__ imports Keras, above the modules the command line uses.
DEFERRED = ("keras_lossopt", "keras_lossopt.doctor")


def _defer_package_inits():
    """Creates the packages of `DEFERRED` without running them; returns them."""
    deferred = []
    for name in DEFERRED:
        spec = importlib.util.find_spec(name)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)
        deferred.append(module)
    return deferred


def main(argv=None):
    """Runs the command line; returns its exit code."""
    deferred = [] if "keras_lossopt" in sys.modules else _defer_package_inits()

    def load_package():
        while deferred:
            module = deferred.pop()
            module.__spec__.loader.exec_module(module)

    from keras_lossopt.cli.main import main as cli_main

    return cli_main(argv, load_package=load_package)


if __name__ == "__main__":
    sys.exit(main())
