"""`status`: the Sync status page in the terminal (or as JSON), for an operator without the
Airflow UI at hand and for monitoring scripts (exit status 3 when something needs attention)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from mysql_pg_sync.mapping.models import load_mappings
from mysql_pg_sync.settings import endpoints_from_env, mappings_dir
from mysql_pg_sync.status.model import (
    TableStatus,
    build_status,
    consumer_text,
    json_default,
    not_synced,
)
from mysql_pg_sync.status.read import read_snapshot

ATTENTION = 3  # like `reconcile`'s exit status for drift: ran fine, found something to act on
_COLUMNS = (  # (heading, attribute) of the terminal table
    ("table", "source"),
    ("health", "health"),
    ("state", "state"),
    ("backfill", "backfill"),
    ("stream lag", "stream_lag"),
    ("connectors", "connectors"),
    ("reconcile", "reconcile"),
    ("quality", "quality"),
    ("open dead letters", "dead_letters"),
)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the status as JSON")
    parser.add_argument(
        "--mappings",
        type=Path,
        default=None,
        help="mappings folder (default: $MPS_MAPPINGS_DIR, else include/mappings)",
    )


def local_path(path: object) -> str | None:
    """A stored report path as the link: the terminal's reader opens files, not the web page's
    ``reports/`` route."""
    return str(path) if path else None


def _table(rows: list[TableStatus]) -> str:
    cells = [[str(getattr(r, attr)) for _, attr in _COLUMNS] for r in rows]
    widths = [max([len(head), *(len(c[i]) for c in cells)]) for i, (head, _) in enumerate(_COLUMNS)]
    lines = ["  ".join(h.ljust(w) for (h, _), w in zip(_COLUMNS, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def run(args: argparse.Namespace) -> int:
    mappings = load_mappings(args.mappings or mappings_dir())
    snapshot = read_snapshot(endpoints_from_env())
    rows = build_status(mappings.enabled(), snapshot, local_path)
    rows += not_synced(mappings.tables, snapshot)
    consumers, running = consumer_text(snapshot.consumers)
    stopped = running is False and any(r.state == "streaming" for r in rows)
    if args.json:
        print(
            json.dumps(
                {
                    "error": snapshot.error,
                    "stream_consumer": {"text": consumers, "running": running},
                    "tables": [{**asdict(r), "health": r.health, "reason": r.reason} for r in rows],
                    "notes": list(snapshot.notes),
                },
                indent=2,
                # the rows hold text and plain numbers; a Decimal or a time slipping in
                # stays a number or becomes ISO 8601 text, never str(Decimal)
                default=json_default,
            )
        )
    else:
        if snapshot.error:
            print(f"error: {snapshot.error}")
        print(f"stream consumer: {consumers}")
        synced = [r for r in rows if r.synced]
        print(_table(synced) if synced else "no tables are synced: add include/mappings")
        for r in synced:
            if r.reason:
                print(f"{r.source}: {r.reason}")
        for r in rows:
            if not r.synced:  # its reason is too long for a column
                print(f"{r.source}: {r.state}" + (f"; {r.reason}" if r.reason else ""))
        for note in snapshot.notes:
            print(f"note: {note}")
    if snapshot.error:
        return 1
    return ATTENTION if stopped or any(r.health in ("failed", "warn") for r in rows) else 0
