"""Requirements with no fitting wheel: find them, and tell pure sdists from native ones.

A pure-Python sdist builds into the same ``py3-none-any`` wheel on any host, so it is built
here (its build code runs on the host: ``allow_sdists=False`` forbids that). An sdist whose
build produces binaries must be compiled for the target OS and architecture: that is Docker's
job (:mod:`.docker`), or a :class:`~lambda_wheels_cdk.errors.NeedsDockerError`.

Resolution and the purity check use uv even when pip installs the bundle: uv resolves for the
target (``--python-platform``) with only the named packages allowed to come from sdists.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from .. import tree
from ..audit.elf import HEAD_BYTES, sniff
from ..errors import InputError, InstallError
from ..events import Log, quiet
from .dists import read_distributions
from .installers import (
    InstallPlan,
    NoFittingWheelError,
    UvInstaller,
)

_MAX_ROUNDS = 64


def built_wheel_digests(wheels: Sequence[Path]) -> dict[str, str]:
    """``sha256:hex`` of each wheel, by the canonical name in its file name: what a wheel built
    from a hash-verified sdist is trusted with in hash-checking mode
    (:meth:`~lambda_wheels_cdk.inputs.requirement_lines.Requirements.trusting`)."""
    return {
        canonicalize_name(w.name.split("-", 1)[0]): "sha256:"
        + hashlib.sha256(w.read_bytes()).hexdigest()
        for w in wheels
    }


def resolve_sdist_pins(
    plan: InstallPlan, uv: UvInstaller, first: Sequence[str], *, log: Log = quiet
) -> dict[str, str]:
    """Resolve for the target, letting only sdist-only packages build: ``{name: version}``."""
    versions, names = resolve_allowing_sdists(plan, uv, first, log=log)
    return {n: versions[n] for n in sorted(names) if n in versions}


def resolve_allowing_sdists(
    plan: InstallPlan, uv: UvInstaller, first: Sequence[str] = (), *, log: Log = quiet
) -> tuple[dict[str, str], set[str]]:
    """Resolve ``plan`` for its target with wheels wherever one fits and sdists only for the
    packages that have none (``first``, and those the resolver names round by round).

    Returns every resolved ``{name: version}`` and the names that come from sdists.
    """
    names: set[str] = {canonicalize_name(n) for n in first}
    for _ in range(_MAX_ROUNDS):
        try:
            resolved = uv.dry_run(replace(plan, source_build=tuple(sorted(names))), log=log)
        except NoFittingWheelError as exc:
            new = {canonicalize_name(n) for n in exc.names} - names
            if not new:
                raise
            names |= new
            continue
        return {canonicalize_name(n): v for n, v in resolved}, names
    raise InstallError(  # pragma: no cover - needs > 64 sdist-only packages
        f"gave up after {_MAX_ROUNDS} rounds of finding requirements without wheels"
    )


def has_binaries(root: Path) -> list[str]:
    """Relative paths of files under ``root`` that are compiled code (by magic bytes)."""
    found: list[str] = []
    for rel, path in tree.iter_files(root):
        with path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
        if sniff(head) is not None:
            found.append(rel)
    return found


def classify(
    pins: Mapping[str, str],
    plan: InstallPlan,
    uv: UvInstaller,
    scratch: Path,
    *,
    log: Log = quiet,
) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """Build each pinned sdist on the host into a scratch folder and look at the result.

    Returns ``(pure, native)``: ``pure`` maps name -> version; ``native`` maps name ->
    (version, why) for builds that produced binaries, non-pure tags or failed on the host.
    """
    pure: dict[str, str] = {}
    native: dict[str, tuple[str, str]] = {}
    for name, version in pins.items():
        dest = scratch / name
        dest.mkdir(parents=True, exist_ok=True)
        single = replace(
            plan,
            requirements=plan.requirements.pinned({name: version}),  # hashes: verify the build
            constraints="",
            source_build=(name,),
            no_deps=True,
        )
        try:
            uv.install_host_build(single, dest, log=log)
        except InstallError as exc:
            last = str(exc).strip().splitlines()[-1] if str(exc).strip() else "build failed"
            native[name] = (version, f"does not build on this host: {last}")
            continue
        binaries = has_binaries(dest)
        tags = [t for dist in read_distributions(dest, plan.target) for t in dist.tags]
        if binaries:
            native[name] = (version, f"its build contains compiled code ({binaries[0]})")
        elif tags and not all(t.endswith("-none-any") for t in tags):
            native[name] = (version, f"its wheel is tagged {', '.join(tags)}")
        else:
            pure[name] = version
    return pure, native


# -- local projects ----------------------------------------------------------------------------


def build_local_projects(
    projects: Mapping[str, str],
    plan: InstallPlan,
    uv: UvInstaller,
    wheelhouse: Path,
    *,
    allow: bool,
    log: Log = quiet,
) -> InstallPlan:
    """Build local project folders (and local sdist files) into wheels on the host.

    ``projects`` maps canonical name -> absolute path, as the dependency input found them.
    Returns the plan with those requirements pointing at the built wheels. Like a pure sdist,
    a project whose wheel is pure Python is installed; one with compiled code was built for
    this host, not the target, and is refused.

    Raises:
        InstallError: building runs the project's build code and ``allow`` is off
            (``allow_sdists=False``), or the build failed.
        InputError: a project's wheel holds compiled code (every such project is listed).
    """
    names = sorted(projects)
    if not allow:
        raise InstallError(
            f"{', '.join(f'{n} ({projects[n]})' for n in names)}: a local project is built "
            "into a wheel on this host, which runs its build code, and building sdists is "
            "disabled (allow_sdists=False / --no-sdists); build the wheel yourself and pass "
            "its folder with --find-links / find_links, or allow sdists"
        )
    wheels: dict[str, Path] = {}
    native: list[str] = []
    for name in names:
        wheels[name] = uv.build_wheel(plan, projects[name], wheelhouse / name, log=log)
        why = _not_pure(wheels[name])
        if why:
            native.append(f"{name} ({projects[name]}): {why}")
    if native:
        raise InputError(
            f"local projects with compiled code cannot be built on this host for "
            f"{plan.target}: {'; '.join(native)}. Build the wheel for the target (e.g. "
            f"`pip wheel` in the image {plan.target.build_image}, or cibuildwheel), put it in a "
            "folder and pass that folder with --find-links / find_links, with the project "
            "required by name"
        )
    return replace(plan, requirements=plan.requirements.pointing_at(wheels))


def _not_pure(wheel: Path) -> str | None:
    """Why a wheel is not pure Python (its tag or a binary inside), or ``None``."""
    try:
        tags = parse_wheel_filename(wheel.name)[3]
    except InvalidWheelFilename:
        return f"its wheel has an invalid name ({wheel.name})"
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            with zf.open(info) as fh:
                if sniff(fh.read(HEAD_BYTES)) is not None:
                    return f"its wheel holds compiled code ({info.filename})"
    impure = sorted(str(t) for t in tags if t.abi != "none" or t.platform != "any")
    return f"its wheel is tagged {', '.join(impure)}" if impure else None


__all__ = [
    "build_local_projects",
    "built_wheel_digests",
    "classify",
    "has_binaries",
    "resolve_allowing_sdists",
    "resolve_sdist_pins",
]
