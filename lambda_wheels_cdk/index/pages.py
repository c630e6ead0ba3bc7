"""The simple-API page format: the files a page lists (:class:`IndexFile`), parsed from PEP 503
HTML or PEP 691 JSON and built on demand (:class:`ProjectPage`), and the pages the index view
renders back (with PEP 691 content negotiation).
"""

from __future__ import annotations

import functools
import html
import json
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from types import MappingProxyType
from typing import Any, Final, Literal, Union, cast

from packaging.utils import (
    NormalizedName,
    canonicalize_name,
)
from packaging.version import InvalidVersion, Version

from ..target.runtimes import DATACLASS_SLOTS
from .auth import CredentialStore, split_credentials

#: What we ask an index for: PEP 691 JSON, HTML as a fallback (PEP 691 "Version + Format
#: Selection").
ACCEPT_SIMPLE: Final = "application/vnd.pypi.simple.v1+json, text/html;q=0.1"

#: The PEP 691 JSON type the index view answers with.
JSON_TYPE: Final = "application/vnd.pypi.simple.v1+json"
_JSON_TYPES: Final = frozenset({JSON_TYPE, "application/vnd.pypi.simple.latest+json"})
_HTML_TYPES: Final = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "application/vnd.pypi.simple.v1+html",
        "application/vnd.pypi.simple.latest+html",
    }
)
#: What a client accepting HTML may send (PEP 691 content negotiation; the view's side).
_HTML_ACCEPTED: Final = frozenset(
    {
        "text/html",
        "application/vnd.pypi.simple.v1+html",
        "application/vnd.pypi.simple.latest+html",
        "*/*",
        "text/*",
    }
)

#: Source distribution suffixes that installers accept (uv and pip), longest first.
SDIST_SUFFIXES: Final[tuple[str, ...]] = (
    ".tar.gz",
    ".tar.bz2",
    ".tar.xz",
    ".tar.zst",
    ".zip",
    ".tgz",
    ".tbz",
    ".txz",
    ".tar",
)


FileKind = Literal["wheel", "sdist"]


# -- files ---------------------------------------------------------------------------------------


@dataclass(frozen=True, **DATACLASS_SLOTS)
class IndexFile:
    """One file an index or find-links location offers for a project.

    Attributes:
        filename: the file name (a wheel or an sdist), safe to use as a path component.
        url: absolute, credential-free URL without the hash fragment (``file:`` for local files).
        hashes: published digests, ``{"sha256": "..."}`` (may be empty).
        requires_python: the ``Requires-Python`` specifier the index published, if any.
        yanked: PEP 592 yanked flag.
        upload_time: ISO 8601 upload time (PEP 700), when the index says.
        yanked_reason: the reason given for yanking, if any.
        size: size in bytes (PEP 700), when known.
        core_metadata: PEP 658/714: ``False`` (none), ``True`` (available at
            :attr:`metadata_url`), or the metadata file's hashes.
        source: where the file was listed, credentials masked (for messages).
    """

    filename: str
    url: str
    hashes: Mapping[str, str] = field(default_factory=dict, hash=False)
    requires_python: str | None = None
    yanked: bool = False
    upload_time: str | None = None
    yanked_reason: str | None = None
    size: int | None = None
    core_metadata: Union[bool, Mapping[str, str]] = field(default=False, hash=False)
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hashes", MappingProxyType(dict(self.hashes)))
        if not isinstance(self.core_metadata, bool):
            object.__setattr__(self, "core_metadata", MappingProxyType(dict(self.core_metadata)))

    @property
    def kind(self) -> FileKind | None:
        """``"wheel"``, ``"sdist"``, or ``None`` for a name no installer would use."""
        parsed = parse_filename(self.filename)
        return parsed[2] if parsed else None

    @property
    def is_wheel(self) -> bool:
        return self.kind == "wheel"

    @property
    def is_sdist(self) -> bool:
        return self.kind == "sdist"

    @property
    def project(self) -> NormalizedName | None:
        parsed = parse_filename(self.filename)
        return parsed[0] if parsed else None

    @property
    def version(self) -> Version | None:
        parsed = parse_filename(self.filename)
        return parsed[1] if parsed else None

    @property
    def sha256(self) -> str | None:
        return self.hashes.get("sha256")

    @property
    def metadata_url(self) -> str | None:
        """Where the PEP 658 core metadata lives (``<url>.metadata``), if the index serves it."""
        return self.url + ".metadata" if self.core_metadata else None


