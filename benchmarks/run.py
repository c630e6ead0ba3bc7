"""lambda-wheels benchmarks: pip vs raw uv vs ``lambda-wheels``, rebuilds, synth, audit.

One command, one machine, one run (issue 7)::

    .venv/bin/python benchmarks/run.py [--runs 3] [--quick] [--json OUT] [--markdown OUT]

Prints, as medians of ``--runs`` repetitions (default 3):

* cold and warm installs of a small (``requests``), a medium (``pydantic numpy cryptography
  orjson``) and a large (``pandas pyarrow``) set for python3.12/arm64 and python3.11/x86_64 with
  (a) ``pip install --platform manylinux2014_<arch> ...``, (b) raw ``uv pip install`` and (c)
  ``lambda-wheels build``; ratios (c)/(b) and (a)/(c);
* a rebuild of unchanged inputs (bundle cache hit; the events file must show no install);
* ``cdk synth`` of a 20-function app over 3 dependency sets: first, second, and the same app
  with plain ``Code.from_asset`` (the floor); installs counted from ``LAMBDA_WHEELS_EVENTS``;
* audit throughput on the large set's bundle; bundle sizes of (c) vs (a) and (b);
* a final block: each target of the issue, measured value, PASS/MISS and by how much.

Cold pip installs of the large set take about half a minute each, so pip cold runs once per
cell by default (``--pip-cold-runs``); the table says so. The exit status is 0 whether targets
pass or not (this is a report), 1 when a measurement itself failed, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_installs import (
    SETS,
    TARGETS,
    TOOLS,
    Cell,
    default_commands,
    measure_cell,
    warm_up,
)
from bench_synth import DEPENDENCY_SETS, FUNCTIONS, SynthResult, measure_synth
from bench_util import (
    MeasurementError,
    cache_bytecode,
    fmt_mb,
    fmt_ratio,
    fmt_seconds,
    load_average,
    machine_info,
    median,
    ratio,
    render_table,
)

REPRODUCE = ".venv/bin/python benchmarks/run.py"
Table = tuple[list[str], list[list[str]]]

# The targets.
COLD_VS_UV_MAX = 1.2
COLD_VS_PIP_MIN = 6.0
REBUILD_MAX_S = 0.3
SYNTH_INSTALLS_FIRST = len(DEPENDENCY_SETS)
SECOND_VS_FLOOR_MAX = 1.15
AUDIT_MIN_MB_S = 200.0


# -- targets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One measured value against one limit."""

    where: str
    value: float
    limit: float
    kind: Literal["max", "min", "eq"]  # value <= limit, value >= limit, value == limit
    unit: str
    context: str = ""  # what bounds the value, shown next to a miss
    limit_name: str = ""  # when the limit is itself a measurement: what it is, e.g. "uv (b)"

    @property
    def passed(self) -> bool:
        if self.value != self.value:
            return False
        if self.kind == "max":
            return self.value <= self.limit
        if self.kind == "min":
            return self.value >= self.limit
        return self.value == self.limit

    def shown(self) -> str:
        text = _with_unit(self.value, self.unit)
        if self.limit_name:
            text += f" vs {_with_unit(self.limit, self.unit)} {self.limit_name}"
        return text

    def miss(self) -> str:
        """How far from the limit, e.g. ``over by 0.15x (12%)``."""
        if self.value != self.value:
            return "not measured"
        if self.kind == "eq":
            return f"expected {_with_unit(self.limit, self.unit)}"
        gap = abs(self.value - self.limit)
        pct = gap / self.limit * 100 if self.limit else float("inf")
        word = "over" if self.kind == "max" else "short"
        shown = f"{pct:.0f}%" if pct >= 1 else f"{pct:.2f}%"
        return f"{word} by {_with_unit(gap, self.unit)} ({shown})"


@dataclass(frozen=True)
class Goal:
    """A target of the issue and the checks that decide it."""

    title: str
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def worst(self) -> Check:
        def badness(c: Check) -> float:
            if c.value != c.value:
                return float("inf")
            return {"max": c.value - c.limit, "min": c.limit - c.value}.get(
                c.kind, abs(c.value - c.limit)
            )

        return max(self.checks, key=badness)

    def to_json(self) -> dict[str, object]:
        return {
            "target": self.title,
            "passed": self.passed,
            "checks": [
                {**c.__dict__, "passed": c.passed, "miss": None if c.passed else c.miss()}
                for c in self.checks
            ],
        }


