"""The built site against the registry, the package, examples/ and the old README.

The names come from the registry and the package (never a list kept here), except
the headings of the README before it became a front page: that is the contract of
the move (every section it had must still be somewhere in the site).
"""

import html
import html.parser
import importlib
import inspect
import json
import pathlib
import re

import pytest

from keras_lossopt import registry
from tests.docs.conftest import ROOT, docs_hooks


class _Page(html.parser.HTMLParser):
    """Ids, heading texts, image sources and link targets of one HTML page."""

    def __init__(self, text):
        super().__init__()
        self.ids, self.headings, self.images, self.links = set(), [], [], []
        self._heading = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if re.fullmatch(r"h[1-6]", tag):
            self._heading = []
        elif tag == "img":
            self.images.append(attrs.get("src", ""))
        elif tag == "a" and "href" in attrs:
            self.links.append(attrs["href"])

    def handle_data(self, data):
        if self._heading is not None:
            self._heading.append(data)

    def handle_endtag(self, tag):
        if re.fullmatch(r"h[1-6]", tag) and self._heading is not None:
            text = "".join(self._heading).replace("¶", "")
            self.headings.append(" ".join(text.split()))
            self._heading = None


def _page(site, uri):
    path = site / uri / "index.html" if not uri.endswith(".html") else site / uri
    assert path.exists(), f"{path.relative_to(site)} is not in the built site"
    return _Page(path.read_text())


def _page_dir(md_uri):
    return md_uri[: -len(".md")].removesuffix("index")


def test_every_registered_name_has_an_anchor_on_its_family_page(site):
    hooks = docs_hooks()
    missing = []
    for kind in registry.KINDS:
        entries = registry.entries(kind)
        if not entries:
            continue
        page = _page(site, _page_dir(hooks.kind_page(kind)))
        for entry in entries:
            missing += [f"{kind} {name!r}" for name in entry.names if name not in page.ids]
    assert not missing, f"registered names without an anchor in the site: {missing}"


def test_every_class_of_ours_has_its_docstring_rendered(site):
    hooks = docs_hooks()
    problems = []
    for kind in registry.KINDS:
        entries = [e for e in registry.entries(kind) if not e.builtin]
        if not entries:
            continue
        text = (site / _page_dir(hooks.kind_page(kind)) / "index.html").read_text()
        plain = html.unescape(" ".join(re.sub(r"<[^>]+>", " ", text).split()))
        for entry in entries:
            doc = inspect.getdoc(entry.cls)
            summary = "".join(doc.split("\n\n")[0].split()).replace("`", "")
            if summary not in "".join(plain.split()):
                problems.append(f"{entry.cls.__name__}: summary not rendered")
        assert "<blockquote" not in text, f"{kind}: a docstring line rendered as a block quote"
        # A doctest is rendered as highlighted console code, not as text.
        assert text.count('class="language-pycon') + text.count('class="highlight') > 0
    assert not problems, problems


def test_module_pages_document_every_public_name(site):
    hooks = docs_hooks()
    missing = []
    for title, page_uri, candidates in hooks.MODULE_PAGES:
        module_name = next((m for m in candidates if hooks._exists(m)), None)
        if module_name is None:
            continue
        module = importlib.import_module(module_name)
        page = _page(site, _page_dir(page_uri))
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if name.startswith("_") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if not (inspect.getdoc(obj) or "").strip():
                continue
            if not any(i.endswith(f".{name}") or i == name for i in page.ids):
                missing.append(f"{title}: {module_name}.{name}")
    assert not missing, f"public names missing from their API page: {missing}"


def test_api_nav_lists_every_family(site):
    hooks = docs_hooks()
    index = _page(site, "api/")
    for kind in registry.KINDS:
        if registry.entries(kind):
            target = _page_dir(hooks.kind_page(kind))[len("api/"):]
            assert any(link.rstrip("/").endswith(target.rstrip("/")) for link in index.links), kind


def test_gallery_has_every_example_with_its_figures_and_output(site):
    hooks = docs_hooks()
    scripts = hooks.example_scripts()
    assert scripts, "examples/ has no scripts"
    gallery_index = _page(site, "gallery/")
    for script in scripts:
        page = _page(site, f"gallery/{script.stem}/")
        figures = hooks.gallery_figures(script.stem)
        assert figures, f"examples/{script.name} has no saved figures: run `make gallery`"
        for name in figures:
            page_dir = site / "gallery" / script.stem
            shown = {(page_dir / src).resolve() for src in page.images}
            assert (page_dir / name).resolve() in shown, f"{script.name}: {name} not shown"
            assert (site / "gallery" / script.stem / name).stat().st_size > 1000
        assert any(link.rstrip("/").endswith(script.stem) for link in gallery_index.links)
        text = (site / "gallery" / script.stem / "index.html").read_text()
        first_code_line = next(line for line in script.read_text().splitlines()
                               if line.startswith("import "))
        assert first_code_line.split()[1] in text, f"{script.name}: source not included"
        output = (ROOT / "docs" / "gallery" / script.stem / "output.txt").read_text()
        last = output.strip().splitlines()[-1]
        assert html.escape(last.strip(), quote=False)[:40] in text, \
            f"{script.name}: printed output not included"


def test_search_index_covers_the_api(site):
    index = json.loads((site / "search" / "search_index.json").read_text())
    text = " ".join(doc.get("title", "") + " " + doc.get("text", "") for doc in index["docs"])
    for kind in registry.KINDS:
        for entry in registry.entries(kind):
            assert entry.cls.__name__ in text, f"{entry.cls.__name__} is not in the search index"


