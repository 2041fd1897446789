"""Write one chunk to PostgreSQL: delete the chunk's own rows, COPY the new ones, mark it done,
all in ONE transaction. A retried chunk therefore never duplicates, and "done" is never
recorded for rows that did not commit.

* Integer keys: ``DELETE ... WHERE lower <= key < upper`` (integers order alike everywhere),
  then ADBC ingest (binary COPY) straight into the table.
* Keyset keys (strings, composites): the batches go to a temporary table first; the delete then
  removes exactly the keys MySQL returned (equality, no ordering, so no collation question) and
  an INSERT ... SELECT moves the rows in.

A chunk refused because a unique value it holds is still held by an earlier chunk's copy of
another row (the app moved it meanwhile) is copied again, in a new transaction, with those rows
brought to MySQL's current state first (:mod:`.unique_refresh`).

Rows rejected by the conversion (mapping ``backfill.on_bad_value: reject``) are recorded in
``mps_sync.backfill_rejects`` in that same transaction, after deleting the chunk's earlier
rejects: they commit exactly with the chunk's rows and its "done", and a retried chunk replaces
them instead of adding to them.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import adbc_driver_manager
import pyarrow as pa

from mysql_pg_sync.backfill import unique_refresh
from mysql_pg_sync.backfill.conversion import RejectedRow, Rejects
from mysql_pg_sync.backfill.plan import ChunkSpec, KeyStrategy, integer_range_predicate
from mysql_pg_sync.backfill.source_rows import SourceRows
from mysql_pg_sync.backfill.state import (
    CLEAR_REJECTS_SQL,
    MARK_DONE_SQL,
    RECORD_REJECT_SQL,
    ChunkResult,
    key_json,
)
from mysql_pg_sync.cdc.loop_guard import origin_capacity_message
from mysql_pg_sync.connections import pg_conninfo
from mysql_pg_sync.dialects import postgres as pg
from mysql_pg_sync.errors import PreflightError, SyncError
from mysql_pg_sync.settings import DatabaseEndpoint

log = logging.getLogger(__name__)

STAGE_TABLE = "mps_backfill_stage"
UNIQUE_VIOLATION = unique_refresh.UNIQUE_VIOLATION
REFRESH_ATTEMPTS = 3  # chunks copied alongside may commit colliding rows during an attempt
REJECT_KEYS_TABLE = "mps_backfill_reject_keys"
# SQLSTATE classes of a refusal of the rows themselves (data exception, integrity constraint)
_REFUSED_CLASSES = ("22", "23")


class RowsRefused(SyncError):
    """PostgreSQL refused the chunk's rows (a constraint, a value): a retry meets it again."""


class ChunkCopyError(Exception):
    """Any other failure of a chunk's copy (a lost session, a server gone): a retry may pass.

    ADBC's own errors cannot be unpickled (their ``__init__`` wants keyword arguments), so one
    raised in a CLI worker process broke the whole process pool ("terminated abruptly") and took
    the other chunks of its task with it; these two carry the same text across."""


def _portable(exc: Exception, chunk: ChunkSpec) -> Exception:
    """The driver's error as :class:`RowsRefused` or :class:`ChunkCopyError`."""
    sqlstate = str(getattr(exc, "sqlstate", None) or "")
    text = str(exc)
    if sqlstate[:2] in _REFUSED_CLASSES:
        refused = text.partition("ERROR:")[2].strip() or text
        return RowsRefused(
            f"{chunk.table} #{chunk.seq} (keys {chunk.lower!r} .. {chunk.upper!r}): PostgreSQL "
            f"refused the chunk's rows: {refused}; fix the rows in MySQL, or the target table or "
            "the mapping, then resume"
        )
    return ChunkCopyError(f"{type(exc).__name__}: {text}")


@dataclass(frozen=True)
class TargetSpec:
    schema: str
    table: str
    pg_columns: tuple[str, ...]
    pg_key: tuple[str, ...]
    strategy: KeyStrategy

    @property
    def staged(self) -> bool:
        return self.strategy == "keyset"

    @property
    def qualified(self) -> str:
        return pg.qualified(self.schema, self.table)


