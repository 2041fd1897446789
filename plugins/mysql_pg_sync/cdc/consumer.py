"""The stream consumer: Kafka -> decode -> drop echoes -> micro-batch -> apply -> commit.

Exactly once per target: each target transaction also records, per Kafka partition, the next
offset it has applied (``mps_sync.applied_offsets`` in PostgreSQL, ``mps_applied_offsets`` in the
synced MySQL database). Kafka's committed offsets follow after the databases commit, so a crash
in between replays messages the targets already hold: they are recognised by that record and
skipped. Re-applying them is not harmless: under a fixed-winner rule (``mysql_wins``) a replayed
old change would overwrite the newer row the other side wrote since. The same record keeps the
source log position of the last change per partition: Debezium itself re-emits changes after a
Connect or broker restart (new offsets, old positions), and those are skipped too
(:mod:`.source_order`). Dead letters are published before the targets commit (at least once: a
replay may publish one twice, never lose it). Conflicts and dead letters are recorded in the state
schema in a transaction that also commits before the targets; one row per Kafka position, so a
replay rewrites them with its own decision. The counters are added after the targets commit.
Tables in state ``backfilling`` (``mps_sync.table_state``) keep their partitions paused; when a
table turns ``streaming`` its partitions start from the recorded ``kafka_position`` unless the
consumer group already committed past it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    OFFSET_INVALID,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from mysql_pg_sync.cdc import handoff, source_order
from mysql_pg_sync.cdc.apply import (
    RETYPED_HOLD,
    Applier,
    BatchResult,
    Burial,
    ConflictRecord,
    DeadLetter,
    MissingTargetColumnError,
    plan_for,
)
from mysql_pg_sync.cdc.batch import DEFAULT_MAX_EVENTS, DEFAULT_MAX_MS, MicroBatcher, collapse
from mysql_pg_sync.cdc.compare import canonical
from mysql_pg_sync.cdc.conflicts import bury
from mysql_pg_sync.cdc.dead_letters import publish
from mysql_pg_sync.cdc.decode import DecodeError, decode_change, key_payload
from mysql_pg_sync.cdc.events import SIDE_NAMES, ChangeEvent, KafkaPosition, Side, other_side
from mysql_pg_sync.cdc.lag_histogram import LagHistogram
from mysql_pg_sync.cdc.loop_guard import LoopTags, is_echo
from mysql_pg_sync.cdc.metrics import (
    PrometheusMetrics,
    clear_hold,
    clear_replay_until,
    lock_table_states,
    move_recorded_position,
    read_holds,
    read_table_states,
    read_topic_ids,
    record_batch,
    record_decisions,
    record_gap,
    record_hold,
    record_replayed,
    record_topic_ids,
)
from mysql_pg_sync.cdc.offset_gaps import OffsetGap, recreated, resume_point
from mysql_pg_sync.cdc.partial_zero_dates import PartialZeroDates
from mysql_pg_sync.cdc.replica_identity import key_only, key_only_tables
from mysql_pg_sync.cdc.source_order import SourceOrder
from mysql_pg_sync.cdc.targets import Fence, TargetSession, is_transient, open_target
from mysql_pg_sync.cdc.tombstones import Tombstones
from mysql_pg_sync.cdc.topics import (
    MESSAGE_LIMIT,
    TopicCreateError,
    TopicSettings,
    admin_client,
    change_topics,
    create_missing_topics,
    leader_pending,
    raise_message_limits,
    topic_ids,
)
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.dialects import postgres as pg_dialect
from mysql_pg_sync.errors import ConfigError, SyncError
from mysql_pg_sync.gc_tuning import fewer_gc_passes
from mysql_pg_sync.mapping.models import MappingSet
from mysql_pg_sync.settings import Endpoints
from mysql_pg_sync.state.schema import ensure_schema

log = logging.getLogger(__name__)
# the largest change message the sources send (include/connectors: max.request.size), plus room
# for a dead letter's error headers
MAX_MESSAGE_BYTES = 64 * 2**20 + 2**20

# a deadlock with the applications' own transactions is retried this often before the run fails
TRANSIENT_ATTEMPTS = 5
TOPIC_ID_CHECK_S = 60.0  # how often a running consumer looks for re-created topics


class TablesPausedError(SyncError):
    """Tables of the batch whose state turned held (``backfilling``, ``paused``, ``failed``)
    since the consumer last read the states (source table -> state): nothing of the batch is
    written yet."""

    def __init__(self, states: Mapping[str, str]) -> None:
        held = ", ".join(f"{t} ({states[t]})" for t in sorted(states))
        super().__init__(f"tables held since the last look at their states: {held}")
        self.states = dict(states)


class TruncateNotApplied(SyncError):
    """A TRUNCATE at one side: the stream applies row changes only, so it is a dead letter."""


def truncate_not_applied(table: str, event: ChangeEvent) -> str:
    """What a TRUNCATE left behind, and how to remove it: a reconcile from the side that ran it
    deletes the rows the other side still holds (a truncate is no reason to hold the table:
    the rows written after it are applied as usual)."""
    side, other = SIDE_NAMES[event.side], SIDE_NAMES[other_side(event.side)]
    when = dt.datetime.fromtimestamp(event.source_ts_ms / 1000, dt.UTC).isoformat(
        sep=" ", timespec="seconds"
    )
    return (
        f"TRUNCATE of {table} in {side} at {when} was not applied to {other}: the stream applies "
        f"row changes only, so the rows it removed are still in {other}. Run the reconcile DAG "
        f"on this table with repair on, dry_run off and authoritative {event.side} (it deletes "
        f"them from {other}; `reconcile --tables {table} --repair --no-dry-run --authoritative "
        f"{event.side}`), then mark this letter resolved (`dead-letters resolve --table {table} "
        '--note "reconciled"`)'
    )


class FenceMovedError(SyncError):
    """A batch's partitions were applied by another member of the group after it was read."""


class ReplayEndUnknownError(SyncError):
    """The end of a rewound partition's log could not be read: without it the replay's
    changes cannot be told from later ones, so the rewind is not recorded and the next run
    does it again."""


@dataclass(frozen=True)
class StreamConfig:
    """Names and knobs of one consumer; topic prefixes match the connectors' settings."""

    mysql_topic_prefix: str = "mps_mysql"
    pg_topic_prefix: str = "mps_pg"
    group_id: str = "mps-stream"
    dead_letter_topic: str = "mps.dead-letters"
    max_batch_events: int = DEFAULT_MAX_EVENTS
    max_batch_ms: int = DEFAULT_MAX_MS
    tags: LoopTags = field(default_factory=LoopTags)
    incoming_sides: tuple[Side, ...] = ("mysql", "postgres")
    state_refresh_s: float = 5.0
    kafka_overrides: tuple[tuple[str, str], ...] = ()
    value_format: Literal["json", "avro"] = "json"  # as the source connectors' converter writes


@dataclass
class RunSummary:
    events: int = 0
    applied: int = 0
    skipped_same: int = 0
    echoes: int = 0
    conflicts: int = 0
    dead_letters: int = 0
    replayed: int = 0  # messages a target had already applied (a replay after a crash)
    duplicates: int = 0  # changes Debezium emitted again (source position already applied)
    batches: int = 0
    reconnects: int = 0  # the database connections were lost and opened again (service)
    seconds: float = 0.0
    # of ``seconds``: applying batches (convert, decide, write, commit), not consuming/decoding
    write_seconds: float = 0.0
    first_message_s: float | None = None  # seconds from the start to the first message
    lag: LagHistogram = field(default_factory=LagHistogram, repr=False)
    drift: dict[str, list[str]] = field(default_factory=dict)
    # tables whose target lacks a mapped column: their partitions wait, the others go on
    held: dict[str, str] = field(default_factory=dict)
    # of ``held``: the holds this run began (the others go on from an earlier run, which alerted)
    held_new: list[str] = field(default_factory=list)
    # tables with changes Kafka deleted before they were applied (see offset_gaps)
    lost: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "applied": self.applied,
            "skipped_same": self.skipped_same,
            "echoes_dropped": self.echoes,
            "conflicts": self.conflicts,
            "dead_letters": self.dead_letters,
            "replayed_skipped": self.replayed,
            "source_duplicates_skipped": self.duplicates,
            "batches": self.batches,
            "reconnects": self.reconnects,
            "seconds": round(self.seconds, 3),
            "write_seconds": round(self.write_seconds, 3),
            "events_per_s": round(self.events / self.seconds, 1) if self.seconds else 0.0,
            "lag_p50_ms": self.lag.percentile(50),
            "lag_p99_ms": self.lag.percentile(99),
            "lag_max_ms": self.lag.max(),
            "mapping_drift": self.drift,
            "held_tables": dict(self.held),
            "held_new_tables": list(self.held_new),
            "lost_changes": dict(self.lost),
        }


