"""`lab`, `compare` and `lr-find` end to end on tiny budgets, and the engine's parts."""

import csv
import json
import math
import os

import keras
import numpy as np
import pytest

import keras_lossopt
from keras_lossopt.cli import data, engine, plots, report, rosenbrock, specs
from tests.cli.conftest import assert_one_line_error, assert_valid_png, png_size

DOCTOR_CODES = {"healthy", "converged", "diverged", "lr_too_high", "lr_too_low",
                "plateau_high", "overfitting", "generalization_gap", "no_better_than_chance",
                "insufficient_data"}


def read_rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_lab_end_to_end(cli, tmp_path, monkeypatch):
    # The full walk is the default run's job; here one short walk checks the wiring.
    monkeypatch.setattr(rosenbrock, "STEPS", 10)
    monkeypatch.setattr(rosenbrock, "DEFAULT_WALKERS", rosenbrock.DEFAULT_WALKERS[2:3])
    out = tmp_path / "out"
    ran = cli("lab", "--tasks", "binary", "--losses", "binary_crossentropy",
              "--optimizers", "gd,adam", "--epochs", "3", "--budget", "1", "--seeds", "1",
              "--out", out)
    assert ran.code == 0, ran.err
    assert "[1/2]" in ran.out and "[2/2]" in ran.out  # per-run status lines
    assert "test metric (mean +- std)" in ran.out  # the table
    assert sorted(os.listdir(out)) == ["loss_curves_binary.png", "report.json",
                                       "results.csv", "results.md", "rosenbrock.png"]
    rows = read_rows(out / "results.csv")
    assert [(r["loss"], r["optimizer"]) for r in rows] == [
        ("binary_crossentropy", "gd (full batch)"), ("binary_crossentropy", "adam")]
    payload = json.loads((out / "report.json").read_text())
    assert payload["interrupted"] is False
    assert payload["environment"]["backend"] == keras.backend.backend()
    assert [r["batch_size"] for r in payload["runs"]] == [341, 32]
    for result, run in zip(payload["results"], payload["runs"]):
        # The doctor column is the real TrainingDoctor's primary verdict.
        assert run["doctor"] in DOCTOR_CODES
        assert run["doctor_report"]["primary"] == run["doctor"] == result["doctor"]
        val = run["history"]["val_loss"]
        assert len(val) == 3 and all(math.isfinite(v) for v in val)
        assert run["best_val_loss"] == pytest.approx(min(val))
        assert run["best_epoch"] == int(np.argmin(val)) + 1
        accuracy = run["history"]["val_accuracy"]
        reached = [i + 1 for i, a in enumerate(accuracy) if a >= 0.95]
        assert run["epochs_to_goal"] == (reached[0] if reached else None)
        assert result["epochs_to_target"] == run["epochs_to_goal"]
        assert result["selection_scores"] == [pytest.approx(val[-1])]
        assert result["test_metric_mean"] == pytest.approx(run["test_metric"])
    assert set(payload["rosenbrock"]) == {label for label, _ in rosenbrock.DEFAULT_WALKERS}
    markdown = (out / "results.md").read_text()
    assert "| binary_crossentropy | adam |" in markdown
    assert "![rosenbrock.png](rosenbrock.png)" in markdown
    assert_valid_png(out / "loss_curves_binary.png", plots.loss_curves_size(1))
    assert_valid_png(out / "rosenbrock.png", plots.ROSENBROCK_SIZE)


def test_ctrl_c_keeps_the_finished_runs(cli, tmp_path, monkeypatch):
    real = engine.train_one
    calls = []

    def interrupted_on_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "train_one", interrupted_on_third)
    out = tmp_path / "out"
    ran = cli("lab", "--tasks", "multiclass", "--full", "--optimizers", "gd,adam", "--epochs",
              "1", "--budget", "1", "--seeds", "1", "--out", out)
    assert ran.code == 130
    assert "kept the results of the finished runs" in ran.out
    assert len(read_rows(out / "results.csv")) == 2
    payload = json.loads((out / "report.json").read_text())
    assert payload["interrupted"] is True and len(payload["runs"]) == 2
    assert "Interrupted" in (out / "results.md").read_text()
    # The third run (second loss) was interrupted: one loss, one panel.
    assert {r["loss"] for r in read_rows(out / "results.csv")} == {
        "sparse_categorical_crossentropy"}
    assert_valid_png(out / "loss_curves_multiclass.png", plots.loss_curves_size(1))
    assert not (out / "rosenbrock.png").exists()


