"""PostgreSQL SQL: every way the PostgreSQL side differs from MySQL lives here.

Same entry points as :mod:`mysql_pg_sync.dialects.mysql`, so callers never branch on the
engine: pick the module with :func:`mysql_pg_sync.dialects.for_side` and call the same names.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal

from mysql_pg_sync.dialects.stored_type import StoredType
from mysql_pg_sync.types.typemap import pg_precision

NAME = "postgres"
PARAM = "%s"  # psycopg's paramstyle
MAX_IDENTIFIER_LENGTH = 63


def quote_ident(name: str) -> str:
    """Quote one identifier ("order", "Mixed Case"); double quotes inside are doubled."""
    if "\x00" in name:
        raise ValueError(f"identifier {name!r} contains a NUL byte")
    return '"' + name.replace('"', '""') + '"'


def qualified(namespace: str, table: str) -> str:
    """ "schema"."table"."""
    return f"{quote_ident(namespace)}.{quote_ident(table)}"


def column_list(names: Iterable[str]) -> str:
    return ", ".join(quote_ident(n) for n in names)


def arrow_read_expression(name: str, kind: str, args: tuple[int, ...] = ()) -> str:
    """The SELECT expression an Arrow reader uses for a PostgreSQL column of ``kind``.

    Enum types and bit strings have no Arrow type of their own: they are read as text.
    """
    col = quote_ident(name)
    if kind in ("enum", "bits", "inet", "native_uuid", "uuid"):
        return f"{col}::text AS {col}"
    return col


def quote_literal(value: str) -> str:
    """A string literal for DDL (standard_conforming_strings: only quotes are doubled)."""
    if "\x00" in value:
        raise ValueError(f"literal {value!r} contains a NUL byte")
    return "'" + value.replace("'", "''") + "'"


# --- column defaults (the DDL): constants and the current time ---

MICROSECOND_DIGITS = 6


def literal_sql(value: object, cast: str | None = None) -> str:
    """A constant for DDL (a column DEFAULT) from a value as psycopg would bind it: numbers and
    booleans bare, a list as a text ARRAY, anything else a quoted literal; ``::cast`` appended
    when given (bytes are always cast to bytea)."""
    suffix = f"::{cast}" if cast else ""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        items = ", ".join(quote_literal(str(v)) for v in value)
        return (f"ARRAY[{items}]" if items else "'{}'") + suffix
    if isinstance(value, bytes | bytearray):
        return quote_literal("\\x" + bytes(value).hex()) + (suffix or "::bytea")
    if isinstance(value, dt.datetime):
        return quote_literal(value.isoformat(sep=" ")) + suffix
    return (
        quote_literal(value.isoformat() if isinstance(value, dt.date | dt.time) else str(value))
        + suffix
    )


def current_timestamp_sql(digits: int) -> str:
    """The transaction's time cut to ``digits`` fractional-second digits, as MySQL's NOW(n)
    cuts it. CURRENT_TIMESTAMP(n) and a timestamp(n) column round instead, which puts the value
    up to half a unit after the time it stands for (10:00:00.7 would be stored as 10:00:01)."""
    now = "CURRENT_TIMESTAMP"
    if digits >= MICROSECOND_DIGITS:
        return now
    if digits == 0:
        return f"date_trunc('second', {now})"
    if digits == 3:
        return f"date_trunc('milliseconds', {now})"
    return (
        f"date_trunc('second', {now}) + trunc(extract(microseconds FROM {now})::numeric "
        f"% 1000000, {digits - MICROSECOND_DIGITS}) * interval '1 microsecond'"
    )


def current_date_sql() -> str:
    """Today's date in the session's time zone."""
    return "CURRENT_DATE"


# --- unique keys under a case-insensitive MySQL collation (the DDL) ---

_ASCII_CASE_PAIRS = tuple((chr(c), chr(c + 32)) for c in range(ord("A"), ord("Z") + 1))


def case_fold_sql(value_sql: str, pairs: Sequence[tuple[str, str]]) -> str:
    """``value_sql`` with the capital letter of every (capital, small) pair replaced by its
    small letter, and nothing else, whatever the database's LC_CTYPE.

    ``lower(... COLLATE "C")`` folds A-Z only (``pairs`` must hold exactly those ASCII pairs);
    ``translate`` folds the others, and only for a value with a character beyond ASCII, because
    it scans all pairs for each character (~4 us a character for 700 pairs, 30x lower()).
    """
    if tuple(p for p in pairs if p[0] < "\x80") != _ASCII_CASE_PAIRS:
        raise ValueError("case_fold_sql folds A-Z with lower(): the pairs must hold A-Z")
    ascii_folded = f'lower({value_sql} COLLATE "C")'
    wide = [p for p in pairs if p[0] >= "\x80"]
    if not wide:
        return ascii_folded
    capitals = quote_literal("".join(capital for capital, _ in wide))
    smalls = quote_literal("".join(small for _, small in wide))
    return (
        f"(CASE WHEN octet_length({value_sql}) = char_length({value_sql}) THEN {ascii_folded} "
        f"ELSE translate({ascii_folded}, {capitals}, {smalls}) END)"
    )


def case_fold_function(
    schema: str, label: str, pairs: Sequence[tuple[str, str]]
) -> tuple[str, str]:
    """(qualified name, idempotent CREATE) of an immutable SQL function of one text argument
    computing :func:`case_fold_sql`. An index over it reads ``mysql_ci_utf8_<hash>(email)``
    in a unique violation's message where the expression would run to kilobytes, and
    PostgreSQL inlines it, so it costs what the expression costs. The name ends in a hash of
    the body: a function is never changed under an index that uses it."""
    body = case_fold_sql("$1", pairs)
    digest = hashlib.sha1(body.encode()).hexdigest()[:8]
    name = qualified(schema, f"mysql_ci_{label}_{digest}")
    about = (
        f"Folds the case of the letters MySQL's {label} _ci collations take as equal (and only "
        "those): unique keys ignore case as in MySQL. Written by mysql-pg-sync's ddl"
    )
    create = (
        f"DO $$ BEGIN CREATE FUNCTION {name}(text) RETURNS text LANGUAGE sql IMMUTABLE "
        f"PARALLEL SAFE AS $fold$ SELECT {body} $fold$; "
        f"COMMENT ON FUNCTION {name}(text) IS {quote_literal(about)}; "
        "EXCEPTION WHEN duplicate_function THEN NULL; END $$"
    )
    return name, create


# --- reconcile: canonical text, row hashes and checksums (owned by the reconcile engineer) ---
# The canonical texts must equal mysql_pg_sync.dialects.mysql's byte for byte.


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
    zero_date: str | None = None,
    strip_nul: bool = False,
) -> str:
    """Canonical text of a value (NULL stays NULL) for a reconcile kind; see reconcile.model.

    ``charset`` is unused: a PostgreSQL database has one encoding (UTF8). The mapping's
    ``pg_type`` decides the form; ``stored`` (information_schema) only lets a numeric already at
    the mapping's scale print as it is, skipping a round() of every row. ``implicit`` is unused:
    an explicit ::text costs concat_ws nothing more than its own output call. ``zero_date`` is
    unused: MySQL's zero date is stored here as NULL or as the sentinel, whose own text is the
    canonical text (ISO DateStyle prints '-infinity' as it is). ``strip_nul`` is unused: a
    PostgreSQL text holds no NUL character."""
    c = column_sql
    del charset, implicit, zero_date, strip_nul
    stored = stored or StoredType()
    pg = pg_type.strip().lower()
    if kind == "int":
        return f"({c})::text"
    if kind == "bool":
        if pg.startswith("bool"):
            return f"(CASE WHEN {c} THEN '1' WHEN NOT {c} THEN '0' END)"
        return f"(CASE WHEN {c} <> 0 THEN '1' WHEN {c} = 0 THEN '0' END)"
    if kind == "bit":
        return _bits_text_sql(c) if pg.startswith("bit") else f"({c})::text"
    if kind == "decimal":
        if stored.data_type == "numeric" and stored.scale == scale:
            return f"({c})::text"
        return f"round({c}, {int(scale)})::text"
    if kind == "float":
        # Both engines print the shortest round-trip digits; in [1e-4, 1e15) in the same fixed
        # notation (checked on 14k random doubles), elsewhere normalised to digits + exponent.
        v = float_value_sql(c)
        return (
            f"(CASE WHEN abs({v}) >= '1e-4'::float8 AND abs({v}) < '1e15'::float8 "
            f"THEN {v}::text WHEN {v} = 0 THEN '0' "
            f"WHEN {v} IN ('NaN', 'Infinity', '-Infinity') THEN {v}::text "
            f"ELSE (CASE WHEN {v} < 0 THEN '-' ELSE '' END) || "
            f"trim(both '0' from replace(split_part(abs({v})::text, 'e', 1), '.', '')) "
            f"|| 'e' || floor(log10(abs({v})))::bigint::text END)"
        )
    if kind == "date":
        # connections.pg_conninfo fixes DateStyle at ISO: the cast prints YYYY-MM-DD at a fifth
        # of to_char's cost
        return f"({c})::text"
    if kind in ("datetime", "timestamp"):
        # ISO DateStyle (connections.pg_conninfo): no trailing fractional zeros, at a sixth of
        # to_char's cost; MySQL trims its digits to match
        value = f"({c} AT TIME ZONE 'UTC')" if "tz" in pg or "with time zone" in pg else c
        return f"({value})::text"
    if kind == "time":
        if pg.startswith("interval") or stored.data_type == "interval":
            return _interval_text_sql(c)
        return f"to_char({c}, 'HH24:MI:SS.US')"
    if kind == "char":
        return f"rtrim(({c})::text, ' ')"
    if kind in ("text", "enum", "json"):
        return f"({c})::text"
    if kind == "set":
        items = f"({c})::text[]" if pg.endswith("[]") else f"string_to_array(({c})::text, ',')"
        order = ", ".join(quote_literal(m) for m in members)
        ordered = (
            f"array_to_string(ARRAY(SELECT m FROM unnest(ARRAY[{order}]::text[]) "
            f"WITH ORDINALITY AS s(m, i) WHERE m = ANY({items}) ORDER BY i), ',')"
            if members
            else f"array_to_string(ARRAY(SELECT DISTINCT m FROM unnest({items}) AS s(m) "
            "ORDER BY m), ',')"
        )
        return f"(CASE WHEN {c} IS NULL THEN NULL ELSE {ordered} END)"
    if kind == "binary":
        return f"upper(encode({c}, 'hex'))"
    if kind == "uuid":
        return f"upper(replace(({c})::text, '-', ''))"
    raise ValueError(f"no canonical text for reconcile kind {kind!r}")


def _bits_text_sql(c: str) -> str:
    """A bit string as the unsigned number MySQL prints. bigint is signed, so 64 bits with the
    first one set take numeric; only they pay for it."""
    signed = f"lpad(({c})::text, 64, '0')::bit(64)::bigint"
    return (
        f"(CASE WHEN length({c}) < 64 OR get_bit({c}, 0) = 0 THEN ({signed})::text "
        f"ELSE (({signed})::numeric + 18446744073709551616)::text END)"
    )


def _interval_text_sql(c: str) -> str:
    """An interval as MySQL's TIME_FORMAT(c, '%H:%i:%s.%f') prints a TIME: the sign once, then
    all of it in hours. to_char signs every field of a negative interval ('-838:-59:-59') and
    leaves days and months out (a month is no MySQL TIME, but '1 mon' must not read as
    '00:00:00'), so it formats the absolute value with its days and months moved into the time
    part, as date_part('epoch') counts them (a day 24 h, a month 30 days)."""
    days = f"date_trunc('day', {c})"
    in_hours = f"({c} - {days} + date_part('epoch', {days}) * '1 second'::interval)"
    return (
        f"(CASE WHEN {c} < '0'::interval THEN '-' || to_char(-{in_hours}, 'HH24:MI:SS.US') "
        f"ELSE to_char({in_hours}, 'HH24:MI:SS.US') END)"
    )


def float_value_sql(column_sql: str) -> str:
    """A real or double precision as an exact double."""
    return f"({column_sql})::float8"


def image_value_sql(column_sql: str, kind: str) -> str:
    """A column as a repair's row image reads it: as it is (the image connection's loaders
    hand out infinite dates and JSON as text, see types.drivers.register_pg_loaders)."""
    del kind
    return column_sql


def _digest_sql(texts: Iterable[str], length_prefixed: Iterable[bool]) -> str:
    """SHA-256 bytes over UTF-8 canonical texts: 'N' marks NULL, strings carry '<bytes>:', '|'
    separates (see the MySQL dialect for why SHA-256)."""
    parts = [
        f"coalesce(octet_length({t})::text || ':' || {t}, 'N')"
        if prefixed
        else f"coalesce({t}, 'N')"
        for t, prefixed in zip(texts, length_prefixed, strict=True)
    ]
    joined = f"concat_ws('|', {', '.join(parts)})"
    return f"sha256(convert_to({joined}, 'UTF8'))"


def row_hash_sql(texts: Iterable[str], length_prefixed: Iterable[bool]) -> str:
    """The row hash as hex, as MySQL's SHA2() prints it."""
    return f"encode({_digest_sql(texts, length_prefixed)}, 'hex')"


