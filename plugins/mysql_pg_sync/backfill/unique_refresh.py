"""Copy a chunk whose unique values collide with stale copies of rows outside it.

Unique secondary indexes exist during the copy (``ddl`` creates them with the table). When the
app moves a unique value (an email) from a row whose chunk is copied to a row of a later chunk,
the later chunk's COPY meets the earlier copy (23505), and so would every resume. The writer
then copies the chunk again, in one new transaction, through :func:`resolve`:

1. the chunk's rows are staged (``mps_gen`` 0: one MySQL read) and its old rows deleted;
2. each round lists, per unique index, the pairs of rows it takes as equal: a staged row and a
   target row outside the chunk (a stale copy), or two staged rows;
3. both rows of every pair are read again by key from MySQL, all in ONE SELECT (a new
   ``mps_gen``) through the chunk's reader and conversion; a target row leaves the table and its
   current version joins the stage (so it is written with the chunk), a row MySQL no longer has
   is dropped;
4. once no pair is left, the writer inserts the stage.

Two rows that one read returned and that still collide are a real duplicate under the
conversion (MySQL held both values at one instant, PostgreSQL takes them as equal): that fails
the chunk (:class:`DuplicateUniqueValue`). A refreshed row holds exactly MySQL's current values,
newer than the table's recorded Kafka position, so the replay after finalize still converges.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from mysql_pg_sync.backfill.source_rows import Read
from mysql_pg_sync.dialects import postgres as pg
from mysql_pg_sync.errors import SyncError

log = logging.getLogger(__name__)

UNIQUE_VIOLATION = "23505"
GEN_COLUMN = "mps_gen"  # which MySQL read a staged row comes from (0: the chunk's own)
GEN_FIELD = pa.field(GEN_COLUMN, pa.int32())
# A value moved twice needs two rounds; each round reads only the rows still colliding.
MAX_ROUNDS = 4
PAIRS_TABLE = "mps_backfill_unique_pairs"
REREAD_TABLE = "mps_backfill_reread_keys"
FRESH_TABLE = "mps_backfill_fresh_rows"


class DuplicateUniqueValue(SyncError):
    """Two rows MySQL holds at one instant take one value of a PostgreSQL unique index."""


class UniqueValuesKeepMoving(SyncError):
    """Rows still collided after :data:`MAX_ROUNDS` reads; a retry of the chunk may pass."""


@dataclass(frozen=True)
class UniqueIndex:
    """A unique index other than the primary key, as PostgreSQL holds it."""

    name: str
    expressions: tuple[str, ...]  # over the table's bare column names
    predicate: str | None = None  # a partial index's WHERE
    nulls_not_distinct: bool = False


@dataclass(frozen=True)
class Pair:
    """Two rows one unique index takes as equal. ``within``: both are staged (the chunk's or
    read again); else ``left`` is a target row outside the chunk. Keys as text."""

    index: str
    within: bool
    left: str
    right: str
    value: str
    same_read: bool


@dataclass(frozen=True)
class Refreshed:
    """A row outside the chunk whose copy held a unique value of row ``against`` (being
    copied): now MySQL's current row (``kept``), or deleted (MySQL no longer has it)."""

    index: str
    key: str
    against: str
    kept: bool

    def describe(self, target: str) -> str:
        done = "refreshed to MySQL's current row" if self.kept else "deleted: MySQL has it no more"
        return (
            f"row {self.key} of {target} (copied before) held a value of unique index "
            f"{self.index} that row {self.against} has now; {done}"
        )


def unique_indexes(cur: Any, table_sql: str) -> list[UniqueIndex]:
    cur.execute(pg.dollar_placeholders(pg.unique_indexes_sql()), parameters=(table_sql,))
    return [
        UniqueIndex(str(name), tuple(expressions), predicate, bool(nulls_not_distinct))
        for name, expressions, predicate, nulls_not_distinct in cur.fetchall()
    ]


