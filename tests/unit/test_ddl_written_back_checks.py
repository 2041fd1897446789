"""CHECKs for what only the PostgreSQL app can write (NaN, a date past MySQL's years, a
TIMESTAMP past 2038, an interval in months, a tinyint(1) remapped to smallint), the ALTER a
retyped column needs, and `ddl --tables` globs (pure, no server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mysql_pg_sync.cli import main
from mysql_pg_sync.ddl import checks_by_column, plan_ddl, retype_sql
from mysql_pg_sync.mapping.models import MappingSet, TableMapping

pytestmark = pytest.mark.unit


def _mapping(columns: list[dict[str, Any]], **extra: Any) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": "legacy.adv",
            "target": "public.adv",
            "key": ["id"],
            "columns": [{"name": "id", "column_type": "int(11)", "nullable": False}, *columns],
            **extra,
        }
    )


COLUMNS: list[dict[str, Any]] = [
    {"name": "ts", "column_type": "timestamp"},
    {"name": "ts6", "column_type": "timestamp(6)"},
    {"name": "dt", "column_type": "datetime(6)"},
    {"name": "d", "column_type": "date"},
    {"name": "tm", "column_type": "time", "pg_type": "interval"},
    {"name": "f", "column_type": "float"},
    {"name": "dbl", "column_type": "double unsigned"},
    {"name": "n", "column_type": "decimal(10,2)"},
    {"name": "tb", "column_type": "tinyint(1)", "pg_type": "smallint"},
    {"name": "tbu", "column_type": "tinyint(1) unsigned", "pg_type": "smallint"},
]

EXPECTED = {
    "ts": {
        "adv_ts_range": 'CONSTRAINT "adv_ts_range" CHECK ("ts" >= \'1970-01-01 00:00:01+00\' '
        "AND \"ts\" < '2038-01-19 03:14:08+00')"
    },
    "ts6": {  # the first TIMESTAMP(6) is one microsecond after the epoch, MySQL's zero date
        "adv_ts6_range": 'CONSTRAINT "adv_ts6_range" CHECK ("ts6" >= \'1970-01-01 '
        "00:00:00.000001+00' AND \"ts6\" < '2038-01-19 03:14:08+00')"
    },
    "dt": {
        "adv_dt_range": 'CONSTRAINT "adv_dt_range" CHECK ("dt" >= \'0001-01-01 00:00:00\' '
        "AND \"dt\" < '10000-01-01 00:00:00')"
    },
    "d": {
        "adv_d_range": 'CONSTRAINT "adv_d_range" CHECK ("d" >= \'0001-01-01\' '
        "AND \"d\" <= '9999-12-31')"
    },
    "tm": {
        "adv_tm_range": 'CONSTRAINT "adv_tm_range" CHECK ("tm" >= \'-838:59:59.999999\' '
        "AND \"tm\" <= '838:59:59.999999' AND date_part('year', \"tm\") = 0 "
        "AND date_part('month', \"tm\") = 0)"
    },
    "f": {
        "adv_f_finite": 'CONSTRAINT "adv_f_finite" CHECK '
        "(\"f\" NOT IN ('NaN', 'Infinity', '-Infinity'))"
    },
    "dbl": {
        "adv_dbl_range": 'CONSTRAINT "adv_dbl_range" CHECK ("dbl" >= 0)',
        "adv_dbl_finite": 'CONSTRAINT "adv_dbl_finite" CHECK '
        "(\"dbl\" NOT IN ('NaN', 'Infinity', '-Infinity'))",
    },
    "n": {
        "adv_n_finite": 'CONSTRAINT "adv_n_finite" CHECK '
        "(\"n\" NOT IN ('NaN', 'Infinity', '-Infinity'))"
    },
    "tb": {"adv_tb_range": 'CONSTRAINT "adv_tb_range" CHECK ("tb" >= -128 AND "tb" <= 127)'},
    "tbu": {"adv_tbu_range": 'CONSTRAINT "adv_tbu_range" CHECK ("tbu" >= 0 AND "tbu" <= 255)'},
}


def test_a_table_synced_to_mysql_refuses_what_mysql_cannot_hold() -> None:
    assert checks_by_column(_mapping(COLUMNS)) == EXPECTED


@pytest.mark.parametrize("direction", ["both", "pg_to_mysql"])
def test_new_tables_get_them_inline(direction: str) -> None:
    sql = "\n".join(plan_ddl(MappingSet((_mapping(COLUMNS, direction=direction),))))
    for checks in EXPECTED.values():
        for clause in checks.values():
            assert clause in sql


def test_a_table_copied_one_way_gets_only_the_type_ranges() -> None:
    """MySQL's rows never hold NaN or a year past 9999; the integer ranges stay, as before."""
    one_way = checks_by_column(_mapping(COLUMNS, direction="mysql_to_pg"))
    assert one_way == {c: EXPECTED[c] for c in ("tb", "tbu")} | {
        "dbl": {"adv_dbl_range": EXPECTED["dbl"]["adv_dbl_range"]}
    }


def test_a_zero_date_sentinel_stays_writable() -> None:
    mapping = _mapping(
        [{"name": "d", "column_type": "date"}, {"name": "ts", "column_type": "timestamp"}],
        values={"zero_dates": "sentinel"},
    )
    checks = checks_by_column(mapping)
    assert checks["d"]["adv_d_range"] == (
        'CONSTRAINT "adv_d_range" CHECK ("d" = \'-infinity\' OR ("d" >= \'0001-01-01\' '
        "AND \"d\" <= '9999-12-31'))"
    )
    assert "\"ts\" = '-infinity' OR (" in checks["ts"]["adv_ts_range"]


