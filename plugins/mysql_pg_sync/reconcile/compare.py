"""Compare one table pair: checksums on both sides in parallel, bisection, JSON, classification."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from mysql_pg_sync.reconcile.bisect import (
    BisectConfig,
    BisectStats,
    Checksum,
    KeyText,
    RowRef,
    Suspect,
    bisect,
    key_order,
)
from mysql_pg_sync.reconcile.canonical import json_equal
from mysql_pg_sync.reconcile.diff import CanonicalRow, RowDiff, classify, vanished
from mysql_pg_sync.reconcile.segments import (
    Part,
    Segment,
    Split,
    first_level,
    is_sparse,
    merge_children,
    merged_bounds,
    root_segment,
)
from mysql_pg_sync.reconcile.sqlside import TableSide

log = logging.getLogger(__name__)

# One scan per side returns the checksums of every first-level segment (GROUP BY), so small
# segments cost a longer result, not more scans; a mismatching one is then compared row by row
# in one small index-range query (segments no larger than the bisection threshold).
DEFAULT_SEGMENT_ROWS = 500
DEFAULT_WORKERS = 4  # concurrent segment queries per side
SHOWN_KEYS = 5  # example keys in a warning


@dataclass(frozen=True)
class CompareConfig:
    segment_rows: int = DEFAULT_SEGMENT_ROWS
    bisect: BisectConfig = field(default_factory=BisectConfig)
    workers: int = DEFAULT_WORKERS


@dataclass
class Comparison:
    diffs: list[RowDiff] = field(default_factory=list)
    stats: BisectStats = field(default_factory=BisectStats)
    suspects: int = 0
    hash_only: int = 0  # hash differed, values equal at the declared precision / by JSON value
    vanished: int = 0  # suspects whose rows neither side returned when read again
    segmentation: str = ""  # how the first level was split: width | walked | hash
    first_level_segments: int = 0


class PairSource:
    """Both sides as one :class:`~mysql_pg_sync.reconcile.bisect.SegmentSource`, in parallel."""

    def __init__(self, mysql: TableSide, postgres: TableSide, executor: ThreadPoolExecutor):
        self.mysql, self.postgres, self._executor = mysql, postgres, executor

    def both(self, call: Callable[[TableSide], Any]) -> tuple[Any, Any]:
        left = self._executor.submit(call, self.mysql)
        right = call(self.postgres)
        return left.result(), right

    def child_checksums(
        self, segment: Segment, split: Split
    ) -> tuple[dict[int, Checksum], dict[int, Checksum]]:
        return self.both(lambda s: s.child_checksums(segment, split))

    def row_hashes(
        self, segments: Sequence[Segment]
    ) -> tuple[dict[KeyText, RowRef], dict[KeyText, RowRef]]:
        return self.both(lambda s: s.row_hashes(segments))

    @property
    def leaf_batch(self) -> int:
        return self.mysql.leaf_batch

    def canonical_rows(
        self, raw_keys: Sequence[tuple[Any, ...]]
    ) -> tuple[dict[KeyText, CanonicalRow], dict[KeyText, CanonicalRow]]:
        return self.both(lambda s: s.canonical_rows(raw_keys))


def _json_suspects(source: PairSource, segment: Segment) -> list[Suspect]:
    """Keys whose JSON columns differ by value (or exist on one side only) in a segment."""
    left, right = source.both(lambda s: s.json_texts(segment))
    suspects = []
    for key in sorted(left.keys() | right.keys(), key=key_order):
        a, b = left.get(key), right.get(key)
        if a is None or b is None:
            continue  # the row hash already reports rows that exist on one side only
        if any(not _same(a.texts[name], b.texts[name]) for name in a.texts):
            suspects.append(Suspect(key, RowRef(a.raw_key, ""), RowRef(b.raw_key, "")))
    return suspects


def _same(a: str | None, b: str | None) -> bool:
    return a is b if a is None or b is None else json_equal(a, b)


def _json_segments(
    root: Segment, parts: Sequence[Part], hash_ordinal: bool, workers: int
) -> list[Segment]:
    """Index ranges of ~10 first-level segments each; a hash ordinal scans the table per
    segment, so it gets one segment per worker instead."""
    if hash_ordinal:
        width = root.child_width(max(1, workers))
        return [root.child(i, width) for i in range(-(-root.span // width))]
    return merge_children(parts, 10)


def plan_first_level(
    source: PairSource, root: Segment, rows: int, config: CompareConfig, cuts: Sequence[int]
) -> tuple[list[Part], str]:
    """(first-level parts, how they were split). Integer keys: one index-range scan per worker
    (a hash ordinal would rescan the table per part), cut at ``cuts`` and, on a sparse key, at
    boundaries walked on MySQL's index every ``segment_rows`` rows."""
    if source.mysql.table.ordinal != "integer":
        return first_level(root, rows, config.segment_rows, 1), "hash"
    if not is_sparse(root, rows):
        return first_level(root, rows, config.segment_rows, config.workers, aligned=cuts), "width"
    walked = source.mysql.key_cuts(config.segment_rows)
    parts = first_level(
        root, rows, config.segment_rows, config.workers, walked=walked, aligned=cuts
    )
    return parts, "walked"


