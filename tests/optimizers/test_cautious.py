"""Cautious against numpy transcriptions of the authors' C-AdamW (tests/reference/cautious.py)."""

import keras
import numpy as np
import pytest

from keras_lossopt.optimizers import Cautious
from tests.optimizers import _harness, _linear_model
from tests.reference.cautious import CAdamWReference, CautiousReference
from tests.reference.lookahead import AdamReference, MomentumReference

needs_float64 = pytest.mark.skipif(not _linear_model.float64_available(),
                                   reason="no float64 on this backend (JAX without x64)")

# Hyperparameters that are float32 numbers: Keras's own optimizers cast Python floats
# through float32 (`ops.cast(0.9, "float64")` is 0.8999999761... on TensorFlow), which
# would otherwise be the whole float64 difference.
ADAMW = dict(learning_rate=2**-7, beta_1=0.875, beta_2=1 - 2**-10, epsilon=2**-20,
             weight_decay=0.125)


@pytest.mark.multibackend
@pytest.mark.parametrize("kwargs", [
    dict(learning_rate=0.01, epsilon=1e-6, weight_decay=0.0),
    dict(learning_rate=0.005, beta_1=0.8, epsilon=1e-6, weight_decay=0.1),
])
def test_keras_adamw_inside_equals_c_adamw_float32(kwargs):
    # Measured max relative error over the 50 steps: 1e-7 to 1e-6.
    _harness.assert_matches(lambda: Cautious(keras.optimizers.AdamW(**kwargs)),
                            lambda: CAdamWReference(**kwargs))


@needs_float64
@pytest.mark.multibackend
def test_keras_adamw_inside_equals_c_adamw_float64():
    # Measured on TensorFlow: 2e-16.
    _harness.assert_matches(lambda: Cautious(keras.optimizers.AdamW(**ADAMW)),
                            lambda: CAdamWReference(**ADAMW), rtol=1e-5, dtype="float64")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_any_inner_optimizer_momentum_sgd(dtype):
    # The mask on a generic update (CautiousReference around heavy-ball SGD). Measured:
    # float32 <= 5e-7, float64 exactly 0 on TensorFlow.
    if dtype == "float64" and not _linear_model.float64_available():
        pytest.skip("no float64 on this backend")
    _harness.assert_matches(
        lambda: Cautious(keras.optimizers.SGD(2**-10, momentum=0.875)),
        lambda: CautiousReference(MomentumReference(2**-10, 0.875)),
        rtol=1e-4 if dtype == "float32" else 1e-5, dtype=dtype)


@pytest.mark.parametrize("dtype, rtol", [("float32", 2e-6), ("float64", 1e-12)])
def test_golden_authors_code(dtype, rtol):
    if dtype == "float64" and not _linear_model.float64_available():
        pytest.skip("no float64 on this backend")
    # Golden values: the authors' C-AdamW (kyleliang919/C-Optim, c_adamw.py at 2c0517c,
    # class AdamW with foreach=False) in float64 PyTorch, lr=2**-6, betas=(0.875,
    # 1 - 2**-10), eps=2**-20, weight_decay=0.125, 10 step() calls on
    # tests/optimizers/_linear_model.py.
    inner = keras.optimizers.AdamW(learning_rate=2**-6, beta_1=0.875, beta_2=1 - 2**-10,
                                   epsilon=2**-20, weight_decay=0.125)
    w, b = _linear_model.run(Cautious(inner), 10, dtype)
    np.testing.assert_allclose(w, [[-0.1338041009, 0.0691795715, -0.3402839372],
                                   [-0.6468278751, 0.3180595032, 0.1100034703],
                                   [-0.5926144851, -0.9306006568, 0.9434390860],
                                   [-0.0546360331, 0.1984356216, 0.4386676541]],
                               rtol=rtol, atol=1e-10)
    np.testing.assert_allclose(b, [-0.9645377423, 0.8243046449, 0.2413808809],
                               rtol=rtol, atol=1e-10)


