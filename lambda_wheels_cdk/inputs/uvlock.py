"""``uv.lock``, read through ``uv export`` (the lock format is uv's to interpret), plus the
registries it recorded.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlsplit, urlunsplit

from ..errors import InputError
from ..urls import is_remote_url, redact_text
from .entries import resolve_local
from .reading import Names, PathLike, existing_file, fail, names_given, read_toml
from .requirements import RequirementsReader
from .spec import DependencySpec, IndexSettings, canon, is_pypi

__all__ = ["load_uv_lock"]

#: Timeouts for ``uv export``: --frozen only reads files; --locked may re-resolve online.
_UV_TIMEOUT_FROZEN: Final = 120
_UV_TIMEOUT_LOCKED: Final = 600
#: Variables ``uv export`` may see; every other variable (UV_*, PIP_*, ...) is dropped.
_UV_ENV_KEEP: Final = frozenset(
    {
        "PATH",
        "HOME",
        "USERPROFILE",
        "APPDATA",
        "LOCALAPPDATA",
        "SYSTEMROOT",
        "SYSTEMDRIVE",
        "COMSPEC",
        "PATHEXT",
        "TEMP",
        "TMP",
        "TMPDIR",
        "XDG_CACHE_HOME",
        "XDG_DATA_HOME",
        "NETRC",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
        "UV_CACHE_DIR",
    }
)
#: Index credentials uv reads for ``[[tool.uv.index]]`` entries (needed by ``--locked``).
_UV_INDEX_CREDENTIALS_RE: Final = re.compile(r"UV_INDEX_[A-Z0-9_]+_(?:USERNAME|PASSWORD)")


def _uv_binary() -> str:
    try:
        from uv import find_uv_bin

        return os.fsdecode(find_uv_bin())
    except (ImportError, FileNotFoundError) as exc:
        fail(
            f"uv.lock: cannot find the uv binary ({exc}): reinstall lambda-wheels-cdk, which "
            "depends on the 'uv' package"
        )


def _uv_environment(*, offline: bool) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key in _UV_ENV_KEEP or _UV_INDEX_CREDENTIALS_RE.fullmatch(key)
    }
    env.update({"UV_NO_CONFIG": "1", "NO_COLOR": "1", "UV_NO_PROGRESS": "1"})
    if offline:
        env["UV_OFFLINE"] = "1"
    return env


def load_uv_lock(
    path: PathLike, *, extras: Names = (), groups: Names = (), frozen: bool = True
) -> DependencySpec:
    """Read a ``uv.lock`` through ``uv export`` (the lock format is uv's to interpret).

    Runs ``uv export --frozen|--locked --no-default-groups --no-emit-project --no-editable
    --no-header --format requirements-txt`` (plus ``--extra``/``--group`` per request) in the
    lock's folder, with ``UV_NO_CONFIG=1`` and an environment stripped of ``UV_*``/``PIP_*``
    settings (only proxies, certificates, the cache folder and ``UV_INDEX_*`` credentials pass),
    then parses that text like a requirements file. ``--no-default-groups`` leaves out ``dev``
    and any other default group: only the groups asked for are installed. Workspace members
    and path dependencies become non-editable path requirements. The registries the lock
    recorded for the exported packages (other than PyPI) become extra index URLs (or
    find-links for local folders), because ``UV_NO_CONFIG`` hides ``[[tool.uv.index]]``;
    credentials for them come from the installer's environment or netrc, as for any index.

    ``frozen=True`` (``--frozen``, the default) installs exactly what ``uv.lock`` says, without
    checking it against ``pyproject.toml`` and without network access. ``frozen=False``
    (``--locked``) first checks that the lock is up to date with ``pyproject.toml`` (uv may
    need the index for that) and fails if it is not.

    Raises:
        InputError: the lock or its ``pyproject.toml`` is missing, the lock is out of date
            (``--locked``: "uv.lock is out of date with pyproject.toml: run `uv lock`"), an
            extra/group is unknown, or uv fails otherwise (its message, credentials masked).
    """
    extras, groups = names_given(extras, "extras"), names_given(groups, "groups")
    file = existing_file(path, "uv.lock")
    display = file.name
    if not (file.parent / "pyproject.toml").is_file():
        fail(
            f"{display}: needs the pyproject.toml it was locked from next to it (uv export reads "
            "both): put them in the same folder"
        )
    exported = _uv_export(_export_command(file, extras, groups, frozen), file, frozen)
    reader = RequirementsReader(file.parent, display, strict_hashes=False)
    reader.read_text(exported, display=f"{display} (uv export)", base_dir=file.parent)
    spec = reader.result(display, locked=True)
    registries = _uv_lock_registries(file, display, frozenset(spec.names))
    return replace(spec, index=spec.index.merged(registries))


def _export_command(file: Path, extras: Names, groups: Names, frozen: bool) -> list[str]:
    """``uv export`` of exactly the extras and groups asked for, as requirements text."""
    command = [
        _uv_binary(),
        "export",
        "--frozen" if frozen else "--locked",
        "--no-default-groups",
        "--no-emit-project",
        "--no-editable",
        "--no-header",
        "--format",
        "requirements-txt",
    ]
    for extra in extras:
        command += ["--extra", extra]
    for group in groups:
        command += ["--group", group]
    if not frozen:
        command += _project_index_args(file.parent / "pyproject.toml")
    return command


def _uv_export(command: list[str], file: Path, frozen: bool) -> str:
    """What ``uv export`` prints, run in the lock's folder; its failures as an ``InputError``."""
    display = file.name
    try:
        completed = subprocess.run(
            command,
            cwd=file.parent,
            env=_uv_environment(offline=frozen),
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=_UV_TIMEOUT_FROZEN if frozen else _UV_TIMEOUT_LOCKED,
            check=False,
        )
    except subprocess.TimeoutExpired:
        fail(f"{display}: `uv export` did not finish in time: check the network and retry")
    except OSError as exc:
        fail(f"{display}: cannot run uv ({exc}): reinstall lambda-wheels-cdk")
    if completed.returncode == 0:
        return completed.stdout
    stderr = redact_text(completed.stderr)
    if "needs to be updated" in stderr:
        fail(f"{display} is out of date with pyproject.toml: run `uv lock`")
    errors = [
        line.strip()
        for line in stderr.splitlines()
        if line.strip() and not line.startswith(("Using ", "Resolved "))
    ]
    detail = " ".join(errors[:6]) or f"exit status {completed.returncode}"
    fail(
        f"{display}: `uv export` failed: {detail}: fix the lock (`uv lock`) or the extras and "
        "groups asked for"
    )


def _project_index_args(pyproject: Path) -> list[str]:
    """The project's own ``[[tool.uv.index]]`` entries as ``uv export`` flags.

    ``UV_NO_CONFIG`` hides them, so ``--locked`` would check the lock against PyPI alone: a
    private package is then "not found" (and its name is sent to PyPI). They are the project's
    inputs, not host configuration. Credentials come from ``UV_INDEX_<NAME>_*`` or netrc.
    """
    args: list[str] = []
    for entry in _uv_indexes(pyproject):
        name = entry.get("name")
        value = f"{name}={entry['url']}" if isinstance(name, str) and name else entry["url"]
        args += ["--default-index" if entry.get("default") is True else "--index", value]
    return args


def _project_index_names(pyproject: Path) -> dict[str, str]:
    """``[[tool.uv.index]]`` of a project: URL (no trailing slash) -> index name."""
    try:
        entries = _uv_indexes(pyproject)
    except InputError:
        return {}
    return {e["url"].rstrip("/"): e["name"] for e in entries if isinstance(e.get("name"), str)}


def _uv_indexes(pyproject: Path) -> list[dict[str, Any]]:
    """The ``[[tool.uv.index]]`` tables of a project that have a ``url``."""
    data, _ = read_toml(pyproject, pyproject.name)
    tool = data.get("tool")
    uv = tool.get("uv") if isinstance(tool, dict) else None
    entries = uv.get("index") if isinstance(uv, dict) else None
    return [
        e
        for e in (entries if isinstance(entries, list) else [])
        if isinstance(e, dict) and isinstance(e.get("url"), str)
    ]


def _with_index_credentials(url: str, name: str | None, environ: Mapping[str, str]) -> str:
    """``url`` with the credentials uv would use for the named index
    (``UV_INDEX_<NAME>_USERNAME`` / ``_PASSWORD``), in memory only: every message masks URL
    credentials and every fingerprint drops them."""
    parts = urlsplit(url)
    if name is None or "@" in parts.netloc:
        return url
    key = re.sub(r"[^A-Z0-9]", "_", name.upper())
    user = environ.get(f"UV_INDEX_{key}_USERNAME", "")
    password = environ.get(f"UV_INDEX_{key}_PASSWORD", "")
    if not (user or password):
        return url
    userinfo = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))


