"""A griffe extension that reads keras_lossopt's Keras-style docstrings as Google style.

Our docstrings follow Keras's conventions (CONTRIBUTING.md), which differ from the
Google style that mkdocstrings parses in two ways; both are rewritten here, in the
documentation build only, so the docstrings (and their doctests) stay as they are.
A docstring completed at import time is read from the imported object, as `help()`
shows it.

1. Keras puts a doctest *below* its `Example:` line, not indented under it:

       Example:

       >>> keras_lossopt.losses.get("l2")

   Unindented, griffe would render `>>>` as nested markdown block quotes. The
   block up to the next section header is indented under an `Examples:` section
   (whose `>>>` lines griffe renders as Python console code). Doctests outside an
   example section are fenced as `pycon` code.
2. An argument described as `epsilon: >= 0, ...` would start a markdown block
   quote; the leading `>` (or `<`) is escaped.
3. Optimizers list Keras's base keywords once, as one grouped entry that may wrap:

       weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
       ema_momentum, ...: Keras's base optimizer keywords.

   The wrapped names are joined onto one line (one row of the table). griffe's own
   unknown-parameter check cannot read a grouped name, so it is switched off in
   mkdocs.yml and done here instead: every documented name, grouped or not, must be
   a parameter of the signature, or the build warns (and strict mode fails).
"""

import importlib
import inspect
import re

import griffe

logger = griffe.get_logger("griffe_keras")

_HEADER = re.compile(r"^(?P<title>[A-Z][A-Za-z ]*):\s*$")
_EXAMPLE_HEADERS = ("Example", "Examples")
_ARGS_HEADERS = ("Args", "Arguments", "Parameters")
_NAME_LIST = r"\*{0,2}\w+(?:, \*{0,2}\w+)*"
_WRAPPED_NAMES = re.compile(rf"^(?P<indent> +)(?P<names>{_NAME_LIST},)\s*$")
_ENTRY = re.compile(rf"^(?P<names>{_NAME_LIST})(?: \([^)]*\))?:(?: |$)")


def _is_header(line):
    return bool(_HEADER.match(line))


def _indent_examples(lines):
    """Indents a Keras-style unindented example block under an `Examples:` header."""
    out, i = [], 0
    while i < len(lines):
        match = _HEADER.match(lines[i])
        if not (match and match.group("title") in _EXAMPLE_HEADERS):
            out.append(lines[i])
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        if j == len(lines) or lines[j].startswith(" "):  # empty, or already Google style
            out.append(lines[i])
            i += 1
            continue
        end = j
        while end < len(lines) and not _is_header(lines[end]):
            end += 1
        while end > j and not lines[end - 1].strip():
            end -= 1
        out.append("Examples:")
        out.extend(("    " + line) if line.strip() else "" for line in lines[j:end])
        out.append("")
        i = end
    return out


def _fence_doctests(lines):
    """Fences unindented doctest runs (outside example sections) as `pycon` code."""
    out, i = [], 0
    while i < len(lines):
        if not lines[i].startswith(">>> "):
            out.append(lines[i])
            i += 1
            continue
        end = i
        while end < len(lines) and lines[end].strip():
            end += 1
        if out and out[-1].strip():
            out.append("")
        out.extend(["```pycon", *lines[i:end], "```", ""])
        i = end
    return out


def _join_wrapped_names(lines):
    """Joins a grouped argument entry whose names wrap over several lines."""
    out, i = [], 0
    while i < len(lines):
        match = _WRAPPED_NAMES.match(lines[i])
        if match and i + 1 < len(lines):
            indent = match.group("indent")
            nxt = lines[i + 1]
            if nxt.startswith(indent) and not nxt.startswith(indent + " "):
                lines[i + 1] = f"{indent}{match.group('names')} {nxt.strip()}"
                i += 1
                continue
        out.append(lines[i])
        i += 1
    return out


def _documented_names(lines):
    """`(line index, name)` of every entry of the docstring's argument sections."""
    found, in_args, entry_indent = [], False, None
    for index, line in enumerate(lines):
        header = _HEADER.match(line)
        if header:
            in_args = header.group("title") in _ARGS_HEADERS
            entry_indent = None
            continue
        if not in_args or not line.strip():
            continue
        if not line.startswith(" "):
            in_args = False
            continue
        indent = len(line) - len(line.lstrip())
        if entry_indent is None:
            entry_indent = indent
        if indent != entry_indent:
            continue
        match = _ENTRY.match(line.strip())
        if match:
            for name in match.group("names").split(", "):
                found.append((index, name.lstrip("*")))
    return found


_LEADING_COMPARISON = re.compile(rf"^(?P<head> +{_NAME_LIST}(?: \([^)]*\))?: )(?P<op>[<>])")


def _escape_leading_comparisons(lines):
    """`epsilon: >= 0, ...` would start a markdown block quote: escape the `>`."""
    return [_LEADING_COMPARISON.sub(r"\g<head>\\\g<op>", line) for line in lines]


def keras_to_google(text):
    """The Google-style text griffe should parse for a Keras-style docstring."""
    lines = text.splitlines()
    lines = _join_wrapped_names(lines)
    lines = _escape_leading_comparisons(lines)
    lines = _indent_examples(lines)
    lines = _fence_doctests(lines)
    return "\n".join(lines)


def _signature_names(obj):
    try:
        parameters = obj.parameters
    except (AttributeError, ValueError):
        return None
    return {p.name for p in parameters}


def _runtime_docstring(obj):
    """The docstring Python itself holds for a class or function, or None.

    Some docstrings are completed at import time (the cyclical schedules share one
    formula paragraph, inserted into each); the source alone does not have it.
    """
    if obj.is_alias or not (obj.is_class or obj.is_function):
        return None
    try:
        target = importlib.import_module(obj.module.path)
        for part in obj.path[len(obj.module.path) + 1:].split("."):
            target = getattr(target, part)
    except Exception:  # not importable here: keep what the source says
        return None
    doc = vars(target).get("__doc__") if inspect.isclass(target) else target.__doc__
    return inspect.cleandoc(doc) if isinstance(doc, str) else None


class KerasDocstrings(griffe.Extension):
    """Rewrites every docstring from Keras style to Google style before parsing."""

    def on_object(self, *, obj, **kwargs):
        docstring = obj.docstring
        if docstring is None or obj.is_alias:
            return
        runtime = _runtime_docstring(obj)
        if runtime and runtime != docstring.value:
            docstring.value = runtime
        docstring.value = keras_to_google(docstring.value)
        if not (obj.is_class or obj.is_function):
            return
        known = _signature_names(obj)
        if not known:
            return
        for index, name in _documented_names(docstring.value.splitlines()):
            if name not in known:
                logger.warning(
                    "%s:%s: Parameter '%s' does not appear in the signature of %s",
                    obj.relative_package_filepath, (docstring.lineno or 0) + index, name,
                    obj.path,
                )
