"""The stream's answers to schema changes made while a table streams, without servers: a
Debezium key that is not the mapping's key, a staging table older than its target's column
types, and a mapped column `ddl` would add beside a column PostgreSQL renamed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from mysql_pg_sync.cdc.apply import (
    Applier,
    BatchResult,
    KeyMismatchError,
    MissingTargetColumnError,
    plan_for,
)
from mysql_pg_sync.cdc.batch import CollapsedChange
from mysql_pg_sync.cdc.events import ChangeEvent, Side
from mysql_pg_sync.cdc.targets import StaleStageError, is_transient
from mysql_pg_sync.ddl import NOT_RENAMED_OPTION, suspected_rename_problem, suspected_renames
from mysql_pg_sync.dialects import postgres
from mysql_pg_sync.mapping.models import MappingSet, TableMapping


def _mapping(direction: str = "mysql_to_pg", **extra: Any) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": "app.items",
            "target": "public.items",
            "key": ["id", "lang"],
            "columns": [
                {"name": "id", "column_type": "bigint(20)", "nullable": False},
                {"name": "lang", "column_type": "varchar(5)", "nullable": False},
                {"name": "note", "column_type": "text"},
                {"name": "qty", "column_type": "int(11)"},
            ],
            "direction": direction,
            **extra,
        }
    )


def _change(key: dict[str, Any], side: Side = "mysql") -> CollapsedChange:
    after = {"id": 1, "lang": "de", "note": "n", "qty": 1, **key}
    namespace, table = ("app", "items") if side == "mysql" else ("public", "items")
    event = ChangeEvent(side, namespace, table, "u", key, None, after, 0)
    return CollapsedChange(event, None, after, 1)


class _Session:
    """Only what the applier touches on its way to a write, which fails as ``failure`` says."""

    dialect = postgres
    side = "postgres"
    missing_column_fix = "run `make ddl`"

    def __init__(self, failure: Exception | None = None, stale: bool = False) -> None:
        self.failure, self.stale, self.upserts = failure, stale, 0

    def sequence_columns(self, table_sql: str) -> tuple[str, ...]:
        return ()

    def savepoint(self, name: str) -> None:
        pass

    def lock_rows(self, *args: Any) -> dict[Any, Any]:
        return {}

    def upsert(self, *args: Any, **kwargs: Any) -> None:
        self.upserts += 1
        if self.failure is not None:
            raise self.failure

    def is_row_error(self, exc: BaseException) -> bool:
        return False

    def lacks_column(self, exc: BaseException) -> bool:
        return False

    def lacks_table(self, exc: BaseException) -> bool:
        return False

    def stale_stage(self, exc: BaseException) -> bool:
        return self.stale


def _applier(session: _Session, mapping: TableMapping) -> Applier:
    return Applier(session, MappingSet((mapping,)))  # type: ignore[arg-type]


def _apply(applier: Applier, changes: Sequence[CollapsedChange]) -> BatchResult:
    result = BatchResult()
    applier.apply(changes, result)
    return result


# -- the change's key is not the mapping's ------------------------------------------------------


def test_a_change_keyed_by_other_columns_is_a_dead_letter_naming_both_keys_and_the_fix() -> None:
    session = _Session()
    result = _apply(_applier(session, _mapping()), [_change({"id": 1, "lang": "de", "qty": 1})])
    (letter,) = result.dead_letters
    assert isinstance(letter.error, KeyMismatchError)
    message = str(letter.error)
    assert "app.items: MySQL's change is keyed by (id, lang, qty)" in message
    assert "more columns than the mapping's key (id, lang)" in message
    assert "dead-letters retry --table app.items" in message
    assert "(this change's key: {'id': 1, 'lang': 'de', 'qty': 1})" in message
    assert session.upserts == 0  # nothing of it written
    assert result.counts("app.items", "mysql").dead_letters == 1


def test_a_key_with_fewer_or_other_columns_than_the_mapping_s_applies() -> None:
    """A mapping may key a table by a unique key that is not its primary key (docs/backfill.md):
    Debezium keys by the primary key, and the mapping's key still tells rows apart."""
    session = _Session()
    narrower = _apply(_applier(session, _mapping()), [_change({"id": 1})])
    assert narrower.dead_letters == []
    other = _apply(_applier(session, _mapping()), [_change({"qty": 1})])  # a primary key on qty
    assert other.dead_letters == []
    assert session.upserts == 2


