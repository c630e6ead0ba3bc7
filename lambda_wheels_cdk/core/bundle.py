"""build_bundle(): dependency inputs -> install for the target -> audit -> atomic, cached output.

The pipeline (one path for the CLI and the CDK constructs)::

    DependencySpec + Target + BuildOptions
      -> dependency key (inputs, target, options, tool versions; no absolute paths, no secrets)
      -> bundle cache hit?  yes: verified tree, no installer runs
                            no:  install (uv/pip; sdists: pure ones on the host, native ones in
                                 Docker or NeedsDockerError) -> normalize -> audit -> cache entry
      -> assemble: dependencies (+ handler source with excludes) -> temp folder -> rename

The cache is content-addressed: ``<cache>/v1/deps/<key>/`` holds ``tree/`` and
``manifest.json``; entries appear by an atomic rename, are guarded by a file lock per key (two
builds of the same inputs install once), and are verified against their recorded file sizes and
times before use (a changed entry is rebuilt, with uv's cache refreshed: its files may be hard
links into uv's cache). ``<cache>/v1/index-pages/`` keeps index project pages for as long as
their HTTP caching headers allow (:class:`.index.SimpleIndexClient`). Nothing here names uv or
Docker beyond choosing the installer object; see :mod:`.install` and :mod:`.docker`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import posixpath
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

from packaging.utils import canonicalize_name

from .. import __version__
from ..errors import (
    AuditError,
    BundleError,
    IndexUnavailableError,
    InstallError,
    LambdaWheelsError,
    NeedsDockerError,
    UsageError,
)
from . import leftovers, outdir, slim, tree
from .bytecode import BytecodeMode, BytecodeReport, Unit, compile_units, mode_of
from .events import Log, counted, emit, human_size, quiet
from .hostenv import ignored_variables, index_settings_from_env
from .install import (
    Installer,
    InstallPlan,
    LinkMode,
    NoFittingWheelError,
    UvInstaller,
    make_installer,
    sweep_workspaces,
)
from .remote import REMOTE_MODES, RemoteCache, RemoteCacheSettings, remote_for
from .runtimes import _SLOTS, UNZIPPED_LIMIT_BYTES
from .scripts import drop_console_scripts
from .sources import DependencySpec, IndexSettings
from .target import Target

if TYPE_CHECKING:
    from concurrent.futures import Future

    from .index import IndexFile
    from .index_proxy import FilteringIndexView

CACHE_SCHEMA = "v1"
#: Work folders under ``<cache>/v1/tmp`` (see :meth:`BundleCache.workdir`).
WORK_PREFIX = "work-"
#: Bump when the same inputs would install differently (enters every cache key and asset hash).
#: 2: filtering index view (AL2 glibc ceiling); 3: no uv .lock file; 4: no console-script launchers
RESOLVER_REVISION = 4
#: Host settings already reported as ignored in this process (say it once, not per bundle).
_NOTIFIED: set[tuple[str, ...]] = set()
#: Caches whose leftovers (and the system temp folder's) this process has swept.
_SWEPT: set[Path] = set()
InstallerName = Literal["uv", "pip"]
AuditMode = Literal["strict", "warn", "off"]


# -- options and results ---------------------------------------------------------------------


@dataclass(frozen=True, **_SLOTS)
class BuildOptions:
    """How to build. Every field has the default a user would expect.

    Attributes:
        installer: ``"uv"`` (default; markers evaluated for the target) or ``"pip"``.
        index: index settings passed explicitly; they win over the requirements file's and the
            environment's (see :mod:`.hostenv`).
        docker: build native sdists in the runtime's build image with Docker. Default: off;
            such requirements raise :class:`NeedsDockerError`.
        allow_sdists: build pure-Python sdists on the host. Default: on. Off forbids running any
            sdist's build code.
        audit: ``"strict"`` (default) fails on audit errors, ``"warn"`` prints them, ``"off"``.
        cache_dir: bundle cache root. Default: the user cache dir (``lambda-wheels``), or
            ``$LAMBDA_WHEELS_CACHE_DIR``.
        link_mode: ``"link"`` (default): uv clones files from its cache (copy-on-write file
            systems) or hard-links them, as ``uv pip install`` does by default; files shared
            with uv's cache are never modified and keep its modification times. ``"copy"``:
            every installed file is a new copy with the fixed 1980 time (slower on large
            sets). The bundle's contents are the same either way.
        docker_image: the image ``docker=True`` builds native sdists in. Default: the SAM build
            image of the target's runtime and architecture. It must run on the target's
            ``--platform`` and provide the target's Python as ``python`` with pip; what it
            builds is audited like everything else.
        docker_network: give the ``docker=True`` build container the engine's default network,
            for sdists whose build scripts download files themselves. Default: off, the
            container runs with ``--network none`` (everything it needs is fetched on the host
            and mounted read-only). Its trust store is the image's: behind a proxy that
            re-signs HTTPS such downloads fail unless the image trusts that proxy's CA.
        bytecode: ``"all"`` (default; also ``True``): ship unchecked hash-based ``.pyc`` files
            for every ``.py``, compiled by a CPython of the target's version with Lambda's
            paths in them (:mod:`.bytecode`); ``"dependencies"``: not the handler source;
            ``"none"`` (also ``False``). No such CPython on this host: a warning, no bytecode.
        bytecode_interpreter: the CPython that compiles (a path). Default: found on PATH, in
            pyenv, in uv's interpreters or by ``uv python find``.
        allow_python_download: when no CPython of the target's version is found, let uv
            download one (``uv python install``). Default: off.
        slim: remove what Lambda never runs from the dependencies: test suites inside
            packages and type stubs (:mod:`.slim`); what each rule removed is in the manifest.
            Default: off.
        exclude_runtime_packages: leave out boto3, botocore and s3transfer, which the Lambda
            runtime provides (with a warning: the runtime's versions are not published).
            Default: off.
        remote_cache: ``s3://bucket/prefix`` of a cache shared by every machine
            (:mod:`.remote`): a local miss is looked up there before installing, and fresh
            builds are published. Default: ``$LAMBDA_WHEELS_REMOTE_CACHE``, else none.
        remote_cache_mode: ``"read-write"`` (default) or ``"read"`` (never publish). Default:
            ``$LAMBDA_WHEELS_REMOTE_CACHE_MODE``, else read-write.
        verify_cache: hash every file of a cache entry against the sha256 recorded when it was
            published before using it (a file whose bytes changed while its size and time
            stayed the same is caught); entries are published with those hashes. A mismatch,
            or an entry published without hashes, is rebuilt with fresh downloads, with a
            warning. Costs about 0.3 s per 250 MB per use. Default (``None``): on when the
            environment has ``CI=true`` (GitHub Actions, GitLab CI, CircleCI and others set
            it), else off. Does not change the cache key or the asset hash.
    """

    installer: InstallerName = "uv"
    index: IndexSettings = field(default_factory=IndexSettings)
    docker: bool = False
    allow_sdists: bool = True
    audit: AuditMode = "strict"
    cache_dir: str | None = None
    link_mode: LinkMode = "link"
    docker_image: str | None = None
    docker_network: bool = False
    bytecode: BytecodeMode = "all"
    bytecode_interpreter: str | None = None
    allow_python_download: bool = False
    slim: bool = False
    exclude_runtime_packages: bool = False
    remote_cache: str | None = None
    remote_cache_mode: str | None = None

    def remote_settings(self, environ: Mapping[str, str]) -> RemoteCacheSettings | None:
        """The remote cache in force: these options, else ``LAMBDA_WHEELS_REMOTE_CACHE``."""
        return RemoteCacheSettings.from_options(self.remote_cache, self.remote_cache_mode, environ)

    verify_cache: bool | None = None

    def verifies_cache(self, environ: Mapping[str, str]) -> bool:
        """Whether cache entries are hashed before use (:attr:`verify_cache`, else ``CI``)."""
        if self.verify_cache is not None:
            return self.verify_cache
        return environ.get("CI", "").strip().lower() in ("true", "1", "yes")

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "bytecode", mode_of(self.bytecode))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if self.remote_cache_mode is not None and self.remote_cache_mode not in REMOTE_MODES:
            raise UsageError(
                f"remote cache mode {self.remote_cache_mode!r} must be 'read-write' (default) "
                "or 'read'"
            )
        if self.remote_cache is not None:
            self.remote_settings({})  # a malformed URL fails at construction
        if self.docker_image is not None and not self.docker:
            raise UsageError(
                f"a Docker image ({self.docker_image!r}) is used only to compile native sdists "
                "with Docker: also pass docker=True / --docker, or leave the image unset"
            )
        if self.docker_network and not self.docker:
            raise UsageError(
                "docker_network=True / --docker-network is about the container that compiles "
                "native sdists: also pass docker=True / --docker, or leave it off"
            )
        if self.docker_image is not None and not self.docker_image.strip():
            raise UsageError("the Docker image name is empty: pass an image name or leave it unset")
        if self.link_mode not in get_args(LinkMode):
            raise UsageError(f"link_mode {self.link_mode!r} must be 'link' (default) or 'copy'")
        if self.installer not in ("uv", "pip"):
            raise UsageError(
                f"installer {self.installer!r} is not supported; use 'uv' (default) or 'pip'"
            )
        if self.audit not in ("strict", "warn", "off"):
            raise UsageError(f"audit {self.audit!r} must be 'strict', 'warn' or 'off'")


@dataclass(frozen=True, **_SLOTS)
class Distribution:
    """One installed distribution, as recorded in the manifest."""

    name: str
    version: str
    wheel: str
    tags: tuple[str, ...]
    origin: Literal["wheel", "sdist-host", "sdist-docker"]
    size: int
    files: int
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "wheel": self.wheel,
            "tags": list(self.tags),
            "origin": self.origin,
            "size": self.size,
            "files": self.files,
        }
        if self.note:
            data["note"] = self.note
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Distribution:
        return cls(
            name=str(data["name"]),
            version=str(data["version"]),
            wheel=str(data["wheel"]),
            tags=tuple(data["tags"]),
            origin=data["origin"],
            size=int(data["size"]),
            files=int(data["files"]),
            note=data.get("note"),
        )


@dataclass(frozen=True, **_SLOTS)
class DependencyBuild:
    """A verified dependency tree in the cache (never modify ``tree``)."""

    key: str
    tree: Path
    target: Target
    installer: str
    distributions: tuple[Distribution, ...]
    warnings: tuple[str, ...]
    cache: Literal["hit", "miss", "remote"]
    size: int
    #: What opt-in trimming removed: ``{"tests": [files, bytes], "stubs": [...],
    #: "runtime-provided": {name: version}}`` (empty when none was asked for).
    removed: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, **_SLOTS)
class Manifest:
    """What went into a bundle; ``to_json()`` is what ``lambda-wheels build --json`` prints."""

    target: Target
    installer: str
    fingerprint: str
    origin: str
    index: IndexSettings
    distributions: tuple[Distribution, ...]
    source_files: int
    total_bytes: int
    warnings: tuple[str, ...]
    cache: Literal["hit", "miss", "remote", "none"]
    layout: Literal["function", "layer"]
    bytecode: BytecodeReport | None = None
    removed: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        red = self.index.redacted()
        return {
            "target": {
                "runtime": self.target.runtime,
                "architecture": self.target.lambda_arch,
                "python": self.target.python_version,
                "glibc": str(self.target.glibc),
            },
            "installer": self.installer,
            "fingerprint": self.fingerprint,
            "inputs": self.origin,
            "index": {
                "index_url": red.index_url,
                "extra_index_urls": list(red.extra_index_urls),
                "find_links": list(red.find_links),
                "no_index": red.no_index,
            },
            "layout": self.layout,
            "cache": self.cache,
            "distributions": [d.to_json() for d in self.distributions],
            "source_files": self.source_files,
            "total_bytes": self.total_bytes,
            "removed": self.removed,
            "bytecode": self.bytecode.to_json() if self.bytecode is not None else None,
            "warnings": list(self.warnings),
        }


# -- keys ------------------------------------------------------------------------------------


def effective_index(
    spec: DependencySpec, options: BuildOptions, environ: Mapping[str, str]
) -> IndexSettings:
    """Index settings in force: explicit options > the input file's lines > the environment."""
    host = index_settings_from_env(environ)
    from_env = IndexSettings(index_url=host.index_url, extra_index_urls=host.extra_index_urls)
    return from_env.merged(spec.index).merged(options.index)


@functools.cache
def installer_version(name: InstallerName) -> str:
    """The installer's version, from package metadata (no subprocess: usable at CDK synth)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{name} {version(name)}"
    except PackageNotFoundError:
        return f"{name} (not installed)"


def dependency_key(
    spec_fingerprint: str,
    target: Target,
    options: BuildOptions,
    index: IndexSettings,
) -> str:
    """The cache key of a dependency install: same inputs -> same key on every machine."""
    data = {
        "schema": CACHE_SCHEMA,
        "resolver": RESOLVER_REVISION,
        "lambda_wheels": __version__,
        "inputs": spec_fingerprint,
        "runtime": target.runtime,
        "arch": target.arch,
        "installer": installer_version(options.installer),
        "docker": options.docker,
        "allow_sdists": options.allow_sdists,
        "index": index.fingerprint_data(),
    }
    if options.link_mode != "link":
        # same contents, other file times: a separate entry, so "copy" never gets a linked tree
        # (added only when not the default, so keys and asset hashes stay as they were)
        data["link_mode"] = options.link_mode
    if options.docker_image is not None:
        data["docker_image"] = options.docker_image  # only when set: default keys unchanged
    if options.docker_network:
        data["docker_network"] = True
    if options.slim:
        data["slim"] = list(slim.SLIM_RULES)
    if options.exclude_runtime_packages:
        data["exclude_runtime_packages"] = list(slim.RUNTIME_PROVIDED)
    blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("LAMBDA_WHEELS_CACHE_DIR"):
        return Path(env["LAMBDA_WHEELS_CACHE_DIR"])
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("lambda-wheels", appauthor=False))


# -- the cache -------------------------------------------------------------------------------


class BundleCache:
    """Content-addressed store of installed dependency trees (see module docstring)."""

    def __init__(self, root: Path | str | None = None) -> None:
        # absolute: installers run in their own working folder
        self.root = (Path(root) if root is not None else default_cache_dir()).resolve()
        self.base = self.root / CACHE_SCHEMA
        #: Keys whose entry was found changed and discarded by this object, and why: rebuilt
        #: with the installer's cache refreshed (a changed hard-linked file is changed in uv's
        #: cache too).
        self.invalidated: dict[str, str] = {}

    def _dirs(self) -> tuple[Path, Path, Path]:
        deps, locks, tmp = self.base / "deps", self.base / "locks", self.base / "tmp"
        try:
            for d in (deps, locks, tmp):
                d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise tree.describe_os_error(
                exc, f"cannot create the bundle cache at {self.root}"
            ) from None
        return deps, locks, tmp

    def entry(self, key: str, *, kind: Literal["deps", "pyc"] = "deps") -> Path:
        """Where the entry for ``key`` lives: ``deps`` installs, ``pyc`` compiled bytecode."""
        return self.base / kind / key

    @property
    def pages_dir(self) -> Path:
        """Index project pages kept for as long as their HTTP caching headers allow."""
        return self.base / "index-pages"

    @contextlib.contextmanager
    def lock(self, key: str, *, timeout: float = 3600) -> Iterator[None]:
        _, locks, _ = self._dirs()
        from filelock import FileLock, Timeout  # only when installing: keeps cache hits quick

        lock = FileLock(str(locks / f"{key}.lock"))
        try:
            with lock.acquire(timeout=timeout):
                yield
        except Timeout:
            raise BundleError(
                f"another build has held the cache lock {locks / key}.lock for {timeout:.0f}s; "
                "if no build is running, delete that file"
            ) from None

    def lookup(self, key: str, target: Target, *, verify: bool = False) -> DependencyBuild | None:
        """A verified entry, or ``None`` (missing, or changed since written -> discarded).

        Verified: the same files with the sizes, modification times and modes recorded when
        it was published (and only bundle modes, see :func:`tree.bundle_mode`); with
        ``verify``, also the same sha256 of every file (an entry without them is discarded).
        """
        entry = self.entry(key)
        manifest_path = entry / "manifest.json"
        if not manifest_path.is_file():
            return None
        try:
            data = json.loads(manifest_path.read_text(encoding="utf-8"))
            record = [tuple(row) for row in data["record"]]
            if any(len(row) != 4 for row in record):  # written by a version without modes
                emit("cache-invalid", key=key, reason="an older record format")
                self.discard(key)
                return None
            if tree.MODES and any(row[3] not in (tree.FILE_MODE, tree.EXEC_MODE) for row in record):
                raise ValueError("its record has a file mode a bundle never has")
            tree_dir = entry / "tree"
            if not tree_dir.is_dir() or [tuple(r) for r in tree.tree_record(tree_dir)] != record:
                raise ValueError("content does not match its record (size, time or mode)")
            if verify:
                _verify_digests(tree_dir, record, data.get("sha256"))
            return DependencyBuild(
                key=key,
                tree=tree_dir,
                target=target,
                installer=str(data["installer"]),
                distributions=tuple(Distribution.from_json(d) for d in data["distributions"]),
                warnings=tuple(data["warnings"]),
                cache="hit",
                size=int(data["size"]),
                removed=dict(data.get("removed", {})),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            emit("cache-invalid", key=key, reason=str(exc))
            self.invalidated[key] = str(exc)
            self.discard(key)
            return None

    def fetch_remote(self, remote: RemoteCache, kind: Literal["deps", "pyc"], key: str) -> bool:
        """Bring the entry ``key`` from ``remote`` into this cache (the caller holds the key's
        lock); ``False`` on a miss. Only a complete, verified entry is ever moved in."""
        with self.workdir() as work:
            entry = work / "entry"
            entry.mkdir()
            if not remote.fetch(kind, key, entry):
                return False
            target = self.entry(key, kind=kind)
            self.discard(key, kind=kind)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(entry, target)
            return True

    def discard(self, key: str, *, kind: Literal["deps", "pyc"] = "deps") -> None:
        entry = self.entry(key, kind=kind)
        if entry.exists():
            _, _, tmp = self._dirs()
            trash = tmp / f"trash-{key[:16]}-{os.getpid()}-{time.monotonic_ns()}"
            with contextlib.suppress(OSError):
                os.replace(entry, trash)
                tree.remove_tree(trash)

    @contextlib.contextmanager
    def workdir(self) -> Iterator[Path]:
        """A private work folder under ``<cache>/v1/tmp``, removed on exit (or published by
        :meth:`store`); folders of builds that were killed are swept first."""
        _, _, tmp = self._dirs()
        self.sweep()
        with leftovers.owned_temp_dir(WORK_PREFIX, tmp) as work:
            yield work

    def store(
        self,
        key: str,
        work: Path,
        build: DependencyBuild,
        record: list[tuple[str, int, int, int]],
        *,
        digests: bool = False,
    ) -> DependencyBuild:
        """Publish ``work/tree`` as the entry for ``key`` (atomic rename; caller holds the lock).

        ``record`` is the tree's :func:`tree.tree_record`, as the install already computed it;
        ``digests`` also records every file's sha256 (for ``verify`` lookups).
        """
        manifest: dict[str, Any] = {
            "key": key,
            "target": str(build.target),
            "installer": build.installer,
            "distributions": [d.to_json() for d in build.distributions],
            "warnings": list(build.warnings),
            "size": build.size,
            "removed": dict(build.removed),
            "record": record,
        }
        if digests:
            manifest["sha256"] = tree.file_digests(work / "tree", (row[0] for row in record))
        (work / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        entry = self.entry(key)
        self.discard(key)
        os.replace(work, entry)
        return replace(build, tree=entry / "tree", cache="miss")

    def sweep(self, older_than: float = 6 * 3600) -> None:
        """Remove temp folders left by killed builds: work folders whose owner is gone
        (:func:`.leftovers.sweep`), discarded entries, and folders of older versions once
        they are ``older_than`` seconds old (no build still uses them)."""
        tmp = self.base / "tmp"
        if not tmp.is_dir():
            return
        leftovers.sweep(tmp, WORK_PREFIX)
        now = time.time()
        for child in tmp.iterdir():
            if child.name.startswith(WORK_PREFIX):
                continue
            with contextlib.suppress(OSError):
                if child.name.startswith("trash-") or now - child.stat().st_mtime > older_than:
                    tree.remove_tree(child)


def _verify_digests(root: Path, record: Sequence[Sequence[Any]], recorded: object) -> None:
    """Raise ``ValueError`` unless every file of ``record`` has the sha256 ``recorded``."""
    names = [str(row[0]) for row in record]
    if not isinstance(recorded, dict) or set(recorded) != set(names):
        raise ValueError("it has no file hashes to verify (it was published with verify mode off)")
    changed = [
        rel for rel, digest in tree.file_digests(root, names).items() if digest != recorded[rel]
    ]
    if changed:
        shown = ", ".join(changed[:5]) + (
            f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        )
        raise ValueError(
            f"{len(changed)} file(s) changed although their size, time and mode did not: {shown}"
        )


# -- installing ------------------------------------------------------------------------------


def build_dependencies(
    spec: DependencySpec,
    target: Target,
    options: BuildOptions | None = None,
    *,
    cache: BundleCache | None = None,
    environ: Mapping[str, str] | None = None,
    installer: Installer | None = None,
    log: Log = quiet,
) -> DependencyBuild:
    """Install ``spec`` for ``target`` into the cache (or reuse a verified entry).

    Raises:
        InstallError: the installer failed (message from uv/pip, credentials masked).
        NeedsDockerError: native sdists and ``docker=False``; lists every such distribution.
        AuditError: the installed tree cannot run on the target (``audit="strict"``).
        BundleError: the cache could not be written (disk full, permissions).
    """
    options = options or BuildOptions()
    env = os.environ if environ is None else environ
    cache = cache or BundleCache(options.cache_dir)
    index = effective_index(spec, options, env)
    key = dependency_key(spec.fingerprint(), target, options, index)
    verify = options.verifies_cache(env)
    if cache.root not in _SWEPT:  # what killed builds left: once per process, hits included
        _SWEPT.add(cache.root)
        sweep_workspaces()
        cache.sweep()

    hit = cache.lookup(key, target, verify=verify)
    if hit is not None:
        emit("cache-hit", key=key, target=str(target))
        log(f"dependencies for {target} unchanged (cache {key[:12]})")
        for note in hit.warnings:  # said once per build, as when they were installed
            log(f"note: {note}")
        return hit
    remote = remote_for(options.remote_settings(env), log)
    with cache.lock(key):
        # another process may have built it while we waited
        hit = cache.lookup(key, target, verify=verify)
        if hit is not None:
            emit("cache-hit", key=key, target=str(target))
            return hit
        if remote is not None and cache.fetch_remote(remote, "deps", key):
            fetched = cache.lookup(key, target, verify=verify)
            if fetched is not None:
                log(f"dependencies for {target} from the remote cache ({key[:12]})")
                return replace(fetched, cache="remote")
        try:
            with cache.workdir() as work:
                refresh = key in cache.invalidated
                if refresh:
                    log(
                        f"warning: the cached dependencies for {target} (cache {key[:12]}) "
                        f"cannot be used: {cache.invalidated[key]}; rebuilding them with fresh "
                        "downloads"
                    )
                build, record = _install(
                    spec,
                    target,
                    options,
                    index,
                    key,
                    work,
                    env,
                    installer,
                    log,
                    refresh=refresh,
                    page_cache=cache.pages_dir,
                )
                cache.invalidated.pop(key, None)
                stored = cache.store(key, work, build, record, digests=verify)
            if remote is not None:
                remote.publish("deps", key, cache.entry(key))
            return stored
        except InstallError as exc:
            if type(exc) is not InstallError:  # already specific (Docker, index, sdists)
                raise
            raise _explained(exc, spec, target, index, env) from None
        except LambdaWheelsError:
            raise
        except OSError as exc:
            raise tree.describe_os_error(
                exc, f"writing the bundle cache under {cache.root}"
            ) from None


def _explained(
    exc: InstallError,
    spec: DependencySpec,
    target: Target,
    index: IndexSettings,
    environ: Mapping[str, str],
) -> LambdaWheelsError:
    """An installer's failure, told with the index it used and what to do next.

    The installer's own text is kept. When the index itself cannot be read (unreachable, an
    HTTP error, not a simple-API page), that is the error: :class:`IndexUnavailableError`, as
    the filtering view reports it for uv (pip, and uv without a view, only retell it).
    """
    from .index import SimpleIndexClient

    if spec.names and not (index.no_index and not index.find_links):
        try:
            with SimpleIndexClient(index, environ=environ) as client:
                client.project_files(spec.names[0])
        except IndexUnavailableError as unavailable:
            return unavailable
        except LambdaWheelsError:
            pass
    red = index.redacted()
    sources = [] if red.no_index else [red.index_url or "https://pypi.org/simple"]
    where = ", ".join([*sources, *red.extra_index_urls, *red.find_links]) or "no index"
    message = str(exc)
    lower = message.lower()
    if "not found in the package registry" in lower or "no matching distribution" in lower:
        step = (
            f"Check the requirement's name and version, and that the index ({where}) serves "
            f"it for {target}"
        )
    elif "unsatisfiable" in lower or "conflict" in lower:
        step = f"The requirements conflict (see above): relax or align those pins (index: {where})"
    elif "hash" in lower and ("mismatch" in lower or "do not match" in lower):
        step = (
            "A downloaded file does not match its --hash: update the hashes only if you trust "
            "the new file (e.g. `uv pip compile --generate-hashes`)"
        )
    else:
        step = f"See the installer's output above; check the requirements and the index ({where})"
    return InstallError(f"{message}\n{step}.")


def _install(
    spec: DependencySpec,
    target: Target,
    options: BuildOptions,
    index: IndexSettings,
    key: str,
    work: Path,
    environ: Mapping[str, str],
    installer: Installer | None,
    log: Log,
    *,
    refresh: bool = False,
    page_cache: Path | None = None,
) -> tuple[DependencyBuild, list[tuple[str, int, int, int]]]:
    """Install into ``work/tree``; the build and the tree's record (see :func:`tree_record`)."""
    inst = installer or make_installer(options.installer, environ=environ)
    detail: Log = getattr(log, "detail", quiet)
    ignored = ignored_variables(environ)
    warnings: list[str] = []
    if ignored and ignored not in _NOTIFIED:
        _NOTIFIED.add(ignored)
        log(f"ignoring host installer settings {', '.join(ignored)} (pass them explicitly)")
    dest = work / "tree"
    dest.mkdir()
    count = len(spec.requirements)
    emit("install-start", key=key, target=str(target), installer=inst.name)
    log(f"installing {count} requirement{'s' * (count != 1)} for {target} with {inst.name}")
    started = time.monotonic()
    origins: dict[str, Literal["sdist-host", "sdist-docker"]] = {}
    notes: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        plan = InstallPlan(
            target=target,
            requirements=spec.requirements_txt(),
            constraints=spec.constraints_txt(),
            index=index,
            link_mode=options.link_mode,
            refresh=refresh,
        )
        projects = {n: p for n, p in spec.local_paths.items() if not p.endswith(".whl")}
        if count and projects:  # folders and sdist files: built here, like pure sdists
            from . import sdists

            uv = inst if isinstance(inst, UvInstaller) else UvInstaller(environ=environ)
            plan = sdists.build_local_projects(
                projects, plan, uv, work / "local-wheels", allow=options.allow_sdists, log=detail
            )
        from .index_proxy import FilteringIndexView, needs_filtering_view, uv_superset_platform

        view: FilteringIndexView[IndexSettings] | None = None
        if count and inst.name == "uv" and needs_filtering_view(target, index):
            # uv sees only the wheels Target.accepts (exact glibc ceiling, no linux_* wheels),
            # so any superset --python-platform is safe and the newest fitting release wins
            view = FilteringIndexView(index, target, page_cache=page_cache)
            local = stack.enter_context(view)
            plan = replace(plan, index=local, python_platform=uv_superset_platform(target))
            detail(f"resolving through a filtering index view for {target}")
        pages: _NotePages | None = None
        unpinned = _unpinned_names(spec)
        if count and view is None and unpinned and not (index.no_index and not index.find_links):
            pages = _NotePages(unpinned, index, environ, page_cache)
            stack.callback(pages.close)
        if count:
            try:
                _install_or_explain(inst, plan, dest, view, detail, log)
            except NoFittingWheelError as exc:
                plan, origins = _plan_sdists(
                    plan, exc.names, options, work, environ, inst, log, detail, index
                )
                tree.remove_tree(dest)
                dest.mkdir()
                _install_or_explain(inst, plan, dest, view, detail, log)
        if count and not any(dest.glob("*.dist-info")):
            raise InstallError(
                f"the installer reported success but installed nothing into {dest}; this is a "
                "bug in lambda-wheels or the installer: please report it with the output above"
            )
        drop_console_scripts(dest)  # launchers Lambda never runs (see .scripts)
        removed = _trim(dest, options, target, warnings, log)
        tree.normalize_install(dest)
        emit(
            "install-finish",
            key=key,
            target=str(target),
            installer=inst.name,
            seconds=round(time.monotonic() - started, 3),
        )
        record = tree.tree_record(dest)  # one walk: sizes for the manifest and the cache
        sizes = {row[0]: row[1] for row in record}
        distributions = read_distributions(dest, target, origins, sizes=sizes)
        notes = _explain_versions(unpinned, distributions, target, view, pages)
    distributions = tuple(
        replace(d, note=notes.get(canonicalize_name(d.name))) for d in distributions
    )
    for dist in distributions:
        if dist.note and canonicalize_name(dist.name) in unpinned:
            warnings.append(dist.note)
            log(f"note: {dist.note}")
    build = DependencyBuild(
        key=key,
        tree=dest,
        target=target,
        installer=inst.version(),
        distributions=distributions,
        warnings=tuple(warnings),
        cache="miss",
        size=sum(sizes.values()),
        removed=removed,
    )
    _audit_dependencies(build, options, origins, log)
    return build, record


