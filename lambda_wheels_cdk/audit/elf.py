"""Facts about binary files: what a file is, and what an ELF file needs to load.

Files are recognised by their first bytes, never by name (:func:`sniff`):

* ELF (``\\x7fELF``) is read with pyelftools (:func:`read_elf`): class, byte order, e_machine,
  e_type, the program interpreter, and from the dynamic segment ``DT_NEEDED``, ``DT_RPATH``,
  ``DT_RUNPATH``, ``DT_SONAME`` and the version needs (``GLIBC_2.28`` ...). It reads what the
  dynamic loader reads -- the ELF header, program headers, ``PT_DYNAMIC`` and the strings and
  version-needed entries it points to -- seeking in the stream and never reading whole files
  or section tables; the strings are read last, in file order, so that a stream that is cheap
  only going forward (a zip member) is read mostly forward. Corrupt or truncated files give a
  :class:`CorruptElf`, never an exception or an unbounded loop: every count read from the file
  is capped, and every read is of a bounded size.
* Mach-O (thin ``0xfeedface``/``0xfeedfacf`` in either byte order, universal ``0xcafebabe``/
  ``0xcafebabf``/``0xbebafeca``) and PE (``MZ`` + ``PE\\0\\0``) headers are parsed by hand from
  the first :data:`HEAD_BYTES` bytes (:func:`parse_macho`, :func:`parse_pe`); the audit only
  needs their CPU type to say what the file was built for.

Nothing here decides whether a file fits a target; that is :mod:`.audit`'s job.
"""

from __future__ import annotations

import functools
import io
import struct
from dataclasses import dataclass, replace
from typing import IO, Any, Final, Literal, Protocol, cast

from elftools.common.exceptions import ELFError
from elftools.common.utils import struct_parse
from elftools.elf.enums import ENUM_E_MACHINE
from elftools.elf.structs import ELFStructs

from ..target.runtimes import DATACLASS_SLOTS

BinaryKind = Literal["elf", "macho", "pe"]

#: How many leading bytes of every file the audit reads to recognise it. Enough for a universal
#: Mach-O header (8 + 20 bytes per slice) and a PE header at a typical ``e_lfanew``.
HEAD_BYTES: Final = 4096

ELF_MAGIC: Final = b"\x7fELF"

#: Universal (fat) Mach-O shares its magic 0xcafebabe with Java class files; Java stores its
#: class-file version (>= 45) where Mach-O stores the number of slices. Same cut as file(1).
_MAX_FAT_SLICES: Final = 20
_MACHO_THIN: Final[dict[bytes, tuple[str, int]]] = {
    b"\xfe\xed\xfa\xce": (">", 28),  # MH_MAGIC, 32-bit big-endian
    b"\xfe\xed\xfa\xcf": (">", 32),  # MH_MAGIC_64, big-endian
    b"\xce\xfa\xed\xfe": ("<", 28),  # MH_CIGAM, 32-bit little-endian
    b"\xcf\xfa\xed\xfe": ("<", 32),  # MH_CIGAM_64, little-endian (every modern Mac binary)
}
_MACHO_FAT: Final[dict[bytes, tuple[str, int]]] = {
    b"\xca\xfe\xba\xbe": (">", 20),  # FAT_MAGIC: big-endian fat_arch entries
    b"\xca\xfe\xba\xbf": (">", 32),  # FAT_MAGIC_64: fat_arch_64 entries
    b"\xbe\xba\xfe\xca": ("<", 20),  # FAT_CIGAM written little-endian
}

#: Caps on counts read from ELF files, far above anything a real binary holds.
_MAX_PROGRAM_HEADERS: Final = 4096
_MAX_DYNAMIC_ENTRIES: Final = 4096
_MAX_VERSION_ENTRIES: Final = 4096  # version-needed names, all libraries together
_MAX_STRING: Final = 4096


@dataclass(frozen=True, **DATACLASS_SLOTS)
class VersionNeed:
    """One ``.gnu.version_r`` entry: a library and the symbol versions needed from it."""

    library: str
    versions: tuple[str, ...]


