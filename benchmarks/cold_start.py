"""Cold starts: how fast a deployed bundle imports, against the bundles other tools make.

Usage: ``.venv/bin/python benchmarks/cold_start.py [--runs 3] [--sets small,medium,pandas]``

For each set, in one run on one machine, for python3.12/x86_64 (imported by a CPython 3.12 of
this host), it builds:

* (ours) ``lambda-wheels build`` (default: bytecode for python3.12);
* (ours, no pyc) the same bundle without its ``__pycache__`` folders;
* (uv) raw ``uv pip install --target --python-platform x86_64-manylinux_2_34`` (no bytecode);
* (uv-compile) ``uv pip install --compile-bytecode --python <CPython 3.12>`` (uv's bytecode);
* (pip) ``pip install --platform ... --python-version 3.12 --target`` (pip compiles with the
  host's Python, 3.11 here);
* (best) the raw uv tree compiled *in place, after deployment*, by CPython 3.12 itself: the
  best any bundle can do.

Every bundle is then "deployed" as the CDK CLI and Lambda do it: zipped with every date set to
1980-01-01, unpacked keeping those dates, and imported with ``python -I -B`` (nothing may be
written: /var/task is read-only). Reported: import time (median of ``--runs``), the share of
the bundle's modules loaded from bytecode, size and zipped size, and the cold build time of
ours (bytecode included; empty lambda-wheels cache, uv's download cache warm) against
uv-compile run the same way. Then the targets of issue 16, PASS/MISS.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_util import (
    clean_environ,
    fmt_mb,
    fmt_ratio,
    fmt_seconds,
    load_average,
    machine_info,
    median,
    ratio,
    render_table,
    tree_bytes,
)

from lambda_wheels_cdk.smoke.interpreters import Interpreter, find_interpreter
from lambda_wheels_cdk.target.target import Target

SETS: dict[str, tuple[tuple[str, ...], str]] = {
    "small": (("requests",), "requests"),
    "medium": (("pydantic", "numpy", "orjson"), "pydantic, numpy, orjson"),
    "pandas": (("pandas", "pydantic", "requests"), "pandas, pydantic, requests"),
}
TARGET = Target.for_runtime("python3.12", "x86_64")
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
ZIP_EPOCH = 315_532_800
KINDS = ("ours", "ours, no pyc", "uv", "uv-compile", "pip", "best")


@dataclass
class SetResult:
    name: str
    packages: tuple[str, ...]
    imports: dict[str, list[float]] = field(default_factory=dict)
    from_pyc: dict[str, tuple[int, int]] = field(default_factory=dict)
    size: dict[str, int] = field(default_factory=dict)
    zipped: dict[str, int] = field(default_factory=dict)
    build_ours: list[float] = field(default_factory=list)
    build_uv_compile: list[float] = field(default_factory=list)


def _run(argv: Sequence[str], env: dict[str, str], what: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run(list(argv), env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return elapsed


def _deploy(bundle: Path, dest: Path) -> tuple[Path, int]:
    """Zip as the CDK CLI does (1980 dates), unpack keeping them; return the folder and the
    zip's size."""
    archive = dest.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for root, dirs, files in os.walk(bundle):
            dirs.sort()
            for name in sorted(files):
                path = Path(root, name)
                info = zipfile.ZipInfo(path.relative_to(bundle).as_posix(), ZIP_DATE)
                info.external_attr = (path.stat().st_mode & 0o777) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(dest)
    for root, _, files in os.walk(dest):
        for name in files:
            os.utime(os.path.join(root, name), (ZIP_EPOCH, ZIP_EPOCH))
    size = archive.stat().st_size
    archive.unlink()
    return dest, size


def _import_times(python: Interpreter, folder: Path, modules: str, runs: int) -> list[float]:
    code = f"import sys; sys.path.insert(0, {str(folder)!r}); import {modules}"
    times = []
    for _ in range(runs + 1):  # the first run warms the page cache and is dropped
        start = time.perf_counter()
        subprocess.run([*python.command, "-I", "-B", "-c", code], check=True)
        times.append(time.perf_counter() - start)
    return times[1:]


