"""What ``pip install lambda-wheels-cdk`` will get: the wheel and the sdist from ``python -m build``.

The editable install every other test uses reads the source tree, so a file the wheel leaves out
(``cdk/empty_asset/`` was one: ``PythonWheelLayer(..., dependencies=[...])`` failed synth after
a normal install) is invisible there. These tests read the built files themselves.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import tarfile
import zipfile
from email.parser import HeaderParser

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .conftest import ROOT, Dists

PACKAGE = "lambda_wheels_cdk"


def _package_files() -> set[str]:
    """Every file of the package in the source tree (what git tracks, else what is on disk)."""
    proc = subprocess.run(
        ["git", "ls-files", "--", PACKAGE], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if proc.returncode == 0 and proc.stdout.strip():
        return set(proc.stdout.split("\n")) - {""}
    return {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / PACKAGE).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_the_wheel_ships_every_file_of_the_package(dists: Dists) -> None:
    with zipfile.ZipFile(dists.wheel) as zf:
        shipped = {n for n in zf.namelist() if n.startswith(f"{PACKAGE}/")}
    missing = sorted(_package_files() - shipped)
    assert missing == [], f"{dists.wheel.name} lacks {missing}"
    # the files read at run time that are not modules, named here so a glob can't hide them
    assert {f"{PACKAGE}/py.typed", f"{PACKAGE}/cdk/empty_asset/README.txt"} <= shipped
    assert not [n for n in shipped if n.endswith(".pyc") or "/__pycache__/" in n]


def test_the_sdist_holds_the_package_and_its_readme(dists: Dists) -> None:
    with tarfile.open(dists.sdist) as tf:
        root, *_ = tf.getnames()[0].split("/")
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    assert root == dists.sdist.name.removesuffix(".tar.gz")
    missing = sorted((_package_files() | {"pyproject.toml", "README.md"}) - names)
    assert missing == [], f"{dists.sdist.name} lacks {missing}"


def test_metadata_passes_twine_check(dists: Dists) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(dists.wheel), str(dists.sdist)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("PASSED") == 2, proc.stdout


def _imported_top_level_modules() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / PACKAGE).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    stdlib = set(sys.stdlib_module_names) if sys.version_info >= (3, 10) else set()
    return {n for n in names if n not in stdlib and n != PACKAGE and n != "__future__"}


@pytest.mark.skipif(sys.version_info < (3, 10), reason="needs sys.stdlib_module_names")
def test_runtime_dependencies_are_what_the_package_imports(dists: Dists) -> None:
    with zipfile.ZipFile(dists.wheel) as zf:
        info = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = HeaderParser().parsestr(zf.read(info).decode("utf-8"))
    requirements = [Requirement(r) for r in meta.get_all("Requires-Dist") or []]
    declared = {
        canonicalize_name(r.name): r
        for r in requirements
        if not r.marker or "extra" not in str(r.marker)
    }
    # optional features (the remote cache's boto3): declared in their own extra, imported lazily
    optional = {
        canonicalize_name(r.name): r
        for r in requirements
        if r.marker and 'extra == "s3"' in str(r.marker)
    }
    providers = importlib.metadata.packages_distributions()
    used: set[str] = set()
    undeclared: list[str] = []
    for module in sorted(_imported_top_level_modules()):
        # a namespace package (aws_cdk) has several providers: one of them must be declared
        dists_of = {canonicalize_name(d) for d in providers.get(module, [])}
        hit = dists_of & set(declared)
        if not hit and dists_of & set(optional):
            continue
        if not hit:
            undeclared.append(f"{module} (from {sorted(dists_of) or 'no installed dist'})")
        used |= hit
    assert undeclared == [], f"imported but not in Requires-Dist: {undeclared}"
    assert sorted(set(declared) - used) == [], "declared but never imported"
    assert "boto3" not in declared  # provided by Lambda; the [s3] extra brings it for the cache
    assert sorted(optional) == ["boto3", "botocore"]
    # the README's list of runtime dependencies names exactly these
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = readme.split("Runtime dependencies (", 1)[1].split("`boto3` is", 1)[0]
    named = {canonicalize_name(n) for n in re.findall(r"`([A-Za-z0-9_.-]+)`", listed)}
    assert named == set(declared)
