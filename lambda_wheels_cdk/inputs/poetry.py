"""``poetry.lock``, read directly (no Poetry needed).

Poetry >= 2 (``lock-version`` 2.1) records each package's groups and markers; older locks do
not, so their membership and markers are computed by walking the lock's dependency graph from
the ``pyproject.toml`` next to it.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from poetry.core.constraints.version import Version as PoetryVersion
from poetry.core.constraints.version import VersionConstraint, parse_constraint
from poetry.core.constraints.version.exceptions import ParseConstraintError
from poetry.core.packages.utils.utils import create_nested_marker
from poetry.core.version.exceptions import InvalidVersionError

from ..target.runtimes import DATACLASS_SLOTS
from ..urls import redact_url
from .entries import Entry, check_marker, parse_hashes, pinned_entry, reference_entry
from .inputfile import InputFile
from .markers import quote, resolve_marker
from .pyproject import optional_dependencies, resolve_groups
from .reading import Names, PathLike, Problem, expect, fail, names_given, read_toml, str_list
from .spec import DependencySpec, canon, canonical_set, dedupe, first_line

__all__ = ["load_poetry_lock"]


@dataclass(**DATACLASS_SLOTS)
class _PoetryDep:
    name: str  # canonical
    constraint: str | None
    marker: str | None
    optional: bool
    extras: tuple[str, ...]


@dataclass(**DATACLASS_SLOTS)
class _PoetryPackage:
    name: str  # canonical
    raw_name: str
    version: str
    where: str
    optional: bool
    groups: tuple[str, ...] | None
    markers: str | dict[str, str] | None
    dependencies: list[_PoetryDep]
    extras: dict[str, frozenset[str]]  # canonical extra -> canonical names it enables
    source: dict[str, Any] | None
    hashes: list[str]


def _poetry_constraint(constraint: str) -> VersionConstraint | None:
    """A Poetry version constraint (``^1.2``, ``~1.2``, ``1.2.*``, ``>=1,<2 || >3``), read by
    poetry-core as Poetry reads it; ``None`` when it cannot be read."""
    try:
        return parse_constraint(constraint.strip() or "*")
    except (ParseConstraintError, ValueError):
        return None


def _python_marker(constraint: str) -> str | None:
    """A Poetry ``python = "..."`` constraint as a marker; ``None`` if it allows everything.

    A constraint that cannot be read is treated as allowing everything (the package is then
    offered to the installer, which skips it if it does not fit the target).
    """
    parsed = _poetry_constraint(constraint)
    if parsed is None or parsed.is_any():
        return None
    try:
        return str(Marker(create_nested_marker("python_version", parsed)))
    except InvalidMarker:
        return None


def _and_markers(*markers: str | None) -> str | None:
    present = [m for m in markers if m]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    return " and ".join(f"({m})" for m in present)


def _poetry_dependencies(value: object, name: str, where: str) -> list[_PoetryDep]:
    """One entry of a Poetry dependency table (string, table, or list of tables)."""
    canonical = canon(name)
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(_PoetryDep(canonical, item, None, False, ()))
            continue
        spec = expect(item, dict, where, f"dependency {name!r}")
        markers = spec.get("markers")
        if markers is not None:
            markers = check_marker(expect(markers, str, where, "markers"), where, "marker")
        python = spec.get("python")
        python_marker = (
            _python_marker(expect(python, str, where, "python")) if python is not None else None
        )
        platform = spec.get("platform")
        platform_marker = (
            f"sys_platform == {quote(expect(platform, str, where, 'platform'))}"
            if platform is not None
            else None
        )
        version = spec.get("version")
        if version is not None:
            expect(version, str, where, "version")
        extras = tuple(str_list(spec.get("extras", []), where, "extras"))
        out.append(
            _PoetryDep(
                canonical,
                version,
                _and_markers(markers, python_marker, platform_marker),
                bool(spec.get("optional", False)),
                tuple(canon(e) for e in extras),
            )
        )
    return out


def _poetry_extra_names(values: object, where: str) -> frozenset[str]:
    """Names in a Poetry extras list (``["PySocks (>=1.5.6,!=1.5.7)", "pyyaml"]``)."""
    names = set()
    for item in str_list(values, where, "extras"):
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", item)
        if match:
            names.add(canon(match.group(1)))
    return frozenset(names)


def _poetry_packages(lock: InputFile) -> list[_PoetryPackage]:
    legacy_hashes = _legacy_hashes(lock)
    packages = []
    for table in expect(lock.data.get("package", []), list, lock.display, "[[package]]"):
        with lock.gathering():
            packages.append(_poetry_package(table, lock, legacy_hashes))
    return packages


def _legacy_hashes(lock: InputFile) -> dict[str, list[str]]:
    """lock-version 1.x keeps hashes in ``[metadata.files]``: canonical name -> hashes."""
    metadata = lock.data.get("metadata", {})
    legacy_files = metadata.get("files", {}) if isinstance(metadata, dict) else {}
    legacy_hashes: dict[str, list[str]] = {}
    if not isinstance(legacy_files, dict):
        return legacy_hashes
    for raw, files in legacy_files.items():
        where = lock.place(f"{raw} = [")
        with lock.gathering():
            for entry in expect(files, list, where, f"[metadata.files].{raw}"):
                value = expect(entry, dict, where, "a file entry").get("hash")
                if isinstance(value, str):
                    legacy_hashes.setdefault(canon(raw), []).append(value)
    return legacy_hashes


def _poetry_package(
    value: object, lock: InputFile, legacy_hashes: dict[str, list[str]]
) -> _PoetryPackage:
    """One ``[[package]]`` table, checked."""
    table = expect(value, dict, lock.display, "each [[package]]")
    raw_name = expect(table.get("name"), str, lock.display, "[[package]] name")
    where = lock.place("name = ", f'"{raw_name}"')
    version = expect(table.get("version"), str, where, f"{raw_name!r} version")
    groups = table.get("groups")
    if groups is not None:
        groups = tuple(str_list(groups, where, "groups"))
    markers = _package_markers(table.get("markers"), where)
    dependencies = []
    for dep, spec in expect(table.get("dependencies", {}), dict, where, "dependencies").items():
        dependencies += _poetry_dependencies(spec, dep, where)
    extras = {
        canon(extra): _poetry_extra_names(values, where)
        for extra, values in expect(table.get("extras", {}), dict, where, "extras").items()
    }
    source = table.get("source")
    if source is not None:
        source = expect(source, dict, where, "source")
    hash_values = [
        expect(f, dict, where, "a files entry").get("hash")
        for f in expect(table.get("files", []), list, where, "files")
    ]
    hash_values += legacy_hashes.get(canon(raw_name), [])
    hashes = parse_hashes([h for h in hash_values if isinstance(h, str)], where, repr(raw_name))
    return _PoetryPackage(
        canon(raw_name),
        raw_name,
        version,
        where,
        bool(table.get("optional", False)),
        groups,
        markers,
        dependencies,
        extras,
        source,
        hashes,
    )


def _package_markers(markers: object, where: str) -> str | dict[str, str] | None:
    """A package's ``markers``: one for every group, or a table of them per group."""
    if isinstance(markers, str):
        return check_marker(markers, where, "marker")
    if isinstance(markers, dict):
        return {
            g: check_marker(expect(m, str, where, "markers"), where, "marker")
            for g, m in markers.items()
        }
    if markers is not None:
        raise Problem(f"{where}: markers must be a string or a table: regenerate the lock")
    return None


