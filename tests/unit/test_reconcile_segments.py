"""First-level segmentation: walked cuts, aligned cuts, the CASE-tree child index. Pure logic."""

from __future__ import annotations

import bisect as std_bisect
import hashlib
import itertools
import random
from collections.abc import Mapping, Sequence

import pytest

from mysql_pg_sync.reconcile.bisect import BisectConfig, Checksum, RowRef, bisect
from mysql_pg_sync.reconcile.segments import (
    Segment,
    Split,
    cut_parts,
    first_level,
    first_width,
    is_sparse,
    merge_children,
)
from mysql_pg_sync.reconcile.sqlside import cut_index_sql


class InMemoryPair:
    """Two row sets keyed by integers, answering what the SQL sides answer."""

    leaf_batch = 3

    def __init__(self, left: Mapping[int, str], right: Mapping[int, str]) -> None:
        self.sides = (left, right)

    @staticmethod
    def _h(key: int, content: str) -> str:
        return hashlib.md5(f"{key}|{content}".encode()).hexdigest()

    def child_checksums(self, segment: Segment, split: Split):
        out = []
        for rows in self.sides:
            acc: dict[int, list[int]] = {}
            for k, v in rows.items():
                if segment.lo <= k < segment.hi:
                    slot = acc.setdefault(segment.child_index(k, split), [0, 0])
                    slot[0] += 1
                    slot[1] += int(self._h(k, v)[17:], 16)
            out.append({i: Checksum(c, t) for i, (c, t) in acc.items()})
        return out[0], out[1]

    def row_hashes(self, segments: Sequence[Segment]):
        return tuple(
            {
                (str(k),): RowRef((k,), self._h(k, v))
                for k, v in rows.items()
                if any(s.lo <= k < s.hi for s in segments)
            }
            for rows in self.sides
        )


def _children(parts):
    return [child for seg, split in parts for child in seg.children(split)]


def _eval_case_tree(sql: str, ordinal: int) -> int:
    """Evaluate the CASE tree for one ordinal (the SQL is CASE/WHEN/THEN/ELSE/END and ints)."""
    expr = (
        sql.replace("CASE WHEN ", "_if(")
        .replace(" THEN ", ", ")
        .replace(" ELSE ", ", ")
        .replace(" END", ")")
    )
    return int(eval(expr, {"_if": lambda c, a, b: a if c else b, "o": ordinal}))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 16, 33])
def test_cut_index_sql_counts_the_cuts_at_or_below(n: int) -> None:
    cuts = sorted(random.Random(n).sample(range(1, 10_000), n))
    sql = cut_index_sql("o", cuts)
    for ordinal in [0, *cuts, *(c - 1 for c in cuts), *(c + 1 for c in cuts), 10_001]:
        assert _eval_case_tree(sql, ordinal) == std_bisect.bisect_right(cuts, ordinal)


def test_cut_children_cover_the_segment_and_match_child_index() -> None:
    seg = Segment(1, 100)
    cuts = (10, 11, 50)
    children = list(seg.children(cuts))
    assert [(c.lo, c.hi) for c in children] == [(1, 10), (10, 11), (11, 50), (50, 100)]
    for ordinal in range(1, 100):
        assert ordinal in range(*(lambda c: (c.lo, c.hi))(children[seg.child_index(ordinal, cuts)]))
    with pytest.raises(ValueError):
        seg.split_child(4, cuts)


def test_cut_parts_are_contiguous_grouped_and_capped() -> None:
    root = Segment(0, 1_000_001)
    cuts = list(range(100, 1_000_000, 100))
    parts = cut_parts(root, [*cuts, 0, -5, 1_000_001, 100], groups=4, max_cuts=1000)
    assert parts[0][0].lo == 0
    assert parts[-1][0].hi == 1_000_001
    assert all(a[0].hi == b[0].lo for a, b in itertools.pairwise(parts))
    assert all(len(split) <= 1000 for _, split in parts)
    assert len(parts) >= 10  # 9999 cuts, at most 1000 a query
    assert [c.lo for c in _children(parts)][1:] == cuts  # outside and repeated cuts dropped
    assert len(cut_parts(Segment(0, 10), [5], groups=4)) == 2  # no empty part


def test_first_level_aligned_cuts_are_segment_edges() -> None:
    root = Segment(1, 10_001)
    parts = first_level(root, 10_000, 100, 4, aligned=[2_500, 7_777])
    edges = {c.lo for c in _children(parts)}
    assert {2_500, 7_777} <= edges
    walked = first_level(root, 10_000, 100, 4, walked=[5_000], aligned=[2_500])
    assert {c.lo for c in _children(walked)} == {1, 2_500, 5_000}


def test_sparse_means_span_far_above_rows() -> None:
    assert not is_sparse(Segment(1, 1_001), 1_000)
    assert not is_sparse(Segment(1, 3_001), 1_000)  # gaps from deletes: still even enough
    assert is_sparse(Segment(1, 10**12), 50_000)


def test_merge_children_joins_consecutive_children() -> None:
    parts = [(Segment(0, 100), 10), (Segment(100, 130), (110, 120))]
    merged = merge_children(parts, 4)
    assert [(s.lo, s.hi) for s in merged] == [(0, 40), (40, 80), (80, 100), (100, 130)]


def test_walked_cuts_give_even_segments_and_exact_bisection_on_a_skewed_key() -> None:
    keys = [*range(1, 5_001), *(10**12 + i for i in range(5))]
    left = {k: f"v{k}" for k in keys}
    right = dict(left)
    right[77] = "changed"
    del right[4_000]
    right[10**12 + 99] = "extra, past MySQL's max key"
    root = Segment(1, 10**12 + 100)
    segment_rows = 100
    walked = sorted(left)[segment_rows::segment_rows]  # what the index walk returns
    parts = first_level(root, len(left), segment_rows, 3, walked=walked)
    counts = [sum(1 for k in left if c.lo <= k < c.hi) for c in _children(parts)]
    assert max(counts) <= segment_rows + 5
    assert min(counts[:-1]) == segment_rows
    result = bisect(InMemoryPair(left, right), parts, BisectConfig(4, 8))
    assert {s.key for s in result.suspects} == {("77",), ("4000",), (str(10**12 + 99),)}
    # equal widths on the same key: one segment holds almost every row
    width = first_width(root, len(left), segment_rows)
    assert sum(1 for k in left if root.lo <= k < root.lo + width) == 5_000


def test_few_aligned_ranges_are_still_scanned_in_parallel() -> None:
    root = Segment(1, 10_001)
    parts = first_level(root, 10_000, 100, 4, aligned=[5_001])
    assert len(parts) == 4
    assert {seg.lo for seg, _ in parts} >= {1, 5_001}
    assert [c.lo for c in _children(parts)] == list(range(1, 10_001, 100))
