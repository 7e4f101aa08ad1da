"""Learning-rate finder: reference formulas, exact restore, inputs, acceptance."""

import sys

import keras
import numpy as np
import pytest

import keras_lossopt
from keras_lossopt.doctor import lr_finder
from tests.doctor.helpers import linear_data, mlp, moons, numpy_values
from tests.reference import lr_finder as ref


def _compiled(optimizer=None, loss="binary_crossentropy"):
    model = mlp()
    model.compile(optimizer=optimizer or keras.optimizers.Adam(1e-3), loss=loss)
    return model


# --- Pure functions against the fastai-transcribed reference -------------------------


def test_schedule_and_smoothing_match_reference():
    lrs = lr_finder.exponential_lrs(1e-7, 10.0, 100)
    np.testing.assert_allclose(lrs, ref.schedule(1e-7, 10.0, 100), rtol=1e-12)
    assert lrs[0] == pytest.approx(1e-7) and lrs[-1] == pytest.approx(10.0)
    raw = np.random.default_rng(0).uniform(0.5, 2.0, 50)
    for beta in (0.0, 0.9, 0.98):
        np.testing.assert_allclose(lr_finder.smooth_losses(raw, beta), ref.smooth(raw, beta),
                                   rtol=1e-12)
    # Debiasing: a constant loss stays exactly constant (no warm-up bias toward 0).
    np.testing.assert_allclose(lr_finder.smooth_losses([3.0] * 5), 3.0, rtol=1e-12)


def test_suggestions_match_reference_on_random_curves():
    rng = np.random.default_rng(1)
    for _ in range(20):
        n = int(rng.integers(5, 60))
        lrs = np.logspace(-6, 1, n)
        losses = np.cumsum(rng.normal(size=n)) + 10.0
        got = lr_finder.suggest_learning_rates(lrs, losses, skip_start=0, skip_end=0)
        assert got["valley"] == pytest.approx(ref.valley(list(lrs), list(losses)))
        assert got["steep"] == pytest.approx(ref.steep(list(lrs), list(losses)))
        assert got["minimum"] == pytest.approx(ref.minimum(list(lrs), list(losses)))


def test_suggestions_on_a_hand_made_curve():
    # Flat, then falling steeply between 1e-3 and 1e-2, minimum at 3e-2, then blow-up.
    lrs = np.array([1e-5, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 1.0])
    losses = np.array([2.0, 2.0, 1.9, 1.0, 0.5, 0.4, 1.5, 9.0])
    got = lr_finder.suggest_learning_rates(lrs, losses, skip_start=0, skip_end=0)
    # Longest decreasing run: indices 0 or 1 .. 5 (length 5, from max_start=0 by
    # fastai's bookkeeping to max_end=5): sections=5/3 -> idx = 0 + 1 + 0 = 1.
    assert got["valley"] == pytest.approx(1e-4)
    assert got["steep"] == pytest.approx(3e-3)  # the largest drop per log-lr
    assert got["minimum"] == pytest.approx(3e-3)  # 3e-2 / 10


def test_divergence_rule_matches_reference():
    raw = [1.0, 0.9, 0.8, 0.7, 0.6, 2.0, 50.0, 400.0, 1e4, 1e5]
    test = lr_finder._RangeTest(1e-3, 1.0, len(raw), 0.98, 4.0, True)
    for loss in raw:
        if test.record(loss):
            break
    assert len(test.raw) == ref.stop_index(raw) and test.diverged
    nan_test = lr_finder._RangeTest(1e-3, 1.0, 5, 0.5, 4.0, True)
    assert not nan_test.record(1.0) and nan_test.record(float("nan"))


# --- Real range tests -----------------------------------------------------------------


def _with_random_adam_state(model, seed):
    """Builds the optimizer and fills its moments with non-zero values."""
    model.optimizer.build(model.trainable_variables)
    rng = np.random.default_rng(seed)
    for var in model.optimizer.variables:
        if "iteration" in var.name:
            var.assign(7)
        elif "learning_rate" not in var.name:
            var.assign(rng.uniform(0.01, 0.1, var.shape).astype(var.dtype))


