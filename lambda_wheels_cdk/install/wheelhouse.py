"""What a container build of native sdists needs, fetched on the host.

The build container has no network (``docker run --network none``) and sees no credential, so
everything it reads is downloaded here first, with the host's index settings, credentials
(URL userinfo, netrc), proxies and trust store, and mounted read-only:

* **the sdists** of the pinned distributions, verified against the requirement's ``--hash``
  options in hash-checking mode (and against the hash the index publishes, always);
* **a wheelhouse of their build requirements for the target**: each sdist's
  ``[build-system] requires`` (``setuptools>=40.8.0`` and ``wheel`` for a ``setup.py`` project
  without one, plus ``wheel`` for any setuptools backend, which asks for it dynamically in
  older releases), resolved with uv for the target's Python, platform and glibc (markers
  evaluated for the target, like every install), then the fitting wheel of each pin. A build
  requirement with no wheel for the target comes as its sdist, with its own build
  requirements (nested), and is built by pip inside the container.

Requirements a backend asks for only while it runs (``get_requires_for_build_wheel``: cmake or
ninja for some backends) are not in ``pyproject.toml``: :meth:`BuildInputs.add` fetches them
when the container build reports one missing (see :mod:`.docker`).
"""

from __future__ import annotations

import hashlib
import sys
import tarfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..errors import InputError, InstallError
from ..events import Log, quiet
from ..index.client import SimpleIndexClient
from ..index.pages import IndexFile
from ..index.resolution import fitting_wheels
from ..inputs.requirement_lines import Requirements
from .installers import InstallPlan, UvInstaller
from .sdists import resolve_allowing_sdists

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.9 and 3.10
    import tomli as tomllib

#: pip's build requirements for a project without ``[build-system]`` (PEP 517/518 fallback),
#: and ``wheel``, which setuptools < 70.1 requests from ``get_requires_for_build_wheel``.
LEGACY_REQUIRES = ("setuptools>=40.8.0", "wheel")
_SETUPTOOLS_BACKENDS = frozenset({"setuptools.build_meta", "setuptools.build_meta:__legacy__"})


def build_requirements(sdist: Path) -> list[str]:
    """The build requirements of an sdist, read from its ``pyproject.toml`` (PEP 518).

    Raises:
        InputError: the archive cannot be read, or its ``pyproject.toml`` is not valid TOML.
    """
    text = _read_pyproject(sdist)
    if text is None:
        return list(LEGACY_REQUIRES)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(
            f"{sdist.name}: its pyproject.toml is not valid TOML ({exc}); pin another release"
        ) from None
    system = data.get("build-system")
    if not isinstance(system, dict) or "requires" not in system:
        return list(LEGACY_REQUIRES)
    requires = [str(r) for r in system.get("requires") or ()]
    backend = system.get("build-backend")
    if backend is None or backend in _SETUPTOOLS_BACKENDS:
        requires.append("wheel")
    return requires


def _read_pyproject(sdist: Path) -> str | None:
    """``<top>/pyproject.toml`` of an sdist archive (``None`` when it has none)."""
    try:
        if sdist.name.endswith(".zip"):
            with zipfile.ZipFile(sdist) as zf:
                for name in zf.namelist():
                    if _is_top_pyproject(name):
                        return zf.read(name).decode("utf-8")
            return None
        with tarfile.open(sdist) as tar:
            for member in tar:
                if member.isfile() and _is_top_pyproject(member.name):
                    fh = tar.extractfile(member)
                    return None if fh is None else fh.read().decode("utf-8")
    except (OSError, tarfile.TarError, zipfile.BadZipFile, UnicodeDecodeError, EOFError) as exc:
        raise InputError(
            f"{sdist.name}: the sdist cannot be read ({exc}); the download or the index is "
            "damaged: retry, or pin another release"
        ) from None
    return None


