"""PEP 751 ``pylock.toml`` / ``pylock.<name>.toml``.

Read here rather than with ``packaging.pylock``: that needs packaging >= 26 (Python >= 3.10,
this package supports 3.9), stops at the first problem without a line number, and rejects
locks this reader accepts (a package without a wheel URL, a name not in normal form).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .entries import Entry, check_marker, parse_hashes, pinned_entry, reference_entry
from .inputfile import InputFile
from .markers import resolve_marker
from .reading import Names, PathLike, Problem, expect, fail, names_given, str_list
from .spec import DependencySpec, canonical_set, dedupe

__all__ = ["load_pylock"]


def load_pylock(path: PathLike, *, extras: Names = (), groups: Names = ()) -> DependencySpec:
    """Read a PEP 751 lock file (``pylock.toml`` / ``pylock.<name>.toml``, lock-version 1.x).

    Every ``[[packages]]`` entry is pinned ``name==version`` with the sha256/384/512 hashes of
    its wheels and sdist, and its ``marker`` passed through to the installer. Only the
    ``extras`` / ``dependency_groups`` conditions PEP 751 allows in markers are decided here
    (from ``extras`` and ``groups``; ``groups`` defaults to the lock's ``default-groups``).
    ``directory`` and local ``archive`` entries become path requirements, remote ``archive``
    entries direct references; ``vcs`` entries are refused. Package ``index`` URLs other than
    PyPI become extra index URLs.

    Raises:
        InputError: missing/invalid file, unsupported lock-version, unknown extra or group,
            a vcs package, or malformed entries (with file:line where known).
    """
    extras, groups = names_given(extras, "extras"), names_given(groups, "groups")
    lock = InputFile.toml(path, "pylock.toml")
    lock_version = lock.data.get("lock-version")
    if not isinstance(lock_version, str) or lock_version.split(".")[0] != "1":
        fail(
            f"{lock.place('lock-version')}: lock-version {lock_version!r} is not a PEP 751 "
            "version this reader knows (1.x): regenerate the lock"
        )
    with lock.gathering():
        wanted_extras, wanted_groups = _wanted(lock, extras, groups)
        for table in expect(lock.data.get("packages", []), list, lock.display, "[[packages]]"):
            with lock.gathering():
                entry = _pylock_entry(table, lock, wanted_extras, wanted_groups)
                if entry is not None:
                    lock.entries.append(entry)
    return lock.spec()


def _wanted(
    lock: InputFile, extras: Sequence[str], groups: Sequence[str]
) -> tuple[frozenset[str], frozenset[str]]:
    """The extras and dependency groups asked for, checked against the lock's lists; groups
    default to the lock's ``default-groups``."""
    data, display = lock.data, lock.display
    lock_extras = canonical_set(str_list(data.get("extras", []), display, "extras"))
    lock_groups = canonical_set(
        str_list(data.get("dependency-groups", []), display, "dependency-groups")
    )
    default_groups = str_list(data.get("default-groups", []), display, "default-groups")
    lock.check_known("extra", extras, set(lock_extras), canonical=True)
    lock.check_known("dependency group", groups, set(lock_groups), canonical=True)
    return canonical_set(extras), canonical_set(groups or default_groups)


def _pylock_hashes(value: object, where: str, what: str) -> list[str]:
    table = expect(value, dict, where, f"{what} hashes")
    values = []
    for algo, digest in table.items():
        values.append(f"{algo}:{expect(digest, str, where, f'{what} hash')}")
    return parse_hashes(values, where, what)


def _pylock_entry(
    value: object, lock: InputFile, extras: frozenset[str], groups: frozenset[str]
) -> Entry | None:
    table: dict[str, Any] = expect(value, dict, lock.display, "each [[packages]]")
    name = expect(table.get("name"), str, lock.display, "[[packages]] name")
    where = lock.place("name = ", f'"{name}"')
    marker: bool | str = True
    if "marker" in table:
        checked = check_marker(expect(table["marker"], str, where, "marker"), where, "marker")
        marker, _ = resolve_marker(checked, extras=extras, groups=groups)
        if marker is False:
            return None
    if "vcs" in table:
        raise Problem(
            f"{where}: {name!r} comes from a version control repository, which a Lambda bundle "
            "cannot pin by hash: publish a wheel to your index and re-lock"
        )
    index = table.get("index")
    if index is not None:
        lock.add_index(expect(index, str, where, "index"))
    if "directory" in table:
        directory = expect(table["directory"], dict, where, "directory")
        location = expect(directory.get("path"), str, where, "directory path")
        return reference_entry(name, location, marker, where, [], lock.folder)
    if "archive" in table:
        archive = expect(table["archive"], dict, where, "archive")
        hashes = _pylock_hashes(archive.get("hashes", {}), where, "archive")
        location = archive.get("url", archive.get("path"))
        location = expect(location, str, where, "archive url/path")
        return reference_entry(name, location, marker, where, hashes, lock.folder)
    version = expect(table.get("version"), str, where, f"{name!r} version")
    hashes = []
    files = []
    if "sdist" in table:
        files.append(expect(table["sdist"], dict, where, "sdist"))
    files += [
        expect(w, dict, where, "wheel")
        for w in expect(table.get("wheels", []), list, where, "wheels")
    ]
    for entry in files:
        if "hashes" in entry:
            hashes += _pylock_hashes(entry["hashes"], where, repr(name))
    return pinned_entry(name, version, marker, where, list(dedupe(hashes)))
