"""Pure backfill logic: chunk ranges, predicates, grouping, key encoding, Arrow conversion."""

from __future__ import annotations

import datetime as dt
import pickle
from decimal import Decimal

import pyarrow as pa
import pytest

from mysql_pg_sync.backfill.conversion import convert_batch
from mysql_pg_sync.backfill.keys import decode_key, encode_key, mysql_literal
from mysql_pg_sync.backfill.plan import (
    MAX_MAP_LENGTH,
    PlanError,
    chunk_rows_for,
    chunks_from_boundaries,
    group_chunks,
    integer_range_predicate,
    key_strategy,
    mysql_range_predicate,
)
from mysql_pg_sync.backfill.report import build_summary, render_html
from mysql_pg_sync.backfill.runner import ChunkGroupError, ChunksNotDone, is_settled
from mysql_pg_sync.dialects.mysql import quote_ident
from mysql_pg_sync.errors import ConversionError, PreflightError
from mysql_pg_sync.mapping.models import TableMapping


def test_chunks_cover_everything_open_ended() -> None:
    chunks = chunks_from_boundaries("db.t", [(100,), (5000,)], strategy="integer")
    assert [(c.seq, c.lower, c.upper) for c in chunks] == [
        (0, None, (100,)),
        (1, (100,), (5000,)),
        (2, (5000,), None),
    ]
    assert chunks_from_boundaries("db.t", [], strategy="integer")[0].lower is None


def test_chunks_carry_the_walks_row_estimates() -> None:
    chunks = chunks_from_boundaries(
        "db.t", [(100,), (5000,)], strategy="integer", chunk_rows=1000, tail_rows=37
    )
    assert [c.est_rows for c in chunks] == [1000, 1000, 37]
    only = chunks_from_boundaries("db.t", [], strategy="integer", chunk_rows=1000, tail_rows=5)
    assert [c.est_rows for c in only] == [5]


def test_unordered_or_repeated_boundaries_are_refused() -> None:
    with pytest.raises(PlanError, match="not increasing"):
        chunks_from_boundaries("db.t", [(5,), (3,)], strategy="integer")
    with pytest.raises(PlanError, match="repeats"):
        chunks_from_boundaries("db.t", [("a",), ("a",)], strategy="keyset")


def test_composite_predicate_is_lexicographic_and_mysql_only() -> None:
    where = mysql_range_predicate(["r", "c"], ("N", 5), ("S", 1), quote_ident)
    n, s = mysql_literal("N"), mysql_literal("S")
    assert where == (
        f"((`r` > {n}) OR (`r` = {n} AND `c` >= 5)) AND ((`r` < {s}) OR (`r` = {s} AND `c` < 1))"
    )
    assert mysql_range_predicate(["id"], None, None, quote_ident) == "1=1"
    assert integer_range_predicate('"id"', (10,), None) == '"id" >= 10'


def test_string_literals_are_hex_and_take_the_column_collation() -> None:
    assert mysql_literal("it's 😀") == "_utf8mb4 X'" + "it's 😀".encode().hex() + "'"
    assert mysql_literal(b"\x00\xff") == "X'00ff'"
    assert mysql_literal(dt.date(2020, 1, 2)) == "'2020-01-02'"


def test_key_encoding_round_trips() -> None:
    key = (
        1,
        "ä",
        b"\x00",
        Decimal("1.50"),
        dt.datetime(2020, 1, 1, 2, 3, 4, 5),
        dt.date(2020, 1, 1),
    )
    assert decode_key(encode_key(key)) == key


def test_strategy_and_chunk_size() -> None:
    assert key_strategy(["int"]) == "integer"
    assert key_strategy(["text"]) == "keyset"
    assert key_strategy(["int", "int"]) == "keyset"
    # the mapping's backfill.key_hint decides when given
    assert key_strategy(["uint64"], "keyset") == "keyset"
    assert key_strategy(["year"], "integer") == "integer"
    with pytest.raises(PlanError, match=r"db\.t: backfill.key_hint is integer .*kinds: text"):
        key_strategy(["text"], "integer", table="db.t")
    assert chunk_rows_for(250_000, 10, 100) == 104_857
    assert chunk_rows_for(None, 1, 0) == 5242  # no statistics yet: 200 bytes a row