def _pyc_share(python: Interpreter, folder: Path, modules: str) -> tuple[int, int]:
    code = f"import sys; sys.path.insert(0, {str(folder)!r}); import {modules}"
    proc = subprocess.run(
        [*python.command, "-I", "-B", "-v", "-c", code], capture_output=True, text=True, check=True
    )
    found = re.findall(r"^# code object from '?([^'\n]+)'?$", proc.stderr, re.MULTILINE)
    mine = [p for p in found if p.startswith(str(folder))]
    return sum(p.endswith(".pyc") for p in mine), len(mine)


def measure(name: str, runs: int, work: Path, python: Interpreter, progress: bool) -> SetResult:
    packages, modules = SETS[name]
    result = SetResult(name, packages)
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or "uv"
    env = clean_environ({"UV_NO_CONFIG": "1", "UV_CACHE_DIR": str(work / "uv-cache")})
    py = str(python.command[0])
    trees: dict[str, Path] = {}

    def say(message: str) -> None:
        if progress:
            print(f"[cold-start] {name}: {message}", file=sys.stderr, flush=True)

    platform = ["--python-platform", "x86_64-manylinux_2_34", "--only-binary", ":all:"]
    # warm uv's download cache, so both timed builds measure installing and compiling
    _run(
        [
            uv,
            "pip",
            "install",
            "--target",
            str(work / f"{name}-warm"),
            "--python-version",
            "3.12",
            *platform,
            *packages,
        ],
        env,
        "uv warm-up",
    )
    for i in range(runs):
        out = work / f"{name}-ours-{i}"
        lw_env = {**env, "LAMBDA_WHEELS_CACHE_DIR": str(work / f"lw-cache-{name}-{i}")}
        say(f"lambda-wheels build {i + 1}/{runs}")
        result.build_ours.append(
            _run(
                [
                    sys.executable,
                    "-m",
                    "lambda_wheels_cdk",
                    "build",
                    "--runtime",
                    "python3.12",
                    "--arch",
                    "x86_64",
                    "-o",
                    str(out),
                    *packages,
                ],
                lw_env,
                "lambda-wheels build",
            )
        )
        trees["ours"] = out
        dest = work / f"{name}-uvc-{i}"
        say(f"uv --compile-bytecode {i + 1}/{runs}")
        result.build_uv_compile.append(
            _run(
                [
                    uv,
                    "pip",
                    "install",
                    "--target",
                    str(dest),
                    "--python",
                    py,
                    *platform,
                    "--compile-bytecode",
                    *packages,
                ],
                env,
                "uv --compile-bytecode",
            )
        )
        trees["uv-compile"] = dest
    nopyc = work / f"{name}-ours-nopyc"
    shutil.copytree(trees["ours"], nopyc, ignore=shutil.ignore_patterns("__pycache__"))
    trees["ours, no pyc"] = nopyc
    trees["uv"] = work / f"{name}-warm"
    pip = work / f"{name}-pip"
    say("pip")
    pip_platforms = [a for p in TARGET.platforms() for a in ("--platform", p)]
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--isolated",
            "--quiet",
            "--target",
            str(pip),
            *pip_platforms,
            "--python-version",
            "3.12",
            "--implementation",
            "cp",
            "--only-binary=:all:",
            "--cache-dir",
            str(work / "pip-cache"),
            *packages,
        ],
        env,
        "pip",
    )
    trees["pip"] = pip
    for kind in KINDS:
        if kind == "best":
            continue
        folder, zipped = _deploy(trees[kind], work / f"{name}-deployed-{kind.replace(', ', '-')}")
        result.size[kind], result.zipped[kind] = tree_bytes(trees[kind]), zipped
        say(f"imports: {kind}")
        result.imports[kind] = _import_times(python, folder, modules, runs)
        result.from_pyc[kind] = _pyc_share(python, folder, modules)
        if kind == "uv":
            best = work / f"{name}-deployed-best"
            shutil.copytree(folder, best)
            subprocess.run(
                [*python.command, "-m", "compileall", "-q", "-j", "0", str(best)],
                check=True,
                capture_output=True,
            )
            result.size["best"] = tree_bytes(best)
            result.zipped["best"] = 0
            result.imports["best"] = _import_times(python, best, modules, runs)
            result.from_pyc["best"] = _pyc_share(python, best, modules)
    return result


