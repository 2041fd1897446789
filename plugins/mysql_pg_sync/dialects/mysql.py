"""MySQL / MariaDB SQL: every way the MySQL side differs from PostgreSQL lives here.

Same entry points as :mod:`mysql_pg_sync.dialects.postgres`, so callers never branch on the
engine: pick the module with :func:`mysql_pg_sync.dialects.for_side` and call the same names.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable

from mysql_pg_sync import names
from mysql_pg_sync.dialects.column_default import ColumnDefault
from mysql_pg_sync.dialects.stored_type import StoredType

NAME = "mysql"
PARAM = "%s"  # mysqlclient's paramstyle
MAX_IDENTIFIER_LENGTH = 64


def quote_ident(name: str) -> str:
    """Quote one identifier (`order`, `Mixed Case`); backticks inside are doubled."""
    if "\x00" in name:
        raise ValueError(f"identifier {name!r} contains a NUL byte")
    return "`" + name.replace("`", "``") + "`"


def qualified(namespace: str, table: str) -> str:
    """`db`.`table`."""
    return f"{quote_ident(namespace)}.{quote_ident(table)}"


def column_list(names: Iterable[str]) -> str:
    return ", ".join(quote_ident(n) for n in names)


# connectorx reads these exactly only in another form (it panics on zero dates, TIME outside a
# day, DECIMAL wider than decimal128(38,10), and geometry); types.arrow converts them back.
_DECIMAL_FAST_SCALE = 10
_DECIMAL_FAST_INTEGER_DIGITS = 28


def arrow_read_expression(name: str, kind: str, args: tuple[int, ...] = ()) -> str:
    """The SELECT expression the Arrow (connectorx) reader uses for a column of ``kind``.

    ``args`` are the MySQL type's arguments (precision, scale). The result keeps the column's
    name as its alias.
    """
    col = quote_ident(name)
    if kind == "decimal":
        precision, scale = (*args, 10, 0)[:2] if len(args) < 2 else args[:2]
        if scale > _DECIMAL_FAST_SCALE or precision - scale > _DECIMAL_FAST_INTEGER_DIGITS:
            return f"CAST({col} AS CHAR) AS {col}"
        return col
    if kind in ("date", "datetime", "timestamp"):
        return f"CAST({col} AS CHAR) AS {col}"
    if kind in ("time", "interval"):
        return f"CAST(TIME_TO_SEC({col}) * 1000000 AS SIGNED) AS {col}"
    if kind == "geometry":
        return f"ST_AsWKB({col}) AS {col}"
    return col


def quote_literal(value: str) -> str:
    """A string literal for DDL; backslashes and quotes escaped (default sql_mode)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


# --- column defaults: information_schema.COLUMNS.COLUMN_DEFAULT and EXTRA ---
# A mapping keeps a default as MariaDB 10.2.7+ shows it: a string quoted ('it''s', backslash
# escapes as in SQL), a number bare, NULL as the word, an expression as the server prints it
# (current_timestamp(6)). MySQL and older MariaDB show literals unquoted and mark expressions
# with DEFAULT_GENERATED in EXTRA (MySQL 8.0.13+): default_from_information_schema converts.

_NOW = re.compile(
    r"^(?:(?:current_timestamp|localtime|localtimestamp)(?:\(\s*(\d?)\s*\))?|now\(\s*(\d?)\s*\))$",
    re.IGNORECASE,
)
_TODAY = re.compile(r"^(?:current_date(?:\(\s*\))?|curdate\(\s*\))$", re.IGNORECASE)
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$", re.IGNORECASE)
_BITS = re.compile(r"^(?:b'([01]*)'|0b([01]+))$", re.IGNORECASE)
_BARE_WORD = re.compile(r"^[A-Za-z_$][\w$]*$")
_BOOLEAN_WORDS = {"true": "1", "false": "0"}
# MySQL's string escapes; any other escaped character stands for itself (\% and \_ keep the \)
_ESCAPES = {"0": "\x00", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}
_KEEP_BACKSLASH = "%_"
_NUMERIC_BASES = frozenset(
    {"tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric"}
    | {"dec", "fixed", "float", "double", "real", "year", "bool", "boolean"}
)
_ON_UPDATE = re.compile(r"\bon update\s+(.+?)\s*$", re.IGNORECASE)
_MARIADB_QUOTED_SINCE = (10, 2, 7)
_UNCLOSED_QUOTE = "a quote is not closed; a quote inside a string is written twice ('it''s')"