def _trim(
    dest: Path, options: BuildOptions, target: Target, warnings: list[str], log: Log
) -> dict[str, Any]:
    """Opt-in trimming (:mod:`.slim`) of a fresh install; what it removed."""
    removed: dict[str, Any] = {}
    if options.slim:
        for rule, (files, size) in slim.slim(dest).items():
            removed[rule] = [files, size]
            log(f"slim: {rule}: removed {counted(files, 'file')} ({human_size(size)})")
    if options.exclude_runtime_packages:
        dropped = slim.drop_runtime_provided(dest)
        if dropped:
            removed["runtime-provided"] = dropped
            listed = ", ".join(f"{n} {v}" for n, v in sorted(dropped.items()))
            message = (
                f"left out {listed}: the {target.runtime} runtime provides its own boto3 and "
                "botocore, whose versions AWS does not publish per runtime and Region, so code "
                "that needs the versions you pinned may fail on Lambda; "
                + slim.CHECK_RUNTIME_VERSIONS
            )
            warnings.append(message)
            log(f"warning: {message}")
    return removed


def _install_or_explain(
    inst: Installer,
    plan: InstallPlan,
    dest: Path,
    view: FilteringIndexView[IndexSettings] | None,
    detail: Log,
    progress: Log,
) -> None:
    """Run the installer; when it fails behind a view, report the upstream index error first."""
    try:
        inst.install(plan, dest, log=detail, progress=progress)
    except NoFittingWheelError:
        if view is not None:
            view.raise_for_upstream_errors()
        raise
    except InstallError:
        if view is not None:
            view.raise_for_upstream_errors()  # "index X answered 500" beats uv's retelling
        raise


