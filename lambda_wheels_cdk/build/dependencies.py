"""Installing a dependency set for a target into the bundle cache.

:func:`build_dependencies`: a verified cache entry, else (under the key's lock) the remote
cache, else an install (uv/pip; sdists: pure ones on the host, native ones in Docker or
:class:`NeedsDockerError`) -> trim -> normalize -> audit -> cache entry. Nothing here names uv
or Docker beyond choosing the installer object; see :mod:`.install`.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from packaging.utils import canonicalize_name

from .. import tree
from ..errors import IndexUnavailableError, InstallError, LambdaWheelsError, NeedsDockerError
from ..events import Log, counted, emit, human_size, quiet
from ..inputs.requirement_lines import Requirements
from ..inputs.spec import DependencySpec, IndexSettings
from ..install import leftovers
from ..install.dists import Distribution, read_distributions
from ..install.environment import ignored_variables
from ..install.installers import (
    Installer,
    InstallPlan,
    NoFittingWheelError,
    PipInstaller,
    UvInstaller,
    make_installer,
)
from ..target.target import Target
from . import slim
from .cache import BundleCache, dependency_key, effective_index
from .models import BuildOptions, DependencyBuild
from .remote import remote_for
from .scripts import drop_console_scripts

if TYPE_CHECKING:
    from concurrent.futures import Future

    from ..index.pages import IndexFile
    from ..index.view import FilteringIndexView

#: Host settings already reported as ignored in this process (say it once, not per bundle).
_NOTIFIED: set[tuple[str, ...]] = set()
#: Caches whose leftovers (and the system temp folder's) this process has swept.
_SWEPT: set[Path] = set()


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
        leftovers.sweep_temp()
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
            stored = _install_and_store(
                spec, target, options, index, key, cache, env, installer, log, verify=verify
            )
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


def _install_and_store(
    spec: DependencySpec,
    target: Target,
    options: BuildOptions,
    index: IndexSettings,
    key: str,
    cache: BundleCache,
    environ: Mapping[str, str],
    installer: Installer | None,
    log: Log,
    *,
    verify: bool,
) -> DependencyBuild:
    """Install in a fresh work folder of the cache and store the result as the entry ``key``
    (with fresh downloads when the old entry was found changed)."""
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
            environ,
            installer,
            log,
            refresh=refresh,
            page_cache=cache.pages_dir,
        )
        cache.invalidated.pop(key, None)
        return cache.store(key, work, build, record, digests=verify)


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
    from ..index.client import SimpleIndexClient

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
    _say_ignored_settings(environ, log)
    dest = work / "tree"
    dest.mkdir()
    count = len(spec.requirements)
    emit("install-start", key=key, target=str(target), installer=inst.name)
    log(f"installing {count} requirement{'s' * (count != 1)} for {target} with {inst.name}")
    started = time.monotonic()
    requirements = spec.install_requirements()
    unpinned = _unpinned_names(requirements)
    warnings: list[str] = []
    origins: dict[str, Literal["sdist-host", "sdist-docker"]] = {}
    view: FilteringIndexView[IndexSettings] | None = None
    pages: _NotePages | None = None
    with contextlib.ExitStack() as stack:
        constraints = spec.constraints_txt()
        plan = InstallPlan(
            target, requirements, constraints, index, link_mode=options.link_mode, refresh=refresh
        )
        if count:
            plan = _with_local_projects(plan, spec, options, inst, work, environ, log)
            plan, view = _behind_a_view(plan, inst, stack, page_cache, log)
            if view is None:  # behind a view, the view explains
                pages = _prefetch_notes(unpinned, index, environ, page_cache, stack)
            origins = _install_tree(inst, plan, dest, view, options, work, environ, log)
        removed = _finish_tree(dest, options, target, warnings, log)
        seconds = round(time.monotonic() - started, 3)
        emit("install-finish", key=key, target=str(target), installer=inst.name, seconds=seconds)
        record = tree.tree_record(dest)  # one walk: sizes for the manifest and the cache
        sizes = {row[0]: row[1] for row in record}
        distributions = read_distributions(dest, target, origins, sizes=sizes)
        notes = _explain_versions(unpinned, distributions, target, view, pages)
    build = DependencyBuild(
        key=key,
        tree=dest,
        target=target,
        installer=inst.version(),
        distributions=_noted(distributions, notes, unpinned, warnings, log),
        warnings=tuple(warnings),
        cache="miss",
        size=sum(sizes.values()),
        removed=removed,
    )
    _audit_dependencies(build, options, origins, log)
    return build, record


def _say_ignored_settings(environ: Mapping[str, str], log: Log) -> None:
    """Name the host's installer settings that are not honoured (once per process)."""
    ignored = ignored_variables(environ)
    if ignored and ignored not in _NOTIFIED:
        _NOTIFIED.add(ignored)
        log(f"ignoring host installer settings {', '.join(ignored)} (pass them explicitly)")