def recheck(source: PairSource, columns: Sequence[Any], diffs: Iterable[RowDiff]) -> list[RowDiff]:
    """Compare the rows of earlier differences again; what still differs is returned."""
    diffs = list(diffs)
    raw_keys = _distinct_raw_keys(d.raw_key for d in diffs)
    left, right = source.canonical_rows(raw_keys)
    return classify(columns, [d.key for d in diffs], left, right)


def _distinct_raw_keys(keys: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return list(dict.fromkeys(keys))


def compare(
    source: PairSource,
    config: CompareConfig,
    executor_map: Callable[..., Iterator[Any]],
    cuts: Sequence[int] = (),
) -> Comparison:
    """Every difference between the two sides of ``source``'s table, classified.

    ``cuts``: integer key values every first-level segment must respect (a backfill's chunk
    boundaries); ignored for a hash ordinal, whose buckets follow no key order."""
    table = source.mysql.table
    (lo_a, hi_a, rows_a), (lo_b, hi_b, rows_b) = source.both(lambda s: s.bounds())
    result = Comparison()
    root = root_segment(*merged_bounds((lo_a, hi_a), (lo_b, hi_b)))
    if root is None:
        return result
    parts, result.segmentation = plan_first_level(source, root, max(rows_a, rows_b), config, cuts)
    result.first_level_segments = sum(1 for seg, split in parts for _ in seg.children(split))
    found = bisect(source, parts, config.bisect, executor_map)
    result.stats = found.stats
    suspects: dict[KeyText, Suspect] = {s.key: s for s in found.suspects}
    if table.json_columns:
        for seg_suspects in executor_map(
            lambda seg: _json_suspects(source, seg),
            _json_segments(root, parts, table.ordinal == "hash", config.workers),
        ):
            for s in seg_suspects:
                suspects.setdefault(s.key, s)
    result.suspects = len(suspects)
    raw_keys = _distinct_raw_keys(
        ref.raw_key for s in suspects.values() for ref in (s.mysql, s.postgres) if ref is not None
    )
    left, right = source.canonical_rows(raw_keys)
    keys = sorted(suspects, key=key_order)
    result.diffs = classify(table.columns, keys, left, right)
    gone = vanished(keys, left, right)
    result.vanished = len(gone)
    result.hash_only = len(suspects) - len(result.diffs) - len(gone)
    _warn_unseen(table.name, gone, result.stats.unexplained_leaves)
    return result


def _warn_unseen(table: str, gone: Sequence[KeyText], unexplained: int) -> None:
    """Say so when rows slipped through the comparison; none is reported as drift."""
    if gone:
        shown = ", ".join(str(list(k)) for k in gone[:SHOWN_KEYS])
        log.warning(
            "%s: %d suspect key(s) were found on neither side when their rows were read again "
            "(%s%s): deleted on both sides since they were compared, or a key the look-up "
            "cannot find; not reported as drift (stat 'vanished')",
            table,
            len(gone),
            shown,
            " ..." if len(gone) > SHOWN_KEYS else "",
        )
    if unexplained:
        log.warning(
            "%s: %d leaf segment(s) had other row counts on the two sides but no key on one "
            "side only: rows written meanwhile, or rows the comparison did not see (stat "
            "'unexplained_leaves'); compare the table again",
            table,
            unexplained,
        )