def test_mask_drops_uphill_components_and_rescales_by_the_kept_fraction():
    # Hand computation (the docstring example): SGD momentum 0.9, lr 0.1; after a step
    # with g = 1 the momentum is -0.1, so the second step is -0.09 - 0.1 * g. With
    # g = [1, -0.5, 1, -0.5] that is [-0.19, -0.04, -0.19, -0.04]: components 2 and 4 go
    # uphill (u * g > 0), the others are doubled (mean(mask) = 0.5).
    w = keras.Variable([1.0, 2.0, 3.0, 4.0])
    opt = Cautious(keras.optimizers.SGD(learning_rate=0.1, momentum=0.9))
    opt.apply_gradients([(keras.ops.ones((4,)), w)])
    opt.apply_gradients([(keras.ops.convert_to_tensor([1.0, -0.5, 1.0, -0.5]), w)])
    np.testing.assert_allclose(w.numpy(), [0.52, 1.9, 2.52, 3.9], rtol=1e-6)
    # The inner state is the inner optimizer's own (not masked), as in C-AdamW.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(opt.inner_optimizer.variables[-1]),
                               [-0.19, -0.04, -0.19, -0.04], rtol=1e-6)


def test_inner_weight_decay_is_applied_unmasked():
    # Zero gradient: every update component is masked (u * g = 0 is not downhill), but
    # AdamW's decoupled decay still acts: w = w * (1 - lr * wd), as in C-AdamW.
    w = keras.Variable([2.0, -1.0])
    opt = Cautious(keras.optimizers.AdamW(learning_rate=0.1, weight_decay=0.5))
    opt.apply_gradients([(keras.ops.zeros((2,)), w)])
    np.testing.assert_allclose(w.numpy(), [2.0 * 0.95, -1.0 * 0.95], rtol=1e-6)
    # Exclusions of the inner optimizer are honoured.
    w, bias = keras.Variable([2.0]), keras.Variable([2.0], name="bias")
    inner = keras.optimizers.AdamW(learning_rate=0.1, weight_decay=0.5)
    inner.exclude_from_weight_decay(var_names=["bias"])
    opt = Cautious(inner)
    opt.apply_gradients([(keras.ops.zeros((1,)), w), (keras.ops.zeros((1,)), bias)])
    np.testing.assert_allclose(w.numpy(), [1.9], rtol=1e-6)
    np.testing.assert_allclose(bias.numpy(), [2.0])


def test_inner_gradient_accumulation_decays_only_on_applied_steps():
    # Inner AdamW accumulating 2 micro-steps: the decay of its applied steps is left
    # out of the masked update; the micro-steps move nothing.
    w = keras.Variable([2.0])
    inner = keras.optimizers.AdamW(learning_rate=0.1, weight_decay=0.5,
                                   gradient_accumulation_steps=2)
    opt = Cautious(inner)
    opt.apply_gradients([(keras.ops.zeros((1,)), w)])
    np.testing.assert_allclose(w.numpy(), [2.0])
    opt.apply_gradients([(keras.ops.zeros((1,)), w)])
    np.testing.assert_allclose(w.numpy(), [1.9], rtol=1e-6)


def test_no_uphill_component_is_the_inner_optimizer():
    # A gradient that keeps its sign on each coordinate: Adam's update always points
    # downhill, so the mask is all ones and Cautious(Adam) is Adam.
    results = _harness.compare_problems(
        lambda: Cautious(keras.optimizers.Adam(learning_rate=0.01)),
        lambda: AdamReference(learning_rate=0.01),
        problems=[_harness.Problem("linear", np.array([1.0, -2.0]),
                                   lambda x: np.array([1.0, -3.0]), lambda x: 0.0)],
        steps=20)
    assert results["linear"][0] <= 1e-6


def test_default_string_inner_and_config_round_trip():
    opt = Cautious()
    assert type(opt.inner_optimizer) is keras.optimizers.AdamW
    opt = Cautious("lion", clipnorm=1.0)
    config = opt.get_config()
    assert config["optimizer"]["class_name"] == "Lion" and "learning_rate" not in config
    clone = Cautious.from_config(config)
    assert type(clone.inner_optimizer) is keras.optimizers.Lion and clone.clipnorm == 1.0
    assert type(keras.optimizers.get("cautious")) is Cautious


@pytest.mark.parametrize("kwargs, message", [
    (dict(optimizer="no_such_optimizer"), "optimizer='no_such_optimizer'"),
    (dict(learning_rate=0.1), r"learning_rate=0\.1"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Cautious(**kwargs)
