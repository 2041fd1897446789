"""A chunk's MySQL rows as converted Arrow batches: its key range, or rows by their keys.

Both go through one reader and one conversion, so a row read again by its key is what the
chunk's copy would write for it (:mod:`.unique_refresh` reads the rows a chunk's unique values
collide with that way).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa

from mysql_pg_sync.backfill import readers
from mysql_pg_sync.backfill.conversion import Rejects, convert_batch
from mysql_pg_sync.backfill.keys import KeyValue
from mysql_pg_sync.backfill.plan import ChunkSpec, mysql_key_predicate, mysql_range_predicate
from mysql_pg_sync.dialects import mysql as my
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.settings import DatabaseEndpoint
from mysql_pg_sync.types.convert import Stats

Read = tuple[pa.Schema, Iterator[pa.RecordBatch]]
"""(the converted schema, the converted batches)."""
Convert = Callable[[TableMapping, pa.RecordBatch, Stats | None, Rejects | None], pa.RecordBatch]


def mysql_key_value(kind: str, value: Any) -> Any:
    """A key value as PostgreSQL's ADBC driver returns it, as MySQL compares it: an enum label
    arrives as its bytes, a numeric (a decimal, a bigint unsigned) as text (compared as a number,
    not as a string: a string beside a bigint compares as a double, and ids past 2^53 meet
    their neighbours)."""
    if kind == "enum" and isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8")
    if kind == "decimal" and isinstance(value, str):
        return Decimal(value)
    if kind == "uint64" and isinstance(value, str | Decimal):  # numeric(20,0), as text
        return int(value)  # as a number: MySQL compares a string with it as a double
    return my.key_param(kind, value)  # a uuid as its 16 bytes, a timestamptz as UTC wall time


@dataclass
class SourceRows:
    """The MySQL side of one chunk's copy. ``rejects`` (mapping ``on_bad_value: reject``) and
    ``stats`` describe the latest read of the chunk: a second read starts them afresh."""

    endpoint: DatabaseEndpoint
    mapping: TableMapping
    key_columns: tuple[str, ...]  # MySQL names, in the plan's order
    chunk: ChunkSpec
    reader: str
    batch_rows: int = readers.DEFAULT_BATCH_ROWS
    rejects: Rejects | None = None
    stats: Stats = field(default_factory=Stats)
    convert: Convert = convert_batch
    _chunk_reads: int = 0

    def read_chunk(self) -> Read:
        """The chunk's rows, by its key range."""
        self._chunk_reads += 1
        if self._chunk_reads > 1:
            self.stats = Stats()
            if self.rejects is not None:
                self.rejects.rows.clear()
                self.rejects.pg_keys.clear()
        where = mysql_range_predicate(
            self.key_columns, self.chunk.lower, self.chunk.upper, my.quote_ident
        )
        return self._read(where, self.rejects)

    def read_keys(self, pg_keys: pa.Table) -> Read:
        """The current rows of these keys (PostgreSQL names and values, as fetched), in ONE
        SELECT: one consistent read. A key MySQL no longer has yields no row. A value that does
        not convert fails (a ConversionError naming it), whatever ``on_bad_value`` says: the
        row is another chunk's, and its rejects are that chunk's to record."""
        kinds = [self.mapping.column(k).kind for k in self.key_columns]
        keys: list[KeyValue] = [
            tuple(mysql_key_value(kind, v) for kind, v in zip(kinds, row.values(), strict=True))
            for row in pg_keys.to_pylist()
        ]
        return self._read(mysql_key_predicate(self.key_columns, keys, my.quote_ident), None)

    def _read(self, where: str, rejects: Rejects | None) -> Read:
        sql = readers.select_sql(self.mapping, where, self.reader)
        raw: Iterator[pa.RecordBatch]
        if self.reader == readers.FAST:
            stream = readers.read_connectorx(self.endpoint, sql, self.batch_rows)
            empty = readers.empty_record_batch(stream.schema)
            raw = readers.iter_connectorx(stream)
        else:
            empty = readers.empty_batch(self.mapping)
            raw = readers.iter_mysqlclient(self.endpoint, sql, self.mapping, self.batch_rows)
        schema = self.convert(self.mapping, empty, None, None).schema
        return schema, self._converted(raw, rejects)

    def _converted(
        self, raw: Iterator[pa.RecordBatch], rejects: Rejects | None
    ) -> Iterator[pa.RecordBatch]:
        """Converted batches; closing it closes the reader (a MySQL read suspended mid-way
        keeps its open transaction and a metadata lock on the table until then)."""
        stats = self.stats
        try:
            for batch in raw:
                yield self.convert(self.mapping, batch, stats, rejects)
        finally:
            close = getattr(raw, "close", None)
            if close is not None:
                close()
