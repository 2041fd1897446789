"""What the data-quality run asks PostgreSQL to do: no statement may return a whole table.

The tests capture every statement Great Expectations sends (a SQLAlchemy event on the real
engine; nothing is mocked).

1. GE reads a query asset's column names by executing the asset's query as it is
   (``great_expectations/expectations/metrics/util.py`` ``column_reflection_fallback``: no
   LIMIT), and psycopg2's client-side cursor fetches every row before GE looks at the names:
   the worker held the whole table in memory (+204 MB peak RSS for a 174 MB table). Tables
   with plain names are table assets now, others (and SET members) views in ``mps_sync``; GE
   reflects the columns of both from the catalog.
2. ``key_unique`` on a single-column key is a ``count(*) OVER (PARTITION BY key)`` over the
   whole table, run twice (samples, then the count): two full sorts of a 50 GB table for a
   check that cannot fail, since the table's PRIMARY KEY already enforces it. Checks a
   validated constraint enforces now pass naming it, unscanned (``quality/enforced.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.ddl import create_table_sql
from mysql_pg_sync.mapping.models import MappingSet, TableMapping
from mysql_pg_sync.quality.config import load_quality_config
from mysql_pg_sync.quality.gx_runner import view_name
from mysql_pg_sync.quality.plan import column_aliases, table_query
from mysql_pg_sync.quality.run import run_quality
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

ROWS = 2000


def _mapping(db: str) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": f"{db}.items",
            "target": "public.items",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "int(10) unsigned", "nullable": False},
                {"name": "status", "column_type": "enum('new','paid')", "nullable": False},
                {"name": "qty", "column_type": "int(10) unsigned", "nullable": False},
                {"name": "note", "column_type": "varchar(20)"},
            ],
        }
    )


@pytest.fixture
def statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split()))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


@pytest.fixture
def run_items(
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    endpoints: Endpoints,
    tmp_path: Path,
):  # type: ignore[no-untyped-def]
    db = mysql_db.database
    conn = mysql_connect(replace(mysql_admin, database=db), autocommit=True)
    cur = conn.cursor()
    cur.execute(
        "CREATE TABLE items (id int unsigned PRIMARY KEY, status enum('new','paid') NOT NULL,"
        " qty int unsigned NOT NULL, note varchar(20))"
    )
    cur.executemany(
        "INSERT INTO items VALUES (%s, 'new', %s, NULL)", [(i, i) for i in range(1, ROWS + 1)]
    )
    conn.close()
    mapping = _mapping(db)
    with pg_connect(pg_db, autocommit=True) as pg:
        for statement in create_table_sql(mapping):  # as `make ddl` creates it
            pg.execute(statement)  # type: ignore[arg-type]
        pg.execute(
            f"INSERT INTO public.items SELECT g, 'new', g, NULL FROM generate_series(1, {ROWS}) g"
        )

    def run():  # type: ignore[no-untyped-def]
        return run_quality(
            replace(endpoints, mysql=mysql_db, postgres=pg_db),
            MappingSet((mapping,)),
            load_quality_config(tmp_path / "none"),
            "manual__scans",
            reports=tmp_path,
        )

    return mapping, run


def test_no_statement_fetches_every_row_of_the_table(run_items, statements: list[str]) -> None:
    mapping, run = run_items
    result = run()
    assert result.success
    bare = " ".join(table_query(mapping, column_aliases(mapping)).split())
    fetch_all = [s for s in statements if s == bare]
    assert fetch_all == [], (
        f"{len(fetch_all)} statement(s) return every row of public.items to the worker: {bare}"
    )


def test_a_key_the_primary_key_enforces_is_not_sorted_in_full(
    run_items, statements: list[str]
) -> None:
    _, run = run_items
    result = run()
    (unique,) = [r for r in result.results if r.check == "key_unique"]
    assert unique.outcome not in ("failed", "error"), unique
    window_sorts = [s for s in statements if "PARTITION BY" in s and "public" in s]
    assert window_sorts == [], (
        f"{len(window_sorts)} full-table window sort(s) for a key the PRIMARY KEY enforces"
    )


def _views(pg_db: DatabaseEndpoint) -> set[str]:
    with pg_connect(pg_db, autocommit=True) as pg:
        rows = pg.execute("SELECT viewname FROM pg_views WHERE schemaname = 'mps_sync'")
        return {r[0] for r in rows.fetchall()}


def test_a_table_ge_cannot_name_is_read_through_a_view_the_run_drops(
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    endpoints: Endpoints,
    tmp_path: Path,
    statements: list[str],
) -> None:
    """A mixed-case table (aliased columns) and a SET column's members: views, whose columns
    GE reflects; the run's views are dropped, a dead run's day-old one too, and a concurrent
    run's fresh one is left alone."""
    db = mysql_db.database
    conn = mysql_connect(replace(mysql_admin, database=db), autocommit=True)
    conn.cursor().execute(
        "CREATE TABLE `Group` (`ID` int PRIMARY KEY, `Name` varchar(9) NOT NULL,"
        " `Tags` set('a','b'))"
    )
    conn.cursor().execute("INSERT INTO `Group` VALUES (1, 'x', 'a'), (2, 'y', 'a,b')")
    conn.close()
    mapping = TableMapping.model_validate(
        {
            "source": f"{db}.Group",
            "target": "public.Group",
            "key": ["ID"],
            "columns": [
                {"name": "ID", "column_type": "int(11)", "nullable": False},
                {"name": "Name", "column_type": "varchar(9)", "nullable": False},
                {"name": "Tags", "column_type": "set('a','b')"},
            ],
        }
    )
    now = datetime.now(UTC)
    dead = view_name(now - timedelta(days=2), "0badc0de", 0)
    running = view_name(now - timedelta(hours=1), "0feedbee", 0)
    with pg_connect(pg_db, autocommit=True) as pg:
        # without the constraints `make ddl` adds, so that the checks have breaches to find
        pg.execute('CREATE TABLE public."Group" ("ID" int, "Name" varchar(9), "Tags" text[])')
        pg.execute("""INSERT INTO public."Group" VALUES (1, 'x', '{a}'), (2, NULL, '{a,zz}')""")
        pg.execute("CREATE SCHEMA IF NOT EXISTS mps_sync")
        for name in (dead, running):
            pg.execute(f'CREATE VIEW mps_sync."{name}" AS SELECT 1 AS one')  # type: ignore[arg-type]
    run = run_quality(
        replace(endpoints, mysql=mysql_db, postgres=pg_db),
        MappingSet((mapping,)),
        load_quality_config(tmp_path / "none"),
        "manual__views",
        reports=tmp_path,
    )
    outcome = {r.check_id: (r.outcome, r.sample) for r in run.results if r.check != "custom"}
    assert outcome["not_null:Name"] == ("failed", [None])
    assert outcome["set_values:Tags"] == ("failed", ["zz"])
    assert outcome["key_unique:ID"][0] == "passed"
    assert outcome["row_count_parity"][0] == "passed"
    read_views = [s for s in statements if "gx_" in s]
    assert read_views, "the checks did not read the views"
    bare = re.compile(r'^SELECT \* FROM "?mps_sync"?\."?gx_\w+"?$', re.IGNORECASE)
    whole = [s for s in read_views if bare.match(s)]
    assert whole == [], whole
    unaliased = " ".join(table_query(mapping, column_aliases(mapping)).split())
    assert unaliased not in statements
    assert _views(pg_db) == {running}


