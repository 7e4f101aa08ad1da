"""Conformance checks for Keras losses and optimizers, yours included.

The checks keras_lossopt runs on every class of its catalogue, as plain functions
you can run on your own classes (in the spirit of scikit-learn's
`check_estimator`): config and serialization round trips, reductions, sample
weights and masks, finite values and gradients at extreme inputs, mixed
precision and fuzzing for losses; config round trips, Keras's base keywords
(weight decay, clipping, EMA, gradient accumulation, loss scaling, schedules),
half-precision variables, robustness, convergence, XLA, sparse updates and mixed
precision for optimizers.

```python
from keras_lossopt import testing

testing.check_optimizer(MyOptimizer)                 # raises ConformanceError on a FAIL
results = testing.check_loss(MyLoss, inputs="binary", raise_on_failure=False)
```

Each check gives a `Result` with status `PASS`, `FAIL` or `NA` ("n.a.", with its
reason: a check that does not apply, or an opt-out written next to the class as
`conformance_opt_outs = {"check id": "reason"}`). A loss's inputs are the family
it is registered with (`register("loss", ..., inputs=...)`), or the `inputs`
argument: a name of `FAMILIES`, a `(logits_family, probabilities_family)` pair,
a sampler `fn(rng, batch) -> (y_true, y_pred)` or a `Family`. The checks run on
the current Keras backend. Importing this module needs only keras and numpy; the
fuzz check uses hypothesis when it is installed (else it is n.a.).

Example:

>>> import keras_lossopt
>>> from keras_lossopt import testing
>>> results = testing.check_loss(keras_lossopt.losses.PseudoHuber, checks=["config"])
>>> [(r.check, r.status) for r in results]
[('config', 'PASS')]
"""

import dataclasses

import keras

from keras_lossopt import registry
from keras_lossopt.testing import losses as _losses
from keras_lossopt.testing import optimizers as _optimizers
from keras_lossopt.testing._core import BUILTIN_REASON, FAIL, NA, PASS, Result
from keras_lossopt.testing.inputs import FAMILIES, Family, family_for

__all__ = [
    "BUILTIN_REASON", "FAIL", "FAMILIES", "LOSS_CHECKS", "NA", "OPTIMIZER_CHECKS", "PASS",
    "ConformanceError", "Family", "Result", "check_loss", "check_optimizer", "entry_for",
    "family_for",
]

# Check id -> (function, runs on Keras's own classes, backends or None, title).
LOSS_CHECKS = _losses.CHECKS
OPTIMIZER_CHECKS = _optimizers.CHECKS
_MODULES = {"loss": _losses, "optimizer": _optimizers}
_BASES = {"loss": (keras.losses.Loss, "keras.losses.Loss"),
          "optimizer": (keras.optimizers.Optimizer, "keras.optimizers.Optimizer")}


class ConformanceError(AssertionError):
    """Raised by `check_loss` / `check_optimizer` when a check FAILs.

    Attributes:
        results: every `Result` of the run.
        failures: the failed ones.
    """

    def __init__(self, results):
        self.results = list(results)
        self.failures = [r for r in self.results if r.status == FAIL]
        super().__init__(
            f"{len(self.failures)} conformance check(s) failed:\n"
            + "\n".join(f"- {r.entry} / {r.check} ({r.backend}): {_first_line(r.reason)}"
                        for r in self.failures)
        )


def _first_line(text):
    return text.splitlines()[0] if text else ""


def entry_for(kind, cls, inputs=None):
    """The registry entry of `cls`, or an unregistered one named after the class.

    `inputs` (losses) replaces the registered inputs (see the module docstring).
    """
    if kind not in _BASES:
        raise ValueError(f"`kind` must be 'loss' or 'optimizer'. Received: kind={kind!r}")
    base, base_name = _BASES[kind]
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise TypeError(f"Expected a subclass of {base_name}. Received: {cls!r}")
    entry = registry.lookup_class(kind, cls)
    if entry is None:
        entry = registry.Entry(kind=kind, name=registry.snake_case(cls.__name__), cls=cls)
    if inputs is not None:
        entry = dataclasses.replace(entry, inputs=inputs)
    return entry


def _run(kind, cls, checks, raise_on_failure, inputs=None):
    table = _MODULES[kind].CHECKS
    checks = list(table) if checks is None else list(checks)
    unknown = [c for c in checks if c not in table]
    if unknown:
        raise ValueError(f"Unknown {kind} check(s) {unknown}; known: {list(table)}. "
                         f"Received: checks={checks!r}")
    entry = entry_for(kind, cls, inputs)
    results = [_MODULES[kind].run(entry, check) for check in checks]
    if raise_on_failure and any(r.status == FAIL for r in results):
        raise ConformanceError(results)
    return results


def check_loss(loss_class, *, inputs=None, checks=None, raise_on_failure=True):
    """Runs the loss checks on `loss_class` (on the current backend).

    Args:
        loss_class: a `keras.losses.Loss` subclass that constructs with no
            arguments.
        inputs: the loss's sample inputs (see the module docstring). Defaults
            to `None`: the registered inputs, else the element-wise default.
        checks: check ids of `LOSS_CHECKS` to run. Defaults to `None` (all).
        raise_on_failure: raise `ConformanceError` when a check FAILs.
            Defaults to `True`.

    Returns:
        The list of `Result`, one per check.
    """
    return _run("loss", loss_class, checks, raise_on_failure, inputs)


def check_optimizer(optimizer_class, *, checks=None, raise_on_failure=True):
    """Runs the optimizer checks on `optimizer_class` (on the current backend).

    Args:
        optimizer_class: a `keras.optimizers.Optimizer` subclass that constructs
            with no arguments.
        checks: check ids of `OPTIMIZER_CHECKS` to run. Defaults to `None` (all).
        raise_on_failure: raise `ConformanceError` when a check FAILs.
            Defaults to `True`.

    Returns:
        The list of `Result`, one per check.
    """
    return _run("optimizer", optimizer_class, checks, raise_on_failure)
