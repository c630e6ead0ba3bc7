"""What a build takes and gives: :class:`BuildOptions`, :class:`DependencyBuild` (a cached
dependency tree) and :class:`Manifest` (what ``lambda-wheels build --json`` prints)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from ..errors import UsageError
from ..inputs.spec import IndexSettings
from ..install.dists import Distribution
from ..install.installers import LinkMode
from ..target.runtimes import DATACLASS_SLOTS
from ..target.target import Target
from .bytecode import BytecodeMode, BytecodeReport, mode_of
from .remote import REMOTE_MODES, RemoteCacheSettings

InstallerName = Literal["uv", "pip"]
AuditMode = Literal["strict", "warn", "off"]


# -- options and results ---------------------------------------------------------------------


@dataclass(frozen=True, **DATACLASS_SLOTS)
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

    @classmethod
    def from_user(
        cls,
        *,
        installer: InstallerName,
        index_url: str | None,
        extra_index_urls: Sequence[str],
        find_links: Sequence[str],
        no_index: bool,
        docker: bool,
        docker_image: str | None,
        docker_network: bool,
        allow_sdists: bool,
        audit: AuditMode,
        cache_dir: str | None,
        link_mode: LinkMode,
        bytecode: bool | BytecodeMode,
        bytecode_interpreter: str | None,
        allow_python_download: bool,
        slim: bool,
        exclude_runtime_packages: bool,
        remote_cache: str | None,
        remote_cache_mode: str | None,
        verify_cache: bool | None,
    ) -> BuildOptions:
        """The build options from the options as users name them: the one mapping that the
        constructs (:class:`~lambda_wheels_cdk.cdk.options.WheelBundlingOptions`, whose fields
        carry these names; ``image`` gives ``docker_image``) and ``lambda-wheels build`` (whose
        flags do) share. Every option is passed (each shell has its own defaults, and the
        class's fields hold the build's). Paths must already be absolute where that matters
        (``find_links``, ``cache_dir``): each shell knows its own base folders.

        Raises:
            UsageError: a value is not one the option takes.
        """
        # every parameter is the field of the same name, but for the four that make `index`
        given = dict(locals())
        del given["cls"]
        index = IndexSettings(
            index_url=given.pop("index_url"),
            extra_index_urls=tuple(given.pop("extra_index_urls")),
            find_links=tuple(given.pop("find_links")),
            no_index=given.pop("no_index"),
        )
        return cls(index=index, **given)

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


@dataclass(frozen=True, **DATACLASS_SLOTS)
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


@dataclass(frozen=True, **DATACLASS_SLOTS)
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
