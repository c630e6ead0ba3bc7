"""The audit is safe to run on anything (issue 19, items 4-6): other people's zips and folders.

``lambda-wheels audit PATH`` reads a folder, a zip in place or a ``.whl``. Nothing in what it
reads may make it follow a link, read outside the audited root, hang, or use memory or time
in proportion to what a zip *claims* to hold:

* symbolic links (zip members whose mode says ``S_IFLNK``, or links in a folder) are findings:
  an error when the link leaves the bundle (an absolute target, a target that resolves outside
  the root after following the bundle's other links, or a loop), a warning otherwise (CDK's zip
  stores a copy of what a link points to; a zip made with ``zip -y`` holds the link itself).
  A zip member written under a path the zip also holds as a link is an error. Links are never
  followed: a linked ``.so`` is not parsed through the link, a linked folder is not listed;
* named pipes, sockets and devices are warnings and are never opened;
* a zip member is read with bounded memory; a member that alone declares more than Lambda's
  250 MiB is reported without being unzipped; the bytes one zip may make the audit unzip are
  capped (zip bombs).

Expected severities come from the rule above (the issue's wording), not from the code.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from lambda_wheels_cdk.core.audit import AuditReport, audit
from lambda_wheels_cdk.core.runtimes import UNZIPPED_LIMIT_BYTES
from lambda_wheels_cdk.core.target import Target
from tests.unit.test_elf import (
    CPU_ARM64,
    EM_AARCH64,
    EM_X86_64,
    _verneed_offset,
    make_elf,
    make_macho,
)

TARGET = Target.for_runtime("python3.12", "x86_64")
CLI = [sys.executable, "-m", "lambda_wheels_cdk", "audit"]
TARGET_ARGS = ["--runtime", "python3.12", "--arch", "x86_64"]

needs_symlinks = pytest.mark.skipif(
    os.name == "nt", reason="symbolic links need a privilege on Windows"
)
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"),
    reason="peak memory of a child is measured in KiB as Linux reports it",
)

# -- building hostile bundles ----------------------------------------------------------------------

#: (path, link target) for links, (path, bytes) for files; in zip order.
Entry = tuple[str, "str | bytes"]


def link_member(name: str) -> zipfile.ZipInfo:
    """A zip member that unzip tools create as a symbolic link (Info-ZIP's ``zip -y``)."""
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix: the high 16 bits of external_attr are st_mode
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def make_zip(path: Path, entries: Sequence[Entry]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, value in entries:
            if isinstance(value, str):
                z.writestr(link_member(name), value)
            else:
                z.writestr(name, value)
    return path


def make_folder(root: Path, entries: Sequence[Entry]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, value in entries:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(value, str):
            os.symlink(value, path)
        else:
            path.write_bytes(value)
    return root


def symlink_findings(report: AuditReport) -> dict[str, str]:
    """Path -> severity of every ``symlink`` finding."""
    found: dict[str, str] = {}
    for f in report.findings:
        if f.code == "symlink":
            assert f.path not in found, report.format_text()
            found[f.path] = f.severity
    return found


def run_cli(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *argv, *TARGET_ARGS], capture_output=True, text=True, timeout=timeout
    )


# -- item 4: links ----------------------------------------------------------------------------------

LINUX_ELF = make_elf(machine=EM_X86_64)

#: name -> (entries, expected severity of the ``symlink`` finding per path)
LINK_CASES: dict[str, tuple[list[Entry], dict[str, str]]] = {
    "absolute file (/etc/passwd)": (
        [("app.py", b""), ("passwd", "/etc/passwd")],
        {"passwd": "error"},
    ),
    "a device (/dev/zero)": ([("app.py", b""), ("pkg/zero", "/dev/zero")], {"pkg/zero": "error"}),
    "../../..": ([("pkg/up", "../../..")], {"pkg/up": "error"}),
    "../ out of the root": ([("pkg/x.py", b""), ("pkg/up", "../..")], {"pkg/up": "error"}),
    "a loop of two": ([("a", "b"), ("b", "a")], {"a": "error", "b": "error"}),
    "a link to itself": ([("pkg/self", "self")], {"pkg/self": "error"}),
    "an extension aimed at libc": (
        [("pkg/_mod.abi3.so", "/lib64/libc.so.6")],
        {"pkg/_mod.abi3.so": "error"},
    ),
    "out through another link": (
        [("a/x.py", b""), ("a/b", ".."), ("a/c", "b/..")],
        {"a/b": "warning", "a/c": "error"},
    ),
    "a file inside": (
        [("pkg/libx.so.1", LINUX_ELF), ("pkg/libx.so", "libx.so.1")],
        {"pkg/libx.so": "warning"},
    ),
    "a folder inside": (
        [("pkg/__init__.py", b""), ("alias", "pkg")],
        {"alias": "warning"},
    ),
    "a parent folder (inside)": ([("pkg/x.py", b""), ("pkg/root", "..")], {"pkg/root": "warning"}),
    "to nothing inside": (
        [("pkg/x.py", b""), ("pkg/gone.so", "missing.so")],
        {"pkg/gone.so": "warning"},
    ),
}


@pytest.mark.parametrize("case", list(LINK_CASES))
def test_zip_links_are_reported(tmp_path: Path, case: str) -> None:
    entries, expected = LINK_CASES[case]
    report = audit(make_zip(tmp_path / "bundle.zip", entries), TARGET)
    assert symlink_findings(report) == expected, report.format_text()


@needs_symlinks
@pytest.mark.parametrize("case", list(LINK_CASES))
def test_folder_links_are_reported(tmp_path: Path, case: str) -> None:
    entries, expected = LINK_CASES[case]
    report = audit(make_folder(tmp_path / "bundle", entries), TARGET)
    assert symlink_findings(report) == expected, report.format_text()


def test_cli_audit_of_a_zip_linking_to_etc_passwd_reports_it(tmp_path: Path) -> None:
    bundle = make_zip(tmp_path / "other.zip", [("app.py", b""), ("config", "/etc/passwd")])
    result = run_cli(str(bundle), "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert [(f["severity"], f["code"], f["path"]) for f in findings] == [
        ("error", "symlink", "config")
    ]
    assert "/etc/passwd" in findings[0]["reason"]
    assert "root:" not in result.stdout  # the target is named, never read


def test_a_zip_member_written_through_a_linked_folder_is_an_error(tmp_path: Path) -> None:
    bundle = make_zip(
        tmp_path / "slip.zip",
        [("app.py", b""), ("d", "/tmp"), ("d/x.py", b"print('written to /tmp')\n")],
    )
    report = audit(bundle, TARGET)
    assert symlink_findings(report) == {"d": "error", "d/x.py": "error"}, report.format_text()
    through = next(f for f in report.findings if f.path == "d/x.py")
    assert "/tmp" in through.reason


def test_a_zip_member_under_an_inside_link_is_still_an_error(tmp_path: Path) -> None:
    bundle = make_zip(
        tmp_path / "slip.zip",
        [("sub/a.py", b""), ("d", "sub"), ("d/b.py", b""), ("d/e/f.py", b"")],
    )
    report = audit(bundle, TARGET)
    assert symlink_findings(report) == {"d": "warning", "d/b.py": "error", "d/e/f.py": "error"}


def test_a_linked_extension_is_not_parsed_through_the_link(tmp_path: Path) -> None:
    """The link's target is a foreign ELF: parsing through the link would add elf-machine."""
    arm = make_elf(machine=EM_AARCH64)
    entries: list[Entry] = [("real/_x.abi3.so", arm), ("pkg/_x.abi3.so", "../real/_x.abi3.so")]
    for report in (
        audit(make_zip(tmp_path / "b.zip", entries), TARGET),
        *([audit(make_folder(tmp_path / "b", entries), TARGET)] if os.name != "nt" else []),
    ):
        assert sorted((f.code, f.path) for f in report.findings) == [
            ("elf-machine", "real/_x.abi3.so"),
            ("symlink", "pkg/_x.abi3.so"),
        ], report.format_text()


@needs_symlinks
def test_a_folder_audit_never_reads_outside_the_root(tmp_path: Path) -> None:
    """Links to an outside folder and an outside .so: the outside files are a Mach-O (a
    finding if read) and a named pipe (a hang if opened)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.so").write_bytes(make_macho(CPU_ARM64))
    entries: list[Entry] = [
        ("app.py", b""),
        ("d", str(outside)),
        ("rel", "../outside"),
        ("pkg/_x.abi3.so", str(outside / "evil.so")),
    ]
    if hasattr(os, "mkfifo"):
        os.mkfifo(outside / "pipe.so")
        entries.append(("pkg/_p.abi3.so", str(outside / "pipe.so")))
    root = make_folder(tmp_path / "bundle", entries)
    result = run_cli(str(root), "--json", timeout=20)
    data = json.loads(result.stdout)
    paths = {(f["code"], f["path"], f["severity"]) for f in data["findings"]}
    assert paths == {("symlink", name, "error") for name, _ in entries[1:]}, result.stdout
    assert data["files"] == len(entries)  # d/evil.so and d/pipe.so are not listed


# -- item 6: special files -----------------------------------------------------------------------


@needs_fifo
def test_a_named_pipe_in_a_folder_does_not_hang_the_audit(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "bundle", [("app.py", b"")])
    os.mkfifo(root / "fifo.so")
    start = time.monotonic()
    result = run_cli(str(root), "--json", timeout=20)
    assert time.monotonic() - start < 20
    assert result.returncode == 0, result.stdout + result.stderr  # a warning, not an error
    findings = json.loads(result.stdout)["findings"]
    assert [(f["severity"], f["code"], f["path"]) for f in findings] == [
        ("warning", "special-file", "fifo.so")
    ]
    assert "named pipe" in findings[0]["reason"]


@pytest.mark.skipif(
    os.name == "nt" or not hasattr(socket, "AF_UNIX"), reason="no Unix socket files here"
)
def test_a_socket_in_a_folder_is_reported_not_opened() -> None:
    # a short folder: socket paths are limited to ~100 bytes
    with tempfile.TemporaryDirectory(prefix="lw-") as short:
        root = make_folder(Path(short) / "b", [("app.py", b"")])
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            server.bind(str(root / "s.so"))
            report = audit(root, TARGET)
        finally:
            server.close()
    assert [(f.severity, f.code, f.path) for f in report.findings] == [
        ("warning", "special-file", "s.so")
    ]
    assert "socket" in report.findings[0].reason


@needs_fifo
@pytest.mark.parametrize("as_layer", [False, True])
def test_a_named_pipe_given_as_the_bundle_is_bad_input(tmp_path: Path, as_layer: bool) -> None:
    pipe = tmp_path / "bundle.zip"
    os.mkfifo(pipe)
    argv = [str(tmp_path / "ok"), "--layer", str(pipe)] if as_layer else [str(pipe)]
    (tmp_path / "ok").mkdir()
    result = run_cli(*argv, timeout=20)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "bundle.zip" in result.stderr and "named pipe" in result.stderr


def test_a_zip_member_marked_as_a_device_is_still_audited(tmp_path: Path) -> None:
    """A zip cannot hold a device, only bytes: mode bits must not hide them from the audit."""
    path = tmp_path / "b.zip"
    with zipfile.ZipFile(path, "w") as z:
        for name, kind in [("pkg/dev.so", stat.S_IFCHR), ("pkg/dir.so", stat.S_IFDIR)]:
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (kind | 0o666) << 16
            z.writestr(info, make_macho(CPU_ARM64))
    report = audit(path, TARGET)
    assert [(f.severity, f.code, f.path) for f in report.findings] == [
        ("error", "macho", "pkg/dev.so"),
        ("error", "macho", "pkg/dir.so"),
    ]


# -- item 5: bounded memory, zip bombs --------------------------------------------------------------


def zeros_member(z: zipfile.ZipFile, name: str, head: bytes, zeros: int, tail: bytes = b"") -> None:
    chunk = bytes(1 << 20)
    with z.open(name, "w", force_zip64=True) as f:
        f.write(head)
        left = zeros
        while left:
            f.write(chunk[: min(left, len(chunk))])
            left -= min(left, len(chunk))
        f.write(tail)


@pytest.fixture(scope="module")
def gib_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ~4.7 MB zip: an ELF header, then 1 GiB of zeros, as an extension module."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("app.py", b"")
        zeros_member(z, "pkg/_x.abi3.so", LINUX_ELF, 1 << 30)
    return path


#: Runs argv and prints its exit status, seconds and peak RSS (KiB, Linux) on stderr's last line.
#: A fresh, small parent: a child's ru_maxrss starts at its parent's peak when it was forked
#: (Linux keeps the old mm's high-water mark across exec), and pytest's can be large.
_MEASURE = (
    "import resource, subprocess, sys, time\n"
    "start = time.monotonic()\n"
    "rc = subprocess.run(sys.argv[2:], timeout=float(sys.argv[1])).returncode\n"
    "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(rc, time.monotonic() - start, usage.ru_maxrss, file=sys.stderr)\n"
)


def run_measured(argv: Sequence[str], timeout: float) -> tuple[int, str, float, int]:
    """(exit status, stdout, seconds, peak RSS in bytes) of a child process (Linux)."""
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(timeout), *argv],
        capture_output=True,
        text=True,
        timeout=timeout + 30,
    )
    rc, seconds, peak_kib = result.stderr.strip().splitlines()[-1].split()
    return int(rc), result.stdout, float(seconds), int(peak_kib) * 1024


@linux_only
def test_a_gib_of_zeros_behind_an_elf_header_stays_small(gib_bomb: Path) -> None:
    assert gib_bomb.stat().st_size < 8_000_000
    rc, out, seconds, peak = run_measured([*CLI, str(gib_bomb), *TARGET_ARGS], timeout=60)
    assert rc == 1, out
    assert "error [oversized] pkg/_x.abi3.so" in out
    assert peak < 500_000_000, f"peak RSS {peak / 1e6:.0f} MB"
    assert seconds < 30, f"{seconds:.1f} s"


def test_an_entry_over_the_limit_is_reported_without_unzipping(gib_bomb: Path) -> None:
    start = time.monotonic()
    report = audit(gib_bomb, TARGET)
    assert time.monotonic() - start < 10
    finding = next(f for f in report.findings if f.path == "pkg/_x.abi3.so")
    assert (finding.severity, finding.code) == ("error", "oversized")
    assert f"{(1 << 30) + len(LINUX_ELF):,}" in finding.reason
    assert "size" in {f.code for f in report.findings}  # and the bundle is over 250 MiB


def far_dynamic(gap: int) -> tuple[bytes, bytes]:
    """(head, tail) of an ELF whose dynamic segment sits ``gap`` zero bytes after the head,
    like a real library whose .dynamic lies after megabytes of code."""
    elf = make_elf(machine=EM_X86_64, needed=["libc.so.6", "libmissing.so.9"])
    phoff = struct.unpack_from("<Q", elf, 32)[0]
    dyn_ph = phoff + 56  # the second program header is PT_DYNAMIC
    dyn_off, dyn_size = (
        struct.unpack_from("<Q", elf, dyn_ph + 8)[0],
        struct.unpack_from("<Q", elf, dyn_ph + 32)[0],
    )
    dynamic = elf[dyn_off : dyn_off + dyn_size]
    head = bytearray(elf)
    struct.pack_into("<Q", head, dyn_ph + 8, len(elf) + gap)  # p_offset
    return bytes(head), dynamic


@linux_only
def test_an_elf_read_far_into_a_member_uses_bounded_memory(tmp_path: Path) -> None:
    gap = 200 << 20  # under the limit, so it is read: the dynamic segment 200 MiB in
    head, tail = far_dynamic(gap)
    path = tmp_path / "far.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        zeros_member(z, "pkg/_x.abi3.so", head, gap, tail)
    rc, out, seconds, peak = run_measured([*CLI, str(path), *TARGET_ARGS], timeout=60)
    # the dynamic segment was found and read: its missing library is the finding
    assert "libmissing.so.9" in out and rc == 1, out
    # measured: 61 MB (4 MiB kept, 16 MiB chunks while skipping); 234 MB reading it whole
    assert peak < 120_000_000, f"peak RSS {peak / 1e6:.0f} MB"
    assert seconds < 30, f"{seconds:.1f} s"


def back_and_forth_elf(size: int, libraries: int = 8) -> bytes:
    """An ELF file of ``size`` bytes whose version-needed names lie far apart, each before the
    last: a reader that can only go forward cheaply has to unzip the member again and again."""
    elf = bytearray(
        make_elf(versions={f"lib{i}.so.1": [f"V_{i}"] for i in range(libraries)}, needed=[])
    )
    verneed = _verneed_offset(bytes(elf))
    out = elf + bytes(size - len(elf))
    for i in range(libraries):
        entry = verneed + 32 * i  # a Verneed (16 bytes) and its one Vernaux (16 bytes)
        far = size - (i + 1) * (256 << 10)
        out[far : far + 16] = elf[entry + 16 : entry + 32]
        struct.pack_into("<I", out, entry + 8, far - entry)  # vn_aux
    return bytes(out)


def test_a_member_that_sends_the_reader_back_and_forth_is_capped(tmp_path: Path) -> None:
    size = 20 << 20
    data = back_and_forth_elf(size)
    folder = make_folder(tmp_path / "b", [("pkg/_x.abi3.so", data)])
    assert audit(folder, TARGET).findings == ()  # a sound file, and cheap to read on disk
    path = tmp_path / "b.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("pkg/_x.abi3.so", data)
    start = time.monotonic()
    report = audit(path, TARGET)
    assert time.monotonic() - start < 10
    finding = next(f for f in report.findings if f.path == "pkg/_x.abi3.so")
    assert (finding.severity, finding.code) == ("error", "corrupt"), report.format_text()
    assert f"{3 * size + (4 << 20):,} unzipped bytes" in finding.reason


def test_a_zip_bomb_of_many_members_is_capped(tmp_path: Path) -> None:
    """Members under the limit each, far over it together: what the audit unzips is capped,
    and the total declared size is reported from the central directory."""
    gap = 60 << 20
    head, tail = far_dynamic(gap)
    path = tmp_path / "many.zip"
    members = 24  # 24 x 60 MiB = 1.4 GiB to unzip in full
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        zeros_member(z, "pkg/_0.abi3.so", head, gap, tail)
        data = z.read("pkg/_0.abi3.so")
        for i in range(1, members):
            z.writestr(f"pkg/_{i}.abi3.so", data)
    assert path.stat().st_size < 20_000_000
    start = time.monotonic()
    report = audit(path, TARGET)
    assert time.monotonic() - start < 30
    codes = {f.code for f in report.findings}
    assert {"size", "zip-bomb"} <= codes, report.format_text()
    assert "corrupt" not in codes, report.format_text()  # every member is a sound ELF file
    unread = next(f for f in report.findings if f.code == "zip-bomb")
    needing = [f.path for f in report.findings if f.code == "needed-lib"]
    assert 0 < len(needing) < members  # inspected until the cap, then not
    assert f"{members - len(needing)} files were not inspected" in unread.reason
    assert report.total_bytes == members * len(data) > UNZIPPED_LIMIT_BYTES


@linux_only
def test_huge_record_and_wheel_files_are_read_with_caps(tmp_path: Path) -> None:
    """RECORD and WHEEL are read up to a cap, never whole."""
    path = tmp_path / "b.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("x-1.dist-info/METADATA", b"Metadata-Version: 2.1\nName: x\nVersion: 1\n")
        zeros_member(z, "x-1.dist-info/RECORD", b"x/__init__.py,,\n", 120 << 20)
        zeros_member(
            z, "x-1.dist-info/WHEEL", b"Wheel-Version: 1.0\nTag: py3-none-any\n\n", 120 << 20
        )
    rc, out, _, peak = run_measured([*CLI, str(path), *TARGET_ARGS, "--json"], timeout=60)
    assert rc == 0, out
    assert peak < 150_000_000, f"peak RSS {peak / 1e6:.0f} MB"  # measured: 72 MB
