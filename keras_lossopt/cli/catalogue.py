"""The catalogue for `keras-lossopt list`, read without importing Keras.

The registry is filled by `import keras_lossopt`, which imports Keras and its
backend (TensorFlow: 5-10 s and a screen of log lines). Listing needs only each
entry's names and the first line of its class docstring, and those stand in the
source, at the definition sites the registry itself is filled from. So when this
process has not imported keras_lossopt, `rows` reads them with `ast`:

- `@register(kind, name=..., aliases=..., lookup_class_name=..., config=...)` on a
  class (the name defaults to the class name in snake_case, as `registry.register`
  does; `config`, a literal dict, is what the names promise);
- `register_keras(kind, keras.<module>.<Class>, name, aliases)`, called directly
  or in a module-level `for` loop over a literal table (`losses/keras_builtin.py`,
  `optimizers/keras_builtin.py`); a Keras class's summary comes from Keras's own
  source (`keras/<module>/__init__.py` names the file that defines it).

Argument names and defaults are read from `registry.py`'s own signatures. When
keras_lossopt is imported (the Python API, the tests), `rows` reads the live
registry instead, which also holds classes registered outside the package.
`tests/cli/test_startup.py` (`test_the_catalogue_read_from_source_is_the_registry`)
checks that both give the same rows.

Why this and not the alternatives (measured on the 2-core machine): reading the
package's files and parsing the ~40 that register something, plus Keras's loss
and optimizer files, takes about 0.2 s (`keras-lossopt list` answers in 0.4 s,
against 12 s when it imported the package); `KERAS_BACKEND=numpy` is no way
out, since Keras's numpy backend imports JAX (5 s); a generated index file would
be faster still, but must be regenerated, and merged, whenever anyone adds a name.
"""

import ast
import dataclasses
import functools
import importlib.util
import os
import re
import sys

KINDS = ("loss", "optimizer", "schedule")  # registry.KINDS
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_REGISTERS = re.compile(r"\bregister(_keras)?\(")


@dataclasses.dataclass(frozen=True)
class Row:
    """One catalogue entry: the fields of `registry.Entry` that `list` shows."""

    kind: str
    name: str
    class_name: str
    aliases: tuple = ()
    lookup_class_name: bool = True
    builtin: bool = False
    summary: str = ""
    config: dict = dataclasses.field(default_factory=dict)  # what the names promise

    @property
    def names(self):
        """Every string that resolves to this entry (as `registry.Entry.names`)."""
        extra = (self.class_name,) if self.lookup_class_name else ()
        return (self.name, *self.aliases, *extra)


def rows(kind):
    """The catalogue rows of `kind`, sorted by name."""
    registry = sys.modules.get("keras_lossopt.registry")
    found = live_rows(registry, kind) if registry is not None else source_rows(kind)
    return sorted(found, key=lambda row: row.name)


def live_rows(registry, kind):
    """The rows of `kind` in the (imported) registry."""
    return [Row(kind, e.name, e.cls.__name__, tuple(e.aliases), e.lookup_class_name,
                e.builtin, e.summary, dict(e.config)) for e in registry.entries(kind)]


def source_rows(kind):
    """The rows of `kind` read from the package's source files."""
    return [row for row in _all_source_rows() if row.kind == kind]


@functools.cache
def _all_source_rows():
    signatures = {name: _signature(name) for name in ("register", "register_keras")}
    found = []
    for path in _package_files():
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        if _REGISTERS.search(text):  # files that register nothing: not parsed
            found.extend(_module_rows(ast.parse(text, path), signatures))
    return tuple(found)


def _package_files():
    for folder, subfolders, files in os.walk(_PACKAGE_DIR):
        subfolders[:] = sorted(d for d in subfolders if d not in ("cli", "__pycache__"))
        yield from (os.path.join(folder, f) for f in sorted(files) if f.endswith(".py"))


@functools.cache
def _parse(path):
    with open(path, encoding="utf-8") as handle:
        return ast.parse(handle.read(), path)