def _with_unit(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "MB/s":
        return f"{value:,.0f} MB/s"
    if unit == "MB":
        return f"{value:.2f} MB"
    return f"{value:g} {unit}".strip()


def evaluate(cells: Sequence[Cell], synth: SynthResult | None) -> list[Goal]:
    """The issue's targets against what was measured (sections left out give no goals)."""
    goals = install_goals(cells) if cells else []
    if synth is not None:
        goals += synth_goals(synth)
    return goals


def install_goals(cells: Sequence[Cell]) -> list[Goal]:
    goals = [
        Goal(
            f"cold build <= {COLD_VS_UV_MAX}x raw uv  [(c)/(b)]",
            tuple(
                Check(
                    _where(c),
                    _cold_ratio(c, "lw", "uv"),
                    COLD_VS_UV_MAX,
                    "max",
                    "x",
                    f"(c)-(b) = {_cold_gap(c):+.2f} s",
                )
                for c in cells
            ),
        ),
        Goal(
            f"cold build >= {COLD_VS_PIP_MIN:g}x faster than pip  [(a)/(c)]",
            tuple(
                Check(
                    _where(c),
                    _cold_ratio(c, "pip", "lw"),
                    COLD_VS_PIP_MIN,
                    "min",
                    "x",
                    f"raw uv itself: (a)/(b) = {_cold_ratio(c, 'pip', 'uv'):.2f}x",
                )
                for c in cells
            ),
        ),
        Goal(
            "rebuild of unchanged inputs: no install (a cache-hit event each time)",
            tuple(
                check
                for c in cells
                for check in (
                    Check(_where(c), c.rebuild_installs, 0, "eq", "installs"),
                    Check(_where(c), c.rebuild_hits, len(c.rebuild_cli), "eq", "cache hits"),
                )
            ),
        ),
        Goal(
            f"rebuild of unchanged inputs <= {REBUILD_MAX_S} s per bundle  [CLI]",
            tuple(
                Check(
                    _where(c),
                    median(c.rebuild_cli),
                    REBUILD_MAX_S,
                    "max",
                    "s",
                    f"in-process build_bundle() {median(c.rebuild_inprocess):.3f} s",
                )
                for c in cells
            ),
        ),
    ]
    audits = [c for c in cells if c.audit is not None]
    if audits:
        goals.append(
            Goal(
                f"audit >= {AUDIT_MIN_MB_S:.0f} MB/s  [large set bundle]",
                tuple(
                    Check(c.target, c.audit.mb_per_s, AUDIT_MIN_MB_S, "min", "MB/s")
                    for c in audits
                    if c.audit is not None
                ),
            )
        )
    goals.append(
        Goal(
            "bundle size <= raw uv's  [(c) vs (b)]",
            tuple(
                Check(
                    _where(c),
                    c.sizes["lw"] / 1e6,
                    c.sizes["uv"] / 1e6,
                    "max",
                    "MB",
                    _version_context(c),
                    limit_name="uv (b)",
                )
                for c in cells
            ),
        )
    )
    return goals


def synth_goals(synth: SynthResult) -> list[Goal]:
    return [
        Goal(
            f"{FUNCTIONS} functions over {len(DEPENDENCY_SETS)} sets: exactly "
            f"{SYNTH_INSTALLS_FIRST} installs on the first synth",
            tuple(
                Check(f"first synth #{i + 1}", n, SYNTH_INSTALLS_FIRST, "eq", "installs")
                for i, n in enumerate(synth.first_installs)
            ),
        ),
        Goal(
            "second synth: 0 installs, 0 cache lookups",
            tuple(
                Check(f"second synth #{i + 1}", n + m, 0, "eq", "installs+lookups")
                for i, (n, m) in enumerate(zip(synth.second_installs, synth.second_cache_events))
            ),
        ),
        Goal(
            f"second synth <= {SECOND_VS_FLOOR_MAX}x plain Code.from_asset app",
            (
                Check(
                    "median second / median floor",
                    ratio(median(synth.second), median(synth.floor)),
                    SECOND_VS_FLOOR_MAX,
                    "max",
                    "x",
                ),
            ),
        ),
    ]


def _where(cell: Cell) -> str:
    return f"{cell.set_name} {cell.target}"


def _cold_ratio(cell: Cell, num: str, den: str) -> float:
    return ratio(median(cell.cold[num]), median(cell.cold[den]))


def _version_context(cell: Cell) -> str:
    """Which distributions (c) and (b) installed in different versions, if any."""
    lw, uv = cell.versions.get("lw", {}), cell.versions.get("uv", {})
    differ = [
        f"{name} {uv.get(name, '-')} (b) / {lw.get(name, '-')} (c)"
        for name in sorted(set(lw) | set(uv))
        if lw.get(name) != uv.get(name)
    ]
    return "different versions: " + ", ".join(differ) if differ else ""


def _cold_gap(cell: Cell) -> float:
    return median(cell.cold["lw"]) - median(cell.cold["uv"])


def targets_block(goals: Sequence[Goal]) -> str:
    lines = []
    for t in goals:
        if t.passed:
            worst = t.worst()
            detail = worst.shown()
            if len(t.checks) > 1:
                detail = f"worst {detail} ({worst.where})"
            lines.append(f"  PASS  {t.title}: {detail}")
            continue
        missed = [c for c in t.checks if not c.passed]
        lines.append(f"  MISS  {t.title}: {len(missed)} of {len(t.checks)} missed")
        for c in missed:
            context = f"; {c.context}" if c.context else ""
            lines.append(f"          {c.where}: {c.shown()}, {c.miss()}{context}")
    return "\n".join(lines)


# -- tables ----------------------------------------------------------------------------------


def install_table(cells: Sequence[Cell], phase: str) -> Table:
    headers = ["set", "target", "pip (a) s", "uv (b) s", "lambda-wheels (c) s"]
    headers += ["(c)/(b)", "(c)-(b) s", "(a)/(c)", "(a)/(b)"]
    rows = []
    for c in cells:
        samples = c.cold if phase == "cold" else c.warm
        med = {tool: median(samples[tool]) for tool in TOOLS}
        rows.append(
            [
                _set_label(c),
                c.target,
                fmt_seconds(med["pip"]),
                fmt_seconds(med["uv"]),
                fmt_seconds(med["lw"]),
                fmt_ratio(ratio(med["lw"], med["uv"])),
                f"{med['lw'] - med['uv']:+.2f}",
                fmt_ratio(ratio(med["pip"], med["lw"])),
                fmt_ratio(ratio(med["pip"], med["uv"])),
            ]
        )
    return headers, rows


def rebuild_table(cells: Sequence[Cell]) -> Table:
    headers = ["set", "target", "CLI s", "in-process s", "installs", "cache hits"]
    rows = [
        [
            _set_label(c),
            c.target,
            f"{median(c.rebuild_cli):.3f}",
            f"{median(c.rebuild_inprocess):.3f}",
            str(c.rebuild_installs),
            str(c.rebuild_hits),
        ]
        for c in cells
    ]
    return headers, rows


def size_table(cells: Sequence[Cell]) -> Table:
    headers = ["set", "target", "pip (a) MB", "(a) w/o .pyc MB", "uv (b) MB"]
    headers += ["lambda-wheels (c) MB", "(c)/(b)", "(c)/(a)"]
    rows = [
        [
            _set_label(c),
            c.target,
            fmt_mb(c.sizes.get("pip")),
            fmt_mb(c.sizes.get("pip_no_pyc")),
            fmt_mb(c.sizes.get("uv")),
            fmt_mb(c.sizes.get("lw")),
            fmt_ratio(ratio(c.sizes["lw"], c.sizes["uv"])),
            fmt_ratio(ratio(c.sizes["lw"], c.sizes["pip"])),
        ]
        for c in cells
    ]
    return headers, rows


def versions_table(cells: Sequence[Cell]) -> Table:
    """Distributions whose installed version differs between the tools."""
    headers = ["set", "target", "distribution", "pip (a)", "uv (b)", "lambda-wheels (c)"]
    rows = []
    for c in cells:
        names = sorted({n for found in c.versions.values() for n in found})
        for name in names:
            seen = [c.versions.get(tool, {}).get(name, "-") for tool in TOOLS]
            if len(set(seen)) > 1:
                rows.append([_set_label(c), c.target, name, *seen])
    return headers, rows


def synth_table(synth: SynthResult) -> Table:
    floor = median(synth.floor)
    headers = ["app (20 functions, 3 dependency sets)", "median s", "installs", "vs floor"]
    rows = [
        [
            "first synth (empty lambda-wheels cache, warm uv cache)",
            fmt_seconds(median(synth.first)),
            "/".join(map(str, synth.first_installs)),
            fmt_ratio(ratio(median(synth.first), floor)),
        ],
        [
            "second synth (same cdk.out)",
            fmt_seconds(median(synth.second)),
            "/".join(map(str, synth.second_installs)),
            fmt_ratio(ratio(median(synth.second), floor)),
        ],
        ["plain Code.from_asset app (floor)", fmt_seconds(floor), "-", "1.00x"],
    ]
    return headers, rows


def audit_table(cells: Sequence[Cell]) -> Table:
    headers = ["bundle", "target", "MB", "median s", "MB/s"]
    rows = [
        [
            f"lambda-wheels: {' '.join(c.packages)}",
            c.target,
            f"{c.audit.megabytes:.0f}",
            f"{median(c.audit.seconds):.3f}",
            f"{c.audit.mb_per_s:,.0f}",
        ]
        for c in cells
        if c.audit is not None
    ]
    return headers, rows


def _set_label(cell: Cell) -> str:
    return f"{cell.set_name}: {' '.join(cell.packages)}"


# -- the report ------------------------------------------------------------------------------


@dataclass
class Report:
    machine: dict[str, str]
    runs: int
    pip_cold_runs: int
    load_before: str
    load_after: str
    cells: list[Cell]
    synth: SynthResult | None
    seconds: float
    failures: list[str]

    def sections(self, *, markdown: bool) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.cells:
            pip_note = (
                f"; pip cold: {self.pip_cold_runs} run" if self.pip_cold_runs < self.runs else ""
            )
            out.append(
                (
                    f"Cold installs: empty download and bundle caches (seconds, median of "
                    f"{self.runs}{pip_note})",
                    render_table(
                        *install_table(self.cells, "cold"),
                        markdown=markdown,
                    ),
                )
            )
            out.append(
                (
                    f"Warm installs: download caches full, bundle cache empty (seconds, "
                    f"median of {self.runs})",
                    render_table(
                        *install_table(self.cells, "warm"),
                        markdown=markdown,
                    ),
                )
            )
            out.append(
                (
                    f"Rebuild of unchanged inputs: bundle cache hit, new -o (seconds per "
                    f"bundle, median of {self.runs})",
                    render_table(*rebuild_table(self.cells), markdown=markdown),
                )
            )
            out.append(
                (
                    "Bundle size (MB, sum of file sizes; pip (a) also writes .pyc files "
                    "compiled by the host's Python)",
                    render_table(*size_table(self.cells), markdown=markdown),
                )
            )
            headers, rows = versions_table(self.cells)
            out.append(
                (
                    "Installed versions that differ between the tools (first cold run; pip "
                    "(a) matches manylinux2014 only, uv (b) caps AL2 targets at manylinux_2_17)",
                    render_table(headers, rows, markdown=markdown)
                    if rows
                    else "(none: all three installed the same versions)",
                )
            )
            if any(c.audit for c in self.cells):
                out.append(
                    (
                        f"Audit throughput (unzipped MB / wall time, median of {self.runs})",
                        render_table(*audit_table(self.cells), markdown=markdown),
                    )
                )
        if self.synth is not None:
            out.append(
                (
                    f"cdk synth (seconds, median of {self.runs}; installs per run from "
                    "LAMBDA_WHEELS_EVENTS)",
                    render_table(*synth_table(self.synth), markdown=markdown),
                )
            )
        return out

    def machine_line(self) -> str:
        m = self.machine
        return (
            f"{m['date']}; {m['os']}; {m['cpu']}, {m['cpus']} CPUs, {m['ram']} RAM; "
            f"Python {m['python']}; {m['uv']}; pip {m['pip'].removeprefix('pip ')}; "
            f"node {m['node']}; cdk CLI {m['cdk']}; aws-cdk-lib {m['aws-cdk-lib']}; "
            f"load average before/after: {self.load_before} / {self.load_after}"
        )

    def text(self, goals: Sequence[Goal]) -> str:
        parts = [f"lambda-wheels benchmarks: {self.machine_line()}", ""]
        for title, table in self.sections(markdown=False):
            parts += [title, table, ""]
        parts += ["Targets (issue 7)", targets_block(goals), ""]
        parts.append(f"total benchmark time: {self.seconds / 60:.1f} min")
        return "\n".join(parts)

    def markdown(self, goals: Sequence[Goal]) -> str:
        parts = [
            f"Measured {self.machine_line()}.",
            "",
            f"Reproduce: `{REPRODUCE}` (add `--json results.json` for raw samples).",
            "",
        ]
        for title, table in self.sections(markdown=True):
            parts += [f"**{title}**", "", table, ""]
        rows = []
        for t in goals:
            worst = t.worst()
            missed = sum(not c.passed for c in t.checks)
            verdict = (
                "PASS"
                if t.passed
                else f"MISS ({missed} of {len(t.checks)}); worst: {worst.where}, {worst.miss()}"
            )
            rows.append([t.title.replace("|", "\\|"), worst.shown(), verdict])
        parts += [
            "**Targets**",
            "",
            render_table(["target", "worst measured", "result"], rows, markdown=True),
        ]
        return "\n".join(parts) + "\n"

    def to_json(self, goals: Sequence[Goal]) -> dict[str, object]:
        return {
            "machine": self.machine,
            "runs": self.runs,
            "pip_cold_runs": self.pip_cold_runs,
            "load_average_before": self.load_before,
            "load_average_after": self.load_after,
            "seconds": round(self.seconds, 1),
            "installs": [c.to_json() for c in self.cells],
            "synth": self.synth.to_json() if self.synth is not None else None,
            "targets": [t.to_json() for t in goals],
            "failures": self.failures,
        }


# -- main ------------------------------------------------------------------------------------


def _progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="Benchmark lambda-wheels against pip and raw uv (issue 7); prints a report.",
    )
    parser.add_argument("--runs", type=int, default=3, help="repetitions per measurement (3)")
    parser.add_argument("--quick", action="store_true", help="one repetition of everything")
    parser.add_argument(
        "--pip-cold-runs",
        type=int,
        default=1,
        help="cold pip installs per cell (default 1: the large set takes ~30 s a run)",
    )
    parser.add_argument(
        "--sets", default=",".join(SETS), help=f"comma-separated subset of {', '.join(SETS)}"
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=("installs", "synth"),
        help="leave out a section (repeatable)",
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write raw results here")
    parser.add_argument("--markdown", type=Path, metavar="OUT", help="write README tables here")
    parser.add_argument("--work-dir", type=Path, help="parent of the scratch folder (tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs = 1
    args.sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in args.sets if s not in SETS]
    if unknown:
        parser.error(f"unknown set(s) {', '.join(unknown)}; choose from {', '.join(SETS)}")
    if args.runs < 1 or args.pip_cold_runs < 1:
        parser.error("--runs and --pip-cold-runs must be at least 1")
    args.pip_cold_runs = min(args.pip_cold_runs, args.runs)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    try:
        cmds = default_commands()
    except MeasurementError as exc:
        print(f"benchmarks/run.py: {exc}", file=sys.stderr)
        return 1
    machine = machine_info(cmds.uv)
    load_before = load_average()
    # absolute: every cache and output path handed to the tools derives from it
    work = Path(tempfile.mkdtemp(prefix="lambda-wheels-bench-", dir=args.work_dir)).resolve()
    _progress(f"scratch folder {work}; load average {load_before}; {machine['cpus']} CPUs")
    cache_bytecode(work / "pycache")
    cells: list[Cell] = []
    synth: SynthResult | None = None
    failures: list[str] = []
    try:
        if "installs" not in args.skip:
            try:
                warm_up(cmds, work=work, progress=_progress)
                for set_name in args.sets:
                    for runtime, arch in TARGETS:
                        cell = measure_cell(
                            cmds,
                            set_name,
                            runtime,
                            arch,
                            runs=args.runs,
                            pip_cold_runs=args.pip_cold_runs,
                            audit_runs=args.runs if set_name == "large" else 0,
                            work=work,
                            progress=_progress,
                        )
                        cells.append(cell)
            except MeasurementError as exc:
                failures.append(f"installs: {exc}")
        if "synth" not in args.skip:
            try:
                synth = measure_synth(runs=args.runs, work=work, progress=_progress)
            except MeasurementError as exc:
                failures.append(f"synth: {exc}")
    finally:
        if args.keep:
            _progress(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    report = Report(
        machine=machine,
        runs=args.runs,
        pip_cold_runs=args.pip_cold_runs,
        load_before=load_before,
        load_after=load_average(),
        cells=cells,
        synth=synth,
        seconds=time.perf_counter() - started,
        failures=failures,
    )
    goals = evaluate(cells, synth)
    print(report.text(goals))
    if args.json:
        args.json.write_text(json.dumps(report.to_json(goals), indent=2) + "\n")
    if args.markdown:
        args.markdown.write_text(report.markdown(goals))
    if failures:
        print(
            "benchmarks/run.py: a measurement failed; the report above leaves it out:\n"
            + "\n".join(failures),
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
