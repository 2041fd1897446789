"""A JSON object holding a key twice: MariaDB keeps the text and reads the first value, jsonb
keeps the last. The detector (exact and vectorised), the converters that refuse it for jsonb,
and the comparison that never calls such a value equal to its jsonb copy."""

from __future__ import annotations

import json
import random

import pyarrow as pa
import pytest

from mysql_pg_sync.backfill.conversion import Rejects, convert_batch
from mysql_pg_sync.errors import ConversionError
from mysql_pg_sync.json_values import duplicate_key, json_value
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.reconcile.canonical import json_equal
from mysql_pg_sync.types.convert import to_mysql, to_pg
from mysql_pg_sync.types.json_keys import rows_with_duplicate_keys

pytestmark = pytest.mark.unit

REPEATED = [
    ('{"a":1,"a":2}', "a"),
    ('{"x":{"a":1,"b":{"c":[{"k":1,"k" : 2}]}}}', "k"),  # nested, in an array, spaced colon
    ('[{"id":1},{"id":2,"n":{"id":3},"id":4}]', "id"),  # the repeat skips a nested object
    ('{"a":1,"\\u0061":2}', "a"),  # equal once unescaped
    ('{"q\\"":1,"q\\u0022":2}', 'q"'),
    ('{\n  "a": "x\\\\",\n  "a": "y"\n}', "a"),
    ('{"long_key_name_x":1,"long_key_name_x":2}', "long_key_name_x"),
]
UNIQUE = [
    '{"a":1,"b":{"a":2}}',  # the same key in a nested object
    '[{"id":1},{"id":2}]',  # ... in sibling objects
    '{"a":"\\"a\\":1,","b":"a"}',  # key-like text inside strings
    '{"a":["a","a"],"b":{"c":{"a":1}},"c":1}',
    '{"long_key_name_x":1,"long_key_name_y":2}',  # same length, first and last 8 bytes differ
    '{"\\\\":1,"\\\\\\\\":2}',
    '"a"',
    "[]",
    "{}",
]


@pytest.mark.parametrize(("text", "key"), REPEATED)
def test_the_exact_detector_names_the_repeated_key(text: str, key: str) -> None:
    assert duplicate_key(text) == key


@pytest.mark.parametrize("text", [*UNIQUE, "not json", '{"a":'])
def test_no_false_positive(text: str) -> None:
    assert duplicate_key(text) is None


def test_the_vectorised_detector_finds_exactly_those_rows() -> None:
    values = [*UNIQUE, None, *(t for t, _ in REPEATED), "", *UNIQUE]
    got = rows_with_duplicate_keys(pa.array(values, pa.string()))
    assert got == [i for i, v in enumerate(values) if v and duplicate_key(v) is not None]
    assert len(got) == len(REPEATED)
    sliced = pa.array(values, pa.large_string()).slice(3, 8)  # an offset into the buffers
    assert rows_with_duplicate_keys(sliced) == [i - 3 for i in got if 3 <= i < 11]


def _random_json(rng: random.Random, depth: int = 0) -> str:
    keys = ["a", "b", "id", "x:y", 'q"', "\\", "é", "{", "[]", " a", "long_key_name_x"]
    if depth > 3 or rng.random() < 0.3:
        return rng.choice(["1", '"s"', '"{[\\"}:"', "null", '"a\\\\"', '":"', '"\\u0061"'])
    if rng.random() < 0.3:
        return "[" + ",".join(_random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))) + "]"
    pairs = []
    for _ in range(rng.randint(0, 4)):
        key = rng.choice(keys)
        text = '"\\u0061"' if key == "a" and rng.random() < 0.2 else json.dumps(key)
        pairs.append(
            f"{rng.choice(['', ' ', chr(10)])}{text}{rng.choice(['', ' '])}:"
            f"{_random_json(rng, depth + 1)}"
        )
    return "{" + ",".join(pairs) + "}"


