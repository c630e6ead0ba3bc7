"""Judging collected facts against a target (pure): ELF arch and symbol versions, libraries,
extension suffixes, wheel tags, layout, links, size -- each finding with its fix."""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from packaging.tags import Tag, parse_tag
from packaging.utils import NormalizedName, canonicalize_name

from ..errors import UsageError
from ..events import human_size
from ..target.runtimes import (
    DATACLASS_SLOTS,
    RUNTIMES,
    UNZIPPED_LIMIT_BYTES,
    Version2,
    unzipped_size_text,
)
from ..target.target import Target
from .bytecode_rules import bytecode_findings
from .data import (
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
from .elf import (
    CorruptElf,
    ElfFacts,
    MachOFacts,
    PEFacts,
)
from .link_rules import LINK_FIX, link_findings, unread_findings
from .model import (
    LAYER_PYTHON,
    NO_DISTRIBUTION,
    AuditReport,
    BundleFacts,
    DistFacts,
    FileFacts,
    FileProblem,
    Finding,
    Severity,
    TreeFacts,
    site_roots,
)

# -- evaluation (pure) -------------------------------------------------------------------------


@dataclass(frozen=True, **DATACLASS_SLOTS)
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
        findings += _tree_findings(tree, fixes, present, expected_tags)
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
    fixes: _Fixes,
    present: set[str],
    expected_tags: set[NormalizedName],
) -> list[Finding]:
    dists = {d.label: d for d in tree.dists}
    libs_dirs = _libs_dirs(tree)
    findings = link_findings(tree) + unread_findings(tree)
    for f in tree.files:
        owner = tree.owners.get(f.path)
        dist = dists.get(owner) if owner else None
        subject = _Subject(f, tree.display(f.path), dist, tree, fixes, present, libs_dirs)
        for severity, code, reason, fix in _file_issues(subject):
            findings.append(Finding(severity, owner, subject.shown, code, reason, fix))
    failing = {f.distribution for f in findings if f.severity == "error"}
    for dist in tree.dists:
        if dist.live and canonicalize_name(dist.label.split(" ", 1)[0]) not in expected_tags:
            finding = _wheel_tag_finding(dist, dist.label in failing, tree, fixes)
            findings += [finding] if finding is not None else []
    findings += _layout_findings(tree, fixes.target)
    findings += bytecode_findings(tree, fixes.target)
    return findings


_Issue = tuple[Severity, str, str, str]


@dataclass(frozen=True, **DATACLASS_SLOTS)
class _Subject:
    """One file under judgement and what every rule about it needs: its facts, the path the
    report shows, its distribution, its tree, the target's fix texts (and so the target), every
    path of the bundle and the ``*.libs`` folders (where its libraries are looked for)."""

    file: FileFacts
    shown: str
    dist: DistFacts | None
    tree: TreeFacts
    fixes: _Fixes
    present: set[str]
    libs_dirs: Mapping[str, tuple[str, ...]]

    @property
    def target(self) -> Target:
        return self.fixes.target

    @property
    def name(self) -> str:
        return posixpath.basename(self.file.path)

    @property
    def package(self) -> str:
        return self.dist.label.split(" ")[0] if self.dist else "the package"

    def issue(
        self, code: str, reason: str, fix: str | None = None, severity: Severity = "error"
    ) -> _Issue:
        """A finding about this file: ``reason`` follows its path; the fix defaults to
        rebuilding the bundle for the target."""
        return (
            severity,
            code,
            f"{self.shown} {reason}",
            self.fixes.rebuild if fix is None else fix,
        )


def _file_issues(s: _Subject) -> list[_Issue]:
    problem = s.file.problem
    if problem is not None:
        return [s.issue(problem.code, problem.reason, _problem_fix(problem), problem.severity)]
    if not s.file.live:
        return []
    binary = s.file.binary
    if isinstance(binary, CorruptElf):
        return [
            s.issue(
                "corrupt",
                f"starts like an ELF binary but cannot be read ({binary.reason}); "
                "the file is truncated or damaged",
                "reinstall the distribution (delete the bundle and any build cache, then "
                "rebuild); if it persists the wheel itself is broken: pin another release",
            )
        ]
    if isinstance(binary, (MachOFacts, PEFacts)):
        return _foreign_binary_issues(s, binary)
    issues: list[_Issue] = []
    musl = False
    if isinstance(binary, ElfFacts) and binary.loadable:
        foreign = _foreign_elf(s, binary)
        if foreign is not None:
            return [foreign]
        musl = _is_musl(binary)
        issues += _elf_issues(s, binary)
    suffix = _suffix_issue(s, musl)
    if suffix is not None:
        issues.insert(0, suffix)
    return issues