@pytest.mark.multibackend
def test_model_and_optimizer_state_are_restored_exactly():
    x, y = moons(64)
    model, twin = _compiled(), _compiled()
    twin.set_weights(model.get_weights())
    _with_random_adam_state(model, 0)
    _with_random_adam_state(twin, 0)
    before = numpy_values(model.variables), numpy_values(model.optimizer.variables)

    result = keras_lossopt.find_learning_rate(model, x, y, batch_size=16, num_steps=12,
                                              start_lr=1e-4, end_lr=100.0, seed=0)
    assert 2 <= len(result.lrs) <= 12
    for got, want in zip(numpy_values(model.variables), before[0]):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(numpy_values(model.optimizer.variables), before[1]):
        np.testing.assert_array_equal(got, want)
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(1e-3)
    # The next training step is the one the untouched twin takes.
    model.train_on_batch(x, y)
    twin.train_on_batch(x, y)
    for got, want in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


@pytest.mark.multibackend
def test_range_test_records_the_schedule_and_stops_on_divergence():
    x, y = linear_data(64)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    result = keras_lossopt.find_learning_rate(model, x, y, batch_size=16, num_steps=60,
                                              start_lr=1e-4, end_lr=100.0, seed=0)
    assert result.diverged and len(result.lrs) < 60  # SGD on MSE blows up near lr ~ 1
    np.testing.assert_allclose(result.lrs, ref.schedule(1e-4, 100.0, 60)[:len(result.lrs)],
                               rtol=1e-12)
    np.testing.assert_allclose(result.losses, ref.smooth(list(result.raw_losses)), rtol=1e-9)
    assert 1e-4 <= result.suggestion < 1.0
    assert set(result.suggestions) == {"valley", "steep", "minimum"}
    assert result.suggestion == result.suggestions[lr_finder.DEFAULT_METHOD]


def test_raw_losses_are_the_batch_losses():
    # With lrs ~1e-12 the weights do not move: each raw loss is the batch's loss.
    x, y = linear_data(32)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    result = keras_lossopt.find_learning_rate(model, x, y, batch_size=8, num_steps=4,
                                              start_lr=1e-13, end_lr=1e-12, shuffle=False)
    pred = model.predict(x, verbose=0)
    expected = [np.mean((pred[i:i + 8] - y[i:i + 8]) ** 2) for i in range(0, 32, 8)]
    np.testing.assert_allclose(result.raw_losses, expected, rtol=1e-5)


def test_datasets_generators_and_schedules():
    import tensorflow as tf

    x, y = moons(64)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    model = _compiled()
    assert len(keras_lossopt.find_learning_rate(model, ds, num_steps=10).lrs) == 10

    def generator():
        while True:
            for i in range(0, 64, 16):
                yield x[i:i + 16], y[i:i + 16]

    assert len(keras_lossopt.find_learning_rate(model, generator(), num_steps=6).lrs) == 6
    # An optimizer driven by a schedule: swapped out for the test, then put back.
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-2, 10, 0.5)
    model = _compiled(keras.optimizers.Adam(schedule))
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    weights = model.get_weights()
    result = keras_lossopt.find_learning_rate(model, x, y, batch_size=16, num_steps=8,
                                              start_lr=1e-5, end_lr=1e-1)
    assert len(result.lrs) == 8
    assert model.optimizer._learning_rate is schedule
    for got, want in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(got, want)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)  # still trains with its schedule
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 8


@pytest.mark.multibackend
def test_callback_restores_and_records():
    x, y = moons(64)
    model = _compiled(keras.optimizers.SGD(0.05))
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    before = model.get_weights(), numpy_values(model.optimizer.variables)
    finder = keras_lossopt.callbacks.LRFinder(start_lr=1e-5, end_lr=10.0, num_steps=10)
    model.fit(x, y, batch_size=16, epochs=5, callbacks=[finder], verbose=0)
    assert len(finder.result.lrs) == 10
    np.testing.assert_allclose(finder.result.lrs, ref.schedule(1e-5, 10.0, 10), rtol=1e-12)
    for got, want in zip(model.get_weights(), before[0]):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(numpy_values(model.optimizer.variables), before[1]):
        np.testing.assert_array_equal(got, want)