def adbc_connect(endpoint: DatabaseEndpoint) -> Any:
    import adbc_driver_postgresql.dbapi

    conninfo = pg_conninfo(endpoint)
    return adbc_driver_postgresql.dbapi.connect(conninfo)


@dataclass
class _WriterSession:
    """A tagged ADBC session a process keeps between its chunks."""

    key: tuple[int, DatabaseEndpoint, tuple[str, ...]]
    conn: Any

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:  # a broken session may fail to close; it is dropped either way
            pass


_session: _WriterSession | None = None
# A forked child never closes (nor lets the garbage collector close) its parent's session: that
# would end the parent's PostgreSQL session on the shared socket.
_inherited: list[_WriterSession] = []


def _alive(session: _WriterSession) -> bool:
    try:
        cur = session.conn.cursor()
        cur.execute("SELECT 1")
        cur.fetchall()
        cur.close()
        session.conn.commit()
        return True
    except Exception:  # a restarted server or a killed session: open a new one
        return False


def _writer_session(endpoint: DatabaseEndpoint, origins: Sequence[str]) -> _WriterSession:
    """This process's tagged session, opened on first use and kept for its next chunks.

    Opening one costs ~0.15 s of CPU (the driver loads PostgreSQL's type catalogue), which was a
    fifth of a 125k-row chunk. Keyed by process id: a forked worker never uses its parent's
    socket. One per process, so a process leases at most one replication origin."""
    global _session
    key = (os.getpid(), endpoint, tuple(origins))
    if _session is not None and _session.key == key and _alive(_session):
        return _session
    if _session is not None:
        if _session.key[0] == key[0]:
            _session.close()
        else:
            _inherited.append(_session)
    _session = None
    conn = adbc_connect(endpoint)
    try:
        cur = conn.cursor()
        tag_session(conn, cur, origins)
        cur.close()
        conn.commit()  # the session settings outlive the chunk transactions that follow
    except BaseException:
        conn.close()
        raise
    _session = _WriterSession(key, conn)
    return _session


def close_writer_session() -> None:
    """Close this process's kept session (its replication origin is free again)."""
    global _session
    if _session is not None:
        if _session.key[0] == os.getpid():
            _session.close()
        else:
            _inherited.append(_session)
    _session = None


class _Counting:
    """Wraps the batch stream, counting rows and bytes as the COPY pulls them."""

    def __init__(self, batches: Iterator[pa.RecordBatch]) -> None:
        self.batches = batches
        self.rows = 0
        self.bytes = 0
        self.error: BaseException | None = None

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        try:
            for batch in self.batches:
                self.rows += batch.num_rows
                self.bytes += batch.nbytes
                yield batch
        except BaseException as exc:
            # ADBC wraps errors raised inside the stream; keep ours (ConversionError, ...) intact
            self.error = exc
            raise


_numbered = pg.dollar_placeholders  # the dialect speaks psycopg's %s


_IN_USE = "55006"  # object_in_use: another session holds this replication origin
_UNDEFINED = "42704"  # undefined_object: the origin was never created
_NO_STATE_LEFT = "53400"  # configuration_limit_exceeded: no replication state entry is free


