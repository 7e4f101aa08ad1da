"""Metric-learning losses against tests/reference/metric_learning.py, TFA's and
optax's published test values, special cases and bad arguments."""

import keras
import numpy as np
import pytest

from keras_lossopt import losses
from tests.losses._loss_tools import grad as _grad
from tests.reference import metric_learning as ref

RNG = np.random.default_rng(5)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _rtol(got):
    # JAX without x64 computes float64 input in float32.
    return 1e-5 if np.asarray(got).dtype == np.float64 else 1e-4



def _batch(n=10, dim=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=n)
    return labels, rng.normal(size=(n, dim))


# --- ContrastiveLoss -----------------------------------------------------------------

# TFA tensorflow_addons/losses/tests/contrastive_test.py: y_true, y_pred and the
# hand-computed reduced values 0.621666 (unweighted), 0.4425 (sample weights),
# 1.623333 (margin=2), 3.73 (sum) and the per-pair values.
TFA_Y = np.array([0, 0, 1, 1, 0, 1])
TFA_D = np.array([0.1, 0.3, 1.3, 0.7, 1.1, 0.5], "float32")


@pytest.mark.multibackend
def test_contrastive_tfa_published_values():
    assert float(losses.ContrastiveLoss()(TFA_Y, TFA_D)) == pytest.approx(0.621666, rel=1e-5)
    w = np.array([1.2, 0.8, 0.5, 0.4, 1.5, 1.0], "float32")
    assert float(losses.ContrastiveLoss()(TFA_Y, TFA_D, sample_weight=w)) == pytest.approx(
        0.4425, rel=1e-5)
    assert float(losses.ContrastiveLoss(margin=2.0)(TFA_Y, TFA_D)) == pytest.approx(
        1.623333, rel=1e-5)
    assert float(losses.ContrastiveLoss(reduction="sum")(TFA_Y, TFA_D)) == pytest.approx(
        3.73, rel=1e-5)
    np.testing.assert_allclose(
        _np(losses.ContrastiveLoss(reduction="none")(TFA_Y, TFA_D)),
        [0.81, 0.49, 1.69, 0.49, 0.0, 0.25], rtol=1e-5, atol=1e-7)
    # TFA test_zero_loss
    zero = losses.ContrastiveLoss()(TFA_Y, np.array([1.0, 1.0, 0.0, 0.0, 1.0, 0.0]))
    assert float(zero) == 0.0


@pytest.mark.parametrize("margin", [0.5, 1.0, 2.5])
def test_contrastive_matches_reference(margin):
    y = RNG.integers(0, 2, size=(7, 3))
    d = RNG.uniform(0, 3, size=(7, 3))
    got = _np(losses.contrastive_loss(y, d, margin=margin))
    np.testing.assert_allclose(got, ref.contrastive(y, d, margin).mean(-1), rtol=_rtol(got))
    got32 = _np(losses.ContrastiveLoss(margin, reduction="none")(y, d.astype("float32")))
    np.testing.assert_allclose(got32, ref.contrastive(y, d, margin).mean(-1), rtol=1e-4)


def test_contrastive_column_targets_do_not_broadcast():
    # y_true (B,) against a distance column (B, 1): one value per pair, not (B, B).
    got = _np(losses.ContrastiveLoss(reduction="none")(TFA_Y, TFA_D[:, None]))
    np.testing.assert_allclose(got, ref.contrastive(TFA_Y, TFA_D), rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match=r"y_true.shape=\(6,\).*y_pred.shape=\(5,\)"):
        losses.contrastive_loss(TFA_Y, TFA_D[:5])


# --- Triplet losses -------------------------------------------------------------------


@pytest.mark.multibackend
@pytest.mark.parametrize("metric", ["L2", "squared-L2", "angular"])
def test_triplet_semihard_matches_reference(metric):
    for seed in range(3):
        labels, x = _batch(n=12, classes=3, seed=seed)
        want = ref.triplet_semihard(labels, x, margin=1.0, metric=metric)
        got = _np(losses.triplet_semihard_loss(labels, x, distance_metric=metric))
        np.testing.assert_allclose(got, want, rtol=_rtol(got))
        got32 = _np(losses.TripletSemiHardLoss(distance_metric=metric)(
            labels, x.astype("float32")))
        np.testing.assert_allclose(got32, want, rtol=1e-4)


def test_triplet_semihard_margin_and_ties():
    # Embeddings on a grid give many equal distances: "strictly farther" must hold.
    labels = np.array([0, 0, 1, 1, 2, 2, 0, 1])
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1], [2, 0], [0, 2], [1, 2], [2, 2]], "float64")
    for margin in (0.2, 1.0, 3.0):
        got = float(losses.triplet_semihard_loss(labels, x, margin=margin))
        assert got == pytest.approx(ref.triplet_semihard(labels, x, margin), rel=1e-5)


