"""`keras-lossopt` argument handling, help, list, recommend and bad input (no training)."""

import json
import os
import subprocess
import sys

import keras
import pytest

from keras_lossopt.cli import backend
from tests.cli.conftest import assert_one_line_error, launcher_env

SUBCOMMANDS = ("lab", "compare", "lr-find", "plot-losses", "recommend", "list")


@pytest.mark.slow
def test_python_dash_m_help_in_a_real_process():
    # `python -m keras_lossopt` imports the whole package first (slow, but it works).
    result = subprocess.run([sys.executable, "-m", "keras_lossopt", "--help"],
                            capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr
    assert "usage: keras-lossopt" in result.stdout
    for command in SUBCOMMANDS:
        assert command in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help_with_examples(cli, command):
    ran = cli(command, "--help")
    assert ran.code == 0
    assert f"usage: keras-lossopt {command}" in ran.out
    assert "examples:" in ran.out and f"keras-lossopt {command}" in ran.out.split("examples:")[1]
    assert "--backend" in ran.out


def test_no_command_prints_help(cli):
    ran = cli()
    assert ran.code == 0 and "COMMAND" in ran.out


def test_list_reads_the_registry(cli):
    ran = cli("list", "huber")
    assert ran.code == 0
    lines = ran.out.splitlines()
    assert lines[0] == "losses (2):"
    assert any(line.split()[:2] == ["huber", "keras"] for line in lines)
    assert any(line.split()[:2] == ["pseudo_huber", "ours"] for line in lines)
    assert "optimizers" not in ran.out  # no optimizer matches "huber"


def test_list_kind_and_glob(cli):
    ran = cli("list", "grad*", "--kind", "optimizer")
    assert ran.code == 0
    assert "gradient_descent" in ran.out and "[also: gd]" in ran.out
    assert cli("list", "no_such_thing_xyz").code == 1


@pytest.mark.multibackend
def test_recommend_prints_the_guide_answer(cli):
    import keras_lossopt

    ran = cli("recommend", "--task", "multiclass", "--labels", "integers")
    assert ran.code == 0
    expected = keras_lossopt.recommend("multiclass", labels="integers")
    assert f"loss:        {expected.loss_name}\n" in ran.out
    assert f"output:      {expected.activation} activation" in ran.out
    marked = [line for line in ran.out.splitlines() if line.startswith(">")]
    assert len(marked) == 1 and expected.loss_name in marked[0]


BAD_INPUT = (
        (["lab", "--epochs", "0"], ["--epochs must be >= 1. Received: --epochs=0"]),
        (["lab", "--tasks", "regression,clustering"], ["--tasks", "'clustering'"]),
        (["lab", "--tasks", "binary", "--losses", "focall_loss", "--no-plots"],
         ["Unknown loss name: 'focall_loss'", "Did you mean"]),
        (["lab", "--tasks", "binary", "--optimizers", "adamm", "--no-plots"],
         ["Unknown optimizer name: 'adamm'", "'adam'"]),
        (["lab", "--optimizers", "adam,,sgd"], ["comma-separated"]),
        (["compare", "--data", "missing.csv", "--target", "y", "--task", "regression"],
         ["No such file: missing.csv"]),
        (["compare", "--target", "y"], ["Missing --data: give --data FILE.csv --target COLUMN [--task TASK]"]),
        (["compare", "--dataset", "digits", "--task", "binary"],
         ["'digits' is a multiclass task. Received: --task=binary"]),
        (["compare", "--dataset", "digits", "--losses", "binary_crossentropy,mse",
          "--optimizers", "sgdd", "--no-plots"], ["Unknown optimizer name: 'sgdd'"]),
        (["compare", "--dataset", "breast_cancer", "--losses",
          "sparse_categorical_crossentropy", "--no-plots"], ["multiclass loss"]),
        (["lr-find", "--dataset", "digits", "--start-lr", "1", "--end-lr", "0.1"],
         ["Need 0 < --start-lr < --end-lr"]),
        (["compare", "--task", "ordinal"], ["invalid choice: 'ordinal'"]),
        (["compare", "--task", "regresion"], ["invalid choice: 'regresion'",
                                              "Did you mean 'regression'?"]),
        (["lab", "--tasks", "binary,regresion"], ["--tasks", "Received: 'regresion'. "
                                                  "Did you mean 'regression'?"]),
        (["labb"], ["invalid choice: 'labb'"]),
        (["compare", "--dataset", "digits", "--val-fraction", "1.5"],
         ["--val-fraction must be in (0, 1). Received: --val-fraction=1.5"]),
        (["lab", "--epochs", "many"], ["invalid int value: 'many'"]),
)


def test_bad_input_is_one_line_and_exit_code_2(cli, tmp_path, monkeypatch):
    # One test for all cases: each test costs a Keras session clean-up.
    monkeypatch.chdir(tmp_path)
    for argv, fragments in BAD_INPUT:
        ran = cli(*argv)
        assert_one_line_error(ran, *fragments)
    assert os.listdir(tmp_path) == []  # every case was refused before any work


def test_bad_csv_through_the_command(cli, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x,colour,y\n1,red,0\n2,blue,1\n3,red,0\n4,blue,1\n")
    ran = cli("compare", "--data", path, "--target", "y", "--task", "binary", "--no-plots")
    assert_one_line_error(ran, "Feature column 'colour' is not numeric")
    path.write_text("x,y\n" + "".join(f"{i},{i % 7}\n" for i in range(14)))
    ran = cli("compare", "--data", path, "--target", "y", "--task", "binary", "--no-plots")
    assert_one_line_error(ran, "exactly 2 classes", "has 7")
    ran = cli("compare", "--data", path, "--target", "label", "--task", "binary")
    assert_one_line_error(ran, "Target column 'label' is not in")


def test_same_backend_runs_in_process(cli, monkeypatch):
    def fail(*args):
        raise AssertionError("must not start a new process for the current backend")

    monkeypatch.setattr(backend, "_switch_backend", fail)
    ran = cli("compare", "--target", "y", "--backend", keras.backend.backend())
    assert_one_line_error(ran, "Missing --data: give --data FILE.csv --target COLUMN [--task TASK]")  # the command itself ran, here


def test_other_backend_reruns_the_command_in_a_fresh_process(cli, monkeypatch):
    calls = []

    def fake_call(command, env):
        calls.append((command, env["KERAS_BACKEND"]))
        return 0

    monkeypatch.setattr(backend.subprocess, "call", fake_call)
    other = "jax" if keras.backend.backend() != "jax" else "torch"
    ran = cli("lr-find", "--dataset", "digits", "--backend", other)
    assert ran.code == 0
    assert calls == [([sys.executable, "-m", "keras_lossopt_launcher", "lr-find", "--dataset",
                       "digits", "--backend", other], other)]
    # list and recommend need no backend: nothing to switch.
    assert cli("list", "huber", "--backend", other).code == 0
    assert cli("recommend", "--task", "binary", "--backend", other).code == 0
    assert len(calls) == 1


@pytest.mark.slow
def test_backend_switch_end_to_end(tmp_path):
    # A process that has imported Keras on one backend reruns the command on another.
    other = "jax" if keras.backend.backend() != "jax" else "torch"
    out = tmp_path / "out"
    script = ("import sys, keras, keras_lossopt_launcher; "
              "sys.exit(keras_lossopt_launcher.main(sys.argv[1:]))")
    result = subprocess.run(
        [sys.executable, "-c", script, "compare", "--dataset", "diabetes", "--losses",
         "mean_squared_error", "--optimizers", "sgd", "--epochs", "1", "--budget", "1",
         "--seeds", "1", "--no-plots", "-q",
         "--out", str(out), "--backend", other],
        capture_output=True, text=True, timeout=600, env=launcher_env(TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr
    payload = json.loads((out / "report.json").read_text())
    assert payload["environment"]["backend"] == other


def test_missing_optional_packages_name_the_extra(cli, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    ran = cli("lab", "--tasks", "binary")
    assert_one_line_error(ran, "matplotlib is not installed", "pip install keras_lossopt[plot]")
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    ran = cli("lab", "--tasks", "binary", "--no-plots")
    assert_one_line_error(ran, "scikit-learn is not installed", "pip install keras_lossopt[lab]")
    assert os.listdir(tmp_path) == []
