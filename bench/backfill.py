"""Backfill benchmark: PostgreSQL server-side COPY (the floor) vs pgloader vs our backfill.

    python -m bench.backfill [--rows 2000000] [--repeats 3] [--workers 2]

Same synthetic dataset (bench/datagen.py) for all three, in one session; reports medians of the
repeats, rows/s, MB/s (MB = the size of the COPY text file of the same rows, one yardstick for
all), peak RSS of the loading client process (largest worker), and the ratios. pgloader runs
twice per repeat: with its defaults (``pgloader``, as the issue and measurements.md ran it) and
with our parallelism (``pgloader_tuned``: 2 x workers readers, ``workers`` writers).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.datagen import BENCH_DB, SHARES, generate, write_mappings
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.settings import DatabaseEndpoint, admin_endpoints, endpoints_from_env
from mysql_pg_sync.state.schema import ensure_schema

REPO = Path(__file__).resolve().parents[1]
PG_SCHEMA = "bench"
FLOOR_SCHEMA = "bench_floor"
PGLOADER_DB = "bench_pgloader"
COPY_DIR = Path("/tmp/mps_bench_copy")


def admins() -> tuple[DatabaseEndpoint, DatabaseEndpoint]:
    my, pg = admin_endpoints()
    return replace(my, database="mysql"), pg


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """(wall seconds, peak RSS bytes of the process and its waited-for children, output)."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd[0]} failed:\n{text[-3000:]}")
    return wall, usage.ru_maxrss * 1024, text


