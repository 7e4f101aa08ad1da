"""GradientCentralization against numpy transcriptions of the authors' SGD_GC and Adam_GC."""

import keras
import numpy as np
import pytest

from keras_lossopt.optimizers import GradientCentralization
from tests.optimizers import _harness, _linear_model
from tests.reference.gradient_centralization import (
    AdamGCReference,
    SGDGCReference,
    centralize_keras_layout,
)

needs_float64 = pytest.mark.skipif(not _linear_model.float64_available(),
                                   reason="no float64 on this backend (JAX without x64)")


def _column(problem):
    # The 2-D problems as (2, 1) kernels (2 inputs, 1 unit), so that GC acts on them;
    # as vectors (rank 1) it leaves them alone.
    p = _harness.PROBLEMS[problem]
    return _harness.Problem(f"{problem}_column", p.x0.reshape(2, 1),
                            lambda x: p.grad(x.reshape(2)).reshape(2, 1),
                            lambda x: p.loss(x.reshape(2)))


PROBLEMS = (_column("rosenbrock"), _column("quadratic"), "matrix", "rosenbrock")


def _sgd():
    # Float32 numbers: Keras casts Python hyperparameters through float32.
    return keras.optimizers.SGD(learning_rate=2**-10, momentum=0.875)


@pytest.mark.multibackend
def test_matches_sgd_gc_float32():
    # Measured max relative error over the 50 steps: <= 4e-7.
    _harness.assert_matches(lambda: GradientCentralization(_sgd()),
                            lambda: SGDGCReference(2**-10, momentum=0.875), PROBLEMS)


@needs_float64
@pytest.mark.multibackend
def test_matches_sgd_gc_float64():
    _harness.assert_matches(lambda: GradientCentralization(_sgd()),
                            lambda: SGDGCReference(2**-10, momentum=0.875), PROBLEMS,
                            rtol=1e-5, dtype="float64")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_matches_adam_gc(dtype):
    # Adam_GC adds epsilon after the bias correction (PyTorch's Adam), Keras's Adam
    # before it: with epsilon 2**-40 both placements are below float64 resolution here.
    if dtype == "float64" and not _linear_model.float64_available():
        pytest.skip("no float64 on this backend")
    kwargs = dict(learning_rate=2**-7, beta_1=0.875, beta_2=1 - 2**-10, epsilon=2**-40)
    _harness.assert_matches(
        lambda: GradientCentralization(keras.optimizers.Adam(**kwargs)),
        lambda: AdamGCReference(**kwargs), PROBLEMS,
        rtol=1e-4 if dtype == "float32" else 1e-5, dtype=dtype)


@pytest.mark.parametrize("dtype, rtol", [("float32", 2e-6), ("float64", 1e-12)])
def test_golden_authors_code(dtype, rtol):
    if dtype == "float64" and not _linear_model.float64_available():
        pytest.skip("no float64 on this backend")
    # Golden values: the authors' SGD_GC (Yonghongwei/Gradient-Centralization,
    # GC_code/CIFAR100/algorithm/SGD.py) in float64 PyTorch, lr=2**-7, momentum=0.875,
    # 10 step() calls on tests/optimizers/_linear_model.py with the kernel stored
    # transposed, PyTorch's (out, in) (values below transposed back).
    w, b = _linear_model.run(GradientCentralization(keras.optimizers.SGD(2**-7, momentum=0.875)),
                             10, dtype)
    np.testing.assert_allclose(w, [[0.5649491547, -0.0398260326, -0.1676902437],
                                   [-1.1552611274, 1.3326111318, -0.0114594507],
                                   [0.2626707103, -0.9184102357, 0.9220521955],
                                   [-1.4324072761, -1.0375285515, 0.1372711140]],
                               rtol=rtol, atol=1e-9)
    np.testing.assert_allclose(b, [-0.2447410851, -0.2723584877, -0.3123688437],
                               rtol=rtol, atol=1e-9)


@pytest.mark.parametrize("shape", [(3,), (4, 3), (2, 2, 3, 5), (3, 4, 2)])
def test_centralised_gradient_per_rank(shape):
    # Rank 1 unchanged; otherwise each output unit's (last axis) gradient has mean 0
    # over all the other axes, as the authors' line on PyTorch's layout.
    rng = np.random.default_rng(0)
    g = rng.normal(size=shape)
    w = keras.Variable(np.zeros(shape))
    GradientCentralization(keras.optimizers.SGD(learning_rate=1.0)).apply_gradients(
        [(keras.ops.convert_to_tensor(g.astype("float32")), w)])
    centred = -w.numpy()
    np.testing.assert_allclose(centred, centralize_keras_layout(g), rtol=1e-5, atol=1e-6)
    if len(shape) >= 2:
        np.testing.assert_allclose(centred.mean(axis=tuple(range(len(shape) - 1))), 0,
                                   atol=1e-6)


def test_default_string_inner_and_config_round_trip():
    assert type(GradientCentralization().inner_optimizer) is keras.optimizers.Adam
    for name in ("gc", "gradient_centralization"):
        assert type(keras.optimizers.get(name)) is GradientCentralization
    opt = GradientCentralization("sgd", global_clipnorm=1.0)
    clone = GradientCentralization.from_config(opt.get_config())
    assert type(clone.inner_optimizer) is keras.optimizers.SGD
    assert clone.get_config() == opt.get_config()


@pytest.mark.parametrize("kwargs, message", [
    (dict(learning_rate=0.1), r"learning_rate=0\.1"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GradientCentralization(**kwargs)