def _host_uv(inst: Installer, environ: Mapping[str, str]) -> UvInstaller:
    """The installer itself when it is uv, else uv: it resolves and builds sdists on the host."""
    return inst if isinstance(inst, UvInstaller) else UvInstaller(environ=environ)


def _with_local_projects(
    plan: InstallPlan,
    spec: DependencySpec,
    options: BuildOptions,
    inst: Installer,
    work: Path,
    environ: Mapping[str, str],
    log: Log,
) -> InstallPlan:
    """Local project folders and sdist files are built here, like pure sdists: the plan then
    points at their wheels."""
    projects = {n: p for n, p in spec.local_paths.items() if not p.endswith(".whl")}
    if not projects:
        return plan
    from ..install import sdists

    uv = _host_uv(inst, environ)
    wheels = work / "local-wheels"
    detail: Log = getattr(log, "detail", quiet)
    return sdists.build_local_projects(
        projects, plan, uv, wheels, allow=options.allow_sdists, log=detail
    )


def _behind_a_view(
    plan: InstallPlan,
    inst: Installer,
    stack: contextlib.ExitStack,
    page_cache: Path | None,
    log: Log,
) -> tuple[InstallPlan, FilteringIndexView[IndexSettings] | None]:
    """uv resolves through a filtering index view where the target needs one (open until
    ``stack`` closes): it sees only the wheels :meth:`Target.accepts` (exact glibc ceiling, no
    ``linux_*`` wheels), so any superset ``--python-platform`` is safe and the newest fitting
    release wins."""
    from ..index.view import FilteringIndexView, needs_filtering_view, uv_superset_platform

    if inst.name != "uv" or not needs_filtering_view(plan.target, plan.index):
        return plan, None
    view = FilteringIndexView(plan.index, plan.target, page_cache=page_cache)
    local = stack.enter_context(view)
    getattr(log, "detail", quiet)(f"resolving through a filtering index view for {plan.target}")
    return replace(plan, index=local, python_platform=uv_superset_platform(plan.target)), view


def _install_tree(
    inst: Installer,
    plan: InstallPlan,
    dest: Path,
    view: FilteringIndexView[IndexSettings] | None,
    options: BuildOptions,
    work: Path,
    environ: Mapping[str, str],
    log: Log,
) -> dict[str, Literal["sdist-host", "sdist-docker"]]:
    """Install the plan into ``dest``; when some requirement has no fitting wheel, build the
    sdists (:func:`_plan_sdists`) and install again. Returns where sdist-built ones came from.
    """
    detail: Log = getattr(log, "detail", quiet)
    origins: dict[str, Literal["sdist-host", "sdist-docker"]] = {}
    try:
        _install_or_explain(inst, plan, dest, view, detail, log)
    except NoFittingWheelError as exc:
        # files are downloaded on this host with the configured index, not through the view
        index = view.settings if view is not None else plan.index
        plan, origins = _plan_sdists(plan, exc.names, options, work, environ, inst, log, index)
        tree.remove_tree(dest)
        dest.mkdir()
        _install_or_explain(inst, plan, dest, view, detail, log)
    if not any(dest.glob("*.dist-info")):
        raise InstallError(
            f"the installer reported success but installed nothing into {dest}; this is a "
            "bug in lambda-wheels or the installer: please report it with the output above"
        )
    return origins


def _noted(
    distributions: Sequence[Distribution],
    notes: Mapping[str, str],
    unpinned: set[str],
    warnings: list[str],
    log: Log,
) -> tuple[Distribution, ...]:
    """The distributions with their "why not newer" notes; the notes of unpinned top-level
    requirements are also said and kept as warnings."""
    noted = tuple(replace(d, note=notes.get(canonicalize_name(d.name))) for d in distributions)
    for dist in noted:
        if dist.note and canonicalize_name(dist.name) in unpinned:
            warnings.append(dist.note)
            log(f"note: {dist.note}")
    return noted


def _finish_tree(
    dest: Path, options: BuildOptions, target: Target, warnings: list[str], log: Log
) -> dict[str, Any]:
    """A fresh install as it is cached: without the console-script launchers Lambda never
    runs (see :mod:`.scripts`), trimmed as opted in (:mod:`.slim`), normalized; what
    trimming removed."""
    drop_console_scripts(dest)
    removed = _trim(dest, options, target, warnings, log)
    tree.normalize_install(dest)
    return removed


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


def _unpinned_names(requirements: Requirements) -> set[str]:
    """Top-level requirements without an exact pin (``==``/``===``): their version was chosen."""
    return {
        r.name
        for r in requirements
        if r.requirement.url is None
        and not any(s.operator in ("==", "===") for s in r.requirement.specifier)
    }


