"""pipenv's ``Pipfile.lock`` (JSON), read without pipenv."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .entries import Entry, check_marker, parse_hashes, pinned_entry, reference_entry
from .inputfile import InputFile
from .reading import (
    Names,
    PathLike,
    Problem,
    existing_file,
    expect,
    fail,
    names_given,
    read_json,
    str_list,
)
from .requirements import expand_env
from .spec import DependencySpec, is_pypi

__all__ = ["load_pipfile_lock"]


def load_pipfile_lock(path: PathLike, *, categories: Names = ("default",)) -> DependencySpec:
    """Read a pipenv ``Pipfile.lock`` (JSON) without pipenv.

    Each package of the requested ``categories`` (``default``; ``develop``, alias ``dev``;
    pipenv's custom categories) is pinned from its ``version`` with its ``hashes``,
    ``markers`` and ``extras``. ``_meta.sources`` become the index settings (the first source
    is the index unless it is PyPI, the rest extra indexes; ``${VAR}`` is expanded). ``path``
    entries (editable or not) become non-editable path requirements; ``file`` URLs direct
    references; ``git`` entries are refused.

    Raises:
        InputError: missing or invalid file, an unknown category, a git/unpinned entry.
    """
    categories = names_given(categories, "categories")
    lock = _read_lock(path)
    index_url: str | None = None
    with lock.gathering():
        meta = lock.data["_meta"]
        sources = expect(meta.get("sources", []), list, lock.display, "sources")
        for number, source in enumerate(sources):
            source = expect(source, dict, lock.display, "each source")
            url = expand_env(expect(source.get("url"), str, lock.display, "source url"))
            if number == 0:
                index_url = None if is_pypi(url) else url
            else:
                lock.add_index(url)
    for category in categories:
        section = _section(lock, category)
        for name, spec in section.items():
            where = lock.place(f'"{name}": {{') if isinstance(name, str) else lock.display
            with lock.gathering():
                lock.entries.append(_pipfile_entry(name, spec, where, lock.folder))
    return lock.spec(index_url=index_url)


def _read_lock(path: PathLike) -> InputFile:
    file = existing_file(path, "Pipfile.lock")
    data, text = read_json(file, file.name, "regenerate it with `pipenv lock`")
    if not isinstance(data, dict) or not isinstance(data.get("_meta"), dict):
        fail(f"{file.name}: has no _meta section, so it is not a Pipfile.lock: run `pipenv lock`")
    return InputFile(file, text, data)


def _section(lock: InputFile, category: str) -> dict[str, Any]:
    """The packages of a category (``dev`` is ``develop``); empty, with a problem, when the
    lock has no such section."""
    key = "develop" if category == "dev" else category
    section = lock.data.get(key)
    if key not in lock.data:
        available = ", ".join(k for k in lock.data if k != "_meta") or "none"
        lock.problems.add(
            f"{lock.display}: category {category!r} is not in the lock (categories: "
            f"{available}): ask for an existing one"
        )
        return {}
    if not isinstance(section, dict):
        lock.problems.add(f"{lock.display}: section {key!r} must be an object: run `pipenv lock`")
        return {}
    return section


def _pipfile_entry(name: str, value: object, where: str, folder: Path) -> Entry:
    spec: dict[str, Any] = expect(value, dict, where, f"{name!r}")
    marker: bool | str = True
    if spec.get("markers"):
        marker = check_marker(expect(spec["markers"], str, where, "markers"), where, "marker")
    hashes = parse_hashes(str_list(spec.get("hashes", []), where, "hashes"), where, repr(name))
    extras = str_list(spec.get("extras", []), where, "extras")
    if "git" in spec or any(k in spec for k in ("hg", "svn", "bzr")):
        raise Problem(
            f"{where}: {name!r} comes from a version control repository, which a Lambda bundle "
            "cannot pin by hash: publish a wheel to your index and re-lock"
        )
    for key in ("path", "file"):
        if key in spec:
            location = expect(spec[key], str, where, key)
            return reference_entry(name, location, marker, where, hashes, folder, extras)
    version = spec.get("version")
    if not isinstance(version, str) or not version.startswith("=="):
        raise Problem(f"{where}: {name!r} is not pinned (version {version!r}): run `pipenv lock`")
    return pinned_entry(name, version[2:], marker, where, hashes, extras)
