"""SOAP against a numpy transcription of the authors' code and their PyTorch code's numbers."""

import keras
import numpy as np
import pytest

from keras_lossopt.optimizers import SOAP, soap
from keras_lossopt.optimizers import _kronecker as kr
from keras_lossopt.optimizers.soap import merged_shape, plan
from tests.optimizers import _matrix_problems as mp
from tests.reference.soap import SOAPReference

# Learning rates are powers of two: Keras keeps the learning rate in a float32 variable,
# which would otherwise cost the float64 comparison 8 digits.
LR = 2**-7
CONFIGS = {
    # precondition_frequency small enough for 11-19 refreshes in 60 steps.
    "defaults": (dict(learning_rate=LR, precondition_frequency=5), mp.MATRICES + mp.VECTORS),
    "1d_decay": (dict(learning_rate=LR, precondition_frequency=3, precondition_1d=True,
                      beta_1=0.9, beta_2=0.99, shampoo_beta=0.8, weight_decay=0.1),
                 mp.MATRICES + mp.VECTORS),
    "merge_normalize": (dict(learning_rate=LR, precondition_frequency=4, merge_dims=True,
                             max_precondition_dim=6, normalize_grads=True, correct_bias=False),
                        ("tensor_2x2x3x4", "ls_6x5")),
    "too_large": (dict(learning_rate=LR, precondition_frequency=4, max_precondition_dim=4),
                  ("ls_6x5", "ls_3x4")),
}


@pytest.mark.multibackend
@pytest.mark.parametrize("config", list(CONFIGS))
def test_matches_reference_float64(config):
    # Measured on TF and torch: <= 3e-7 relative over 60 steps.
    mp.skip_float64_on_jax()
    kwargs, names = CONFIGS[config]
    errors = mp.compare(lambda: SOAP(**kwargs), lambda: SOAPReference(**kwargs), names)
    assert max(errors.values()) <= 1e-5, errors


@pytest.mark.multibackend
def test_matches_reference_float32():
    # float32, measured: vectors <= 3e-7. Matrices need epsilon >> float32 rounding: the
    # first step projects G onto its own singular vectors, so G' is exactly diagonal in
    # exact arithmetic; in float32 its off-diagonal entries are ~1e-7 |G| > epsilon=1e-8
    # and Adam's m / sqrt(v) turns them into full-size steps (up to 4e-1 apart after 60
    # steps; the same happens in the authors' code). With epsilon=1e-2: <= 3e-4.
    kwargs = dict(learning_rate=LR, precondition_frequency=5)
    errors = mp.compare(lambda: SOAP(**kwargs), lambda: SOAPReference(**kwargs), mp.VECTORS,
                        dtype="float32")
    assert max(errors.values()) <= 1e-5, errors
    kwargs = dict(learning_rate=LR, precondition_frequency=5, epsilon=1e-2)
    errors = mp.compare(lambda: SOAP(**kwargs), lambda: SOAPReference(**kwargs), mp.MATRICES,
                        dtype="float32")
    assert max(errors.values()) <= 1e-3, errors


@pytest.mark.multibackend
@pytest.mark.parametrize("label, kwargs, final, steps", mp.golden_cases("soap"),
                         ids=[c[0] for c in mp.golden_cases("soap")])
def test_golden_authors_code(label, kwargs, final, steps):
    # Golden values: nikhilvyas/SOAP soap.py run in float64 (tests/reference/authors_golden.py).
    # Measured: <= 1.5e-7.
    mp.skip_float64_on_jax()
    mp.assert_golden(SOAP, kwargs, final, steps)


def test_first_call_only_builds_the_basis():
    g = np.array([[1.0, 2.0, 0.5], [-1.0, 0.5, 3.0]])
    w = keras.Variable(np.ones((2, 3)), dtype="float64")
    opt = SOAP(weight_decay=0.5)
    opt.apply_gradients([(keras.ops.convert_to_tensor(g), w)])
    np.testing.assert_array_equal(w.numpy(), np.ones((2, 3)))  # no step, no decay
    state = {v.name.split("_", 1)[1]: np.asarray(v.numpy()) for v in opt.variables[2:]}
    assert {k: v.dtype for k, v in state.items()} == dict.fromkeys(state, np.float64)
    np.testing.assert_array_equal(state["exp_avg"], 0.0)
    np.testing.assert_allclose(state["factor_0"], 0.05 * g @ g.T, rtol=1e-14)
    np.testing.assert_allclose(state["factor_1"], 0.05 * g.T @ g, rtol=1e-14)
    for k, factor in ((0, g @ g.T), (1, g.T @ g)):
        q = state[f"basis_{k}"]
        np.testing.assert_allclose(q.T @ q, np.eye(len(q)), atol=1e-12)
        eigenvalues = np.diag(q.T @ factor @ q)
        assert np.all(np.diff(eigenvalues) <= 1e-12)  # largest first




