"""The conformance checks of an optimizer class (`CHECKS`, run one with `run`).

Each check is a function `check_<id>(entry) -> numbers` that raises `CheckFailed`
(FAIL), `NotApplicable` (n.a.) or returns a dict of arrays that must agree across
backends. `run(entry, check_id)` wraps it into a `Result`.

Hooks an optimizer class may define (all optional, read from the class itself):
`conformance_settings` and `conformance_convergence` (see `_optimizer_setup`),
`conformance_opt_outs = {"sparse": "reason"}` (per-check opt-outs, with reasons;
`"base_features:<feature>"` opts out of one base keyword).
"""

import inspect

import numpy as np

from keras_lossopt.testing import _core, _data
from keras_lossopt.testing._core import (
    NotApplicable,
    assert_close,
    assert_finite,
    require,
    to_numpy,
)
from keras_lossopt.testing._data import fit_run, quadratic_grads, trajectory, values_of
from keras_lossopt.testing._optimizer_setup import (
    OPT_OUTS,
    convergence_settings,
    default_learning_rate,
    make,
    make_with_lr,
    settings,
)

# --- checks ---------------------------------------------------------------------------


def check_config(entry):
    """get_config -> from_config and keras serialize -> deserialize are equal."""
    import keras

    for label, kwargs in settings(entry):
        opt = make(entry, **kwargs)
        # Keras's own optimizers build a backend-specific subclass on PyTorch
        # (keras.optimizers.Adam() is a TorchAdam): a rebuilt object must have the
        # class a fresh construction has, which is exactly entry.cls for ours.
        want = type(opt)
        require(want is entry.cls or (entry.builtin and issubclass(want, entry.cls)),
                f"[{label}] {entry.cls.__name__}() gave {want}")
        config = opt.get_config()
        for key, value in kwargs.items():
            if key in config:
                require(config[key] == value or np.isclose(config[key], value),
                        f"[{label}] get_config()[{key!r}] = {config[key]!r}, expected {value!r}")
        rebuilt = entry.cls.from_config(config)
        require(type(rebuilt) is want, f"[{label}] from_config gave {type(rebuilt)}")
        require(rebuilt.get_config() == config,
                f"[{label}] from_config(get_config()) differs: {rebuilt.get_config()} != {config}")
        again = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
        require(type(again) is want, f"[{label}] deserialize gave {type(again)}")
        require(again.get_config() == config,
                f"[{label}] serialize/deserialize differs: {again.get_config()} != {config}")
        generic = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(opt))
        require(type(generic) is want and generic.get_config() == config,
                f"[{label}] keras.saving round trip differs")
    return {}


def _flat(arrays):
    return np.concatenate([np.ravel(a) for a in arrays])


def _clip_each(norm):
    def transform(grads, k):
        return [g * norm / max(np.sqrt(np.sum(np.square(g))), norm) for g in grads]
    return transform


def _clip_global(norm):
    def transform(grads, k):
        total = np.sqrt(sum(np.sum(np.square(g)) for g in grads))
        return [g * norm / max(total, norm) for g in grads]
    return transform


BASE_FEATURES = ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "loss_scale_factor",
                 "use_ema", "gradient_accumulation_steps", "schedule")


