"""Pure logic of backfill.on_bad_value: reject: finding every bad row, the reject records,
the summary's counts and pointer."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from mysql_pg_sync.backfill.conversion import (
    RejectedRow,
    Rejects,
    convert_batch,
    failing_rows,
    failing_rows_by_column,
)
from mysql_pg_sync.backfill.report import build_summary, render_html
from mysql_pg_sync.backfill.state import key_json
from mysql_pg_sync.errors import ConversionError
from mysql_pg_sync.mapping.models import BackfillOptions, TableMapping
from mysql_pg_sync.types.convert import Stats


def _mapping(columns: list[tuple[str, str]], **extra: object) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": "db.t",
            "target": "public.t",
            "key": ["id"],
            "columns": [{"name": n, "column_type": t} for n, t in columns],
            **extra,
        }
    )


MAPPING = _mapping([("id", "int(11)"), ("flag", "tinyint(1)"), ("n", "smallint(6)")])


def _batch(flags: list[int], ns: list[int]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {"id": list(range(len(flags))), "flag": pa.array(flags, pa.int8()), "n": ns}
    )


def test_on_bad_value_defaults_to_fail_and_round_trips() -> None:
    assert MAPPING.backfill.on_bad_value == "fail"
    rejecting = _mapping([("id", "int(11)")], backfill={"on_bad_value": "reject"})
    assert rejecting.backfill.on_bad_value == "reject"
    dumped = rejecting.model_dump(mode="json", exclude_defaults=True)
    assert dumped["backfill"] == {"on_bad_value": "reject"}
    assert TableMapping.model_validate(dumped) == rejecting
    with pytest.raises(ValueError, match="on_bad_value"):
        BackfillOptions.model_validate({"on_bad_value": "drop"})


def test_every_failing_row_is_found_not_only_the_first() -> None:
    flags = [0] * 100
    for bad in (0, 17, 18, 63, 99):
        flags[bad] = 7
    table = pa.Table.from_batches([_batch(flags, [1] * 100)])
    assert failing_rows(MAPPING, table) == [0, 17, 18, 63, 99]
    assert failing_rows(MAPPING, table.slice(1, 16)) == []


def test_rows_failing_in_two_columns_name_both() -> None:
    table = pa.Table.from_batches([_batch([0, 5, 1, 9], [1, 70000, 80000, 2])])
    bad = failing_rows_by_column(MAPPING, table)
    assert {i: [c.name for c in cols] for i, cols in bad.items()} == {
        1: ["flag", "n"],
        2: ["n"],
        3: ["flag"],
    }


def test_reject_mode_keeps_good_rows_and_records_bad_ones() -> None:
    rejects = Rejects()
    out = convert_batch(MAPPING, _batch([0, 5, 1, 1], [1, 70000, 80000, 2]), None, rejects)
    assert out.to_pylist() == [
        {"id": 0, "flag": False, "n": 1},
        {"id": 3, "flag": True, "n": 2},
    ]
    assert [(r.key, r.column, r.value) for r in rejects.rows] == [
        ({"id": 1}, "flag", 5),
        ({"id": 2}, "n", 80000),
    ]
    assert "also bad: n" in rejects.rows[0].error
    assert "smallint" in rejects.rows[1].error
    # the rejected keys, converted, for a keyset chunk to delete any earlier copy
    assert [b.to_pylist() for b in rejects.pg_keys] == [[{"id": 1}, {"id": 2}]]


def test_reject_mode_with_nothing_bad_is_the_plain_conversion() -> None:
    batch = _batch([0, 1], [1, 2])
    rejects = Rejects()
    assert convert_batch(MAPPING, batch, None, rejects) == convert_batch(MAPPING, batch)
    assert (rejects.rows, rejects.pg_keys) == ([], [])


def test_fail_mode_still_names_table_key_column_value() -> None:
    with pytest.raises(ConversionError, match=r"db.t: key \{'id': 1\}: column 'flag': value 5 "):
        convert_batch(MAPPING, _batch([0, 5], [1, 2]))


def test_stats_count_only_the_rows_that_are_copied() -> None:
    mapping = _mapping(
        [("id", "int(11)"), ("s", "varchar(10)"), ("flag", "tinyint(1)")],
        values={"nul_bytes": "strip"},
    )
    batch = pa.RecordBatch.from_pydict(
        {"id": [1, 2, 3], "s": ["a\x00", "b\x00", "c"], "flag": pa.array([0, 3, 1], pa.int8())}
    )
    stats = Stats()
    rejects = Rejects()
    out = convert_batch(mapping, batch, stats, rejects)
    assert out.column("s").to_pylist() == ["a", "c"]
    assert [r.key for r in rejects.rows] == [{"id": 2}]
    assert stats.nul_bytes_stripped == 1  # the rejected row's NUL is not counted


def test_reject_value_text_and_key_json_survive_nul_bytes() -> None:
    row = RejectedRow({"id": 7, "code": "a\x00b"}, "body", "x\x00y", "NUL")
    assert row.value_text() == "'x\\x00y'"
    assert "\x00" not in key_json(row.key)
    assert json.loads(key_json(row.key)) == {"id": 7, "code": ["repr", "'a\\x00b'"]}
    assert RejectedRow({"id": 1}, "c", None, "e").value_text() is None
    assert "(10002 chars)" in RejectedRow({"id": 1}, "c", "z" * 10000, "e").describe()


def test_summary_counts_rejects_and_points_at_the_reject_table() -> None:
    totals = {"chunks": 2, "chunks_done": 2, "rows": 998, "bytes": 10, "chunk_seconds": 1.0}
    summary = build_summary(
        "r1", {"db.t": {**totals, "rejected": 2}, "db.u": {**totals, "rejected": 0}}, 1.0
    )
    assert summary["tables"]["db.t"]["rejected"] == 2
    assert summary["total"]["rejected"] == 2
    assert summary["rejects"]["table"] == "mps_sync.backfill_rejects"
    assert summary["rejects"]["by_table"] == {"db.t": 2}
    assert "WHERE source_table IN ('db.t')" in summary["rejects"]["query"]
    page = render_html(summary)
    assert "mps_sync.backfill_rejects" in page
    assert "<td>2</td>" in page
    clean = build_summary("r2", {"db.u": {**totals}}, 1.0)
    assert clean["total"]["rejected"] == 0
    assert "rejects" not in clean
    assert "backfill_rejects" not in render_html(clean)
