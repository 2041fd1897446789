"""Per-value converters, MySQL <-> PostgreSQL, one pair per kind (see :mod:`.typemap`).

Used by the stream (after :mod:`.debezium` decoded an event) and by every row-at-a-time path.
Inputs are the Python values the drivers hand out (mysqlclient with :func:`.drivers.mysql_conv`,
psycopg with :func:`.drivers.register_pg_loaders`), so zero dates arrive as text and are not
confused with NULL. Outputs are values those drivers accept as parameters.

API: :func:`to_pg`, :func:`to_mysql`, :func:`row_to_pg`, :func:`row_to_mysql`, :class:`Stats`.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import re
import struct
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mysql_pg_sync.errors import ConversionError
from mysql_pg_sync.json_values import duplicate_key
from mysql_pg_sync.mapping.models import ColumnMapping, TableMapping, ValuePolicy
from mysql_pg_sync.types import precision
from mysql_pg_sync.types.typemap import parse_column_type

UTC = dt.UTC
DAY = dt.timedelta(days=1)
ZERO_DATE = "0000-00-00"
ZERO_DATETIME = "0000-00-00 00:00:00"
_DEBEZIUM_ZERO_YEAR = 1900


@dataclass
class Stats:
    """What the converters changed on purpose, so nothing changes silently."""

    nul_bytes_stripped: int = 0
    zero_dates: int = 0
    by_column: dict[str, int] = field(default_factory=dict)

    def count(self, what: str, column: str) -> None:
        setattr(self, what, getattr(self, what) + 1)
        self.by_column[f"{what}:{column}"] = self.by_column.get(f"{what}:{column}", 0) + 1


class Ctx:
    """Where a value comes from: the column, its table's policy, and a label for errors."""

    __slots__ = ("column", "policy", "stats", "where")

    def __init__(
        self, column: ColumnMapping, policy: ValuePolicy, where: str, stats: Stats | None
    ) -> None:  # a plain class: built once per value on the stream path
        self.column = column
        self.policy = policy
        self.where = where
        self.stats = stats

    def fail(self, value: Any, why: str, fix: str) -> ConversionError:
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        return ConversionError(
            f"{self.where}: column {self.column.name!r} ({self.column.column_type} -> "
            f"{self.column.pg_type}): {why}: {shown}; {fix}"
        )


# -- helpers ---------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes | bytearray) else str(value)


def _has_zero_part(text: str) -> bool:
    """A zero month or day: MySQL's zero date, or a partial one such as '2020-00-15'."""
    date_part = text[:10]
    return len(date_part) == 10 and (date_part[5:7] == "00" or date_part[8:10] == "00")


def is_zero_date(text: str) -> bool:
    """MySQL's zero date itself: '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00.000'."""
    return text[:10] == ZERO_DATE and text.lstrip("0-: .") == ""


# A zero month or day ('2020-00-15', '2020-05-00'; MySQL stores them when sql_mode lacks
# NO_ZERO_IN_DATE) keeps a real year and day: NULL or a sentinel would lose them without a trace.
PARTIAL_ZERO_WHY = (
    "partial zero date cannot be kept with a sentinel or as NULL (a zero month or day; "
    "values.zero_dates covers only MySQL's zero date '0000-00-00')"
)
PARTIAL_ZERO_FIX = (
    "clean the row in MySQL (a real date, or NULL), or map the column to text "
    "(pg_type: text, converter: text) to keep the value as MySQL writes it"
)
# MariaDB takes dates from year 0 ('0000-01-01', a real month and day): PostgreSQL would store
# it as 1 BC, and the sync carries years 1-9999 (typemap.DATE_RANGE)
YEAR_ZERO_WHY = (
    "date in year 0, which PostgreSQL would store as 1 BC (the sync carries years 1-9999)"
)
# MySQL stores a geometry with its SRID; the bytea column holds WKB, which has none
GEOMETRY_SRID_FIX = (
    "store the geometry with SRID 0 in MySQL if its SRID means nothing to the PostgreSQL app, "
    "or exclude the column (exclude: true): its bytea holds WKB, which carries no SRID"
)


