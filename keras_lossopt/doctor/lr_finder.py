"""Learning-rate range test (Smith 2017; fastai's `lr_find`) for any Keras 3 model.

The learning rate grows exponentially from `start_lr` to `end_lr`, one step per
batch; the batch losses are smoothed with a debiased exponential moving average;
the test stops when the smoothed loss exceeds `diverge_factor` times the best one
(or is NaN); then the model's weights and the optimizer's state are restored
exactly. The suggestions are computed from the smoothed curve.
"""

import math
import warnings

import keras
import numpy as np

from keras_lossopt import _checks, _keras_compat
from keras_lossopt.doctor._curves import RunningMeanRecovery, smooth_losses
from keras_lossopt.doctor.checker import _to_numpy

__all__ = [
    "LRFinder",
    "LRFinderResult",
    "LRFinderWarning",
    "find_learning_rate",
    "suggest_learning_rates",
    "smooth_losses",
]

METHODS = ("valley", "steep", "minimum")
# The default suggestion, chosen from benchmarks/lr_finder_accuracy.py (6 data sets x
# Adam/SGD x 2 seeds against swept short-training learning rates; benchmarks/README.md):
# "minimum" landed within 3x of the best swept rate in 14/24 runs and within 10x in
# 20/24, "valley" in 7/24 and 17/24 (the smoothing lags the curve, so the valley sits
# early), "steep" in 7/24 and 16/24 (start-up noise on the flat part).
DEFAULT_METHOD = "minimum"


class LRFinderWarning(UserWarning):
    """The range test gives no trustworthy suggestion (see `LRFinderResult.reason`)."""


# --- Pure functions on the recorded curve ----------------------------------------------


def exponential_lrs(start_lr, end_lr, num_steps):
    """`start_lr * (end_lr / start_lr) ** (i / (num_steps - 1))` for i = 0..num_steps-1."""
    if num_steps == 1:
        return np.array([float(start_lr)])
    i = np.arange(num_steps, dtype="float64")
    return start_lr * (end_lr / start_lr) ** (i / (num_steps - 1))


def _valley_index(losses):
    """Index in the longest strictly decreasing subsequence's valley (fastai "valley").

    Finds the longest decreasing subsequence of the curve and returns the point a
    half of the way into its middle third (Mueller, fastai 2.4 `valley`).
    """
    n = len(losses)
    if n < 2:
        return 0
    losses = np.asarray(losses)
    length = np.ones(n, dtype=int)
    for i in range(1, n):
        smaller = losses[:i] > losses[i]
        if smaller.any():
            length[i] = length[:i][smaller].max() + 1
    end = int(np.argmax(length))  # first index reaching the maximal length
    start = end - int(length[end])
    third = (end - start) / 3.0
    return int(min(max(start + int(third) + int(third / 2), 0), n - 1))


def suggest_learning_rates(lrs, losses, skip_start=None, skip_end=None):
    """The three suggestions from a smoothed range-test curve.

    - "valley": the point halfway into the middle third of the longest valley
      (longest decreasing run, allowing bumps) of the curve;
    - "steep": the learning rate where the loss falls fastest (most negative
      d loss / d log lr);
    - "minimum": the learning rate of the lowest loss, divided by 10 (the
      `LRFinderResult` default, `DEFAULT_METHOD`).

    The first `skip_start` (default: 10% of the points) and last `skip_end`
    (default: 5) points are left out, as are non-finite losses.

    Example:

    >>> import numpy as np
    >>> from keras_lossopt.doctor.lr_finder import suggest_learning_rates
    >>> lrs = np.logspace(-4, 0, 9)
    >>> losses = np.array([1.0, 0.99, 0.9, 0.6, 0.3, 0.2, 0.25, 0.8, 3.0])
    >>> {k: float(f"{v:.2g}") for k, v in suggest_learning_rates(lrs, losses, 0, 0).items()}
    {'valley': 0.01, 'steep': 0.01, 'minimum': 0.01}
    """
    lrs = np.asarray(lrs, dtype="float64")
    losses = np.asarray(losses, dtype="float64")
    n = len(losses)
    if skip_start is None:
        skip_start = n // 10
    if skip_end is None:
        skip_end = 5 if n > 20 else 0
    stop = n - skip_end if n - skip_end > skip_start + 1 else n
    start = skip_start if stop - skip_start >= 2 else 0
    lrs, losses = lrs[start:stop], losses[start:stop]
    keep = np.isfinite(losses)
    lrs, losses = lrs[keep], losses[keep]
    if len(losses) == 0:
        return {m: float("nan") for m in METHODS}
    if len(losses) < 3:
        best = float(lrs[int(np.argmin(losses))])
        return {"valley": best, "steep": best, "minimum": best / 10.0}
    slopes = np.gradient(losses, np.log(lrs))
    return {
        "valley": float(lrs[_valley_index(losses)]),
        "steep": float(lrs[int(np.argmin(slopes))]),
        "minimum": float(lrs[int(np.argmin(losses))]) / 10.0,
    }


