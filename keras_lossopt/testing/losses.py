"""The conformance checks of a loss class (`CHECKS`, run one with `run`).

Inputs come from `inputs.family_for(entry)`, i.e. from the loss's registered
`inputs`; a loss without sample inputs is reported "n.a. — no sample inputs" in
every input-dependent check.

Hooks a loss class may define (read from the class itself):
`conformance_reduction_transform = (pre, post)` for losses whose reduction is not
a weighted sum of the per-sample values (RMSE: `(np.square, np.sqrt)`), and
`conformance_opt_outs = {"fuzz": "reason"}`.
"""

import inspect

import numpy as np

from keras_lossopt import _autodiff, _keras_compat
from keras_lossopt.testing import _core, _data
from keras_lossopt.testing._core import (
    CheckFailed,
    NotApplicable,
    assert_close,
    require,
    to_numpy,
)
from keras_lossopt.testing.inputs import batch_for, family_for

ELEMENTWISE_FAMILIES = ("regression", "positive", "binary_probabilities", "binary_logits", "hinge")
# Opt-outs for Keras's own classes; a key ending in a backend applies to that backend only.
OPT_OUTS = {
    **{("loss", "cosine_similarity", "edge_gradients", backend):
       "Keras's CosineSimilarity has a NaN gradient at all-zero y_pred on JAX and PyTorch "
       "(its l2_normalize differentiates sqrt(0); finite on TensorFlow), Keras's own class"
       for backend in ("jax", "torch")},
}
FUZZ_EXAMPLES = 200


def _family(entry, loss=None):
    family, how = family_for(entry, loss)
    if family is None:
        raise NotApplicable(how)
    return family


def _with(entry, loss, **changes):
    return entry.cls.from_config({**loss.get_config(), **changes})


def sample_inputs(family, batch=4, seed=0):
    """`(y_true, y_pred)` of `family` for a batch of `batch` (rounded up to even if needed)."""
    return family.sample(np.random.default_rng(seed), batch_for(family, batch))


def check_config(entry):
    """get_config -> from_config and keras serialize round trips are equal, dtype included."""
    import keras

    loss = entry.cls()
    config = loss.get_config()
    rebuilt = entry.cls.from_config(config)
    require(type(rebuilt) is entry.cls, f"from_config gave {type(rebuilt)}")
    require(rebuilt.get_config() == config,
            f"from_config(get_config()) differs: {rebuilt.get_config()} != {config}")
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    require(type(again) is entry.cls and again.get_config() == config,
            f"serialize/deserialize differs: {type(again).__name__} {again.get_config()}")
    note = ""
    if entry.builtin:
        note = "dtype not checked: Keras's Loss.get_config omits dtype (Keras's own class)"
    elif "dtype" in inspect.signature(entry.cls.__init__).parameters:
        typed = entry.cls(dtype="float64")
        require(typed.get_config().get("dtype") in ("float64", {"class_name": "DTypePolicy",
                                                                "config": {"name": "float64"}})
                or "float64" in str(typed.get_config().get("dtype")),
                f"get_config()['dtype'] = {typed.get_config().get('dtype')!r}, expected float64")
        back = entry.cls.from_config(typed.get_config())
        require(back.dtype == "float64", f"dtype after from_config: {back.dtype}")
    else:
        raise CheckFailed("__init__ takes no `dtype` argument")
    return {}, note


def _reduction_transform(entry):
    hook = entry.cls.__dict__.get("conformance_reduction_transform")
    return hook if hook is not None else (lambda v: v, lambda v: v)