def test_other_pg_types_get_none() -> None:
    """A hand-set pg_type that is not a date or float (text) is not compared with dates."""
    mapping = _mapping(
        [
            {"name": "d", "column_type": "date", "pg_type": "text"},
            {"name": "tm", "column_type": "time"},  # time(0): 00:00-24:00, within TIME
            {"name": "tb", "column_type": "tinyint(1)"},  # boolean
        ]
    )
    assert checks_by_column(mapping) == {}


def test_existing_tables_get_the_missing_ones_not_valid_then_validated() -> None:
    mapping = _mapping(COLUMNS)
    plan = plan_ddl(
        MappingSet((mapping,)),
        existing={"legacy.adv": {c["name"] for c in COLUMNS} | {"id"}},
        missing_checks={"legacy.adv": ["adv_ts_range", "adv_f_finite"]},
        replica_identities={"legacy.adv": "f"},
    )
    assert plan[-3:] == [
        'ALTER TABLE "public"."adv"\n  ADD ' + EXPECTED["f"]["adv_f_finite"] + " NOT VALID,\n"
        "  ADD " + EXPECTED["ts"]["adv_ts_range"] + " NOT VALID",
        'ALTER TABLE "public"."adv" VALIDATE CONSTRAINT "adv_f_finite"',
        'ALTER TABLE "public"."adv" VALIDATE CONSTRAINT "adv_ts_range"',
    ]


# --- the ALTER a retyped column needs ----------------------------------------------------------


@pytest.mark.parametrize(
    ("have", "wanted", "has_default", "expected"),
    [
        # tinyint(1) remapped from boolean: no boolean -> smallint cast, nor for its default
        (
            "boolean",
            "smallint",
            True,
            'ALTER COLUMN "c" DROP DEFAULT, ALTER COLUMN "c" TYPE smallint USING "c"::integer, '
            'ALTER COLUMN "c" SET DEFAULT 0',
        ),
        ("boolean", "smallint", False, 'ALTER COLUMN "c" TYPE smallint USING "c"::integer'),
        ("smallint", "boolean", False, 'ALTER COLUMN "c" TYPE boolean USING "c" <> 0'),
        (
            "character varying(5)",
            "integer",
            False,
            'ALTER COLUMN "c" TYPE integer USING "c"::integer',
        ),
        ("text", "jsonb", False, 'ALTER COLUMN "c" TYPE jsonb USING "c"::jsonb'),
        ("bytea", "uuid", False, 'ALTER COLUMN "c" TYPE uuid USING encode("c", \'hex\')::uuid'),
        (
            "uuid",
            "bytea",
            False,
            "ALTER COLUMN \"c\" TYPE bytea USING decode(replace(\"c\"::text, '-', ''), 'hex')",
        ),
        ("text[]", "text", False, 'ALTER COLUMN "c" TYPE text USING array_to_string("c", \',\')'),
        # assignment casts: no USING, and a default converts with them
        (
            "character varying(10)",
            "character varying(40)",
            True,
            'ALTER COLUMN "c" TYPE character varying(40)',
        ),
        ("integer", "bigint", True, 'ALTER COLUMN "c" TYPE bigint'),
        ("jsonb", "json", False, 'ALTER COLUMN "c" TYPE json'),
        ("time(0) without time zone", "interval", False, 'ALTER COLUMN "c" TYPE interval'),
    ],
)
def test_a_retype_says_how_to_convert_the_values(
    have: str, wanted: str, has_default: bool, expected: str
) -> None:
    column = {"name": "c", "column_type": "tinyint(1)", "pg_type": "smallint", "default": "0"}
    mapping = _mapping([column])
    assert retype_sql(mapping, mapping.column("c"), have, wanted, has_default) == expected


# --- ddl --tables takes globs, as backfill and reconcile do -----------------------------------


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "maps"
    folder.mkdir()
    for table in ("adv_a", "adv_b", "other"):
        entry = {
            "source": f"legacy.{table}",
            "target": f"public.{table}",
            "key": ["id"],
            "columns": [{"name": "id", "column_type": "int(11)", "nullable": False}],
        }
        (folder / f"legacy.{table}.yaml").write_text(yaml.safe_dump([entry]))
    return folder


@pytest.mark.parametrize("pattern", ["legacy.adv_*", "adv_*", "public.adv_?"])
def test_ddl_tables_takes_globs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pattern: str
) -> None:
    folder = _folder(tmp_path)
    args = ["ddl", "--dry-run", "--as-new", "--mappings", str(folder), "--tables", pattern]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert 'CREATE TABLE IF NOT EXISTS "public"."adv_a"' in out
    assert 'CREATE TABLE IF NOT EXISTS "public"."adv_b"' in out
    assert '"other"' not in out


def test_ddl_tables_glob_matching_nothing_names_the_known_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(tmp_path)
    args = ["ddl", "--dry-run", "--as-new", "--mappings", str(folder), "--tables", "nope*"]
    assert main(args) != 0
    assert "no mapping matches 'nope*'; known: legacy.adv_a" in capsys.readouterr().err
