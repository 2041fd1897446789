"""What to compare: a table pair reduced to columns with a canonical kind each.

Built from a :class:`~mysql_pg_sync.mapping.models.TableMapping` by :func:`table_from_mapping`, or
directly (tests, benchmarks). The canonical kind decides the text form both dialects produce.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, assert_never

from mysql_pg_sync.mapping.models import ColumnMapping, TableMapping, ValuePolicy
from mysql_pg_sync.reconcile.errors import ReconcileError
from mysql_pg_sync.types.typemap import kind_of, parse_column_type

CanonicalKind = Literal[
    "int",  # all integers, YEAR, BIT as an unsigned number
    "bool",  # MySQL tinyint(1) <-> PostgreSQL boolean: '0' / '1'
    "decimal",  # at the column's scale
    "float",  # shortest round-trip digits + exponent; compared at ``digits`` significant digits
    "date",  # YYYY-MM-DD
    # to the microsecond, as PostgreSQL prints it: trailing fractional zeros and a bare '.' cut
    "datetime",  # naive timestamp
    "timestamp",  # instant at UTC
    "time",
    "text",
    "char",  # trailing spaces are padding, not data
    "enum",
    "set",  # members in definition order
    "binary",  # upper-case hex
    "uuid",  # binary(16) <-> uuid, as upper-case hex
    "bit",  # unsigned integer value of the bits
    "json",  # compared client-side, semantically (key order and whitespace do not count)
]
Side = Literal["mysql", "postgres"]
OrdinalStrategy = Literal["integer", "hash"]

STRING_KINDS: frozenset[str] = frozenset({"text", "char", "enum", "set", "json"})
# the kinds whose NUL characters values.nul_bytes: strip removes on the way to PostgreSQL
NUL_STRIPPED_KINDS: frozenset[str] = frozenset({"text", "char"})


@dataclass(frozen=True)
class CompareColumn:
    """One compared column: names on both sides and how its value is canonicalised."""

    mysql_name: str
    pg_name: str
    kind: CanonicalKind
    pg_type: str = ""
    scale: int = 0
    digits: int = 17
    members: tuple[str, ...] = ()
    # date kinds: the canonical text MySQL's zero date has, which is the PostgreSQL value it is
    # stored as (values.zero_dates: sentinel, see zero_date_text); None: NULL (zero_dates: null)
    zero_date: str | None = None
    # text kinds under values.nul_bytes: strip: the stream and backfill removed MySQL's NUL
    # characters, so MySQL's text is compared without them
    strip_nul: bool = False


@dataclass(frozen=True)
class CopiedColumn:
    """A synced column reconcile does not compare (``reconcile.ignore_columns``). A repair still
    copies it: "ignored" means "not compared", and a row re-inserted without it would hold a
    default (or fail on NOT NULL) that no later comparison could see."""

    mysql_name: str
    pg_name: str
    kind: str = ""  # the mapping's column kind (types.typemap): how a repair reads its value


@dataclass(frozen=True)
class ConflictRule:
    """The mapping's conflict rule, which the stream applier enforces on every repair it writes.

    ``column`` is the rule column (``last_writer_wins`` / ``version``); ``values`` the table's
    value policy, which the applier's conversion of that column follows."""

    rule: str = "mysql_wins"
    column: ColumnMapping | None = None
    values: ValuePolicy = field(default_factory=ValuePolicy)

    @property
    def compares_rows(self) -> bool:
        """True when the applier decides a write to an existing row by the rule column (the
        other rules apply a repair, which carries no before-image, whatever the target holds)."""
        return self.rule in ("last_writer_wins", "version") and self.column is not None