def _foreign_binary_issues(s: _Subject, binary: MachOFacts | PEFacts) -> list[_Issue]:
    """A macOS or Windows binary: an error where Python imports it, else a warning."""
    if isinstance(binary, MachOFacts):
        cpus = "+".join(MACHO_CPU_NAMES.get(c, hex(c)) for c in binary.cpu_types)
        what = f"a macOS (Mach-O {'universal ' if binary.universal else ''}{cpus}) binary"
        code = "macho"
    else:
        cpu = PE_MACHINE_NAMES.get(binary.machine, hex(binary.machine))
        what = f"a Windows (PE {cpu}{' DLL' if binary.dll else ''}) binary"
        code = "pe"
    host = s.issue(
        code, f"is {what}; it was installed for the build host, not for {s.target} Lambda"
    )
    importable = s.name.endswith((".so", ".pyd")) or _EXTENSION.search(s.name) is not None
    if importable or s.dist is None or not s.dist.pure:
        return [host]
    if code == "pe" and s.name.lower().endswith(".exe"):
        return []  # launchers shipped by pure packages (setuptools, pip, distlib)
    return [
        s.issue(
            code,
            f"is {what} inside a pure-Python distribution; Python never imports it, but "
            "anything that loads or runs it on Lambda fails",
            "ignore this if the function never loads it; otherwise use a Linux build for "
            f"{s.target}",
            "warning",
        )
    ]


#: The fix for each kind of file the collector could not judge (:class:`FileProblem` codes).
_PROBLEM_FIXES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "unsafe-path": (
            "rebuild the zip with paths relative to its root (no leading '/', no '..'); "
            "Lambda and the audit refuse to write outside the bundle"
        ),
        "unreadable": "make the file readable (permissions, broken symlink) and audit again",
        "special-file": (
            "remove it from the bundle folder: only regular files and folders can ship (CDK's "
            "zip of a folder takes regular files only)"
        ),
        "oversized": (
            "remove the file: alone it is larger than Lambda allows a function to unzip to; "
            "if the zip is not yours, treat it as hostile (a zip bomb)"
        ),
        "symlink": LINK_FIX,
    }
)


def _problem_fix(problem: FileProblem) -> str:
    return _PROBLEM_FIXES.get(problem.code, "rebuild the zip; this member is damaged or encrypted")


