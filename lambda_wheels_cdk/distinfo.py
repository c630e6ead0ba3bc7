"""The one reader of installed ``*.dist-info`` folders: ``RECORD`` rows and ``METADATA`` headers.

``RECORD`` is CSV (PEP 376, and the wheel spec's "RECORD is a CSV file"): a path holding a comma
is quoted (``"pkg/a,b.py",sha256=...,12``), so it is read with :mod:`csv`, never split on the
first comma. ``METADATA`` is an email-style header block (core metadata); only the headers are
read. Both are read as UTF-8 with bad bytes replaced: one broken file must not stop a build.
The zip-reading audit (:mod:`.audit.collect`) uses :func:`record_paths` on text it read itself.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path


def record_rows(text: str) -> list[list[str]]:
    """The rows of a ``RECORD`` text (blank lines skipped), up to the first row :mod:`csv`
    cannot read (a field over its size limit): a wheel's broken RECORD never stops a build
    or an audit, its later rows are only left unread."""
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(text))
    while True:
        try:
            row = next(reader)
        except (StopIteration, csv.Error):
            return rows
        if row and row[0]:
            rows.append(row)


def record_paths(text: str) -> list[str]:
    """The paths a ``RECORD`` text lists, as written (relative, ``/``-separated)."""
    return [row[0] for row in record_rows(text)]


def record_line(row: Sequence[str]) -> str:
    """One ``RECORD`` row as CSV text, without the line end (quotes only where needed)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(row)
    return out.getvalue()


def read_record(info: Path) -> list[str] | None:
    """The paths in ``info/RECORD``; ``None`` when it has none or it cannot be read."""
    try:
        text = (info / "RECORD").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return record_paths(text)


def read_metadata(info: Path) -> Message | None:
    """The headers of ``info/METADATA``; ``None`` when it has none or it cannot be read."""
    try:
        text = (info / "METADATA").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return HeaderParser().parsestr(text)


def dist_infos(root: Path) -> Iterable[Path]:
    """The ``*.dist-info`` folders directly under ``root``, sorted by name."""
    return sorted(p for p in root.glob("*.dist-info") if p.is_dir())


__all__ = [
    "dist_infos",
    "read_metadata",
    "read_record",
    "record_line",
    "record_paths",
    "record_rows",
]