@functools.lru_cache(maxsize=1 << 16)
def parse_filename(filename: str) -> tuple[NormalizedName, Version, FileKind] | None:
    """``(project, version, kind)`` of a wheel or sdist file name; ``None`` if it is neither.

    Only the name and version are read (tags are :class:`~.target.Target`'s business), so a
    page of thousands of files parses quickly.
    """
    kind: FileKind
    if filename.endswith(".whl"):
        parts = filename[:-4].split("-")
        if len(parts) not in (5, 6) or not all(parts):
            return None
        raw_name, version_text, kind = parts[0], parts[1], "wheel"
    else:
        lower = filename.lower()
        suffix = next((s for s in SDIST_SUFFIXES if lower.endswith(s)), None)
        if suffix is None:
            return None
        raw_name, sep, version_text = filename[: -len(suffix)].rpartition("-")
        if not sep or not raw_name:
            return None
        kind = "sdist"
    version = _version(version_text)
    if version is None:
        return None
    return _canonical(raw_name), version, kind


@functools.lru_cache(maxsize=1 << 14)
def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


@functools.lru_cache(maxsize=1 << 14)
def _canonical(name: str) -> NormalizedName:
    return canonicalize_name(name)


def safe_filename(name: str) -> bool:
    return (
        bool(name)
        and "/" not in name
        and "\\" not in name
        and not name.startswith(".")
        and "\x00" not in name
        and ":" not in name
    )


class PageFormatError(ValueError):
    """A page is neither PEP 503 HTML nor PEP 691 JSON (message says how; never a secret)."""


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


_Format = Literal["json", "html", "file"]


class ProjectPage:
    """The files one page lists, turned into :class:`IndexFile` on demand.

    A big project's page lists thousands of files of which a target can use a few; parsing
    keeps each entry as the page gave it (name, URL, attributes) and :meth:`files` builds only
    the ones asked for.
    """

    __slots__ = ("_entries", "_format", "source")

    def __init__(
        self, entries: list[tuple[str, str, Any]], page_format: _Format, source: str
    ) -> None:
        self._entries = entries
        self._format = page_format
        self.source = source

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def filenames(self) -> list[str]:
        return [entry[0] for entry in self._entries]

    def files(self, keep: Callable[[str], bool] | None = None) -> list[IndexFile]:
        """The files (all, or those whose file name ``keep`` accepts), in page order."""
        make = _MAKERS[self._format]
        return [
            make(filename, url, payload, self.source)
            for filename, url, payload in self._entries
            if keep is None or keep(filename)
        ]

    def only(self, project: str) -> ProjectPage:
        """The entries of ``project`` alone (an index page may list other projects' files)."""
        entries = [e for e in self._entries if (parse_filename(e[0]) or ("",))[0] == project]
        return ProjectPage(entries, self._format, self.source)

    def take_credentials(self, store: CredentialStore) -> bool:
        """Move the credentials of links into ``store``; whether there were any."""
        found = False
        for position, (filename, url, payload) in enumerate(self._entries):
            if "@" in url:
                clean, creds = split_credentials(url)
                if creds is not None:  # a link that carries its own secret: that file only
                    store.add(clean.partition("#")[0], creds, exact=True)
                    self._entries[position] = (filename, clean, payload)
                    found = True
        return found


def parse_page(
    body: bytes, content_type: str, page_url: str, *, source: str = ""
) -> list[IndexFile]:
    """Parse a simple-API project page or a find-links page into its files.

    JSON (PEP 691) when ``content_type`` says so, HTML (PEP 503) for the HTML types. Relative
    links are resolved against ``page_url`` (or the page's ``<base href>``); hash fragments
    become :attr:`IndexFile.hashes`. Links that are not wheels or sdists are skipped. A link
    that itself carries userinfo keeps it here (:meth:`ProjectPage.take_credentials` moves it).

    Raises:
        ValueError: (``PageFormatError``) the page is not a simple-API page.
    """
    return parse_project_page(body, content_type, page_url, source).files()


def parse_project_page(body: bytes, content_type: str, page_url: str, source: str) -> ProjectPage:
    """:func:`parse_page` as a :class:`ProjectPage` (files built on demand); raises
    :class:`PageFormatError`."""
    media = _media_type(content_type)
    if media in _JSON_TYPES:
        return ProjectPage(_parse_json(body, page_url), "json", source)
    if media in _HTML_TYPES or media == "":
        return ProjectPage(_parse_html(body, content_type, page_url), "html", source)
    raise PageFormatError(f"Content-Type {media!r}")


def _absolute(base: str, href: str) -> str:
    if href.startswith(("https://", "http://")):
        return href  # the common case (PyPI): urljoin is the slowest step of a big page
    return urllib.parse.urljoin(base, href)