def _poetry_pyproject(folder: Path) -> InputFile | None:
    path = folder / "pyproject.toml"
    if not path.is_file():
        return None
    data, text = read_toml(path, "pyproject.toml")
    return InputFile(path, text, data)


@dataclass(**DATACLASS_SLOTS)
class _PoetryProject:
    """The tables of a Poetry project's ``pyproject.toml`` that say what its groups and extras
    hold: Poetry's own (``[tool.poetry]``) and the standard ones (PEP 621, PEP 735)."""

    file: InputFile
    poetry: dict[str, Any]
    project: dict[str, Any]
    group_tables: dict[str, Any]
    pep735: dict[str, Any]
    poetry_extras: dict[str, Any]
    optional: dict[str, Any]

    @classmethod
    def read(cls, pyproject: InputFile) -> _PoetryProject:
        display, data = pyproject.display, pyproject.data
        tool = data.get("tool", {})
        poetry = tool.get("poetry", {}) if isinstance(tool, dict) else {}
        poetry = expect(poetry, dict, display, "[tool.poetry]")
        project = expect(data.get("project", {}), dict, display, "[project]")
        return cls(
            pyproject,
            poetry,
            project,
            expect(poetry.get("group", {}), dict, display, "[tool.poetry.group]"),
            expect(data.get("dependency-groups", {}), dict, display, "[dependency-groups]"),
            expect(poetry.get("extras", {}), dict, display, "[tool.poetry.extras]"),
            optional_dependencies(project, display),
        )

    @property
    def known_groups(self) -> set[str]:
        known = {"main", *self.group_tables, *self.pep735}
        if "dev-dependencies" in self.poetry:
            known.add("dev")
        return known

    @property
    def known_extras(self) -> set[str]:
        return {canon(e) for e in (*self.poetry_extras, *self.optional)}