def test_groups_stay_under_max_map_length() -> None:
    refs = [("db.t", i) for i in range(5000)]
    groups = group_chunks(refs, 1000)
    assert len(groups) <= 1000 < MAX_MAP_LENGTH
    assert [r for g in groups for r in g] == refs
    assert group_chunks(refs[:3], 1000) == [[r] for r in refs[:3]]
    with pytest.raises(PlanError):
        group_chunks(refs, 2000)


def test_small_chunks_share_a_task_up_to_one_chunks_worth() -> None:
    big = [("db.big", i) for i in range(3)]
    small = [(f"db.small{i}", 0) for i in range(200)]
    fill = {("db.big", 0): 1.0, ("db.big", 1): 1.0, ("db.big", 2): 0.3}
    fill |= dict.fromkeys(small, 0.05)
    groups = group_chunks(big + small, 1000, fill)
    assert [r for g in groups for r in g] == big + small  # every chunk once, in order
    assert groups[0] == [("db.big", 0)]
    assert groups[1] == [("db.big", 1)]
    # the big table's tail and the small tables fill tasks to one chunk's worth each
    assert groups[2] == [("db.big", 2), *small[:14]]
    assert [len(g) for g in groups[3:]] == [20] * 9 + [6]
    assert len(groups) == 13  # 203 chunks, not 203 task instances


def test_a_task_takes_at_most_fifty_tiny_tables() -> None:
    tiny = [(f"db.t{i}", 0) for i in range(220)]
    groups = group_chunks(tiny, 1000, dict.fromkeys(tiny, 0.0001))
    assert [len(g) for g in groups] == [50, 50, 50, 50, 20]


def test_small_work_is_still_split_for_the_parallel_workers() -> None:
    tiny = [(f"db.t{i}", 0) for i in range(40)]
    groups = group_chunks(tiny, 1000, dict.fromkeys(tiny, 0.01), parallel=2)
    assert [len(g) for g in groups] == [20, 20]  # not one task of 40 beside an idle worker


def test_packing_never_puts_a_full_chunk_beside_another_chunk() -> None:
    refs = [("db.a", 0), ("db.b", 0), ("db.c", 0)]
    groups = group_chunks(refs, 1000, {("db.a", 0): 0.5, ("db.b", 0): 1.0, ("db.c", 0): 0.2})
    assert groups == [[("db.a", 0)], [("db.b", 0)], [("db.c", 0)]]
    # without estimates (plans from before them) every chunk counts as full
    assert group_chunks(refs, 1000) == [[r] for r in refs]


def test_a_chunk_group_error_names_each_failed_chunk_across_processes() -> None:
    error = ChunkGroupError([("db.a", 0, "ConversionError: bad"), ("db.b", 3, "BackfillError: no")])
    again = pickle.loads(pickle.dumps(error))  # the CLI's workers are processes
    assert again.tables == {"db.a", "db.b"}
    assert str(again) == str(error)
    assert "db.a #0: ConversionError: bad; db.b #3: BackfillError: no" in str(again)


def test_only_failures_a_retry_cannot_get_past_are_settled() -> None:
    assert is_settled(ConversionError("db.t: key {'id': 2}: column 'd': value ..."))
    assert is_settled(ChunksNotDone("db.t: 1 chunk(s) are not done"))
    assert not is_settled(PreflightError("all replication origins are in use"))  # they free up
    assert not is_settled(OSError("connection reset"))
    assert is_settled(ChunkGroupError([("db.a", 0, "ConversionError: x")], settled=True))
    assert not is_settled(ChunkGroupError([("db.a", 0, "PreflightError: y")], settled=False))
    assert pickle.loads(pickle.dumps(ChunkGroupError([], settled=True))).settled


def test_packed_groups_still_stay_under_the_cap() -> None:
    refs = [("db.t", i) for i in range(3000)]
    fill = dict.fromkeys(refs, 0.5)
    groups = group_chunks(refs, 1000, fill)
    assert len(groups) <= 1000
    assert [r for g in groups for r in g] == refs


def _mapping(columns: list[tuple[str, str]]) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": "db.t",
            "target": "public.t",
            "key": ["id"],
            "columns": [{"name": n, "column_type": t} for n, t in columns],
        }
    )


def test_batches_convert_to_postgres_names_and_types() -> None:
    mapping = _mapping([("id", "bigint(20)"), ("flag", "tinyint(1)"), ("tags", "set('a','b')")])
    batch = pa.RecordBatch.from_pydict(
        {
            "id": pa.array([1, 2], pa.uint64()),
            "flag": pa.array([1, None], pa.int8()),
            "tags": ["a,b", ""],
        }
    )
    out = convert_batch(mapping, batch)
    assert out.schema.field("id").type == pa.int64()
    assert out.to_pylist() == [
        {"id": 1, "flag": True, "tags": ["a", "b"]},
        {"id": 2, "flag": None, "tags": []},
    ]


