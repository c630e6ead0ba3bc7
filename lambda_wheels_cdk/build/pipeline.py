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
from collections.abc import Mapping, Sequence
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
from .cache import BundleCache, effective_index, installer_version
from .dependencies import build_dependencies
from .models import BuildOptions, Manifest


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


__all__ = ["build_bundle", "build_layer"]
