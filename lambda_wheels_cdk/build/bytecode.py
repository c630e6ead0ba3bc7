"""Bytecode for the exact target: hash-based pycs that Lambda loads on every cold start.

``/var/task`` and ``/opt`` are read-only on Lambda, so CPython cannot cache what it compiles:
without ``.pyc`` files every cold start compiles every imported module again, in memory.
lambda-wheels therefore ships bytecode, and only bytecode the target will use:

* compiled by a CPython of the target's *minor* version (bytecode is version-specific; the
  architecture does not matter, so any host CPython 3.X compiles for python3.X on arm64);
* *unchecked hash-based* pycs (PEP 552): valid whatever file times the CDK CLI's zip carries
  (it resets them to 1980), and the same bytes on every build;
* with Lambda's paths in ``co_filename`` (``/var/task/app.py``, ``/opt/python/...``), so
  tracebacks read right and two machines write identical files.

Compiling is the expensive part (about 6 s on 2 cores for pandas + pydantic + requests), so
results are cached twice: per distribution (content of its ``.py`` files + the path it runs
from + the compiler's magic number), so a new dependency set that shares pandas does not compile
pandas again; and per dependency install (its cache key + path + magic), so a rebuild of
unchanged inputs does not even hash the sources.

No CPython of the target's version on this host: one warning naming how to get one, and the
bundle ships without bytecode. Never bytecode for another version.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from .. import tree
from ..distinfo import dist_infos, read_record
from ..events import Log, emit, quiet
from ..install import leftovers
from ..smoke.interpreters import Compiler, CompilerLookup, NoCompiler, find_compiler
from ..target.runtimes import DATACLASS_SLOTS

if TYPE_CHECKING:
    from .cache import BundleCache
    from .remote import RemoteCache

#: What gets compiled: every ``.py`` of the bundle, only the dependencies', or nothing.
BytecodeMode = Literal["all", "dependencies", "none"]
BYTECODE_MODES: Final[tuple[BytecodeMode, ...]] = ("all", "dependencies", "none")
#: Bump when the same sources and compiler would give other files (enters every key).
REVISION: Final = 1
#: The worker script a target interpreter runs (standard library only).
WORKER: Final = Path(__file__).with_name("_pycompile.py")


#: The prefix of the temp folder each compile works in (swept by the next build when killed).
WORKSPACE_PREFIX: Final = leftovers.TEMP_PREFIXES["pyc"]


def mode_of(value: bool | str) -> BytecodeMode:
    """``True`` -> ``"all"``, ``False`` -> ``"none"``, a mode name -> itself.

    Raises:
        ValueError: anything else (callers turn it into a :class:`UsageError`).
    """
    if value is True:
        return "all"
    if value is False:
        return "none"
    if value in BYTECODE_MODES:
        return value
    raise ValueError(
        f"bytecode {value!r} must be True (default: every .py), 'dependencies' (not the "
        "handler source) or False (no bytecode)"
    )


# -- compiling -------------------------------------------------------------------------------


def pyc_path(rel: str, cache_tag: str) -> str:
    """``pkg/mod.py`` -> ``pkg/__pycache__/mod.cpython-312.pyc`` (POSIX relative paths)."""
    folder, _, name = rel.rpartition("/")
    stem = name[: -len(".py")]
    return f"{folder + '/' if folder else ''}__pycache__/{stem}.{cache_tag}.pyc"


def compile_files(
    compiler: Compiler,
    root: Path,
    files: Sequence[str],
    mount: str,
    out: Path,
    *,
    workers: int | None = None,
) -> list[tuple[str, str]]:
    """Compile ``root/<rel>`` for every ``rel`` in ``files`` into ``out/<pyc_path(rel)>``.

    ``co_filename`` is ``<mount>/<rel>``. Runs up to ``workers`` interpreters at once (default:
    the CPU count); the files are shared out by size, and the bytes written do not depend on
    how (each file is compiled on its own). Returns ``[(rel, error), ...]`` for the files that
    do not compile.

    Raises:
        BundleError: an interpreter failed (not a file: the interpreter itself).
    """
    if not files:
        return []
    back = {str(root / rel): rel for rel in files}
    jobs = {
        source: [source, str(out / pyc_path(rel, compiler.cache_tag)), f"{mount}/{rel}"]
        for source, rel in back.items()
    }
    count = max(1, min(workers or os.cpu_count() or 1, 16, (len(jobs) + 63) // 64))
    failed: list[tuple[str, str]] = []
    for returncode, printed, errors in _run_workers(compiler, _shares(jobs, count)):
        if returncode != 0:
            from ..errors import BundleError

            raise BundleError(
                f"compiling bytecode with {compiler.describe()} failed: "
                f"{errors.strip()[-2000:] or f'exit {returncode}'}. Pass bytecode=False / "
                "--no-bytecode to build without bytecode, or choose another interpreter "
                "(bytecode_interpreter / --bytecode-interpreter)"
            )
        failed += [(back[source], message) for source, message in json.loads(printed)["failed"]]
    return sorted(failed)


def _shares(jobs: Mapping[str, list[str]], count: int) -> list[list[list[str]]]:
    """The jobs shared out among ``count`` workers: largest first onto the least loaded one,
    so that the workers finish together."""
    sizes = {source: os.path.getsize(source) + 2048 for source in jobs}
    shares: list[list[list[str]]] = [[] for _ in range(count)]
    loads = [0] * count
    for source in sorted(jobs, key=lambda s: (-sizes[s], s)):
        i = loads.index(min(loads))
        shares[i].append(jobs[source])
        loads[i] += sizes[source]
    return shares


def _run_workers(
    compiler: Compiler, shares: Sequence[list[list[str]]]
) -> list[tuple[int, str, str]]:
    """Run one compile worker per share at once: each one's exit status, stdout and stderr.

    The folder is owned: a killed build leaves it to the next build's sweep, and the workers
    die with it (install/leftovers.py). They write into files, not pipes: the watchdog that
    ties a child to this process where there is no parent-death signal owns the child's stdin
    (so no communicate()).
    """
    with leftovers.owned_temp_dir(WORKSPACE_PREFIX) as tmp:
        procs = []
        try:
            for i, share in enumerate(shares):
                jobs_file = Path(tmp) / f"jobs-{i}.json"
                jobs_file.write_text(json.dumps(share), encoding="utf-8")
                with (
                    open(Path(tmp) / f"out-{i}", "wb") as out_file,
                    open(Path(tmp) / f"err-{i}", "wb") as err_file,
                ):
                    procs.append(
                        leftovers.popen_dying_with_parent(
                            [*compiler.command, "-I", "-S", str(WORKER), str(jobs_file)],
                            stdout=out_file,
                            stderr=err_file,
                        )
                    )
            results = []
            for i, proc in enumerate(procs):
                proc.wait()
                printed, errors = (
                    (Path(tmp) / f"{kind}-{i}").read_text(encoding="utf-8", errors="replace")
                    for kind in ("out", "err")
                )
                results.append((proc.returncode, printed, errors))
            return results
        finally:
            for proc in procs:  # interrupted: no worker goes on writing into the cache
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()


# -- what a tree holds -------------------------------------------------------------------------


def python_files(root: Path) -> list[str]:
    """Every ``.py`` file under ``root`` (POSIX relative paths, sorted), metadata folders aside."""
    return [
        rel
        for rel, _ in tree.iter_files(root)
        if rel.endswith(".py")
        and not any(p.endswith((".dist-info", ".data")) for p in rel.split("/"))
    ]


def groups(root: Path, files: Sequence[str]) -> dict[str, list[str]]:
    """The ``.py`` files per distribution (from each ``*.dist-info/RECORD``); files no RECORD
    names are grouped under ``""``."""
    owner: dict[str, str] = {}
    for info in dist_infos(root):
        name = info.name[: -len(".dist-info")]
        for path in read_record(info) or ():
            rel = os.path.normpath(path).replace(os.sep, "/")
            if rel.endswith(".py"):
                owner.setdefault(rel, name)
    out: dict[str, list[str]] = {}
    for rel in files:
        out.setdefault(owner.get(rel, ""), []).append(rel)
    return out


def _content_key(
    kind: Literal["tree", "part"], root: Path, files: Iterable[str], mount: str, compiler: Compiler
) -> str:
    """A key from the sources' content: a whole tree's, or one distribution's (never equal)."""
    h = hashlib.sha256()
    data = ["pyc", kind, REVISION, compiler.magic, compiler.cache_tag, mount]
    h.update(json.dumps(data).encode())
    for rel in files:
        h.update(b"\0" + rel.encode("utf-8") + b"\0")
        with open(root / rel, "rb") as fh:
            h.update(hashlib.sha256(fh.read()).digest())
    return h.hexdigest()