def _binary_csv(path, n=60):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3))
    label = np.where(x[:, 0] + 0.5 * x[:, 1] > 0, "yes", "no")
    lines = ["f1,f2,f3,answer"] + [f"{a:.4f},{b:.4f},{c:.4f},{t}"
                                   for (a, b, c), t in zip(x, label)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _regression_csv(path, n=50):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 2))
    y = 3.0 * x[:, 0] - x[:, 1] + 10.0
    path.write_text("a,b,price\n" + "".join(f"{a:.4f},{b:.4f},{t:.4f}\n"
                                             for (a, b), t in zip(x, y)))
    return path


def test_compare_on_a_csv(cli, tmp_path):
    path = _binary_csv(tmp_path / "churn.csv")
    out = tmp_path / "cmp"
    ran = cli("compare", "--data", path, "--target", "answer", "--task", "binary",
              "--losses", "binary_crossentropy,binary_focal_crossentropy",
              "--optimizers", "adam", "--epochs", "2", "--budget", "1", "--seeds", "2",
              "--out", out)
    assert ran.code == 0, ran.err
    rows = read_rows(out / "results.csv")
    assert [r["loss"] for r in rows] == ["binary_crossentropy", "binary_focal_crossentropy"]
    assert {r["dataset"] for r in rows} == {"churn"} and rows[0]["goal"] == "0.9"
    assert {r["seeds"] for r in rows} == {"0;1"}
    payload = json.loads((out / "report.json").read_text())
    assert payload["protocol"]["seeds"] == 2 and len(payload["runs"]) == 4
    assert payload["protocol"]["splits"]["validation"] == 0.2
    assert_valid_png(out / "loss_curves_churn.png", plots.loss_curves_size(2))
    assert "keras_lossopt compare: churn" in (out / "results.md").read_text()


def test_compare_applies_the_loss_recommendation(cli, tmp_path):
    path = _regression_csv(tmp_path / "houses.csv")
    out = tmp_path / "cmp"
    ran = cli("compare", "--data", path, "--target", "price", "--task", "regression",
              "--optimizers", "sgd", "--epochs", "1", "--budget", "1", "--seeds", "1",
              "--no-plots", "--out", out)
    assert ran.code == 0, ran.err
    expected = keras_lossopt.recommend("regression").loss_name
    assert f"Recommended loss for regression: {expected}" in ran.out
    rows = read_rows(out / "results.csv")
    assert [(r["loss"], r["optimizer"]) for r in rows] == [(expected, "sgd")]
    assert sorted(os.listdir(out)) == ["report.json", "results.csv", "results.md"]


def test_lr_find_writes_plot_and_suggestion(cli, tmp_path):
    path = _regression_csv(tmp_path / "houses.csv")
    out = tmp_path / "lr"
    ran = cli("lr-find", "--data", path, "--target", "price", "--task", "regression",
              "--loss", "mse", "--num-steps", "30", "--start-lr", "1e-4", "--end-lr", "10",
              "--batch-size", "8", "--out", out)
    assert ran.code == 0, ran.err
    payload = json.loads((out / "lr_find.json").read_text())
    assert len(payload["lrs"]) == len(payload["losses"]) > 2
    assert 1e-7 <= payload["suggestion"] <= 10.0
    assert payload["reliable"] is True and payload["reason"] is None
    assert payload["suggestion"] < payload["rise_lr"]
    assert f"{report.fmt(payload['suggestion'], 3)}" in ran.out
    width, height = png_size(out / "lr_finder.png")
    assert width > 100 and height > 100
    assert_valid_png(out / "lr_finder.png", (width, height))
    # --seed fixes the batches' order too (it once shuffled unseeded: the same command
    # was reliable one run and not the next).
    again = cli("lr-find", "--data", path, "--target", "price", "--task", "regression",
                "--loss", "mse", "--num-steps", "30", "--start-lr", "1e-4", "--end-lr", "10",
                "--batch-size", "8", "--no-plots", "--out", tmp_path / "lr2")
    assert again.code == 0, again.err
    assert json.loads((tmp_path / "lr2" / "lr_find.json").read_text())["raw_losses"] == \
        payload["raw_losses"]