def geometry_srid_why(srid: int) -> str:
    return f"geometry has SRID {srid}, which the WKB copied to PostgreSQL cannot keep"


# MySQL's invalid enum value and bytes invalid in a column's character set: the backfill reads
# MySQL's index and bytes (types/arrow.py), the stream looks them up (cdc/source_values.py)
ENUM_INDEX_ZERO_WHY = (
    "MySQL's invalid enum value (index 0, stored for a value outside the enum), which reads as "
    "'' like the member ''"
)
ENUM_INDEX_ZERO_FIX = "fix the row in MySQL (a member of the enum, or NULL)"
UNDECODABLE_FIX = (
    "fix the value in MySQL (it holds bytes its character set does not allow, which MariaDB "
    "stores even in strict mode)"
)


# PostgreSQL keys are NOT NULL, and the stream and reconcile find rows by their key
KEY_ZERO_WHY = "a key column holds MySQL's zero date, which a PostgreSQL key cannot hold as NULL"
KEY_ZERO_FIX = (
    "clean the row in MySQL (give it a real date), or set values.zero_dates: sentinel with a "
    "zero_date_sentinel the backfill can carry (e.g. '0001-01-01')"
)


_TIME_RE = re.compile(r"^(-)?(\d+):(\d\d):(\d\d)(?:\.(\d{1,6}))?$")


def parse_mysql_time(text: str) -> dt.timedelta:
    """MySQL TIME text ('-838:59:59.000000') -> timedelta."""
    match = _TIME_RE.match(text.strip())
    if not match:
        raise ValueError(f"not a MySQL TIME: {text!r}")
    sign, h, m, s, frac = match.groups()
    micros = int((frac or "0").ljust(6, "0"))
    delta = dt.timedelta(hours=int(h), minutes=int(m), seconds=int(s), microseconds=micros)
    return -delta if sign else delta


def format_mysql_time(delta: dt.timedelta) -> str:
    """timedelta -> MySQL TIME text, microseconds kept ('-12:00:00.500000')."""
    sign = "-" if delta < dt.timedelta(0) else ""
    total = abs(delta)
    micros = total.microseconds
    seconds = total.days * 86400 + total.seconds
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{sign}{h:02d}:{m:02d}:{s:02d}" + (f".{micros:06d}" if micros else "")


# each date kind's zero date, as mysqlclient hands it over
ZERO_TEXT = {"date": ZERO_DATE, "datetime": ZERO_DATETIME, "timestamp": ZERO_DATETIME}


def zero_date_as_null(column: ColumnMapping, policy: ValuePolicy) -> bool:
    """True for a NOT NULL date, datetime or timestamp column under ``zero_dates: null``: MySQL
    may hold zero dates there, so its PostgreSQL column takes NULL for them (the DDL leaves it
    nullable) and a NULL written in PostgreSQL is the zero date in MySQL."""
    return not column.nullable and policy.zero_dates == "null" and column.kind in ZERO_TEXT


def null_to_mysql(column: ColumnMapping, policy: ValuePolicy) -> Any:
    """What a PostgreSQL NULL is in MySQL: NULL, or the zero date (:func:`zero_date_as_null`)."""
    return ZERO_TEXT[column.kind] if zero_date_as_null(column, policy) else None


def _bit_length(column: ColumnMapping) -> int:
    args = parse_column_type(column.column_type).args
    return args[0] if args else 1


# -- MySQL -> PostgreSQL ---------------------------------------------------------------------


def _bool_to_pg(v: Any, c: Ctx) -> Any:
    if v in (0, 1):
        return bool(v)
    raise c.fail(v, "tinyint(1) holds a value other than 0/1", "set pg_type: smallint")


def _bit1_to_pg(v: Any, c: Ctx) -> Any:
    if isinstance(v, bytes | bytearray):
        v = int.from_bytes(v, "big")
    return bool(v)


def _int_to_pg(v: Any, c: Ctx) -> Any:
    return int(v)


