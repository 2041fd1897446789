"""Source log order of Debezium changes: what tells a re-emitted change from a new one."""

from __future__ import annotations

import json

from mysql_pg_sync.cdc import source_order
from mysql_pg_sync.cdc.source_order import source_order as order_of


def test_mariadb_orders_by_binlog_file_position_and_row() -> None:
    first = order_of("mysql", "c", {"file": "mariadb-bin.000005", "pos": 1908372, "row": 0}, None)
    same_event_next_row = order_of(
        "mysql", "u", {"file": "mariadb-bin.000005", "pos": 1908372, "row": 1}, None
    )
    after_rotation = order_of(
        "mysql", "d", {"file": "mariadb-bin.000006", "pos": 4, "row": 0}, None
    )
    assert first == (0, 5, 1908372, 0, 1)
    assert first < same_event_next_row < after_rotation


def test_the_create_half_of_a_primary_key_update_sorts_after_its_delete() -> None:
    # Debezium sends UPDATE t SET id = id + 100 as a delete of the old key and a create of the
    # new one, both at the row's position: in one partition the create was taken for a resent
    # duplicate of the delete, and the new row was lost
    where = {"file": "mariadb-bin.000005", "pos": 1908372, "row": 2}
    deleted, created = order_of("mysql", "d", where, None), order_of("mysql", "c", where, None)
    assert deleted is not None
    assert created is not None
    assert not source_order.is_duplicate(created, deleted)
    assert source_order.is_duplicate(deleted, created)  # each, sent again, is one
    assert source_order.is_duplicate(created, created)


def test_postgres_orders_by_previous_commit_then_order_in_the_transaction() -> None:
    def pg(seq: list[str], total: int | None) -> tuple[int, ...] | None:
        tx = {"id": "1:2", "total_order": total} if total is not None else None
        return order_of("postgres", "u", {"sequence": json.dumps(seq), "lsn": 99}, tx)

    # a later change of the same transaction can sit at a lower LSN: the order inside wins
    first, second = pg(["100", "180"], 1), pg(["100", "150"], 2)
    next_transaction = pg(["200", "120"], 1)
    assert None not in (first, second, next_transaction)
    assert first < second < next_transaction  # type: ignore[operator]
    assert pg(["100", "180"], None) == (0, 100, 180)  # no transaction metadata: the LSN decides


def test_snapshot_reads_and_unknown_shapes_get_no_order() -> None:
    assert order_of("mysql", "r", {"file": "b.000001", "pos": 4, "row": 0}, None) is None
    assert order_of("mysql", "c", {"file": None, "pos": None}, None) is None
    assert order_of("postgres", "c", {"sequence": "not json"}, None) is None
    assert order_of("postgres", "c", {}, None) is None


def test_round_trip_through_the_state_table_text() -> None:
    assert source_order.load(source_order.dump((1, 5, 1908372, 0))) == (1, 5, 1908372, 0)
    assert source_order.dump(None) is None
    assert source_order.load(None) is None


def test_a_lower_position_is_a_duplicate_only_in_the_same_servers_log() -> None:
    """Found in review: after a failover the new primary's binlog numbering may be lower, and
    every change compared below the old high-water mark was dropped as a duplicate."""

    def binlog(file: str, pos: int, server: int) -> tuple[int, ...]:
        source = {"file": file, "pos": pos, "row": 0, "server_id": server}
        order = order_of("mysql", "u", source, None)
        assert order is not None
        return order

    high, again = binlog("b.000040", 900, 1), binlog("b.000040", 900, 1)
    older, newer = binlog("b.000039", 5, 1), binlog("b.000040", 901, 1)
    failover = binlog("b.000002", 4, 2)
    assert source_order.is_duplicate(again, high)
    assert source_order.is_duplicate(older, high)
    assert not source_order.is_duplicate(newer, high)
    assert not source_order.is_duplicate(failover, high)
    assert not source_order.is_duplicate(newer, (40, 900, 0))  # stored before the server id


def test_the_first_transaction_of_a_new_postgres_connector_is_never_a_duplicate() -> None:
    """Found in review: a connector started without offsets sends no previous commit LSN for
    its first transaction; read as 0 it sorted below everything applied and was dropped."""
    first = order_of("postgres", "c", {"sequence": json.dumps([None, "5000"])}, None)
    assert first is None