def test_healthy_lab_runs_get_no_false_alarm():
    # Issue 20: each lab task with Adam and its recommended loss (and focal loss, which
    # is no cross-entropy), default epochs: no doctor warning, and the chance levels the
    # doctor used are the labels' own.
    from keras_lossopt.cli import lab

    plans = lab.build_plans(optimizers=["adam"])
    for plan in plans:
        losses = plan.losses[:1] + [s for s in plan.losses if s.name == "sigmoid_focal_crossentropy"]
        for loss_spec in losses:
            result = engine.train_one(plan, loss_spec, plan.optimizers[0])
            verdicts = result.doctor_report["verdicts"]
            alarms = [v["code"] for v in verdicts if v["severity"] != "info"]
            assert alarms == [], (plan.key, loss_spec.label, verdicts)
            assert result.doctor in ("healthy", "converged")
            context = result.doctor_report["context"]
            assert context["val_chance_loss"] > 0 and context["initial_loss"] > 0
            assert (context["majority_accuracy"] is None) == (plan.key == "regression")


def test_lr_find_on_a_range_that_explodes_says_so_and_exits_1(cli, tmp_path):
    # Issue 20: main printed "Suggested learning rate ...: 1e+03" and exited 0.
    out = tmp_path / "lr"
    ran = cli("lr-find", "--dataset", "digits", "--start-lr", "1e3", "--end-lr", "1e6",
              "--num-steps", "20", "--out", out)
    assert ran.code == 1, (ran.out, ran.err)
    assert "Suggested learning rate" not in ran.out
    assert "No reliable learning rate" in ran.out and "warning:" in ran.err
    payload = json.loads((out / "lr_find.json").read_text())
    assert payload["reliable"] is False and payload["diverged"] is True
    assert "rose from the start" in payload["reason"]
    assert payload["suggestion"] is None and payload["rise_lr"] == pytest.approx(1e3)
    assert (payload["start_lr"], payload["end_lr"]) == (1e3, 1e6)
    assert_valid_png(out / "lr_finder.png", png_size(out / "lr_finder.png"))


@pytest.mark.multibackend
@pytest.mark.parametrize("name, overrides", [
    ("gradient_descent", {"learning_rate": 1e-3}),
    ("sgd", {"learning_rate": 5e-4, "momentum": 0.9}),
])
def test_rosenbrock_walk_is_the_optimizer_update(name, overrides):
    path = rosenbrock.walk(specs.OptimizerSpec(name, overrides), steps=6)
    # numpy reference: w <- w + v with v <- momentum * v - lr * grad(w) (Keras's SGD form;
    # momentum 0 is plain gradient descent), gradient by hand.
    lr, momentum = overrides["learning_rate"], overrides.get("momentum", 0.0)
    w = np.asarray(rosenbrock.START, dtype="float64")
    velocity = np.zeros(2)
    expected = [w.copy()]
    for _ in range(6):
        velocity = momentum * velocity - lr * rosenbrock.rosenbrock_grad(*w)
        w = w + velocity
        expected.append(w.copy())
    np.testing.assert_allclose(path, np.stack(expected), rtol=2e-5, atol=1e-6)


def _tiny_regression_plan(epochs=3):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 3.0
    dataset = data.split_and_scale("tiny", "regression", x, y, seed=0)
    return specs.TaskPlan("tiny", dataset, [specs.LossSpec("huber")],
                           [specs.OptimizerSpec("adam", {"learning_rate": 0.05})],
                           epochs=epochs, batch_size=8, goal=0.5)


