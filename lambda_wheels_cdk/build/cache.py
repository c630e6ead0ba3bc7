"""The bundle cache and its keys: same inputs -> same key on every machine.

The cache is content-addressed: ``<cache>/v1/deps/<key>/`` holds ``tree/`` and
``manifest.json``; entries appear by an atomic rename, are guarded by a file lock per key (two
builds of the same inputs install once), and are verified against their recorded file sizes and
times before use (a changed entry is rebuilt, with uv's cache refreshed: its files may be hard
links into uv's cache). ``<cache>/v1/index-pages/`` keeps index project pages for as long as
their HTTP caching headers allow (:class:`.index.SimpleIndexClient`). ``<cache>/v1/pyc/`` holds
compiled bytecode (:mod:`.bytecode`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from .. import tree
from ..errors import BundleError
from ..events import emit
from ..inputs.spec import DependencySpec, IndexSettings
from ..install import leftovers
from ..install.dists import Distribution
from ..install.environment import index_settings_from_env
from ..target.target import Target
from ..version import __version__
from . import slim
from .models import BuildOptions, DependencyBuild, InstallerName
from .remote import RemoteCache

CACHE_SCHEMA = "v1"
#: Work folders under ``<cache>/v1/tmp`` (see :meth:`BundleCache.workdir`).
WORK_PREFIX = "work-"
#: Bump when the same inputs would install differently (enters every cache key and asset hash).
#: 2: filtering index view (AL2 glibc ceiling); 3: no uv .lock file; 4: no console-script launchers
RESOLVER_REVISION = 4


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
