"""MirroredStrategy (TensorFlow), DataParallel and ModelParallel (JAX): every optimizer of ours, one child each."""

import keras
import pytest

from keras_lossopt import registry
from tests.conformance import distribute
from tests.conformance.conftest import assert_not_failed


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow only")
def test_mirrored_strategy_equals_single_device(results):
    sentinels = {}
    found = distribute.run_mirrored(registry.entries("optimizer"), sentinels=sentinels)
    results.extend(found)
    # The harness's self-test: both optimizers broken on purpose are caught, the one
    # whose weights stay right by its state.
    caught = sentinels["__sentinels__"]
    assert set(caught) == set(distribute.SENTINELS), sentinels
    assert "weights:" in caught["per_replica_norm"], caught
    assert caught["per_replica_statistic"].startswith("optimizer state:"), caught
    # What Keras cannot run under replicas is refused, naming the argument.
    for kwargs, error in sentinels["__refusals__"].items():
        argument = "gradient_accumulation_steps" if "accumulation" in kwargs else \
            "ema_overwrite_frequency"
        assert f"`{argument}` is not supported under a tf.distribute" in error, (kwargs, error)
    assert_not_failed(found)
    # Prodigy (issue 16: it drifted under MirroredStrategy) is checked, over a run
    # where its d grows from d0 = 1e-6 by orders of magnitude.
    prodigy = next(r for r in found if r.entry == "prodigy")
    assert prodigy.status == "PASS", prodigy
    assert prodigy.numbers["scalar_growth"][0] > 1e3, prodigy.numbers


@pytest.mark.slow
@pytest.mark.multibackend
@pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX only (runs in the JAX pass)")
def test_jax_data_parallel_equals_single_device(results):
    found = distribute.run_data_parallel(registry.entries("optimizer"))
    results.extend(found)
    assert_not_failed(found)


@pytest.mark.slow
@pytest.mark.multibackend
@pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX only (runs in the JAX pass)")
def test_jax_model_parallel_equals_single_device_and_shards_slots(results):
    found = distribute.run_model_parallel(registry.entries("optimizer"))
    results.extend(found)
    assert_not_failed(found)
    assert any(r.status == "PASS" for r in found), [r.reason for r in found]