def _year_to_pg(v: Any, c: Ctx) -> Any:
    # Debezium sends the zero year as 1900 (its binlog byte 0 + 1900); YEAR cannot hold 1900
    return 0 if v == _DEBEZIUM_ZERO_YEAR else int(v)


def _uint64_to_pg(v: Any, c: Ctx) -> Any:
    number = int(v)
    if number < 0:
        raise c.fail(
            v,
            "negative value for bigint unsigned (Debezium's 'long' mode wraps above 2^63 - 1)",
            "set bigint.unsigned.handling.mode=precise on the MySQL connector",
        )
    return number


NOT_FINITE_WHY = "value is NaN or an infinity, which MySQL cannot store"
NOT_FINITE_FIX = (
    "fix the row in PostgreSQL (`make ddl` adds a CHECK refusing NaN and infinities to tables "
    "synced to MySQL)"
)
_FLOAT32 = struct.Struct("f")


def _finite_float(v: Any, c: Ctx) -> float:
    # the JSON converter sends a non-finite double or real as text ('NaN', 'Infinity')
    number = float(v) if isinstance(v, str) else v
    if not math.isfinite(number):
        raise c.fail(v, NOT_FINITE_WHY, NOT_FINITE_FIX)
    return float(number)


@functools.lru_cache(maxsize=1024)
def holds_float32_only(pg_type: str) -> bool:
    """True when the PostgreSQL type is real (float4): its values are float32 already, which
    the JSON converter prints shortest (0.1 for 0.100000001490116...)."""
    return pg_type.strip().lower() in ("real", "float4")


def _float32_to_mysql(v: Any, c: Ctx) -> Any:
    number = _finite_float(v, c)
    try:
        single = _FLOAT32.unpack(_FLOAT32.pack(number))[0]
    except OverflowError:
        single = math.inf
    if holds_float32_only(c.column.pg_type):
        # PostgreSQL's real arrives printed shortest for float32 (-3.4028235e38); read as a
        # double that lies past FLT_MAX and MySQL refuses it as out of range: send the
        # float32's own value
        return single
    if single != number:  # a double precision (or other) column: float32 would round it
        raise c.fail(
            v,
            f"MySQL's {c.column.column_type} holds a float32, which would store it as {single!r}",
            "write a value a float32 holds in PostgreSQL, or make the MySQL column DOUBLE",
        )
    return number


def _float64_to_mysql(v: Any, c: Ctx) -> Any:
    return _finite_float(v, c)


def _same(v: Any, c: Ctx) -> Any:
    return v


def _text_to_pg(v: Any, c: Ctx) -> Any:
    text = _text(v)
    if "\x00" not in text:
        return text
    if c.policy.nul_bytes == "strip":
        if c.stats is not None:
            c.stats.count("nul_bytes_stripped", c.column.name)
        return text.replace("\x00", "")
    raise c.fail(
        v,
        "text holds NUL bytes, which PostgreSQL rejects",
        "clean the row in MySQL, or set values.nul_bytes: strip in the mapping",
    )


# Debezium's MariaDB source (3.5) sends an enum or set member as it read the DDL's string literal,
# with a comma escaped and a backslash still doubled (a,b arrives as a\,b): a value that is no
# member is looked up again unescaped.
_DEBEZIUM_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def _member(text: str, c: Ctx, what: str) -> str:
    members = c.column.values
    if not members or text in members:
        return text
    unescaped = _DEBEZIUM_ESCAPE.sub(r"\1", text)
    if unescaped in members:
        return unescaped
    raise c.fail(
        text,
        f"value is not a member of the {what}",
        "if the MySQL column gained it, run `mappings generate` and `ddl` again; else fix the row "
        "in MySQL (non-strict MySQL stores an invalid enum value as '')",
    )


def _enum_to_pg(v: Any, c: Ctx) -> Any:
    return _member(_text_to_pg(v, c), c, "enum")


