# Thin front door: every target calls the CLI (python -m pipeline <verb>); no logic lives here.
PYTHON ?= python3
VENV_PY := .venv/bin/python
BOARD ?= mps2-an386
CONFIG ?= configs/fashion_glt.yaml
IR ?=
MODEL ?=
VECTORS ?=
PYTEST_ARGS ?=

.PHONY: help setup test deploy bench clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'
	@echo "variables: BOARD=$(BOARD) CONFIG=$(CONFIG) IR=<model.ir.json> MODEL=<zoo model> VECTORS=<n>"

setup:  ## install Debian packages, the virtual environment and pinned packages (idempotent)
	$(PYTHON) -m pipeline setup

test: setup  ## run every test layer (unit, kernels, firmware, render, emulate, crosscheck, train, e2e, zoo, install)
	$(VENV_PY) -m pytest $(PYTEST_ARGS)

deploy: setup  ## train (or reuse; MODEL=<zoo model> or IR=<file>: no training), lower, export, render, build, emulate and report for BOARD
	$(VENV_PY) -m pipeline deploy --board $(BOARD) --config $(CONFIG) $(if $(IR),--ir $(IR)) $(if $(MODEL),--model $(MODEL)) $(if $(VECTORS),--vectors $(VECTORS))

bench: setup  ## run the benchmarks in bench/ and regenerate docs/benchmarks.md
	$(VENV_PY) -m bench

clean:  ## remove build outputs (keeps the virtual environment)
	rm -rf build
