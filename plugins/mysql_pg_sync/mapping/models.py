"""The table mapping: typed, frozen models for ``include/mappings/*.yaml``.

API summary (everything other modules need)::

    from mysql_pg_sync.mapping.models import load_mappings

    mappings = load_mappings("include/mappings")       # folder, one file, or a list of files
    for m in mappings.enabled():                       # TableMapping, enabled and supported
        m.source.db, m.source.table                    # MySQL side   ("legacy", "orders")
        m.target.schema, m.target.table                # PostgreSQL side ("public", "orders")
        m.key                                          # MySQL key column names, composite allowed
        m.pg_key                                       # the same key, PostgreSQL column names
        m.synced_columns()                             # ColumnMapping, excluded ones left out
        m.column("status")                             # by MySQL name (MappingError if unknown)
        m.column_by_pg_name("status")                  # by PostgreSQL name
        m.direction                                    # "mysql_to_pg" | "pg_to_mysql" | "both"
        m.conflict.rule, m.conflict.column             # "last_writer_wins" | "version" | ...
        m.backfill.chunk_rows, m.backfill.chunk_mb, m.backfill.key_hint
        m.backfill.on_bad_value                        # "fail" | "reject" (backfill_rejects)
        m.reconcile.authoritative, m.reconcile.ignore_columns, m.reconcile.float_digits
        m.values.nul_bytes, m.values.zero_dates       # special-value policies
        m.postgres_only_columns                        # PostgreSQL's own columns, acknowledged
        m.unsupported                                  # reason string, or None
    mappings.by_source("legacy.orders")                # KeyError-free: MappingError if unknown
    mappings.by_target("public.orders")
    mappings.find_source(...) / find_target(...)       # None instead of an error

A column (``ColumnMapping``) carries the MySQL name and ``column_type`` text exactly as
``information_schema.COLUMNS.COLUMN_TYPE`` shows it (``int(10) unsigned``, ``enum('a','b')``), the
PostgreSQL name and type, ``nullable``, ``exclude``, ``converter`` (a named override, see
:mod:`mysql_pg_sync.types.convert`), ``auto_increment``, ``values`` (enum/set members) and
``default`` (MySQL's column default in MariaDB's information_schema form; ``parsed_default``)
and ``collation`` (a string column's; ``case_insensitive`` for a ``_ci`` one).
``ColumnMapping.kind`` is the logical type family the converters dispatch on.

Validation errors are :class:`~mysql_pg_sync.errors.MappingError` naming file, table and field,
and saying how to fix it; nothing is written anywhere before every file has validated.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from mysql_pg_sync.dialects import mysql as mysql_dialect
from mysql_pg_sync.dialects.column_default import ColumnDefault
from mysql_pg_sync.errors import MappingError
from mysql_pg_sync.types.typemap import KINDS, default_pg_type, enum_values, kind_of, rule_for

Direction = Literal["mysql_to_pg", "pg_to_mysql", "both"]
ConflictRule = Literal["last_writer_wins", "version", "mysql_wins", "postgres_wins"]
Side = Literal["mysql", "postgres"]
NulBytePolicy = Literal["strip", "fail"]
ZeroDatePolicy = Literal["null", "sentinel"]
EnumStyle = Literal["enum", "check"]
KeyHint = Literal["auto", "integer", "keyset"]
BadValuePolicy = Literal["fail", "reject"]

INTEGER_KEY_KINDS = frozenset({"int", "uint64", "year"})  # kinds a key may be range-chunked by
# the column kinds each rule with a column compares (a delete and a tombstone are times)
RULE_COLUMN_KINDS: dict[str, frozenset[str]] = {
    "last_writer_wins": frozenset({"date", "datetime", "timestamp"}),
    "version": frozenset({"int", "uint64", "decimal"}),
}
# rules under which a PostgreSQL change can lose to MySQL's row: they compare MySQL's row with
# the change's before-image, which PostgreSQL sends whole only under REPLICA IDENTITY FULL
FULL_BEFORE_IMAGE_RULES = frozenset({"mysql_wins", "last_writer_wins", "version"})
DEFAULT_CHUNK_ROWS = 250_000  # measured sweet spot for connectorx -> ADBC (see measurements.md)
DEFAULT_FLOAT_DIGITS = 6  # FLOAT is single precision: ~6 significant digits survive both engines
DEFAULT_DOUBLE_DIGITS = 15

log = logging.getLogger(__name__)


@dataclass(frozen=True, order=True)
class SourceTable:
    """A MySQL table: database (MySQL's "schema") and table name."""

    db: str
    table: str

    def __str__(self) -> str:
        return f"{self.db}.{self.table}"


@dataclass(frozen=True, order=True)
class TargetTable:
    """A PostgreSQL table: schema and table name."""

    schema: str
    table: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.table}"


