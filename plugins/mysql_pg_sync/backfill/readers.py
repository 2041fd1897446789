"""Read a chunk from MySQL as a stream of Arrow record batches.

Two readers share one SELECT shape and one set of converters:

* ``connectorx`` (fast): Rust, straight to Arrow. Values it cannot represent natively (zero
  dates, TIME outside a day, spatial types, the widest DECIMALs) are read through the MySQL
  dialect's Arrow read expressions (text, microseconds, SRID + WKB); a chunk it still cannot read
  (connectorx panics on values it does not know) is re-read with the fallback, logged per chunk.
* ``mysqlclient`` (fallback): a server-side cursor (SSCursor) over the same SELECT (but a FLOAT
  read as a DOUBLE, exact, and UTF-8 text as its bytes: see the dialect), batches built from
  Python values in the same Arrow shapes, so the same converters apply. Forced per run with
  ``MPS_BACKFILL_READER=mysqlclient``; the choice and its reason are logged per table.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

import pyarrow as pa

from mysql_pg_sync.connections import mysql_connect
from mysql_pg_sync.dialects import mysql as mysql_dialect
from mysql_pg_sync.mapping.models import ColumnMapping, TableMapping
from mysql_pg_sync.settings import DatabaseEndpoint
from mysql_pg_sync.types.arrow import select_list
from mysql_pg_sync.types.drivers import mysql_conv

log = logging.getLogger(__name__)

FAST = "connectorx"
FALLBACK = "mysqlclient"
DEFAULT_BATCH_ROWS = 65_536  # ~10-30 MB per batch for typical rows: bounded memory per worker


class ReaderUnavailable(Exception):
    """The fast reader cannot represent a value in this chunk; re-read with the fallback."""


READER_ENV = "MPS_BACKFILL_READER"  # force one reader for every table (diagnosis)


def choose_reader(mapping: TableMapping, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(reader, reason) for a table; a chunk connectorx cannot read falls back by itself."""
    forced = (os.environ if env is None else env).get(READER_ENV)
    if forced in (FAST, FALLBACK):
        return forced, f"forced by {READER_ENV}"
    return FAST, "connectorx reads every column through the dialect's Arrow read expressions"


NATIVE_TEMPORAL = frozenset({"date", "datetime", "timestamp"})


def select_sql(mapping: TableMapping, where: str, reader: str = FAST) -> str:
    """The chunk's SELECT. connectorx reads dates natively (no text formatting and parsing);
    a zero date makes it panic and the chunk is re-read by the fallback, whose dialect read
    expressions turn dates into text that the converters map by the zero-date policy (and
    read a FLOAT as a DOUBLE, UTF-8 text as its bytes: see the dialect)."""
    source = mysql_dialect.qualified(mapping.source.db, mapping.source.table)
    if reader != FAST:
        return f"SELECT {select_list(mapping, fallback=True)} FROM {source} WHERE {where}"
    exprs = []
    for column, expr in zip(mapping.synced_columns(), _split_select(mapping), strict=True):
        native = column.kind in NATIVE_TEMPORAL
        exprs.append(mysql_dialect.quote_ident(column.name) if native else expr)
    return f"SELECT {', '.join(exprs)} FROM {source} WHERE {where}"


def _split_select(mapping: TableMapping) -> list[str]:
    """One dialect read expression per synced column."""
    return [
        select_list(mapping.model_copy(update={"columns": (column,)}))
        for column in mapping.synced_columns()
    ]


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


def _arrow_type(column: ColumnMapping) -> pa.DataType | None:
    """The Arrow type of the fallback reader's Python values, shaped like connectorx's."""
    if column.kind == "uint64":
        return pa.uint64()
    if column.kind in ("int", "year", "bool", "time", "interval"):
        return pa.int64()  # TIME is read as microseconds (dialect read expression)
    if column.kind in ("float32", "float64"):
        return pa.float64()  # a FLOAT is read as a DOUBLE (select_sql)
    if column.kind in ("bytes", "uuid", "geometry", "bits", "bit1"):
        return pa.binary()
    text = column.kind in ("text", "json")
    if text and mysql_dialect.text_read_as_bytes(column.charset, fallback=True):
        return pa.binary()  # decoded by the converters, which name a value that does not
    if column.kind == "decimal":
        return None  # Decimal, or text for the widest ones: let Arrow infer
    return pa.string()


def iter_mysqlclient(
    endpoint: DatabaseEndpoint,
    sql: str,
    mapping: TableMapping,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> Iterator[pa.RecordBatch]:
    """Stream with a server-side cursor; memory holds one batch."""
    import MySQLdb.cursors

    columns = mapping.synced_columns()
    types = [_arrow_type(c) for c in columns]
    names = [c.name for c in columns]
    # mysqlclient's own converters turn an invalid date into None, like NULL: a date column
    # mapped to text ('2020-00-15' kept as written) would lose its values without a trace
    conn = mysql_connect(endpoint, conv=mysql_conv())
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


def empty_batch(mapping: TableMapping) -> pa.RecordBatch:
    """A zero-row batch typed like the fallback reader's, to derive the converted schema."""
    columns = mapping.synced_columns()
    schema = pa.schema([(c.name, _arrow_type(c) or pa.decimal128(38, 10)) for c in columns])
    return empty_record_batch(schema)


def empty_record_batch(schema: pa.Schema) -> pa.RecordBatch:
    """A zero-row batch of ``schema``. Built from ``pa.nulls``: ``pa.array([])``,
    ``from_pylist`` and ``empty_table`` make pyarrow import pandas (~0.5 s of CPU per worker
    process, for nothing)."""
    return pa.RecordBatch.from_arrays([pa.nulls(0, f.type) for f in schema], schema=schema)