def _uv_lock_registries(file: Path, display: str, names: frozenset[str]) -> IndexSettings:
    """The indexes ``uv.lock`` recorded for the exported packages (other than PyPI).

    ``UV_NO_CONFIG`` also hides ``[[tool.uv.index]]`` from ``uv export``, so the lock's own
    ``source = { registry = ... }`` entries say where each package must come from: remote
    registries become extra index URLs, local ones (flat folders) find-links.
    """
    data, _ = read_toml(file, display)
    named = _project_index_names(file.parent / "pyproject.toml")
    remote: list[str] = []
    local: list[str] = []
    packages = data.get("package", [])
    for package in packages if isinstance(packages, list) else []:
        if not isinstance(package, dict) or not isinstance(package.get("name"), str):
            continue
        source = package.get("source")
        registry = source.get("registry") if isinstance(source, dict) else None
        if not isinstance(registry, str) or canon(package["name"]) not in names:
            continue
        if is_remote_url(registry):
            url = _with_index_credentials(registry, named.get(registry.rstrip("/")), os.environ)
            if not is_pypi(registry) and url not in remote:
                remote.append(url)
            continue
        try:
            path = resolve_local(registry, file.parent)
        except ValueError:
            continue
        if path.is_dir() and str(path) not in local:
            local.append(str(path))
    return IndexSettings(extra_index_urls=tuple(remote), find_links=tuple(local))