def _set_to_pg(v: Any, c: Ctx) -> Any:
    if isinstance(v, set | frozenset | list | tuple):
        members = set(v)
        return [m for m in c.column.values if m in members]
    text = _text(v)
    return [_member(m, c, "set") for m in text.split(",")] if text else []


def _json_to_pg(v: Any, c: Ctx) -> Any:
    if isinstance(v, dict | list):  # parsed already: no key is left twice
        return json.dumps(v, ensure_ascii=False)
    text = _text(v)
    if "\\u0000" in text and not keeps_json_nul(c.column.pg_type):
        raise c.fail(v, JSON_NUL_WHY, JSON_NUL_FIX)
    if keeps_last_of_repeated_key(c.column.pg_type) and (key := duplicate_key(text)) is not None:
        raise c.fail(v, json_repeated_key_why(key), JSON_REPEATED_KEY_FIX)
    return text


# jsonb parses the text and has no NUL character; json keeps the text as it is, \u0000 too
JSON_NUL_WHY = "JSON holds \\u0000, which PostgreSQL's jsonb cannot store"
JSON_NUL_FIX = (
    "set pg_type: json for the column (it keeps the text as it is), or clean the row in MySQL"
)


def keeps_json_nul(pg_type: str) -> bool:
    """True when the PostgreSQL type stores JSON text holding ``\\u0000`` (json, not jsonb)."""
    return pg_type.strip().lower() == "json"


# MariaDB stores {"a":1,"a":2} as written and its JSON functions read the first "a"; jsonb
# keeps the last. json keeps the text as written (its operators read the last, as jsonb does).
JSON_REPEATED_KEY_FIX = (
    "remove the repeated key from the row in MySQL (MariaDB's JSON functions read its first "
    "value), or set pg_type: json for the column (it keeps the text as it is)"
)


def json_repeated_key_why(key: str) -> str:
    return (
        f"JSON holds the key {key!r} twice in one object; jsonb would keep only the last value, "
        "MariaDB reads the first"
    )


def keeps_last_of_repeated_key(pg_type: str) -> bool:
    """True when the PostgreSQL type drops all but the last of a repeated key (jsonb)."""
    return pg_type.strip().lower() == "jsonb"


def _bytes_to_pg(v: Any, c: Ctx) -> Any:
    return bytes(v)


def _uuid_to_pg(v: Any, c: Ctx) -> Any:
    raw = bytes(v)
    if len(raw) != 16:
        raise c.fail(v, "binary(16) uuid is not 16 bytes", "fix the row or map it to bytea")
    return uuid.UUID(bytes=raw)


def _bits_to_pg(v: Any, c: Ctx) -> Any:
    n = _bit_length(c.column)
    number = int.from_bytes(bytes(v), "big") if isinstance(v, bytes | bytearray) else int(v)
    return format(number, f"0{n}b")


def _zero_date(v: Any, c: Ctx) -> Any:
    if not is_zero_date(_text(v)):
        raise c.fail(v, PARTIAL_ZERO_WHY, PARTIAL_ZERO_FIX)
    if c.stats is not None:
        c.stats.count("zero_dates", c.column.name)
    if c.policy.zero_dates == "null":
        return None
    return c.policy.zero_date_sentinel


def _date_to_pg(v: Any, c: Ctx) -> Any:
    if isinstance(v, dt.date):
        return v
    text = _text(v)
    return _zero_date(v, c) if _has_zero_part(text) else dt.date.fromisoformat(text[:10])


def _keep_digits(v: Any, c: Ctx, to_pg: bool) -> Any:
    """``v`` unless the target column would round it (see types.precision)."""
    kept = precision.kept_digits(c.column, to_pg)
    if kept is not None and not precision.fits(c.column.kind, v, kept):
        target = c.column.pg_type if to_pg else c.column.column_type
        why = precision.too_precise_why(c.column.kind, kept, target)
        raise c.fail(v, why, precision.RETYPE_FIX)
    return v


def _decimal_to_pg(v: Any, c: Ctx) -> Any:
    return _keep_digits(v, c, to_pg=True)


