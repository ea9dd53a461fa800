# freezeviz: setup, tests, demo, benchmarks.  `make help` lists the targets.
SHELL := /bin/bash

PYTHON      ?= python
PYTEST_ARGS ?=
BENCH_ARGS  ?=
DEMO_LAB    ?= 1
LAB_ARGS    ?=
NOTEBOOK    := notebooks/01_freezing_in_five_minutes.ipynb

export PYTHON

# Console scripts (freezeviz, jupyter) live beside the interpreter; put them on PATH even when
# a version manager's shims have not been refreshed since the install.
PY_SCRIPTS := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null)
ifneq ($(PY_SCRIPTS),)
export PATH := $(PY_SCRIPTS):$(PATH)
endif

.DEFAULT_GOAL := help
.PHONY: help setup test demo bench lint screenshots notebooks

help:
	@echo "make demo    install what is missing, print a freeze story, open notebook 1 in JupyterLab"
	@echo "make test    install what is missing, run the whole test suite (PYTEST_ARGS=... passes options)"
	@echo "make bench   install what is missing, run the benchmarks (BENCH_ARGS=--quick: one process each)"
	@echo "make screenshots  regenerate the README's pictures in docs/img/ (browser tests)"
	@echo "make notebooks  run the notebooks and save their outputs (after changing what they show)"
	@echo "make lint    ruff check"
	@echo "make setup   install only what is missing: $(shell grep -m1 '^torch==' constraints.txt) (CPU), Graphviz, Chromium, the package"

setup:
	@bash scripts/setup.sh

# pytest exits 5 when it collected no tests; that is not a failure of the suite.
test: setup
	@echo "$(PYTHON) -m pytest -q $(PYTEST_ARGS)"
	@rc=0; $(PYTHON) -m pytest -q $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests"; exit 0; fi; \
	exit $$rc

# The terminal demo always runs; JupyterLab starts only from a terminal and unless DEMO_LAB=0.
demo: setup
	$(PYTHON) -m freezeviz.examples
	@extra=""; [ "$$(id -u)" = 0 ] && extra=" --allow-root"; \
	if [ "$(DEMO_LAB)" = "0" ] || [ ! -t 0 ]; then \
	  echo "make demo: JupyterLab not started (DEMO_LAB=0 or no terminal). Open notebook 1 with:"; \
	  echo "  $(PYTHON) -m jupyter lab --ServerApp.ip=127.0.0.1$$extra $(NOTEBOOK)"; \
	elif [ ! -f "$(NOTEBOOK)" ]; then \
	  echo "make demo: $(NOTEBOOK) not found; JupyterLab not started"; \
	else \
	  echo "make demo: starting JupyterLab on $(NOTEBOOK) (Ctrl-C twice to stop; DEMO_LAB=0 skips this)"; \
	  $(PYTHON) -m jupyter lab --ServerApp.ip=127.0.0.1 $$extra $(LAB_ARGS) "$(NOTEBOOK)"; \
	fi

# The only target that writes docs/img/: the tests save their pictures to tmp otherwise.
screenshots: setup
	FREEZEVIZ_SCREENSHOTS=1 FREEZEVIZ_REQUIRE_TOOLS=1 $(PYTHON) -m pytest -q \
	  tests/test_html_report.py::test_screenshot_for_the_docs \
	  tests/widgets/test_browser.py::test_inspector_in_jupyterlab \
	  tests/widgets/test_frontends_browser.py \
	  tests/widgets/test_outputs_browser.py::test_shipped_notebook_shows_pictures_untrusted

# The only target that writes the notebooks' outputs: the tests compare with them otherwise.
notebooks: setup
	FREEZEVIZ_UPDATE_NOTEBOOKS=1 FREEZEVIZ_REQUIRE_TOOLS=1 $(PYTHON) -m pytest -q \
	  tests/test_notebooks.py -k top_to_bottom

bench: setup
	$(PYTHON) benchmarks/run.py $(BENCH_ARGS)

lint:
	@$(PYTHON) -c 'import ruff' 2>/dev/null || { echo "ruff is not installed: run 'make setup'"; exit 1; }
	$(PYTHON) -m ruff check freezeviz tests

.PHONY: test-fast
test-fast: setup  # the suite without the tests marked slow (browser, notebooks, subprocesses): under a minute
	$(PYTHON) -m pytest -q -m "not slow" $(PYTEST_ARGS)
