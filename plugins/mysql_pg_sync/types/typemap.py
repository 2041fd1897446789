"""The MySQL -> PostgreSQL type map, as data: one table of rules, first match wins.

Defaults follow pgloader's choices (unsigned types widen, tinyint(1) and bit(1) become boolean,
bigint unsigned becomes numeric(20,0), json becomes jsonb, blobs become bytea). Each rule names a
*kind*: the logical family the converters in :mod:`mysql_pg_sync.types.convert` dispatch on, in
both directions. ``{p}``/``{s}``/``{n}``/``{fsp}`` in a PostgreSQL type are filled from the
MySQL type's arguments.

API: :func:`parse_column_type`, :func:`rule_for`, :func:`default_pg_type`, :func:`kind_of`,
:func:`enum_values`, :data:`TYPE_MAP`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from mysql_pg_sync.errors import MappingError

# Kinds: the value families a converter must handle. A column's kind follows from its MySQL type,
# refined by its PostgreSQL type (time -> interval, binary(16) -> uuid, json -> json/jsonb).
KINDS = (
    "bool",  # tinyint(1): 0/1 <-> boolean
    "bit1",  # bit(1): b'0'/b'1' <-> boolean
    "int",  # signed and unsigned integers that fit the PostgreSQL type
    "uint64",  # bigint unsigned <-> numeric(20,0)
    "decimal",
    "float32",
    "float64",
    "text",
    "enum",
    "set",  # 'a,b' <-> text[]
    "json",
    "bytes",
    "uuid",  # binary(16) <-> uuid
    "bits",  # bit(n) <-> bit varying(n)
    "year",
    "date",
    "datetime",  # naive, MySQL DATETIME <-> timestamp
    "timestamp",  # MySQL TIMESTAMP (UTC session) <-> timestamptz
    "time",  # MySQL TIME within 00:00-24:00 <-> time
    "interval",  # MySQL TIME (-838:59:59..838:59:59) <-> interval
    "geometry",  # MySQL internal SRID+WKB <-> WKB bytea
    "native_uuid",  # MariaDB uuid <-> uuid
    "inet",  # MariaDB inet4/inet6 <-> inet
)


@dataclass(frozen=True)
class MySQLType:
    """A parsed ``COLUMN_TYPE``: ``decimal(12,2) unsigned`` -> base, args, unsigned."""

    base: str
    args: tuple[int, ...] = ()
    unsigned: bool = False
    values: tuple[str, ...] = ()  # enum / set members


@dataclass(frozen=True)
class TypeRule:
    """One row of the type map."""

    mysql: str  # base type name
    pg: str  # PostgreSQL type template
    kind: str
    when: Callable[[MySQLType], bool] | None = None
    note: str = ""

    def applies(self, t: MySQLType) -> bool:
        return t.base == self.mysql and (self.when is None or self.when(t))


def _unsigned(t: MySQLType) -> bool:
    return t.unsigned


def _signed(t: MySQLType) -> bool:
    return not t.unsigned


def _width_one(t: MySQLType) -> bool:
    return t.args[:1] == (1,)


_TEXT_TYPES = ("tinytext", "text", "mediumtext", "longtext")
_BLOB_TYPES = ("tinyblob", "blob", "mediumblob", "longblob")
_GEOMETRY_TYPES = (
    "geometry",
    "point",
    "linestring",
    "polygon",
    "multipoint",
    "multilinestring",
    "multipolygon",
    "geometrycollection",
)

TYPE_MAP: tuple[TypeRule, ...] = (
    TypeRule("tinyint", "boolean", "bool", _width_one, "pgloader: tinyint(1) is a boolean"),
    TypeRule("tinyint", "smallint", "int"),
    TypeRule("smallint", "smallint", "int", _signed),
    TypeRule("smallint", "integer", "int", _unsigned, "unsigned widens"),
    TypeRule("mediumint", "integer", "int"),
    TypeRule("int", "integer", "int", _signed),
    TypeRule("int", "bigint", "int", _unsigned, "unsigned widens"),
    TypeRule("integer", "integer", "int", _signed),
    TypeRule("integer", "bigint", "int", _unsigned, "unsigned widens"),
    TypeRule("bigint", "bigint", "int", _signed),
    TypeRule("bigint", "numeric(20,0)", "uint64", _unsigned, "no wider integer in PostgreSQL"),
    TypeRule("decimal", "numeric({p},{s})", "decimal"),
    TypeRule("numeric", "numeric({p},{s})", "decimal"),
    TypeRule("float", "real", "float32"),
    TypeRule("double", "double precision", "float64"),
    TypeRule("real", "double precision", "float64"),
    # MySQL never returns CHAR's trailing spaces; varchar keeps PostgreSQL from padding them back.
    TypeRule("char", "varchar({n})", "text"),
    TypeRule("varchar", "varchar({n})", "text"),
    *(TypeRule(name, "text", "text") for name in _TEXT_TYPES),
    TypeRule("enum", "text", "enum", note="the generator names a PostgreSQL enum type"),
    TypeRule("set", "text[]", "set"),
    TypeRule("json", "jsonb", "json", note="pg_type json keeps the text byte for byte"),
    TypeRule("binary", "bytea", "bytes", note="binary(16) may be overridden to uuid"),
    TypeRule("varbinary", "bytea", "bytes"),
    *(TypeRule(name, "bytea", "bytes") for name in _BLOB_TYPES),
    TypeRule("bit", "boolean", "bit1", _width_one),
    TypeRule("bit", "bit varying({n})", "bits"),
    TypeRule("year", "smallint", "year"),
    TypeRule("date", "date", "date"),
    TypeRule("datetime", "timestamp({fsp})", "datetime"),
    TypeRule("timestamp", "timestamptz({fsp})", "timestamp"),
    TypeRule("time", "time({fsp})", "time", note="pg_type interval holds -838:59:59..838:59:59"),
    *(TypeRule(name, "bytea", "geometry", note="WKB; or exclude") for name in _GEOMETRY_TYPES),
    TypeRule("uuid", "uuid", "native_uuid"),
    TypeRule("inet4", "inet", "inet"),
    TypeRule("inet6", "inet", "inet"),
)

# What a MySQL column can hold that its PostgreSQL type does not limit the same way (the DDL
# turns these into CHECKs, so a row the PostgreSQL app writes can always replicate back).
MAX_BYTES = {  # the text and blob types' byte limits; longtext/longblob exceed PostgreSQL's 1 GB
    "tinytext": 255,
    "tinyblob": 255,
    "text": 65_535,
    "blob": 65_535,
    "mediumtext": 16_777_215,
    "mediumblob": 16_777_215,
}
YEAR_RANGE = (1901, 2155)  # and 0, the zero year
# MariaDB 10.11 takes DATE and DATETIME from year 0; the sync carries years 1-9999 (PostgreSQL's
# year 0 is 1 BC, Python's dates start at year 1), so a BC date or 'infinity' is refused.
DATE_RANGE = ("0001-01-01", "9999-12-31")
DATETIME_END = "10000-01-01"  # exclusive: 9999-12-31 23:59:59.999999 is the last DATETIME(6)
# TIMESTAMP, at UTC, both exclusive: 0 (the epoch) is MySQL's zero date, and the first value
# is one unit of the column's precision later (1970-01-01 00:00:00.000001 for TIMESTAMP(6)).
TIMESTAMP_RANGE = ("1970-01-01 00:00:00", "2038-01-19 03:14:08")
# TIME; MariaDB cuts digits beyond the column's precision (838:59:59.9 is 838:59:59 in TIME(0))
TIME_RANGE = ("-838:59:59.999999", "838:59:59.999999")
# Characters MySQL's latin1 (Windows-1252, with 0x81 0x8D 0x8F 0x90 0x9D kept as C1 controls)
# holds besides U+0001-U+007F and U+00A0-U+00FF.
LATIN1_EXTRA = (
    "\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d"
    "\u017d\u008f\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a"
    "\u0153\u009d\u017e\u0178"
)
SINGLE_BYTE_CHARSETS = ("latin1", "ascii")
UTF8_CHARSETS = ("utf8mb4", "utf8mb3", "utf8")  # stored as UTF-8: bytes as PostgreSQL counts them
BMP_CHARSETS = ("utf8mb3", "utf8", "ucs2")  # no characters above U+FFFF (no emoji)

# Kind refinements by the PostgreSQL type chosen in the mapping (an override).
_KIND_BY_PG_TYPE: dict[tuple[str, str], str] = {
    ("time", "interval"): "interval",
    ("bytes", "uuid"): "uuid",
    # a tinyint(1) holding more than 0/1 mapped to an integer type by hand: its values as they are
    **{
        ("bool", pg_int): "int"
        for pg_int in ("smallint", "integer", "int", "bigint", "int2", "int4", "int8")
    },
}

_TYPE_RE = re.compile(
    r"^\s*([a-z][a-z0-9_]*)\s*(?:\((.*)\))?((?:\s+(?:unsigned|signed|zerofill|precision))*)\s*$",
    re.IGNORECASE | re.DOTALL,
)


def _quoted_values(inner: str) -> tuple[str, ...]:
    """``'a','it''s'`` -> ('a', "it's"); MySQL doubles quotes inside enum literals."""
    values = []
    for match in re.finditer(r"'((?:[^']|'')*)'", inner):
        values.append(match.group(1).replace("''", "'").replace("\\\\", "\\"))
    return tuple(values)


@lru_cache(maxsize=8192)
def parse_column_type(column_type: str) -> MySQLType:
    """Parse ``information_schema.COLUMNS.COLUMN_TYPE`` text."""
    match = _TYPE_RE.match(column_type)
    if not match:
        raise MappingError(f"cannot parse MySQL column type {column_type!r}")
    base, inner, rest = match.group(1).lower(), match.group(2), match.group(3).lower()
    if base in ("enum", "set"):
        return MySQLType(base, values=_quoted_values(inner or ""))
    args: tuple[int, ...] = ()
    if inner:
        try:
            args = tuple(int(a) for a in inner.split(","))
        except ValueError:
            raise MappingError(
                f"cannot parse the arguments of MySQL type {column_type!r}"
            ) from None
    if base in ("bool", "boolean"):
        return MySQLType("tinyint", (1,))
    if base in ("dec", "fixed"):
        base = "decimal"
    return MySQLType(base, args, unsigned="unsigned" in rest.split())


@lru_cache(maxsize=8192)
def rule_for(column_type: str) -> TypeRule:
    parsed = parse_column_type(column_type)
    for rule in TYPE_MAP:
        if rule.applies(parsed):
            return rule
    raise MappingError(
        f"MySQL type {column_type!r} is not in the type map; set pg_type and converter for the "
        "column in its mapping, or exclude it"
    )


def _fill(template: str, t: MySQLType) -> str:
    if t.base in ("decimal", "numeric"):
        args = t.args or (10,)
        return template.format(p=args[0], s=args[1] if len(args) > 1 else 0)
    if "{n}" in template:
        return template.format(n=t.args[0] if t.args else 1)
    if "{fsp}" in template:
        return template.format(fsp=t.args[0] if t.args else 0)
    return template


@lru_cache(maxsize=8192)
def default_pg_type(column_type: str) -> str:
    """The PostgreSQL type the type map gives a MySQL ``COLUMN_TYPE``."""
    parsed = parse_column_type(column_type)
    return _fill(rule_for(column_type).pg, parsed)


def enum_values(column_type: str) -> tuple[str, ...]:
    return parse_column_type(column_type).values


def _pg_base(pg_type: str) -> str:
    return re.sub(r"\(.*\)", "", pg_type).strip().lower()


@lru_cache(maxsize=8192)  # per value on the stream path: parse once per type
def kind_of(column_type: str, pg_type: str = "", converter: str | None = None) -> str:
    """The converter family for a column (a named converter wins)."""
    if converter:
        return converter
    kind = rule_for(column_type).kind
    pg_base = _pg_base(pg_type)
    return _KIND_BY_PG_TYPE.get((kind, pg_base), kind)


def pg_precision(pg_type: str) -> tuple[int, ...]:
    """``numeric(12,2)`` -> (12, 2); ``timestamp(6)`` -> (6,); no arguments -> ()."""
    match = re.search(r"\(([\d,\s]+)\)", pg_type)
    return tuple(int(x) for x in match.group(1).split(",")) if match else ()


# PostgreSQL type families, by the type's base name (arguments and array brackets dropped)
_PG_TEXT = frozenset(
    {"text", "varchar", "character varying", "char", "character", "bpchar", "citext", "name"}
)
_PG_FLOAT_BITS = {"real": 24, "float4": 24, "double precision": 53, "float8": 53, "float": 53}
# the significant bits of each MySQL integer type's values (unsigned: one more)
_INT_BITS = {"tinyint": 7, "smallint": 15, "mediumint": 23, "int": 31, "integer": 31, "bigint": 63}
_BYTES_KINDS = frozenset({"bytes", "geometry"})
_TEXT_KINDS = frozenset({"text", "enum", "json", "inet", "native_uuid"})
KIND_MISMATCH_FIX = (
    "set the column's pg_type to one of its kind (the type map's: {default!r}) and retype the "
    "PostgreSQL column to match, or exclude the column"
)


@lru_cache(maxsize=8192)
def reinterpreting_pg_type(
    column_type: str, pg_type: str, converter: str | None = None
) -> str | None:
    """Why a hand-set ``pg_type`` would take the column's values as other values without an
    error (its text input reads them anew: bytes as bytea text, text as bytea escapes, an
    integer or decimal rounded to a float), or None when it keeps them. Only these pairs: a
    value a type cannot read at all is refused by PostgreSQL, loudly."""
    if converter or not pg_type:
        return None
    try:
        kind = kind_of(column_type, pg_type)
    except MappingError:
        return None
    pg = _pg_base(pg_type)
    array = pg.endswith("[]")
    base = pg.removesuffix("[]").strip()
    if kind in _BYTES_KINDS and (array or base != "bytea"):
        return "its bytes would be stored as their bytea text ('\\x6869' for 'hi')"
    if kind in _TEXT_KINDS | {"set"} and base == "bytea":
        return (
            "its text would be read as bytea input ('\\x4142' as the bytes 'AB', a backslash lost)"
        )
    if kind == "set" and not array:
        return "its members would be stored as an array literal ('{a,b}'), not as text[]"
    bits = _PG_FLOAT_BITS.get(base)
    if bits is None or array:
        return None
    parsed = parse_column_type(column_type)
    if kind in ("int", "year", "bool", "bit1"):
        needed = _INT_BITS.get(parsed.base, 0) + (1 if parsed.unsigned else 0)
        if kind == "int" and needed > bits:
            return f"{pg_type} holds {bits} significant bits, and its integers may need {needed}"
        return None
    if kind == "uint64":
        return f"{pg_type} holds {bits} significant bits, and its integers may need 64"
    if kind == "decimal":
        digits, scale = (*parsed.args, 10, 0)[:2] if len(parsed.args) < 2 else parsed.args[:2]
        exact = 6 if bits == 24 else 15  # decimal digits every float of those bits holds
        if scale or digits > exact:
            return f"{pg_type} would round its decimals (0.1 is 0.100000001490116... in real)"
        return None
    if kind == "float64" and bits < 53:
        return f"{pg_type} would round its doubles to float32"
    return None


def kind_mismatch_message(column_name: str, column_type: str, pg_type: str, why: str) -> str:
    """The refusal of a column :func:`reinterpreting_pg_type` found, naming it and the fix."""
    fix = KIND_MISMATCH_FIX.format(default=default_pg_type(column_type))
    return (
        f"column {column_name!r} ({column_type} -> pg_type {pg_type!r}): a type of another kind; "
        f"{why}; {fix}"
    )
