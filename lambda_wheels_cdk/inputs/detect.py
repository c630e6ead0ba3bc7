"""Which input an entry folder holds (:func:`detect`, in the order the package docstring
gives) and loading any input by its file name (:func:`load`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .pipfile import load_pipfile_lock
from .poetry import load_poetry_lock
from .pylock import load_pylock
from .pyproject import load_pyproject
from .reading import Names, PathLike, fail, names_given, read_toml
from .requirements import load_requirements_file
from .spec import DependencySpec, dedupe
from .uvlock import load_uv_lock

__all__ = ["detect", "load"]


def _pyproject_kind(path: Path) -> str | None:
    """``"project"`` if it has [project].dependencies, ``"poetry"`` for Poetry-only deps."""
    data, _ = read_toml(path, "pyproject.toml")
    project = data.get("project")
    if isinstance(project, dict) and "dependencies" in project:
        return "project"
    tool = data.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    deps = poetry.get("dependencies") if isinstance(poetry, dict) else None
    if isinstance(deps, dict) and set(deps) - {"python"}:
        return "poetry"
    return None


def detect(entry_dir: PathLike) -> Path | None:
    """The dependency input of an entry folder, by the order in the package docstring.

    Returns ``None`` when the folder has no dependency input (a function without
    dependencies).

    Raises:
        InputError: ``entry_dir`` is not a folder, or it holds an input that cannot be used
            as is (``Pipfile`` without ``Pipfile.lock``, Poetry dependencies without
            ``poetry.lock``, ``uv.lock`` without ``pyproject.toml``), or an invalid
            ``pyproject.toml``.
    """
    folder = Path(entry_dir)
    if not folder.is_dir():
        fail(f"{os.fspath(entry_dir)}: not a folder: pass the function's entry folder")

    def has(name: str) -> bool:
        return (folder / name).is_file()

    pyproject = has("pyproject.toml")
    if has("pylock.toml"):
        return folder / "pylock.toml"
    if has("uv.lock") and pyproject:
        return folder / "uv.lock"
    if has("poetry.lock"):
        return folder / "poetry.lock"
    if has("Pipfile.lock"):
        return folder / "Pipfile.lock"
    if has("requirements.txt"):
        return folder / "requirements.txt"
    kind = _pyproject_kind(folder / "pyproject.toml") if pyproject else None
    if kind == "project":
        return folder / "pyproject.toml"
    if kind == "poetry":
        fail(
            f"{folder.name or os.fspath(entry_dir)}: pyproject.toml has Poetry dependencies but "
            "there is no poetry.lock: run `poetry lock`"
        )
    if has("Pipfile"):
        fail(
            f"{folder.name or os.fspath(entry_dir)}: Pipfile has no Pipfile.lock: run `pipenv lock`"
        )
    if has("uv.lock"):
        fail(
            f"{folder.name or os.fspath(entry_dir)}: uv.lock has no pyproject.toml next to it: "
            "add the pyproject.toml it was locked from"
        )
    return None


def _kind_of(name: str) -> str | None:
    lower = name.lower()
    if name == "pyproject.toml":
        return "pyproject"
    if name == "uv.lock":
        return "uv"
    if name == "poetry.lock":
        return "poetry"
    if name == "Pipfile.lock":
        return "pipfile"
    if name == "pylock.toml" or re.fullmatch(r"pylock\.[^.]+\.toml", name):
        return "pylock"
    if lower.endswith(".txt"):
        return "requirements"
    return None


def load(
    path_or_dir: PathLike, *, extras: Names = (), groups: Names = (), frozen: bool = True
) -> DependencySpec:
    """Load any supported input, by file name; a folder is searched with :func:`detect`.

    ``requirements*.txt`` / ``*.txt``, ``pyproject.toml``, ``uv.lock``, ``poetry.lock``,
    ``Pipfile.lock``, ``pylock.toml`` / ``pylock.<name>.toml``. ``groups`` are *added* to the
    main dependencies (Poetry's "main" group, Pipfile's "default" category). ``frozen`` only
    matters for ``uv.lock`` (see :func:`load_uv_lock`). A folder without any input gives an
    empty spec.

    Raises:
        InputError: the path does not exist, its name is not a known input, extras/groups were
            asked of a requirements file (or extras of a Pipfile.lock), or loading failed.
    """
    extras, groups = names_given(extras, "extras"), names_given(groups, "groups")
    path = Path(path_or_dir)
    try:
        is_dir = path.is_dir()
        exists = is_dir or path.exists()
    except (OSError, ValueError):
        is_dir = exists = False
    if is_dir:
        found = detect(path)
        if found is None:
            return DependencySpec(requirements=(), origin="no dependency input")
        path = found
    elif not exists:
        fail(
            f"{os.fspath(path_or_dir)}: no such file or folder: check the path (relative paths "
            "are relative to the current folder)"
        )
    kind = _kind_of(path.name)
    if kind is None:
        fail(
            f"{path.name}: not a dependency input lambda-wheels reads: use requirements.txt "
            "(or any *.txt requirements file), pyproject.toml, uv.lock, poetry.lock, "
            "Pipfile.lock or pylock.toml"
        )
    if kind == "requirements":
        if extras or groups:
            fail(
                f"{path.name}: extras and groups apply to pyproject.toml and lock files, not "
                "requirements files: list what you need in the file instead"
            )
        return load_requirements_file(path)
    if kind == "pyproject":
        return load_pyproject(path, extras=extras, groups=groups)
    if kind == "uv":
        return load_uv_lock(path, extras=extras, groups=groups, frozen=frozen)
    if kind == "poetry":
        return load_poetry_lock(path, groups=dedupe(("main", *groups)), extras=extras)
    if kind == "pipfile":
        if extras:
            fail(
                f"{path.name}: Pipfile.lock has no extras to choose: ask for categories with "
                "groups instead"
            )
        return load_pipfile_lock(path, categories=dedupe(("default", *groups)))
    return load_pylock(path, extras=extras, groups=groups)
