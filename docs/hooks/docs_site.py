"""MkDocs hooks: the API reference and the gallery, generated at build time.

Nothing here keeps a list of names. The API pages are written from the registry
(`keras_lossopt.registry.entries(kind)`: string names, aliases, the task metadata of
losses, the class and the module it is defined in) and from the package's public
modules; mkdocstrings renders every docstring (update rule, arguments, example,
references). The gallery pages are written from `examples/*.py` and the figures and
output that `make gallery` saved for each under `docs/gallery/<example>/`.

A registered class, a new public module or a new example appears in the site by
existing; the tests in `tests/docs/` check the built site against the registry.
"""

import hashlib
import html
import importlib
import importlib.util
import inspect
import json
import logging
import pathlib
import re

from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.plugins.keras_lossopt")

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
GALLERY = ROOT / "docs" / "gallery"

KIND_TITLES = {"loss": "Losses", "optimizer": "Optimizers", "schedule": "Learning-rate schedules"}
KERAS_API = {
    "loss": ("keras.losses", "https://keras.io/api/losses/"),
    "optimizer": ("keras.optimizers", "https://keras.io/api/optimizers/"),
    "schedule": ("keras.optimizers.schedules",
                 "https://keras.io/api/optimizers/learning_rate_schedules/"),
}
# Module pages: (title, page, candidate modules: the first one that exists is documented).
MODULE_PAGES = (
    ("Training doctor", "api/doctor.md", ("keras_lossopt.doctor",)),
    ("Callbacks", "api/callbacks.md", ("keras_lossopt.callbacks",)),
    ("Loss shapes", "api/plotting.md", ("keras_lossopt.plotting",)),
    ("Models and wrappers", "api/models.md", ("keras_lossopt.models",)),
    ("Registry and getters", "api/registry.md", ("keras_lossopt.registry",)),
    ("Testing your own classes", "api/testing.md", ("keras_lossopt.testing",)),
)
API_NAV_TITLE = "API reference"
GALLERY_NAV_TITLE = "Gallery"


def kind_page(kind):
    return f"api/{'losses' if kind == 'loss' else kind + 's'}.md"


def _registry():
    import keras_lossopt  # noqa: F401  (registers everything)
    from keras_lossopt import registry

    return registry


def _exists(module):
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _summary(obj):
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _md_cell(text):
    return text.replace("|", "\\|")


# --- API pages from the registry ------------------------------------------------------

def entry_anchors(entry):
    """The HTML ids of one entry: its canonical name first, then its other names."""
    seen, anchors = set(), []
    for name in entry.names:
        if name not in seen:
            seen.add(name)
            anchors.append(name)
    return anchors


def _public_path(entry):
    """`keras_lossopt.losses.PseudoHuber` for ours, `keras.losses.Huber` for Keras's."""
    if entry.builtin:
        module, _ = KERAS_API.get(entry.kind, ("keras", ""))
        return f"{module}.{entry.cls.__name__}"
    plural = kind_page(entry.kind)[4:-3]
    return f"keras_lossopt.{plural}.{entry.cls.__name__}"


def _metadata_line(entry):
    parts = ["names: " + ", ".join(f'`"{n}"`' for n in entry_anchors(entry))]
    tasks = getattr(entry, "tasks", ())
    if tasks:
        parts.append("task: " + ", ".join(t.replace("_", " ") for t in tasks))
    labels = getattr(entry, "labels", None)
    if labels:
        parts.append(f"labels: {labels.replace('_', '-')}")
    config = getattr(entry, "config", None)
    if config:  # what the string names promise (registry.register's `config`)
        parts.append("the names give " + ", ".join(f"`{k}={v!r}`" for k, v in config.items()))
    parts.append(f"class: `{_public_path(entry)}`")
    return " · ".join(parts)


def _entry_markdown(entry, level):
    canonical, *others = entry_anchors(entry)
    hashes = "#" * level
    label = entry.cls.__name__
    lines = [f'{hashes} {label} {{ #{canonical} data-toc-label="{label}" }}', ""]
    if others:
        lines += ["".join(f'<a id="{html.escape(n)}"></a>' for n in others), ""]
    lines += [_metadata_line(entry), ""]
    if entry.builtin:
        _, url = KERAS_API.get(entry.kind, ("keras", "https://keras.io/api/"))
        lines += [
            f"Keras's own class, re-exported under the names above (not copied): "
            f"{_summary(entry.cls)} See [its documentation in the Keras API reference]({url}).",
            "",
        ]
    else:
        lines += [
            f"::: {entry.cls.__module__}.{entry.cls.__qualname__}",
            "    options:",
            "      show_root_heading: false",
            "      show_root_toc_entry: false",
            f"      heading_level: {level}",
            "",
        ]
    return lines