def _unpinned_names(spec: DependencySpec) -> set[str]:
    """Top-level requirements without an exact pin (``==``/``===``): their version was chosen."""
    from packaging.requirements import InvalidRequirement, Requirement

    names: set[str] = set()
    for line in spec.requirements:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.url is None and not any(s.operator in ("==", "===") for s in req.specifier):
            names.add(canonicalize_name(req.name))
    return names


class _NotePages:
    """The index pages of the unpinned top-level requirements, fetched while uv installs.

    They only feed the "why not newer" notes, so the look-ups run beside the installer (one
    daemon thread per project: an unreachable index never delays the build or the exit) and a
    failed look-up only costs its note.
    """

    def __init__(
        self,
        names: Iterable[str],
        index: IndexSettings,
        environ: Mapping[str, str],
        page_cache: Path | None = None,
    ):
        from concurrent.futures import Future

        from .index import SimpleIndexClient

        self._client = SimpleIndexClient(index, environ=environ, page_cache=page_cache)
        self._pages: dict[str, Future[list[IndexFile] | None]] = {}
        for name in sorted({canonicalize_name(n) for n in names}):
            future: Future[list[IndexFile] | None] = Future()
            self._pages[name] = future
            threading.Thread(
                target=self._fetch, args=(name, future), name=f"lw-notes-{name}", daemon=True
            ).start()

    def _fetch(self, name: str, future: Future[list[IndexFile] | None]) -> None:
        try:
            future.set_result(self._client.project_files(name))
        except LambdaWheelsError:
            future.set_result(None)
        except BaseException as exc:  # pragma: no cover - a bug: surface it where awaited
            future.set_exception(exc)

    def files(self, name: str) -> list[IndexFile] | None:
        future = self._pages.get(canonicalize_name(name))
        return future.result() if future is not None else None

    def close(self) -> None:
        self._client.close()


