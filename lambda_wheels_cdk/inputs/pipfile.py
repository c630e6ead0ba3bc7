"""pipenv's ``Pipfile.lock`` (JSON), read without pipenv."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .entries import (
    Entry,
    build_spec,
    check_marker,
    parse_hashes,
    pinned_entry,
    reference_entry,
)
from .reading import (
    PathLike,
    Problem,
    Problems,
    existing_file,
    expect,
    fail,
    names_given,
    place,
    read_input,
    str_list,
)
from .requirements import expand_env
from .spec import DependencySpec, IndexSettings, first_line, is_pypi

__all__ = ["load_pipfile_lock"]


def load_pipfile_lock(
    path: PathLike, *, categories: Sequence[str] = ("default",)
) -> DependencySpec:
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
    file = existing_file(path, "Pipfile.lock")
    display = file.name
    text = read_input(file, display)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        line = getattr(exc, "lineno", None)
        where = f"{display}:{line}" if line else display
        fail(f"{where}: not valid JSON ({first_line(exc)}): regenerate it with `pipenv lock`")
    problems = Problems(display)
    if not isinstance(data, dict) or not isinstance(data.get("_meta"), dict):
        fail(f"{display}: has no _meta section, so it is not a Pipfile.lock: run `pipenv lock`")
    meta = data["_meta"]
    index_url: str | None = None
    extra_indexes: list[str] = []
    entries: list[Entry] = []
    try:
        for number, source in enumerate(expect(meta.get("sources", []), list, display, "sources")):
            source = expect(source, dict, display, "each source")
            url = expand_env(expect(source.get("url"), str, display, "source url"))
            if number == 0:
                index_url = None if is_pypi(url) else url
            elif not is_pypi(url) and url not in extra_indexes:
                extra_indexes.append(url)
    except Problem as problem:
        problems.add(str(problem))
    available = [k for k in data if k != "_meta"]
    for category in categories:
        key = "develop" if category == "dev" else category
        section = data.get(key)
        if key not in data:
            problems.add(
                f"{display}: category {category!r} is not in the lock (categories: "
                f"{', '.join(available) or 'none'}): ask for an existing one"
            )
            continue
        if not isinstance(section, dict):
            problems.add(f"{display}: section {key!r} must be an object: run `pipenv lock`")
            continue
        for name, spec in section.items():
            where = place(display, text, f'"{name}": {{') if isinstance(name, str) else display
            try:
                entries.append(_pipfile_entry(name, spec, where, file.parent))
            except Problem as problem:
                problems.add(str(problem))
    problems.raise_if_any()
    return build_spec(
        entries,
        [],
        IndexSettings(index_url=index_url, extra_index_urls=tuple(extra_indexes)),
        origin=display,
        locked=True,
    )


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
