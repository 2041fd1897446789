"""Stream state in ``mps_sync``: conflicts, dead letters, per-table counters/lag, mapping drift;
and the same counters as Prometheus metrics for the long-lived service."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, start_http_server

from mysql_pg_sync.cdc.apply import BatchResult, ConflictRecord, DeadLetter
from mysql_pg_sync.cdc.dead_letters import letter_row
from mysql_pg_sync.cdc.events import Side
from mysql_pg_sync.cdc.handoff import HANDOFF_LOCK_CLASS, HELD_STATES, TableState
from mysql_pg_sync.cdc.images import to_json
from mysql_pg_sync.cdc.lag_histogram import nearest_rank
from mysql_pg_sync.cdc.offset_gaps import OffsetGap


def read_table_states(conn: psycopg.Connection[Any]) -> dict[str, TableState]:
    """Backfill/stream handoff states by source table (MySQL db.table)."""
    rows = conn.execute(
        "SELECT source_table, state, kafka_position, replayed_position, replay_until "
        "FROM mps_sync.table_state"
    )
    states = {r[0]: TableState(r[1], r[2], r[3], r[4]) for r in rows.fetchall()}
    conn.commit()
    return states


def lock_table_states(conn: psycopg.Connection[Any], tables: Iterable[str]) -> dict[str, str]:
    """In the batch's transaction on the target that shares the state database: the held
    states (``backfilling``, ``paused``, ``failed``) of ``tables``, read after taking each
    table's handoff lock shared, so a backfill that marks one of them ``backfilling`` and empties
    it waits for this batch to commit, and a batch that starts after reads its mark. The
    consumer's own refresh of the states comes every few seconds: a batch between the mark and
    that refresh wrote into a table being emptied and copied (walkthrough 5, D16)."""
    if not tables:
        return {}
    names = sorted(tables)
    conn.execute(
        "SELECT pg_advisory_xact_lock_shared(%s, h) FROM (SELECT DISTINCT hashtext(t) AS h "
        "FROM unnest(%s::text[]) AS t ORDER BY 1) AS keys",
        (HANDOFF_LOCK_CLASS, names),
    )
    rows = conn.execute(
        "SELECT source_table, state FROM mps_sync.table_state "
        "WHERE source_table = ANY(%s) AND state = ANY(%s)",
        (names, sorted(HELD_STATES)),
    ).fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def record_replayed(
    conn: psycopg.Connection[Any],
    source_table: str,
    rewound: dict[str, int],
    until: dict[str, int],
) -> None:
    """Mark partitions of a table's recorded position as rewound to, with where each one's
    replay ends (see cdc/handoff.py), in one write: a rewind is done with both or neither."""
    conn.execute(
        "UPDATE mps_sync.table_state SET replayed_position ="
        " coalesce(replayed_position, '{}'::jsonb) || %s::jsonb,"
        " replay_until = coalesce(replay_until, '{}'::jsonb) || %s::jsonb"
        " WHERE source_table = %s",
        (json.dumps(rewound), json.dumps(until), source_table),
    )
    conn.commit()


def clear_replay_until(
    conn: psycopg.Connection[Any], source_table: str, key: str, applied: int | None
) -> None:
    """A partition's replay is over: its applied offset reached the recorded end (a later
    rewind's larger end is kept), or, ``applied`` None, its topic was created again."""
    conn.execute(
        "UPDATE mps_sync.table_state SET replay_until = replay_until - %(key)s "
        "WHERE source_table = %(table)s AND replay_until ? %(key)s "
        "AND (%(applied)s::bigint IS NULL OR (replay_until->>%(key)s)::bigint <= %(applied)s)",
        {"table": source_table, "key": key, "applied": applied},
    )
    conn.commit()


def move_recorded_position(
    conn: psycopg.Connection[Any], topic: str, partition: int, offset: int
) -> list[str]:
    """A backfill's recorded position in a topic that was deleted and created again points
    into the old topic's offsets: move each table's not yet replayed position of that
    partition to ``offset`` (the new log's start); returns the tables moved."""
    rows = conn.execute(
        "UPDATE mps_sync.table_state SET kafka_position = jsonb_set(kafka_position, "
        "ARRAY[%(topic)s, %(part)s], to_jsonb(%(offset)s::bigint)) "
        "WHERE kafka_position ? %(topic)s "
        "AND NOT coalesce(replayed_position, '{}'::jsonb) ? (%(topic)s || ':' || %(part)s) "
        "RETURNING source_table",
        {"topic": topic, "part": str(partition), "offset": offset},
    ).fetchall()
    conn.commit()
    return [str(r[0]) for r in rows]


