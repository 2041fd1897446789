"""Segments: half-open ranges of an *ordinal* that both databases compute the same way.

The ordinal is the key itself for a single integer key (index range scans), or a 32-bit bucket of
the md5 of the key's canonical text for every other key: string order differs between the two
engines' collations, a hash of the same bytes does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

HASH_ORDINAL_SPAN = 2**32


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

    def child_width(self, parts: int) -> int:
        """Width of each of ``parts`` equal children (the last one may be shorter)."""
        return max(1, math.ceil(self.span / max(1, parts)))

    def child(self, index: int, width: int) -> Segment:
        lo = self.lo + index * width
        if not self.lo <= lo < self.hi:
            raise ValueError(f"child {index} of width {width} is outside {self}")
        return Segment(lo, min(lo + width, self.hi))

    def __str__(self) -> str:
        return f"[{self.lo}, {self.hi})"


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
