"""How the optimizer checks build an optimizer: its settings, learning rate and budgets.

Hooks an optimizer class may define (all optional, read from the class itself or
a registered ancestor of ours, never from Keras's classes):

- `conformance_settings = ({"beta_1": 0.8},)`: the non-default settings to test
  (default: one derived from the first float/bool/int hyperparameter of `__init__`).
- `conformance_convergence = {"kwargs": {...}, "steps": 100, "tolerance": 0.05}`:
  the settings of the quadratic convergence check.
"""

import inspect

BASE_KEYWORDS = (
    "learning_rate", "weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "use_ema",
    "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
    "gradient_accumulation_steps", "name", "kwargs", "self",
)

# Settings and opt-outs for classes that are not ours to annotate (Keras's own).
# Every opt-out carries its reason; the report shows it.
SETTINGS = {
    "sgd": ({"momentum": 0.9, "nesterov": True},),
    "ftrl": ({"l1_regularization_strength": 0.01, "l2_regularization_strength": 0.01},),
}
CONVERGENCE = {
    # Adadelta's steps start at sqrt(epsilon): it needs lr ~1 and a larger epsilon.
    "adadelta": {"kwargs": {"learning_rate": 1.0, "epsilon": 1e-2}},
    # Adagrad shrinks its steps like 1/sqrt(sum g^2): it needs a larger rate.
    "adagrad": {"kwargs": {"learning_rate": 0.5}},
}
OPT_OUTS = {
    ("optimizer", "nadam", "dtypes"):
        "Keras's Nadam gives NaN from the first step with bfloat16 variables (Keras bug, "
        "reproduced with keras.optimizers.Nadam alone on TF and JAX)",
    ("optimizer", "ftrl", "convergence"):
        "Keras's Ftrl stays 0.78-0.92 from the minimiser after 200 steps at learning_rate 0.1 "
        "and 1.0 on this quadratic; not investigated further (Keras's own class)",
}

CONVERGENCE_DEFAULT = {"kwargs": {"learning_rate": 0.1}, "steps": 200, "tolerance": 0.02}


def _own_attr(cls, name, default=None):
    """A hook attribute defined on `cls` itself or a registered ancestor of ours."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
        if klass.__module__.startswith("keras."):
            break
    return default


def nondefault_setting(entry):
    """One non-default setting: the class hook, our table, or derived from `__init__`."""
    hook = _own_attr(entry.cls, "conformance_settings")
    if hook:
        return dict(hook[0])
    if entry.name in SETTINGS:
        return dict(SETTINGS[entry.name][0])
    params = inspect.signature(entry.cls.__init__).parameters
    for name, param in params.items():
        if name in BASE_KEYWORDS or param.default is inspect.Parameter.empty:
            continue
        d = param.default
        if isinstance(d, bool):
            return {name: not d}
        if isinstance(d, int):
            return {name: d + 1}
        if isinstance(d, float):
            if 0 < d < 1:
                return {name: d + (1 - d) / 2}
            if d == 0:
                return {name: 0.5}
            return {name: d * 2 if d > 0 else d / 2}
    learning_rate = params.get("learning_rate")
    if learning_rate is not None and isinstance(learning_rate.default, float):
        return {"learning_rate": learning_rate.default / 2}
    return {}


def settings(entry):
    """`[(label, kwargs), ...]`: the default construction and one non-default one."""
    extra = nondefault_setting(entry)
    found = [("default", {})]
    if extra:
        found.append(("nondefault " + ",".join(f"{k}={v}" for k, v in extra.items()), extra))
    return found


def make(entry, **kwargs):
    return entry.cls(**kwargs)


def default_learning_rate(entry):
    lr = make(entry).get_config().get("learning_rate")
    if not isinstance(lr, float) or lr <= 0:
        return 0.01
    return lr


def takes_learning_rate(entry):
    return "learning_rate" in inspect.signature(entry.cls.__init__).parameters


def make_with_lr(entry, learning_rate=0.01, **kwargs):
    """Builds with `learning_rate`, or sets it afterwards (wrappers forward it inside)."""
    if takes_learning_rate(entry):
        return make(entry, learning_rate=learning_rate, **kwargs)
    opt = make(entry, **kwargs)
    opt.learning_rate = learning_rate
    return opt


def convergence_settings(entry):
    spec = dict(CONVERGENCE_DEFAULT)
    spec.update(CONVERGENCE.get(entry.name, {}))
    spec.update(_own_attr(entry.cls, "conformance_convergence") or {})
    return spec