def _leading_bits_sql(digest_sql: str, bits: int) -> str:
    """The first ``bits`` of a digest as a bigint: only the bytes needed are hex-encoded."""
    head = f"substring({digest_sql} from 1 for {(bits + 7) // 8})"
    return f"('x' || encode({head}, 'hex'))::bit({bits})::bigint"


def hash60_sql(texts: Iterable[str], length_prefixed: Iterable[bool]) -> str:
    """The first 60 bits of the row hash as a bigint (sums of them cannot overflow numeric)."""
    return _leading_bits_sql(_digest_sql(texts, length_prefixed), 60)


def bucket32_sql(texts: Iterable[str]) -> str:
    """A 32-bit bucket from the hash of key texts: the same row lands in the same bucket on both."""
    key_texts = list(texts)
    return _leading_bits_sql(_digest_sql(key_texts, [True] * len(key_texts)), 32)


def floor_div_sql(numerator_sql: str, denominator_sql: str, *, bigint: bool = False) -> str:
    """Integer division of non-negative numbers; ``bigint`` when both fit one (numeric division
    costs a tenth of the checksum scan)."""
    if bigint:
        return f"(({numerator_sql})::bigint / ({denominator_sql})::bigint)"
    return f"div(({numerator_sql})::numeric, ({denominator_sql})::numeric)"