def tag_session(conn: Any, cur: Any, origins: Sequence[str]) -> str | None:
    """Mark the session's writes as ours with the first free replication origin of ``origins``.

    CDC then reports the copied rows with that origin: the PostgreSQL source drops them before
    Kafka (ADR 0012), and the stream drops any that pass as echoes, so a 50 GB copy is not sent
    back to MySQL. PostgreSQL 15 lets one session hold an origin at a time, so parallel chunk
    writers each lease their own name from the backfill's pool (apart from the stream's).
    Returns the origin used (None: tagging is off).
    """
    for name in origins:
        for attempt in range(2):
            try:
                for sql, params in pg.applier_session_sql(name, 0):
                    cur.execute(_numbered(sql), parameters=params or None)
                return name
            except adbc_driver_manager.Error as exc:
                conn.rollback()
                state = getattr(exc, "sqlstate", None)
                if state == _IN_USE:
                    break
                if state == _NO_STATE_LEFT:
                    raise PreflightError(origin_capacity_message(name, origins[0])) from None
                if state == _UNDEFINED and attempt == 0:
                    _create_origin(conn, cur, name)
                    continue
                raise PreflightError(
                    f"cannot tag the backfill's PostgreSQL session with replication origin "
                    f"{name!r} ({exc}); as a superuser GRANT EXECUTE ON FUNCTION "
                    "pg_replication_origin_session_setup(text), pg_replication_origin_create(text) "
                    "TO the sync user in the target database. Without the tag every copied row "
                    "would be captured and sent back to MySQL"
                ) from None
    if origins:
        raise PreflightError(
            f"all {len(origins)} replication origins {origins[0]}[_N] are in use by other "
            "sessions; lower the backfill's max parallel chunks or stop idle appliers"
        )
    return None


def _create_origin(conn: Any, cur: Any, name: str) -> None:
    try:
        cur.execute("SELECT pg_replication_origin_create($1)", parameters=(name,))
        conn.commit()
    except adbc_driver_manager.Error:
        conn.rollback()  # created concurrently, or not allowed: the retry names the problem


def write_chunk(
    endpoint: DatabaseEndpoint,
    target: TargetSpec,
    chunk: ChunkSpec,
    schema: pa.Schema,
    batches: Iterator[pa.RecordBatch],
    *,
    reader: str,
    origins: Sequence[str] = (),
    rejects: Rejects | None = None,
    run_id: str = "",
    source: SourceRows | None = None,
) -> ChunkResult:
    """Replace the chunk's rows in one transaction and record it as done; returns its figures.

    ``rejects`` is filled by the conversion while the COPY pulls ``batches``; it is complete
    once the COPY is, and recorded before "done". ``source``: where ``batches`` come from; a
    chunk refused for a unique value another row's stale copy holds is then copied again with
    those rows refreshed from it (:mod:`.unique_refresh`).
    """
    started = time.monotonic()
    counting = _Counting(batches)
    countings = [counting]
    stream = pa.RecordBatchReader.from_batches(schema, iter(counting))
    try:
        session = _writer_session(endpoint, origins)
    except adbc_driver_manager.Error as exc:
        raise _portable(exc, chunk) from exc
    conn = session.conn
    try:
        refreshed: list[unique_refresh.Refreshed] = []
        try:
            cur = conn.cursor()
            if target.staged:
                _write_staged(cur, target, chunk, stream, rejects)
            else:
                cur.execute(_delete_range_sql(target, chunk))
                cur.adbc_ingest(target.table, stream, mode="append", db_schema_name=target.schema)
        except adbc_driver_manager.Error as exc:
            if source is None or getattr(exc, "sqlstate", None) != UNIQUE_VIOLATION:
                raise
            # ADBC runs nothing in a failed transaction, not even ROLLBACK TO SAVEPOINT: the
            # chunk is copied again in a new one that resolves collisions before it inserts
            conn.rollback()
            if not _refreshable(conn, target, chunk):
                raise
            counting, refreshed = _copy_refreshing(conn, target, chunk, source, countings)
            cur = conn.cursor()
        # Same transaction as the rows: a chunk that fails or dies records no rejects, and a
        # retry (or a re-queued done chunk) replaces the earlier ones instead of duplicating them.
        rows = rejects.rows if rejects is not None else []
        _record_rejects(cur, chunk, rows, run_id)
        result = ChunkResult(
            counting.rows,
            counting.bytes,
            time.monotonic() - started,
            reader,
            len(rows),
            len(refreshed),
        )
        cur.execute(
            MARK_DONE_SQL,
            parameters=(
                result.rows,
                result.bytes,
                result.duration_s,
                result.reader,
                chunk.table,
                chunk.seq,
                result.rejected,
            ),
        )
        conn.commit()
        cur.close()
        for row in refreshed:  # once committed: a chunk that fails refreshes nothing
            log.info("%s #%d: %s", chunk.table, chunk.seq, row.describe(target.qualified))
        return result
    except BaseException as exc:
        try:
            conn.rollback()
        except Exception:
            pass  # the connection itself is gone; the transaction died with it
        close_writer_session()  # the next chunk starts from a fresh session
        for read in countings:
            if read.error is not None and read.error is not exc:
                raise read.error from exc
        if isinstance(exc, adbc_driver_manager.Error):
            raise _portable(exc, chunk) from exc
        raise


