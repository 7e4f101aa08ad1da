"""Sample inputs for the loss checks: which `(y_true, y_pred)` a loss accepts.

A loss states its inputs where it is registered, `register("loss", ...,
inputs=...)` (stored as `registry.Entry.inputs`):

- the name of a family of `FAMILIES` (`"boxes"`, `"binary_logits"`);
- `"binary"`, `"categorical"` or `"sparse"` (`registry.BY_FROM_LOGITS`): the
  `_logits` or `_probabilities` family, picked by the loss's `from_logits`;
- a `(logits_family, probabilities_family)` pair, picked the same way;
- a sampler `fn(rng, batch) -> (y_true, y_pred)` of numpy arrays, or a `Family`
  (a sampler that also gives edge inputs and the model head's activation).

A loss with no `inputs` gets the element-wise family `"regression"` when a probe
call with it returns one finite value per sample; otherwise it is reported
"n.a. — no sample inputs" in every input-dependent check.
"""

import dataclasses

import numpy as np

from keras_lossopt import registry


@dataclasses.dataclass(frozen=True)
class Family:
    """A kind of loss input.

    Attributes:
        name: short name shown in the report.
        sample: `fn(rng, batch) -> (y_true, y_pred)`, valid inputs.
        edges: `fn(batch) -> [(label, y_true, y_pred), ...]`, the extreme inputs the
            loss must accept with finite values and gradients.
        activation: activation of a model head producing `y_pred` (None: linear).
        labels: number of classes when `y_true` holds integer labels (fuzzing
            also tries labels out of range), else None.
        even_batch: the loss needs an even batch (pairs of views).
    """

    name: str
    sample: object
    edges: object = None
    activation: str = None
    labels: int = None
    even_batch: bool = False

    def __call__(self, rng, batch):
        """A family is a sampler: `family(rng, batch) -> (y_true, y_pred)`."""
        return self.sample(rng, batch)


def _f32(*arrays):
    return tuple(np.asarray(a, "float32") for a in arrays)


C = 4  # classes
D = 3  # features per sample


def _regression(rng, b):
    return _f32(rng.normal(size=(b, D)), rng.normal(size=(b, D)))


def _regression_edges(b):
    y = np.linspace(-1.0, 1.0, b * D).reshape(b, D)
    return [("zero error", *_f32(y, y)), ("errors of 1e3", *_f32(y, y + 1e3)),
            ("all zeros", *_f32(0 * y, 0 * y)), ("errors of 1e-8", *_f32(y, y + 1e-8))]


def _positive(rng, b):
    return _f32(rng.poisson(1.0, size=(b, D)), rng.uniform(0.1, 3.0, size=(b, D)))


def _positive_edges(b):
    zero = np.zeros((b, D))
    return [("y_true 0, y_pred 1e-7", *_f32(zero, zero + 1e-7)),
            ("y_true 5, y_pred 1e-7", *_f32(zero + 5, zero + 1e-7)),
            ("y_true = y_pred = 100", *_f32(zero + 100, zero + 100))]


def _binary(rng, b):
    return rng.integers(0, 2, size=(b, D)).astype("float32")


def _binary_probabilities(rng, b):
    return _f32(_binary(rng, b), rng.uniform(0.05, 0.95, size=(b, D)))


def _binary_logits(rng, b):
    return _f32(_binary(rng, b), rng.normal(scale=3.0, size=(b, D)))


def _binary_edges(low, high):
    def edges(b):
        t = (np.arange(b * D).reshape(b, D) % 2).astype("float32")
        return [("right, at the bounds", *_f32(t, np.where(t > 0, high, low))),
                ("wrong, at the bounds", *_f32(t, np.where(t > 0, low, high))),
                ("all at the upper bound", *_f32(t, np.full_like(t, high)))]
    return edges


def _softmax(z):
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def _one_hot(labels, n=C):
    return np.eye(n, dtype="float32")[labels]


