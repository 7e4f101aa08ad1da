"""Every registered loss x every per-entry check (the registry is the only list)."""

import pytest

from keras_lossopt import registry
from keras_lossopt.testing import losses
from tests.conformance.conftest import assert_not_failed

MULTIBACKEND = ("config", "reductions", "edge_gradients", "mixed_float16")  # checks 1-4

CASES = [
    pytest.param(entry, check, id=f"{entry.name}-{check}",
                 marks=[pytest.mark.multibackend] if check in MULTIBACKEND else [])
    for check in losses.CHECKS
    for entry in registry.entries("loss")
]


@pytest.mark.parametrize("entry, check", CASES)
def test_loss_conformance(entry, check, results):
    result = losses.run(entry, check)
    results.append(result)
    assert_not_failed(result)
    if result.status == "n.a.":
        pytest.skip(f"n.a.: {result.reason}")
