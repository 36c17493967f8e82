"""Feature-store benchmark at 10k, 100k and 1M patients: ingest rows/s, point-in-time retrieval, peak memory.

First a synthetic registry of each size is written as CSV (bench/feature_store_phases.py says how:
above ``--shard`` patients it is generated in shards with disjoint patient ids). Then, in
``--repeats`` rounds over every size (so that each size meets the shared machine's load swings),
each registry is ingested into a new store with ``ingest_directory`` (rows/s over every row read),
and each landmark is retrieved with ``point_in_time_values`` (the DuckDB retrieval) and built with
``build_feature_frame`` (plus derived features and dtypes); the tables show the best run and the
slowest. Every step runs in a fresh process whose peak resident memory is read from the kernel when
it exits (``os.wait4``: it includes DuckDB's memory); the load average is printed before it. Then
the growth of each size over the smallest and over the size before it, against the goal (issue 12:
1M over 10k at most 110x, i.e. 1.1 x the size ratio; the size ratio itself is linear).

Optional: the pandas ``merge_asof`` baseline with a same-values check (sizes up to ``--pandas-max``,
100k by default: at 1M it would take very long), and the bare CSV copy into DuckDB as the ceiling
of the ingest on this machine (``--ceiling``). ``--memory-limit 2GB`` sets
``CART_RELAPSE_STORE_MEMORY_LIMIT`` for every step (DuckDB then spills beyond it).

Usage: ``python bench/feature_store.py [--sizes 10000,100000,1000000] [--repeats 3] [--memory-limit 2GB]``
(``make bench``, about 20 minutes). The 1M size needs about 3 GB of disk in ``--workdir`` (default:
the temp folder).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from features.store import MEMORY_LIMIT_ENV

PHASES = Path(__file__).resolve().with_name("feature_store_phases.py")
LANDMARKS = ("preinfusion", "day30")
GOAL = 1.1
"""Allowed growth over the size ratio (1M over 10k: at most 110x)."""


def main() -> None:
    """Generate every size, time the rounds, then print the tables."""
    args = _parse_args()
    console = Console(width=None if sys.stdout.isatty() else 180)
    env = os.environ | ({MEMORY_LIMIT_ENV: args.memory_limit} if args.memory_limit else {})
    runner = _Runner(
        args, env, console, Path(tempfile.mkdtemp(prefix="bench-feature-store-", dir=args.workdir))
    )
    runs: dict[int, dict[str, list[dict]]] = {size: {} for size in args.sizes}
    try:
        for size in args.sizes:
            runs[size]["generate"] = [runner.step(size, "generate", "generate")]
        for _ in range(args.repeats):  # rounds over every size: each size meets the machine's load swings
            for size in args.sizes:
                _timed_round(runner, size, runs[size])
        for size in args.sizes:
            if size <= args.pandas_max:
                runs[size]["pandas"] = [runner.step(size, "pandas baseline", "pandas")]
            if args.ceiling:
                runs[size]["ceiling"] = [runner.step(size, "bare CSV copy", "ceiling")]
    finally:
        shutil.rmtree(runner.workdir, ignore_errors=True)
    results = [
        {"patients": size, **{step: _best(done) for step, done in runs[size].items()}} for size in args.sizes
    ]
    ingest = results[0]["ingest"]
    console.print(
        f"best of {args.repeats} rounds; DuckDB memory_limit {ingest['memory_limit']}, "
        f"threads {ingest['threads']}; {os.cpu_count()} cores"
    )
    tables = (_time_table, _cpu_table, _memory_table, _ratio_table, _pandas_table, _ceiling_table)
    for table in (make(results) for make in tables):
        if table.row_count:
            console.print(table)


class _Runner:
    """Runs the phases of one size in fresh processes, in that size's folder, and prints each step."""

    def __init__(self, args: argparse.Namespace, env: dict, console: Console, workdir: Path) -> None:
        self.args, self.env, self.console, self.workdir = args, env, console, workdir

    def step(self, size: int, name: str, phase: str, *extra: str) -> dict:
        """One phase for ``size``: its JSON result plus ``peak_mb`` and ``load`` (before it)."""
        folder = self.workdir / f"n{size}"
        folder.mkdir(exist_ok=True)
        common = [
            f"--raw={folder / 'raw'}",
            f"--store={folder / 'store.duckdb'}",
            f"--patients={size}",
            f"--seed={self.args.seed}",
            f"--shard={self.args.shard}",
        ]
        load = os.getloadavg()
        out, peak_mb = _child(phase, [*common, *extra], folder / f"{name.replace(' ', '_')}.json", self.env)
        out |= {"peak_mb": peak_mb, "load": load}
        self.console.print(
            f"{size:>10,} patients  {name:<26} {out.get('seconds', 0):8.1f} s  "
            f"peak {peak_mb:8,.0f} MB  load {_load_text(load)}"
        )
        return out