def pairs_sql(
    indexes: Sequence[UniqueIndex], target_sql: str, stage_sql: str, key_columns: Sequence[str]
) -> str:
    """Every colliding pair over all ``indexes``: target vs stage, and stage vs stage."""
    parts = []
    for index in indexes:
        for left, same_table in ((target_sql, False), (stage_sql, True)):
            parts.append(
                pg.unique_pairs_sql(
                    index.name,
                    left,
                    stage_sql,
                    key_columns,
                    index.expressions,
                    index.predicate,
                    nulls_not_distinct=index.nulls_not_distinct,
                    same_table=same_table,
                )
            )
    return " UNION ALL ".join(parts)


def key_text(columns: Sequence[str], values: Sequence[str | None]) -> str:
    """``id=5``; ``(a=1, b=x)`` for a composite key."""
    parts = [f"{c}={'NULL' if v is None else v}" for c, v in zip(columns, values, strict=True)]
    return parts[0] if len(parts) == 1 else f"({', '.join(parts)})"


def pair_from_row(row: Sequence[Any], key_columns: Sequence[str]) -> Pair:
    """A row of :func:`pairs_sql`'s text columns (see :func:`resolve`) as a :class:`Pair`."""
    n = len(key_columns)
    index, within, texts, value, same_read = row[0], row[1], row[2 : 2 + 2 * n], row[-2], row[-1]
    return Pair(
        str(index),
        bool(within),
        key_text(key_columns, texts[:n]),
        key_text(key_columns, texts[n:]),
        str(value),
        bool(same_read),
    )


def duplicate_message(label: str, target: str, pairs: Sequence[Pair], limit: int = 5) -> str:
    """The error of a chunk whose rows collide for real; names the rows, the index and the fix."""
    shown = "; ".join(
        f"rows {p.left} and {p.right} both give ({p.value}) in unique index {p.index}"
        for p in pairs[:limit]
    )
    more = f" (and {len(pairs) - limit} more pairs)" if len(pairs) > limit else ""
    return (
        f"{label}: {shown}{more} of {target}, as MySQL holds them now (both read again in one "
        "SELECT): MySQL tells their values apart, but after the mapping's conversion "
        "(values.nul_bytes: strip, case folding, a narrower type) PostgreSQL takes them as "
        "equal, so the table cannot hold both. Fix: make the values distinct in MySQL, or take "
        "the index's unique off in the mapping and drop the unique index in PostgreSQL, then "
        "resume the backfill"
    )


def with_gen(batch: pa.RecordBatch, gen: int) -> pa.RecordBatch:
    """``batch`` with the :data:`GEN_COLUMN` of a staged row appended."""
    schema = batch.schema.append(GEN_FIELD)
    marks = pa.array([gen] * batch.num_rows, pa.int32())
    return pa.RecordBatch.from_arrays([*batch.columns, marks], schema=schema)


ReadKeys = Callable[[pa.Table], Read]
"""The current MySQL rows of the given keys (PostgreSQL names and values), converted."""


