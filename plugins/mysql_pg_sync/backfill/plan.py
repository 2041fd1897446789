"""Pure chunk planning: key ranges, their MySQL predicates, and grouping for mapped tasks.

A chunk is the half-open key range ``[lower, upper)`` in the key's *MySQL* order; the first
chunk has no lower bound and the last no upper bound, so rows inserted outside the planned
range during the copy still belong to a chunk. Predicates are evaluated by MySQL only: how
PostgreSQL would sort the same strings never matters (collations differ). PostgreSQL removes a
chunk's previous rows either by an integer range (integers order the same everywhere) or by the
exact keys just read from MySQL (see :mod:`.writer`). An ENUM or SET bound is its member number
(:class:`.keys.MemberNumber`), compared in the order MySQL sorts and walks the key by.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from mysql_pg_sync.backfill.keys import KeyValue, MemberNumber, mysql_literal
from mysql_pg_sync.dialects import mysql as my
from mysql_pg_sync.errors import SyncError
from mysql_pg_sync.mapping.models import INTEGER_KEY_KINDS, KeyHint

KeyStrategy = Literal["integer", "keyset"]

MAX_MAP_LENGTH = 1024  # Airflow's default [core] max_map_length
DEFAULT_MAX_GROUPS = 1000  # stays under MAX_MAP_LENGTH with room for other mapped tasks
# A chunk's fixed cost (its range query, state rows, COPY and commit: tens of ms) against a full
# chunk's copy (~1-2 s): a task takes at most ~50 tiny tables.
MIN_CHUNK_SHARE = 0.02
DEFAULT_ROW_BYTES = 200  # when information_schema has no average row length yet
INTEGER_KINDS = INTEGER_KEY_KINDS


class PlanError(SyncError):
    """The table cannot be planned (no usable key, unordered boundaries, ...)."""


@dataclass(frozen=True)
class ChunkSpec:
    """One planned chunk: ``lower <= key < upper`` in MySQL's order (None = unbounded)."""

    table: str
    seq: int
    lower: KeyValue | None
    upper: KeyValue | None
    est_rows: int | None = None  # the walk's figure: its chunk size, or the tail's count


def key_strategy(
    key_kinds: Sequence[str], hint: KeyHint = "auto", *, table: str = ""
) -> KeyStrategy:
    """The mapping's ``backfill.key_hint``; ``auto``: ``integer`` for a single integer key
    column, ``keyset`` for everything else."""
    integer = len(key_kinds) == 1 and key_kinds[0] in INTEGER_KINDS
    if hint == "keyset":
        return "keyset"
    if hint == "integer" and not integer:
        # the mapping validation refuses this already; a range delete on any other key would
        # remove rows by PostgreSQL's order, not MySQL's
        raise PlanError(
            f"{table}: backfill.key_hint is integer but the key is not one integer column "
            f"(kinds: {', '.join(key_kinds)}); set key_hint: keyset or auto in its mapping"
        )
    return "integer" if integer else "keyset"


def chunk_rows_for(chunk_rows: int | None, chunk_mb: float | None, avg_row_bytes: int) -> int:
    """Rows per chunk from a row target, a size target, or both (the smaller wins)."""
    candidates = []
    if chunk_rows:
        candidates.append(int(chunk_rows))
    if chunk_mb:
        candidates.append(int(chunk_mb * 1024 * 1024 / max(avg_row_bytes or DEFAULT_ROW_BYTES, 1)))
    if not candidates:
        raise PlanError("give a chunk target: chunk_rows or chunk_mb")
    return max(1, min(candidates))


def chunks_from_boundaries(
    table: str,
    boundaries: Sequence[KeyValue],
    *,
    strategy: KeyStrategy,
    chunk_rows: int | None = None,
    tail_rows: int | None = None,
) -> list[ChunkSpec]:
    """Turn the first keys of chunks 2..n (as walked on MySQL) into contiguous ranges; every
    chunk but the last holds ``chunk_rows`` rows, the last ``tail_rows``."""
    if strategy == "integer":
        for before, after in itertools.pairwise(boundaries):
            if not before < after:
                raise PlanError(
                    f"{table}: chunk boundaries {before} and {after} are not increasing; "
                    "is the split column really the table's unique key?"
                )
    if len(set(boundaries)) != len(boundaries):
        raise PlanError(f"{table}: a chunk boundary repeats; the key is not unique")
    edges: list[KeyValue | None] = [None, *boundaries, None]
    last = len(boundaries)
    return [
        ChunkSpec(table, seq, edges[seq], edges[seq + 1], tail_rows if seq == last else chunk_rows)
        for seq in range(last + 1)
    ]