def ordinal_offset_sql(ordinal_sql: str, *, wide: bool = False) -> str:
    """``ordinal - %s`` (the segment's lower bound); ``wide``: in numeric, for a segment more
    than 2**63 wide, where a bigint difference overflows ("bigint out of range")."""
    if wide:
        return f"({ordinal_sql})::numeric - %s"
    return f"{ordinal_sql} - %s"


def key_param(kind: str, value: object, pg_type: str = "") -> object:
    """A key value as this driver binds it, from either side's driver: reconcile looks up the
    keys one side found on the other side too. ``pg_type`` is the column's type (the
    mapping's). MySQL hands out a binary(16) uuid key as bytes, a BIT as bytes (a bit string
    here, as wide as the type, as the stream writes it), a tinyint(1) as an integer (a boolean
    here); reconcile holds a text[] SET key as its members joined by ',' (``keyforms``)."""
    pg = pg_type.strip().lower()
    if kind == "uuid" and isinstance(value, bytes | bytearray) and len(value) == 16:
        return uuid.UUID(bytes=bytes(value))
    if kind == "bool" and isinstance(value, int | bytes | bytearray):
        number = _key_number(value)
        return bool(number) if pg.startswith("bool") else number
    if kind == "bit" and isinstance(value, int | bytes | bytearray):
        number = _key_number(value)
        if not pg.startswith(("bit", "varbit")):
            return number
        width = pg_precision(pg)
        return format(number, f"0{width[0]}b" if width else "b")
    if kind == "set" and isinstance(value, str) and pg.endswith("[]"):
        return value.split(",") if value else []
    return value


