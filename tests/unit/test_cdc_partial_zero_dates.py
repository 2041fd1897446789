"""The stream's partial zero date check without servers: which MySQL text is one, which columns
are looked up, the lookup statement, and the positions it reports."""

from __future__ import annotations

import pytest

from mysql_pg_sync.cdc.partial_zero_dates import (
    any_partial_sql,
    date_columns,
    first_partial_zero,
    is_partial_zero,
    lookup_sql,
    null_dates,
)
from mysql_pg_sync.mapping.models import TableMapping


@pytest.mark.parametrize(
    ("text", "partial"),
    [
        ("2020-00-15", True),
        ("2020-05-00", True),
        ("2020-00-00", True),
        ("0000-05-10", True),  # year 0: Debezium's binlog reader sends it as null too
        ("2021-00-00 10:00:00", True),
        ("2020-05-00 10:00:00.000000", True),
        ("0000-00-00 10:00:00", True),  # a time on the zero date is not the zero date
        ("0000-00-00", False),  # MySQL's zero date: values.zero_dates decides
        ("0000-00-00 00:00:00", False),
        ("0000-00-00 00:00:00.000000", False),
        ("2020-01-02", False),
        ("1970-01-01 00:00:00", False),
        ("", False),
    ],
)
def test_a_partial_zero_date_has_a_zero_part_and_is_not_the_zero_date(
    text: str, partial: bool
) -> None:
    assert is_partial_zero(text) is partial


def test_only_date_and_datetime_columns_carried_as_null_are_looked_up() -> None:
    mapping = TableMapping.model_validate(
        {
            "source": "app.t",
            "target": "public.t",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "int(11)", "nullable": False},
                {"name": "d", "column_type": "date"},
                {"name": "dt", "column_type": "datetime(6)", "nullable": False},
                {"name": "ts", "column_type": "timestamp"},  # cannot hold a zero month
                {"name": "note", "column_type": "varchar(10)"},
                {"name": "d2", "column_type": "date"},
            ],
        }
    )
    after = {"id": 1, "d": None, "dt": None, "ts": None, "note": None, "d2": "2020-01-01"}
    dates = date_columns(mapping.synced_columns())
    assert dates == ("d", "dt", "d2")
    assert null_dates(dates, after) == ("d", "dt")
    assert null_dates(dates, {"id": 1}) == ()  # absent is not null


def test_the_lookup_reads_each_key_by_position_in_one_statement() -> None:
    sql = lookup_sql("`app`.`t`", ["a", "b"], ["d", "dt"], 2)
    branch = "CAST(`d` AS CHAR), CAST(`dt` AS CHAR) FROM `app`.`t` WHERE `a` = %s AND `b` = %s"
    assert sql == f"SELECT 0, {branch} UNION ALL SELECT 1, {branch}"


def test_only_a_column_the_change_carried_as_null_counts() -> None:
    columns = ["d", "dt"]
    assert first_partial_zero(["d"], columns, ["2020-00-15", None]) == ("d", "2020-00-15")
    # dt holds one, but this change carried dt as a value: a later change wrote it
    assert first_partial_zero(["d"], columns, [None, "2020-05-00 00:00:00"]) is None
    assert first_partial_zero(["d", "dt"], columns, ["0000-00-00", None]) is None


def test_the_cheap_check_asks_for_any_partial_zero_date_among_all_keys_at_once() -> None:
    one = any_partial_sql("`app`.`t`", ["id"], ["d"], 3)
    assert one == (
        "SELECT 1 FROM `app`.`t` WHERE (`id` IN (%s, %s, %s)) AND "
        "((`d` <> 0 AND (YEAR(`d`) = 0 OR MONTH(`d`) = 0 OR DAYOFMONTH(`d`) = 0))) LIMIT 1"
    )
    two = any_partial_sql("`app`.`t`", ["a", "b"], ["d", "dt"], 2)
    assert "WHERE ((`a` = %s AND `b` = %s) OR (`a` = %s AND `b` = %s)) AND (" in two
    assert "DAYOFMONTH(`d`) = 0)) OR (`dt` <> 0 AND" in two