def _split_qualified(value: Any, first: str) -> Any:
    """Accept ``"db.table"`` or ``{first: db, table: t}`` (names with dots need the dict)."""
    if isinstance(value, str):
        namespace, dot, table = value.partition(".")
        if not dot or not namespace or not table:
            raise ValueError(
                f"expected '<{first}>.<table>', got {value!r}; "
                f"write it as '<{first}>.<table>' or as a mapping {{{first}: ..., table: ...}}"
            )
        return {first: namespace, "table": table}
    return value


def _parse_source(value: Any) -> Any:
    if isinstance(value, SourceTable):
        return value
    value = _split_qualified(value, "db")
    if isinstance(value, dict) and set(value) == {"db", "table"}:
        return SourceTable(str(value["db"]), str(value["table"]))
    raise ValueError(f"expected 'db.table', got {value!r}")


def _parse_target(value: Any) -> Any:
    if isinstance(value, TargetTable):
        return value
    value = _split_qualified(value, "schema")
    if isinstance(value, dict) and set(value) == {"schema", "table"}:
        return TargetTable(str(value["schema"]), str(value["table"]))
    raise ValueError(f"expected 'schema.table', got {value!r}")


def _qualified_or_dict(ref: SourceTable | TargetTable) -> Any:
    first, table = (ref.db, ref.table) if isinstance(ref, SourceTable) else (ref.schema, ref.table)
    if "." in first:
        key = "db" if isinstance(ref, SourceTable) else "schema"
        return {key: first, "table": table}
    return f"{first}.{table}"


SourceField = Annotated[
    SourceTable, BeforeValidator(_parse_source), PlainSerializer(_qualified_or_dict)
]
TargetField = Annotated[
    TargetTable, BeforeValidator(_parse_target), PlainSerializer(_qualified_or_dict)
]