def _explain_versions(
    unpinned: set[str],
    distributions: Sequence[Distribution],
    target: Target,
    view: FilteringIndexView[IndexSettings] | None,
    pages: _NotePages | None,
) -> dict[str, str]:
    """Why newer releases were not installed: every distribution behind a view (its pages are
    at hand); otherwise the unpinned top-level requirements, from the prefetched pages."""
    from .resolution import explain_release

    wanted = [d for d in distributions if d.origin == "wheel"]
    if view is None:
        wanted = [d for d in wanted if canonicalize_name(d.name) in unpinned]
    notes: dict[str, str] = {}
    for dist in wanted:
        message: str | None = None
        if view is not None:
            with contextlib.suppress(LambdaWheelsError):
                message = view.explain(dist.name, dist.version).message
        elif pages is not None:
            files = pages.files(dist.name)
            if files is not None:
                message = explain_release(dist.name, dist.version, files, target).message
        if message:
            notes[canonicalize_name(dist.name)] = message
    return notes


def _plan_sdists(
    plan: InstallPlan,
    first: Sequence[str],
    options: BuildOptions,
    work: Path,
    environ: Mapping[str, str],
    inst: Installer,
    log: Log,
    detail: Log = quiet,
    original_index: IndexSettings | None = None,
) -> tuple[InstallPlan, dict[str, Literal["sdist-host", "sdist-docker"]]]:
    """Some requirements have no fitting wheel: build pure ones here, native ones in Docker."""
    from . import sdists
    from .docker import build_wheels_in_docker

    names = [canonicalize_name(n) for n in first]
    if not options.allow_sdists:
        raise InstallError(
            f"{', '.join(names)} {'has' if len(names) == 1 else 'have'} no wheel for "
            f"{plan.target} and building sdists is disabled (allow_sdists=False / --no-sdists); "
            "allow sdists, or pin versions that ship wheels for the target"
        )
    uv = inst if isinstance(inst, UvInstaller) else UvInstaller(environ=environ)
    pins = sdists.resolve_sdist_pins(plan, uv, names, log=detail)
    log(f"no fitting wheel for {', '.join(f'{n}=={v}' for n, v in pins.items())}; building")
    pure, native = sdists.classify(pins, plan, uv, work / "sdist-check", log=detail)
    origins: dict[str, Literal["sdist-host", "sdist-docker"]] = dict.fromkeys(pure, "sdist-host")
    wheelhouse: list[str] = []
    built: list[Path] = []  # wheels we made from (hash-verified) sdists
    if native:
        if not options.docker:
            listed = "; ".join(f"{n}=={v} ({why})" for n, (v, why) in sorted(native.items()))
            raise NeedsDockerError(
                f"these requirements have no wheel for {plan.target} and contain native code, "
                f"so they must be compiled in the runtime's build image: {listed}. Enable "
                "Docker bundling (docker=True / --docker; needs a Docker engine), or pin "
                "versions that ship manylinux wheels for the target",
                sorted(native),
            )
        house = work / "wheelhouse"
        built += build_wheels_in_docker(
            {n: v for n, (v, _) in native.items()},
            plan,  # build requirements are resolved for its target, through its index
            uv,
            house,
            # files are downloaded on this host with the configured index and its credentials
            index=original_index or plan.index,
            hashes=sdists.hashes_by_name(plan.requirements),  # hash-checking mode
            environ=environ,
            log=log,
            detail=detail,
            image=options.docker_image,
            network=options.docker_network,
        )
        wheelhouse.append(str(house))
        origins.update(dict.fromkeys(native, "sdist-docker"))
    source_build: tuple[str, ...] = tuple(sorted(pure))
    if inst.name == "pip" and pure:
        # pip refuses sdists with --platform: it gets the wheels built here instead
        house = work / "wheelhouse-pure"
        built += sdists.build_pure_wheels_with_pip(pure, plan, inst, house, log=detail)
        wheelhouse.append(str(house))
        source_build = ()
    requirements = plan.requirements
    if plan.require_hashes and built:
        # hash-checking mode: the wheels built from verified sdists are trusted too
        requirements = sdists.trust_built_wheels(requirements, built)
    new_plan = replace(
        plan,
        requirements=requirements,
        source_build=source_build,
        wheelhouse=(*plan.wheelhouse, *wheelhouse),
    )
    return new_plan, origins


