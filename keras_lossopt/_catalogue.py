"""Shared machinery of the public `losses`, `optimizers` and `schedules` modules.

Each public package imports all of its submodules (so every decorator runs: no
hand-kept module list), then exports every registered class under its class
name plus each submodule's `__all__` (functional forms).
"""

import importlib
import inspect
import pkgutil
import warnings

import keras

from keras_lossopt import registry


def import_submodules(package_name, package_path):
    """Imports every module of a package; returns their public names."""
    exported = {}
    for info in sorted(pkgutil.iter_modules(package_path), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package_name}.{info.name}")
        for name in getattr(module, "__all__", ()):
            exported[name] = getattr(module, name)
    return exported


def public_namespace(kind, package_name, package_path):
    """The names a public module exports: registered classes and functional forms.

    Every exported function is registered for serialization (`registry.register_function`).

    A former name of one of ours (`deprecated_names`) is left out, so that the
    package's `deprecated_getattr` answers it with a warning.
    """
    namespace = import_submodules(package_name, package_path)
    for obj in namespace.values():
        if inspect.isfunction(obj) and obj.__module__.startswith(package_name):
            registry.register_function(obj)  # functional forms save and reload on their own
    deprecated = deprecated_names(package_name, package_path)
    for entry in registry.entries(kind):
        name = entry.cls.__name__
        taken = namespace.get(name)
        if inspect.isclass(taken) and taken is not entry.cls and registry.lookup_class(kind, taken):
            raise ValueError(f"Two registered {kind} classes are named {name!r}: "
                             f"{taken.__module__} and {entry.cls.__module__}; rename ours.")
        if name not in deprecated:
            namespace[name] = entry.cls
        for alias in entry.aliases:
            # A class-like alias (TFA's `RectifiedAdam`, `PinballLoss`) is also an
            # attribute: the same class, one registry entry.
            if alias.isidentifier() and alias[0].isupper() and alias not in namespace:
                namespace[alias] = entry.cls
    return namespace


def deprecated_names(package_name, package_path):
    """Former name -> object, from the `DEPRECATED_NAMES` of the package's modules."""
    found = {}
    for info in pkgutil.iter_modules(package_path):
        if not info.name.startswith("_"):
            module = importlib.import_module(f"{package_name}.{info.name}")
            found.update(getattr(module, "DEPRECATED_NAMES", {}))
    return found


def deprecated_getattr(module_name, deprecated):
    """A module `__getattr__` (PEP 562) that serves `deprecated` (former name -> object)
    with a DeprecationWarning naming the new name."""

    def __getattr__(name):
        if name not in deprecated:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        new = deprecated[name]
        warnings.warn(f"`{module_name}.{name}` is deprecated; use "
                      f"`{module_name}.{new.__name__}` (same class, new name).",
                      DeprecationWarning, stacklevel=2)
        return new

    return __getattr__


def get(kind, identifier, keras_get, keras_deserialize):
    """Resolves `identifier` to an instance: ours first, then Keras's, else a clear error."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        entry = registry.lookup(kind, identifier)
        if entry is not None:
            return entry.build()
        try:
            obj = keras_get(identifier)
        except (ValueError, TypeError, KeyError):
            obj = None
        if obj is None:
            raise registry.unknown_name_error(kind, identifier)
        return obj
    if isinstance(identifier, dict):
        return keras_deserialize(identifier)
    if inspect.isclass(identifier):
        base = registry._KIND_BASES[kind]
        if issubclass(identifier, base):
            return identifier()
    return keras_get(identifier)


def describe(kind, pattern="*"):
    """`[(name, aliases, summary), ...]` for the entries matching `pattern`."""
    return [
        (entry.name, entry.aliases, entry.summary)
        for entry in registry.entries(kind, pattern)
    ]


def keras_version():
    return keras.__version__
