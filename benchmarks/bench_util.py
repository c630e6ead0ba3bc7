"""Shared plumbing for ``benchmarks/run.py``: timed child processes, folders, events, tables.

Nothing here knows what is being measured; :mod:`bench_installs` and :mod:`bench_synth` do.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


class MeasurementError(RuntimeError):
    """A measured command failed: the numbers would be meaningless, so the run stops."""


# -- child processes ---------------------------------------------------------------------------


def clean_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without host pip/uv settings (``PIP_*``, ``UV_*``).

    pip runs with ``--isolated`` anyway and lambda-wheels ignores them itself; dropping them
    keeps raw uv from reading a host setting the other two do not see.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env.update(
        JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION="1",
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
        CDK_DISABLE_VERSION_CHECK="1",
        CDK_DISABLE_CLI_TELEMETRY="true",
    )
    env.pop("LAMBDA_WHEELS_EVENTS", None)
    env.pop("LAMBDA_WHEELS_CACHE_DIR", None)
    if extra:
        env.update(extra)
    return env


def cache_bytecode(folder: Path) -> None:
    """Let every Python child of this process cache bytecode in ``folder``.

    An installed package ships compiled bytecode; a dev checkout with
    ``PYTHONDONTWRITEBYTECODE=1`` (as on the CI image) would instead compile every imported
    module of lambda-wheels, pip and aws_cdk from source at each start, which is not what users
    pay. ``PYTHONPYCACHEPREFIX`` keeps the repository free of ``__pycache__`` folders; the first
    (unmeasured) run of each tool fills it.
    """
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(folder)


def run_timed(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log: Path,
    what: str,
) -> float:
    """Run ``argv`` to completion and return its wall time in seconds.

    The child's stdout and stderr go to ``log`` (appended). A non-zero exit raises
    :class:`MeasurementError` with the end of that log.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"\n$ {' '.join(argv)}\n")
        fh.flush()
        start = time.perf_counter()
        proc = subprocess.run(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            check=False,
        )
        elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-25:])
        raise MeasurementError(f"{what} failed (exit {proc.returncode}); log {log}:\n{tail}")
    return elapsed


def tool_output(argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    """First line of a version command's output, or ``"unknown"``."""
    try:
        proc = subprocess.run(
            list(argv), capture_output=True, text=True, env=None if env is None else dict(env)
        )
    except OSError:
        return "unknown"
    lines = (proc.stdout or proc.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unknown"


# -- folders, sizes, events ------------------------------------------------------------------


def fresh_dir(path: Path) -> Path:
    """``path`` as a new empty folder (whatever was there is removed)."""
    remove(path)
    path.mkdir(parents=True)
    return path


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def tree_bytes(root: Path, *, skip_pycache: bool = False) -> int:
    """Apparent size of every regular file under ``root`` (symlinks not followed)."""
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        if skip_pycache and "__pycache__" in dirnames:
            dirnames.remove("__pycache__")
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                total += os.stat(path).st_size
    return total


def installed_versions(root: Path) -> dict[str, str]:
    """``{normalized name: version}`` from the ``*.dist-info`` folders at ``root``."""
    found = {}
    for info in root.glob("*.dist-info"):
        name, _, version = info.name[: -len(".dist-info")].rpartition("-")
        found[canonicalize_name(name)] = version
    return dict(sorted(found.items()))


def read_events(path: Path) -> list[dict[str, object]]:
    """The ``LAMBDA_WHEELS_EVENTS`` lines written to ``path`` (none if it does not exist)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def count_events(events: Iterable[Mapping[str, object]], *prefixes: str) -> int:
    return sum(1 for e in events if str(e.get("event", "")).startswith(prefixes))


# -- numbers ---------------------------------------------------------------------------------


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples) if samples else float("nan")


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("nan")


def fmt_seconds(value: float) -> str:
    if value != value:  # NaN: not measured
        return "-"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def fmt_ratio(value: float) -> str:
    return "-" if value != value else f"{value:.2f}x"


def fmt_mb(size: int | None) -> str:
    return "-" if size is None else f"{size / 1e6:.1f}"


# -- tables ----------------------------------------------------------------------------------


def render_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, markdown: bool = False
) -> str:
    """A plain-text table (columns aligned; numbers right-aligned) or a GitHub markdown one."""
    numeric = [
        all(_looks_numeric(row[i]) for row in rows) if rows else False for i in range(len(headers))
    ]
    if markdown:
        align = ["---:" if n else "---" for n in numeric]
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(align) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if n else c.ljust(w) for c, w, n in zip(cells, widths, numeric)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def _looks_numeric(cell: str) -> bool:
    text = cell.rstrip("x%").replace(",", "")
    if text in ("-", ""):
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


# -- the machine -----------------------------------------------------------------------------


def machine_info(uv: str) -> dict[str, str]:
    """What the numbers were measured on (README table header)."""
    cpu = "unknown"
    for line in _lscpu_lines():
        if line.startswith("Model name:"):
            cpu = line.split(":", 1)[1].strip()
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 2**20:.0f} GiB"
    except OSError:
        pass
    cdk = ROOT / "node_modules" / ".bin" / "cdk"
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "os": _os_name(),
        "cpu": cpu,
        "cpus": str(os.cpu_count() or "?"),
        "ram": ram,
        "python": platform.python_version(),
        "uv": tool_output([uv, "--version"]),
        "pip": tool_output([sys.executable, "-m", "pip", "--version"]).split(" from ")[0],
        "node": tool_output(["node", "--version"]),
        "cdk": tool_output([str(cdk), "--version"], clean_environ())
        if cdk.exists()
        else "not installed",
        "aws-cdk-lib": _dist_version("aws-cdk-lib"),
    }


def _lscpu_lines() -> list[str]:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return []
    return out.splitlines()


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.platform()


def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.1f} {five:.1f} {fifteen:.1f}"
