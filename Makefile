# Two commands do all the set-up on a fresh machine with only Python 3.10+:
#   make demo   the main job, `keras-lossopt lab` (creates .venv when missing)
#   make test   every check CI runs (creates .venv when missing)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
# The CPU build of PyTorch that this workplace keeps on disk; override elsewhere,
# e.g. `make test TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cpu"`.
TORCH_SPEC ?= torch==2.13.0
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: demo test test-fast lint docs gallery clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.demo-installed: setup.cfg pyproject.toml | $(PY)
	$(PIP) install -q -e ".[tensorflow,lab]"
	touch $@

$(VENV)/.test-installed: setup.cfg pyproject.toml | $(PY)
	$(PIP) install -q $(TORCH_SPEC)
	$(PIP) install -q -e ".[tensorflow,jax,torch,lab,dev,docs]"
	touch $@ $(VENV)/.demo-installed $(VENV)/.docs-installed

$(VENV)/.docs-installed: setup.cfg pyproject.toml | $(PY)
	$(PIP) install -q -e ".[tensorflow,lab,docs]"
	touch $@

demo: $(VENV)/.demo-installed
	$(VENV)/bin/keras-lossopt lab

# One lint target; `make test` runs it first.
LINT_PATHS := keras_lossopt tests examples benchmarks docs/hooks

lint: $(VENV)/.test-installed
	$(PY) -m ruff check $(LINT_PATHS)

# The documentation site, built into site/ (ignored) in strict mode: a broken link, a
# missing page, a docstring that does not parse or renders wrongly fails the build.
# MkDocs (mkdocs-material + mkdocstrings-python), not Sphinx (furo + sphinx-gallery):
# our docstrings are Keras-style Markdown (backticks, ```python fences, "Args:",
# "Example:", "References:"), which mkdocstrings' Google parser renders as Markdown,
# while Sphinx/napoleon would read them as reStructuredText (single backticks, no
# fences) and need every docstring rewritten; the guides, docs/conformance.md and
# benchmarks/*.md are Markdown too and are included as they are. The API pages are
# generated from the registry at build time (docs/hooks/docs_site.py); the gallery
# reads the figures that `make gallery` saved, because the examples train for minutes
# (sphinx-gallery would rerun them at every build).
docs: $(VENV)/.docs-installed
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --quiet --site-dir site

# Reruns every examples/*.py and saves its figures and output under docs/gallery/
# (commit them); `make gallery EXAMPLES="losses_tour"` for some.
gallery: $(VENV)/.docs-installed
	$(PY) docs/hooks/gallery.py $(EXAMPLES)

# Each backend's conformance results land here; the last step compares them.
CONFORMANCE_DIR ?= build/conformance

test: lint
	$(MAKE) --no-print-directory docs
	rm -rf $(CONFORMANCE_DIR)
	KERAS_BACKEND=tensorflow KERAS_LOSSOPT_CONFORMANCE_DIR=$(CONFORMANCE_DIR) KERAS_LOSSOPT_DOCS_SITE=site $(PY) -m pytest -q -n 2 --durations=15
	KERAS_BACKEND=jax KERAS_LOSSOPT_CONFORMANCE_DIR=$(CONFORMANCE_DIR) $(PY) -m pytest -q -n 2 --durations=10 -m multibackend tests
	KERAS_BACKEND=torch KERAS_LOSSOPT_CONFORMANCE_DIR=$(CONFORMANCE_DIR) $(PY) -m pytest -q -n 2 --durations=10 -m multibackend tests
	$(PY) -m tests.conformance --from-results $(CONFORMANCE_DIR) --output $(CONFORMANCE_DIR)/conformance.md

test-fast: $(VENV)/.test-installed
	KERAS_BACKEND=tensorflow $(PY) -m pytest -q -n 2 -m "not slow"

clean:
	rm -rf $(VENV) build site *.egg-info