def test_callback_batch_losses_equal_true_batch_losses():
    # lr ~ 0: weights fixed, so the recovered per-batch losses must equal the
    # losses of each batch computed directly.
    x, y = linear_data(32)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    finder = keras_lossopt.callbacks.LRFinder(start_lr=1e-13, end_lr=1e-12, num_steps=8)
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, callbacks=[finder], verbose=0)
    pred = model.predict(x, verbose=0)
    per_batch = [np.mean((pred[i:i + 8] - y[i:i + 8]) ** 2) for i in range(0, 32, 8)]
    np.testing.assert_allclose(finder.result.raw_losses, per_batch * 2, rtol=1e-4)


def test_acceptance_suggestion_within_10x_of_best_learning_rate():
    """On sklearn's bundled digits, Adam's suggested lr is within 10x of the lr with
    the lowest training loss after a fixed budget of one epoch (56 steps)."""
    datasets = pytest.importorskip("sklearn.datasets")
    x, y = datasets.load_digits(return_X_y=True)
    x, y = (x / 16.0).astype("float32"), y.astype("int32")
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    result = keras_lossopt.find_learning_rate(model, x, y, batch_size=32, num_steps=100,
                                              seed=0)
    start_weights = model.get_weights()
    start_optimizer = numpy_values(model.optimizer.variables)
    grid = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1]
    final = {}
    for lr in grid:  # same model and traced step; fresh weights and Adam state each time
        model.set_weights(start_weights)
        for var, value in zip(model.optimizer.variables, start_optimizer):
            var.assign(value)
        model.optimizer.learning_rate = lr
        model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
        final[lr] = model.evaluate(x, y, batch_size=512, verbose=0)
    best = min(final, key=final.get)
    assert best not in (grid[0], grid[-1]), final  # the grid brackets the optimum
    ratio = max(result.suggestion / best, best / result.suggestion)
    assert ratio <= 10.0, (result.suggestion, best, final)


def test_plot_marks_suggestions(tmp_path):
    pytest.importorskip("matplotlib")
    lrs = np.logspace(-5, 0, 30)
    raw = np.concatenate([np.full(10, 2.0), np.linspace(2.0, 0.5, 12), np.geomspace(0.6, 8, 8)])
    result = lr_finder.LRFinderResult(lrs, raw)
    path = tmp_path / "lr.png"
    ax = result.plot(path=str(path))
    assert path.stat().st_size > 1000
    labels = [line.get_label() for line in ax.get_lines()]
    default = lr_finder.DEFAULT_METHOD
    assert any(label.startswith(default) and "(suggestion)" in label for label in labels)
    assert result.to_dict()["suggestion"] == result.suggestion


def test_plot_without_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = lr_finder.LRFinderResult(np.logspace(-5, 0, 10), np.linspace(2, 1, 10))
    with pytest.raises(ImportError, match=r"pip install keras_lossopt\[plot\]"):
        result.plot()


@pytest.mark.parametrize("kwargs, message", [
    ({"start_lr": 0.0}, "start_lr=0.0"),
    ({"end_lr": 1e-8}, "end_lr=1e-08"),
    ({"num_steps": 1}, "num_steps=1"),
    ({"smoothing": 1.0}, "smoothing=1.0"),
    ({"diverge_factor": 1.0}, "diverge_factor=1.0"),
    ({"method": "fast"}, "method='fast'"),
    ({"batch_size": 0}, "batch_size=0"),
])
def test_bad_arguments(kwargs, message):
    model = _compiled()
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        keras_lossopt.find_learning_rate(model, np.zeros((4, 2)), np.zeros((4, 1)), **kwargs)
    if "batch_size" not in kwargs:
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
            keras_lossopt.callbacks.LRFinder(**kwargs)


def test_uncompiled_model_is_refused():
    with pytest.raises(ValueError, match="compiled"):
        keras_lossopt.find_learning_rate(mlp(), np.zeros((4, 2)), np.zeros((4, 1)))