def check_base_features(entry):
    """Keras's base optimizer keywords behave as Keras defines them, for this update rule.

    Each feature is compared with a run of the plain optimizer on transformed
    gradients (clipping, loss scaling, accumulation) or on variables decayed by
    hand (decoupled weight decay `v <- v - v * weight_decay * lr` before the
    update), so the check holds for any update rule. A class whose algorithm
    defines a keyword differently opts out of that feature with
    `conformance_opt_outs = {"base_features:weight_decay": "reason"}`.
    """
    import keras

    lr = default_learning_rate(entry)
    steps = 3
    numbers, skipped = {}, []

    def plain(**kw):
        return make_with_lr(entry, lr, **kw)

    def wanted(feature):
        reason = _core.opt_out_reason(entry, f"base_features:{feature}", OPT_OUTS)
        if reason:
            skipped.append(f"{feature} (opt-out: {reason})")
        return not reason

    history = []
    reference = values_of(trajectory(plain(), steps,
                                     before=lambda vs, k: history.append(values_of(vs))))
    history = history[1:] + [reference]  # values after steps 1..steps

    if wanted("weight_decay"):
        wd = 0.1
        got = values_of(trajectory(plain(weight_decay=wd), steps))

        def decay(variables, k):
            for v in variables:
                v.assign(v - v * wd * lr)

        want = values_of(trajectory(plain(weight_decay=0.0), steps, before=decay))
        assert_close(got, want, "weight_decay")
        numbers["weight_decay"] = _flat(got)

    features = [
        ("clipnorm", {"clipnorm": 0.5}, _clip_each(0.5)),
        ("clipvalue", {"clipvalue": 0.3}, lambda grads, k: [np.clip(g, -0.3, 0.3) for g in grads]),
        ("global_clipnorm", {"global_clipnorm": 0.5}, _clip_global(0.5)),
    ]
    for feature, kw, transform in features:
        if wanted(feature):
            got = values_of(trajectory(plain(**kw), steps))
            want = values_of(trajectory(plain(), steps, transform=transform))
            assert_close(got, want, feature)
            numbers[feature] = _flat(got)

    if wanted("loss_scale_factor"):
        # Gradients arrive multiplied by the factor and are divided back.
        got = values_of(trajectory(plain(loss_scale_factor=4.0), steps,
                                   transform=lambda grads, k: [4.0 * g for g in grads]))
        assert_close(got, reference, "loss_scale_factor")
        numbers["loss_scale_factor"] = _flat(got)

    if wanted("use_ema"):
        # Training is unchanged; finalize_variable_values writes the moving average
        # (first step: the weights; then momentum * average + (1 - momentum) * weights).
        momentum = 0.5
        opt = plain(use_ema=True, ema_momentum=momentum)
        variables = trajectory(opt, steps)
        assert_close(values_of(variables), reference, "use_ema (training itself)")
        average = [h.astype("float64") for h in history[0]]
        for values in history[1:]:
            average = [momentum * a + (1 - momentum) * v for a, v in zip(average, values)]
        opt.finalize_variable_values(variables)
        assert_close(values_of(variables), average, "use_ema (finalize_variable_values)")
        numbers["use_ema"] = _flat(average)

    if wanted("gradient_accumulation_steps"):
        # Two gradients at the same point, then one update with their mean.
        opt = plain(gradient_accumulation_steps=2)
        got = values_of(trajectory(opt, 2 * steps,
                                   grads_fn=lambda vals, h, c, k, s: quadratic_grads(vals, h, c, k // 2)))
        applied = int(to_numpy(opt.iterations))
        require(applied == steps,
                f"gradient_accumulation_steps: iterations={applied}, expected {steps}")
        assert_close(got, reference, "gradient_accumulation_steps", rtol=1e-5, atol=1e-5)
        numbers["gradient_accumulation_steps"] = _flat(got)

    if wanted("schedule"):
        # A LearningRateSchedule equals setting the float learning rate by hand each step.
        schedule = keras.optimizers.schedules.ExponentialDecay(lr, decay_steps=1, decay_rate=0.5)
        got = values_of(trajectory(make_with_lr(entry, schedule), steps))
        by_hand = plain()

        def set_lr(variables, k):
            by_hand.learning_rate = lr * 0.5**k

        want = values_of(trajectory(by_hand, steps, before=set_lr))
        assert_close(got, want, "LearningRateSchedule")
        numbers["schedule"] = _flat(got)
    return numbers, ("not checked: " + "; ".join(skipped) if skipped else "")


def check_dtypes(entry):
    """float16 and bfloat16 variables: no crash, finite after a few quadratic steps."""
    for dtype in ("float16", "bfloat16"):
        for label, kwargs in settings(entry):
            opt = make(entry, **kwargs)
            variables = trajectory(opt, 4, dtype=dtype)
            for v in variables:
                require(str(v.dtype).endswith(dtype), f"{dtype}: variable became {v.dtype}")
            assert_finite([to_numpy(v).astype("float32") for v in variables],
                          f"{dtype} [{label}] weights")
            assert_finite([to_numpy(v).astype("float32") for v in opt.variables],
                          f"{dtype} [{label}] optimizer state")
    return {}


def check_robustness(entry):
    """Zero gradients, zero parameters and gradients of 1e6 give finite updates."""
    start, _, _ = _data.quadratic()
    zeros = [np.zeros_like(x) for x in start]
    cases = [
        ("zero gradients", dict(grads_fn=lambda v, h, c, k, s: [np.zeros_like(x) for x in v])),
        ("zero parameters", dict(x0=zeros)),
        ("zero parameters and gradients",
         dict(x0=zeros, grads_fn=lambda v, h, c, k, s: [np.zeros_like(x) for x in v])),
        ("gradients of 1e6", dict(grads_fn=lambda v, h, c, k, s: [np.full_like(x, 1e6) for x in v])),
        ("gradients of -1e6 then 0",
         dict(grads_fn=lambda v, h, c, k, s: [np.full_like(x, -1e6 if k < 2 else 0.0) for x in v])),
    ]
    numbers = {}
    for label, kwargs in settings(entry):
        for case, kw in cases:
            opt = make(entry, **kwargs)
            variables = trajectory(opt, 4, **kw)
            assert_finite(values_of(variables), f"[{label}] {case}: weights")
            assert_finite(values_of(opt.variables), f"[{label}] {case}: optimizer state")
            if label == "default":
                numbers[case] = np.concatenate([v.ravel() for v in values_of(variables)])
    return {}  # robustness numbers are not part of the cross-backend comparison


def check_convergence(entry):
    """Minimises a well-conditioned quadratic (curvature 1..2, 8 unknowns) to a tolerance.

    The learning rate follows a cosine decay to 1% over the step budget (so that
    sign-based and adaptive methods settle); the loop runs inside `fit` with
    `steps_per_execution` equal to the budget (one compiled call; PyTorch, where
    Keras allows only 1, runs the budget as that many calls).
    """
    import keras

    spec = convergence_settings(entry)
    steps, tolerance = spec["steps"], spec["tolerance"]
    kwargs = dict(spec["kwargs"])
    lr = kwargs.pop("learning_rate", 0.1)
    schedule = keras.optimizers.schedules.CosineDecay(lr, decay_steps=steps, alpha=0.01)
    opt = make_with_lr(entry, schedule, **kwargs)
    rng = np.random.default_rng(11)
    n = 8
    curvature = np.linspace(1.0, 2.0, n)
    centre = rng.uniform(-1.0, 1.0, size=n)
    x0 = centre + rng.choice([-1.0, 1.0], size=n)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(n, use_bias=False)])
    model.set_weights([x0[None, :].astype("float32")])
    weight = keras.ops.convert_to_tensor(curvature.astype("float32"))

    def quadratic_loss(y_true, y_pred):  # 0.5 * sum(h * (x - c)^2) per sample
        return 0.5 * keras.ops.sum(weight * keras.ops.square(y_pred - y_true), axis=-1)

    per_call = 1 if keras.backend.backend() == "torch" else steps
    model.compile(optimizer=opt, loss=quadratic_loss, steps_per_execution=per_call)
    x = np.ones((steps, 1), "float32")
    y = np.tile(centre.astype("float32"), (steps, 1))
    model.fit(x, y, batch_size=1, epochs=1, shuffle=False, verbose=0)
    error = float(np.max(np.abs(model.get_weights()[0][0] - centre)))
    require(np.isfinite(error) and error <= tolerance,
            f"max |x - x*| = {error:.3g} > {tolerance} after {steps} steps with "
            f"learning_rate={lr} (cosine decay) {kwargs}")
    return {}


# --- fit-based checks ----------------------------------------------------------------


def check_xla(entry):
    """`jit_compile=True` training equals eager training (<= 1e-5 relative)."""
    import keras

    if keras.backend.backend() == "torch":
        raise NotApplicable("PyTorch has no XLA (jit_compile means torch.compile there)")
    numbers = {}
    for label, kwargs in settings(entry):
        eager = fit_run(make(entry, **kwargs), 4, jit_compile=False)
        jitted = fit_run(make(entry, **kwargs), 4, jit_compile=True)
        assert_close(jitted.get_weights(), eager.get_weights(), f"[{label}] XLA vs eager",
                     rtol=1e-5, atol=1e-6)
        numbers[label] = np.concatenate([w.ravel() for w in jitted.get_weights()])
    return numbers


def _deduplicate(slices):
    """TensorFlow only: sums the rows of an IndexedSlices that share an index."""
    import tensorflow as tf

    unique, position = tf.unique(slices.indices)
    values = tf.math.unsorted_segment_sum(slices.values, position, tf.shape(unique)[0])
    return tf.IndexedSlices(values, unique, slices.dense_shape)


def check_sparse(entry):
    """TensorFlow only: an Embedding trains; repeated indices count as their sum; and the
    rows a sparse gradient does not touch follow the optimizer's declared semantics.

    Optimizers with `sparse_updates = "lazy"` (LazyAdam, TFA's convention) must leave
    untouched rows exactly as they were, with `weight_decay` too; every other one must
    give the dense update (so untouched rows move only as a zero dense gradient moves
    them).
    """
    import keras
    import tensorflow as tf

    def build():
        model = keras.Sequential([keras.Input((3,), dtype="int32"),
                                  keras.layers.Embedding(6, 2), keras.layers.Flatten(),
                                  keras.layers.Dense(1)])
        rng = np.random.default_rng(3)
        model.set_weights([rng.normal(size=w.shape).astype("float32")
                           for w in model.get_weights()])
        return model

    tokens = np.array([[0, 1, 1], [3, 1, 0]], "int32")  # repeated ids, rows 2, 4, 5 unused
    untouched = [2, 4, 5]
    target = np.array([[1.0], [-1.0]], "float32")
    lazy = getattr(entry.cls, "sparse_updates", "dense") == "lazy"

    def train(kwargs, mode):
        model, opt = build(), make(entry, **kwargs)
        for _ in range(3):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(tokens) - target))
            grads = tape.gradient(loss, model.trainable_variables)
            require(isinstance(grads[0], tf.IndexedSlices),
                    f"Embedding gradient is {type(grads[0]).__name__}, not sparse")
            if mode == "summed":
                grads[0] = _deduplicate(grads[0])
            elif mode == "dense":
                grads = [tf.convert_to_tensor(g) for g in grads]
            opt.apply_gradients(zip(grads, model.trainable_variables))
        return model.get_weights()

    cases = list(settings(entry))
    if lazy and "weight_decay" in inspect.signature(entry.cls.__init__).parameters:
        cases.append(("weight_decay=0.1", {"weight_decay": 0.1}))
    initial = build().get_weights()[0]
    for label, kwargs in cases:
        raw, summed = train(kwargs, "raw"), train(kwargs, "summed")
        assert_finite(raw, f"[{label}] training on raw sparse gradients")
        # Keras 3 hands repeated indices over as they are; TF2's base class summed them
        # before the second moments (g**2 of the sum, not the sum of g**2).
        assert_close(raw, summed, f"[{label}] repeated indices vs their sum", rtol=1e-5,
                     atol=1e-6)
        if lazy:
            assert_close([summed[0][untouched]], [initial[untouched]],
                         f"[{label}] lazy update: rows the gradient does not touch",
                         rtol=0, atol=0)
        else:
            assert_close(summed, train(kwargs, "dense"), f"[{label}] sparse vs dense update",
                         rtol=1e-5, atol=1e-6)
        require(not np.allclose(summed[0], initial), f"[{label}] the embedding did not train")
    return {}


