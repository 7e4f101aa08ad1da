"""PSGD Kron against a numpy transcription of kron_torch and that code's numbers."""

import keras
import numpy as np
import pytest

from keras_lossopt.optimizers import Kron, _probes
from keras_lossopt.optimizers.kron import diagonal_axes, merged_shape
from tests.optimizers import _harness
from tests.optimizers import _matrix_problems as mp
from tests.reference import kron as reference
from tests.reference.kron import KronReference

LR = 2**-7  # a power of two: Keras keeps the learning rate in a float32 variable
CONFIGS = {
    "defaults": (dict(learning_rate=LR, seed=5), mp.MATRICES + mp.VECTORS + ("tensor_2x2x3x4",)),
    # The probability anneals from step 5 (updates get rarer), one diagonal side,
    # weight decay (rank >= 2 only), and a balancing draw at step 53 (seed 11).
    "anneal": (dict(learning_rate=LR, seed=11, update_probability_flat_start=5,
                    update_probability_decay=0.2, update_probability_min=0.1,
                    memory_save_mode="one_diag", beta_1=0.8, weight_decay=0.1,
                    preconditioner_learning_rate=0.3), mp.MATRICES + mp.VECTORS),
    "fixed_probability": (dict(learning_rate=LR, seed=3, preconditioner_update_probability=0.5,
                               momentum_into_precond_update=False, merge_dims=False,
                               preconditioner_init_scale=0.5),
                          mp.MATRICES + ("tensor_2x2x3x4",)),
}


def _compare(kwargs, names, dtype):
    got = mp.run_keras(Kron(**kwargs), names, 60, dtype)
    errors = {}
    for i, (name, trajectory) in enumerate(zip(names, got)):
        # Variable i draws probe stream 4 * i, as the Keras optimizer does.
        want = _harness.run_reference(KronReference(variable_index=i, **kwargs),
                                      mp.PROBLEMS[name], 60)
        errors[name] = _harness.max_relative_error(trajectory, want)
    return errors


@pytest.mark.multibackend
@pytest.mark.parametrize("config", list(CONFIGS))
def test_matches_reference_float64(config):
    # Measured on TF and torch: <= 1e-8 (the probes are computed in float32).
    mp.skip_float64_on_jax()
    errors = _compare(*CONFIGS[config], "float64")
    assert max(errors.values()) <= 1e-5, errors


@pytest.mark.multibackend
def test_matches_reference_float32():
    # float32, measured: <= 2e-6.
    errors = _compare(*CONFIGS["defaults"], "float32")
    assert max(errors.values()) <= 1e-4, errors


@pytest.mark.multibackend
@pytest.mark.parametrize("label, kwargs, final, steps", mp.golden_cases("kron"),
                         ids=[c[0] for c in mp.golden_cases("kron")])
def test_golden_authors_code(label, kwargs, final, steps):
    # Golden values: kron_torch's kron.py run in float64 with these probes
    # (tests/reference/authors_golden.py). Measured: <= 8e-7.
    mp.skip_float64_on_jax()
    mp.assert_golden(Kron, kwargs, final, steps)


@pytest.mark.multibackend
def test_probe_generator_is_the_same_everywhere():
    # Golden values of the generator from its numpy transcription (tests/reference/kron.py):
    # identical bits on every backend, Box-Muller to float32 rounding.
    words = [keras.ops.convert_to_numpy(w) for w in _probes.threefry(
        keras.ops.convert_to_tensor([7], "int32"), keras.ops.convert_to_tensor([3], "int32"),
        keras.ops.convert_to_tensor([17], "int32"), keras.ops.convert_to_tensor([123], "int32"))]
    want = reference.threefry30(7, 3, [17], [123])
    assert [int(w[0]) for w in words] == [int(w[0]) for w in want]
    z = keras.ops.convert_to_numpy(_probes.normal((4, 50), 12345, 3, 17))
    np.testing.assert_allclose(z, reference.normal((4, 50), 12345, 3, 17), rtol=1e-5, atol=1e-6)


def test_probe_statistics():
    z = keras.ops.convert_to_numpy(_probes.normal((20000,), 1, 0, 0)).astype("float64")
    assert abs(z.mean()) < 0.03 and abs(z.var() - 1.0) < 0.04
    assert abs(np.corrcoef(z[:-1], z[1:])[0, 1]) < 0.03
    later = keras.ops.convert_to_numpy(_probes.normal((20000,), 1, 0, 1)).astype("float64")
    other = keras.ops.convert_to_numpy(_probes.normal((20000,), 1, 4, 0)).astype("float64")
    assert abs(np.corrcoef(z, later)[0, 1]) < 0.03 and abs(np.corrcoef(z, other)[0, 1]) < 0.03


def _train(steps=3, **kwargs):
    w = keras.Variable(np.ones((3, 2)), dtype="float32")
    opt = Kron(learning_rate=0.1, **kwargs)
    for k in range(steps):
        opt.apply_gradients([(keras.ops.convert_to_tensor(
            np.sin(np.arange(6.0) + k).reshape(3, 2), "float32"), w)])
    return w.numpy(), opt


def test_seed_follows_set_random_seed():
    keras.utils.set_random_seed(7)
    a, opt = _train()
    keras.utils.set_random_seed(7)
    b, _ = _train()
    keras.utils.set_random_seed(8)
    c, _ = _train()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert int(keras.ops.convert_to_numpy(opt._seed)) == 7
    d, opt = _train(seed=123)
    assert int(keras.ops.convert_to_numpy(opt._seed)) == 123


def test_fixed_probability_updates_every_fourth_step():
    _, opt = _train(steps=1, preconditioner_update_probability=0.25)
    q0 = [np.array(v.numpy()) for v in opt.variables if "_q_" in v.name]
    np.testing.assert_array_equal(q0[0], np.eye(3))  # counter 1 < 1 / 0.25: no update yet
    _, opt = _train(steps=4, preconditioner_update_probability=0.25)
    q = [np.array(v.numpy()) for v in opt.variables if "_q_" in v.name]
    assert not np.allclose(q[0], np.eye(3))
    assert int(keras.ops.convert_to_numpy(opt._update_counter)) == 0


def test_shapes():
    assert merged_shape((3, 3, 16, 32), True) == (144, 32)
    assert merged_shape((100, 3, 3), True) == (300, 3)  # kron.py compares signed np.diff
    assert diagonal_axes((4, 3), 8192, 2, None) == [False, False]
    assert diagonal_axes((5,), 8192, 2, None) == [True]
    assert diagonal_axes((4, 3), 8192, 2, "one_diag") == [True, False]
    assert diagonal_axes((4, 4), 8192, 2, "smart_one_diag") == [False, False]
    assert diagonal_axes((10000, 3), 8192, 2, None) == [True, False]


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(beta_1=1.0), "beta_1=1.0"),
        (dict(preconditioner_update_probability=0.0), "preconditioner_update_probability=0.0"),
        (dict(memory_save_mode="some"), "memory_save_mode='some'"),
        (dict(preconditioner_learning_rate=2.0), "preconditioner_learning_rate=2.0"),
        (dict(seed=-1), "seed=-1"),
    ],
)
def test_bad_arguments(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        Kron(**kwargs)


def test_compile_by_string_and_instance():
    mp.assert_compiles_and_fits("kron", Kron, learning_rate=0.01)
    mp.assert_compiles_and_fits("psgd_kron", Kron)