def rise_index(losses):
    """Index of the smoothed curve's lowest finite point: where the loss starts to rise.

    No suggestion may lie at or beyond it. -1 when no point is finite.
    """
    losses = np.asarray(losses, dtype="float64")
    finite = np.isfinite(losses)
    if not finite.any():
        return -1
    return int(np.argmin(np.where(finite, losses, np.inf)))


def reliability(lrs, losses, min_points=5, min_drop=0.05):
    """`(reliable, reason)` of a smoothed range-test curve.

    Unreliable when the loss is lowest within the first `min_points` points and
    then rises by more than `min_drop` (the range starts too high: the curve has no
    falling part to read), or when it never falls `min_drop` (a fraction of the
    first loss) below its start (the range is too low, or the model does not learn).
    """
    lrs = np.asarray(lrs, dtype="float64")
    losses = np.asarray(losses, dtype="float64")
    rise = rise_index(losses)
    if rise < 0:
        return False, "no finite loss was recorded."
    start = losses[np.isfinite(losses)][0]
    peak_after = np.nanmax(np.where(np.isfinite(losses), losses, np.inf)[rise:])
    rose = peak_after - losses[rise] > min_drop * max(abs(losses[rise]), 1e-12)
    if rise < min_points and rose:
        return False, (
            f"the loss rose from the start of the range: it was lowest at {lrs[rise]:.3g} "
            f"(point {rise + 1} of {len(losses)}), so no tested rate is safe; "
            f"rerun with a start_lr well below {lrs[0]:.3g}.")
    drop = (start - losses[rise]) / max(abs(start), 1e-12)
    if drop < min_drop:
        return False, (
            f"the loss never fell more than {min_drop:.0%} below its start ({drop:.1%} "
            f"at best) between {lrs[0]:.3g} and {lrs[-1]:.3g}; widen the range or check "
            "that the model learns.")
    return True, None


def _suggest_below_rise(lrs, losses, rise, skip_start, skip_end):
    """`suggest_learning_rates` on the curve before `rise`; "minimum" = lrs[rise] / 10."""
    if rise < 2:
        return {m: float("nan") for m in METHODS}
    n = len(losses)
    if skip_start is None:
        skip_start = n // 10
    skip_start = min(skip_start, max(rise - 2, 0))
    # The points past the rise (the blow-up skip_end guards against) are cut already.
    out = suggest_learning_rates(lrs[:rise], losses[:rise], skip_start, 0)
    out["minimum"] = float(lrs[rise]) / 10.0
    return out


