"""The applier's database sessions: one per target engine, the same small interface.

SQL text comes from the dialect modules via :mod:`.apply_sql`; these classes only own the
connection, the loop-prevention tag of the session, and how rows travel (PostgreSQL: COPY into a
staging table; MySQL: multi-row VALUES).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any, Protocol

import MySQLdb
import psycopg

from mysql_pg_sync import pg_sequences
from mysql_pg_sync.cdc import apply_sql
from mysql_pg_sync.cdc.loop_guard import LoopTags, origin_capacity_message, origin_pool
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.dialects import mysql as mysql_dialect
from mysql_pg_sync.dialects import postgres as pg_dialect
from mysql_pg_sync.errors import PreflightError, SyncError
from mysql_pg_sync.settings import DatabaseEndpoint

MYSQL_ROWS_PER_STATEMENT = 1_000
ORIGIN_POOL_SIZE = 32
# How long the applier trusts that a sequence it moved is still past what it wrote; a sequence
# moved back by hand is then moved forward again within this time, at one statement a minute.
SEQUENCE_RECHECK_S = 60.0
Row = tuple[Any, ...]

log = logging.getLogger(__name__)


class StaleStageError(SyncError):
    """A staged write failed on a type the session's staging table no longer shares with its
    target (PostgreSQL's column was retyped while the stream ran): the batch runs again once,
    with staging tables built afresh (see ``Applier._restage``)."""


def is_transient(exc: BaseException) -> bool:
    """The server rolled our transaction back to break a deadlock or a lock wait, through no fault
    of the data: running the same batch again is the fix (an application's own transactions
    lock the same rows in another order). So is a stale staging table (:class:`StaleStageError`):
    the rollback drops it, and the batch's next run stages into one of the target's new shape."""
    if isinstance(exc, StaleStageError):
        return True
    if isinstance(
        exc,
        psycopg.errors.DeadlockDetected
        | psycopg.errors.SerializationFailure
        | psycopg.errors.LockNotAvailable,
    ):
        return True
    # 1213: deadlock, 1205: lock wait timeout
    return isinstance(exc, MySQLdb.OperationalError) and exc.args[:1] in ((1213,), (1205,))


# MySQL client and server errors that mean the connection itself is gone
_DUPLICATE_ENTRY = 1062  # ER_DUP_ENTRY
_MYSQL_CONNECTION_LOST = frozenset({2002, 2003, 2006, 2013, 1927, 4031})


def is_connection_lost(exc: BaseException) -> bool:
    """A database connection broke (the server restarted or an operator killed the session):
    reconnecting and reading the batch again is the fix, not ending the stream."""
    if isinstance(exc, psycopg.InterfaceError):  # used after it closed
        return True
    if isinstance(exc, psycopg.OperationalError):
        state = exc.sqlstate
        # no SQLSTATE: the client lost the socket; 08: connection exceptions; 57P0x: shutdown
        return state is None or state.startswith(("08", "57P"))
    if isinstance(exc, MySQLdb.InterfaceError):
        return True
    return isinstance(exc, MySQLdb.OperationalError) and bool(
        exc.args and exc.args[0] in _MYSQL_CONNECTION_LOST
    )


class TargetSession(Protocol):
    @property
    def dialect(self) -> ModuleType: ...

    @property
    def side(self) -> str: ...

    def lock_rows(
        self, table_sql: str, columns: Sequence[str], keys: Sequence[str], key_values: Sequence[Row]
    ) -> dict[Row, Row]: ...

    def upsert(
        self,
        table_sql: str,
        columns: Sequence[str],
        keys: Sequence[str],
        rows: Sequence[Row],
        guard: str | None,
        all_present: bool = False,
    ) -> None:
        """Insert or update ``rows`` by key; ``all_present``: the caller locked every one of
        them, so none needs looking up first."""
        ...

    def insert_new(
        self,
        table_sql: str,
        columns: Sequence[str],
        keys: Sequence[str],
        rows: Sequence[Row],
        guard: str | None,
    ) -> set[Row]:
        """Write rows that :meth:`lock_rows` found absent; return the keys written. A key that
        another transaction inserted since is left out, for the caller to decide with the row
        locked (and to record the conflict)."""
        ...

    def delete(self, table_sql: str, keys: Sequence[str], key_values: Sequence[Row]) -> None: ...

    def update(
        self, table_sql: str, columns: Sequence[str], keys: Sequence[str], row: Row, key: Row
    ) -> bool:
        """Update one row's ``columns``; False when no row has the key."""
        ...

    def sequence_columns(self, table_sql: str) -> tuple[str, ...]:
        """The table's columns whose sequence the applier keeps past the values it writes
        (:meth:`advance_sequences`); found once per table, () for most tables."""
        ...

    def advance_sequences(self, table_sql: str, highest: Mapping[str, int]) -> None:
        """Move each column's sequence so its next value is past ``highest[column]`` (a column
        left out: its sequence stays); never backwards."""
        ...

    def savepoint(self, name: str) -> None: ...

    def rollback_to(self, name: str) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def close(self) -> None: ...

    def is_row_error(self, exc: BaseException) -> bool: ...

    def lacks_column(self, exc: BaseException) -> bool:
        """The table has no column of that name (the mapping lists one it lacks)."""
        ...

    def lacks_table(self, exc: BaseException) -> bool:
        """The mapping's table does not exist here (dropped, or not created yet)."""
        ...

    def stale_stage(self, exc: BaseException) -> bool:
        """A staged write failed on a type mismatch between the session's staging table, built
        when the table was first written, and the target as it is now (a column retyped)."""
        ...

    def table_columns(self, table_sql: str) -> dict[str, str]:
        """The table's columns and their types, for an operator's message ({} where the
        session cannot tell); rolls back the session's transaction (a failed one, say)."""
        ...

    def probe_columns(self, table_sql: str, columns: Sequence[str]) -> None:
        """Raise the server's error when the table lacks one of ``columns``; ends the
        transaction (nothing else may be open)."""
        ...

    @property
    def missing_column_fix(self) -> str:
        """What the operator does when :meth:`lacks_column` holds."""
        ...

    def state_writer(self) -> psycopg.Connection[Any] | None:
        """A connection in this target's transaction when the state schema (``mps_sync``)
        shares its database, so state rows commit or roll back with the target's writes."""
        ...

    def ensure_offsets_table(self) -> None: ...

    def applied_offsets(self, group: str) -> Applied: ...

    def record_offsets(self, group: str, applied: Mapping[tuple[str, int], Fence]) -> None: ...

    def rewind_offsets(
        self, group: str, offsets: Mapping[tuple[str, int], int], keep_source: bool = False
    ) -> None: ...

    def locked_offsets(
        self, group: str, parts: Sequence[tuple[str, int]]
    ) -> dict[tuple[str, int], int]: ...


Fence = tuple[int, str | None]  # next Kafka offset to apply, last source position (JSON) or None
Applied = dict[tuple[str, int], Fence]  # per (topic, partition)


def _chunks(rows: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def _flat(rows: Sequence[Row]) -> list[Any]:
    return [v for row in rows for v in row]


def _key_positions(columns: Sequence[str], keys: Sequence[str]) -> list[int]:
    """Where each key column is among ``columns``: a mapping lists its columns in the table's
    order, and its key need not lead them (nor keep that order)."""
    names = list(columns)
    return [names.index(k) for k in keys]


class PostgresTarget:
    """Applier session on PostgreSQL, tagged with the replication origin."""

    dialect = pg_dialect
    side = "postgres"

    def __init__(self, endpoint: DatabaseEndpoint, tags: LoopTags) -> None:
        self.conn = pg_connect(endpoint)
        try:
            self.origin = self._take_origin(endpoint, tags)
        except BaseException:
            self.conn.close()
            raise
        self.conn.commit()
        self._stages: dict[str, str] = {}
        self._stage_seq = 0  # never reused: a forgotten stage may still exist with another shape
        self._forgotten: list[str] = []  # stages a rollback took out of use: dropped when next
        self._sequences: dict[str, pg_sequences.OwnedSequences] = {}
        self._advanced: dict[str, dict[str, int]] = {}  # per table: the value each column passed
        self._advanced_since = time.monotonic()

    def _take_origin(self, endpoint: DatabaseEndpoint, tags: LoopTags) -> str:
        """Set up the first free origin of the pool (``<origin>``, ``<origin>_1``, ...).

        PostgreSQL lets one session at a time use a replication origin, so every concurrent
        applier (consumer-group members, tests) needs its own; the loop guard drops them all.
        """
        for name in origin_pool(tags.pg_origin, ORIGIN_POOL_SIZE):
            try:
                for sql, params in pg_dialect.applier_session_sql(name, 0):
                    self.conn.execute(sql, params)
                return name
            except psycopg.errors.ObjectInUse:
                self.conn.rollback()
            except psycopg.errors.ConfigurationLimitExceeded:
                self.conn.rollback()
                raise PreflightError(origin_capacity_message(name, tags.pg_origin)) from None
            except psycopg.errors.UndefinedObject:
                self.conn.rollback()
                try:
                    self.conn.execute("SELECT pg_replication_origin_create(%s)", (name,))
                    self.conn.commit()
                except psycopg.errors.InsufficientPrivilege:
                    raise PreflightError(
                        f"replication origin {name!r} does not exist and user {endpoint.user!r} "
                        f"may not create it; as a superuser run SELECT "
                        f"pg_replication_origin_create('{name}')"
                    ) from None
                except psycopg.errors.DuplicateObject:
                    self.conn.rollback()  # created by a concurrent applier in between
                return self._take_origin(endpoint, tags)
            except psycopg.errors.InsufficientPrivilege as exc:
                if "session_replication_role" in str(exc):
                    raise PreflightError(
                        f"PostgreSQL user {endpoint.user!r} may not set session_replication_role "
                        f"(the applier skips foreign-key checks, ADR 0006); as a superuser run: "
                        f"GRANT SET ON PARAMETER session_replication_role TO {endpoint.user}"
                    ) from None
                raise PreflightError(
                    f"PostgreSQL user {endpoint.user!r} may not use replication origins in "
                    f"database {endpoint.database!r} ({exc}); as a superuser run, in that "
                    "database: GRANT EXECUTE ON FUNCTION pg_replication_origin_session_setup(text)"
                    f", pg_replication_origin_create(text) TO {endpoint.user}"
                ) from None
        raise PreflightError(
            f"all {ORIGIN_POOL_SIZE} replication origins {tags.pg_origin}[_N] are in use by other "
            "applier sessions; stop a consumer or raise ORIGIN_POOL_SIZE"
        )

    def lock_rows(
        self, table_sql: str, columns: Sequence[str], keys: Sequence[str], key_values: Sequence[Row]
    ) -> dict[Row, Row]:
        found: dict[Row, Row] = {}
        at = _key_positions(columns, keys)
        for part in _chunks(key_values, 5_000):
            sql = apply_sql.lock_rows_sql(pg_dialect, table_sql, columns, keys, len(part))
            for row in self.conn.execute(sql, _flat(part)).fetchall():
                found[tuple(row[i] for i in at)] = tuple(row)
        return found

    def probe_columns(self, table_sql: str, columns: Sequence[str]) -> None:
        try:
            self.conn.execute(apply_sql.probe_columns_sql(pg_dialect, table_sql, columns))
        finally:
            self.conn.rollback()

    def _stage(self, table_sql: str, columns: Sequence[str]) -> str:
        ident = (table_sql, tuple(columns))
        stage = self._stages.get(str(ident))
        if stage is None:
            if self._forgotten:  # a retyped target's old stage, say: not kept for the session
                self.conn.execute(pg_dialect.drop_tables_sql(self._forgotten))
                self._forgotten.clear()
            stage = f"mps_stage_{self._stage_seq}"
            self._stage_seq += 1
            sql = pg_dialect.staging_table_sql(stage, table_sql, columns)
            self.conn.execute(sql)
            self._stages[str(ident)] = stage
        return stage

    def _forget_stages(self) -> None:
        """After a rollback: build each stage again when next used (one created since is gone,
        and one of a target retyped meanwhile has the old types); the old ones are dropped then."""
        self._forgotten += self._stages.values()
        self._stages.clear()

    def stale_stage(self, exc: BaseException) -> bool:
        # text staged for a jsonb column, say: INSERT ... SELECT has no assignment cast for it
        return isinstance(exc, psycopg.errors.DatatypeMismatch | psycopg.errors.CannotCoerce)

    def table_columns(self, table_sql: str) -> dict[str, str]:
        self.rollback()  # after a failed statement: the transaction takes no query
        try:
            rows = self.conn.execute(pg_dialect.column_types_sql(), (table_sql,)).fetchall()
        finally:
            self.rollback()
        return {str(name): str(kind) for name, kind in rows}

    def upsert(
        self,
        table_sql: str,
        columns: Sequence[str],
        keys: Sequence[str],
        rows: Sequence[Row],
        guard: str | None,
        all_present: bool = False,
    ) -> None:
        del all_present  # keys compare exactly in PostgreSQL: ON CONFLICT meets only its own row
        if not rows:
            return
        select = self._staged(table_sql, columns, rows)
        self.conn.execute(pg_dialect.upsert_sql(table_sql, columns, keys, select, guard))

    def insert_new(
        self,
        table_sql: str,
        columns: Sequence[str],
        keys: Sequence[str],
        rows: Sequence[Row],
        guard: str | None,
    ) -> set[Row]:
        # no gap locks in PostgreSQL: an application may insert a key lock_rows found absent
        del guard
        if not rows:
            return set()
        select = self._staged(table_sql, columns, rows)
        done = self.conn.execute(pg_dialect.insert_new_sql(table_sql, columns, keys, select))
        return {tuple(row) for row in done.fetchall()}

    def _staged(self, table_sql: str, columns: Sequence[str], rows: Sequence[Row]) -> str:
        """COPY ``rows`` into the session's stage for these columns; returns its SELECT."""
        stage = self._stage(table_sql, columns)
        quoted = pg_dialect.quote_ident(stage)
        self.conn.execute(f"TRUNCATE {quoted}")
        with self.conn.cursor().copy(
            f"COPY {quoted} ({pg_dialect.column_list(columns)}) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        return f"SELECT {pg_dialect.column_list(columns)} FROM {quoted}"

    def delete(self, table_sql: str, keys: Sequence[str], key_values: Sequence[Row]) -> None:
        for part in _chunks(key_values, 5_000):
            sql = apply_sql.delete_sql(pg_dialect, table_sql, keys, len(part))
            self.conn.execute(sql, _flat(part))

    def update(
        self, table_sql: str, columns: Sequence[str], keys: Sequence[str], row: Row, key: Row
    ) -> bool:
        sql = apply_sql.update_sql(pg_dialect, table_sql, columns, keys)
        return self.conn.execute(sql, (*row, *key)).rowcount > 0  # rows matched

    def sequence_columns(self, table_sql: str) -> tuple[str, ...]:
        owned = self._sequences.get(table_sql)
        if owned is None:
            owned = self._find_sequences(table_sql)
        return owned.columns

    def _find_sequences(self, table_sql: str) -> pg_sequences.OwnedSequences:
        """Read the catalog once per table (a table created later is looked up again)."""
        owned = pg_sequences.owned_sequences(self.conn, table_sql)
        if owned.columns:
            log.info(
                "%s: the stream keeps sequence(s) %s past the ids it writes",
                table_sql,
                ", ".join(owned.sequences),
            )
            self._sequences[table_sql] = owned
        elif owned is not pg_sequences.NO_SEQUENCES or self._table_exists(table_sql):
            self._sequences[table_sql] = owned
        return owned

    def _table_exists(self, table_sql: str) -> bool:
        row = self.conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table_sql,)).fetchone()
        return bool(row and row[0])

    def advance_sequences(self, table_sql: str, highest: Mapping[str, int]) -> None:
        # setval is not transactional: a batch rolled back leaves the sequence ahead, harmless;
        # and a sequence once moved past a value stays past it, so most batches (updates of
        # older rows) need no statement at all
        owned = self._sequences.get(table_sql) or self._find_sequences(table_sql)
        if time.monotonic() - self._advanced_since > SEQUENCE_RECHECK_S:
            # someone may have moved a sequence back since (setval by hand, a restore)
            self._advanced.clear()
            self._advanced_since = time.monotonic()
        done = self._advanced.setdefault(table_sql, {})
        wanted = {c: v for c, v in highest.items() if c in owned.columns and v > done.get(c, v - 1)}
        if not wanted:
            return
        pg_sequences.advance(self.conn, owned, wanted)
        done.update(wanted)

    def savepoint(self, name: str) -> None:
        self.conn.execute(f"SAVEPOINT {name}")

    def rollback_to(self, name: str) -> None:
        self.conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
        self._forget_stages()  # a stage created after the savepoint is gone with it

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()
        self._forget_stages()  # a stage created in the rolled-back transaction is gone

    def close(self) -> None:
        self.conn.close()

    def is_row_error(self, exc: BaseException) -> bool:
        """A problem with the data of some row (constraint, value), not with the connection."""
        return isinstance(exc, psycopg.errors.IntegrityError | psycopg.errors.DataError)

    def lacks_column(self, exc: BaseException) -> bool:
        return isinstance(exc, psycopg.errors.UndefinedColumn)

    def lacks_table(self, exc: BaseException) -> bool:
        return isinstance(exc, psycopg.errors.UndefinedTable)

    missing_column_fix = (
        "run `make ddl`, which adds the mapping's missing columns to existing PostgreSQL tables "
        "(README, Operations: Add a column)"
    )

    def state_writer(self) -> psycopg.Connection[Any] | None:
        return self.conn  # the state schema lives in the target PostgreSQL database (ADR 0005)

    def ensure_offsets_table(self) -> None:
        """Nothing to do: the state schema (070_applied_offsets) has it."""

    def applied_offsets(self, group: str) -> Applied:
        rows = self.conn.execute(pg_dialect.applied_offsets_sql(), (group,)).fetchall()
        return {(str(t), int(p)): (int(o), s) for t, p, o, s in rows}

    def record_offsets(self, group: str, applied: Mapping[tuple[str, int], Fence]) -> None:
        sql = pg_dialect.record_offset_sql()
        with self.conn.cursor() as cur:
            cur.executemany(sql, [(group, t, p, o, s) for (t, p), (o, s) in applied.items()])

    def locked_offsets(
        self, group: str, parts: Sequence[tuple[str, int]]
    ) -> dict[tuple[str, int], int]:
        rows = self.conn.execute(
            pg_dialect.locked_offsets_sql(), (group, [t for t, _ in parts], [p for _, p in parts])
        ).fetchall()
        return {(str(t), int(p)): int(o) for t, p, o in rows}

    def rewind_offsets(
        self, group: str, offsets: Mapping[tuple[str, int], int], keep_source: bool = False
    ) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(
                pg_dialect.rewind_offset_sql(keep_source),
                [(group, t, p, o) for (t, p), o in offsets.items()],
            )
        self.conn.commit()


_DENIED = re.compile(r"BINLOG REPLAY|SUPER", re.IGNORECASE)


class MySQLTarget:
    """Applier session on MariaDB/MySQL, tagged with its own GTID domain."""

    dialect = mysql_dialect
    side = "mysql"

    def __init__(self, endpoint: DatabaseEndpoint, tags: LoopTags) -> None:
        self.endpoint = endpoint
        self._floats: dict[str, frozenset[str]] = {}
        self.conn = mysql_connect(endpoint)
        cur = self.conn.cursor()
        try:
            for sql, params in mysql_dialect.applier_session_sql(
                tags.pg_origin, tags.mariadb_gtid_domain
            ):
                cur.execute(sql, params or None)
        except MySQLdb.OperationalError as exc:
            self.conn.close()
            if _DENIED.search(str(exc)):
                raise PreflightError(
                    f"MySQL user {endpoint.user!r} may not set gtid_domain_id ({exc}); run "
                    f"GRANT BINLOG REPLAY ON *.* TO '{endpoint.user}'@'<host>' (MariaDB 10.5+)"
                ) from None
            raise

    def lock_rows(
        self, table_sql: str, columns: Sequence[str], keys: Sequence[str], key_values: Sequence[Row]
    ) -> dict[Row, Row]:
        found: dict[Row, Row] = {}
        at = _key_positions(columns, keys)
        cur = self.conn.cursor()
        floats = self._float_columns(table_sql)
        read_as = [
            mysql_dialect.float_value_sql(mysql_dialect.quote_ident(c))
            if c in floats
            else mysql_dialect.quote_ident(c)
            for c in columns
        ]
        for part in _chunks(key_values, MYSQL_ROWS_PER_STATEMENT):
            cur.execute(
                apply_sql.lock_rows_sql(
                    mysql_dialect, table_sql, columns, keys, len(part), read_as
                ),
                _flat(part),
            )
            for row in cur.fetchall():
                found[_normal_key([row[i] for i in at])] = tuple(row)
        return found

    def _float_columns(self, table_sql: str) -> frozenset[str]:
        """The table's FLOAT columns, read once per session: compared with an incoming image,
        their 6-digit text would make a real change look like none (or the same row differ)."""
        found = self._floats.get(table_sql)
        if found is None:
            cur = self.conn.cursor()
            cur.execute(mysql_dialect.show_columns_sql(table_sql))
            found = frozenset(
                str(row[0]) for row in cur.fetchall() if str(row[1]).lower().startswith("float")
            )
            self._floats[table_sql] = found
        return found

    def probe_columns(self, table_sql: str, columns: Sequence[str]) -> None:
        cur = self.conn.cursor()
        try:
            cur.execute(apply_sql.probe_columns_sql(mysql_dialect, table_sql, columns))
            cur.fetchall()
        finally:
            cur.close()
            self.conn.rollback()

    def upsert(
        self,
        table_sql: str,
        columns: Sequence[str],
        keys: Sequence[str],
        rows: Sequence[Row],
        guard: str | None,
        all_present: bool = False,
    ) -> None:
        if not all_present and rows:
            # ON DUPLICATE KEY UPDATE meets any row the key's collation or a unique index takes
            # as equal ('ABC' for 'abc'), and would write over it: a key not there exactly goes
            # in with a plain INSERT, where such a clash is an error (a dead letter)
            at = [list(columns).index(k) for k in keys]
            present = set(
                self.lock_rows(
                    table_sql, list(keys), keys, [_normal_key([row[i] for i in at]) for row in rows]
                )
            )
            absent = [r for r in rows if _normal_key([r[i] for i in at]) not in present]
            written = self.insert_new(table_sql, columns, keys, absent, guard)
            rows = [r for r in rows if _normal_key([r[i] for i in at]) not in written]
        cur = self.conn.cursor()
        for part in _chunks(rows, MYSQL_ROWS_PER_STATEMENT):
            values = apply_sql.values_sql(mysql_dialect, len(columns), len(part))
            cur.execute(
                mysql_dialect.upsert_sql(table_sql, columns, keys, values, guard), _flat(part)
            )

    def insert_new(
        self,
        table_sql: str,
        columns: Sequence[str],
        keys: Sequence[str],
        rows: Sequence[Row],
        guard: str | None,
    ) -> set[Row]:
        # A plain INSERT, never ON DUPLICATE KEY UPDATE: a row lock_rows found absent that MySQL
        # still takes as a duplicate compares equal to another row only under the key's
        # collation ('abc' beside 'ABC', trailing spaces) or shares a unique index with one,
        # and the upsert wrote its values over that other row, silently.
        del guard
        at = [list(columns).index(k) for k in keys]
        cur = self.conn.cursor()
        written: set[Row] = set()
        for part in _chunks(rows, MYSQL_ROWS_PER_STATEMENT):
            cur.execute("SAVEPOINT mps_insert_new")
            try:
                cur.execute(
                    mysql_dialect.insert_sql(
                        table_sql,
                        columns,
                        apply_sql.values_sql(mysql_dialect, len(columns), len(part)),
                    ),
                    _flat(part),
                )
            except MySQLdb.IntegrityError as exc:
                if not exc.args or exc.args[0] != _DUPLICATE_ENTRY:
                    raise
                cur.execute("ROLLBACK TO SAVEPOINT mps_insert_new")
                if len(part) > 1:  # find the row(s): one at a time
                    for row in part:
                        written |= self.insert_new(table_sql, columns, keys, [row], None)
                    continue
                key = _normal_key([part[0][i] for i in at])
                if key in self.lock_rows(table_sql, list(keys), keys, [key]):
                    continue  # inserted by someone else since (READ COMMITTED): decide again
                raise MySQLdb.IntegrityError(
                    _DUPLICATE_ENTRY,
                    f"{exc.args[1]}: MySQL already holds a row with that value in the key or "
                    "unique index named, one PostgreSQL keeps apart: PostgreSQL has no such "
                    "unique index (a MySQL-only UNIQUE key: add it in PostgreSQL, or drop it in "
                    "MySQL), the MySQL collation ignores case or trailing spaces (give the MySQL "
                    "column a _bin collation; README: Case-insensitive unique keys), or the "
                    "other row has not been deleted in MySQL yet. This row cannot be added "
                    "beside it until then; or change the value where it was written",
                ) from exc
            written |= {_normal_key([row[i] for i in at]) for row in part}
        return written

    def delete(self, table_sql: str, keys: Sequence[str], key_values: Sequence[Row]) -> None:
        cur = self.conn.cursor()
        for part in _chunks(key_values, MYSQL_ROWS_PER_STATEMENT):
            cur.execute(
                apply_sql.delete_sql(mysql_dialect, table_sql, keys, len(part)), _flat(part)
            )

    def update(
        self, table_sql: str, columns: Sequence[str], keys: Sequence[str], row: Row, key: Row
    ) -> bool:
        cur = self.conn.cursor()
        cur.execute(apply_sql.update_sql(mysql_dialect, table_sql, columns, keys), (*row, *key))
        if cur.rowcount > 0:
            return True
        # MySQL counts changed rows, not matched ones: 0 may be a row already equal
        return bool(self.lock_rows(table_sql, list(keys), keys, [key]))

    def sequence_columns(self, table_sql: str) -> tuple[str, ...]:
        """None: InnoDB moves AUTO_INCREMENT past an id written explicitly by itself."""
        del table_sql
        return ()

    def advance_sequences(self, table_sql: str, highest: Mapping[str, int]) -> None:
        del table_sql, highest

    def savepoint(self, name: str) -> None:
        self.conn.cursor().execute(f"SAVEPOINT {name}")

    def rollback_to(self, name: str) -> None:
        self.conn.cursor().execute(f"ROLLBACK TO SAVEPOINT {name}")

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    def close(self) -> None:
        self.conn.close()

    def is_row_error(self, exc: BaseException) -> bool:
        return (
            isinstance(exc, MySQLdb.IntegrityError | MySQLdb.DataError)
            or (
                isinstance(exc, MySQLdb.OperationalError)
                and bool(exc.args)
                and exc.args[0] in mysql_dialect.ROW_ERROR_CODES
            )
            or (
                isinstance(exc, MySQLdb.ProgrammingError)
                and bool(exc.args)
                and mysql_dialect.UNQUOTABLE_VALUE in str(exc.args[0])
            )
        )

    def lacks_column(self, exc: BaseException) -> bool:
        return isinstance(exc, MySQLdb.OperationalError) and bool(exc.args) and exc.args[0] == 1054

    def lacks_table(self, exc: BaseException) -> bool:
        return isinstance(exc, MySQLdb.ProgrammingError) and bool(exc.args) and exc.args[0] == 1146

    def stale_stage(self, exc: BaseException) -> bool:
        return False  # rows travel as VALUES: no staging table

    def table_columns(self, table_sql: str) -> dict[str, str]:
        return {}  # missing_column_fix names MySQL's rename fix already

    missing_column_fix = (
        "add the column in MySQL (the application's migration), or exclude it in the mapping; "
        "if MySQL renamed it, set the new name as the entry's `name` and keep its `pg_name`"
    )

    def state_writer(self) -> psycopg.Connection[Any] | None:
        return None  # the state schema is in PostgreSQL: no shared transaction with MySQL

    def ensure_offsets_table(self) -> None:
        """The applier's exactly-once fence must exist; the sync user usually may not create it."""
        db = self.endpoint.database
        cur = self.conn.cursor()
        try:
            cur.execute(mysql_dialect.applied_offsets_sql(db), ("",))
            cur.fetchall()
            return
        except MySQLdb.ProgrammingError:  # 1146: no such table
            pass
        ddl = mysql_dialect.applied_offsets_ddl(db)
        try:
            cur.execute(ddl)
        except (MySQLdb.OperationalError, MySQLdb.ProgrammingError) as exc:
            raise PreflightError(
                f"MySQL table {db}.{mysql_dialect.APPLIED_OFFSETS_TABLE} is missing and user "
                f"{self.endpoint.user!r} may not create it ({exc}). The stream records there, in "
                "the same transaction as its writes, which Kafka offsets it has applied to MySQL. "
                f"Create it once as an administrator: {ddl}"
            ) from None

    def applied_offsets(self, group: str) -> Applied:
        cur = self.conn.cursor()
        cur.execute(mysql_dialect.applied_offsets_sql(self.endpoint.database), (group,))
        return {(str(t), int(p)): (int(o), s) for t, p, o, s in cur.fetchall()}

    def record_offsets(self, group: str, applied: Mapping[tuple[str, int], Fence]) -> None:
        sql = mysql_dialect.record_offset_sql(self.endpoint.database)
        rows = [(group, t, p, o, s) for (t, p), (o, s) in applied.items()]
        self.conn.cursor().executemany(sql, rows)

    def locked_offsets(
        self, group: str, parts: Sequence[tuple[str, int]]
    ) -> dict[tuple[str, int], int]:
        cur = self.conn.cursor()
        cur.execute(
            mysql_dialect.locked_offsets_sql(self.endpoint.database, len(parts)),
            (group, *(v for part in parts for v in part)),
        )
        return {(str(t), int(p)): int(o) for t, p, o in cur.fetchall()}

    def rewind_offsets(
        self, group: str, offsets: Mapping[tuple[str, int], int], keep_source: bool = False
    ) -> None:
        sql = mysql_dialect.rewind_offset_sql(self.endpoint.database, keep_source)
        self.conn.cursor().executemany(sql, [(group, t, p, o) for (t, p), o in offsets.items()])
        self.conn.commit()


def _normal_key(values: Sequence[Any]) -> Row:
    return tuple(values)


def open_target(side: str, endpoint: DatabaseEndpoint, tags: LoopTags) -> TargetSession:
    """The applier session for the side changes are written to."""
    if side == "postgres":
        return PostgresTarget(endpoint, tags)
    return MySQLTarget(endpoint, tags)