def _prefetch_notes(
    unpinned: set[str],
    index: IndexSettings,
    environ: Mapping[str, str],
    page_cache: Path | None,
    stack: contextlib.ExitStack,
) -> _NotePages | None:
    """Start fetching the pages the "why not newer" notes of ``unpinned`` need (closed with
    ``stack``); ``None`` when there is nothing to explain or no index to ask."""
    if not unpinned or (index.no_index and not index.find_links):
        return None
    pages = _NotePages(unpinned, index, environ, page_cache)
    stack.callback(pages.close)
    return pages


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

        from ..index.client import SimpleIndexClient

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
    from ..index.resolution import explain_release

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
    index: IndexSettings,
) -> tuple[InstallPlan, dict[str, Literal["sdist-host", "sdist-docker"]]]:
    """Some requirements have no fitting wheel: build pure ones here, native ones in Docker
    (downloading with ``index``, the configured one). Returns the plan that installs them and
    where each came from."""
    from ..install import sdists

    detail: Log = getattr(log, "detail", quiet)
    names = [canonicalize_name(n) for n in first]
    if not options.allow_sdists:
        raise InstallError(
            f"{', '.join(names)} {'has' if len(names) == 1 else 'have'} no wheel for "
            f"{plan.target} and building sdists is disabled (allow_sdists=False / --no-sdists); "
            "allow sdists, or pin versions that ship wheels for the target"
        )
    uv = _host_uv(inst, environ)
    pins = sdists.resolve_sdist_pins(plan, uv, names, log=detail)
    log(f"no fitting wheel for {', '.join(f'{n}=={v}' for n, v in pins.items())}; building")
    pure, native = sdists.classify(pins, plan, uv, work / "sdist-check", log=detail)
    origins: dict[str, Literal["sdist-host", "sdist-docker"]] = dict.fromkeys(pure, "sdist-host")
    built: dict[Path, list[Path]] = {}  # wheelhouse -> the wheels we made from (verified) sdists
    if native:
        house = work / "wheelhouse"
        built[house] = _docker_wheels(native, plan, uv, house, options, environ, log, index)
        origins.update(dict.fromkeys(native, "sdist-docker"))
    source_build: tuple[str, ...] = tuple(sorted(pure))
    if isinstance(inst, PipInstaller) and pure:
        # pip refuses sdists with --platform: it gets the wheels built here instead
        house = work / "wheelhouse-pure"
        pinned = replace(plan, requirements=plan.requirements.pinned(pure))
        built[house] = inst.build_wheels(pinned, house, log=detail)
        source_build = ()
    requirements = plan.requirements
    wheels = [wheel for made in built.values() for wheel in made]
    if requirements.hash_checking and wheels:
        # hash-checking mode: the wheels built from verified sdists are trusted too
        requirements = requirements.trusting(sdists.built_wheel_digests(wheels))
    new_plan = replace(
        plan,
        requirements=requirements,
        source_build=source_build,
        wheelhouse=(*plan.wheelhouse, *map(str, built)),
    )
    return new_plan, origins


def _docker_wheels(
    native: Mapping[str, tuple[str, str]],
    plan: InstallPlan,
    uv: UvInstaller,
    house: Path,
    options: BuildOptions,
    environ: Mapping[str, str],
    log: Log,
    index: IndexSettings,
) -> list[Path]:
    """Compile the native sdists (name -> (version, why native)) in the target's build image
    into ``house``, downloading with ``index``; or say that Docker must be enabled."""
    from ..install.docker import build_wheels_in_docker

    if not options.docker:
        listed = "; ".join(f"{n}=={v} ({why})" for n, (v, why) in sorted(native.items()))
        raise NeedsDockerError(
            f"these requirements have no wheel for {plan.target} and contain native code, "
            f"so they must be compiled in the runtime's build image: {listed}. Enable "
            "Docker bundling (docker=True / --docker; needs a Docker engine), or pin "
            "versions that ship manylinux wheels for the target",
            sorted(native),
        )
    return build_wheels_in_docker(
        {n: v for n, (v, _) in native.items()},
        plan,  # its target and index resolve build requirements; its hashes verify sdists
        uv,
        house,
        index=index,  # files are downloaded on this host with the configured index
        environ=environ,
        log=log,
        detail=getattr(log, "detail", quiet),
        image=options.docker_image,
        network=options.docker_network,
    )


def _audit_dependencies(
    build: DependencyBuild,
    options: BuildOptions,
    origins: Mapping[str, str],
    log: Log,
) -> None:
    if options.audit == "off":
        return
    from ..audit.engine import audit

    # wheels we compiled in the target's build image carry linux_<arch>: the tag is expected
    docker_built = [n for n, o in origins.items() if o == "sdist-docker"]
    report = audit(build.tree, build.target, built_for_target=docker_built)
    log(report.summary())
    if report.errors and options.audit == "strict":
        report.raise_for_errors()
    for f in report.findings:
        if f.severity == "warning" or options.audit == "warn":
            log(f"{f.severity}: {f.distribution or '-'}: {f.path}: {f.reason}")
