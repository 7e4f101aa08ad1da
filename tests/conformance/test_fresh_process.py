"""Batched fresh-process checks: ONE new Python process per backend reloads every saved model."""

import pytest

from keras_lossopt import registry
from tests.conformance import fresh
from tests.conformance.conftest import assert_not_failed


@pytest.mark.multibackend
@pytest.mark.slow
def test_resume_every_optimizer(results):
    """Train k steps, save, reload in a fresh process, train n: equals the k+n run (<= 1e-6)."""
    found = fresh.run_resume(registry.entries("optimizer"))
    results.extend(found)
    assert_not_failed(found)


@pytest.mark.slow
def test_compile_fit_save_reload_every_loss(results):
    """compile by string and instance, fit, save, fresh-process reload: same evaluate loss."""
    found = fresh.run_loss_reload(registry.entries("loss"))
    results.extend(found)
    assert_not_failed(found)
