"""Facts the bundle audit checks against, as data.

Tables only, one source comment per row, confidence in brackets as in LAMBDA-FACTS.md:
**V** verified from the named source, **I** inferred, **U** unverified. The glibc / GLIBCXX /
CXXABI ceilings live with the OS rows in :mod:`.runtimes` (``OPERATING_SYSTEMS``); this module
holds what the audit needs beyond them: which shared libraries each Lambda OS provides, the
machine and CPU numbers of the binary formats, and the extension-module filename triplets.

A library an extension needs (``DT_NEEDED``) and the bundle does not carry is judged here:

* :data:`BASE_LIBRARIES` -- on the OS for every Python runtime: fine.
* :data:`UNSTABLE_LIBRARIES` -- on the OS, but differs between Amazon Linux 2 and 2023: warning.
* :data:`ABSENT_LIBRARIES` -- known not to be there: error, with the reason in the row.
* :data:`MUSL_LIBRARIES` -- musl libc: never runs (Lambda is glibc): error.
* anything else -- not in the bundle and not a library Lambda provides: error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from ..target.runtimes import DATACLASS_SLOTS, OsName, WheelArch

# -- shared libraries ------------------------------------------------------------------------

#: Libraries every Lambda OS provides. Source: a listing of the AL2 Lambda filesystem (V);
#: AL2023 is the same minus libnsl.so.1 (V: a separate package there, not installed).
_GLIBC_AND_GCC: Final = frozenset(
    {
        "libc.so.6",  # glibc (V)
        "libm.so.6",  # glibc (V)
        "libmvec.so.1",  # glibc vector math (V)
        "libdl.so.2",  # glibc (V)
        "librt.so.1",  # glibc (V)
        "libpthread.so.0",  # glibc (V)
        "libutil.so.1",  # glibc (V)
        "libanl.so.1",  # glibc (V)
        "libresolv.so.2",  # glibc (V)
        "ld-linux-x86-64.so.2",  # glibc dynamic loader, x86_64 (V)
        "ld-linux-aarch64.so.1",  # glibc dynamic loader, aarch64 (V)
        "libgcc_s.so.1",  # GCC runtime (V)
        "libstdc++.so.6",  # GCC C++ runtime; version ceilings in runtimes.OPERATING_SYSTEMS (V/I)
        "libz.so.1",  # zlib (V on AL2; I on AL2023: needed by packages in the image)
    }
)

BASE_LIBRARIES: Final[Mapping[OsName, frozenset[str]]] = MappingProxyType(
    {
        "al2": _GLIBC_AND_GCC
        | {
            "libnsl.so.1",  # glibc NIS, still in AL2's glibc package (V)
        },
        "al2023": _GLIBC_AND_GCC
        | {
            # glib2 is installed in the python3.12 image (V) -- but not on AL2, see below.
            "libglib-2.0.so.0",
            "libgobject-2.0.so.0",
            "libgthread-2.0.so.0",
            "libgio-2.0.so.0",
            "libgmodule-2.0.so.0",
        },
    }
)

_DIFFERS: Final = (
    "differs between Amazon Linux 2 and Amazon Linux 2023, so a binary that links the OS copy "
    "breaks when the runtime moves"
)

#: Present on the OS, but a wheel must not rely on them: their sonames or ABIs differ between
#: the Lambda OSes (V: a python3.11 image briefly rebuilt on AL2023 broke exactly on
#: libffi.so.6). Severity: warning. Soname -> what differs.
#: Libraries both OSes ship in a version of their own (soname unchanged, behaviour may differ).
_DIFFERS_ON_BOTH: Final[Mapping[str, str]] = {
    "libncursesw.so.6": f"ncurses {_DIFFERS}",  # V (list), soname I
    "libtinfo.so.6": f"ncurses {_DIFFERS}",  # V (list), soname I
    "libkrb5.so.3": f"krb5 {_DIFFERS}",  # V (list), soname I
    "libgssapi_krb5.so.2": f"krb5 {_DIFFERS}",  # V (list), soname I
    "libk5crypto.so.3": f"krb5 {_DIFFERS}",  # V (list), soname I
    "libcom_err.so.2": f"krb5 {_DIFFERS}",  # V (list), soname I
    "libbz2.so.1": f"bzip2 {_DIFFERS}",  # V (list), soname I
    "libcurl.so.4": f"curl {_DIFFERS}; one report says the zip runtime lacks it",  # V/U
}
UNSTABLE_LIBRARIES: Final[Mapping[OsName, Mapping[str, str]]] = MappingProxyType(
    {
        "al2": MappingProxyType(
            {
                "libffi.so.6": f"libffi {_DIFFERS} (AL2023 has libffi.so.8)",  # V
                "libssl.so.10": f"OpenSSL 1.0.2k {_DIFFERS} (AL2023 has libssl.so.3)",  # V
                "libcrypto.so.10": f"OpenSSL 1.0.2k {_DIFFERS} (AL2023 has libcrypto.so.3)",  # V
                "libpcre.so.1": f"pcre {_DIFFERS}",  # V (list), soname I
                **_DIFFERS_ON_BOTH,
            }
        ),
        "al2023": MappingProxyType(
            {
                "libffi.so.8": f"libffi {_DIFFERS} (AL2 has libffi.so.6)",  # V
                "libssl.so.3": f"OpenSSL 3 {_DIFFERS} (AL2 has libssl.so.10)",  # V
                "libcrypto.so.3": f"OpenSSL 3 {_DIFFERS} (AL2 has libcrypto.so.10)",  # V
                "libpcre2-8.so.0": f"pcre {_DIFFERS}",  # V (list), soname I
                **_DIFFERS_ON_BOTH,
            }
        ),
    }
)


@dataclass(frozen=True, **DATACLASS_SLOTS)
class LibraryNote:
    """Why a shared library is a problem on a Lambda OS, and what to do about it."""

    #: Completes a sentence whose subject is the soname: "libGL.so.1 <reason>".
    reason: str
    fix: str


_BUNDLE_IT: Final = (
    "use a wheel of the package that vendors it (auditwheel copies such libraries into "
    "<package>.libs/), or bundle the library in the function's or a layer's lib/ folder"
)
_GL: Final = LibraryNote(
    "is part of OpenGL/X11, which Lambda does not have (manylinux policies allow it, so a "
    "manylinux-compliant wheel can still fail here)",
    "use a headless build of the package (e.g. opencv-python-headless instead of "
    "opencv-python), or bundle the library and everything it needs in lib/",
)
_GLIB_AL2: Final = LibraryNote(
    "is glib2, which the Amazon Linux 2 runtimes (python3.9-3.11) do not have; python3.12+ "
    "(Amazon Linux 2023) do",
    _BUNDLE_IT,
)
_FORTRAN: Final = LibraryNote("is a Fortran/BLAS runtime Lambda does not have", _BUNDLE_IT)
_LIBCRYPT: Final = LibraryNote(
    "(libxcrypt) is not installed on Lambda",
    "use a newer release of the package that does not link it, or bundle libcrypt.so.1 in lib/",
)

_ABSENT_COMMON: Final[Mapping[str, LibraryNote]] = {
    "libGL.so.1": _GL,  # V: non-headless opencv fails on Lambda
    "libGLX.so.0": _GL,  # I: libglvnd, comes with libGL
    "libEGL.so.1": _GL,  # I: libglvnd
    "libX11.so.6": _GL,  # V
    "libXext.so.6": _GL,  # V
    "libXrender.so.1": _GL,  # V
    "libSM.so.6": _GL,  # V
    "libICE.so.6": _GL,  # V
    "libxcb.so.1": _GL,  # I: X11 client library
    "libgfortran.so.3": _FORTRAN,  # I
    "libgfortran.so.4": _FORTRAN,  # I
    "libgfortran.so.5": _FORTRAN,  # I
    "libquadmath.so.0": _FORTRAN,  # I
    "libblas.so.3": _FORTRAN,  # I
    "liblapack.so.3": _FORTRAN,  # I
    "libopenblas.so.0": _FORTRAN,  # I
    "libcrypt.so.1": _LIBCRYPT,  # V: absent on the AL2 base and on AL2023
    "libatomic.so.1": LibraryNote("(GCC atomics) is not on Lambda", _BUNDLE_IT),  # I
}

#: Libraries wheels often need that Lambda does NOT have. Severity: error.
ABSENT_LIBRARIES: Final[Mapping[OsName, Mapping[str, LibraryNote]]] = MappingProxyType(
    {
        "al2": MappingProxyType(
            {
                **_ABSENT_COMMON,
                "libglib-2.0.so.0": _GLIB_AL2,  # V
                "libgobject-2.0.so.0": _GLIB_AL2,  # V
                "libgthread-2.0.so.0": _GLIB_AL2,  # V
                "libgio-2.0.so.0": _GLIB_AL2,  # V
                "libgmodule-2.0.so.0": _GLIB_AL2,  # V
                "libgomp.so.1": LibraryNote(  # V
                    "(GNU OpenMP) is not on the Amazon Linux 2 runtimes", _BUNDLE_IT
                ),
                "libexpat.so.1": LibraryNote(  # V
                    "is not in the Amazon Linux 2 Lambda base", _BUNDLE_IT
                ),
                "libffi.so.8": LibraryNote(  # V
                    "is libffi from Amazon Linux 2023; Amazon Linux 2 has libffi.so.6", _BUNDLE_IT
                ),
                "libssl.so.3": LibraryNote(  # V
                    "is OpenSSL 3; Amazon Linux 2 has OpenSSL 1.0.2 (libssl.so.10)", _BUNDLE_IT
                ),
                "libcrypto.so.3": LibraryNote(  # V
                    "is OpenSSL 3; Amazon Linux 2 has OpenSSL 1.0.2 (libcrypto.so.10)",
                    _BUNDLE_IT,
                ),
            }
        ),
        "al2023": MappingProxyType(
            {
                **_ABSENT_COMMON,
                "libgomp.so.1": LibraryNote(  # U: V for AL2, unverified for AL2023
                    "(GNU OpenMP) is not known to be on the Amazon Linux 2023 runtimes",
                    _BUNDLE_IT,
                ),
                "libnsl.so.1": LibraryNote(  # V/I: a separate package on AL2023, not installed
                    "(glibc NIS) is not installed on Amazon Linux 2023", _BUNDLE_IT
                ),
                "libffi.so.6": LibraryNote(  # V
                    "is libffi from Amazon Linux 2; Amazon Linux 2023 has libffi.so.8", _BUNDLE_IT
                ),
                "libssl.so.10": LibraryNote(  # V
                    "is OpenSSL 1.0.2 from Amazon Linux 2; Amazon Linux 2023 has OpenSSL 3 "
                    "(libssl.so.3)",
                    _BUNDLE_IT,
                ),
                "libcrypto.so.10": LibraryNote(  # V
                    "is OpenSSL 1.0.2 from Amazon Linux 2; Amazon Linux 2023 has OpenSSL 3 "
                    "(libcrypto.so.3)",
                    _BUNDLE_IT,
                ),
            }
        ),
    }
)

#: musl libc's loader and libc (musllinux wheels, Alpine builds). Lambda is glibc (V).
MUSL_LIBRARIES: Final = frozenset({"libc.so", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"})
MUSL_INTERPRETER_PREFIX: Final = "/lib/ld-musl-"

#: The loader's search path in every Lambda Python runtime (V: the base images' Dockerfiles).
#: The audit maps the function to /var/task and layers to /opt.
LAMBDA_LD_LIBRARY_PATH: Final[tuple[str, ...]] = (
    "/var/lang/lib",
    "/lib64",
    "/usr/lib64",
    "/var/runtime",
    "/var/runtime/lib",
    "/var/task",
    "/var/task/lib",
    "/opt/lib",
)
FUNCTION_MOUNT: Final = "/var/task"  # Lambda docs: the function's code (V)
LAYER_MOUNT: Final = "/opt"  # Lambda docs: layers are extracted to /opt (V)

#: Most layers a function may use (AWS Lambda quotas page) (V).
MAX_LAYERS: Final = 5

#: Fraction of :data:`.runtimes.UNZIPPED_LIMIT_BYTES` above which the audit warns.
SIZE_WARNING_FRACTION: Final = 0.9

# -- binary formats --------------------------------------------------------------------------

#: ELF e_machine -> the name people know (System V gABI / glibc elf.h). (V)
ELF_MACHINE_NAMES: Final[Mapping[int, str]] = MappingProxyType(
    {
        3: "i386",  # EM_386
        8: "mips",  # EM_MIPS
        20: "ppc",  # EM_PPC
        21: "ppc64",  # EM_PPC64
        22: "s390x",  # EM_S390
        40: "arm (32-bit)",  # EM_ARM
        62: "x86_64",  # EM_X86_64
        183: "aarch64",  # EM_AARCH64
        243: "riscv64",  # EM_RISCV
        258: "loongarch64",  # EM_LOONGARCH
    }
)

#: Wheel architecture -> the ELF e_machine its binaries carry (glibc elf.h: EM_X86_64 = 62,
#: EM_AARCH64 = 183). Lambda runs 64-bit little-endian code only (V).
ELF_MACHINE: Final[Mapping[WheelArch, int]] = MappingProxyType({"x86_64": 62, "aarch64": 183})

#: Mach-O cputype -> name (Apple's <mach/machine.h>: CPU_ARCH_ABI64 = 0x01000000). (V)
MACHO_CPU_NAMES: Final[Mapping[int, str]] = MappingProxyType(
    {
        7: "i386",  # CPU_TYPE_X86
        0x01000007: "x86_64",  # CPU_TYPE_X86_64
        12: "arm",  # CPU_TYPE_ARM
        0x0100000C: "arm64",  # CPU_TYPE_ARM64
        0x0200000C: "arm64_32",  # CPU_TYPE_ARM64_32
        18: "ppc",  # CPU_TYPE_POWERPC
        0x01000012: "ppc64",  # CPU_TYPE_POWERPC64
    }
)

#: PE/COFF Machine -> name (Microsoft "PE Format", IMAGE_FILE_MACHINE_*). (V)
PE_MACHINE_NAMES: Final[Mapping[int, str]] = MappingProxyType(
    {
        0x014C: "x86",  # IMAGE_FILE_MACHINE_I386 (also .NET AnyCPU assemblies)
        0x8664: "x86_64",  # IMAGE_FILE_MACHINE_AMD64
        0xAA64: "arm64",  # IMAGE_FILE_MACHINE_ARM64
        0x01C4: "arm",  # IMAGE_FILE_MACHINE_ARMNT
    }
)

#: Wheel architecture -> CPython's PLATFORM_TRIPLET on Linux, the middle of extension suffixes
#: like ``.cpython-312-x86_64-linux-gnu.so`` (CPython configure.ac, PLATFORM_TRIPLET). (V)
EXTENSION_TRIPLET: Final[Mapping[WheelArch, str]] = MappingProxyType(
    {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu"}
)
