"""Audit rules for bytecode and scripts a Lambda target will never use (warnings only).

Pure functions of the collected facts (:class:`~.audit.FileFacts` with ``head``: the first
bytes of ``.pyc`` files and of files under ``bin/``) and the target. Each rule reports, per
distribution, how many files it concerns and the bytes they waste:

* ``pyc-version``: a ``.pyc`` whose name is for another interpreter (``mod.cpython-311.pyc``
  in a python3.12 bundle: what pip writes with a 3.11 build host) or whose magic number is
  not the target's. CPython ignores it and compiles the module on every cold start.
* ``pyc-timestamp``: a timestamp-based ``.pyc`` (PEP 552 flags 0). It is valid only while the
  source keeps the modification time and size recorded in it; the CDK CLI zips assets with
  every date set to 1980, so after deployment it no longer matches and is ignored.
* ``script-shebang``: a script whose ``#!`` names an interpreter of the build machine (a
  virtualenv or a path that is not on Lambda). Lambda never runs ``bin/`` scripts, so this is
  dead weight; a subprocess that runs it fails.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from .events import counted, human_size
from .runtimes import RUNTIMES

if TYPE_CHECKING:
    from .audit import FileFacts, Finding, TreeFacts
    from .target import Target

#: Bytecode magic numbers of each CPython release's final version (the first two bytes of
#: ``importlib.util.MAGIC_NUMBER``, little-endian). Source: CPython's
#: ``Lib/importlib/_bootstrap_external.py``; verified here with pyenv's 3.9.18, 3.10.13,
#: 3.11.7, 3.12.1 and 3.13.0. A version missing here is checked by its file name only.
PYC_MAGIC: Final[Mapping[tuple[int, int], int]] = MappingProxyType(
    {(3, 9): 3425, (3, 10): 3439, (3, 11): 3495, (3, 12): 3531, (3, 13): 3571}
)
#: How many bytes of a ``.pyc`` or a ``bin/`` script the collector keeps for these rules.
HEAD_BYTES: Final = 256
#: Shebang interpreters that exist on Lambda (or resolve through PATH there).
_LAMBDA_SHEBANGS: Final = ("/usr/bin/env", "/var/lang/bin/python", "/bin/sh", "/bin/bash")
_PYC_NAME: Final = re.compile(r"\.(?P<impl>[a-z]+)-(?P<ver>\d+)(?:\.opt-\d)?\.pyc$")


def wants_head(path: str) -> bool:
    """Whether the collector should keep the first :data:`HEAD_BYTES` of this file."""
    return path.endswith(".pyc") or path.startswith("bin/") or "/bin/" in path


def bytecode_findings(tree: TreeFacts, target: Target) -> list[Finding]:
    """Every warning of this module for one tree (function or layer)."""
    from .audit import Finding

    tag = "cpython-{}{}".format(*target.python)
    magic = PYC_MAGIC.get(target.python)
    lambda_tags = frozenset("cpython-{}{}".format(*spec.python) for spec in RUNTIMES.values())
    groups: dict[tuple[str | None, str], list[FileFacts]] = {}
    for f in tree.files:
        if not f.live or f.problem is not None or f.link is not None:
            continue
        shared = (
            lambda_tags
            if tree.kind == "layer" and not f.path.startswith("python/lib/")
            else frozenset()
        )
        code = _pyc_code(f, tag, magic, shared) if f.path.endswith(".pyc") else None
        if code is None and f.head.startswith(b"#!") and _is_script(f.path):
            code = "script-shebang" if _host_shebang(f.head) else None
        if code is not None:
            groups.setdefault((tree.owners.get(f.path), code), []).append(f)
    findings = []
    for (owner, code), files in sorted(groups.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
        reason, fix = _words(code, files, target, tag)
        first = tree.display(files[0].path)
        shown = first if len(files) == 1 else f"{first} (+{counted(len(files) - 1, 'more file')})"
        findings.append(Finding("warning", owner, shown, code, reason, fix))
    return findings


def _pyc_code(f: FileFacts, tag: str, magic: int | None, shared: frozenset[str]) -> str | None:
    match = _PYC_NAME.search(posixpath.basename(f.path))
    if match is not None and f"{match['impl']}-{match['ver']}" != tag:
        # a layer's shared python/ folder holds one file per runtime it serves
        return None if f"{match['impl']}-{match['ver']}" in shared else "pyc-version"
    if match is not None and match["ver"] != tag.rsplit("-", 1)[1]:
        return "pyc-version"
    if len(f.head) < 16:
        return None  # too short to be bytecode: nothing CPython would use either way
    if magic is not None and int.from_bytes(f.head[:2], "little") != magic:
        return "pyc-version"
    flags = int.from_bytes(f.head[4:8], "little")
    return "pyc-timestamp" if flags == 0 else None


def _is_script(path: str) -> bool:
    return path.startswith("bin/") or "/bin/" in path


def _host_shebang(head: bytes) -> bool:
    line = head.split(b"\n", 1)[0][2:].strip().decode("utf-8", errors="replace")
    interpreter = line.split()[0] if line.split() else ""
    return "python" in line and not interpreter.startswith(_LAMBDA_SHEBANGS)


def _words(code: str, files: Iterable[FileFacts], target: Target, tag: str) -> tuple[str, str]:
    files = list(files)
    size = sum(f.size for f in files)
    count = f"{counted(len(files), 'file')} ({human_size(size)})"
    if code == "pyc-version":
        return (
            f"{count} of bytecode for another Python than {target}'s CPython "
            f"{target.python_version} (their names or magic numbers are not {tag}'s): it never "
            "reads them and compiles those modules again on every cold start",
            "rebuild with lambda-wheels (it compiles with a CPython of the target's version), "
            "or delete the __pycache__ folders; pip compiles with the build machine's Python",
        )
    if code == "pyc-timestamp":
        return (
            f"{count} of timestamp-based bytecode: valid only while each source keeps the time "
            "and size recorded in it, which the CDK CLI's zip (every date 1980-01-01) does not "
            "keep, so it is ignored after deployment",
            "rebuild with lambda-wheels (unchecked hash-based pycs, PEP 552), or compile with "
            "`python -m compileall --invalidation-mode unchecked-hash` using the target's "
            "CPython",
        )
    return (
        f"{count} of scripts whose '#!' names the build machine's Python; Lambda never runs "
        "bin/ scripts, and a subprocess that did would fail",
        "leave console scripts out of the bundle (lambda-wheels does), or run the module with "
        "sys.executable instead",
    )


__all__ = ["HEAD_BYTES", "PYC_MAGIC", "bytecode_findings", "wants_head"]