class LRFinderResult:
    """What the learning-rate range test measured, and its suggestions.

    Every suggestion lies below `rise_lr`, the learning rate at which the smoothed
    loss was lowest and started to rise: "valley" and "steep" are read from the
    curve before that point, "minimum" is `rise_lr / 10`. When the curve has no
    falling part to read (see `reliability`), `reliable` is False, `reason` says
    why, and every suggestion is NaN if no point lies before the rise.

    Attributes:
        lrs: learning rate of each recorded step (numpy array).
        losses: debiased-EMA smoothed losses.
        raw_losses: the batch losses.
        suggestions: `{"valley": lr, "steep": lr, "minimum": lr}`.
        suggestion: the suggestion of `method` (`DEFAULT_METHOD` unless asked
            otherwise).
        diverged: whether the test stopped early because the loss blew up.
        rise_lr: the learning rate where the smoothed loss started to rise.
        reliable: whether the curve supports a suggestion.
        reason: why not (None when reliable).
    """

    def __init__(self, lrs, raw_losses, beta=0.98, method=DEFAULT_METHOD, diverged=False,
                 skip_start=None, skip_end=None):
        _checks.check_choice("method", method, METHODS)
        self.lrs = np.asarray(lrs, dtype="float64")
        self.raw_losses = np.asarray(raw_losses, dtype="float64")
        self.losses = smooth_losses(self.raw_losses, beta)
        self.method = method
        self.diverged = bool(diverged)
        rise = rise_index(self.losses)
        self.rise_lr = float(self.lrs[rise]) if rise >= 0 else float("nan")
        self.reliable, self.reason = reliability(self.lrs, self.losses)
        self.suggestions = _suggest_below_rise(self.lrs, self.losses, rise, skip_start,
                                               skip_end)
        self.suggestion = self.suggestions[method]
        # The range asked for (the test may stop early); the plot shows all of it.
        self.planned_range = (float(self.lrs[0]), float(self.lrs[-1])) if len(self.lrs) \
            else (float("nan"), float("nan"))

    @property
    def num_steps(self):
        return len(self.lrs)

    def plot(self, path=None, ax=None, show_raw=True):
        """Loss against learning rate (log scale), suggestions marked; needs matplotlib."""
        from keras_lossopt.doctor.plotting import plot_lr_finder

        return plot_lr_finder(self, path=path, ax=ax, show_raw=show_raw)

    def to_dict(self):
        """JSON-serializable summary."""

        def number(v):
            return float(v) if np.isfinite(v) else None

        return {
            "lrs": [number(v) for v in self.lrs],
            "losses": [number(v) for v in self.losses],
            "raw_losses": [number(v) for v in self.raw_losses],
            "suggestion": number(self.suggestion),
            "suggestions": {k: number(v) for k, v in self.suggestions.items()},
            "method": self.method,
            "diverged": self.diverged,
            "reliable": self.reliable,
            "reason": self.reason,
            "rise_lr": number(self.rise_lr),
        }

    def warn_if_unreliable(self, stacklevel=3):
        """Issues an `LRFinderWarning` with the reason when the result is unreliable."""
        if not self.reliable:
            warnings.warn(f"The learning-rate range test gives no reliable suggestion: "
                          f"{self.reason}", LRFinderWarning, stacklevel=stacklevel)

    def __repr__(self):
        sug = ", ".join(f"{k}={v:.3g}" for k, v in self.suggestions.items())
        return (f"LRFinderResult(steps={self.num_steps}, suggestion={self.suggestion:.3g}, "
                f"{sug}, diverged={self.diverged}, reliable={self.reliable})")


# --- Driving an optimizer's learning rate ----------------------------------------------


class _RangeSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The range-test learning rate as a function of the optimizer's iteration."""

    def __init__(self, start_lr, end_lr, num_steps, offset):
        self.start_lr = float(start_lr)
        self.log_ratio = math.log(end_lr / start_lr)
        self.denominator = float(max(num_steps - 1, 1))
        self.offset = float(offset)

    def __call__(self, step):
        i = keras.ops.cast(step, "float32") - self.offset
        return self.start_lr * keras.ops.exp(i / self.denominator * self.log_ratio)

    def get_config(self):  # never saved; present for completeness
        return {}


class _State:
    """Snapshot and exact restore of model variables and optimizer state."""

    def __init__(self, model):
        self.model = model
        self.optimizer = model.optimizer
        self.model_values = [np.array(_keras_compat.to_numpy(v)) for v in model.variables]
        self.optimizer_values = [
            np.array(_keras_compat.to_numpy(v)) for v in self.optimizer.variables
        ]

    def restore(self):
        for var, value in zip(self.model.variables, self.model_values):
            var.assign(value)
        for var, value in zip(self.optimizer.variables, self.optimizer_values):
            var.assign(value)


