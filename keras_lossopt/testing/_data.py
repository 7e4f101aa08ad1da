"""Tiny deterministic problems shared by the checks (numpy-seeded: identical on every backend)."""

import numpy as np

FIT_SAMPLES, FIT_FEATURES, FIT_BATCH = 16, 4, 8


def fit_data(seed=0):
    """`(x, y)` for the tiny regression model: 16 samples, 4 features, 1 target."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(FIT_SAMPLES, FIT_FEATURES)).astype("float32")
    y = (x @ np.array([[0.5], [-1.0], [0.25], [2.0]], "float32") + 0.1).astype("float32")
    return x, y


def fit_model(seed=0, units=3, outputs=1, output_activation=None, output_shape=None):
    """A 4 -> units (tanh) -> outputs model (19 parameters by default), weights from numpy."""
    import keras

    layers = [keras.Input((FIT_FEATURES,)), keras.layers.Dense(units, activation="tanh"),
              keras.layers.Dense(outputs)]
    if output_shape is not None:
        layers.append(keras.layers.Reshape(output_shape))
    if output_activation is not None:
        layers.append(keras.layers.Activation(output_activation, dtype="float32"))
    model = keras.Sequential(layers)
    rng = np.random.default_rng(seed + 1)
    model.set_weights([(0.5 * rng.normal(size=w.shape)).astype("float32")
                       for w in model.get_weights()])
    return model


def quadratic(dim_rows=3, dim_cols=2):
    """Two variables (a matrix and a vector), a diagonal well-conditioned quadratic.

    Returns `(x0, curvature, centre)` lists of float64 arrays; the gradient at `x`
    is `curvature * (x - centre)`.
    """
    rng = np.random.default_rng(7)
    shapes = [(dim_rows, dim_cols), (dim_cols,)]
    x0 = [rng.normal(size=s) for s in shapes]
    curvature = [rng.uniform(1.0, 2.0, size=s) for s in shapes]
    centre = [rng.uniform(-1.0, 1.0, size=s) for s in shapes]
    return x0, curvature, centre


def quadratic_grads(values, curvature, centre, step, scale=1.0):
    # Gradient of the quadratic at the current iterate plus a deterministic wiggle.
    return [scale * (h * (v - c) + 0.3 * np.sin(step + np.arange(v.size).reshape(v.shape)))
            for v, h, c in zip(values, curvature, centre)]


def trajectory(opt, steps=4, transform=None, before=None, dtype="float32", x0=None,
               scale=1.0, grads_fn=None):
    """Applies `steps` quadratic gradients with `opt` to fresh variables; returns them.

    `grads_fn(values, curvature, centre, step, scale)` replaces the quadratic's
    gradients, `transform(grads, step)` changes them, `before(variables, step)`
    runs before each update.
    """
    import keras

    start, curvature, centre = quadratic()
    start = start if x0 is None else x0
    variables = [keras.Variable(x.astype(dtype), dtype=dtype, name=f"w{i}")
                 for i, x in enumerate(start)]
    for k in range(steps):
        values = [np.asarray(keras.ops.convert_to_numpy(v)).astype("float64") for v in variables]
        grads = (grads_fn or quadratic_grads)(values, curvature, centre, k, scale)
        if transform is not None:
            grads = transform(grads, k)
        if before is not None:
            before(variables, k)
        opt.apply_gradients(
            [(keras.ops.convert_to_tensor(np.asarray(g, dtype), dtype=dtype), v)
             for g, v in zip(grads, variables)]
        )
    return variables


def values_of(variables):
    import keras

    return [np.asarray(keras.ops.convert_to_numpy(v)) for v in variables]


def fit_run(opt, steps, jit_compile=False, model=None, seed=0):
    """Compiles the tiny model with `opt` and trains `steps` batches (no shuffling)."""
    x, y = fit_data(seed)
    model = model or fit_model(seed)
    model.compile(optimizer=opt, loss="mean_squared_error", jit_compile=jit_compile)
    per_epoch = len(x) // FIT_BATCH
    epochs, rest = divmod(steps, per_epoch)
    if rest:
        raise ValueError(f"`steps` must be a multiple of {per_epoch}. Received: steps={steps}")
    model.fit(x, y, batch_size=FIT_BATCH, epochs=epochs, shuffle=False, verbose=0)
    return model
