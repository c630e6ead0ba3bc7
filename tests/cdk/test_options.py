"""Every bundling option, on both constructs: accepted, synthesized, and in or out of the asset
hash as the README says ("the fingerprint of source, dependency inputs, target, options and
tool versions"; environment values, the cache folder, the audit mode and smoke checks leave
what is built unchanged). Bundling is skipped: these tests are about construction.

``make test`` also runs this module against the wheel installed in a fresh virtual environment
(tests/installed): every option must work in the copy users get.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from lambda_wheels_cdk import PythonWheelFunction, PythonWheelLayer, WheelBundlingOptions

pytestmark = pytest.mark.cdk


class _Hooks:
    def before_bundling(self, input_dir: str, output_dir: str) -> list[str]:
        return ["echo before"]

    def after_bundling(self, input_dir: str, output_dir: str) -> list[str]:
        return []


#: option -> (a value other than its default, does it change the asset hash?)
OPTIONS: dict[str, tuple[Callable[[Path], Any], bool]] = {
    "installer": (lambda d: "pip", True),
    "index_url": (lambda d: "https://pkgs.example/simple", True),
    "extra_index_urls": (lambda d: ["https://extra.example/simple"], True),
    "find_links": (lambda d: [str(d / "wheels")], True),
    "no_index": (lambda d: True, True),
    "excludes": (lambda d: ["notes.md"], True),  # notes.md is in the entry folder
    "docker": (lambda d: True, True),
    "allow_sdists": (lambda d: False, True),
    "audit": (lambda d: "warn", False),
    "extras": (lambda d: ["fast"], True),
    "groups": (lambda d: ["test"], True),
    "locked": (lambda d: True, False),  # no uv.lock here: nothing to check against
    "cache_dir": (lambda d: str(d / "cache"), False),
    "smoke": (lambda d: True, False),
    "link_mode": (lambda d: "copy", True),  # its own cache entry (fixed file times)
    "environment": (lambda d: {"STAGE": "test"}, False),
    "command_hooks": (lambda d: _Hooks(), True),
    "image": (lambda d: "registry.example/build-python:3.12", True),  # with docker=True
    "docker_network": (lambda d: True, True),  # with docker=True
    "asset_hash": (lambda d: "my-own-hash", True),
    "asset_hash_type": (lambda d: cdk.AssetHashType.OUTPUT, True),
    "follow_external_symlinks": (lambda d: True, False),  # no link in this entry folder
    "verify_cache": (lambda d: True, False),  # checks the cache; builds the same bundle
    "bytecode": (lambda d: False, True),
    "bytecode_interpreter": (lambda d: "python3.12", False),  # a CPython 3.12 is found anyway
    "allow_python_download": (lambda d: True, False),
    "slim": (lambda d: True, True),
    "exclude_runtime_packages": (lambda d: True, True),
    "remote_cache": (lambda d: "s3://build-cache/lambda-wheels", False),  # same bytes
    "remote_cache_mode": (lambda d: "read", False),
}


def test_the_table_names_every_option() -> None:
    public = {
        f.name for f in dataclasses.fields(WheelBundlingOptions) if not f.name.startswith("_")
    }
    assert public == set(OPTIONS)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An entry folder whose pyproject.toml has an extra and a dependency group."""
    entry = tmp_path / "svc"
    entry.mkdir()
    (entry / "index.py").write_text("def handler(event, context):\n    return 1\n")
    (entry / "notes.md").write_text("not for Lambda\n")
    (entry / "pyproject.toml").write_text(
        '[project]\nname = "svc"\nversion = "1"\ndependencies = ["six"]\n'
        '[project.optional-dependencies]\nfast = ["orjson"]\n'
        '[dependency-groups]\ntest = ["pytest"]\n'
    )
    (tmp_path / "wheels").mkdir()
    return entry


#: What an option needs beside it; the hash it is compared with has the same.
NEEDS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "no_index": lambda d: {"find_links": [str(d / "wheels")]},
    "image": lambda d: {"docker": True},
    "docker_network": lambda d: {"docker": True},
}


def _bundling(name: str, root: Path, *, given: bool) -> WheelBundlingOptions:
    options = NEEDS.get(name, lambda d: {})(root)
    if given:
        options[name] = OPTIONS[name][0](root)
    return WheelBundlingOptions(**options)


def _hashes(name: str, project: Path, *, given: bool) -> tuple[str | None, str | None]:
    app = cdk.App(context={"aws:cdk:bundling-stacks": []}, outdir=str(project.parent / "cdk.out"))
    stack = cdk.Stack(app, "S")
    bundling = _bundling(name, project.parent, given=given)
    fn = PythonWheelFunction(
        stack,
        "Fn",
        entry=str(project),
        runtime=lambda_.Runtime.PYTHON_3_12,
        architecture=lambda_.Architecture.ARM_64,
        bundling=bundling,
    )
    layer = PythonWheelLayer(
        stack,
        "Deps",
        dependencies=str(project / "pyproject.toml"),
        compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
        compatible_architectures=[lambda_.Architecture.ARM_64],
        bundling=bundling,
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::Lambda::Function", 1)
    template.resource_count_is("AWS::Lambda::LayerVersion", 1)
    return fn.asset_hash, layer.asset_hash


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_every_option_is_accepted_and_in_the_hash_as_documented(name: str, project: Path) -> None:
    default = _hashes(name, project, given=False)
    given = _hashes(name, project, given=True)
    if name == "asset_hash":
        assert given == ("my-own-hash", "my-own-hash")
    elif name == "asset_hash_type":
        assert given == (None, None)  # CDK hashes the bundle itself after bundling
    elif OPTIONS[name][1]:
        function_changed, layer_changed = (given[i] != default[i] for i in (0, 1))
        # excludes apply to the handler copy only: a layer has none
        assert function_changed and (layer_changed or name == "excludes"), (name, given, default)
    else:
        assert given == default, name