def _poetry_roots(
    pyproject: InputFile, groups: Sequence[str], extras: frozenset[str]
) -> tuple[list[_PoetryDep], set[str], set[str]]:
    """Top-level dependencies of the requested groups, plus the known groups and extras."""
    project = _PoetryProject.read(pyproject)
    enabled: set[str] = set()
    for extra, names in project.poetry_extras.items():
        if canon(extra) in extras:
            enabled |= _poetry_extra_names(names, pyproject.display)
    roots: list[_PoetryDep] = []
    for group in groups:
        roots += _group_roots(project, group, extras, enabled)
    return roots, project.known_groups, project.known_extras


def _group_roots(
    p: _PoetryProject, group: str, extras: frozenset[str], enabled: set[str]
) -> list[_PoetryDep]:
    """The top-level dependencies of one group (``main``: with the extras asked for)."""
    display = p.file.display
    if group == "main":
        roots = _poetry_table(
            p.file, p.poetry.get("dependencies", {}), "[tool.poetry.dependencies]", enabled
        )
        dependencies = str_list(p.project.get("dependencies", []), display, "dependencies")
        roots += _pep508_roots(p.file, dependencies, "dependencies")
        for extra, items in p.optional.items():
            if canon(extra) in extras:
                items = str_list(items, display, extra)
                roots += _pep508_roots(p.file, items, f"optional-dependencies.{extra}")
        return roots
    roots = []
    if group in p.group_tables:
        table = expect(p.group_tables[group], dict, display, f"[tool.poetry.group.{group}]")
        what = f"[tool.poetry.group.{group}.dependencies]"
        roots += _poetry_table(p.file, table.get("dependencies", {}), what, enabled)
    if group == "dev" and "dev-dependencies" in p.poetry:
        what = "[tool.poetry.dev-dependencies]"
        roots += _poetry_table(p.file, p.poetry["dev-dependencies"], what, enabled)
    if group in p.pep735:
        items = (r for r, _ in resolve_groups(p.pep735, [group], display))
        roots += _pep508_roots(p.file, items, "dependency-groups")
    return roots


def _poetry_table(
    pyproject: InputFile, table: object, what: str, enabled: set[str]
) -> list[_PoetryDep]:
    """A Poetry dependency table (``python`` aside; optional ones only if an extra enables
    them)."""
    roots = []
    for name, spec in expect(table, dict, pyproject.display, what).items():
        if name.lower() == "python":
            continue
        for dep in _poetry_dependencies(spec, name, pyproject.place(name)):
            if not dep.optional or dep.name in enabled:
                roots.append(dep)
    return roots


def _pep508_roots(pyproject: InputFile, items: Iterable[str], what: str) -> list[_PoetryDep]:
    roots = []
    for item in items:
        try:
            req = Requirement(item)
        except InvalidRequirement as exc:
            raise Problem(
                f"{pyproject.place(item)}: {item!r} in {what} is not a valid requirement "
                f"({first_line(exc)}): fix it"
            ) from None
        roots.append(
            _PoetryDep(
                canon(req.name),
                str(req.specifier) or None,
                str(req.marker) if req.marker else None,
                False,
                tuple(sorted(canon(e) for e in req.extras)),
            )
        )
    return roots


