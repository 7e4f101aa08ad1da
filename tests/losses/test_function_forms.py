"""Every public loss function (the TFA-style functional forms) on its own: it saves and
reloads (issue #19.1) and, for the metric-learning ones, it works on labels of unknown
rank inside a TF graph and returns what TFA's function returned (issue #19.8)."""

import inspect

import keras
import numpy as np
import pytest

from keras_lossopt import losses

# Derived from the package's exports, so a new function form is covered by exporting it.
FUNCTIONS = sorted(
    (name, obj) for name, obj in vars(losses).items()
    if name in losses.__all__ and inspect.isfunction(obj)
    and obj.__module__.startswith("keras_lossopt.losses.")
)


def test_there_are_function_forms():
    names = [name for name, _ in FUNCTIONS]
    assert {"sparsemax_loss", "contrastive_loss", "npairs_loss", "pinball_loss"} <= set(names)


@pytest.mark.multibackend
@pytest.mark.parametrize("name,fn", FUNCTIONS, ids=[n for n, _ in FUNCTIONS])
def test_serialize_deserialize_gives_the_same_function(name, fn):
    config = keras.losses.serialize(fn)
    assert keras.losses.deserialize(config) is fn
    assert keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(fn)) is fn


@pytest.mark.multibackend
def test_model_compiled_with_each_function_form_reloads(tmp_path):
    # One model with one output per function: one save and one load for all of them.
    inputs = keras.Input((2,))
    outputs = [keras.layers.Dense(1, name=f"out_{i}")(inputs) for i in range(len(FUNCTIONS))]
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss=[fn for _, fn in FUNCTIONS])
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert list(reloaded.loss) == [fn for _, fn in FUNCTIONS]


# --- #19.8: what TFA's metric-learning functions accepted and returned ---------------

CORNERS = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]], "float32")


@pytest.mark.multibackend
def test_npairs_functions_return_tfa_scalar_mean():
    # TFA tensorflow_addons/losses/tests/npairs_test.py: 0.253856 and 1.420522, from the
    # *functions* npairs_loss / npairs_multilabel_loss, which returned one scalar.
    sim = CORNERS @ CORNERS.T
    single = losses.npairs_loss(np.arange(4), sim)
    multi = losses.npairs_multilabel_loss(
        np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1], [0, 0, 0, 1]]), sim)
    assert tuple(single.shape) == () and tuple(multi.shape) == ()
    assert float(single) == pytest.approx(0.253856, rel=1e-5)
    assert float(multi) == pytest.approx(1.420522, rel=1e-5)


def _embedding_batch():
    rng = np.random.default_rng(3)
    return np.array([0, 0, 1, 1, 2, 2, 0, 1], "int32"), rng.normal(size=(8, 3)).astype("float32")


def _label_functions():
    """(name, fn(labels, embeddings)) for every function form taking integer labels."""
    def pair_distances(fn):
        # ContrastiveLoss's y_pred is a distance per pair: the first coordinate, made >= 0.
        return lambda labels, emb: fn(keras.ops.cast(labels % 2, "float32"),
                                      keras.ops.abs(emb[:, 0]))
    def similarity(fn):
        return lambda labels, emb: fn(labels, keras.ops.matmul(emb, keras.ops.transpose(emb)))
    return [
        ("triplet_semihard_loss", losses.triplet_semihard_loss),
        ("triplet_hard_loss", losses.triplet_hard_loss),
        ("lifted_struct_loss", losses.lifted_struct_loss),
        ("nt_xent_loss", losses.nt_xent_loss),
        ("supervised_contrastive_loss", losses.supervised_contrastive_loss),
        ("npairs_loss", similarity(losses.npairs_loss)),
        ("contrastive_loss", pair_distances(losses.contrastive_loss)),
    ]


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="only TensorFlow graphs have tensors of unknown rank")
def test_metric_learning_functions_accept_labels_of_unknown_rank():
    import tensorflow as tf

    labels, emb = _embedding_batch()
    functions = _label_functions()
    # One graph for all of them (one trace): labels arrive with unknown rank, as after
    # `tf.squeeze(labels)` in a custom loss, or Keras retracing the last partial batch.
    graph_fn = tf.function(lambda y, e: [fn(tf.squeeze(y), e) for _, fn in functions],
                           autograph=False,  # as Keras traces train steps
                           input_signature=[tf.TensorSpec(None, tf.int32),
                                            tf.TensorSpec([None, 3], tf.float32)])
    for (name, fn), got in zip(functions, graph_fn(labels[:, None], emb)):
        np.testing.assert_allclose(got.numpy(), keras.ops.convert_to_numpy(fn(labels, emb)),
                                   rtol=1e-5, err_msg=name)
    # A wrong number of labels is reported by argument, not as an anonymous reshape.
    with pytest.raises(tf.errors.InvalidArgumentError, match="`y_true` .*unknown rank"):
        graph_fn(labels[:5, None], emb)
