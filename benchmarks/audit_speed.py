"""How fast is the bundle audit on a large real bundle? Prints MB/s (target: >= 200 MB/s).

Builds numpy + pandas + pyarrow for python3.12/x86_64 (~270 MB unzipped, ~4,000 files, ~100
ELF files, among them pyarrow's 50 MB libarrow) with uv into a temporary folder, then audits it
several times and prints the throughput of each run: unzipped bytes of the tree divided by wall
time of :func:`lambda_wheels_cdk.core.audit.audit`. ``--zip`` also measures the same tree as a
deflated zip (ELF members are unzipped up to their dynamic segment, which sits near the end of
a library: unzipping is most of that run's time).

    .venv/bin/python benchmarks/audit_speed.py [--runs 5] [--zip] [--tree DIR] [--keep]

Host pip/uv settings are not inherited (PIP_*/UV_* dropped, UV_NO_CONFIG=1). The numbers
include the OS page cache being warm (the install just wrote the files); the audit's own work
is reading headers, dynamic tables and metadata, not whole files.
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
import zipfile
from pathlib import Path

from lambda_wheels_cdk.core.audit import audit
from lambda_wheels_cdk.core.target import Target

PACKAGES = ("numpy", "pandas", "pyarrow")
TARGET = Target.for_runtime("python3.12", "x86_64")
GOAL_MB_S = 200.0


def build_tree(dest: Path) -> None:
    from uv import find_uv_bin

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env["UV_NO_CONFIG"] = "1"
    argv = [
        str(find_uv_bin()),
        "pip",
        "install",
        "--quiet",
        "--target",
        str(dest),
        "--python-platform",
        "x86_64-manylinux_2_28",
        "--python-version",
        "3.12",
        "--only-binary",
        ":all:",
        "--no-compile-bytecode",
        *PACKAGES,
    ]
    subprocess.run(argv, env=env, check=True)


def make_zip(tree: Path, dest: Path) -> None:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        for path in sorted(tree.rglob("*")):
            if path.is_file():
                z.write(path, path.relative_to(tree).as_posix())


def measure(label: str, path: Path, runs: int) -> float:
    speeds = []
    for i in range(runs):
        start = time.perf_counter()
        report = audit(path, TARGET)
        elapsed = time.perf_counter() - start
        speeds.append(report.total_bytes / elapsed / 1e6)
        if i == 0:
            print(f"{label}: {report.summary()}")
        print(f"  run {i + 1}: {elapsed:.3f} s  {speeds[-1]:,.0f} MB/s")
    best, median = max(speeds), statistics.median(speeds)
    print(f"  {label}: median {median:,.0f} MB/s, best {best:,.0f} MB/s, first {speeds[0]:,.0f}")
    return median


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--zip", action="store_true", help="also audit the tree as a zip")
    parser.add_argument("--tree", type=Path, help="audit this folder instead of building one")
    parser.add_argument("--keep", action="store_true", help="keep the built tree and print it")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="lambda-wheels-audit-bench-"))
    try:
        tree = args.tree
        if tree is None:
            tree = work / "tree"
            start = time.perf_counter()
            build_tree(tree)
            print(f"built {', '.join(PACKAGES)} in {time.perf_counter() - start:.1f} s: {tree}")
        median = measure("folder", tree, args.runs)
        if args.zip:
            bundle = work / "bundle.zip"
            make_zip(tree, bundle)
            print(f"zip: {bundle.stat().st_size / 1e6:,.1f} MB deflated")
            measure("zip", bundle, max(1, args.runs // 2))
        verdict = "ok" if median >= GOAL_MB_S else "BELOW GOAL"
        print(f"audit speed: {median:,.0f} MB/s (goal >= {GOAL_MB_S:.0f} MB/s): {verdict}")
        return 0 if median >= GOAL_MB_S else 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