def _module_functions(module_name):
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", ())
    return [n for n in names if inspect.isfunction(getattr(module, n, None))
            and getattr(module, n).__module__ == module_name]


def registry_page(kind):
    """The markdown of one registry family's page (losses, optimizers, schedules)."""
    registry = _registry()
    entries = registry.entries(kind)
    ours = [e for e in entries if not e.builtin]
    builtin = [e for e in entries if e.builtin]
    title = KIND_TITLES.get(kind, kind.replace("_", " ").title() + "s")
    lister = registry._LISTERS.get(kind, "")
    lines = [
        f"# {title}",
        "",
        f"Every {kind} registered in `keras_lossopt.registry`: {len(ours)} of keras_lossopt's "
        f"own and {len(builtin)} of Keras's, which resolve to Keras's classes. Each string "
        "name works in `model.compile`, in Keras's getters and in "
        f"`keras_lossopt.{kind_page(kind)[4:-3]}.get`"
        + (f"; `keras_lossopt.{lister}(pattern)` lists them." if lister else "."),
        "",
        "| class | string names | " + ("task | " if kind == "loss" else "") + "from |",
        "|---|---|" + ("---|" if kind == "loss" else "") + "---|",
    ]
    for e in entries:
        anchors = entry_anchors(e)
        row = f"| [`{e.cls.__name__}`](#{anchors[0]}) | " + ", ".join(f"`{n}`" for n in anchors)
        if kind == "loss":
            row += " | " + _md_cell(", ".join(getattr(e, "tasks", ()) or ("-",)))
        row += " | " + ("Keras" if e.builtin else "keras_lossopt") + " |"
        lines.append(row)
    lines.append("")

    by_module = {}
    for e in ours:
        by_module.setdefault(e.cls.__module__, []).append(e)
    grouped = any(len(v) > 1 for v in by_module.values())
    if grouped:
        for module_name in sorted(by_module):
            module = importlib.import_module(module_name)
            lines += [f"## {_summary(module).rstrip('.')}", "",
                      f"`{module_name}`", "",
                      f"::: {module_name}",
                      "    options:",
                      "      show_root_heading: false",
                      "      show_root_toc_entry: false",
                      "      members: false",
                      ""]
            for e in sorted(by_module[module_name], key=lambda e: e.cls.__name__):
                lines += _entry_markdown(e, 3)
            functions = _module_functions(module_name)
            if functions:
                lines += ["### Functional forms", ""]
                for fn in functions:
                    lines += [f"::: {module_name}.{fn}",
                              "    options:",
                              "      show_root_heading: true",
                              "      heading_level: 4",
                              ""]
    else:
        lines += [f"## keras_lossopt's {title.lower()}", ""]
        for e in sorted(ours, key=lambda e: e.cls.__name__.lower()):
            lines += _entry_markdown(e, 3)
    if builtin:
        lines += [f"## Keras's own {title.lower()}", "",
                  "These names resolve to Keras's classes; keras_lossopt only enters them in "
                  "its catalogue (and teaches Keras the aliases it lacks).", ""]
        for e in sorted(builtin, key=lambda e: e.cls.__name__.lower()):
            lines += _entry_markdown(e, 3)
    return "\n".join(lines) + "\n"


def _wrapper_entries():
    try:
        from keras_lossopt.optimizers._wrapper import OptimizerWrapper
    except ImportError:
        return []
    return [e for e in _registry().entries("optimizer") if issubclass(e.cls, OptimizerWrapper)]