def bundle_key(deps_key: str, mount: str, compiler: Compiler) -> str:
    """The key of all bytecode of one dependency install, run from ``mount``."""
    data = ["pyc-deps", REVISION, deps_key, mount, compiler.magic, compiler.cache_tag]
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()


# -- the cached result -------------------------------------------------------------------------


@dataclass(frozen=True, **DATACLASS_SLOTS)
class Bytecode:
    """Compiled files ready to link into a bundle (never modify ``tree``).

    Attributes:
        tree: a folder holding only ``__pycache__/*.pyc`` files, laid out like the sources.
        files: how many ``.pyc`` files.
        size: their bytes.
        failed: ``(relative path, error)`` of sources that do not compile.
        cache: ``"hit"`` when nothing was compiled.
    """

    tree: Path
    files: int
    size: int
    failed: tuple[tuple[str, str], ...]
    cache: Literal["hit", "miss"]


def _lookup(cache: BundleCache, key: str, *, verify: bool = False) -> Bytecode | None:
    """A verified entry (sizes, times and modes; with ``verify`` also every file's sha256),
    or ``None``: missing, or changed since written (then discarded)."""
    entry = cache.entry(key, kind="pyc")
    try:
        data = json.loads((entry / "record.json").read_text(encoding="utf-8"))
        record = [tuple(row) for row in data["record"]]
        if [tuple(r) for r in tree.tree_record(entry / "tree")] != record:
            raise ValueError("content does not match its record (size, time or mode)")
        if verify:
            names = [str(row[0]) for row in record]
            if tree.file_digests(entry / "tree", names) != data["sha256"]:
                raise ValueError("a file's sha256 differs from the one recorded")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        emit("cache-invalid", key=key, reason=str(exc))
        cache.discard(key, kind="pyc")
        return None
    return Bytecode(
        tree=entry / "tree",
        files=len(record),
        size=sum(int(row[1]) for row in record),
        failed=tuple((str(a), str(b)) for a, b in data["failed"]),
        cache="hit",
    )


