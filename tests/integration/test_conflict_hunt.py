"""Conflict resolution at its edges, through real connectors and the real applier.

Each test writes both sides while no consumer runs (so the changes really race), then lets
one consumer of both directions run until the stream is quiet, and checks: both databases hold
the same rows, the row the table's rule names, and the conflicts recorded for it.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from contextlib import closing
from typing import Any

import pytest
from tests.integration.stream_harness import Pipeline, PipelineFactory, drive, mysql_rows, pg_rows

from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.mapping.models import TableMapping

pytestmark = pytest.mark.integration

FULL = "ALTER TABLE public.{t} REPLICA IDENTITY FULL"


def _mapping(
    db: str,
    table: str,
    columns: list[dict[str, Any]],
    rule: str,
    column: str | None = None,
    key: tuple[str, ...] = ("id",),
) -> TableMapping:
    conflict: dict[str, Any] = {"rule": rule}
    if column:
        conflict["column"] = column
    return TableMapping.model_validate(
        {
            "source": f"{db}.{table}",
            "target": f"public.{table}",
            "key": list(key),
            "columns": columns,
            "direction": "both",
            "conflict": conflict,
        }
    )


def _mysql(p: Pipeline, *statements: str, session: tuple[str, ...] = ()) -> None:
    """Statements in ONE MySQL transaction (after the ``session`` settings)."""
    conn = p.mysql()
    try:
        cur = conn.cursor()
        for sql in session:
            cur.execute(sql)
        conn.autocommit(False)
        for sql in statements:
            cur.execute(sql)
        conn.commit()
    finally:
        conn.close()


def _pg(p: Pipeline, *statements: str, session: tuple[str, ...] = ()) -> None:
    """Statements in ONE PostgreSQL transaction (after the ``session`` settings)."""
    with pg_connect(p.endpoints.postgres) as conn:
        for sql in session:
            conn.execute(sql)  # type: ignore[arg-type]
        for sql in statements:
            conn.execute(sql)  # type: ignore[arg-type]
        conn.commit()


def _settle(p: Pipeline, events: int, quiet_s: float = 3.0, timeout_s: float = 60) -> None:
    """One consumer of both directions until it saw ``events`` changes that are not echoes,
    then until nothing arrived for ``quiet_s``."""
    with closing(p.consumer(max_batch_events=5_000)) as both:
        seen = 0
        deadline = time.monotonic() + timeout_s
        while seen < events:
            assert time.monotonic() < deadline, f"saw {seen} of {events} changes"
            seen += both.run(max_seconds=1).events
        both.run(max_seconds=20, idle_stop_s=quiet_s)


def _seeded(p: Pipeline, sql: str, table: str, rows: int) -> None:
    """Rows written in MySQL and streamed to PostgreSQL; the consumer then stops."""
    _mysql(p, sql)
    with closing(p.consumer()) as c:
        drive(c, lambda: pg_rows(p, f"SELECT count(*) FROM {table}") == [(rows,)])
        c.run(max_seconds=2, idle_stop_s=1)


def _conflicts(p: Pipeline) -> list[tuple[Any, ...]]:
    return pg_rows(
        p,
        "SELECT key::text, incoming_side, kind, winner FROM mps_sync.conflicts"
        " ORDER BY key::text, incoming_side",
    )


def _same(p: Pipeline, sql: str) -> list[tuple[Any, ...]]:
    mine, theirs = mysql_rows(p, sql), pg_rows(p, sql)
    assert mine == theirs, f"the databases differ: mysql {mine} postgres {theirs}; " + str(
        _conflicts(p)
    )
    return mine


# -- last-writer-wins: NULL stamps ----------------------------------------------------------------

NULLABLE_COLUMNS = [
    {"name": "id", "column_type": "bigint(20)", "nullable": False},
    {"name": "name", "column_type": "varchar(64)"},
    {"name": "qty", "column_type": "int(11)"},
    {"name": "stamp", "column_type": "datetime(6)"},
]
NULLABLE_MYSQL = (
    "CREATE TABLE lwn (id bigint PRIMARY KEY, name varchar(64), qty int, stamp datetime(6) NULL)"
)
NULLABLE_PG = (
    "CREATE TABLE public.lwn (id bigint PRIMARY KEY, name varchar(64), qty integer,"
    " stamp timestamp(6) NULL)"
)
LWN = "SELECT id, name, qty, stamp FROM lwn ORDER BY id"


def test_lww_a_null_stamp_loses_and_two_nulls_tie_to_mysql_on_both_sides(
    make_pipeline: PipelineFactory, mysql_db: Any
) -> None:
    """A NULL rule value loses to any non-NULL one; NULL against NULL is a tie, MySQL's. Each
    pair is decided on both appliers, which must agree (deterministic in both directions)."""
    mapping = _mapping(mysql_db.database, "lwn", NULLABLE_COLUMNS, "last_writer_wins", "stamp")
    with make_pipeline([mapping], [NULLABLE_MYSQL], [NULLABLE_PG, FULL.format(t="lwn")]) as p:
        _seeded(
            p,
            "INSERT INTO lwn VALUES (1, 'one', 1, '2030-01-01'), (2, 'two', 2, '2030-01-01'),"
            " (3, 'three', 3, NULL), (4, 'four', 4, '2030-01-01')",
            "lwn",
            4,
        )
        # 1: MySQL clears the stamp, PostgreSQL stamps it: PostgreSQL's row wins
        # 2: both clear it: a tie, MySQL's row
        # 3: NULL before and after on both sides: a tie, MySQL's row
        # 4: MySQL stamps, PostgreSQL clears: MySQL's row
        _mysql(
            p,
            "UPDATE lwn SET qty = 10, stamp = NULL WHERE id = 1",
            "UPDATE lwn SET name = 'm2', stamp = NULL WHERE id = 2",
            "UPDATE lwn SET name = 'm3' WHERE id = 3",
            "UPDATE lwn SET name = 'm4', stamp = '2030-02-01' WHERE id = 4",
        )
        _pg(
            p,
            "UPDATE lwn SET qty = 20, stamp = '2030-01-02' WHERE id = 1",
            "UPDATE lwn SET name = 'p2', stamp = NULL WHERE id = 2",
            "UPDATE lwn SET name = 'p3' WHERE id = 3",
            "UPDATE lwn SET name = 'p4', stamp = NULL WHERE id = 4",
        )
        _settle(p, events=8)
        rows = _same(p, LWN)
        assert [r[:3] for r in rows] == [
            (1, "one", 20),
            (2, "m2", 2),
            (3, "m3", 3),
            (4, "m4", 4),
        ]
        winners = {(json.loads(k)["id"], side): w for k, side, _, w in _conflicts(p)}
        # each pair is decided where the change lands; the losing side's change may be
        # superseded by the winner's echo and not decided again (see test_stream_conflicts)
        assert winners.get((1, "mysql")) == "postgres"
        assert winners.get((2, "postgres")) in (None, "mysql")
        assert winners.get((2, "mysql")) == "mysql"
        assert winners.get((3, "mysql")) == "mysql"
        assert winners.get((4, "mysql")) == "mysql"


def test_lww_a_delete_beats_an_update_that_clears_the_stamp_in_both_orders(
    make_pipeline: PipelineFactory, mysql_db: Any
) -> None:
    """Delete vs an update that sets the rule column to NULL: the delete counts as its time,
    the NULL loses. Checked with each side deleting."""
    mapping = _mapping(mysql_db.database, "lwn", NULLABLE_COLUMNS, "last_writer_wins", "stamp")
    with make_pipeline([mapping], [NULLABLE_MYSQL], [NULLABLE_PG, FULL.format(t="lwn")]) as p:
        _seeded(
            p,
            "INSERT INTO lwn VALUES (1, 'one', 1, '2020-01-01'), (2, 'two', 2, '2020-01-01')",
            "lwn",
            2,
        )
        _mysql(p, "DELETE FROM lwn WHERE id = 1", "UPDATE lwn SET stamp = NULL WHERE id = 2")
        _pg(p, "UPDATE lwn SET stamp = NULL, qty = 7 WHERE id = 1", "DELETE FROM lwn WHERE id = 2")
        _settle(p, events=4)
        assert _same(p, LWN) == []


def test_lww_a_row_whose_other_columns_are_all_null_is_compared_with_its_before_image(
    make_pipeline: PipelineFactory, mysql_db: Any
) -> None:
    """A row holding only its key (every other column NULL, as an application inserts it to
    fill in later) has a whole before-image all the same. It used to be taken for a key-only
    one: PostgreSQL's uncontested update of row 1 (stamp still NULL) was decided by the rule
    column alone, lost the NULL-NULL tie to MySQL and was dropped in MySQL for good; PostgreSQL's
    delete of row 2 was applied in MySQL unchecked, over MySQL's newer update, which PostgreSQL
    then brought back: the sides ended different."""
    mapping = _mapping(mysql_db.database, "lwn", NULLABLE_COLUMNS, "last_writer_wins", "stamp")
    with make_pipeline([mapping], [NULLABLE_MYSQL], [NULLABLE_PG, FULL.format(t="lwn")]) as p:
        _seeded(p, "INSERT INTO lwn (id) VALUES (1), (2)", "lwn", 2)
        _pg(p, "UPDATE lwn SET name = 'p1' WHERE id = 1", "DELETE FROM lwn WHERE id = 2")
        _mysql(p, "UPDATE lwn SET qty = 2, stamp = '2099-01-01' WHERE id = 2")
        _settle(p, events=3)
        rows = _same(p, LWN)
        assert [r[:3] for r in rows] == [(1, "p1", None), (2, None, 2)]
        got = _conflicts(p)
        assert all(json.loads(k)["id"] != 1 for k, *_ in got), f"row 1 had no conflict: {got}"


def test_mysql_wins_a_row_whose_other_columns_are_all_null_is_not_overwritten_blindly(
    make_pipeline: PipelineFactory, mysql_db: Any
) -> None:
    """mysql_wins, FULL: both sides update a row that held only its key. PostgreSQL's update
    used to be applied in MySQL without a compare (its before-image was taken for a key-only
    one) while MySQL's won in PostgreSQL: each side ended with the other's row, unrecorded."""
    mapping = _mapping(mysql_db.database, "fx", ITEMS_COLUMNS, "mysql_wins")
    with make_pipeline([mapping], [FIXED_MYSQL], [FIXED_PG, FULL.format(t="fx")]) as p:
        _seeded(p, "INSERT INTO fx (id) VALUES (1)", "fx", 1)
        _pg(p, "UPDATE fx SET qty = 5 WHERE id = 1")
        _mysql(p, "UPDATE fx SET name = 'm' WHERE id = 1")
        _settle(p, events=2)
        rows = _same(p, "SELECT id, name, qty FROM fx ORDER BY id")
        assert rows == [(1, "m", None)]
        assert ('{"id": 1}', "postgres", "update_update", "mysql") in _conflicts(p)


# -- last-writer-wins: whole-second stamps ---------------------------------------------------------

SECOND_COLUMNS = [
    {"name": "id", "column_type": "bigint(20)", "nullable": False},
    {"name": "name", "column_type": "varchar(64)"},
    {"name": "stamp", "column_type": "datetime", "nullable": False},
]
SECOND_MYSQL = "CREATE TABLE lws (id bigint PRIMARY KEY, name varchar(64), stamp datetime NOT NULL)"
SECOND_PG = (
    "CREATE TABLE public.lws (id bigint PRIMARY KEY, name varchar(64), stamp timestamp(0) NOT NULL)"
)
LWS = "SELECT id, name, stamp FROM lws ORDER BY id"


def test_lww_whole_second_stamps_a_same_second_pair_ties_to_mysql_on_both_sides(
    make_pipeline: PipelineFactory, mysql_db: Any
) -> None:
    """DATETIME(0) / timestamp(0): PostgreSQL's write 0.4 s after MySQL's lands in the same
    second (PostgreSQL rounds .4 down, MariaDB cuts .9 off): equal stamps, MySQL's row on both
    sides, whichever side wrote later in real time. A .6 rounds up in PostgreSQL: PostgreSQL's
    stamp is then a second later and its row wins on both sides."""
    mapping = _mapping(mysql_db.database, "lws", SECOND_COLUMNS, "last_writer_wins", "stamp")
    with make_pipeline([mapping], [SECOND_MYSQL], [SECOND_PG, FULL.format(t="lws")]) as p:
        _seeded(
            p,
            "INSERT INTO lws VALUES (1, 'one', '2030-01-01 00:00:00'),"
            " (2, 'two', '2030-01-01 00:00:00')",
            "lws",
            2,
        )
        _mysql(
            p,
            "UPDATE lws SET name = 'm1', stamp = '2030-01-01 12:00:00.9' WHERE id = 1",
            "UPDATE lws SET name = 'm2', stamp = '2030-01-01 12:00:00.2' WHERE id = 2",
        )
        _pg(
            p,
            "UPDATE lws SET name = 'p1', stamp = '2030-01-01 12:00:00.4' WHERE id = 1",
            "UPDATE lws SET name = 'p2', stamp = '2030-01-01 12:00:00.6' WHERE id = 2",
        )
        _settle(p, events=4)
        rows = _same(p, LWS)
        assert [r[:2] for r in rows] == [(1, "m1"), (2, "p2")]
        assert [str(r[2]) for r in rows] == ["2030-01-01 12:00:00", "2030-01-01 12:00:01"]


def test_lww_timestamptz_decides_by_the_instant_whatever_each_applications_time_zone(
    make_pipeline: PipelineFactory, mysql_db: Any
) -> None:
    """MySQL TIMESTAMP / PostgreSQL timestamptz, each application in its own session time zone
    (MySQL +05:00, PostgreSQL New York in summer time, UTC-4): the later instant wins on both
    sides, not the later wall-clock text."""
    columns = [
        {"name": "id", "column_type": "bigint(20)", "nullable": False},
        {"name": "name", "column_type": "varchar(64)"},
        {"name": "stamp", "column_type": "timestamp(3)", "nullable": False},
    ]
    mapping = _mapping(mysql_db.database, "tz", columns, "last_writer_wins", "stamp")
    with make_pipeline(
        [mapping],
        [
            "CREATE TABLE tz (id bigint PRIMARY KEY, name varchar(64),"
            " stamp timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3))"
        ],
        [
            "CREATE TABLE public.tz (id bigint PRIMARY KEY, name varchar(64),"
            " stamp timestamptz(3) NOT NULL)",
            FULL.format(t="tz"),
        ],
    ) as p:
        _seeded(
            p,
            "INSERT INTO tz VALUES (1, 'one', '2030-01-01 00:00:00'),"
            " (2, 'two', '2030-01-01 00:00:00')",
            "tz",
            2,
        )
        _mysql(
            p,
            "UPDATE tz SET name = 'm1', stamp = '2030-07-01 12:00:00' WHERE id = 1",  # 07:00Z
            "UPDATE tz SET name = 'm2', stamp = '2030-07-01 13:00:00' WHERE id = 2",  # 08:00Z
            session=("SET time_zone = '+05:00'",),
        )
        _pg(
            p,
            "UPDATE tz SET name = 'p1', stamp = '2030-07-01 03:30:00' WHERE id = 1",  # 07:30Z
            "UPDATE tz SET name = 'p2', stamp = '2030-07-01 03:59:00' WHERE id = 2",  # 07:59Z
            session=("SET TIME ZONE 'America/New_York'",),
        )
        _settle(p, events=4)
        rows = _same(p, "SELECT id, name FROM tz ORDER BY id")
        assert rows == [(1, "p1"), (2, "m2")]
        assert pg_rows(p, "SELECT id, stamp AT TIME ZONE 'UTC' FROM tz ORDER BY id") == [
            (1, dt.datetime(2030, 7, 1, 7, 30)),
            (2, dt.datetime(2030, 7, 1, 8, 0)),
        ]


# -- version ---------------------------------------------------------------------------------------

VERSION_COLUMNS = [
    {"name": "id", "column_type": "bigint(20)", "nullable": False},
    {"name": "name", "column_type": "varchar(64)"},
    {"name": "ver", "column_type": "bigint(20) unsigned"},
]
VERSION_MYSQL = "CREATE TABLE ver (id bigint PRIMARY KEY, name varchar(64), ver bigint unsigned)"
VERSION_PG = "CREATE TABLE public.ver (id bigint PRIMARY KEY, name varchar(64), ver numeric(20,0))"
VER = "SELECT id, name, ver FROM ver ORDER BY id"
TOP = 18446744073709551615


def test_version_ties_near_the_unsigned_limit_nulls_and_a_version_going_back(
    make_pipeline: PipelineFactory, mysql_db: Any
) -> None:
    """bigint unsigned (numeric(20,0) in PostgreSQL) near 2^64: the higher version wins by one;
    equal versions with other content tie to MySQL; NULL loses to a version; a version lowered
    on one side while the other did not touch the row is no conflict and is applied."""
    mapping = _mapping(mysql_db.database, "ver", VERSION_COLUMNS, "version", "ver")
    with make_pipeline([mapping], [VERSION_MYSQL], [VERSION_PG, FULL.format(t="ver")]) as p:
        _seeded(
            p,
            f"INSERT INTO ver VALUES (1, 'one', {TOP - 2}), (2, 'two', {TOP - 2}),"
            f" (3, 'three', 5), (4, 'four', 9)",
            "ver",
            4,
        )
        _mysql(
            p,
            f"UPDATE ver SET name = 'm1', ver = {TOP - 1} WHERE id = 1",
            f"UPDATE ver SET name = 'm2', ver = {TOP - 1} WHERE id = 2",
            "UPDATE ver SET name = 'm3', ver = NULL WHERE id = 3",
        )
        _pg(
            p,
            f"UPDATE ver SET name = 'p1', ver = {TOP} WHERE id = 1",
            f"UPDATE ver SET name = 'p2', ver = {TOP - 1} WHERE id = 2",
            "UPDATE ver SET name = 'p3', ver = 6 WHERE id = 3",
            "UPDATE ver SET name = 'p4', ver = 3 WHERE id = 4",  # backwards, uncontested
        )
        _settle(p, events=7)
        rows = _same(p, VER)
        assert [(r[0], r[1], int(r[2])) for r in rows] == [
            (1, "p1", TOP),
            (2, "m2", TOP - 1),
            (3, "p3", 6),
            (4, "p4", 3),
        ]
        keys = {json.loads(k)["id"] for k, *_ in _conflicts(p)}
        assert 4 not in keys, "an uncontested change is no conflict"
        assert {1, 2, 3} <= keys


def test_version_delete_vs_delete_and_insert_vs_insert(
    make_pipeline: PipelineFactory, mysql_db: Any
) -> None:
    """Both sides delete one row: gone, no conflict. Both insert one key: the higher version's
    row on both sides, an equal version MySQL's, and each decision recorded."""
    mapping = _mapping(mysql_db.database, "ver", VERSION_COLUMNS, "version", "ver")
    with make_pipeline([mapping], [VERSION_MYSQL], [VERSION_PG, FULL.format(t="ver")]) as p:
        _seeded(p, "INSERT INTO ver VALUES (1, 'one', 1)", "ver", 1)
        _mysql(
            p,
            "DELETE FROM ver WHERE id = 1",
            "INSERT INTO ver VALUES (2, 'm2', 1), (3, 'm3', 4)",
        )
        _pg(
            p,
            "DELETE FROM ver WHERE id = 1",
            "INSERT INTO ver VALUES (2, 'p2', 2), (3, 'p3', 4)",
        )
        _settle(p, events=6)
        rows = _same(p, VER)
        assert [(r[0], r[1], int(r[2])) for r in rows] == [(2, "p2", 2), (3, "m3", 4)]
        got = _conflicts(p)
        assert all(json.loads(k)["id"] != 1 for k, *_ in got), got
        assert ('{"id": 2}', "mysql", "insert_exists", "postgres") in got
        assert ('{"id": 3}', "postgres", "insert_exists", "mysql") in got


