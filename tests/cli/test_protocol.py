"""The lab's comparison protocol (cli.protocol): equal budgets, selection on the
validation split only, seeds, ties, the report's fields, RAdam's note, the plots."""

import collections
import json
import math

import keras
import numpy as np
import pytest

import keras_lossopt
from keras_lossopt.cli import data, plots, protocol, specs


def _plan(epochs=2, optimizers=None, test=True):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 3.0 + 0.3 * rng.normal(size=80)
    dataset = data.split_and_scale("tiny", "regression", x, y, val_fraction=0.4, seed=0)
    if test:
        dataset = protocol.split_test(dataset, 0.5, seed=0)
    optimizers = optimizers or [specs.OptimizerSpec("sgd", {"learning_rate": 0.05}),
                                specs.OptimizerSpec("adam")]
    return specs.TaskPlan("tiny", dataset, [specs.LossSpec("huber"), specs.LossSpec("mae")],
                          optimizers, epochs=epochs, batch_size=16, goal=0.5)


def _fake_train(calls, score=lambda spec, lr, seed: lr):
    """A `train` that records its calls and returns a RunResult whose final
    validation loss is `score(...)` (no Keras)."""

    def train(plan, loss_spec, optimizer_spec, *, seed, doctor_factory, learning_rate):
        calls.append((loss_spec.label, optimizer_spec.label, learning_rate, seed))
        val = score(optimizer_spec, learning_rate, seed)
        return specs.RunResult(
            task=plan.dataset.task, dataset=plan.dataset.name, loss=loss_spec.label,
            optimizer=optimizer_spec.label, learning_rate=learning_rate, batch_size=8,
            epochs=plan.epochs, metric=plan.metric, goal=plan.goal, final_val_loss=val,
            best_val_loss=val, best_epoch=1, final_metric=val, best_metric=val,
            epochs_to_goal=seed + 1, wall_time_s=0.5, doctor="healthy",
            history={"val_loss": [val, val]}, seed=seed, test_loss=val,
            test_metric=1.0 + 0.1 * seed)

    return train


@pytest.mark.parametrize("k, s", [(3, 2), (1, 1), (4, 3)])
def test_every_optimizer_gets_the_same_k_by_s_budget(k, s):
    calls = []
    rules = protocol.Protocol(lr_trials=k, seeds=s, seed=7)
    plan = _plan()
    # Lower rates score better here, so the chosen rate is the grid's first.
    pairs, runs, interrupted = protocol.run([plan], rules, train=_fake_train(calls))
    assert not interrupted and len(pairs) == 4
    per_pair = collections.Counter((loss, opt) for loss, opt, _, _ in calls)
    assert set(per_pair.values()) == {k + s - 1} == {rules.runs_per_pair}
    assert len(runs) == len(calls) == 4 * (k + s - 1)
    for pair, spec in zip(pairs, plan.optimizers * 2):
        default = protocol.default_learning_rate(spec)
        grid = rules.grid(default)
        assert pair.learning_rates_tried == grid and len(grid) == k
        # Log-spaced, half a decade apart, centred on the default.
        if k > 1:
            assert np.allclose(np.diff(np.log10(grid)), 0.5, atol=2e-3)
        assert math.isclose(math.sqrt(grid[0] * grid[-1]), default, rel_tol=1e-2)
        trials = [c for c in calls if c[:2] == (pair.loss, pair.optimizer) and c[3] == 7]
        assert [c[2] for c in trials][:k] == grid  # every trial on the first seed
        assert pair.learning_rate == grid[0] and pair.seeds == [7 + i for i in range(s)]
        assert pair.test_metric_mean == pytest.approx(np.mean([1.0 + 0.1 * x for x in
                                                               pair.seeds]))
    assert protocol.default_learning_rate(specs.OptimizerSpec("lookahead")) == \
        pytest.approx(1e-3)  # a wrapper's rate is its inner optimizer's


def test_a_diverged_trial_is_never_chosen():
    calls = []

    def score(spec, lr, seed):
        return float("nan") if lr > 0.05 else 1.0 / lr  # the best rate diverges

    rules = protocol.Protocol(lr_trials=3, seeds=1)
    pairs, _, _ = protocol.run([_plan()], rules, train=_fake_train(calls, score))
    sgd = pairs[0]
    assert sgd.learning_rates_tried == [0.0158, 0.05, 0.158]
    assert sgd.selection_scores[2] is None and sgd.learning_rate == 0.05
    assert not sgd.lr_at_grid_edge