def _datetime_to_pg(v: Any, c: Ctx) -> Any:
    if isinstance(v, dt.datetime):
        return _keep_digits(v, c, to_pg=True)
    text = _text(v)
    if _has_zero_part(text):
        return _zero_date(v, c)
    return _keep_digits(dt.datetime.fromisoformat(text), c, to_pg=True)


def _timestamp_to_pg(v: Any, c: Ctx) -> Any:
    value = _datetime_to_pg(v, c)
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # sessions run at UTC (connections.py)
    return value


def _as_timedelta(v: Any) -> dt.timedelta:
    if isinstance(v, dt.timedelta):
        return v
    if isinstance(v, dt.time):
        return dt.timedelta(
            hours=v.hour, minutes=v.minute, seconds=v.second, microseconds=v.microsecond
        )
    return parse_mysql_time(_text(v))


def _time_to_pg(v: Any, c: Ctx) -> Any:
    delta = _keep_digits(_as_timedelta(v), c, to_pg=True)
    if dt.timedelta(0) <= delta < DAY:
        return (dt.datetime.min + delta).time()
    raise c.fail(
        v,
        "TIME value is outside 00:00-24:00 and does not fit PostgreSQL time",
        "set pg_type: interval for the column",
    )


def _interval_to_pg(v: Any, c: Ctx) -> Any:
    # Text in hours ('838:59:59'), as the Arrow path writes it: psycopg's timedelta would
    # store '34 days 22:59:59', equal in value but not in form.
    return format_mysql_time(_keep_digits(_as_timedelta(v), c, to_pg=True))


def _geometry_to_pg(v: Any, c: Ctx) -> Any:
    raw = bytes(v)  # MySQL stores a 4-byte SRID before the WKB
    srid = int.from_bytes(raw[:4], "little")
    if srid:
        raise c.fail(v, geometry_srid_why(srid), GEOMETRY_SRID_FIX)
    return raw[4:]


def _uuid_text_to_pg(v: Any, c: Ctx) -> Any:
    return uuid.UUID(_text(v))


# -- PostgreSQL -> MySQL ---------------------------------------------------------------------


def _bool_to_mysql(v: Any, c: Ctx) -> Any:
    return int(bool(v))


def _uint64_to_mysql(v: Any, c: Ctx) -> Any:
    if isinstance(v, str):  # decimal.handling.mode=string: numeric(20,0) as text
        v = _decimal_from_text(v, c)
    number = int(v)
    if number != v or not 0 <= number < 2**64:
        raise c.fail(v, "value does not fit bigint unsigned", "fix the row in PostgreSQL")
    return number


# PostgreSQL's source sends numeric as text (decimal.handling.mode=string: BigDecimal's
# toString, exact), and NaN and the infinities by Debezium's names
_SPECIAL_DECIMALS = {
    "NAN": "NaN",
    "POSITIVE_INFINITY": "Infinity",
    "NEGATIVE_INFINITY": "-Infinity",
}


def _decimal_from_text(v: str, c: Ctx) -> Decimal:
    number = Decimal(_SPECIAL_DECIMALS.get(v, v))  # exact: no context rounds a parsed string
    if not number.is_finite():
        raise c.fail(_SPECIAL_DECIMALS.get(v, v), NOT_FINITE_WHY, NOT_FINITE_FIX)
    return number


def _decimal_to_mysql(v: Any, c: Ctx) -> Any:
    if isinstance(v, Decimal):
        if not v.is_finite():
            raise c.fail(v, NOT_FINITE_WHY, NOT_FINITE_FIX)
        number = v
    elif isinstance(v, str):
        number = _decimal_from_text(v, c)
    else:
        number = _decimal_from_text(str(v), c)
    return _keep_digits(number, c, to_pg=False)


def _text_to_mysql(v: Any, c: Ctx) -> Any:
    text = _text(v)
    if text.endswith(" ") and precision.loses_trailing_spaces(
        c.column.column_type, c.column.pg_type
    ):
        raise c.fail(
            v,
            "MySQL's CHAR drops trailing spaces, so the row would differ on the two sides",
            "remove them in PostgreSQL (`make ddl` adds a CHECK refusing them), or make the "
            "MySQL column VARCHAR",
        )
    return text


