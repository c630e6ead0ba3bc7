"""URL credentials: the one place that finds, strips and masks them; and what is a URL at all
(:func:`is_url`, :func:`is_remote_url`, :func:`has_drive`) rather than a path.

Every message, log line and fingerprint in the package passes URLs through here, so a secret in
``https://user:token@host/simple`` is handled by one set of rules:

* the userinfo is everything between ``scheme://`` and the **last** ``@`` before the first
  ``/``, ``?`` or ``#`` (an unescaped ``@`` inside a password is still a secret);
* a userinfo without ``:`` is a token (``https://TOKEN@host``), so it is masked whole;
* nothing here parses with :mod:`urllib.parse`: it raises on some malformed URLs (a bad IPv6
  literal), and a URL that fails to parse must not keep its secret.

Pure text functions, no imports from the package: every layer may use them.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Final

__all__ = [
    "QUOTE_LIMIT",
    "credentials",
    "has_drive",
    "is_remote_url",
    "is_url",
    "masked",
    "quoted",
    "redact_secrets",
    "redact_text",
    "redact_url",
    "replace_userinfo",
    "secret_of",
    "strip_credentials",
    "userinfo",
    "userinfo_in_text",
]

#: A scheme (RFC 3986 section 3.1) and ``://``: how every URL these patterns look for starts.
_SCHEME: Final = r"[A-Za-z][A-Za-z0-9+.\-]*://"
_SCHEME_RE: Final = re.compile(_SCHEME)
#: ``C:\`` or ``C:/``: a Windows path, even where it reads like a one-letter scheme.
_DRIVE_RE: Final = re.compile(r"[A-Za-z]:[\\/]")
#: ``scheme://`` then the authority (up to the path, query or fragment). Leading whitespace is
#: skipped (``urllib`` strips it too, so such a URL still reaches the network).
_NETLOC_RE: Final = re.compile(r"\s*(" + _SCHEME + r")([^/?#]*)")
#: A URL inside free-form text (a log line, a requirements file): up to whitespace or a quote.
_URL_IN_TEXT_RE: Final = re.compile(_SCHEME + r"[^\s'\"<>]+")
#: ``password = x``, ``api_key: x``, ``--token x``: a secret-looking key and its value.
_SECRET_VALUE_RE: Final = re.compile(
    r"(?i)((?:pass(?:word|wd)?|secret|token|api[_-]?key|access[_-]?key|credentials?|auth)"
    r"[\w.-]*[\"']?(?:\s*[=:]\s*|\s+))(?![=<>!~@;\[(])[^\s\"',;]+"
)
#: ``?token=x``, ``&X-Amz-Signature=x``: a URL query parameter named like a secret.
_SECRET_QUERY_RE: Final = re.compile(
    r"(?i)([?&][^=&#]*(?:pass|secret|token|key|auth|sig|credential)[^=&#]*=)[^&#\s]+"
)
#: AWS access key ids (``AKIA...``, ``ASIA...``).
_AWS_KEY_ID_RE: Final = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
#: How much of a line an error message quotes (:func:`masked`).
QUOTE_LIMIT: Final = 80
#: Known secrets shorter than this are not searched for in text: they would mask common words.
_MIN_SECRET: Final = 4


def is_url(text: str) -> bool:
    """``text`` starts with ``scheme://``: a URL, not a path."""
    return _SCHEME_RE.match(text) is not None


def is_remote_url(text: str) -> bool:
    """A URL whose scheme is not ``file:``: something fetched over the network."""
    return is_url(text) and not text.lower().startswith("file:")


def has_drive(text: str) -> bool:
    """``text`` starts with a Windows drive (``C:\\``, ``C:/``)."""
    return _DRIVE_RE.match(text) is not None


