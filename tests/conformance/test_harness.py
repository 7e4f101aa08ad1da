"""Acceptance tests of the harness itself (run in a child process: the registry stays clean).

- registering a new optimizer (or loss) makes it appear in the report, checked;
- a deliberately broken optimizer that forgets its momentum slot on save is caught;
- a loss without sample inputs is reported "n.a. — no sample inputs".
"""

import os
import subprocess
import sys
import textwrap

import pytest

DUMMIES = textwrap.dedent(
    '''
    """Classes registered only for the harness's own tests."""
    import keras
    from keras import ops

    from keras_lossopt.registry import register


    @register("optimizer", name="conformance_dummy_sgd")
    class ConformanceDummySGD(keras.optimizers.SGD):
        """A correct optimizer: plain SGD under a new name."""


    @register("optimizer", name="conformance_broken_momentum")
    class ConformanceBrokenMomentum(keras.optimizers.SGD):
        """Momentum SGD that forgets its momentum slots when saved."""

        def __init__(self, learning_rate=0.01, momentum=0.9, **kwargs):
            super().__init__(learning_rate=learning_rate, momentum=momentum, **kwargs)

        def _kept(self):
            return [v for v in self.variables if "momentum" not in v.path]

        def save_own_variables(self, store):
            for i, v in enumerate(self._kept()):
                store[str(i)] = ops.convert_to_numpy(v)

        def load_own_variables(self, store):
            for i, v in enumerate(self._kept()):
                v.assign(store[str(i)])


    @register("loss", name="conformance_dummy_pairwise")
    class ConformanceDummyPairwise(keras.losses.Loss):
        """A loss whose inputs the harness cannot guess (needs y_pred of shape (B, B))."""

        def __init__(self, reduction="sum_over_batch_size", name="pairwise", dtype=None):
            super().__init__(name=name, reduction=reduction, dtype=dtype)

        def call(self, y_true, y_pred):
            if y_pred.shape[-1] != y_pred.shape[0]:
                raise ValueError(f"y_pred must be square. Received: y_pred.shape={y_pred.shape}")
            return ops.mean(y_pred, axis=-1)

        def get_config(self):
            return {**super().get_config(), "dtype": self.dtype}
    '''
)


@pytest.fixture(scope="module")
def harness_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("harness")
    (tmp / "conformance_dummies.py").write_text(DUMMIES)
    report = tmp / "report.md"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp), root]),
               KERAS_BACKEND="tensorflow")
    proc = subprocess.run(
        [sys.executable, "-m", "tests.conformance", "--backends", "tensorflow",
         "--only", "conformance_dummy_sgd,conformance_broken_momentum,conformance_dummy_pairwise",
         "--checks", "config,resume,reductions", "--imports", "conformance_dummies",
         "--output", str(report)],
        env=env, capture_output=True, text=True, timeout=600, cwd=root,
    )
    assert report.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, report.read_text()


def _row(text, name):
    rows = [line for line in text.splitlines() if line.startswith(f"| `{name}` |")]
    assert len(rows) == 1, text
    return rows[0]


@pytest.mark.slow
def test_a_newly_registered_optimizer_appears_and_passes(harness_run):
    _, text = harness_run
    row = _row(text, "conformance_dummy_sgd")
    assert "FAIL" not in row and row.count("TF PASS") >= 2, row


@pytest.mark.slow
def test_an_optimizer_that_forgets_a_slot_on_save_is_caught(harness_run):
    proc, text = harness_run
    row = _row(text, "conformance_broken_momentum")
    cells = row.split("|")
    header = [line for line in text.splitlines() if line.startswith("| entry |")][0].split("|")
    resume = cells[[c.strip() for c in header].index("resume")]
    config = cells[[c.strip() for c in header].index("config")]
    assert "FAIL" in resume and "PASS" in config, row
    assert "resumed != uninterrupted" in text or "variables" in text
    assert proc.returncode == 1  # a FAIL anywhere fails the run


@pytest.mark.slow
def test_a_loss_without_sample_inputs_is_reported(harness_run):
    _, text = harness_run
    row = _row(text, "conformance_dummy_pairwise")
    assert "n.a." in row and "no sample inputs" in text, row


def _result(backend, value, check="base_features", status="PASS"):
    from keras_lossopt.testing import Result

    return Result("optimizer", "x", check, backend, status, "", {"w": [1.0, value]}, 0.1)


def test_cross_backend_agreement_flags_a_difference(tmp_path):
    from tests.conformance import report, runner

    agree = [_result("tensorflow", 2.0), _result("jax", 2.0 + 1e-7), _result("torch", 2.0)]
    disagree = [_result("tensorflow", 2.0), _result("jax", 2.001)]
    assert [r.status for r in report.agreement(agree)] == ["PASS"]
    bad = report.agreement(disagree)
    assert [r.status for r in bad] == ["FAIL"] and "TF vs JAX" in bad[0].reason
    # Round trip through the JSON files CI writes, then the markdown report counts the failure.
    runner.dump_results(str(tmp_path), "gw0", disagree[:1])
    assert len(runner.load_results(str(tmp_path))) == 1
    assert report.write_markdown(disagree, str(tmp_path / "r.md")) == 1
    assert "| `x` |" in (tmp_path / "r.md").read_text()
