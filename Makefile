# ROSE: `make demo` and `make test` work on a fresh machine with only Python 3.10+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
# Use this machine's Python; never download an interpreter.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
# compile .pyc at install time: the first import of mlflow/sklearn in a fresh CI checkout is much faster
export UV_COMPILE_BYTECODE := 1
PYTEST_ARGS ?=
# With a variable on the command line (make unit PYTEST_ARGS=...) make exports MAKEOVERRIDES as
# the literal `${-*-command-variables-*-}`; RADICAL-Pilot copies the environment into a bash
# script for its pilot, where that is a "bad substitution" and the pilot fails to start.
unexport MAKEOVERRIDES
MEMBERS := $(wildcard rose_core/pyproject.toml plugins/*/pyproject.toml examples/rose-plugin-*/pyproject.toml)

BENCH_VENV := .venv-bench

.PHONY: help setup demo test lint typecheck unit isolation dist docs bench bench-env clean browser slurm-install slurm slurm-stop

help:
	@echo "make demo   - set everything up, then run the flagship campaign"
	@echo "make test   - set everything up, then run lint, type checks and every test"
	@echo "make dist   - build a wheel for every distribution into dist/"
	@echo "make docs   - build the documentation (mkdocs --strict)"
	@echo "make bench  - run the benchmarks and write benchmarks/results.md"
	@echo "make browser - install Debian's Chromium for the rose ui browser tests"
	@echo "make slurm  - start a local one-node Slurm in $(SLURM_DIR) (make slurm-stop stops it)"
	@echo "make bench-env - the peers of scenario 10 (Dask, Ray, Parsl) in $(BENCH_VENV), never in $(VENV)"

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check uv

$(VENV)/.synced: pyproject.toml $(MEMBERS) | $(UV)
	$(UV) sync --all-packages --python $(PYTHON) --quiet
	@touch $@

setup: $(VENV)/.synced

demo: setup
	$(BIN)/python examples/surrogate_demo/workflow.py

lint: setup
	$(BIN)/ruff check .

typecheck: setup
	$(BIN)/mypy

# A real one-node Slurm (Debian's slurm-wlm + munge) for the tests marked `slurm`: installed
# with apt-get when missing and this is root; otherwise a loud notice and those tests skip.
SLURM_DIR ?= /tmp/rose-slurm
LOCAL_SLURM := $(BIN)/python -c "import sys; from rose.testing.slurm import main; sys.exit(main())"

slurm-install: setup
	@$(LOCAL_SLURM) install

slurm: slurm-install
	@$(LOCAL_SLURM) start $(SLURM_DIR)

slurm-stop: setup
	@$(LOCAL_SLURM) stop $(SLURM_DIR)

# The tests marked `slurm` spend their time waiting on Slurm's scheduler and a pilot's start-up, not on
# the CPU: they run in a second pytest process alongside the others; their output follows when both end.
# Under `make test` the isolated installs (`make isolation`) follow them in that second stream: the whole
# suite keeps the CPU about a third busy (16 min of wall for 11 of CPU on two cores), so they fit beside
# the unit tests instead of after them; each writes only in its own temporary folders.
unit: setup slurm-install browser
	@rm -f .slurm-tests.log .isolation.log; \
	{ ROSE_STRICT_PLUGINS=1 $(BIN)/python -m pytest -q -m slurm --basetemp=.pytest-slurm $(PYTEST_ARGS) \
		> .slurm-tests.log 2>&1; marked=$$?; isolated=0; \
	  if [ -n "$(ISOLATION_ALONGSIDE)" ]; then $(BIN)/python tests/isolation/run_isolated.py > .isolation.log 2>&1; isolated=$$?; fi; \
	  { [ $$marked -eq 0 ] || [ $$marked -eq 5 ]; } && [ $$isolated -eq 0 ]; } & alongside=$$!; \
	ROSE_STRICT_PLUGINS=1 $(BIN)/python -m pytest -q -m "not slurm" $(PYTEST_ARGS); others=$$?; \
	wait $$alongside; along=$$?; \
	echo "--- the tests marked slurm (run alongside) ---"; cat .slurm-tests.log; \
	if [ -n "$(ISOLATION_ALONGSIDE)" ]; then echo "--- make isolation (run alongside, after them) ---"; cat .isolation.log; fi; \
	[ $$others -eq 0 ] && [ $$along -eq 0 ]

isolation: setup
	$(BIN)/python tests/isolation/run_isolated.py

# Chromium from Debian's packages for rose-plugin-ui's browser tests (Playwright drives it; nothing is
# downloaded from a browser vendor). Without root or apt-get the tests skip, and this says so loudly.
browser:
	@if command -v chromium >/dev/null 2>&1; then \
		echo "browser: $$(chromium --version 2>/dev/null | head -n 1)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "browser: installing Debian's chromium (about a minute)"; \
		( apt-get -o DPkg::Lock::Timeout=600 update -q && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q chromium chromium-driver ) >/dev/null \
			|| echo "*** browser: apt-get install chromium FAILED: the rose ui browser tests will be SKIPPED ***"; \
	else \
		echo "*** browser: no chromium, and no root + apt-get to install it: the rose ui browser tests will be SKIPPED ***"; \
	fi

test: ISOLATION_ALONGSIDE := yes
test: lint typecheck docs unit

dist: setup
	rm -rf dist && mkdir -p dist
	for d in rose_core plugins/* examples/rose-plugin-*; do $(UV) build --quiet --wheel --out-dir dist $$d || exit 1; done

docs: setup
	$(BIN)/python docs/gen_reference.py
	$(BIN)/python -m mkdocs build --strict --quiet

# scenario 10's peers, in their own environment; Dask pinned to the project's own version
$(BENCH_VENV)/.installed: benchmarks/peers/requirements.txt $(VENV)/.synced
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(BENCH_VENV)
	$(UV) pip install --quiet --python $(BENCH_VENV)/bin/python -r benchmarks/peers/requirements.txt \
		"dask[distributed]==$$($(BIN)/python -c 'import importlib.metadata as m; print(m.version("distributed"))')" psutil
	@touch $@

bench-env: setup $(BENCH_VENV)/.installed

bench: setup bench-env
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(BENCH_VENV) .tools dist site
