"""Console-script launchers: what an installer writes that Lambda never runs.

An installer turns every ``[console_scripts]`` / ``[gui_scripts]`` entry point of a wheel into a
small launcher in ``<target>/bin`` (``Scripts`` on Windows) that starts the build host's
Python. Lambda never runs them: a function's ``/var/task/bin`` and a layer's
``/opt/python/bin`` are not on the runtime's ``PATH`` (``/var/lang/bin:/usr/local/bin:/usr/bin/:
/bin:/opt/bin``), and code that wants the tool imports its module instead. They are removed.

Files a wheel ships itself as scripts (``<name>.data/scripts``, e.g. the ``uv`` binary, which
``uv.find_uv_bin()`` looks for in ``<target>/bin``) stay: libraries find and run them by path.
"""

from __future__ import annotations

import configparser
import os
from pathlib import Path
from typing import Final

#: Where installers put launchers: ``bin`` (POSIX layout), ``Scripts`` (Windows layout).
SCRIPT_FOLDERS: Final = ("bin", "Scripts")
_SECTIONS: Final = ("console_scripts", "gui_scripts")
#: The names a launcher for entry point ``NAME`` gets (Windows adds ``.exe`` / ``-script.py``).
_LAUNCHER_NAMES: Final = ("{}", "{}.exe", "{}-script.py", "{}-script.pyw")


def entry_point_names(root: Path) -> set[str]:
    """Every console and GUI script name declared by a distribution installed under ``root``."""
    names: set[str] = set()
    for entry_points in root.glob("*.dist-info/entry_points.txt"):
        parser = configparser.ConfigParser(delimiters=("=",), interpolation=None, strict=False)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        try:
            parser.read_string(entry_points.read_text(encoding="utf-8", errors="replace"))
        except configparser.Error:
            continue  # not ours to judge: the launchers, if any, stay
        for section in _SECTIONS:
            if parser.has_section(section):
                names.update(name.strip() for name in parser.options(section))
    return names


def drop_console_scripts(root: Path) -> list[str]:
    """Delete the launchers of ``root``'s entry points (and a script folder left empty).

    Returns the removed paths relative to ``root``, sorted. The distributions' ``RECORD``
    rows for them are dropped by :func:`.tree.normalize_install`, which runs next.
    """
    removed: list[str] = []
    names = entry_point_names(root)
    for folder in SCRIPT_FOLDERS:
        scripts = root / folder
        if not scripts.is_dir() or scripts.is_symlink():
            continue
        for name in sorted(names):
            for pattern in _LAUNCHER_NAMES:
                launcher = scripts / pattern.format(name)
                if launcher.is_file() or launcher.is_symlink():
                    launcher.unlink()
                    removed.append(f"{folder}/{launcher.name}")
        with os.scandir(scripts) as entries:
            empty = next(entries, None) is None
        if empty:
            scripts.rmdir()
    return sorted(removed)


__all__ = ["drop_console_scripts", "entry_point_names"]