@pytest.mark.multibackend
def test_canonical_null_space_keeps_the_basis_orthogonal_wherever_the_null_columns_are():
    """After a refresh's QR the estimates are not sorted: near-null columns sit anywhere.

    Seen in a 16-step fit of an (8, 1) kernel: estimates [3.1, 0.16, 2.6e-3, 2.4e-5,
    3.2e-5, 1e-7, 4e-8, -4e-8] with a null threshold of 3e-5 mark columns 3, 5, 6, 7.
    Replacing the trailing four columns instead (a former bug) kept column 3 and
    dropped column 4: the basis was 0.8 away from orthogonal.
    """
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    estimates = np.array([3.1, 0.16, 2.6e-3, 2.4e-5, 3.2e-5, 1e-7, 4e-8, -4e-8])
    out = np.asarray(keras.ops.convert_to_numpy(soap.canonical_null_space(
        keras.ops.convert_to_tensor(q.astype("float32")),
        keras.ops.convert_to_tensor(estimates.astype("float32")))), "float64")
    np.testing.assert_allclose(out.T @ out, np.eye(8), atol=1e-5)
    kept, null = [0, 1, 2, 4], [3, 5, 6, 7]
    np.testing.assert_allclose(out[:, kept], q[:, kept], atol=1e-6)
    projector = q[:, null] @ q[:, null].T  # the same subspace, in a canonical basis
    np.testing.assert_allclose(projector @ out[:, null], out[:, null], atol=1e-5)


def test_merge_dims_and_plans():
    # Authors' merge_dims on Keras's (kh, kw, in, out) order.
    assert merged_shape((3, 3, 16, 32), 10000) == (4608,)
    assert merged_shape((3, 3, 64, 64), 10000) == (576, 64)
    assert merged_shape((20000, 5), 10000) == (20000, 5)
    assert plan((20000, 5), 10000, False, False) == ((20000, 5), [False, True])
    assert plan((7,), 10000, True, False) == ((7,), [False])
    assert plan((7,), 10000, True, True) == ((7,), [True])
    assert plan((3, 4), 10000, True, False) == ((12,), [True])


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(beta_1=1.0), "beta_1=1.0"),
        (dict(shampoo_beta=-0.1), "shampoo_beta=-0.1"),
        (dict(precondition_frequency=0), "precondition_frequency=0"),
        (dict(max_precondition_dim=2.5), "max_precondition_dim=2.5"),
        (dict(merge_dims="yes"), "merge_dims='yes'"),
        (dict(weight_decay=-1.0), "weight_decay=-1.0"),
    ],
)
def test_bad_arguments(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        SOAP(**kwargs)


def test_compile_by_string_and_instance():
    mp.assert_compiles_and_fits("soap", SOAP, learning_rate=0.01)


@pytest.mark.multibackend
def test_kronecker_cond_takes_the_branch_ops_cond_takes():
    # _kronecker.cond picks the branch in Python on JAX outside a trace; inside one
    # (jax.jit) it must stay a conditional of the compiled program.
    x = keras.ops.convert_to_tensor([1.0, 2.0])
    for flag in (True, False):
        pred = keras.ops.convert_to_tensor(flag)
        want = keras.ops.cond(pred, lambda: [x * 2.0, x + 1.0], lambda: [x, x - 1.0])
        got = kr.cond(pred, lambda: [x * 2.0, x + 1.0], lambda: [x, x - 1.0])
        for a, b in zip(got, want):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(a),
                                          keras.ops.convert_to_numpy(b))
    if keras.backend.backend() == "jax":
        import jax

        traced = jax.jit(lambda p: kr.cond(p, lambda: x * 2.0, lambda: x))
        np.testing.assert_array_equal(np.asarray(traced(True)), [2.0, 4.0])
        np.testing.assert_array_equal(np.asarray(traced(False)), [1.0, 2.0])