def _record_rejects(
    cur: Any, chunk: ChunkSpec, rejects: Sequence[RejectedRow], run_id: str
) -> None:
    cur.execute(CLEAR_REJECTS_SQL, parameters=(chunk.table, chunk.seq))
    for row in rejects:  # one statement each: rejects are the exception, not the bulk
        cur.execute(
            RECORD_REJECT_SQL,
            parameters=(
                run_id,
                chunk.table,
                chunk.seq,
                key_json(row.key),
                row.column,
                row.value_text(),
                row.error,
            ),
        )


def _delete_range_sql(target: TargetSpec, chunk: ChunkSpec) -> str:
    where = integer_range_predicate(pg.quote_ident(target.pg_key[0]), chunk.lower, chunk.upper)
    return f"DELETE FROM {target.qualified} WHERE {where}"


def _refreshable(conn: Any, target: TargetSpec, chunk: ChunkSpec) -> bool:
    """Whether the refresh may rewrite rows of the target: only when the copy carries every
    column it has. A refreshed row is deleted and inserted again from MySQL's current row, so a
    column the mapping does not sync (PostgreSQL's own, with a default) would take a new value,
    and a unique index over one could not be checked in the stage."""
    cur = conn.cursor()
    try:
        cur.execute(pg.dollar_placeholders(pg.column_types_sql()), parameters=(target.qualified,))
        present = [str(row[0]) for row in cur.fetchall()]
    finally:
        cur.close()
    conn.rollback()
    others = sorted(set(present) - set(target.pg_columns))
    if others:
        log.warning(
            "%s #%d: a unique value of the chunk is held by a row copied before, and %s has "
            "column(s) the mapping does not sync (%s), which a refresh from MySQL would reset: "
            "not refreshed; the chunk fails on the duplicate key. Reload the table (mode reload) "
            "once the app has stopped moving the value",
            chunk.table,
            chunk.seq,
            target.qualified,
            ", ".join(others),
        )
    return not others


def _copy_refreshing(
    conn: Any,
    target: TargetSpec,
    chunk: ChunkSpec,
    source: SourceRows,
    countings: list[_Counting],
) -> tuple[_Counting, list[unique_refresh.Refreshed]]:
    """Copy the chunk again, read anew, bringing the rows outside it that its unique values
    collide with to MySQL's current state first; (the read's figures, the rows refreshed). A chunk
    copied alongside may commit a colliding row after the check: the next attempt sees it."""
    log.info(
        "%s #%d: a unique value of the chunk is held by a row copied before; copying the chunk "
        "again and refreshing such rows from MySQL",
        chunk.table,
        chunk.seq,
    )
    for attempt in range(1, REFRESH_ATTEMPTS + 1):
        schema, batches = source.read_chunk()
        counting = _Counting(batches)
        countings.append(counting)
        try:
            cur = conn.cursor()
            stage = _stage(cur, target, gen=True)
            staged = (unique_refresh.with_gen(batch, 0) for batch in counting)
            cur.adbc_ingest(
                STAGE_TABLE,
                pa.RecordBatchReader.from_batches(schema.append(unique_refresh.GEN_FIELD), staged),
                mode="append",
                temporary=True,
            )
            _delete_previous(cur, target, chunk, source.rejects)
            refreshed = unique_refresh.resolve(
                cur,
                label=f"{chunk.table} #{chunk.seq}",
                target_sql=target.qualified,
                stage=STAGE_TABLE,
                key_columns=target.pg_key,
                read_keys=source.read_keys,
            )
            _insert_stage(cur, target, stage)
            return counting, refreshed
        except adbc_driver_manager.Error as exc:
            if attempt == REFRESH_ATTEMPTS or getattr(exc, "sqlstate", None) != UNIQUE_VIOLATION:
                raise
            conn.rollback()
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()
    raise AssertionError("unreachable")  # the last attempt returns or raises


