"""The PostgreSQL sequences (serial, identity) the sync keeps past the ids it writes, so an
application insert using the column's default never draws an id that arrived from MySQL
(ADR 0013). The stream applier and the backfill's finalize share it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg

from mysql_pg_sync.dialects import postgres as pg

log = logging.getLogger(__name__)

_capped_logged: set[str] = set()


@dataclass(frozen=True)
class OwnedSequences:
    """The sequences of one table that the sync may move, and the statement that moves them
    (its parameters: one value per column, in ``columns`` order; NULL leaves one alone)."""

    columns: tuple[str, ...] = ()
    sequences: tuple[str, ...] = ()
    advance_sql: str = ""


NO_SEQUENCES = OwnedSequences()


def owned_sequences(conn: psycopg.Connection[Any], table_sql: str) -> OwnedSequences:
    """The table's owned sequences the sync may move; one it may not (counting down, or not
    readable and settable by this user) is logged with the reason and left alone. A table
    that does not exist has none."""
    rows = conn.execute(pg.owned_sequences_sql(), (table_sql,)).fetchall()
    if not rows or not rows[0][0]:
        return NO_SEQUENCES
    columns: list[str] = []
    sequences: list[str] = []
    for _, column, schema, name, increment, usable in rows:
        if column is None:
            continue
        sequence = pg.qualified(schema, name)
        if increment < 0:
            log.warning(
                "%s.%s: sequence %s counts down (INCREMENT BY %d); the sync leaves it where it "
                "is, so keep its range clear of the ids that arrive from MySQL",
                table_sql,
                column,
                sequence,
                increment,
            )
        elif not usable:
            log.warning(
                "%s.%s: the sync cannot keep sequence %s past the ids it writes, so a "
                "PostgreSQL insert may draw an id that already arrived from MySQL; as its "
                "owner run: GRANT SELECT, UPDATE ON SEQUENCE %s TO %s",
                table_sql,
                column,
                sequence,
                sequence,
                pg.quote_ident(conn.info.user),
            )
        else:
            columns.append(column)
            sequences.append(sequence)
    if not columns:
        return NO_SEQUENCES
    return OwnedSequences(tuple(columns), tuple(sequences), pg.advance_sequences_sql(sequences))


def advance(
    conn: psycopg.Connection[Any], owned: OwnedSequences, highest: Mapping[str, Any]
) -> None:
    """Move each sequence so its next value is past ``highest[column]`` (forward only, on its
    step); a value past the sequence's MAXVALUE sets it to MAXVALUE and is logged once, since
    the application's next insert then fails (or, with CYCLE, wraps around)."""
    if not owned.columns:
        return
    rows = conn.execute(owned.advance_sql, [highest.get(c) for c in owned.columns]).fetchall()
    for sequence, capped, high, _ in rows:
        if capped and sequence not in _capped_logged:
            _capped_logged.add(sequence)
            log.warning(
                "sequence %s stops at its MAXVALUE below id %s that the sync wrote: the "
                "application's next insert using it fails (or wraps around with CYCLE); "
                "widen it (ALTER SEQUENCE %s AS bigint MAXVALUE ...)",
                sequence,
                high,
                sequence,
            )
