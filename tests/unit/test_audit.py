"""The bundle audit: findings from synthesized trees (folders and zips), for every target.

Binaries come from the builders in test_elf.py; distributions get METADATA, WHEEL and RECORD
written the way installers write them.
"""

from __future__ import annotations

import json
import os
import sys
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from lambda_wheels_cdk.audit.data import ABSENT_LIBRARIES, BASE_LIBRARIES
from lambda_wheels_cdk.audit.elf import ElfFacts, VersionNeed
from lambda_wheels_cdk.audit.engine import audit, collect, evaluate
from lambda_wheels_cdk.audit.model import (
    AuditReport,
    BundleFacts,
    DistFacts,
    FileFacts,
    Finding,
    TreeFacts,
    is_live,
    site_roots,
)
from lambda_wheels_cdk.cli import main
from lambda_wheels_cdk.errors import AuditError, InputError, UsageError
from lambda_wheels_cdk.target.runtimes import OPERATING_SYSTEMS, UNZIPPED_LIMIT_BYTES
from lambda_wheels_cdk.target.target import Target, all_targets
from tests.unit.test_elf import (
    CPU_ARM64,
    CPU_X86_64,
    EM_386,
    EM_AARCH64,
    EM_X86_64,
    PE_AMD64,
    make_elf,
    make_macho,
    make_pe,
)

TARGETS = list(all_targets())
MACHINE = {"x86_64": EM_X86_64, "aarch64": EM_AARCH64}
OTHER_MACHINE = {"x86_64": EM_AARCH64, "aarch64": EM_X86_64}


def _id(target: Target) -> str:
    return str(target).replace("/", "-")


def ext(target: Target, module: str = "_speedups") -> str:
    """The extension-module filename CPython on the target imports."""
    major, minor = target.python
    return f"{module}.cpython-{major}{minor}-{target.arch}-linux-gnu.so"


def fitting_elf(target: Target, **kwargs: object) -> bytes:
    """An extension that fits the target exactly: its machine, its glibc, its libstdc++."""
    os_spec = target.os
    versions = {
        "libc.so.6": [f"GLIBC_{os_spec.glibc}", "GLIBC_2.2.5"],
        "libstdc++.so.6": [f"GLIBCXX_3.4.{os_spec.glibcxx}", f"CXXABI_1.3.{os_spec.cxxabi}"],
    }
    options: dict[str, object] = {
        "machine": MACHINE[target.arch],
        "needed": ["libstdc++.so.6", "libm.so.6", "libgcc_s.so.1", "libc.so.6"],
        "versions": versions,
    }
    options.update(kwargs)
    return make_elf(**options)  # type: ignore[arg-type]


def wheel_tag(target: Target) -> str:
    return f"{target.abi}-{target.abi}-manylinux_2_17_{target.arch}"


def dist(
    name: str,
    version: str,
    files: Mapping[str, bytes],
    tags: Sequence[str] | None = ("py3-none-any",),
    *,
    site: str = "",
) -> dict[str, bytes]:
    """Files of an installed distribution, with METADATA, WHEEL and RECORD."""
    prefix = f"{site}/" if site else ""
    info = f"{name.replace('-', '_')}-{version}.dist-info"
    out = {f"{prefix}{path}": data for path, data in files.items()}
    out[f"{prefix}{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nLong description\n"
    ).encode()
    if tags is not None:
        lines = "".join(f"Tag: {t}\n" for t in tags)
        out[f"{prefix}{info}/WHEEL"] = (
            f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\n{lines}\n"
        ).encode()
    record = [*files, f"{info}/METADATA", f"{info}/WHEEL", f"{info}/RECORD"]
    out[f"{prefix}{info}/RECORD"] = "".join(f"{p},,\n" for p in record).encode()
    return out