class _RangeTest:
    """Learning-rate control, recording and the divergence rule, shared by both APIs."""

    def __init__(self, start_lr, end_lr, num_steps, beta, diverge_factor, stop_on_divergence):
        self.lrs = exponential_lrs(start_lr, end_lr, num_steps)
        self.start_lr, self.end_lr, self.num_steps = start_lr, end_lr, num_steps
        self.beta = beta
        self.diverge_factor = diverge_factor
        self.stop_on_divergence = stop_on_divergence
        self.raw = []
        self.avg = 0.0
        self.best = math.inf
        self.diverged = False
        self.schedule_swapped = None

    def begin(self, model):
        """Puts the optimizer under the range test's control."""
        optimizer = model.optimizer
        current = getattr(optimizer, "_learning_rate", None)
        if isinstance(current, keras.Variable):
            self.schedule_swapped = None
        else:  # a LearningRateSchedule or callable: swap a range schedule in
            self.schedule_swapped = current
            offset = int(_keras_compat.to_numpy(optimizer.iterations))
            optimizer.learning_rate = _RangeSchedule(
                self.start_lr, self.end_lr, self.num_steps, offset)
            model.make_train_function(force=True)

    def set_lr(self, model, step, sync_jax=False):
        if self.schedule_swapped is not None:
            return
        if sync_jax and hasattr(model, "jax_state_sync"):
            model.jax_state_sync()  # JAX keeps the state outside the variables in fit
        model.optimizer.learning_rate = float(self.lrs[step])

    def end(self, model):
        if self.schedule_swapped is not None:
            model.optimizer.learning_rate = self.schedule_swapped
            model.make_train_function(force=True)
            self.schedule_swapped = None

    def record(self, loss):
        """Records one batch loss; returns True when the test should stop."""
        loss = float(loss)
        i = len(self.raw)
        self.raw.append(loss)
        self.avg = self.beta * self.avg + (1.0 - self.beta) * loss
        smoothed = self.avg / (1.0 - self.beta ** (i + 1))
        if not math.isfinite(smoothed) or (i > 0 and smoothed > self.diverge_factor * self.best):
            self.diverged = True
            return self.stop_on_divergence or len(self.raw) >= self.num_steps
        self.best = min(self.best, smoothed)
        return len(self.raw) >= self.num_steps

    def result(self, method, skip_start=None, skip_end=None):
        n = len(self.raw)
        result = LRFinderResult(self.lrs[:n], self.raw, beta=self.beta, method=method,
                                diverged=self.diverged, skip_start=skip_start,
                                skip_end=skip_end)
        result.planned_range = (self.start_lr, self.end_lr)
        return result


def _check_args(start_lr, end_lr, num_steps, smoothing, diverge_factor, method):
    _checks.check_positive("start_lr", start_lr)
    _checks.check_positive("end_lr", end_lr)
    if end_lr <= start_lr:
        raise ValueError(
            f"`end_lr` must be > start_lr={start_lr!r}. Received: end_lr={end_lr!r}")
    num_steps = _checks.check_positive_int("num_steps", num_steps)
    if num_steps < 2:
        raise ValueError(f"`num_steps` must be >= 2. Received: num_steps={num_steps!r}")
    _checks.check_beta("smoothing", smoothing)
    _checks.check_real("diverge_factor", diverge_factor, low=1, low_inclusive=False)
    _checks.check_choice("method", method, METHODS)
    return num_steps


# --- The callback ----------------------------------------------------------------------