def _signature(function):
    """`(parameter names, {name: default node})` of a function in registry.py."""
    tree = _parse(os.path.join(_PACKAGE_DIR, "registry.py"))
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function)
    names = [a.arg for a in node.args.args]
    defaults = dict(zip(names[len(names) - len(node.args.defaults):], node.args.defaults))
    defaults.update((a.arg, d) for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults)
                    if d is not None)
    return names, defaults


def _module_rows(tree, signatures):
    """The rows registered by one module's top-level statements."""
    env = {t.id: stmt.value for stmt in tree.body if isinstance(stmt, ast.Assign)
           for t in stmt.targets if isinstance(t, ast.Name)}
    for stmt in tree.body:
        if isinstance(stmt, ast.ClassDef):
            for decorator in stmt.decorator_list:
                if _calls(decorator, "register"):
                    yield _our_row(stmt, _bind(decorator, signatures["register"]), env)
        elif isinstance(stmt, ast.Expr) and _calls(stmt.value, "register_keras"):
            yield _keras_row(_bind(stmt.value, signatures["register_keras"]), env)
        elif isinstance(stmt, ast.For):
            yield from _table_rows(stmt, signatures["register_keras"], env)


def _calls(node, function):
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)) == function


def _bind(call, signature):
    """`{parameter: argument node}` of a call, defaults included (`**kwargs` skipped)."""
    names, defaults = signature
    bound = dict(defaults)
    bound.update(zip(names, call.args))
    bound.update((kw.arg, kw.value) for kw in call.keywords if kw.arg is not None)
    return bound


def _value(node, env):
    """A literal, a module-level name bound to one, or a dotted name (as a string)."""
    if isinstance(node, ast.Name) and node.id in env:
        return _value(env[node.id], env)
    if isinstance(node, ast.Attribute):
        return f"{_value(node.value, env)}.{node.attr}"
    if isinstance(node, ast.Name):
        return node.id
    return ast.literal_eval(node)


def _our_row(cls_node, args, env):
    name = _value(args["name"], env) or _snake_case(cls_node.name)
    return Row(_value(args["kind"], env), name, cls_node.name,
               tuple(_value(args["aliases"], env)), _value(args["lookup_class_name"], env),
               False, _first_line(ast.get_docstring(cls_node)),
               dict(_value(args["config"], env) or {}))


def _keras_row(args, env):
    dotted = _value(args["keras_cls"], env)
    return Row(_value(args["kind"], env), _value(args["name"], env), dotted.rpartition(".")[2],
               tuple(_value(args["aliases"], env)), True, True, _keras_summary(dotted))


def _table_rows(loop, signature, env):
    """`for a, b in TABLE: register_keras(...)`: one row per entry of TABLE."""
    calls = [s.value for s in loop.body
             if isinstance(s, ast.Expr) and _calls(s.value, "register_keras")]
    if not calls or not isinstance(loop.iter, ast.Name):
        return
    targets = loop.target.elts if isinstance(loop.target, ast.Tuple) else [loop.target]
    for entry in env[loop.iter.id].elts:
        values = entry.elts if isinstance(entry, ast.Tuple) else [entry]
        row_env = dict(env, **{t.id: v for t, v in zip(targets, values)})
        for call in calls:
            yield _keras_row(_bind(call, signature), row_env)


def _snake_case(name):
    """Same rule as `registry.snake_case`: "RAdam" -> "r_adam"."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def _first_line(doc):
    doc = (doc or "").strip()
    return doc.splitlines()[0] if doc else ""


def _keras_module(dotted):
    """The parsed source of a Keras module (found without importing Keras), or None."""
    spec = importlib.util.find_spec("keras")
    root = list(spec.submodule_search_locations)[0]
    base = os.path.join(root, *dotted.split(".")[1:])
    for path in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(path):
            return _parse(path)
    return None


def _keras_summary(dotted):
    """First docstring line of Keras's `keras.<module>.<Class>`, "" if not found."""
    module, _, name = dotted.rpartition(".")
    tree = _keras_module(module)
    for node in tree.body if tree is not None else ():
        if isinstance(node, ast.ClassDef) and node.name == name:
            return _first_line(ast.get_docstring(node))
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    return _keras_summary(f"{node.module}.{alias.name}")
    return ""