# A type name (optionally schema-qualified, with modifiers and []); DDL emits it unquoted.
_PG_TYPE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .]*(\([0-9, ]+\))?(\[\])?$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def default_text(value: Any) -> Any:
    """A column default as text: YAML reads ``default: 0`` as a number and ``default: true`` as
    a boolean (MySQL's TRUE is 1); both mean the number. Anything else is left as it is."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return str(value)
    return value


class ColumnMapping(_Frozen):
    """One column: MySQL name/type, PostgreSQL name/type, and how values cross over."""

    name: str = Field(description="MySQL column name")
    column_type: str = Field(description="MySQL COLUMN_TYPE text, e.g. 'int(10) unsigned'")
    pg_name: str = Field(default="", description="PostgreSQL column name; defaults to name")
    pg_type: str = Field(default="", description="PostgreSQL type; defaults from the type map")
    nullable: bool = True
    exclude: bool = Field(default=False, description="not synced in either direction")
    exclude_reason: str | None = None
    converter: str | None = Field(
        default=None, description="named converter override (see types.convert.CONVERTERS)"
    )
    auto_increment: bool = False
    generated: bool = Field(
        default=False, description="MySQL computes it (VIRTUAL / STORED): never written there"
    )
    charset: str | None = Field(
        default=None, description="MySQL character set of a string column, when not utf8mb4"
    )
    collation: str | None = Field(
        default=None,
        description=(
            "MySQL collation of a char, varchar or text column (utf8mb4_unicode_ci); a unique "
            "key over a _ci column ignores case in PostgreSQL too (ddl)"
        ),
    )
    values: tuple[str, ...] = Field(default=(), description="enum / set members, in order")
    default: str | None = Field(
        default=None,
        description=(
            "MySQL default as MariaDB's information_schema shows it ('abc', 0, b'1', "
            "current_timestamp(6)); ddl carries it to PostgreSQL; yours to edit"
        ),
    )
    mysql_default: str | None = Field(
        default=None,
        description="MySQL's own default, written by the generator when `default` differs",
    )
    on_update: str | None = Field(
        default=None, description="MySQL ON UPDATE expression; not carried to PostgreSQL"
    )

    @model_validator(mode="before")
    @classmethod
    def _defaults_from_type_map(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if not data.get("pg_name"):
            data["pg_name"] = data.get("name", "")
        column_type = data.get("column_type")
        if not isinstance(column_type, str):
            return data  # the field validator reports it
        try:
            if not data.get("pg_type") and not data.get("converter"):
                data["pg_type"] = default_pg_type(column_type)
            if not data.get("values"):
                data["values"] = enum_values(column_type)
        except MappingError as exc:
            raise ValueError(str(exc)) from None
        return data

    @field_validator("default", "mysql_default", mode="before")
    @classmethod
    def _default_as_text(cls, value: Any) -> Any:
        return default_text(value)

    @field_validator("default")
    @classmethod
    def _default_parses(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                mysql_dialect.parse_default(value)
            except ValueError as exc:
                raise ValueError(f"cannot parse the default {value!r}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _known_type(self) -> ColumnMapping:
        if self.converter and self.converter not in KINDS:
            raise ValueError(f"unknown converter {self.converter!r}; use one of {', '.join(KINDS)}")
        if not self.converter:
            try:
                rule_for(self.column_type)
            except MappingError as exc:
                raise ValueError(str(exc)) from None
        if not self.pg_type and not self.exclude:
            raise ValueError("pg_type is empty; give the PostgreSQL type")
        if self.pg_type and not _PG_TYPE_RE.match(self.pg_type):
            raise ValueError(
                f"pg_type {self.pg_type!r} is not a type name such as 'numeric(12,2)', "
                "'timestamp(6)', 'text[]' or 'myschema.my_enum'"
            )
        if self.collation is not None:
            self._collation_fits()
        return self

    def _collation_fits(self) -> None:
        """A collation only on a character string column, and of the column's character set
        (``mappings generate`` records both from MySQL)."""
        try:
            character_string = rule_for(self.column_type).kind == "text"
        except MappingError:
            character_string = False
        if not character_string:
            raise ValueError(
                f"collation {self.collation!r} on a {self.column_type} column: only char, "
                "varchar and text columns have one here; remove it"
            )
        charset = mysql_dialect.collation_charset(self.charset or "utf8mb4")
        if mysql_dialect.collation_charset(str(self.collation)) != charset:
            raise ValueError(
                f"collation {self.collation!r} is not one of the column's character set "
                f"{charset}; `mappings generate` records both from MySQL: run it again, or fix "
                "charset or collation"
            )

    @property
    def mysql_type(self) -> str:
        """Alias of :attr:`column_type`."""
        return self.column_type

    @property
    def kind(self) -> str:
        """Logical type family (``int``, ``uint64``, ``decimal``, ``datetime``, ...)."""
        return kind_of(self.column_type, self.pg_type, self.converter)  # cached per type

    @property
    def case_insensitive(self) -> bool:
        """MySQL compares this column's values ignoring case (a ``_ci`` collation)."""
        return mysql_dialect.is_case_insensitive(self.collation)

    @property
    def parsed_default(self) -> ColumnDefault | None:
        """:attr:`default` as a value; None when there is none (validation parsed it once)."""
        return None if self.default is None else mysql_dialect.parse_default(self.default)


class ConflictPolicy(_Frozen):
    """Which side wins when both changed the same row."""

    rule: ConflictRule = "mysql_wins"
    column: str | None = Field(
        default=None, description="MySQL column compared by last_writer_wins / version"
    )

    @model_validator(mode="after")
    def _column_when_needed(self) -> ConflictPolicy:
        if self.rule in ("last_writer_wins", "version") and not self.column:
            raise ValueError(
                f"rule {self.rule!r} needs 'column' (a timestamp column for last_writer_wins, "
                "an integer version column for version)"
            )
        if self.rule in ("mysql_wins", "postgres_wins") and self.column:
            raise ValueError(f"rule {self.rule!r} takes no 'column'; remove it")
        return self