_Clause = frozenset[str]
_Dnf = frozenset[_Clause]
_ALWAYS: Final[_Dnf] = frozenset({frozenset()})
_MAX_CLAUSES: Final = 32
_MAX_STEPS: Final = 200_000


def _dnf_and(dnf: _Dnf, marker: str | None) -> _Dnf:
    if marker is None:
        return dnf
    return frozenset(clause | {marker} for clause in dnf)


def _dnf_or(a: _Dnf, b: _Dnf) -> _Dnf:
    union = a | b
    kept = frozenset(c for c in union if not any(o < c for o in union))
    return _ALWAYS if len(kept) > _MAX_CLAUSES else kept


def _dnf_marker(dnf: _Dnf) -> bool | str:
    if frozenset() in dnf:
        return True

    def clause_text(atoms: list[str]) -> str:
        if len(atoms) == 1:
            return atoms[0]
        return " and ".join(f"({a})" if " or " in a else a for a in atoms)

    return str(Marker(" or ".join(clause_text(sorted(c)) for c in sorted(dnf, key=sorted))))


def _poetry_walk(
    packages: list[_PoetryPackage], roots: list[_PoetryDep], lock: InputFile
) -> dict[int, bool | str]:
    """Old locks: which packages the roots reach, and under which marker (index -> marker)."""
    display, problems = lock.display, lock.problems
    targets = _Targets(packages, lock)
    state: dict[int, tuple[_Dnf, frozenset[str]]] = {}
    queue: deque[tuple[int, _Dnf, frozenset[str]]] = deque()
    for dep in roots:
        for index in targets.of(dep, "pyproject.toml"):
            queue.append((index, _dnf_and(_ALWAYS, dep.marker), frozenset(dep.extras)))
    steps = 0
    while queue:
        steps += 1
        if steps > _MAX_STEPS:  # pragma: no cover - a safety net, not a reachable state
            problems.add(f"{display}: the dependency graph is too large to walk: re-lock it")
            break
        index, dnf, extras = queue.popleft()
        old = state.get(index)
        if old is not None:
            dnf, extras = _dnf_or(old[0], dnf), old[1] | extras
            if (dnf, extras) == old:
                continue
        state[index] = (dnf, extras)
        package = packages[index]
        enabled = frozenset().union(*(package.extras.get(e, frozenset()) for e in extras))
        for dep in package.dependencies:
            if dep.optional and dep.name not in enabled:
                continue
            marker = dep.marker
            if marker is not None:
                decided, _ = resolve_marker(marker, extras=extras)
                if decided is False:
                    continue
                marker = None if decided is True else decided
            for target in targets.of(dep, package.raw_name):
                queue.append((target, _dnf_and(dnf, marker), frozenset(dep.extras)))
    return {index: _dnf_marker(dnf) for index, (dnf, _) in state.items()}


class _Targets:
    """Which locked package (index) a dependency means, where an old lock lists several
    versions of one name; a problem where nothing says."""

    def __init__(self, packages: list[_PoetryPackage], lock: InputFile) -> None:
        self.packages = packages
        self.lock = lock
        self.by_name: dict[str, list[int]] = {}
        for index, package in enumerate(packages):
            self.by_name.setdefault(package.name, []).append(index)

    def of(self, dep: _PoetryDep, parent: str) -> list[int]:
        """The packages ``dep`` of ``parent`` (a package's name, or pyproject.toml) means."""
        display = self.lock.display
        candidates = self.by_name.get(dep.name, [])
        if len(candidates) <= 1:
            if not candidates and parent == "pyproject.toml":
                self.lock.problems.add(
                    f"{display}: {dep.name!r} from pyproject.toml is not in the lock: run "
                    "`poetry lock`"
                )
            return candidates  # a missing transitive dependency was excluded by poetry
        wanted = _poetry_constraint(dep.constraint or "*")
        versions = [self.packages[i].version for i in candidates]
        matching = [i for i, v in zip(candidates, versions) if _allows(wanted, v)]
        if len(matching) == 1:
            return matching
        self.lock.problems.add(
            f"{display}: lists several versions of {dep.name!r} ({', '.join(versions)}) without "
            "saying which one applies where (lock-version < 2.1): re-lock with Poetry >= 2 "
            "(`poetry lock`), which records it"
        )
        return []