def _timed_round(runner: _Runner, size: int, runs: dict[str, list[dict]]) -> None:
    """Ingest ``size`` into a new store, then retrieve and build each landmark from it."""
    runs.setdefault("ingest", []).append(runner.step(size, "ingest", "ingest"))
    for landmark in LANDMARKS:
        for kind, name in (("retrieve", "retrieve"), ("frame", "feature frame")):
            done = runner.step(size, f"{name} {landmark}", kind, f"--landmark={landmark}")
            runs.setdefault(f"{kind}_{landmark}", []).append(done)


def _best(runs: list[dict]) -> dict:
    """The fastest run, with the slowest time (``worst_s``), the least CPU time (``cpu_best``) and the
    highest peak memory of all runs."""
    best = min(runs, key=lambda r: r.get("seconds", 0.0))
    return best | {
        "peak_mb": max(r["peak_mb"] for r in runs),
        "worst_s": max(r.get("seconds", 0.0) for r in runs),
        "cpu_best": min(r.get("cpu_seconds", 0.0) for r in runs),
    }


def _child(phase: str, arguments: list[str], out: Path, env: dict) -> tuple[dict, float]:
    """Run one phase in a fresh process; its JSON result and its peak resident memory in MB."""
    proc = subprocess.Popen([sys.executable, str(PHASES), phase, f"--out={out}", *arguments], env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"phase {phase} failed (exit {proc.returncode})")
    return json.loads(out.read_text()), usage.ru_maxrss / 1024  # Linux: kilobytes


def _time_table(results: list[dict]) -> Table:
    table = _table(
        "time: best run (slowest run) in seconds; load average 1/5/15 min before the best ingest",
        [
            "patients",
            "observation rows",
            "rows read",
            "quarantined",
            "ingest s",
            "ingest rows/s",
            "preinfusion s",
            "day30 s",
            "frame preinf. s",
            "frame day30 s",
            "load at ingest",
        ],
    )
    for r in results:
        ingest = r["ingest"]
        table.add_row(
            f"{r['patients']:,}",
            f"{r['generate']['observations']:,}",
            f"{ingest['read']:,}",
            f"{ingest['quarantined']:,}",
            f"{ingest['seconds']:.1f} ({ingest['worst_s']:.1f})",
            f"{ingest['read'] / ingest['seconds']:,.0f}",
            *(
                f"{r[f'{kind}_{lm}']['seconds']:.2f} ({r[f'{kind}_{lm}']['worst_s']:.2f})"
                for kind in ("retrieve", "frame")
                for lm in LANDMARKS
            ),
            _load_text(ingest["load"]),
        )
    return table


def _cpu_table(results: list[dict]) -> Table:
    table = _table(
        "CPU time: least of all runs, in seconds (user + system, every thread of the process)",
        [
            "patients",
            "ingest",
            "ingest rows per CPU s",
            "preinfusion",
            "day30",
            "frame preinf.",
            "frame day30",
        ],
    )
    for r in results:
        table.add_row(
            f"{r['patients']:,}",
            f"{r['ingest']['cpu_best']:.1f}",
            f"{r['ingest']['read'] / r['ingest']['cpu_best']:,.0f}",
            *(
                f"{r[k]['cpu_best']:.2f}"
                for k in ("retrieve_preinfusion", "retrieve_day30", "frame_preinfusion", "frame_day30")
            ),
        )
    return table


def _memory_table(results: list[dict]) -> Table:
    table = _table(
        "peak resident memory per step, highest of all runs (MB, whole process incl. DuckDB)",
        [
            "patients",
            "generate",
            "ingest",
            "preinfusion",
            "day30",
            "frame preinf.",
            "frame day30",
            "preinfusion frame size",
            "store file",
        ],
    )
    for r in results:
        table.add_row(
            f"{r['patients']:,}",
            *(
                f"{r[k]['peak_mb']:,.0f}"
                for k in (
                    "generate",
                    "ingest",
                    "retrieve_preinfusion",
                    "retrieve_day30",
                    "frame_preinfusion",
                    "frame_day30",
                )
            ),
            f"{r['retrieve_preinfusion']['frame_mb']:,.0f}",
            f"{r['ingest']['store_mb']:,.0f}",
        )
    return table