# -- fixed winners ---------------------------------------------------------------------------------

ITEMS_COLUMNS = [
    {"name": "id", "column_type": "bigint(20)", "nullable": False},
    {"name": "name", "column_type": "varchar(64)"},
    {"name": "qty", "column_type": "int(11)"},
    {"name": "note", "column_type": "mediumtext"},
]
FIXED_MYSQL = "CREATE TABLE fx (id bigint PRIMARY KEY, name varchar(64), qty int, note mediumtext)"
FIXED_PG = (
    "CREATE TABLE public.fx (id bigint PRIMARY KEY, name varchar(64), qty integer, note text)"
)
FX = "SELECT id, name, qty, md5(note) FROM fx ORDER BY id"


@pytest.mark.parametrize("order", ["one_batch", "loser_first", "winner_first"])
def test_mysql_wins_whichever_change_is_consumed_first(
    make_pipeline: PipelineFactory, mysql_db: Any, order: str
) -> None:
    """mysql_wins: MySQL's update and PostgreSQL's conflicting update and delete, consumed in
    one batch, PostgreSQL's first, or MySQL's first: MySQL's rows on both sides, always."""
    mapping = _mapping(mysql_db.database, "fx", ITEMS_COLUMNS, "mysql_wins")
    with make_pipeline([mapping], [FIXED_MYSQL], [FIXED_PG, FULL.format(t="fx")]) as p:
        _seeded(p, "INSERT INTO fx VALUES (1, 'one', 1, 'a'), (2, 'two', 2, 'b')", "fx", 2)
        _pg(p, "UPDATE fx SET name = 'p1', qty = 10 WHERE id = 1", "DELETE FROM fx WHERE id = 2")
        _mysql(p, "UPDATE fx SET name = 'm1' WHERE id = 1", "UPDATE fx SET qty = 22 WHERE id = 2")
        if order != "one_batch":
            first = "postgres" if order == "loser_first" else "mysql"
            with closing(p.consumer(incoming_sides=(first,))) as one:
                one.run(max_seconds=4, idle_stop_s=2)
        _settle(p, events=0 if order != "one_batch" else 4)
        rows = _same(p, "SELECT id, name, qty FROM fx ORDER BY id")
        assert rows == [(1, "m1", 1), (2, "two", 22)]


