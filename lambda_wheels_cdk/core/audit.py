"""The bundle audit: does every file in a function bundle (and its layers) run on the target?

Two steps, kept apart:

1. :func:`collect` reads facts -- file sizes, what each file is by its first bytes, ELF load-time
   facts (:mod:`.elf`), ``*.dist-info`` names, ``WHEEL`` tags and ``RECORD`` ownership -- from
   folders or zips (zips are read with :mod:`zipfile`, never extracted). All I/O is here.
2. :func:`evaluate` turns those facts and a :class:`~.target.Target` into an
   :class:`AuditReport`. Pure: the policy tables are :mod:`.audit_data` and :mod:`.runtimes`.

:func:`audit` runs both. Every finding names the distribution, the file, the reason in plain
words and the fix; the report holds all of them at once, grouped per distribution.

Where things live on Lambda (and so what the audit resolves ``DT_NEEDED`` against): the
function at ``/var/task``, layers merged at ``/opt``; Python imports from ``/var/task``,
``/opt/python`` and ``/opt/python/lib/python3.X/site-packages``; the loader searches
``LD_LIBRARY_PATH`` (which includes ``/var/task``, ``/var/task/lib`` and ``/opt/lib``), then
``DT_RUNPATH``. A layer may hold one install per Python version under
``python/lib/python3.Z/``: only the target's subtree (and ``python/`` itself) is audited, the
others count for size only.

Safe on anything, other people's zips included: a symbolic link is listed with its target text
and never followed (:mod:`.audit_links` works out where it leads from the listing); a named
pipe, socket or device is listed and never opened; a zip member is read through
:class:`~.zip_member.BoundedMember` (bounded memory, a capped number of bytes unzipped per
member and per zip), and a member that alone declares more than Lambda's 250 MiB is reported
without being unzipped.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import posixpath
import re
import stat
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Final, Literal, NamedTuple, Union

from packaging.tags import Tag, parse_tag
from packaging.utils import NormalizedName, canonicalize_name

from ..errors import AuditError, InputError, UsageError
from .audit_bytecode import HEAD_BYTES as SCRIPT_HEAD_BYTES
from .audit_bytecode import bytecode_findings, wants_head
from .audit_data import (
    ABSENT_LIBRARIES,
    BASE_LIBRARIES,
    ELF_MACHINE,
    ELF_MACHINE_NAMES,
    EXTENSION_TRIPLET,
    FUNCTION_MOUNT,
    LAMBDA_LD_LIBRARY_PATH,
    LAYER_MOUNT,
    MACHO_CPU_NAMES,
    MAX_LAYERS,
    MUSL_INTERPRETER_PREFIX,
    MUSL_LIBRARIES,
    PE_MACHINE_NAMES,
    SIZE_WARNING_FRACTION,
    UNSTABLE_LIBRARIES,
)
from .audit_links import MAX_LINKS, LinkEnd, follow, link_above
from .elf import (
    HEAD_BYTES,
    CorruptElf,
    ElfFacts,
    MachOFacts,
    PEFacts,
    Stream,
    parse_macho,
    parse_pe,
    read_elf,
    sniff,
)
from .events import counted, human_size
from .runtimes import _SLOTS, RUNTIMES, UNZIPPED_LIMIT_BYTES, Version2
from .target import Target
from .zip_member import BoundedMember, MemberTooCostly, UnzipBudget, UnzipBudgetExceeded

Severity = Literal["error", "warning"]
BundleKind = Literal["function", "layer"]
BinaryFacts = Union[ElfFacts, CorruptElf, MachOFacts, PEFacts]

_KINDS: tuple[BundleKind, ...] = ("function", "layer")
_NO_DISTRIBUTION = "(no distribution)"


# -- the report ----------------------------------------------------------------------------------


@dataclass(frozen=True, **_SLOTS)
class Finding:
    """One problem with one file (or with the bundle as a whole)."""

    severity: Severity
    #: ``"numpy 2.2.6"``; ``None`` when the file belongs to no distribution.
    distribution: str | None
    #: POSIX path relative to the audited root; ``layer[<label>]:`` prefix for layer files;
    #: ``"."`` for the whole bundle.
    path: str
    #: Machine-readable kind: ``elf-machine``, ``elf-class``, ``glibc``, ``glibcxx``, ``cxxabi``,
    #: ``needed-lib``, ``macho``, ``pe``, ``ext-suffix``, ``wheel-tag``, ``size``, ``layers``,
    #: ``layout``, ``corrupt``, ``unsafe-path``, ``unreadable``, ``symlink``, ``special-file``,
    #: ``oversized``, ``zip-bomb``, ``pyc-version``, ``pyc-timestamp``, ``script-shebang``.
    code: str
    reason: str
    fix: str

    def to_json(self) -> dict[str, str | None]:
        return {
            "severity": self.severity,
            "code": self.code,
            "distribution": self.distribution,
            "path": self.path,
            "reason": self.reason,
            "fix": self.fix,
        }


@dataclass(frozen=True, **_SLOTS)
class AuditReport:
    """Every finding of one audit, with the sizes the Lambda limit applies to."""

    target: Target
    findings: tuple[Finding, ...]
    #: Unzipped bytes of the function plus its layers.
    total_bytes: int
    files: int
    #: (distribution, bytes), largest first.
    distributions: tuple[tuple[str, int], ...]

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed)."""
        return not self.errors

    def by_distribution(self) -> dict[str | None, list[Finding]]:
        """Findings per distribution, distributions by name, ``None`` (no distribution) last."""
        groups: dict[str | None, list[Finding]] = {}
        for finding in self.findings:  # already sorted that way
            groups.setdefault(finding.distribution, []).append(finding)
        return groups

    def summary(self) -> str:
        """``audit python3.12/arm64: 2 errors, 1 warning in 1,234 files (45.6 MiB)``."""
        return (
            f"audit {self.target}: {counted(len(self.errors), 'error')}, "
            f"{counted(len(self.warnings), 'warning')} in {counted(self.files, 'file')} "
            f"({human_size(self.total_bytes)})"
        )

    def format_text(self) -> str:
        """The summary line, then every finding grouped per distribution: each file with why
        it fails, then the distribution's fix once (each distinct fix once, labelled with the
        kinds of finding it is for, when they differ)."""
        lines = [self.summary()]
        for distribution, findings in self.by_distribution().items():
            errors = sum(f.severity == "error" for f in findings)
            counts = [
                counted(n, word)
                for n, word in ((errors, "error"), (len(findings) - errors, "warning"))
                if n
            ]
            lines += ["", f"{distribution or _NO_DISTRIBUTION}: {', '.join(counts)}"]
            fixes: dict[str, list[str]] = {}  # fix -> codes, in order of first appearance
            for f in findings:
                lines += [f"  {f.severity} [{f.code}] {f.path}", f"    why: {f.reason}"]
                codes = fixes.setdefault(f.fix, [])
                if f.code not in codes:
                    codes.append(f.code)
            for fix, codes in fixes.items():
                label = f" ({', '.join(codes)})" if len(fixes) > 1 else ""
                lines.append(f"  fix{label}: {fix}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with stable keys."""
        return {
            "target": {
                "runtime": self.target.runtime,
                "arch": self.target.lambda_arch,
                "wheel_arch": self.target.arch,
            },
            "ok": self.ok,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "files": self.files,
            "total_bytes": self.total_bytes,
            "limit_bytes": UNZIPPED_LIMIT_BYTES,
            "distributions": [{"name": n, "bytes": b} for n, b in self.distributions],
            "findings": [f.to_json() for f in self.findings],
        }

    def raise_for_errors(self) -> None:
        """Raise :class:`~lambda_wheels_cdk.errors.AuditError` when there is any error."""
        if not self.ok:
            raise AuditError(self.format_text(), report=self)


# -- facts -------------------------------------------------------------------------------------


@dataclass(frozen=True, **_SLOTS)
class FileProblem:
    """A file the audit could not or must not read."""

    code: Literal["unsafe-path", "unreadable", "corrupt", "special-file", "oversized", "symlink"]
    reason: str
    severity: Severity = "error"


@dataclass(frozen=True, **_SLOTS)
class FileFacts:
    """One file of a bundle tree."""

    #: POSIX path relative to the tree's root.
    path: str
    size: int
    #: Audited for the target (False: another Python version's subtree of a layer).
    live: bool = True
    #: ``None`` when the file is no binary (or was not inspected because it is not live).
    binary: BinaryFacts | None = None
    problem: FileProblem | None = None
    #: The target text of a symbolic link (never followed); ``None`` for other files.
    link: str | None = None
    #: The first bytes of ``.pyc`` files and ``bin/`` scripts (:mod:`.audit_bytecode`).
    head: bytes = b""


@dataclass(frozen=True, **_SLOTS)
class DistFacts:
    """One installed distribution (a ``*.dist-info`` folder)."""

    #: ``"numpy 2.2.6"``.
    label: str
    #: Tree-relative path of the ``.dist-info`` folder.
    dist_info: str
    live: bool = True
    #: ``Tag:`` lines of ``WHEEL``; ``None`` when there is no ``WHEEL`` file.
    tags: tuple[str, ...] | None = None

    @property
    def pure(self) -> bool:
        """Every tag is platform-independent (``py3-none-any``)."""
        return bool(self.tags) and all(t.rsplit("-", 1)[-1] == "any" for t in self.tags or ())


@dataclass(frozen=True, **_SLOTS)
class TreeFacts:
    """A function bundle or a layer: its files, its distributions and who owns which file."""

    kind: BundleKind
    #: ``None`` for the audited root; the layer's label (its file or folder name) otherwise.
    label: str | None
    files: tuple[FileFacts, ...]
    dists: tuple[DistFacts, ...] = ()
    #: File path -> distribution label.
    owners: Mapping[str, str] = field(default_factory=dict)
    #: Files not inspected because the zip's unzip budget ran out (a zip bomb).
    unread: tuple[str, ...] = ()

    @property
    def mount(self) -> str:
        return FUNCTION_MOUNT if self.kind == "function" else LAYER_MOUNT

    def display(self, path: str) -> str:
        return path if self.label is None else f"layer[{self.label}]:{path}"


@dataclass(frozen=True, **_SLOTS)
class BundleFacts:
    """The audited root first, then its layers in order."""

    trees: tuple[TreeFacts, ...]


_LAYER_PYTHON = re.compile(r"python/lib/python(\d+)\.(\d+)/")


def is_live(path: str, kind: BundleKind, python: tuple[int, int]) -> bool:
    """Whether a tree path is audited for ``python``: everything except a layer's
    ``python/lib/python3.Z/`` subtrees for other versions."""
    if kind == "function":
        return True
    match = _LAYER_PYTHON.match(path)
    return match is None or (int(match[1]), int(match[2])) == python


def site_roots(kind: BundleKind, paths: Sequence[str]) -> tuple[str, ...]:
    """Folders of a tree where ``*.dist-info`` live (``""`` is the tree root)."""
    if kind == "function":
        return ("",)
    versions = sorted({m[0] for p in paths if (m := _LAYER_PYTHON.match(p))})
    return ("python", *(f"{v}site-packages" for v in versions))


def collect(
    root: str | os.PathLike[str],
    *,
    python: tuple[int, int],
    layers: Sequence[str | os.PathLike[str]] = (),
    kind: BundleKind = "function",
) -> BundleFacts:
    """Read the facts of a bundle (folder or zip) and its layers; no judgement.

    Args:
        root: the function bundle (or a layer, with ``kind="layer"``): a folder or a zip.
        python: the target's Python version; decides which subtrees of a layer are audited.
        layers: the layers the function uses, in order: folders or zips.
        kind: what ``root`` is.

    Raises:
        InputError: a path does not exist, or is neither a folder nor a readable zip.
        UsageError: ``kind`` is not ``"function"``/``"layer"``, or ``layers`` is one path.
    """
    if kind not in _KINDS:
        raise UsageError(f"kind must be 'function' or 'layer', not {kind!r}")
    if isinstance(layers, (str, bytes, os.PathLike)):
        raise UsageError(f"layers must be a list of paths, not the single path {layers!r}")
    sources: list[tuple[str | os.PathLike[str], BundleKind, str | None]] = [(root, kind, None)]
    sources += [(layer, "layer", label) for layer, label in zip(layers, _layer_labels(layers))]
    trees: list[TreeFacts] = []
    for path, tree_kind, label in sources:
        with _open_tree(path) as reader:
            trees.append(_collect_tree(reader, tree_kind, label, python))
    return BundleFacts(tuple(trees))


def audit(
    root: str | os.PathLike[str],
    target: Target,
    *,
    layers: Sequence[str | os.PathLike[str]] = (),
    kind: BundleKind = "function",
    built_for_target: Collection[str] = (),
) -> AuditReport:
    """Audit a function bundle (or a layer) and its layers for a Lambda target.

    Args:
        root: a folder or a ``.zip``; a function has its packages at its root, a layer under
            ``python/`` and/or ``python/lib/python3.X/site-packages/``.
        target: the runtime and architecture the bundle must run on.
        layers: the layers the function uses, in attach order (folders or zips).
        kind: ``"function"`` (default) or ``"layer"`` -- what ``root`` is.
        built_for_target: names of distributions compiled in the target's own build image
            (lambda-wheels' Docker path): their ``linux_<arch>`` WHEEL tag is expected, so it is
            not judged; their binaries are checked like every other file.

    Returns:
        every finding; call :meth:`AuditReport.raise_for_errors` to fail on errors.

    Raises:
        InputError: a path does not exist, or is neither a folder nor a readable zip.
        UsageError: ``kind`` is not ``"function"``/``"layer"``, or ``layers`` is one path.
    """
    facts = collect(root, python=target.python, layers=layers, kind=kind)
    return evaluate(facts, target, built_for_target=built_for_target)


def _layer_labels(layers: Sequence[str | os.PathLike[str]]) -> list[str]:
    labels: list[str] = []
    for layer in layers:
        name = os.path.basename(os.path.normpath(os.fspath(layer))) or os.fspath(layer)
        label, n = name, 1
        while label in labels:
            n += 1
            label = f"{name}#{n}"
        labels.append(label)
    return labels


# -- readers: the only code that touches the file system ----------------------------------------

#: What one zip may make the audit unzip, all members together (zip bombs): four times what
#: Lambda lets a function unzip to. A bundle within the limit needs well under half of it.
TREE_UNZIP_BUDGET: Final = 4 * UNZIPPED_LIMIT_BYTES
#: Longest link target read (PATH_MAX on Linux); a longer one cannot be a path.
_LINK_TEXT_LIMIT: Final = 4096
#: Read caps for metadata files; RECORD rows past the cap are not read (their files are then
#: attributed by folder, like files the installer did not record).
_METADATA_LIMIT: Final = 64 << 10
_WHEEL_LIMIT: Final = 64 << 10
_RECORD_LIMIT: Final = 16 << 20  # ~100,000 rows; pandas' RECORD is 150 kB

_OPEN_FLAGS: Final = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
#: O_NOFOLLOW where the OS has it: a file swapped for a link after listing is not followed.
_NO_FOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)