def _publish(
    cache: BundleCache, key: str, work: Path, failed: Sequence[tuple[str, str]]
) -> Bytecode:
    """Publish ``work/tree`` under ``key`` (the caller holds the key's lock): the fixed time
    and a bundle's file mode on every file this entry owns alone, a record, and each file's
    sha256 (for ``verify_cache``)."""
    out = work / "tree"
    out.mkdir(exist_ok=True)
    times = (tree.FIXED_MTIME, tree.FIXED_MTIME)
    for _, path in tree.iter_files(out):
        if path.stat().st_nlink == 1:  # ours alone (a linked file is another entry's)
            if tree.MODES:
                os.chmod(path, tree.FILE_MODE)
            os.utime(path, times)
    tree.set_folder_modes(out)
    record = tree.tree_record(out)
    data = {
        "key": key,
        "record": record,
        "failed": [list(f) for f in failed],
        "sha256": tree.file_digests(out, (row[0] for row in record)),
    }
    (work / "record.json").write_text(json.dumps(data), encoding="utf-8")
    entry = cache.entry(key, kind="pyc")
    cache.discard(key, kind="pyc")
    entry.parent.mkdir(parents=True, exist_ok=True)
    os.replace(work, entry)
    return Bytecode(
        tree=entry / "tree",
        files=len(record),
        size=sum(int(row[1]) for row in record),
        failed=tuple(failed),
        cache="miss",
    )


