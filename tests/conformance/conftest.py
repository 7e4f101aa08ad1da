"""The `results` fixture: every test hands it its Results; they are written to
$KERAS_LOSSOPT_CONFORMANCE_DIR (if set) when the session ends, for the report."""

import os

import pytest

from keras_lossopt.testing import FAIL
from tests.conformance import runner


@pytest.fixture(scope="session")
def results():
    collected = []
    yield collected
    directory = os.environ.get(runner.RESULTS_DIR_ENV)
    if directory:
        runner.dump_results(directory, os.environ.get("PYTEST_XDIST_WORKER", "main"), collected)


def assert_not_failed(result_or_results):
    found = result_or_results if isinstance(result_or_results, list) else [result_or_results]
    failed = [r for r in found if r.status == FAIL]
    assert not failed, "\n".join(f"{r.entry} / {r.check} / {r.backend}: {r.reason}" for r in failed)