def _lexicographic(
    columns: Sequence[str],
    values: KeyValue,
    *,
    inclusive: bool,
    above: bool,
    quote: Callable[[str], str],
) -> str:
    """``(c1, c2) >= (v1, v2)`` spelled as ORs of ANDs, which every optimizer turns into a range."""
    if len(columns) != len(values):
        raise PlanError(f"key has {len(columns)} columns but the bound has {len(values)} values")
    strict, last = (">", ">=" if inclusive else ">") if above else ("<", "<=" if inclusive else "<")
    terms = []
    for i, column in enumerate(columns):
        equal = [_compare(quote(c), "=", v) for c, v in zip(columns[:i], values[:i], strict=True)]
        op = last if i == len(columns) - 1 else strict
        equal.append(_compare(quote(column), op, values[i]))
        terms.append("(" + " AND ".join(equal) + ")")
    return terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"


def _compare(column_sql: str, op: str, value: object) -> str:
    if isinstance(value, MemberNumber):
        return my.member_number_compare_sql(column_sql, value.type, op, value.number)
    return f"{column_sql} {op} {mysql_literal(value)}"


def mysql_range_predicate(
    columns: Sequence[str],
    lower: KeyValue | None,
    upper: KeyValue | None,
    quote: Callable[[str], str],
) -> str:
    """The WHERE clause selecting ``lower <= key < upper`` on MySQL (``1=1`` when unbounded)."""
    parts = []
    if lower is not None:
        parts.append(_lexicographic(columns, lower, inclusive=True, above=True, quote=quote))
    if upper is not None:
        parts.append(_lexicographic(columns, upper, inclusive=False, above=False, quote=quote))
    return " AND ".join(parts) if parts else "1=1"


def mysql_key_predicate(
    columns: Sequence[str], keys: Sequence[KeyValue], quote: Callable[[str], str]
) -> str:
    """The WHERE clause selecting exactly ``keys`` on MySQL (equality only: no ordering, no
    collation question); ``1=0`` for none. ``k IN (...)`` for one column, ORs of ANDs (which
    every optimizer reads as point ranges of the key) for several."""
    if not keys:
        return "1=0"
    if len(columns) == 1:
        return f"{quote(columns[0])} IN ({', '.join(mysql_literal(k[0]) for k in keys)})"
    terms = []
    for key in keys:
        if len(key) != len(columns):
            raise PlanError(f"key has {len(columns)} columns but {key!r} has {len(key)} values")
        equal = [_compare(quote(c), "=", v) for c, v in zip(columns, key, strict=True)]
        terms.append("(" + " AND ".join(equal) + ")")
    return "(" + " OR ".join(terms) + ")"


def integer_range_predicate(column_sql: str, lower: KeyValue | None, upper: KeyValue | None) -> str:
    """``lower <= col < upper`` for an integer key: identical on both engines, safe to inline."""
    parts = []
    if lower is not None:
        parts.append(f"{column_sql} >= {int(lower[0])}")
    if upper is not None:
        parts.append(f"{column_sql} < {int(upper[0])}")
    return " AND ".join(parts) if parts else "TRUE"


ChunkRef = tuple[str, int]
"""(source table, chunk seq): what a mapped copy task receives."""


def group_chunks(
    chunks: Sequence[ChunkRef],
    max_groups: int = DEFAULT_MAX_GROUPS,
    fill: Mapping[ChunkRef, float] | None = None,
    parallel: int = 1,
) -> list[list[ChunkRef]]:
    """At most ``max_groups`` contiguous groups of chunks (one mapped task each).

    ``fill`` is a chunk's estimated rows over its table's chunk target (missing: 1, a full
    chunk). Chunks that fill less, a small table's only chunk or a table's tail, share a task
    up to one chunk's worth: a database of 200 mostly small tables would otherwise start ~200
    task instances, and each costs the scheduler and a worker process seconds, far more than
    copying a few thousand rows. Each chunk counts at least :data:`MIN_CHUNK_SHARE` (its own
    queries and transaction), and the groups are made small enough that ``parallel`` tasks
    share the work."""
    if max_groups < 1:
        raise PlanError("max_groups must be at least 1")
    if max_groups > MAX_MAP_LENGTH:
        raise PlanError(
            f"max_groups {max_groups} exceeds Airflow's max_map_length {MAX_MAP_LENGTH}"
        )
    shares = {ref: max(MIN_CHUNK_SHARE, (fill or {}).get(ref, 1.0)) for ref in chunks}
    capacity = min(1.0, sum(shares.values()) / max(1, parallel))
    packed = _pack(chunks, shares, capacity)
    if len(packed) <= max_groups:
        return packed
    size = math.ceil(len(packed) / max_groups)
    return [
        [ref for group in packed[i : i + size] for ref in group]
        for i in range(0, len(packed), size)
    ]


def _pack(
    chunks: Sequence[ChunkRef], shares: Mapping[ChunkRef, float], capacity: float
) -> list[list[ChunkRef]]:
    groups: list[list[ChunkRef]] = []
    current: list[ChunkRef] = []
    level = 0.0
    for ref in chunks:
        share = shares[ref]
        if current and level + share > capacity + 1e-9:  # float sums of shares
            groups.append(current)
            current, level = [], 0.0
        current.append(ref)
        level += share
    if current:
        groups.append(current)
    return groups
