"""Segments, bisection, classification and client-side equality: pure logic, no servers.

The bisection runs against an in-memory pair of row sets that answers the same two questions the
SQL sides answer (child checksums, leaf row hashes); it stands in for no database behaviour."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping

import pytest

from mysql_pg_sync.reconcile.bisect import (
    BisectConfig,
    Checksum,
    KeyText,
    RowRef,
    bisect,
    compare_leaf,
)
from mysql_pg_sync.reconcile.canonical import (
    floats_equal,
    json_equal,
    round_significant,
    values_equal,
)
from mysql_pg_sync.reconcile.diff import CanonicalRow, classify
from mysql_pg_sync.reconcile.model import CompareColumn
from mysql_pg_sync.reconcile.segments import (
    Segment,
    Split,
    first_width,
    merged_bounds,
    root_segment,
    split_groups,
)

Rows = Mapping[int, str]  # key -> row content


class InMemoryPair:
    """Two row sets keyed by integers; counts the checksum queries it answers."""

    def __init__(self, left: Rows, right: Rows) -> None:
        self.sides = (left, right)
        self.checksum_calls = 0
        self.leaf_queries = 0

    @staticmethod
    def _h(key: int, content: str) -> str:
        return hashlib.md5(f"{key}|{content}".encode()).hexdigest()

    def child_checksums(self, segment: Segment, split: Split):
        self.checksum_calls += 1
        out: list[dict[int, Checksum]] = []
        for rows in self.sides:
            acc: dict[int, list[int]] = {}
            for k, v in rows.items():
                if segment.lo <= k < segment.hi:
                    slot = acc.setdefault(segment.child_index(k, split), [0, 0])
                    slot[0] += 1
                    slot[1] += int(self._h(k, v)[17:], 16)
            out.append({i: Checksum(c, t) for i, (c, t) in acc.items()})
        return out[0], out[1]

    leaf_batch = 3

    def row_hashes(self, segments: list[Segment]):
        self.leaf_queries += 1
        return tuple(
            {
                (str(k),): RowRef((k,), self._h(k, v))
                for k, v in rows.items()
                if any(s.lo <= k < s.hi for s in segments)
            }
            for rows in self.sides
        )


def _run(left: Rows, right: Rows, factor: int = 4, threshold: int = 8, segment_rows: int = 50):
    pair = InMemoryPair(left, right)
    lo, hi = merged_bounds((min(left), max(left)), (min(right), max(right)))
    root = root_segment(lo, hi)
    assert root is not None
    width = first_width(root, max(len(left), len(right)), segment_rows)
    groups = [(g, width) for g in split_groups(root, width, 3)]
    result = bisect(pair, groups, BisectConfig(factor, threshold))
    return result, pair


def test_segment_children_cover_the_parent_exactly() -> None:
    seg = Segment(10, 107)
    width = seg.child_width(4)
    children = [seg.child(i, width) for i in range(4)]
    assert children[0].lo == 10
    assert children[-1].hi == 107
    assert all(a.hi == b.lo for a, b in itertools.pairwise(children))
    with pytest.raises(ValueError):
        seg.child(4, width)
    with pytest.raises(ValueError):
        Segment(5, 5)


def test_groups_align_with_first_level_children() -> None:
    root = Segment(1, 1001)
    groups = split_groups(root, 30, 4)
    assert groups[0].lo == 1
    assert groups[-1].hi == 1001
    assert all((g.lo - root.lo) % 30 == 0 for g in groups)


def test_bisection_finds_exactly_the_changed_keys() -> None:
    left = {k: f"row {k}" for k in range(1, 2001)}
    right = dict(left)
    right[7] = "changed"
    del right[1500]
    right[2500] = "new"
    right[999] = "row 999 "
    result, pair = _run(left, right)
    assert pair.leaf_queries < result.stats.leaves_fetched  # leaves go in batches
    found = {s.key: (s.mysql is not None, s.postgres is not None) for s in result.suspects}
    assert found == {
        ("7",): (True, True),
        ("1500",): (True, False),
        ("2500",): (False, True),
        ("999",): (True, True),
    }
    assert result.stats.rows_mysql == 2000
    assert result.stats.rows_postgres == 2000


def test_equal_sides_need_one_checksum_pass_and_no_leaf() -> None:
    rows = {k: str(k) for k in range(1, 1001)}
    result, pair = _run(rows, dict(rows))
    assert result.suspects == []
    assert result.stats.segments_mismatched == 0
    assert result.stats.leaves_fetched == 0
    assert pair.checksum_calls == 3  # one per group


def test_a_swap_between_two_rows_is_seen_by_the_sum() -> None:
    left = {1: "a", 2: "b"}
    right = {1: "b", 2: "a"}
    result, _ = _run(left, right, threshold=1, segment_rows=2)
    assert {s.key for s in result.suspects} == {("1",), ("2",)}


def test_bisection_config_is_validated() -> None:
    with pytest.raises(ValueError, match="factor"):
        BisectConfig(factor=1)
    with pytest.raises(ValueError, match="threshold"):
        BisectConfig(threshold=0)


def test_compare_leaf_orders_and_classifies_keys() -> None:
    a: dict[KeyText, RowRef] = {("1",): RowRef((1,), "x"), ("2",): RowRef((2,), "y")}
    b: dict[KeyText, RowRef] = {("2",): RowRef((2,), "z"), ("3",): RowRef((3,), "w")}
    assert [s.key for s in compare_leaf(a, b)] == [("1",), ("2",), ("3",)]


COLS = (
    CompareColumn("id", "id", "int"),
    CompareColumn("name", "name", "text"),
    CompareColumn("w", "w", "float", digits=15),
    CompareColumn("doc", "doc", "json"),
)


def _row(key: int, **texts: object) -> CanonicalRow:
    base = {"id": str(key), "name": "n", "w": 0.1, "doc": '{"a": 1}'}
    return CanonicalRow((key,), {**base, **texts})


def test_classify_names_differing_columns_and_drops_equal_values() -> None:
    keys = [("1",), ("2",), ("3",), ("4",), ("5",)]
    left = {("1",): _row(1), ("2",): _row(2), ("4",): _row(4), ("5",): _row(5)}
    right = {
        ("1",): _row(1, name="N", doc='{"a": 2}'),
        ("3",): _row(3),
        ("4",): _row(4, w=0.1 + 1e-17, doc='{ "a" : 1.0 }'),  # equal at 15 digits, same JSON
        ("5",): _row(5, name=None),
    }
    diffs = {d.key: (d.drift, d.columns) for d in classify(COLS, keys, left, right)}
    assert diffs == {
        ("1",): ("different", ("name", "doc")),
        ("2",): ("missing", ()),
        ("3",): ("extra", ()),
        ("5",): ("different", ("name",)),
    }


@pytest.mark.parametrize(
    ("a", "b", "digits", "equal"),
    [
        (0.30000000000000004, 0.3, 15, True),
        (0.30000000000000004, 0.3, 17, False),
        (1e23, 9.999999999999999e22, 17, True),  # the same double, printed differently
        (1 / 3, 0.33333333333333337, 17, False),  # one ulp
        (1 / 3, 0.33333333333333337, 15, True),
        (0.1, 0.10000000149011612, 6, True),  # a FLOAT read back as a double
        (1.0, 1.00001, 6, False),
        (0.0, -0.0, 17, True),
        (float("nan"), float("nan"), 17, True),
    ],
)
def test_floats_compare_at_the_declared_digits(a, b, digits, equal) -> None:
    assert floats_equal(a, b, digits) is equal


def test_round_significant() -> None:
    assert round_significant(123456.0, 3) == "1.23e+5"
    assert round_significant(0.0, 6) == "0"


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        ('{"b": 1, "a": [1, 2]}', '{"a":[1,2],"b":1}', True),  # key order, whitespace
        ('{"a": 1.0}', '{"a": 1}', True),  # jsonb keeps 1.0, MySQL may print 1
        ('{"a": "\\u00e9"}', '{"a": "é"}', True),
        ('{"a": [1, 2]}', '{"a": [2, 1]}', False),  # array order matters
        ('{"a": true}', '{"a": 1}', False),
        ('{"a": null}', "{}", False),
        ('{"a": "😀"}', '{"a": "😁"}', False),
        ("not json", "not json", True),
        ("not json", '"not json"', False),
    ],
)
def test_json_is_compared_by_value(a, b, equal) -> None:
    assert json_equal(a, b) is equal


def test_values_equal_handles_null() -> None:
    col = CompareColumn("x", "x", "text")
    assert values_equal(col, None, None)
    assert not values_equal(col, "", None)
    assert not values_equal(col, None, "")
