"""Mapping entries from live table definitions, merged into hand-edited ones, with the drift.

Pure: :mod:`.introspect` reads the schema, :mod:`.files` reads and writes YAML. A merge keeps
every hand edit (renames, overrides, policies, exclusions) and refreshes what is a fact of the
live schema (column types, nullability, indexes, foreign keys, whether a key exists).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mysql_pg_sync.errors import MappingError
from mysql_pg_sync.mapping.introspect import LiveColumn, LiveTable
from mysql_pg_sync.mapping.models import (
    DEFAULT_CHUNK_ROWS,
    INTEGER_KEY_KINDS,
    EnumStyle,
    default_text,
)
from mysql_pg_sync.names import INTERNAL_TABLES
from mysql_pg_sync.types.typemap import default_pg_type, kind_of, rule_for

NO_KEY_REASON = (
    "no primary key and no unique key over NOT NULL columns, so rows cannot be matched; "
    "add a primary key in MySQL and run `mappings generate` again"
)
GEOMETRY_REASON = "geometry: excluded by default; set exclude: false to copy it as WKB bytea"
GENERATED_REASON = (
    "generated column: MySQL computes it and refuses writes to it, so it cannot sync both ways; "
    "to copy it to PostgreSQL one way set exclude: false and direction: mysql_to_pg"
)
UNKNOWN_TYPE_REASON = "type not in the type map; set pg_type and converter to sync it"
_NULLABLE_UNIQUE_REASON_START = "no primary key, and unique key "
_DEFAULT_CHARSETS = ("utf8mb4", "binary")  # not written into the mapping
# facts of the live column a merge refreshes (absent from the fresh entry: removed)
_COLUMN_FACTS = ("nullable", "auto_increment", "generated", "charset", "collation", "on_update")


@dataclass(frozen=True)
class GenerateOptions:
    target_schema: str | None = None  # None: "public" for one database, else the database name
    enum_style: EnumStyle = "enum"


@dataclass
class Drift:
    """Differences between the live schema and the existing mapping files."""

    new_tables: list[str] = field(default_factory=list)
    removed_tables: list[str] = field(default_factory=list)
    new_columns: list[str] = field(default_factory=list)
    removed_columns: list[str] = field(default_factory=list)
    retyped_columns: list[str] = field(default_factory=list)
    changed_defaults: list[str] = field(default_factory=list)
    kept_overrides: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)  # new columns excluded, with the reason
    # postgres_only_columns MySQL has now too: mapped, and taken off the list
    postgres_only_mapped: list[str] = field(default_factory=list)

    @property
    def has_drift(self) -> bool:
        return bool(
            self.new_tables
            or self.removed_tables
            or self.new_columns
            or self.removed_columns
            or self.retyped_columns
            or self.changed_defaults
        )

    def lines(self) -> list[str]:
        out = []
        for label, items in (
            ("new table", self.new_tables),
            ("removed table (mapping kept; delete it by hand)", self.removed_tables),
            ("new column", self.new_columns),
            ("removed column", self.removed_columns),
            ("retyped column", self.retyped_columns),
            ("MySQL default differs from the mapping's (kept)", self.changed_defaults),
            ("retyped column kept its hand-set pg_type; check it", self.kept_overrides),
            ("warning: column excluded", self.excluded),
            (
                "warning: a PostgreSQL-only column is in MySQL now too, so it is a column of "
                "the entry and no longer in postgres_only_columns; unless excluded it syncs "
                "both ways, and the two sides' values differ until you copy the ones to keep (a "
                "reconcile repair copies reconcile.authoritative's side)",
                self.postgres_only_mapped,
            ),
        ):
            out += [f"{label}: {item}" for item in items]
        return out


def no_key_reason(table: LiveTable) -> str:
    """Why a table without a usable key is refused; names a unique key that has NULLable
    columns, the usual near miss."""
    nullable = {c.name for c in table.columns if c.nullable}
    for index in sorted(table.indexes, key=lambda i: i.name):
        if index.unique and not index.prefix:
            columns = [c for c in index.columns if c in nullable]
            return (
                f"{_NULLABLE_UNIQUE_REASON_START}{index.name} has NULLable column(s) "
                f"{', '.join(columns)} (several rows may hold NULL there), so rows cannot be "
                f"matched; make them NOT NULL or add a primary key in MySQL and run "
                "`mappings generate` again"
            )
    return NO_KEY_REASON


def _is_no_key_reason(reason: object) -> bool:
    """A reason :func:`no_key_reason` wrote (not one set by hand)."""
    return reason == NO_KEY_REASON or (
        isinstance(reason, str) and reason.startswith(_NULLABLE_UNIQUE_REASON_START)
    )


def choose_key(table: LiveTable) -> tuple[str, ...] | None:
    """The primary key, else the first unique key over NOT NULL columns, else None."""
    not_null = {c.name for c in table.columns if not c.nullable}
    candidates = sorted(
        (i for i in table.indexes if i.unique and not i.prefix),
        key=lambda i: (i.name != "PRIMARY", len(i.columns), i.name),
    )
    for index in candidates:
        if index.name == "PRIMARY" or all(c in not_null for c in index.columns):
            return index.columns
    return None


def enum_type_name(table: str, column: str) -> str:
    from mysql_pg_sync.ddl import pg_name_limit

    return pg_name_limit(table, column)


def _column_entry(table: LiveTable, column: LiveColumn, options: GenerateOptions) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": column.name, "column_type": column.column_type}
    try:
        rule = rule_for(column.column_type)
    except Exception:
        entry.update(exclude=True, exclude_reason=UNKNOWN_TYPE_REASON, pg_type="bytea")
        return entry
    if rule.kind == "enum" and options.enum_style == "enum":
        entry["pg_type"] = enum_type_name(table.name, column.name)
    else:
        entry["pg_type"] = default_pg_type(column.column_type)
    if not column.nullable:
        entry["nullable"] = False
    if column.default is not None:
        entry["default"] = column.default
    if column.on_update:
        entry["on_update"] = column.on_update
    if column.auto_increment:
        entry["auto_increment"] = True
    if column.charset and column.charset not in _DEFAULT_CHARSETS:
        entry["charset"] = column.charset
    if column.collation and rule.kind == "text":  # char, varchar, text: ddl's unique keys
        entry["collation"] = column.collation
    if rule.kind == "geometry":
        entry.update(exclude=True, exclude_reason=GEOMETRY_REASON)
    if column.generated:
        entry.update(generated=True, exclude=True, exclude_reason=GENERATED_REASON)
    return entry


def _key_hint(table: LiveTable, key: tuple[str, ...]) -> str:
    """What ``auto`` picks for this key, written out so the file shows how it is chunked; by the
    same kinds the mapping validation checks (a ``tinyint(1)`` key is a boolean, not integer)."""
    if len(key) != 1:
        return "keyset"
    column = next(c for c in table.columns if c.name == key[0])
    try:
        kind = kind_of(column.column_type, default_pg_type(column.column_type))
    except MappingError:  # not in the type map: the column entry says so
        return "keyset"
    return "integer" if kind in INTEGER_KEY_KINDS else "keyset"


def target_schema_for(db: str, databases: Iterable[str], options: GenerateOptions) -> str:
    if options.target_schema:
        return options.target_schema
    return "public" if len(set(databases)) == 1 else db


def generate_entry(
    table: LiveTable, databases: Iterable[str], options: GenerateOptions
) -> dict[str, Any]:
    """A fresh mapping entry for a live table, with the defaults."""
    key = choose_key(table)
    entry: dict[str, Any] = {
        "source": f"{table.db}.{table.name}",
        "target": f"{target_schema_for(table.db, databases, options)}.{table.name}",
        "key": list(key or ()),
        "direction": "both",
        "conflict": {"rule": "mysql_wins"},
        "enabled": key is not None,
    }
    if key is None:
        entry["unsupported"] = no_key_reason(table)
    else:
        entry["backfill"] = {"chunk_rows": DEFAULT_CHUNK_ROWS, "key_hint": _key_hint(table, key)}
    entry["columns"] = [_column_entry(table, c, options) for c in table.columns]
    if "." in table.db or "." in table.name:
        entry["source"] = {"db": table.db, "table": table.name}
        schema = target_schema_for(table.db, databases, options)
        entry["target"] = {"schema": schema, "table": table.name}
    entry["indexes"] = [
        {"name": i.name, "columns": list(i.columns), **({"unique": True} if i.unique else {})}
        for i in table.indexes
        if i.name != "PRIMARY" and not i.prefix and tuple(i.columns) != key
    ]
    entry["foreign_keys"] = [
        {
            "name": fk.name,
            "columns": list(fk.columns),
            "references": f"{fk.ref_db}.{fk.ref_table}",
            "referenced_columns": list(fk.ref_columns),
            "on_delete": fk.on_delete,
            "on_update": fk.on_update,
        }
        for fk in table.foreign_keys
    ]
    for name in ("indexes", "foreign_keys"):
        if not entry[name]:
            del entry[name]
    return entry


def _default_pg_type_of(column_entry: Mapping[str, Any], table: str) -> set[str]:
    """pg_type values the generator could have written for this column (not hand edits)."""
    column_type = str(column_entry.get("column_type", ""))
    options = {"", enum_type_name(table, str(column_entry.get("name", "")))}
    try:
        options.add(default_pg_type(column_type))
    except Exception:
        options.add("bytea")
    return options


def merge_entry(existing: dict[str, Any], fresh: dict[str, Any], drift: Drift) -> dict[str, Any]:
    """Keep the hand-edited entry, refresh live facts from the fresh one, record drift."""
    label = _label(fresh)
    merged = dict(existing)
    old_columns = {c["name"]: c for c in existing.get("columns", []) if isinstance(c, dict)}
    live_names = [c["name"] for c in fresh["columns"]]
    table_name = _table_name(fresh)
    columns = []
    for new in fresh["columns"]:
        old = old_columns.get(new["name"])
        if old is None:
            drift.new_columns.append(f"{label}.{new['name']} {new['column_type']}")
            _note_excluded(label, [new], drift)
            columns.append(new)
            continue
        column = dict(old)
        if old.get("column_type") != new["column_type"]:
            change = f"{label}.{new['name']} {old.get('column_type')} -> {new['column_type']}"
            drift.retyped_columns.append(change)
            if old.get("pg_type", "") in _default_pg_type_of(old, table_name):
                column["pg_type"] = new.get("pg_type", "")
            else:
                drift.kept_overrides.append(f"{change} (pg_type {old.get('pg_type')})")
            column["column_type"] = new["column_type"]
        one_way = existing.get("direction") == "mysql_to_pg"
        if _follow_generated(column, bool(new.get("generated")), one_way):
            drift.retyped_columns.append(f"{label}.{new['name']} is generated now (excluded)")
        _merge_default(column, new.get("default"), f"{label}.{new['name']}", drift)
        if old.get("collation") and new.get("collation") not in (None, old["collation"]):
            drift.retyped_columns.append(
                f"{label}.{new['name']} collation {old['collation']} -> {new['collation']} "
                "(ddl does not change an existing PostgreSQL unique index)"
            )
        for fact in _COLUMN_FACTS:
            if fact in new:
                column[fact] = new[fact]
            else:
                column.pop(fact, None)
        column.pop("values", None)  # always derived from column_type
        columns.append(column)
    for name in old_columns:
        if name not in live_names:
            drift.removed_columns.append(f"{label}.{name}")
    merged["columns"] = columns
    _drop_mapped_postgres_only(merged, label, drift)
    for fact in ("indexes", "foreign_keys"):
        if fact in fresh:
            merged[fact] = fresh[fact]
        else:
            merged.pop(fact, None)
    if not merged.get("key") or any(k not in live_names for k in merged.get("key", [])):
        merged["key"] = fresh["key"]
    if "unsupported" in fresh:
        merged["unsupported"] = fresh["unsupported"]
        merged["enabled"] = False
    elif _is_no_key_reason(merged.get("unsupported")):
        del merged["unsupported"]  # the table gained a key; it stays disabled until enabled
    return merged


def _drop_mapped_postgres_only(entry: dict[str, Any], label: str, drift: Drift) -> None:
    """Keep the hand-written ``postgres_only_columns``, but for a name a column entry now
    gives PostgreSQL (MySQL gained a column of that name: the usual way to sync PostgreSQL's
    own column): the entry would not validate with both."""
    listed = entry.get("postgres_only_columns")
    if not isinstance(listed, list):
        return  # absent, or not a list: validation names it
    mapped = {
        str(c.get("pg_name") or c.get("name"))
        for c in entry.get("columns", [])
        if isinstance(c, dict)
    }
    kept = [name for name in listed if name not in mapped]
    if len(kept) == len(listed):
        return
    drift.postgres_only_mapped += [f"{label}.{name}" for name in listed if name in mapped]
    if kept:
        entry["postgres_only_columns"] = kept
    else:
        del entry["postgres_only_columns"]


def _merge_default(column: dict[str, Any], live: str | None, label: str, drift: Drift) -> None:
    """Keep the column's ``default`` (yours to edit; the generator cannot tell an edit from a
    change in MySQL), filling it only when the entry has none. When MySQL's differs, record it
    as ``mysql_default``, and report it once: when it first differs, and when it changes."""
    if "default" not in column:  # a new entry, or one written before defaults were recorded
        column.pop("mysql_default", None)
        if live is not None:
            column["default"] = live
        return
    mine = default_text(column["default"])
    if mine == live:
        column.pop("mysql_default", None)
        return
    known = default_text(column["mysql_default"]) if "mysql_default" in column else mine
    column["mysql_default"] = live
    if known != live:
        drift.changed_defaults.append(
            f"{label}: MySQL {live or 'none'}, the mapping {mine or 'none'} (ddl uses the "
            "mapping's; set default to MySQL's to follow it)"
        )


def _follow_generated(column: dict[str, Any], generated: bool, one_way: bool) -> bool:
    """Exclude a column MySQL now computes, unless it is copied one way (MySQL refuses writes
    to it); a column the generator excluded as generated syncs again once it is not. True
    when the column was excluded here."""
    if generated and not column.get("exclude") and not one_way:
        column.update(exclude=True, exclude_reason=GENERATED_REASON)
        return True
    if not generated and str(column.get("exclude_reason", "")).startswith("generated column"):
        column.pop("exclude", None)
        column.pop("exclude_reason", None)
    return False


def _note_excluded(label: str, columns: list[dict[str, Any]], drift: Drift) -> None:
    drift.excluded += [
        f"{label}.{c['name']}: {c['exclude_reason']}" for c in columns if c.get("exclude")
    ]


def _label(entry: Mapping[str, Any]) -> str:
    source = entry["source"]
    return f"{source['db']}.{source['table']}" if isinstance(source, dict) else str(source)


def _table_name(entry: Mapping[str, Any]) -> str:
    source = entry["source"]
    return str(source["table"]) if isinstance(source, dict) else str(source).partition(".")[2]


def generate(
    live: list[LiveTable],
    existing: Mapping[str, dict[str, Any]],
    databases: Iterable[str],
    options: GenerateOptions | None = None,
) -> tuple[dict[str, dict[str, Any]], Drift]:
    """Entries by source ``db.table`` for every live table, merged with ``existing``; and the drift.

    ``existing`` holds raw entries (as read from YAML) by source; tables of the scanned databases
    that no longer exist are reported, and their entries are left as they are.
    """
    options = options or GenerateOptions()
    databases = list(databases)
    drift = Drift()
    result: dict[str, dict[str, Any]] = {}
    for table in live:
        if table.name in INTERNAL_TABLES:
            continue
        fresh = generate_entry(table, databases, options)
        name = f"{table.db}.{table.name}"
        if name in existing:
            result[name] = merge_entry(existing[name], fresh, drift)
        else:
            drift.new_tables.append(name)
            _note_excluded(name, fresh["columns"], drift)
            result[name] = fresh
    live_names = {f"{t.db}.{t.name}" for t in live if t.name not in INTERNAL_TABLES}
    for name in existing:
        if name.partition(".")[0] in databases and name not in live_names:
            drift.removed_tables.append(name)
    return result, drift


def _target_name(entry: Mapping[str, Any]) -> str:
    target = entry.get("target")
    if isinstance(target, dict):
        return f"{target.get('schema')}.{target.get('table')}"
    return str(target)


def refuse_target_collisions(
    entries: Mapping[str, Mapping[str, Any]],
    existing: Mapping[str, tuple[Mapping[str, Any], Path | None]],
    options: GenerateOptions,
) -> None:
    """Raise MappingError when a generated entry's PostgreSQL target is one another MySQL table
    already maps to in the folder (``existing``: raw entry and its file, by source ``db.table``),
    or that another generated entry takes: two sources written into one table would overwrite
    each other's rows, and every later ``load_mappings`` refuses the folder."""
    claims: dict[str, list[tuple[str, Path | None]]] = {}
    for name, (data, path) in existing.items():
        if name not in entries:  # kept as it is; a regenerated entry is one of ``entries``
            claims.setdefault(_target_name(data), []).append((name, path))
    for name, entry in entries.items():
        path = existing[name][1] if name in existing else None
        claims.setdefault(_target_name(entry), []).append((name, path))
    problems = []
    for target, claimants in claims.items():
        new = [name for name, _ in claimants if name in entries and name not in existing]
        if len(claimants) < 2 or not new:
            continue
        others = [
            f"{name} ({path})" if path else f"{name} (generated in this run)"
            for name, path in claimants
            if name != new[0]
        ]
        db = new[0].partition(".")[0]
        if options.target_schema:
            fix = (
                f"run again with another --target-schema (not {options.target_schema}), or "
                "generate each database on its own with a schema of its own"
            )
        elif target.partition(".")[0] != db:
            fix = f"run again with --target-schema {db} (or another schema of its own)"
        else:
            fix = "run again with --target-schema naming a schema of its own for this database"
        problems.append(
            f"{new[0]} would map to {target}, which {' and '.join(others)} already maps to; "
            f"{fix}, or change that existing entry's target first"
        )
    if problems:
        raise MappingError(
            "mappings generate: nothing was written; a PostgreSQL table can take one MySQL "
            "table only:\n  - " + "\n  - ".join(problems)
        )