def _key_number(value: int | bytes | bytearray) -> int:
    """A MySQL BIT's bytes (big-endian) or an integer as a number."""
    if isinstance(value, bytes | bytearray):
        return int.from_bytes(value, "big")
    return int(value)


def key_value_fits(value: object, charset: str) -> bool:
    """Whether a column can hold a key value from either side: always here (a PostgreSQL
    database has one encoding, UTF8, which holds what either side reads; ``charset`` is
    unused)."""
    del value, charset
    return True


def replica_identities_sql() -> str:
    """(qualified name, replica identity d/f/i/n or NULL if missing) of each name in the text
    array parameter."""
    return (
        "SELECT t.name, c.relreplident::text FROM unnest(%s::text[]) AS t(name) "
        "LEFT JOIN pg_class c ON c.oid = to_regclass(t.name)"
    )


def table_columns_sql() -> str:
    """(column name, character set or NULL, data type, numeric scale, fractional-second
    precision) of a table; parameters (namespace, table)."""
    return (
        "SELECT column_name, NULL, data_type, numeric_scale, datetime_precision "
        "FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position"
    )


def compare_session_sql() -> list[str]:
    """Settings for the sessions that scan a table for checksums.

    reconcile runs its own concurrent range queries (``CompareConfig.workers``), so parallel
    workers only add processes, and their plan sorts every row to group it (the group count is
    unknown to the planner). JIT inlining and optimisation are priced by the row estimate, not
    by the expression: over ~1M rows they spent ~8 s compiling the row-hash expression, per
    process, for no faster execution; plain expression JIT stays on (cheap and faster)."""
    return [
        "SET max_parallel_workers_per_gather = 0",
        "SET jit_inline_above_cost = -1",
        "SET jit_optimize_above_cost = -1",
    ]


