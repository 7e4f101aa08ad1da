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
export PYTHONWARNINGS ?= ignore::DeprecationWarning

.PHONY: demo test test-fast lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.demo-installed: setup.cfg pyproject.toml | $(PY)
	$(PIP) install -q -e ".[tensorflow,lab]"
	touch $@

$(VENV)/.test-installed: setup.cfg pyproject.toml | $(PY)
	$(PIP) install -q $(TORCH_SPEC)
	$(PIP) install -q -e ".[tensorflow,jax,torch,lab,dev]"
	touch $@ $(VENV)/.demo-installed

demo: $(VENV)/.demo-installed
	$(VENV)/bin/keras-lossopt lab

# One lint target; `make test` runs it first.
LINT_PATHS := keras_lossopt tests examples benchmarks

lint: $(VENV)/.test-installed
	$(PY) -m ruff check $(LINT_PATHS)

# Each backend's conformance results land here; the last step compares them.
CONFORMANCE_DIR ?= build/conformance

test: lint
	rm -rf $(CONFORMANCE_DIR)
	KERAS_BACKEND=tensorflow KERAS_LOSSOPT_CONFORMANCE_DIR=$(CONFORMANCE_DIR) $(PY) -m pytest -q -n 2 --durations=15
	KERAS_BACKEND=jax KERAS_LOSSOPT_CONFORMANCE_DIR=$(CONFORMANCE_DIR) $(PY) -m pytest -q -n 2 -m multibackend tests
	KERAS_BACKEND=torch KERAS_LOSSOPT_CONFORMANCE_DIR=$(CONFORMANCE_DIR) $(PY) -m pytest -q -n 2 -m multibackend tests
	$(PY) -m keras_lossopt.conformance --from-results $(CONFORMANCE_DIR) --output $(CONFORMANCE_DIR)/conformance.md

test-fast: $(VENV)/.test-installed
	KERAS_BACKEND=tensorflow $(PY) -m pytest -q -n 2 -m "not slow"

clean:
	rm -rf $(VENV) build *.egg-info
