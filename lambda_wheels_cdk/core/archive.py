"""Deterministic zips of bundles, for people who deploy without CDK (SAM, Terraform, the CLI).

``lambda-wheels build --zip OUT.zip`` writes the bundle as one zip whose bytes depend only on
its files: entries sorted by name, every date 1980-01-01 (the earliest a zip can hold, and what
the CDK CLI uses), Unix modes that Lambda honours (``0644``, or ``0755`` for files with an
execute bit), no folder entries, no extra fields. Terraform's ``source_code_hash`` and SAM's
package hash then change only when the content does. (The compressed bytes come from zlib: the
same zlib gives the same zip; the files inside are the same whatever zlib does.)

The zip carries :data:`COMMENT`, so a later build knows the file at OUT is one it wrote and may
replace it; any other file is refused unless ``--force``.
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path
from typing import Final

from ..errors import UsageError
from . import tree

#: Written into every zip a build makes (the zip comment): the mark of a zip we may replace.
COMMENT: Final = b"lambda-wheels bundle"
ZIP_DATE: Final = (1980, 1, 1, 0, 0, 0)
#: Files a folder output holds that a zip leaves out (the output folder's marker).
LEFT_OUT: Final = frozenset({".lambda-wheels-output"})


def check_zip_output(dest: Path, *, force: bool = False) -> None:
    """Refuse a ``--zip`` path a build must not write (nothing is written).

    Raises:
        UsageError: not a ``.zip`` name; a folder, a link or another kind of file is there; or
            a file lambda-wheels did not write (without ``force``).
    """
    shown = str(dest)
    if dest.suffix.lower() != ".zip":
        raise UsageError(f"--zip {shown}: name the zip file to write, ending in .zip")
    if not os.path.lexists(dest):
        return
    st = os.lstat(dest)
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(
            f"--zip {shown} exists and is not a regular file; choose a new path for the zip"
        )
    if force:
        return
    try:
        with zipfile.ZipFile(dest) as existing:
            ours = existing.comment == COMMENT
    except (zipfile.BadZipFile, OSError):
        ours = False
    if not ours:
        raise UsageError(
            f"--zip {shown} exists and lambda-wheels did not write it; choose a new path, or "
            "pass --force to replace it"
        )


def write_zip(folder: Path, dest: Path) -> int:
    """Write every file of ``folder`` to the zip ``dest`` (replaced atomically); its size.

    Raises:
        OSError: the disk failed (the old ``dest``, if any, is left as it was).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.lw-{os.getpid()}.tmp"
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            zf.comment = COMMENT
            for rel, path in sorted(tree.iter_files(folder)):
                if rel in LEFT_OUT:
                    continue
                mode = path.stat().st_mode
                info = zipfile.ZipInfo(rel, ZIP_DATE)
                info.create_system = 3  # Unix: the modes below are honoured when unpacked
                info.external_attr = (stat.S_IFREG | tree.bundle_mode(mode)) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                with open(path, "rb") as src, zf.open(info, "w") as out:
                    while chunk := src.read(1 << 20):
                        out.write(chunk)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()
    return dest.stat().st_size


__all__ = ["COMMENT", "check_zip_output", "write_zip"]
