"""A hand-set pg_type alone carries what the default type cannot, through a real backfill: a
tinyint(1) holding 2, -1 or 127 as smallint, and JSON holding \\u0000 as json (jsonb cannot
store it; its error names the fix)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.integration.test_backfill import make_backfill, mysql_admin_exec, run_all

from mysql_pg_sync.backfill.runner import RunOptions
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.errors import ConversionError
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

JSON_WITH_NUL = '{"a": "x\\u0000y"}'


@pytest.fixture
def source(mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint) -> DatabaseEndpoint:
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        "CREATE TABLE t (id int PRIMARY KEY, tb tinyint(1), j json)",
        "INSERT INTO t VALUES (1, 2, '{}'), (2, -1, NULL), (3, 127, NULL), (4, 0, NULL)",
        f"INSERT INTO t VALUES (5, 1, '{JSON_WITH_NUL.replace(chr(92), chr(92) * 2)}')",
    )
    return mysql_db


def _mapping(db: str, tb: str, j: str) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": f"{db}.t",
            "target": "public.t",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "int(11)", "nullable": False},
                {"name": "tb", "column_type": "tinyint(1)", "pg_type": tb},
                {"name": "j", "column_type": "json", "pg_type": j},
            ],
        }
    )


def test_pg_type_smallint_and_json_are_enough(
    endpoints: Endpoints, source: DatabaseEndpoint, pg_db: DatabaseEndpoint, tmp_path: Path
) -> None:
    mapping = _mapping(source.database, "smallint", "json")
    run_all(make_backfill(endpoints, source, pg_db, [mapping], tmp_path), RunOptions())
    with pg_connect(pg_db) as conn:
        rows = conn.execute("SELECT id, tb, j::text FROM public.t ORDER BY id").fetchall()
    assert rows == [
        (1, 2, "{}"),
        (2, -1, None),
        (3, 127, None),
        (4, 0, None),
        (5, 1, JSON_WITH_NUL),
    ]


@pytest.mark.parametrize(
    ("tb", "j", "error"),
    [
        ("boolean", "json", r"column 'tb'.*set pg_type: smallint"),
        ("smallint", "jsonb", r"column 'j'.*jsonb cannot store.*set pg_type: json"),
    ],
)
def test_the_default_types_fail_naming_the_pg_type_that_fixes_them(
    endpoints: Endpoints,
    source: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    tb: str,
    j: str,
    error: str,
) -> None:
    mapping = _mapping(source.database, tb, j)
    with pytest.raises(ConversionError, match=error):
        run_all(make_backfill(endpoints, source, pg_db, [mapping], tmp_path), RunOptions())