def resolve(
    cur: Any,
    *,
    label: str,
    target_sql: str,
    stage: str,
    key_columns: Sequence[str],
    read_keys: ReadKeys,
    max_rounds: int = MAX_ROUNDS,
) -> list[Refreshed]:
    """Bring the rows the staged rows collide with to MySQL's current state, until none
    collide; returns the target rows outside the chunk so refreshed (or deleted).
    ``stage``: a temporary table of the target's columns and :data:`GEN_COLUMN`."""
    indexes = unique_indexes(cur, target_sql)
    if not indexes:
        return []
    stage_sql = f"pg_temp.{stage}"
    n = len(key_columns)
    texts = ", ".join([f"mps_lt{i}" for i in range(n)] + [f"mps_rt{i}" for i in range(n)])
    refreshed: list[Refreshed] = []
    for gen in range(1, max_rounds + 1):
        cur.execute(f"ANALYZE {stage_sql}")  # a temp table has no statistics: probe the index
        cur.execute(
            f"CREATE TEMP TABLE {PAIRS_TABLE} ON COMMIT DROP AS "
            + pairs_sql(indexes, target_sql, stage_sql, key_columns)
        )
        cur.execute(
            f"SELECT mps_index, mps_within, {texts}, mps_value, mps_same_read "
            f"FROM pg_temp.{PAIRS_TABLE}"
        )
        pairs = [pair_from_row(row, key_columns) for row in cur.fetchall()]
        if not pairs:
            cur.execute(f"DROP TABLE pg_temp.{PAIRS_TABLE}")
            return refreshed
        genuine = [p for p in pairs if p.within and p.same_read]
        if genuine:
            raise DuplicateUniqueValue(duplicate_message(label, target_sql, genuine))
        still_there = _read_again(cur, target_sql, stage_sql, key_columns, read_keys, gen)
        refreshed += [
            Refreshed(p.index, p.left, p.right, p.left in still_there)
            for p in {p.left: p for p in pairs if not p.within}.values()  # once per row
        ]
    raise UniqueValuesKeepMoving(
        f"{label}: unique values of {target_sql} still collided after {max_rounds} reads from "
        "MySQL (the app keeps moving them between rows); copy the chunk again (resume)"
    )


def _read_again(
    cur: Any,
    target_sql: str,
    stage_sql: str,
    key_columns: Sequence[str],
    read_keys: ReadKeys,
    gen: int,
) -> set[str]:
    """Replace both rows of every pair (in the target or the stage) by their current MySQL
    rows, staged with ``gen``; returns the keys (as text) of the target rows MySQL still has."""
    keys = ", ".join(pg.quote_ident(k) for k in key_columns)
    sides = [
        ", ".join(f"mps_{side}k{i} AS {pg.quote_ident(k)}" for i, k in enumerate(key_columns))
        for side in ("l", "r")
    ]
    pairs = f"pg_temp.{PAIRS_TABLE}"
    cur.execute(
        f"CREATE TEMP TABLE {REREAD_TABLE} ON COMMIT DROP AS "
        f"SELECT {sides[0]} FROM {pairs} UNION SELECT {sides[1]} FROM {pairs}"
    )
    cur.execute(f"SELECT {keys} FROM pg_temp.{REREAD_TABLE}")
    _, batches = read_keys(cur.fetch_arrow_table())
    try:
        fresh = [with_gen(b, gen) for b in batches]
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
    cur.execute(
        f"CREATE TEMP TABLE {FRESH_TABLE} ON COMMIT DROP AS SELECT * FROM {stage_sql} WITH NO DATA"
    )
    if fresh:
        rows = pa.Table.from_batches(fresh, schema=fresh[0].schema)
        cur.adbc_ingest(FRESH_TABLE, rows, mode="append", temporary=True)
    fresh_sql, reread_sql = f"pg_temp.{FRESH_TABLE}", f"pg_temp.{REREAD_TABLE}"
    found = " AND ".join(f"f.{pg.quote_ident(k)} = p.mps_lk{i}" for i, k in enumerate(key_columns))
    left = ", ".join(f"p.mps_lt{i}" for i in range(len(key_columns)))
    cur.execute(
        f"SELECT DISTINCT {left} FROM {pairs} p WHERE NOT p.mps_within "
        f"AND EXISTS (SELECT 1 FROM {fresh_sql} f WHERE {found})"
    )
    still_there = {key_text(key_columns, row) for row in cur.fetchall()}
    for table_sql in (target_sql, stage_sql):
        cur.execute(f"DELETE FROM {table_sql} t USING {reread_sql} r WHERE {_match(key_columns)}")
    cur.execute(f"INSERT INTO {stage_sql} SELECT * FROM {fresh_sql}")
    cur.execute(f"DROP TABLE {pairs}, {reread_sql}, {fresh_sql}")
    return still_there


def _match(key_columns: Sequence[str]) -> str:
    return " AND ".join(f"t.{pg.quote_ident(k)} = r.{pg.quote_ident(k)}" for k in key_columns)
