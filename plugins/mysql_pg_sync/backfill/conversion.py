"""Chunk batches through the shared Arrow converters (:mod:`mysql_pg_sync.types.arrow`).

When a batch does not convert, the first failing row is found by bisection and the error names
table, key, column *and value*, whatever raised it (a ConversionError or an Arrow cast).
With the mapping's ``backfill.on_bad_value: reject`` every failing row is found instead (per
failing column, by bisection), taken out of the batch and handed back as a :class:`RejectedRow`
for the writer to record. A batch that converts costs one conversion, as before.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from mysql_pg_sync.dialects import mysql as mysql_dialect
from mysql_pg_sync.errors import ConversionError
from mysql_pg_sync.mapping.models import ColumnMapping, TableMapping
from mysql_pg_sync.types.arrow import single_array, to_pg_table
from mysql_pg_sync.types.convert import Stats, format_mysql_time

_FAILURES = (ConversionError, pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)


@dataclass(frozen=True)
class RejectedRow:
    """A source row left out of the copy: its key, the (first) column that failed, the value."""

    key: dict[str, Any]
    column: str
    value: Any
    error: str

    def value_text(self) -> str | None:
        """The value as Python writes it in the fail-mode error (``repr``): unambiguous, and
        storable as PostgreSQL text even when it holds a NUL byte."""
        return None if self.value is None else repr(self.value)

    def describe(self, limit: int = 200) -> str:
        value = self.value_text() or "NULL"
        if len(value) > limit:
            value = value[:limit] + f"... ({len(value)} chars)"
        return f"key {self.key}: column {self.column!r}: value {value}"


@dataclass
class Rejects:
    """What the conversion left out of a chunk; filled while the COPY pulls the batches."""

    rows: list[RejectedRow] = field(default_factory=list)
    pg_keys: list[pa.RecordBatch] = field(default_factory=list)
    """The rejected rows' keys in PostgreSQL names and types (those that convert at all): a
    keyset chunk deletes them from the target too, so no stale copy of a rejected row stays."""

    def __len__(self) -> int:
        return len(self.rows)


def convert_batch(
    mapping: TableMapping,
    batch: pa.RecordBatch,
    stats: Stats | None = None,
    rejects: Rejects | None = None,
) -> pa.RecordBatch:
    """The batch in PostgreSQL types and column names.

    Every column goes through the shared converters (connectorx's native dates included).
    ``rejects`` None: a value that does not convert raises a ConversionError naming it; given:
    rows that do not convert are left out of the result and recorded there.
    """
    return _convert_batch(mapping, batch, stats, rejects, keys_of_rejects=True)


def _convert_batch(
    mapping: TableMapping,
    batch: pa.RecordBatch,
    stats: Stats | None,
    rejects: Rejects | None,
    *,
    keys_of_rejects: bool,
) -> pa.RecordBatch:
    table = pa.Table.from_batches([batch])
    if rejects is None:
        try:
            out = to_pg_table(mapping, table, stats)
        except _FAILURES as exc:
            raise explain(mapping, table, exc) from None
    else:
        out, table, bad = _convert_rejecting(mapping, table, stats, rejects.rows)
        if bad is not None and keys_of_rejects:
            rejects.pg_keys.append(_pg_keys(mapping, bad))
    arrays = [single_array(column) for column in out.columns]
    return pa.RecordBatch.from_arrays(arrays, names=out.column_names)


def _convert_rejecting(
    mapping: TableMapping, table: pa.Table, stats: Stats | None, rejects: list[RejectedRow]
) -> tuple[pa.Table, pa.Table, pa.Table | None]:
    """(converted good rows, the good rows as read, the bad rows as read or None); the bad
    rows are described in ``rejects``."""
    trial = Stats()  # a failed attempt may have counted some values already: count only once
    try:
        out = to_pg_table(mapping, table, trial)
    except _FAILURES as exc:
        bad = failing_rows_by_column(mapping, table)
        if not bad:  # no single column fails on its own: nothing to reject, name the failure
            raise explain(mapping, table, exc) from None
        rejects.extend(_rejected(mapping, table, index, columns) for index, columns in bad.items())
        # typed indices: an empty list is a null array, which take() has no kernel for (a
        # batch whose every row is rejected, as when all its keys are bad)
        good = table.take(pa.array([i for i in range(table.num_rows) if i not in bad], pa.int64()))
        return to_pg_table(mapping, good, stats), good, table.take(pa.array(list(bad), pa.int64()))
    if stats is not None:
        _add_stats(stats, trial)
    return out, table, None


def _pg_keys(mapping: TableMapping, rows: pa.Table) -> pa.RecordBatch:
    """The rows' keys converted like the copy converts them; keys that do not convert (the bad
    value is in the key) are left out: PostgreSQL cannot hold such a key anyway."""
    keys = mapping.model_copy(
        update={"columns": tuple(c for c in mapping.columns if c.name in mapping.key)}
    )
    batch = rows.select(list(mapping.key)).combine_chunks().to_batches()[0]
    # the keys that do not convert are left out here, not looked up again (that would recurse)
    return _convert_batch(keys, batch, None, Rejects(), keys_of_rejects=False)


def _add_stats(into: Stats, part: Stats) -> None:
    into.nul_bytes_stripped += part.nul_bytes_stripped
    into.zero_dates += part.zero_dates
    for label, n in part.by_column.items():
        into.by_column[label] = into.by_column.get(label, 0) + n


def failing_rows(mapping: TableMapping, table: pa.Table) -> list[int]:
    """Every row index of ``table`` that does not convert, ascending.

    Bisection: a part that converts is cleared in one call, so k bad rows among n cost about
    2k·log2(n) conversions of ever smaller slices.
    """
    found: list[int] = []
    parts = [(0, table.num_rows)]
    while parts:
        offset, length = parts.pop()
        if length == 0 or not _fails(mapping, table.slice(offset, length)):
            continue
        if length == 1:
            found.append(offset)
            continue
        half = length // 2
        parts += [(offset + half, length - half), (offset, half)]
    return sorted(found)


def failing_rows_by_column(
    mapping: TableMapping, table: pa.Table
) -> dict[int, list[ColumnMapping]]:
    """Row index -> the columns whose values do not convert, in the mapping's column order.

    Columns convert independently, so a row fails exactly when one of its columns does; looking
    per column keeps each bisection step to one column's conversion and names every bad column.
    """
    bad: dict[int, list[ColumnMapping]] = {}
    for column in mapping.synced_columns():
        single = mapping.model_copy(update={"columns": (column,)})
        for index in failing_rows(single, table):
            bad.setdefault(index, []).append(column)
    return dict(sorted(bad.items()))


def _rejected(
    mapping: TableMapping, table: pa.Table, index: int, columns: list[ColumnMapping]
) -> RejectedRow:
    row = table.slice(index, 1)
    key = {k: _key_value(mapping.column(k), row.column(k), shown=False) for k in mapping.key}
    first = columns[0]
    single = mapping.model_copy(update={"columns": (first,)})
    try:
        to_pg_table(single, row)
        why = "does not convert"  # only fails within its batch; not seen in practice
    except _FAILURES as exc:
        why = str(exc)
    others = [c.name for c in columns[1:]]
    also = f" (also bad: {', '.join(others)})" if others else ""
    return RejectedRow(
        key=key,
        column=first.name,
        value=_as_mysql_shows(first, row.column(first.name)),
        error=f"cannot be converted to {first.pg_type}: {why}{also}",
    )


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


def _as_read(values: pa.ChunkedArray) -> Any:
    """The first value as Python has it; a date Python cannot hold (year 0) as its text."""
    scalar = values[0]
    try:
        return scalar.as_py()
    except (ValueError, OverflowError):
        return scalar.cast(pa.string()).as_py()


def _key_value(column: ColumnMapping, values: pa.ChunkedArray, *, shown: bool) -> Any:
    """The first value of a key column, as read or (``shown``) as MySQL prints it; a text key
    read as its bytes as its text."""
    value = _as_mysql_shows(column, values) if shown else _as_read(values)
    if isinstance(value, bytes) and column.kind == "text":
        return value.decode("utf-8", "backslashreplace")
    if column.kind == "enum" and not shown:
        return _as_mysql_shows(column, values)
    return value


def _as_mysql_shows(column: ColumnMapping, values: pa.ChunkedArray) -> Any:
    """The first value as MySQL prints it: the reader reads a TIME as microseconds (its Arrow
    read expression), which an operator would not recognise in an error, and an enum with a
    member '' as "<index>:<text>" (:func:`mysql_dialect.arrow_read_expression`)."""
    value = _as_read(values)
    if column.kind in ("time", "interval") and isinstance(value, int):
        return format_mysql_time(dt.timedelta(microseconds=value))
    if (
        column.kind == "enum"
        and isinstance(value, str)
        and mysql_dialect.enum_read_carries_index(column.values)
    ):
        return value.partition(mysql_dialect.ENUM_INDEX_SEPARATOR)[2]
    return value


def explain(mapping: TableMapping, table: pa.Table, exc: BaseException) -> ConversionError:
    index = first_failing_row(mapping, table)
    if index is None:
        return ConversionError(f"{mapping.name}: {exc}")
    row = table.slice(index, 1)
    key = {k: _key_value(mapping.column(k), row.column(k), shown=True) for k in mapping.key}
    for column in mapping.synced_columns():
        single = mapping.model_copy(update={"columns": (column,)})
        try:
            to_pg_table(single, row)
        except _FAILURES as column_exc:
            value = _as_mysql_shows(column, row.column(column.name))
            return ConversionError(
                f"{mapping.name}: key {key}: column {column.name!r}: value {value!r} cannot be "
                f"converted to {column.pg_type}: {column_exc}"
            )
    return ConversionError(f"{mapping.name}: key {key}: {exc}")