def _audit_dependencies(
    build: DependencyBuild,
    options: BuildOptions,
    origins: Mapping[str, str],
    log: Log,
) -> None:
    if options.audit == "off":
        return
    from .audit import audit

    # wheels we compiled in the target's build image carry linux_<arch>: the tag is expected
    docker_built = [n for n, o in origins.items() if o == "sdist-docker"]
    report = audit(build.tree, build.target, built_for_target=docker_built)
    log(report.summary())
    if report.errors and options.audit == "strict":
        report.raise_for_errors()
    for f in report.findings:
        if f.severity == "warning" or options.audit == "warn":
            log(f"{f.severity}: {f.distribution or '-'}: {f.path}: {f.reason}")


# -- reading what was installed --------------------------------------------------------------


def read_distributions(
    root: Path,
    target: Target,
    origins: Mapping[str, str] | None = None,
    *,
    sizes: Mapping[str, int] | None = None,
) -> tuple[Distribution, ...]:
    """The distributions installed under ``root`` (``*.dist-info``), sorted by name.

    ``sizes`` (relative POSIX path -> bytes, e.g. from :func:`tree.tree_record`) saves a stat
    per file.
    """
    from email.parser import HeaderParser

    origins = origins or {}
    out: list[Distribution] = []
    for info in sorted(root.glob("*.dist-info")):
        try:
            meta = HeaderParser().parsestr(
                (info / "METADATA").read_text(encoding="utf-8", errors="replace")
            )
            wheel = HeaderParser().parsestr((info / "WHEEL").read_text(encoding="utf-8"))
        except OSError:
            continue
        name, version = str(meta["Name"]), str(meta["Version"])
        tags = tuple(str(t).strip() for t in wheel.get_all("Tag") or ())
        files, size = _record_size(root, info, sizes)
        canon = canonicalize_name(name)
        origin = origins.get(canon, "wheel")
        out.append(
            Distribution(
                name=name,
                version=version,
                wheel=wheel_filename(name, version, tags),
                tags=tags,
                origin=origin,  # type: ignore[arg-type]
                size=size,
                files=files,
            )
        )
    return tuple(sorted(out, key=lambda d: canonicalize_name(d.name)))


