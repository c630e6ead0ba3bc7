"""Which releases of a project fit a target, and why newer ones were not installed.

Pure functions of an index's file list (:class:`~.pages.IndexFile`) and a
:class:`~.target.Target`. Whether a wheel fits is always :meth:`Target.accepts`; the tag
parsing below only *explains* a rejection (which glibc a wheel needs, which Python it is for).

Used for the bundle manifest and for the "silent downgrade" warning::

    numpy 2.5.5 is newer but has no wheel for python3.11/x86_64: its Linux wheels need
    manylinux_2_27+ (Amazon Linux 2 has glibc 2.26); installed 2.2.6, the newest release with
    a fitting wheel
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from ..errors import UsageError
from ..target.runtimes import DATACLASS_SLOTS, LEGACY_MANYLINUX, Glibc
from ..target.target import Target
from .pages import IndexFile, parse_filename

#: Why a release newer than the installed one was not installed.
SkipKind = Literal[
    "yanked",  # every file of the release is yanked (PEP 592)
    "requires-python",  # Requires-Python excludes the target's interpreter
    "sdist-only",  # no wheel at all
    "glibc",  # Linux wheels for the arch exist, but need a newer glibc than the target's OS
    "python",  # wheels exist, none for this interpreter / ABI
    "platform",  # wheels exist for this interpreter, none for this OS / architecture
    "not-selected",  # a fitting wheel exists; the resolver chose an older one (pin, bound)
]

_MANYLINUX: Final = re.compile(r"manylinux_(\d+)_(\d+)_(\w+)")
_MUSLLINUX: Final = re.compile(r"musllinux_(\d+)_(\d+)_(\w+)")


@dataclass(frozen=True, **DATACLASS_SLOTS)
class SkippedRelease:
    """A release newer than the installed one, and why it was not installed.

    ``reason`` reads after the release: "numpy 2.5.5 *has no wheel for python3.11/x86_64: ...*".
    """

    version: str
    kind: SkipKind
    reason: str
    #: For ``kind == "glibc"``: the oldest glibc its Linux wheels for the arch need.
    needs_glibc: str | None = None


@dataclass(frozen=True, **DATACLASS_SLOTS)
class ReleaseExplanation:
    """Why ``installed`` (and not a newer release) of ``name`` went into a bundle."""

    name: str
    installed: str
    target: str
    newest: str | None
    newest_fitting: str | None
    skipped: tuple[SkippedRelease, ...]

    @property
    def held_back(self) -> bool:
        """Whether a newer release than the installed one exists on the index."""
        return bool(self.skipped)

    @property
    def message(self) -> str | None:
        """One sentence for the "silent downgrade" warning; ``None`` when nothing is newer."""
        if not self.skipped:
            return None
        newest = self.skipped[0]
        text = f"{self.name} {newest.version} is newer but {newest.reason}"
        if newest.kind in _NOT_FOR_US:
            # The newest release is out for a reason nobody can change here; name the newest
            # one that was out for a reason about wheels (the one worth knowing about).
            telling = next((s for s in self.skipped if s.kind not in _NOT_FOR_US), None)
            if telling is not None:
                text += f"; {self.name} {telling.version} {telling.reason}"
        if self.newest_fitting == self.installed:
            text += f"; installed {self.installed}, the newest release with a fitting wheel"
        elif self.newest_fitting is not None:
            text += (
                f"; installed {self.installed} although {self.newest_fitting} has a fitting "
                "wheel (a pin, a constraint or another requirement held it back)"
            )
        else:
            text += f"; installed {self.installed}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record for the bundle manifest (the target is the manifest's own)."""
        data = dataclasses.asdict(self)
        del data["target"]
        return {**data, "skipped": list(data["skipped"]), "message": self.message}


_NOT_FOR_US: Final[frozenset[SkipKind]] = frozenset({"yanked", "requires-python"})


# -- fitting -------------------------------------------------------------------------------------


def python_fits(requires_python: str | None, target: Target) -> bool:
    """Whether a ``Requires-Python`` specifier admits the target's interpreter (``3.11``).

    An unparsable specifier is treated as admitting it (installers ignore such metadata).
    """
    return not requires_python or _python_fits(requires_python, target.python_version)


@functools.lru_cache(maxsize=4096)
def _python_fits(requires_python: str, python_version: str) -> bool:
    try:
        spec = SpecifierSet(requires_python)
    except InvalidSpecifier:
        return True
    return spec.contains(Version(python_version), prereleases=True)


