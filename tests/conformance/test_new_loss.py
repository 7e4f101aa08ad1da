"""CONTRIBUTING.md's worked examples are true: a loss, or an optimizer, written as
that one file with its `@register` is covered by the conformance harness, the model
checker and the CLI's task checks with no other edit.

The modules are the code blocks of CONTRIBUTING's "Adding a loss" and "Adding an
optimizer" sections, imported in one child process (so that this process's registry
stays clean)."""

import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
LOSS, OPTIMIZER = "brier_score", "signum"


def _first_python_block(heading):
    text = (ROOT / "CONTRIBUTING.md").read_text()
    section = text.split(f"\n## {heading}", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


CHILD = textwrap.dedent(
    f'''
    import json, sys
    import keras
    import numpy as np
    import keras_lossopt
    import contributing_loss, contributing_optimizer  # the only mentions of the new classes
    from keras_lossopt.cli import engine
    from keras_lossopt.cli._errors import CLIError
    from keras_lossopt.cli.specs import LossSpec
    from tests.conformance import runner

    results = runner.run_all(kinds=("loss",), only=["{LOSS}"],
                             checks=["config", "reductions", "edge_gradients"])
    results += runner.run_all(kinds=("optimizer",), only=["{OPTIMIZER}"],
                              checks=["config", "convergence"])
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="softmax")])
    model.compile(loss="{LOSS}")
    linear = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    linear.compile(loss="{LOSS}")
    spec = LossSpec("{LOSS}")
    entry = engine.loss_entry(spec, spec.make())
    try:
        engine.check_task(spec, entry, "regression")
        refused = None
    except CLIError as e:
        refused = str(e)
    fit = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    fit.compile(optimizer="{OPTIMIZER}", loss="{LOSS}")
    x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    history = fit.fit(x, (x[:, :1] > 0).astype("float32"), epochs=2, verbose=0)
    json.dump({{
        "results": [(r.entry, r.check, r.status, r.reason) for r in results],
        "softmax_head": [f.code for f in keras_lossopt.check_model(model, mode="silent")],
        "linear_head": [f.code for f in keras_lossopt.check_model(linear, mode="silent")],
        "cli_fits": {{t: engine.fits(entry, t) for t in ("binary", "multiclass", "regression")}},
        "cli_refusal": refused,
        "fit": [type(fit.optimizer).__name__, type(keras.losses.get("{LOSS}")).__name__,
                history.history["loss"]],
    }}, sys.stdout)
    '''
)


@pytest.fixture(scope="module")
def child(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("contributing")
    (tmp / "contributing_loss.py").write_text(_first_python_block("Adding a loss"))
    (tmp / "contributing_optimizer.py").write_text(_first_python_block("Adding an optimizer"))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp), str(ROOT)]))
    proc = subprocess.run([sys.executable, "-c", CHILD], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_the_conformance_harness_checks_both_with_no_other_edit(child):
    assert [(e, c, s) for e, c, s, _ in child["results"]] == [
        (LOSS, "config", "PASS"), (LOSS, "reductions", "PASS"),
        (LOSS, "edge_gradients", "PASS"),
        (OPTIMIZER, "config", "PASS"), (OPTIMIZER, "convergence", "PASS")], child["results"]


@pytest.mark.slow
def test_the_checker_knows_the_loss_task(child):
    # task="binary" on probabilities (from_logits=False): a softmax over 4 units and a
    # linear head are both the classic binary mistakes.
    assert child["softmax_head"] == ["softmax_with_binary_crossentropy"]
    assert child["linear_head"] == ["linear_output_without_from_logits"]


@pytest.mark.slow
def test_the_cli_runs_the_loss_only_on_its_task(child):
    assert child["cli_fits"] == {"binary": True, "multiclass": False, "regression": False}
    assert child["cli_refusal"] and LOSS in child["cli_refusal"], child["cli_refusal"]
    assert "binary" in child["cli_refusal"] and "regression" in child["cli_refusal"]


@pytest.mark.slow
def test_both_names_work_in_compile_and_fit(child):
    optimizer, loss, losses = child["fit"]
    assert (optimizer, loss) == ("Signum", "BrierScore")
    assert all(0.0 <= v <= 1.0 for v in losses) and losses[-1] < losses[0], losses