@dataclass
class _Pending:
    """A batch in flight: decoded events plus every message position it covers."""

    raw: dict[tuple[str, int, int], tuple[bytes | None, bytes | None]] = field(default_factory=dict)
    letters: list[tuple[DeadLetter, bytes | None, bytes | None]] = field(default_factory=list)
    echoes: dict[tuple[str, Side], int] = field(default_factory=dict)
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    first: dict[tuple[str, int], int] = field(default_factory=dict)  # lowest offset read
    messages: int = 0
    replayed: int = 0
    duplicates: int = 0
    # per partition: (count, lowest source position skipped, last applied position)
    skipped: dict[tuple[str, int], tuple[int, SourceOrder, SourceOrder]] = field(
        default_factory=dict
    )
    cut: bool = False  # an echo of a key already in the batch: flush before the next message
    source_high: dict[tuple[str, int], SourceOrder] = field(default_factory=dict)


@dataclass
class _Open:
    """The batch a running ``run()`` is gathering (the rebalance callbacks flush it too)."""

    batcher: MicroBatcher
    pending: _Pending
    summary: RunSummary


class StreamConsumer:
    def __init__(
        self,
        endpoints: Endpoints,
        mappings: MappingSet,
        config: StreamConfig,
        metrics: PrometheusMetrics | None = None,
    ) -> None:
        self.endpoints = endpoints
        self.mappings = mappings
        self.config = config
        self.metrics = metrics
        self.topics = self._topics()
        # (table, side): recorded holds on a retyped column, cleared once a batch of it commits
        self._unconfirmed_holds: set[tuple[str, Side]] = set()
        self.state_conn = pg_connect(endpoints.postgres)
        self.sessions: dict[Side, TargetSession] = {}
        self.appliers: dict[Side, Applier] = {}
        self.partial_zero_dates = PartialZeroDates(endpoints.mysql)  # connects when first needed
        try:
            ensure_schema(self.state_conn)
            self.state_conn.commit()
            self._open_targets()
            self._read_identities()
            self._clear_stale_holds()
        except BaseException:
            # the service retries this while a server is down: leave no session of the others
            self._close_databases()
            raise
        self.producer: Producer | None = Producer(
            # a dead letter carries its message, which may be up to the sources' 64 MiB
            {"bootstrap.servers": endpoints.kafka_bootstrap, "message.max.bytes": MAX_MESSAGE_BYTES}
        )
        self._size_dead_letter_topic()
        self.consumer = Consumer(
            {
                "bootstrap.servers": endpoints.kafka_bootstrap,
                "group.id": config.group_id,
                "enable.auto.commit": False,
                # never jump silently past changes Kafka's retention deleted: _offset_gap
                # decides where to go on and records what was lost
                "auto.offset.reset": "error",
                "enable.partition.eof": False,
                # a table added to the mappings gets its topic when its first change arrives
                "topic.metadata.refresh.interval.ms": 10_000,
                **dict(config.kafka_overrides),
            }
        )
        self._decode: Callable[..., ChangeEvent | None] = decode_change
        # the key of a message that cannot be decoded, read by its format's own reader
        self._key_payload: Callable[[bytes | None, Side], Any] = key_payload
        if config.value_format == "avro":  # the connectors' converter decides, not the registry
            if not endpoints.schema_registry_url:
                raise ConfigError(
                    "Avro change events need a schema registry: set MPS_SCHEMA_REGISTRY_URL "
                    "(its Confluent-compatible API, Apicurio: .../apis/ccompat/v7)"
                )
            from mysql_pg_sync.cdc.decode_avro import AvroDecoder, registry_fetch

            avro = AvroDecoder(registry_fetch(endpoints.schema_registry_url))
            self._decode, self._key_payload = avro.decode_change, avro.key_payload
        self.states: dict[str, handoff.TableState] = {}
        self.paused: set[tuple[str, int]] = set()
        self.applied: dict[tuple[str, int], int] = {}  # next offset each target already holds
        # per assigned partition rewound to a backfill's position: the end of its log at the
        # rewind, below which the stream replays changes the backfill's copy may already show;
        # kept in the table state (replay_until) until the applied offset reaches it
        self._replay_until: dict[tuple[str, int], int] = {}
        # read but not yet committed to Kafka (a commit failed): retried with the next batch
        self._uncommitted: dict[tuple[str, int], int] = {}
        self.source_high: dict[tuple[str, int], SourceOrder] = {}  # last source position applied
        self._last_refresh = 0.0
        self._subscribed = False
        self._open: _Open | None = None
        self._absent_topics: set[str] = set()  # subscribed, not created yet (see _topic_absent)
        self._closing = False
        self._admin: Any = None  # for the topics' ids (see _recreated); made when first needed
        self._ids_checked = 0.0
        # when the last batch was committed (or the run began): a batch's rate is over the time
        # since, not over its write time alone (a trickle of 1 event/s written in 5 ms read as
        # 200 events/s on the status page)
        self._last_flush_end = time.monotonic()
        self._lag_revoked: set[str] = set()  # topics revoked, not (yet) assigned back
        # (incoming side, mapping) -> why: its target lacks a mapped column (see _hold)
        self.held: dict[tuple[Side, str], str] = {}
        # their partitions, paused, with the offset to read again from (None: where they are)
        self.held_parts: dict[tuple[str, int], int | None] = {}

    def _size_dead_letter_topic(self) -> None:
        """Make the dead-letter topic take what the producer sends: a letter over the topic's
        limit (Kafka's default is 1 MB) is refused, which fails the batch at every restart
        (dead_letters.publish). Created if missing, its limit raised if lower; a refusal only
        warns (Airflow's Kafka user may lack the rights: the broker's defaults then apply)."""
        topic = self.config.dead_letter_topic
        wanted = {topic: TopicSettings(config=((MESSAGE_LIMIT, str(MAX_MESSAGE_BYTES)),))}
        bootstrap = self.endpoints.kafka_bootstrap
        try:
            create_missing_topics(bootstrap, wanted)
            raise_message_limits(bootstrap, wanted)
        except (TopicCreateError, KafkaException) as exc:
            log.warning(
                "dead-letter topic %s: %s; a dead letter larger than the topic takes stops the "
                "stream until its max.message.bytes is raised (kafka-configs --alter "
                "--entity-type topics --entity-name %s --add-config max.message.bytes=%d)",
                topic,
                exc,
                topic,
                MAX_MESSAGE_BYTES,
            )

    def _read_identities(self) -> None:
        """Mappings whose PostgreSQL table sends key-only before-images (see replica_identity)."""
        targets = {
            m.name: pg_dialect.qualified(m.target.schema, m.target.table)
            for m in self.mappings.enabled()
            if "postgres" in self.config.incoming_sides and m.replicates_to_mysql()
        }
        self.key_only_before = key_only_tables(self.state_conn, targets)

    def _topics(self) -> dict[str, tuple[Side, str]]:
        """Kafka topic -> (incoming side, MySQL db.table of the mapping)."""
        every = change_topics(
            self.mappings, self.config.mysql_topic_prefix, self.config.pg_topic_prefix
        )
        return {t: found for t, found in every.items() if found[0] in self.config.incoming_sides}

    def _open_targets(self) -> None:
        tombstones = Tombstones(self.state_conn)
        for side in self.config.incoming_sides:
            target_side = "postgres" if side == "mysql" else "mysql"
            endpoint = self.endpoints.postgres if side == "mysql" else self.endpoints.mysql
            session = open_target(target_side, endpoint, self.config.tags)
            self.sessions[side] = session
            session.ensure_offsets_table()
            session.rollback()  # end the read: see _load_applied
            zero_dates = self.partial_zero_dates if side == "mysql" else None
            self.appliers[side] = Applier(session, self.mappings, tombstones, zero_dates)

    def _close_databases(self) -> None:
        sessions = (s.close for s in self.sessions.values())
        for closer in (*sessions, self.state_conn.close, self.partial_zero_dates.close):
            try:
                closer()
            except Exception as exc:  # best effort: a lost connection may fail to close
                log.debug("close: %s", exc)

    # -- partition assignment and the backfill handoff ---------------------------------------------

    def _table_of(self, topic: str) -> str:
        return self.topics[topic][1]

    def _load_applied(self) -> None:
        for side, session in self.sessions.items():
            for ident, (offset, source) in session.applied_offsets(self.config.group_id).items():
                if self.topics.get(ident[0], (None,))[0] == side:
                    self.applied[ident] = offset
                    if (order := source_order.load(source)) is not None:
                        self.source_high[ident] = order
            # a read left open would hold its snapshot and locks until the next batch commits,
            # for a whole run when nothing arrives: no vacuum or purge past it, DDL queued
            session.rollback()

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if self._closing:
            # a rebalance that lands during close(): the group gives the partitions to another
            # member anyway, and a committed() call now fails with the handle being destroyed,
            # an error confluent-kafka raises from close() as no Python exception class
            return
        assigned = {(tp.topic, tp.partition) for tp in partitions}
        self._forget_lag(self._lag_revoked - {tp.topic for tp in partitions})
        # offsets of partitions another member now owns are that member's to commit
        self._uncommitted = {k: v for k, v in self._uncommitted.items() if k in assigned}
        self._load_applied()
        self.states = read_table_states(self.state_conn)
        self._load_replay_windows(assigned)
        committed = {
            (p.topic, p.partition): p.offset for p in consumer.committed(partitions, timeout=30)
        }
        recreated_at = self._recreated([(tp.topic, tp.partition) for tp in partitions], committed)
        to_pause, rewinds, fresh = [], {}, []
        for tp in partitions:
            state = self.states.get(self._table_of(tp.topic))
            uncommitted = committed.get((tp.topic, tp.partition), OFFSET_INVALID) < 0
            new_log = recreated_at.get((tp.topic, tp.partition))
            if handoff.is_held(state):
                to_pause.append(tp)
                if new_log is not None:
                    tp.offset = new_log
                    fresh.append(TopicPartition(tp.topic, tp.partition, new_log))
                elif uncommitted:  # the reset policy is `error`: say where it would begin
                    tp.offset = self._first_offset(tp.topic, tp.partition)
                    if tp.offset == OFFSET_BEGINNING:  # committed, as below
                        tp.offset = self._watermarks(tp.topic, tp.partition)[0]
                        fresh.append(TopicPartition(tp.topic, tp.partition, tp.offset))
                continue
            start = handoff.rewind_due(state, tp.topic, tp.partition)
            if start is not None:
                rewinds[(tp.topic, tp.partition)] = start
            elif new_log is not None:  # Kafka may keep the old topic's committed offset
                start = new_log
                fresh.append(TopicPartition(tp.topic, tp.partition, start))
            elif uncommitted:
                start = self._first_offset(tp.topic, tp.partition)
                if start == OFFSET_BEGINNING:
                    # where it begins, committed now: without an offset to start from, a
                    # restart after retention deleted changes never read would begin past
                    # them without a word (see _offset_gap)
                    start = self._watermarks(tp.topic, tp.partition)[0]
                    fresh.append(TopicPartition(tp.topic, tp.partition, start))
            if start is not None:
                tp.offset = start
        consumer.assign(partitions)
        if fresh:
            try:
                consumer.commit(offsets=fresh, asynchronous=False)
            except KafkaException as exc:
                # another rebalance began meanwhile (a topic created under a pattern
                # subscription, say): raised from this callback it ended the whole run; the
                # next batch's commit carries these starts instead
                log.warning("kafka: committing start offsets on assignment: %s", exc)
                for tp in fresh:
                    part = (tp.topic, tp.partition)
                    self._uncommitted[part] = max(tp.offset - 1, self._uncommitted.get(part, -1))
        held = [tp for tp in partitions if self.topics.get(tp.topic) in self.held]
        if held:  # from the committed offset, which never passed a held change
            consumer.pause(held)
            self.held_parts.update({(tp.topic, tp.partition): None for tp in held})
        self.paused |= {(p.topic, p.partition) for p in to_pause}
        if to_pause:
            consumer.pause(to_pause)
            log.info("paused %d partition(s) of backfilling tables", len(to_pause))
        if rewinds:
            self._rewound(rewinds)

    def _first_offset(self, topic: str, partition: int) -> int:
        """Where a partition Kafka has no committed offset for begins: the backfill's recorded
        position, else the next offset the target has not applied, else the beginning. The
        consumer's reset policy is ``error`` (see :meth:`_offset_gap`), so it always says."""
        state = self.states.get(self._table_of(topic))
        start = handoff.recorded_offset(state, topic, partition)
        return self.applied.get((topic, partition), OFFSET_BEGINNING) if start is None else start

    def _handoff_changes(
        self,
    ) -> tuple[list[tuple[str, int]], list[tuple[str, int]], dict[tuple[str, int], int]] | None:
        """Every ``state_refresh_s``: (partitions to pause, paused ones to resume, partitions to
        rewind to their table's recorded position); None when nothing changes."""
        if time.monotonic() - self._last_refresh < self.config.state_refresh_s:
            return None
        self._last_refresh = time.monotonic()
        if self.held:
            self._release_ready()
        self.states = read_table_states(self.state_conn)
        self._read_identities()  # an ALTER TABLE ... REPLICA IDENTITY counts from here on
        assigned = {(tp.topic, tp.partition) for tp in self.consumer.assignment()}
        to_pause, resume, rewinds = [], [], {}
        for t, p in sorted(assigned):
            state = self.states.get(self._table_of(t)) if t in self.topics else None
            if handoff.is_held(state):
                if (t, p) not in self.paused:
                    to_pause.append((t, p))
                continue
            if (t, p) in self.paused and (t, p) not in self.held_parts:
                resume.append((t, p))
            start = handoff.rewind_due(state, t, p)
            if start is not None:
                rewinds[(t, p)] = start
        if not (to_pause or resume or rewinds):
            return None
        return to_pause, resume, rewinds

    def _apply_handoff(
        self,
        to_pause: list[tuple[str, int]],
        resume: list[tuple[str, int]],
        rewinds: dict[tuple[str, int], int],
    ) -> None:
        """Pause, rewind and resume partitions; the caller has applied the batch so far."""
        if to_pause:
            self.consumer.pause([TopicPartition(t, p) for t, p in to_pause])
            self.paused |= set(to_pause)
            log.info("paused %d partition(s): their tables are backfilling", len(to_pause))
        if resume:
            tps = [TopicPartition(t, p) for t, p in resume if (t, p) not in rewinds]
            committed = (
                {(c.topic, c.partition): c.offset for c in self.consumer.committed(tps, 30)}
                if tps
                else {}
            )
            for tp in tps:
                if committed.get((tp.topic, tp.partition), OFFSET_INVALID) < 0:
                    state = self.states.get(self._table_of(tp.topic))
                    start = handoff.recorded_offset(state, tp.topic, tp.partition)
                    if start is not None:
                        self.consumer.seek(TopicPartition(tp.topic, tp.partition, start))
        for (t, p), start in rewinds.items():
            self.consumer.seek(TopicPartition(t, p, start))
            if (t, p) in self.held_parts:  # the release reads from the replay's start
                self.held_parts[(t, p)] = start
        if rewinds:
            self._rewound(rewinds)
        if resume:
            self.consumer.resume([TopicPartition(t, p) for t, p in resume])
            self.paused -= set(resume)
            log.info("resumed %d partition(s): tables now streaming", len(resume))

    def _rewound(self, rewinds: dict[tuple[str, int], int]) -> None:
        """Make the rewinds to the handoff positions durable, in an order a crash can repeat:
        Kafka's committed offset first (a restart reads from there), then the targets' fence
        (so the replay is not skipped as already applied), then the table state (done), with
        where each partition's replay ends. That end is read first: a rewind whose end cannot
        be read changes nothing and raises (see :meth:`_replay_ends`)."""
        ends = self._replay_ends(rewinds)
        self.consumer.commit(
            offsets=[TopicPartition(t, p, o) for (t, p), o in rewinds.items()], asynchronous=False
        )
        by_side: dict[Side, dict[tuple[str, int], int]] = {}
        for part, offset in rewinds.items():
            self._uncommitted.pop(part, None)
            by_side.setdefault(self.topics[part[0]][0], {})[part] = offset
        for side, offsets in by_side.items():
            self.sessions[side].rewind_offsets(self.config.group_id, offsets)
            for part, offset in offsets.items():
                self.applied[part] = offset
                self.source_high.pop(part, None)
        by_table: dict[str, tuple[dict[str, int], dict[str, int]]] = {}
        for (t, p), offset in rewinds.items():
            replayed, until = by_table.setdefault(self._table_of(t), ({}, {}))
            replayed[handoff.replay_key(t, p)] = offset
            if ends[(t, p)] > offset:  # else nothing to replay
                until[handoff.replay_key(t, p)] = ends[(t, p)]
                self._replay_until[(t, p)] = ends[(t, p)]
            else:
                self._replay_until.pop((t, p), None)
        for table, (replayed, until) in by_table.items():
            record_replayed(self.state_conn, table, replayed, until)
            log.info(
                "%s: replaying from the backfill's recorded position %s up to %s",
                table,
                replayed,
                until,
            )

    def _replay_ends(self, rewinds: Mapping[tuple[str, int], int]) -> dict[tuple[str, int], int]:
        """Each rewound partition's log end. :meth:`_watermarks` retries a read that failed on
        a leader election, a timeout or a lost connection for 30 s; a read that still fails
        raises, before the rewind changed anything, and the next run (or the next assignment)
        rewinds again. No fallback end: one too low lets a replayed delete remove a row of
        MySQL's (the burial skip ends early), one too high skips burials of new changes."""
        ends: dict[tuple[str, int], int] = {}
        try:
            # one request for every partition (a backfill of 220 tables rewinds them at once;
            # one read each, inside the assignment's callback, took over a second apiece);
            # the offset for the time "latest" (-1) is the log's end
            found = self.consumer.offsets_for_times(
                [TopicPartition(t, p, OFFSET_END) for t, p in rewinds], timeout=10
            )
            ends = {(tp.topic, tp.partition): tp.offset for tp in found if not tp.error}
        except KafkaException as exc:
            log.warning("log ends of %d rewound partition(s): %s", len(rewinds), exc)
        for t, p in rewinds:
            if ends.get((t, p), -1) >= 0:
                continue
            try:  # one at a time, waiting out a leader election
                ends[(t, p)] = self._watermarks(t, p)[1]
            except KafkaException as exc:
                raise ReplayEndUnknownError(
                    f"{self._table_of(t)}: cannot read the end of {t}[{p}] to rewind it to its "
                    f"backfill's position ({exc}); nothing of the rewind was recorded, the next "
                    "stream run does it again"
                ) from exc
        return ends

    def _load_replay_windows(self, parts: set[tuple[str, int]]) -> None:
        """The recorded replay ends of newly assigned partitions: a replay outlives the run (and
        the member) that rewound it. A partition applied up to its end has none any more."""
        for part in parts:
            if part[0] not in self.topics:
                continue
            table = self._table_of(part[0])
            until = handoff.replay_until(self.states.get(table), *part)
            if until is None:
                self._replay_until.pop(part, None)
            elif self.applied.get(part, 0) >= until:
                self._replay_until.pop(part, None)
                clear_replay_until(
                    self.state_conn, table, handoff.replay_key(*part), self.applied[part]
                )
            else:
                self._replay_until[part] = until

    def _replay_done(self, parts: Iterable[tuple[str, int]]) -> None:
        """Forget the replay end of each partition the targets have applied up to it."""
        for part in parts:
            until = self._replay_until.get(part)
            applied = self.applied.get(part, 0)
            if until is None or applied < until:
                continue
            del self._replay_until[part]
            table = self._table_of(part[0])
            clear_replay_until(self.state_conn, table, handoff.replay_key(*part), applied)
            log.info("%s: the replay of %s[%d] is applied", table, *part)

    def _replayed(self, event: ChangeEvent) -> bool:
        """The change is one a backfill's rewind replays: its table's target was copied from
        a later state of MySQL, which a conflict with it does not tell from the other side's."""
        pos = event.position
        return pos is not None and pos.offset < self._replay_until.get(
            (pos.topic, pos.partition), -1
        )

    # -- the loop ----------------------------------------------------------------------------------

    def run(
        self,
        max_seconds: float | None = None,
        max_events: int | None = None,
        stop: Callable[[], bool] | None = None,
        idle_stop_s: float | None = None,
        summary: RunSummary | None = None,
    ) -> RunSummary:
        """Consume until a limit is hit; every batch is committed to the target before
        returning (a failed Kafka offset commit is retried with the next one)."""
        summary = RunSummary() if summary is None else summary  # kept up to date if this raises
        started = time.monotonic()
        absent_before = len(self._absent_topics)
        events_before = summary.events
        last_message = started
        if not self._subscribed:
            self.consumer.subscribe(
                list(self.topics), on_assign=self._on_assign, on_revoke=self._on_revoke
            )
            self._subscribed = True
        batcher = MicroBatcher(self.config.max_batch_events, self.config.max_batch_ms)
        self._open = _Open(batcher, _Pending(), summary)
        self._last_flush_end = started
        # table states may have changed while no run was consuming (a backfill marked a table,
        # between two bounded runs of the DAG's loop): read them before the first message
        self._last_refresh = float("-inf")
        with fewer_gc_passes():  # ~14 % of the consumer's CPU was cyclic GC
            try:
                while True:
                    now = time.monotonic()
                    if max_seconds is not None and now - started >= max_seconds:
                        break
                    if max_events is not None and summary.events - events_before >= max_events:
                        break
                    if stop is not None and stop():
                        break
                    if idle_stop_s is not None and now - last_message >= idle_stop_s:
                        break
                    if now - self._ids_checked >= TOPIC_ID_CHECK_S:
                        self._check_topic_ids()
                    changes = self._handoff_changes()
                    if changes is not None:
                        self._flush_open()  # applied before any offset moves
                        self._apply_handoff(*changes)
                    budget = max(1, self.config.max_batch_events - len(batcher))
                    timeout = min(batcher.remaining_ms(), 500) / 1000
                    for msg in self.consumer.consume(budget, timeout=timeout):
                        last_message = time.monotonic()
                        if summary.first_message_s is None:
                            summary.first_message_s = last_message - started
                        self._take(msg, self._open.pending, batcher)
                        if self._open.pending.cut:
                            self._flush_open()
                    if batcher.is_due() or (self._open.pending.messages and not len(batcher)):
                        self._flush_open()
                self._flush_open()
            finally:
                self._open = None
                summary.seconds += time.monotonic() - started
                summary.held = {_held_name(t, s): why for (s, t), why in self.held.items()}
        if len(self._absent_topics) > absent_before:
            log.info(
                "%d of the %d subscribed topic(s) do not exist yet (e.g. %s): `connectors apply` "
                "creates them; otherwise Kafka creates one with its table's first change, and "
                "the consumer finds it at its next metadata refresh (up to ~10 s late)",
                len(self._absent_topics),
                len(self.topics),
                ", ".join(sorted(self._absent_topics)[:3]),
            )
        return summary

    def _flush_open(self) -> None:
        """Apply and commit the batch being gathered, if it read anything."""
        if self._open is None:
            return
        if self._open.pending.messages or len(self._open.batcher):
            self._flush(self._open.batcher, self._open.pending, self._open.summary)
            self._open.pending = _Pending()

    def _forget_lag(self, topics: set[str]) -> None:
        """Drop the lag gauge of tables this process no longer reads (another replica applies
        them: the frozen last value kept a max-by-table alert firing after a rebalance)."""
        self._lag_revoked = set()
        if self.metrics is None:
            return
        for topic in topics:
            if topic in self.topics:
                side, table = self.topics[topic]
                self.metrics.forget_lag(table, side)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Apply what was read before the partitions go: a member that kept a batch of them
        would write it after their new owner had applied newer changes of the same rows."""
        self._flush_open()
        self.paused -= {(tp.topic, tp.partition) for tp in partitions}  # no longer ours to hold
        # an eager rebalance revokes every partition and assigns most back at once: a topic's
        # lag gauge goes only if the assignment that follows (or close()) leaves it out
        self._lag_revoked |= {tp.topic for tp in partitions}
        for tp in partitions:
            self.held_parts.pop((tp.topic, tp.partition), None)
            self._replay_until.pop((tp.topic, tp.partition), None)  # its next owner loads it

    def _take(self, msg: Message, pending: _Pending, batcher: MicroBatcher) -> None:
        error = msg.error()
        if error is not None:
            if error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                self._topic_absent(msg, error)
            elif error.code() == KafkaError._AUTO_OFFSET_RESET:
                self._offset_gap(msg)
            elif error.code() != KafkaError._PARTITION_EOF:
                log.warning("kafka: %s", error)
            return
        topic, partition, offset = (
            str(msg.topic()),
            int(msg.partition() or 0),
            int(msg.offset() or 0),
        )
        if self._absent_topics:
            self._absent_topics.discard(topic)  # created since
        if self.held_parts and (topic, partition) in self.held_parts:
            # fetched before the pause, or later in the same poll: read again on release
            if self.held_parts[(topic, partition)] is None:
                self.held_parts[(topic, partition)] = offset
            return
        if (topic, partition) not in pending.first:
            pending.first[(topic, partition)] = offset
        pending.messages += 1
        pending.offsets[(topic, partition)] = max(
            offset, pending.offsets.get((topic, partition), -1)
        )
        if offset < self.applied.get((topic, partition), 0):
            pending.replayed += 1
            return
        side, table = self.topics.get(topic, ("mysql", topic))  # unknown topic: named as is
        position = KafkaPosition(topic, partition, offset)
        key, value = msg.key(), msg.value()  # each call copies the message's bytes
        try:
            event = self._decode(key, value, position)
        except DecodeError as exc:
            letter = DeadLetter(
                _placeholder(side, table, position), exc, table, self._key_payload(key, side)
            )
            pending.letters.append((letter, key, value))
            return
        if event is None:
            return
        if event.op == "t":  # no row to apply: the rows it removed stay on the other side
            if not is_echo(event, self.config.tags):  # ours: a backfill reload's, tagged
                truncated = TruncateNotApplied(truncate_not_applied(table, event))
                pending.letters.append((DeadLetter(event, truncated, table, None), key, value))
            return
        if side == "postgres" and event.before and table in self.key_only_before:
            event.before = key_only(event.before, event.key)
        if event.source_order is not None:
            ident = (topic, partition)
            high = pending.source_high.get(ident) or self.source_high.get(ident)
            if high is not None and source_order.is_duplicate(event.source_order, high):
                pending.duplicates += 1
                count, lowest, _ = pending.skipped.get(ident, (0, event.source_order, high))
                pending.skipped[ident] = (count + 1, min(lowest, event.source_order), high)
                return
            pending.source_high[ident] = event.source_order
        if is_echo(event, self.config.tags):
            pending.echoes[(table, side)] = pending.echoes.get((table, side), 0) + 1
            pending.cut = pending.cut or batcher.echo(event)
            return
        batcher.add(event)
        pending.raw[(topic, partition, offset)] = (key, value)

    # -- a table whose target lacks a mapped column waits; the others go on ----------------------

    def _batch_parts(self, pending: _Pending) -> list[tuple[str, int]]:
        """The partitions assigned or read into this batch."""
        return sorted(
            {(tp.topic, tp.partition) for tp in self.consumer.assignment()} | set(pending.offsets)
        )

    @staticmethod
    def _take_out(
        pending: _Pending, parts: Sequence[tuple[str, int]]
    ) -> dict[tuple[str, int], int | None]:
        """Take ``parts``' messages out of the batch (their offsets are neither recorded nor
        committed, their dead letters not written); each one's first offset in it, if any."""
        firsts = {part: pending.first.pop(part, None) for part in parts}
        for part in parts:
            pending.offsets.pop(part, None)
            pending.source_high.pop(part, None)
            pending.skipped.pop(part, None)
        out = set(parts)
        pending.letters = [
            entry
            for entry in pending.letters
            if entry[0].event is None
            or entry[0].event.position is None
            or (entry[0].event.position.topic, entry[0].event.position.partition) not in out
        ]
        return firsts

    def _hold(self, exc: MissingTargetColumnError, pending: _Pending, summary: RunSummary) -> None:
        """Pause the table's partitions and take its messages out of the batch: none of its
        changes is applied, its offsets are neither recorded nor committed, and it is read
        again from its first message in this batch once the column exists (``ddl``, or the
        MySQL migration). Every other table keeps streaming."""
        ident = (exc.side, exc.table)
        mine = [part for part in self._batch_parts(pending) if self.topics.get(part[0]) == ident]
        self.held_parts.update(self._take_out(pending, mine))
        pending.echoes.pop((exc.table, exc.side), None)
        tps = [TopicPartition(t, p) for t, p in mine]
        if tps:
            self.consumer.pause(tps)
        for (t, p), offset in ((part, self.held_parts[part]) for part in mine):
            if offset is not None:
                self.consumer.seek(TopicPartition(t, p, offset))
        self.held[ident] = str(exc)
        summary.held[_held_name(exc.table, exc.side)] = str(exc)
        if record_hold(self.state_conn, exc.table, exc.side, str(exc)):
            summary.held_new.append(_held_name(exc.table, exc.side))
        if self.metrics is not None:
            self.metrics.set_held(exc.table, exc.side, True)
        log.error(
            "%s. The other tables go on; this one waits, checked every %.0f s.",
            exc,
            self.config.state_refresh_s,
        )

    def _pause_now(self, states: Mapping[str, str], pending: _Pending) -> None:
        """Pause the tables held (a backfill took them over, an operator paused them) since the
        last refresh of the states, and put their messages of this batch back: they are read
        again from there, or from a backfill's recorded position (a rewind), whichever the
        handoff says."""
        mine = [
            part
            for part in self._batch_parts(pending)
            if part[0] in self.topics and self._table_of(part[0]) in states
        ]
        for (t, p), first in self._take_out(pending, mine).items():
            if first is not None:
                self.consumer.seek(TopicPartition(t, p, first))
        held = set(mine)
        for table in states:
            for side in ("mysql", "postgres"):
                pending.echoes.pop((table, side), None)
        to_pause = [TopicPartition(t, p) for t, p in mine if (t, p) not in self.paused]
        if to_pause:
            self.consumer.pause(to_pause)
        self.paused |= held
        self._last_refresh = 0.0  # read the states at the next refresh: resume and rewind
        log.info(
            "paused %s: their changes in this batch are read again when they stream (or "
            "replayed from a backfill's recorded position)",
            ", ".join(f"{t} ({states[t]})" for t in sorted(states)),
        )

    def _release_ready(self) -> None:
        """Resume each held table whose target now has every mapped column."""
        for (side, table), reason in list(self.held.items()):
            why = self.appliers[side].lacks_columns(table)
            if why is not None:
                record_hold(self.state_conn, table, side, reason)  # checked_at: still waiting
                continue
            mine = [part for part in self.held_parts if self.topics.get(part[0]) == (side, table)]
            for t, p in mine:
                offset = self.held_parts.pop((t, p))
                if offset is not None:  # also under a backfill's pause: that resume reads here
                    self.consumer.seek(TopicPartition(t, p, offset))
            resume = [TopicPartition(t, p) for t, p in mine if (t, p) not in self.paused]
            if resume:
                self.consumer.resume(resume)
            del self.held[(side, table)]
            clear_hold(self.state_conn, table, side)
            if self.metrics is not None:
                self.metrics.set_held(table, side, False)
            log.info("%s: its target has every mapped column now; streaming it again", table)

    def _clear_stale_holds(self) -> None:
        """Holds recorded by a consumer that stopped before it saw the column arrive. A hold on
        a retyped column is not cleared here (its columns all exist, the probe cannot tell): it
        stays until a batch of the table commits, so a run that holds it again does not count
        it as new (one alert per hold, not one per run). A hold of a table no longer
        streamed from its side (its mapping removed, disabled, or its direction changed) is
        cleared whatever its kind: no run would ever release it."""
        for table, side, reason in read_holds(self.state_conn):
            mapping = self.mappings.find_source(table)
            streamed = mapping is not None and (
                mapping.replicates_to_pg() if side == "mysql" else mapping.replicates_to_mysql()
            )
            if not streamed:
                clear_hold(self.state_conn, table, side)
                if self.metrics is not None:
                    self.metrics.set_held(table, side, False)
                log.info(
                    "stream hold of %s (%s): the mappings no longer stream its %s changes; cleared",
                    table,
                    side,
                    side,
                )
                continue
            applier = self.appliers.get(side)
            if applier is None:
                continue
            if RETYPED_HOLD in reason:
                self._unconfirmed_holds.add((table, side))
                continue
            try:
                missing = applier.lacks_columns(table)
            except Exception as exc:  # the table is gone, say: the row stays, the start goes on
                log.warning("stream hold of %s (%s): cannot check its target: %s", table, side, exc)
                continue
            if missing is None:
                clear_hold(self.state_conn, table, side)
                if self.metrics is not None:
                    self.metrics.set_held(table, side, False)

    def _offset_gap(self, msg: Message) -> None:
        """Kafka no longer holds the offset a partition was to be read from (the client's reset
        policy is ``error``, so it never jumps on by itself): go on where Kafka's log allows,
        and record the changes lost in between (see :mod:`.offset_gaps`)."""
        topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
        if topic is None or partition is None or topic not in self.topics:
            log.warning("kafka: %s", msg.error())
            return
        part = (topic, partition)
        if part not in {(tp.topic, tp.partition) for tp in self.consumer.assignment()}:
            return  # a late error of a partition another member owns now: its fence, not ours
        self._flush_open()  # what was read before it is applied before any offset moves
        wanted = OFFSET_INVALID if offset is None else offset
        # every partition of the topic this member reads: a topic created again puts all of
        # them out of range or, worse, in range at offsets of the old log
        siblings = [(tp.topic, tp.partition) for tp in self.consumer.assignment()]
        starts = self._recreated([p for p in siblings if p[0] == topic], {part: wanted})
        if starts:
            self._restart_at(starts)
            return
        # the target's own record of what it applied decides, not the offset in the error:
        # Kafka's committed offset trails it, and an error queued before a re-created topic's
        # partition was moved to its new start names an offset of the old log (resuming there
        # skipped the new log's first changes without a word)
        needed = self.applied.get(part, wanted)
        low, high = self._watermarks(topic, partition)
        resume, gap = resume_point(needed, low, high)
        if gap is not None:
            self._report_gap(part, gap)
        if gap is not None and gap.restarted:
            # the new log's offsets are below the fence, which would skip them as applied:
            # lower it, keeping the last source position, so changes re-read from a log that
            # was cut short rather than re-created are still recognised and skipped
            self.sessions[self.topics[topic][0]].rewind_offsets(
                self.config.group_id, {part: resume}, keep_source=True
            )
            self.applied[part] = resume
        if needed >= 0:  # Kafka's offset (nothing recorded: the handoff decides, _first_offset)
            self._restart_at({part: resume})
        else:
            self._reassign({part: resume})

    def _report_gap(self, part: tuple[str, int], gap: OffsetGap) -> None:
        """Record changes the stream lost, first (once per group, partition and offset): a
        restart after any later failure either finds the gap again or finds it recorded; then
        log, count and name it in the run's summary, once."""
        side, table = self.topics[part[0]]
        reason = gap.describe(table, side, part[0], part[1])
        if not record_gap(self.state_conn, table, side, self.config.group_id, part, gap, reason):
            return
        log.error("%s", reason)
        if self._open is not None:  # one line per partition that lost changes
            lost = self._open.summary.lost
            name = _held_name(table, side)
            lost[name] = f"{lost[name]} | {reason}" if name in lost else reason
        if self.metrics is not None:
            self.metrics.lost.labels(table, side).inc(gap.lost or 0)

    def _restart_at(self, starts: Mapping[tuple[str, int], int]) -> None:
        """Commit the partitions' new offsets to Kafka and read them from there."""
        for part in starts:
            self._uncommitted.pop(part, None)
        try:
            self.consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in starts.items()],
                asynchronous=False,
            )
        except KafkaException as exc:  # a rebalance: the next batch's commit carries it
            log.warning("kafka: committing the new start offsets %s: %s", dict(starts), exc)
            for part, offset in starts.items():
                self._uncommitted[part] = offset - 1
        self._reassign(starts)

    def _recreated(
        self, parts: Sequence[tuple[str, int]], committed: Mapping[tuple[str, int], int]
    ) -> dict[tuple[str, int], int]:
        """Of ``parts``, those whose topic was deleted and created again since this group last
        read them, each with the first offset of its new log. Their fences are lowered to it
        (the new offsets would be skipped as applied), and what the old topic may have held
        past the fence is recorded lost; then the partitions' topic ids are recorded."""
        self._ids_checked = time.monotonic()
        parts = [p for p in parts if p[0] in self.topics]
        if not parts:
            return {}
        if self._admin is None:
            self._admin = admin_client(self.endpoints.kafka_bootstrap)
        try:
            current = topic_ids(self._admin, {t for t, _ in parts})
        except Exception as exc:  # a KafkaException, or the request's timeout: go on
            log.warning(
                "kafka: cannot read the topics' ids (%s): a topic deleted and created again "
                "goes unnoticed until this works (the consumer needs DESCRIBE on its topics)",
                exc,
            )
            return {}
        known = read_topic_ids(self.state_conn, self.config.group_id)
        changed = recreated({p: known[p] for p in parts if p in known}, current)
        if changed:
            self._flush_open()  # read before: applied under the fence it was read by
        starts: dict[tuple[str, int], int] = {}
        for part in sorted(changed):
            low = self._watermarks(*part)[0]
            needed = max(self.applied.get(part, 0), committed.get(part, 0))
            self._report_gap(part, OffsetGap(needed, low, None, changed[part]))
            if part in self.applied:
                # the source position goes too: messages of the new topic read from the old
                # fence before this check would make its first ones look like old changes
                # Debezium sent again; the new log is applied again from its start, in order
                self.sessions[self.topics[part[0]][0]].rewind_offsets(
                    self.config.group_id, {part: low}
                )
                self.applied[part] = low
            self.source_high.pop(part, None)
            self._uncommitted.pop(part, None)  # an old-topic offset, never to be committed
            if self._replay_until.pop(part, None) is not None:  # offsets of the old log
                clear_replay_until(
                    self.state_conn, self._table_of(part[0]), handoff.replay_key(*part), None
                )
            if part in self.held_parts:
                self.held_parts[part] = low
            for table in move_recorded_position(self.state_conn, *part, low):
                log.warning(
                    "%s: its backfill's recorded position in %s[%d] was an offset of the old "
                    "topic; its replay starts at the new topic's offset %d",
                    table,
                    *part,
                    low,
                )
            starts[part] = low
        if changed:
            self.states = read_table_states(self.state_conn)
        seen = {
            p: current[p[0]] for p in parts if p[0] in current and known.get(p) != current[p[0]]
        }
        if seen:
            record_topic_ids(self.state_conn, self.config.group_id, seen)
        return starts

    def _check_topic_ids(self) -> None:
        """A running consumer's topics, compared with their recorded ids every minute: Kafka's
        client does not notice a topic deleted and created again under it."""
        self._ids_checked = time.monotonic()
        assigned = [(tp.topic, tp.partition) for tp in self.consumer.assignment()]
        if assigned:
            starts = self._recreated(assigned, {})
            if starts:
                self._restart_at(starts)

    def _watermarks(self, topic: str, partition: int) -> tuple[int, int]:
        """The partition's first and next offsets, waiting out a leader election."""
        deadline = time.monotonic() + 30
        while True:
            try:
                low, high = self.consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=10, cached=False
                )
                return int(low), int(high)
            except KafkaException as exc:
                if not leader_pending(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _reassign(self, starts: Mapping[tuple[str, int], int]) -> None:
        """Assign the partitions again, ``starts`` at their new offsets: after an offset out of
        range the client stops fetching that partition and refuses a seek on it; a new
        assignment starts it again. The others keep their positions and their pauses."""
        current = self.consumer.assignment()
        positions = {(p.topic, p.partition): p.offset for p in self.consumer.position(current)}
        parts = [
            TopicPartition(
                tp.topic,
                tp.partition,
                starts.get((tp.topic, tp.partition), positions.get((tp.topic, tp.partition), -1)),
            )
            for tp in current
        ]
        unread = [tp for tp in parts if tp.offset < 0]
        if unread:  # from the committed offset, or where an uncommitted one begins
            committed = {
                (c.topic, c.partition): c.offset for c in self.consumer.committed(unread, 30)
            }
            for tp in unread:
                known = committed.get((tp.topic, tp.partition), OFFSET_INVALID) >= 0
                tp.offset = OFFSET_INVALID if known else self._first_offset(tp.topic, tp.partition)
        self.consumer.assign(parts)
        assigned = {(tp.topic, tp.partition) for tp in parts}
        keep = sorted((self.paused | set(self.held_parts)) & assigned)
        if keep:
            self.consumer.pause([TopicPartition(t, p) for t, p in keep])

    def _topic_absent(self, msg: Message, error: KafkaError) -> None:
        """A subscribed topic that does not exist yet: the table had no change since its
        connector started. Most of a large database's topics are absent at first, and a warning
        each (librdkafka reports every one) buried the log; :meth:`run` counts them instead."""
        topic = msg.topic() or str(error)
        if topic not in self._absent_topics:
            self._absent_topics.add(topic)
            log.debug("kafka: %s", error)

    def _flush(self, batcher: MicroBatcher, pending: _Pending, summary: RunSummary) -> None:
        events = batcher.drain()
        started = time.monotonic()
        by_side: dict[Side, list[ChangeEvent]] = {}
        for event in events:
            by_side.setdefault(event.side, []).append(event)
        fence = self._fence(pending)
        attempt = 0
        while True:
            attempt += 1
            result = BatchResult()
            try:
                self._write_batch(by_side, fence, result)
                break
            except TablesPausedError as exc:
                self._rollback()
                self._pause_now(exc.states, pending)
                events = [e for e in events if self._mapping_name(e) not in exc.states]
                by_side = {}
                for event in events:
                    by_side.setdefault(event.side, []).append(event)
                fence = self._fence(pending)
                attempt = 0
            except MissingTargetColumnError as exc:
                self._rollback()
                self._hold(exc, pending, summary)
                events = [e for e in events if (e.side, self._mapping_name(e)) not in self.held]
                by_side = {}
                for event in events:
                    by_side.setdefault(event.side, []).append(event)
                fence = self._fence(pending)
                attempt = 0  # the rest of the batch runs again, as it was never tried
            except Exception as exc:
                self._rollback()
                if not is_transient(exc) or attempt == TRANSIENT_ATTEMPTS:
                    raise
                log.warning(
                    "batch of %d events rolled back by the server (%s); running it again, "
                    "attempt %d of %d",
                    len(events),
                    str(exc).splitlines()[0],
                    attempt + 1,
                    TRANSIENT_ATTEMPTS,
                )
                time.sleep(0.05 * attempt)
        try:
            letters = list(pending.letters)
            for letter in result.dead_letters:
                pos = letter.event.position if letter.event else None
                raw = pending.raw.get((pos.topic, pos.partition, pos.offset)) if pos else None
                letters.append((letter, *(raw or (None, None))))
            assert self.producer is not None, "the consumer was closed"
            publish(self.producer, self.config.dead_letter_topic, letters)
            for letter, _, _ in pending.letters:  # undecodable: recorded with the others
                side = letter.event.side if letter.event else "mysql"
                result.counts(letter.source_table, side).dead_letters += 1
                result.dead_letters.append(letter)
            self._record_decisions(result)
            self.state_conn.commit()  # tombstones and the rest: before the targets
            for side, session in self._commit_order(result):
                session.commit()
                for part, (next_offset, _) in fence.get(side, {}).items():  # a replay reads lower
                    self.applied[part] = max(self.applied.get(part, 0), next_offset)
                    if part in pending.source_high:
                        self.source_high[part] = pending.source_high[part]
        except Exception:
            self._rollback()
            raise
        summary.write_seconds += time.monotonic() - started
        applied_at_ms = time.time() * 1000
        lags = [int(applied_at_ms - event.source_ts_ms) for event in events]
        summary.lag.add(lags)
        tally: dict[tuple[str, Side], list[int]] = {}  # events, last source time, max lag
        for event, event_lag in zip(events, lags, strict=True):
            ident = (self._mapping_name(event), event.side)
            t = tally.get(ident)
            if t is None:
                tally[ident] = [1, event.source_ts_ms, event_lag]
                continue
            t[0] += 1
            if event.source_ts_ms > t[1]:
                t[1] = event.source_ts_ms
            if event_lag > t[2]:
                t[2] = event_lag
        lag: dict[tuple[str, str], int] = {}
        for ident, (count, last_source_ts_ms, max_lag) in tally.items():
            n = result.counts(*ident)
            n.events += count
            n.last_source_ts_ms = max(n.last_source_ts_ms, last_source_ts_ms)
            lag[ident] = max(0, max_lag)
        for (table, side), count in pending.echoes.items():
            result.counts(table, side).echoes += count
        if self._replay_until:
            self._replay_done([part for side in fence.values() for part in side])
        if self._unconfirmed_holds:
            self._confirm_released(self._wrote_rows(events, result))
        flushed = time.monotonic()
        record_batch(self.state_conn, result, lag, flushed - min(started, self._last_flush_end))
        self._last_flush_end = flushed
        if self.metrics is not None:
            self.metrics.observe(result, lag)
        if pending.offsets:
            self._commit_offsets(pending.offsets)
        summary.replayed += pending.replayed
        summary.duplicates += pending.duplicates
        for (topic, partition), (count, lowest, high) in pending.skipped.items():
            _warn_skipped(topic, partition, count, lowest, high)
        self._summarise(result, summary)

    def _wrote_rows(
        self, events: Sequence[ChangeEvent], result: BatchResult
    ) -> set[tuple[str, Side]]:
        """(table, incoming side) of the unconfirmed holds this batch wrote an insert or update
        of to the target: more rows applied than its keys whose last change is a delete (a
        delete never writes the retyped column; echoes, skipped and same-valued changes are
        not applied)."""
        last: dict[tuple[tuple[str, Side], tuple[Any, ...]], str] = {}
        for event in events:
            ident = (self._mapping_name(event), event.side)
            if ident in self._unconfirmed_holds:
                last[(ident, event.key_tuple())] = event.op
        deletes = Counter(ident for (ident, _), op in last.items() if op == "d")
        return {
            ident
            for ident in self._unconfirmed_holds
            if ident in result.tables and result.tables[ident].applied > deletes[ident]
        }

    def _confirm_released(self, wrote: set[tuple[str, Side]]) -> None:
        """Clear the recorded retyped-column holds of the tables this batch wrote rows of."""
        for ident in self._unconfirmed_holds & wrote:
            if ident[::-1] in self.held:  # held again in this batch: still failing
                continue
            self._unconfirmed_holds.discard(ident)
            clear_hold(self.state_conn, *ident)
            if self.metrics is not None:
                self.metrics.set_held(*ident, False)
            log.info("%s: writes to its target work again; its hold is cleared", ident[0])

    def _commit_offsets(self, offsets: dict[tuple[str, int], int]) -> None:
        """Commit the last offset read per partition to Kafka.

        Kafka's offsets only say where a restarted consumer starts reading; the target's own
        transaction already holds the applied ones (ADR 0007), and a replay below them is
        skipped. So a failed commit (a batch outlived max.poll.interval.ms and the group moved
        on, the coordinator moved, the broker restarted) is logged, and its offsets go with the
        next batch's commit instead of ending the run."""
        for part, offset in offsets.items():
            self._uncommitted[part] = max(offset, self._uncommitted.get(part, -1))
        try:
            self.consumer.commit(
                offsets=[TopicPartition(t, p, o + 1) for (t, p), o in self._uncommitted.items()],
                asynchronous=False,
            )
        except KafkaException as exc:
            reason = exc.args[0] if exc.args else exc
            log.warning(
                "kafka offset commit failed (%s); the applied offsets are safe in the target "
                "database, and the next batch's commit carries these",
                reason,
            )
            return
        self._uncommitted.clear()

    def _write_batch(
        self,
        by_side: dict[Side, list[ChangeEvent]],
        fence: dict[Side, dict[tuple[str, int], Fence]],
        result: BatchResult,
    ) -> None:
        """Every write of one batch, uncommitted: a failure rolls all of it back."""
        for side, session in self.sessions.items():
            if fence.get(side):
                self._check_fence(session, list(fence[side]))
            side_events = by_side.get(side, [])
            writer = session.state_writer()
            if side_events and writer is not None:
                held = lock_table_states(writer, {self._mapping_name(e) for e in side_events})
                if held:
                    raise TablesPausedError(held)
            if side_events:
                self.appliers[side].apply(collapse(side_events), result)
            if fence.get(side):
                session.record_offsets(self.config.group_id, fence[side])
        for burial in result.burials:
            if self._replayed(burial.event):
                # the copy holds MySQL's later rows (a key deleted and re-created since the
                # position, say): no older update of the other side brought them back, and the
                # replay's own changes that follow bring both sides to MySQL's state
                log.info(
                    "%s key %s: replayed delete won a conflict with the backfill's copy; no row "
                    "is removed on %s",
                    burial.table,
                    dict(burial.event.key or {}),
                    burial.row_side,
                )
                continue
            self._bury(burial)

    def _record_decisions(self, result: BatchResult) -> None:
        """Each conflict and dead letter goes with the transaction of the target its change was
        meant for, where that target shares the state database; the rest with the state
        transaction that commits before the targets (see metrics.record_decisions)."""
        conflicts: dict[Side, list[ConflictRecord]] = {}
        letters: dict[Side, list[DeadLetter]] = {}
        for c in result.conflicts:
            conflicts.setdefault(c.incoming_side, []).append(c)
        for letter in result.dead_letters:
            side: Side = letter.event.side if letter.event is not None else "mysql"
            letters.setdefault(side, []).append(letter)
        for side in conflicts.keys() | letters.keys():
            session = self.sessions.get(side)
            writer = session.state_writer() if session is not None else None
            conn = writer if writer is not None else self.state_conn
            topic = self.config.dead_letter_topic
            record_decisions(conn, conflicts.get(side, []), letters.get(side, []), topic)

    def _commit_order(self, result: BatchResult) -> list[tuple[Side, TargetSession]]:
        """The target that removed a row (``_bury``: a resurrected row, or the row of a change
        that lost to a tombstone) commits first. Its delete was
        triggered by an event the *other* target's fence covers: a crash between the two
        commits must leave that event unapplied, so the replay buries again; the other way
        round the event is skipped as applied and the row stays. Buries toward both targets in
        one batch cannot both come first (the default order then)."""
        bury_sides = {"postgres" if b.row_side == "mysql" else "mysql" for b in result.burials}
        return sorted(self.sessions.items(), key=lambda item: item[0] not in bury_sides)

    def _check_fence(self, session: TargetSession, parts: list[tuple[str, int]]) -> None:
        """Lock the batch's partitions' applied offsets and refuse the batch when another member
        of the group moved them since this one read its messages (it lost the partitions to a
        rebalance it did not see in time, e.g. a batch longer than max.poll.interval.ms): its
        batch holds changes older than what the target has applied since."""
        stored = session.locked_offsets(self.config.group_id, parts)
        moved = {p: n for p, n in stored.items() if n > self.applied.get(p, 0)}
        if moved:
            mine = self.applied
            where = ", ".join(
                f"{t}[{p}]: applied up to offset {n - 1}, this member from {mine.get((t, p), 0)}"
                for (t, p), n in sorted(moved.items())
            )
            raise FenceMovedError(
                f"consumer group {self.config.group_id}: another member applied these partitions "
                f"meanwhile ({where}); this batch was rolled back with nothing written. Start the "
                "consumer again: it rejoins the group and reads from the applied offsets."
            )

    def _rollback(self) -> None:
        for session in self.sessions.values():
            session.rollback()
        self.state_conn.rollback()

    def _mapping_name(self, event: ChangeEvent) -> str:
        return (
            self.topics.get(event.position.topic, (event.side, event.source_table))[1]
            if event.position
            else event.source_table
        )

    def _fence(self, pending: _Pending) -> dict[Side, dict[tuple[str, int], Fence]]:
        """Per target side, the next offset and last source position of every partition this
        batch read from."""
        fence: dict[Side, dict[tuple[str, int], Fence]] = {}
        for ident, offset in pending.offsets.items():
            side = self.topics.get(ident[0], (None,))[0]
            if side in self.sessions:
                last = source_order.dump(pending.source_high.get(ident))
                fence.setdefault(side, {})[ident] = (offset + 1, last)
        return fence

    def _bury(self, burial: Burial) -> None:
        """Remove a row on ``burial.row_side`` that a delete which won still beats, locked and
        as the applier's own write (see apply.Burial):
        - a delete from side X was applied at the other side: the row the applier resurrected
          on X from an older update of the other side, consumed before the delete arrived (with
          or without a conflict under last-writer-wins: the delete's event may come late, after
          faults; under version only after a delete_update the delete won);
        - an insert/update from side X lost to the other side's tombstone (last-writer-wins):
          the delete had already run on X, so the row X wrote since, if the delete still beats
          its rule value."""
        back: Side = "postgres" if burial.row_side == "mysql" else "mysql"
        session = self.sessions.get(back)  # the session that writes to the row's side
        mapping = self.mappings.find_source(burial.table)
        if session is None:
            log.warning(
                "%s key %s: a delete on %s won, but this consumer does not write to %s, so a "
                "row there it beats stays (run both directions in one consumer; reconcile "
                "reports the row)",
                burial.table,
                dict(burial.event.key or {}),
                burial.delete_side,
                burial.row_side,
            )
            return
        if mapping is None or mapping.conflict.column is None:
            return
        event = burial.event
        plan = plan_for(mapping, back, session.dialect)
        key = tuple((event.key or {}).get(k, (event.before or {}).get(k)) for k in plan.dst_key)
        rows = session.lock_rows(plan.table_sql, plan.dst_names, plan.dst_key, [key])
        row = next(iter(rows.values()), None)
        if row is None or plan.rule_column is None:
            return
        kind = plan.kinds.get(plan.rule_column, "text")
        value = dict(zip(plan.dst_names, row, strict=True))[plan.rule_column]
        if burial.beaten is not None and canonical(kind, value) != canonical(kind, burial.beaten):
            return  # not the row the delete beat: the key was re-created since, and stays
        if bury(
            mapping.conflict.rule,
            burial.delete_side,
            canonical(kind, burial.counts_as),
            canonical(kind, value),
        ):
            log.info(
                "delete of %s key %s on %s won: removing the row it beats on %s",
                mapping.name,
                dict(event.key),
                burial.delete_side,
                burial.row_side,
            )
            session.delete(plan.table_sql, plan.dst_key, [key])

    def _summarise(self, result: BatchResult, summary: RunSummary) -> None:
        summary.batches += 1
        for n in result.tables.values():
            summary.events += n.events
            summary.applied += n.applied
            summary.skipped_same += n.skipped_same
            summary.echoes += n.echoes
            summary.conflicts += n.conflicts
            summary.dead_letters += n.dead_letters
        for (table, side), cols in result.drift.items():
            summary.drift[f"{table} ({side})"] = list(cols)

    def close(self) -> None:
        if self._uncommitted:
            self._commit_offsets({})  # one more try; a failure only means a longer replay
        self._closing = True
        close_kafka_client(self.consumer.close, "the consumer")
        self._forget_lag(self._lag_revoked)  # left the group: another member applies them
        # its threads end only when it is freed: a service that reconnects or reloads its
        # mappings makes a new consumer each time, and kept every old producer's threads
        producer, self.producer = self.producer, None
        if producer is not None:
            close_kafka_client(lambda: producer.flush(CLOSE_WAIT_S), "the dead-letter producer")
            del producer
        self._close_databases()


CLOSE_WAIT_S = 30.0


def close_kafka_client(close: Callable[[], Any], what: str) -> None:
    """Run a Kafka client's close in a thread of its own and wait at most CLOSE_WAIT_S: seen
    once in CI, librdkafka's destroy waited for its own main thread for good (the process held
    200 clients), and a close that never returns keeps a stream run or service from ending."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            close()
        except Exception as exc:  # best effort: a lost broker may fail it
            failure.append(exc)

    closer = threading.Thread(target=run, name="kafka-close", daemon=True)
    closer.start()
    closer.join(CLOSE_WAIT_S)
    if closer.is_alive():
        log.warning(
            "closing %s took over %.0f s; left to finish in the background", what, CLOSE_WAIT_S
        )
    elif failure:
        log.debug("close %s: %s", what, failure[0])


def _held_name(table: str, side: Side) -> str:
    """A held table in a run summary, as ``mapping_drift`` names it: per direction."""
    return f"{table} ({side})"


def _placeholder(side: Side, table: str, position: KafkaPosition) -> ChangeEvent:
    """A stand-in event for an undecodable message, so its dead letter names where it came from."""
    namespace, _, name = table.partition(".")
    return ChangeEvent(side, namespace, name, "c", {}, None, None, 0, position=position)


def _warn_skipped(
    topic: str, partition: int, count: int, lowest: SourceOrder, high: SourceOrder
) -> None:
    """Skipped changes are normal after a Debezium restart (it sends its last changes again),
    but a source log that started over also sorts below what was applied: say what was skipped
    and how to get it back if that is what happened."""
    log.warning(
        "%s[%d]: skipped %d change(s) at source positions from %s, at or below the last one "
        "applied (%s): Debezium sent them again after a restart. If the source's log started "
        "over instead (MySQL RESET MASTER, a restored server with the same server id), they are "
        "new changes: stop the stream, set source_position to NULL for this topic and partition "
        "in mps_sync.applied_offsets (and mps_applied_offsets in MySQL), start it again and run "
        "reconcile with repair on to copy over what was skipped",
        topic,
        partition,
        count,
        source_order.dump(lowest),
        source_order.dump(high),
    )