def test_conversion_error_names_table_key_column_value() -> None:
    mapping = _mapping([("id", "int(11)"), ("flag", "tinyint(1)"), ("n", "smallint(6)")])
    batch = pa.RecordBatch.from_pydict(
        {
            "id": list(range(100)),
            "flag": pa.array([0] * 57 + [5] + [1] * 42, pa.int8()),
            "n": [1] * 100,
        }
    )
    with pytest.raises(ConversionError, match=r"db.t: key \{'id': 57\}: column 'flag': value 5 "):
        convert_batch(mapping, batch)
    # an Arrow cast failure (overflow) gets the same treatment
    batch = pa.RecordBatch.from_pydict(
        {"id": [1, 2], "flag": pa.array([0, 1], pa.int8()), "n": [1, 70000]}
    )
    with pytest.raises(ConversionError, match=r"key \{'id': 2\}: column 'n': value 70000 "):
        convert_batch(mapping, batch)


def test_a_time_that_does_not_convert_is_named_as_mysql_prints_it() -> None:
    """The reader reads TIME as microseconds; the error showed -3020399000000."""
    mapping = _mapping([("id", "int(11)"), ("t", "time")])
    batch = pa.RecordBatch.from_pydict(
        {"id": [1, 2], "t": pa.array([3_600_000_000, -3_020_399_000_000], pa.int64())}
    )
    with pytest.raises(ConversionError, match=r"key \{'id': 2\}: column 't': value '-838:59:59' "):
        convert_batch(mapping, batch)


def test_summary_totals_and_html() -> None:
    summary = build_summary(
        "r<1>",
        {
            "db.t": {
                "chunks": 2,
                "chunks_done": 2,
                "rows": 1000,
                "bytes": 2_000_000,
                "chunk_seconds": 2.0,
            }
        },
        4.0,
    )
    assert summary["total"]["rows_per_s"] == 250.0
    assert summary["tables"]["db.t"]["mb_per_s"] == 1.0
    assert "r&lt;1&gt;" in render_html(summary)


def test_capture_match_and_topic_names() -> None:
    from mysql_pg_sync.backfill.handoff import _captures, topic_for

    mapping = _mapping([("id", "int(11)")])
    mariadb = {"connector.class": "io.debezium.connector.mariadb.MariaDbConnector"}
    assert _captures({**mariadb, "table.include.list": "other.x,db\\.t"}, mapping)
    assert not _captures({**mariadb, "table.include.list": "db\\.other"}, mapping)
    assert _captures({**mariadb, "database.include.list": "db"}, mapping)
    pg_source = {"connector.class": "io.debezium.connector.postgresql.PostgresConnector"}
    assert not _captures({**pg_source, "table.include.list": "db\\.t"}, mapping)
    assert topic_for("legacy", mapping) == "legacy.db.t"
    # Debezium writes a table whose name Kafka cannot hold to a topic with '_' for each such
    # character: the backfill's recorded position and the stream's subscription must use it
    odd = TableMapping.model_validate(
        {**mapping.model_dump(), "source": "db.order items$", "target": "public.order_items"}
    )
    assert topic_for("legacy", odd) == "legacy.db.order_items_"


def test_psycopg_placeholders_become_libpq_ones() -> None:
    from mysql_pg_sync.backfill.writer import _numbered

    assert _numbered("SELECT f(%s, %s)") == "SELECT f($1, $2)"
    assert _numbered("SELECT 1") == "SELECT 1"


def test_a_disabled_mapping_is_refused_for_being_disabled() -> None:
    """It said "direction is both: PostgreSQL is not a target"."""
    from mysql_pg_sync.backfill.runner import refusal

    entry = {
        "source": "legacy.t",
        "target": "public.t",
        "key": ["id"],
        "columns": [{"name": "id", "column_type": "int(11)", "nullable": False}],
    }
    assert refusal(TableMapping.model_validate(entry)) is None
    disabled = TableMapping.model_validate({**entry, "enabled": False})
    assert refusal(disabled) == "enabled: false in its mapping"
    one_way = TableMapping.model_validate({**entry, "direction": "pg_to_mysql"})
    assert refusal(one_way) == "direction is pg_to_mysql: PostgreSQL is not a target"
