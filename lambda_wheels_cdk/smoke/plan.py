"""What the smoke probe imports, and in what ``sys.path`` and environment: as on Lambda.

- ``sys.path``: the bundle, then the layer folders in the order of Lambda's bootstrap
  (:func:`lambda_sys_path`); ``LD_LIBRARY_PATH`` as on Lambda (:func:`library_path`).
- The modules: every distribution's top-level names (``top_level.txt``, else ``RECORD``), then
  the modules asked for, then the handler's module (:func:`plan_imports`).
- The environment is built from scratch (:func:`probe_env`).

Pure apart from listing the folders' ``*.dist-info``: nothing here starts an interpreter
(:mod:`.runner` does).
"""

from __future__ import annotations

import keyword
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal

from ..distinfo import read_record
from ..errors import InputError, UsageError
from ..target.runtimes import DATACLASS_SLOTS
from ..target.target import Target

#: Environment variables the Lambda runtime sets that handlers commonly read at import time
#: (Lambda docs, "Defined runtime environment variables"). Values are placeholders.
LAMBDA_ENV: Final[Mapping[str, str]] = MappingProxyType(
    {
        "LANG": "C.UTF-8",  # Lambda: en_US.UTF-8, which a host may lack
        "TZ": ":UTC",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "AWS_LAMBDA_FUNCTION_NAME": "lambda-wheels-smoke",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
)

#: Top-level names in a bundle that are never modules of a distribution.
_NOT_MODULES: Final = frozenset({"__pycache__", "bin", "__init__"})
_NOT_MODULE_SUFFIXES: Final = (".dist-info", ".data", ".libs", ".egg-info")


# -- what to import --------------------------------------------------------------------------


@dataclass(frozen=True, **DATACLASS_SLOTS)
class Distribution:
    """An installed distribution found in a bundle or layer folder.

    Attributes:
        name: as in the ``.dist-info`` folder name (``pydantic_core``).
        version: likewise (``2.33.2``).
        path: the ``.dist-info`` folder.
        top_level: its top-level importable names.
        source: where ``top_level`` came from: ``top_level.txt``, ``RECORD`` or ``none``.
    """

    name: str
    version: str
    path: Path
    top_level: tuple[str, ...]
    source: Literal["top_level.txt", "RECORD", "none"]

    def __str__(self) -> str:
        return f"{self.name} {self.version}".strip()


@dataclass(frozen=True, **DATACLASS_SLOTS)
class ImportPlan:
    """What the probe does: the ``sys.path`` it sets and the modules it imports, in order."""

    sys_path: tuple[str, ...]
    modules: tuple[str, ...]
    owners: Mapping[str, tuple[str, ...]]
    skipped: tuple[str, ...] = ()
    handler: str | None = None
    handler_module: str | None = None
    notes: tuple[str, ...] = ()


def lambda_sys_path(bundle: Path, layers: Sequence[Path], python: tuple[int, int]) -> list[Path]:
    """The ``sys.path`` entries Lambda gives a function, mapped onto local folders.

    Lambda's bootstrap puts ``/var/task`` (the bundle) first, then
    ``/opt/python/lib/pythonX.Y/site-packages``, then ``/opt/python``. Layers are extracted
    into ``/opt`` in order, later ones overwriting earlier ones, so each layer folder's
    ``python/lib/pythonX.Y/site-packages`` comes first (last layer first), then each layer's
    ``python`` (last layer first).

    Args:
        bundle: the function's code folder (what ``/var/task`` holds).
        layers: layer folders (what each layer zip holds: ``python/...``), in the function's
            layer order.
        python: the target's ``(major, minor)``.
    """
    site = Path("python", "lib", "python{}.{}".format(*python), "site-packages")
    newest_first = list(reversed(layers))
    return [
        bundle,
        *(layer / site for layer in newest_first),
        *(layer / "python" for layer in newest_first),
    ]


def library_path(bundle: Path, layers: Sequence[Path]) -> list[Path]:
    """The ``LD_LIBRARY_PATH`` entries Lambda has for the bundle and layers.

    Lambda: ``...:/var/task:/var/task/lib:/opt/lib`` (base image Dockerfiles); a later layer's
    ``lib/`` files win, so the last layer comes first.
    """
    return [bundle, bundle / "lib", *(layer / "lib" for layer in reversed(layers))]


def top_level_from_record(paths: Iterable[str]) -> list[str]:
    """Top-level importable names among the paths a distribution's ``RECORD`` lists.

    Counts a top-level ``name.py``, an extension module (``name.cpython-312-x86_64-linux-gnu.so``,
    ``name.abi3.so``, ``name.so`` not named ``lib*``, ``name.pyd``), and a folder holding Python
    code (any ``.py`` or tagged extension module below it: regular and namespace packages).
    Skips ``*.dist-info``, ``*.data``, ``*.libs`` (auditwheel's vendored libraries), ``bin``,
    ``__pycache__``, paths leaving the folder (``../../bin/x``) and names that are not
    identifiers. Pure: reads nothing.
    """
    names: set[str] = set()
    for raw in paths:
        path = raw.replace("\\", "/").strip()
        if not path or path.startswith(("/", "../")):
            continue
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if not parts:
            continue
        head = parts[0]
        if head in _NOT_MODULES or head.endswith(_NOT_MODULE_SUFFIXES):
            continue
        if len(parts) == 1:
            name = _module_name(head, top=True)
        elif "__pycache__" not in parts and _module_name(parts[-1], top=False) is not None:
            name = head
        else:
            name = None
        if name is not None and name not in _NOT_MODULES and _importable(name):
            names.add(name)
    return sorted(names)


def read_distributions(folder: Path) -> list[Distribution]:
    """The distributions installed directly in ``folder`` (one ``*.dist-info`` each), by name.

    Top-level names come from ``top_level.txt`` when present (exactly its names), else from
    ``RECORD`` (:func:`top_level_from_record`).
    """
    found: list[Distribution] = []
    try:
        entries = sorted(folder.glob("*.dist-info"))
    except OSError:
        return found
    for dist_info in entries:
        if not dist_info.is_dir():
            continue
        stem = dist_info.name[: -len(".dist-info")]
        name, _, version = stem.partition("-")
        top_level_txt = dist_info / "top_level.txt"
        if top_level_txt.is_file():
            lines = top_level_txt.read_text(encoding="utf-8", errors="replace").splitlines()
            names = [n.strip().replace("/", ".") for n in lines]
            top = tuple(n for n in dict.fromkeys(names) if n and _importable(n))
            found.append(Distribution(name, version, dist_info, top, "top_level.txt"))
        elif (record := read_record(dist_info)) is not None:
            top = tuple(top_level_from_record(record))
            found.append(Distribution(name, version, dist_info, top, "RECORD"))
        else:
            found.append(Distribution(name, version, dist_info, (), "none"))
    return found


def parse_handler(handler: str) -> tuple[str, str]:
    """Split a Lambda handler string into ``(module, function)``.

    ``app.handler`` -> ``("app", "handler")``; ``pkg/app.handler`` and ``pkg.app.handler`` ->
    ``("pkg.app", "handler")`` (Lambda's runtime splits at the last dot and turns ``/`` into
    ``.``).

    Raises:
        UsageError: not ``module.function``.
    """
    module, _, function = handler.strip().rpartition(".")
    module = module.replace("/", ".")
    if not module or not _importable(module) or not _importable(function):
        raise UsageError(
            f"handler {handler!r} is not 'module.function'; pass e.g. 'app.handler' for a "
            "function named handler in app.py at the bundle root"
        )
    return module, function


def plan_imports(
    bundle: Path,
    target: Target,
    *,
    layers: Sequence[Path] = (),
    handler: str | None = None,
    skip: Iterable[str] = (),
    modules: Iterable[str] = (),
) -> ImportPlan:
    """Decide what the probe imports: every distribution's top-level names (first folder on
    ``sys.path`` wins when two folders hold the same distribution), then ``modules``, then the
    handler's module, minus ``skip``.

    Raises:
        InputError: the bundle or a layer folder does not exist, or there is nothing to import.
        UsageError: the handler is not ``module.function``.
    """
    for folder, what in [(bundle, "bundle"), *((layer, "layer") for layer in layers)]:
        if not folder.is_dir():
            raise InputError(f"{what} folder {folder} does not exist; pass the folder to smoke")
    handler_module = parse_handler(handler)[0] if handler else None
    sys_path = lambda_sys_path(bundle, layers, target.python)
    skip_set = set(skip)
    owners: dict[str, list[str]] = {}
    seen: dict[str, Distribution] = {}
    notes: list[str] = []
    for folder in sys_path:
        for dist in read_distributions(folder):
            key = dist.name.lower().replace("-", "_").replace(".", "_")
            if key in seen:
                notes.append(f"{dist.path} is shadowed by {seen[key].path}")
                continue
            seen[key] = dist
            if dist.source == "none":
                notes.append(f"{dist.path} has neither top_level.txt nor RECORD: not imported")
            for name in dist.top_level:
                owners.setdefault(name, []).append(str(dist))
    wanted = [*sorted(owners), *modules]
    if handler_module is not None:
        wanted.append(handler_module)
    ordered = list(dict.fromkeys(wanted))
    if not ordered:
        raise InputError(
            f"{bundle} holds no *.dist-info and no handler was given: nothing to import; point "
            "at the bundle's root folder or pass a handler"
        )
    return ImportPlan(
        sys_path=tuple(str(p) for p in sys_path),
        modules=tuple(m for m in ordered if m not in skip_set),
        owners=MappingProxyType({m: tuple(o) for m, o in owners.items()}),
        skipped=tuple(m for m in ordered if m in skip_set),
        handler=handler,
        handler_module=handler_module,
        notes=tuple(notes),
    )


def probe_env(
    target: Target,
    bundle: Path,
    layers: Sequence[Path] = (),
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The probe's whole environment: :data:`LAMBDA_ENV`, ``LAMBDA_TASK_ROOT``,
    ``AWS_EXECUTION_ENV``, ``LD_LIBRARY_PATH`` as on Lambda, then ``extra``. Nothing is inherited
    from the host."""
    env = dict(LAMBDA_ENV)
    env["LAMBDA_TASK_ROOT"] = str(bundle)
    env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{target.runtime}"
    env["LD_LIBRARY_PATH"] = ":".join(str(p) for p in library_path(bundle, layers))
    env.update(extra or {})
    return env


def _module_name(filename: str, *, top: bool) -> str | None:
    """The module a file defines, if it is Python code (see :func:`top_level_from_record`)."""
    if filename.endswith(".py"):
        return filename[:-3]
    stem, _, rest = filename.partition(".")
    if filename.endswith(".pyd"):
        return stem
    if filename.endswith(".so"):
        tagged = rest.startswith(("cpython-", "abi3.", "cp3"))
        if tagged or (top and rest == "so" and not stem.startswith("lib")):
            return stem
    return None


def _importable(dotted: str) -> bool:
    return all(p.isidentifier() and not keyword.iskeyword(p) for p in dotted.split("."))