def check_reductions(entry):
    """Reductions, sample_weight of shape (B,), (B, 1) and scalar, masks, rank alignment."""
    loss = entry.cls()
    family = _family(entry, loss)
    y_true, y_pred = sample_inputs(family)
    batch = y_pred.shape[0]
    pre, post = _reduction_transform(entry)
    none = to_numpy(_with(entry, loss, reduction="none")(y_true, y_pred)).astype("float64")
    if none.ndim == 0:
        raise NotApplicable("reduction='none' returns one value for the whole batch")
    require(none.shape[0] == batch, f"reduction='none' gave shape {none.shape}, batch {batch}")
    base = pre(none)
    n = base.size
    weights = np.linspace(0.5, 2.0, batch)
    w_full = weights.reshape((batch,) + (1,) * (base.ndim - 1))
    cases = {  # (reduction, sample_weight) -> expected
        ("sum_over_batch_size", None): post(base.sum() / n),
        ("mean", None): post(base.sum() / n),
        ("sum", None): post(base.sum()),
        ("sum", "B"): post((base * w_full).sum()),
        ("sum", "B1"): post((base * w_full).sum()),
        ("sum_over_batch_size", "B"): post((base * w_full).sum() / n),
        ("sum_over_batch_size", "scalar"): post(2.0 * base.sum() / n),
    }
    if _keras_compat.loss_reduction_supported("mean_with_sample_weight"):
        cases[("mean_with_sample_weight", "B")] = post(
            (base * w_full).sum() / np.broadcast_to(w_full, base.shape).sum())
    shapes = {None: None, "B": weights, "B1": weights[:, None], "scalar": 2.0}
    numbers = {"none": none}
    for (reduction, sw), want in cases.items():
        sample_weight = shapes[sw]
        if sample_weight is not None and not np.isscalar(sample_weight):
            sample_weight = sample_weight.astype("float32")
        got = to_numpy(_with(entry, loss, reduction=reduction)(
            y_true, y_pred, sample_weight=sample_weight))
        require(np.shape(got) == (), f"reduction={reduction!r} returned shape {np.shape(got)}")
        assert_close([got], [want], f"reduction={reduction!r}, sample_weight={sw}",
                     rtol=1e-4, atol=1e-6)
        numbers[f"{reduction}/{sw}"] = got
    notes = []
    # Masks: masked-out samples count for nothing ("sum_over_batch_size" averages the rest).
    import keras

    mask = (np.arange(batch) < batch // 2 + 1)
    masked_pred = keras.ops.convert_to_tensor(y_pred)
    try:
        _keras_compat.attach_mask(masked_pred, keras.ops.convert_to_tensor(mask))
    except Exception:  # noqa: BLE001
        notes.append("masks not checked (cannot attach a mask on this backend)")
    else:
        m_full = mask.reshape((batch,) + (1,) * (base.ndim - 1)).astype("float64")
        for reduction, want in (
            ("sum", post((base * m_full).sum())),
            ("sum_over_batch_size",
             post((base * m_full).sum() / (np.broadcast_to(m_full, base.shape).sum()))),
        ):
            got = to_numpy(_with(entry, loss, reduction=reduction)(y_true, masked_pred))
            assert_close([got], [want], f"mask with reduction={reduction!r}", rtol=1e-4,
                         atol=1e-6)
    # Rank alignment: y_true (B,) against y_pred (B, 1) must not broadcast to (B, B).
    if np.ndim(y_true) == np.ndim(y_pred) - 1 and family.labels:
        a = to_numpy(_with(entry, loss, reduction="none")(y_true[:, None], y_pred))
        assert_close([a], [none], "labels of shape (B, 1) vs (B,)", rtol=1e-5, atol=1e-6)
    elif family.name in ELEMENTWISE_FAMILIES and np.shape(y_true) == np.shape(y_pred):
        column_true, column_pred = y_true[:, :1], y_pred[:, :1]
        want = to_numpy(_with(entry, loss, reduction="none")(column_true, column_pred))
        got = to_numpy(_with(entry, loss, reduction="none")(column_true[:, 0], column_pred))
        require(np.shape(got) == np.shape(want),
                f"y_true (B,) vs y_pred (B, 1) gave shape {np.shape(got)}, (B, 1) vs (B, 1) "
                f"gave {np.shape(want)} (ranks not aligned: broadcasting to (B, B)?)")
        assert_close([got], [want], "y_true (B,) vs y_pred (B, 1)", rtol=1e-5, atol=1e-6)
    else:
        notes.append(f"rank alignment not applicable to {family.name} inputs")
    return numbers, "; ".join(notes)


def value_and_grad(fn, x):
    """`(fn(x), d fn / dx)` as numpy, on the current backend (`keras_lossopt._autodiff`)."""
    try:
        return _autodiff.value_and_grad(fn, x)
    except NotImplementedError as error:
        raise NotApplicable(str(error)) from error


def check_edge_gradients(entry):
    """Loss and gradient w.r.t. y_pred are finite at the edge inputs the loss accepts."""
    loss = entry.cls()
    family = _family(entry, loss)
    y_true, y_pred = sample_inputs(family)
    value, grad = value_and_grad(lambda z: loss(y_true, z), y_pred)
    require(np.isfinite(value) and np.isfinite(grad).all(),
            f"sample inputs: loss {value}, gradient {grad.ravel()[:6]}")
    numbers = {"sample_value": value, "sample_grad": grad}
    if family.edges is None:
        return numbers, f"no edge inputs defined for {family.name}"
    for label, t, p in family.edges(batch_for(family, 4)):
        value, grad = value_and_grad(lambda z, t=t: loss(t, z), p)
        require(np.isfinite(value) and np.isfinite(grad).all(),
                f"edge input '{label}': loss {value}, gradient {np.ravel(grad)[:6]}")
    return numbers


def head_model(family, y_pred):
    """The tiny model whose output has `y_pred`'s shape and the family's activation."""
    shape = tuple(y_pred.shape[1:])
    return _data.fit_model(outputs=int(np.prod(shape)), output_shape=shape,
                           output_activation=family.activation or "linear")


def check_mixed_float16(entry):
    """Under mixed_float16 the loss computes in float32 and a tiny model trains."""
    import keras

    loss = entry.cls()
    family = _family(entry, loss)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        loss = entry.cls()
        y_true, y_pred = sample_inputs(family)
        value = loss(y_true, keras.ops.cast(y_pred, "float16"))
        require(str(value.dtype).endswith("float32") or "float32" in str(value.dtype),
                f"loss of float16 inputs has dtype {value.dtype}, not float32")
        x, _ = _data.fit_data()
        y_true16, y_pred16 = sample_inputs(family, batch=16)
        x = x[: len(y_pred16)]
        model = head_model(family, y_pred16)
        initial = model.get_weights()
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss, run_eagerly=True)
        history = model.fit(x, y_true16, batch_size=len(x), epochs=2, shuffle=False, verbose=0)
        values = history.history["loss"]
        require(np.isfinite(values).all(), f"training under mixed_float16: losses {values}")
        require(any(not np.array_equal(a, b) for a, b in zip(initial, model.get_weights())),
                "training under mixed_float16 did not change the weights")
    finally:
        keras.config.set_dtype_policy(previous)
    return {"float16_input_value": to_numpy(value)}


