"""A command in which a run failed exits 1, says how many failed and keeps each traceback."""

import json

from keras_lossopt.cli import common, engine, specs


def _broken_optimizer_step(name):
    raise ValueError(f"{name} cannot step here\nsecond line of the message")


def test_compare_with_a_failed_run_exits_1_and_keeps_the_traceback(cli, tmp_path,
                                                                   monkeypatch):
    real = engine.train_one

    def train(plan, loss_spec, optimizer_spec, **kwargs):
        if optimizer_spec.name == "sgd":
            _broken_optimizer_step(optimizer_spec.name)
        return real(plan, loss_spec, optimizer_spec, **kwargs)

    monkeypatch.setattr(engine, "train_one", train)
    out = tmp_path / "cmp"
    ran = cli("compare", "--dataset", "diabetes", "--losses", "mse", "--optimizers",
              "adam,sgd", "--epochs", "1", "--budget", "1", "--seeds", "1", "--no-plots", "-q",
              "--out", out)
    assert ran.code == 1, ran.out + ran.err
    assert "1 of 2 runs failed" in ran.out
    payload = json.loads((out / "report.json").read_text())
    assert payload["failed_runs"] == 1
    ok, failed = payload["runs"]
    assert ok["error"] is None and ok["traceback"] is None
    assert failed["error"] == "ValueError: sgd cannot step here"
    trace = failed["traceback"]
    assert trace.startswith("Traceback (most recent call last)")
    assert "_broken_optimizer_step" in trace and "second line of the message" in trace
    # The CSV keeps one line per run: the message, not the traceback.
    assert "Traceback" not in (out / "results.csv").read_text()


def test_the_exit_code_says_failed_interrupted_or_ok():
    def result(error=None):
        plan = specs.TaskPlan("t", _Data(), [], [], 1, 8, 0.5)
        if error is None:
            return specs.RunResult("regression", "d", "mse", "adam", 1e-3, 8, 1, "val_mae",
                                   0.5, 1.0, 1.0, 1, 1.0, 1.0, None, 0.1, "healthy", {})
        return specs.failed_result(plan, specs.LossSpec("mse"), specs.OptimizerSpec("adam"),
                                   error)

    stream = _Stream()
    assert common.finish([result(), result()], False, stream) == 0
    assert common.finish([result(), result(RuntimeError("x"))], False, stream) == 1
    assert "1 of 2 runs failed" in stream.text
    assert common.finish([result(RuntimeError("x"))], True, stream) == 130


def test_lr_find_that_fails_exits_1_with_the_traceback_in_its_json(cli, tmp_path,
                                                                   monkeypatch):
    from keras_lossopt.doctor import lr_finder

    def find(*args, **kwargs):
        _broken_optimizer_step("adam")

    monkeypatch.setattr(lr_finder, "find_learning_rate", find)
    out = tmp_path / "lr"
    ran = cli("lr-find", "--dataset", "diabetes", "--loss", "mse", "--no-plots", "--out", out)
    assert ran.code == 1, ran.out + ran.err
    assert "The learning-rate test failed: ValueError: adam cannot step here" in ran.out
    payload = json.loads((out / "lr_find.json").read_text())
    assert payload["suggestion"] is None
    assert payload["error"] == "ValueError: adam cannot step here"
    assert "_broken_optimizer_step" in payload["traceback"]


class _Data:
    task, name = "regression", "d"


class _Stream:
    def __init__(self):
        self.text = ""

    def write(self, text):
        self.text += text