def test_checks_constraints_enforce_pass_named_and_the_rest_still_scan(
    run_items, pg_db: DatabaseEndpoint, statements: list[str]
) -> None:
    """Each check a validated constraint guarantees passes naming it; a NOT VALID CHECK, or a
    CHECK that allows more than the check, does not count: those checks scan and find rows."""
    _, run = run_items
    with pg_connect(pg_db, autocommit=True) as pg:
        pg.execute("ALTER TABLE public.items DROP CONSTRAINT items_qty_range")
        pg.execute("INSERT INTO public.items VALUES (0, 'new', -1, NULL)")
        pg.execute(
            "ALTER TABLE public.items ADD CONSTRAINT items_qty_range"
            " CHECK (qty >= 0 AND qty <= 4294967295) NOT VALID"
        )
        pg.execute("ALTER TABLE public.items DROP CONSTRAINT items_status_check")
        pg.execute("ALTER TABLE public.items ADD CHECK (status IN ('new', 'paid', 'old'))")
        pg.execute(f"INSERT INTO public.items VALUES ({ROWS + 1}, 'old', 1, NULL)")
    result = run()
    by_id = {r.check_id: r for r in result.results}
    assert by_id["key_unique:id"].detail == (
        "enforced by constraint items_pkey (PRIMARY KEY (id)); not scanned"
    )
    assert by_id["not_null:qty"].detail == (
        "enforced by the NOT NULL constraint of column 'qty'; not scanned"
    )
    assert by_id["range:id"].detail.startswith("enforced by constraint items_id_range CHECK")
    # scanned: the CHECK on qty is NOT VALID, the one on status allows 'old'
    assert (by_id["range:qty"].outcome, by_id["range:qty"].sample) == ("failed", [-1])
    assert (by_id["enum_values:status"].outcome, by_id["enum_values:status"].sample) == (
        "failed",
        ["old"],
    )
    scanned = [s for s in statements if "FROM public.items" in s and "status" in s]
    assert scanned, "enum_values:status was not validated"
