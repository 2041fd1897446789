"""Bisection: from mismatching segment checksums down to differing keys. Pure logic.

A :class:`SegmentSource` answers two questions for both sides at once: the checksums of a
segment's children, and the (key, row hash) pairs of a small segment. Nothing here knows SQL.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from mysql_pg_sync.reconcile.segments import Part, Segment, Split

DEFAULT_FACTOR = 16
DEFAULT_THRESHOLD = 1_000  # rows: below this, compare (key, row hash) pairs instead of splitting

KeyText = tuple[str | None, ...]
"""A key as canonical texts: equal on both sides for the same key. A part is None where a side
reads a key value as NULL (a MySQL zero date); reconcile refuses such a table
(``model.refuse_null_keys``), but sorting must not fail on it first."""


def key_order(key: KeyText) -> tuple[tuple[bool, str], ...]:
    """A sort key for key texts: text order, a NULL part last."""
    return tuple((part is None, part or "") for part in key)


@dataclass(frozen=True)
class Checksum:
    """Row count and sum of the 60-bit row-hash slices of one segment on one side."""

    count: int
    total: int


@dataclass(frozen=True)
class RowRef:
    """A row seen in a leaf: its raw key values (as that side's driver returns them) and hash."""

    raw_key: tuple[Any, ...]
    row_hash: str


class SegmentSource(Protocol):
    def child_checksums(
        self, segment: Segment, split: Split
    ) -> tuple[dict[int, Checksum], dict[int, Checksum]]:
        """Per child index (:meth:`Segment.child_index`): MySQL's and PostgreSQL's checksums."""
        ...

    def row_hashes(
        self, segments: Sequence[Segment]
    ) -> tuple[dict[KeyText, RowRef], dict[KeyText, RowRef]]:
        """MySQL's and PostgreSQL's (key, row hash) pairs in some segments (one query a side)."""
        ...

    @property
    def leaf_batch(self) -> int:
        """How many small segments one row-hash query should cover."""
        ...


@dataclass(frozen=True)
class BisectConfig:
    factor: int = DEFAULT_FACTOR
    threshold: int = DEFAULT_THRESHOLD

    def __post_init__(self) -> None:
        if self.factor < 2:
            raise ValueError(f"bisection factor must be >= 2, got {self.factor}")
        if self.threshold < 1:
            raise ValueError(f"bisection threshold must be >= 1, got {self.threshold}")


@dataclass(frozen=True)
class Suspect:
    """A key whose row differs by hash, or exists on one side only."""

    key: KeyText
    mysql: RowRef | None
    postgres: RowRef | None


@dataclass
class BisectStats:
    segments_compared: int = 0
    segments_mismatched: int = 0
    leaves_fetched: int = 0
    rows_mysql: int = 0
    rows_postgres: int = 0
    # leaves whose row counts differed while their row hashes showed no key on one side only
    # (see unexplained_leaves)
    unexplained_leaves: int = 0


@dataclass
class BisectResult:
    suspects: list[Suspect] = field(default_factory=list)
    stats: BisectStats = field(default_factory=BisectStats)


T = TypeVar("T")
R = TypeVar("R")
MapFn = Callable[[Callable[[T], R], Iterable[T]], Iterator[R]]


def compare_leaf(
    mysql_rows: dict[KeyText, RowRef], pg_rows: dict[KeyText, RowRef]
) -> list[Suspect]:
    """Keys present on one side only, or with different row hashes, in key order."""
    suspects = []
    for key in sorted(mysql_rows.keys() | pg_rows.keys(), key=key_order):
        left, right = mysql_rows.get(key), pg_rows.get(key)
        if left is None or right is None or left.row_hash != right.row_hash:
            suspects.append(Suspect(key, left, right))
    return suspects


def unexplained_leaves(counts: Sequence[tuple[int, int]], suspects: Sequence[Suspect]) -> int:
    """How many leaves of one row-hash batch have row counts (MySQL, PostgreSQL) that differ
    while the batch's row hashes showed no key on one side only: rows the comparison did not
    see (written between the checksums and the row hashes, or a key form the row hashes merge);
    0 when every count difference is explained."""
    if any(s.mysql is None or s.postgres is None for s in suspects):
        return 0
    return sum(1 for mysql, postgres in counts if mysql != postgres)


def bisect(
    source: SegmentSource,
    parts: Sequence[Part],
    config: BisectConfig | None = None,
    map_fn: Callable[..., Iterator[Any]] = map,
) -> BisectResult:
    """Compare the children of each of ``parts`` (first-level segments), recursing into
    mismatches with equal-width children.

    ``map_fn`` runs one level's segments (pass an executor's ``map`` for parallelism).
    """
    config = config or BisectConfig()
    result = BisectResult()
    level: list[Part] = list(parts)
    top = True
    while level:
        checked = list(map_fn(lambda item: source.child_checksums(*item), level))
        leaves: list[Segment] = []
        counts: list[tuple[int, int]] = []  # each leaf's row counts (MySQL, PostgreSQL)
        next_level: list[Part] = []
        for (segment, split), (left, right) in zip(level, checked, strict=True):
            if top:
                result.stats.rows_mysql += sum(c.count for c in left.values())
                result.stats.rows_postgres += sum(c.count for c in right.values())
            for index in sorted(left.keys() | right.keys()):
                result.stats.segments_compared += 1
                a, b = left.get(index), right.get(index)
                if a == b:
                    continue
                result.stats.segments_mismatched += 1
                child = segment.split_child(index, split)
                rows = max(a.count if a else 0, b.count if b else 0)
                if rows <= config.threshold or child.span == 1:
                    leaves.append(child)
                    counts.append((a.count if a else 0, b.count if b else 0))
                else:
                    children = min(config.factor, math.ceil(rows / config.threshold) * 2)
                    next_level.append((child, child.child_width(max(2, children))))
        top = False
        size = max(1, source.leaf_batch)
        starts = range(0, len(leaves), size)
        batches = [leaves[i : i + size] for i in starts]
        for start, pairs in zip(starts, map_fn(source.row_hashes, batches), strict=True):
            found = compare_leaf(*pairs)
            result.suspects.extend(found)
            result.stats.unexplained_leaves += unexplained_leaves(
                counts[start : start + size], found
            )
        result.stats.leaves_fetched += len(leaves)
        level = next_level
    result.suspects.sort(key=lambda s: key_order(s.key))
    return result
