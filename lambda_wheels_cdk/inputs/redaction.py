"""Masking credentials in URLs and texts for messages, and dropping them for fingerprints.

(To be folded into the package-wide ``lambda_wheels_cdk/urls.py``.)
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["redact_text", "redact_url"]

_URL_IN_TEXT_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")
_NETLOC_RE: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://)([^/?#\s]*)")


def redact_url(url: str) -> str:
    """Mask the password or token in a URL's userinfo, keeping the user name.

    ``https://user:tok@host/simple`` -> ``https://user:***@host/simple``;
    ``https://tok@host/simple`` -> ``https://***@host/simple`` (a lone userinfo is treated as a
    token). Anything without userinfo, or that is not a URL, is returned unchanged. Never
    raises.
    """
    match = _NETLOC_RE.match(url)
    if match is None:
        return url
    userinfo, at, host = match.group(2).rpartition("@")
    if not at:
        return url
    user, colon, _secret = userinfo.partition(":")
    masked = f"{user}:***" if colon else "***"
    return f"{match.group(1)}{masked}@{host}{url[match.end() :]}"


def redact_text(text: str) -> str:
    """Apply :func:`redact_url` to every URL inside a free-form text (a line, a message)."""
    return _URL_IN_TEXT_RE.sub(lambda m: redact_url(m.group(0)), text)


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
#: How much of a line an error message quotes.
_QUOTE_LIMIT: Final = 80


def _masked(text: str) -> str:
    """A line (or part of one) as an error message shows it: URL credentials and secret-looking
    query parameters, ``key=value`` pairs outside URLs and AWS key ids masked, cut at
    :data:`_QUOTE_LIMIT` characters."""
    parts: list[str] = []
    start = 0
    for match in _URL_IN_TEXT_RE.finditer(text):
        parts.append(_SECRET_VALUE_RE.sub(r"\1***", text[start : match.start()]))
        parts.append(_SECRET_QUERY_RE.sub(r"\1***", redact_url(match.group(0))))
        start = match.end()
    parts.append(_SECRET_VALUE_RE.sub(r"\1***", text[start:]))
    text = _AWS_KEY_ID_RE.sub("***", "".join(parts))
    if len(text) > _QUOTE_LIMIT:
        text = text[: _QUOTE_LIMIT - 3] + "..."
    return text


def _quoted(text: str) -> str:
    """:func:`_masked`, in quotes."""
    return repr(_masked(text))


def _strip_credentials(url: str) -> str:
    """Drop a URL's userinfo entirely (what the fingerprint sees)."""
    match = _NETLOC_RE.match(url)
    if match is None:
        return url
    _userinfo, at, host = match.group(2).rpartition("@")
    if not at:
        return url
    return f"{match.group(1)}{host}{url[match.end() :]}"