def test_triplet_semihard_hand_computed_golden():
    # Hand computation: classes {0: (0,0), (0,0.5)}, {1: (1,0), (1,0.5)}. For every
    # positive pair D_ap = 0.5; negatives at 1 and sqrt(1.25) are both > 0.5, so the
    # semi-hard one is at 1: max(1 + 0.5 - 1, 0) = 0.5 for each of the 4 pairs.
    labels = np.array([0, 0, 1, 1])
    x = np.array([[0.0, 0.0], [0.0, 0.5], [1.0, 0.0], [1.0, 0.5]])
    assert float(losses.TripletSemiHardLoss()(labels, x)) == pytest.approx(0.5, rel=1e-6)


def test_triplet_losses_special_batches():
    x = RNG.normal(size=(4, 3))
    # No positive pair: semi-hard returns 0 (TFA: NaN).
    assert float(losses.triplet_semihard_loss(np.arange(4), x)) == 0.0
    # One class only: no negatives; finite, and equal to the reference convention.
    same = np.zeros(4, int)
    got = float(losses.triplet_semihard_loss(same, x))
    assert got == pytest.approx(ref.triplet_semihard(same, x), rel=1e-5)
    # Hard: anchors without positives use a positive distance of 0 (TFA).
    labels = np.array([0, 1, 1, 2])
    got = float(losses.triplet_hard_loss(labels, x))
    assert got == pytest.approx(ref.triplet_hard(labels, x), rel=1e-5)


@pytest.mark.multibackend
def test_triplet_gradients_finite_with_duplicate_embeddings():
    labels = np.array([0, 0, 1, 1], "float32")
    x = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], "float32")
    for loss in (losses.TripletSemiHardLoss(), losses.TripletHardLoss(),
                 losses.LiftedStructLoss()):
        grad = _grad(lambda e, loss=loss: loss(labels, e), x)
        assert np.all(np.isfinite(grad)), type(loss).__name__


@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("metric", ["L2", "squared-L2", "angular"])
def test_triplet_hard_matches_reference(soft, metric):
    for seed in range(2):
        labels, x = _batch(n=10, classes=3, seed=10 + seed)
        want = ref.triplet_hard(labels, x, margin=0.7, soft=soft, metric=metric)
        got = _np(losses.triplet_hard_loss(labels, x, margin=0.7, soft=soft,
                                           distance_metric=metric))
        np.testing.assert_allclose(got, want, rtol=_rtol(got))
        got32 = _np(losses.TripletHardLoss(0.7, soft, metric)(labels, x.astype("float32")))
        np.testing.assert_allclose(got32, want, rtol=1e-4)


def test_triplet_callable_distance_metric():
    labels, x = _batch(n=8, seed=3)
    l1 = lambda e: keras.ops.sum(  # noqa: E731
        keras.ops.abs(keras.ops.expand_dims(e, 1) - keras.ops.expand_dims(e, 0)), -1)
    got = float(losses.TripletHardLoss(distance_metric=l1)(labels, x))
    d = np.abs(x[:, None] - x[None]).sum(-1)
    hp = [max([d[a, p] for p in range(8) if p != a and labels[p] == labels[a]] or [0.0])
          for a in range(8)]
    hn = [min(d[a, k] for k in range(8) if labels[k] != labels[a]) for a in range(8)]
    assert got == pytest.approx(np.mean(np.maximum(np.array(hp) - hn + 1.0, 0)), rel=1e-5)


# --- N-pairs --------------------------------------------------------------------------

# TFA tensorflow_addons/losses/tests/npairs_test.py: f = fp = the 4 corners of the
# square, y_pred = f fp^T; published values 0.253856 (single label) and 1.420522
# (multilabel y_true below).
CORNERS = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]], "float32")
TFA_MULTI = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1], [0, 0, 0, 1]])


@pytest.mark.multibackend
def test_npairs_tfa_published_values():
    sim = CORNERS @ CORNERS.T
    assert float(losses.NpairsLoss()(np.arange(4), sim)) == pytest.approx(0.253856, rel=1e-5)
    assert float(losses.NpairsMultilabelLoss()(np.eye(4), sim)) == pytest.approx(
        0.253856, rel=1e-5)
    assert float(losses.NpairsMultilabelLoss()(TFA_MULTI, sim)) == pytest.approx(
        1.420522, rel=1e-5)