@pytest.mark.multibackend
def test_selection_never_reads_the_test_split():
    rules = protocol.Protocol(lr_trials=2, seeds=1)
    plan = _plan(epochs=2, optimizers=[specs.OptimizerSpec("adam")])
    plan.losses = plan.losses[:1]
    first, _, _ = protocol.run([plan], rules, doctor_factory=lambda: None)
    # Replace the test split by rubbish: everything selection produced is unchanged,
    # only the test score moves.
    plan.dataset.y_test = -100.0 * plan.dataset.y_test + 7.0
    again, _, _ = protocol.run([plan], rules, doctor_factory=lambda: None)
    (a,), (b,) = first, again
    assert a.selection_scores == b.selection_scores
    assert a.learning_rate == b.learning_rate
    assert a.epochs_to_target_per_seed == b.epochs_to_target_per_seed
    assert a.test_metric_mean < 0.5 * b.test_metric_mean


def test_the_splits_are_disjoint_and_scaled_on_the_training_rows():
    from keras_lossopt.cli import lab

    (plan,) = lab.build_plans(["binary"], test_fraction=0.2)
    ds = plan.dataset
    n = len(ds.x_train) + len(ds.x_val) + len(ds.x_test)
    assert n == 569 and abs(len(ds.x_test) - 0.2 * n) <= 1 and abs(len(ds.x_val) - 0.2 * n) <= 1
    rows = [set(map(bytes, part)) for part in (ds.x_train, ds.x_val, ds.x_test)]
    assert not (rows[0] & rows[2]) and not (rows[1] & rows[2]) and not (rows[0] & rows[1])
    np.testing.assert_allclose(ds.x_train.mean(0), 0.0, atol=1e-5)


def _pair(mean, std, optimizer="o", task="regression"):
    return protocol.PairResult(
        task=task, dataset="d", loss="l", optimizer=optimizer, metric="val_mae", goal=1.0,
        learning_rates_tried=[0.1], selection_scores=[1.0], learning_rate=0.1,
        lr_at_grid_edge=False, seeds=[0, 1], test_metric_per_seed=[mean, mean],
        test_metric_mean=mean, test_metric_std=std, test_loss_mean=mean,
        epochs_to_target=None, epochs_to_target_per_seed=[None, None], wall_time_s=1.0,
        doctor="healthy", n_runs=2)


def test_overlapping_spreads_are_ties_not_ranks():
    rows = [_pair(10.0, 1.0, "a"), _pair(11.5, 1.0, "b"), _pair(14.0, 0.5, "c"),
            _pair(14.2, 0.1, "d"), _pair(float("nan"), float("nan"), "e")]
    protocol.tiers(rows)
    assert [r.tier for r in rows] == [1, 1, 2, 2, None]
    assert list(protocol.tier_labels(rows).values()) == ["1=", "1=", "2=", "2=", "-"]
    accuracy = [_pair(0.90, 0.01, "a", "binary"), _pair(0.95, 0.01, "b", "binary")]
    protocol.tiers(accuracy)  # higher is better
    assert [r.tier for r in accuracy] == [2, 1]


@pytest.mark.multibackend
def test_radams_rectification_factor_is_its_real_step_ratio():
    # RAdam's step divided by Adam's, same rate, constant gradient, is r_t once the
    # rectified step is on (Keras's Adam folds the bias corrections the same way).
    steps = 30
    radam, adam = keras_lossopt.optimizers.RAdam(0.01), keras.optimizers.Adam(0.01)
    w_r, w_a = keras.Variable([0.0]), keras.Variable([0.0])
    grad = keras.ops.convert_to_tensor([1.0])
    ratios = []
    for _ in range(steps):
        before = float(w_r.numpy()[0]), float(w_a.numpy()[0])
        radam.apply_gradients([(grad, w_r)])
        adam.apply_gradients([(grad, w_a)])
        ratios.append((float(w_r.numpy()[0]) - before[0]) / (float(w_a.numpy()[0]) - before[1]))
    factors = protocol.rectification_factors(steps)
    assert factors[:5] == [None] * 5 and all(f is not None for f in factors[5:])
    np.testing.assert_allclose(ratios[5:], factors[5:], rtol=1e-3)
    plain, mean = protocol.rectification(steps)
    assert plain == 5 and mean == pytest.approx(np.mean(ratios[5:]), rel=1e-3)


def test_a_last_radam_says_why():
    def score(spec, lr, seed):
        return 1.0

    plan = _plan(optimizers=[specs.OptimizerSpec("adam"), specs.OptimizerSpec("radam")])
    plan.losses = plan.losses[:1]

    def train(plan, loss_spec, optimizer_spec, **kwargs):
        result = _fake_train([], score)(plan, loss_spec, optimizer_spec, **kwargs)
        result.test_metric = 5.0 if optimizer_spec.name == "radam" else 1.0
        return result

    pairs, _, _ = protocol.run([plan], protocol.Protocol(lr_trials=1, seeds=1), train=train)
    adam, radam = pairs
    assert (adam.tier, radam.tier) == (1, 2) and adam.note is None
    steps = plan.epochs * math.ceil(len(plan.dataset.x_train) / plan.batch_size)
    assert f"over this run's {steps} steps r_t averages" in radam.note
    assert f"{protocol.rectification(steps)[1]:.2f}" in radam.note


