"""Read a chunk from MySQL as a stream of Arrow record batches.

Two readers share one SELECT shape and one set of converters:

* ``connectorx`` (fast): Rust, straight to Arrow. It cannot represent zero dates or TIME
  outside a day (it panics), so TIME-like columns are read as text and a chunk whose dates it
  cannot read is re-read with the fallback (logged per chunk).
* ``mysqlclient`` (fallback, correct for every value): a server-side cursor (SSCursor), dates
  and times read as text, batches built from Python values. Chosen per table when a column needs
  it (DECIMAL wider than 38 digits, a converter connectorx cannot feed), with the reason logged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote

import pyarrow as pa

from mysql_pg_sync.backfill.convert import ColumnPlan, _decimal_type
from mysql_pg_sync.connections import mysql_connect
from mysql_pg_sync.dialects import mysql as mysql_dialect
from mysql_pg_sync.settings import DatabaseEndpoint
from mysql_pg_sync.types.typemap import parse_column_type

log = logging.getLogger(__name__)

FAST = "connectorx"
FALLBACK = "mysqlclient"
DEFAULT_BATCH_ROWS = 65_536  # ~10-30 MB per batch for typical rows: bounded memory per worker

TEXT_KINDS = frozenset({"time", "interval", "inet", "native_uuid"})
UNSIGNED_KINDS = frozenset({"bits", "bit1"})
TEMPORAL_KINDS = frozenset({"date", "datetime", "timestamp"})


class ReaderUnavailable(Exception):
    """The fast reader cannot represent a value in this chunk; re-read with the fallback."""


def select_expression(col: ColumnPlan, reader: str) -> str:
    name = mysql_dialect.quote_ident(col.name)
    if col.kind in TEXT_KINDS or (reader == FALLBACK and col.kind in TEMPORAL_KINDS):
        return f"CAST({name} AS CHAR) AS {name}"
    if col.kind in UNSIGNED_KINDS:
        return f"CAST({name} AS UNSIGNED) AS {name}"
    return name


def choose_reader(columns: Sequence[ColumnPlan]) -> tuple[str, str]:
    """(reader, reason) for a table."""
    for col in columns:
        if col.kind == "decimal" and (parse_column_type(col.column_type).args or (10,))[0] > 38:
            return FALLBACK, f"column {col.name} is {col.column_type}: wider than Arrow decimal128"
        if col.kind == "geometry":
            return FALLBACK, f"column {col.name} is {col.column_type}: spatial, read as bytes"
    return FAST, "every column has a connectorx representation"


def select_sql(table_sql: str, columns: Sequence[ColumnPlan], where: str, reader: str) -> str:
    exprs = ", ".join(select_expression(c, reader) for c in columns)
    return f"SELECT {exprs} FROM {table_sql} WHERE {where}"


def connectorx_url(endpoint: DatabaseEndpoint) -> str:
    return (
        f"mysql://{quote(endpoint.user, safe='')}:{quote(endpoint.password, safe='')}"
        f"@{endpoint.host}:{endpoint.port}/{quote(endpoint.database, safe='')}"
    )


def read_connectorx(
    endpoint: DatabaseEndpoint, sql: str, batch_rows: int = DEFAULT_BATCH_ROWS
) -> pa.RecordBatchReader:
    import connectorx

    try:
        return connectorx.read_sql(
            connectorx_url(endpoint),
            sql,
            return_type="arrow_stream",
            batch_size=batch_rows,
            pre_execution_query=["SET time_zone = '+00:00'"],
        )
    except BaseException as exc:
        raise _translated(exc) from exc


def iter_connectorx(reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    """Batches of a connectorx stream; its Rust panics become :class:`ReaderUnavailable`."""
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except BaseException as exc:
            raise _translated(exc) from exc
        yield batch


def _translated(exc: BaseException) -> BaseException:
    if type(exc).__name__ == "PanicException":
        return ReaderUnavailable(str(exc).splitlines()[0][:300])
    return exc


def _arrow_type(col: ColumnPlan) -> pa.DataType | None:
    """The Arrow type for the fallback reader's Python values (None: let pyarrow infer)."""
    if col.kind in ("int", "year", "bits", "bit1", "bool"):
        return pa.int64()
    if col.kind == "uint64":
        return pa.uint64()
    if col.kind == "decimal":
        return _decimal_type(col)
    if col.kind in ("float32", "float64"):
        return pa.float64()
    if col.kind in ("bytes", "uuid", "geometry"):
        return pa.binary()
    return pa.string()


def iter_mysqlclient(
    endpoint: DatabaseEndpoint,
    sql: str,
    columns: Sequence[ColumnPlan],
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> Iterator[pa.RecordBatch]:
    """Stream with a server-side cursor; memory holds one batch."""
    import MySQLdb.cursors

    types = [_arrow_type(c) for c in columns]
    names = [c.name for c in columns]
    conn = mysql_connect(endpoint)
    try:
        cursor = conn.cursor(MySQLdb.cursors.SSCursor)
        cursor.execute(sql)
        while True:
            rows: list[tuple[Any, ...]] = cursor.fetchmany(batch_rows)
            if not rows:
                break
            columns_data = list(zip(*rows, strict=True))
            arrays = [
                pa.array(list(values), type=t)
                for values, t in zip(columns_data, types, strict=True)
            ]
            yield pa.RecordBatch.from_arrays(arrays, names=names)
        cursor.close()
    finally:
        conn.close()


def empty_batch(columns: Sequence[ColumnPlan], reader: str) -> pa.RecordBatch:
    """A zero-row batch typed like the fallback reader's, to derive the converted schema."""
    names = [c.name for c in columns]
    arrays = [pa.array([], type=_arrow_type(c) or pa.string()) for c in columns]
    return pa.RecordBatch.from_arrays(arrays, names=names)