# --- streaming apply (owned by the stream engineer): upserts with the conflict rule inside ---


def applier_session_sql(origin: str, gtid_domain: int) -> list[tuple[str, tuple[object, ...]]]:
    """Statements that tag this session's writes so CDC can tell them apart (loop prevention).

    ``session_replication_role = replica`` skips foreign-key checks and ordinary triggers, as
    replication appliers do: parents and children arrive out of order (ADR 0006).
    """
    del gtid_domain
    return [
        ("SELECT pg_replication_origin_session_setup(%s)", (origin,)),
        ("SET session_replication_role = replica", ()),
    ]


def null_safe_equal_sql(left: str, right: str) -> str:
    return f"({left} IS NOT DISTINCT FROM {right})"


def upsert_target_ref(column: str) -> str:
    """The target row's current value inside the upsert's update clause."""
    return f"tgt.{quote_ident(column)}"


def upsert_incoming_ref(column: str) -> str:
    """The incoming value inside the upsert's update clause."""
    return f"EXCLUDED.{quote_ident(column)}"


def upsert_sql(
    table_sql: str,
    columns: Iterable[str],
    key_columns: Iterable[str],
    rows_sql: str,
    guard_sql: str | None = None,
) -> str:
    """Insert rows (``VALUES`` or a ``SELECT``); on a key clash update when ``guard_sql`` holds."""
    cols = list(columns)
    keys = list(key_columns)
    updates = [c for c in cols if c not in keys]
    head = f"INSERT INTO {table_sql} AS tgt ({column_list(cols)}) {rows_sql} "
    if not updates:
        return head + f"ON CONFLICT ({column_list(keys)}) DO NOTHING"
    sets = ", ".join(f"{quote_ident(c)} = EXCLUDED.{quote_ident(c)}" for c in updates)
    where = f" WHERE {guard_sql}" if guard_sql else ""
    return head + f"ON CONFLICT ({column_list(keys)}) DO UPDATE SET {sets}{where}"


def insert_new_sql(
    table_sql: str, columns: Iterable[str], key_columns: Iterable[str], rows_sql: str
) -> str:
    """Insert the rows whose key is absent and return the inserted keys; a key another
    transaction inserted meanwhile is skipped (after waiting for it to commit or abort)."""
    keys = column_list(list(key_columns))
    return (
        f"INSERT INTO {table_sql} AS tgt ({column_list(list(columns))}) {rows_sql} "
        f"ON CONFLICT ({keys}) DO NOTHING RETURNING {keys}"
    )


