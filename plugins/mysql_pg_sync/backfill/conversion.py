"""Chunk batches through the shared Arrow converters (:mod:`mysql_pg_sync.types.arrow`).

When a batch does not convert, the first failing row is found by bisection and the error names
table, key, column *and value*, whatever raised it (a ConversionError or an Arrow cast).
"""

from __future__ import annotations

import pyarrow as pa

from mysql_pg_sync.errors import ConversionError
from mysql_pg_sync.mapping.models import ColumnMapping, TableMapping
from mysql_pg_sync.types.arrow import to_pg_table
from mysql_pg_sync.types.convert import Stats

_FAILURES = (ConversionError, pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)


def _native_temporal(column: ColumnMapping, arrow_type: pa.DataType) -> pa.DataType | None:
    """The target type when connectorx delivered a date/datetime/timestamp natively."""
    if column.kind == "date" and pa.types.is_date(arrow_type):
        return pa.date32()
    if column.kind in ("datetime", "timestamp") and pa.types.is_timestamp(arrow_type):
        return pa.timestamp("us", tz="UTC" if column.kind == "timestamp" else None)
    return None


def convert_batch(
    mapping: TableMapping, batch: pa.RecordBatch, stats: Stats | None = None
) -> pa.RecordBatch:
    """The batch in PostgreSQL types and column names.

    Natively read temporal columns are cast here (sessions run at UTC, so a TIMESTAMP's value is
    UTC); every other column goes through the shared converters.
    """
    table = pa.Table.from_batches([batch])
    native = {
        c.name: target
        for c in mapping.synced_columns()
        if (target := _native_temporal(c, table.schema.field(c.name).type)) is not None
    }
    rest = mapping.model_copy(
        update={"columns": tuple(c for c in mapping.columns if c.name not in native)}
    )
    try:
        out = to_pg_table(rest, table, stats)
    except _FAILURES as exc:
        raise explain(rest, table, exc) from None
    arrays = []
    for column in mapping.synced_columns():
        if column.name in native:
            raw = table.column(column.name).combine_chunks()
            arrays.append(_cast_temporal(raw, native[column.name]))
        else:
            arrays.append(out.column(column.pg_name).combine_chunks())
    return pa.RecordBatch.from_arrays(arrays, names=[c.pg_name for c in mapping.synced_columns()])


def _cast_temporal(raw: pa.Array, target: pa.DataType) -> pa.Array:
    if pa.types.is_timestamp(target) and target.tz is not None:
        return raw.cast(pa.timestamp("us")).cast(target)  # naive UTC wall time -> UTC instant
    return raw.cast(target)


def _fails(mapping: TableMapping, table: pa.Table) -> bool:
    try:
        to_pg_table(mapping, table)
    except _FAILURES:
        return True
    return False


def first_failing_row(mapping: TableMapping, table: pa.Table) -> int | None:
    if not _fails(mapping, table):
        return None
    low, high = 0, table.num_rows  # a failing row lies in [low, high)
    while high - low > 1:
        middle = (low + high) // 2
        if _fails(mapping, table.slice(low, middle - low)):
            high = middle
        else:
            low = middle
    return low


def explain(mapping: TableMapping, table: pa.Table, exc: BaseException) -> ConversionError:
    index = first_failing_row(mapping, table)
    if index is None:
        return ConversionError(f"{mapping.name}: {exc}")
    row = table.slice(index, 1)
    key = {k: row.column(k)[0].as_py() for k in mapping.key}
    for column in mapping.synced_columns():
        single = mapping.model_copy(update={"columns": (column,)})
        try:
            to_pg_table(single, row)
        except _FAILURES as column_exc:
            value = row.column(column.name)[0].as_py()
            return ConversionError(
                f"{mapping.name}: key {key}: column {column.name!r}: value {value!r} cannot be "
                f"converted to {column.pg_type}: {column_exc}"
            )
    return ConversionError(f"{mapping.name}: key {key}: {exc}")
