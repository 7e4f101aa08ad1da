"""A real two-process MultiWorkerMirroredStrategy run on loopback, for a representative subset."""

import os

import keras
import pytest

from keras_lossopt import registry
from tests.conformance import distribute
from tests.conformance.conftest import assert_not_failed


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow only")
@pytest.mark.skipif(
    os.environ.get("KERAS_LOSSOPT_SKIP_MULTI_WORKER") == "1",
    reason="KERAS_LOSSOPT_SKIP_MULTI_WORKER=1: it starts two TensorFlow workers on loopback ports",
)
def test_multi_worker_mirrored_equals_single_device(results):
    found = distribute.run_multi_worker(registry.entries("optimizer"))
    results.extend(found)
    assert_not_failed(found)
    assert any(r.status == "PASS" for r in found), [r.reason for r in found]