def test_npairs_match_reference_and_are_stable():
    labels = np.array([0, 1, 1, 2, 3, 3])
    sim = RNG.normal(size=(6, 6)) * 3
    got = _np(losses.npairs_loss(labels, sim))  # TFA's function: the mean over rows
    np.testing.assert_allclose(got, ref.npairs(labels, sim).mean(), rtol=_rtol(got))
    multi = RNG.integers(0, 2, size=(6, 4))
    multi[2] = 0  # a sample without labels contributes 0
    got = _np(losses.npairs_multilabel_loss(multi, sim))
    np.testing.assert_allclose(got, ref.npairs_multilabel(multi, sim).mean(), rtol=_rtol(got),
                               atol=1e-12)
    # logits of +-100 stay finite in value and gradient
    big = np.where(np.eye(6) > 0, 100.0, -100.0).astype("float32")
    big[0, 1] = 100.0
    value = float(losses.NpairsLoss()(labels, big))
    assert value == pytest.approx(ref.npairs(labels, big).mean(), rel=1e-4)
    grad = _grad(lambda s: losses.NpairsLoss()(labels, s), big)
    assert np.all(np.isfinite(grad))


def test_npairs_shape_errors():
    with pytest.raises(ValueError, match=r"y_pred.shape=\(4, 3\)"):
        losses.npairs_loss(np.arange(4), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"y_true.shape=\(4,\)"):
        losses.npairs_multilabel_loss(np.arange(4), np.zeros((4, 4)))


# --- Lifted structured ----------------------------------------------------------------


@pytest.mark.multibackend
def test_lifted_struct_matches_reference():
    for seed, margin in ((0, 1.0), (1, 0.5), (2, 2.0)):
        labels, x = _batch(n=10, classes=4, seed=20 + seed)
        want = ref.lifted_struct(labels, x, margin)
        got = _np(losses.lifted_struct_loss(labels, x, margin=margin))
        np.testing.assert_allclose(got, want, rtol=_rtol(got))
        got32 = _np(losses.LiftedStructLoss(margin)(labels, x.astype("float32")))
        np.testing.assert_allclose(got32, want, rtol=1e-4)


def test_lifted_struct_hand_golden_and_special_batches():
    # Hand computation: D_01 = 1, negatives D_02 = 1, D_12 = sqrt(2);
    # J = log(e^0 + e^(1 - sqrt 2)) + 1 = 1.50726; loss = J^2 / 2 = 1.13592.
    labels = np.array([0, 0, 1])
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    j = np.log(1 + np.exp(1 - np.sqrt(2))) + 1
    assert float(losses.lifted_struct_loss(labels, x)) == pytest.approx(j**2 / 2, rel=1e-6)
    # No positive pair, or no negatives: 0, not NaN (TFA gave NaN).
    assert float(losses.lifted_struct_loss(np.arange(3), x)) == 0.0
    assert float(losses.lifted_struct_loss(np.zeros(3), x)) == 0.0
    # Far-apart points (exp(margin - D) underflows) stay finite.
    far = np.array([[0.0, 0.0], [0.0, 1.0], [1e3, 0.0]], "float32")
    assert np.isfinite(float(losses.LiftedStructLoss()(labels, far)))


# --- NT-Xent and supervised contrastive -----------------------------------------------


@pytest.mark.multibackend
def test_nt_xent_optax_published_value():
    # optax/losses/_self_supervised_test.py: ys, labels [0, 0, 1, 1], temperature
    # 0.07 (optax's default) -> 14.01032.
    ys = np.array([[-1.9540, 1.0780], [0.2380, -0.5703], [1.8745, -0.0195],
                   [-0.6719, -1.9210]], "float32")
    got = float(losses.NTXent(temperature=0.07)(np.array([0, 0, 1, 1]), ys))
    assert got == pytest.approx(14.01032, rel=1e-5)


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_nt_xent_matches_reference(temperature):
    n = 5
    labels = np.concatenate([np.arange(n), np.arange(n)])
    x = RNG.normal(size=(2 * n, 6))
    want = ref.nt_xent(labels, x, temperature)
    got = _np(losses.nt_xent_loss(labels, x, temperature=temperature))
    np.testing.assert_allclose(got, want, rtol=_rtol(got))
    # Each label exactly twice: the batch mean is optax's mean over ordered pairs.
    mean = float(losses.NTXent(temperature)(labels, x.astype("float32")))
    assert mean == pytest.approx(ref.nt_xent_optax(labels, x, temperature), rel=1e-4)
    # Uneven label counts: per-anchor means (documented deviation from optax).
    uneven = np.array([0, 0, 0, 1, 1, 2, 2, 3, 3, 4])
    got = _np(losses.nt_xent_loss(uneven, x, temperature=temperature))
    np.testing.assert_allclose(got, ref.nt_xent(uneven, x, temperature), rtol=_rtol(got))