def staging_table_sql(stage: str, table_sql: str, columns: Iterable[str]) -> str:
    """A session-local, constraint-free table shaped like the target's columns (for COPY)."""
    return (
        f"CREATE TEMP TABLE IF NOT EXISTS {quote_ident(stage)} ON COMMIT DELETE ROWS AS "
        f"SELECT {column_list(columns)} FROM {table_sql} WITH NO DATA"
    )


def drop_tables_sql(names: Iterable[str]) -> str:
    """Drop the (staging) tables of these unqualified names where they still exist."""
    return "DROP TABLE IF EXISTS " + ", ".join(quote_ident(n) for n in names)


def column_types_sql() -> str:
    """(column, type as format_type prints it) of a table, by column order; no row when the
    table does not exist. Parameter: the table's qualified name (``"s"."t"``)."""
    return (
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum"
    )


def owned_sequences_sql() -> str:
    """The sequences a table's columns own (serial/bigserial: OWNED BY, an auto dependency;
    identity: an internal one), as pg_get_serial_sequence finds them, for all columns at once.

    One row per sequence, by column order: (table exists, column, sequence schema, sequence
    name, increment, this user may read and set it); a single row of NULLs after the first
    column when the table has none. Parameter: the table's qualified name (``"s"."t"``)."""
    return (
        "SELECT t.oid IS NOT NULL, q.attname, q.nspname, q.relname, q.seqincrement, q.usable "
        "FROM (SELECT to_regclass(%s)::oid AS oid) AS t LEFT JOIN LATERAL ("
        "SELECT a.attnum, a.attname::text, n.nspname::text, c.relname::text, s.seqincrement, "
        "has_sequence_privilege(c.oid, 'SELECT') AND has_sequence_privilege(c.oid, 'UPDATE') "
        "AS usable FROM pg_depend d "
        "JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
        "AND NOT a.attisdropped "
        "JOIN pg_class c ON c.oid = d.objid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_sequence s ON s.seqrelid = c.oid "
        "WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass "
        "AND d.refobjid = t.oid AND d.deptype IN ('a', 'i')"
        ") AS q ON true ORDER BY q.attnum"
    )


def advance_sequences_sql(sequences: Sequence[str]) -> str:
    """One statement moving each of ``sequences`` (qualified names) so its next value is past
    a value the applier wrote: one parameter per sequence, in order (NULL: leave it).

    Never backwards: a sequence whose next value is already past it is left alone. The state
    is read from the sequence itself (last_value, is_called), not pg_sequence_last_value(),
    which is NULL after ``setval(.., false)`` (the backfill leaves sequences so) as well as
    for a never-used sequence. The new value keeps the sequence's step from where it stands
    (an ``INCREMENT BY 2`` sequence on even numbers stays on even numbers: disjoint ranges
    keep working) and stops at its MAXVALUE. Descending sequences are left alone. Arithmetic
    in numeric: a bigint unsigned key (numeric(20,0)) may exceed bigint. One row per
    sequence it moved: (sequence, whether MAXVALUE capped it, the value asked for)."""
    rows = " UNION ALL ".join(
        f"SELECT {quote_literal(seq)}::regclass::oid, %s::numeric, last_value, is_called FROM {seq}"
        for seq in sequences
    )
    base = (
        "(CASE WHEN w.is_called THEN w.last_value::numeric "
        "ELSE w.last_value::numeric - s.seqincrement END)"
    )
    return (
        "SELECT w.seq::regclass::text, w.high > s.seqmax, w.high, "
        f"setval(w.seq, LEAST(s.seqmax::numeric, {base} + "
        f"div(w.high - {base}, s.seqincrement) * s.seqincrement)::bigint, true) "
        f"FROM ({rows}) AS w(seq, high, last_value, is_called) "
        "JOIN pg_sequence s ON s.seqrelid = w.seq "
        f"WHERE s.seqincrement > 0 AND w.high - {base} >= s.seqincrement"
    )


def row_estimate_sql() -> str:
    """The planner's row count estimate of a table (no scan); parameters (namespace, table)."""
    return (
        "SELECT COALESCE(MAX(GREATEST(c.reltuples, 0)), 0)::bigint FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s"
    )