def module_page(title, module_name, page):
    """A page for one public module: its docstring and every name of its `__all__`."""
    module = importlib.import_module(module_name)
    names = [n for n in getattr(module, "__all__", ()) if not n.startswith("_")]
    # Classes and functions are rendered from where they are defined (a re-exported
    # `recommend` would otherwise be read as the submodule of the same name); other
    # public names (constants) with the module.
    defined = [n for n in names if inspect.isclass(getattr(module, n))
               or inspect.isfunction(getattr(module, n))]
    constants = [n for n in names if n not in defined]
    lines = [f"# {title}", "", f"`{module_name}`", "",
             f"::: {module_name}",
             "    options:",
             "      show_root_heading: false",
             "      show_root_toc_entry: false",
             "      heading_level: 2",
             "      members: [" + ", ".join(constants) + "]" if constants else
             "      members: false",
             ""]
    for name in defined:
        obj = getattr(module, name)
        lines += [f"::: {obj.__module__}.{obj.__qualname__}",
                  "    options:",
                  "      show_root_heading: true",
                  "      heading_level: 2",
                  ""]
    if page == "api/models.md":
        wrappers = _wrapper_entries()
        if wrappers:
            lines += ["## Optimizer wrappers", "",
                      "Registered optimizers that wrap another optimizer are documented with "
                      "the optimizers: " + ", ".join(
                          f"[`{e.cls.__name__}`](optimizers.md#{e.name})" for e in wrappers) + ".",
                      ""]
    if page == "api/registry.md":
        lines += ["## Getters", ""]
        registry = _registry()
        for kind in registry.KINDS:
            package = f"keras_lossopt.{kind_page(kind)[4:-3]}"
            lines += [f"::: {package}.get",
                      "    options:",
                      "      show_root_heading: true",
                      "      show_root_full_path: true",
                      "      heading_level: 3",
                      ""]
            lister = registry._LISTERS.get(kind)
            if lister and hasattr(importlib.import_module(package), lister):
                lines += [f"::: {package}.{lister}",
                          "    options:",
                          "      show_root_heading: true",
                          "      show_root_full_path: true",
                          "      heading_level: 3",
                          ""]
    return "\n".join(lines) + "\n"


def api_index(pages):
    lines = ["# API reference", "",
             "Generated from the registry and the docstrings at every build: a class that is "
             "registered is documented here with its string names.", ""]
    for title, page in pages:
        lines.append(f"- [{title}]({page[4:]})")
    return "\n".join(lines) + "\n"


def api_pages():
    """`[(title, src_uri, markdown)]` of every API page."""
    registry = _registry()
    pages = []
    for kind in registry.KINDS:
        if registry.entries(kind):
            pages.append((KIND_TITLES.get(kind, kind.title()), kind_page(kind),
                          registry_page(kind)))
    for title, page, candidates in MODULE_PAGES:
        module = next((m for m in candidates if _exists(m)), None)
        if module is not None:
            pages.append((title, page, module_page(title, module, page)))
    index = ("Overview", "api/index.md", api_index([(t, p) for t, p, _ in pages]))
    return [index, *pages]


# --- The gallery from examples/ -----------------------------------------------------

def example_scripts():
    return sorted(p for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))