def _set_to_mysql(v: Any, c: Ctx) -> Any:
    if isinstance(v, str):
        return v
    if len(set(v)) != len(v):
        twice = sorted({m for m in v if v.count(m) > 1})
        raise c.fail(
            v,
            f"SET member(s) {', '.join(map(repr, twice))} appear more than once; MySQL keeps "
            "each member once, so the row would differ on the two sides",
            "write each member once in PostgreSQL",
        )
    members = c.column.values
    strangers = [m for m in v if "," in str(m) or (members and m not in members)]
    if strangers:
        raise c.fail(
            v,
            f"element(s) {', '.join(map(repr, strangers))} are no member of MySQL's SET (a "
            "comma would split one into others when MySQL reads the joined list)",
            "write only the SET's members in PostgreSQL (`make ddl` adds a CHECK refusing others)",
        )
    return ",".join(v)


def _json_to_mysql(v: Any, c: Ctx) -> Any:
    if isinstance(v, str):
        return v
    return json.dumps(v, ensure_ascii=False)


def _bytes_to_mysql(v: Any, c: Ctx) -> Any:
    raw = bytes(v)
    length = precision.fixed_binary_length(c.column.column_type)
    if length is not None and len(raw) != length:
        raise c.fail(
            v,
            f"{len(raw)} byte(s) for MySQL's {c.column.column_type}, which pads or refuses "
            "anything but its length, so the row would differ on the two sides",
            f"write exactly {length} bytes in PostgreSQL (`make ddl` adds a CHECK refusing "
            "others), or make the MySQL column VARBINARY",
        )
    return raw


def _uuid_to_mysql(v: Any, c: Ctx) -> Any:
    return (v if isinstance(v, uuid.UUID) else uuid.UUID(str(v))).bytes