def _is_top_pyproject(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return len(parts) == 2 and parts[1] == "pyproject.toml"


@dataclass
class BuildInputs:
    """The sdists to build and the wheelhouse of their build requirements (both on the host).

    Attributes:
        sdists: canonical name -> the sdist file, in :attr:`sdist_dir`.
        sdist_dir: the folder mounted as the sdists (read-only).
        wheelhouse: the folder mounted as ``--find-links`` (read-only).
    """

    sdists: dict[str, Path]
    sdist_dir: Path
    wheelhouse: Path
    _fetcher: Fetcher | None = field(default=None, repr=False)

    def add(self, requirements: Sequence[str], *, log: Log = quiet) -> list[str]:
        """Fetch more build requirements (for the target) into the wheelhouse; the files added
        (the fetcher's index client must still be open)."""
        if self._fetcher is None:  # pragma: no cover - always set by Fetcher.build_inputs
            return []
        return self._fetcher.requirements(requirements, self.wheelhouse, log=log)


class Fetcher:
    """Resolves requirements for the target and downloads their files on this host.

    Args:
        client: downloads the files, with the host's index settings (credentials stay in this
            process); the caller closes it when the build is done.
        plan: the install's plan: its target, the index uv resolves through (a filtering
            view on this host for an exact glibc ceiling), and the ``--hash`` values each
            sdist must match (hash-checking mode).
        uv: resolves the build requirements for the target.
    """

    def __init__(self, client: SimpleIndexClient, plan: InstallPlan, uv: UvInstaller) -> None:
        self.client = client
        self.plan = plan
        self.uv = uv
        self.done: set[tuple[str, str]] = set()
        self.resolved: dict[tuple[str, ...], None] = {}

    def build_inputs(self, pins: Mapping[str, str], dest: Path, *, log: Log = quiet) -> BuildInputs:
        """Download the sdists of ``pins`` (``{name: version}``) and their build requirements
        for the target into ``dest``, an empty folder: ``sdists/`` and ``wheelhouse/`` are made
        in it.

        Raises:
            InstallError: an sdist or a build requirement is not on the index, or a downloaded
                sdist does not match its ``--hash``.
            IndexUnavailableError: the index cannot be read.
        """
        inputs = BuildInputs({}, dest / "sdists", dest / "wheelhouse", self)
        inputs.sdist_dir.mkdir(parents=True)
        inputs.wheelhouse.mkdir(parents=True)
        for name, version in sorted(pins.items()):
            wanted = self.plan.requirements.hashes_of(name)
            sdist = self.sdist(name, version, inputs.sdist_dir, hashes=wanted)
            inputs.sdists[canonicalize_name(name)] = sdist
        for name, sdist in sorted(inputs.sdists.items()):
            self.requirements(build_requirements(sdist), inputs.wheelhouse, log=log, needed_by=name)
        return inputs

    def requirements(
        self,
        requirements: Iterable[str],
        wheelhouse: Path,
        *,
        log: Log = quiet,
        needed_by: str | None = None,
    ) -> list[str]:
        """Resolve ``requirements`` for the target and download every pin's file into
        ``wheelhouse``, following the build requirements of those that come as sdists.
        Returns the file names added."""
        added: list[str] = []
        queue = [(tuple(sorted(set(requirements))), needed_by)]
        while queue:
            wanted, by = queue.pop()
            if not wanted or wanted in self.resolved:
                continue
            self.resolved[wanted] = None
            for req in wanted:
                _check_requirement(req, by)
            plan = replace(
                self.plan,
                requirements=Requirements.of(wanted),
                constraints="",
                wheelhouse=(),
                no_deps=False,
            )
            what = f" of {by}" if by else ""
            log(f"resolving the build requirements{what} for {plan.target}: {', '.join(wanted)}")
            versions, from_sdists = resolve_allowing_sdists(plan, self.uv, log=log)
            for name, version in sorted(versions.items()):
                if (name, version) in self.done:
                    continue
                self.done.add((name, version))
                if name in from_sdists:
                    sdist = self.sdist(name, version, wheelhouse)
                    added.append(sdist.name)
                    queue.append((tuple(sorted(build_requirements(sdist))), name))
                else:
                    added.append(self.wheel(name, version, wheelhouse).name)
        return added

    def _files(self, name: str, version: str) -> list[IndexFile]:
        try:
            wanted: Version | None = Version(version)
        except InvalidVersion:
            wanted = None
        return [f for f in self.client.project_files(name) if f.version == wanted]

    def wheel(self, name: str, version: str, dest: Path) -> Path:
        fits = fitting_wheels(self._files(name, version), self.plan.target)
        if not fits:  # uv chose it, so a wheel fits: only an index changing under us
            raise InstallError(
                f"{name}=={version}: the resolver chose it for {self.plan.target} but the index "
                "now lists no fitting wheel for it; retry"
            )
        return self.client.download(fits[0], dest)

    def sdist(self, name: str, version: str, dest: Path, *, hashes: Sequence[str] = ()) -> Path:
        files = [f for f in self._files(name, version) if f.is_sdist]
        files.sort(key=lambda f: f.yanked)  # a yanked file only when nothing else is there
        if hashes:
            digests = {h.partition(":")[2].lower() for h in hashes if h.startswith("sha256:")}
            files = [f for f in files if f.sha256 is None or f.sha256.lower() in digests]
        if not files:
            raise InstallError(
                f"{name}=={version} must be built from its sdist, but the index "
                f"({_where(self.client)}) lists no sdist for it"
                + (" matching its --hash" if hashes else "")
                + "; check the index, or pin a version that ships a manylinux wheel for "
                f"{self.plan.target}"
            )
        path = self.client.download(files[0], dest)
        if hashes:
            _check_hashes(path, name, version, hashes)
        return path


def _check_requirement(text: str, needed_by: str | None) -> None:
    try:
        Requirement(text)
    except InvalidRequirement as exc:
        raise InputError(
            f"{needed_by or 'a build'}: the build requirement {text!r} is not valid ({exc}); "
            "pin another release"
        ) from None


def _check_hashes(path: Path, name: str, version: str, hashes: Sequence[str]) -> None:
    """Hash-checking mode: the sdist must match one of the requirement's ``--hash`` values."""
    by_algorithm: dict[str, set[str]] = {}
    for item in hashes:
        algorithm, _, value = item.partition(":")
        by_algorithm.setdefault(algorithm, set()).add(value.lower())
    data = path.read_bytes()
    for algorithm, values in by_algorithm.items():
        try:
            digest = hashlib.new(algorithm, data).hexdigest()
        except ValueError:
            continue
        if digest in values:
            return
    path.unlink()
    raise InstallError(
        f"{path.name} ({name}=={version}): the downloaded file's hashes do not match the "
        f"requirement's --hash values (sha256 {hashlib.sha256(data).hexdigest()})"
    )


def _where(client: SimpleIndexClient) -> str:
    shown = [client.shown(u) for u in (*client.index_urls, *client.find_links)]
    return ", ".join(shown) or "no index"


__all__ = ["LEGACY_REQUIRES", "BuildInputs", "Fetcher", "build_requirements"]
