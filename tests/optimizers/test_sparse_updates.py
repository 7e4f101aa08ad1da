"""Sparse (tf.IndexedSlices) gradients, issue #19.2-3: repeated indices count as their sum,
and the lazy optimizers' weight decay leaves the rows a gradient does not touch alone.
The registry-wide version is the conformance check `sparse`."""

import keras
import numpy as np
import pytest

from keras_lossopt import optimizers

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                reason="IndexedSlices are TensorFlow's")


def _apply(optimizer, indices, values, steps=2):
    import tensorflow as tf

    variable = keras.Variable(np.arange(8.0).reshape(4, 2) / 4, dtype="float32")
    for _ in range(steps):
        grad = tf.IndexedSlices(tf.constant(values, tf.float32), tf.constant(indices),
                                tf.constant([4, 2]))
        optimizer.apply([grad], [variable])
    return variable.numpy()


@pytest.mark.parametrize("cls", [optimizers.Yogi, optimizers.NovoGrad, optimizers.Adan,
                                 optimizers.AdEMAMix, optimizers.LazyAdam,
                                 optimizers.ProximalAdagrad])
def test_repeated_indices_count_as_their_sum(cls):
    # Row 1 looked up twice (an Embedding id repeated in the batch) == once with the sum.
    repeated = _apply(cls(), [1, 1, 3], [[0.5, -1.0], [0.25, 2.0], [1.0, 1.0]])
    summed = _apply(cls(), [1, 3], [[0.75, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(repeated, summed, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("cls", [optimizers.LazyAdam, optimizers.ProximalAdagrad])
def test_lazy_weight_decay_leaves_untouched_rows(cls):
    start = np.arange(8.0).reshape(4, 2) / 4
    got = _apply(cls(weight_decay=0.1), [1, 3], [[0.75, 1.0], [1.0, 1.0]])
    np.testing.assert_array_equal(got[[0, 2]], start[[0, 2]].astype("float32"))
    assert not np.allclose(got[[1, 3]], start[[1, 3]])


def test_lazy_adam_dense_decay_is_keras_decoupled_decay():
    # A dense gradient: the same numbers as keras.optimizers.Adam(weight_decay=...).
    grads = [keras.ops.convert_to_tensor(np.full((4, 2), 0.3, "float32"))] * 3
    ours = keras.Variable(np.ones((4, 2)), dtype="float32")
    theirs = keras.Variable(np.ones((4, 2)), dtype="float32")
    lazy, adam = optimizers.LazyAdam(weight_decay=0.2), keras.optimizers.Adam(weight_decay=0.2)
    for grad in grads:
        lazy.apply([grad], [ours])
        adam.apply([grad], [theirs])
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
