"""A loss registered with its metadata in a module of its own is covered by the
conformance harness and the model checker with no other edit (run in a child
process, so that this process's registry stays clean)."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAME = "conformance_dummy_brier"

MODULE = textwrap.dedent(
    f'''
    """A Brier score, registered here and nowhere else."""
    from keras import ops

    from keras_lossopt.losses.base import FunctionLoss, prepare
    from keras_lossopt.registry import register


    def brier(y_true, y_pred, from_logits=False):
        y_true, y_pred = prepare(y_true, y_pred, "ConformanceDummyBrier")  # aligns ranks
        p = ops.sigmoid(y_pred) if from_logits else y_pred
        return ops.mean(ops.square(p - y_true), axis=-1)


    @register("loss", name="{NAME}", task="binary", inputs="binary")
    class ConformanceDummyBrier(FunctionLoss):
        def __init__(self, from_logits=False, reduction="sum_over_batch_size",
                     name="{NAME}", dtype=None):
            super().__init__(brier, name=name, reduction=reduction, dtype=dtype,
                             from_logits=bool(from_logits))
    '''
)

CHILD = textwrap.dedent(
    f'''
    import json, sys
    import keras
    import keras_lossopt
    import conformance_dummy_brier  # the only mention of the new loss
    from tests.conformance import runner

    results = runner.run_all(kinds=("loss",), only=["{NAME}"],
                             checks=["config", "reductions", "edge_gradients"])
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="softmax")])
    model.compile(loss="{NAME}")
    linear = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    linear.compile(loss="{NAME}")
    json.dump({{
        "results": [(r.entry, r.check, r.status, r.reason) for r in results],
        "softmax_head": [f.code for f in keras_lossopt.check_model(model, mode="silent")],
        "linear_head": [f.code for f in keras_lossopt.check_model(linear, mode="silent")],
    }}, sys.stdout)
    '''
)


@pytest.fixture(scope="module")
def child(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("new_loss")
    (tmp / "conformance_dummy_brier.py").write_text(MODULE)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp), ROOT]))
    proc = subprocess.run([sys.executable, "-c", CHILD], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_the_conformance_harness_checks_it_with_its_registered_inputs(child):
    assert [(e, c, s) for e, c, s, _ in child["results"]] == [
        (NAME, "config", "PASS"), (NAME, "reductions", "PASS"),
        (NAME, "edge_gradients", "PASS")], child["results"]


@pytest.mark.slow
def test_the_checker_knows_its_task(child):
    # task="binary" on probabilities (from_logits=False): a softmax over 4 units and a
    # linear head are both the classic binary mistakes.
    assert child["softmax_head"] == ["softmax_with_binary_crossentropy"]
    assert child["linear_head"] == ["linear_output_without_from_logits"]