def checkpoint(pg_admin: DatabaseEndpoint) -> None:
    """Flush the previous load's dirty pages so each method starts from the same state."""
    with pg_connect(pg_admin, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def reset_ours(pg_admin: DatabaseEndpoint) -> None:
    with pg_connect(pg_admin, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
        exists = conn.execute("SELECT to_regclass('mps_sync.backfill_tables')").fetchone()
        if exists and exists[0]:
            conn.execute(
                "DELETE FROM mps_sync.backfill_tables WHERE source_table LIKE %s",
                (f"{BENCH_DB}.%",),
            )
            conn.execute(
                "DELETE FROM mps_sync.table_state WHERE source_table LIKE %s", (f"{BENCH_DB}.%",)
            )


def ensure_state_schema() -> None:
    """The sync metadata schema, made (or brought up to date) by the sync user as `make demo`
    and the DAGs make it: ours runs as the admin below, and a state table the admin made first
    the sync user could not read afterwards (the stream, the DAGs: permission denied)."""
    with pg_connect(endpoints_from_env().postgres, autocommit=True) as conn:
        ensure_schema(conn)


def run_ours(
    pg_admin: DatabaseEndpoint, mappings: Path, workers: int, chunk_rows: int
) -> tuple[float, int, dict[str, Any]]:
    ensure_state_schema()
    reset_ours(pg_admin)
    checkpoint(pg_admin)
    env = {**os.environ, "MPS_PG_USER": pg_admin.user, "MPS_PG_PASSWORD": pg_admin.password}
    wall, rss, out = timed(
        [
            sys.executable,
            "-m",
            "mysql_pg_sync",
            "backfill",
            "run",
            "--mappings",
            str(mappings),
            "--no-capture-check",
            "--max-parallel",
            str(workers),
            "--chunk-rows",
            str(chunk_rows),
            # the same work as pgloader and the floor: copy, indexes, counts; no checksum pass
            "--verify",
            "counts",
        ],
        env,
    )
    # the summary JSON, then the CLI's hint on what happens next (stderr, merged here)
    summary, _ = json.JSONDecoder().raw_decode(out[out.index("{\n") :])
    return wall, rss, summary


def make_copy_files(pg_admin: DatabaseEndpoint) -> int:
    COPY_DIR.mkdir(exist_ok=True)
    os.chmod(COPY_DIR, 0o777)
    total = 0
    with pg_connect(pg_admin, autocommit=True) as conn:
        for table in SHARES:
            path = COPY_DIR / f"{table}.copy"
            conn.execute(f"COPY {PG_SCHEMA}.{table} TO '{path}'")
            total += path.stat().st_size
    return total


def run_floor(pg_admin: DatabaseEndpoint) -> float:
    with pg_connect(pg_admin, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {FLOOR_SCHEMA} CASCADE")
        conn.execute(f"CREATE SCHEMA {FLOOR_SCHEMA}")
        for table in SHARES:
            conn.execute(
                f"CREATE TABLE {FLOOR_SCHEMA}.{table} (LIKE {PG_SCHEMA}.{table} INCLUDING ALL)"
            )
        conn.execute("CHECKPOINT")
        started = time.monotonic()
        for table in SHARES:
            conn.execute(f"COPY {FLOOR_SCHEMA}.{table} FROM '{COPY_DIR / (table + '.copy')}'")
        wall = time.monotonic() - started
        conn.execute(f"DROP SCHEMA {FLOOR_SCHEMA} CASCADE")
    return wall


def ensure_pgloader() -> str:
    found = shutil.which("pgloader")
    if found:
        return found
    # Through the stack's installer: apt-get update, no prompts, sudo when not root.
    subprocess.run(["bash", str(REPO / "stack" / "stack"), "install", "bench"], check=True)
    found = shutil.which("pgloader")
    if not found:
        raise SystemExit("pgloader is not installed; run `stack/stack install bench`")
    return found


def run_pgloader(
    binary: str, my_admin: DatabaseEndpoint, pg_admin: DatabaseEndpoint, workers: int | None
) -> tuple[float, int]:
    """``workers=None``: pgloader's own defaults (as the issue and measurements.md ran it);
    otherwise 2 x workers readers and ``workers`` parallel writers, the same parallelism as ours."""
    with pg_connect(replace(pg_admin, database="postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PGLOADER_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PGLOADER_DB}")
        conn.execute("CHECKPOINT")
    with tempfile.NamedTemporaryFile("w", suffix=".load", delete=False) as f:
        f.write(
            f"LOAD DATABASE FROM mysql://{my_admin.user}:{my_admin.password}@{my_admin.host}:"
            f"{my_admin.port}/{BENCH_DB}\n"
            f"INTO postgresql://{pg_admin.user}:{pg_admin.password}@{pg_admin.host}:{pg_admin.port}/"
            f"{PGLOADER_DB}\n"
            "WITH include drop, create tables, create indexes, reset sequences"
            + (f", workers = {2 * workers}, concurrency = {workers}" if workers else "")
            + ";\n"
        )
        command = f.name
    wall, rss, _ = timed([binary, "--dynamic-space-size", "4096", command])
    os.unlink(command)
    with pg_connect(replace(pg_admin, database="postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {PGLOADER_DB} WITH (FORCE)")
    return wall, rss


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.backfill")
    parser.add_argument("--rows", type=int, default=2_000_000, help="total rows (2M, 8M)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-rows", type=int, default=125_000)
    parser.add_argument("--skip-pgloader", action="store_true")
    args = parser.parse_args(argv)

    my_admin, pg_admin = admins()
    started = time.monotonic()
    counts = generate(my_admin, args.rows)
    rows = sum(counts.values())
    print(
        f"dataset: {counts} ({rows:,} rows) ready in {time.monotonic() - started:.1f} s", flush=True
    )
    mappings = Path(tempfile.mkdtemp()) / "bench.yaml"
    write_mappings(str(mappings), PG_SCHEMA)
    pgloader = None if args.skip_pgloader else ensure_pgloader()

    results: dict[str, dict[str, list[float]]] = {
        "floor": {"s": []},
        "pgloader": {"s": [], "rss": []},
        "pgloader_tuned": {"s": [], "rss": []},
        "ours": {"s": [], "rss": []},
    }
    copy_bytes = 0
    for repeat in range(args.repeats):
        wall, rss, summary = run_ours(pg_admin, mappings, args.workers, args.chunk_rows)
        results["ours"]["s"].append(wall)
        results["ours"]["rss"].append(rss)
        assert summary["total"]["rows"] == rows, summary["total"]
        if not copy_bytes:
            copy_bytes = make_copy_files(pg_admin)
        results["floor"]["s"].append(run_floor(pg_admin))
        if pgloader:
            for name, workers in (("pgloader", None), ("pgloader_tuned", args.workers)):
                wall_p, rss_p = run_pgloader(pgloader, my_admin, pg_admin, workers)
                results[name]["s"].append(wall_p)
                results[name]["rss"].append(rss_p)
        print(
            f"repeat {repeat + 1}: "
            + ", ".join(f"{k} {v['s'][-1]:.1f} s" for k, v in results.items() if v["s"]),
            flush=True,
        )

    mb = copy_bytes / 1e6
    report: dict[str, Any] = {
        "rows": rows,
        "tables": counts,
        "copy_file_mb": round(mb, 1),
        "workers": args.workers,
        "chunk_rows": args.chunk_rows,
        "load_average_1_5_15_at_end": [round(x, 1) for x in os.getloadavg()],
    }
    for name, r in results.items():
        if not r["s"]:
            continue
        med = statistics.median(r["s"])
        report[name] = {
            "runs_s": [round(s, 2) for s in r["s"]],
            "median_s": round(med, 2),
            "rows_per_s": round(rows / med),
            "mb_per_s": round(mb / med, 1),
            "peak_rss_mb": round(max(r["rss"]) / 2**20) if r.get("rss") else None,
        }
    ours = report["ours"]["median_s"]
    report["ratio_vs_floor"] = round(report["floor"]["median_s"] / ours, 2)
    if "pgloader" in report:
        report["ratio_vs_pgloader"] = round(report["pgloader"]["median_s"] / ours, 2)
        report["ratio_vs_pgloader_tuned"] = round(report["pgloader_tuned"]["median_s"] / ours, 2)
    print(json.dumps(report, indent=2))
    reset_ours(pg_admin)  # leave no bench tables or state rows behind in the shared target
    shutil.rmtree(COPY_DIR, ignore_errors=True)
    out = REPO / ".stack" / "reports" / f"bench_backfill_{rows}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