def _bits_to_mysql(v: Any, c: Ctx) -> Any:
    n = _bit_length(c.column)
    number = v if isinstance(v, int) else int(str(v), 2)  # psycopg: '0101'; Debezium: int
    return number.to_bytes((n + 7) // 8, "big")


def _is_sentinel(v: Any, c: Ctx) -> bool:
    return c.policy.zero_dates == "sentinel" and _text(v) == c.policy.zero_date_sentinel


def _date_to_mysql(v: Any, c: Ctx) -> Any:
    if _is_sentinel(v, c):
        return ZERO_DATE
    if isinstance(v, str):
        raise c.fail(v, "date cannot be stored in MySQL", "fix the row in PostgreSQL")
    return v


def _datetime_to_mysql(v: Any, c: Ctx) -> Any:
    if _is_sentinel(v, c):
        return ZERO_DATETIME
    if isinstance(v, str):
        raise c.fail(v, "timestamp cannot be stored in MySQL", "fix the row in PostgreSQL")
    if isinstance(v, dt.datetime) and v.tzinfo is not None:
        v = v.astimezone(UTC).replace(tzinfo=None)
    return _keep_digits(v, c, to_pg=False)


def _time_to_mysql(v: Any, c: Ctx) -> Any:
    return format_mysql_time(_keep_digits(_as_timedelta(v), c, to_pg=False))


def _geometry_to_mysql(v: Any, c: Ctx) -> Any:
    return b"\x00\x00\x00\x00" + bytes(v)  # SRID 0 + WKB: MySQL's internal geometry format


def _uuid_text_to_mysql(v: Any, c: Ctx) -> Any:
    return str(v)


Converter = Callable[[Any, Ctx], Any]

# kind -> (MySQL -> PostgreSQL, PostgreSQL -> MySQL)
CONVERTERS: dict[str, tuple[Converter, Converter]] = {
    "bool": (_bool_to_pg, _bool_to_mysql),
    "bit1": (_bit1_to_pg, _bool_to_mysql),
    "int": (_int_to_pg, _int_to_pg),
    "uint64": (_uint64_to_pg, _uint64_to_mysql),
    "decimal": (_decimal_to_pg, _decimal_to_mysql),
    "float32": (_same, _float32_to_mysql),
    "float64": (_same, _float64_to_mysql),
    "text": (_text_to_pg, _text_to_mysql),
    "enum": (_enum_to_pg, _text_to_mysql),
    "set": (_set_to_pg, _set_to_mysql),
    "json": (_json_to_pg, _json_to_mysql),
    "bytes": (_bytes_to_pg, _bytes_to_mysql),
    "uuid": (_uuid_to_pg, _uuid_to_mysql),
    "bits": (_bits_to_pg, _bits_to_mysql),
    "year": (_year_to_pg, _int_to_pg),
    "date": (_date_to_pg, _date_to_mysql),
    "datetime": (_datetime_to_pg, _datetime_to_mysql),
    "timestamp": (_timestamp_to_pg, _datetime_to_mysql),
    "time": (_time_to_pg, _time_to_mysql),
    "interval": (_interval_to_pg, _time_to_mysql),
    "geometry": (_geometry_to_pg, _geometry_to_mysql),
    "native_uuid": (_uuid_text_to_pg, _uuid_text_to_mysql),
    "inet": (_text_to_pg, _text_to_mysql),
}


def _convert(
    direction: int,
    column: ColumnMapping,
    value: Any,
    policy: ValuePolicy,
    where: str,
    stats: Stats | None,
) -> Any:
    if value is None:
        return null_to_mysql(column, policy) if direction else None
    ctx = Ctx(column, policy, where, stats)
    try:
        return CONVERTERS[column.kind][direction](value, ctx)
    except ConversionError:
        raise
    except (ValueError, TypeError, ArithmeticError) as exc:  # OverflowError is one too
        why = f"cannot convert ({exc})"
        raise ctx.fail(value, why, "fix the row or the column's mapping") from exc


def to_pg(
    column: ColumnMapping,
    value: Any,
    policy: ValuePolicy | None = None,
    *,
    where: str = "",
    stats: Stats | None = None,
) -> Any:
    """One MySQL value -> the value to write to PostgreSQL."""
    return _convert(0, column, value, policy or ValuePolicy(), where, stats)


def to_mysql(
    column: ColumnMapping,
    value: Any,
    policy: ValuePolicy | None = None,
    *,
    where: str = "",
    stats: Stats | None = None,
) -> Any:
    """One PostgreSQL value -> the value to write to MySQL."""
    return _convert(1, column, value, policy or ValuePolicy(), where, stats)


def _where(mapping: TableMapping, row: Mapping[str, Any], names: tuple[str, ...]) -> str:
    key = ", ".join(f"{n}={row.get(n)!r}" for n in names)
    return f"table {mapping.name} key ({key})"


def row_to_pg(
    mapping: TableMapping, row: Mapping[str, Any], stats: Stats | None = None
) -> dict[str, Any]:
    """A MySQL row (by MySQL name) -> a PostgreSQL row (by pg_name); excluded columns left out."""
    where = _where(mapping, row, mapping.key)
    converted = {}
    for c in mapping.synced_columns():
        if c.name not in row:
            continue
        value = to_pg(c, row[c.name], mapping.values, where=where, stats=stats)
        if value is None and row[c.name] is not None and c.name in mapping.key:
            # only a zero date under zero_dates: null turns a value into NULL
            raise Ctx(c, mapping.values, where, stats).fail(row[c.name], KEY_ZERO_WHY, KEY_ZERO_FIX)
        converted[c.pg_name] = value
    return converted


def row_to_mysql(
    mapping: TableMapping, row: Mapping[str, Any], stats: Stats | None = None
) -> dict[str, Any]:
    """A PostgreSQL row (by pg_name) -> a MySQL row (by MySQL column name)."""
    where = _where(mapping, row, mapping.pg_key)
    return {
        c.name: to_mysql(c, row[c.pg_name], mapping.values, where=where, stats=stats)
        for c in mapping.synced_columns()
        if c.pg_name in row
    }