def compile_tree(
    root: Path,
    mount: str,
    compiler: Compiler,
    cache: BundleCache,
    *,
    key: str | None = None,
    files: Sequence[str] | None = None,
    verify: bool = False,
    remote: RemoteCache | None = None,
    log: Log = quiet,
) -> Bytecode:
    """Bytecode for every ``.py`` under ``root`` (or the ``.py`` among ``files``, relative POSIX
    paths) as it will run from ``mount`` on Lambda.

    With ``key`` (from :func:`bundle_key`) a rebuild finds the whole result without reading
    the sources. Otherwise, and on a miss, each distribution's bytecode is looked up by the
    content of its sources, so only distributions never compiled before are compiled.
    ``verify`` hashes cached files before they are used (``verify_cache``). With ``remote``
    (and ``key``), a local miss is looked up in the shared cache, and a new result published.

    Raises:
        BundleError: the interpreter failed (not a source that does not compile: that is
            recorded in :attr:`Bytecode.failed`), or the cache could not be written.
    """
    if files is not None:
        files = sorted(rel for rel in files if rel.endswith(".py"))
    if key is None:
        files = python_files(root) if files is None else files
        key = _content_key("tree", root, files, mount, compiler)
    hit = _lookup(cache, key, verify=verify)
    if hit is not None:
        return hit
    try:
        with cache.lock(key):
            hit = _lookup(cache, key, verify=verify)
            if hit is not None:
                return hit
            if remote is not None and cache.fetch_remote(remote, "pyc", key):
                fetched = _lookup(cache, key)
                if fetched is not None:
                    return fetched
            files = python_files(root) if files is None else files
            parts = [
                (_content_key("part", root, rels, mount, compiler), rels)
                for _, rels in sorted(groups(root, files).items())
            ]
            found = {k: _lookup(cache, k, verify=verify) for k, _ in parts}
            misses = [(k, rels) for k, rels in parts if found[k] is None]
            if misses:
                found.update(_compile_parts(misses, root, mount, compiler, cache, log))
            with cache.workdir() as work:
                failed: list[tuple[str, str]] = []
                for part_key, _ in parts:
                    part = found[part_key]
                    assert part is not None
                    tree.copy_tree(part.tree, work / "tree", link=True)
                    failed.extend(part.failed)
                done = _publish(cache, key, work, sorted(failed))
            if remote is not None:
                remote.publish("pyc", key, cache.entry(key, kind="pyc"))
            return done
    except OSError as exc:
        raise tree.describe_os_error(exc, f"writing bytecode under {cache.root}") from None


def _compile_parts(
    parts: Sequence[tuple[str, Sequence[str]]],
    root: Path,
    mount: str,
    compiler: Compiler,
    cache: BundleCache,
    log: Log,
) -> dict[str, Bytecode]:
    """Compile the sources of every part in one batch (all workers busy), then store each part
    under its own key."""
    count = sum(len(rels) for _, rels in parts)
    log(f"compiling {count} module{'s' * (count != 1)} with CPython {compiler.version}")
    emit("bytecode-compile", files=count, python=compiler.version)
    out: dict[str, Bytecode] = {}
    with cache.workdir() as batch:
        errors = compile_files(compiler, root, [r for _, rels in parts for r in rels], mount, batch)
        for part_key, rels in parts:
            with cache.lock(part_key):
                hit = _lookup(cache, part_key)
                if hit is not None:
                    out[part_key] = hit
                    continue
                with cache.workdir() as work:
                    for rel in rels:
                        pyc = pyc_path(rel, compiler.cache_tag)
                        if (batch / pyc).exists():
                            (work / "tree" / pyc).parent.mkdir(parents=True, exist_ok=True)
                            os.replace(batch / pyc, work / "tree" / pyc)
                    mine = set(rels)
                    out[part_key] = _publish(
                        cache, part_key, work, [e for e in errors if e[0] in mine]
                    )
    return out


# -- one bundle --------------------------------------------------------------------------------


