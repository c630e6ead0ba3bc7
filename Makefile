# Two commands on a fresh machine (Python >= 3.9, Node 20 + npm; no Docker, no AWS account):
#   make synth   set everything up, then synthesize the example app (real arm64 + x86_64 bundles)
#   make test    set everything up, then run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: setup synth test test-setup lint clean deploy-local

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

synth: setup
	cdk synth --quiet

test: setup test-setup
	$(BIN)/python -m pytest

# Emulated arm64 for the smoke tests: qemu-user-static (apt-get, as root) and aarch64 CPython
# sysroots from Debian packages in ~/.cache/lambda-wheels-tests (tests/support/arm64_sysroot.py).
# When that cannot be done it says why and the arm64 tests skip; with CI=true it fails instead.
test-setup: setup
	$(BIN)/python tests/support/arm64_sysroot.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .mypy_cache

# `cdk deploy` of the example app without AWS: a moto server on localhost (free port), bootstrap
# + deploy with AWS_ENDPOINT_URL and dummy credentials, then every deployed zip is downloaded,
# compared with its staged asset and audited for its target (tests/support/moto_server.py).
deploy-local: setup
	$(BIN)/python -m tests.support.moto_server
