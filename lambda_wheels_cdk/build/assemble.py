"""Writing bundles: a function's folder (dependencies, handler source, bytecode) and a layer's
(one install per Python version, or one shared ``python/``), and Lambda's unzipped size limit.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Final, Literal

from .. import tree
from ..errors import AuditError, BundleError
from ..events import Log, quiet
from ..target.runtimes import UNZIPPED_LIMIT_BYTES, unzipped_size_text
from ..target.target import Target
from .bytecode import BytecodeReport, Unit, compile_units
from .cache import BundleCache
from .models import BuildOptions, DependencyBuild
from .remote import remote_for

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
            f"{unzipped_size_text(what, total, verb='would be')}, because of its bytecode "
            f"({pyc / 2**20:.1f} MiB of .pyc files; {(total - pyc) / 2**20:.1f} MiB without). "
            "Build without bytecode (bytecode=False / --no-bytecode; cold starts compile every "
            "module again) or remove dependencies"
        )
    dists = [(d.size, f"{d.name} {d.version}") for d in (deps.distributions if deps else ())]
    largest = ", ".join(
        f"{name} {size / 2**20:.1f} MiB"
        for size, name in sorted([*dists, *sources], reverse=True)[:10]
    )
    raise AuditError(
        f"{unzipped_size_text(what, total, verb='would be')}. Largest: {largest}. Remove "
        "dependencies, exclude source files (--exclude / excludes), move some code to a layer "
        "or another function, or use a container image"
    )


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
    with _writing(out, "the bundle", atomic, bytecode, before_replace) as build_dir:
        if deps is not None:
            tree.copy_tree(deps.tree, build_dir)
        copied = 0
        if source is not None:
            copied = _copy_source(build_dir, source, excludes, follow_external_symlinks)
    return copied


def _copy_source(
    build_dir: Path, source: Path, excludes: Sequence[str], follow_external_symlinks: bool
) -> int:
    """Copy the handler source beside the dependencies; the number of files copied."""
    collisions: list[str] = []
    copied = 0
    files = tree.source_files(source, excludes, follow_external_symlinks=follow_external_symlinks)
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
    return copied


@contextlib.contextmanager
def _writing(
    out: Path,
    what: str,
    atomic: bool,
    bytecode: BytecodeReport | Sequence[BytecodeReport] | None,
    before_replace: Callable[[Path], None] | None,
) -> Iterator[Path]:
    """The folder to fill for ``out`` (a temporary sibling when ``atomic``, else ``out``);
    after the body: the bytecode, the folder modes and (``atomic``) the rename over ``out``.
    A disk error is told as writing ``what``; a failed atomic write leaves nothing behind."""
    build_dir: Path | None = None
    try:
        build_dir = tree.temp_sibling(out, "build") if atomic else out
        yield build_dir
        _add_bytecode(build_dir, bytecode)
        tree.set_folder_modes(build_dir)
        if atomic:
            if before_replace is not None:
                before_replace(build_dir)
            tree.atomic_replace_dir(build_dir, out)
    except OSError as exc:
        raise tree.describe_os_error(exc, f"writing {what} {out}") from None
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
    with _writing(out, "the layer", atomic, bytecode, before_replace) as build_dir:
        chosen = layout or layer_layout(parts)
        for part in parts[:1] if chosen == "shared" else parts:
            tree.copy_tree(part.tree, build_dir / layer_folder(chosen, part.target))
    return chosen
