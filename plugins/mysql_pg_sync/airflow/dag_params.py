"""DAG Params -> the library's options, kept out of the DAG files so tests can call them.

No Airflow import: the tasks pass ``get_current_context()["params"]`` in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mysql_pg_sync.backfill.runner import RunOptions


def backfill_options(params: Mapping[str, Any]) -> RunOptions:
    """The backfill DAG's Params as :class:`RunOptions`.

    An empty (or 0) ``chunk_rows``/``chunk_mb`` becomes None, which means each mapping's own
    ``backfill.chunk_rows``: a fixed default here would override every hand-tuned mapping on
    each UI trigger (the CLI's default is None too)."""
    return RunOptions(
        tables=tuple(params.get("tables") or ()),
        chunk_rows=params.get("chunk_rows") or None,
        chunk_mb=params.get("chunk_mb") or None,
        max_parallel=int(params["max_parallel"]),
        mode=params["mode"],
        dry_run=bool(params["dry_run"]),
    )