@pytest.mark.multibackend
def test_validation_logger_matches_keras_evaluate():
    plan = _tiny_regression_plan()
    ds = plan.dataset
    model = engine.build_model(ds, logits=False)
    loss = keras.losses.Huber()
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=loss)
    logger = engine.ValidationLogger(ds.x_val, ds.y_val, loss, "val_mae",
                                     lambda y, p: float(np.mean(np.abs(p - y))))
    history = model.fit(ds.x_train, ds.y_train, epochs=2, batch_size=8, verbose=0,
                        callbacks=[logger]).history
    expected = model.evaluate(ds.x_val, ds.y_val, batch_size=len(ds.x_val), verbose=0)
    assert history["val_loss"][-1] == pytest.approx(expected, rel=1e-5)
    pred = keras.ops.convert_to_numpy(model.predict(ds.x_val, verbose=0))
    assert history["val_mae"][-1] == pytest.approx(float(np.mean(np.abs(pred - ds.y_val))),
                                                   rel=1e-5)


@pytest.mark.multibackend
def test_train_one_reports_target_units_and_is_seeded():
    plan = _tiny_regression_plan(epochs=2)
    first = engine.train_one(plan, plan.losses[0], plan.optimizers[0], seed=3,
                             doctor_factory=None)
    again = engine.train_one(plan, plan.losses[0], plan.optimizers[0], seed=3,
                             doctor_factory=None)
    assert first.history == again.history  # same seed, same run
    assert first.doctor == "n/a" and first.doctor_report is None
    assert len(first.history["val_loss"]) == 2 and first.learning_rate == pytest.approx(0.05)
    # MAE is reported in the target's units: the standardized MAE times the std.
    assert first.final_metric == pytest.approx(
        first.history["val_mae"][-1]) and plan.dataset.target_scale > 1.0
    assert first.final_metric > first.history["val_loss"][-1]


class _Stream:
    def __init__(self, tty):
        self.tty, self.text = tty, ""

    def isatty(self):
        return self.tty

    def write(self, text):
        self.text += text

    def flush(self):
        pass


def _fake_result(i):
    return specs.RunResult(
        task="binary", dataset="d", loss="bce", optimizer=f"opt{i}", learning_rate=0.1,
        batch_size=8, epochs=2, metric="val_accuracy", goal=0.9, final_val_loss=0.5,
        best_val_loss=0.4, best_epoch=1, final_metric=0.8, best_metric=0.85,
        epochs_to_goal=None, wall_time_s=0.25, doctor="healthy",
        history={"val_loss": [0.4, 0.5]})


@pytest.mark.parametrize("tty", [False, True])
def test_progress_lines_and_bar(tty, capsys):
    stream = _Stream(tty)
    progress = engine.Progress(2, stream=stream)
    for i in range(2):
        progress.finish_run(_fake_result(i))
    progress.close()
    assert "[1/2] bce" in stream.text and "[2/2] bce" in stream.text
    assert "finished 2/2 runs" in stream.text
    # On a terminal Keras's Progbar draws the overall bar ("2/2") under the lines
    # (Progbar itself writes to sys.stdout).
    assert ("\x1b[K" in stream.text) is tty
    assert ("\x1b[1m2/2" in capsys.readouterr().out) is tty
    assert engine.Progress(2, stream=_Stream(tty), quiet=True).bar is None


def test_a_failing_run_is_reported_and_the_others_go_on():
    plan = _tiny_regression_plan()
    plan.optimizers = [specs.OptimizerSpec("adam"), specs.OptimizerSpec("sgd")]
    stream = _Stream(False)

    def train(plan, loss_spec, optimizer_spec, **kwargs):
        if optimizer_spec.name == "adam":
            raise ValueError("all elements of target should be between 0 and 1\nmore")
        return _fake_result(1)

    results, interrupted = engine.run_plans([plan], progress=engine.Progress(2, stream=stream),
                                            train=train)
    assert not interrupted and len(results) == 2
    failed, ok = results
    assert failed.doctor == "error" and math.isnan(failed.final_val_loss)
    assert failed.error == "ValueError: all elements of target should be between 0 and 1"
    assert ok.error is None
    assert "FAILED: ValueError: all elements" in stream.text
    assert "[2/2]" in stream.text