def tables(results: Sequence[SetResult], runs: int, *, markdown: bool = False) -> str:
    out = []
    headers = ["set", *[f"{k} s" for k in KINDS], "no pyc / ours", "ours / best"]
    rows = []
    for r in results:
        med = {k: median(r.imports[k]) for k in KINDS}
        rows.append(
            [
                r.name,
                *[fmt_seconds(med[k]) for k in KINDS],
                fmt_ratio(ratio(med["ours, no pyc"], med["ours"])),
                fmt_ratio(ratio(med["ours"], med["best"])),
            ]
        )
    out.append(
        f"Import time after a CDK-style deploy (seconds, median of {runs}; python3.12 -I -B)"
    )
    out.append(render_table(headers, rows, markdown=markdown))
    headers = ["set", *[f"{k}" for k in KINDS]]
    rows = [[r.name, *[f"{r.from_pyc[k][0]}/{r.from_pyc[k][1]}" for k in KINDS]] for r in results]
    out += ["", "Modules of the bundle loaded from bytecode (from .pyc / all)"]
    out.append(render_table(headers, rows, markdown=markdown))
    headers = ["set", *[f"{k} MB" for k in KINDS], *[f"{k} zip MB" for k in KINDS[:5]]]
    rows = [
        [r.name, *[fmt_mb(r.size[k]) for k in KINDS], *[fmt_mb(r.zipped[k]) for k in KINDS[:5]]]
        for r in results
    ]
    out += ["", "Size (MB unzipped, and zipped as deployed)"]
    out.append(render_table(headers, rows, markdown=markdown))
    headers = ["set", "ours s", "uv --compile-bytecode s", "ours / uv-compile"]
    rows = [
        [
            r.name,
            fmt_seconds(median(r.build_ours)),
            fmt_seconds(median(r.build_uv_compile)),
            fmt_ratio(ratio(median(r.build_ours), median(r.build_uv_compile))),
        ]
        for r in results
    ]
    out += [
        "",
        f"Cold build with bytecode: empty lambda-wheels cache, uv cache warm (s, median of {runs})",
    ]
    out.append(render_table(headers, rows, markdown=markdown))
    return "\n".join(out)


def targets(results: Sequence[SetResult]) -> list[str]:
    lines = []
    big = [r for r in results if r.name == "pandas"]
    for r in big:
        speed = ratio(median(r.imports["ours, no pyc"]), median(r.imports["ours"]))
        lines.append(
            f"imports >= 2.5x faster than without bytecode (pandas set): {speed:.2f}x "
            f"{'PASS' if speed >= 2.5 else 'MISS'}"
        )
        best = ratio(median(r.imports["ours"]), median(r.imports["best"]))
        lines.append(
            f"imports within 10% of the best possible (pandas set): {best:.2f}x "
            f"{'PASS' if best <= 1.10 else 'MISS'}"
        )
    for r in results:
        build = ratio(median(r.build_ours), median(r.build_uv_compile))
        lines.append(
            f"cold build <= 1.2x uv --compile-bytecode ({r.name}): {build:.2f}x "
            f"{'PASS' if build <= 1.2 else 'MISS'}"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="benchmarks/cold_start.py", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--markdown", action="store_true", help="print GitHub tables")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(argv)
    names = [s for s in args.sets.split(",") if s]
    python = find_interpreter(TARGET)
    if not isinstance(python, Interpreter):
        print(f"cold_start.py: {python.reason}", file=sys.stderr)
        return 1
    machine = machine_info(shutil.which("uv", path=str(Path(sys.executable).parent)) or "uv")
    before = load_average()
    work = Path(tempfile.mkdtemp(prefix="lw-cold-start-")).resolve()
    try:
        results = [measure(n, args.runs, work, python, True) for n in names]
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"Measured {machine['date']}; {machine['cpu']}, {machine['cpus']} CPUs; "
        f"{python.describe()}; load average before/after: {before} / {load_average()}"
    )
    print()
    print(tables(results, args.runs, markdown=args.markdown))
    print()
    print("\n".join(targets(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