def _foreign_elf(s: _Subject, binary: ElfFacts) -> _Issue | None:
    target = s.target
    machine = ELF_MACHINE_NAMES.get(binary.machine, f"e_machine {binary.machine}")
    wanted = ELF_MACHINE_NAMES[ELF_MACHINE[target.arch]]
    if binary.elf_class != 64:
        return s.issue(
            "elf-class",
            f"is a {binary.elf_class}-bit ELF binary ({machine}); {target} Lambda runs "
            f"64-bit {wanted} code only",
        )
    if binary.machine != ELF_MACHINE[target.arch] or not binary.little_endian:
        order = "" if binary.little_endian else "big-endian "
        return s.issue(
            "elf-machine",
            f"is an {order}{machine} ELF binary; {target} Lambda runs {wanted} code "
            "only, so it was installed for another machine (the build host?)",
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


def _elf_issues(s: _Subject, binary: ElfFacts) -> list[_Issue]:
    """What a loadable ELF file needs that the target lacks: libc, symbol versions, libraries."""
    origin = posixpath.dirname(posixpath.join(s.tree.mount, s.file.path))
    early, late = _search_dirs(binary, origin, s.file.path, s.libs_dirs)
    via_rpath = {lib for lib in binary.needed if _found(lib, early, s.present)}
    if _is_musl(binary):
        issues = [_musl_issue(s, binary)]
    else:
        issues = _glibc_issues(s, binary)
        if "libstdc++.so.6" not in via_rpath:
            issues += _cxx_issues(s, binary)
    for lib in binary.needed:
        if lib in MUSL_LIBRARIES or lib in via_rpath:
            continue
        issue = _needed_issue(s, lib, late)
        if issue is not None:
            issues.append(issue)
    return issues


def _musl_issue(s: _Subject, binary: ElfFacts) -> _Issue:
    libc = next((lib for lib in binary.needed if lib in MUSL_LIBRARIES), binary.interpreter)
    return s.issue(
        "needed-lib",
        f"is linked against musl libc ({libc}), the C library of Alpine and musllinux wheels; "
        "Lambda runs glibc, so it cannot load",
    )


def _glibc_issues(s: _Subject, binary: ElfFacts) -> list[_Issue]:
    """The newest ``GLIBC_x.y`` version needed, if the target's OS has an older glibc."""
    os_spec = s.target.os
    glibc = [
        (Version2(int(m[1]), int(m[2])), v) for v in _versions(binary) if (m := _GLIBC.match(v))
    ]
    if not glibc:
        return []
    needed, name = max(glibc)
    if needed <= os_spec.glibc:
        return []
    return [
        s.issue(
            "glibc",
            f"needs {name}, {os_spec.title} has {os_spec.glibc} (the OS of "
            f"{s.target.runtime}); it was built for a newer Linux than the target",
            _glibc_fix(needed, s.package, s.target),
        )
    ]


def _cxx_issues(s: _Subject, binary: ElfFacts) -> list[_Issue]:
    """``GLIBCXX_3.4.x`` / ``CXXABI_1.3.x`` versions needed from the OS's libstdc++ beyond the
    target's."""
    os_spec = s.target.os
    cxx = _versions(binary, "libstdc++.so.6")
    issues: list[_Issue] = []
    for code, pattern, ceiling, prefix in (
        ("glibcxx", _GLIBCXX, os_spec.glibcxx, "GLIBCXX_3.4"),
        ("cxxabi", _CXXABI, os_spec.cxxabi, "CXXABI_1.3"),
    ):
        levels = [int(m[1] or 0) for v in cxx if (m := pattern.match(v))]
        if levels and max(levels) > ceiling:
            issues.append(
                s.issue(
                    code,
                    f"needs {prefix}.{max(levels)} from libstdc++.so.6, {os_spec.title} has up "
                    f"to {prefix}.{ceiling}; it was built with a newer C++ compiler than the "
                    "target's",
                    f"install a manylinux wheel of {s.package} built for the target "
                    f"({s.fixes.command}), or pin a release built with an older toolchain",
                )
            )
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


def _needed_issue(s: _Subject, lib: str, late: Sequence[str]) -> _Issue | None:
    """A ``DT_NEEDED`` library that is neither in the bundle nor provided by the target's OS."""
    os_spec = s.target.os
    if lib in BASE_LIBRARIES[os_spec.name]:
        return None
    unstable = UNSTABLE_LIBRARIES[os_spec.name].get(lib)
    if unstable is not None:
        return s.issue(
            "needed-lib",
            f"needs {lib} from the OS; {unstable}",
            f"use a wheel of {s.package} that vendors its own copy (auditwheel copies it into "
            "<package>.libs/ with a unique name)",
            "warning",
        )
    if _found(lib, late, s.present):
        return None
    absent = ABSENT_LIBRARIES[os_spec.name].get(lib)
    if absent is not None:
        return s.issue("needed-lib", f"needs {lib}; {lib} {absent.reason}", absent.fix)
    return s.issue(
        "needed-lib",
        f"needs {lib}, which is neither in the bundle (searched its RPATH/RUNPATH, its own "
        "folder, *.libs folders and the lib/ folders of the function and layers) nor a library "
        f"{os_spec.title} provides to {s.target.runtime}",
        f"bundle {lib} in the function's lib/ folder (or a layer's lib/), or install a "
        f"manylinux wheel of {s.package}, which vendors what it needs: lambda-wheels build "
        f"--runtime {s.target.runtime} --arch {s.target.lambda_arch}",
    )


_EXTENSION = re.compile(
    r"\.(?:cpython-(?P<ver>\d+)(?P<flags>[a-z]*)(?:-(?P<platform>[^.]+))?|(?P<pypy>pypy\d*-pp\d+[^.]*))\.(?:so|pyd)$"
)


def _suffix_issue(s: _Subject, musl: bool) -> _Issue | None:
    """Extension-module filenames CPython on the target will not import."""
    target = s.target
    if s.name.lower().endswith(".pyd"):
        return s.issue(
            "ext-suffix",
            "is named like a Windows extension module (.pyd); Python on Linux never imports it",
        )
    match = _EXTENSION.search(s.name)
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
    return s.issue(
        "ext-suffix", f"is an extension module built for {what}; {accepts}, so the import fails"
    )


#: The fix for a WHEEL file whose tags cannot be read.
_REINSTALL: Final = "reinstall it from a wheel built by a standard build backend"


def _wheel_tag_finding(
    dist: DistFacts, failing: bool, tree: TreeFacts, fixes: _Fixes
) -> Finding | None:
    """Whether a distribution's WHEEL tags promise it runs on the target (``failing``: its
    binaries have errors)."""
    if dist.tags is None:
        return None
    shown = tree.display(f"{dist.dist_info}/WHEEL")
    verdict = _tag_verdict(dist, shown, failing, fixes)
    if verdict is None:
        return None
    severity, reason, fix = verdict
    return Finding(severity, dist.label, shown, "wheel-tag", reason, fix)


def _tag_verdict(
    dist: DistFacts, shown: str, failing: bool, fixes: _Fixes
) -> tuple[Severity, str, str] | None:
    """``(severity, reason, fix)`` when the WHEEL tags do not promise the target, else ``None``."""
    target = fixes.target
    if not dist.tags:
        reason = (
            f"{shown} has no Tag lines, so nothing says which platform {dist.label} was built for"
        )
        return "warning", reason, _REINSTALL
    tags: list[Tag] = []
    for text in dist.tags:
        try:
            tags += parse_tag(text)
        except ValueError:
            return "warning", f"{shown} has an unreadable Tag line {text!r}", _REINSTALL
    try:
        if any(target.accepts(tag) for tag in tags):
            return None
    except UsageError:  # pragma: no cover - Tag objects never fail to parse
        return None
    listed = ", ".join(dict.fromkeys(str(t) for t in tags))
    best = next(target.platforms())
    local = f"linux_{target.arch}"
    if any(t.platform == local and target.accepts(Tag(t.interpreter, t.abi, best)) for t in tags):
        reason = (
            f"{dist.label} was built locally ({listed}), not as a manylinux wheel, so its tag "
            f"does not promise it runs on {target}"
        )
        if failing:
            return "error", reason + "; its binaries fail", fixes.rebuild
        return (
            "warning",
            reason + "; its binaries passed this audit",
            "fine if it was built in the Lambda build image for this runtime; otherwise "
            + fixes.rebuild,
        )
    reason = (
        f"{dist.label} was installed from a wheel tagged {listed}, which does not run on "
        f"{target} (that needs {target.abi} or abi3 with platform {best} or older, or a "
        "pure py3-none-any wheel)"
    )
    return "error", reason, fixes.rebuild


def _layout_findings(tree: TreeFacts, target: Target) -> list[Finding]:
    where = "the bundle" if tree.label is None else f"layer {tree.label}"

    def layout(reason: str, fix: str) -> Finding:
        return Finding("warning", None, tree.display("."), "layout", f"{where} {reason}", fix)

    top_dist_infos = [d for d in tree.dists if "/" not in d.dist_info]
    if tree.kind == "function":
        under_python = any(f.path.startswith("python/") for f in tree.files)
        if (
            under_python
            and not top_dist_infos
            and not any("/" not in f.path and f.path.endswith(".py") for f in tree.files)
        ):
            return [
                layout(
                    "keeps its files under python/, like a layer; a function's packages must "
                    "be at its root (/var/task) to be imported",
                    "audit it with --kind layer if it is a layer; otherwise install the "
                    "packages at the bundle root",
                )
            ]
        return []
    findings: list[Finding] = []
    if any(f.path.split("/", 1)[0].endswith(".dist-info") for f in tree.files):
        findings.append(
            layout(
                "has packages at its root; Lambda extracts layers to /opt and imports only from "
                "/opt/python and /opt/python/lib/python3.X/site-packages",
                "install the layer's packages under python/ (pip install --target python/ ...)",
            )
        )
    live_dists = [d for d in tree.dists if d.live]
    other = sorted(
        {
            m[0].rstrip("/")
            for d in tree.dists
            if not d.live and (m := LAYER_PYTHON.match(d.dist_info))
        }
    )
    if other and not live_dists:
        findings.append(
            layout(
                f"has packages only for other Python versions ({', '.join(other)}); "
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
            sizes[tree.owners.get(f.path, NO_DISTRIBUTION)] += f.size
    largest = sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    listing = ", ".join(f"{name} {human_size(size)}" for name, size in largest if size)
    what, verb = ("the function and its layers", "are") if layers else ("the bundle", "is")
    severity: Severity = "error" if total > UNZIPPED_LIMIT_BYTES else "warning"
    reason = unzipped_size_text(what, total, verb=verb)
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
