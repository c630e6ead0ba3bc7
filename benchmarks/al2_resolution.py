"""Exact Amazon Linux 2 resolution (issue 9): the filtering view's cost next to plain uv.

Measures, in one run, with a warm uv cache (one untimed warm-up each, then the median of
``--runs`` alternating runs):

* **AL2**: ``uv pip install`` of ``greenlet shapely pandas numpy`` for python3.11 through the
  :class:`FilteringIndexView` (uv at ``<arch>-manylinux_2_28``, the view hiding what glibc 2.26
  cannot run) against plain uv at ``<arch>-manylinux_2_17`` (what uv alone can do for AL2).
  The view's time includes starting and stopping it and computing its report (the manifest's
  "why not newer" data). Target: ratio <= 1.5.
* **AL2023** (the policy of :func:`needs_filtering_view`): python3.12 through the view against
  plain uv at the exact ``manylinux_2_34``: what the view costs when it is not needed.

Prints the versions each installs. Usage::

    python benchmarks/al2_resolution.py [--arch x86_64|arm64] [--runs 3] [--check]

``--check`` exits 1 when the AL2 ratio is above 1.5. Needs network access to PyPI.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from lambda_wheels_cdk.index.view import (
    FilteringIndexView,
    uv_superset_platform,
    with_no_proxy,
)
from lambda_wheels_cdk.inputs.spec import IndexSettings
from lambda_wheels_cdk.target.target import Target

REQUIREMENTS = ("greenlet", "shapely", "pandas", "numpy")
PYPI = "https://pypi.org/simple"
TARGET_RATIO = 1.5


def _uv() -> str:
    from uv import find_uv_bin

    return str(find_uv_bin())


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    if "UV_CACHE_DIR" in os.environ:
        env["UV_CACHE_DIR"] = os.environ["UV_CACHE_DIR"]
    env["UV_NO_CONFIG"] = "1"
    env["UV_PYTHON_DOWNLOADS"] = "never"
    return with_no_proxy(env)


def _install(index_url: str, platform: str, target: Target, dest: Path) -> dict[str, str]:
    argv = [
        _uv(),
        "pip",
        "install",
        "--target",
        str(dest),
        "--python",
        sys.executable,
        "--python-version",
        target.python_version,
        "--python-platform",
        platform,
        "--only-binary",
        ":all:",
        "--no-compile-bytecode",
        "--no-installer-metadata",
        "--default-index",
        index_url,
        *REQUIREMENTS,
    ]
    result = subprocess.run(argv, env=_env(), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"uv failed ({' '.join(argv)}):\n{result.stderr}")
    versions: dict[str, str] = {}
    for info in dest.glob("*.dist-info"):
        name, _, version = info.name[: -len(".dist-info")].rpartition("-")
        versions[name.lower().replace("_", "-")] = version
    return dict(sorted(versions.items()))


def _plain(target: Target, dest: Path) -> tuple[float, dict[str, str]]:
    shutil.rmtree(dest, ignore_errors=True)
    start = time.perf_counter()
    versions = _install(PYPI, target.uv_platform, target, dest)
    return time.perf_counter() - start, versions


def _view(target: Target, dest: Path) -> tuple[float, dict[str, str]]:
    shutil.rmtree(dest, ignore_errors=True)
    start = time.perf_counter()
    view = FilteringIndexView(IndexSettings(), target)
    with view as local:
        assert local.index_url is not None
        versions = _install(local.index_url, uv_superset_platform(target), target, dest)
    view.raise_for_upstream_errors()
    view.report()
    return time.perf_counter() - start, versions


def _compare(
    title: str, target: Target, runs: int, work: Path
) -> tuple[float, dict[str, str], dict[str, str]]:
    _plain(target, work / "plain")  # warm-up: fill uv's cache for both URLs
    _view(target, work / "view")
    plain_times: list[float] = []
    view_times: list[float] = []
    for _ in range(runs):
        seconds, plain_versions = _plain(target, work / "plain")
        plain_times.append(seconds)
        seconds, view_versions = _view(target, work / "view")
        view_times.append(seconds)
    plain_median = statistics.median(plain_times)
    view_median = statistics.median(view_times)
    ratio = view_median / plain_median
    print(f"\n== {title}: {target} ==")
    print(
        f"plain uv --python-platform {target.uv_platform}: median {plain_median:.3f}s "
        f"(runs: {', '.join(f'{t:.3f}' for t in plain_times)})"
    )
    print(
        f"view + uv --python-platform {uv_superset_platform(target)}: median {view_median:.3f}s "
        f"(runs: {', '.join(f'{t:.3f}' for t in view_times)})"
    )
    print(
        f"ratio view / plain: {ratio:.2f}x (medians); "
        f"{min(view_times) / min(plain_times):.2f}x (fastest runs, less sensitive to load)"
    )
    print(f"{'distribution':<18} {'plain uv':>12} {'view':>12}")
    for name in sorted(set(plain_versions) | set(view_versions)):
        left = plain_versions.get(name, "-")
        right = view_versions.get(name, "-")
        mark = "" if left == right else "  <- differs"
        print(f"{name:<18} {left:>12} {right:>12}{mark}")
    return ratio, plain_versions, view_versions


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="x86_64", choices=("x86_64", "arm64"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--check", action="store_true", help="exit 1 if the AL2 ratio > 1.5")
    args = parser.parse_args(argv)
    print(f"requirements: {' '.join(REQUIREMENTS)}; uv: {_uv()}; median of {args.runs}")
    with tempfile.TemporaryDirectory(prefix="lw-bench-") as tmp:
        work = Path(tmp)
        al2 = Target.for_runtime("python3.11", args.arch)
        ratio, _, _ = _compare("AL2, exact glibc 2.26 (issue 9)", al2, args.runs, work)
        al2023 = Target.for_runtime("python3.12", args.arch)
        _compare("AL2023, view not needed (policy check)", al2023, args.runs, work)
    load = getattr(os, "getloadavg", None)
    if load is not None:
        print(f"\nload average (1 min) at the end: {load()[0]:.2f} on {os.cpu_count()} CPUs")
    verdict = "within" if ratio <= TARGET_RATIO else "ABOVE"
    print(f"\nAL2 ratio {ratio:.2f}x: {verdict} the {TARGET_RATIO}x target")
    return 1 if args.check and ratio > TARGET_RATIO else 0


if __name__ == "__main__":
    raise SystemExit(main())