def parse_default(text: str) -> ColumnDefault:
    """A COLUMN_DEFAULT in MariaDB 10.2.7+'s form as a value; ValueError when it is none of
    NULL, a quoted string, a number, a bit literal or an expression (an unquoted word, an
    unterminated quote, unbalanced parentheses)."""
    stripped = text.strip()
    if not stripped:
        raise ValueError("it is empty; write '' for an empty string, or null for no default")
    lowered = stripped.lower()
    if lowered == "null":
        return ColumnDefault("null")
    if lowered in _BOOLEAN_WORDS:
        return ColumnDefault("number", _BOOLEAN_WORDS[lowered])
    if stripped.startswith("'"):
        value, end = _unquote(stripped)
        if end == len(stripped):
            return ColumnDefault("string", value)
    if _NUMBER.match(stripped):
        return ColumnDefault("number", stripped.removeprefix("+"))
    bits = _BITS.match(stripped)
    if bits:
        return ColumnDefault("bits", bits.group(1) if bits.group(1) is not None else bits.group(2))
    now = _NOW.match(stripped)
    if now:
        return ColumnDefault("now", precision=int(now.group(1) or now.group(2) or 0))
    if _TODAY.match(stripped):
        return ColumnDefault("today")
    if _BARE_WORD.match(stripped):
        raise ValueError(
            f"{stripped} is an unquoted word; quote a string as MariaDB shows it ('{stripped}'), "
            "or write an expression as MariaDB prints it, e.g. current_timestamp()"
        )
    _check_balanced(stripped)
    return ColumnDefault("expression", stripped)


def _unquote(text: str) -> tuple[str, int]:
    """The string a quoted literal at the start of ``text`` stands for, and where it ends."""
    out: list[str] = []
    i = 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            escaped = text[i + 1]
            out.append(
                "\\" + escaped if escaped in _KEEP_BACKSLASH else _ESCAPES.get(escaped, escaped)
            )
            i += 2
        elif char == "'" and text[i + 1 : i + 2] == "'":
            out.append("'")
            i += 2
        elif char == "'":
            return "".join(out), i + 1
        else:
            out.append(char)
            i += 1
    raise ValueError(_UNCLOSED_QUOTE)


def _check_balanced(text: str) -> None:
    depth = 0
    quote = ""
    i = 0
    while i < len(text):
        char = text[i]
        if quote:
            escape = char == "\\" and quote != "`"
            if escape or (char == quote and text[i + 1 : i + 2] == quote):
                i += 1  # the next character belongs to the string
            elif char == quote:
                quote = ""
        elif char in "'\"`":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise ValueError("a ')' has no '('")
        i += 1
    if quote:
        raise ValueError(_UNCLOSED_QUOTE if quote == "'" else f"a {quote} is not closed")
    if depth:
        raise ValueError("a '(' is not closed")


def quotes_defaults(version: str) -> bool:
    """Whether information_schema quotes literal defaults, by ``SELECT VERSION()``: MariaDB
    10.2.7 and later do; MySQL and older MariaDB do not."""
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    if "mariadb" not in version.lower() or not match:
        return False
    return tuple(int(n) for n in match.groups()) >= _MARIADB_QUOTED_SINCE