def _big(seed: str) -> str:
    """About 32 KB that PostgreSQL cannot compress: stored out of line (TOAST)."""
    return f"(SELECT string_agg(md5('{seed}' || g), '') FROM generate_series(1, 1000) g)"


@pytest.mark.xfail(
    strict=True,
    reason="known: postgres_wins keeps REPLICA IDENTITY DEFAULT (ADR 0014), so PostgreSQL's "
    "update sends the unchanged big text as a TOAST placeholder; MySQL keeps its own "
    "concurrent value of it while PostgreSQL wins the rest (needs FULL, or a read of the "
    "value from PostgreSQL: outside the applier, see the hunt's report)",
)
def test_postgres_wins_an_update_with_an_unchanged_toasted_text_converges(
    make_pipeline: PipelineFactory, mysql_db: Any
) -> None:
    """postgres_wins keeps PostgreSQL's default replica identity (ADR 0014), so PostgreSQL's
    update of another column sends a big unchanged text as a TOAST placeholder. When MySQL
    changed that text meanwhile, PostgreSQL's row must still win on both sides."""
    mapping = _mapping(mysql_db.database, "fx", ITEMS_COLUMNS, "postgres_wins")
    with make_pipeline([mapping], [FIXED_MYSQL], [FIXED_PG]) as p:
        _seeded(p, "INSERT INTO fx VALUES (1, 'one', 1, 'x')", "fx", 1)
        _pg(p, f"UPDATE fx SET note = {_big('a')} WHERE id = 1")
        _settle(p, events=1)
        _same(p, FX)
        _mysql(p, "UPDATE fx SET note = 'mysql note', name = 'm' WHERE id = 1")
        _pg(p, "UPDATE fx SET qty = 5 WHERE id = 1")
        _settle(p, events=2)
        rows = _same(p, FX)
        (expected,) = pg_rows(p, f"SELECT md5({_big('a')})")
        assert rows == [(1, "one", 5, expected[0])]