def test_the_mapping_s_key_columns_in_another_order_apply() -> None:
    session = _Session()
    result = _apply(_applier(session, _mapping()), [_change({"lang": "de", "id": 1})])
    assert result.dead_letters == []
    assert session.upserts == 1


def test_the_key_shape_is_worked_out_once_per_table_and_key_columns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    applier = _applier(_Session(), _mapping())
    wrong = [_change({"id": i, "lang": "de", "qty": 1}) for i in range(3)]
    result = _apply(applier, wrong)
    result2 = _apply(applier, [_change({"id": 9, "lang": "de", "qty": 1})])
    assert len(result.dead_letters) + len(result2.dead_letters) == 4
    assert len(applier._key_shapes) == 1
    assert sum("is keyed by" in r.message for r in caplog.records) == 1


# -- a staging table older than the target's column types ---------------------------------------


def test_a_stale_stage_runs_the_batch_again_once_then_holds_only_that_table() -> None:
    failure = RuntimeError('column "note" is of type jsonb but expression is of type text')
    session = _Session(failure, stale=True)
    applier = _applier(session, _mapping())
    with pytest.raises(StaleStageError) as first:
        _apply(applier, [_change({"id": 1, "lang": "de"})])
    assert is_transient(first.value)  # the consumer rolls back (fresh stages) and runs it again
    with pytest.raises(MissingTargetColumnError) as second:
        _apply(applier, [_change({"id": 1, "lang": "de"})])
    assert second.value.table == "app.items"  # the consumer holds this table, the others go on
    assert second.value.side == "mysql"
    assert "also with staging tables built afresh" in str(second.value)


def test_a_table_that_applies_after_its_rerun_gets_a_rerun_again_next_time() -> None:
    failure = RuntimeError("jsonb but text")
    session = _Session(failure, stale=True)
    applier = _applier(session, _mapping())
    with pytest.raises(StaleStageError):
        _apply(applier, [_change({"id": 1, "lang": "de"})])
    session.failure = None
    _apply(applier, [_change({"id": 1, "lang": "de"})])
    session.failure = failure
    with pytest.raises(StaleStageError):
        _apply(applier, [_change({"id": 1, "lang": "de"})])


def test_another_error_is_not_taken_for_a_stale_stage() -> None:
    session = _Session(RuntimeError("boom"), stale=False)
    with pytest.raises(RuntimeError, match="boom"):
        _apply(_applier(session, _mapping()), [_change({"id": 1, "lang": "de"})])


def test_the_plan_keeps_the_mapping_s_key_in_source_names() -> None:
    plan = plan_for(_mapping("both"), "postgres", postgres)
    assert plan.src_key == ("id", "lang")


# -- ddl: a mapped column to add beside an unmapped column of its type ------------------------


def test_a_missing_mapped_column_beside_an_unmapped_one_of_its_type_is_a_suspected_rename() -> None:
    mapping = _mapping()
    present = {"id": "bigint", "lang": "character varying(5)", "memo": "text", "qty": "integer"}
    wanted = {"note": "text"}
    (suspect,) = suspected_renames(mapping, present, wanted)
    assert (suspect.column.name, suspect.present, suspect.pg_type) == ("note", "memo", "text")
    problem = suspected_rename_problem(mapping, suspect)
    assert "lacks the mapped column 'note'" in problem
    assert "the column 'memo' of the same type (text)" in problem
    assert "`pg_name: memo` on the entry 'note'" in problem
    assert NOT_RENAMED_OPTION in problem


@pytest.mark.parametrize(
    ("present", "extra"),
    [
        ({"memo": "integer"}, {}),  # another type: not the renamed column
        ({"memo": "text"}, {"postgres_only_columns": ["memo"]}),  # PostgreSQL's own, declared
        ({"note": "text", "memo": "text"}, {}),  # nothing to add
    ],
)
def test_no_suspected_rename(present: dict[str, str], extra: dict[str, Any]) -> None:
    columns = {"id": "bigint", "lang": "character varying(5)", "qty": "integer", **present}
    assert suspected_renames(_mapping(**extra), columns, {"note": "text"}) == []


def test_locked_rows_are_found_by_key_columns_wherever_they_stand() -> None:
    from mysql_pg_sync.cdc.targets import _key_positions

    assert _key_positions(["id", "code", "qty"], ["code"]) == [1]
    assert _key_positions(["a", "b", "c"], ["c", "a"]) == [2, 0]