class _Entry(NamedTuple):
    """One entry of a tree's listing (folders are not entries)."""

    path: str
    #: Bytes it unzips to (a zip's central directory says so) or its lstat size.
    size: int
    problem: FileProblem | None = None
    #: The link's target text, for a symbolic link.
    link: str | None = None
    #: Compressed bytes in a zip.
    packed: int | None = None


class _NotRegular(Exception):
    """An open file turned out to be no regular file (a pipe, a device ...)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class _Reader:
    """A bundle tree to read: a folder or a zip."""

    #: The zip's unzip budget; ``None`` for folders (nothing to unzip).
    budget: UnzipBudget | None = None

    def entries(self) -> list[_Entry]:
        raise NotImplementedError

    def inspect(self, path: str) -> BinaryFacts | None:
        raise NotImplementedError

    def read(self, path: str, limit: int) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_tree(path: str | os.PathLike[str]) -> _Reader:
    text = os.fspath(path)
    next_step = "pass the bundle or layer to audit as a folder, a .zip or a .whl"
    try:
        mode = os.stat(text).st_mode  # the path given is followed; links inside it never are
    except FileNotFoundError:
        raise InputError(f"{text!r} does not exist; {next_step}") from None
    except OSError as exc:
        raise InputError(f"{text!r} cannot be read ({exc.strerror or exc}); {next_step}") from None
    if stat.S_ISDIR(mode):
        return _DirReader(text)
    try:
        stream = _open_regular(text, follow=True)
    except _NotRegular as exc:
        raise InputError(f"{text!r} is {exc.kind}, not a folder or a file; {next_step}") from None
    except OSError as exc:
        raise InputError(f"{text!r} cannot be read ({exc.strerror or exc}); {next_step}") from None
    try:
        return _ZipReader(zipfile.ZipFile(stream), stream)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        stream.close()
        raise InputError(
            f"{text!r} is neither a folder nor a readable zip file ({exc}); pass the bundle "
            "folder or the .zip Lambda receives"
        ) from None


def _open_regular(path: str, *, follow: bool = False) -> IO[bytes]:
    """Open a regular file for reading without blocking on a pipe and, unless ``follow``,
    without following a link; anything else raises :class:`_NotRegular`."""
    fd = _open_fd(path, follow=follow)
    try:
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _open_fd(path: str, *, follow: bool = False) -> int:
    """:func:`_open_regular`, as a file descriptor."""
    fd = os.open(path, _OPEN_FLAGS | (0 if follow else _NO_FOLLOW))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _NotRegular(_special_kind(mode))
    except BaseException:
        os.close(fd)
        raise
    return fd


def _special_kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return kind
    return "a special file"


def _special(mode: int) -> FileProblem:
    return FileProblem(
        "special-file",
        f"is {_special_kind(mode)}, not a regular file; the audit does not open it, and no "
        "Lambda bundle can hold one",
        "warning",
    )


def _inspect(head: bytes, elf: Callable[[], Stream]) -> BinaryFacts | None:
    """What a file is from its first :data:`HEAD_BYTES`; ``elf()`` opens the whole file for an
    ELF file, whose tables lie further on."""
    kind = sniff(head)
    if kind == "elf":
        return read_elf(elf())
    if kind == "macho":
        return parse_macho(head)
    if kind == "pe":
        return parse_pe(head)
    return None


class _DirReader(_Reader):
    def __init__(self, root: str) -> None:
        self.root = root

    def entries(self) -> list[_Entry]:
        """Every entry from ``lstat``: folders are walked, links and special files listed,
        nothing followed or opened."""
        found: list[_Entry] = []
        stack = [""]
        while stack:
            rel_dir = stack.pop()
            try:
                with os.scandir(os.path.join(self.root, rel_dir)) as it:
                    items = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                found.append(_Entry(rel_dir or ".", 0, _unreadable(exc)))
                continue
            subdirs = []
            for entry in items:
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                try:
                    # the kind from the listing (d_type) where the OS gives it; lstat otherwise
                    if entry.is_symlink() or _is_junction(entry):
                        size = entry.stat(follow_symlinks=False).st_size
                        found.append(_Entry(rel, size, link=_link_text(entry.path)))
                    elif entry.is_dir(follow_symlinks=False):
                        subdirs.append(rel)
                    elif entry.is_file(follow_symlinks=False):
                        found.append(_Entry(rel, entry.stat(follow_symlinks=False).st_size))
                    else:
                        mode = entry.stat(follow_symlinks=False).st_mode
                        found.append(_Entry(rel, 0, _special(mode)))
                except OSError as exc:
                    found.append(_Entry(rel, 0, _unreadable(exc)))
            stack.extend(reversed(subdirs))
        return found

    def inspect(self, path: str) -> BinaryFacts | None:
        # the head with a plain read(2): most files are no binary, and a file object costs
        # a third of the audit's time on a folder of 4,000 files
        fd = _open_fd(os.path.join(self.root, path))
        with contextlib.ExitStack() as close:
            close.callback(os.close, fd)
            head = b""
            while len(head) < HEAD_BYTES:
                chunk = os.read(fd, HEAD_BYTES - len(head))
                if not chunk:
                    break
                head += chunk
            return _inspect(head, lambda: close.enter_context(os.fdopen(os.dup(fd), "rb")))

    def read(self, path: str, limit: int) -> bytes:
        with _open_regular(os.path.join(self.root, path)) as stream:
            return stream.read(limit)


def _is_junction(entry: os.DirEntry[str]) -> bool:
    """A Windows junction: a folder link that ``is_symlink`` does not show."""
    if os.name != "nt":
        return False
    tag = getattr(entry.stat(follow_symlinks=False), "st_reparse_tag", 0)
    return bool(tag) and tag == getattr(stat, "IO_REPARSE_TAG_MOUNT_POINT", None)


def _link_text(path: str) -> str:
    target = os.readlink(path)
    return target.replace("\\", "/") if os.sep == "\\" else target


class _ZipReader(_Reader):
    def __init__(self, archive: zipfile.ZipFile, stream: IO[bytes]) -> None:
        self.archive = archive
        self.stream = stream
        self.members: dict[str, zipfile.ZipInfo] = {}
        self.budget: UnzipBudget = UnzipBudget(TREE_UNZIP_BUDGET)

    def entries(self) -> list[_Entry]:
        found: dict[str, _Entry] = {}
        for info in self.archive.infolist():
            if info.is_dir():
                continue
            name = info.filename.replace("\\", "/")
            unsafe = _unsafe_member(name)
            if unsafe is not None:
                found[info.filename] = _Entry(info.filename, info.file_size, unsafe)
                continue
            name = posixpath.normpath(name)
            self.members.pop(name, None)  # a later duplicate wins, as on unzip
            if stat.S_ISLNK(info.external_attr >> 16):
                found[name] = self._link(name, info)
            else:  # other mode bits (a pipe, a device) hide nothing: the bytes are audited
                self.members[name] = info
                found[name] = _Entry(name, info.file_size, packed=info.compress_size)
        return sorted(found.values())

    def _link(self, name: str, info: zipfile.ZipInfo) -> _Entry:
        """A link member: its content is the target's path."""
        if info.file_size > _LINK_TEXT_LIMIT:
            reason = (
                f"is a symbolic link whose target is {info.file_size:,} bytes long; no file "
                f"system follows a path over {_LINK_TEXT_LIMIT:,} bytes"
            )
            return _Entry(name, info.file_size, FileProblem("symlink", reason))
        try:
            with self.archive.open(info) as raw:
                text = raw.read(_LINK_TEXT_LIMIT)
            self.budget.spend(len(text))
        except UnzipBudgetExceeded:
            reason = "is a symbolic link the audit did not read: this zip's unzip budget ran out"
            return _Entry(name, info.file_size, FileProblem("symlink", reason))
        except _UNZIP_ERRORS as exc:
            reason = f"is a symbolic link that cannot be unzipped: {exc}"
            return _Entry(name, info.file_size, FileProblem("corrupt", reason))
        return _Entry(name, info.file_size, link=text.decode("utf-8", errors="replace"))

    def inspect(self, path: str) -> BinaryFacts | None:
        info = self.members[path]
        with self.archive.open(info) as raw:
            member = BoundedMember(raw, info.file_size, self.budget)
            facts = _inspect(member.read(HEAD_BYTES), lambda: member)
        if member.failure is not None:  # pyelftools wraps what the stream raised
            raise member.failure
        return facts

    def read(self, path: str, limit: int) -> bytes:
        with self.archive.open(self.members[path]) as raw:
            data = raw.read(limit)
        self.budget.spend(len(data))
        return data

    def close(self) -> None:
        self.archive.close()
        self.stream.close()