APPLIED_OFFSETS_TABLE = "mps_sync.applied_offsets"  # created by the state schema (070)


def record_offset_sql() -> str:
    """Upsert one partition's next offset and source position; parameters (group, topic,
    partition, next_offset, source_position)."""
    return (
        f"INSERT INTO {APPLIED_OFFSETS_TABLE} AS t (group_id, topic, kafka_partition, "
        "next_offset, source_position) VALUES (%s, %s, %s, %s, %s) "
        "ON CONFLICT (group_id, topic, kafka_partition) DO UPDATE SET "
        "next_offset = GREATEST(t.next_offset, EXCLUDED.next_offset), "
        "source_position = COALESCE(EXCLUDED.source_position, t.source_position), "
        "updated_at = now()"
    )


def locked_offsets_sql() -> str:
    """The stored next offsets of some partitions, locked until the batch commits; parameters
    (group, topics[], partitions[])."""
    return (
        f"SELECT topic, kafka_partition, next_offset FROM {APPLIED_OFFSETS_TABLE} "
        "WHERE group_id = %s AND (topic, kafka_partition) IN "
        "(SELECT * FROM unnest(%s::text[], %s::integer[])) FOR UPDATE"
    )


def rewind_offset_sql(keep_source: bool = False) -> str:
    """Set one partition's next offset back, forgetting its source position (a handoff replay
    re-applies changes at or below it) unless ``keep_source``; parameters (group, topic,
    partition, next_offset)."""
    source = "t.source_position" if keep_source else "NULL"
    return (
        f"INSERT INTO {APPLIED_OFFSETS_TABLE} AS t (group_id, topic, kafka_partition, "
        "next_offset, source_position) VALUES (%s, %s, %s, %s, NULL) "
        "ON CONFLICT (group_id, topic, kafka_partition) DO UPDATE SET "
        f"next_offset = EXCLUDED.next_offset, source_position = {source}, updated_at = now()"
    )


def applied_offsets_sql() -> str:
    """(topic, partition, next_offset, source_position) of a consumer group; parameter (group,)."""
    return (
        f"SELECT topic, kafka_partition, next_offset, source_position FROM {APPLIED_OFFSETS_TABLE} "
        "WHERE group_id = %s"
    )


_STRING_TYPES = ("text", "character varying", "varchar", "character", "char", "bpchar")
_NUMBER_TYPES = ("smallint", "integer", "bigint", "int2", "int4", "int8", "int", "numeric")


def _type_base(pg_type: str) -> str:
    """``character varying(40)`` -> ``character varying``; ``text[]`` stays ``text[]``."""
    name = "".join(part.split(")")[-1] for part in pg_type.lower().split("("))
    return " ".join(name.split())


def retype_using_sql(column_sql: str, have: str, wanted: str) -> str:
    """The `` USING ...`` an ``ALTER COLUMN ... TYPE`` from ``have`` to ``wanted`` (types as
    format_type prints them) needs, '' when PostgreSQL's assignment cast does it: boolean <->
    integers (true is 1, as in MySQL), a string to a type that is not one, uuid <-> bytea (its
    16 bytes) and a MySQL SET's text[] <-> its 'a,b' text, keeping each value as the sync
    reads it on the other side."""
    c, old, new = column_sql, _type_base(have), _type_base(wanted)
    if old == "boolean" and new in _NUMBER_TYPES:
        return f" USING {c}::integer"  # no boolean -> smallint cast; integer -> smallint assigns
    if old in _NUMBER_TYPES and new == "boolean":
        return f" USING {c} <> 0"
    if old == "uuid" and new == "bytea":
        return f" USING decode(replace({c}::text, '-', ''), 'hex')"
    if old == "bytea" and new == "uuid":
        return f" USING encode({c}, 'hex')::uuid"
    if old.endswith("[]") and new in _STRING_TYPES:
        return f" USING array_to_string({c}, ',')"  # an I/O cast would store '{a,b}'
    if old in _STRING_TYPES and new.endswith("[]"):
        return f" USING string_to_array({c}, ',')"
    if old in _STRING_TYPES and new not in _STRING_TYPES:
        return f" USING {c}::{wanted}"
    return ""


