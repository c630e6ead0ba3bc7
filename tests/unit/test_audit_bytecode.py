"""Audit rules for bytecode and scripts the target never uses (warnings, with bytes wasted)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from lambda_wheels_cdk.core.audit import audit
from lambda_wheels_cdk.core.target import Target

PY312 = Target.for_runtime("python3.12", "x86_64")
#: CPython 3.12's and 3.11's magic numbers (Lib/importlib/_bootstrap_external.py).
MAGIC_312, MAGIC_311 = 3531, 3495


def _pyc(magic: int, flags: int, body: bytes = b"\0" * 100) -> bytes:
    return magic.to_bytes(2, "little") + b"\r\n" + flags.to_bytes(4, "little") + b"\0" * 8 + body


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def _codes(report: object) -> list[tuple[str, str, str]]:
    return [(f.code, f.path, f.severity) for f in report.findings]  # type: ignore[attr-defined]


@pytest.mark.parametrize("zipped", [False, True])
def test_another_pythons_bytecode_is_reported_with_its_bytes(tmp_path: Path, zipped: bool) -> None:
    root = _tree(
        tmp_path / "b",
        {
            "pkg/__init__.py": b"",
            "pkg/__pycache__/__init__.cpython-311.pyc": _pyc(MAGIC_311, 0),
            "pkg/__pycache__/mod.cpython-311.pyc": _pyc(MAGIC_311, 0),
            "pkg/__pycache__/ok.cpython-312.pyc": _pyc(MAGIC_312, 1),
            "pkg/__pycache__/wrong.cpython-312.pyc": _pyc(MAGIC_311, 1),  # 3.11 bytes, 3.12 name
        },
    )
    path: Path = root
    if zipped:
        path = tmp_path / "b.zip"
        with zipfile.ZipFile(path, "w") as zf:
            for p in sorted(root.rglob("*")):
                if p.is_file():
                    zf.write(p, p.relative_to(root).as_posix())
    report = audit(path, PY312)
    assert report.ok
    assert _codes(report) == [
        ("pyc-version", "pkg/__pycache__/__init__.cpython-311.pyc (+2 more files)", "warning")
    ]
    assert "3 files (348 B)" in report.findings[0].reason


def test_timestamp_pycs_are_reported_and_hash_based_ones_are_not(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "a/__pycache__/t.cpython-312.pyc": _pyc(MAGIC_312, 0),
            "a/__pycache__/u.cpython-312.pyc": _pyc(MAGIC_312, 1),  # unchecked hash
            "a/__pycache__/c.cpython-312.pyc": _pyc(MAGIC_312, 3),  # checked hash
        },
    )
    assert _codes(audit(root, PY312)) == [
        ("pyc-timestamp", "a/__pycache__/t.cpython-312.pyc", "warning")
    ]


def test_a_shared_layer_folder_may_hold_every_runtimes_bytecode(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "python/six.py": b"",
            "python/__pycache__/six.cpython-312.pyc": _pyc(MAGIC_312, 1),
            "python/__pycache__/six.cpython-313.pyc": _pyc(3571, 1),
            "python/__pycache__/six.cpython-38.pyc": _pyc(3413, 1),  # no Lambda runtime now
            "python/lib/python3.12/site-packages/__pycache__/m.cpython-313.pyc": _pyc(3571, 1),
        },
    )
    report = audit(root, PY312, kind="layer")
    # the 3.8 file and the 3.13 file in 3.12's own folder; not 3.12's or 3.13's shared ones
    assert _codes(report) == [
        ("pyc-version", "python/__pycache__/six.cpython-38.pyc (+1 more file)", "warning")
    ]
    assert "2 files" in report.findings[0].reason


def test_scripts_with_the_build_machines_python_are_reported(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "bin/tool": b"#!/home/me/project/.venv/bin/python3.11\nimport sys\n",
            "bin/portable": b"#!/usr/bin/env python3\nimport sys\n",
            "bin/shell": b"#!/bin/sh\necho hi\n",
        },
    )
    assert _codes(audit(root, PY312)) == [("script-shebang", "bin/tool", "warning")]