@dataclass(frozen=True, **DATACLASS_SLOTS)
class ElfFacts:
    """What an ELF file is and what it needs from the dynamic loader."""

    #: 32 or 64 (EI_CLASS).
    elf_class: int
    little_endian: bool
    #: Raw e_machine (62 = x86_64, 183 = AArch64).
    machine: int
    #: e_type name as pyelftools spells it: ``ET_DYN``, ``ET_EXEC``, ``ET_REL`` ...
    elf_type: str
    #: PT_INTERP, e.g. ``/lib64/ld-linux-x86-64.so.2``; ``None`` for shared libraries.
    interpreter: str | None = None
    needed: tuple[str, ...] = ()
    rpath: tuple[str, ...] = ()
    runpath: tuple[str, ...] = ()
    soname: str | None = None
    version_needs: tuple[VersionNeed, ...] = ()

    @property
    def loadable(self) -> bool:
        """A shared library or executable (not an object file or core dump)."""
        return self.elf_type in ("ET_DYN", "ET_EXEC")


@dataclass(frozen=True, **DATACLASS_SLOTS)
class CorruptElf:
    """An ELF file that cannot be read; ``reason`` says where it broke."""

    reason: str


@dataclass(frozen=True, **DATACLASS_SLOTS)
class MachOFacts:
    """A macOS binary: the CPU type of each slice (one for thin files)."""

    cpu_types: tuple[int, ...]
    universal: bool


@dataclass(frozen=True, **DATACLASS_SLOTS)
class PEFacts:
    """A Windows binary (``.pyd``, ``.dll``, ``.exe``)."""

    machine: int
    dll: bool


def sniff(head: bytes) -> BinaryKind | None:
    """What a file is, from its first bytes (up to :data:`HEAD_BYTES`); ``None`` if no binary."""
    if head[:4] == ELF_MAGIC:
        return "elf"
    if parse_macho(head) is not None:
        return "macho"
    if parse_pe(head) is not None:
        return "pe"
    return None


def parse_macho(head: bytes) -> MachOFacts | None:
    """Mach-O facts from a file's first bytes; ``None`` when it is not Mach-O.

    A universal binary (or Java class file: same magic) is Mach-O only when its slice count is
    plausible and every slice header fits in ``head``.
    """
    magic = head[:4]
    thin = _MACHO_THIN.get(magic)
    if thin is not None:
        order, header_size = thin
        if len(head) < header_size:
            return None
        (cputype,) = struct.unpack_from(order + "I", head, 4)
        return MachOFacts((cputype,), universal=False)
    fat = _MACHO_FAT.get(magic)
    if fat is None or len(head) < 8:
        return None
    order, entry_size = fat
    (count,) = struct.unpack_from(order + "I", head, 4)
    if not 0 < count < _MAX_FAT_SLICES or len(head) < 8 + count * entry_size:
        return None
    cputypes = tuple(
        struct.unpack_from(order + "I", head, 8 + i * entry_size)[0] for i in range(count)
    )
    if 0 in cputypes:
        return None
    return MachOFacts(cputypes, universal=True)


def parse_pe(head: bytes) -> PEFacts | None:
    """PE facts from a file's first bytes; ``None`` unless ``MZ`` leads to a ``PE\\0\\0`` header."""
    if head[:2] != b"MZ" or len(head) < 0x40:
        return None
    (offset,) = struct.unpack_from("<I", head, 0x3C)  # e_lfanew
    if offset + 24 > len(head) or head[offset : offset + 4] != b"PE\0\0":
        return None
    machine, characteristics = struct.unpack_from("<H16xH", head, offset + 4)
    return PEFacts(machine=machine, dll=bool(characteristics & 0x2000))  # IMAGE_FILE_DLL


# -- ELF ----------------------------------------------------------------------------------------


class Stream(Protocol):
    """What :func:`read_elf` reads from: an open binary file, ``io.BytesIO``, or a bounded view
    of a zip member (:class:`.zip_member.BoundedMember`)."""

    def read(self, n: int = -1, /) -> bytes: ...

    def seek(self, offset: int, whence: int = 0, /) -> int: ...

    def tell(self) -> int: ...


#: What pyelftools, construct and struct raise on malformed input. Each becomes a CorruptElf.
_MALFORMED = (ELFError, struct.error, ValueError, KeyError, IndexError, OverflowError, EOFError)


class _Malformed(Exception):
    """Raised inside this module for inconsistencies pyelftools does not check itself."""


