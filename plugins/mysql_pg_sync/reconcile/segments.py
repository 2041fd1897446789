"""Segments: half-open ranges of an *ordinal* that both databases compute the same way.

The ordinal is the key itself for a single integer key (index range scans), or a 32-bit bucket of
the SHA-256 of the key's canonical text for every other key: string order differs between the two
engines' collations, a hash of the same bytes does not.

A segment splits into children either by an equal ``width`` or at explicit inner *cuts* (key
values walked on MySQL's index, see :func:`first_level`); both sides compute the same child
index for the same ordinal either way.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

HASH_ORDINAL_SPAN = 2**32
# An integer key is sparse when its span is this many times its row count: equal-width segments
# would then hold very uneven row counts, so the first level is cut at walked index boundaries.
# A dense key is not walked: equal widths are already even there and the walk (one index query
# per segment) would only add time (measured 2026-11-25 on the 300k-row bench pair: forcing the
# walk cost 0.3-1 s on a 2.3-2.5 s comparison).
SPARSE_FACTOR = 4
MAX_CUTS_PER_QUERY = 1024  # cuts in one checksum query (its SQL grows with them)
BIGINT_SPAN = 2**63  # the widest segment whose offsets (ordinal - lo) fit a signed 64-bit integer

Split = int | tuple[int, ...]
"""How a segment splits into children: an equal width, or the increasing cuts strictly inside
it (child ``i`` lies between the cuts ``i - 1`` and ``i``)."""


@dataclass(frozen=True, order=True)
class Segment:
    """``lo <= ordinal < hi``."""

    lo: int
    hi: int

    def __post_init__(self) -> None:
        if self.hi <= self.lo:
            raise ValueError(f"empty segment [{self.lo}, {self.hi})")

    @property
    def span(self) -> int:
        return self.hi - self.lo

    @property
    def offsets_fit_bigint(self) -> bool:
        """Every ``ordinal - lo`` in the segment fits a signed 64-bit integer (the SQL sides
        compute a child's index from it; a wider segment needs exact decimal arithmetic)."""
        return self.span <= BIGINT_SPAN

    def child_width(self, parts: int) -> int:
        """Width of each of ``parts`` equal children (the last one may be shorter)."""
        return max(1, math.ceil(self.span / max(1, parts)))

    def child(self, index: int, width: int) -> Segment:
        lo = self.lo + index * width
        if not self.lo <= lo < self.hi:
            raise ValueError(f"child {index} of width {width} is outside {self}")
        return Segment(lo, min(lo + width, self.hi))

    def split_child(self, index: int, split: Split) -> Segment:
        if isinstance(split, int):
            return self.child(index, split)
        edges = (self.lo, *split, self.hi)
        if not 0 <= index < len(edges) - 1:
            raise ValueError(f"child {index} is outside {self} cut at {len(split)} point(s)")
        return Segment(edges[index], edges[index + 1])

    def child_index(self, ordinal: int, split: Split) -> int:
        """Which child holds ``ordinal`` (what the SQL sides compute in their GROUP BY)."""
        if isinstance(split, int):
            return (ordinal - self.lo) // split
        return bisect.bisect_right(split, ordinal)

    def children(self, split: Split) -> Iterator[Segment]:
        count = -(-self.span // split) if isinstance(split, int) else len(split) + 1
        return (self.split_child(i, split) for i in range(count))

    def __str__(self) -> str:
        return f"[{self.lo}, {self.hi})"


Part = tuple[Segment, Split]
"""A segment scanned by one checksum query per side, and how it splits into children."""


def root_segment(min_ordinal: int | None, max_ordinal: int | None) -> Segment | None:
    """The segment covering every ordinal seen on either side; None when both are empty."""
    if min_ordinal is None or max_ordinal is None:
        return None
    return Segment(min_ordinal, max_ordinal + 1)


def first_width(root: Segment, rows: int, segment_rows: int) -> int:
    """Child width so that a first-level segment holds about ``segment_rows`` rows."""
    if rows <= 0:
        return root.span
    segments = max(1, math.ceil(rows / max(1, segment_rows)))
    return root.child_width(segments)


def split_groups(root: Segment, width: int, groups: int) -> list[Segment]:
    """``root`` in up to ``groups`` parts, each a whole number of ``width``-wide children, so
    the parts can be scanned concurrently and their children still line up."""
    children = -(-root.span // width)
    per_group = -(-children // max(1, groups))
    span = per_group * width
    return [root.child(i, span) for i in range(-(-root.span // span))]


def merged_bounds(
    a: tuple[int | None, int | None], b: tuple[int | None, int | None]
) -> tuple[int | None, int | None]:
    """(min, max) over both sides' (min, max), ignoring an empty side."""
    lows = [x for x in (a[0], b[0]) if x is not None]
    highs = [x for x in (a[1], b[1]) if x is not None]
    return (min(lows) if lows else None, max(highs) if highs else None)


def is_sparse(root: Segment, rows: int) -> bool:
    """True when equal-width segments of ``root`` would hold very uneven row counts."""
    return root.span > SPARSE_FACTOR * max(rows, 1)


def inner_cuts(root: Segment, cuts: Iterable[int]) -> tuple[int, ...]:
    """``cuts`` strictly inside ``root``, increasing, without repeats."""
    return tuple(sorted({int(c) for c in cuts if root.lo < c < root.hi}))


def cut_parts(
    root: Segment, cuts: Iterable[int], groups: int, max_cuts: int = MAX_CUTS_PER_QUERY
) -> list[Part]:
    """``root`` cut at ``cuts`` into first-level segments, in up to ``groups`` contiguous parts
    (more when a part would hold more than ``max_cuts`` cuts) so parts scan concurrently."""
    inside = inner_cuts(root, cuts)
    segments = len(inside) + 1
    parts = max(min(max(1, groups), segments), math.ceil(segments / (max(1, max_cuts) + 1)))
    per_part = math.ceil(segments / parts)
    edges = (root.lo, *inside, root.hi)
    out: list[Part] = []
    for start in range(0, segments, per_part):
        end = min(start + per_part, segments)
        out.append((Segment(edges[start], edges[end]), tuple(edges[start + 1 : end])))
    return out


def first_level(
    root: Segment,
    rows: int,
    segment_rows: int,
    groups: int,
    *,
    walked: Sequence[int] | None = None,
    aligned: Iterable[int] = (),
) -> list[Part]:
    """The first-level parts of ``root``.

    ``walked``: key values every ``segment_rows`` rows (from the index walk), so segments hold
    even row counts on a sparse key. ``aligned``: cuts every segment must respect (a backfill's
    chunk boundaries). Otherwise equal widths sized from the ``rows`` estimate.
    """
    aligned = inner_cuts(root, aligned)
    if walked is not None:
        return cut_parts(root, (*walked, *aligned), groups)
    width = first_width(root, rows, segment_rows)
    if not aligned:
        return [(group, width) for group in split_groups(root, width, groups)]
    edges = (root.lo, *aligned, root.hi)
    per_range = math.ceil(max(1, groups) / (len(edges) - 1))  # keep ``groups`` scans going
    return [
        (group, width)
        for lo, hi in itertools.pairwise(edges)
        for group in split_groups(Segment(lo, hi), width, per_range)
    ]


def merge_children(parts: Sequence[Part], per_segment: int) -> list[Segment]:
    """The parts' children, ``per_segment`` consecutive ones merged into one segment."""
    out: list[Segment] = []
    for segment, split in parts:
        children = list(segment.children(split))
        for i in range(0, len(children), max(1, per_segment)):
            batch = children[i : i + max(1, per_segment)]
            out.append(Segment(batch[0].lo, batch[-1].hi))
    return out
