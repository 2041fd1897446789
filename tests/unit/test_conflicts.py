"""Conflict decisions per rule, ties, deletes; and the same rule as SQL inside the upsert."""

from __future__ import annotations

import datetime as dt

import pytest

from mysql_pg_sync.cdc import apply_sql
from mysql_pg_sync.cdc.conflicts import Decision, Observation, decide, incoming_wins
from mysql_pg_sync.dialects import mysql, postgres


def seen(**kw: object) -> Observation:
    base: dict[str, object] = {
        "incoming_side": "mysql",
        "op": "u",
        "exists": True,
        "same_as_after": False,
        "has_before": True,
        "same_as_before": True,
    }
    base.update(kw)
    return Observation(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rule", "observation", "expected"),
    [
        # no conflict: the target still holds what the source changed from
        ("mysql_wins", seen(incoming_side="postgres"), Decision("apply")),
        # nothing to write: the target already equals the incoming image (echoes die here)
        ("postgres_wins", seen(same_as_after=True, same_as_before=False), Decision("skip_same")),
        # update/update
        ("mysql_wins", seen(same_as_before=False), Decision("apply", "update_update", "mysql")),
        (
            "mysql_wins",
            seen(incoming_side="postgres", same_as_before=False),
            Decision("skip_lost", "update_update", "mysql"),
        ),
        (
            "postgres_wins",
            seen(same_as_before=False),
            Decision("skip_lost", "update_update", "postgres"),
        ),
        (
            "last_writer_wins",
            seen(same_as_before=False, incoming_rule_value=2, target_rule_value=1),
            Decision("apply", "update_update", "mysql"),
        ),
        (
            "version",
            seen(same_as_before=False, incoming_rule_value=1, target_rule_value=2),
            Decision("skip_lost", "update_update", "postgres"),
        ),
        # ties go to MySQL, whichever side the change comes from
        (
            "last_writer_wins",
            seen(
                incoming_side="postgres",
                same_as_before=False,
                incoming_rule_value=5,
                target_rule_value=5,
            ),
            Decision("skip_lost", "update_update", "mysql"),
        ),
        # insert meets an existing different row
        (
            "postgres_wins",
            seen(op="c", has_before=False, same_as_before=False),
            Decision("skip_lost", "insert_exists", "postgres"),
        ),
        # update of a row the target deleted
        (
            "mysql_wins",
            seen(exists=False, incoming_side="postgres"),
            Decision("skip_lost", "update_delete", "mysql"),
        ),
        ("last_writer_wins", seen(exists=False), Decision("apply", "update_delete", "mysql")),
        # delete of a row the target changed
        (
            "last_writer_wins",
            seen(
                op="d",
                same_as_before=False,
                delete_ts=dt.datetime(2026, 1, 1),
                target_rule_value=dt.datetime(2031, 1, 1),
            ),
            Decision("skip_lost", "delete_update", "postgres"),
        ),
        (
            "version",
            seen(op="d", same_as_before=False, incoming_rule_value=3, target_rule_value=3),
            Decision("apply", "delete_update", "mysql"),
        ),
        ("mysql_wins", seen(op="d", exists=False), Decision("skip_same")),
        # no before-image (PostgreSQL without REPLICA IDENTITY FULL): the rule column decides
        (
            "last_writer_wins",
            seen(
                incoming_side="postgres",
                has_before=False,
                incoming_rule_value=1,
                target_rule_value=2,
            ),
            Decision("skip_lost", "update_update", "mysql"),
        ),
        ("mysql_wins", seen(incoming_side="postgres", has_before=False), Decision("apply")),
    ],
)
def test_decide(rule: str, observation: Observation, expected: Decision) -> None:
    assert decide(rule, observation) == expected


def test_null_rule_values_lose_and_aware_times_compare_in_utc() -> None:
    assert incoming_wins("last_writer_wins", "postgres", 1, None)
    assert not incoming_wins("last_writer_wins", "mysql", None, 1)
    later = dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert not incoming_wins("last_writer_wins", "postgres", later, dt.datetime(2026, 1, 1, 10, 30))
    with pytest.raises(ValueError, match="unknown conflict rule"):
        incoming_wins("newest", "mysql", 1, 2)


@pytest.mark.parametrize(
    ("dialect", "side", "expected"),
    [
        (
            postgres,
            "mysql",
            '(tgt."ts" < EXCLUDED."ts" OR (tgt."ts" IS NULL AND EXCLUDED."ts" IS NOT NULL) '
            'OR ((tgt."ts" IS NOT DISTINCT FROM EXCLUDED."ts") AND TRUE))',
        ),
        (
            mysql,
            "postgres",
            "(`ts` < VALUES(`ts`) OR (`ts` IS NULL AND VALUES(`ts`) IS NOT NULL) "
            "OR ((`ts` <=> VALUES(`ts`)) AND FALSE))",
        ),
    ],
)
def test_guard_sql_is_the_rule_inside_the_write(dialect: object, side: str, expected: str) -> None:
    assert apply_sql.guard_sql(dialect, "last_writer_wins", "ts", side) == expected  # type: ignore[arg-type]
    assert apply_sql.guard_sql(dialect, "postgres_wins", None, side) == (  # type: ignore[arg-type]
        "TRUE" if side == "postgres" else "FALSE"
    )


def test_upsert_sql_per_dialect() -> None:
    pg = postgres.upsert_sql('"s"."t"', ["id", "v", "ts"], ["id"], "SELECT 1", "G")
    assert pg == (
        'INSERT INTO "s"."t" AS tgt ("id", "v", "ts") SELECT 1 ON CONFLICT ("id") DO UPDATE SET '
        '"v" = EXCLUDED."v", "ts" = EXCLUDED."ts" WHERE G'
    )
    my = mysql.upsert_sql("`d`.`t`", ["id", "v", "ts"], ["id"], "VALUES (%s, %s, %s)", "G")
    assert my == (
        "INSERT INTO `d`.`t` (`id`, `v`, `ts`) VALUES (%s, %s, %s) ON DUPLICATE KEY UPDATE "
        "`v` = IF((@mps_win := (G)), VALUES(`v`), `v`), `ts` = IF(@mps_win, VALUES(`ts`), `ts`)"
    )
    assert "DO NOTHING" in postgres.upsert_sql('"t"', ["id"], ["id"], "SELECT 1")
