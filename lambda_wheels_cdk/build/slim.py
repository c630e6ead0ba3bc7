"""Opt-in trimming of an installed tree: what Lambda never runs, and what the runtime provides.

Two independent choices, both off by default (a bundle is what the installer installed):

* **Slimming** (``slim=True`` / ``--slim``) removes, by rule:

  - ``tests``: test suites that packages ship inside themselves, i.e. every folder named
    ``tests`` *below* a top-level package (``pandas/tests``, ``numpy/_core/tests``). A folder
    named ``tests`` at the top of the bundle is a package of its own and stays; so does
    anything named ``test`` or ``testing`` (``numpy.testing``, ``django.test`` are imported by
    applications).
  - ``stubs``: type stubs (``*.pyi``) and ``py.typed`` markers, read by type checkers only.

  What each rule removed (files and bytes) is reported in the manifest. The RECORD of each
  distribution is rewritten to match (:func:`~lambda_wheels_cdk.tree.normalize_install`).

* **Runtime-provided packages** (``exclude_runtime_packages=True``): leaves out boto3,
  botocore and s3transfer, which every Lambda Python runtime ships (and jmespath when nothing
  else needs it). The runtime's versions are not published per runtime and Region (AWS: "the
  version of the SDK included in the Python runtime depends on the runtime version and your
  AWS Region"), so the build cannot check yours against them: it warns with the version you
  pinned and how to see the runtime's, since code needing a newer API than the runtime's then
  fails at run time.

Both are pure file operations on a tree this build owns (never a shared, hard-linked file: a
removal only unlinks the bundle's own name).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final, Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from .. import tree
from ..distinfo import dist_infos, read_metadata, read_record

SlimRule = Literal["tests", "stubs"]
SLIM_RULES: Final[tuple[SlimRule, ...]] = ("tests", "stubs")
#: Distributions every Lambda Python runtime provides (AWS Lambda docs, "Building Lambda
#: functions with Python": the runtime "includes the SDK for Python (Boto3)").
RUNTIME_PROVIDED: Final = ("boto3", "botocore", "s3transfer")
#: Dependencies of those that go with them when nothing else in the tree needs them.
RUNTIME_PROVIDED_DEPENDENCIES: Final = ("jmespath",)
#: Shown when runtime-provided packages are left out: how to see the runtime's versions.
CHECK_RUNTIME_VERSIONS: Final = (
    "deploy a function that returns boto3.__version__ and botocore.__version__ to see the "
    "runtime's (AWS Lambda docs, 'Runtime-included SDK versions')"
)


def slim(root: Path, rules: Iterable[SlimRule] = SLIM_RULES) -> dict[str, tuple[int, int]]:
    """Remove what ``rules`` name from the installed tree ``root``; ``{rule: (files, bytes)}``."""
    wanted = set(rules)
    removed: dict[str, tuple[int, int]] = {rule: (0, 0) for rule in SLIM_RULES if rule in wanted}

    def count(rule: str, files: int, size: int) -> None:
        old = removed[rule]
        removed[rule] = (old[0] + files, old[1] + size)

    for top in sorted(os.scandir(root), key=lambda e: e.name):
        if not top.is_dir(follow_symlinks=False) or top.name.endswith((".dist-info", ".data")):
            if "stubs" in wanted and top.is_file() and top.name.endswith(".pyi"):
                count("stubs", 1, top.stat().st_size)
                os.unlink(top.path)
            continue
        for folder, dirs, files in os.walk(top.path):
            if "tests" in wanted and "tests" in dirs:
                dirs.remove("tests")
                doomed = Path(folder, "tests")
                sizes = [size for _, size, *_ in tree.tree_record(doomed)]
                count("tests", len(sizes), sum(sizes))
                tree.remove_tree(doomed)
            if "stubs" in wanted:
                for name in files:
                    if name.endswith(".pyi") or name == "py.typed":
                        path = os.path.join(folder, name)
                        count("stubs", 1, os.lstat(path).st_size)
                        os.unlink(path)
    return removed


def drop_runtime_provided(root: Path) -> dict[str, str]:
    """Remove boto3, botocore, s3transfer (and jmespath when nothing else needs it) from the
    installed tree ``root``. Returns ``{name: version}`` of what was removed."""
    infos: dict[str, Path] = {
        str(canonicalize_name(info.name[: -len(".dist-info")].rpartition("-")[0])): info
        for info in dist_infos(root)
    }
    doomed: list[str] = [name for name in RUNTIME_PROVIDED if name in infos]
    if not doomed:
        return {}
    needed = _needed_by({name: info for name, info in infos.items() if name not in doomed})
    doomed += [n for n in RUNTIME_PROVIDED_DEPENDENCIES if n in infos and n not in needed]
    removed: dict[str, str] = {}
    for name in doomed:
        info = infos[name]
        removed[name] = info.name[: -len(".dist-info")].rpartition("-")[2]
        _remove_distribution(root, info)
    return removed


def _needed_by(infos: Mapping[str, Path]) -> set[str]:
    """Every distribution name the given distributions require (any marker)."""
    needed: set[str] = set()
    for info in infos.values():
        meta = read_metadata(info)
        for line in meta.get_all("Requires-Dist") or () if meta is not None else ():
            try:
                needed.add(canonicalize_name(Requirement(str(line)).name))
            except InvalidRequirement:
                continue
    return needed


def _remove_distribution(root: Path, info: Path) -> None:
    """Remove every file a distribution's RECORD names, then its emptied folders."""
    folders: set[Path] = set()
    for rel in read_record(info) or ():
        if os.path.isabs(rel) or ".." in Path(rel).parts:
            continue
        path = root / rel
        if path.is_file() or path.is_symlink():
            path.unlink()
            folders.update(p for p in path.parents if root in p.parents)
    tree.remove_tree(info)
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        pycache = folder / "__pycache__"
        if pycache.is_dir():
            tree.remove_tree(pycache)
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


__all__ = [
    "RUNTIME_PROVIDED",
    "SLIM_RULES",
    "SlimRule",
    "drop_runtime_provided",
    "slim",
]