def _split_fragment(url: str) -> tuple[str, dict[str, str]]:
    if "#" not in url:
        return url, {}
    base, _, fragment = url.partition("#")
    hashes: dict[str, str] = {}
    if fragment:
        algorithm, sep, value = fragment.partition("=")
        if sep and algorithm and value and re.fullmatch(r"[0-9A-Fa-f]+", value):
            hashes[algorithm.lower()] = value.lower()
    return base, hashes


def _filename_of(url: str) -> str | None:
    path = url.split("?", 1)[0]
    name = path.rsplit("/", 1)[-1]
    if "%" in name:
        name = urllib.parse.unquote(name)
    if not safe_filename(name) or parse_filename(name) is None:
        return None
    return name


def _metadata_flag(value: object) -> Union[bool, Mapping[str, str]]:
    if isinstance(value, bool):
        return value
    if isinstance(value, dict):
        hashes = {str(k).lower(): str(v) for k, v in value.items() if isinstance(v, str)}
        return hashes or True
    if isinstance(value, str):
        text = value.strip()
        if not text or text.lower() == "false":
            return False
        if text.lower() == "true":
            return True
        algorithm, sep, digest = text.partition("=")
        return {algorithm.lower(): digest} if sep else True
    return False


class _AnchorParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.version: str | None = None
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            values = dict(attrs)
            if values.get("href"):
                self.anchors.append(values)
        elif tag == "base" and self.base is None:
            self.base = dict(attrs).get("href") or None
        elif tag == "meta":
            values = dict(attrs)
            if values.get("name") == "pypi:repository-version":
                self.version = values.get("content")


def _check_api_version(version: str, where: str) -> None:
    major = version.split(".", 1)[0]
    if major != "1":
        raise PageFormatError(f"{where} {version!r} is not supported (only 1.x)")


def _parse_html(body: bytes, content_type: str, page_url: str) -> list[tuple[str, str, Any]]:
    match = re.search(r"charset=([\w.:-]+)", content_type, re.IGNORECASE)
    charset = match.group(1) if match else "utf-8"
    try:
        text = body.decode(charset, errors="replace")
    except LookupError:
        text = body.decode("utf-8", errors="replace")
    if "<" not in text:
        raise PageFormatError("the body is not HTML")
    parser = _AnchorParser()
    parser.feed(text)
    parser.close()
    if parser.version:
        _check_api_version(parser.version, "pypi:repository-version")
    base = urllib.parse.urljoin(page_url, parser.base) if parser.base else page_url
    entries: list[tuple[str, str, Any]] = []
    for values in parser.anchors:
        url = _absolute(base, (values.get("href") or "").strip())
        filename = _filename_of(url.partition("#")[0])
        if filename is not None:
            entries.append((filename, url, values))
    return entries


def _html_file(filename: str, url: str, values: Any, source: str) -> IndexFile:
    clean, hashes = _split_fragment(url)
    yanked = "data-yanked" in values
    metadata = values.get("data-core-metadata")
    if metadata is None:
        metadata = values.get("data-dist-info-metadata")
    return IndexFile(
        filename,
        clean,
        hashes,
        requires_python=(values.get("data-requires-python") or "").strip() or None,
        yanked=yanked,
        yanked_reason=(values.get("data-yanked") or None) if yanked else None,
        core_metadata=_metadata_flag(metadata),
        source=source,
    )


