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
MEMBERS := $(wildcard rose_core/pyproject.toml plugins/*/pyproject.toml examples/rose-plugin-*/pyproject.toml)

.PHONY: help setup demo test lint typecheck unit isolation dist docs bench clean slurm-install slurm slurm-stop

help:
	@echo "make demo   - set everything up, then run the flagship campaign"
	@echo "make test   - set everything up, then run lint, type checks and every test"
	@echo "make dist   - build a wheel for every distribution into dist/"
	@echo "make docs   - build the documentation (mkdocs --strict)"
	@echo "make bench  - run the benchmarks and write benchmarks/results.md"
	@echo "make slurm  - start a local one-node Slurm in $(SLURM_DIR) (make slurm-stop stops it)"

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

unit: setup slurm-install
	ROSE_STRICT_PLUGINS=1 $(BIN)/python -m pytest -q $(PYTEST_ARGS)

isolation: setup
	$(BIN)/python tests/isolation/run_isolated.py

test: lint typecheck docs unit isolation

dist: setup
	rm -rf dist && mkdir -p dist
	for d in rose_core plugins/* examples/rose-plugin-*; do $(UV) build --quiet --wheel --out-dir dist $$d || exit 1; done

docs: setup
	$(BIN)/python docs/gen_reference.py
	$(BIN)/python -m mkdocs build --strict --quiet

bench: setup
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .tools dist site