@dataclass(frozen=True, **DATACLASS_SLOTS)
class Unit:
    """One tree to compile: where it is, where it goes in the bundle, where it runs.

    Attributes:
        root: the folder on this machine (a dependency install, or the handler source).
        prefix: where its files go in the bundle (``""`` or ``python/lib/python3.12/...``).
        mount: where that is on Lambda (``/var/task``, ``/opt/python/...``).
        key: a dependency install's cache key (a rebuild then reads no source), or ``None``.
        files: the relative paths to consider (``None``: every ``.py`` under ``root``).
    """

    root: Path
    prefix: str
    mount: str
    key: str | None = None
    files: tuple[str, ...] | None = None


@dataclass(frozen=True, **DATACLASS_SLOTS)
class BytecodeReport:
    """The bytecode of a bundle for one Python version, as the manifest records it."""

    python: str
    mode: BytecodeMode
    compiler: str | None = None
    skipped: str | None = None
    parts: tuple[tuple[str, Bytecode], ...] = ()

    @property
    def files(self) -> int:
        return sum(b.files for _, b in self.parts)

    @property
    def size(self) -> int:
        return sum(b.size for _, b in self.parts)

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(
            f"{prefix + '/' if prefix else ''}{rel}: {why}"
            for prefix, b in self.parts
            for rel, why in b.failed
        )

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"python": self.python, "mode": self.mode}
        if self.skipped:
            data["skipped"] = self.skipped
        if self.compiler:
            data.update(
                compiler=self.compiler,
                files=self.files,
                bytes=self.size,
                invalidation="unchecked-hash",
                cache="hit" if all(b.cache == "hit" for _, b in self.parts) else "miss",
            )
            if self.failed:
                data["not_compiled"] = list(self.failed)
        return data


#: Compiler look-ups already made in this process: (python, given, download) -> result.
_FOUND: dict[tuple[tuple[int, int], str | None, bool], CompilerLookup] = {}
#: Python versions for which "no compiler" was already said (once per process).
_WARNED: set[tuple[int, int]] = set()


def compiler_for(
    python: tuple[int, int],
    *,
    interpreter: str | None = None,
    allow_download: bool = False,
    log: Log = quiet,
) -> CompilerLookup:
    """:func:`find_compiler`, once per process; the first miss is told through ``log``."""
    memo = (python, interpreter, allow_download)
    found = _FOUND.get(memo)
    if found is None:
        found = _FOUND[memo] = find_compiler(
            python, given=interpreter, allow_download=allow_download, log=log
        )
    if isinstance(found, NoCompiler) and python not in _WARNED:
        _WARNED.add(python)
        log(f"warning: shipping without bytecode (slower cold starts): {found.reason}")
    return found


def compile_units(
    python: tuple[int, int],
    units: Sequence[Unit],
    cache: BundleCache,
    *,
    mode: BytecodeMode = "all",
    interpreter: str | None = None,
    allow_download: bool = False,
    verify: bool = False,
    remote: RemoteCache | None = None,
    log: Log = quiet,
) -> BytecodeReport:
    """Bytecode for every unit of one bundle, all for CPython ``python``.

    Never raises for a missing interpreter: the report says why it was skipped.
    """
    version = "{}.{}".format(*python)
    if mode == "none" or not units:
        return BytecodeReport(version, mode)
    found = compiler_for(python, interpreter=interpreter, allow_download=allow_download, log=log)
    if isinstance(found, NoCompiler):
        return BytecodeReport(version, mode, skipped=found.reason)
    parts = tuple(
        (
            unit.prefix,
            compile_tree(
                unit.root,
                unit.mount,
                found,
                cache,
                key=unit.key and bundle_key(unit.key, unit.mount, found),
                files=unit.files,
                verify=verify,
                remote=remote if unit.key else None,
                log=log,
            ),
        )
        for unit in units
    )
    return BytecodeReport(version, mode, compiler=found.describe(), parts=parts)


__all__ = [
    "BYTECODE_MODES",
    "Bytecode",
    "BytecodeMode",
    "BytecodeReport",
    "Unit",
    "bundle_key",
    "compile_files",
    "compile_tree",
    "compile_units",
    "compiler_for",
    "mode_of",
    "pyc_path",
]