#: What reading a damaged, encrypted or exotically compressed zip member raises.
_UNZIP_ERRORS = (zipfile.BadZipFile, RuntimeError, EOFError, ValueError, zlib.error)


def _unsafe_member(name: str) -> FileProblem | None:
    parts = name.split("/")
    if name.startswith("/") or re.match(r"[A-Za-z]:", name) or ".." in parts:
        return FileProblem(
            "unsafe-path",
            f"zip member {name!r} points outside the bundle (absolute path or '..'); "
            "unzipping it would write outside the target folder",
        )
    return None


def _unreadable(exc: OSError) -> FileProblem:
    return FileProblem("unreadable", f"cannot be read: {exc.strerror or exc}")


# -- collecting one tree -----------------------------------------------------------------------


def _collect_tree(
    reader: _Reader, kind: BundleKind, label: str | None, python: tuple[int, int]
) -> TreeFacts:
    entries = reader.entries()
    paths = [e.path for e in entries if e.problem is None]
    readable = {e.path for e in entries if e.problem is None and e.link is None}
    roots = site_roots(kind, paths)
    dists, owners = _collect_dists(reader, kind, roots, paths, readable, python)
    files: list[FileFacts] = []
    unread: list[str] = []
    for e in entries:
        live = is_live(e.path, kind, python)
        binary: BinaryFacts | None = None
        problem = e.problem
        if problem is None and e.link is None and e.size > UNZIPPED_LIMIT_BYTES:
            problem = _oversized(e, reader.budget is not None)
        elif problem is None and e.link is None and live:
            if reader.budget is not None and reader.budget.exhausted:
                unread.append(e.path)
            else:
                try:
                    binary = reader.inspect(e.path)
                except UnzipBudgetExceeded:
                    unread.append(e.path)
                except MemberTooCostly as exc:
                    problem = FileProblem(
                        "corrupt",
                        f"cannot be read within {exc.allowance:,} unzipped bytes (three times "
                        "its size): its tables point back and forth through the file",
                    )
                except _NotRegular as exc:
                    problem = FileProblem(
                        "special-file", f"became {exc.kind} while the audit ran", "warning"
                    )
                except OSError as exc:
                    problem = _unreadable(exc)
                except _UNZIP_ERRORS as exc:
                    problem = FileProblem("corrupt", f"cannot be unzipped: {exc}")
        head = b""
        if problem is None and e.link is None and live and wants_head(e.path):
            head = _read_bytes(reader, e.path, SCRIPT_HEAD_BYTES)
        files.append(FileFacts(e.path, e.size, live, binary, problem, e.link, head))
    return TreeFacts(kind, label, tuple(files), dists, owners, tuple(unread))