def default_from_information_schema(
    column_default: str | None, extra: str, column_type: str, *, quoted: bool
) -> str | None:
    """COLUMN_DEFAULT in the mapping's form (MariaDB 10.2.7+'s); None for no default or NULL.

    ``quoted``: the server quotes literals itself (:func:`quotes_defaults`). Otherwise only
    NULL is missing from the text (it is SQL NULL), and an expression is known by EXTRA's
    DEFAULT_GENERATED (MySQL 8, which also escapes quotes inside it with a backslash), or is
    CURRENT_TIMESTAMP on a date and time column (MySQL 5.7, MariaDB before 10.2.7).
    """
    if column_default is None or (quoted and column_default == "NULL"):
        return None
    if quoted:
        return column_default
    base = column_type.split("(", 1)[0].split()[0].lower() if column_type.strip() else ""
    if "default_generated" in extra.lower():
        return column_default.replace("\\'", "'")
    if base in ("datetime", "timestamp") and _NOW.match(column_default.strip()):
        return column_default
    if base == "bit" and _BITS.match(column_default.strip()):
        return column_default
    if base in _NUMERIC_BASES and _NUMBER.match(column_default.strip()):
        return column_default
    return quote_literal(column_default)


def on_update_of(extra: str) -> str | None:
    """The ON UPDATE expression EXTRA names (MariaDB: ``on update current_timestamp(6)``;
    MySQL 8: ``DEFAULT_GENERATED on update CURRENT_TIMESTAMP(6)``), or None."""
    match = _ON_UPDATE.search(extra)
    return match.group(1) if match else None


# --- reconcile: canonical text, row hashes and checksums (owned by the reconcile engineer) ---
# Every fragment is a template for a *parameterised* execute, so a literal % is written %%.
# The canonical texts must equal mysql_pg_sync.dialects.postgres's byte for byte.


def canonical_text_sql(
    column_sql: str,
    kind: str,
    *,
    scale: int = 0,
    pg_type: str = "",
    members: tuple[str, ...] = (),
    charset: str = "",
    stored: StoredType | None = None,
    implicit: bool = False,
) -> str:
    """Canonical text of a value (NULL stays NULL) for a reconcile kind; see reconcile.model.

    ``charset`` is the column's character set; strings not known to be utf8mb4 are converted
    (a conversion copies every value, so it is skipped when it can be). ``stored`` is the
    column's type as the server reports it: when it already prints the canonical form, the
    per-row formatting is skipped (it is most of the checksum scan's cost). ``implicit``: the
    expression may keep a number's or date's own type, for an argument of CONCAT, which prints
    it exactly as CAST(... AS CHAR) does; the row hash skips a cast per column that way.
    """
    c = column_sql
    stored = stored or StoredType()
    del pg_type, members  # MySQL's own storage fixes these forms

    def text(value: str) -> str:
        return value if implicit else f"CAST({value} AS CHAR)"

    if kind in ("char", "text", "enum", "set", "json") and charset.lower() != "utf8mb4":
        c = f"CONVERT({c} USING utf8mb4)"
    if kind == "int":
        if stored.zerofill or stored.data_type in ("year", ""):
            return text(f"({c} + 0)")  # ZEROFILL and YEAR print padded ('00042', '0000')
        return text(c)
    if kind == "bool":
        return text(f"({c} <> 0)")  # 1, 0 or NULL
    if kind == "bit":
        return text(f"({c} + 0)")
    if kind == "decimal":
        if stored.data_type == "decimal" and stored.scale == scale and not stored.zerofill:
            return text(c)  # a DECIMAL prints exactly its own scale
        return text(f"ROUND({c}, {int(scale)})")  # at the mapping's scale
    if kind == "float":
        # Both engines print the shortest round-trip digits; in [1e-4, 1e15) in the same fixed
        # notation (checked on 14k random doubles), elsewhere normalised to digits + exponent.
        v = c if stored.data_type == "double" and not stored.zerofill else float_value_sql(c)
        return (
            f"(CASE WHEN ABS({v}) >= 1e-4 AND ABS({v}) < 1e15 THEN {text(v)} "
            f"WHEN {v} = 0 THEN '0' ELSE CONCAT(IF({v} < 0, '-', ''), "
            f"TRIM(BOTH '0' FROM REPLACE(SUBSTRING_INDEX(CAST(ABS({v}) AS CHAR), 'e', 1), "
            f"'.', '')), 'e', CAST(FLOOR(LOG10(ABS({v}))) AS SIGNED)) END)"
        )
    if kind == "date":
        return f"IF({c} = 0, NULL, {text(c)})"  # the zero date is NULL in PostgreSQL
    if kind in ("datetime", "timestamp"):
        # PostgreSQL's text of a timestamp: no trailing fractional zeros, no '.' for a whole
        # second. The session runs at time_zone '+00:00' (connections.mysql_connect). A column
        # without fractions prints that itself; one with fractions prints its own digits, and
        # DATE_FORMAT prints six whatever the type: the zeros after the '.' are trimmed, and a
        # whole second is cut at the seconds (cheaper than a second TRIM of every row). The
        # zero date has no fraction, so only the whole-second branch tests for it (with
        # `= 0`: MariaDB's NULLIF evaluates its argument twice)
        if stored.data_type in ("datetime", "timestamp") and stored.fsp == 0:
            return f"IF({c} = 0, NULL, {text(c)})"
        if stored.data_type in ("datetime", "timestamp") and stored.fsp:
            whole, full = f"LEFT(CAST({c} AS CHAR), 19)", f"CAST({c} AS CHAR)"
        else:
            whole = f"DATE_FORMAT({c}, '%%Y-%%m-%%d %%H:%%i:%%s')"
            full = f"DATE_FORMAT({c}, '%%Y-%%m-%%d %%H:%%i:%%s.%%f')"
        return (
            f"IF(MICROSECOND({c}) = 0, IF({c} = 0, NULL, {whole}), TRIM(TRAILING '0' FROM {full}))"
        )
    if kind == "time":
        return f"TIME_FORMAT({c}, '%%H:%%i:%%s.%%f')"
    if kind == "char":
        return f"TRIM(TRAILING ' ' FROM {c})"
    if kind in ("text", "enum", "set", "json"):
        return c
    if kind in ("binary", "uuid"):
        return f"HEX({c})"
    raise ValueError(f"no canonical text for reconcile kind {kind!r}")