def fitting_wheels(files: Iterable[IndexFile], target: Target) -> list[IndexFile]:
    """The non-yanked wheels among ``files`` that ``target`` accepts and whose
    ``Requires-Python`` admits it, best tag first within a release."""
    fits: list[tuple[int, IndexFile]] = []
    for file in files:
        if file.yanked or not file.is_wheel:
            continue
        rank = _rank(file.filename, target)
        if rank is not None and python_fits(file.requires_python, target):
            fits.append((rank, file))
    fits.sort(key=lambda item: item[0])
    return [file for _, file in fits]


def wheel_versions_fitting(files: Iterable[IndexFile], target: Target) -> list[Version]:
    """Versions with at least one fitting, non-yanked wheel (see :func:`fitting_wheels`),
    newest first. Pre-releases are included; filter them with ``Version.is_prerelease``."""
    versions = {file.version for file in fitting_wheels(files, target)}
    return sorted((v for v in versions if v is not None), reverse=True)


def newest_release(files: Iterable[IndexFile], *, prereleases: bool = False) -> Version | None:
    """The newest version with any non-yanked file (wheel or sdist).

    Pre-releases count only with ``prereleases=True`` or when nothing else exists (as pip and uv
    decide for an unpinned requirement).
    """
    versions = {f.version for f in files if not f.yanked and f.version is not None}
    finals = [v for v in versions if v is not None and not v.is_prerelease]
    pool = list(versions) if prereleases or not finals else finals
    return max((v for v in pool if v is not None), default=None)


# -- explaining ----------------------------------------------------------------------------------


def explain_release(
    name: str, installed: str | Version, files: Sequence[IndexFile], target: Target
) -> ReleaseExplanation:
    """Explain why ``installed`` was installed rather than a newer release.

    Args:
        name: the distribution name (as the user knows it).
        installed: the installed version.
        files: every file of the project on the configured indexes (any project's files are
            ignored, so a find-links listing may be passed as is).
        target: the Lambda target the bundle was built for.

    Raises:
        UsageError: ``installed`` is not a valid version.
    """
    try:
        current = installed if isinstance(installed, Version) else Version(str(installed))
    except InvalidVersion:
        raise UsageError(f"{installed!r} is not a valid version of {name}") from None
    project = canonicalize_name(name)
    own = [f for f in files if f.project == project]
    by_version: dict[Version, list[IndexFile]] = {}
    for file in own:
        version = file.version
        if version is not None:
            by_version.setdefault(version, []).append(file)
    allow_pre = current.is_prerelease
    newer = sorted(
        (v for v in by_version if v > current and (allow_pre or not v.is_prerelease)),
        reverse=True,
    )
    skipped = tuple(explain_version(v, by_version[v], target) for v in newer)
    fitting = [v for v in wheel_versions_fitting(own, target) if allow_pre or not v.is_prerelease]
    newest = newest_release(own, prereleases=allow_pre)
    return ReleaseExplanation(
        name=name,
        installed=str(current),
        target=str(target),
        newest=str(newest) if newest is not None else None,
        newest_fitting=str(fitting[0]) if fitting else None,
        skipped=skipped,
    )


def explain_version(version: Version, files: Sequence[IndexFile], target: Target) -> SkippedRelease:
    """Why one release (its ``files``) would or would not be installed for ``target``.

    ``kind == "not-selected"`` means it has a fitting wheel.
    """
    text = str(version)
    live = [f for f in files if not f.yanked]
    if not live:
        reasons = sorted({f.yanked_reason for f in files if f.yanked_reason})
        detail = f" ({'; '.join(reasons)})" if reasons else ""
        return SkippedRelease(text, "yanked", f"is yanked{detail}")
    admitted = [f for f in live if python_fits(f.requires_python, target)]
    if not admitted:
        specs = sorted({f.requires_python or "" for f in live} - {""})
        return SkippedRelease(
            text,
            "requires-python",
            f"requires Python {' / '.join(specs)} ({target.runtime} is Python "
            f"{target.python_version})",
        )
    wheels = [f for f in admitted if f.is_wheel]
    if not wheels:
        return SkippedRelease(text, "sdist-only", f"has no wheel for {target}: it is sdist-only")
    if any(_rank(f.filename, target) is not None for f in wheels):
        return SkippedRelease(
            text,
            "not-selected",
            f"has a wheel for {target} that the resolver did not select",
        )
    return _explain_wheels(text, wheels, target)