class LRFinder(keras.callbacks.Callback):
    """Callback form of the learning-rate range test: `model.fit(..., callbacks=[finder])`.

    Use `keras_lossopt.find_learning_rate` when you can: it drives the batches
    itself and records the exact batch losses. Inside `fit`, Keras 3 reports the
    running mean of the epoch's loss, so this callback recovers each batch loss as
    `k * mean_k - (k - 1) * mean_{k-1}` (exact for equal batch sizes; the last,
    smaller batch of an epoch is approximate). Give `fit` enough epochs/steps for
    `num_steps` batches; the callback stops training after `num_steps` batches or
    on divergence, then restores weights and optimizer state (`restore=True`).
    The result is in `finder.result` after `fit`.

    Args:
        start_lr: first learning rate. Defaults to `1e-7`.
        end_lr: last learning rate. Defaults to `10.0`.
        num_steps: number of batches of the test. Defaults to `100`.
        smoothing: EMA factor `beta` of the loss smoothing. Defaults to `0.98`.
        diverge_factor: stop when the smoothed loss exceeds this times the best.
            Defaults to `4.0`.
        method: which suggestion `result.suggestion` is. Defaults to `"minimum"`.
        restore: restore weights and optimizer state at the end. Defaults to `True`.
        stop_on_divergence: stop training on divergence. Defaults to `True`.

    Example:

    >>> import numpy as np, keras, keras_lossopt
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> finder = keras_lossopt.callbacks.LRFinder(num_steps=5)
    >>> _ = model.fit(np.ones((20, 2)), np.ones((20, 1)), batch_size=4, epochs=5,
    ...               callbacks=[finder], verbose=0)
    >>> len(finder.result.lrs)
    5
    """

    def __init__(self, start_lr=1e-7, end_lr=10.0, num_steps=100, smoothing=0.98,
                 diverge_factor=4.0, method=DEFAULT_METHOD, restore=True, stop_on_divergence=True):
        super().__init__()
        self.num_steps = _check_args(start_lr, end_lr, num_steps, smoothing,
                                     diverge_factor, method)
        self.start_lr, self.end_lr = float(start_lr), float(end_lr)
        self.smoothing, self.diverge_factor = float(smoothing), float(diverge_factor)
        self.method, self.restore = method, bool(restore)
        self.stop_on_divergence = bool(stop_on_divergence)
        self.result = None

    def on_train_begin(self, logs=None):
        self._test = _RangeTest(self.start_lr, self.end_lr, self.num_steps, self.smoothing,
                                self.diverge_factor, self.stop_on_divergence)
        self._state = _State(self.model) if self.restore else None
        self._test.begin(self.model)
        self._recovery = RunningMeanRecovery()
        self._done = False

    def on_epoch_begin(self, epoch, logs=None):
        self._recovery.reset()

    def on_train_batch_begin(self, batch, logs=None):
        if not self._done:
            self._test.set_lr(self.model, len(self._test.raw), sync_jax=True)

    def on_train_batch_end(self, batch, logs=None):
        if self._done or not logs or "loss" not in logs:
            return
        loss = self._recovery.add(batch + 1, float(logs["loss"]))
        if self._test.record(loss):
            self._done = True
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self._test.end(self.model)
        if self._state is not None:
            self._state.restore()
        self.result = self._test.result(self.method)
        self.result.warn_if_unreliable()


# --- The function ----------------------------------------------------------------------


def _batch_stream(x, y, sample_weight, batch_size, shuffle, seed):
    """Yields training batches forever (or until a one-shot iterator is exhausted)."""
    is_array = y is not None or isinstance(x, np.ndarray) or (
        hasattr(x, "shape") and not hasattr(x, "element_spec"))
    if is_array or isinstance(x, dict):
        xs = keras.tree.map_structure(_to_numpy, x)
        ys = None if y is None else keras.tree.map_structure(_to_numpy, y)
        ws = None if sample_weight is None else _to_numpy(sample_weight)
        n = len(keras.tree.flatten(xs)[0])
        size = min(batch_size, n)
        rng = np.random.default_rng(seed)
        while True:
            order = rng.permutation(n) if shuffle else np.arange(n)
            for begin in range(0, n - size + 1, size):
                idx = order[begin:begin + size]
                xb = keras.tree.map_structure(lambda a, idx=idx: a[idx], xs)
                yb = None if ys is None else keras.tree.map_structure(
                    lambda a, idx=idx: a[idx], ys)
                yield (xb, yb, None if ws is None else ws[idx])
    if isinstance(x, keras.utils.PyDataset):
        while True:
            for i in range(len(x)):
                yield _split(x[i])
    if hasattr(x, "element_spec"):  # tf.data.Dataset
        while True:
            empty = True
            for item in x.as_numpy_iterator():
                empty = False
                yield _split(item)
            if empty:
                return
    if iter(x) is x:  # a one-shot iterator or generator
        for item in x:
            yield _split(item)
        return
    while True:  # a re-iterable (list of batches, torch DataLoader, ...)
        empty = True
        for item in x:
            empty = False
            yield _split(item)
        if empty:
            return


def _split(item):
    item = keras.tree.map_structure(_to_numpy, item)
    if isinstance(item, (tuple, list)):
        item = tuple(item) + (None,) * (3 - len(item))
        return item[:3]
    return (item, None, None)


