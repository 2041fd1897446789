"""One database's side of a comparison: SQL built from dialect fragments, run on pooled connections.

The queries are plain standard SQL around the dialect's fragments (canonical text, row hash,
60-bit slice, bucket, integer division), so this module never branches on the engine.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

from mysql_pg_sync.backfill.boundaries import walk_boundaries
from mysql_pg_sync.dialects.stored_type import StoredType
from mysql_pg_sync.reconcile.bisect import Checksum, KeyText, RowRef
from mysql_pg_sync.reconcile.diff import CanonicalRow
from mysql_pg_sync.reconcile.errors import ReconcileError, SchemaMismatchError
from mysql_pg_sync.reconcile.keyforms import RawKey, key_forms, refuse_duplicate_keys
from mysql_pg_sync.reconcile.model import (
    STRING_KINDS,
    CompareColumn,
    ReconcileTable,
    refuse_null_keys,
)
from mysql_pg_sync.reconcile.segments import Segment, Split
from mysql_pg_sync.types.drivers import register_pg_loaders

SideName = Literal["mysql", "postgres"]
KEY_BATCH = 500  # keys per IN (...) list
LEAF_BATCH = 8  # index-range segments per row-hash query


def cut_index_sql(ordinal_sql: str, cuts: Sequence[int], offset: int = 0) -> str:
    """How many of the increasing ``cuts`` are <= the ordinal, as a binary tree of CASEs: plain
    SQL both engines evaluate alike, ~log2(len(cuts)) comparisons a row."""
    if not cuts:
        return str(offset)
    mid = len(cuts) // 2
    below = cut_index_sql(ordinal_sql, cuts[:mid], offset)
    above = cut_index_sql(ordinal_sql, cuts[mid + 1 :], offset + mid + 1)
    return f"CASE WHEN {ordinal_sql} < {int(cuts[mid])} THEN {below} ELSE {above} END"


class ConnectionPool:
    """At most ``size`` connections from ``connect``, each used by one thread at a time; every
    new connection first runs the ``setup`` statements (session settings)."""

    def __init__(self, connect: Callable[[], Any], size: int, setup: Sequence[str] = ()) -> None:
        self._connect = connect
        self._setup = tuple(setup)
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._all: list[Any] = []
        self._slots = threading.Semaphore(size)
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[Any]:
        with self._slots:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = self._open()
                with self._lock:
                    self._all.append(conn)
            try:
                yield conn
            except BaseException:
                self._discard(conn)
                raise
            self._idle.put(conn)

    def _open(self) -> Any:
        conn = self._connect()
        if self._setup:
            cur = conn.cursor()
            for statement in self._setup:
                cur.execute(statement)
            cur.close()
            conn.commit()  # a SET made in a transaction that rolls back would be undone
        return conn

    def _discard(self, conn: Any) -> None:
        with self._lock:
            if conn in self._all:
                self._all.remove(conn)
        try:
            conn.close()
        except Exception:  # a broken connection may fail to close; it is dropped either way
            pass

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            try:
                conn.close()
            except Exception:
                pass


@dataclass(frozen=True)
class _Names:
    table: str
    column: dict[str, str]  # MySQL column name -> this side's quoted column


class TableSide:
    """The SQL one side runs for one table."""

    def __init__(
        self, side: SideName, dialect: ModuleType, table: ReconcileTable, pool: ConnectionPool
    ) -> None:
        self.side = side
        self.dialect = dialect
        self.table = table
        self.pool = pool
        if side == "mysql":
            self.namespace, self.table_name = table.mysql_db, table.mysql_table
            self._physical = {c.mysql_name: c.mysql_name for c in table.columns}
            self._copied = {c.mysql_name: c.mysql_name for c in table.copied}
        else:
            self.namespace, self.table_name = table.pg_schema, table.pg_table
            self._physical = {c.mysql_name: c.pg_name for c in table.columns}
            self._copied = {c.mysql_name: c.pg_name for c in table.copied}
        self.from_sql = dialect.qualified(self.namespace, self.table_name)
        self._col = {
            name: dialect.quote_ident(phys)
            for name, phys in {**self._physical, **self._copied}.items()
        }
        # ignored columns this side lacks: comparing works without them, a repair does not
        self._missing_copied: list[str] = []
        # known after check_schema(); unknown = convert / format every value
        self._charsets: dict[str, str] = {}
        self._stored: dict[str, StoredType] = {}
        self._build_sql()

    def _build_sql(self) -> None:
        table, dialect = self.table, self.dialect
        # the key columns as a look-up compares them (their index serves it), and as the raw
        # key reads them: a float as the exact double (MySQL prints a FLOAT with 6 digits, and
        # psycopg reads a real so), which the bare column equals again
        self.key_columns_sql = [self._col[k] for k in table.key]
        self.key_raw_sql = [
            dialect.float_value_sql(col) if c.kind == "float" else col
            for c, col in zip(table.key_columns, self.key_columns_sql, strict=True)
        ]
        self.key_text_sql = [self.text_sql(c) for c in table.key_columns]
        hashed = table.hashed_columns
        texts = [self.text_sql(c, implicit=True) for c in hashed]
        prefixed = [c.kind in STRING_KINDS for c in hashed]
        self.row_hash_sql = dialect.row_hash_sql(texts, prefixed)
        self.hash60_sql = dialect.hash60_sql(texts, prefixed)
        self.ordinal_sql = (
            self.key_columns_sql[0]
            if table.ordinal == "integer"
            else dialect.bucket32_sql(self.key_text_sql)
        )

    @property
    def _bigint_ordinal(self) -> bool:
        """The ordinal is a 64-bit integer on this side: a hash bucket, or a key stored as an
        integer type (a MySQL BIGINT UNSIGNED may not be, but MySQL's DIV needs no hint)."""
        if self.table.ordinal == "hash":
            return True
        stored = self._stored.get(self.table.key[0])
        return stored is not None and stored.is_integer

    def text_sql(self, column: CompareColumn, *, implicit: bool = False) -> str:
        """The canonical text; ``implicit``: inside the row hash's concatenation, where the
        dialect may leave the conversion to text to it."""
        return str(
            self.dialect.canonical_text_sql(
                self._col[column.mysql_name],
                column.kind,
                scale=column.scale,
                pg_type=column.pg_type,
                members=column.members,
                charset=self._charsets.get(column.mysql_name) or "",
                stored=self._stored.get(column.mysql_name),
                implicit=implicit,
                zero_date=column.zero_date,
                strip_nul=column.strip_nul,
            )
        )

    def compared_value_sql(self, column: CompareColumn) -> str:
        """What the row-level comparison reads: the canonical text, or the exact double."""
        if column.kind == "float":
            return str(self.dialect.float_value_sql(self._col[column.mysql_name]))
        return self.text_sql(column)

    def _query(
        self, sql: str, params: Sequence[Any] = (), *, images: bool = False
    ) -> list[tuple[Any, ...]]:
        """``images``: values a repair writes, read as the stream hands them to the applier
        (PostgreSQL's JSON as its text, +-infinity dates as text), not as psycopg parses them:
        a jsonb string '"123"' would reach MySQL as the number 123."""
        with self.pool.connection() as conn:
            if images and self.side == "postgres":
                register_pg_loaders(conn)
            cur = conn.cursor()
            try:
                cur.execute(sql, tuple(params))
                rows = list(cur.fetchall())
            finally:
                cur.close()
            conn.commit()  # end the read snapshot; the next query sees the latest data
            return rows

    def check_schema(self) -> None:
        """Raise :class:`SchemaMismatchError` when the table or a mapped column is missing, and
        :class:`ReconcileError` when this server cannot compute the row hash."""
        self._check_row_hash()
        rows = self._query(self.dialect.table_columns_sql(), (self.namespace, self.table_name))
        present = {r[0]: r[1] for r in rows}
        stored = {r[0]: StoredType.from_row(r[2], r[3], r[4]) for r in rows}
        where = f"{self.side} table {self.namespace}.{self.table_name}"
        if not present:
            raise SchemaMismatchError(
                f"{self.table.name}: {where} does not exist; create it or fix the mapping"
            )
        missing = sorted(p for p in self._physical.values() if p not in present)
        if missing:
            raise SchemaMismatchError(
                f"{self.table.name}: {where} has no column(s) {', '.join(missing)} that the "
                "mapping compares; fix the mapping (mappings generate/validate) or the table"
            )
        self._missing_copied = sorted(p for p in self._copied.values() if p not in present)
        self._charsets = {name: present[phys] or "" for name, phys in self._physical.items()}
        self._stored = {name: stored[phys] for name, phys in self._physical.items()}
        self._build_sql()

    def _check_row_hash(self) -> None:
        """A MySQL built without SSL returns NULL from SHA2(): every row would differ."""
        probe = self.dialect.row_hash_sql(["'a'"], [False])
        [(got,)] = self._query(f"SELECT {probe}")
        want = hashlib.sha256(b"a").hexdigest()
        if got != want:
            raise ReconcileError(
                f"{self.table.name}: the {self.side} server hashes 'a' to {got!r}, not the "
                f"SHA-256 {want}; reconcile needs SHA2()/sha256() (a MySQL or MariaDB built "
                "with SSL support, PostgreSQL 11 or later)"
            )

    def bounds(self) -> tuple[int | None, int | None, int]:
        """(min ordinal, max ordinal, estimated rows); no table scan for integer keys."""
        estimate = self._query(self.dialect.row_estimate_sql(), (self.namespace, self.table_name))
        rows = int(estimate[0][0]) if estimate else 0
        if self.table.ordinal == "integer":
            o = self.ordinal_sql
            row = self._query(f"SELECT MIN({o}), MAX({o}) FROM {self.from_sql}")[0]
            if row[0] is None:
                return None, None, 0
            return int(row[0]), int(row[1]), max(rows, 1)
        return 0, 2**32 - 1, max(rows, 1)

    def _in_segment(self) -> str:
        return f"{self.ordinal_sql} >= %s AND {self.ordinal_sql} < %s"

    def child_checksums(self, segment: Segment, split: Split) -> dict[int, Checksum]:
        if isinstance(split, int):
            # past 2**63 apart, (ordinal - lo) overflows a signed 64-bit integer
            wide = not segment.offsets_fit_bigint
            offset = self.dialect.ordinal_offset_sql(self.ordinal_sql, wide=wide)
            child = self.dialect.floor_div_sql(
                offset, "%s", bigint=self._bigint_ordinal and not wide
            )
            params: tuple[int, ...] = (segment.lo, split, segment.lo, segment.hi)
        else:
            child = cut_index_sql(self.ordinal_sql, split)
            params = (segment.lo, segment.hi)
        sql = (
            f"SELECT {child}, COUNT(*), SUM({self.hash60_sql}) "
            f"FROM {self.from_sql} WHERE {self._in_segment()} GROUP BY 1"
        )
        rows = self._query(sql, params)
        return {int(r[0]): Checksum(int(r[1]), int(r[2])) for r in rows}

    def key_cuts(self, every_rows: int) -> list[int]:
        """An integer key's value every ``every_rows`` rows, walked on this side's index with
        the backfill planner's walk (MySQL only: the walk speaks MySQL)."""
        if self.side != "mysql" or self.table.ordinal != "integer":
            raise ValueError(f"{self.table.name}: the key walk needs MySQL and an integer key")
        key = [self._physical[self.table.key[0]]]
        with self.pool.connection() as conn:
            try:
                boundaries = walk_boundaries(conn, self.namespace, self.table_name, key, every_rows)
            finally:
                conn.commit()  # end the read snapshot, as _query does
        return [int(b[0]) for b in boundaries]

    @property
    def leaf_batch(self) -> int:
        """Small segments per row-hash query: a hash ordinal scans the table for any of them,
        so all in one query; index ranges a few at a time, spread over the workers."""
        return 1_000_000 if self.table.ordinal == "hash" else LEAF_BATCH

    def row_hashes(self, segments: Sequence[Segment]) -> dict[KeyText, RowRef]:
        cols = ", ".join([*self.key_raw_sql, *self.key_text_sql, self.row_hash_sql])
        where = " OR ".join(f"({self._in_segment()})" for _ in segments)
        params = [bound for seg in segments for bound in (seg.lo, seg.hi)]
        rows = self._query(f"SELECT {cols} FROM {self.from_sql} WHERE {where}", params)
        keyed = self._keyed(rows, null_keys=True)
        return {key: RowRef(raw, str(rest[0])) for raw, key, rest in keyed}

    def _keyed(
        self, rows: Sequence[tuple[Any, ...]], *, null_keys: bool = False
    ) -> list[tuple[RawKey, KeyText, tuple[Any, ...]]]:
        """(raw key, key text, the other values) of rows that start with the key as
        ``key_raw_sql`` and ``key_text_sql`` read it. Refused: two rows with one key text, and
        with ``null_keys`` a key read as NULL (see ``model.refuse_null_keys``)."""
        n, columns = len(self.key_raw_sql), self.table.key_columns
        keyed = [(*key_forms(columns, r[:n], r[n : 2 * n]), tuple(r[2 * n :])) for r in rows]
        if null_keys:
            refuse_null_keys(self.table, self.side, ((raw, key) for raw, key, _ in keyed))
        refuse_duplicate_keys(self.table, self.side, [(raw, key) for raw, key, _ in keyed])
        return keyed

    def _key_filter(self, count: int) -> str:
        if len(self.key_columns_sql) == 1:
            return f"{self.key_columns_sql[0]} IN ({', '.join(['%s'] * count)})"
        row = "(" + ", ".join(["%s"] * len(self.key_columns_sql)) + ")"
        return f"({', '.join(self.key_columns_sql)}) IN ({', '.join([row] * count)})"

    def _key_params(self, raw_keys: Sequence[RawKey]) -> list[Any]:
        """The raw keys (from either side's driver) as this side's driver binds them."""
        return [
            self.dialect.key_param(c.kind, v, pg_type=c.pg_type)
            for key in raw_keys
            for c, v in zip(self.table.key_columns, key, strict=True)
        ]

    def _storable(self, raw_keys: Sequence[RawKey]) -> list[RawKey]:
        """The raw keys this side's columns can hold: a key the other side holds in characters
        a MySQL column's character set lacks cannot be here (and a look-up by it would fail
        with "Illegal mix of collations"), so it is absent."""
        columns = self.table.key_columns
        return [
            key
            for key in raw_keys
            if all(
                self.dialect.key_value_fits(v, self._charsets.get(c.mysql_name, ""))
                for c, v in zip(columns, key, strict=True)
            )
        ]

    def _by_keys(
        self, select: list[str], raw_keys: Sequence[RawKey], *, images: bool = False
    ) -> Iterator[tuple[Any, ...]]:
        raw_keys = self._storable(raw_keys)
        for start in range(0, len(raw_keys), KEY_BATCH):
            batch = raw_keys[start : start + KEY_BATCH]
            params = self._key_params(batch)
            where = self._key_filter(len(batch))
            yield from self._query(
                f"SELECT {', '.join(select)} FROM {self.from_sql} WHERE {where}",
                params,
                images=images,
            )

    def lock_keys(self, conn: Any, raw_keys: Sequence[RawKey]) -> None:
        """Lock the rows of ``raw_keys`` in ``conn``'s open transaction (a repair's write
        session) until it ends, in key order (as the stream applier meets them, no deadlock
        between the two): a row cannot change meanwhile. An absent key locks nothing on
        PostgreSQL; on MySQL (REPEATABLE READ) its gap is locked, so it stays absent."""
        keys = ", ".join(self.key_columns_sql)
        raw_keys = self._storable(raw_keys)
        for start in range(0, len(raw_keys), KEY_BATCH):
            batch = raw_keys[start : start + KEY_BATCH]
            params = self._key_params(batch)
            cur = conn.cursor()
            try:
                cur.execute(
                    f"SELECT {keys} FROM {self.from_sql} WHERE {self._key_filter(len(batch))} "
                    f"ORDER BY {keys} FOR UPDATE",
                    tuple(params),
                )
                cur.fetchall()
            finally:
                cur.close()

    def canonical_rows(self, raw_keys: Sequence[RawKey]) -> dict[KeyText, CanonicalRow]:
        """Canonical texts of every compared column for the given keys (absent keys left out)."""
        names = [c.mysql_name for c in self.table.columns]
        select = [
            *self.key_raw_sql,
            *self.key_text_sql,
            *(self.compared_value_sql(c) for c in self.table.columns),
        ]
        rows = list(self._by_keys(select, raw_keys))
        return {
            key: CanonicalRow(raw, dict(zip(names, values, strict=True)))
            for raw, key, values in self._keyed(rows)
        }

    def json_texts(self, segment: Segment) -> dict[KeyText, CanonicalRow]:
        """Keys and JSON texts of a segment, for the client-side JSON comparison."""
        cols = self.table.json_columns
        select = [*self.key_raw_sql, *self.key_text_sql, *(self.text_sql(c) for c in cols)]
        rows = self._query(
            f"SELECT {', '.join(select)} FROM {self.from_sql} WHERE {self._in_segment()}",
            (segment.lo, segment.hi),
        )
        names = [c.mysql_name for c in cols]
        return {
            key: CanonicalRow(raw, dict(zip(names, values, strict=True)))
            for raw, key, values in self._keyed(rows, null_keys=True)
        }

    def raw_rows(self, raw_keys: Sequence[RawKey]) -> dict[KeyText, dict[str, Any]]:
        """Full row images for repair, by key text: driver values under MySQL column names, of
        every synced column (the ignored ones too; see ``CopiedColumn``). Keyed by the canonical
        key text, which both sides print alike, not by driver values, which may not compare
        equal across the drivers."""
        if self._missing_copied:
            raise SchemaMismatchError(
                f"{self.table.name}: {self.side} table {self.namespace}.{self.table_name} has no "
                f"column(s) {', '.join(self._missing_copied)}, which the mapping syncs (listed in "
                "reconcile.ignore_columns); a repair writes every synced column. Add the "
                "column(s) or exclude them in the mapping"
            )
        names = list(self.table.image_columns)
        kinds: dict[str, str] = {c.mysql_name: c.kind for c in self.table.columns}
        kinds.update((c.mysql_name, c.kind) for c in self.table.copied)
        # a FLOAT as the double it holds: MySQL's text form has 6 digits, and a repair would
        # write 123457 for 123456.7; a date as the stream's converters take it (a zero date is
        # not None there, so the mapping's values.zero_dates decides what a repair writes)
        select = [
            *self.key_raw_sql,
            *self.key_text_sql,
            *(
                self.dialect.float_value_sql(self._col[name])
                if kinds[name] == "float"
                else self.dialect.image_value_sql(self._col[name], kinds[name])
                for name in names
            ),
        ]
        rows = list(self._by_keys(select, raw_keys, images=True))
        return {key: dict(zip(names, values, strict=True)) for _, key, values in self._keyed(rows)}
