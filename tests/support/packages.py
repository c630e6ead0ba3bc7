"""Build tiny wheels and sdists for tests (a local find-links folder stands in for an index)."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def make_wheel(
    folder: Path,
    name: str,
    version: str = "1.0",
    tag: str = "py3-none-any",
    *,
    requires: Sequence[str] = (),
    files: Mapping[str, bytes] | None = None,
) -> Path:
    """A valid wheel with a module ``<name>/__init__.py`` (plus ``files``) and Requires-Dist."""
    dist = name.replace("-", "_")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{dist}-{version}-{tag}.whl"
    info = f"{dist}-{version}.dist-info"
    content: dict[str, bytes] = {f"{dist}/__init__.py": f"NAME = {name!r}\n".encode()}
    content.update(files or {})
    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    meta += [f"Requires-Dist: {r}" for r in requires]
    content[f"{info}/METADATA"] = ("\n".join(meta) + "\n").encode()
    pure = "true" if tag.endswith("-none-any") else "false"
    content[f"{info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: lambda-wheels-tests\nRoot-Is-Purelib: {pure}\nTag: {tag}\n"
    ).encode()
    content[f"{info}/top_level.txt"] = f"{dist}\n".encode()
    record = [_record_line(p, d) for p, d in content.items()] + [f"{info}/RECORD,,"]
    with zipfile.ZipFile(path, "w") as zf:
        for p, d in content.items():
            zf.writestr(p, d)
        zf.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return path


_C_SOURCE = b"""
#include <Python.h>
static PyObject *answer(PyObject *self, PyObject *args) { return PyLong_FromLong(42); }
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods};
PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&mod); }
"""


def make_sdist(
    folder: Path,
    name: str,
    version: str = "1.0",
    *,
    native: bool = False,
    c_source: bytes | None = None,
) -> Path:
    """An sdist built by setuptools: pure Python, or with a C extension ``<pkg>._native``.

    ``c_source`` replaces the extension's C code (it must define ``PyInit__native``).
    """
    dist = name.replace("-", "_")
    folder.mkdir(parents=True, exist_ok=True)
    root = f"{dist}-{version}"
    pyproject = (
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\n\n'
        f'[tool.setuptools]\npackages = ["{dist}"]\n'
    )
    content: dict[str, bytes] = {
        f"{root}/pyproject.toml": pyproject.encode(),
        f"{root}/{dist}/__init__.py": b"VALUE = 1\n",
        f"{root}/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
    }
    if native:
        content[f"{root}/{dist}/_native.c"] = c_source or _C_SOURCE
        content[f"{root}/setup.py"] = (
            "from setuptools import Extension, setup\n"
            f"setup(ext_modules=[Extension('{dist}._native', ['{dist}/_native.c'])])\n"
        ).encode()
    path = folder / f"{root}.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for p, d in sorted(content.items()):
            ti = tarfile.TarInfo(p)
            ti.size = len(d)
            ti.mtime = 1_700_000_000
            tf.addfile(ti, io.BytesIO(d))
    return path