def test_default_lab_plan():
    from keras_lossopt.cli import lab

    plans = lab.build_plans(full=True)
    assert [(p.key, p.dataset.name) for p in plans] == [
        ("regression", "diabetes"), ("binary", "breast_cancer"), ("multiclass", "digits")]
    # The default keeps each task's standard loss (three minutes); --full has them all.
    assert [[s.name for s in p.losses] for p in lab.build_plans()] == [
        ["mean_squared_error"], ["binary_crossentropy"], ["sparse_categorical_crossentropy"]]
    assert [s.name for s in plans[0].losses] == [
        "mean_squared_error", "mean_absolute_error", "huber", "pseudo_huber"]
    assert [s.name for s in plans[1].losses] == ["binary_crossentropy",
                                                 "sigmoid_focal_crossentropy"]
    smoothed = plans[2].losses[1].make()
    assert isinstance(smoothed, keras_lossopt.losses.SmoothedSparseCategoricalCrossentropy)
    assert smoothed.get_config()["label_smoothing"] == 0.1
    names = [s.name for s in plans[0].optimizers]
    assert names == ["gradient_descent", "sgd", "adam", "rmsprop", "radam", "lookahead",
                     "prodigy"]
    assert [s.full_batch for s in plans[0].optimizers].count(True) == 1
    engine.check_plans(plans, per_task=True)  # every default name resolves and fits its task
    assert [len(p.losses) for p in plans] == [4, 2, 2]


def test_lab_losses_go_to_the_tasks_they_are_registered_for():
    from keras_lossopt.cli import lab

    plans = lab.build_plans(losses=["huber", "binary_crossentropy", "poly_loss"], full=True)
    engine.check_plans(plans, per_task=True)
    assert [[s.name for s in p.losses] for p in plans] == [
        ["huber"], ["binary_crossentropy"], ["poly_loss"]]


@pytest.mark.parametrize("argv, fragments", [
    # A regression loss on a classification task, and the reverse.
    (["compare", "--dataset", "breast_cancer", "--losses", "huber"],
     ["Loss 'huber' is a regression loss; task 'binary' needs a binary loss such as "
      "binary_crossentropy"]),
    (["lr-find", "--dataset", "diabetes", "--loss", "binary_crossentropy"],
     ["is a binary/multilabel loss; task 'regression'"]),
    # A metric-learning loss has no place in the lab's multiclass task.
    (["compare", "--dataset", "digits", "--losses", "triplet_semihard"],
     ["is a metric_learning loss"]),
    (["lab", "--losses", "huber", "--no-plots"],
     ["None of the --losses fits task 'binary'", "leave the task out with --tasks"]),
    (["lab", "--tasks", "binary", "--losses", "binary_crossentropy,huber", "--no-plots"],
     ["Loss 'huber' is a regression loss and fits none of the tasks run here (binary)"]),
])
def test_a_loss_on_a_task_it_is_not_registered_for_is_refused(cli, tmp_path, monkeypatch,
                                                             argv, fragments):
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(cli(*argv, "--no-plots" if argv[0] != "lab" else "-q"), *fragments)
    assert os.listdir(tmp_path) == []


def test_label_format_and_logits_come_from_the_registry():
    def facts(name, **overrides):
        spec = specs.LossSpec(name, overrides)
        loss = spec.make()
        entry = engine.loss_entry(spec, loss)
        return engine.integer_labels(entry), engine.takes_logits(loss, entry)

    # "sparse" in a name says nothing: sparsemax takes one-hot labels and logits.
    assert facts("sparsemax_loss") == (False, True)
    assert facts("sparse_categorical_crossentropy") == (True, False)
    assert facts("SparseCategoricalCrossentropy") == (True, False)  # Keras's class name
    assert facts("categorical_crossentropy", from_logits=True) == (False, True)
    assert facts("sigmoid_cross_entropy") == (False, True)  # logits by definition
    assert facts("binary_crossentropy") == (False, False)


def test_compare_trains_a_one_hot_loss_whose_name_says_sparse(cli, tmp_path):
    out = tmp_path / "cmp"
    ran = cli("compare", "--dataset", "digits", "--losses", "sparsemax_loss", "--optimizers",
              "adam", "--epochs", "1", "--budget", "1", "--seeds", "1", "--no-plots", "-q",
              "--out", out)
    assert ran.code == 0, ran.err
    (row,) = read_rows(out / "results.csv")
    assert row["error"] == "" and row["doctor"] != "error"
    assert float(row["test_metric_mean"]) > 0.2  # accuracy on digits (chance: 0.1), one epoch
