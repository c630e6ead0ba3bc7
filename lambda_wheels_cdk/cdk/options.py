"""Bundling options shared by :class:`PythonWheelFunction` and :class:`PythonWheelLayer`."""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, Optional, Union

import aws_cdk as cdk

from ..build.bytecode import BytecodeMode
from ..build.models import AuditMode, BuildOptions, InstallerName
from ..errors import UsageError
from ..inputs.paths import absolute_find_links
from ..install.installers import LinkMode
from ..target.runtimes import DATACLASS_SLOTS
from ..tree import DEFAULT_EXCLUDES
from .hooks import CommandHooks, check_hooks

#: The fields handed to :meth:`BuildOptions.from_user` under their own names (``image`` is
#: turned into ``docker_image``); every other field is the CDK shell's own.
_BUILD_OPTION_NAMES: tuple[str, ...] = tuple(
    name for name in inspect.signature(BuildOptions.from_user).parameters if name != "docker_image"
)

#: How the asset hash is computed (``asset_hash_type``), as lower-case names.
HashKind = Literal["source", "output", "custom"]


@dataclass(frozen=True, **DATACLASS_SLOTS)
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
        follow_external_symlinks: copy what symbolic links in ``entry`` that point outside it
            point to. Default: off -- such a link fails at construction with ``InputError``
            (it could ship a file such as ``~/.aws/credentials``). Links that stay inside
            ``entry`` are always followed (copied as what they point to), like
            ``PythonFunction``'s ``rsync -L``.
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
        verify_cache: hash every file of a bundle-cache entry against the sha256 recorded
            when it was cached, before using it: a file whose bytes changed while its size and
            time stayed the same is caught, and the entry rebuilt with fresh downloads (with a
            warning). About 0.3 s per 250 MB. Does not change the asset hash. Default
            (``None``): on when the bundling environment has ``CI=true``, else off.
        smoke: after bundling, import every top-level module of every distribution (and the
            handler module) under a CPython of the target's version -- native, or arm64 under
            ``qemu-aarch64-static`` with ``LAMBDA_WHEELS_ARM64_SYSROOT`` -- with the function's
            PythonWheelLayers on ``sys.path``. A failed import fails synth; no interpreter on
            this host prints why and goes on. Default: off.
        environment: environment variables for the bundling, over the host's: the installer
            and the host sdist builds see them (index variables such as ``PIP_INDEX_URL`` are
            honoured as index settings; other ``PIP_*``/``UV_*`` ones are ignored, as from the
            host), the command hooks see all of them, and so does the ``docker`` CLI (e.g.
            ``DOCKER_HOST``) -- but not the build container. Values never enter the asset hash
            (index URLs enter without credentials) and never appear in the output (hook output
            masks values of variables named like ``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*``).
            Default: none.
        command_hooks: an object with ``before_bundling(input_dir, output_dir)`` and
            ``after_bundling(input_dir, output_dir)``, each returning a list of shell commands
            (aws-lambda-python-alpha's ``ICommandHooks``). Run on the host, each list chained
            with ``&&`` in one shell (``bash``; ``cmd`` on Windows) with ``environment``:
            *before* in ``input_dir`` ahead of everything, *after* in ``output_dir`` once the
            bundle is complete. A failing command fails synth, naming it with its output. The
            commands' text enters the asset hash (at construction the hooks are asked once
            with ``output_dir="<output_dir>"``); their effects cannot (use
            ``asset_hash_type=OUTPUT`` when they must). Default: none.
        image: with ``docker=True``, the image native sdists are compiled in: a
            ``DockerImage`` (e.g. ``DockerImage.from_build(...)``) or an image name. It must run
            the target's Python as ``python`` with pip on the target's platform; what it builds
            is audited. Enters the asset hash. Default: the runtime's SAM build image.
        docker_network: with ``docker=True``, give the build container the engine's default
            network, for sdists whose build scripts download files themselves. Default: off:
            everything the build needs is downloaded on this machine (its index settings,
            credentials, proxies and trust store) and mounted read-only into a container
            started with ``--network none``.
        asset_hash: a hash of your own that replaces lambda-wheels' fingerprint as the asset
            hash (CDK hashes it again); keep it changing whenever the bundle must. Default: the
            fingerprint of the source, dependency inputs, target, options and tool versions.
        asset_hash_type: ``AssetHashType.SOURCE`` (default): that fingerprint, known at
            construction, so an unchanged asset is never rebuilt; ``OUTPUT``: CDK hashes the
            bundle after every bundling (the dependencies still come from the bundle cache);
            ``CUSTOM``: ``asset_hash`` (implied when it is given).
        bytecode: ``True`` (default): ship ``.pyc`` files for every ``.py`` of the bundle,
            compiled by a CPython of the runtime's version on this machine, hash-based and
            unchecked (valid after CDK's zip resets file times) with Lambda's paths in them
            (``/var/task/...``, ``/opt/python/...``), so cold starts do not compile every module
            again on Lambda's read-only file system. ``"dependencies"``: not the handler
            source. ``False``: no bytecode. No CPython of that version here: one warning and
            no bytecode (whether one is found enters the asset hash).
        bytecode_interpreter: the CPython that compiles (a path). Default: ``pythonX.Y`` on
            ``PATH``, pyenv's, uv's, or ``uv python find``.
        allow_python_download: let uv download a CPython of the runtime's version when none is
            found (``uv python install``). Default: off.
        slim: remove test suites inside packages (``pkg/**/tests``) and type stubs from the
            dependencies; what each rule removed is printed. Default: off.
        exclude_runtime_packages: leave out boto3, botocore and s3transfer, which the Lambda
            runtime provides (a warning names the versions you pinned: the runtime's are not
            published per runtime and Region). Default: off.
        remote_cache: ``s3://bucket/prefix`` of a bundle cache shared by every machine (CI
            fleets): a local miss is looked up there before installing, and fresh builds are
            published; verified by sha256 before use, and a remote failure only warns. Needs
            ``lambda-wheels-cdk[s3]`` and AWS credentials from the standard chain. Not in the
            asset hash. Default: ``$LAMBDA_WHEELS_REMOTE_CACHE``, else none.
        remote_cache_mode: ``"read-write"`` or ``"read"`` (look up only: untrusted branches).
            Default: ``$LAMBDA_WHEELS_REMOTE_CACHE_MODE``, else ``"read-write"``.
    """

    installer: InstallerName = "uv"
    index_url: str | None = None
    extra_index_urls: Sequence[str] = ()
    find_links: Sequence[str] = ()
    no_index: bool = False
    excludes: Sequence[str] = ()
    follow_external_symlinks: bool = False
    docker: bool = False
    allow_sdists: bool = True
    audit: AuditMode = "strict"
    extras: Sequence[str] = ()
    groups: Sequence[str] = ()
    locked: bool = False
    cache_dir: str | None = None
    smoke: bool = False
    link_mode: LinkMode = "link"
    verify_cache: Optional[bool] = None
    environment: Optional[Mapping[str, str]] = field(default=None, repr=False)
    command_hooks: Optional[CommandHooks] = None
    image: Union[str, cdk.DockerImage, None] = None
    docker_network: bool = False
    asset_hash: Optional[str] = None
    asset_hash_type: Optional[cdk.AssetHashType] = None
    bytecode: Union[bool, BytecodeMode] = True
    bytecode_interpreter: Optional[str] = None
    allow_python_download: bool = False
    slim: bool = False
    exclude_runtime_packages: bool = False
    remote_cache: Optional[str] = None
    remote_cache_mode: Optional[str] = None
    _build: BuildOptions = field(init=False, repr=False, compare=False)
    _hash_kind: HashKind = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_environment(self.environment)
        if self.command_hooks is not None:
            check_hooks(self.command_hooks)
        object.__setattr__(self, "_hash_kind", _hash_kind(self.asset_hash, self.asset_hash_type))
        # validates installer / audit values right away (construction time)
        user = {name: getattr(self, name) for name in _BUILD_OPTION_NAMES}
        build = BuildOptions.from_user(**user, docker_image=_image_name(self.image))
        object.__setattr__(self, "_build", build)

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
    def hash_kind(self) -> HashKind:
        """How the asset hash is made: our fingerprint, CDK's output hash, or ``asset_hash``."""
        return self._hash_kind

    def environ(self, host: Mapping[str, str] | None = None) -> dict[str, str]:
        """The bundling environment: ``host`` (default ``os.environ``) with ``environment``."""
        return {**(os.environ if host is None else host), **(self.environment or {})}

    @property
    def all_excludes(self) -> tuple[str, ...]:
        return (*DEFAULT_EXCLUDES, *self.excludes)