def record_gap(
    conn: psycopg.Connection[Any],
    source_table: str,
    side: str,
    group_id: str,
    where: tuple[str, int],
    gap: OffsetGap,
    reason: str,
) -> bool:
    """Changes Kafka deleted before the stream applied them (see :mod:`.offset_gaps`); False
    when this group had recorded the same gap already (found again after a restart, or by a
    second out-of-range error of the same partition before its new offset took)."""
    cur = conn.execute(
        "INSERT INTO mps_sync.stream_gaps (source_table, incoming_side, group_id, topic, "
        "kafka_partition, needed_offset, resumed_offset, lost, reason, topic_id) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (group_id, topic, kafka_partition, needed_offset, (coalesce(topic_id, ''))) "
        "WHERE kind = 'kafka' DO NOTHING",
        (
            source_table,
            side,
            group_id,
            where[0],
            where[1],
            gap.needed,
            gap.resume,
            gap.lost,
            reason,
            None if gap.recreated is None else gap.recreated[1],
        ),
    )
    conn.commit()
    return cur.rowcount == 1


def read_topic_ids(conn: psycopg.Connection[Any], group_id: str) -> dict[tuple[str, int], str]:
    """The topic's id each partition had when ``group_id`` last read it (see
    :func:`.offset_gaps.recreated`)."""
    rows = conn.execute(
        "SELECT topic, kafka_partition, topic_id FROM mps_sync.partition_topic_ids "
        "WHERE group_id = %s",
        (group_id,),
    ).fetchall()
    conn.commit()
    return {(str(topic), int(part)): str(topic_id) for topic, part, topic_id in rows}