def _allows(constraint: VersionConstraint | None, version: str) -> bool:
    """Whether a locked ``version`` meets a dependency's constraint (pre-releases included)."""
    if constraint is None:
        return False
    try:
        return constraint.allows(PoetryVersion.parse(version))
    except InvalidVersionError:
        return False


def _poetry_selection(
    packages: list[_PoetryPackage],
    lock: InputFile,
    pyproject: InputFile | None,
    groups: Sequence[str],
    extras: frozenset[str],
) -> dict[int, bool | str]:
    """Lock 2.1: groups and markers recorded per package (index -> marker)."""
    known_groups = {"main"}
    for package in packages:
        known_groups |= set(package.groups or ())
    lock_extras = expect(lock.data.get("extras", {}), dict, lock.display, "[extras]")
    known_extras = {canon(e) for e in lock_extras}
    if pyproject is not None:
        with lock.gathering():
            _, pyproject_groups, pyproject_extras = _poetry_roots(pyproject, (), extras)
            known_groups |= pyproject_groups
            known_extras |= pyproject_extras
    lock.check_known("group", groups, known_groups)
    lock.check_known("extra", extras, known_extras, canonical=True)
    extra_members = frozenset().union(
        *(
            _poetry_extra_names(v, lock.display)
            for k, v in lock_extras.items()
            if canon(k) in extras
        )
    )
    wanted = set(groups)
    chosen: dict[int, bool | str] = {}
    for index, package in enumerate(packages):
        package_groups = package.groups if package.groups is not None else ("main",)
        in_groups = [g for g in package_groups if g in wanted]
        if not in_groups:
            continue
        decided, touched = _group_marker(package, in_groups, extras)
        if decided is False:
            continue
        if package.optional and not touched and package.name not in extra_members:
            continue
        chosen[index] = decided
    return chosen


def _group_marker(
    package: _PoetryPackage, in_groups: list[str], extras: frozenset[str]
) -> tuple[bool | str, bool]:
    """The ``or`` of the package's markers for the groups asked for, decided as far as the
    extras allow, and whether an extra decided it (see :func:`resolve_marker`)."""
    if isinstance(package.markers, str):
        parts: list[str | None] = [package.markers]
    elif isinstance(package.markers, dict):
        parts = [package.markers.get(g) for g in in_groups]
    else:
        parts = [None]
    if any(p is None for p in parts):
        return True, False
    present = list(dedupe(p for p in parts if p))
    combined = present[0] if len(present) == 1 else " or ".join(f"({p})" for p in present)
    return resolve_marker(combined, extras=extras)


def load_poetry_lock(
    path: PathLike, *, groups: Names = ("main",), extras: Names = ()
) -> DependencySpec:
    """Read ``poetry.lock`` directly (no Poetry needed); install every package of ``groups``.

    * ``lock-version`` 2.1 (Poetry >= 2) records each package's ``groups`` and ``markers``
      (per group): a package is installed when one of its groups is requested, under the
      ``or`` of those groups' markers; ``extra == "..."`` conditions are decided from
      ``extras``.
    * Older locks (1.x with ``category``, 2.0) do not: the ``pyproject.toml`` next to the lock
      gives the top-level dependencies of each group (``[tool.poetry.dependencies]`` = "main",
      ``[tool.poetry.group.<g>]``, legacy ``dev-dependencies``), and the lock's dependency graph
      is walked from them, combining the markers (and ``python``/``platform`` constraints)
      along the way.

    Every package is pinned ``name==version`` with the hashes of its ``files`` (or
    ``[metadata.files]`` in 1.x). Sources: ``legacy`` indexes become extra index URLs,
    ``url``/``file`` sources become direct references with their hashes, ``directory``
    sources become non-editable path requirements; ``git`` sources are refused.

    Raises:
        InputError: missing/invalid lock, an unknown group or extra, a git source, an old lock
            without its pyproject.toml, or an ambiguous old lock (named with file:line).
    """
    extras, groups = names_given(extras, "extras"), names_given(groups, "groups")
    lock = InputFile.toml(path, "poetry.lock")
    written, version = _lock_version(lock)
    wanted_extras = canonical_set(extras)
    packages = _poetry_packages(lock)
    pyproject = _poetry_pyproject(lock.folder)
    if version >= (2, 1):
        chosen = _poetry_selection(packages, lock, pyproject, groups, wanted_extras)
    elif pyproject is None:
        fail(
            f"{lock.display}: lock-version {written} does not record which "
            "group each package belongs to: put its pyproject.toml next to it, or re-lock with "
            "Poetry >= 2 (`poetry lock`)"
        )
    else:
        chosen = _old_lock_selection(packages, lock, pyproject, groups, extras)
    for index, package in enumerate(packages):
        if index in chosen:
            with lock.gathering():
                lock.entries.append(_poetry_entry(package, chosen[index], lock))
    return lock.spec()