@pytest.mark.parametrize("temperature", [0.07, 0.5])
def test_supervised_contrastive_matches_reference(temperature):
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 3])  # label 3: no positive -> 0
    x = RNG.normal(size=(9, 5))
    want = ref.supervised_contrastive(labels, x, temperature)
    got = _np(losses.supervised_contrastive_loss(labels, x, temperature=temperature))
    np.testing.assert_allclose(got, want, rtol=_rtol(got), atol=1e-12)
    got32 = _np(losses.SupervisedContrastive(temperature, reduction="none")(
        labels, x.astype("float32")))
    np.testing.assert_allclose(got32, want, rtol=1e-4, atol=1e-6)


def test_supcon_equals_nt_xent_with_two_views_and_is_stable():
    # With each label exactly twice, P(i) = {p} and A(i) = {p} + N(i): same loss.
    labels = np.array([0, 1, 2, 0, 1, 2])
    # Its own generator: the module's RNG state depends on which tests ran before
    # in this process (pytest-xdist splits them differently on every run).
    x = np.random.default_rng(1234).normal(size=(6, 3)).astype("float32")
    # Two float32 formulas of logits up to 1/0.2 = 5: they agree to a few ulp of
    # the logits (atol), which is more than rtol=1e-5 of a loss near 1e-3.
    np.testing.assert_allclose(
        _np(losses.supervised_contrastive_loss(labels, x, temperature=0.2)),
        _np(losses.nt_xent_loss(labels, x, temperature=0.2)), rtol=1e-5, atol=2e-6)
    # Tiny temperature: logits of +-1e3; finite value and gradient.
    for loss in (losses.NTXent(1e-3), losses.SupervisedContrastive(1e-3)):
        assert np.isfinite(float(loss(labels, x)))
        assert np.all(np.isfinite(_grad(lambda e, loss=loss: loss(labels, e), x)))
    # A zero embedding (cosine 0) stays finite too.
    x[0] = 0.0
    assert np.isfinite(float(losses.NTXent()(labels, x)))


# --- Arguments, construction and training ----------------------------------------------


ALL = [losses.ContrastiveLoss, losses.TripletSemiHardLoss, losses.TripletHardLoss,
       losses.NpairsLoss, losses.NpairsMultilabelLoss, losses.LiftedStructLoss,
       losses.NTXent, losses.SupervisedContrastive]


@pytest.mark.parametrize("cls", ALL)
def test_default_construction_and_config_round_trip(cls):
    loss = cls()
    clone = cls.from_config(loss.get_config())
    assert clone.get_config() == loss.get_config()


@pytest.mark.parametrize("make, match", [
    (lambda: losses.ContrastiveLoss(margin=-1.0), "Received: margin=-1.0"),
    (lambda: losses.TripletSemiHardLoss(margin=float("nan")), "Received: margin=nan"),
    (lambda: losses.TripletSemiHardLoss(distance_metric="L3"), "Received: distance_metric='L3'"),
    (lambda: losses.TripletHardLoss(distance_metric="cosine"),
     "Received: distance_metric='cosine'"),
    (lambda: losses.LiftedStructLoss(margin="1"), "Received: margin='1'"),
    (lambda: losses.NTXent(temperature=0.0), "Received: temperature=0.0"),
    (lambda: losses.SupervisedContrastive(temperature=-0.1), "Received: temperature=-0.1"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_embedding_shape_errors():
    with pytest.raises(ValueError, match=r"y_pred.shape=\(4,\)"):
        losses.triplet_hard_loss(np.arange(4), np.zeros(4))
    with pytest.raises(ValueError, match=r"y_true.shape=\(3,\), y_pred.shape=\(4, 2\)"):
        losses.triplet_semihard_loss(np.arange(3), np.zeros((4, 2)))


def test_fit_by_string_name_with_the_batch_as_mining_pool():
    # 4 classes x 4 samples per batch of 16; a dynamic batch dimension under fit.
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 8)
    x = (rng.normal(size=(32, 6)) + labels[:, None]).astype("float32")
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3),
                              keras.layers.UnitNormalization()])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="triplet_semihard")
    history = model.fit(x, labels, batch_size=16, epochs=3, verbose=0, shuffle=False)
    assert np.all(np.isfinite(history.history["loss"]))
    assert history.history["loss"][-1] < history.history["loss"][0]


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.function shapes")
def test_semihard_with_unknown_batch_size_in_a_tf_graph():
    # Unknown batch size: the bisection runs its fixed 32 steps.
    import tensorflow as tf

    labels, x = _batch(n=12, classes=3, seed=7)
    x = x.astype("float32")
    loss = losses.TripletSemiHardLoss()
    dynamic = tf.function(loss, input_signature=[tf.TensorSpec([None], tf.int64),
                                                 tf.TensorSpec([None, None], tf.float32)])
    want = ref.triplet_semihard(labels, x)
    assert float(dynamic(labels, x)) == pytest.approx(want, rel=1e-4)