def test_lww_an_update_with_an_unchanged_toasted_text_that_wins_carries_the_text(
    make_pipeline: PipelineFactory, mysql_db: Any
) -> None:
    """As above under last_writer_wins with FULL: PostgreSQL's newer update of another column
    wins over MySQL's older change of the big text; MySQL must end with PostgreSQL's text."""
    columns = [*ITEMS_COLUMNS, {"name": "stamp", "column_type": "datetime(6)", "nullable": False}]
    mapping = _mapping(mysql_db.database, "fx", columns, "last_writer_wins", "stamp")
    with make_pipeline(
        [mapping],
        [
            "CREATE TABLE fx (id bigint PRIMARY KEY, name varchar(64), qty int,"
            " note mediumtext, stamp datetime(6) NOT NULL)"
        ],
        [
            "CREATE TABLE public.fx (id bigint PRIMARY KEY, name varchar(64), qty integer,"
            " note text, stamp timestamp(6) NOT NULL)",
            FULL.format(t="fx"),
        ],
    ) as p:
        _seeded(p, "INSERT INTO fx VALUES (1, 'one', 1, 'x', '2030-01-01')", "fx", 1)
        _pg(p, f"UPDATE fx SET note = {_big('b')}, stamp = '2030-01-02' WHERE id = 1")
        _settle(p, events=1)
        _same(p, FX)
        _mysql(p, "UPDATE fx SET note = 'mysql note', stamp = '2030-01-03' WHERE id = 1")
        _pg(p, "UPDATE fx SET qty = 5, stamp = '2030-01-04' WHERE id = 1")
        _settle(p, events=2)
        rows = _same(p, FX)
        (expected,) = pg_rows(p, f"SELECT md5({_big('b')})")
        assert rows == [(1, "one", 5, expected[0])]


