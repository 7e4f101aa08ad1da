"""The console script's start-up: no backend for help, version, list and recommend;
no backend log noise from a command that trains; the catalogue read from source
equals the live registry."""

import configparser
import json
import subprocess
import sys

import pytest

from keras_lossopt import registry
from keras_lossopt.cli import catalogue
from tests.cli.conftest import ROOT, launcher_env

BACKEND_MODULES = ("keras", "tensorflow", "jax", "torch")

# Runs the console script's entry point, then reports which modules it imported.
_WRAPPER = """
import json, sys
import keras_lossopt_launcher
code = keras_lossopt_launcher.main(sys.argv[1:])
sys.stdout.flush()
print("\\nIMPORTED " + json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
sys.exit(code)
"""


def test_the_console_script_starts_in_the_launcher():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    scripts = config["options.entry_points"]["console_scripts"].split("=")
    assert [s.strip() for s in scripts] == ["keras-lossopt", "keras_lossopt_launcher:main"]
    assert "keras_lossopt_launcher" in config["options"]["py_modules"].split()


@pytest.mark.slow
@pytest.mark.parametrize("argv, expected", [
    (["--help"], "usage: keras-lossopt"),
    (["--version"], "keras_lossopt 0.1.0"),
    (["list", "huber"], "pseudo_huber  ours"),
    (["recommend", "--task", "binary", "--imbalanced"], "loss:        sigmoid_focal"),
    (["lab", "--help"], "usage: keras-lossopt lab"),
    (["plot-losses", "--help"], "usage: keras-lossopt plot-losses"),
])
def test_commands_without_training_import_no_backend(argv, expected):
    result = subprocess.run([sys.executable, "-c", _WRAPPER, *argv], capture_output=True,
                            text=True, timeout=120, env=launcher_env(KERAS_BACKEND=None))
    assert result.returncode == 0, result.stderr
    out, _, imported = result.stdout.rpartition("\nIMPORTED ")
    assert expected in out
    assert not set(json.loads(imported)) & set(BACKEND_MODULES), imported
    assert result.stderr == ""


@pytest.mark.slow
def test_a_training_command_prints_no_backend_log_noise(tmp_path):
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "keras_lossopt_launcher", "compare", "--dataset", "diabetes",
         "--losses", "mean_squared_error", "--optimizers", "sgd", "--epochs", "1",
         "--no-plots", "-q", "--out", str(out), "--backend", "tensorflow"],
        capture_output=True, text=True, timeout=600,
        env=launcher_env(TF_CPP_MIN_LOG_LEVEL=None))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert json.loads((out / "report.json").read_text())["environment"]["backend"] == "tensorflow"


@pytest.mark.parametrize("kind", catalogue.KINDS)
def test_the_catalogue_read_from_source_is_the_registry(kind):
    assert catalogue.KINDS == registry.KINDS
    from_source = sorted(catalogue.source_rows(kind), key=lambda row: row.name)
    live = sorted(catalogue.live_rows(registry, kind), key=lambda row: row.name)
    assert from_source == live
    assert len(live) == len(registry.entries(kind)) > 0
    # In a process that has imported keras_lossopt, `list` reads the live registry.
    assert catalogue.rows(kind) == live
