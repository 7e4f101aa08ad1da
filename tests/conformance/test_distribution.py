"""MirroredStrategy (TensorFlow) and DataParallel (JAX), every optimizer of ours, one child each."""

import keras
import pytest

from keras_lossopt import registry
from tests.conformance import distribute
from tests.conformance.conftest import assert_not_failed


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow only")
def test_mirrored_strategy_equals_single_device(results):
    found = distribute.run_mirrored(registry.entries("optimizer"))
    results.extend(found)
    assert_not_failed(found)


@pytest.mark.slow
@pytest.mark.multibackend
@pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX only (runs in the JAX pass)")
def test_jax_data_parallel_equals_single_device(results):
    found = distribute.run_data_parallel(registry.entries("optimizer"))
    results.extend(found)
    assert_not_failed(found)