def float_value_sql(column_sql: str) -> str:
    """A FLOAT or DOUBLE as an exact double (MariaDB prints FLOAT with 6 digits only)."""
    return f"CAST({column_sql} AS DOUBLE)"


def row_hash_sql(texts: Iterable[str], length_prefixed: Iterable[bool]) -> str:
    """SHA-256 hex over utf8mb4 canonical texts: 'N' marks NULL, strings carry '<bytes>:', '|'
    separates. SHA-256, not MD5: both servers hash it with OpenSSL, which uses the CPU's SHA
    instructions; on MariaDB it cut the checksum scan by a fifth."""
    parts = [
        f"COALESCE(CONCAT(LENGTH({t}), ':', {t}), 'N')" if prefixed else f"COALESCE({t}, 'N')"
        for t, prefixed in zip(texts, length_prefixed, strict=True)
    ]
    return f"SHA2(CONCAT_WS('|', {', '.join(parts)}), 256)"


def hash60_sql(texts: Iterable[str], length_prefixed: Iterable[bool]) -> str:
    """The first 60 bits of the row hash as an unsigned integer (sums of them cannot
    overflow)."""
    return f"CAST(CONV(LEFT({row_hash_sql(texts, length_prefixed)}, 15), 16, 10) AS UNSIGNED)"


def bucket32_sql(texts: Iterable[str]) -> str:
    """A 32-bit bucket from the hash of key texts: the same row lands in the same bucket on both."""
    key_texts = list(texts)
    digest = row_hash_sql(key_texts, [True] * len(key_texts))
    return f"CAST(CONV(SUBSTRING({digest}, 1, 8), 16, 10) AS UNSIGNED)"


