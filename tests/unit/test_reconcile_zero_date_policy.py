"""values.zero_dates in reconcile: the canonical text MySQL's zero date prints as, and how a
repair image reads dates; no servers (the integration side is test_reconcile_repair_images)."""

from __future__ import annotations

from typing import Any

import pytest

from mysql_pg_sync import dialects
from mysql_pg_sync.dialects.stored_type import StoredType
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.reconcile.errors import ReconcileError
from mysql_pg_sync.reconcile.model import (
    refuse_null_keys,
    sentinel_text,
    table_from_mapping,
)
from mysql_pg_sync.reconcile.sqlside import TableSide


def _mapping(values: dict[str, Any] | None = None, key: str = "id") -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": "legacy.t",
            "target": "public.t",
            "key": [key],
            "columns": [
                {"name": "id", "column_type": "bigint"},
                {"name": "d", "column_type": "date"},
                {"name": "dt", "column_type": "datetime(3)", "nullable": False},
                {"name": "ts", "column_type": "timestamp"},
                {"name": "note", "column_type": "varchar(10)"},
                {"name": "ign", "column_type": "date"},
            ],
            "reconcile": {"ignore_columns": ["ign"]},
            **({"values": values} if values is not None else {}),
        }
    )


def _zero_dates(values: dict[str, Any] | None) -> dict[str, str | None]:
    return {c.mysql_name: c.zero_date for c in table_from_mapping(_mapping(values)).columns}


@pytest.mark.parametrize("values", [None, {}, {"zero_dates": "null"}])
def test_under_the_null_policy_a_zero_date_has_no_text(values: dict[str, Any] | None) -> None:
    assert set(_zero_dates(values).values()) == {None}


def test_under_the_sentinel_policy_date_columns_carry_the_sentinels_text() -> None:
    assert _zero_dates({"zero_dates": "sentinel"}) == {
        "id": None,
        "d": "-infinity",
        "dt": "-infinity",  # NOT NULL and NULL-able alike: the backfill writes both so
        "ts": "-infinity",
        "note": None,
    }
    custom = {"zero_dates": "sentinel", "zero_date_sentinel": "0001-01-01"}
    assert _zero_dates(custom) == {
        "id": None,
        "d": "0001-01-01",
        "dt": "0001-01-01 00:00:00",
        "ts": "0001-01-01 00:00:00",
        "note": None,
    }


@pytest.mark.parametrize(
    ("sentinel", "date", "timestamp"),
    [
        # as PostgreSQL prints them (ISO DateStyle; checked against the server)
        ("-infinity", "-infinity", "-infinity"),
        ("-Infinity", "-infinity", "-infinity"),
        ("infinity", "infinity", "infinity"),
        (" 0001-01-01 ", "0001-01-01", "0001-01-01 00:00:00"),
        ("1900-01-01 10:00:00", "1900-01-01", "1900-01-01 10:00:00"),
        ("2000-01-01T01:02:03", "2000-01-01", "2000-01-01 01:02:03"),
    ],
)
def test_the_sentinels_text_is_postgresqls(sentinel: str, date: str, timestamp: str) -> None:
    assert sentinel_text(sentinel, "date") == date
    assert sentinel_text(sentinel, "datetime") == timestamp
    assert sentinel_text(sentinel, "timestamp") == timestamp


@pytest.mark.parametrize(
    "sentinel",
    ["epoch", "+infinity", "0001-01-01 BC", "2000-01-01 00:00:00+02:00", "1900-01-01 00:00:00.5"],
)
def test_a_sentinel_reconcile_cannot_print_refuses_the_table(sentinel: str) -> None:
    """A guessed text would make every zero-date row drift (or hide drift): refused, named."""
    values = {"zero_dates": "sentinel", "zero_date_sentinel": sentinel}
    with pytest.raises(ReconcileError, match=r"^legacy\.t: column 'd': values.zero_date_sentinel"):
        table_from_mapping(_mapping(values))


def test_the_mysql_zero_date_prints_the_sentinel_as_a_constant() -> None:
    my = dialects.mysql
    assert my.canonical_text_sql("c", "date", zero_date="-infinity") == (
        "IF(c = 0, '-infinity', CAST(c AS CHAR))"
    )
    whole = StoredType.from_row("datetime", None, 0)
    assert my.canonical_text_sql("c", "datetime", stored=whole, zero_date="-infinity") == (
        "IF(c = 0, '-infinity', CAST(c AS CHAR))"
    )
    general = my.canonical_text_sql("c", "timestamp", zero_date="0001-01-01 00:00:00")
    assert "IF(c = 0, '0001-01-01 00:00:00', DATE_FORMAT(" in general
    assert "%%" in my.canonical_text_sql("c", "date", zero_date="50%")  # a template literal


