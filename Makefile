# Two commands do everything on a fresh machine with Python 3.11 and make:
#   make run   - create .venv, install requirements.txt, start the app on 127.0.0.1:7860
#   make test  - create .venv, install requirements + test tools, run the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

# The course's datasets beside the checkout are used when present (tests, examples);
# otherwise segdemo downloads them from their public sources when first needed.
SHARED_DATA := $(abspath ../shared/data)
ifneq ($(wildcard $(SHARED_DATA)),)
export SEGDEMO_DATA_DIR ?= $(SHARED_DATA)
endif
export TF_CPP_MIN_LOG_LEVEL ?= 2
# The runtime requirements: `make run REQUIREMENTS=requirements-gpu.txt` installs TensorFlow with
# CUDA instead of the CPU build (same version, same code path; see docs/measurements.md, "Precision and GPU").
REQUIREMENTS ?= requirements.txt
RUNTIME_STAMP := $(VENV)/.runtime-installed-$(basename $(notdir $(REQUIREMENTS)))
export GRADIO_ANALYTICS_ENABLED ?= False

.PHONY: run test test-fast test-browser chromium bench clean lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME_STAMP): $(REQUIREMENTS) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r $(REQUIREMENTS)
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt $(RUNTIME_STAMP)
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(RUNTIME_STAMP)
	$(BIN)/python app.py

# The whole suite, the real-browser tests included: Playwright for Python drives Debian's
# chromium (installed here when missing; no browser download). Without root to install it,
# the browser tests report themselves as skipped; in CI (CI=true) that is an error instead,
# here and in the tests (tests/prerequisites.py), as is a missing data folder.
# Two pytest processes (pytest-xdist): much of the suite waits on app servers and the browser, so
# two share the cores well (docs/testing.md); each starts its own shared apps and browser, so the
# tests are grouped by the app or module fixtures they share (--dist loadgroup, tests/conftest.py).
TEST_WORKERS ?= 2
test: $(VENV)/.browser-installed chromium lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

# Style: ruff's checks and its formatter (configured in pyproject.toml) must both pass.
lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test-fast: $(VENV)/.dev-installed
	$(BIN)/python -m pytest -m "not slow" --ignore=tests/test_browser.py

test-browser: $(VENV)/.browser-installed chromium
	$(BIN)/python -m pytest tests/test_browser.py

CHROMIUM := /usr/bin/chromium

$(VENV)/.browser-installed: requirements-browser.txt $(VENV)/.dev-installed
	$(BIN)/python -m pip install --quiet -r requirements-browser.txt
	touch $@

chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		(apt-get update -qq && apt-get install -y -qq chromium) || { \
			case "$${CI:-}" in \
				1|true|TRUE|True|yes) echo "could not install chromium (CI=true: the browser tests must run)"; exit 1;; \
				*) echo "could not install chromium: the browser tests will be skipped";; \
			esac; }; \
	fi

bench: $(VENV)/.dev-installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache
