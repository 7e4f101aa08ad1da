"""Shampoo against a numpy transcription of the AlgoPerf v0.5 code and that code's numbers."""

import keras
import numpy as np
import pytest

from keras_lossopt.optimizers import Shampoo
from keras_lossopt.optimizers import shampoo as shampoo_module
from tests.optimizers import _matrix_problems as mp
from tests.reference.shampoo import ShampooReference, _inverse_root

LR = 2**-7  # a power of two: Keras keeps the learning rate in a float32 variable
ALL = mp.MATRICES + mp.VECTORS
CONFIGS = {
    # 12 inverse roots in 60 steps; merged (3x4 -> one 12x12 factor) and not.
    "adam_merged": (dict(learning_rate=LR, precondition_frequency=5), ALL),
    "adam": (dict(learning_rate=LR, precondition_frequency=5, merge_dims=False),
             ALL + ("tensor_2x2x3x4",)),
    # 6x5 in blocks of <= 4 (four blocks, each its own grafting norm), start at step 7.
    "blocked_adagrad_nadam": (dict(learning_rate=LR, precondition_frequency=3,
                                   start_preconditioning_step=7, max_preconditioner_dim=4,
                                   grafting="adagrad", nadam=True, beta_2=0.99,
                                   weight_decay=0.1),
                              mp.MATRICES + ("tensor_2x2x3x4",)),
    "rmsprop_no_momentum": (dict(learning_rate=LR, precondition_frequency=4,
                                 max_preconditioner_dim=3, grafting="rmsprop",
                                 grafting_beta_2=0.9, merge_dims=False, beta_1=0.0), ALL),
    "sgd_sum": (dict(learning_rate=LR, precondition_frequency=4, max_preconditioner_dim=4,
                     grafting="sgd", beta_2=1.0, use_bias_correction=False), ALL),
    # Without grafting Shampoo's own step is used (rosenbrock diverges there, in both).
    "no_grafting": (dict(learning_rate=2**-8, precondition_frequency=4, grafting=None,
                         merge_dims=False), mp.MATRICES + ("quadratic",)),
}


@pytest.mark.multibackend
@pytest.mark.parametrize("config", list(CONFIGS))
def test_matches_reference_float64(config):
    # Measured on TF and torch: <= 8e-7 (Keras's float32 weight_decay), else <= 3e-10.
    mp.skip_float64_on_jax()
    kwargs, names = CONFIGS[config]
    errors = mp.compare(lambda: Shampoo(**kwargs), lambda: ShampooReference(**kwargs), names)
    assert max(errors.values()) <= 1e-5, errors


@pytest.mark.multibackend
def test_matches_reference_float32():
    # float32, measured: <= 7e-5 on these problems (a factor of rank < dim has eigenvalues
    # at rounding level, and the -1/4 power of (that + epsilon) amplifies them).
    kwargs, names = CONFIGS["adam"]
    errors = mp.compare(lambda: Shampoo(**kwargs), lambda: ShampooReference(**kwargs), names,
                        dtype="float32")
    assert max(errors.values()) <= 3e-4, errors


@pytest.mark.multibackend
@pytest.mark.parametrize("label, kwargs, final, steps", mp.golden_cases("shampoo"),
                         ids=[c[0] for c in mp.golden_cases("shampoo")])
def test_golden_authors_code(label, kwargs, final, steps):
    # Golden values: the AlgoPerf v0.5 DistributedShampoo run in float64
    # (tests/reference/authors_golden.py). Measured: <= 7e-7.
    mp.skip_float64_on_jax()
    mp.assert_golden(Shampoo, kwargs, final, steps)


def _spd(n, seed, rank=None):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, rank or n))
    return a @ a.T


