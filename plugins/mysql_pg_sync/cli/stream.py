"""`python -m mysql_pg_sync stream`: the streaming consumer as a long-lived service (or bounded)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mysql_pg_sync.cdc.metrics import METRICS_ADDR
from mysql_pg_sync.cdc.service import config_from_env, fail_if_held, run_stream
from mysql_pg_sync.settings import endpoints_from_env, mappings_dir


def register(parser: argparse.ArgumentParser) -> None:
    # Resolved at run time, not here: the same $MPS_MAPPINGS_DIR-or-repo default as the stream
    # DAG and the connectors, whatever the working directory (compose runs from /opt/airflow).
    parser.add_argument(
        "--mappings", type=Path, default=None, help="mappings folder (default: $MPS_MAPPINGS_DIR)"
    )
    parser.add_argument("--max-seconds", type=float, default=None, help="stop after N seconds")
    parser.add_argument("--max-events", type=int, default=None, help="stop after N events")
    parser.add_argument(
        "--metrics-port", type=int, default=None, help="serve Prometheus /metrics on PORT"
    )
    parser.add_argument(
        "--metrics-addr",
        default=METRICS_ADDR,
        help=f"the address /metrics listens on (default {METRICS_ADDR}: this host only; "
        "0.0.0.0 in a container, for a Prometheus outside it)",
    )
    parser.add_argument("--group", default=None, help="Kafka consumer group (MPS_STREAM_GROUP)")


def run(args: argparse.Namespace) -> int:
    config = config_from_env()
    if args.group:
        from dataclasses import replace

        config = replace(config, group_id=args.group)
    summary = run_stream(
        endpoints_from_env(),
        args.mappings or mappings_dir(),
        config,
        max_seconds=args.max_seconds,
        max_events=args.max_events,
        metrics_port=args.metrics_port,
        metrics_addr=args.metrics_addr,
    )
    print(json.dumps(summary, sort_keys=True))
    fail_if_held(summary)  # exit 1 naming them (the other tables were applied)
    return 0
