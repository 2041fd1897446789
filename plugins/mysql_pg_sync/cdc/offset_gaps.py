"""Where the stream goes on when Kafka no longer holds the change it needs next.

Kafka deletes a topic's oldest messages after its retention (``log.retention.hours``, 7 days by
default), read or not. A consumer stopped for longer than that, or a table left paused by a
backfill that nobody resumed, then asks for an offset below the partition's log start. Kafka's
client would silently jump to the first message it still holds (``auto.offset.reset``); the
changes in between would never reach the target and nothing would say so. The consumer runs
with ``auto.offset.reset = error`` instead, and decides here, from the offset it needed and the
partition's watermarks, where to go on and what was lost. An offset past the log's end means
the offsets started again (the topic was deleted and re-created, or the broker lost its log):
what the old topic held after it is unknown.

A re-created topic that already holds more messages than the target's fence shows no such sign:
its offsets are in range, and the stream would skip the new topic's first messages as applied.
Kafka gives each topic an id (KIP-516) that changes when it is created again; the consumer keeps
the id it read each topic by (``mps_sync.partition_topic_ids``) and compares (:func:`recreated`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class OffsetGap:
    """Changes the stream needed that Kafka no longer holds."""

    needed: int  # the next offset the target had not applied
    resume: int  # the first offset Kafka still holds: the stream goes on from here
    lost: int | None  # resume - needed; None when the offsets started again (count unknown)
    recreated: tuple[str, str] | None = None  # (old, new) topic id: the topic was created again

    @property
    def restarted(self) -> bool:
        return self.lost is None

    def describe(self, table: str, side: str, topic: str, partition: int) -> str:
        if self.lost is not None:
            what = (
                f"Kafka deleted {self.lost:,} change(s) of {table} ({side} side) before the "
                f"stream applied them: {topic}[{partition}] now starts at offset {self.resume}, "
                f"and the stream needed offset {self.needed} (the topic's retention, "
                "log.retention.hours or retention.ms, ran out while the stream was stopped or "
                "the table was paused)"
            )
        elif self.recreated is not None:
            what = (
                f"Kafka topic {topic} ({table}, {side} side) was deleted and created again "
                f"(topic id {self.recreated[0]} -> {self.recreated[1]}; partition {partition} "
                f"was applied up to offset {self.needed}): changes the old topic held that the "
                "stream had not applied, if there were any, never reached the target, and the "
                "new topic is read again from its start"
            )
        else:
            what = (
                f"the offsets of {topic}[{partition}] ({table}, {side} side) started again: the "
                f"stream needed offset {self.needed}, past the log's end (the topic was deleted "
                "and re-created, or the broker lost its log), so changes the old topic held "
                "after that never reached the target"
            )
        return (
            f"{what}. The stream goes on from offset {self.resume}. The lost changes are "
            f"drift: run the reconcile DAG with repair on {table}, dry_run off and "
            f"authoritative {side} ({side} holds every change of the gap; README, Watch the "
            "stream: Changes Kafka deleted); until a reconcile of the table finishes in sync or "
            "repaired, `status` shows it red"
        )


def resume_point(needed: int, low: int, high: int) -> tuple[int, OffsetGap | None]:
    """Where to go on in a partition whose log holds offsets ``low`` to ``high - 1``, when the
    target's next change is at ``needed``; and the gap, if changes were lost.

    ``needed`` is the larger of the consumer's committed offset and the target's own record
    of what it applied (a negative value: nothing recorded, start at the beginning)."""
    if needed < 0:
        return low, None
    if needed > high:
        return low, OffsetGap(needed=needed, resume=low, lost=None)
    if needed < low:
        return low, OffsetGap(needed=needed, resume=low, lost=low - needed)
    return needed, None


def recreated(
    known: Mapping[tuple[str, int], str], current: Mapping[str, str]
) -> dict[tuple[str, int], tuple[str, str]]:
    """Partitions whose topic's id changed since the group last read them: {(topic, partition):
    (old id, new id)}. A partition with no id recorded yet (first read, or recorded before ids
    were kept) is not one, nor one whose topic does not exist now."""
    return {
        part: (old, current[part[0]])
        for part, old in known.items()
        if part[0] in current and current[part[0]] != old
    }