def read_elf(stream: Stream) -> ElfFacts | CorruptElf:
    """Read the load-time facts of an ELF file from a seekable binary stream.

    Reads the ELF header, program headers, the dynamic segment and the strings and version
    entries it points to; nothing else. Never raises for malformed input: a file that ends too
    early or points outside itself gives :class:`CorruptElf`. ``OSError`` from the stream
    propagates.
    """
    try:
        return _read_elf(stream)
    except _Malformed as exc:
        return CorruptElf(str(exc))
    except _MALFORMED as exc:
        return CorruptElf(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)


def _parse(struct: Any, stream: Stream, offset: int) -> Any:
    """pyelftools' struct_parse at ``offset``; it only seeks and reads, as :class:`Stream` does."""
    return struct_parse(struct, cast("IO[bytes]", stream), stream_pos=offset)


@dataclass(frozen=True, **DATACLASS_SLOTS)
class _Load:
    vaddr: int
    offset: int
    filesz: int


@functools.lru_cache(maxsize=8)
def _basic_structs(little_endian: bool, elf_class: int) -> ELFStructs:
    structs = ELFStructs(little_endian=little_endian, elfclass=elf_class)
    structs.create_basic_structs()
    return structs


@functools.lru_cache(maxsize=256)
def _structs(
    little_endian: bool, elf_class: int, e_type: Any, machine: Any, osabi: Any
) -> ELFStructs:
    structs = ELFStructs(little_endian=little_endian, elfclass=elf_class)
    structs.create_basic_structs()
    structs.create_advanced_structs(e_type, machine, osabi)
    return structs


@dataclass(frozen=True, **DATACLASS_SLOTS)
class _Elf:
    """What :class:`elftools.elf.elffile.ELFFile` gives us, with its struct definitions reused.

    ``ELFFile()`` builds pyelftools' ``construct`` structs anew for every file (half the audit's
    ELF time on a 100-library bundle); they depend only on class, byte order, type, machine
    and OS ABI, so they are built once per combination here. Parsing is still pyelftools'.
    """

    elfclass: int
    little_endian: bool
    header: Any
    structs: ELFStructs
    stream_len: int

    @classmethod
    def open(cls, stream: Stream) -> _Elf:
        stream.seek(0, io.SEEK_END)
        size = stream.tell()
        stream.seek(0)
        ident = stream.read(6)
        if ident[:4] != b"\x7fELF":
            raise ELFError("Magic number does not match")
        elf_class = {1: 32, 2: 64}.get(ident[4]) if len(ident) > 4 else None
        if elf_class is None:
            raise ELFError(f"Invalid EI_CLASS {ident[4:5]!r}")
        little_endian = {1: True, 2: False}.get(ident[5]) if len(ident) > 5 else None
        if little_endian is None:
            raise ELFError(f"Invalid EI_DATA {ident[5:6]!r}")
        header = _parse(_basic_structs(little_endian, elf_class).Elf_Ehdr, stream, 0)
        structs = _structs(
            little_endian,
            elf_class,
            header["e_type"],
            header["e_machine"],
            header["e_ident"]["EI_OSABI"],
        )
        return cls(elf_class, little_endian, header, structs, size)


def _read_elf(stream: Stream) -> ElfFacts:
    elf = _Elf.open(stream)
    machine = elf.header["e_machine"]
    machine_id = machine if isinstance(machine, int) else ENUM_E_MACHINE.get(machine, -1)
    elf_type = str(elf.header["e_type"])
    facts = ElfFacts(elf.elfclass, elf.little_endian, machine_id, elf_type)
    if not facts.loadable:
        return facts
    segments = _Segments.read(elf, stream)
    if segments is None:
        return facts
    if segments.interp is not None:
        offset, length = segments.interp
        interpreter = _cstring(
            stream, offset, min(length, _MAX_STRING), elf.stream_len, "PT_INTERP"
        )
        facts = replace(facts, interpreter=interpreter)
    if segments.dynamic is None:
        return facts
    tags = _dynamic_tags(elf, stream, *segments.dynamic)
    return _with_dynamic_strings(facts, elf, stream, segments, tags)


