"""Dependency installs side by side: (a) pip, (b) raw uv, (c) ``lambda-wheels build``.

One *cell* is a dependency set on a target. For each cell, in this order:

* **cold**: every tool starts from empty caches (a fresh ``--cache-dir`` for pip, a fresh
  ``UV_CACHE_DIR`` for uv and lambda-wheels, a fresh ``LAMBDA_WHEELS_CACHE_DIR``);
* **warm**: each tool reuses the download cache its first cold run filled; lambda-wheels gets
  an empty bundle cache every time, so it installs;
* **rebuild**: ``lambda-wheels build`` of the same inputs into a new ``-o`` against the bundle
  cache the last warm run filled (a cache hit: the events file must show no install), once as
  the CLI a user runs and once as an in-process ``build_bundle()`` call (the same work without
  interpreter start-up and imports);
* **size** of each tool's output, and the versions it installed, from the first cold run;
* **audit** throughput on lambda-wheels' bundle (large set only).

The tools run in a rotating order within a repetition so that a busy neighbour on the machine
does not always slow the same one down.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench_util import (
    MeasurementError,
    clean_environ,
    count_events,
    fresh_dir,
    installed_versions,
    median,
    read_events,
    remove,
    run_timed,
    tree_bytes,
)
from packaging.utils import canonicalize_name

from lambda_wheels_cdk.audit.engine import audit
from lambda_wheels_cdk.build.pipeline import BuildOptions, BundleCache, build_bundle
from lambda_wheels_cdk.inputs.requirements import from_list
from lambda_wheels_cdk.target.target import Target

#: The issue's dependency sets, smallest first.
SETS: dict[str, tuple[str, ...]] = {
    "small": ("requests",),
    "medium": ("pydantic", "numpy", "cryptography", "orjson"),
    "large": ("pandas", "pyarrow"),
}
#: The issue's targets: (Lambda runtime, Lambda architecture).
TARGETS: tuple[tuple[str, str], ...] = (("python3.12", "arm64"), ("python3.11", "x86_64"))
TOOLS: tuple[str, ...] = ("pip", "uv", "lw")
TOOL_LABELS = {"pip": "pip (a)", "uv": "uv (b)", "lw": "lambda-wheels (c)"}

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Commands:
    """How each tool is invoked (the command lines the README documents)."""

    python: str  # the interpreter whose pip is measured (the dev venv's)
    uv: str  # uv binary from ``uv.find_uv_bin()``
    lambda_wheels: str  # the ``lambda-wheels`` console script

    def argv(
        self, tool: str, target: Target, packages: tuple[str, ...], out: Path, caches: Path
    ) -> tuple[list[str], dict[str, str]]:
        """The command line and extra environment of one install into ``out``."""
        if tool == "pip":
            # --isolated: ignore this machine's pip.conf/PIP_* (extra indexes, find-links,
            # constraints); --cache-dir because --isolated also ignores PIP_CACHE_DIR
            argv = [
                self.python,
                "-m",
                "pip",
                "install",
                "--isolated",
                "--index-url",
                "https://pypi.org/simple",
                "--platform",
                f"manylinux2014_{target.arch}",
                "--only-binary=:all:",
                "--python-version",
                target.python_version,
                "--implementation",
                "cp",
                "--target",
                str(out),
                "--cache-dir",
                str(caches / "pip"),
                *packages,
            ]
            return argv, {}
        if tool == "uv":
            argv = [
                self.uv,
                "pip",
                "install",
                "--python-platform",
                target.uv_platform,
                "--python-version",
                target.python_version,
                "--only-binary",
                ":all:",
                "--target",
                str(out),
                *packages,
            ]
            return argv, {"UV_NO_CONFIG": "1", "UV_CACHE_DIR": str(caches / "uv")}
        if tool == "lw":
            argv = [
                self.lambda_wheels,
                "build",
                "--runtime",
                target.runtime,
                "--arch",
                target.lambda_arch,
                "-o",
                str(out),
                *packages,
            ]
            return argv, {
                "UV_CACHE_DIR": str(caches / "uv"),
                "LAMBDA_WHEELS_CACHE_DIR": str(caches / "lw"),
                "LAMBDA_WHEELS_EVENTS": str(caches / "events.jsonl"),
            }
        raise ValueError(f"unknown tool {tool!r}")


@dataclass
class AuditResult:
    megabytes: float
    seconds: list[float] = field(default_factory=list)

    @property
    def mb_per_s(self) -> float:
        return self.megabytes / median(self.seconds) if self.seconds else float("nan")


@dataclass
class Cell:
    """Every measurement of one dependency set on one target (seconds; bytes)."""

    set_name: str
    packages: tuple[str, ...]
    target: str
    cold: dict[str, list[float]] = field(default_factory=lambda: {t: [] for t in TOOLS})
    warm: dict[str, list[float]] = field(default_factory=lambda: {t: [] for t in TOOLS})
    rebuild_cli: list[float] = field(default_factory=list)
    rebuild_inprocess: list[float] = field(default_factory=list)
    rebuild_installs: int = 0
    rebuild_hits: int = 0
    sizes: dict[str, int] = field(default_factory=dict)
    versions: dict[str, dict[str, str]] = field(default_factory=dict)
    audit: AuditResult | None = None

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        if self.audit is not None:
            data["audit"]["mb_per_s"] = self.audit.mb_per_s
        return data


def tool_environ(tool: str, extra: dict[str, str]) -> dict[str, str]:
    """The child environment of one tool run.

    pip (a) compiles ``.pyc`` files into ``--target`` as users get them, so it must not see
    the bytecode prefix that :func:`bench_util.cache_bytecode` sets for Python children (pip
    would write the target's ``.pyc`` files there instead); its own modules ship compiled.
    """
    env = clean_environ(extra)
    if tool == "pip":
        env.pop("PYTHONPYCACHEPREFIX", None)
    return env


def _order(rep: int) -> tuple[str, ...]:
    """Rotate the tools each repetition: pip, uv, lw / uv, lw, pip / lw, pip, uv."""
    k = rep % len(TOOLS)
    return TOOLS[k:] + TOOLS[:k]


def measure_cell(
    cmds: Commands,
    set_name: str,
    runtime: str,
    arch: str,
    *,
    runs: int,
    pip_cold_runs: int,
    audit_runs: int,
    work: Path,
    progress: Progress,
) -> Cell:
    """Measure one set on one target (see module docstring). Raises MeasurementError."""
    target = Target.for_runtime(runtime, arch)
    packages = SETS[set_name]
    cell = Cell(set_name, packages, str(target))
    cell_dir = fresh_dir(work / f"{set_name}-{runtime}-{arch}")
    logs = cell_dir / "logs"
    env = clean_environ()
    label = f"{set_name} {target}"

    def install(tool: str, phase: str, rep: int, caches: Path, out: Path) -> float:
        argv, extra = cmds.argv(tool, target, packages, out, caches)
        seconds = run_timed(
            argv,
            env=tool_environ(tool, extra),
            cwd=cell_dir,
            log=logs / f"{phase}-{tool}.log",
            what=f"{TOOL_LABELS[tool]} {phase} install of {' '.join(packages)} for {target}",
        )
        _check_install(tool, packages, out, caches / "events.jsonl")
        progress(f"{label}: {phase} {rep + 1}/{runs} {TOOL_LABELS[tool]}: {seconds:.2f} s")
        return seconds

    # cold: empty download caches; the first repetition's caches become the warm caches
    warm_caches = {tool: cell_dir / f"cold0-{tool}" for tool in TOOLS}
    for rep in range(runs):
        for tool in _order(rep):
            if tool == "pip" and rep >= pip_cold_runs:
                continue
            caches = fresh_dir(cell_dir / f"cold{rep}-{tool}")
            out = cell_dir / f"out-cold{rep}-{tool}"
            cell.cold[tool].append(install(tool, "cold", rep, caches, out))
            if rep == 0:
                cell.sizes[tool] = tree_bytes(out)
                cell.versions[tool] = installed_versions(out)
                if tool == "pip":
                    cell.sizes["pip_no_pyc"] = tree_bytes(out, skip_pycache=True)
            if tool == "lw" and rep == 0 and audit_runs:
                cell.audit = _measure_audit(out, target, audit_runs)
                progress(f"{label}: audit {cell.audit.mb_per_s:,.0f} MB/s")
            remove(out)
            if rep > 0:
                remove(caches)

    # warm: full download caches, empty lambda-wheels bundle cache
    last_bundle_cache = cell_dir / "unused"
    for rep in range(runs):
        for tool in _order(rep):
            caches = warm_caches[tool]
            if tool == "lw":
                remove(caches / "lw")
                last_bundle_cache = caches / "lw"
            out = cell_dir / f"out-warm{rep}-{tool}"
            cell.warm[tool].append(install(tool, "warm", rep, caches, out))
            remove(out)

    # rebuild of unchanged inputs: a bundle cache hit
    events = cell_dir / "rebuild-events.jsonl"
    rebuild_env = {
        **env,
        "UV_CACHE_DIR": str(warm_caches["lw"] / "uv"),
        "LAMBDA_WHEELS_CACHE_DIR": str(last_bundle_cache),
        "LAMBDA_WHEELS_EVENTS": str(events),
    }
    for rep in range(runs):
        remove(events)
        out = cell_dir / f"out-rebuild{rep}"
        argv = cmds.argv("lw", target, packages, out, warm_caches["lw"])[0]
        seconds = run_timed(
            argv,
            env=rebuild_env,
            cwd=cell_dir,
            log=logs / "rebuild-lw.log",
            what=f"lambda-wheels rebuild of {' '.join(packages)} for {target}",
        )
        found = read_events(events)
        cell.rebuild_installs += count_events(found, "install-start")
        cell.rebuild_hits += count_events(found, "cache-hit")
        cell.rebuild_cli.append(seconds)
        remove(out)
    spec = from_list(list(packages))
    options = BuildOptions()
    for rep in range(runs):
        out = cell_dir / f"out-inprocess{rep}"
        start = time.perf_counter()
        manifest = build_bundle(
            spec, target, out, options=options, cache=BundleCache(last_bundle_cache), environ=env
        )
        cell.rebuild_inprocess.append(time.perf_counter() - start)
        if manifest.cache != "hit":
            cell.rebuild_installs += 1
        remove(out)
    progress(
        f"{label}: rebuild {median(cell.rebuild_cli):.2f} s (CLI), "
        f"{median(cell.rebuild_inprocess):.3f} s (in-process), "
        f"{cell.rebuild_installs} installs"
    )
    remove(cell_dir)
    return cell


def _check_install(tool: str, packages: tuple[str, ...], out: Path, events: Path) -> None:
    """A timing means nothing if the tool did not install: every package must be in ``out``,
    and lambda-wheels must have run exactly one install (not a cache hit)."""
    found = installed_versions(out) if out.is_dir() else {}
    missing = [p for p in packages if canonicalize_name(p) not in found]
    if missing:
        raise MeasurementError(
            f"{TOOL_LABELS[tool]} exited 0 but {out} lacks {', '.join(missing)} "
            f"(found: {', '.join(found) or 'nothing'})"
        )
    if tool == "lw":
        installs = count_events(read_events(events), "install-start")
        if installs != 1:
            raise MeasurementError(
                f"lambda-wheels ran {installs} installs for one build of {' '.join(packages)} "
                f"(expected 1; events in {events})"
            )
        remove(events)


def warm_up(cmds: Commands, *, work: Path, progress: Progress) -> None:
    """One unmeasured install per tool (fills the bytecode cache; first TLS/DNS handshakes)."""
    runtime, arch = TARGETS[0]
    target = Target.for_runtime(runtime, arch)
    folder = fresh_dir(work / "warm-up")
    for tool in TOOLS:
        caches = fresh_dir(folder / tool)
        argv, extra = cmds.argv(tool, target, SETS["small"], caches / "out", caches)
        seconds = run_timed(
            argv,
            env=tool_environ(tool, extra),
            cwd=folder,
            log=folder / f"{tool}.log",
            what=f"warm-up install with {TOOL_LABELS[tool]}",
        )
        progress(f"warm-up (not measured): {TOOL_LABELS[tool]}: {seconds:.2f} s")
    remove(folder)


def _measure_audit(bundle: Path, target: Target, runs: int) -> AuditResult:
    """Audit ``bundle`` ``runs`` times in this process; MB = the report's unzipped bytes."""
    result: AuditResult | None = None
    for _ in range(runs):
        start = time.perf_counter()
        report = audit(bundle, target)
        seconds = time.perf_counter() - start
        if report.errors:
            raise MeasurementError(
                f"the audit of lambda-wheels' own bundle {bundle} found errors:\n"
                + report.format_text()
            )
        if result is None:
            result = AuditResult(megabytes=report.total_bytes / 1e6)
        result.seconds.append(seconds)
    assert result is not None
    return result


def default_commands() -> Commands:
    """The dev venv's pip, the uv binary of the ``uv`` package, the venv's lambda-wheels."""
    import shutil

    from uv import find_uv_bin

    script = Path(sys.executable).with_name("lambda-wheels")
    lw = str(script) if script.exists() else shutil.which("lambda-wheels")
    if lw is None:
        raise MeasurementError(
            "the lambda-wheels command was not found next to this interpreter or on PATH; "
            "run `make setup` and use .venv/bin/python benchmarks/run.py"
        )
    return Commands(python=sys.executable, uv=str(find_uv_bin()), lambda_wheels=lw)
