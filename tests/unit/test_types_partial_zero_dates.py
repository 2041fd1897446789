"""MySQL's zero date follows values.zero_dates; a partial zero date ('2020-00-15') and a zero
date in a key column (under ``null``) are errors, in the row converters and the Arrow ones."""

from __future__ import annotations

import pickle

import adbc_driver_manager
import pyarrow as pa
import pytest

from mysql_pg_sync.backfill.conversion import convert_batch
from mysql_pg_sync.backfill.plan import ChunkSpec
from mysql_pg_sync.backfill.runner import ChunkGroupError, _portable, is_settled
from mysql_pg_sync.backfill.writer import ChunkCopyError, RowsRefused
from mysql_pg_sync.backfill.writer import _portable as portable_write_error
from mysql_pg_sync.errors import ConversionError
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.types.arrow import to_pg_table
from mysql_pg_sync.types.convert import Stats, is_zero_date, row_to_pg, to_pg


def _mapping(**values: str) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": "legacy.z",
            "target": "public.z",
            "key": ["k"],
            "columns": [
                {"name": "k", "column_type": "datetime", "nullable": False},
                {"name": "d", "column_type": "date"},
            ],
            "values": values,
        }
    )


@pytest.mark.parametrize(
    ("text", "zero"),
    [
        ("0000-00-00", True),
        ("0000-00-00 00:00:00", True),
        ("0000-00-00 00:00:00.000", True),
        ("2020-00-15", False),
        ("2020-05-00", False),
        ("0000-00-01", False),
        ("0000-00-00 10:00:00", False),
    ],
)
def test_only_the_all_zero_value_is_the_zero_date(text: str, zero: bool) -> None:
    assert is_zero_date(text) is zero


@pytest.mark.parametrize("policy", ["null", "sentinel"])
@pytest.mark.parametrize("value", ["2020-00-15", "2020-05-00", "2021-00-00 10:00:00"])
def test_a_partial_zero_date_is_an_error_under_either_policy(policy: str, value: str) -> None:
    mapping = _mapping(zero_dates=policy)
    stats = Stats()
    with pytest.raises(ConversionError, match=r"column 'd'.*zero month or day.*clean the row"):
        row_to_pg(mapping, {"k": "2020-01-01 00:00:00", "d": value}, stats)
    table = pa.table({"k": ["2020-01-01 00:00:00"], "d": [value]})
    with pytest.raises(ConversionError, match=r"key \(k='2020-01-01 00:00:00'\).*zero month"):
        to_pg_table(mapping, table, stats)
    assert stats.zero_dates == 0  # never counted as a zero date


def test_the_zero_date_outside_the_key_is_null_or_the_sentinel() -> None:
    column = _mapping().column("d")
    assert to_pg(column, "0000-00-00") is None
    sentinel = _mapping(zero_dates="sentinel").values
    assert to_pg(column, "0000-00-00", sentinel) == "-infinity"


def test_a_zero_date_key_is_an_error_under_null_and_the_sentinel_otherwise() -> None:
    row = {"k": "0000-00-00 00:00:00", "d": None}
    with pytest.raises(ConversionError, match=r"column 'k'.*key column holds MySQL's zero date"):
        row_to_pg(_mapping(), row)
    batch = pa.record_batch({"k": ["0000-00-00 00:00:00"], "d": pa.array([None], pa.string())})
    with pytest.raises(ConversionError, match=r"key \{'k': '0000-00-00 00:00:00'\}.*clean the"):
        convert_batch(_mapping(), batch)
    kept = _mapping(zero_dates="sentinel", zero_date_sentinel="0001-01-01")
    assert row_to_pg(kept, row)["k"] == "0001-01-01"
    assert convert_batch(kept, batch).column(0).to_pylist()[0].year == 1


def test_driver_errors_cross_the_worker_processes() -> None:
    """ADBC's errors pickle but do not unpickle, which broke the CLI's whole process pool."""
    refused = adbc_driver_manager.IntegrityError(
        'INTEGRITY: [libpq] Failed: ERROR:  null value in column "k"',
        status_code=adbc_driver_manager.AdbcStatusCode.INTEGRITY,
        sqlstate="23502",
    )
    with pytest.raises(TypeError):
        pickle.loads(pickle.dumps(refused))
    chunk = ChunkSpec("legacy.k", 0, None, None)
    error = portable_write_error(refused, chunk)
    assert isinstance(error, RowsRefused)
    assert is_settled(error)
    assert "legacy.k #0" in str(error)
    assert 'null value in column "k"' in str(error)
    assert str(pickle.loads(pickle.dumps(error))) == str(error)

    gone = adbc_driver_manager.OperationalError(
        "IO: connection lost", status_code=adbc_driver_manager.AdbcStatusCode.IO, sqlstate="08006"
    )
    lost = portable_write_error(gone, chunk)
    assert isinstance(lost, ChunkCopyError)
    assert not is_settled(lost)
    copied = _portable(gone)
    assert isinstance(copied, ChunkCopyError)
    assert "connection lost" in str(copied)
    group = ChunkGroupError([("legacy.k", 0, "x")])
    assert _portable(group) is group  # picklable errors go as they are