def _oversized(entry: _Entry, zipped: bool) -> FileProblem:
    limit = f"Lambda's limit of {UNZIPPED_LIMIT_BYTES:,} bytes (250 MiB) for the whole function"
    if not zipped:
        return FileProblem(
            "oversized", f"is {entry.size:,} bytes, more than {limit}; the audit did not read it"
        )
    ratio = ""
    if entry.packed is not None and entry.size >= 100 * max(entry.packed, 1):
        ratio = (
            f" from {entry.packed:,} bytes in the zip ({entry.size // max(entry.packed, 1):,} "
            "to 1: a zip bomb's ratio)"
        )
    return FileProblem(
        "oversized",
        f"declares {entry.size:,} bytes unzipped{ratio}, more than {limit}; the audit did not "
        "unzip it",
    )


def _collect_dists(
    reader: _Reader,
    kind: BundleKind,
    roots: Sequence[str],
    paths: Sequence[str],
    readable: Collection[str],
    python: tuple[int, int],
) -> tuple[tuple[DistFacts, ...], dict[str, str]]:
    dist_infos = sorted(
        {
            (root, f"{root}/{rest[0]}" if root else rest[0])
            for path in paths
            for root in roots
            if (rest := _under(path, root)) is not None
            and len(rest) > 1
            and rest[0].endswith(".dist-info")
        }
    )
    dists: list[DistFacts] = []
    owners: dict[str, str] = {}
    for root, dist_info in dist_infos:
        label = _dist_label(reader, dist_info, readable)
        tags: tuple[str, ...] | None = None
        if f"{dist_info}/WHEEL" in readable:
            text = _read_text(reader, f"{dist_info}/WHEEL", _WHEEL_LIMIT)
            tags = tuple(v.strip() for k, v in _headers(text) if k.lower() == "tag")
        dists.append(DistFacts(label, dist_info, is_live(dist_info + "/", kind, python), tags))
        if f"{dist_info}/RECORD" in readable:
            record = _read_bytes(reader, f"{dist_info}/RECORD", _RECORD_LIMIT)
            for owned in _record_paths(record):
                owned = posixpath.normpath(posixpath.join(root, owned))
                if not owned.startswith(("../", "/")):
                    owners.setdefault(owned, label)
    # Files the installer did not record (byte code compiled later, files added by hand) go to
    # the distribution that owns the rest of their top-level folder, when only one does.
    top_owners: dict[tuple[str, str], set[str]] = defaultdict(set)
    for path, label in owners.items():
        root, top = _top(path, roots)
        top_owners[root, top].add(label)
    for path in paths:
        if path in owners:
            continue
        root, top = _top(path, roots)
        if path == top:
            continue
        candidates = top_owners.get((root, top), set())
        if len(candidates) == 1:
            owners[path] = next(iter(candidates))
    return tuple(dists), owners


def _under(path: str, root: str) -> list[str] | None:
    if not root:
        return path.split("/")
    if path.startswith(root + "/"):
        return path[len(root) + 1 :].split("/")
    return None


