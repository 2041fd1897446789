"""PostgreSQL's built-in type names, to flag a mapping's pg_type that is likely misspelt.

Only a warning: an extension (citext, hstore) or a domain may provide a type this list lacks,
and ``ddl`` is where PostgreSQL itself says whether a type exists.
"""

from __future__ import annotations

import re

from mysql_pg_sync.mapping.models import TableMapping

BUILTIN_TYPES = frozenset(
    {
        *("smallint", "integer", "bigint", "int", "int2", "int4", "int8"),
        *("smallserial", "serial", "bigserial", "serial2", "serial4", "serial8"),
        *("numeric", "decimal", "real", "double precision", "float", "float4", "float8"),
        *("money", "boolean", "bool", "bytea", "uuid", "json", "jsonb", "xml"),
        *("text", "varchar", "character varying", "char", "character", "bpchar", "name"),
        *("bit", "bit varying", "varbit"),
        *("date", "time", "timetz", "timestamp", "timestamptz", "interval"),
        *("time without time zone", "time with time zone"),
        *("timestamp without time zone", "timestamp with time zone"),
        *("inet", "cidr", "macaddr", "macaddr8"),
        *("point", "line", "lseg", "box", "path", "polygon", "circle"),
        *("tsvector", "tsquery", "pg_lsn", "pg_snapshot", "txid_snapshot", "oid"),
        *("int4range", "int8range", "numrange", "tsrange", "tstzrange", "daterange"),
        *("int4multirange", "int8multirange", "nummultirange"),
        *("tsmultirange", "tstzmultirange", "datemultirange"),
    }
)


def type_name(pg_type: str) -> str:
    """``numeric(10,2)[]`` -> ``numeric``; ``pg_catalog.text`` -> ``text``; lower case."""
    name = " ".join(re.sub(r"\(.*?\)|\[\]", " ", pg_type).lower().split())
    return name.removeprefix("pg_catalog.")


def unknown_type_warnings(mapping: TableMapping) -> list[str]:
    """A warning per synced column whose pg_type is neither a PostgreSQL built-in type nor an
    enum type the mapping defines (``ddl`` creates those); a schema-qualified name is taken
    as deliberate (a domain or an extension's type) and not flagged."""
    warnings = []
    for column in mapping.synced_columns():
        name = type_name(column.pg_type)
        if column.kind == "enum" or "." in name or name in BUILTIN_TYPES:
            continue
        if name.startswith("interval "):  # interval day to second
            continue
        warnings.append(
            f"{mapping.name}: column {column.name!r}: pg_type {column.pg_type!r} is not a "
            "PostgreSQL built-in type; fix its spelling, unless an extension or a domain "
            "provides it (`ddl` says whether PostgreSQL has it)"
        )
    return warnings