def record_topic_ids(
    conn: psycopg.Connection[Any], group_id: str, ids: Mapping[tuple[str, int], str]
) -> None:
    """Remember the partitions' topic ids; recorded after the fence of a re-created topic's
    partition was lowered, so a crash in between finds the new id again at the restart."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO mps_sync.partition_topic_ids (group_id, topic, kafka_partition, topic_id) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (group_id, topic, kafka_partition) DO UPDATE "
            "SET topic_id = EXCLUDED.topic_id, changed_at = now() "
            "WHERE partition_topic_ids.topic_id <> EXCLUDED.topic_id",
            [(group_id, t, p, topic_id) for (t, p), topic_id in sorted(ids.items())],
        )
    conn.commit()


def record_capture_gap(
    conn: psycopg.Connection[Any], source_table: str, side: str, reason: str
) -> None:
    """Changes a connector never captured: its stored position was gone and was reset."""
    conn.execute(
        "INSERT INTO mps_sync.stream_gaps (source_table, incoming_side, kind, reason) "
        "VALUES (%s, %s, 'capture', %s)",
        (source_table, side, reason),
    )
    conn.commit()


def record_hold(conn: psycopg.Connection[Any], source_table: str, side: str, reason: str) -> bool:
    """The table waits for a column its target lacks (kept until :func:`clear_hold`); True
    when the hold is new, False when an earlier run recorded it already."""
    row = conn.execute(
        "INSERT INTO mps_sync.stream_holds (source_table, incoming_side, reason) "
        "VALUES (%s, %s, %s) ON CONFLICT (source_table, incoming_side) "
        "DO UPDATE SET reason = EXCLUDED.reason, checked_at = now() "
        "RETURNING xmax = 0",  # no old row version: inserted, not updated
        (source_table, side, reason),
    ).fetchone()
    conn.commit()
    return bool(row and row[0])


def clear_hold(conn: psycopg.Connection[Any], source_table: str, side: str) -> None:
    conn.execute(
        "DELETE FROM mps_sync.stream_holds WHERE source_table = %s AND incoming_side = %s",
        (source_table, side),
    )
    conn.commit()


def read_holds(conn: psycopg.Connection[Any]) -> list[tuple[str, Side, str]]:
    """(source table, incoming side, reason) of every recorded hold."""
    rows = conn.execute(
        "SELECT source_table, incoming_side, reason FROM mps_sync.stream_holds"
    ).fetchall()
    conn.commit()
    return [(str(r[0]), "postgres" if r[1] == "postgres" else "mysql", str(r[2])) for r in rows]


def record_decisions(
    conn: psycopg.Connection[Any],
    conflicts: Sequence[ConflictRecord],
    dead_letters: Sequence[DeadLetter],
    dead_letter_topic: str,
) -> None:
    """Write a batch's conflicts and dead letters: in the target's own transaction when the
    state schema shares its database (PostgreSQL), so they commit or roll back with the
    writes they describe; otherwise in the state transaction that commits *before* the target,
    so nothing it committed goes unrecorded. A crash in between then replays the batch, whose
    records rewrite the rows of the same Kafka positions (one row per position and key: a
    re-created topic starts its offsets again, and its rows must not take over earlier ones)."""
    if not conflicts and not dead_letters:
        return
    with conn.transaction(), conn.cursor() as cur:
        if conflicts:
            cur.executemany(
                "INSERT INTO mps_sync.conflicts (source_table, target_table, key, incoming_side,"
                " incoming_image, target_image, winner, rule, kind, kafka_topic, kafka_partition,"
                " kafka_offset) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                # a replay decides again, and only the last attempt's writes were committed
                " ON CONFLICT (kafka_topic, kafka_partition, kafka_offset, key) DO UPDATE SET"
                " decided_at = now(), source_table = EXCLUDED.source_table,"
                " target_table = EXCLUDED.target_table,"
                " incoming_side = EXCLUDED.incoming_side,"
                " incoming_image = EXCLUDED.incoming_image,"
                " target_image = EXCLUDED.target_image, winner = EXCLUDED.winner,"
                " rule = EXCLUDED.rule, kind = EXCLUDED.kind",
                [
                    (
                        c.source_table,
                        c.target_table,
                        json.dumps(to_json(c.key)),
                        c.incoming_side,
                        _json_or_null(c.incoming_image),
                        _json_or_null(c.target_image),
                        c.winner,
                        c.rule,
                        c.kind,
                        *_position(c.event),
                    )
                    for c in conflicts
                ],
            )
        if dead_letters:
            cur.executemany(
                "INSERT INTO mps_sync.dead_letters (source_table, key, error_class, error,"
                " kafka_topic, kafka_partition, kafka_offset, dead_letter_topic)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (kafka_topic, kafka_partition, kafka_offset,"
                " (coalesce(key, 'null'::jsonb))) DO UPDATE SET"
                " recorded_at = now(), source_table = EXCLUDED.source_table,"
                " error_class = EXCLUDED.error_class,"
                " error = EXCLUDED.error, dead_letter_topic = EXCLUDED.dead_letter_topic,"
                # failing again is a new failure: open, whatever a recovery recorded before
                " resolved_at = NULL, resolution = NULL",
                [letter_row(d, dead_letter_topic) for d in dead_letters],
            )


def record_batch(
    conn: psycopg.Connection[Any],
    result: BatchResult,
    lag_ms: Mapping[tuple[str, str], int],
    elapsed_s: float,
) -> None:
    """Add a committed batch to the counters and the drift report (after the targets commit: a
    replayed batch must not count twice).

    ``elapsed_s`` is the time the batch stands for (since the consumer's previous batch, or its
    run's start); each table's rate is its own events over it, so the rates of a batch's tables
    add up to the batch's rate instead of each claiming all of it.
    """
    elapsed_s = max(elapsed_s, 1e-6)
    with conn.transaction(), conn.cursor() as cur:
        for (table, side), n in result.tables.items():
            # The lag and last_applied_at describe the last batch that applied rows: a batch
            # of dropped echoes (or of changes the target already had) leaves both as they
            # were, so the status page shows a lag with its own age and no false activity.
            cur.execute(
                "INSERT INTO mps_sync.stream_metrics AS m (source_table, incoming_side, events,"
                " applied, skipped_same, echoes, conflicts, dead_letters, last_lag_ms,"
                " events_per_s, last_source_ts, last_applied_at)"
                " SELECT b.t, b.s, b.e, b.a, b.same, b.echo, b.c, b.dl,"
                " CASE WHEN b.a > 0 THEN b.lag END, b.rate, to_timestamp(b.ts / 1000.0),"
                " CASE WHEN b.a > 0 THEN now() END"
                " FROM (VALUES (%s::text, %s::text, %s::bigint, %s::bigint, %s::bigint,"
                " %s::bigint, %s::bigint, %s::bigint, %s::bigint, %s::float8, %s::float8))"
                " AS b (t, s, e, a, same, echo, c, dl, lag, rate, ts)"
                " ON CONFLICT (source_table, incoming_side) DO UPDATE SET"
                " events = m.events + EXCLUDED.events, applied = m.applied + EXCLUDED.applied,"
                " skipped_same = m.skipped_same + EXCLUDED.skipped_same,"
                " echoes = m.echoes + EXCLUDED.echoes,"
                " conflicts = m.conflicts + EXCLUDED.conflicts,"
                " dead_letters = m.dead_letters + EXCLUDED.dead_letters,"
                " last_lag_ms = CASE WHEN EXCLUDED.applied > 0 THEN EXCLUDED.last_lag_ms"
                " ELSE m.last_lag_ms END, events_per_s = EXCLUDED.events_per_s,"
                " last_source_ts = greatest(m.last_source_ts, EXCLUDED.last_source_ts),"
                " last_applied_at = CASE WHEN EXCLUDED.applied > 0 THEN now()"
                " ELSE m.last_applied_at END",
                (
                    table,
                    side,
                    n.events,
                    n.applied,
                    n.skipped_same,
                    n.echoes,
                    n.conflicts,
                    n.dead_letters,
                    lag_ms.get((table, side)),
                    n.events / elapsed_s,
                    n.last_source_ts_ms or None,
                ),
            )
        for (table, side), columns in result.drift.items():
            cur.execute(
                "INSERT INTO mps_sync.mapping_drift (source_table, incoming_side, unknown_columns)"
                " VALUES (%s, %s, %s) ON CONFLICT (source_table, incoming_side, unknown_columns)"
                " DO UPDATE SET last_seen = now()",
                (table, side, list(columns)),
            )


def _json_or_null(image: Any) -> str | None:
    return None if image is None else json.dumps(to_json(image))


def _position(event: Any) -> tuple[Any, Any, Any]:
    pos = event.position if event is not None else None
    return (pos.topic, pos.partition, pos.offset) if pos else (None, None, None)


class PrometheusMetrics:
    """Counters per table and direction; lag as a gauge."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        labels = ("table", "incoming_side")
        self.events = Counter(
            "mps_stream_events", "change events consumed", labels, registry=registry
        )
        self.applied = Counter("mps_stream_applied", "changes written", labels, registry=registry)
        self.echoes = Counter("mps_stream_echoes", "own writes dropped", labels, registry=registry)
        self.conflicts = Counter(
            "mps_stream_conflicts", "conflicts decided", labels, registry=registry
        )
        self.dead_letters = Counter(
            "mps_stream_dead_letters",
            "changes sent to the dead-letter topic",
            labels,
            registry=registry,
        )
        self.lag = Gauge(
            "mps_stream_lag_seconds", "source commit -> applied", labels, registry=registry
        )
        self.held = Gauge(
            "mps_stream_table_held",
            "1 while the stream holds the table: a mapped column is missing on one side",
            labels,
            registry=registry,
        )

        self.drift = Gauge(
            "mps_stream_mapping_drift",
            "columns the table's changes carry that the mapping does not list, so not synced "
            "(run `mappings generate`)",
            labels,
            registry=registry,
        )

        self.lost = Counter(
            "mps_stream_lost_changes",
            "changes Kafka deleted before the stream applied them (retention); a reconcile "
            "repair restores them",
            labels,
            registry=registry,
        )

    def set_held(self, table: str, side: str, held: bool) -> None:
        self.held.labels(table, side).set(1 if held else 0)

    def forget_lag(self, table: str, side: str) -> None:
        """Drop a table's lag series once this process reads none of its partitions: another
        replica of the group applies it now, and the last value kept here froze (an alert on
        ``max by (table)`` fired for good after a rebalance)."""
        try:
            self.lag.remove(table, side)
        except KeyError:
            pass  # never observed here

    def observe(self, result: BatchResult, lag_ms: Mapping[tuple[str, str], int]) -> None:
        for (table, side), n in result.tables.items():
            self.events.labels(table, side).inc(n.events)
            self.applied.labels(table, side).inc(n.applied)
            self.echoes.labels(table, side).inc(n.echoes)
            self.conflicts.labels(table, side).inc(n.conflicts)
            self.dead_letters.labels(table, side).inc(n.dead_letters)
            if (table, side) in lag_ms:
                self.lag.labels(table, side).set(lag_ms[(table, side)] / 1000)
            drift = result.drift.get((table, side))
            if drift or n.applied:  # a change applied without drift: the mapping covers it now
                self.drift.labels(table, side).set(len(drift or ()))


_service_metrics: PrometheusMetrics | None = None
_served: set[tuple[str, int]] = set()
METRICS_ADDR = "127.0.0.1"
"""Where /metrics listens by default: this host only. A container serves 0.0.0.0 instead, so
that Prometheus in another container can scrape it (docker-compose's ``stream`` service)."""


def service_metrics(port: int | None, addr: str = METRICS_ADDR) -> PrometheusMetrics:
    """The process-wide metrics (registered once); serves /metrics on ``addr:port`` when a port
    is given (once per address)."""
    global _service_metrics
    if _service_metrics is None:
        _service_metrics = PrometheusMetrics()
    if port and (addr, port) not in _served:
        start_http_server(port, addr=addr)
        _served.add((addr, port))
    return _service_metrics


def percentile(values: Iterable[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[nearest_rank(p, len(ordered)) - 1]