def _top(path: str, roots: Sequence[str]) -> tuple[str, str]:
    """The deepest site root holding ``path`` and the path of its top-level entry there."""
    best = ""
    for root in roots:
        if (not root or path.startswith(root + "/")) and len(root) >= len(best):
            best = root
    rest = path[len(best) + 1 :] if best else path
    top = rest.split("/", 1)[0]
    return best, f"{best}/{top}" if best else top


def _read_bytes(reader: _Reader, path: str, limit: int) -> bytes:
    try:
        return reader.read(path, limit)
    except (OSError, _NotRegular, UnzipBudgetExceeded, *_UNZIP_ERRORS):
        return b""


def _read_text(reader: _Reader, path: str, limit: int) -> str:
    return _read_bytes(reader, path, limit).decode("utf-8", errors="replace")


def _record_paths(data: bytes) -> Iterator[str]:
    """The paths of a RECORD file's rows, up to the first row csv cannot read; lines are
    decoded one at a time."""
    rows = csv.reader(line.decode("utf-8", errors="replace") for line in io.BytesIO(data))
    while True:
        try:
            row = next(rows)
        except (StopIteration, csv.Error):
            return
        if row and row[0]:
            yield row[0]


def _headers(text: str) -> Iterator[tuple[str, str]]:
    """RFC 822 style ``Key: value`` lines up to the first blank line."""
    for line in text.splitlines():
        if not line.strip():
            return
        key, sep, value = line.partition(":")
        if sep and not line[0].isspace():
            yield key.strip(), value.strip()


def _dist_label(reader: _Reader, dist_info: str, readable: Collection[str]) -> str:
    name = version = ""
    if f"{dist_info}/METADATA" in readable:
        for key, value in _headers(_read_text(reader, f"{dist_info}/METADATA", _METADATA_LIMIT)):
            if key.lower() == "name" and not name:
                name = value
            elif key.lower() == "version" and not version:
                version = value
    if not name or not version:
        stem = posixpath.basename(dist_info)[: -len(".dist-info")]
        dir_name, _, dir_version = stem.partition("-")
        name, version = name or dir_name, version or dir_version
    return f"{name} {version}".strip()


# -- evaluation (pure) -------------------------------------------------------------------------


@dataclass(frozen=True, **_SLOTS)
class _Fixes:
    """Fix texts for one target, shared by many findings."""

    target: Target

    @property
    def command(self) -> str:
        t = self.target
        return (
            f"lambda-wheels build --runtime {t.runtime} --arch {t.lambda_arch} ... (or pip "
            f"install --platform {next(t.platforms())} ... --only-binary=:all:, with every "
            f"--platform that `lambda-wheels tags --runtime {t.runtime} --arch {t.lambda_arch} "
            "--installer-args pip` prints)"
        )

    @property
    def rebuild(self) -> str:
        return f"rebuild the bundle for the target: {self.command}"


