"""`python -m mysql_pg_sync demo`: the end-to-end demo on the local stack."""

from __future__ import annotations

import argparse

from mysql_pg_sync.demo.run import run_demo


def register(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults()


def run(args: argparse.Namespace) -> int:
    return run_demo()
