"""Reading a bundle's facts from a folder or a zip: the only audit code that touches the file
system. Links are listed, never followed; special files are listed, never opened; zip members
are read through :class:`~.zip_member.BoundedMember`."""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
import stat
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import IO, Final, NamedTuple

from ..distinfo import record_paths
from ..errors import InputError
from ..target.runtimes import UNZIPPED_LIMIT, UNZIPPED_LIMIT_BYTES
from .bytecode_rules import HEAD_BYTES as SCRIPT_HEAD_BYTES
from .bytecode_rules import wants_head
from .elf import (
    HEAD_BYTES,
    Stream,
    parse_macho,
    parse_pe,
    read_elf,
    sniff,
)
from .model import (
    BinaryFacts,
    BundleKind,
    DistFacts,
    FileFacts,
    FileProblem,
    TreeFacts,
    is_live,
    site_roots,
)
from .zip_member import BoundedMember, MemberTooCostly, UnzipBudget, UnzipBudgetExceeded

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


def open_tree(path: str | os.PathLike[str]) -> _Reader:
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


def collect_tree(
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
    limit = f"{UNZIPPED_LIMIT} for the whole function"
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
            for owned in record_paths(record.decode("utf-8", errors="replace")):
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