# -- the conflicts table ---------------------------------------------------------------------

UNI_COLUMNS = [
    {"name": "region", "column_type": "varchar(32)", "nullable": False},
    {"name": "code", "column_type": "varchar(32)", "nullable": False},
    {"name": "qty", "column_type": "int(11)"},
    {"name": "note", "column_type": "mediumtext"},
    {"name": "stamp", "column_type": "datetime(6)", "nullable": False},
]
UNI_MYSQL = (
    "CREATE TABLE uni (region varchar(32) COLLATE utf8mb4_bin, code varchar(32) COLLATE"
    " utf8mb4_bin, qty int, note mediumtext, stamp datetime(6) NOT NULL,"
    " PRIMARY KEY (region, code))"
)
UNI_PG = (
    "CREATE TABLE public.uni (region varchar(32), code varchar(32), qty integer, note text,"
    " stamp timestamp(6) NOT NULL, PRIMARY KEY (region, code))"
)


def test_a_conflict_on_a_composite_unicode_key_is_recorded_whole(
    make_pipeline: PipelineFactory, mysql_db: Any
) -> None:
    """The record names both key columns with their unicode values, and keeps both images
    whole, a 100 KB text included; the winner, rule and time are set."""
    mapping = _mapping(
        mysql_db.database, "uni", UNI_COLUMNS, "last_writer_wins", "stamp", ("region", "code")
    )
    big = "ü€😀" * 25_000
    with make_pipeline([mapping], [UNI_MYSQL], [UNI_PG, FULL.format(t="uni")]) as p:
        _seeded(p, "INSERT INTO uni VALUES ('Zürich', '東京😀', 1, 'x', '2030-01-01')", "uni", 1)
        _mysql(
            p,
            f"UPDATE uni SET qty = 2, note = '{big}', stamp = '2030-01-03' WHERE code = '東京😀'",
        )
        _pg(p, "UPDATE uni SET qty = 3, stamp = '2030-01-02' WHERE code = '東京😀'")
        _settle(p, events=2)
        rows = _same(p, "SELECT region, code, qty, md5(note), stamp FROM uni")
        assert [r[:3] for r in rows] == [("Zürich", "東京😀", 2)]
        recorded = pg_rows(
            p,
            "SELECT key, incoming_side, winner, rule, kind, incoming_image->>'note',"
            " target_image->>'qty', incoming_image->>'qty', decided_at IS NOT NULL,"
            " source_table, target_table FROM mps_sync.conflicts WHERE incoming_side = 'mysql'",
        )
        assert len(recorded) == 1, recorded
        key, side, winner, rule, kind, note, target_qty, incoming_qty, timed, src, dst = recorded[0]
        assert key == {"region": "Zürich", "code": "東京😀"}
        assert (side, winner, rule, kind) == ("mysql", "mysql", "last_writer_wins", "update_update")
        assert note == big
        assert (target_qty, incoming_qty) == ("3", "2")
        assert timed
        assert src == f"{mysql_db.database}.uni"
        assert dst == "public.uni"
