"""Results, opt-outs and the numeric assertions the conformance checks share."""

import dataclasses
import time
import traceback

import numpy as np

PASS, FAIL, NA = "PASS", "FAIL", "n.a."
BUILTIN_REASON = "Keras's own class; covered by Keras's tests"


def backend():
    import keras

    return keras.backend.backend()


@dataclasses.dataclass
class Result:
    """The outcome of one check on one class on one backend.

    Attributes:
        kind: `"loss"` or `"optimizer"`.
        entry: the registered name of the class checked.
        check: the check id (a key of `LOSS_CHECKS` / `OPTIMIZER_CHECKS`).
        backend: the Keras backend it ran on.
        status: `PASS`, `FAIL` or `NA` (`"n.a."`, with the reason).
        reason: why it failed or does not apply; a remark on a PASS.
        numbers: arrays the check computed (for cross-backend comparisons).
        seconds: how long the check took.
    """

    kind: str
    entry: str
    check: str
    backend: str
    status: str
    reason: str = ""
    numbers: dict = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self):
        return dataclasses.asdict(self)


class CheckFailed(AssertionError):
    """Raised inside a check; becomes a FAIL with this message."""


class NotApplicable(Exception):
    """Raised inside a check; becomes an n.a. with this message as the reason."""


def require(condition, message):
    if not condition:
        raise CheckFailed(message)


def opt_out_reason(entry, check_id, central):
    """The opt-out reason for `check_id` of `entry`, or None.

    Looked up in the class attribute `conformance_opt_outs` (a dict check id ->
    reason, written next to the class) and then in the central table of the
    checks (for Keras's own classes and classes we do not own); a central key may
    end with a backend name to opt out on that backend only.
    """
    # Only the class's own attribute: opt-outs are not inherited.
    own = entry.cls.__dict__.get("conformance_opt_outs", None) or {}
    return (own.get(check_id) or central.get((entry.kind, entry.name, check_id))
            # A central row may name one backend: (kind, name, check, backend).
            or central.get((entry.kind, entry.name, check_id, backend())))


def run_check(entry, check_id, fn, *, central_opt_outs, builtin_ok=True, backends=None):
    """Runs `fn(entry) -> numbers dict` and returns its `Result`.

    `builtin_ok=False` skips Keras's own classes; `backends` restricts the
    backends the check applies to.
    """
    start = time.perf_counter()
    be = backend()
    status, reason, numbers = PASS, "", {}
    opt_out = opt_out_reason(entry, check_id, central_opt_outs)
    if opt_out:
        status, reason = NA, f"opt-out: {opt_out}"
    elif entry.builtin and not builtin_ok:
        status, reason = NA, BUILTIN_REASON
    elif backends is not None and be not in backends:
        status, reason = NA, f"{'/'.join(backends)} only"
    else:
        try:
            numbers = fn(entry) or {}
            if isinstance(numbers, tuple):  # (numbers, note): a PASS with a remark
                numbers, reason = numbers
        except NotApplicable as e:
            status, reason = NA, str(e)
        except CheckFailed as e:
            status, reason = FAIL, str(e)
        except Exception as e:  # noqa: BLE001 - any crash is a failure to report
            tb = traceback.format_exc(limit=-3)
            status, reason = FAIL, f"{type(e).__name__}: {e}"[:600] + "\n" + tb[-1500:]
    return Result(entry.kind, entry.name, check_id, be, status, reason, plain(numbers),
                  time.perf_counter() - start)


def plain(numbers):
    """`{key: list of floats}`: the JSON-ready form of a check's numbers."""
    return {k: [float(x) for x in np.ravel(np.asarray(v, dtype="float64"))]
            for k, v in numbers.items()}


# --- numeric assertions ------------------------------------------------------------


def to_numpy(x):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(x))


def assert_close(actual, expected, what, rtol=1e-5, atol=1e-6):
    actual = [np.asarray(a, "float64") for a in actual]
    expected = [np.asarray(e, "float64") for e in expected]
    for a, e in zip(actual, expected):
        require(a.shape == e.shape, f"{what}: shapes differ {a.shape} vs {e.shape}")
        bad = np.abs(a - e) > atol + rtol * np.abs(e)
        if bad.any() or not np.isfinite(a).all():
            raise CheckFailed(
                f"{what}: max |diff| = {np.nanmax(np.abs(a - e)):.3g} "
                f"(rtol={rtol}, atol={atol}); got {a.ravel()[:4]}, expected {e.ravel()[:4]}"
            )


def assert_finite(arrays, what):
    for a in arrays:
        a = np.asarray(a, "float64")
        require(np.isfinite(a).all(), f"{what}: non-finite values {a.ravel()[:6]}")