def floor_div_sql(numerator_sql: str, denominator_sql: str, *, bigint: bool = False) -> str:
    """Integer division of non-negative numbers (DIV is exact whatever ``bigint`` says)."""
    del bigint
    return f"(({numerator_sql}) DIV ({denominator_sql}))"


def key_param(kind: str, value: object) -> object:
    """A key value as this driver binds it, from either side's driver: reconcile looks up the
    keys one side found on the other side too. PostgreSQL hands out a uuid key as UUID,
    stored here as binary(16)."""
    if kind == "uuid" and isinstance(value, uuid.UUID):
        return value.bytes
    return value


def table_columns_sql() -> str:
    """(column name, character set or NULL, data type (' zerofill' appended for a ZEROFILL
    column), numeric scale, fractional-second precision) of a table; parameters (namespace,
    table)."""
    return (
        "SELECT COLUMN_NAME, CHARACTER_SET_NAME, IF(COLUMN_TYPE LIKE '%% zerofill', "
        "CONCAT(DATA_TYPE, ' zerofill'), DATA_TYPE), NUMERIC_SCALE, DATETIME_PRECISION "
        "FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION"
    )


def compare_session_sql() -> list[str]:
    """Settings for the sessions that scan a table for checksums: none are needed."""
    return []


# --- streaming apply (owned by the stream engineer): upserts with the conflict rule inside ---


def applier_session_sql(origin: str, gtid_domain: int) -> list[tuple[str, tuple[object, ...]]]:
    """Statements that tag this session's writes so CDC can tell them apart (loop prevention).

    MariaDB: a dedicated GTID domain (needs BINLOG REPLAY on 10.11). MySQL 8.4 would use tagged
    GTIDs (``SET gtid_next = 'AUTOMATIC:<tag>'`` per transaction) instead. Foreign keys are not
    checked: a parent and its children reach the applier out of order (ADR 0006). The session's
    own ``sql_mode`` (:data:`APPLIER_SQL_MODE`), whatever the server's default.
    """
    del origin
    return [
        (f"SET SESSION gtid_domain_id = {int(gtid_domain)}", ()),
        ("SET SESSION foreign_key_checks = 0", ()),
        (f"SET SESSION sql_mode = '{APPLIER_SQL_MODE}'", ()),
    ]


# Legacy servers often run with sql_mode = '': MySQL would then cut a value that does not fit
# (a longer text, an out-of-range number, a character outside latin1) with only a warning, and
# store a key written as 0 in an AUTO_INCREMENT column as the next number. Strict, the change
# fails as a dead letter naming the column instead. Zero dates stay allowed (no NO_ZERO_DATE):
# they are MySQL's own values, written back as they came.
APPLIER_SQL_MODE = "STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION"


def null_safe_equal_sql(left: str, right: str) -> str:
    return f"({left} <=> {right})"


def upsert_target_ref(column: str) -> str:
    """The target row's current value inside ON DUPLICATE KEY UPDATE."""
    return quote_ident(column)


def upsert_incoming_ref(column: str) -> str:
    """The incoming value inside ON DUPLICATE KEY UPDATE (MariaDB has no row alias)."""
    return f"VALUES({quote_ident(column)})"


def upsert_sql(
    table_sql: str,
    columns: Iterable[str],
    key_columns: Iterable[str],
    rows_sql: str,
    guard_sql: str | None = None,
) -> str:
    """Insert rows; on a key clash update each column only when ``guard_sql`` holds.

    MySQL assigns left to right and later expressions see earlier assignments, so the guard is
    evaluated into a user variable once, before any column changes.
    """
    cols = list(columns)
    keys = list(key_columns)
    updates = [c for c in cols if c not in keys]
    head = f"INSERT INTO {table_sql} ({column_list(cols)}) {rows_sql} "
    if not updates:
        return head + f"ON DUPLICATE KEY UPDATE {quote_ident(keys[0])} = {quote_ident(keys[0])}"
    if not guard_sql:
        sets = ", ".join(f"{quote_ident(c)} = VALUES({quote_ident(c)})" for c in updates)
        return head + f"ON DUPLICATE KEY UPDATE {sets}"
    first = quote_ident(updates[0])
    guarded = [f"{first} = IF((@mps_win := ({guard_sql})), VALUES({first}), {first})"]
    guarded += [
        f"{quote_ident(c)} = IF(@mps_win, VALUES({quote_ident(c)}), {quote_ident(c)})"
        for c in updates[1:]
    ]
    return head + "ON DUPLICATE KEY UPDATE " + ", ".join(guarded)