def wheel_filename(name: str, version: str, tags: Sequence[str]) -> str:
    """Rebuild a wheel's filename from its WHEEL ``Tag`` lines (compressed tag set)."""
    parts: list[list[str]] = [[], [], []]
    for tag in tags:
        for i, piece in enumerate(tag.split("-", 2)):
            if piece not in parts[i]:
                parts[i].append(piece)
    compressed = "-".join(".".join(p) for p in parts) if tags else "unknown"
    return f"{canonicalize_name(name).replace('-', '_')}-{version}-{compressed}.whl"


def _record_size(root: Path, info: Path, sizes: Mapping[str, int] | None = None) -> tuple[int, int]:
    files = size = 0
    record = info / "RECORD"
    if not record.is_file():
        return files, size
    for line in record.read_text(encoding="utf-8", errors="replace").splitlines():
        rel = line.split(",", 1)[0]
        if not rel:
            continue
        if sizes is not None:
            known = sizes.get(posixpath.normpath(rel))
            if known is not None:
                files += 1
                size += known
            continue
        path = root / rel
        if path.is_file():
            files += 1
            size += path.stat().st_size
    return files, size


# -- assembling bundles ----------------------------------------------------------------------


def check_unzipped_size(
    what: str,
    deps: DependencyBuild | None,
    source: Path | None = None,
    excludes: Sequence[str] = tree.DEFAULT_EXCLUDES,
    bytecode: BytecodeReport | None = None,
    *,
    follow_external_symlinks: bool = False,
) -> int:
    """Refuse a function bundle over Lambda's 250 MiB unzipped, before writing it.

    Returns the size in bytes (bytecode included). Raises :class:`AuditError` naming the
    largest parts, and saying so when it is the bytecode that makes it too big, and
    :class:`InputError` for source links or names :func:`tree.source_files` refuses.
    """
    files = (
        tree.source_files(source, excludes, follow_external_symlinks=follow_external_symlinks)
        if source is not None
        else []
    )
    sources = [(path.stat().st_size, rel) for rel, path in files]
    pyc = bytecode.size if bytecode is not None else 0
    total = (deps.size if deps is not None else 0) + sum(size for size, _ in sources) + pyc
    if total <= UNZIPPED_LIMIT_BYTES:
        return total
    if pyc and total - pyc <= UNZIPPED_LIMIT_BYTES:
        raise AuditError(
            f"{what} would be {total / 2**20:.1f} MiB unzipped, over Lambda's 250 MiB limit "
            f"({UNZIPPED_LIMIT_BYTES:,} bytes), because of its bytecode ({pyc / 2**20:.1f} MiB "
            f"of .pyc files; {(total - pyc) / 2**20:.1f} MiB without). Build without bytecode "
            "(bytecode=False / --no-bytecode; cold starts compile every module again) or "
            "remove dependencies"
        )
    dists = [(d.size, f"{d.name} {d.version}") for d in (deps.distributions if deps else ())]
    largest = ", ".join(
        f"{name} {size / 2**20:.1f} MiB"
        for size, name in sorted([*dists, *sources], reverse=True)[:10]
    )
    raise AuditError(
        f"{what} would be {total / 2**20:.1f} MiB unzipped, over Lambda's 250 MiB limit "
        f"({UNZIPPED_LIMIT_BYTES:,} bytes). Largest: {largest}. Remove dependencies, exclude "
        "source files (--exclude / excludes), move some code to a layer or another function, "
        "or use a container image"
    )