class BackfillOptions(_Frozen):
    """How the initial copy is chunked. Chunks are always ranges of the table's ``key``."""

    chunk_rows: int = Field(default=DEFAULT_CHUNK_ROWS, gt=0)
    chunk_mb: int | None = Field(default=None, gt=0, description="cap per chunk, if set")
    key_hint: KeyHint = Field(
        default="auto",
        description=(
            "how a chunk's earlier rows are replaced in PostgreSQL. integer: by key range "
            "(a single integer key column only); keyset: by the exact keys read from MySQL "
            "(any key); auto: integer when the key allows it, else keyset"
        ),
    )
    order: int = Field(default=0, description="lower runs first; FK parents before children")
    on_bad_value: BadValuePolicy = Field(
        default="fail",
        description=(
            "a value that cannot be converted: fail the chunk naming table, key, column and "
            "value, or reject: copy the other rows and record the row in mps_sync.backfill_rejects"
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _no_split_column(cls, data: Any) -> Any:
        # Removed rather than ignored: chunking on anything but the key cannot replace a retried
        # chunk's rows exactly (a row whose column changes between two chunk reads would be
        # copied twice or not at all; NULLs fall in no range).
        if isinstance(data, dict) and "split_column" in data:
            raise ValueError(
                "split_column is not supported: chunks are always ranges of the table's key, "
                "the only column set whose ranges let a retried chunk replace exactly its own "
                "rows; remove it (size chunks with chunk_rows or chunk_mb; pick range or "
                "exact-key chunks with key_hint)"
            )
        return data


class ReconcileOptions(_Frozen):
    """How the nightly comparison treats this table."""

    authoritative: Side = "mysql"
    ignore_columns: tuple[str, ...] = ()
    float_digits: int = Field(default=DEFAULT_FLOAT_DIGITS, ge=1, le=17)
    double_digits: int = Field(default=DEFAULT_DOUBLE_DIGITS, ge=1, le=17)


class ValuePolicy(_Frozen):
    """What to do with values PostgreSQL cannot hold as they are."""

    nul_bytes: NulBytePolicy = Field(
        default="fail", description="strip (and count) or fail naming the row"
    )
    zero_dates: ZeroDatePolicy = Field(
        default="null", description="'0000-00-00' -> NULL, or -> zero_date_sentinel"
    )
    zero_date_sentinel: str = "-infinity"
    enum_style: EnumStyle = Field(
        default="enum", description="enum: a PostgreSQL enum type; check: text + CHECK"
    )


class IndexSpec(_Frozen):
    """A MySQL index other than the key; created in PostgreSQL with ``ddl --with-indexes``."""

    name: str
    columns: tuple[str, ...] = Field(min_length=1, description="MySQL column names, in order")
    unique: bool = False


class ForeignKeySpec(_Frozen):
    """A MySQL foreign key; created in PostgreSQL (deferrable) with ``ddl --with-foreign-keys``."""

    name: str
    columns: tuple[str, ...] = Field(min_length=1, description="MySQL column names")
    references: SourceField = Field(description="referenced MySQL table, db.table")
    referenced_columns: tuple[str, ...] = Field(min_length=1)
    on_delete: str = "NO ACTION"
    on_update: str = "NO ACTION"

    @model_validator(mode="after")
    def _shape(self) -> ForeignKeySpec:
        if len(self.columns) != len(self.referenced_columns):
            raise ValueError("columns and referenced_columns must have the same length")
        for rule in (self.on_delete, self.on_update):
            if rule.upper() not in _FK_ACTIONS:
                raise ValueError(f"unknown action {rule!r}; use one of {', '.join(_FK_ACTIONS)}")
        return self


_FK_ACTIONS = ("NO ACTION", "RESTRICT", "CASCADE", "SET NULL", "SET DEFAULT")


class TableMapping(_Frozen):
    """One MySQL table and its PostgreSQL counterpart."""

    source: SourceField
    target: TargetField
    key: tuple[str, ...] = Field(default=(), description="MySQL key column names")
    columns: tuple[ColumnMapping, ...]
    direction: Direction = "both"
    conflict: ConflictPolicy = ConflictPolicy()
    backfill: BackfillOptions = BackfillOptions()
    reconcile: ReconcileOptions = ReconcileOptions()
    values: ValuePolicy = ValuePolicy()
    indexes: tuple[IndexSpec, ...] = ()
    foreign_keys: tuple[ForeignKeySpec, ...] = ()
    enabled: bool = True
    unsupported: str | None = Field(
        default=None, description="why this table cannot be synced (e.g. no key); never synced"
    )
    postgres_only_columns: tuple[str, ...] = Field(
        default=(),
        description=(
            "PostgreSQL column names that only PostgreSQL has, on purpose (the PostgreSQL app's "
            "own): never synced, and not mapping drift; the counterpart of a column's exclude"
        ),
    )

    @model_validator(mode="after")
    def _consistent(self) -> TableMapping:
        names = [c.name for c in self.columns]
        _no_duplicates(names, "columns[].name")
        _no_duplicates([c.pg_name for c in self.columns if not c.exclude], "columns[].pg_name")
        known = set(names)
        if self.unsupported is None and not self.key:
            raise ValueError(
                "key is empty: give the primary key (or a unique NOT NULL key), "
                "or set 'unsupported: <reason>' to skip the table"
            )
        for label, cols in (
            ("key", self.key),
            ("reconcile.ignore_columns", self.reconcile.ignore_columns),
            *((f"indexes[{i.name!r}].columns", i.columns) for i in self.indexes),
            *((f"foreign_keys[{f.name!r}].columns", f.columns) for f in self.foreign_keys),
        ):
            for col in cols:
                if col not in known:
                    raise ValueError(f"{label}: unknown column {col!r}; known: {sorted(known)}")
        by_name = {c.name: c for c in self.columns}
        for col in self.key:
            if by_name[col].exclude:
                raise ValueError(f"key column {col!r} is excluded; a key must be synced")
        self._generated_only_from_mysql()
        self._postgres_only_not_mapped()
        if self.conflict.column is not None and self.conflict.column not in known:
            raise ValueError(
                f"conflict.column: unknown column {self.conflict.column!r}; known: {sorted(known)}"
            )
        self._rule_column_kind(by_name)
        if self.backfill.key_hint == "integer" and self.key and not self.has_integer_key():
            kinds = ", ".join(f"{k} ({by_name[k].kind})" for k in self.key)
            raise ValueError(
                f"backfill.key_hint: integer needs a key of one integer column, but the key is "
                f"{kinds}; use key_hint: keyset (or auto, which picks it for this key)"
            )
        return self

    def _rule_column_kind(self, by_name: Mapping[str, ColumnMapping]) -> None:
        """The rule column holds what the rule compares it with: under last_writer_wins a
        delete counts as its commit time and a tombstone is a time, so a number there could
        not be compared (every batch with such a pair would fail again); a version is a
        number."""
        rule, name = self.conflict.rule, self.conflict.column
        if name is None or rule not in RULE_COLUMN_KINDS:
            return
        column = by_name[name]
        if column.kind in RULE_COLUMN_KINDS[rule]:
            return
        if rule == "last_writer_wins":
            needs = "a date, datetime or timestamp column"
            fix = (
                "name such a column that every write sets, or use rule: version for a number "
                "that grows with every write"
            )
        else:
            needs = "an integer or decimal column"
            fix = (
                "name such a column that grows with every write, or use rule: "
                "last_writer_wins for a date, datetime or timestamp column"
            )
        raise ValueError(
            f"conflict.column: rule {rule} needs {needs}, but {self.source}.{name} is "
            f"{column.column_type} (kind {column.kind}); {fix}"
        )

    def _generated_only_from_mysql(self) -> None:
        """A synced generated column travels MySQL -> PostgreSQL only: nothing may write it
        in MySQL, not the stream and not a reconcile repair."""
        one_way = (
            self.direction == "mysql_to_pg"
            and self.reconcile.authoritative == "mysql"
            and self.conflict.rule == "mysql_wins"
        )
        for c in self.columns:
            if c.generated and not c.exclude and not one_way:
                raise ValueError(
                    f"column {c.name!r} is generated in MySQL, which computes it and refuses "
                    "writes to it, so it cannot be written from PostgreSQL: set exclude: true "
                    "for it, or copy it one way with direction: mysql_to_pg (reconcile."
                    "authoritative: mysql and conflict.rule: mysql_wins, so no repair writes "
                    "MySQL either)"
                )

    def _postgres_only_not_mapped(self) -> None:
        """A PostgreSQL-only column is one no column entry names: an entry's ``pg_name`` is
        synced (or, excluded, known already), so listing it too would say two things."""
        _no_duplicates(self.postgres_only_columns, "postgres_only_columns")
        by_pg_name = {c.pg_name: c for c in self.columns}
        for name in self.postgres_only_columns:
            if not name.strip():
                raise ValueError(
                    "postgres_only_columns: an empty name; list PostgreSQL column names"
                )
            column = by_pg_name.get(name)
            if column is None:
                continue
            if column.exclude:
                raise ValueError(
                    f"postgres_only_columns: {name!r} is the pg_name of the excluded column "
                    f"{column.name!r}, so the mapping knows it already; remove it from "
                    "postgres_only_columns"
                )
            raise ValueError(
                f"postgres_only_columns: {name!r} is the PostgreSQL column of the mapped MySQL "
                f"column {column.name!r}, so it is synced, not PostgreSQL-only; remove it from "
                "postgres_only_columns (or, if PostgreSQL's column of that name is its own, "
                f"give {column.name!r} another pg_name)"
            )

    @property
    def name(self) -> str:
        """The MySQL ``db.table``, used in logs, state rows and errors."""
        return str(self.source)

    @property
    def is_synced(self) -> bool:
        return self.enabled and self.unsupported is None

    @property
    def pg_key(self) -> tuple[str, ...]:
        return tuple(self.column(c).pg_name for c in self.key)

    def has_integer_key(self) -> bool:
        """One key column of an integer kind: its ranges mean the same on both engines."""
        return len(self.key) == 1 and self.column(self.key[0]).kind in INTEGER_KEY_KINDS

    def synced_columns(self) -> tuple[ColumnMapping, ...]:
        return tuple(c for c in self.columns if not c.exclude)

    def column(self, mysql_name: str) -> ColumnMapping:
        for c in self.columns:
            if c.name == mysql_name:
                return c
        raise MappingError(f"{self.name}: no column {mysql_name!r} in the mapping")

    def column_by_pg_name(self, pg_name: str) -> ColumnMapping:
        for c in self.columns:
            if c.pg_name == pg_name:
                return c
        raise MappingError(f"{self.name}: no column with pg_name {pg_name!r} in the mapping")

    def case_insensitive_key_warning(self) -> str | None:
        """A warning when the key ignores case in MySQL: the PostgreSQL primary key compares
        exactly (a case-insensitive key is not carried), or None."""
        columns = [c for c in self.key if self.column(c).case_insensitive]
        if not columns or not self.replicates_to_mysql():
            return None
        collations = ", ".join(f"{c} {self.column(c).collation}" for c in columns)
        return (
            f"{self.name}: the key ignores case in MySQL ({collations}), but PostgreSQL's primary "
            "key compares exactly: a row the PostgreSQL app inserts with a key that differs from "
            "an existing one only in case is refused by MySQL (a dead letter). The PostgreSQL "
            "app must write such keys in one case"
        )

    def replicates_to_pg(self) -> bool:
        return self.is_synced and self.direction in ("mysql_to_pg", "both")

    def replicates_to_mysql(self) -> bool:
        return self.is_synced and self.direction in ("pg_to_mysql", "both")

    def needs_full_before_images(self) -> bool:
        """Its PostgreSQL table must send whole before-images (REPLICA IDENTITY FULL).

        Every rule but ``postgres_wins`` can make a PostgreSQL change lose to MySQL's row, and
        only the before-image shows whether MySQL's row changed since (a conflict) or is the
        row PostgreSQL changed (no conflict: apply). With the default identity the image holds
        just the key. Under ``mysql_wins`` the PostgreSQL change then overwrote MySQL's while
        MySQL's won in PostgreSQL; under ``last_writer_wins`` and ``version`` a delete was
        applied without a comparison (beating a newer MySQL update), and an update with an
        older rule value lost to a MySQL row nothing sends back (the sides stayed different).
        ``postgres_wins`` applies a PostgreSQL change either way (ADR 0014)."""
        return self.replicates_to_mysql() and self.conflict.rule in FULL_BEFORE_IMAGE_RULES


def _no_duplicates(values: Iterable[str], field: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{field}: {value!r} appears twice; names must be unique")
        seen.add(value)


@dataclass(frozen=True)
class MappingSet:
    """Every table mapping, looked up by MySQL ``db.table`` or PostgreSQL ``schema.table``."""

    tables: tuple[TableMapping, ...]
    files: tuple[Path, ...] = ()
    # the file each mapping was read from, by its name (``db.table``)
    origins: Mapping[str, Path] = field(default_factory=dict, compare=False, repr=False)
    _by_source: dict[str, TableMapping] = field(init=False, repr=False, compare=False)
    _by_target: dict[str, TableMapping] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # the stream looks a table up per event: dictionaries, not scans
        object.__setattr__(self, "_by_source", {str(m.source): m for m in self.tables})
        object.__setattr__(self, "_by_target", {str(m.target): m for m in self.tables})

    def __iter__(self) -> Iterator[TableMapping]:
        return iter(self.tables)

    def __len__(self) -> int:
        return len(self.tables)

    def file_of(self, mapping: TableMapping) -> Path | None:
        """The file the mapping was read from, when known."""
        return self.origins.get(mapping.name)

    def enabled(self) -> Iterator[TableMapping]:
        """Tables that are enabled and supported, in backfill order."""
        ordered = sorted(self.tables, key=lambda m: (m.backfill.order, m.name))
        return (m for m in ordered if m.is_synced)

    def find_source(self, db_table: str | SourceTable) -> TableMapping | None:
        return self._by_source.get(str(db_table))

    def find_target(self, schema_table: str | TargetTable) -> TableMapping | None:
        return self._by_target.get(str(schema_table))

    def by_source(self, db_table: str | SourceTable) -> TableMapping:
        found = self.find_source(db_table)
        if found is None:
            raise MappingError(
                f"no mapping for MySQL table {db_table}; run `mappings generate` or add it "
                "to include/mappings"
            )
        return found

    def by_target(self, schema_table: str | TargetTable) -> TableMapping:
        found = self.find_target(schema_table)
        if found is None:
            raise MappingError(f"no mapping has target PostgreSQL table {schema_table}")
        return found

    def select(self, names: Iterable[str]) -> tuple[TableMapping, ...]:
        """Mappings named by MySQL ``db.table``, PostgreSQL ``schema.table`` or bare table name."""
        picked: list[TableMapping] = []
        for name in names:
            found = self.find_source(name) or self.find_target(name)
            if found is None:
                matches = [m for m in self.tables if name in (m.source.table, m.target.table)]
                if len(matches) != 1:
                    raise MappingError(
                        f"table {name!r} matches {len(matches)} mappings; "
                        "name it as db.table (MySQL) or schema.table (PostgreSQL)"
                    )
                found = matches[0]
            picked.append(found)
        return tuple(picked)

    def match(self, patterns: Iterable[str]) -> tuple[TableMapping, ...]:
        """Mappings named by ``patterns``: globs (``order*``) or names, each matched against
        MySQL ``db.table``, PostgreSQL ``schema.table`` and both bare table names; disabled
        tables too. The table selector of backfill and reconcile, so both accept the same
        names. A mapping's exact MySQL ``db.table`` names that mapping alone (another's target
        may be spelt the same), so a table's own name always selects one. A pattern that
        matches nothing raises, naming the known tables."""
        picked: list[TableMapping] = []
        for pattern in patterns:
            exact = self.find_source(pattern)
            found = [exact] if exact else [m for m in self.tables if _matches(m, pattern)]
            if not found:
                raise MappingError(
                    f"no mapping matches {pattern!r}; known: "
                    + ", ".join(sorted(m.name for m in self.tables))
                )
            picked += [m for m in found if m not in picked]
        return tuple(picked)

    def match_synced(self, patterns: Iterable[str]) -> tuple[TableMapping, ...]:
        """The synced tables :meth:`match` selects: a glob skips the tables the mappings leave
        out, and a pattern that selects only such tables raises, naming each with the reason
        (it would select nothing, and the run would pass without looking at anything)."""
        picked: list[TableMapping] = []
        for pattern in patterns:
            found = self.match([pattern])
            synced = [m for m in found if m.is_synced]
            if not synced:
                raise MappingError(
                    f"{pattern!r} selects no synced table: "
                    + "; ".join(f"{m.name} is not synced ({_not_synced(m)})" for m in found)
                )
            picked += [m for m in synced if m not in picked]
        return tuple(picked)


def _not_synced(mapping: TableMapping) -> str:
    return mapping.unsupported or "enabled: false in its mapping"


def _matches(mapping: TableMapping, pattern: str) -> bool:
    names = (mapping.name, str(mapping.target), mapping.source.table, mapping.target.table)
    return any(fnmatch.fnmatchcase(n, pattern) for n in names)


def mapping_files(folder_or_files: str | Path | Iterable[str | Path]) -> list[Path]:
    """The YAML files a folder holds (sorted), or the given files."""
    if isinstance(folder_or_files, str | Path):
        path = Path(folder_or_files)
        if path.is_dir():
            return sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
        return [path]
    return [Path(p) for p in folder_or_files]


def mappings_fingerprint(folder_or_files: str | Path | Iterable[str | Path]) -> tuple[Any, ...]:
    """What changes when a mapping file is added, removed or written (name, size, mtime)."""
    found: list[tuple[str, int | None, int | None]] = []
    for path in mapping_files(folder_or_files):
        try:
            stat = path.stat()
        except OSError:
            found.append((str(path), None, None))
        else:
            found.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(found)


def load_mappings(folder_or_files: str | Path | Iterable[str | Path]) -> MappingSet:
    """Read and validate every mapping file; raise one MappingError listing every problem."""
    from mysql_pg_sync.mapping.loader import parse_file

    files = mapping_files(folder_or_files)
    tables: list[TableMapping] = []
    origins: list[Path] = []
    problems: list[str] = []
    for path in files:
        parsed, errors = parse_file(path)
        tables.extend(parsed)
        origins.extend(path for _ in parsed)
        problems.extend(errors)
    problems.extend(cross_table_problems(tables, origins))
    if problems:
        raise MappingError(
            f"{len(problems)} problem(s) in the mappings:\n  - " + "\n  - ".join(problems)
        )
    for table in tables:
        # Every task loads every mapping: as warnings these filled each table's task log with
        # the other tables' notes. `mappings validate` and `mappings generate` show them.
        if warning := table.case_insensitive_key_warning():
            log.debug("%s", warning)
    origin_of = {t.name: path for t, path in zip(tables, origins, strict=True)}
    return MappingSet(tuple(tables), tuple(files), origin_of)


def cross_table_problems(
    tables: Sequence[TableMapping], origins: Sequence[Path | None] | None = None
) -> list[str]:
    """A source or target mapped by more than one entry, naming each entry's MySQL table and
    file (``origins[i]``: the file ``tables[i]`` was read from, None when not known)."""
    files = list(origins) if origins is not None else [None] * len(tables)
    problems = []
    for attr in ("source", "target"):
        claims: dict[str, list[tuple[TableMapping, Path | None]]] = {}
        for mapping, path in zip(tables, files, strict=True):
            claims.setdefault(str(getattr(mapping, attr)), []).append((mapping, path))
        for name, claimants in claims.items():
            if len(claimants) < 2:
                continue
            if attr == "source":
                where = [str(p) if p else "an entry of unknown file" for _, p in claimants]
                problems.append(
                    f"source {name} is mapped {len(claimants)} times, in {' and '.join(where)}; "
                    "keep one entry per table: delete the others"
                )
            else:
                problems.append(_duplicate_target(name, claimants))
    return problems


def _duplicate_target(name: str, claimants: list[tuple[TableMapping, Path | None]]) -> str:
    by = " and ".join(f"{m.source} ({p})" if p else str(m.source) for m, p in claimants)
    fix = "edit the target of all but one entry to a schema.table no other entry uses"
    # the usual cause: two databases' same-named tables both defaulted to `public`; the MySQL
    # database's own name is a schema no other database's tables land in. Regenerating alone
    # does not help: generate keeps an existing entry's target
    movable = [(m, p) for m, p in claimants if m.source.db != m.target.schema]
    if movable:
        mapping, path = movable[-1]
        db = mapping.source.db
        fix += f", e.g. set `target: {db}.{mapping.target.table}`" + (
            f" in {path} (or delete that file and run `mappings generate --database {db} "
            f"--target-schema {db}`)"
            if path
            else ""
        )
    return (
        f"target {name} is mapped {len(claimants)} times, by {by}; keep one MySQL table per "
        f"PostgreSQL table: {fix}"
    )


def dump_yaml_entry(mapping: TableMapping) -> dict[str, Any]:
    """The entry as plain data for YAML, leaving out values equal to their defaults."""
    return mapping.model_dump(mode="json", exclude_defaults=True)


__all__ = [
    "INTEGER_KEY_KINDS",
    "BackfillOptions",
    "ColumnMapping",
    "ConflictPolicy",
    "ConflictRule",
    "Direction",
    "ForeignKeySpec",
    "IndexSpec",
    "MappingSet",
    "ReconcileOptions",
    "Side",
    "SourceTable",
    "TableMapping",
    "TargetTable",
    "ValuePolicy",
    "load_mappings",
    "mapping_files",
]
