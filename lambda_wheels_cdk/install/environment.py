"""What of the build host's configuration may reach an install, and what may not.

A bundle must not be silently shaped by the machine that builds it. The installers (uv, pip)
run in a child environment made here:

* **Never honoured**: pip and uv configuration *files* (``pip.conf``, ``/etc/xdg/pip``,
  ``uv.toml``, ``[tool.uv]``) and every ``PIP_*`` / ``UV_*`` variable that changes what gets
  installed (find-links, constraints, no-binary, pre-releases, index strategy, ...). Their
  *names* (never values) are reported so that the user sees what was ignored.
* **Honoured as index settings** (explicitly configured by the user's environment, typically
  CI secrets): ``PIP_INDEX_URL``, ``PIP_EXTRA_INDEX_URL``, ``UV_DEFAULT_INDEX``,
  ``UV_INDEX_URL``, ``UV_INDEX``, ``UV_EXTRA_INDEX_URL``. They are read once, merged below the
  settings passed explicitly to the builder and those in the requirements file, and passed to
  the installer again by us; their credentials are redacted everywhere we print them and left
  out of every fingerprint.
* **Passed through unchanged** because they do not change which files are installed:
  credentials (``UV_INDEX_<NAME>_USERNAME`` / ``_PASSWORD``, ``~/.netrc`` / ``NETRC``), TLS
  trust (``SSL_CERT_FILE``, ``SSL_CERT_DIR``, ``PIP_CERT``, ``UV_NATIVE_TLS``), proxies, caches
  (``UV_CACHE_DIR``, ``PIP_CACHE_DIR``) and timeouts.
* **Colour is always off** in the child (``NO_COLOR=1``, ``PIP_NO_COLOR=1``; ``FORCE_COLOR``,
  ``CLICOLOR_FORCE`` and the like removed): CI systems, shells and the CDK CLI force colour
  through the environment, and an installer's output is captured, quoted in errors and, for
  resolver failures, read (uv has no machine-readable form for those).

Pure apart from reading the ``environ`` mapping it is given.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from ..target.runtimes import DATACLASS_SLOTS

#: Index variables we honour, as (variable, role). Order = precedence within the environment.
INDEX_VARIABLES: Final[tuple[tuple[str, str], ...]] = (
    ("UV_DEFAULT_INDEX", "index_url"),
    ("UV_INDEX_URL", "index_url"),
    ("PIP_INDEX_URL", "index_url"),
    ("UV_INDEX", "extra"),
    ("UV_EXTRA_INDEX_URL", "extra"),
    ("PIP_EXTRA_INDEX_URL", "extra"),
)

#: PIP_*/UV_* variables that do not change which files are installed: passed through.
_PASSTHROUGH: Final[frozenset[str]] = frozenset(
    {
        "UV_CACHE_DIR",
        "UV_NATIVE_TLS",
        "UV_HTTP_TIMEOUT",
        "UV_REQUEST_TIMEOUT",
        "UV_HTTP_RETRIES",
        "UV_CONCURRENT_DOWNLOADS",
        "UV_CONCURRENT_BUILDS",
        "UV_CONCURRENT_INSTALLS",
        "UV_INSECURE_HOST",
        "UV_OFFLINE",
        "PIP_CERT",
        "PIP_CLIENT_CERT",
        "PIP_CACHE_DIR",
        "PIP_DEFAULT_TIMEOUT",
        "PIP_TIMEOUT",
        "PIP_RETRIES",
        "PIP_TRUSTED_HOST",
        "PIP_PROXY",
        "PIP_DISABLE_PIP_VERSION_CHECK",
        "PIP_NO_INPUT",
        "PIP_PROGRESS_BAR",
        "PIP_NO_COLOR",
        "UV_NO_PROGRESS",
    }
)
_CREDENTIAL_VARIABLE = re.compile(r"^UV_INDEX_[A-Z0-9_]+_(USERNAME|PASSWORD)$")

#: Interpreter variables that would leak the host's Python setup into a build.
_PYTHON_VARIABLES: Final[frozenset[str]] = frozenset(
    {"PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE", "PYTHONSTARTUP", "VIRTUAL_ENV", "CONDA_PREFIX"}
)

#: Variables that force colour (uv reads ``FORCE_COLOR`` set to anything, ``0`` included, as
#: "always"; rich, which pip uses, reads ``FORCE_COLOR`` and ``TTY_COMPATIBLE``): never passed on.
_COLOUR_VARIABLES: Final[frozenset[str]] = frozenset(
    {"FORCE_COLOR", "CLICOLOR_FORCE", "CLICOLOR", "PY_COLORS", "TTY_COMPATIBLE"}
)

#: What we set for every installer run.
_FORCED: Final[Mapping[str, str]] = {
    "UV_NO_CONFIG": "1",  # no uv.toml / pyproject [tool.uv] discovery
    "UV_PYTHON_DOWNLOADS": "never",  # never fetch an interpreter behind the user's back
    "UV_NO_PROGRESS": "1",
    "PIP_CONFIG_FILE": os.devnull,  # pip: "os.devnull" disables every config file
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "PIP_NO_INPUT": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONNOUSERSITE": "1",
    "NO_COLOR": "1",  # https://no-color.org: uv, rich (pip) and most tools honour it
    "PIP_NO_COLOR": "1",
}


@dataclass(frozen=True, **DATACLASS_SLOTS)
class HostIndexes:
    """Index settings found in the environment (values may hold credentials: never print)."""

    index_url: str | None
    extra_index_urls: tuple[str, ...]
    sources: tuple[str, ...]  # the variable names they came from


def index_settings_from_env(environ: Mapping[str, str]) -> HostIndexes:
    """Read the honoured index variables (see module docstring)."""
    index_url: str | None = None
    extras: list[str] = []
    sources: list[str] = []
    for name, role in INDEX_VARIABLES:
        value = environ.get(name, "").strip()
        if not value:
            continue
        sources.append(name)
        if role == "index_url":
            if index_url is None:
                index_url = value
        else:
            for url in value.split():
                if url not in extras:
                    extras.append(url)
    return HostIndexes(index_url, tuple(extras), tuple(sources))


def ignored_variables(environ: Mapping[str, str]) -> tuple[str, ...]:
    """Names of host PIP_*/UV_* variables that will not reach the installer."""
    honoured = {name for name, _ in INDEX_VARIABLES}
    return tuple(
        sorted(
            name
            for name in environ
            if name.startswith(("PIP_", "UV_"))
            and name not in honoured
            and name not in _PASSTHROUGH
            and not _CREDENTIAL_VARIABLE.match(name)
        )
    )


def installer_environment(
    environ: Mapping[str, str], extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment for an installer child process: the host's, minus what shapes installs.

    Args:
        environ: the host environment (``os.environ``).
        extra: variables the caller sets on purpose (index settings, cache dirs); win over all.
    """
    env = {
        key: value
        for key, value in environ.items()
        if key not in _PYTHON_VARIABLES
        and key not in _COLOUR_VARIABLES
        and (
            not key.startswith(("PIP_", "UV_"))
            or key in _PASSTHROUGH
            or _CREDENTIAL_VARIABLE.match(key) is not None
        )
    }
    env.update(_FORCED)
    if extra:
        env.update(extra)
    return env