def check_fuzz(entry):
    """Hypothesis: any input gives a finite loss or a clear ValueError, never a backend crash."""
    try:
        from hypothesis import HealthCheck, given, settings
        from hypothesis import strategies as st
    except ImportError as e:
        raise NotApplicable("hypothesis is not installed") from e
    loss = entry.cls()
    family = _family(entry, loss)
    failures = []

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(seed=st.integers(0, 2**16), batch=st.integers(1, 5),
           mutation=st.sampled_from(["none", "none", "pred_last_dim", "true_rank", "pred_rank",
                                     "extreme", "labels_out_of_range", "scalar"]))
    def fuzz(seed, batch, mutation):
        rng = np.random.default_rng(seed)
        y_true, y_pred = family.sample(rng, batch_for(family, batch))
        y_true, y_pred = np.array(y_true), np.array(y_pred)
        valid = mutation in ("none", "extreme")
        if mutation == "pred_last_dim":
            y_pred = np.concatenate([y_pred, y_pred[..., :1]], axis=-1)
        elif mutation == "true_rank":
            y_true = y_true[..., None, None]
        elif mutation == "pred_rank":
            y_pred = y_pred[None]
        elif mutation == "extreme":
            if family.name.endswith("logits") or family.name in ("regression", "hinge",
                                                                   "similarity", "embeddings"):
                y_pred = y_pred * 100.0
            elif family.activation == "sigmoid":
                y_pred = np.round(y_pred).astype("float32")  # exact 0 and 1
            elif family.activation == "softmax":  # exact one-hot distributions
                y_pred = (y_pred == y_pred.max(-1, keepdims=True)).astype("float32")
                y_pred = y_pred / y_pred.sum(-1, keepdims=True)
        elif mutation == "labels_out_of_range":
            if not family.labels:
                return
            y_true = y_true + family.labels
        elif mutation == "scalar":
            y_true, y_pred = y_true.ravel()[:1].reshape(()), y_pred.ravel()[:1].reshape(())
        try:
            value = to_numpy(loss(y_true, y_pred))
        except ValueError as e:
            if valid:
                failures.append(f"{mutation} (valid input) raised ValueError: {e}"[:300])
            elif not str(e).strip():
                failures.append(f"{mutation}: ValueError without a message")
            return
        except Exception as e:  # noqa: BLE001
            failures.append(f"{mutation} y_true{np.shape(y_true)} y_pred{np.shape(y_pred)}: "
                            f"{type(e).__name__}: {str(e)[:200]}")
            return
        if not np.isfinite(value).all():
            failures.append(f"{mutation} y_true{np.shape(y_true)} y_pred{np.shape(y_pred)}: "
                            f"non-finite loss {value}")

    fuzz()
    if failures:
        unique = sorted(set(failures))
        raise CheckFailed(f"{len(failures)} of {FUZZ_EXAMPLES} examples failed, e.g.: "
                          + " | ".join(unique[:3]))
    return {}


# id -> (function, runs on builtins, backends or None, title)
CHECKS = {
    "config": (check_config, True, None, "config and serialize round trips, dtype"),
    "reductions": (check_reductions, True, None,
                   "reductions, sample_weight (B,), (B,1), scalar, masks, rank alignment"),
    "edge_gradients": (check_edge_gradients, True, None,
                       "finite loss and gradient at edge inputs"),
    "mixed_float16": (check_mixed_float16, False, None, "float32 compute, trains"),
    "fuzz": (check_fuzz, False, ("tensorflow",),
             f"hypothesis, {FUZZ_EXAMPLES} examples: finite or ValueError"),
}


def run(entry, check_id):
    fn, builtin_ok, backends, _ = CHECKS[check_id]
    return _core.run_check(entry, check_id, fn, central_opt_outs=OPT_OUTS,
                           builtin_ok=builtin_ok, backends=backends)
