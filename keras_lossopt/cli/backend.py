"""Starting Keras for the commands that train: the backend, and a quiet start-up.

Keras picks its backend once, when it is imported. A fresh `keras-lossopt`
process has not imported it yet, so `--backend` only sets `KERAS_BACKEND`; when
Keras is already imported on another backend (`main()` called from Python), the
command runs again in a fresh process.

TensorFlow prints its start-up lines (cuda, cpu_feature_guard, oneDNN, "All log
messages before absl::InitializeLog()") straight to file descriptor 2 while its
libraries load, before any log setting applies, and Keras imports TensorFlow,
when it is installed, on every backend (`keras.utils.set_random_seed` seeds it).
So, unless `-v` is given, a fresh process sets `TF_CPP_MIN_LOG_LEVEL=3` (when the
user has not set it), lowers TensorFlow's and JAX's Python loggers to errors, and
imports keras_lossopt and TensorFlow with fd 2 pointed at a temporary file, which
is replayed if the import fails.
"""

import contextlib
import importlib.util
import logging
import os
import subprocess
import sys
import tempfile

from keras_lossopt.cli._errors import CLIError

_REEXEC_FLAG = "KERAS_LOSSOPT_CLI_BACKEND_SWITCHED"
LAUNCHER = "keras_lossopt_launcher"  # the console script's module (repository root)
_NOISY_LOGGERS = ("tensorflow", "jax._src.xla_bridge")


def prepare(args, argv, load_package=None):
    """Imports keras_lossopt on the backend `args` asks for.

    `load_package` runs the package `__init__` files the console script deferred
    (see `keras_lossopt_launcher`). Returns None when the command can run in this
    process, else the exit code of the fresh process that ran it.
    """
    fresh = "keras" not in sys.modules
    quiet = fresh and not args.verbose
    if fresh and args.backend:
        os.environ["KERAS_BACKEND"] = args.backend
    if quiet:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        for name in _NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
    with _stderr_hidden(quiet):
        if load_package is not None:
            load_package()
        import keras_lossopt  # noqa: F401  (registers every name; a no-op if imported)

        if quiet and importlib.util.find_spec("tensorflow") is not None:
            import tensorflow  # noqa: F401  (Keras would import it mid-run, noisily)
    import keras

    if args.backend and args.backend != keras.backend.backend():
        return _switch_backend(args.backend, argv)
    return None


def _switch_backend(backend, argv):
    """Re-runs the command in a fresh process on `backend`."""
    if os.environ.get(_REEXEC_FLAG):
        raise CLIError(f"Could not switch the Keras backend to {backend!r}.")
    env = dict(os.environ, KERAS_BACKEND=backend, **{_REEXEC_FLAG: "1"})
    return subprocess.call([sys.executable, "-m", LAUNCHER, *argv], env=env)


@contextlib.contextmanager
def _stderr_hidden(active):
    """While active, file descriptor 2 writes to a temporary file; replayed on error."""
    try:
        saved = os.dup(2) if active else None
    except OSError:  # no usable fd 2 (a detached process): nothing to hide
        saved = None
    if saved is None:
        yield
        return
    with tempfile.TemporaryFile() as capture:
        sys.stderr.flush()
        os.dup2(capture.fileno(), 2)
        try:
            yield
        except BaseException:
            sys.stderr.flush()
            os.dup2(saved, 2)
            capture.seek(0)
            os.write(2, capture.read())
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
