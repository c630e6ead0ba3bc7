"""build_bundle(): dependency inputs -> install for the target -> audit -> atomic, cached output.

The pipeline (one path for the CLI and the CDK constructs)::

    DependencySpec + Target + BuildOptions
      -> dependency key (inputs, target, options, tool versions; no absolute paths, no secrets)
      -> bundle cache hit?  yes: verified tree, no installer runs
                            no:  install (uv/pip; sdists: pure ones on the host, native ones in
                                 Docker or NeedsDockerError) -> normalize -> audit -> cache entry
      -> assemble: dependencies (+ handler source with excludes) -> temp folder -> rename

Each step has its module: :mod:`.models` (options, results), :mod:`.cache` (keys and the
content-addressed cache), :mod:`.dependencies` (installing), :mod:`.assemble` (writing the
folder).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import tree
from ..errors import UsageError
from ..events import Log, quiet
from ..inputs.spec import DependencySpec
from ..target.target import Target
from . import outdir
from .assemble import (
    assemble_function,
    assemble_layer,
    check_unzipped_size,
    function_bytecode,
    layer_bytecode,
    layer_layout,
)
from .bytecode import BytecodeReport
from .cache import BundleCache, effective_index, installer_version
from .dependencies import build_dependencies
from .models import BuildOptions, DependencyBuild, Manifest


@dataclass(frozen=True)
class Builder:
    """The steps both shells run, for one build's options, cache, environment and log: install
    the dependencies for each target, then write a function bundle or a layer (bytecode, the
    250 MiB check, the folder). The CLI adds the output-folder checks (:func:`build_bundle`,
    :func:`build_layer`); the CDK constructs write into CDK's own folder (``atomic=False``)."""

    options: BuildOptions
    cache: BundleCache
    environ: Mapping[str, str]
    log: Log = quiet

    def install(
        self, spec: DependencySpec | None, targets: Sequence[Target]
    ) -> tuple[DependencyBuild, ...]:
        """The dependencies installed for each target (none when ``spec`` has none)."""
        if spec is None or not spec.requirements:
            return ()
        return tuple(
            build_dependencies(
                spec, t, self.options, cache=self.cache, environ=self.environ, log=self.log
            )
            for t in targets
        )

    def write_function(
        self,
        out: Path,
        target: Target,
        deps: DependencyBuild | None,
        source: Path | None,
        excludes: Sequence[str],
        *,
        what: str,
        follow_external_symlinks: bool = False,
        atomic: bool = True,
        before_replace: Callable[[Path], None] | None = None,
    ) -> FunctionWritten:
        """Compile, check the size (``what`` names the bundle in the error), write ``out``."""
        follow = {"follow_external_symlinks": follow_external_symlinks}
        bytecode = function_bytecode(
            target, deps, source, excludes, self.options, self.cache, self.log, **follow
        )
        total = check_unzipped_size(what, deps, source, excludes, bytecode, **follow)
        copied = assemble_function(
            out,
            deps,
            source,
            excludes,
            atomic=atomic,
            bytecode=bytecode,
            before_replace=before_replace,
            follow_external_symlinks=follow_external_symlinks,
        )
        return FunctionWritten(copied, total, bytecode)

    def write_layer(
        self,
        out: Path,
        builds: Sequence[DependencyBuild],
        *,
        what: str,
        atomic: bool = True,
        before_replace: Callable[[Path], None] | None = None,
    ) -> tuple[tuple[BytecodeReport, ...], tuple[int, ...]]:
        """Compile, check each runtime's part against the size limit, write ``out``; each
        runtime's bytecode report and unzipped size."""
        layout = layer_layout(builds)
        reports = layer_bytecode(builds, layout, self.options, self.cache, self.log)
        totals = tuple(
            check_unzipped_size(f"{what} for {b.target}", b, None, (), r)
            for b, r in zip(builds, reports)
        )
        assemble_layer(
            out,
            builds,
            atomic=atomic,
            layout=layout,
            bytecode=reports,
            before_replace=before_replace,
        )
        return reports, totals


@dataclass(frozen=True)
class FunctionWritten:
    """What :meth:`Builder.write_function` wrote: source files copied, unzipped bytes, bytecode."""

    copied: int
    total: int
    bytecode: BytecodeReport


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
    builder = Builder(options, cache, env, log)
    deps = next(iter(builder.install(spec, [target])), None)
    written = builder.write_function(
        out,
        target,
        deps,
        source,
        excludes,
        what=f"the bundle {out}",
        follow_external_symlinks=follow_external_symlinks,
        before_replace=_sealer(out, force),
    )
    index = effective_index(spec, options, env) if spec is not None else options.index
    return Manifest(
        target=target,
        installer=deps.installer if deps else installer_version(options.installer),
        fingerprint=deps.key if deps else "",
        origin=spec.origin if spec is not None else "none",
        index=index,
        distributions=deps.distributions if deps else (),
        source_files=written.copied,
        total_bytes=written.total,
        warnings=deps.warnings if deps else (),
        cache=deps.cache if deps else "none",
        layout="function",
        bytecode=written.bytecode,
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
    builder = Builder(options, cache, env, log)
    builds = builder.install(spec, targets)
    reports, totals = builder.write_layer(
        out, builds, what=f"the layer {out}", before_replace=_sealer(out, force)
    )
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


def _sealer(out: Path, force: bool) -> Callable[[Path], None]:
    """Right before the finished folder replaces ``out``: mark it as ours, and check that
    nobody put files in ``out`` meanwhile."""

    def seal(folder: Path) -> None:
        outdir.mark(folder)
        outdir.check_replaceable(out, force=force)

    return seal


def _protected_paths(
    out: Path,
    source: Path | None,
    excludes: Sequence[str],
    inputs: Sequence[outdir.Protected],
    cache: BundleCache,
    environ: Mapping[str, str],
) -> list[outdir.Protected]:
    """What a build's output folder must keep away from: its source, inputs and caches."""
    from ..install.installers import uv_cache_dir

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


__all__ = ["Builder", "FunctionWritten", "build_bundle", "build_layer"]