def source_hash(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _docstring_parts(path):
    import ast

    doc = ast.get_docstring(ast.parse(path.read_text())) or path.stem
    title, _, body = doc.partition("\n")
    return title.strip().rstrip("."), inspect.cleandoc(body)


def gallery_figures(stem):
    """The saved figures of one example, in the order the script drew them."""
    saved = {p.name for p in (GALLERY / stem).glob("*.png")}
    meta_path = GALLERY / stem / "meta.json"
    order = json.loads(meta_path.read_text()).get("figures", []) if meta_path.exists() else []
    return [n for n in order if n in saved] + sorted(saved - set(order))


def gallery_page(path):
    stem = path.stem
    title, body = _docstring_parts(path)
    out_dir = GALLERY / stem
    meta_path = out_dir / "meta.json"
    lines = [f"# {title}", "", f"`examples/{path.name}` · run it with "
             f"`python examples/{path.name}`", "", body, ""]
    if not meta_path.exists():
        log.warning("Gallery: examples/%s has no saved output in docs/gallery/%s/; "
                    "run `make gallery`.", path.name, stem)
    else:
        meta = json.loads(meta_path.read_text())
        if meta.get("source_sha256") != source_hash(path):
            log.info("Gallery: examples/%s changed since its figures were made.", path.name)
            lines += ['!!! note "Made from an earlier version of this script"',
                      f"    The figures and output below come from a run of an earlier "
                      f"version of `examples/{path.name}`; `make gallery` remakes them.", ""]
        lines += ["## Figures", ""]
        for name in gallery_figures(stem):
            caption = name[:-4].replace("_", " ")
            lines += [f"![{caption}]({stem}/{name})", ""]
        lines += ["## Output", "",
                  f"Printed by `{meta.get('command', 'python examples/' + path.name)}` "
                  f"({meta.get('seconds', '?')} s on {meta.get('machine', 'the docs machine')}, "
                  f"Keras {meta.get('keras', '?')}, backend {meta.get('backend', '?')}):", "",
                  "```text", f'--8<-- "docs/gallery/{stem}/output.txt"', "```", ""]
    lines += ["## Source", "", f'```python title="examples/{path.name}"',
              f'--8<-- "examples/{path.name}"', "```", ""]
    return "\n".join(lines)


def gallery_index(scripts):
    lines = ["# Gallery", "",
             "Runnable scripts from `examples/`, with the figures and output they produce "
             "(saved by `make gallery`, which runs each one).", "",
             '<div class="grid cards" markdown>', ""]
    for path in scripts:
        title, body = _docstring_parts(path)
        figures = gallery_figures(path.stem)
        lines.append(f"-   **[{title}]({path.stem}.md)**")
        lines.append("")
        if figures:
            lines.append(f"    [![{title}]({path.stem}/{figures[0]})]({path.stem}.md)")
            lines.append("")
        first_paragraph = body.split("\n\n")[0].replace("\n", " ") if body else ""
        if first_paragraph and not first_paragraph.startswith("python "):
            lines.append(f"    {first_paragraph}")
            lines.append("")
    lines += ["</div>", ""]
    return "\n".join(lines)


def gallery_pages():
    scripts = example_scripts()
    pages = [("Overview", "gallery/index.md", gallery_index(scripts))]
    for path in scripts:
        nav_title = path.stem.replace("_", " ").capitalize()
        pages.append((nav_title, f"gallery/{path.stem}.md", gallery_page(path)))
    return pages


# --- Content generated into guides ------------------------------------------------
#
# A guide writes `<!-- generated: NAME ARGS -->` where it shows something the code or a
# committed file already holds (the loss guide's table, a doctor report of the gallery
# run, the benchmark tables); the hook puts it there at build time, so it is never
# copied by hand.

_GENERATED = re.compile(r"^<!-- generated: (?P<name>\w+)(?P<args>[^>]*?) -->$", re.M)


def _relative(page_uri, target_uri):
    depth = page_uri.count("/")
    return "../" * depth + target_uri


def _gen_guide_table(page, args):
    from keras_lossopt.doctor import guide_table

    return "```text\n" + guide_table() + "\n```"


def _gen_recommend_multiclass(page, args):
    import keras_lossopt

    rec = keras_lossopt.recommend("multiclass", labels="integers", num_classes=10,
                                  from_logits=True)
    return "```text\n" + str(rec) + "\n```"


def _gen_losses_by_task(page, args):
    registry = _registry()
    by_task = {}
    for entry in registry.entries("loss"):
        for task in getattr(entry, "tasks", ()) or ("(no task registered)",):
            by_task.setdefault(task, []).append(entry)
    descriptions = getattr(registry, "LOSS_TASKS", {})
    link = _relative(page.file.src_uri, "api/losses.md")
    lines = ["| task | losses (string names) |", "|---|---|"]
    for task in sorted(by_task, key=lambda t: (t.startswith("("), t)):
        title = task.replace("_", " ")
        if task in descriptions:
            title += f": {_md_cell(descriptions[task])}"
        names = ", ".join(f"[`{e.name}`]({link}#{e.name})" for e in by_task[task])
        lines.append(f"| {title} | {names} |")
    return "\n".join(lines)


def _gen_doctor_report(page, args):
    name = args.strip()
    path = GALLERY / "doctor_verdicts" / "output.txt"
    if not path.exists():
        log.warning("%s: no %s; run `make gallery`.", page.file.src_uri, path.relative_to(ROOT))
        return ""
    blocks = re.split(r"^--- ", path.read_text(), flags=re.M)
    for block in blocks:
        if block.startswith(f"{name}:"):
            report = block.split("\n", 1)[1].strip()
            return "```text\n" + report + "\n```"
    log.warning("%s: the gallery output has no run named %r.", page.file.src_uri, name)
    return ""


def _shift_headings(text, shift):
    out, fence = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        if not fence and re.match(r"^#{1,6} ", line):
            line = "#" * shift + line
        out.append(line)
    return "\n".join(out)


def _benchmark_anchor(stem):
    return "benchmark-" + stem.replace("_", "-")


def _rewrite_benchmark_links(text):
    """Links into benchmarks/results/ become links to their section of this page."""
    return re.sub(r"\]\((?:benchmarks/)?results/(\w+)\.md\)",
                  lambda m: f"](#{_benchmark_anchor(m.group(1))})", text)


def _gen_benchmark_findings(page, args):
    """benchmarks/README.md from its "## Method" heading up to its committed tables."""
    text = (ROOT / "benchmarks" / "README.md").read_text()
    start = text.find("\n## Method")
    end = text.find("\n## Results of the committed run")
    if start < 0:
        log.warning("benchmarks/README.md has no '## Method' section to include.")
        return ""
    body = text[start:end if end > start else len(text)].strip()
    return _rewrite_benchmark_links(body)


def _gen_benchmark_results(page, args):
    """Every committed results table, benchmarks/results/*.md, as one section each."""
    lines = []
    for path in sorted((ROOT / "benchmarks" / "results").glob("*.md")):
        text = path.read_text().strip()
        title, _, body = text.partition("\n")
        title = title.lstrip("# ").strip() or path.stem
        lines += [f"### {title} {{ #{_benchmark_anchor(path.stem)} }}", "",
                  f"`benchmarks/results/{path.name}`", "",
                  _rewrite_benchmark_links(_shift_headings(body.strip(), 2)), ""]
    return "\n".join(lines)


GENERATORS = {
    "guide_table": _gen_guide_table,
    "recommend_multiclass": _gen_recommend_multiclass,
    "losses_by_task": _gen_losses_by_task,
    "doctor_report": _gen_doctor_report,
    "benchmark_findings": _gen_benchmark_findings,
    "benchmark_results": _gen_benchmark_results,
}


def on_page_markdown(markdown, page, config, files):
    def replace(match):
        generator = GENERATORS.get(match.group("name"))
        if generator is None:
            log.warning("%s: unknown generated block %r", page.file.src_uri, match.group("name"))
            return match.group(0)
        return generator(page, match.group("args"))

    return _GENERATED.sub(replace, markdown)


# --- MkDocs events ------------------------------------------------------------------

_PAGES = {}


def _replace_nav_section(nav, title, entries):
    for item in nav:
        if isinstance(item, dict) and title in item:
            item[title] = entries
            return
    nav.append({title: entries})


def on_config(config):
    _PAGES.clear()
    api = api_pages()
    gallery = gallery_pages()
    for _, uri, content in [*api, *gallery]:
        _PAGES[uri] = content
    if config.nav is not None:
        _replace_nav_section(config.nav, API_NAV_TITLE, [{t: uri} for t, uri, _ in api])
        _replace_nav_section(config.nav, GALLERY_NAV_TITLE, [{t: uri} for t, uri, _ in gallery])
    return config


def on_files(files, config):
    for uri, content in _PAGES.items():
        files.append(File.generated(config, uri, content=content))
    return files


# Rendering mistakes that produce no warning of their own: a doctest (`>>>`) or an
# argument described as `> 0` that became a block quote (no page of ours quotes),
# or a docstring section header that stayed plain text.
_SILENT_FAILURES = (
    (re.compile(r"<blockquote>"), "a block quote (a `>` at the start of a docstring line?)"),
    (re.compile(r"<p>&gt;&gt;&gt;"), "a doctest rendered as a paragraph"),
    (re.compile(r"(?:<p>|\n)(?:Args|Arguments|Returns|Raises|References|Example|Examples):"
                r"\s*(?:</p>|\n)"),
     "a docstring section header rendered as text"),
)


def on_page_content(html_text, page, config, files):
    for pattern, what in _SILENT_FAILURES:
        match = pattern.search(html_text)
        if match:
            context = re.sub(r"<[^>]+>", "", html_text[match.start(): match.start() + 300])
            log.warning("%s: %s near: %s", page.file.src_uri, what, " ".join(context.split())[:120])
    return html_text