def evaluate(
    facts: BundleFacts, target: Target, *, built_for_target: Collection[str] = ()
) -> AuditReport:
    """Judge collected facts against a target. Pure: no I/O, no host probing.

    ``built_for_target``: see :func:`audit`.
    """
    fixes = _Fixes(target)
    present = {posixpath.join(tree.mount, f.path) for tree in facts.trees for f in tree.files}
    expected_tags = {canonicalize_name(n) for n in built_for_target}
    findings: list[Finding] = []
    for tree in facts.trees:
        findings += _tree_findings(tree, target, fixes, present, expected_tags)
    findings += _bundle_findings(facts, target)
    findings.sort(key=_finding_order)

    sizes: dict[str, int] = defaultdict(int)
    for tree in facts.trees:
        for f in tree.files:
            owner = tree.owners.get(f.path)
            if owner is not None:
                sizes[owner] += f.size
    return AuditReport(
        target=target,
        findings=tuple(findings),
        total_bytes=sum(f.size for tree in facts.trees for f in tree.files),
        files=sum(len(tree.files) for tree in facts.trees),
        distributions=tuple(sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


def _finding_order(f: Finding) -> tuple[bool, str, bool, str, str]:
    return (f.distribution is None, f.distribution or "", f.severity != "error", f.path, f.code)


def _tree_findings(
    tree: TreeFacts,
    target: Target,
    fixes: _Fixes,
    present: set[str],
    expected_tags: set[NormalizedName],
) -> list[Finding]:
    dists = {d.label: d for d in tree.dists}
    libs_dirs = _libs_dirs(tree)
    findings = _link_findings(tree) + _unread_findings(tree)
    for f in tree.files:
        owner = tree.owners.get(f.path)
        dist = dists.get(owner) if owner else None
        shown = tree.display(f.path)
        for severity, code, reason, fix in _file_issues(
            f, shown, dist, tree, target, fixes, present, libs_dirs
        ):
            findings.append(Finding(severity, owner, shown, code, reason, fix))
    failing = {f.distribution for f in findings if f.severity == "error"}
    for dist in tree.dists:
        if dist.live and canonicalize_name(dist.label.split(" ", 1)[0]) not in expected_tags:
            findings += _wheel_tag_findings(dist, dist.label in failing, tree, target, fixes)
    findings += _layout_findings(tree, target)
    findings += bytecode_findings(tree, target)
    return findings


_Issue = tuple[Severity, str, str, str]


def _file_issues(
    f: FileFacts,
    shown: str,
    dist: DistFacts | None,
    tree: TreeFacts,
    target: Target,
    fixes: _Fixes,
    present: set[str],
    libs_dirs: Mapping[str, tuple[str, ...]],
) -> list[_Issue]:
    if f.problem is not None:
        problem = f.problem
        return [
            (problem.severity, problem.code, f"{shown} {problem.reason}", _problem_fix(problem))
        ]
    if not f.live:
        return []
    binary = f.binary
    name = posixpath.basename(f.path)
    importable = name.endswith((".so", ".pyd")) or _EXTENSION.search(name) is not None
    host = f"it was installed for the build host, not for {target} Lambda"
    if isinstance(binary, CorruptElf):
        return [
            (
                "error",
                "corrupt",
                f"{shown} starts like an ELF binary but cannot be read ({binary.reason}); "
                "the file is truncated or damaged",
                "reinstall the distribution (delete the bundle and any build cache, then "
                "rebuild); if it persists the wheel itself is broken: pin another release",
            )
        ]
    if isinstance(binary, (MachOFacts, PEFacts)):
        if isinstance(binary, MachOFacts):
            cpus = "+".join(MACHO_CPU_NAMES.get(c, hex(c)) for c in binary.cpu_types)
            what = f"a macOS (Mach-O {'universal ' if binary.universal else ''}{cpus}) binary"
            code = "macho"
        else:
            cpu = PE_MACHINE_NAMES.get(binary.machine, hex(binary.machine))
            what = f"a Windows (PE {cpu}{' DLL' if binary.dll else ''}) binary"
            code = "pe"
        if importable:
            return [("error", code, f"{shown} is {what}; {host}", fixes.rebuild)]
        if dist is not None and dist.pure:
            if code == "pe" and name.lower().endswith(".exe"):
                return []  # launchers shipped by pure packages (setuptools, pip, distlib)
            return [
                (
                    "warning",
                    code,
                    f"{shown} is {what} inside a pure-Python distribution; Python never "
                    "imports it, but anything that loads or runs it on Lambda fails",
                    "ignore this if the function never loads it; otherwise use a Linux "
                    f"build for {target}",
                )
            ]
        return [("error", code, f"{shown} is {what}; {host}", fixes.rebuild)]
    issues: list[_Issue] = []
    musl = False
    if isinstance(binary, ElfFacts) and binary.loadable:
        foreign = _foreign_elf(binary, shown, target, fixes)
        if foreign is not None:
            return [foreign]
        musl = _is_musl(binary)
        issues += _elf_issues(binary, f, shown, dist, tree, target, fixes, present, libs_dirs)
    suffix = _suffix_issue(name, shown, target, fixes, musl)
    if suffix is not None:
        issues.insert(0, suffix)
    return issues


def _problem_fix(problem: FileProblem) -> str:
    if problem.code == "unsafe-path":
        return (
            "rebuild the zip with paths relative to its root (no leading '/', no '..'); "
            "Lambda and the audit refuse to write outside the bundle"
        )
    if problem.code == "unreadable":
        return "make the file readable (permissions, broken symlink) and audit again"
    if problem.code == "special-file":
        return (
            "remove it from the bundle folder: only regular files and folders can ship (CDK's "
            "zip of a folder takes regular files only)"
        )
    if problem.code == "oversized":
        return (
            "remove the file: alone it is larger than Lambda allows a function to unzip to; "
            "if the zip is not yours, treat it as hostile (a zip bomb)"
        )
    if problem.code == "symlink":
        return _LINK_FIX
    return "rebuild the zip; this member is damaged or encrypted"


# -- links and unread members (pure) ---------------------------------------------------------------

_LINK_ZIPS = (
    "CDK's zip of a folder asset stores a copy of what a link points to, read on the machine "
    "that runs cdk deploy, while a zip made with links kept (zip -y) holds the link itself, "
    "which Lambda resolves in its own file system (AWS does not document how Lambda unzips "
    "links)"
)
_LINK_FIX = (
    "replace the link with a copy of the file the function needs (cp -L, or zip without -y), "
    "or delete it; a bundle must not point outside itself"
)


def _link_findings(tree: TreeFacts) -> list[Finding]:
    """Every symbolic link: an error when it leaves the bundle or loops, a warning otherwise;
    and every zip member written through a linked folder, an error."""
    links = {f.path: f.link for f in tree.files if f.link is not None}
    if not links:
        return []
    files = {f.path for f in tree.files if f.link is None}
    folders = {p.rsplit("/", i)[0] for p in files for i in range(1, p.count("/") + 1)}
    findings: list[Finding] = []
    for f in tree.files:
        shown = tree.display(f.path)
        owner = tree.owners.get(f.path)
        above = link_above(f.path, links)
        if above is not None:
            into = _link_end_words(follow(above, links), files, folders)
            findings.append(
                Finding(
                    "error",
                    owner,
                    shown,
                    "symlink",
                    f"{shown} lies under {tree.display(above)}, which the zip also holds as a "
                    f"symbolic link to {links[above]!r}; an unzip tool that makes the link "
                    f"first writes this file through it, {into}",
                    "rebuild the zip from a folder without links: a zip must not hold both a "
                    "link and files under the link's path",
                )
            )
        elif f.link is not None:
            findings.append(_link_finding(f.path, f.link, owner, tree, links, files, folders))
    return findings


def _link_finding(
    path: str,
    target: str,
    owner: str | None,
    tree: TreeFacts,
    links: Mapping[str, str],
    files: Collection[str],
    folders: Collection[str],
) -> Finding:
    shown = tree.display(path)
    end = follow(path, links)
    where = _link_end_words(end, files, folders)
    if end.kind != "inside":
        return Finding(
            "error",
            owner,
            shown,
            "symlink",
            f"{shown} is a symbolic link to {target!r}, {where}; {_LINK_ZIPS}",
            _LINK_FIX,
        )
    if end.path not in files and end.path not in folders and end.path:
        fix = "delete the link, or put the file it should point to in the bundle"
    else:
        fix = (
            "replace the link with a copy of what it points to (cp -L, or zip without -y), so "
            "that every way of zipping ships the same files"
        )
    return Finding(
        "warning",
        owner,
        shown,
        "symlink",
        f"{shown} is a symbolic link to {target!r}, {where}; {_LINK_ZIPS}",
        fix,
    )


def _link_end_words(end: LinkEnd, files: Collection[str], folders: Collection[str]) -> str:
    if end.kind == "loop":
        return f"which loops: no file is reached after {MAX_LINKS} links, outside the bundle"
    if end.kind == "outside":
        if end.path == "..":
            return "which leads outside the bundle (through '..')"
        return f"the absolute path {end.path}, outside the bundle"
    if end.path in files:
        return f"the file {end.path} in the bundle"
    if not end.path or end.path in folders:
        return f"the folder {end.path or '.'} in the bundle"
    return f"which points to nothing in the bundle ({end.path} is missing)"


def _unread_findings(tree: TreeFacts) -> list[Finding]:
    if not tree.unread:
        return []
    shown = tree.display(".")
    where = "the zip" if tree.label is None else f"layer {tree.label}"
    declared = sum(f.size for f in tree.files)
    listed = ", ".join(tree.unread[:3]) + (", ..." if len(tree.unread) > 3 else "")
    return [
        Finding(
            "error",
            None,
            shown,
            "zip-bomb",
            f"{where} made the audit unzip {TREE_UNZIP_BUDGET:,} bytes, its cap (four times "
            f"Lambda's 250 MiB), before every file was read: {counted(len(tree.unread), 'file')} "
            f"were not inspected ({listed}); its members declare {declared:,} bytes unzipped",
            "if the zip is yours, make it smaller: no Lambda bundle unzips to this much; if it "
            "is not, treat it as hostile (a zip bomb) and do not unzip it",
        )
    ]


def _foreign_elf(binary: ElfFacts, shown: str, target: Target, fixes: _Fixes) -> _Issue | None:
    machine = ELF_MACHINE_NAMES.get(binary.machine, f"e_machine {binary.machine}")
    wanted = ELF_MACHINE_NAMES[ELF_MACHINE[target.arch]]
    if binary.elf_class != 64:
        return (
            "error",
            "elf-class",
            f"{shown} is a {binary.elf_class}-bit ELF binary ({machine}); {target} Lambda runs "
            f"64-bit {wanted} code only",
            fixes.rebuild,
        )
    if binary.machine != ELF_MACHINE[target.arch] or not binary.little_endian:
        order = "" if binary.little_endian else "big-endian "
        return (
            "error",
            "elf-machine",
            f"{shown} is an {order}{machine} ELF binary; {target} Lambda runs {wanted} code "
            "only, so it was installed for another machine (the build host?)",
            fixes.rebuild,
        )
    return None


def _is_musl(binary: ElfFacts) -> bool:
    interp = binary.interpreter or ""
    return interp.startswith(MUSL_INTERPRETER_PREFIX) or any(
        lib in MUSL_LIBRARIES for lib in binary.needed
    )


_GLIBC = re.compile(r"GLIBC_(\d+)\.(\d+)(?:\.\d+)?$")
_GLIBCXX = re.compile(r"GLIBCXX_3\.4(?:\.(\d+))?$")
_CXXABI = re.compile(r"CXXABI_1\.3(?:\.(\d+))?$")


def _elf_issues(
    binary: ElfFacts,
    f: FileFacts,
    shown: str,
    dist: DistFacts | None,
    tree: TreeFacts,
    target: Target,
    fixes: _Fixes,
    present: set[str],
    libs_dirs: Mapping[str, tuple[str, ...]],
) -> list[_Issue]:
    os_spec = target.os
    issues: list[_Issue] = []
    origin = posixpath.dirname(posixpath.join(tree.mount, f.path))
    early, late = _search_dirs(binary, origin, f.path, libs_dirs)
    via_rpath = {lib for lib in binary.needed if _found(lib, early, present)}
    package = dist.label.split(" ")[0] if dist else "the package"

    if _is_musl(binary):
        libc = next((lib for lib in binary.needed if lib in MUSL_LIBRARIES), binary.interpreter)
        issues.append(
            (
                "error",
                "needed-lib",
                f"{shown} is linked against musl libc ({libc}), the C library of Alpine and "
                "musllinux wheels; Lambda runs glibc, so it cannot load",
                fixes.rebuild,
            )
        )
    else:
        glibc = [
            (Version2(int(m[1]), int(m[2])), v) for v in _versions(binary) if (m := _GLIBC.match(v))
        ]
        if glibc:
            needed, name = max(glibc)
            if needed > os_spec.glibc:
                issues.append(
                    (
                        "error",
                        "glibc",
                        f"{shown} needs {name}, {os_spec.title} has {os_spec.glibc} (the OS of "
                        f"{target.runtime}); it was built for a newer Linux than the target",
                        _glibc_fix(needed, package, target),
                    )
                )
        if "libstdc++.so.6" not in via_rpath:
            cxx = _versions(binary, "libstdc++.so.6")
            for code, pattern, ceiling, prefix in (
                ("glibcxx", _GLIBCXX, os_spec.glibcxx, "GLIBCXX_3.4"),
                ("cxxabi", _CXXABI, os_spec.cxxabi, "CXXABI_1.3"),
            ):
                levels = [int(m[1] or 0) for v in cxx if (m := pattern.match(v))]
                if levels and max(levels) > ceiling:
                    issues.append(
                        (
                            "error",
                            code,
                            f"{shown} needs {prefix}.{max(levels)} from libstdc++.so.6, "
                            f"{os_spec.title} has up to {prefix}.{ceiling}; it was built with a "
                            "newer C++ compiler than the target's",
                            f"install a manylinux wheel of {package} built for the target "
                            f"({fixes.command}), or pin a release built with "
                            "an older toolchain",
                        )
                    )

    for lib in binary.needed:
        if lib in MUSL_LIBRARIES or lib in via_rpath:
            continue
        issue = _needed_issue(lib, shown, package, target, present, late)
        if issue is not None:
            issues.append(issue)
    return issues


def _versions(binary: ElfFacts, library: str | None = None) -> list[str]:
    return [
        v
        for need in binary.version_needs
        if library is None or need.library == library
        for v in need.versions
    ]


def _glibc_fix(needed: Version2, package: str, target: Target) -> str:
    newer = [
        spec.name
        for spec in RUNTIMES.values()
        if spec.glibc >= needed and spec.python >= target.python
    ]
    move = (
        f"; or move the function to {newer[0]} ({RUNTIMES[newer[0]].os_spec.title}, glibc "
        f"{RUNTIMES[newer[0]].glibc})"
        if newer
        else ""
    )
    glibc = target.glibc
    return (
        f"install wheels tagged manylinux_{glibc.major}_{glibc.minor}_{target.arch} or older: "
        f"lambda-wheels build --runtime {target.runtime} --arch {target.lambda_arch} picks "
        f"only those; if {package} has none for this release, pin an older release{move}"
    )


def _search_dirs(
    binary: ElfFacts, origin: str, path: str, libs_dirs: Mapping[str, tuple[str, ...]]
) -> tuple[list[str], list[str]]:
    """(searched before the OS's libraries, searched after them) as absolute Lambda paths.

    DT_RPATH (only when there is no DT_RUNPATH) comes before LD_LIBRARY_PATH, whose system
    folders come first; then the bundle's folders on LD_LIBRARY_PATH, DT_RUNPATH, and --
    leniently -- the file's own folder and the ``*.libs`` folders auditwheel makes (packages
    often preload those).
    """
    early = [] if binary.runpath else _expand(binary.rpath, origin)
    bundle_path = [
        d for d in LAMBDA_LD_LIBRARY_PATH if d.startswith((FUNCTION_MOUNT, LAYER_MOUNT + "/"))
    ]
    late = [*bundle_path, *_expand(binary.runpath, origin), origin]
    for root, dirs in libs_dirs.items():
        if not root or path.startswith(root + "/"):
            late += dirs
    return early, late


def _expand(entries: Sequence[str], origin: str) -> list[str]:
    dirs = []
    for entry in entries:
        value = entry.replace("${ORIGIN}", "$ORIGIN").replace("$ORIGIN", origin)
        if value.startswith("/") and "$" not in value:
            dirs.append(posixpath.normpath(value))
    return dirs


def _found(lib: str, dirs: Sequence[str], present: set[str]) -> bool:
    if "/" in lib:
        return lib in present
    return any(f"{d}/{lib}" in present for d in dirs)


def _libs_dirs(tree: TreeFacts) -> dict[str, tuple[str, ...]]:
    """Site root -> absolute ``<pkg>.libs`` folders directly in it."""
    roots = site_roots(tree.kind, [f.path for f in tree.files])
    found: dict[str, set[str]] = defaultdict(set)
    for f in tree.files:
        folder = posixpath.dirname(f.path)
        if folder.endswith(".libs") and posixpath.dirname(folder) in roots:
            found[posixpath.dirname(folder)].add(posixpath.join(tree.mount, folder))
    return {root: tuple(sorted(dirs)) for root, dirs in found.items()}


def _needed_issue(
    lib: str,
    shown: str,
    package: str,
    target: Target,
    present: set[str],
    late: Sequence[str],
) -> _Issue | None:
    os_spec = target.os
    if lib in BASE_LIBRARIES[os_spec.name]:
        return None
    unstable = UNSTABLE_LIBRARIES[os_spec.name].get(lib)
    if unstable is not None:
        return (
            "warning",
            "needed-lib",
            f"{shown} needs {lib} from the OS; {unstable}",
            f"use a wheel of {package} that vendors its own copy (auditwheel copies it into "
            "<package>.libs/ with a unique name)",
        )
    if _found(lib, late, present):
        return None
    absent = ABSENT_LIBRARIES[os_spec.name].get(lib)
    if absent is not None:
        return (
            "error",
            "needed-lib",
            f"{shown} needs {lib}; {lib} {absent.reason}",
            absent.fix,
        )
    return (
        "error",
        "needed-lib",
        f"{shown} needs {lib}, which is neither in the bundle (searched its RPATH/RUNPATH, its "
        f"own folder, *.libs folders and the lib/ folders of the function and layers) nor a "
        f"library {os_spec.title} provides to {target.runtime}",
        f"bundle {lib} in the function's lib/ folder (or a layer's lib/), or install a "
        f"manylinux wheel of {package}, which vendors what it needs: lambda-wheels build "
        f"--runtime {target.runtime} --arch {target.lambda_arch}",
    )


_EXTENSION = re.compile(
    r"\.(?:cpython-(?P<ver>\d+)(?P<flags>[a-z]*)(?:-(?P<platform>[^.]+))?|(?P<pypy>pypy\d*-pp\d+[^.]*))\.(?:so|pyd)$"
)


def _suffix_issue(
    name: str, shown: str, target: Target, fixes: _Fixes, musl: bool
) -> _Issue | None:
    """Extension-module filenames CPython on the target will not import."""
    if name.lower().endswith(".pyd"):
        return (
            "error",
            "ext-suffix",
            f"{shown} is named like a Windows extension module (.pyd); Python on Linux never "
            "imports it",
            fixes.rebuild,
        )
    match = _EXTENSION.search(name)
    if match is None:
        return None
    expected = f".cpython-{target.python[0]}{target.python[1]}-{EXTENSION_TRIPLET[target.arch]}.so"
    accepts = f"{target.runtime} imports only {expected}, .abi3.so and plain .so"
    if match["pypy"]:
        what = "PyPy"
    else:
        ver, flags, platform = match["ver"], match["flags"], match["platform"] or ""
        version = (int(ver[0]), int(ver[1:] or 0))
        flag_words = {"t": "free-threaded ", "d": "debug ", "m": "pymalloc "}
        kind = "".join(flag_words.get(c, f"'{c}' ") for c in flags)
        if platform == "darwin":
            what = f"macOS {kind}CPython {version[0]}.{version[1]}"
        elif platform.endswith("linux-musl"):
            if musl:
                return None  # the musl finding on the same file says it all
            what = f"musl (Alpine) {kind}CPython {version[0]}.{version[1]}"
        elif platform and platform != EXTENSION_TRIPLET[target.arch]:
            what = f"{platform} {kind}CPython {version[0]}.{version[1]}"
        elif version != target.python or flags:
            what = f"{kind}CPython {version[0]}.{version[1]}"
        else:
            return None
    return (
        "error",
        "ext-suffix",
        f"{shown} is an extension module built for {what}; {accepts}, so the import fails",
        fixes.rebuild,
    )


def _wheel_tag_findings(
    dist: DistFacts, failing: bool, tree: TreeFacts, target: Target, fixes: _Fixes
) -> list[Finding]:
    if dist.tags is None:
        return []
    shown = tree.display(f"{dist.dist_info}/WHEEL")
    if not dist.tags:
        return [
            Finding(
                "warning",
                dist.label,
                shown,
                "wheel-tag",
                f"{shown} has no Tag lines, so nothing says which platform {dist.label} was "
                "built for",
                "reinstall it from a wheel built by a standard build backend",
            )
        ]
    tags: list[Tag] = []
    for text in dist.tags:
        try:
            tags += parse_tag(text)
        except ValueError:
            return [
                Finding(
                    "warning",
                    dist.label,
                    shown,
                    "wheel-tag",
                    f"{shown} has an unreadable Tag line {text!r}",
                    "reinstall it from a wheel built by a standard build backend",
                )
            ]
    try:
        if any(target.accepts(tag) for tag in tags):
            return []
    except UsageError:  # pragma: no cover - Tag objects never fail to parse
        return []
    listed = ", ".join(dict.fromkeys(str(t) for t in tags))
    best = next(target.platforms())
    local = f"linux_{target.arch}"
    if any(t.platform == local and target.accepts(Tag(t.interpreter, t.abi, best)) for t in tags):
        reason = (
            f"{dist.label} was built locally ({listed}), not as a manylinux wheel, so its tag "
            f"does not promise it runs on {target}"
        )
        if not failing:
            return [
                Finding(
                    "warning",
                    dist.label,
                    shown,
                    "wheel-tag",
                    reason + "; its binaries passed this audit",
                    "fine if it was built in the Lambda build image for this runtime; "
                    "otherwise " + fixes.rebuild,
                )
            ]
        return [
            Finding(
                "error",
                dist.label,
                shown,
                "wheel-tag",
                reason + "; its binaries fail",
                fixes.rebuild,
            )
        ]
    return [
        Finding(
            "error",
            dist.label,
            shown,
            "wheel-tag",
            f"{dist.label} was installed from a wheel tagged {listed}, which does not run on "
            f"{target} (that needs {target.abi} or abi3 with platform {best} or older, or a "
            "pure py3-none-any wheel)",
            fixes.rebuild,
        )
    ]


def _layout_findings(tree: TreeFacts, target: Target) -> list[Finding]:
    shown = tree.display(".")
    where = "the bundle" if tree.label is None else f"layer {tree.label}"
    top_dist_infos = [d for d in tree.dists if "/" not in d.dist_info]
    if tree.kind == "function":
        under_python = any(f.path.startswith("python/") for f in tree.files)
        if (
            under_python
            and not top_dist_infos
            and not any("/" not in f.path and f.path.endswith(".py") for f in tree.files)
        ):
            return [
                Finding(
                    "warning",
                    None,
                    shown,
                    "layout",
                    f"{where} keeps its files under python/, like a layer; a function's "
                    "packages must be at its root (/var/task) to be imported",
                    "audit it with --kind layer if it is a layer; otherwise install the "
                    "packages at the bundle root",
                )
            ]
        return []
    findings: list[Finding] = []
    if any(f.path.split("/", 1)[0].endswith(".dist-info") for f in tree.files):
        findings.append(
            Finding(
                "warning",
                None,
                shown,
                "layout",
                f"{where} has packages at its root; Lambda extracts layers to /opt and imports "
                "only from /opt/python and /opt/python/lib/python3.X/site-packages",
                "install the layer's packages under python/ (pip install --target python/ ...)",
            )
        )
    live_dists = [d for d in tree.dists if d.live]
    other = sorted(
        {
            m[0].rstrip("/")
            for d in tree.dists
            if not d.live and (m := _LAYER_PYTHON.match(d.dist_info))
        }
    )
    if other and not live_dists:
        findings.append(
            Finding(
                "warning",
                None,
                shown,
                "layout",
                f"{where} has packages only for other Python versions ({', '.join(other)}); "
                f"{target.runtime} imports none of them",
                f"build the layer for {target.runtime} too (python/lib/"
                f"python{target.python_version}/site-packages or python/)",
            )
        )
    return findings


def _bundle_findings(facts: BundleFacts, target: Target) -> list[Finding]:
    findings: list[Finding] = []
    layers = [t for t in facts.trees if t.label is not None]
    if len(layers) > MAX_LAYERS:
        findings.append(
            Finding(
                "error",
                None,
                ".",
                "layers",
                f"the function uses {len(layers)} layers; Lambda allows at most {MAX_LAYERS}",
                "merge layers, or move their packages into the function bundle",
            )
        )
    total = sum(f.size for tree in facts.trees for f in tree.files)
    if total <= UNZIPPED_LIMIT_BYTES * SIZE_WARNING_FRACTION:
        return findings
    sizes: dict[str, int] = defaultdict(int)
    for tree in facts.trees:
        for f in tree.files:
            sizes[tree.owners.get(f.path, _NO_DISTRIBUTION)] += f.size
    largest = sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    listing = ", ".join(f"{name} {human_size(size)}" for name, size in largest if size)
    what = "the function and its layers unzip" if layers else "the bundle unzips"
    limit = f"Lambda's limit of {UNZIPPED_LIMIT_BYTES:,} bytes (250 MiB) unzipped"
    if total > UNZIPPED_LIMIT_BYTES:
        severity: Severity = "error"
        reason = f"{what} to {total:,} bytes ({human_size(total)}), over {limit}"
    else:
        severity = "warning"
        share = total / UNZIPPED_LIMIT_BYTES
        reason = f"{what} to {total:,} bytes ({human_size(total)}), {share:.0%} of {limit}"
    return [
        *findings,
        Finding(
            severity,
            None,
            ".",
            "size",
            f"{reason}; largest: {listing}",
            "drop distributions the function does not import (boto3 and botocore come with "
            "the runtime), move big ones out of the bundle, or deploy a container image "
            "(10 GB limit)",
        ),
    ]
