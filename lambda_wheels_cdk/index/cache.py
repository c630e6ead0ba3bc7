"""The page cache: project pages kept on disk across processes, reused as HTTP caching allows
(RFC 9111, as a private cache).

Fresh for ``Cache-Control: max-age`` (else ``s-maxage``) minus ``Age``, then revalidated with
``If-None-Match``/``If-Modified-Since`` (a 304 reuses the stored body); ``no-cache`` means
revalidate on every use, ``no-store`` is never written. Only credential-free http(s) pages are
cached: a page fetched with credentials (URL userinfo, netrc, on any redirect hop) is never read
from or written to disk, and local pages are read directly. Writes are atomic (temporary file +
``os.replace``), and a damaged entry is a miss. The full rules are in the comment below.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from ..target.runtimes import DATACLASS_SLOTS
from .http import Page
from .pages import ACCEPT_SIMPLE

_log = logging.getLogger(__name__)

# -- the page cache ------------------------------------------------------------------------------
#
# Project pages kept on disk across processes, reused as HTTP caching allows (RFC 9111, for a
# private cache). The rules, in the order they are applied:
#
# * Only credential-free http(s) pages: a URL with credentials (userinfo, netrc, one host-wide
#   secret) is neither read from nor written to the cache, nor is a page fetched with credentials
#   on any redirect hop, nor a page whose links carry their own userinfo. Local pages (``file:``
#   indexes, find-links folders and HTML files) are read directly and never cached.
# * Key: sha256 of the format version, the ``Accept`` header sent and the credential-free URL.
# * ``Cache-Control: no-store`` or ``Vary: *``: not stored (an older entry is removed).
# * Fresh for ``max-age`` (else ``s-maxage``) seconds after it was received, minus ``Age``.
#   ``no-cache``, ``max-age=0``, an invalid ``max-age`` or no lifetime at all: stale at once.
#   ``Expires`` and heuristic freshness are not used (stale is the safe side).
# * Stored only when it can be reused: fresh for a while, or with a validator (``ETag``,
#   ``Last-Modified``). A stale entry with a validator is revalidated (``If-None-Match``,
#   ``If-Modified-Since``); a 304 reuses the stored body and its headers refresh the entry. A
#   stale entry without one is fetched again. A stale entry is never served, even on errors.
# * ``private`` and ``public`` change nothing: this is a private cache and credentialed pages
#   are never stored. 404/410 is not cached (and removes an entry); errors leave it in place.
# * Files are written whole under a temporary name in the same folder and renamed
#   (``os.replace``): readers in other processes see the old entry or the new one. An entry that
#   does not check out (format, URL, size, sha256 of the body, parse) is a miss and is removed.
#   Failing to write is logged and ignored. Nothing is evicted: delete the folder at any time.

_PAGE_CACHE_FORMAT: Final = 1
_LIST_ELEMENT = re.compile(r'(?:[^,"]|"(?:[^"\\]|\\.)*"?)+')  # commas inside quotes kept
_STORED_HEADERS: Final[tuple[str, ...]] = ("cache-control", "etag", "last-modified", "vary")


def _cache_directives(value: str) -> dict[str, str]:
    """``Cache-Control`` directives: lower-case name -> value (unquoted; ``""`` if none).

    A directive given twice keeps its first value (RFC 9111 section 4.2.1). In a malformed
    element the first word counts (``no-store junk`` is ``no-store``): the safe reading.
    """
    directives: dict[str, str] = {}
    for element in _LIST_ELEMENT.findall(value):
        name, _, raw = element.partition("=")
        words = name.split()
        if not words:
            continue
        raw = raw.strip()
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        directives.setdefault(words[0].lower(), raw)
    return directives


def _delta_seconds(value: str) -> int:
    """An RFC 9111 delta-seconds value (at most 2**31); ``0`` when it is not one."""
    value = value.strip()
    return min(int(value), 2**31) if value.isascii() and value.isdigit() else 0


def freshness(headers: Mapping[str, str]) -> float | None:
    """How long a response with these :data:`CACHING_HEADERS` stays fresh, in seconds from
    its receipt (``0``: revalidate on every use), or ``None`` when it must not be stored."""
    directives = _cache_directives(headers.get("cache-control", ""))
    vary = {item.strip() for item in headers.get("vary", "").split(",")}
    if "no-store" in directives or "*" in vary:
        return None
    if "no-cache" in directives:
        lifetime = 0
    elif "max-age" in directives:
        lifetime = _delta_seconds(directives["max-age"])
    elif "s-maxage" in directives:
        lifetime = _delta_seconds(directives["s-maxage"])
    else:
        lifetime = 0
    age = _delta_seconds(headers.get("age", "0").split(",", 1)[0])  # invalid: ignored
    remaining = max(0, lifetime - age)
    if remaining == 0 and not (headers.get("etag") or headers.get("last-modified")):
        return None  # it could never be reused
    return remaining


@dataclass(frozen=True, **DATACLASS_SLOTS)
class CachedPage:
    """A stored page: the decoded body and what is needed to parse and revalidate it."""

    url: str  # the URL requested (credential-free)
    final_url: str  # after redirects: relative links resolve against it
    content_type: str
    headers: Mapping[str, str]  # the _STORED_HEADERS the response had
    stored_at: float  # wall clock, seconds
    fresh_until: float
    body: bytes = field(repr=False)

    @classmethod
    def received(cls, url: str, page: Page, now: float) -> CachedPage | None:
        """The entry for a 200 response to ``url`` at ``now``; ``None`` if it is not storable."""
        lifetime = freshness(page.headers)
        if lifetime is None:
            return None
        kept = {name: page.headers[name] for name in _STORED_HEADERS if name in page.headers}
        return cls(url, page.url, page.content_type, kept, now, now + lifetime, page.body)

    def is_fresh(self, now: float) -> bool:
        """Usable without a request (a clock that went backwards makes it stale)."""
        return self.stored_at <= now < self.fresh_until

    def validators(self) -> dict[str, str]:
        """The conditional request headers for this entry (empty if it has no validator)."""
        conditions: dict[str, str] = {}
        if "etag" in self.headers:
            conditions["If-None-Match"] = self.headers["etag"]
        if "last-modified" in self.headers:
            conditions["If-Modified-Since"] = self.headers["last-modified"]
        return conditions

    def revalidated(self, not_modified: Page, now: float) -> CachedPage | None:
        """This entry updated by a 304 answer (its headers replace the stored ones, RFC 9111
        section 4.3.4); ``None`` if the merged headers forbid storing it."""
        merged = {**self.headers, **not_modified.headers}
        lifetime = freshness(merged)
        if lifetime is None:
            return None
        kept = {name: merged[name] for name in _STORED_HEADERS if name in merged}
        return CachedPage(
            self.url, self.final_url, self.content_type, kept, now, now + lifetime, self.body
        )


class PageCache:
    """:class:`CachedPage` entries as files in one folder; safe across threads and processes.

    Each file is one JSON line (the entry's fields, the body's size and sha256) followed by the
    body. See the rules above.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, url: str) -> Path:
        key = f"{_PAGE_CACHE_FORMAT}\0{ACCEPT_SIMPLE}\0{url}"
        return self.folder / (hashlib.sha256(key.encode()).hexdigest() + ".page")

    def load(self, url: str) -> CachedPage | None:
        """The entry for ``url``, or ``None`` (missing, or removed because it is damaged)."""
        path = self._path(url)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        try:
            return self._decode(url, data)
        except (ValueError, TypeError, KeyError):
            _log.debug("page cache: discarding the damaged entry for %s", url)
            self._remove(path)
            return None

    @staticmethod
    def _decode(url: str, data: bytes) -> CachedPage:
        head, newline, body = data.partition(b"\n")
        meta = json.loads(head)
        if not newline or not isinstance(meta, dict):
            raise ValueError("no header line")
        strings = ("url", "final_url", "content_type", "sha256")
        numbers = ("stored_at", "fresh_until")
        headers = meta["headers"]
        if (
            meta["format"] != _PAGE_CACHE_FORMAT
            or meta["url"] != url
            or not all(isinstance(meta[name], str) for name in strings)
            or not all(
                isinstance(meta[name], (int, float)) and not isinstance(meta[name], bool)
                for name in numbers
            )
            or not isinstance(headers, dict)
            or not all(
                name in _STORED_HEADERS and isinstance(value, str)
                for name, value in headers.items()
            )
            or meta["size"] != len(body)
            or meta["sha256"] != hashlib.sha256(body).hexdigest()
        ):
            raise ValueError("the entry does not check out")
        return CachedPage(
            url,
            meta["final_url"],
            meta["content_type"],
            dict(headers),
            float(meta["stored_at"]),
            float(meta["fresh_until"]),
            body,
        )

    def save(self, entry: CachedPage) -> None:
        """Write ``entry`` atomically; failures are logged and ignored."""
        path = self._path(entry.url)
        meta = {
            "format": _PAGE_CACHE_FORMAT,
            "url": entry.url,
            "final_url": entry.final_url,
            "content_type": entry.content_type,
            "headers": dict(entry.headers),
            "stored_at": entry.stored_at,
            "fresh_until": entry.fresh_until,
            "size": len(entry.body),
            "sha256": hashlib.sha256(entry.body).hexdigest(),
        }
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with partial.open("wb") as out:
                out.write(json.dumps(meta).encode() + b"\n")
                out.write(entry.body)
            os.replace(partial, path)  # Windows: fails if a reader holds the file; skipped
        except OSError as exc:
            _log.debug(
                "page cache: not storing %s: %s", entry.url, exc.strerror or type(exc).__name__
            )
            self._remove(partial)

    def discard(self, url: str) -> None:
        """Remove the entry for ``url``, if any."""
        self._remove(self._path(url))

    @staticmethod
    def _remove(path: Path) -> None:
        with contextlib.suppress(OSError):
            path.unlink()


__all__ = [
    "CachedPage",
    "PageCache",
    "freshness",
]
