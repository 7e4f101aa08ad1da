"""The torch multi-tensor fast path (optimizers/_torch_fast.py) against each class's keras.ops step.

Torch only (skipped on other backends); marked multibackend so that CI's torch pass
runs it. Each optimizer takes 50 steps with weight decay, clipnorm, EMA and gradient
accumulation on, once with the fast path and once without; every variable and slot
must agree to 1e-6, and the fast path must really have run.
"""

import keras
import numpy as np
import pytest

from keras_lossopt import _keras_compat
from keras_lossopt.optimizers import (
    LARS,
    AdaBelief,
    AdaBound,
    Adan,
    AdEMAMix,
    GradientDescent,
    LazyAdam,
    Lookahead,
    NovoGrad,
    Prodigy,
    RAdam,
    Ranger,
    ScheduleFreeSGD,
    Yogi,
    _torch_fast,
)

pytestmark = [
    pytest.mark.multibackend,
    pytest.mark.skipif(keras.backend.backend() != "torch", reason="the torch fast path"),
]

SHAPES = [(3, 4), (5,), (2, 2, 3)]
COMMON = dict(weight_decay=0.01, clipnorm=1.0, use_ema=True, ema_momentum=0.9,
              gradient_accumulation_steps=2)
# LazyAdam's weight decay is its own (lazy, inside update_step), so with weight_decay
# it runs the keras.ops step; its fast path is checked without it.
NO_DECAY = {k: v for k, v in COMMON.items() if k != "weight_decay"}
CASES = {
    "lazy_adam": lambda: LazyAdam(learning_rate=0.01, **NO_DECAY),
    "lazy_adam_amsgrad": lambda: LazyAdam(learning_rate=0.01, amsgrad=True, **NO_DECAY),
    "gradient_descent": lambda: GradientDescent(learning_rate=0.05, **COMMON),
    "yogi": lambda: Yogi(learning_rate=0.01, **COMMON),
    "adabelief": lambda: AdaBelief(learning_rate=0.01, **COMMON),
    # sma_threshold 5: the un-rectified (momentum) steps come first, then the adaptive ones.
    "radam": lambda: RAdam(learning_rate=0.01, **COMMON),
    # Prodigy's weight decay is its own (d-scaled); the fast path applies it too.
    "prodigy": lambda: Prodigy(**COMMON),
    "prodigy_no_momentum": lambda: Prodigy(beta_1=0.0, safeguard_warmup=True, **COMMON),
    "adabound": lambda: AdaBound(learning_rate=0.01, **COMMON),
    "adabound_amsbound": lambda: AdaBound(learning_rate=0.01, amsbound=True, **COMMON),
    "ademamix": lambda: AdEMAMix(learning_rate=0.01, alpha_warmup=20, beta_3_warmup=20,
                                 **COMMON),
    "lars": lambda: LARS(learning_rate=0.1, trust_coefficient=0.1, **COMMON),
    "lars_nesterov_no_decay": lambda: LARS(learning_rate=0.1, nesterov=True, **NO_DECAY),
    "novograd": lambda: NovoGrad(learning_rate=0.01, **COMMON),
    "adan": lambda: Adan(learning_rate=0.01, **COMMON),
    "schedule_free_sgd": lambda: ScheduleFreeSGD(learning_rate=0.1, warmup_steps=5, **COMMON),
    "schedule_free_sgd_no_decay": lambda: ScheduleFreeSGD(learning_rate=0.1, r=0.5, **NO_DECAY),
}


def _run(make, fast, steps=50):
    _torch_fast.set_enabled(fast)
    try:
        rng = np.random.default_rng(0)
        variables = [keras.Variable(rng.normal(size=s).astype("float32")) for s in SHAPES]
        opt = make()
        for _ in range(steps):
            grads = [keras.ops.convert_to_tensor(rng.normal(size=s).astype("float32"))
                     for s in SHAPES]
            opt.apply_gradients(zip(grads, variables))
        return [_keras_compat.to_numpy(v) for v in variables + list(opt.variables)]
    finally:
        _torch_fast.set_enabled(True)


@pytest.mark.parametrize("name", sorted(CASES))
def test_fast_path_matches_the_keras_ops_step(name, monkeypatch):
    make = CASES[name]
    rule_name = make()._torch_fast_rule
    real = _torch_fast._RULES[rule_name]
    calls = []

    def counting():
        rule = real()
        assert rule is not None, "the fast path is unavailable"

        def step(*args):
            calls.append(1)
            return rule(*args)

        return step

    monkeypatch.setitem(_torch_fast._RULES, rule_name, counting)
    fast = _run(make, fast=True)
    assert len(calls) == 25  # 50 steps, accumulated in pairs
    calls.clear()
    slow = _run(make, fast=False)
    assert not calls
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert any(np.any(a != b0) for a, b0 in zip(fast, _initial(make))), "nothing moved"


WRAPPERS = {
    "lookahead_lazy_adam": lambda: Lookahead(LazyAdam(learning_rate=0.01), sync_period=3,
                                             **COMMON),
    "ranger": lambda: Ranger(learning_rate=0.01, sync_period=4, slow_step_size=0.3, **COMMON),
}


@pytest.mark.parametrize("name", sorted(WRAPPERS))
def test_lookahead_sync_matches_the_keras_ops_sync(name, monkeypatch):
    real = _torch_fast.lookahead_synchronise
    results = []

    def counting(*args):
        results.append(real(*args))
        return results[-1]

    monkeypatch.setattr(_torch_fast, "lookahead_synchronise", counting)
    make = WRAPPERS[name]
    fast = _run(make, fast=True)
    # 25 applied steps: a sync every sync_period of them, each done in place
    syncs = 25 // make().sync_period
    assert results == [True] * syncs
    results.clear()
    slow = _run(make, fast=False)
    assert results == [False] * syncs  # switched off: the keras.ops sync ran
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def _initial(make):
    rng = np.random.default_rng(0)
    return [rng.normal(size=s).astype("float32") for s in SHAPES]


def test_a_subclass_that_changes_update_step_keeps_its_own_step():
    class Halved(Yogi):
        def update_step(self, gradient, variable, learning_rate):
            super().update_step(gradient * 0.5, variable, learning_rate)

    opt = Halved()
    w = keras.Variable([1.0, 2.0])
    opt.build([w])
    assert opt._torch_fast_rule_for([keras.ops.ones((2,))], [w]) is None
    assert Yogi()._torch_fast_rule_for([keras.ops.ones((2,))], [w]) is not None


def test_kerass_own_torch_steps_are_found():
    for keras_class in (keras.optimizers.Adam, keras.optimizers.SGD):
        assert callable(_keras_compat.keras_torch_multi_tensor_step(keras_class))
