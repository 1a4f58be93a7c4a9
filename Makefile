# Set-up and the main jobs. `make demo` and `make test` are the README's first two commands.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
INSTALLED := $(VENV)/.installed
DEV_INSTALLED := $(VENV)/.dev-installed
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install install-dev demo test test-slow lint bench clean

install: $(INSTALLED)

# torch first and pinned (a CPU wheel here, the CUDA build on a GPU machine); then the project,
# every version pinned by constraints.txt. Re-runs only when these files change.
$(INSTALLED): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q "torch==2.13.0"
	$(PIP) install -q -c constraints.txt -e .
	touch $@

install-dev: $(DEV_INSTALLED)

$(DEV_INSTALLED): $(INSTALLED)
	$(PIP) install -q -c constraints.txt -e ".[dev]"
	touch $@

demo: install
	$(VENV)/bin/emollm demo

# PYTEST_ARGS narrows or bounds a run (`make test-slow PYTEST_ARGS="-k zero3"`, .ci/run's
# --session-timeout). A narrowed selection can be empty: pytest then exits 5 ("no tests
# collected"), which is reported and not a failure; any other non-zero code fails the target.
PYTEST_ARGS ?=
define pytest_selection
	$(PY) -m pytest -m "$(1)" $(PYTEST_ARGS); code=$$?; \
	if [ $$code -eq 5 ]; then echo "pytest: no test selected by -m '$(1)' $(PYTEST_ARGS)"; exit 0; fi; exit $$code
endef

test: install-dev
	$(call pytest_selection,not slow)

test-slow: install-dev
	$(call pytest_selection,slow)

lint: install-dev
	$(VENV)/bin/ruff check emollm data_pipeline train serve tests benchmarks

bench: install
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