@pytest.mark.parametrize("kind", ["date", "datetime", "timestamp"])
@pytest.mark.parametrize(
    "stored",
    [None, StoredType.from_row("date", None, None), StoredType.from_row("datetime", None, 3)],
)
def test_without_a_sentinel_the_sql_is_what_it_was(kind: str, stored: StoredType | None) -> None:
    """The benchmark path: no sentinel, no change in a byte of the checksum SQL."""
    for dialect in (dialects.mysql, dialects.postgres):
        for implicit in (False, True):
            plain = dialect.canonical_text_sql("c", kind, stored=stored, implicit=implicit)
            assert plain == dialect.canonical_text_sql(
                "c", kind, stored=stored, implicit=implicit, zero_date=None
            )
            assert ("NULL" in plain) == (dialect is dialects.mysql)
    assert dialects.postgres.canonical_text_sql("c", kind, zero_date="-infinity") == (
        dialects.postgres.canonical_text_sql("c", kind)  # PostgreSQL stores the sentinel itself
    )


def test_the_default_policys_row_hash_is_unchanged() -> None:
    """A frozen copy of the MySQL row hash for a date and a datetime(3) column, default policy."""
    mapping = TableMapping.model_validate(
        {
            "source": "legacy.t",
            "target": "public.t",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "bigint"},
                {"name": "d", "column_type": "date"},
                {"name": "dt", "column_type": "datetime(3)"},
            ],
        }
    )
    side = TableSide("mysql", dialects.mysql, table_from_mapping(mapping), None)  # type: ignore[arg-type]
    dt_text = (
        "IF(MICROSECOND(`dt`) = 0, IF(`dt` = 0, NULL, DATE_FORMAT(`dt`, '%%Y-%%m-%%d "
        "%%H:%%i:%%s')), TRIM(TRAILING '0' FROM DATE_FORMAT(`dt`, '%%Y-%%m-%%d "
        "%%H:%%i:%%s.%%f')))"
    )
    assert side.row_hash_sql == (
        "SHA2(CONCAT_WS('|', COALESCE((`id` + 0), 'N'), COALESCE(IF(`d` = 0, NULL, `d`), 'N'), "
        f"COALESCE({dt_text}, 'N')), 256)"
    )


def test_a_repair_image_reads_mysql_dates_as_text() -> None:
    """As the stream's converters take them: '0000-00-00' is the zero date, not None."""
    assert dialects.mysql.image_value_sql("`d`", "date") == "CAST(`d` AS CHAR)"
    assert dialects.mysql.image_value_sql("`d`", "datetime") == "CAST(`d` AS CHAR)"
    assert dialects.mysql.image_value_sql("`d`", "timestamp") == "CAST(`d` AS CHAR)"
    assert dialects.mysql.image_value_sql("`t`", "time") == "`t`"
    assert dialects.mysql.image_value_sql("`n`", "int") == "`n`"
    assert dialects.postgres.image_value_sql('"d"', "date") == '"d"'


def test_ignored_date_columns_are_read_as_dates_too() -> None:
    table = table_from_mapping(_mapping({"zero_dates": "sentinel"}))
    assert [(c.mysql_name, c.kind) for c in table.copied] == [("ign", "date")]


@pytest.mark.parametrize(
    ("values", "text"), [({}, None), ({"zero_dates": "sentinel"}, "0001-01-01 00:00:00")]
)
def test_a_zero_date_key_is_refused_and_shown_as_mysql_holds_it(
    values: dict[str, Any], text: str | None
) -> None:
    """Under the sentinel policy the key's text is the sentinel's, but MySQL's driver still
    reads the key as None: refused as before, and shown as MySQL's zero date."""
    values = {**values, "zero_date_sentinel": "0001-01-01"} if values else values
    table = table_from_mapping(_mapping(values, key="dt"))
    with pytest.raises(ReconcileError) as caught:
        refuse_null_keys(table, "mysql", [((None,), (text,))])
    assert "dt='0000-00-00 00:00:00'" in str(caught.value)
    assert "0001-01-01" not in str(caught.value)
