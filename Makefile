# Two commands on a fresh machine (Python >= 3.9, Node 22 or 24 LTS + npm (20 works); no Docker,
# no AWS account):
#   make synth   set everything up, then synthesize the example app (real arm64 + x86_64 bundles)
#   make test    set everything up, then run the whole test suite, then the installed wheel's
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# the sdist and wheel users get, and a fresh environment with the wheel installed (no -e)
DIST   := dist
WHEEL_VENV := .venv-installed
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: setup synth test test-setup test-docker test-installed dist lint clean deploy-local

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

# The editable install serves the fast suite; then the same wheel users get is tested
# (tests/release reads the files; test-installed uses the installed copy).
test: setup test-setup dist
	LAMBDA_WHEELS_DIST=$(CURDIR)/$(DIST) $(BIN)/python -m pytest
	$(MAKE) --no-print-directory test-installed

dist: $(DIST)/.built

$(DIST)/.built: $(VENV)/.installed pyproject.toml README.md $(shell find lambda_wheels_cdk -type f -not -path '*/__pycache__/*')
	rm -rf $(DIST)
	$(BIN)/python -m build --sdist --wheel --outdir $(DIST) .
	touch $@

# The wheel in a new virtual environment (pip, no -e), then a user's own app outside the
# repository (tests/installed) and the construct suites, against that installed copy: the
# repository is appended to sys.path, and tests/conftest.py checks which copy is imported.
INSTALLED_TESTS := tests/installed tests/cdk/test_constructs.py tests/cdk/test_options.py \
	tests/cdk/test_paths.py tests/cdk/test_parity.py
test-installed: dist test-setup
	rm -rf $(WHEEL_VENV)
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/python -m pip install --quiet --no-compile $(DIST)/*.whl \
		'pytest>=8' 'pytest-timeout>=2.3'
	PATH="$(CURDIR)/$(WHEEL_VENV)/bin:$$PATH" LAMBDA_WHEELS_DIST=$(CURDIR)/$(DIST) \
		LAMBDA_WHEELS_TEST_INSTALLED=$(CURDIR)/$(WHEEL_VENV) \
		$(WHEEL_VENV)/bin/pytest --import-mode=append -p no:cacheprovider $(INSTALLED_TESTS)

# The tests' target interpreters: qemu-user-static (apt-get, as root) and CPython sysroots from
# Debian packages in ~/.cache/lambda-wheels-tests (tests/support/sysroots.py): aarch64 3.11
# (bookworm), 3.13 (trixie), and 3.14 from sid for aarch64 (under qemu) and x86_64 (run by its
# own loader: sid's glibc is newer than the host's). When that cannot be done it says why and
# those tests skip; with CI=true it fails instead.
test-setup: setup
	$(BIN)/python tests/support/sysroots.py

# Native sdists compiled in a real Docker engine (tests/e2e/test_docker.py): as root with
# docker.io and qemu-user-static, the tests start their own dockerd (no bridge, no iptables),
# register qemu-aarch64 with binfmt_misc and build/load the SAM stand-in images
# (tests/support/sam_standins.py, cached in ~/.cache/lambda-wheels-tests); elsewhere they skip
# and say how to enable them.
test-docker: setup test-setup
	$(BIN)/python -m pytest -m docker tests/e2e/test_docker.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) $(WHEEL_VENV) $(DIST) node_modules cdk.out .pytest_cache .mypy_cache

# `cdk deploy` of the example app without AWS: a moto server on localhost (free port), bootstrap
# + deploy with AWS_ENDPOINT_URL and dummy credentials, then every deployed zip is downloaded,
# compared with its staged asset and audited for its target (tests/support/moto_server.py).
deploy-local: setup
	$(BIN)/python -m tests.support.moto_server