def replace_userinfo(url: str, new: Callable[[str], str | None]) -> str:
    """``url`` with its userinfo replaced by ``new(userinfo)`` (``None``: dropped with its
    ``@``). A URL without userinfo, or a text that is not a URL, is returned unchanged."""
    match = _NETLOC_RE.match(url)
    if match is None:
        return url
    userinfo, at, host = match.group(2).rpartition("@")
    if not at:
        return url
    replaced = new(userinfo)
    prefix = match.group(1) if replaced is None else f"{match.group(1)}{replaced}@"
    return f"{url[: match.start(1)]}{prefix}{host}{url[match.end() :]}"


def strip_credentials(url: str) -> str:
    """``url`` without its userinfo: ``https://user:tok@host/x`` -> ``https://host/x``."""
    return replace_userinfo(url, lambda _userinfo: None)


def _mask(userinfo: str) -> str:
    user, colon, _secret = userinfo.partition(":")
    return f"{user}:***" if colon else "***"


def redact_url(url: str) -> str:
    """Mask the password or token in a URL's userinfo, keeping the user name.

    ``https://user:tok@host/simple`` -> ``https://user:***@host/simple``;
    ``https://tok@host/simple`` -> ``https://***@host/simple`` (a lone userinfo is a token).
    Anything without userinfo, or that is not a URL, is returned unchanged. Never raises.
    """
    return replace_userinfo(url, _mask)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """:func:`redact_url` applied to every URL inside ``text`` (a line, a message, installer
    output), then every known ``secrets`` value (4 characters or more) masked wherever it
    appears."""
    text = _URL_IN_TEXT_RE.sub(lambda m: redact_url(m.group(0)), text)
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET:
            text = text.replace(secret, "***")
    return text


def userinfo_in_text(text: str, new: Callable[[str], str]) -> str:
    """:func:`replace_userinfo` for every URL inside ``text``."""
    return _URL_IN_TEXT_RE.sub(lambda m: replace_userinfo(m.group(0), new), text)


def userinfo(url: str) -> str | None:
    """A URL's userinfo as written (``user:pass``, ``token``), or ``None``."""
    match = _NETLOC_RE.match(url)
    if match is None:
        return None
    found, at, _host = match.group(2).rpartition("@")
    return found if at else None


def credentials(url: str) -> tuple[str, str] | None:
    """The ``(user, password)`` of a URL's userinfo, percent-decoded, or ``None``.

    ``https://us%40er:p%3Ass@host`` -> ``("us@er", "p:ss")``; a token alone
    (``https://tok@host``) -> ``("tok", "")``, as HTTP Basic auth sends it.
    """
    found = userinfo(url)
    if found is None:
        return None
    user, _colon, password = found.partition(":")
    return urllib.parse.unquote(user), urllib.parse.unquote(password)


def secret_of(url: str) -> str | None:
    """The secret part of a URL's userinfo as written (the password, else the lone token), so
    that text quoting it can be masked (:func:`redact_text`'s ``secrets``)."""
    found = userinfo(url)
    if found is None:
        return None
    user, colon, password = found.partition(":")
    return (password if colon else user) or None


def redact_secrets(text: str) -> str:
    """``text`` with URL credentials, secret-looking query parameters (``?token=x``),
    ``key=value`` pairs outside URLs (``password = x``) and AWS access key ids masked."""
    parts: list[str] = []
    start = 0
    for match in _URL_IN_TEXT_RE.finditer(text):
        parts.append(_SECRET_VALUE_RE.sub(r"\1***", text[start : match.start()]))
        parts.append(_SECRET_QUERY_RE.sub(r"\1***", redact_url(match.group(0))))
        start = match.end()
    parts.append(_SECRET_VALUE_RE.sub(r"\1***", text[start:]))
    return _AWS_KEY_ID_RE.sub("***", "".join(parts))


def masked(text: str, limit: int = QUOTE_LIMIT) -> str:
    """A line (or part of one) as an error message quotes it: :func:`redact_secrets`, cut at
    ``limit`` characters."""
    text = redact_secrets(text)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def quoted(text: str, limit: int = QUOTE_LIMIT) -> str:
    """:func:`masked`, in quotes (``repr``): how an error message cites a line of a file."""
    return repr(masked(text, limit))