def _parse_json(body: bytes, page_url: str) -> list[tuple[str, str, Any]]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PageFormatError("the body is not valid JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise PageFormatError("the JSON has no 'files' list")
    meta = data.get("meta")
    if isinstance(meta, dict) and isinstance(meta.get("api-version"), str):
        _check_api_version(meta["api-version"], "api-version")
    entries: list[tuple[str, str, Any]] = []
    for entry in data["files"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise PageFormatError("a file entry has no 'url'")
        filename = entry.get("filename")
        if isinstance(filename, str) and safe_filename(filename) and parse_filename(filename):
            entries.append((filename, _absolute(page_url, entry["url"]), entry))
    return entries


def _json_file(filename: str, url: str, entry: Any, source: str) -> IndexFile:
    clean, hashes = _split_fragment(url)
    raw_hashes = entry.get("hashes")
    if isinstance(raw_hashes, dict):
        hashes.update(
            {str(k).lower(): v.lower() for k, v in raw_hashes.items() if isinstance(v, str)}
        )
    requires_python = entry.get("requires-python")
    yanked = entry.get("yanked", False)
    metadata = entry.get("core-metadata")
    if metadata is None:
        metadata = entry.get("data-dist-info-metadata", entry.get("dist-info-metadata"))
    size = entry.get("size")
    upload_time = entry.get("upload-time")
    return IndexFile(
        filename,
        clean,
        hashes,
        requires_python=(
            requires_python.strip() or None if isinstance(requires_python, str) else None
        ),
        yanked=bool(yanked),
        upload_time=upload_time if isinstance(upload_time, str) else None,
        yanked_reason=yanked if isinstance(yanked, str) and yanked else None,
        size=size if isinstance(size, int) and not isinstance(size, bool) else None,
        core_metadata=_metadata_flag(metadata),
        source=source,
    )


def _ready_file(filename: str, url: str, file: Any, source: str) -> IndexFile:
    return cast("IndexFile", file)


_MAKERS: Final[Mapping[_Format, Callable[[str, str, Any, str], IndexFile]]] = MappingProxyType(
    {"json": _json_file, "html": _html_file, "file": _ready_file}
)


# -- rendering (what the index view serves) --------------------------------------------------------


def wants_json(accept: str | None) -> bool:
    """PEP 691 content negotiation: JSON when the client ranks it at least as high as HTML."""
    if not accept:
        return False
    best_json = best_html = 0.0
    for item in accept.split(","):
        media, *params = (p.strip() for p in item.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        if media in _JSON_TYPES:
            best_json = max(best_json, quality)
        elif media in _HTML_ACCEPTED:
            best_html = max(best_html, quality)
    return best_json > 0 and best_json >= best_html


def render_json(project: str, files: list[IndexFile]) -> bytes:
    """A PEP 691 JSON project page listing ``files`` (API 1.1 when every size is known)."""
    entries: list[dict[str, Any]] = []
    for file in files:
        entry: dict[str, Any] = {
            "filename": file.filename,
            "url": file.url,
            "hashes": dict(file.hashes),
        }
        if file.requires_python:
            entry["requires-python"] = file.requires_python
        if file.yanked:
            entry["yanked"] = file.yanked_reason or True
        if file.core_metadata:
            metadata = file.core_metadata
            entry["core-metadata"] = metadata if isinstance(metadata, bool) else dict(metadata)
        if file.size is not None:
            entry["size"] = file.size
        if file.upload_time:
            entry["upload-time"] = file.upload_time
        entries.append(entry)
    complete = all(file.size is not None for file in files)
    page: dict[str, Any] = {
        "meta": {"api-version": "1.1" if complete else "1.0"},
        "name": project,
        "files": entries,
    }
    if complete:  # PEP 700: 1.1 requires "versions" and every file's "size"
        versions = {file.version for file in files if file.version is not None}
        page["versions"] = [str(v) for v in sorted(v for v in versions if v is not None)]
    return json.dumps(page, separators=(",", ":")).encode()


def render_html(project: str | None, files: list[IndexFile]) -> bytes:
    """A PEP 503 HTML page listing ``files`` (a project page, or find-links when ``project`` is
    ``None``)."""
    title = f"Links for {html.escape(project)}" if project else "Links"
    lines = [
        "<!DOCTYPE html>",
        "<html><head>",
        '<meta name="pypi:repository-version" content="1.0">',
        f"<title>{title}</title></head><body><h1>{title}</h1>",
    ]
    for file in files:
        href = file.url
        algorithm = "sha256" if "sha256" in file.hashes else next(iter(file.hashes), None)
        if algorithm:
            href += f"#{algorithm}={file.hashes[algorithm]}"
        attrs = [f'href="{html.escape(href, quote=True)}"']
        if file.requires_python:
            attrs.append(f'data-requires-python="{html.escape(file.requires_python, quote=True)}"')
        if file.yanked:
            attrs.append(f'data-yanked="{html.escape(file.yanked_reason or "", quote=True)}"')
        metadata = file.core_metadata
        if metadata:
            if isinstance(metadata, bool):
                value = "true"
            else:
                name = "sha256" if "sha256" in metadata else next(iter(metadata))
                value = f"{name}={metadata[name]}"
            attrs.append(f'data-core-metadata="{html.escape(value, quote=True)}"')
        lines.append(f"<a {' '.join(attrs)}>{html.escape(file.filename)}</a><br/>")
    lines.append("</body></html>")
    return ("\n".join(lines) + "\n").encode()


__all__ = [
    "ACCEPT_SIMPLE",
    "JSON_TYPE",
    "SDIST_SUFFIXES",
    "FileKind",
    "IndexFile",
    "PageFormatError",
    "ProjectPage",
    "parse_filename",
    "parse_page",
    "parse_project_page",
    "render_html",
    "render_json",
    "safe_filename",
    "wants_json",
]