def staging_table_sql(stage: str, table_sql: str, columns: Iterable[str]) -> str:
    """A session-local table shaped like the target's columns."""
    return (
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {quote_ident(stage)} AS "
        f"SELECT {column_list(columns)} FROM {table_sql} WHERE 1 = 0"
    )


def row_estimate_sql() -> str:
    """The optimizer's row count estimate of a table (no scan); parameters (namespace, table)."""
    return (
        "SELECT COALESCE(MAX(TABLE_ROWS), 0) FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s"
    )


APPLIED_OFFSETS_TABLE = names.APPLIED_OFFSETS_TABLE  # in the synced database, by the signal table


def applied_offsets_ddl(database: str) -> str:
    """The stream's exactly-once fence for changes applied to MySQL (see state/sql/070)."""
    return (
        f"CREATE TABLE IF NOT EXISTS {qualified(database, APPLIED_OFFSETS_TABLE)} ("
        "group_id varchar(255) NOT NULL, topic varchar(255) NOT NULL, "
        "kafka_partition int NOT NULL, next_offset bigint NOT NULL, source_position text NULL, "
        "updated_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) "
        "ON UPDATE CURRENT_TIMESTAMP(6), PRIMARY KEY (group_id, topic, kafka_partition)"
        ") CHARACTER SET utf8mb4"
    )


def record_offset_sql(database: str) -> str:
    """Upsert one partition's next offset and source position; parameters (group, topic,
    partition, next_offset, source_position)."""
    return (
        f"INSERT INTO {qualified(database, APPLIED_OFFSETS_TABLE)} (group_id, topic, "
        "kafka_partition, next_offset, source_position) VALUES (%s, %s, %s, %s, %s) "
        "ON DUPLICATE KEY UPDATE next_offset = GREATEST(next_offset, VALUES(next_offset)), "
        "source_position = COALESCE(VALUES(source_position), source_position)"
    )


def locked_offsets_sql(database: str, partitions: int) -> str:
    """The stored next offsets of ``partitions`` partitions, locked until the batch commits;
    parameters (group, topic, partition, topic, partition, ...)."""
    pairs = ", ".join(["(%s, %s)"] * partitions)
    return (
        f"SELECT topic, kafka_partition, next_offset FROM "
        f"{qualified(database, APPLIED_OFFSETS_TABLE)} WHERE group_id = %s AND "
        f"(topic, kafka_partition) IN ({pairs}) FOR UPDATE"
    )


def rewind_offset_sql(database: str) -> str:
    """Set one partition's next offset back, forgetting its source position (a handoff replay
    re-applies changes at or below it); parameters (group, topic, partition, next_offset)."""
    return (
        f"INSERT INTO {qualified(database, APPLIED_OFFSETS_TABLE)} (group_id, topic, "
        "kafka_partition, next_offset, source_position) VALUES (%s, %s, %s, %s, NULL) "
        "ON DUPLICATE KEY UPDATE next_offset = VALUES(next_offset), source_position = NULL"
    )


def applied_offsets_sql(database: str) -> str:
    """(topic, partition, next_offset, source_position) of a consumer group; parameter (group,)."""
    return (
        f"SELECT topic, kafka_partition, next_offset, source_position FROM "
        f"{qualified(database, APPLIED_OFFSETS_TABLE)} WHERE group_id = %s"
    )