# --- Reliability: never a rate at or beyond where the loss rose ------------------------


def test_range_that_explodes_at_once_is_unreliable_and_suggests_nothing():
    # Issue 20: Adam from lr 1e3 blows up on the first step; main suggested 1e3.
    x, y = moons(128)
    model = _compiled()
    with pytest.warns(lr_finder.LRFinderWarning, match="rose from the start"):
        result = keras_lossopt.find_learning_rate(model, x, y, start_lr=1e3, end_lr=1e6,
                                                  num_steps=50, seed=0)
    assert result.diverged and not result.reliable
    assert "start_lr well below 1e+03" in result.reason
    assert result.rise_lr == pytest.approx(1e3)
    assert all(np.isnan(v) for v in result.suggestions.values()), result.suggestions
    payload = result.to_dict()
    assert payload["reliable"] is False and payload["suggestion"] is None
    assert payload["reason"] == result.reason


def test_suggestions_stay_below_the_rise_on_hand_made_curves():
    lrs = np.logspace(-6, 1, 60)
    # Falls from 1e-4 to its lowest at ~1e-1, then rises; a noise dip after the rise
    # (the steepest drop of the whole curve) must not be suggested.
    loss = np.concatenate([np.full(15, 2.0), np.linspace(2.0, 0.3, 30), np.linspace(0.3, 5, 8),
                           [0.35], np.linspace(5, 9, 6)])
    result = lr_finder.LRFinderResult(lrs, loss, beta=0.0)
    assert result.reliable and result.reason is None
    assert result.rise_lr == pytest.approx(lrs[44])
    assert all(v < result.rise_lr for v in result.suggestions.values()), result.suggestions
    assert result.suggestions["minimum"] == pytest.approx(lrs[44] / 10)
    # The loss never falls: unreliable (the range is too low).
    flat = lr_finder.LRFinderResult(lrs, 2.0 + 0.001 * np.sin(np.arange(60)), beta=0.0)
    assert not flat.reliable and "never fell" in flat.reason
    # Rising from the first point: unreliable, and no suggestion at all.
    rising = lr_finder.LRFinderResult(lrs[:10], np.geomspace(1, 100, 10), beta=0.0)
    assert not rising.reliable and np.isnan(rising.suggestion)


def _text_boxes(fig):
    """Window extents of the title, axis labels and x/y tick labels that are shown."""
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    texts = [ax.title, ax.xaxis.label, ax.yaxis.label]
    ticks = [t for t in ax.get_xticklabels() if t.get_text() and t.get_visible()]
    lo, hi = ax.get_xlim()
    ticks = [t for t in ticks if lo <= t.get_position()[0] <= hi]
    return renderer, texts, ticks


def test_plot_is_readable_for_a_two_point_explosion_and_a_full_curve(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    exploded = lr_finder.LRFinderResult([1e3, 1.07e3], [2.76, 9.8e7])
    exploded.planned_range = (1e3, 1e6)
    lrs = np.logspace(-7, 1, 100)
    full = lr_finder.LRFinderResult(lrs, np.concatenate(
        [np.full(50, 2.3), np.linspace(2.3, 0.4, 40), np.geomspace(0.5, 40, 10)]))
    for result in (exploded, full):
        ax = result.plot(path=str(tmp_path / "lr.png"))
        fig = ax.figure
        FigureCanvasAgg(fig)
        fig.canvas.draw()
        renderer, texts, ticks = _text_boxes(fig)
        width, height = fig.bbox.width, fig.bbox.height
        for text in texts + ticks:  # nothing clipped at the figure's edges
            box = text.get_window_extent(renderer)
            assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height, \
                text.get_text()
        boxes = sorted((t.get_window_extent(renderer) for t in ticks), key=lambda b: b.x0)
        assert len(boxes) >= 3  # the whole asked-for range, in decades
        assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:]))  # no overlapping labels
        assert ax.yaxis.get_offset_text().get_text() == ""  # no "1e-13+2.7588" offset
    assert exploded.plot().get_title().endswith("unreliable")
