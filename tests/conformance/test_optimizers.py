"""Every registered optimizer x every per-entry check (the registry is the only list)."""

import keras
import pytest

from keras_lossopt import registry
from keras_lossopt.testing import optimizers
from tests.conformance.conftest import assert_not_failed

# Checks that CI reruns on JAX and PyTorch (checks 1, 3, 4 of the issue; check 2,
# resume, is in test_fresh_process.py); the others run on TensorFlow only, to keep
# the JAX and PyTorch passes inside the CI budget.
MULTIBACKEND = ("config", "base_features", "xla")

CASES = [
    pytest.param(entry, check, id=f"{entry.name}-{check}",
                 marks=[pytest.mark.multibackend] if check in MULTIBACKEND else [])
    for check in optimizers.CHECKS
    for entry in registry.entries("optimizer")
]


@pytest.mark.parametrize("entry, check", CASES)
def test_optimizer_conformance(entry, check, results):
    result = optimizers.run(entry, check)
    results.append(result)
    assert_not_failed(result)
    if result.status == "n.a.":
        pytest.skip(f"n.a.: {result.reason}")


@pytest.mark.multibackend
@pytest.mark.parametrize("entry", registry.entries("optimizer"), ids=lambda e: e.name)
def test_constructs_without_arguments(entry):
    entry.cls()


# The matrix-preconditioned optimizers (their eigh/QR/solves are the ops whose backends
# differ most) also run the convergence check on JAX and PyTorch; the element-wise
# optimizers run it on TensorFlow only, for the CI budget.
@pytest.mark.multibackend
@pytest.mark.skipif(keras.backend.backend() == "tensorflow",
                    reason="on TensorFlow this is one of the per-entry cases above")
@pytest.mark.parametrize("name", ["soap", "shampoo", "kron"])
def test_matrix_optimizers_converge_on_every_backend(name, results):
    result = optimizers.run(registry.lookup("optimizer", name), "convergence")
    results.append(result)
    assert_not_failed(result)
    assert result.status == "PASS", result