def test_inverse_roots():
    a = _spd(5, 0)
    want = _inverse_root(a, 4, 1e-8, False)  # the reference's eigen path
    got = keras.ops.convert_to_numpy(shampoo_module.eigen_inverse_root(
        keras.ops.convert_to_tensor(a, "float64"), 4, 1e-8))
    np.testing.assert_allclose(got, want, rtol=1e-10)
    newton = keras.ops.convert_to_numpy(shampoo_module.newton_inverse_root(
        keras.ops.convert_to_tensor(a, "float64"), 4, 1e-8))
    np.testing.assert_allclose(newton, want, rtol=1e-5, atol=1e-7)


def test_singular_factor_stays_finite():
    # A zero factor (zero gradients) and a rank-1 factor: (0 + epsilon)^(-1/4) is finite.
    for a in (np.zeros((4, 4)), _spd(4, 1, rank=1)):
        x = keras.ops.convert_to_numpy(shampoo_module.protected_inverse_root(
            keras.ops.convert_to_tensor(a, "float32"), 4, 1e-8,
            keras.ops.zeros((4, 4), "float32")))
        assert np.isfinite(x).all()
    # Along the range of the rank-1 factor: (lambda + epsilon)^(-1/4).
    lam, vec = np.linalg.eigh(a)
    np.testing.assert_allclose(x @ vec[:, -1], lam[-1] ** -0.25 * vec[:, -1], rtol=1e-4,
                               atol=1e-6)


def test_protection_falls_back_to_newton_then_previous(monkeypatch):
    a = keras.ops.convert_to_tensor(_spd(3, 2), "float64")
    previous = keras.ops.ones((3, 3), "float64")
    monkeypatch.setattr(shampoo_module, "eigen_inverse_root",
                        lambda a, root, eps: keras.ops.full((3, 3), np.nan, "float64"))
    x = keras.ops.convert_to_numpy(shampoo_module.protected_inverse_root(a, 4, 1e-8, previous))
    np.testing.assert_allclose(x, keras.ops.convert_to_numpy(
        shampoo_module.newton_inverse_root(a, 4, 1e-8)))
    bad = keras.ops.convert_to_tensor(np.full((3, 3), np.inf), "float64")
    x = keras.ops.convert_to_numpy(shampoo_module.protected_inverse_root(bad, 4, 1e-8, previous))
    np.testing.assert_array_equal(x, 1.0)


def test_nothing_moves_before_the_first_root_without_grafting():
    w = keras.Variable(np.ones((3, 2)), dtype="float32")
    opt = Shampoo(grafting=None, precondition_frequency=3)
    for _ in range(2):
        opt.apply_gradients([(keras.ops.ones((3, 2)), w)])
    np.testing.assert_array_equal(w.numpy(), 1.0)  # inverse factors start at zero
    opt.apply_gradients([(keras.ops.ones((3, 2)), w)])
    assert np.all(w.numpy() < 1.0)


def test_merge_and_blocks():
    assert shampoo_module.merge_small_dims((3, 3, 16, 32), 1024) == (144, 32)
    assert shampoo_module.merge_small_dims((1, 5, 1), 1024) == (5,)
    assert shampoo_module.merge_small_dims((), 1024) == (1,)
    merged, blocks = shampoo_module.plan((6, 5), 4, False)
    assert merged == (6, 5)
    assert blocks == [((0, 4), (0, 4)), ((0, 4), (4, 1)), ((4, 2), (0, 4)), ((4, 2), (4, 1))]


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(beta_2=0.0), "beta_2=0.0"),
        (dict(epsilon=0.0), "epsilon=0.0"),
        (dict(precondition_frequency=10, start_preconditioning_step=5),
         "start_preconditioning_step=5"),
        (dict(grafting="adamw"), "grafting='adamw'"),
        (dict(max_preconditioner_dim=0), "max_preconditioner_dim=0"),
        (dict(grafting_beta_2=1.5), "grafting_beta_2=1.5"),
    ],
)
def test_bad_arguments(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        Shampoo(**kwargs)


def test_compile_by_string_and_instance():
    mp.assert_compiles_and_fits("shampoo", Shampoo, learning_rate=0.01)