def _categorical_probabilities(rng, b):
    return _f32(_one_hot(rng.integers(0, C, size=b)), _softmax(rng.normal(size=(b, C))))


def _categorical_logits(rng, b):
    return _f32(_one_hot(rng.integers(0, C, size=b)), rng.normal(scale=3.0, size=(b, C)))


def _categorical_edges(low, high, sparse=False):
    def edges(b):
        labels = np.arange(b) % C
        right = np.where(_one_hot(labels) > 0, high, low)
        wrong = np.where(_one_hot((labels + 1) % C) > 0, high, low)
        t = labels.astype("int32") if sparse else _one_hot(labels)
        return [("right, at the bounds", t, *_f32(right)),
                ("wrong, at the bounds", t, *_f32(wrong))]
    return edges


def _sparse_probabilities(rng, b):
    return rng.integers(0, C, size=b).astype("int32"), *_f32(_softmax(rng.normal(size=(b, C))))


def _sparse_logits(rng, b):
    return rng.integers(0, C, size=b).astype("int32"), *_f32(rng.normal(scale=3.0, size=(b, C)))


def _distribution(rng, b):
    return _f32(_softmax(rng.normal(size=(b, C))), _softmax(rng.normal(size=(b, C))))


def _distribution_edges(b):
    hot = _one_hot(np.arange(b) % C)
    return [("one-hot vs one-hot (disjoint)", *_f32(hot, np.roll(hot, 1, axis=-1))),
            ("equal one-hot", *_f32(hot, hot)), ("uniform", *_f32(hot * 0 + 0.25, hot * 0 + 0.25))]


def _hinge(rng, b):
    return _f32(2 * _binary(rng, b) - 1, rng.normal(size=(b, D)))


def _boxes(rng, b):
    def boxes():
        low = rng.uniform(0.0, 5.0, size=(b, 2))
        return np.concatenate([low, low + rng.uniform(0.5, 3.0, size=(b, 2))], -1)
    return _f32(boxes(), boxes())


def _boxes_edges(b):
    box = np.tile([[0.0, 0.0, 2.0, 2.0]], (b, 1))
    return [("identical", *_f32(box, box)), ("disjoint", *_f32(box, box + 10.0)),
            ("nested", *_f32(box, box * 0.5 + 0.5)), ("huge", *_f32(box * 1e3, box * 1e3 + 1))]


