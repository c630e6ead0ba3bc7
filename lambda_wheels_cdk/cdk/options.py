"""Bundling options shared by :class:`PythonWheelFunction` and :class:`PythonWheelLayer`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..core.bundle import AuditMode, BuildOptions, InstallerName
from ..core.install import LinkMode
from ..core.paths import absolute_find_links
from ..core.runtimes import _SLOTS
from ..core.sources import IndexSettings
from ..core.tree import DEFAULT_EXCLUDES


@dataclass(frozen=True, **_SLOTS)
class WheelBundlingOptions:
    """How dependencies are installed for the target. Every field has a working default.

    Attributes:
        installer: ``"uv"`` (default: fast, evaluates environment markers for the target) or
            ``"pip"`` (passes every platform tag; evaluates markers for the build host).
        index_url: the package index. Default: PyPI, or ``PIP_INDEX_URL`` / ``UV_DEFAULT_INDEX``
            from the environment, or the requirements file's ``--index-url``. Credentials in it
            are used, never printed, and left out of the asset hash.
        extra_index_urls: further indexes. Default: none (plus the environment's and file's).
        find_links: local folders or URLs of wheels. Default: none. A relative folder is
            looked up in the function's ``entry`` (a layer's dependency folder) first, then in
            the working directory. Host ``PIP_FIND_LINKS`` and pip/uv config files are never
            used.
        no_index: use only ``find_links``. Default: off.
        excludes: glob patterns left out of the handler source copy, in addition to the
            defaults (``.venv``, ``__pycache__``, ``*.pyc``, ``.git``, ``cdk.out``,
            ``node_modules``, tool caches). Default: none.
        docker: compile requirements that ship only native sdists inside the runtime's build
            image (``public.ecr.aws/sam/build-pythonX.Y``, arch-aware) with ``$CDK_DOCKER`` /
            ``docker``. Default: off; such requirements fail synth with the list of packages.
        allow_sdists: build pure-Python sdists on the host (runs their build code). Default: on.
        audit: ``"strict"`` (default) fails synth on audit errors and prints warnings;
            ``"warn"`` prints everything; ``"off"`` skips the audit.
        extras: optional-dependency extras of a ``pyproject.toml`` / lock input. Default: none.
        groups: dependency groups of a ``pyproject.toml`` / lock input. Default: none (poetry:
            ``main``).
        locked: a ``uv.lock`` must match its ``pyproject.toml`` (``uv export --locked``).
            Default: off (``--frozen``: the lock is used as it is).
        cache_dir: the bundle cache (a relative path is relative to the working directory
            when the construct is created). Default: the user cache dir, or
            ``$LAMBDA_WHEELS_CACHE_DIR``.
        link_mode: ``"link"`` (default): installed files are cloned (copy-on-write file
            systems) or hard-linked from uv's cache, as uv does; lambda-wheels never modifies a
            shared file. ``"copy"``: new copies (slower for large sets). Same asset contents.
        smoke: after bundling, import every top-level module of every distribution (and the
            handler module) under a CPython of the target's version -- native, or arm64 under
            ``qemu-aarch64-static`` with ``LAMBDA_WHEELS_ARM64_SYSROOT`` -- with the function's
            PythonWheelLayers on ``sys.path``. A failed import fails synth; no interpreter on
            this host prints why and goes on. Default: off.
    """

    installer: InstallerName = "uv"
    index_url: str | None = None
    extra_index_urls: Sequence[str] = ()
    find_links: Sequence[str] = ()
    no_index: bool = False
    excludes: Sequence[str] = ()
    docker: bool = False
    allow_sdists: bool = True
    audit: AuditMode = "strict"
    extras: Sequence[str] = ()
    groups: Sequence[str] = ()
    locked: bool = False
    cache_dir: str | None = None
    smoke: bool = False
    link_mode: LinkMode = "link"
    _build: BuildOptions = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # validates installer / audit values right away (construction time)
        object.__setattr__(
            self,
            "_build",
            BuildOptions(
                installer=self.installer,
                index=IndexSettings(
                    index_url=self.index_url,
                    extra_index_urls=tuple(self.extra_index_urls),
                    find_links=tuple(self.find_links),
                    no_index=self.no_index,
                ),
                docker=self.docker,
                allow_sdists=self.allow_sdists,
                audit=self.audit,
                cache_dir=self.cache_dir,
                link_mode=self.link_mode,
            ),
        )

    def with_absolute_paths(self, bases: Sequence[Path], *, what: str) -> WheelBundlingOptions:
        """A copy whose paths no longer depend on the working directory at synth time.

        Local ``find_links`` are looked up in ``bases`` in order (the construct's own folder,
        then the working directory); ``cache_dir`` is made absolute against the working
        directory (it is created, not looked up), as ``--cache-dir`` is by the CLI.

        Raises:
            InputError: a local ``find_links`` entry exists in none of ``bases``.
        """
        links = absolute_find_links(self.find_links, bases, what=f"{what}: find_links")
        cache = None if self.cache_dir is None else os.path.abspath(self.cache_dir)
        return replace(self, find_links=links, cache_dir=cache)

    @property
    def build_options(self) -> BuildOptions:
        return self._build

    @property
    def all_excludes(self) -> tuple[str, ...]:
        return (*DEFAULT_EXCLUDES, *self.excludes)
