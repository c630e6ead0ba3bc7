"""The audit's vocabulary: the report (:class:`Finding`, :class:`AuditReport`) and the facts that
:mod:`.collect` reads and :mod:`.rules` judges (:class:`FileFacts`, :class:`TreeFacts`, ...)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Union

from ..errors import AuditError
from ..events import counted, human_size
from ..target.runtimes import DATACLASS_SLOTS, UNZIPPED_LIMIT_BYTES
from ..target.target import Target
from .data import (
    FUNCTION_MOUNT,
    LAYER_MOUNT,
)
from .elf import (
    CorruptElf,
    ElfFacts,
    MachOFacts,
    PEFacts,
)

Severity = Literal["error", "warning"]
BundleKind = Literal["function", "layer"]
BinaryFacts = Union[ElfFacts, CorruptElf, MachOFacts, PEFacts]

KINDS: tuple[BundleKind, ...] = ("function", "layer")
NO_DISTRIBUTION = "(no distribution)"


# -- the report ----------------------------------------------------------------------------------


@dataclass(frozen=True, **DATACLASS_SLOTS)
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


@dataclass(frozen=True, **DATACLASS_SLOTS)
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
            lines += ["", f"{distribution or NO_DISTRIBUTION}: {', '.join(counts)}"]
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


@dataclass(frozen=True, **DATACLASS_SLOTS)
class FileProblem:
    """A file the audit could not or must not read."""

    code: Literal["unsafe-path", "unreadable", "corrupt", "special-file", "oversized", "symlink"]
    reason: str
    severity: Severity = "error"


@dataclass(frozen=True, **DATACLASS_SLOTS)
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


@dataclass(frozen=True, **DATACLASS_SLOTS)
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


@dataclass(frozen=True, **DATACLASS_SLOTS)
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


@dataclass(frozen=True, **DATACLASS_SLOTS)
class BundleFacts:
    """The audited root first, then its layers in order."""

    trees: tuple[TreeFacts, ...]


LAYER_PYTHON = re.compile(r"python/lib/python(\d+)\.(\d+)/")


def is_live(path: str, kind: BundleKind, python: tuple[int, int]) -> bool:
    """Whether a tree path is audited for ``python``: everything except a layer's
    ``python/lib/python3.Z/`` subtrees for other versions."""
    if kind == "function":
        return True
    match = LAYER_PYTHON.match(path)
    return match is None or (int(match[1]), int(match[2])) == python


def site_roots(kind: BundleKind, paths: Sequence[str]) -> tuple[str, ...]:
    """Folders of a tree where ``*.dist-info`` live (``""`` is the tree root)."""
    if kind == "function":
        return ("",)
    versions = sorted({m[0] for p in paths if (m := LAYER_PYTHON.match(p))})
    return ("python", *(f"{v}site-packages" for v in versions))