def test_lab_report_carries_the_protocol(cli, tmp_path):
    out = tmp_path / "out"
    ran = cli("lab", "--tasks", "regression", "--optimizers", "gd,adam", "--epochs", "2",
              "--budget", "2", "--seeds", "2", "--no-rosenbrock", "--out", out)
    assert ran.code == 0, ran.err
    assert "2 learning rates per optimizer" in ran.out and "tier" in ran.out
    payload = json.loads((out / "report.json").read_text())
    assert payload["protocol"]["lr_trials"] == 2 and payload["protocol"]["seeds"] == 2
    assert "validation" in payload["protocol"]["selection"]
    assert payload["protocol"]["splits"]["test"] == 0.2
    assert len(payload["results"]) == 2 and len(payload["runs"]) == 2 * 3
    for result in payload["results"]:
        assert len(result["learning_rates_tried"]) == 2
        assert result["learning_rate"] in result["learning_rates_tried"]
        assert result["seeds"] == [0, 1]
        assert len(result["test_metric_per_seed"]) == 2
        assert result["test_metric_mean"] == pytest.approx(np.mean(result[
            "test_metric_per_seed"]))
        assert result["test_metric_std"] == pytest.approx(np.std(result[
            "test_metric_per_seed"], ddof=1))
        assert "epochs_to_target" in result
    roles = collections.Counter((r["optimizer"], r["role"]) for r in payload["runs"])
    assert roles == {("gd (full batch)", "lr_trial"): 2, ("gd (full batch)", "seed"): 1,
                     ("adam", "lr_trial"): 2, ("adam", "seed"): 1}
    assert all(r["test_metric"] is not None for r in payload["runs"])
    # The selection trials: every rate on the first seed; the extra seed at the chosen rate.
    for result in payload["results"]:
        runs = [r for r in payload["runs"] if r["optimizer"] == result["optimizer"]]
        assert [r["learning_rate"] for r in runs if r["role"] == "lr_trial"] == \
            pytest.approx(result["learning_rates_tried"])
        assert [r["learning_rate"] for r in runs if r["role"] == "seed"] == \
            pytest.approx([result["learning_rate"]])


@pytest.mark.parametrize("argv, fragment", [
    (["--budget", "0"], "--budget must be >= 1"),
    (["--seeds", "0"], "--seeds must be >= 1"),
    (["--test-fraction", "0.75"], "--test-fraction must be in (0, 1)"),
])
def test_bad_protocol_options(cli, tmp_path, monkeypatch, argv, fragment):
    from tests.cli.conftest import assert_one_line_error

    monkeypatch.chdir(tmp_path)
    assert_one_line_error(cli("lab", "-q", "--no-plots", *argv), fragment)


def test_loss_curves_layout_is_readable():
    rows = []
    for loss in ("mean_squared_error", "sparse_categorical_crossentropy(label_smoothing=0.1)"):
        for i, name in enumerate(("gd (full batch)", "sgd (momentum 0.9)", "adam", "rmsprop",
                                  "radam", "lookahead", "prodigy")):
            pair = _pair(1.0, 0.1, name)
            pair.loss = loss
            pair.val_loss_curves = [list(0.5 + np.exp(-np.arange(12) / (2 + i)) + 0.01 * s)
                                    for s in range(3)]
            rows.append(pair)
    title = ("linnerud: validation loss at each optimizer's chosen learning rate (mean and "
             "range over 3 seeds)")
    for panels in (rows[:7], rows):
        figure = plots.loss_curves_figure(panels, title)
        figure.canvas.draw()  # the constrained layout runs at draw time
        renderer = figure.canvas.get_renderer()
        box = figure.bbox
        legend = figure.legends[0].get_window_extent(renderer)
        for ax in figure.axes:
            assert not legend.overlaps(ax.get_window_extent(renderer))  # not over curves
            ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
            assert ticks and all(float(t).is_integer() for t in ticks)
            for text in (ax.title, figure._suptitle):
                extent = text.get_window_extent(renderer)
                assert box.x0 <= extent.x0 and extent.x1 <= box.x1 + 0.5  # not clipped
        assert box.x0 <= legend.x0 and legend.x1 <= box.x1 + 0.5 and legend.y0 >= box.y0
        # Wrapped, never cut.
        assert "".join(figure._suptitle.get_text().split()) == "".join(title.split())
        # One line per optimizer (the mean over the seeds) and a shaded band around it.
        assert len(figure.axes[0].lines) == 7 and len(figure.axes[0].collections) == 7
        assert tuple(int(v) for v in figure.get_size_inches() * plots.DPI) == \
            plots.loss_curves_size(len(figure.axes))