@dataclass(frozen=True)
class ReconcileTable:
    """A table pair to reconcile; ``key`` names MySQL columns and must be among ``columns``."""

    name: str
    mysql_db: str
    mysql_table: str
    pg_schema: str
    pg_table: str
    columns: tuple[CompareColumn, ...]
    key: tuple[str, ...]
    authority: Side = "mysql"
    conflict: ConflictRule = field(default_factory=ConflictRule)
    copied: tuple[CopiedColumn, ...] = ()  # synced but not compared; repairs still write them
    ordinal: OrdinalStrategy = field(init=False)

    def __post_init__(self) -> None:
        names = [c.mysql_name for c in self.columns]
        if not self.key:
            raise ReconcileError(f"{self.name}: no key columns; reconcile needs a unique key")
        for k in self.key:
            if k not in names:
                raise ReconcileError(
                    f"{self.name}: key column {k!r} is excluded from the comparison; "
                    "a key column must be synced and compared (fix the mapping)"
                )
        rule_column = self.conflict.column
        if rule_column is not None and rule_column.name not in self.image_columns:
            raise ReconcileError(
                f"{self.name}: the {self.conflict.rule} rule column {rule_column.name!r} is not "
                "synced; reconcile decides repairs by it like the stream applier does (sync the "
                "column or change conflict.rule in the mapping)"
            )
        single_int = len(self.key) == 1 and self.column(self.key[0]).kind == "int"
        object.__setattr__(self, "ordinal", "integer" if single_int else "hash")

    def column(self, mysql_name: str) -> CompareColumn:
        for c in self.columns:
            if c.mysql_name == mysql_name:
                return c
        raise ReconcileError(f"{self.name}: no compared column {mysql_name!r}")

    @property
    def image_columns(self) -> dict[str, str]:
        """MySQL name -> PostgreSQL name of every column a repair's row image carries: the
        compared ones and the ignored ones."""
        names = {c.mysql_name: c.pg_name for c in self.columns}
        names.update((c.mysql_name, c.pg_name) for c in self.copied)
        return names

    @property
    def key_columns(self) -> tuple[CompareColumn, ...]:
        return tuple(self.column(k) for k in self.key)

    @property
    def hashed_columns(self) -> tuple[CompareColumn, ...]:
        """Columns covered by the SQL row hash (JSON is compared client-side, see ``jsoncmp``)."""
        return tuple(c for c in self.columns if c.kind != "json")

    @property
    def json_columns(self) -> tuple[CompareColumn, ...]:
        return tuple(c for c in self.columns if c.kind == "json")


_KIND_BY_TYPEMAP_KIND: dict[str, CanonicalKind] = {
    "bool": "bool",
    "bit1": "bool",
    "int": "int",
    "uint64": "int",
    "year": "int",
    "decimal": "decimal",
    "float32": "float",
    "float64": "float",
    "text": "text",
    "enum": "enum",
    "set": "set",
    "json": "json",
    "bytes": "binary",
    "uuid": "uuid",
    "bits": "bit",
    "date": "date",
    "datetime": "datetime",
    "timestamp": "timestamp",
    "time": "time",
    "interval": "time",
    "native_uuid": "text",
}


def canonical_kind(
    column_type: str, pg_type: str = "", *, float_digits: int = 6, double_digits: int = 17
) -> tuple[CanonicalKind, int, int]:
    """(kind, scale, digits) for a MySQL ``COLUMN_TYPE`` and its PostgreSQL type."""
    parsed = parse_column_type(column_type)
    family = kind_of(column_type, pg_type)
    kind = _KIND_BY_TYPEMAP_KIND.get(family)
    if kind is None:
        raise ReconcileError(
            f"MySQL type {column_type!r} ({family}) has no canonical form for reconcile; "
            "exclude the column or add it to reconcile.ignore_columns in the mapping"
        )
    if kind == "text" and parsed.base == "char":
        return "char", 0, 0
    if kind == "decimal":
        return kind, parsed.args[1] if len(parsed.args) > 1 else 0, 0
    if family == "float32":
        return kind, 0, float_digits
    if family == "float64":
        return kind, 0, double_digits
    return kind, 0, 0


def table_from_mapping(mapping: TableMapping) -> ReconcileTable:
    """The comparison a mapping asks for; a key column that is excluded is refused."""
    opts = mapping.reconcile
    ignored = set(opts.ignore_columns)
    by_name = {c.name: c for c in mapping.columns}
    for k in mapping.key:
        col = by_name.get(k)
        if col is None or col.exclude or k in ignored:
            raise ReconcileError(
                f"{mapping.name}: key column {k!r} is excluded or ignored; reconcile refuses "
                "a table whose key is not compared (remove it from exclude/ignore_columns)"
            )
    columns = []
    copied = []
    for col in mapping.synced_columns():
        if col.name in ignored:
            copied.append(CopiedColumn(col.name, col.pg_name, col.kind))
            continue
        kind, scale, digits = canonical_kind(
            col.column_type,
            col.pg_type,
            float_digits=opts.float_digits,
            double_digits=opts.double_digits,
        )
        try:
            zero = zero_date_text(kind, mapping.values) if kind in ZERO_DATES else None
        except ReconcileError as exc:
            raise ReconcileError(f"{mapping.name}: column {col.name!r}: {exc}") from None
        strip_nul = kind in NUL_STRIPPED_KINDS and mapping.values.nul_bytes == "strip"
        columns.append(
            CompareColumn(
                col.name, col.pg_name, kind, col.pg_type, scale, digits, col.values, zero, strip_nul
            )
        )
    synced = {c.name: c for c in mapping.synced_columns()}
    rule_column = synced.get(mapping.conflict.column or "")
    return ReconcileTable(
        name=mapping.name,
        mysql_db=mapping.source.db,
        mysql_table=mapping.source.table,
        pg_schema=mapping.target.schema,
        pg_table=mapping.target.table,
        columns=tuple(columns),
        key=tuple(mapping.key),
        authority=opts.authoritative,
        conflict=ConflictRule(mapping.conflict.rule, rule_column, mapping.values),
        copied=tuple(copied),
    )