@dataclass(frozen=True, **DATACLASS_SLOTS)
class _Segments:
    """What the program headers say: where the file is loaded, and where ``PT_DYNAMIC`` and
    ``PT_INTERP`` are (offset, size in the file)."""

    loads: tuple[_Load, ...]
    dynamic: tuple[int, int] | None
    interp: tuple[int, int] | None

    @classmethod
    def read(cls, elf: _Elf, stream: Stream) -> _Segments | None:
        """``None`` when the file has no program headers."""
        header, size = elf.header, elf.stream_len
        phoff, phnum, phentsize = header["e_phoff"], header["e_phnum"], header["e_phentsize"]
        if phnum == 0 or phoff == 0:
            return None
        if phentsize < elf.structs.Elf_Phdr.sizeof():
            raise _Malformed(f"program header entries are {phentsize} bytes, too small")
        if phnum > _MAX_PROGRAM_HEADERS or phoff + phnum * phentsize > size:
            raise _Malformed(
                f"{phnum} program headers at offset {phoff} run past the end of the file "
                f"({size} bytes): truncated?"
            )
        loads: list[_Load] = []
        dynamic: tuple[int, int] | None = None
        interp: tuple[int, int] | None = None
        for i in range(phnum):
            ph = _parse(elf.structs.Elf_Phdr, stream, phoff + i * phentsize)
            kind = ph["p_type"]
            if kind == "PT_LOAD":
                loads.append(_Load(ph["p_vaddr"], ph["p_offset"], ph["p_filesz"]))
            elif kind == "PT_DYNAMIC" and dynamic is None:
                dynamic = (ph["p_offset"], ph["p_filesz"])
            elif kind == "PT_INTERP" and interp is None:
                interp = (ph["p_offset"], ph["p_filesz"])
        return cls(tuple(loads), dynamic, interp)

    def to_offset(self, vaddr: int, what: str) -> int:
        """The file offset of a virtual address, through the ``PT_LOAD`` segment holding it."""
        for load in self.loads:
            if load.vaddr <= vaddr < load.vaddr + load.filesz:
                return load.offset + (vaddr - load.vaddr)
        raise _Malformed(f"{what} at address {vaddr:#x} is outside every loaded segment")