def find_learning_rate(model, x, y=None, batch_size=32, start_lr=1e-7, end_lr=10.0,
                       num_steps=100, smoothing=0.98, diverge_factor=4.0, method=DEFAULT_METHOD,
                       sample_weight=None, shuffle=True, seed=None, stop_on_divergence=True,
                       skip_start=None, skip_end=None):
    """Learning-rate range test: suggests a learning rate for a compiled model.

    Trains one batch per learning rate, growing it exponentially from
    `start_lr` to `end_lr` over `num_steps` batches, records the batch losses,
    smooths them with a debiased exponential moving average and stops early when
    the smoothed loss exceeds `diverge_factor` times the best one (or is NaN).
    The model's variables and the optimizer's state (moments, iteration count,
    learning rate) are then restored exactly: the model is unchanged.

    Pick the suggestion ("minimum" by default: see `DEFAULT_METHOD`), or read the curve: a good
    learning rate lies where the loss is still falling steeply, about ten times
    below the point where it blows up. Works with every optimizer that has a
    learning rate (a schedule is replaced during the test and put back) and on
    every backend.

        lr_i = start_lr * (end_lr / start_lr) ** (i / (num_steps - 1))
        avg_i = smoothing * avg_{i-1} + (1 - smoothing) * loss_i
        smoothed_i = avg_i / (1 - smoothing ** (i + 1))
        stop when smoothed_i > diverge_factor * min_{j<i} smoothed_j

    Args:
        model: a compiled `keras.Model`.
        x: inputs (arrays), or a tf.data.Dataset, PyDataset, generator or
            iterable of `(x, y)` / `(x, y, sample_weight)` batches.
        y: targets when `x` is an array. Defaults to `None`.
        batch_size: batch size for array inputs. Defaults to `32`.
        start_lr: first learning rate. Defaults to `1e-7`.
        end_lr: last learning rate. Defaults to `10.0`.
        num_steps: number of batches (learning rates). Defaults to `100`.
        smoothing: the EMA factor. Defaults to `0.98`.
        diverge_factor: divergence threshold. Defaults to `4.0`.
        method: which suggestion is `.suggestion`: `"valley"`, `"steep"` or
            `"minimum"` (lowest loss / 10). Defaults to `"minimum"`.
        sample_weight: per-sample weights for array inputs. Defaults to `None`.
        shuffle: shuffle array inputs each pass. Defaults to `True`.
        seed: seed of the shuffling. Defaults to `None`.
        stop_on_divergence: stop when the loss diverges. Defaults to `True`.
        skip_start, skip_end: points left out when suggesting. Defaults to
            `None` (10% of the points, and 5).

    Returns:
        An `LRFinderResult`.

    Example:

    >>> import numpy as np, keras, keras_lossopt
    >>> keras.utils.set_random_seed(0)  # the initial weights; `seed` orders the batches
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> x = np.random.default_rng(0).normal(size=(64, 2))
    >>> result = keras_lossopt.find_learning_rate(model, x, x @ [[1.0], [2.0]], num_steps=20,
    ...                                           seed=0)
    >>> len(result.lrs), 1e-7 <= result.suggestion <= 10
    (20, True)

    References:
        - Smith, 2017, "Cyclical Learning Rates for Training Neural Networks",
          https://arxiv.org/abs/1506.01186 (the range test).
        - Howard & Gugger, 2020, "Fastai: A Layered API for Deep Learning",
          https://arxiv.org/abs/2002.04688 (`lr_find`, the smoothing, the
          suggestions; "valley" after Z. Mueller, fastai 2.4, 2021).
        Deviates from fastai in restoring the optimizer state as well as the
        weights, and in dividing by 10 only the "minimum" suggestion.
    """
    num_steps = _check_args(start_lr, end_lr, num_steps, smoothing, diverge_factor, method)
    batch_size = _checks.check_positive_int("batch_size", batch_size)
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", True):
        raise ValueError("find_learning_rate needs a compiled model: call model.compile() first.")
    stream = _batch_stream(x, y, sample_weight, batch_size, shuffle, seed)
    try:
        first = next(stream)
    except StopIteration:
        raise ValueError("find_learning_rate received no data: `x` is empty.") from None
    if not model.built:
        model(keras.tree.map_structure(lambda a: a[:2], first[0]))
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    state = _State(model)
    test = _RangeTest(float(start_lr), float(end_lr), num_steps, float(smoothing),
                      float(diverge_factor), stop_on_divergence)
    history = getattr(model, "history", None)
    test.begin(model)
    try:
        batch = first
        while True:
            test.set_lr(model, len(test.raw))
            logs = model.train_on_batch(batch[0], batch[1], sample_weight=batch[2],
                                        return_dict=True)
            if test.record(logs["loss"]):
                break
            try:
                batch = next(stream)
            except StopIteration:
                break
    finally:
        test.end(model)
        state.restore()
        model.stop_training = False
        if history is not None:
            model.history = history
    result = test.result(method, skip_start, skip_end)
    result.warn_if_unreliable()
    return result
