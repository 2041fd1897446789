"""Whether each target column reads the bytes the backfill's binary COPY writes for it.

ADBC writes a column's values in the binary COPY form of their Arrow type and names no type:
PostgreSQL reads them with its column's receive function whatever they are. The converters
pick the Arrow type from the column's kind (its MySQL type), so a hand-set ``pg_type`` of
another kind would have its bytes reinterpreted without an error: a double 1.5 into a bigint
column arrives as 4609434218613702656, the text 'abcd' into an integer as 1633837924, a date
into an integer as its day number. The backfill refuses such a column before it copies a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
import pyarrow as pa

from mysql_pg_sync.dialects import postgres as pg
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.types.typemap import default_pg_type

# PostgreSQL's receive functions that read an Arrow type's binary COPY form as the same value.
# timestamp and timestamptz share theirs (microseconds since 2000-01-01).
_TEXT = frozenset({"textrecv", "varcharrecv", "bpcharrecv", "enum_recv", "json_recv"})
_TIMESTAMP = frozenset({"timestamp_recv", "timestamptz_recv"})
# kinds the converters hand over already in a PostgreSQL type's own binary form (types.arrow)
_ENCODED_BY_KIND = {
    "json": frozenset({"jsonb_recv"}),
    "bits": frozenset({"varbit_recv", "bit_recv"}),
    "inet": frozenset({"inet_recv"}),
}
_BYTEA = frozenset({"bytearecv"})


def receivers_for(arrow_type: pa.DataType, kind: str) -> frozenset[str]:
    """The receive functions that read ``arrow_type``'s binary COPY form (of a column of
    ``kind``) as the value it holds (pure)."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return _TEXT
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return _ENCODED_BY_KIND.get(kind, _BYTEA)
    if pa.types.is_timestamp(arrow_type):
        return _TIMESTAMP
    if pa.types.is_decimal(arrow_type):
        return frozenset({"numeric_recv"})
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return frozenset({"array_recv"})  # array_recv itself refuses another element type
    if isinstance(arrow_type, pa.UuidType):
        return frozenset({"uuid_recv"})
    return _BY_TYPE.get(arrow_type, frozenset())


_BY_TYPE: dict[pa.DataType, frozenset[str]] = {
    pa.bool_(): frozenset({"boolrecv"}),
    pa.int16(): frozenset({"int2recv"}),
    pa.int32(): frozenset({"int4recv"}),
    pa.int64(): frozenset({"int8recv"}),
    pa.float32(): frozenset({"float4recv"}),
    pa.float64(): frozenset({"float8recv"}),
    pa.date32(): frozenset({"date_recv"}),
    pa.time64("us"): frozenset({"time_recv"}),
    pa.duration("us"): frozenset({"interval_recv"}),
}


def problems(mapping: TableMapping, schema: pa.Schema, receivers: Mapping[str, str]) -> list[str]:
    """One problem per synced column whose target column (``receivers``: PostgreSQL column
    name -> its type's receive function) would misread the converted ``schema``'s bytes
    (pure). A column the table lacks is left to the table checks."""
    found = []
    for column in mapping.synced_columns():
        receiver = receivers.get(column.pg_name)
        if receiver is None:
            continue
        arrow_type = schema.field(column.pg_name).type
        if receiver in receivers_for(arrow_type, column.kind):
            continue
        found.append(
            f"column {column.name!r} ({column.column_type} -> pg_type {column.pg_type!r}): "
            f"the copy writes its values as {arrow_type} (kind {column.kind}), which "
            f"PostgreSQL's {receiver} would read as other values, without an error; set the "
            f"column's pg_type to one of its kind (the type map's: "
            f"{default_pg_type(column.column_type)!r}) and retype the PostgreSQL column to "
            "match, or exclude the column"
        )
    return found


def target_receivers(conn: psycopg.Connection[Any], schema: str, table: str) -> dict[str, str]:
    """{column: the receive function its binary COPY input goes through} of a table; a
    domain's is its base type's."""
    rows = conn.execute(
        "SELECT a.attname, p.proname FROM pg_attribute a "
        "JOIN pg_type t ON t.oid = a.atttypid "
        "LEFT JOIN pg_type b ON b.oid = t.typbasetype "
        "JOIN pg_proc p ON p.oid = CASE WHEN t.typtype = 'd' THEN b.typreceive "
        "ELSE t.typreceive END "
        "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        (pg.qualified(schema, table),),
    ).fetchall()
    return {str(r[0]): str(r[1]) for r in rows}