def check_mixed_float16(entry):
    """Under mixed_float16, compile wraps in LossScaleOptimizer, loss decreases, save keeps it."""
    import os
    import tempfile

    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        x, y = _data.fit_data()
        model = _data.fit_model()
        model.compile(optimizer=make_with_lr(entry, **convergence_settings(entry)["kwargs"]),
                      loss="mean_squared_error", run_eagerly=True)
        require(isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer),
                f"compile gave {type(model.optimizer).__name__}, not LossScaleOptimizer")
        before = model.evaluate(x, y, verbose=0)
        model.fit(x, y, batch_size=_data.FIT_BATCH, epochs=3, shuffle=False, verbose=0)
        after = model.evaluate(x, y, verbose=0)
        require(np.isfinite(after) and after < before,
                f"loss did not decrease: {before:.4g} -> {after:.4g}")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.keras")
            model.save(path)
            loaded = keras.saving.load_model(path)
        require(isinstance(loaded.optimizer, keras.optimizers.LossScaleOptimizer)
                and type(loaded.optimizer.inner_optimizer) is entry.cls,
                f"reload gave {type(loaded.optimizer).__name__}")
    finally:
        keras.config.set_dtype_policy(previous)
    return {}


# name -> (function, runs on builtins, backends or None, title)
CHECKS = {
    "config": (check_config, True, None, "get_config/from_config and serialize round trips"),
    "base_features": (check_base_features, True, None,
                      "weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, "
                      "gradient accumulation, loss_scale_factor, schedule"),
    "dtypes": (check_dtypes, True, None, "float16/bfloat16 variables stay finite"),
    "robustness": (check_robustness, True, None, "zero grads, zero params, grads 1e6"),
    "convergence": (check_convergence, True, None, "quadratic to tolerance within budget"),
    "xla": (check_xla, False, ("tensorflow", "jax"), "jit_compile=True equals eager"),
    "sparse": (check_sparse, False, ("tensorflow",), "Embedding: repeats summed; lazy or dense rows"),
    "mixed_float16": (check_mixed_float16, False, None, "LossScaleOptimizer, trains, reloads"),
}


def run(entry, check_id):
    fn, builtin_ok, backends, _ = CHECKS[check_id]
    return _core.run_check(entry, check_id, fn, central_opt_outs=OPT_OUTS,
                           builtin_ok=builtin_ok, backends=backends)