ZERO_DATES: dict[str, str] = {
    "date": "0000-00-00",
    "datetime": "0000-00-00 00:00:00",
    "timestamp": "0000-00-00 00:00:00",
}
SHOWN_NULL_KEYS = 3
_INFINITIES = ("infinity", "-infinity")


def zero_date_text(kind: str, policy: ValuePolicy) -> str | None:
    """The canonical text of MySQL's zero date in a ``kind`` column (date, datetime, timestamp)
    under the table's value policy: what the stream and the backfill store for it in PostgreSQL,
    printed as PostgreSQL prints it (ISO DateStyle, see the dialects' canonical text). None when
    that is NULL (``zero_dates: null``)."""
    if policy.zero_dates == "null":
        return None
    if policy.zero_dates == "sentinel":
        return sentinel_text(policy.zero_date_sentinel, kind)
    assert_never(policy.zero_dates)


def sentinel_text(sentinel: str, kind: str) -> str:
    """PostgreSQL's canonical text of ``zero_date_sentinel`` stored in a ``kind`` column: the
    infinities in lower case, a date as 'YYYY-MM-DD' (a date column drops a time), a timestamp
    as 'YYYY-MM-DD HH:MM:SS' (the stream writes it in a UTC session, reconcile prints it at
    UTC). Other PostgreSQL input forms ('epoch', 'BC', an offset, fractions a timestamp(0)
    would round) are refused rather than guessed: a wrong guess would report every zero-date
    row as drift, or hide real drift."""
    text = sentinel.strip()
    if text.lower() in _INFINITIES:
        return text.lower()
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or value.tzinfo is not None or value.microsecond:
        raise ReconcileError(
            f"values.zero_date_sentinel {sentinel!r} is not a form reconcile can compare "
            "('-infinity', 'infinity', or an ISO date, or date and whole-second time, without "
            "an offset, such as '0001-01-01'); set one of those in the mapping"
        )
    return value.date().isoformat() if kind == "date" else value.isoformat(sep=" ")


def refuse_null_keys(
    table: ReconcileTable, side: str, keys: Iterable[tuple[tuple[Any, ...], tuple[Any, ...]]]
) -> None:
    """Raise :class:`ReconcileError` when a side reads a key value as NULL: (raw key, key text)
    pairs. Only a MySQL zero date (or a date with a zero month or day) does that: the driver
    reads it as None (and the zero date's canonical text is NULL, or the sentinel's under
    values.zero_dates: sentinel), so a lookup by that key finds nothing and the row would
    silently drop out of the comparison."""
    bad = [(raw, text) for raw, text in keys if None in raw or None in text]
    if not bad:
        return
    shown = "; ".join(_null_key_text(table, raw, text) for raw, text in bad[:SHOWN_NULL_KEYS])
    more = f" and {len(bad) - SHOWN_NULL_KEYS} more" if len(bad) > SHOWN_NULL_KEYS else ""
    where = "MySQL" if side == "mysql" else "PostgreSQL"
    raise ReconcileError(
        f"{table.name}: {where} reads a key as NULL ({shown}{more}): a "
        "zero date, or a date with a zero month or day, in a key column, by which reconcile "
        "cannot look a row up (the mapping's values.zero_dates does not change that). Give the "
        "row a real date in MySQL (or delete it), then run reconcile again"
    )


def _null_key_text(table: ReconcileTable, raw: tuple[Any, ...], text: tuple[Any, ...]) -> str:
    """A key as ``k='0000-00-00 00:00:00'`` (``a=1, k=...`` for a composite key)."""
    parts = []
    for column, raw_part, text_part in zip(table.key_columns, raw, text, strict=True):
        zero = raw_part is None and column.kind in ZERO_DATES and text_part == column.zero_date
        if zero:  # the zero date's text is NULL, or the sentinel's: show MySQL's value
            value = f"'{ZERO_DATES[column.kind]}'"
        elif text_part is not None:
            value = text_part if raw_part is not None else f"'{text_part}'"
        else:
            value = "NULL"
        parts.append(f"{column.mysql_name}={value}")
    return ", ".join(parts)
