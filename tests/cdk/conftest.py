"""CDK test helpers: apps with or without bundling, a private bundle cache, entry folders."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk


@pytest.fixture
def no_bundling_app(tmp_path: Path) -> cdk.App:
    """An app whose stacks skip bundling (template tests)."""
    return cdk.App(outdir=str(tmp_path / "cdk.out"), context={"aws:cdk:bundling-stacks": []})


@pytest.fixture
def entry(tmp_path: Path) -> Path:
    """An entry folder with index.py, a nested pkg/app.py and no dependencies."""
    folder = tmp_path / "svc"
    (folder / "pkg").mkdir(parents=True)
    (folder / "index.py").write_text("def handler(event, context):\n    return {'ok': True}\n")
    (folder / "pkg" / "__init__.py").write_text("")
    (folder / "pkg" / "app.py").write_text("def main(event, context):\n    return 1\n")
    return folder


@pytest.fixture
def bundle_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("lw-cache")
    monkeypatch.setenv("LAMBDA_WHEELS_CACHE_DIR", str(path))
    yield path
