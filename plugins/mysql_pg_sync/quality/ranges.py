"""Value ranges a MySQL column can hold that its (wider) PostgreSQL column does not enforce.

``int unsigned`` becomes ``bigint``, ``tinyint`` becomes ``smallint``: PostgreSQL accepts values
MySQL would reject, so a row written by the PostgreSQL app could never replicate back. These
ranges become expectations.
"""

from __future__ import annotations

from decimal import Decimal

from mysql_pg_sync.mapping.models import ColumnMapping
from mysql_pg_sync.types.typemap import parse_column_type, pg_precision

_SIGNED_BITS = {
    "tinyint": 8,
    "smallint": 16,
    "mediumint": 24,
    "int": 32,
    "integer": 32,
    "bigint": 64,
}
_PG_INT_BITS = {"smallint": 16, "integer": 32, "int": 32, "int4": 32, "bigint": 64, "int8": 64}


def _mysql_int_range(bits: int, unsigned: bool) -> tuple[int, int]:
    if unsigned:
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def pg_range(pg_type: str) -> tuple[Decimal, Decimal] | None:
    base = pg_type.split("(")[0].strip().lower()
    if base in _PG_INT_BITS:
        low, high = _mysql_int_range(_PG_INT_BITS[base], unsigned=False)
        return Decimal(low), Decimal(high)
    if base in ("numeric", "decimal"):
        precision = pg_precision(pg_type)
        if not precision:
            return None
        scale = precision[1] if len(precision) > 1 else 0
        limit = Decimal(10) ** (precision[0] - scale) - Decimal(10) ** -scale
        return -limit, limit
    return None


def mysql_range(column: ColumnMapping) -> tuple[int | float | None, int | float | None] | None:
    """(min, max) MySQL allows when the PostgreSQL type allows more; None when nothing to check."""
    kind = column.kind
    parsed = parse_column_type(column.column_type)
    if kind in ("float32", "float64"):
        return (0, None) if parsed.unsigned else None  # real / double precision take negatives
    if kind not in ("int", "uint64", "decimal"):
        return None
    low: int | float | None
    high: int | float | None
    if kind == "decimal":
        if not parsed.unsigned:
            return None  # same precision and scale on both sides
        low, high = 0, None
    else:
        bits = _SIGNED_BITS.get(parsed.base)
        if bits is None:
            return None
        low, high = _mysql_int_range(bits, parsed.unsigned)
    pg = pg_range(column.pg_type)
    if pg is not None:
        pg_low, pg_high = pg
        if low is not None and Decimal(low) <= pg_low:
            low = None
        if high is not None and Decimal(high) >= pg_high:
            high = None
    if low is None and high is None:
        return None
    return low, high
