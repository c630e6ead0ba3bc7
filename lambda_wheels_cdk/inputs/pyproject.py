"""``pyproject.toml``: PEP 621 ``[project].dependencies``, its extras, and PEP 735 dependency
groups.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from packaging.markers import Marker

from ..urls import redact_text
from .entries import BadRequirement, Entry, build_spec, parse_requirement_text
from .reading import (
    PathLike,
    Problem,
    Problems,
    existing_file,
    expect,
    names_given,
    place,
    read_toml,
    str_list,
)
from .spec import DependencySpec, IndexSettings, canon

__all__ = ["load_pyproject"]


def resolve_groups(
    table: Mapping[str, Any], wanted: Sequence[str], where: str
) -> list[tuple[str, str]]:
    """PEP 735: the requirement strings of ``wanted`` groups, with ``include-group``.

    Returns ``(requirement, group)`` pairs: the text as written (for the line in messages, and
    path requirements) and the group it is in. ``packaging.dependency_groups`` returns parsed
    requirements only, and needs packaging >= 26.1 (Python >= 3.10).
    """
    by_name: dict[str, str] = {}
    for key in table:
        by_name.setdefault(canon(key), key)
    out: list[tuple[str, str]] = []

    def visit(group: str, stack: tuple[str, ...]) -> None:
        norm = canon(group)
        if norm in stack:
            loop = " -> ".join([*stack, norm])
            raise Problem(f"{where}: [dependency-groups] include a loop ({loop}): break it")
        key = by_name.get(norm)
        if key is None:
            known = ", ".join(sorted(table)) or "none"
            raise Problem(
                f"{where}: dependency group {group!r} is not defined (groups: {known}): add it "
                "to [dependency-groups] or ask for an existing one"
            )
        items = expect(table[key], list, where, f"[dependency-groups].{key}")
        for item in items:
            if isinstance(item, str):
                out.append((item, key))
            elif isinstance(item, dict) and set(item) == {"include-group"}:
                included = expect(item["include-group"], str, where, "include-group")
                visit(included, (*stack, norm))
            else:
                raise Problem(
                    f"{where}: [dependency-groups].{key} entries must be requirement strings or "
                    '{include-group = "name"} tables: fix the entry'
                )

    for group in wanted:
        visit(group, ())
    return out


def load_pyproject(
    path: PathLike, *, extras: Sequence[str] = (), groups: Sequence[str] = ()
) -> DependencySpec:
    """Read ``[project].dependencies`` (plus extras and PEP 735 dependency groups if asked).

    ``[project.optional-dependencies]`` entries that name the project itself
    (``myapp[aws]``) are expanded; the project itself is not installed (its code is the
    function's source). Tool-specific sources such as ``[tool.uv.sources]`` are not read: use
    the tool's lock file for those.

    Raises:
        InputError: missing file, invalid TOML, dynamic or Poetry-only dependencies, an unknown
            extra or group, or invalid requirements (each with file:line where known).
    """
    extras, groups = names_given(extras, "extras"), names_given(groups, "groups")
    file = existing_file(path, "pyproject.toml")
    display = file.name
    data, text = read_toml(file, display)
    problems = Problems(display)
    entries: list[Entry] = []
    try:
        project = expect(data.get("project", {}), dict, display, "[project]")
        has_deps = "dependencies" in project
        if not has_deps and "dependencies" in project.get("dynamic", []):
            raise Problem(
                f"{place(display, text, 'dynamic')}: [project].dependencies is dynamic, so it "
                "cannot be read without building the project: list the dependencies statically "
                "or use a requirements or lock file"
            )
        poetry = (
            data.get("tool", {}).get("poetry", {}) if isinstance(data.get("tool"), dict) else {}
        )
        poetry_deps = poetry.get("dependencies") if isinstance(poetry, dict) else None
        if not has_deps and isinstance(poetry_deps, dict) and set(poetry_deps) - {"python"}:
            raise Problem(
                f"{display}: the dependencies are in [tool.poetry.dependencies], which only "
                "Poetry resolves: run `poetry lock` and use poetry.lock"
            )
        project_name = project.get("name") if isinstance(project.get("name"), str) else None
        base_note = f"paths are relative to the folder of {display}"
        pending: list[tuple[str, str, str | None]] = [
            (item, "[project].dependencies", None)
            for item in str_list(project.get("dependencies", []), display, "dependencies")
        ]
        optional = expect(
            project.get("optional-dependencies", {}),
            dict,
            display,
            "[project.optional-dependencies]",
        )
        by_extra = {canon(k): k for k in optional}
        wanted_extras = list(extras)
        seen_extras: set[str] = set()
        while wanted_extras:
            extra = wanted_extras.pop(0)
            norm = canon(extra)
            if norm in seen_extras:
                continue
            seen_extras.add(norm)
            key = by_extra.get(norm)
            if key is None:
                known = ", ".join(sorted(optional)) or "none"
                problems.add(
                    f"{display}: extra {extra!r} is not in [project.optional-dependencies] "
                    f"(extras: {known}): ask for an existing one"
                )
                continue
            what = f"[project.optional-dependencies].{key}"
            pending += [(item, what, None) for item in str_list(optional[key], display, what)]
        dependency_groups = expect(
            data.get("dependency-groups", {}), dict, display, "[dependency-groups]"
        )
        if groups:
            pending += [
                (item, f"[dependency-groups].{group}", None)
                for item, group in resolve_groups(dependency_groups, groups, display)
            ]
        while pending:
            item, what, outer_marker = pending.pop(0)
            where = place(display, text, item) if item.strip() else display
            try:
                req, local, is_dir = parse_requirement_text(item, file.parent, base_note)
            except BadRequirement as exc:
                problems.add(f"{where}: {redact_text(item)!r} in {what} {exc.tail}")
                continue
            if outer_marker:
                combined = f"({outer_marker})" + (f" and ({req.marker})" if req.marker else "")
                req.marker = Marker(combined)
            if project_name and req.name == canon(project_name):
                # a self-reference: install the extras it names, not the project itself
                for extra in sorted(req.extras):
                    key = by_extra.get(extra)
                    if key is None:
                        problems.add(
                            f"{where}: {item!r} names extra {extra!r} of this project, which "
                            "is not defined: fix the name"
                        )
                        continue
                    if extra in seen_extras:
                        continue
                    seen_extras.add(extra)
                    what2 = f"[project.optional-dependencies].{key}"
                    marker = str(req.marker) if req.marker else None
                    pending += [(i, what2, marker) for i in str_list(optional[key], display, what2)]
                continue
            entries.append(Entry(req, where, [], local, is_dir))
    except Problem as problem:
        problems.add(str(problem))
    problems.raise_if_any()
    return build_spec(entries, [], IndexSettings(), origin=display, locked=False)