def _pair_labels(b):
    return (np.arange(b) % max(b // 2, 1)).astype("int32")


def _embeddings(rng, b):
    return _pair_labels(b), *_f32(rng.normal(size=(b, D)))


def _embeddings_edges(b):
    labels = _pair_labels(b)
    same = np.ones((b, D))
    return [("identical embeddings", labels, *_f32(same)),
            ("all one label", np.zeros(b, "int32"), *_f32(np.arange(b * D).reshape(b, D) / 10)),
            ("all distinct labels", np.arange(b).astype("int32"),
             *_f32(np.arange(b * D).reshape(b, D) / 10)),
            ("large embeddings", labels, *_f32(100 * np.sign(np.sin(np.arange(b * D))).reshape(b, D)))]


def _similarity(rng, b):
    f = rng.normal(size=(b, D))
    return np.arange(b).astype("int32"), *_f32(f @ f.T)


def _similarity_edges(b):
    return [("zero similarities", np.arange(b).astype("int32"), *_f32(np.zeros((b, b)))),
            ("similarities of 100", np.arange(b).astype("int32"), *_f32(np.full((b, b), 100.0)))]


def _similarity_multilabel(rng, b):
    f = rng.normal(size=(b, D))
    labels = np.eye(b) + np.roll(np.eye(b), 1, axis=1)
    return _f32(labels, f @ f.T)


def _distances(rng, b):
    return _f32(_binary(rng, b)[:, 0], rng.uniform(0.0, 2.0, size=b))


def _distances_edges(b):
    t = (np.arange(b) % 2).astype("float32")
    return [("zero distances", *_f32(t, 0 * t)), ("distances of 1e3", *_f32(t, 0 * t + 1e3))]


def _gaussian(rng, b):
    return _f32(rng.normal(size=(b, 1)),
                np.stack([rng.normal(size=b), rng.uniform(0.5, 2.0, size=b)], -1))


def _gaussian_edges(b):
    y = np.zeros((b, 1))
    return [("variance 0", *_f32(y, np.concatenate([y, y], -1))),
            ("variance 1e6, error 1e3", *_f32(y + 1e3, np.concatenate([y, y + 1e6], -1)))]


def _pixels_sparse(rng, b):
    return (rng.integers(0, 3, size=(b, D)).astype("int32"),
            *_f32(_softmax(rng.normal(size=(b, D, 3)))))


FAMILIES = {
    f.name: f
    for f in [
        Family("regression", _regression, _regression_edges),
        Family("positive", _positive, _positive_edges, activation="softplus"),
        Family("binary_probabilities", _binary_probabilities, _binary_edges(0.0, 1.0),
               activation="sigmoid"),
        Family("binary_logits", _binary_logits, _binary_edges(-100.0, 100.0)),
        Family("categorical_probabilities", _categorical_probabilities,
               _categorical_edges(0.0, 1.0), activation="softmax"),
        Family("categorical_logits", _categorical_logits, _categorical_edges(-100.0, 100.0)),
        Family("sparse_probabilities", _sparse_probabilities,
               _categorical_edges(0.0, 1.0, sparse=True), activation="softmax", labels=C),
        Family("sparse_logits", _sparse_logits, _categorical_edges(-100.0, 100.0, sparse=True),
               labels=C),
        Family("distribution", _distribution, _distribution_edges, activation="softmax"),
        Family("hinge", _hinge, _binary_edges(-100.0, 100.0)),
        Family("boxes", _boxes, _boxes_edges),
        Family("embeddings", _embeddings, _embeddings_edges, labels=None, even_batch=True),
        Family("similarity", _similarity, _similarity_edges),
        Family("similarity_multilabel", _similarity_multilabel, None),
        Family("distances", _distances, _distances_edges, activation="softplus"),
        Family("gaussian", _gaussian, _gaussian_edges, activation="softplus"),
        Family("pixel_sparse_probabilities", _pixels_sparse, None, activation="softmax",
               labels=3),
    ]
}


def _from_logits(loss):
    try:
        return bool(loss.get_config().get("from_logits"))
    except Exception:  # noqa: BLE001 - a loss without a usable config has no from_logits
        return False


def family_for(entry, loss=None):
    """`(family, how)` for a registry entry's loss, or `(None, reason)`.

    Raises ValueError when `entry.inputs` names no family of `FAMILIES`.
    """
    loss = loss if loss is not None else entry.cls()
    spec = entry.inputs
    if isinstance(spec, Family):
        return spec, "registered family"
    if callable(spec):
        return Family(f"{entry.name} sampler", spec), "registered sampler"
    if spec is not None:
        name = registry.input_family(spec, _from_logits(loss))
        if name not in FAMILIES:
            raise ValueError(f"Unknown input family {name!r} for the loss {entry.name!r} "
                             f"(inputs={spec!r}); known: {sorted(FAMILIES)}")
        return FAMILIES[name], "registered family"
    # Default: element-wise, if a probe agrees.
    family = FAMILIES["regression"]
    y_true, y_pred = family.sample(np.random.default_rng(0), 4)
    try:
        import keras

        values = keras.ops.convert_to_numpy(entry.cls(reduction="none")(y_true, y_pred))
        if values.shape == (4,) and np.isfinite(values).all():
            return family, "default element-wise inputs"
    except Exception:  # noqa: BLE001
        pass
    return None, ("no sample inputs: register the loss with `inputs=` (a family of "
                  "keras_lossopt.testing.FAMILIES or a sampler)")


def batch_for(family, batch):
    return batch + (batch % 2 if family.even_batch else 0)