def _check_environment(environment: object) -> None:
    if environment is None:
        return
    if not isinstance(environment, Mapping):
        raise UsageError(
            f"environment must be a mapping of variable names to strings, not "
            f"{type(environment).__name__}"
        )
    bad = [
        str(k)
        for k, v in environment.items()
        if not isinstance(k, str) or not k or "=" in k or "\0" in k or not isinstance(v, str)
    ]
    if bad:
        raise UsageError(
            f"environment has invalid entries for {', '.join(map(repr, bad))}: names must be "
            "non-empty strings without '=', and values strings"
        )


def _image_name(image: object) -> str | None:
    """The name of a ``DockerImage`` or an image name string (``None`` when unset)."""
    if image is None:
        return None
    name = image if isinstance(image, str) else getattr(image, "image", None)
    if not isinstance(name, str) or not name.strip():
        raise UsageError(f"image must be an aws_cdk.DockerImage or an image name, not {image!r}")
    return name


def _hash_kind(asset_hash: str | None, hash_type: object) -> HashKind:
    kind = None if hash_type is None else str(getattr(hash_type, "value", hash_type)).lower()
    if kind not in (None, "source", "output", "custom"):
        raise UsageError(
            f"asset_hash_type {hash_type!r} must be AssetHashType.SOURCE, OUTPUT or CUSTOM"
        )
    if asset_hash is not None:
        if not isinstance(asset_hash, str) or not asset_hash:
            raise UsageError("asset_hash must be a non-empty string")
        if kind not in (None, "custom"):
            raise UsageError(
                f"asset_hash is given, so asset_hash_type must be CUSTOM (or unset), not "
                f"{kind.upper()}"
            )
        return "custom"
    if kind == "custom":
        raise UsageError("asset_hash_type=CUSTOM needs asset_hash: pass the hash to use")
    return "output" if kind == "output" else "source"