def write_tree(root: Path, files: Mapping[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def write_zip(path: Path, files: Mapping[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for rel, data in files.items():
            z.writestr(rel, data)
    return path


def codes(report: AuditReport, severity: str | None = None) -> list[tuple[str, str]]:
    return [(f.code, f.path) for f in report.findings if severity is None or f.severity == severity]


def only(report: AuditReport, code: str) -> Finding:
    found = [f for f in report.findings if f.code == code]
    assert len(found) == 1, report.format_text()
    return found[0]


# -- a clean bundle, every target ----------------------------------------------------------------


def clean_files(target: Target) -> dict[str, bytes]:
    return {
        "app.py": b"def handler(event, context):\n    return 1\n",
        **dist(
            "speedups",
            "1.0",
            {
                f"speedups/{ext(target)}": fitting_elf(
                    target,
                    needed=["libfast-1a2b3c.so.1", "libc.so.6"],
                    rpath="$ORIGIN/../speedups.libs",
                ),
                "speedups/__init__.py": b"",
                "speedups/_abi3.abi3.so": fitting_elf(target),
                "speedups.libs/libfast-1a2b3c.so.1": fitting_elf(target),
            },
            tags=[wheel_tag(target)],
        ),
        **dist("purelib", "2.0", {"purelib/__init__.py": b"x = 1\n"}),
        **dist(
            "abi3lib",
            "3.0",
            {"abi3lib/_x.abi3.so": fitting_elf(target)},
            [f"cp39-abi3-manylinux_2_17_{target.arch}"],
        ),
    }


@pytest.mark.parametrize("target", TARGETS, ids=_id)
def test_clean_bundle_has_no_findings(tmp_path: Path, target: Target, no_host_probes: None) -> None:
    report = audit(write_tree(tmp_path, clean_files(target)), target)
    assert report.findings == (), report.format_text()
    assert report.ok
    assert report.files == len(clean_files(target))
    assert report.distributions[0][0] == "speedups 1.0"
    assert report.format_text().startswith(f"audit {target}: 0 errors, 0 warnings in ")


@pytest.mark.parametrize("target", TARGETS, ids=_id)
def test_zip_and_folder_give_the_same_report(tmp_path: Path, target: Target) -> None:
    files = clean_files(target)
    files[f"speedups/{ext(target, 'bad')}"] = fitting_elf(
        target, machine=OTHER_MACHINE[target.arch]
    )
    folder = audit(write_tree(tmp_path / "tree", files), target)
    zipped = audit(write_zip(tmp_path / "bundle.zip", files), target)
    assert folder == zipped
    assert codes(zipped) == [("elf-machine", f"speedups/{ext(target, 'bad')}")]


# -- foreign binaries ----------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS, ids=_id)
def test_macos_extension_is_an_error_naming_the_file(tmp_path: Path, target: Target) -> None:
    major, minor = target.python
    name = f"pydantic_core/_pydantic_core.cpython-{major}{minor}-darwin.so"
    files = dist(
        "pydantic_core",
        "2.27.2",
        {name: make_macho(CPU_ARM64)},
        [f"{target.abi}-{target.abi}-macosx_11_0_arm64"],
    )
    report = audit(write_tree(tmp_path, files), target)
    macho = only(report, "macho")
    assert macho.severity == "error" and macho.path == name
    assert macho.distribution == "pydantic_core 2.27.2"
    assert macho.reason == (
        f"{name} is a macOS (Mach-O arm64) binary; it was installed for the build host, "
        f"not for {target} Lambda"
    )
    assert macho.fix.startswith(
        f"rebuild the bundle for the target: lambda-wheels build --runtime {target.runtime} "
        f"--arch {target.lambda_arch}"
    )
    assert f"--platform {next(target.platforms())}" in macho.fix
    assert only(report, "wheel-tag").severity == "error"
    assert "ext-suffix" not in [c for c, _ in codes(report)]  # the Mach-O finding says it all


@pytest.mark.parametrize(
    ("name", "data", "tags", "expected"),
    [
        (
            "pkg/_x.cpython-312-darwin.so",
            make_macho(CPU_X86_64, CPU_ARM64, fat=True),
            None,
            ("error", "macho", "Mach-O universal x86_64+arm64"),
        ),
        ("pkg/_x.pyd", make_pe(PE_AMD64), None, ("error", "pe", "Windows (PE x86_64 DLL)")),
        (
            "pkg/helper.dll",
            make_pe(PE_AMD64),
            [wheel_tag(Target("python3.12", "x86_64"))],
            ("error", "pe", "Windows"),
        ),
        ("pkg/helper.dll", make_pe(PE_AMD64), ["py3-none-any"], ("warning", "pe", "pure-Python")),
        (
            "pkg/libhelper.dylib",
            make_macho(CPU_ARM64),
            ["py3-none-any"],
            ("warning", "macho", "pure-Python"),
        ),
        ("pkg/cli-64.exe", make_pe(PE_AMD64, dll=False), ["py3-none-any"], None),
        ("pkg/Model.class", bytes.fromhex("cafebabe00000041") + b"\0" * 100, None, None),
        ("pkg/data.bin", b"MZ but not a PE file" * 10, None, None),
    ],
)
def test_foreign_binaries(
    tmp_path: Path,
    name: str,
    data: bytes,
    tags: list[str] | None,
    expected: tuple[str, str, str] | None,
) -> None:
    target = Target("python3.12", "x86_64")
    files = dist("pkg", "1.0", {name: data}, tags)
    report = audit(write_tree(tmp_path, files), target)
    found = [f for f in report.findings if f.path == name]
    if expected is None:
        assert found == []
        return
    severity, code, words = expected
    assert [(f.severity, f.code) for f in found] == [(severity, code)]
    assert words in found[0].reason


@pytest.mark.parametrize("target", TARGETS, ids=_id)
def test_other_machine_is_elf_machine_error(tmp_path: Path, target: Target) -> None:
    files = dist(
        "numpy",
        "2.2.6",
        {
            f"numpy/_core/{ext(target, '_multiarray_umath')}": fitting_elf(
                target, machine=OTHER_MACHINE[target.arch]
            ),
            "numpy.libs/libscipy_openblas64_-ff651d7f.so": fitting_elf(
                target, machine=OTHER_MACHINE[target.arch]
            ),
        },
        [wheel_tag(target)],
    )
    report = audit(write_tree(tmp_path, files), target)
    errors = [f for f in report.errors if f.code == "elf-machine"]
    assert len(errors) == 2
    other = "aarch64" if target.arch == "x86_64" else "x86_64"
    for f in errors:
        assert f.distribution == "numpy 2.2.6"
        assert f.reason.startswith(f"{f.path} is an {other} ELF binary; {target} Lambda runs ")
    assert len(report.findings) == 2  # nothing else is reported for a foreign-machine file


def test_32_bit_and_big_endian(tmp_path: Path) -> None:
    target = Target("python3.12", "x86_64")
    files = {
        "a/one.so": make_elf(elf_class=32, machine=EM_386),
        "a/two.so": make_elf(little_endian=False),
    }
    report = audit(write_tree(tmp_path, files), target)
    assert codes(report) == [("elf-class", "a/one.so"), ("elf-machine", "a/two.so")]
    assert "32-bit ELF binary (i386)" in report.findings[0].reason
    assert "big-endian x86_64" in report.findings[1].reason


def test_corrupt_elf_is_an_error_not_a_crash(tmp_path: Path) -> None:
    target = Target.for_runtime("python3.12", "arm64")
    good = fitting_elf(target)
    files = {"pkg/truncated.so": good[:100], "pkg/header-only.so": b"\x7fELF\x02\x01\x01"}
    report = audit(write_tree(tmp_path, files), target)
    assert sorted(codes(report)) == [
        ("corrupt", "pkg/header-only.so"),
        ("corrupt", "pkg/truncated.so"),
    ]
    assert all("truncated or damaged" in f.reason for f in report.findings)


# -- glibc, libstdc++ ----------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS, ids=_id)
def test_glibc_above_the_os_is_an_error(tmp_path: Path, target: Target) -> None:
    glibc = target.glibc
    newer = f"GLIBC_{glibc.major}.{glibc.minor + 1}"
    files = {
        "_rust.abi3.so": fitting_elf(target, versions={"libc.so.6": [newer, "GLIBC_2.17"]}),
        "_fine.abi3.so": fitting_elf(target),
    }
    report = audit(write_tree(tmp_path, files), target)
    f = only(report, "glibc")
    assert f.path == "_rust.abi3.so"
    assert f"needs {newer}, {target.os.title} has {glibc}" in f.reason
    assert f"manylinux_{glibc.major}_{glibc.minor}_{target.arch} or older" in f.fix
    if target.os.name == "al2":
        assert "or move the function to python3.12 (Amazon Linux 2023, glibc 2.34)" in f.fix
    else:
        assert "move the function" not in f.fix  # no runtime has a newer glibc


def test_glibc_message_matches_the_issue_wording(tmp_path: Path) -> None:
    target = Target("python3.11", "x86_64")
    files = {"crypto/_rust.abi3.so": fitting_elf(target, versions={"libc.so.6": ["GLIBC_2.34"]})}
    report = audit(write_tree(tmp_path, files), target)
    assert "needs GLIBC_2.34, Amazon Linux 2 has 2.26" in only(report, "glibc").reason


@pytest.mark.parametrize("target", TARGETS, ids=_id)
@pytest.mark.parametrize(
    ("code", "prefix", "field"),
    [
        ("glibcxx", "GLIBCXX_3.4", "glibcxx"),
        ("cxxabi", "CXXABI_1.3", "cxxabi"),
    ],
)
def test_libstdcxx_above_the_os_is_an_error(
    tmp_path: Path, target: Target, code: str, prefix: str, field: str
) -> None:
    ceiling = getattr(OPERATING_SYSTEMS[target.os.name], field)
    versions = {"libstdc++.so.6": [f"{prefix}.{ceiling + 1}"], "libc.so.6": ["GLIBC_2.17"]}
    files = {"a/_cpp.abi3.so": fitting_elf(target, versions=versions)}
    report = audit(write_tree(tmp_path, files), target)
    f = only(report, code)
    assert f"needs {prefix}.{ceiling + 1} from libstdc++.so.6" in f.reason
    assert f"has up to {prefix}.{ceiling}" in f.reason


def test_libstdcxx_bundled_through_rpath_is_not_checked_against_the_os(tmp_path: Path) -> None:
    target = Target("python3.11", "x86_64")
    versions = {"libstdc++.so.6": ["GLIBCXX_3.4.32"], "libc.so.6": ["GLIBC_2.17"]}
    files = {
        "pkg/_cpp.abi3.so": fitting_elf(target, versions=versions, rpath="$ORIGIN/../pkg.libs"),
        "pkg.libs/libstdc++.so.6": fitting_elf(target),
    }
    assert audit(write_tree(tmp_path, files), target).findings == ()
    # RUNPATH is searched after LD_LIBRARY_PATH, where the OS's libstdc++ wins
    files["pkg/_cpp.abi3.so"] = fitting_elf(
        target, versions=versions, runpath="$ORIGIN/../pkg.libs"
    )
    assert codes(audit(write_tree(tmp_path, files), target)) == [("glibcxx", "pkg/_cpp.abi3.so")]


# -- needed libraries ------------------------------------------------------------------------------


def _needing(target: Target, lib: str, **kwargs: object) -> bytes:
    return fitting_elf(target, needed=[lib, "libc.so.6"], **kwargs)


@pytest.mark.parametrize("target", TARGETS, ids=_id)
def test_needed_libraries_resolve_like_the_loader(tmp_path: Path, target: Target) -> None:
    files = {
        # DT_RPATH with $ORIGIN into an auditwheel .libs folder
        "a/_rpath.abi3.so": _needing(target, "liba-1.so", rpath="$ORIGIN/../a.libs"),
        "a.libs/liba-1.so": fitting_elf(target),
        # ${ORIGIN} spelling, DT_RUNPATH
        "b/_runpath.abi3.so": _needing(target, "libb.so.2", runpath="${ORIGIN}/lib"),
        "b/lib/libb.so.2": fitting_elf(target),
        # the function's lib/ is on LD_LIBRARY_PATH (/var/task/lib)
        "c/_ld_path.abi3.so": _needing(target, "libc-helper.so.3"),
        "lib/libc-helper.so.3": fitting_elf(target),
        # the same folder (packages preload their siblings)
        "d/_sibling.abi3.so": _needing(target, "libd.so"),
        "d/libd.so": fitting_elf(target),
        # any <pkg>.libs folder at the top
        "e/_libs.abi3.so": _needing(target, "libe-9f.so"),
        "e.libs/libe-9f.so": fitting_elf(target),
        # an absolute RPATH into the function
        "f/_abs.abi3.so": _needing(target, "libf.so", rpath="/var/task/vendor"),
        "vendor/libf.so": fitting_elf(target),
        # every base library of the OS
        "g/_base.abi3.so": fitting_elf(target, needed=sorted(BASE_LIBRARIES[target.os.name])),
    }
    report = audit(write_tree(tmp_path, files), target)
    assert report.findings == (), report.format_text()


@pytest.mark.parametrize("target", TARGETS, ids=_id)
def test_libraries_from_a_layer_lib_folder(tmp_path: Path, target: Target) -> None:
    function = {"x/_x.abi3.so": _needing(target, "libshared.so.1")}
    layer = {"lib/libshared.so.1": fitting_elf(target), "python/y.py": b""}
    root = write_tree(tmp_path / "fn", function)
    assert codes(audit(root, target)) == [("needed-lib", "x/_x.abi3.so")]
    report = audit(root, target, layers=[write_tree(tmp_path / "shared", layer)])
    assert report.findings == ()


@pytest.mark.parametrize("target", TARGETS, ids=_id)
def test_missing_library_is_an_error_with_next_steps(tmp_path: Path, target: Target) -> None:
    files = dist("pq", "1.0", {"pq/_pq.abi3.so": _needing(target, "libpq.so.5")}, None)
    report = audit(write_tree(tmp_path, files), target)
    f = only(report, "needed-lib")
    assert f.severity == "error" and f.distribution == "pq 1.0"
    assert "needs libpq.so.5, which is neither in the bundle" in f.reason
    assert target.os.title in f.reason
    assert "bundle libpq.so.5 in the function's lib/ folder" in f.fix


@pytest.mark.parametrize("target", TARGETS, ids=_id)
@pytest.mark.parametrize("lib", ["libGL.so.1", "libX11.so.6", "libcrypt.so.1", "libgfortran.so.5"])
def test_known_absent_libraries_are_errors(tmp_path: Path, target: Target, lib: str) -> None:
    report = audit(write_tree(tmp_path, {"cv2/cv2.abi3.so": _needing(target, lib)}), target)
    f = only(report, "needed-lib")
    note = ABSENT_LIBRARIES[target.os.name][lib]
    assert f.severity == "error" and f.reason.endswith(f"needs {lib}; {lib} {note.reason}")
    assert f.fix == note.fix
    # bundling it in lib/ fixes it
    files = {"cv2/cv2.abi3.so": _needing(target, lib), f"lib/{lib}": fitting_elf(target)}
    assert audit(write_tree(tmp_path / "fixed", files), target).findings == ()


OS_LIBRARY_ROWS = [
    # (runtime, lib, severity or None)
    ("python3.11", "libgomp.so.1", "error"),
    ("python3.11", "libglib-2.0.so.0", "error"),
    ("python3.12", "libglib-2.0.so.0", None),
    ("python3.11", "libnsl.so.1", None),
    ("python3.12", "libnsl.so.1", "error"),
    ("python3.11", "libffi.so.6", "warning"),
    ("python3.11", "libffi.so.8", "error"),
    ("python3.12", "libffi.so.8", "warning"),
    ("python3.12", "libffi.so.6", "error"),
    ("python3.12", "libssl.so.3", "warning"),
    ("python3.12", "libssl.so.10", "error"),
    ("python3.9", "libssl.so.10", "warning"),
    ("python3.13", "libz.so.1", None),
    ("python3.10", "libstdc++.so.6", None),
]


@pytest.mark.parametrize(("runtime", "lib", "severity"), OS_LIBRARY_ROWS)
def test_libraries_that_differ_between_the_oses(
    tmp_path: Path, runtime: str, lib: str, severity: str | None
) -> None:
    target = Target(runtime, "aarch64")
    report = audit(write_tree(tmp_path, {"m/_m.abi3.so": _needing(target, lib)}), target)
    assert [f.severity for f in report.findings] == ([severity] if severity else [])


@pytest.mark.parametrize("target", TARGETS, ids=_id)
def test_musl_binaries_are_errors(tmp_path: Path, target: Target) -> None:
    major, minor = target.python
    name = f"orjson/orjson.cpython-{major}{minor}-{target.arch}-linux-musl.so"
    files = dist(
        "orjson",
        "3.10.0",
        {name: make_elf(machine=MACHINE[target.arch], needed=["libc.so"], versions={})},
        [f"{target.abi}-{target.abi}-musllinux_1_2_{target.arch}"],
    )
    report = audit(write_tree(tmp_path, files), target)
    assert codes(report) == [("wheel-tag", "orjson-3.10.0.dist-info/WHEEL"), ("needed-lib", name)]
    assert "musl libc (libc.so)" in report.findings[1].reason


# -- extension filenames -------------------------------------------------------------------------

SUFFIX_ROWS = [
    # (target, filename, finding words or None)
    ("python3.12", "x86_64", "m.cpython-312-x86_64-linux-gnu.so", None),
    ("python3.12", "x86_64", "m.abi3.so", None),
    ("python3.12", "x86_64", "m.so", None),
    ("python3.12", "x86_64", "m.cpython-311-x86_64-linux-gnu.so", "CPython 3.11"),
    ("python3.12", "x86_64", "m.cpython-312-aarch64-linux-gnu.so", "aarch64-linux-gnu"),
    ("python3.12", "arm64", "m.cpython-312-x86_64-linux-gnu.so", "x86_64-linux-gnu"),
    ("python3.13", "arm64", "m.cpython-313t-aarch64-linux-gnu.so", "free-threaded CPython 3.13"),
    ("python3.12", "x86_64", "m.cpython-312-x86_64-linux-musl.so", "musl (Alpine)"),
    ("python3.9", "x86_64", "m.cpython-39-x86_64-linux-gnu.so", None),
    ("python3.10", "x86_64", "m.cpython-39-x86_64-linux-gnu.so", "CPython 3.9"),
    ("python3.10", "x86_64", "m.pypy310-pp73-x86_64-linux-gnu.so", "PyPy"),
    ("python3.12", "x86_64", "m.cp312-win_amd64.pyd", "Windows extension module"),
]


@pytest.mark.parametrize(("runtime", "arch", "name", "words"), SUFFIX_ROWS)
def test_extension_suffixes(
    tmp_path: Path, runtime: str, arch: str, name: str, words: str | None
) -> None:
    target = Target.for_runtime(runtime, arch)
    report = audit(write_tree(tmp_path, {f"pkg/{name}": fitting_elf(target)}), target)
    if words is None:
        assert report.findings == ()
        return
    f = only(report, "ext-suffix")
    assert f.severity == "error" and words in f.reason
    assert f.path == f"pkg/{name}"


def test_cpython_311_extension_in_a_312_tree(tmp_path: Path) -> None:
    target = Target("python3.12", "x86_64")
    name = "msgpack/_cmsgpack.cpython-311-x86_64-linux-gnu.so"
    files = dist(
        "msgpack",
        "1.1.0",
        {name: fitting_elf(target)},
        ["cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux2014_x86_64"],
    )
    report = audit(write_tree(tmp_path, files), target)
    assert codes(report) == [
        ("wheel-tag", "msgpack-1.1.0.dist-info/WHEEL"),
        ("ext-suffix", name),
    ]
    assert report.findings[1].reason == (
        f"{name} is an extension module built for CPython 3.11; python3.12 imports only "
        ".cpython-312-x86_64-linux-gnu.so, .abi3.so and plain .so, so the import fails"
    )


# -- WHEEL tags ----------------------------------------------------------------------------------

WHEEL_ROWS = [
    # (runtime, arch, tags, severity or None)
    ("python3.12", "arm64", ["cp312-cp312-manylinux_2_17_aarch64"], None),
    ("python3.12", "arm64", ["cp312-cp312-manylinux_2_34_aarch64"], None),
    ("python3.12", "arm64", ["cp312-cp312-manylinux_2_35_aarch64"], "error"),
    ("python3.11", "x86_64", ["cp39-abi3-manylinux_2_28_x86_64"], "error"),
    ("python3.11", "x86_64", ["cp39-abi3-manylinux_2_17_x86_64"], None),
    ("python3.11", "x86_64", ["py3-none-any"], None),
    ("python3.11", "x86_64", ["cp311-cp311-macosx_11_0_arm64"], "error"),
    ("python3.11", "x86_64", ["cp311-cp311-win_amd64"], "error"),
    ("python3.11", "x86_64", ["cp311-cp311-musllinux_1_2_x86_64"], "error"),
    ("python3.11", "x86_64", ["cp311-cp311-linux_x86_64"], "warning"),
    ("python3.11", "x86_64", ["cp312-cp312-linux_x86_64"], "error"),
    ("python3.11", "x86_64", ["cp311-cp311-linux_aarch64"], "error"),
    ("python3.11", "x86_64", [], "warning"),
    ("python3.11", "x86_64", ["not a tag"], "warning"),
]


@pytest.mark.parametrize(("runtime", "arch", "tags", "severity"), WHEEL_ROWS)
def test_wheel_tags(
    tmp_path: Path, runtime: str, arch: str, tags: list[str], severity: str | None
) -> None:
    target = Target.for_runtime(runtime, arch)
    files = dist("pkg", "1.0", {"pkg/__init__.py": b""}, tags)
    report = audit(write_tree(tmp_path, files), target)
    assert [(f.severity, f.code) for f in report.findings] == (
        [(severity, "wheel-tag")] if severity else []
    )
    if severity:
        assert report.findings[0].path == "pkg-1.0.dist-info/WHEEL"
        assert report.findings[0].distribution == "pkg 1.0"


def test_local_build_is_an_error_when_its_binaries_fail(tmp_path: Path) -> None:
    target = Target("python3.11", "x86_64")
    files = dist(
        "pkg",
        "1.0",
        {"pkg/_x.abi3.so": _needing(target, "libmissing.so.1")},
        ["cp311-cp311-linux_x86_64"],
    )
    report = audit(write_tree(tmp_path, files), target)
    assert sorted((f.code, f.severity) for f in report.findings) == [
        ("needed-lib", "error"),
        ("wheel-tag", "error"),
    ]


# -- layers --------------------------------------------------------------------------------------


def test_layer_paths_liveness() -> None:
    py312 = (3, 12)
    assert is_live("python/lib/python3.12/site-packages/x.so", "layer", py312)
    assert not is_live("python/lib/python3.11/site-packages/x.so", "layer", py312)
    assert is_live("python/lib/python3.11/site-packages/x.so", "function", py312)
    assert is_live("python/x.so", "layer", py312)
    assert is_live("lib/libx.so", "layer", py312)
    assert site_roots("layer", ["python/lib/python3.13/site-packages/a", "python/b"]) == (
        "python",
        "python/lib/python3.13/site-packages",
    )
    assert site_roots("function", ["a"]) == ("",)


@pytest.mark.parametrize("target", [t for t in TARGETS if t.python != (3, 14)], ids=_id)
def test_multi_runtime_layer_audits_only_the_target_subtree(tmp_path: Path, target: Target) -> None:
    files: dict[str, bytes] = {}
    for minor in (9, 10, 11, 12, 13):
        other = Target(f"python3.{minor}", target.arch)
        files.update(
            dist(
                "speedups",
                "1.0",
                {f"speedups/{ext(other)}": fitting_elf(other)},
                [wheel_tag(other)],
                site=f"python/lib/python3.{minor}/site-packages",
            )
        )
    layer = write_tree(tmp_path / "layer", files)
    report = audit(layer, target, kind="layer")
    assert report.findings == (), report.format_text()
    assert report.total_bytes == sum(len(d) for d in files.values())
    assert report.distributions == (("speedups 1.0", report.total_bytes),)
    # the subtree for the target is audited: a wrong file there is found
    major, minor = target.python
    bad = f"python/lib/python{major}.{minor}/site-packages/speedups/{ext(target, 'bad')}"
    files[bad] = fitting_elf(target, machine=OTHER_MACHINE[target.arch])
    write_tree(layer, files)
    assert codes(audit(layer, target, kind="layer")) == [("elf-machine", bad)]


def test_collect_reads_no_binary_facts_outside_the_target_subtree(tmp_path: Path) -> None:
    target = Target("python3.12", "x86_64")
    elf = fitting_elf(target)
    layer = write_tree(
        tmp_path,
        {
            "python/lib/python3.11/site-packages/a/_a.abi3.so": elf,
            "python/lib/python3.12/site-packages/a/_a.abi3.so": elf,
        },
    )
    (tree,) = collect(layer, python=(3, 12), kind="layer").trees
    dead, live = tree.files
    assert not dead.live and dead.binary is None and dead.size == len(elf)
    assert live.live and isinstance(live.binary, ElfFacts)


def test_layer_findings_are_prefixed_with_the_layer_label(tmp_path: Path) -> None:
    target = Target.for_runtime("python3.12", "arm64")
    fn = write_tree(tmp_path / "fn", {"app.py": b""})
    bad = dist(
        "numpy",
        "2.2.6",
        {"python/numpy/_x.abi3.so": fitting_elf(target, machine=EM_X86_64)},
        ["cp312-cp312-manylinux_2_17_x86_64"],
    )
    layer = write_zip(
        tmp_path / "deps.zip",
        {
            k.replace("numpy-", "python/numpy-", 1) if k.startswith("numpy-") else k: v
            for k, v in bad.items()
        },
    )
    report = audit(fn, target, layers=[layer])
    assert ("elf-machine", "layer[deps.zip]:python/numpy/_x.abi3.so") in codes(report)
    assert any(
        f.path.startswith("layer[deps.zip]:python/numpy-2.2.6.dist-info") for f in report.findings
    )


def test_duplicate_layer_names_get_distinct_labels(tmp_path: Path) -> None:
    target = Target.for_runtime("python3.12", "arm64")
    a = write_tree(tmp_path / "a" / "layer", {"python/x.abi3.so": b"\x7fELF"})
    b = write_tree(tmp_path / "b" / "layer", {"python/x.abi3.so": b"\x7fELF"})
    report = audit(write_tree(tmp_path / "fn", {"app.py": b""}), target, layers=[a, b])
    assert sorted(f.path for f in report.findings) == [
        "layer[layer#2]:python/x.abi3.so",
        "layer[layer]:python/x.abi3.so",
    ]


def test_more_than_five_layers_is_an_error(tmp_path: Path) -> None:
    target = Target.for_runtime("python3.12", "arm64")
    layers = [write_tree(tmp_path / f"l{i}", {"python/m.py": b""}) for i in range(6)]
    report = audit(write_tree(tmp_path / "fn", {"app.py": b""}), target, layers=layers)
    assert codes(report) == [("layers", ".")]


LAYOUT_ROWS = [
    (
        "function",
        {"python/pkg/__init__.py": b"", "python/pkg-1.0.dist-info/METADATA": b""},
        "like a layer",
    ),
    ("function", {"app.py": b"", "python/notes.txt": b""}, None),
    ("layer", dist("pkg", "1.0", {"pkg/__init__.py": b""}), "packages at its root"),
    ("layer", dist("pkg", "1.0", {"pkg/__init__.py": b""}, site="python"), None),
    (
        "layer",
        dist("pkg", "1.0", {"pkg/__init__.py": b""}, site="python/lib/python3.11/site-packages"),
        "only for other Python versions",
    ),
    ("layer", {"lib/libfoo.so.1": b"not elf"}, None),
]


@pytest.mark.parametrize(("kind", "files", "words"), LAYOUT_ROWS)
def test_layout_warnings(
    tmp_path: Path, kind: str, files: dict[str, bytes], words: str | None
) -> None:
    target = Target("python3.12", "x86_64")
    report = audit(write_tree(tmp_path, files), target, kind=kind)  # type: ignore[arg-type]
    layout = [f for f in report.findings if f.code == "layout"]
    assert [f.severity for f in layout] == (["warning"] if words else [])
    if words:
        assert words in layout[0].reason


# -- size ----------------------------------------------------------------------------------------


def _sized(*sizes: int) -> BundleFacts:
    files = [FileFacts(f"pkg{i}/big.bin", size) for i, size in enumerate(sizes)]
    owners = {f.path: f"pkg{i} 1.0" for i, f in enumerate(files)}
    dists = tuple(DistFacts(f"pkg{i} 1.0", f"pkg{i}-1.0.dist-info") for i in range(len(sizes)))
    return BundleFacts((TreeFacts("function", None, tuple(files), dists, owners),))


@pytest.mark.parametrize(
    ("sizes", "severity"),
    [
        ((1_000_000,), None),
        ((int(UNZIPPED_LIMIT_BYTES * 0.9),), None),
        ((int(UNZIPPED_LIMIT_BYTES * 0.9) + 1,), "warning"),
        ((UNZIPPED_LIMIT_BYTES,), "warning"),
        ((UNZIPPED_LIMIT_BYTES, 1), "error"),
    ],
)
def test_size_limit(sizes: tuple[int, ...], severity: str | None) -> None:
    report = evaluate(_sized(*sizes), Target("python3.12", "x86_64"))
    assert report.total_bytes == sum(sizes)
    assert [(f.severity, f.code) for f in report.findings] == (
        [(severity, "size")] if severity else []
    )


def test_size_findings_use_the_one_wording_of_the_limit() -> None:
    """The build, the synth-time check and the audit word Lambda's limit the same way."""
    target = Target("python3.12", "x86_64")
    over = only(evaluate(_sized(UNZIPPED_LIMIT_BYTES, 1), target), "size")
    assert over.reason.startswith(
        "the bundle is 250.0 MiB unzipped, over Lambda's 250 MiB limit (262,144,000 bytes); "
        "largest: pkg0 1.0 250.0 MiB"
    )
    near = only(evaluate(_sized(249_036_800), target), "size")  # 237.5 MiB: 95%
    assert near.severity == "warning"
    assert near.reason.startswith(
        "the bundle is 237.5 MiB unzipped, 95% of Lambda's 250 MiB limit (262,144,000 bytes)"
    )


def test_size_error_lists_the_ten_largest_distributions() -> None:
    sizes = [30_000_000 + i * 1_000_000 for i in range(12)]
    report = evaluate(_sized(*sizes), Target("python3.12", "x86_64"))
    f = only(report, "size")
    assert f.severity == "error" and f.distribution is None and f.path == "."
    assert "over Lambda's 250 MiB limit (262,144,000 bytes); largest: " in f.reason
    listed = f.reason.split("largest: ", 1)[1].split(", ")
    assert [item.split(" ")[0] for item in listed] == [f"pkg{i}" for i in range(11, 1, -1)]
    assert report.distributions[0] == ("pkg11 1.0", sizes[11])


def test_size_counts_function_and_layers(tmp_path: Path) -> None:
    target = Target("python3.12", "x86_64")
    fn = write_tree(tmp_path / "fn", {"app.py": b"x" * 1000})
    layer = write_zip(tmp_path / "l.zip", {"python/big.bin": b"\0" * 5000})
    report = audit(fn, target, layers=[layer])
    assert report.total_bytes == 6000 and report.files == 2


# -- zips ----------------------------------------------------------------------------------------


def test_zip_members_outside_the_bundle_are_errors_and_never_read(tmp_path: Path) -> None:
    target = Target("python3.12", "x86_64")
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("app.py", b"")
        z.writestr("../../etc/evil.so", make_macho(CPU_ARM64))
        z.writestr("/abs/evil.so", make_macho(CPU_ARM64))
        z.writestr("C:/windows/evil.so", make_macho(CPU_ARM64))
        z.writestr("pkg/..\\..\\evil.so", make_macho(CPU_ARM64))
    report = audit(path, target)
    assert [f.code for f in report.findings] == ["unsafe-path"] * 4
    assert not (tmp_path.parent / "etc").exists()
    assert all("points outside the bundle" in f.reason for f in report.findings)


def test_zip_directories_and_symlinks(tmp_path: Path) -> None:
    target = Target("python3.12", "x86_64")
    path = tmp_path / "b.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("pkg/", b"")
        link = zipfile.ZipInfo("pkg/libx.so")
        link.external_attr = 0o120777 << 16
        z.writestr(link, "libx.so.1")
        z.writestr("pkg/libx.so.1", fitting_elf(target))
    report = audit(path, target)
    # the link is listed, never read as an ELF file; inside the bundle it is a warning
    assert [(f.severity, f.code, f.path) for f in report.findings] == [
        ("warning", "symlink", "pkg/libx.so")
    ]
    assert report.files == 2
    assert "the file pkg/libx.so.1 in the bundle" in report.findings[0].reason


def test_damaged_zip_member_is_corrupt_not_a_crash(tmp_path: Path) -> None:
    target = Target("python3.12", "x86_64")
    path = write_zip(tmp_path / "b.zip", {"pkg/_x.abi3.so": fitting_elf(target) * 50})
    data = bytearray(path.read_bytes())
    start = 30 + len("pkg/_x.abi3.so") + 40  # inside the deflated data, past the ELF magic
    data[start : start + 64] = bytes(64)
    path.write_bytes(bytes(data))
    report = audit(path, target)
    assert codes(report) == [("corrupt", "pkg/_x.abi3.so")]
    assert "cannot be unzipped" in report.findings[0].reason


def test_not_a_folder_nor_zip_is_a_usage_error(tmp_path: Path) -> None:
    target = Target("python3.12", "x86_64")
    junk = tmp_path / "bundle.zip"
    junk.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="neither a folder nor a readable zip") as info:
        audit(junk, target)
    assert info.value.exit_code == 2
    with pytest.raises(InputError, match="does not exist"):
        audit(tmp_path / "missing", target)
    with pytest.raises(InputError, match="does not exist"):
        audit(tmp_path, target, layers=[tmp_path / "missing-layer.zip"])
    with pytest.raises(UsageError, match="list of paths"):
        audit(tmp_path, target, layers=str(tmp_path))
    with pytest.raises(UsageError, match="kind"):
        audit(tmp_path, target, kind="image")  # type: ignore[arg-type]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file_is_reported(tmp_path: Path) -> None:  # pragma: no cover - root here
    target = Target("python3.12", "x86_64")
    root = write_tree(tmp_path, {"secret.so": b"\x7fELF"})
    (root / "secret.so").chmod(0)
    assert codes(audit(root, target)) == [("unreadable", "secret.so")]


def test_symlinks_in_folders(tmp_path: Path) -> None:
    target = Target("python3.12", "x86_64")
    root = write_tree(tmp_path / "b", {"pkg/libx.so.1": fitting_elf(target)})
    os.symlink("libx.so.1", root / "pkg" / "libx.so")
    os.symlink(tmp_path / "b", root / "loop")  # a folder link: not followed
    report = audit(root, target)
    assert [(f.severity, f.code, f.path) for f in report.findings] == [
        ("error", "symlink", "loop"),  # absolute: it leaves the bundle (if only on Lambda)
        ("warning", "symlink", "pkg/libx.so"),
    ]
    assert report.files == 3


# -- distributions ---------------------------------------------------------------------------------


def test_files_belong_to_their_distribution(tmp_path: Path) -> None:
    target = Target("python3.12", "x86_64")
    files = dist(
        "Pillow", "11.0.0", {"PIL/_imaging.abi3.so": fitting_elf(target)}, [wheel_tag(target)]
    )
    files["PIL/__pycache__/Image.cpython-312.pyc"] = b"\0"  # not in RECORD: owned via PIL/
    files["stray.so"] = make_macho(CPU_ARM64)  # nobody's
    files["PIL/_evil.pyd"] = make_pe(PE_AMD64)
    report = audit(write_tree(tmp_path, files), target)
    groups = report.by_distribution()
    assert list(groups) == ["Pillow 11.0.0", None]
    assert [f.path for f in groups["Pillow 11.0.0"]] == ["PIL/_evil.pyd"]
    assert [f.path for f in groups[None]] == ["stray.so"]
    assert dict(report.distributions)["Pillow 11.0.0"] == sum(
        len(v) for k, v in files.items() if k != "stray.so"
    )


def test_distribution_name_from_folder_when_metadata_is_missing(tmp_path: Path) -> None:
    target = Target("python3.12", "x86_64")
    files = {"foo_bar-1.2.dist-info/RECORD": b"foo/x.so,,\n", "foo/x.so": make_macho(CPU_ARM64)}
    report = audit(write_tree(tmp_path, files), target)
    assert report.findings[0].distribution == "foo_bar 1.2"


# -- the report ----------------------------------------------------------------------------------


def _report(tmp_path: Path) -> AuditReport:
    target = Target.for_runtime("python3.12", "arm64")
    files = {
        **dist(
            "numpy",
            "2.2.6",
            {
                "numpy/a.cpython-312-aarch64-linux-gnu.so": fitting_elf(target, machine=EM_X86_64),
                "numpy/b.cpython-312-aarch64-linux-gnu.so": fitting_elf(target, machine=EM_X86_64),
            },
            ["cp312-cp312-manylinux_2_17_aarch64"],
        ),
        **dist(
            "cffi",
            "1.17.1",
            {"_cffi_backend.abi3.so": _needing(target, "libffi.so.8")},
            ["cp312-cp312-manylinux_2_17_aarch64"],
        ),
    }
    return audit(write_tree(tmp_path, files), target)


def test_format_text_groups_every_finding_per_distribution(tmp_path: Path) -> None:
    report = _report(tmp_path)
    text = report.format_text()
    lines = text.splitlines()
    assert (
        lines[0]
        == f"audit python3.12/arm64: 2 errors, 1 warning in 9 files ({lines[0].split('(')[1]}"
    )
    assert "cffi 1.17.1: 1 warning" in lines
    assert "numpy 2.2.6: 2 errors" in lines
    assert lines.index("cffi 1.17.1: 1 warning") < lines.index("numpy 2.2.6: 2 errors")
    assert "  error [elf-machine] numpy/a.cpython-312-aarch64-linux-gnu.so" in lines
    for f in report.findings:
        assert f"    why: {f.reason}" in lines
    # the fix once per distribution, after its files: numpy's two files share one
    numpy = lines[lines.index("numpy 2.2.6: 2 errors") :]
    (fix,) = {f.fix for f in report.findings if f.distribution == "numpy 2.2.6"}
    assert numpy[5] == f"  fix: {fix}" and text.count(fix) == 1, text


def test_a_fix_is_given_once_for_many_files_and_labelled_when_fixes_differ(
    tmp_path: Path,
) -> None:
    """numpy built for the wrong machine has dozens of binaries: one fix, not one per file."""
    target = Target.for_runtime("python3.9", "x86_64")
    wrong = fitting_elf(target, machine=OTHER_MACHINE[target.arch])
    binaries = {f"numpy/_m{i:02d}.cpython-39-x86_64-linux-gnu.so": wrong for i in range(66)}
    binaries["numpy/_gl.cpython-39-x86_64-linux-gnu.so"] = _needing(target, "libGL.so.1")
    files = dist("numpy", "2.3.0", binaries, ["cp39-cp39-manylinux_2_17_x86_64"])
    report = audit(write_tree(tmp_path, files), target)
    text = report.format_text()
    fixes = {f.fix: f.code for f in report.findings}
    assert len(report.findings) == 67 and len(fixes) == 2, text
    assert text.count("    why: ") == 67
    assert [line for line in text.splitlines() if line.startswith("  fix")] == [
        line for line in text.splitlines() if line.startswith("  fix (")
    ]
    assert text.count("\n  fix (") == 2
    for fix, code in fixes.items():
        assert text.count(fix) == 1 and f"  fix ({code}): {fix}" in text.splitlines(), text


def test_to_json_has_stable_keys(tmp_path: Path) -> None:
    report = _report(tmp_path)
    data = json.loads(json.dumps(report.to_json()))
    assert list(data) == [
        "target",
        "ok",
        "errors",
        "warnings",
        "files",
        "total_bytes",
        "limit_bytes",
        "distributions",
        "findings",
    ]
    assert data["target"] == {"runtime": "python3.12", "arch": "arm64", "wheel_arch": "aarch64"}
    assert data["ok"] is False and data["errors"] == 2 and data["warnings"] == 1
    assert list(data["findings"][0]) == [
        "severity",
        "code",
        "distribution",
        "path",
        "reason",
        "fix",
    ]
    assert data["limit_bytes"] == UNZIPPED_LIMIT_BYTES


def test_raise_for_errors(tmp_path: Path) -> None:
    report = _report(tmp_path)
    with pytest.raises(AuditError) as info:
        report.raise_for_errors()
    assert info.value.report is report
    assert str(info.value) == report.format_text()
    assert info.value.exit_code == 1
    clean = evaluate(_sized(10), Target("python3.12", "x86_64"))
    clean.raise_for_errors()
    assert clean.ok and clean.errors == () and clean.warnings == ()


def test_evaluate_is_pure_over_hand_made_facts(no_host_probes: None) -> None:
    target = Target("python3.11", "x86_64")
    elf = ElfFacts(
        64,
        True,
        62,
        "ET_DYN",
        needed=("libc.so.6",),
        version_needs=(VersionNeed("libc.so.6", ("GLIBC_2.28",)),),
    )
    facts = BundleFacts((TreeFacts("function", None, (FileFacts("x.abi3.so", 10, binary=elf),)),))
    report = evaluate(facts, target)
    assert codes(report) == [("glibc", "x.abi3.so")]
    assert evaluate(facts, target) == report


# -- CLI -----------------------------------------------------------------------------------------


def test_cli_audit_zip_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = Target.for_runtime("python3.12", "arm64")
    files = dist(
        "numpy",
        "2.2.6",
        {"numpy/_x.abi3.so": fitting_elf(target, machine=EM_X86_64)},
        ["cp312-cp312-manylinux_2_17_x86_64"],
    )
    bundle = write_zip(tmp_path / "some.zip", files)
    rc = main(["audit", str(bundle), "--runtime", "python3.12", "--arch", "arm64", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert {(f["code"], f["path"]) for f in data["findings"]} == {
        ("elf-machine", "numpy/_x.abi3.so"),
        ("wheel-tag", "numpy-2.2.6.dist-info/WHEEL"),
    }


def test_cli_audit_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = Target("python3.12", "x86_64")
    clean = write_tree(tmp_path / "clean", clean_files(target))
    assert main(["audit", str(clean), "--runtime", "python3.12", "--arch", "x86_64"]) == 0
    assert capsys.readouterr().out.startswith("audit python3.12/x86_64: 0 errors, 0 warnings")
    warn = write_tree(tmp_path / "warn", {"m/_m.abi3.so": _needing(target, "libssl.so.3")})
    assert main(["audit", str(warn), "--runtime", "python3.12", "--arch", "x86_64"]) == 0
    assert "1 warning" in capsys.readouterr().out
    assert (
        main(["audit", str(tmp_path / "nope"), "--runtime", "python3.12", "--arch", "x86_64"]) == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("lambda-wheels audit: error: ") and "does not exist" in err
    layer = write_tree(tmp_path / "layer", {"python/x.py": b""})
    argv = [
        "audit",
        str(clean),
        "--runtime",
        "python3.12",
        "--arch",
        "x86_64",
        "--layer",
        str(layer),
    ]
    assert main(argv) == 0
    capsys.readouterr()
    argv = ["audit", str(layer), "--runtime", "python3.12", "--arch", "x86_64", "--kind", "layer"]
    assert main(argv) == 0
    assert main(["audit", str(clean), "--runtime", "nodejs20.x", "--arch", "x86_64"]) == 2