def _explain_wheels(version: str, wheels: Sequence[IndexFile], target: Target) -> SkippedRelease:
    """Every wheel was rejected by ``target.accepts``: say why in the user's terms."""
    fitting_platform = next(target.platforms())
    python_ok: list[Tag] = []
    interpreters: set[str] = set()
    for wheel in wheels:
        for tag in _tags(wheel.filename):
            interpreters.add(tag.interpreter)
            if target.accepts(Tag(tag.interpreter, tag.abi, fitting_platform)):
                python_ok.append(tag)
    head = f"has no wheel for {target}"
    if not python_ok:
        shown = ", ".join(sorted(interpreters)) or "other interpreters"
        return SkippedRelease(version, "python", f"{head}: its wheels are for {shown} only")
    glibcs: list[Glibc] = []
    ours_other: set[str] = set()
    elsewhere: set[str] = set()
    for tag in python_ok:
        glibc = _manylinux_glibc(tag.platform, target.arch)
        if glibc is not None:
            glibcs.append(glibc)
        elif tag.platform.endswith("_" + target.arch) and (
            _MUSLLINUX.fullmatch(tag.platform) or tag.platform.startswith("linux_")
        ):
            ours_other.add(tag.platform)
        else:
            elsewhere.add(_platform_family(tag.platform))
    if glibcs:
        need = min(glibcs)
        return SkippedRelease(
            version,
            "glibc",
            f"{head}: its Linux wheels need manylinux_{need.major}_{need.minor}+ "
            f"({target.os.title} has glibc {target.glibc})",
            needs_glibc=str(need),
        )
    if ours_other:
        kinds = ", ".join(sorted(ours_other))
        return SkippedRelease(
            version,
            "platform",
            f"{head}: only {kinds} wheels (musl or unaudited host builds; Lambda needs manylinux)",
        )
    shown = ", ".join(sorted(elsewhere)) or "other platforms"
    return SkippedRelease(
        version, "platform", f"{head}: no manylinux {target.arch} wheel (wheels for {shown})"
    )


@functools.lru_cache(maxsize=64)
def _platform_names(target: Target) -> frozenset[str]:
    return frozenset({*target.platforms(), "any"})


def wheel_fits(filename: str, target: Target) -> bool:
    """``target.accepts(filename)`` for a wheel file name, ``False`` for an invalid one.

    A quick test first rejects wheels none of whose platform tags is one of the target's own
    platforms (most of a big project's files: other OSes, architectures, glibcs) without
    parsing them; the answer is always :meth:`Target.accepts`'s.
    """
    return _rank(filename, target) is not None


@functools.lru_cache(maxsize=1 << 16)  # the view filters a page, the report reads it again
def _rank(filename: str, target: Target) -> int | None:
    platforms = filename[:-4].rsplit("-", 1)[-1].lower().split(".")
    if not _platform_names(target).intersection(platforms):
        return None
    try:
        return target.best_rank(filename)
    except UsageError:
        return None


def _tags(filename: str) -> frozenset[Tag]:
    try:
        return parse_wheel_filename(filename)[3]
    except (InvalidWheelFilename, InvalidVersion):
        return frozenset()


def _manylinux_glibc(platform: str, arch: str) -> Glibc | None:
    """The glibc a manylinux platform tag for ``arch`` needs (legacy aliases included)."""
    match = _MANYLINUX.fullmatch(platform)
    if match:
        return Glibc(int(match[1]), int(match[2])) if match[3] == arch else None
    for glibc, alias in LEGACY_MANYLINUX.items():
        if platform == f"{alias}_{arch}":
            return glibc
    return None


def _platform_family(platform: str) -> str:
    for prefix, family in (
        ("macosx", "macOS"),
        ("win", "Windows"),
        ("manylinux", "Linux on other architectures"),
        ("musllinux", "musl Linux on other architectures"),
        ("linux", "Linux on other architectures"),
        ("ios", "iOS"),
        ("android", "Android"),
    ):
        if platform.startswith(prefix):
            return family
    return platform


__all__ = [
    "ReleaseExplanation",
    "SkipKind",
    "SkippedRelease",
    "explain_release",
    "explain_version",
    "fitting_wheels",
    "newest_release",
    "parse_filename",
    "python_fits",
    "wheel_fits",
    "wheel_versions_fitting",
]
