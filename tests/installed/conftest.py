"""Tests of the copy users get: the wheel, installed without ``-e`` in a fresh virtual
environment, used from folders outside the repository.

``make test-installed`` (part of ``make test``) builds the wheel (``python -m build``), makes
``.venv-installed``, installs the wheel and pytest there, and runs this folder plus the
construct suites (``tests/cdk/test_constructs.py``, ``test_options.py``, ``test_paths.py``,
``test_parity.py``) with that environment's ``pytest --import-mode=append``: the repository
goes to the *end* of ``sys.path``, so ``import lambda_wheels_cdk`` finds the installed copy
(``tests/conftest.py`` refuses to run otherwise) and ``tests.support`` still imports.
``LAMBDA_WHEELS_TEST_INSTALLED`` names that environment; without it these tests skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

INSTALLED_VARIABLE = "LAMBDA_WHEELS_TEST_INSTALLED"
ROOT = Path(__file__).resolve().parents[2]
CDK = ROOT / "node_modules" / ".bin" / "cdk"


@pytest.fixture(scope="session")
def installed_venv() -> Path:
    value = os.environ.get(INSTALLED_VARIABLE)
    if not value:
        pytest.skip(
            f"runs against the installed wheel: `make test-installed` sets {INSTALLED_VARIABLE}"
        )
    return Path(value).resolve()
