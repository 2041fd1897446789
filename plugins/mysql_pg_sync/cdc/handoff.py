"""The backfill -> stream handoff, decided per Kafka partition from ``mps_sync.table_state``.

A backfilling table's partitions are held (paused). Once it streams, each partition of the
position the backfill recorded is rewound to it once, even when the consumer group had committed
or applied past it: the table may have been reloaded while it streamed, and the copy can have
overwritten changes applied during it (ADR 0002: fuzzy copy, then replay from the position).
``replayed_position`` says which partitions were rewound; NULL (a row older than that column)
keeps the older rule: the recorded position is only a start when the group has no offset.
``replay_until`` says, per rewound partition, where its replay ends (state/sql/230).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

HELD_STATES = frozenset({"backfilling", "paused", "failed"})

# The first key of the transaction-level advisory lock, per table, that orders a stream batch
# against the backfill handing the table over (see metrics.lock_table_states): the stream takes
# it shared for each table it writes, the backfill exclusively while it marks the table
# ``backfilling`` (and empties it for a reload). The second key is hashtext(table).
HANDOFF_LOCK_CLASS = 0x6D707368  # "mpsh"


@dataclass(frozen=True)
class TableState:
    state: str
    kafka_position: Mapping[str, Mapping[str, int]] | None
    replayed: Mapping[str, int] | None = None  # "<topic>:<partition>" -> offset rewound to
    # "<topic>:<partition>" -> end of its log at the rewind: offsets below it are replayed
    replay_until: Mapping[str, int] | None = None


def replay_key(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


def is_held(state: TableState | None) -> bool:
    return state is not None and state.state in HELD_STATES


def recorded_offset(state: TableState | None, topic: str, partition: int) -> int | None:
    """The backfill's recorded offset of one partition, if it recorded one."""
    if state is None or not state.kafka_position:
        return None
    recorded: Mapping[Any, int] = state.kafka_position.get(topic, {})
    offset = recorded.get(str(partition), recorded.get(partition))
    return int(offset) if offset is not None else None


def rewind_due(state: TableState | None, topic: str, partition: int) -> int | None:
    """The offset a streaming table's partition must be rewound to, or None."""
    if state is None or is_held(state) or state.replayed is None:
        return None
    if replay_key(topic, partition) in state.replayed:
        return None
    return recorded_offset(state, topic, partition)


def replay_until(state: TableState | None, topic: str, partition: int) -> int | None:
    """Where the replay of a rewound partition ends (its log's end at the rewind), if it has
    not been applied up to there yet."""
    if state is None or not state.replay_until:
        return None
    until = state.replay_until.get(replay_key(topic, partition))
    return int(until) if until is not None else None