def test_the_vectorised_detector_agrees_with_the_parser_on_random_json() -> None:
    rng = random.Random(7)
    values = [_random_json(rng) for _ in range(5000)]
    expected = [i for i, v in enumerate(values) if duplicate_key(v) is not None]
    assert 0 < len(expected) < len(values)
    assert rows_with_duplicate_keys(pa.array(values, pa.string())) == expected


def _mapping(pg_type: str) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": "legacy.docs",
            "target": "public.docs",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "int(11)", "nullable": False},
                {"name": "doc", "column_type": "json", "pg_type": pg_type},
            ],
        }
    )


def test_the_stream_converter_refuses_it_for_jsonb_naming_key_and_fix() -> None:
    mapping = _mapping("jsonb")
    with pytest.raises(ConversionError) as caught:
        to_pg(mapping.column("doc"), '{"a":1,"a":2}', mapping.values, where="table t key (id=1)")
    message = str(caught.value)
    assert "table t key (id=1): column 'doc'" in message
    assert "the key 'a' twice" in message
    assert "set pg_type: json" in message
    assert to_pg(mapping.column("doc"), '{"a":1,"b":{"a":2}}', mapping.values)


def test_json_keeps_the_text_and_postgres_to_mysql_is_untouched() -> None:
    mapping = _mapping("json")
    assert to_pg(mapping.column("doc"), '{"a":1,"a":2}', mapping.values) == '{"a":1,"a":2}'
    assert to_mysql(mapping.column("doc"), '{"a": 2}', mapping.values) == '{"a": 2}'


def _batch(values: list[str | None]) -> pa.RecordBatch:
    ids = pa.array(range(1, len(values) + 1), pa.int32())
    return pa.record_batch({"id": ids, "doc": pa.array(values, pa.large_string())})


def test_backfill_fails_the_chunk_naming_key_column_and_value() -> None:
    batch = _batch(['{"a":1}', None, '{"b":[{"x":1,"x":2}]}', '[{"x":1},{"x":2}]'])
    with pytest.raises(ConversionError) as caught:
        convert_batch(_mapping("jsonb"), batch)
    message = str(caught.value)
    assert "key {'id': 3}: column 'doc'" in message
    assert '\'{"b":[{"x":1,"x":2}]}\'' in message
    assert "the key 'x' twice" in message


def test_backfill_rejects_the_row_under_on_bad_value_reject() -> None:
    batch = _batch(['{"a":1}', '{"a":1,"a":2}', '[{"x":1},{"x":2}]'])
    rejects = Rejects()
    out = convert_batch(_mapping("jsonb"), batch, rejects=rejects)
    assert out.column("id").to_pylist() == [1, 3]
    assert [(r.key, r.column) for r in rejects.rows] == [({"id": 2}, "doc")]
    assert "the key 'a' twice" in rejects.rows[0].error


def test_backfill_keeps_it_in_a_json_column() -> None:
    out = convert_batch(_mapping("json"), _batch(['{"a":1,"a":2}']))
    assert out.column("doc").to_pylist() == ['{"a":1,"a":2}']


@pytest.mark.parametrize(
    ("mysql", "postgres", "equal"),
    [
        ('{"a":1,"a":2}', '{"a": 2}', False),  # what jsonb made of it
        ('{"a":1,"a":2}', '{"a": 1}', False),
        ('{"b":{"a":1,"\\u0061":2}}', '{"b": {"a": 2}}', False),
        ('{"a":1,"a":2}', '{"a":1, "a":2}', True),  # a json column keeps both, in order
        ('{"a":1,"a":2}', '{"a":2,"a":1}', False),
        ('[{"id":1},{"id":2}]', '[{"id": 1}, {"id": 2}]', True),
    ],
)
def test_reconcile_never_calls_a_repeated_key_equal_to_jsonb(
    mysql: str, postgres: str, equal: bool
) -> None:
    assert json_equal(mysql, postgres) is equal
    assert (json_value(mysql) == json_value(postgres)) is equal