def _ratio_table(results: list[dict]) -> Table:
    """Each size over the smallest, and over the size before it: against the goal (1.1 x the size ratio)."""
    pairs = [(r, results[0]) for r in results[1:]] + [
        (results[i], results[i - 1]) for i in range(2, len(results))
    ]
    table = _table(
        f"growth (goal: time at most {GOAL:.1f} x the size ratio; the size ratio itself is linear; "
        "best runs)",
        ["metric", *(f"{big['patients']:,} / {small['patients']:,}" for big, small in pairs)],
    )
    metrics = [("patients", lambda r: r["patients"]), ("rows read", lambda r: r["ingest"]["read"])]
    steps = (
        ("ingest", "ingest"),
        ("preinfusion retrieval", "retrieve_preinfusion"),
        ("day30 retrieval", "retrieve_day30"),
        ("preinfusion frame", "frame_preinfusion"),
        ("day30 frame", "frame_day30"),
    )
    metrics += [(f"{name} time", lambda r, k=key: r[k]["seconds"]) for name, key in steps]
    metrics += [(f"{name} CPU time", lambda r, k=key: r[k]["cpu_best"]) for name, key in steps]
    metrics += [
        (f"{name} peak memory", lambda r, k=key: r[k]["peak_mb"])
        for name, key in (
            ("ingest", "ingest"),
            ("preinfusion retrieval", "retrieve_preinfusion"),
            ("day30 retrieval", "retrieve_day30"),
        )
    ]
    for name, value in metrics:
        cells = []
        for big, small in pairs:
            ratio, allowed = value(big) / value(small), GOAL * big["patients"] / small["patients"]
            verdict = "" if "time" not in name else " ok" if ratio <= allowed else f" OVER {allowed:.0f}x"
            cells.append(f"{ratio:.1f}x{verdict}")
        table.add_row(name, *cells)
    return table


def _pandas_table(results: list[dict]) -> Table:
    table = _table(
        "pandas merge_asof baseline (observations already in memory)",
        ["patients", "landmark", "duckdb s", "pandas s", "speed-up", "check"],
    )
    for r in results:
        if "pandas" in r:
            for landmark in LANDMARKS:
                p = r["pandas"][landmark]
                table.add_row(
                    f"{r['patients']:,}",
                    landmark,
                    f"{p['duckdb_seconds']:.2f}",
                    f"{p['pandas_seconds']:.2f}",
                    f"{p['pandas_seconds'] / p['duckdb_seconds']:.1f}x",
                    "same values" if p["same"] else "VALUES DIFFER",
                )
    return table


def _ceiling_table(results: list[dict]) -> Table:
    table = _table(
        "bare CSV copy into DuckDB, every column as text, no validation (the ingest's ceiling)",
        ["patients", "copy s", "copy rows/s", "ingest rows/s", "ingest / copy speed"],
    )
    for r in results:
        if "ceiling" in r:
            copy_s, ingest = r["ceiling"]["seconds"], r["ingest"]
            table.add_row(
                f"{r['patients']:,}",
                f"{copy_s:.1f}",
                f"{ingest['read'] / copy_s:,.0f}",
                f"{ingest['read'] / ingest['seconds']:,.0f}",
                f"{copy_s / ingest['seconds']:.0%}",
            )
    return table


def _table(title: str, columns: list[str]) -> Table:
    table = Table(title=title)
    for i, name in enumerate(columns):
        table.add_column(
            name, justify="left" if i == 0 or name in ("landmark", "check", "metric") else "right"
        )
    return table


def _load_text(load: tuple[float, float, float] | list[float]) -> str:
    return "/".join(f"{x:.1f}" for x in load)


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=lambda text: sorted(int(x) for x in text.split(",")),
        default=[10_000, 100_000, 1_000_000],
        help="patients per run, comma-separated",
    )
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--repeats", type=int, default=3, help="rounds of ingest and retrieval; the best is shown"
    )
    parser.add_argument("--shard", type=int, default=100_000, help="patients per generator call")
    parser.add_argument(
        "--pandas-max", type=int, default=100_000, help="pandas baseline up to this size (0: never)"
    )
    parser.add_argument("--ceiling", action="store_true", help="also time a bare CSV copy into DuckDB")
    parser.add_argument(
        "--memory-limit", default="", help=f"sets {MEMORY_LIMIT_ENV} for every step, e.g. 2GB"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="where registries and stores are written")
    return parser.parse_args()


if __name__ == "__main__":
    main()