def source_digest(
    source: Path, excludes: Sequence[str], *, follow_external_symlinks: bool = False
) -> str:
    files = tree.source_files(source, excludes, follow_external_symlinks=follow_external_symlinks)
    return tree.digest_files(source, files)


def assemble_function(
    out: Path,
    deps: DependencyBuild | None,
    source: Path | None = None,
    excludes: Sequence[str] = tree.DEFAULT_EXCLUDES,
    *,
    atomic: bool = True,
    bytecode: BytecodeReport | None = None,
    follow_external_symlinks: bool = False,
    before_replace: Callable[[Path], None] | None = None,
) -> int:
    """Write a function bundle: dependencies at the root, then the handler source, then the
    bytecode of both.

    With ``atomic=True`` (the CLI) ``out`` is replaced whole by a rename; with ``atomic=False``
    ``out`` is an empty folder owned by the caller (CDK's bundling folder). Returns the number
    of source files copied. ``before_replace`` gets the finished folder right before the rename
    (:func:`build_bundle`: mark it, check ``out`` may still be replaced).

    Raises:
        BundleError: a source file collides with an installed file, or the disk failed.
    """
    build_dir: Path | None = None
    try:
        build_dir = tree.temp_sibling(out, "build") if atomic else out
        if deps is not None:
            tree.copy_tree(deps.tree, build_dir)
        copied = 0
        if source is not None:
            collisions: list[str] = []
            files = tree.source_files(
                source, excludes, follow_external_symlinks=follow_external_symlinks
            )
            for rel, path in files:
                dst = build_dir / rel
                if dst.exists():
                    collisions.append(rel)
                    continue
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dst)
                if tree.MODES:
                    os.chmod(dst, tree.bundle_mode(path.stat().st_mode))
                os.utime(dst, (tree.FIXED_MTIME, tree.FIXED_MTIME))
                copied += 1
            if collisions:
                raise BundleError(
                    f"the entry folder {source.name!r} has files that an installed dependency "
                    f"also provides: {', '.join(collisions[:10])}; rename or exclude them"
                )
        _add_bytecode(build_dir, bytecode)
        tree.set_folder_modes(build_dir)
        if atomic:
            if before_replace is not None:
                before_replace(build_dir)
            tree.atomic_replace_dir(build_dir, out)
        return copied
    except OSError as exc:
        raise tree.describe_os_error(exc, f"writing the bundle {out}") from None
    finally:
        if atomic and build_dir is not None and build_dir.exists():
            tree.remove_tree(build_dir)


def _add_bytecode(
    build_dir: Path, bytecode: BytecodeReport | Sequence[BytecodeReport] | None
) -> None:
    reports = [bytecode] if isinstance(bytecode, BytecodeReport) else list(bytecode or ())
    for report in reports:
        for prefix, part in report.parts:
            tree.copy_tree(part.tree, build_dir / prefix if prefix else build_dir)


#: Where a function's files are on Lambda.
FUNCTION_MOUNT: Final = "/var/task"
#: Where a layer's files are on Lambda (it is extracted to /opt).
LAYER_MOUNT: Final = "/opt"


def layer_site_packages(target: Target) -> str:
    return f"python/lib/python{target.python_version}/site-packages"


LayerLayout = Literal["shared", "per-version"]


def layer_layout(parts: Sequence[DependencyBuild]) -> LayerLayout:
    """One shared ``python/`` when every runtime's install is identical, else one per version."""
    digests = {tree.digest_files(p.tree, tree.iter_files(p.tree)) for p in parts}
    return "shared" if len(digests) == 1 else "per-version"


def layer_folder(layout: LayerLayout, target: Target) -> str:
    """Where a runtime's install goes in a layer of this layout."""
    return "python" if layout == "shared" else layer_site_packages(target)


def function_bytecode(
    target: Target,
    deps: DependencyBuild | None,
    source: Path | None,
    excludes: Sequence[str],
    options: BuildOptions,
    cache: BundleCache,
    log: Log = quiet,
    follow_external_symlinks: bool = False,
) -> BytecodeReport:
    """The bytecode of a function bundle: its dependencies' and (mode ``all``) its source's."""
    units: list[Unit] = []
    if deps is not None:
        units.append(Unit(deps.tree, "", FUNCTION_MOUNT, key=deps.key))
    if source is not None and options.bytecode == "all":
        listed = tree.source_files(
            source, excludes, follow_external_symlinks=follow_external_symlinks
        )
        files = tuple(rel for rel, _ in listed)
        units.append(Unit(source, "", FUNCTION_MOUNT, files=files))
    return _compile(target, units, options, cache, log)


def layer_bytecode(
    parts: Sequence[DependencyBuild],
    layout: LayerLayout,
    options: BuildOptions,
    cache: BundleCache,
    log: Log = quiet,
) -> tuple[BytecodeReport, ...]:
    """One report per runtime of a layer; each version's files sit in its own install (or
    side by side in the shared ``python/``: their names carry the version)."""
    reports: list[BytecodeReport] = []
    for part in parts:
        folder = layer_folder(layout, part.target)
        unit = Unit(part.tree, folder, f"{LAYER_MOUNT}/{folder}", key=part.key)
        reports.append(_compile(part.target, [unit], options, cache, log))
    return tuple(reports)


def _compile(
    target: Target, units: Sequence[Unit], options: BuildOptions, cache: BundleCache, log: Log
) -> BytecodeReport:
    return compile_units(
        target.python,
        units,
        cache,
        mode=options.bytecode,
        interpreter=options.bytecode_interpreter,
        allow_download=options.allow_python_download,
        verify=options.verifies_cache(os.environ),
        remote=remote_for(options.remote_settings(os.environ), log),
        log=log,
    )


def assemble_layer(
    out: Path,
    parts: Sequence[DependencyBuild],
    *,
    atomic: bool = True,
    layout: LayerLayout | None = None,
    bytecode: Sequence[BytecodeReport] = (),
    before_replace: Callable[[Path], None] | None = None,
) -> LayerLayout:
    """Write a layer: one install per Python version, or one shared ``python/`` when identical
    (:func:`layer_layout`), plus each version's bytecode. Returns the layout."""
    build_dir: Path | None = None
    try:
        build_dir = tree.temp_sibling(out, "build") if atomic else out
        layout = layout or layer_layout(parts)
        for part in parts[:1] if layout == "shared" else parts:
            tree.copy_tree(part.tree, build_dir / layer_folder(layout, part.target))
        _add_bytecode(build_dir, bytecode)
        tree.set_folder_modes(build_dir)
        if atomic:
            if before_replace is not None:
                before_replace(build_dir)
            tree.atomic_replace_dir(build_dir, out)
        return layout
    except OSError as exc:
        raise tree.describe_os_error(exc, f"writing the layer {out}") from None
    finally:
        if atomic and build_dir is not None and build_dir.exists():
            tree.remove_tree(build_dir)