def _stage(cur: Any, target: TargetSpec, *, gen: bool = False) -> str:
    """A new temporary stage of the target's columns (and :data:`unique_refresh.GEN_COLUMN`).

    It takes the target's column types: some columns arrive already in PostgreSQL's binary
    format (jsonb, bit varying, inet), which a stage created from the Arrow types would hold
    as bytea, and bytea does not insert into them."""
    cur.execute(f"DROP TABLE IF EXISTS pg_temp.{STAGE_TABLE}")
    columns = ", ".join(pg.quote_ident(c) for c in target.pg_columns)
    extra = f", 0::integer AS {unique_refresh.GEN_FIELD.name}" if gen else ""
    cur.execute(
        f"CREATE TEMP TABLE {STAGE_TABLE} AS SELECT {columns}{extra} FROM {target.qualified} "
        "WITH NO DATA"
    )
    return f"pg_temp.{STAGE_TABLE}"


def _insert_stage(cur: Any, target: TargetSpec, stage: str) -> None:
    select = ", ".join(f"s.{pg.quote_ident(c)}" for c in target.pg_columns)
    cur.execute(
        f"INSERT INTO {target.qualified} ({pg.column_list(target.pg_columns)}) "
        f"SELECT {select} FROM {stage} s"
    )
    cur.execute(f"DROP TABLE {stage}")


def _write_staged(
    cur: Any,
    target: TargetSpec,
    chunk: ChunkSpec,
    stream: pa.RecordBatchReader,
    rejects: Rejects | None = None,
) -> None:
    stage = _stage(cur, target)
    cur.adbc_ingest(STAGE_TABLE, stream, mode="append", temporary=True)
    _delete_previous(cur, target, chunk, rejects)
    _insert_stage(cur, target, stage)


def _delete_previous(
    cur: Any, target: TargetSpec, chunk: ChunkSpec, rejects: Rejects | None
) -> None:
    """Delete the chunk's earlier rows: its integer key range, or (keyset) the keys staged and
    the keys the conversion rejected."""
    stage = f"pg_temp.{STAGE_TABLE}"
    if target.strategy == "keyset":
        match = " AND ".join(
            f"t.{pg.quote_ident(k)} = s.{pg.quote_ident(k)}" for k in target.pg_key
        )
        cur.execute(f"DELETE FROM {target.qualified} t USING {stage} s WHERE {match}")
        # the stream is drained: every reject is known. A rejected key's earlier copy goes too,
        # as the integer path's range delete does, so the chunk equals its source minus rejects
        keys = pa.Table.from_batches(rejects.pg_keys) if rejects and rejects.pg_keys else None
        if keys is not None and keys.num_rows:
            cur.execute(f"DROP TABLE IF EXISTS pg_temp.{REJECT_KEYS_TABLE}")
            cur.adbc_ingest(REJECT_KEYS_TABLE, keys, mode="create", temporary=True)
            cur.execute(
                f"DELETE FROM {target.qualified} t USING pg_temp.{REJECT_KEYS_TABLE} s "
                f"WHERE {match}"
            )
            cur.execute(f"DROP TABLE pg_temp.{REJECT_KEYS_TABLE}")
    else:
        cur.execute(_delete_range_sql(target, chunk))