def _lock_version(lock: InputFile) -> tuple[str, tuple[int, ...]]:
    """``[metadata] lock-version`` as written and as numbers; only 1.x and 2.x are read."""
    metadata = lock.data.get("metadata")
    lock_version = metadata.get("lock-version") if isinstance(metadata, dict) else None
    if not isinstance(lock_version, str) or not re.fullmatch(r"\d+(\.\d+)*", lock_version):
        fail(
            f"{lock.display}: has no [metadata] lock-version, so it is not a poetry.lock: "
            "regenerate it"
        )
    version = tuple(int(p) for p in lock_version.split("."))
    if version[0] > 2:
        fail(
            f"{lock.display}: lock-version {lock_version} is newer than this reader knows (1.x, "
            "2.x): upgrade lambda-wheels-cdk or export a requirements file with Poetry"
        )
    return lock_version, version


def _old_lock_selection(
    packages: list[_PoetryPackage],
    lock: InputFile,
    pyproject: InputFile,
    groups: Sequence[str],
    extras: Sequence[str],
) -> dict[int, bool | str]:
    """Locks before 2.1: the packages the pyproject.toml's groups reach (index -> marker)."""
    roots: list[_PoetryDep] = []
    with lock.gathering():
        roots, known_groups, known_extras = _poetry_roots(pyproject, groups, canonical_set(extras))
        lock.check_known("group", groups, known_groups)
        lock_extras = lock.data.get("extras", {})
        if isinstance(lock_extras, dict):
            known_extras |= {canon(e) for e in lock_extras}
        lock.check_known("extra", extras, known_extras, canonical=True)
    return _poetry_walk(packages, roots, lock)


def _poetry_entry(package: _PoetryPackage, marker: bool | str, lock: InputFile) -> Entry:
    source = package.source or {}
    kind = source.get("type")
    url = source.get("url")
    if kind in (None, "", "pypi"):
        return pinned_entry(
            package.raw_name, package.version, marker, package.where, package.hashes
        )
    if not isinstance(url, str):
        raise Problem(
            f"{package.where}: {package.raw_name!r} has a source without url: regenerate the lock"
        )
    if kind == "legacy":
        lock.add_index(url)
        return pinned_entry(
            package.raw_name, package.version, marker, package.where, package.hashes
        )
    if kind in ("url", "file", "directory"):
        entry = reference_entry(
            package.raw_name, url, marker, package.where, package.hashes, lock.folder
        )
        if kind == "directory" and not entry.is_dir:
            raise Problem(
                f"{package.where}: {package.raw_name!r} directory source {url!r} is not a folder"
            )
        return entry
    if kind == "git":
        raise Problem(
            f"{package.where}: {package.raw_name!r} comes from git ({redact_url(url)}), which a "
            "Lambda bundle cannot pin by hash: publish a wheel to your index (or reference a "
            "built wheel as a file source) and re-lock"
        )
    raise Problem(
        f"{package.where}: {package.raw_name!r} has an unknown source type {kind!r}: regenerate "
        "the lock with a current Poetry"
    )
