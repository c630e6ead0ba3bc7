"""Binary facts: recognising ELF / Mach-O / PE by magic, and reading ELF load-time facts.

The binaries are synthesized here (``make_elf``, ``make_macho``, ``make_pe``); test_audit.py
builds its trees from the same helpers.
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_wheels_cdk.audit.elf import (
    CorruptElf,
    ElfFacts,
    MachOFacts,
    PEFacts,
    VersionNeed,
    parse_macho,
    parse_pe,
    read_elf,
    sniff,
)

# -- builders --------------------------------------------------------------------------------

EM_X86_64, EM_AARCH64, EM_386 = 62, 183, 3
ET_DYN, ET_EXEC, ET_REL = 3, 2, 1
_PT_LOAD, _PT_DYNAMIC, _PT_INTERP = 1, 2, 3
_DT = {
    "NULL": 0,
    "NEEDED": 1,
    "STRTAB": 5,
    "STRSZ": 10,
    "SONAME": 14,
    "RPATH": 15,
    "RUNPATH": 29,
    "VERNEED": 0x6FFFFFFE,
    "VERNEEDNUM": 0x6FFFFFFF,
}
GLIBC_LIBS = ("libc.so.6",)


def make_elf(
    *,
    machine: int = EM_X86_64,
    elf_class: int = 64,
    little_endian: bool = True,
    elf_type: int = ET_DYN,
    needed: Sequence[str] = GLIBC_LIBS,
    rpath: str | None = None,
    runpath: str | None = None,
    soname: str | None = None,
    interpreter: str | None = None,
    versions: Mapping[str, Sequence[str]] | None = None,
    base: int = 0x400000,
) -> bytes:
    """A minimal but well-formed ELF file: header, PT_LOAD over everything, PT_DYNAMIC, and
    optionally PT_INTERP; .dynstr, .gnu.version_r and .dynamic in that order. ``versions``
    maps a library to the symbol versions needed from it (default: libc.so.6 -> GLIBC_2.17).
    """
    versions = {"libc.so.6": ["GLIBC_2.17", "GLIBC_2.2.5"]} if versions is None else versions
    e = "<" if little_endian else ">"
    wide = elf_class == 64
    addr = "Q" if wide else "I"
    ehsize, phentsize = (64, 56) if wide else (52, 32)

    strtab = bytearray(b"\0")
    index: dict[str, int] = {}

    def s(text: str) -> int:
        if text not in index:
            index[text] = len(strtab)
            strtab.extend(text.encode() + b"\0")
        return index[text]

    for value in (*needed, rpath, runpath, soname, *versions):
        if value is not None:
            s(value)
    for names in versions.values():
        for name in names:
            s(name)

    phnum = 2 + (interpreter is not None)
    offset = ehsize + phnum * phentsize
    interp_off = offset
    interp_blob = (interpreter.encode() + b"\0") if interpreter is not None else b""
    offset += len(interp_blob)
    strtab_off = offset
    offset += len(strtab)
    offset = (offset + 7) & ~7
    verneed_off = offset
    verneed = bytearray()
    libs = list(versions)
    for i, lib in enumerate(libs):
        names = versions[lib]
        next_off = 0 if i == len(libs) - 1 else 16 + 16 * len(names)
        verneed += struct.pack(e + "HHIII", 1, len(names), s(lib), 16, next_off)
        for j, name in enumerate(names):
            nxt = 0 if j == len(names) - 1 else 16
            verneed += struct.pack(e + "IHHII", 0, 0, 2 + j, s(name), nxt)
    offset += len(verneed)
    offset = (offset + 7) & ~7
    dyn_off = offset
    tags: list[tuple[int, int]] = [(_DT["NEEDED"], s(lib)) for lib in needed]
    if rpath is not None:
        tags.append((_DT["RPATH"], s(rpath)))
    if runpath is not None:
        tags.append((_DT["RUNPATH"], s(runpath)))
    if soname is not None:
        tags.append((_DT["SONAME"], s(soname)))
    tags += [(_DT["STRTAB"], base + strtab_off), (_DT["STRSZ"], len(strtab))]
    if versions:
        tags += [(_DT["VERNEED"], base + verneed_off), (_DT["VERNEEDNUM"], len(versions))]
    tags.append((_DT["NULL"], 0))
    dyn_fmt = e + ("qQ" if wide else "iI")
    dynamic = b"".join(struct.pack(dyn_fmt, tag, val) for tag, val in tags)
    total = dyn_off + len(dynamic)

    ident = b"\x7fELF" + bytes([1 if elf_class == 32 else 2, 1 if little_endian else 2, 1])
    ident += b"\0" * (16 - len(ident))
    header = ident + struct.pack(
        e + "HHI" + addr * 3 + "IHHHHHH",
        elf_type,
        machine,
        1,
        0,
        ehsize,
        0,
        0,
        ehsize,
        phentsize,
        phnum,
        0,
        0,
        0,
    )

    def phdr(kind: int, off: int, size: int) -> bytes:
        if wide:
            return struct.pack(e + "IIQQQQQQ", kind, 4, off, base + off, base + off, size, size, 8)
        return struct.pack(e + "IIIIIIII", kind, off, base + off, base + off, size, size, 4, 4)

    phdrs = phdr(_PT_LOAD, 0, total) + phdr(_PT_DYNAMIC, dyn_off, len(dynamic))
    if interpreter is not None:
        phdrs += phdr(_PT_INTERP, interp_off, len(interp_blob))
    out = bytearray(header + phdrs + interp_blob + strtab)
    out += b"\0" * (verneed_off - len(out)) + verneed
    out += b"\0" * (dyn_off - len(out)) + dynamic
    assert len(out) == total
    return bytes(out)


CPU_X86_64, CPU_ARM64, CPU_X86 = 0x01000007, 0x0100000C, 7


def make_macho(*cputypes: int, fat: bool = False) -> bytes:
    """A thin 64-bit little-endian Mach-O header (the usual on macOS) or a universal one."""
    if not fat:
        (cpu,) = cputypes
        return struct.pack("<IIIIIIII", 0xFEEDFACF, cpu, 0, 8, 0, 0, 0, 0) + b"\0" * 64
    head = struct.pack(">II", 0xCAFEBABE, len(cputypes))
    for i, cpu in enumerate(cputypes):
        head += struct.pack(">IIIII", cpu, 0, 4096 * (i + 1), 4096, 12)
    return head + b"\0" * 64


PE_AMD64, PE_I386, PE_ARM64 = 0x8664, 0x14C, 0xAA64


def make_pe(machine: int = PE_AMD64, *, dll: bool = True, e_lfanew: int = 0x80) -> bytes:
    dos = bytearray(b"MZ" + b"\0" * (e_lfanew - 2))
    struct.pack_into("<I", dos, 0x3C, e_lfanew)
    characteristics = 0x2022 if dll else 0x0022
    coff = struct.pack("<HHIIIHH", machine, 3, 0, 0, 0, 0xF0, characteristics)
    return bytes(dos) + b"PE\0\0" + coff + b"\0" * 64


# -- sniffing --------------------------------------------------------------------------------

SNIFF_ROWS = [
    ("elf", make_elf(), "elf"),
    ("elf-truncated-still-elf", b"\x7fELF\x02", "elf"),
    ("macho-thin-64-le", make_macho(CPU_ARM64), "macho"),
    ("macho-thin-64-be", struct.pack(">III", 0xFEEDFACF, CPU_X86_64, 0) + b"\0" * 32, "macho"),
    ("macho-thin-32-le", struct.pack("<III", 0xFEEDFACE, CPU_X86, 0) + b"\0" * 32, "macho"),
    ("macho-thin-32-be", struct.pack(">III", 0xFEEDFACE, 18, 0) + b"\0" * 32, "macho"),
    ("macho-fat", make_macho(CPU_X86_64, CPU_ARM64, fat=True), "macho"),
    ("java-class-8", bytes.fromhex("cafebabe00000034") + b"\0" * 64, None),
    ("java-class-21", bytes.fromhex("cafebabe00000041") + b"\0" * 64, None),
    ("fat-zero-slices", bytes.fromhex("cafebabe00000000") + b"\0" * 64, None),
    ("fat-slices-past-head", bytes.fromhex("cafebabe00000003") + b"\0" * 20, None),
    ("pe-dll", make_pe(), "pe"),
    ("pe-high-lfanew", make_pe(e_lfanew=0x400), "pe"),
    ("mz-without-pe", b"MZ" + b"\0" * 200, None),
    ("mz-text", b"MZ is a text file that starts with MZ\n" * 4, None),
    ("python", b"import os\n", None),
    ("empty", b"", None),
    ("pyc", b"\xcb\r\r\n" + b"\0" * 12, None),
]


@pytest.mark.parametrize(("name", "head", "kind"), SNIFF_ROWS, ids=[r[0] for r in SNIFF_ROWS])
def test_sniff_by_magic(name: str, head: bytes, kind: str | None) -> None:
    assert sniff(head) == kind


@pytest.mark.parametrize(
    ("head", "facts"),
    [
        (make_macho(CPU_ARM64), MachOFacts((CPU_ARM64,), universal=False)),
        (make_macho(CPU_X86_64), MachOFacts((CPU_X86_64,), universal=False)),
        (
            make_macho(CPU_X86_64, CPU_ARM64, fat=True),
            MachOFacts((CPU_X86_64, CPU_ARM64), universal=True),
        ),
    ],
)
def test_parse_macho(head: bytes, facts: MachOFacts) -> None:
    assert parse_macho(head) == facts


@pytest.mark.parametrize(
    ("head", "facts"),
    [
        (make_pe(PE_AMD64), PEFacts(PE_AMD64, dll=True)),
        (make_pe(PE_ARM64, dll=False), PEFacts(PE_ARM64, dll=False)),
        (make_pe(PE_I386), PEFacts(PE_I386, dll=True)),
    ],
)
def test_parse_pe(head: bytes, facts: PEFacts) -> None:
    assert parse_pe(head) == facts


# -- ELF -------------------------------------------------------------------------------------


@pytest.mark.parametrize("elf_class", [64, 32])
@pytest.mark.parametrize("little_endian", [True, False])
def test_read_elf_round_trip(elf_class: int, little_endian: bool) -> None:
    data = make_elf(
        machine=EM_AARCH64 if elf_class == 64 else EM_386,
        elf_class=elf_class,
        little_endian=little_endian,
        needed=["libfoo.so.1", "libstdc++.so.6", "libc.so.6"],
        rpath="$ORIGIN/../foo.libs:/opt/lib",
        runpath=None,
        soname="libbar.so.2",
        interpreter="/lib/ld-linux-aarch64.so.1",
        versions={
            "libstdc++.so.6": ["GLIBCXX_3.4.21", "CXXABI_1.3.9"],
            "libc.so.6": ["GLIBC_2.17", "GLIBC_2.28"],
        },
    )
    facts = read_elf(io.BytesIO(data))
    assert facts == ElfFacts(
        elf_class=elf_class,
        little_endian=little_endian,
        machine=EM_AARCH64 if elf_class == 64 else EM_386,
        elf_type="ET_DYN",
        interpreter="/lib/ld-linux-aarch64.so.1",
        needed=("libfoo.so.1", "libstdc++.so.6", "libc.so.6"),
        rpath=("$ORIGIN/../foo.libs", "/opt/lib"),
        runpath=(),
        soname="libbar.so.2",
        version_needs=(
            VersionNeed("libstdc++.so.6", ("GLIBCXX_3.4.21", "CXXABI_1.3.9")),
            VersionNeed("libc.so.6", ("GLIBC_2.17", "GLIBC_2.28")),
        ),
    )
    assert facts.loadable


def test_read_elf_object_file_is_not_loadable() -> None:
    facts = read_elf(io.BytesIO(make_elf(elf_type=ET_REL)))
    assert isinstance(facts, ElfFacts) and not facts.loadable and facts.needed == ()


def test_read_elf_without_dynamic_needs() -> None:
    facts = read_elf(io.BytesIO(make_elf(needed=[], versions={})))
    assert isinstance(facts, ElfFacts)
    assert facts.needed == () and facts.version_needs == ()


def _host_elf() -> str | None:
    for candidate in (os.path.realpath(sys.executable), shutil.which("ls") or ""):
        try:
            with open(candidate, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    return candidate
        except OSError:
            continue
    return None


@pytest.mark.skipif(_host_elf() is None, reason="the build host has no ELF binaries (macOS?)")
def test_read_elf_agrees_with_readelf_on_a_real_binary() -> None:
    path = _host_elf()
    assert path is not None
    with open(path, "rb") as f:
        facts = read_elf(f)
    assert isinstance(facts, ElfFacts) and facts.elf_class == 64
    readelf = shutil.which("readelf")
    if readelf is None:
        assert "libc.so.6" in facts.needed
        return
    out = subprocess.run([readelf, "-dW", path], capture_output=True, text=True).stdout
    needed = tuple(
        line.split("[", 1)[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line
    )
    assert facts.needed == needed


# -- corrupt input never raises and never hangs ------------------------------------------------

GOOD = make_elf(
    needed=["libz.so.1", "libc.so.6"],
    rpath="$ORIGIN",
    versions={"libc.so.6": ["GLIBC_2.17", "GLIBC_2.2.5"], "libz.so.1": ["ZLIB_1.2.9"]},
)


def test_every_truncation_is_corrupt_not_a_crash() -> None:
    for end in range(len(GOOD)):
        facts = read_elf(io.BytesIO(GOOD[:end]))
        assert isinstance(facts, CorruptElf), end
        assert facts.reason


def _patch(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def _dyn_offset(data: bytes) -> int:
    # second program header (PT_DYNAMIC): p_offset at 64 + 56 + 8
    return int(struct.unpack_from("<Q", data, 64 + 56 + 8)[0])


def _verneed_offset(data: bytes) -> int:
    facts_dyn = _dyn_offset(data)
    for i in range(64):
        tag, value = struct.unpack_from("<qQ", data, facts_dyn + 16 * i)
        if tag == _DT["VERNEED"]:
            return int(value) - 0x400000
    raise AssertionError("no DT_VERNEED")


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda d: _patch(d, 56, "<H", 0xFFFF), id="phnum-huge"),
        pytest.param(lambda d: _patch(d, 54, "<H", 8), id="phentsize-tiny"),
        pytest.param(lambda d: _patch(d, 32, "<Q", 1 << 40), id="phoff-past-eof"),
        pytest.param(lambda d: _patch(d, 64 + 56 + 32, "<Q", 1 << 40), id="dynamic-size-huge"),
        pytest.param(lambda d: _patch(d, 64 + 8, "<Q", 0), id="load-offset-shifted"),
        pytest.param(lambda d: _patch(d, 64 + 16, "<Q", 0), id="no-load-covers-strtab"),
        pytest.param(
            lambda d: _patch(d, _verneed_offset(d) + 12, "<I", 0), id="verneed-list-cut-short"
        ),
        pytest.param(lambda d: _patch(d, _verneed_offset(d) + 2, "<H", 0xFFFF), id="vn-cnt-huge"),
        pytest.param(lambda d: _patch(d, _verneed_offset(d) + 4, "<I", 1 << 30), id="vn-file-out"),
        pytest.param(lambda d: d[:4] + b"\x07" + d[5:], id="bad-class"),
        pytest.param(lambda d: d[:5] + b"\x07" + d[6:], id="bad-data"),
    ],
)
def test_malformed_headers_are_corrupt_quickly(mutate: object) -> None:
    assert callable(mutate)
    data = mutate(GOOD)
    start = time.perf_counter()
    facts = read_elf(io.BytesIO(data))
    assert time.perf_counter() - start < 2
    assert isinstance(facts, (CorruptElf, ElfFacts))


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255)), min_size=1, max_size=12
    ),
    cut=st.integers(0, len(GOOD)),
)
def test_random_damage_never_raises(edits: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(GOOD)
    for offset, value in edits:
        data[offset] = value
    data[:4] = b"\x7fELF"
    start = time.perf_counter()
    facts = read_elf(io.BytesIO(bytes(data[: max(cut, 4)])))
    assert time.perf_counter() - start < 2
    assert isinstance(facts, (ElfFacts, CorruptElf))


class _CountingStream(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def test_reads_only_headers_and_dynamic_tables() -> None:
    padding = 50_000_000
    data = make_elf(needed=["libc.so.6"])
    # a large .text between the tables and the end: the reader must never touch it
    big = data + b"\0" * padding
    stream = _CountingStream(big)
    facts = read_elf(stream)
    assert isinstance(facts, ElfFacts) and facts.needed == ("libc.so.6",)
    assert stream.bytes_read < 64 * 1024