# The README's sections before it became a short front page. Each must
# still be a heading of some page of the site.
OLD_README_HEADINGS = (
    "keras_lossopt",
    "The two commands",
    "The lab: keras-lossopt lab (the main job)",
    "Your own data and the other commands",
    "String names",
    "The seed catalogue",
    "Migrating from TensorFlow Addons",
    "Optimizers",
    "Losses",
    "Beyond TensorFlow Addons",
    "The training doctor",
    "How it is checked",
    "Speed",
    "Compatibility",
    "Examples",
    "Contributing",
)


# Every TensorFlow Addons class the old README's migration tables named.
OLD_README_TFA_NAMES = (
    "tfa.losses.ContrastiveLoss",
    "tfa.losses.GIoULoss",
    "tfa.losses.LiftedStructLoss",
    "tfa.losses.NpairsLoss",
    "tfa.losses.NpairsMultilabelLoss",
    "tfa.losses.PinballLoss",
    "tfa.losses.SigmoidFocalCrossEntropy",
    "tfa.losses.SparsemaxLoss",
    "tfa.losses.TripletHardLoss",
    "tfa.losses.TripletSemiHardLoss",
    "tfa.losses.WeightedKappaLoss",
    "tfa.losses.X",
    "tfa.optimizers.AdaBelief",
    "tfa.optimizers.COCOB",
    "tfa.optimizers.ConditionalGradient",
    "tfa.optimizers.CyclicalLearningRate",
    "tfa.optimizers.ExponentialCyclicalLearningRate",
    "tfa.optimizers.LazyAdam",
    "tfa.optimizers.Lookahead",
    "tfa.optimizers.NovoGrad",
    "tfa.optimizers.RectifiedAdam",
    "tfa.optimizers.SWA",
    "tfa.optimizers.Triangular2CyclicalLearningRate",
    "tfa.optimizers.TriangularCyclicalLearningRate",
    "tfa.optimizers.X",
    "tfa.optimizers.Yogi",
)


def test_every_tensorflow_addons_class_of_the_old_readme_is_in_the_migration_guide(site):
    text = (site / "guides" / "migrating-from-tfa" / "index.html").read_text()
    missing = [name for name in OLD_README_TFA_NAMES if name not in text]
    assert not missing, f"TensorFlow Addons classes missing from the migration guide: {missing}"


def _all_headings(site):
    headings = set()
    for path in site.rglob("*.html"):
        headings.update(_Page(path.read_text()).headings)
    return headings


def test_every_section_of_the_old_readme_is_a_heading_in_the_site(site):
    headings = {h.replace("`", "") for h in _all_headings(site)}
    missing = [h for h in OLD_README_HEADINGS if h not in headings
               and not any(h in other for other in headings)]
    assert not missing, f"README sections missing from the site: {missing}"


def test_readme_links_point_at_files_that_exist():
    readme = (ROOT / "README.md").read_text()
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme):
        if re.match(r"^[a-z]+:", target):
            continue
        assert (ROOT / target).exists(), f"README links to a missing file: {target}"


def test_docs_pages_link_only_to_files_or_pages_that_exist():
    # mkdocs --strict checks the site's links; this checks the guides' sources so a
    # link to a file outside docs/ (which the site cannot serve) is caught too.
    for page in (ROOT / "docs").rglob("*.md"):
        if "hooks" in page.parts:
            continue
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if re.match(r"^[a-z]+:", target):
                continue
            resolved = (page.parent / target).resolve()
            generated = resolved.relative_to(ROOT / "docs").as_posix() if \
                resolved.is_relative_to(ROOT / "docs") else None
            assert resolved.exists() or generated and (
                generated.startswith(("api/", "gallery/"))), f"{page.name}: broken link {target}"


@pytest.mark.parametrize("page", ["", "api/", "gallery/", "guides/loss-curves/"])
def test_pages_have_title_and_navigation(site, page):
    text = (site / page / "index.html").read_text()
    assert re.search(r"<title>[^<]*keras_lossopt[^<]*</title>", text)
    for section in ("Guides", "Gallery", "API reference"):
        assert section in text, f"{page or 'index'}: navigation lacks {section!r}"
    parsed = _Page(text)
    for src in parsed.images:
        if not src.startswith(("http:", "https:", "data:")):
            assert (site / page / src).resolve().exists(), f"{page}: missing image {src}"


def test_guides_show_generated_content(site):
    from keras_lossopt.doctor import guide_table

    choosing = (site / "guides" / "choosing-a-loss" / "index.html").read_text()
    first_row = guide_table().splitlines()[1].split()
    assert all(word in choosing for word in first_row)
    curves = (site / "guides" / "loss-curves" / "index.html").read_text()
    assert curves.count("Training doctor: ") >= 6
    performance = (site / "guides" / "performance" / "index.html").read_text()
    for path in (ROOT / "benchmarks" / "results").glob("*.md"):
        first_line = path.read_text().splitlines()[0].lstrip("# ").strip()
        assert html.escape(first_line, quote=False) in performance, path.name


def test_lab_results_and_conformance_pages_are_in_the_site(site):
    assert (site / "conformance" / "index.html").exists()
    assert (site / "lab" / "results" / "index.html").exists()
    for image in pathlib.Path(ROOT / "docs" / "lab").glob("*.png"):
        assert (site / "lab" / image.name).exists()


def test_no_page_shows_a_rendering_mistake(site):
    # The build warns on these (strict mode fails); a site built elsewhere is checked too.
    hooks = docs_hooks()
    found = []
    for path in site.rglob("*.html"):
        text = path.read_text()
        found += [f"{path.relative_to(site)}: {what}" for pattern, what in hooks._SILENT_FAILURES
                  if pattern.search(text)]
    assert not found, found