# --- backfill: rows a chunk's unique values collide with (backfill.unique_refresh) ---


def unique_indexes_sql() -> str:
    """(name, key expressions as text, partial-index predicate or NULL, NULLS NOT DISTINCT) of
    each unique index of a table other than its primary key, unique constraints included;
    parameter: the table's qualified name. An expression reads the table's bare column names.
    ``indnullsnotdistinct`` is read through jsonb: PostgreSQL before 15 has no such column."""
    return (
        "SELECT c.relname::text, "
        "array(SELECT pg_get_indexdef(i.indexrelid, k, true) "
        "FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k), "
        "pg_get_expr(i.indpred, i.indrelid, true), "
        "coalesce((to_jsonb(i) ->> 'indnullsnotdistinct')::boolean, false) "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = to_regclass(%s) AND i.indisunique AND NOT i.indisprimary "
        "ORDER BY c.relname"
    )


def unique_pairs_sql(
    index_name: str,
    left_sql: str,
    right_sql: str,
    key_columns: Sequence[str],
    expressions: Sequence[str],
    predicate: str | None = None,
    *,
    nulls_not_distinct: bool = False,
    same_table: bool = False,
) -> str:
    """The pairs of rows of ``left_sql`` and ``right_sql`` that the unique index ``index_name``
    (its key ``expressions`` over bare column names, its partial ``predicate``) takes as equal.

    Columns, alike for every index (so several UNION ALL): ``mps_index``, ``mps_within``
    (``same_table``), the left and right keys (``mps_lk0``..., ``mps_rk0``...), both as text
    (``mps_lt0``..., ``mps_rt0``...), the indexed values as text (``mps_value``) and
    ``mps_same_read``: both rows carry the same ``mps_gen`` (``same_table`` only; else false).
    Each side is a subquery of one table, so the bare names in an expression are that table's;
    PostgreSQL flattens them and probes the index with the other side's values.
    ``same_table``: ``left_sql`` and ``right_sql`` are one table; each pair is listed once."""
    where = f" WHERE {predicate}" if predicate else ""

    def side(table_sql: str) -> str:
        keys = [f"{quote_ident(k)} AS mps_k{i}" for i, k in enumerate(key_columns)]
        values = [f"({e}) AS mps_u{i}" for i, e in enumerate(expressions)]
        extra = ["ctid AS mps_row", "mps_gen"] if same_table else []
        return f"SELECT {', '.join(keys + values + extra)} FROM {table_sql}{where}"

    equal = "IS NOT DISTINCT FROM" if nulls_not_distinct else "="
    on = [f"l.mps_u{i} {equal} r.mps_u{i}" for i in range(len(expressions))]
    if same_table:
        on.append("l.mps_row < r.mps_row")
    n = range(len(key_columns))
    shown = ", ".join(f"l.mps_u{i}::text" for i in range(len(expressions)))
    columns = (
        [f"{quote_literal(index_name)}::text AS mps_index", f"{same_table} AS mps_within"]
        + [f"l.mps_k{i} AS mps_lk{i}" for i in n]
        + [f"r.mps_k{i} AS mps_rk{i}" for i in n]
        + [f"l.mps_k{i}::text AS mps_lt{i}" for i in n]
        + [f"r.mps_k{i}::text AS mps_rt{i}" for i in n]
        + [f"array_to_string(ARRAY[{shown}], ', ', 'NULL') AS mps_value"]
        + ["l.mps_gen = r.mps_gen AS mps_same_read" if same_table else "false AS mps_same_read"]
    )
    return (
        f"SELECT {', '.join(columns)} FROM ({side(left_sql)}) l "
        f"JOIN ({side(right_sql)}) r ON {' AND '.join(on)}"
    )


def dollar_placeholders(sql: str) -> str:
    """psycopg's ``%s`` placeholders (this module's) as libpq's ``$n`` (for ADBC)."""
    parts = sql.split("%s")
    return "".join(p + (f"${i + 1}" if i < len(parts) - 1 else "") for i, p in enumerate(parts))
