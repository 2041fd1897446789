"""SQL text the applier needs, built from dialect entry points (no engine branches here)."""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType

from mysql_pg_sync.cdc.conflicts import TIE_WINNER
from mysql_pg_sync.cdc.events import Side


def _key_match(dialect: ModuleType, keys: Sequence[str], count: int) -> str:
    p = dialect.PARAM
    if len(keys) == 1:
        return f"{dialect.quote_ident(keys[0])} IN ({', '.join([p] * count)})"
    row = "(" + ", ".join([p] * len(keys)) + ")"
    return f"({dialect.column_list(keys)}) IN ({', '.join([row] * count)})"


def lock_rows_sql(
    dialect: ModuleType,
    table_sql: str,
    columns: Sequence[str],
    keys: Sequence[str],
    count: int,
    read_as: Sequence[str] | None = None,
) -> str:
    """Read the target rows of ``count`` keys and lock them until commit; ``read_as``: the
    select expression of each column, when some are not read as they are."""
    selected = ", ".join(read_as) if read_as is not None else dialect.column_list(columns)
    return f"SELECT {selected} FROM {table_sql} WHERE {_key_match(dialect, keys, count)} FOR UPDATE"


def probe_columns_sql(dialect: ModuleType, table_sql: str, columns: Sequence[str]) -> str:
    """Names every column and reads no row: fails when the table lacks one."""
    return f"SELECT {dialect.column_list(columns)} FROM {table_sql} WHERE 1 = 0"


def delete_sql(dialect: ModuleType, table_sql: str, keys: Sequence[str], count: int) -> str:
    return f"DELETE FROM {table_sql} WHERE {_key_match(dialect, keys, count)}"


def update_sql(
    dialect: ModuleType, table_sql: str, columns: Sequence[str], keys: Sequence[str]
) -> str:
    """UPDATE the given columns of one row; the columns left out keep their value (TOAST)."""
    p = dialect.PARAM
    sets = ", ".join(f"{dialect.quote_ident(c)} = {p}" for c in columns)
    where = " AND ".join(f"{dialect.quote_ident(k)} = {p}" for k in keys)
    return f"UPDATE {table_sql} SET {sets} WHERE {where}"


def values_sql(dialect: ModuleType, width: int, rows: int) -> str:
    row = "(" + ", ".join([dialect.PARAM] * width) + ")"
    return "VALUES " + ", ".join([row] * rows)


def guard_sql(dialect: ModuleType, rule: str, column: str | None, incoming_side: Side) -> str:
    """The conflict rule as a condition on (target row, incoming row) inside the upsert.

    Mirrors :func:`mysql_pg_sync.cdc.conflicts.incoming_wins`, so a row that appears between the
    applier's read and its write is still decided by the rule.
    """
    if rule == "mysql_wins":
        return "TRUE" if incoming_side == "mysql" else "FALSE"
    if rule == "postgres_wins":
        return "TRUE" if incoming_side == "postgres" else "FALSE"
    if column is None:
        raise ValueError(f"rule {rule!r} needs a column")
    target = dialect.upsert_target_ref(column)
    incoming = dialect.upsert_incoming_ref(column)
    tie = "TRUE" if incoming_side == TIE_WINNER else "FALSE"
    return (
        f"({target} < {incoming} OR ({target} IS NULL AND {incoming} IS NOT NULL) "
        f"OR ({dialect.null_safe_equal_sql(target, incoming)} AND {tie}))"
    )