def build_bundle(
    spec: DependencySpec | None,
    target: Target,
    out: Path,
    *,
    options: BuildOptions | None = None,
    source: Path | None = None,
    excludes: Sequence[str] = tree.DEFAULT_EXCLUDES,
    cache: BundleCache | None = None,
    environ: Mapping[str, str] | None = None,
    log: Log = quiet,
    follow_external_symlinks: bool = False,
    inputs: Sequence[outdir.Protected] = (),
    force: bool = False,
) -> Manifest:
    """Build a function bundle in ``out`` (replaced atomically) and return its manifest.

    ``out`` must be new, empty or written by an earlier build, and away from ``source``,
    ``inputs`` and the caches (:mod:`.outdir`); ``force`` replaces any other folder.
    ``follow_external_symlinks``: copy what links in ``source`` that leave it point to
    (default: refuse them, see :func:`tree.source_files`).

    Raises:
        UsageError: ``out`` must not be replaced; checked before anything is installed.
    """
    options = options or BuildOptions()
    env = os.environ if environ is None else environ
    if source is not None and not source.is_dir():
        raise UsageError(f"source folder {source} does not exist; pass an existing folder")
    cache = cache or BundleCache(options.cache_dir)
    outdir.check_output(
        out, protected=_protected_paths(out, source, excludes, inputs, cache, env), force=force
    )
    deps = None
    if spec is not None and spec.requirements:
        deps = build_dependencies(spec, target, options, cache=cache, environ=env, log=log)
    follow = {"follow_external_symlinks": follow_external_symlinks}
    bytecode = function_bytecode(target, deps, source, excludes, options, cache, log, **follow)
    total = check_unzipped_size(f"the bundle {out}", deps, source, excludes, bytecode, **follow)

    def seal(folder: Path) -> None:
        outdir.mark(folder)
        outdir.check_replaceable(out, force=force)  # nobody put files there meanwhile

    copied = assemble_function(
        out, deps, source, excludes, bytecode=bytecode, before_replace=seal, **follow
    )
    index = effective_index(spec, options, env) if spec is not None else options.index
    return Manifest(
        target=target,
        installer=deps.installer if deps else installer_version(options.installer),
        fingerprint=deps.key if deps else "",
        origin=spec.origin if spec is not None else "none",
        index=index,
        distributions=deps.distributions if deps else (),
        source_files=copied,
        total_bytes=total,
        warnings=deps.warnings if deps else (),
        cache=deps.cache if deps else "none",
        layout="function",
        bytecode=bytecode,
        removed=deps.removed if deps else {},
    )


def build_layer(
    spec: DependencySpec | None,
    targets: Sequence[Target],
    out: Path,
    *,
    options: BuildOptions | None = None,
    cache: BundleCache | None = None,
    environ: Mapping[str, str] | None = None,
    log: Log = quiet,
    inputs: Sequence[outdir.Protected] = (),
    force: bool = False,
) -> tuple[Manifest, ...]:
    """Build a layer in ``out`` (replaced atomically, as :func:`build_bundle`): the
    dependencies installed for each target, in one shared ``python/`` when every install is
    the same, else under ``python/lib/python3.X/site-packages``; one manifest per target.

    Raises:
        UsageError: no dependencies, targets on two architectures, or ``out`` must not be
            replaced (checked before anything is installed).
        AuditError: one runtime's part is over Lambda's 250 MiB unzipped.
    """
    options = options or BuildOptions()
    env = os.environ if environ is None else environ
    if spec is None or not spec.requirements:
        raise UsageError("a layer holds dependencies: pass REQ ..., -r FILE or --project DIR")
    if len({t.arch for t in targets}) != 1:
        raise UsageError("a layer's binaries run on one architecture: build one layer per --arch")
    cache = cache or BundleCache(options.cache_dir)
    outdir.check_output(
        out, protected=_protected_paths(out, None, (), inputs, cache, env), force=force
    )
    builds = [
        build_dependencies(spec, t, options, cache=cache, environ=env, log=log) for t in targets
    ]
    layout = layer_layout(builds)
    reports = layer_bytecode(builds, layout, options, cache, log)
    totals = [
        check_unzipped_size(f"the layer {out} for {b.target}", b, None, (), r)
        for b, r in zip(builds, reports)
    ]

    def seal(folder: Path) -> None:
        outdir.mark(folder)
        outdir.check_replaceable(out, force=force)

    assemble_layer(out, builds, layout=layout, bytecode=reports, before_replace=seal)
    index = effective_index(spec, options, env)
    return tuple(
        Manifest(
            target=b.target,
            installer=b.installer,
            fingerprint=b.key,
            origin=spec.origin,
            index=index,
            distributions=b.distributions,
            source_files=0,
            total_bytes=total,
            warnings=b.warnings,
            cache=b.cache,
            layout="layer",
            bytecode=r,
            removed=b.removed,
        )
        for b, r, total in zip(builds, reports, totals)
    )


def _protected_paths(
    out: Path,
    source: Path | None,
    excludes: Sequence[str],
    inputs: Sequence[outdir.Protected],
    cache: BundleCache,
    environ: Mapping[str, str],
) -> list[outdir.Protected]:
    """What a build's output folder must keep away from: its source, inputs and caches."""
    from .install import uv_cache_dir

    places = list(inputs)
    if source is not None:
        # inside the source is fine when the excludes leave it out of the next copy
        real_source, real_out = Path(os.path.realpath(source)), Path(os.path.realpath(out))
        inside = real_source in real_out.parents
        rel = real_out.relative_to(real_source).as_posix() if inside else ""
        places.append(
            outdir.Protected(
                "the --source folder",
                source,
                inside_too=not (rel and tree.matches_exclude(rel, excludes, is_dir=True)),
                why="a build replaces its output folder whole and copies the source into it: "
                "this would delete your source, or copy the bundle into itself next time",
                alternative=f", or leave it out of the source copy (--exclude /{rel})"
                if rel
                else "",
            )
        )
    caches = [("the bundle cache", cache.root), ("uv's cache", uv_cache_dir(environ))]
    for what, path in caches:
        if path is not None:
            places.append(
                outdir.Protected(
                    what,
                    path,
                    inside_too=True,
                    why="the cache manages that folder: the bundle would go with the cache, or "
                    "the cache with the bundle",
                )
            )
    return places


__all__ = [
    "AuditError",
    "BuildOptions",
    "BundleCache",
    "DependencyBuild",
    "Distribution",
    "Manifest",
    "assemble_function",
    "assemble_layer",
    "build_bundle",
    "build_dependencies",
    "dependency_key",
    "read_distributions",
    "wheel_filename",
]
