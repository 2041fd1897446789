"""Debezium value helpers shared by the stream's decoders (:mod:`mysql_pg_sync.cdc.decode` for
JSON with schemas, :mod:`mysql_pg_sync.cdc.decode_avro` for Avro): exact decimals, MySQL's
zero date in NOT NULL columns, geometries and PostgreSQL's unchanged TOASTed arrays.

Limits that come from Debezium itself: a MySQL zero date arrives as null (nullable column) or
as the epoch (NOT NULL column), so it cannot be told from a real value (the stream's decoders
read that epoch as the zero date: :func:`zero_date_decoder`); bigint unsigned needs
``bigint.unsigned.handling.mode=precise`` (``long`` wraps values above 2^63 - 1).
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections.abc import Callable
from decimal import MAX_PREC, Context, Decimal
from typing import Any

from mysql_pg_sync.cdc.events import UNAVAILABLE
from mysql_pg_sync.types.convert import ZERO_DATE, ZERO_DATETIME

# what Debezium sends for a value PostgreSQL left out of an event (an unchanged TOASTed value)
TOAST_PLACEHOLDER = "__debezium_unavailable_value"
_TOAST_BYTES = TOAST_PLACEHOLDER.encode()
# An unchanged TOASTed PostgreSQL array, as Debezium 3.6 sends it (seen on the stack): the
# placeholder made into an array of the column's item type. text[] (varchar[], ...): the
# placeholder as its only item; bytea[]: its bytes (base64 in JSON, bytes in Avro); uuid[]: the
# UUID of its bytes (Java's UUID.nameUUIDFromBytes); integer[], bigint[] and date[]: its
# characters' codes, 28 items. (An unchanged TOASTed smallint[], numeric[], double precision[]
# or timestamp[] fails the connector's task: Debezium cannot make the placeholder of those.)
_UNAVAILABLE_ARRAYS: tuple[list[Any], ...] = (
    [TOAST_PLACEHOLDER],
    [base64.b64encode(_TOAST_BYTES).decode()],
    [_TOAST_BYTES],
    [str(uuid.UUID(bytes=hashlib.md5(_TOAST_BYTES, usedforsecurity=False).digest(), version=3))],
    list(_TOAST_BYTES),
)
_CODES = len(_TOAST_BYTES)

# Decimal.scaleb rounds to its context's precision, 28 digits by default: a decimal(65,30)
# value lost its last 37 digits. Scaling exactly needs a context that never rounds.
_EXACT = Context(prec=MAX_PREC)
# The zero date's text (as mysqlclient hands it over) by the schema name Debezium gives the
# column: what its epoch stands for in a NOT NULL column (see zero_date_decoder).
_ZERO_BY_NAME = {
    "io.debezium.time.Date": ZERO_DATE,
    "org.apache.kafka.connect.data.Date": ZERO_DATE,
    "io.debezium.time.Timestamp": ZERO_DATETIME,
    "org.apache.kafka.connect.data.Timestamp": ZERO_DATETIME,
    "io.debezium.time.MicroTimestamp": ZERO_DATETIME,
    "io.debezium.time.NanoTimestamp": ZERO_DATETIME,
    "io.debezium.time.ZonedTimestamp": ZERO_DATETIME,
}
_ZONED_EPOCH = "1970-01-01T00:00:00"
# what may follow the epoch's seconds in Debezium's text of it: zero fractions and a UTC offset
# ('1970-01-01T00:00:00.5Z' is a real TIMESTAMP(1) value, half a second past the epoch)
_EPOCH_TAILS = re.compile(r"(?:\.0*)?(?:Z|[+-]00:?00)?")


def exact_decimal(unscaled: int, scale: int) -> Decimal:
    """``unscaled * 10**-scale`` with every digit kept."""
    return Decimal(unscaled).scaleb(-scale, _EXACT)


def zero_date_decoder(name: str | None, decode: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``decode`` for a NOT NULL MySQL date, datetime or timestamp field, reading Debezium's epoch
    as the zero date ('0000-00-00', as mysqlclient hands it over).

    Debezium sends a zero date in a NOT NULL column as the epoch, the same value as a real
    1970-01-01 (00:00:00): legacy schemas hold zero dates by the million and real epochs rarely,
    so the epoch is read as the zero date. A real epoch in such a DATE or DATETIME column reaches
    PostgreSQL as the zero date would (NULL) and reconcile repairs it from MySQL. A TIMESTAMP
    cannot hold the epoch itself (its range starts one second later): no ambiguity there, but
    it can hold a fraction of its first second, which is read as the value it is.
    """
    zero = _ZERO_BY_NAME.get(name or "")
    if zero is None:
        return decode

    def decode_or_zero(value: Any) -> Any:
        if value == 0 or (
            isinstance(value, str)
            and value.startswith(_ZONED_EPOCH)
            and _EPOCH_TAILS.fullmatch(value, len(_ZONED_EPOCH)) is not None
        ):
            return zero
        return decode(value)

    return decode_or_zero


def postgres_array_decoder(item: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    """The decoder of a PostgreSQL array column: UNAVAILABLE (unchanged) for Debezium's
    placeholder of an unchanged TOASTed array (see _UNAVAILABLE_ARRAYS), else the array with
    its items through ``item``. A real array equal to a placeholder reads as unchanged, as a
    text equal to the placeholder does."""
    if item is None:

        def decode(values: Any) -> Any:
            n = len(values)
            if (n == 1 or n == _CODES) and values in _UNAVAILABLE_ARRAYS:
                return UNAVAILABLE
            return values

        return decode

    def decode_items(values: Any) -> Any:
        n = len(values)
        if (n == 1 or n == _CODES) and values in _UNAVAILABLE_ARRAYS:
            return UNAVAILABLE
        return [None if v is None else item(v) for v in values]

    return decode_items


def mysql_geometry(wkb: bytes, srid: int | None) -> bytes:
    """A Debezium Geometry/Point as MySQL stores a geometry (and mysqlclient hands it over):
    the SRID as 4 little-endian bytes, then the WKB."""
    return int(srid or 0).to_bytes(4, "little") + wkb