def _dynamic_tags(
    elf: _Elf, stream: Stream, dyn_offset: int, dyn_size: int
) -> list[tuple[str | int, int]]:
    """The dynamic segment's ``(d_tag, d_val)`` entries up to ``DT_NULL``."""
    size = elf.stream_len
    if dyn_offset + dyn_size > size:
        raise _Malformed(
            f"the dynamic segment ({dyn_size} bytes at offset {dyn_offset}) runs past the end "
            f"of the file ({size} bytes): truncated?"
        )
    entry = elf.structs.Elf_Dyn
    tags: list[tuple[str | int, int]] = []
    for i in range(dyn_size // entry.sizeof()):
        if i == _MAX_DYNAMIC_ENTRIES:
            raise _Malformed(f"no DT_NULL in the first {i} dynamic entries")
        dyn = _parse(entry, stream, dyn_offset + i * entry.sizeof())
        if dyn["d_tag"] == "DT_NULL":
            break
        tags.append((dyn["d_tag"], dyn["d_val"]))
    return tags


_STRING_TAGS: Final = ("DT_NEEDED", "DT_RPATH", "DT_RUNPATH", "DT_SONAME")


def _with_dynamic_strings(
    facts: ElfFacts,
    elf: _Elf,
    stream: Stream,
    segments: _Segments,
    tags: list[tuple[str | int, int]],
) -> ElfFacts:
    """``facts`` with the libraries, search paths, soname and version needs the dynamic
    entries name (all strings of the dynamic string table)."""
    size = elf.stream_len

    def first(tag: str) -> int | None:
        return next((value for name, value in tags if name == tag), None)

    strtab_addr, strtab_size = first("DT_STRTAB"), first("DT_STRSZ")
    verneed_addr = first("DT_VERNEED")
    if strtab_addr is None or strtab_size is None:
        if any(name in _STRING_TAGS for name, _ in tags) or verneed_addr is not None:
            raise _Malformed("the dynamic segment has no string table (DT_STRTAB/DT_STRSZ)")
        return facts
    strtab = segments.to_offset(strtab_addr, "the string table")
    if strtab + strtab_size > size:
        raise _Malformed(f"the string table runs past the end of the file ({size} bytes)")

    # Strings are read after every index is known, in file order: a zip member is read going
    # forward (see zip_member.py), and the string table may lie before or after the tables.
    strings = _Strings(stream, strtab, strtab_size, size)
    wanted: dict[str, list[int]] = {name: [] for name in _STRING_TAGS}
    for name, value in tags:
        if isinstance(name, str) and name in wanted:
            wanted[name].append(strings.want(value, name))
    needs: list[tuple[int, list[int]]] = []
    if verneed_addr is not None:
        offset = segments.to_offset(verneed_addr, "DT_VERNEED")
        needs = _version_needs(elf, stream, offset, first("DT_VERNEEDNUM") or 0, size)
        for library, names in needs:
            strings.want(library, "a version-needed library name")
            for name in names:
                strings.want(name, "a symbol version name")
    strings.read()
    values = {name: [strings[i] for i in indexes] for name, indexes in wanted.items()}
    return replace(
        facts,
        needed=tuple(values["DT_NEEDED"]),
        rpath=_split_path(values["DT_RPATH"]),
        runpath=_split_path(values["DT_RUNPATH"]),
        soname=values["DT_SONAME"][0] if values["DT_SONAME"] else None,
        version_needs=tuple(
            VersionNeed(strings[library], tuple(strings[n] for n in names))
            for library, names in needs
        ),
    )


class _Strings:
    """Strings of the dynamic string table, asked for by index and then read in file order."""

    def __init__(self, stream: Stream, offset: int, table_size: int, file_size: int) -> None:
        self._stream = stream
        self._offset = offset
        self._table_size = table_size
        self._file_size = file_size
        self._what: dict[int, str] = {}
        self._text: dict[int, str] = {}

    def want(self, index: int, what: str) -> int:
        if index >= self._table_size:
            raise _Malformed(f"{what} points outside the string table")
        self._what.setdefault(index, what)
        return index

    def read(self) -> None:
        for index in sorted(self._what):
            limit = min(self._table_size - index, _MAX_STRING)
            self._text[index] = _cstring(
                self._stream, self._offset + index, limit, self._file_size, self._what[index]
            )

    def __getitem__(self, index: int) -> str:
        return self._text[index]


def _version_needs(
    elf: _Elf, stream: Stream, offset: int, count: int, size: int
) -> list[tuple[int, list[int]]]:
    """(library name index, [version name index, ...]) per ``.gnu.version_r`` entry."""
    verneed, vernaux = elf.structs.Elf_Verneed, elf.structs.Elf_Vernaux
    needs: list[tuple[int, list[int]]] = []
    # one budget for every loop below: cycles end, and quickly
    entries = iter(range(_MAX_VERSION_ENTRIES))

    def read(struct: Any, at: int, what: str) -> Any:
        if next(entries, None) is None:
            raise _Malformed(f"more than {_MAX_VERSION_ENTRIES} version-needed entries")
        if at + struct.sizeof() > size:
            raise _Malformed(f"a version-needed {what}runs past the end of the file")
        return _parse(struct, stream, at)

    for _ in range(count):
        need = read(verneed, offset, "")
        versions: list[int] = []
        aux = offset + need["vn_aux"]
        for _ in range(need["vn_cnt"]):
            entry = read(vernaux, aux, "name ")
            versions.append(entry["vna_name"])
            if entry["vna_next"] == 0:
                break
            aux += entry["vna_next"]
        needs.append((need["vn_file"], versions))
        if need["vn_next"] == 0:
            break
        offset += need["vn_next"]
    return needs


def _cstring(stream: Stream, offset: int, limit: int, size: int, what: str) -> str:
    if offset >= size:
        raise _Malformed(f"{what} points past the end of the file")
    stream.seek(offset)
    data = stream.read(limit)
    end = data.find(b"\0")
    if end < 0:
        if len(data) < limit:
            raise _Malformed(f"{what} runs past the end of the file")
        end = len(data)  # unterminated within the cap: take what fits
    return data[:end].decode("utf-8", errors="replace")


def _split_path(values: list[str]) -> tuple[str, ...]:
    return tuple(part for value in values for part in value.split(":") if part)
