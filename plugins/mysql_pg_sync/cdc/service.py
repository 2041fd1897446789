"""One bounded or endless consume run, as the CLI service and the Airflow task both use it."""

from __future__ import annotations

import itertools
import json
import logging
import os
import signal
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from mysql_pg_sync.cdc.connector_config import ConnectorSettings
from mysql_pg_sync.cdc.consumer import RunSummary, StreamConfig, StreamConsumer
from mysql_pg_sync.cdc.heartbeat import HEARTBEAT_EVERY_S, Heartbeat
from mysql_pg_sync.cdc.metrics import METRICS_ADDR, service_metrics
from mysql_pg_sync.cdc.targets import is_connection_lost
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.errors import ConfigError, SyncError
from mysql_pg_sync.mapping.models import MappingSet, load_mappings, mappings_fingerprint
from mysql_pg_sync.settings import Endpoints

log = logging.getLogger(__name__)


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None


def config_from_env(env: Mapping[str, str] | None = None) -> StreamConfig:
    """Settings from ``MPS_CONNECTOR_PREFIX`` (topic names), ``MPS_STREAM_GROUP``,
    ``MPS_STREAM_DEAD_LETTER_TOPIC``,
    ``MPS_STREAM_BATCH_EVENTS``, ``MPS_STREAM_BATCH_MS``, ``MPS_PG_ORIGIN``, ``MPS_GTID_DOMAIN``,
    ``MPS_STREAM_INSTANCE_ID`` (Kafka static group membership; one per process)."""
    env = os.environ if env is None else env
    connectors = ConnectorSettings.from_env(env)
    base = StreamConfig()
    overrides: list[tuple[str, str]] = []
    if env.get("MPS_STREAM_INSTANCE_ID"):
        # static membership: a restarted process gets its partitions back at once instead of
        # waiting for the session of the crashed one to time out
        overrides.append(("group.instance.id", env["MPS_STREAM_INSTANCE_ID"]))
    return replace(
        base,
        mysql_topic_prefix=connectors.mysql_topic_prefix,
        pg_topic_prefix=connectors.postgres_topic_prefix,
        group_id=env.get("MPS_STREAM_GROUP") or f"{connectors.prefix}-stream",
        dead_letter_topic=env.get("MPS_STREAM_DEAD_LETTER_TOPIC")
        or f"{connectors.prefix}.dead-letters",
        max_batch_events=_int(env, "MPS_STREAM_BATCH_EVENTS", base.max_batch_events),
        max_batch_ms=_int(env, "MPS_STREAM_BATCH_MS", base.max_batch_ms),
        kafka_overrides=tuple(overrides),
        value_format="avro" if connectors.converter == "avro" else "json",
        tags=connectors.tags,
    )


class TablesHeldError(SyncError):
    """The run applied every other table, but some wait for a column their target lacks.
    ``new``: a hold began in this run (the DAG alerts); otherwise an earlier run alerted."""

    def __init__(self, message: str, new: bool = True) -> None:
        super().__init__(message)
        self.new = new


def fail_if_held(summary: Mapping[str, Any]) -> None:
    """Fail the Airflow task while a table waits for its column: the run itself committed
    everything else, and the next run goes on the same way. Only a hold that began in this run
    alerts; a run that finds it still there fails without a second alert."""
    held = summary.get("held_tables") or {}
    if held:
        began = set(summary.get("held_new_tables", held))  # an older summary: every one
        raise TablesHeldError(
            f"{len(held)} table(s) wait for a column their target lacks; every other table "
            "was applied. " + " | ".join(f"{why}" for why in held.values()),
            new=bool(began & set(held)),
        )


def lost_changes(summary: Mapping[str, Any]) -> str | None:
    """What the run found Kafka had deleted before the stream applied it, or None. The DAG
    fails the run with it at once, without retries: a retry would not find the gap again (the
    stream went on past it), and its success would swallow the alert."""
    lost = summary.get("lost_changes") or {}
    if not lost:
        return None
    return (
        f"{len(lost)} table(s) lost changes that Kafka deleted before the stream applied them; "
        "every other change was applied. " + " | ".join(str(why) for why in lost.values())
    )


MAPPINGS_CHECK_S = 10.0  # how often a run looks at the mapping files


class MappingsWatch:
    """Tells a running consumer that the mapping files changed, so it reloads them instead of
    streaming on with the old ones (a new column's values would be left out, a new table not
    consumed). A folder that no longer validates is logged and not loaded: the run goes on with
    the mappings it has until the files change again."""

    def __init__(self, folder: str | Path, interval_s: float = MAPPINGS_CHECK_S) -> None:
        self.folder = folder
        self.interval_s = interval_s
        self.seen = mappings_fingerprint(folder)
        self.next_check = time.monotonic() + interval_s

    def changed(self) -> bool:
        now = time.monotonic()
        if now < self.next_check:
            return False
        self.next_check = now + self.interval_s
        return mappings_fingerprint(self.folder) != self.seen

    def load(self) -> MappingSet | None:
        """The changed mappings, or None when they do not validate (logged with the reason)."""
        self.seen = mappings_fingerprint(self.folder)
        try:
            return load_mappings(self.folder)
        except SyncError as exc:
            log.error(
                "stream: the mapping files changed but do not validate, so the consumer goes "
                "on with the mappings it has (fix the files; they are read again when they "
                "change): %s",
                exc,
            )
            return None


RECONNECT_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0)
MAX_OUTAGE_S = 600.0  # then the run fails: a task retry or the service's supervisor takes over


def run_stream(
    endpoints: Endpoints,
    mappings_dir: str | Path,
    config: StreamConfig,
    *,
    max_seconds: float | None = None,
    max_events: int | None = None,
    metrics_port: int | None = None,
    metrics_addr: str = METRICS_ADDR,
    stop: Callable[[], bool] | None = None,
    max_outage_s: float = MAX_OUTAGE_S,
    mappings_check_s: float = MAPPINGS_CHECK_S,
    heartbeat_s: float = HEARTBEAT_EVERY_S,
) -> dict[str, Any]:
    """Consume until the limit, SIGTERM or ``stop()``; returns and records the run's summary,
    which each heartbeat (every ``heartbeat_s``) also records while the run goes on.

    A lost database connection (a server restart, a killed session) closes the consumer and
    opens a new one, waiting up to ``max_outage_s``: the batch in flight was rolled back, and
    the new consumer reads it again from Kafka's committed offset (ADR 0007). Changed mapping
    files (checked every ``mappings_check_s``) end the consumer's run the same way, after its
    last batch is committed, and a new consumer goes on with the new mappings."""
    mappings = load_mappings(mappings_dir)
    watch = MappingsWatch(mappings_dir, mappings_check_s)
    stopping = {"now": False, "reload": False}

    def _stop(signum: int, frame: Any) -> None:
        stopping["now"] = True

    run_id = uuid.uuid4().hex
    summary = RunSummary()
    reloads = 0

    def so_far() -> dict[str, Any]:
        held_now = {f"{table} ({side})": why for (side, table), why in consumer.held.items()}
        return {**summary.as_dict(), "mapping_reloads": reloads, "held_now": held_now}

    heartbeat = Heartbeat(
        lambda: pg_connect(endpoints.postgres), run_id, heartbeat_s, summary=so_far
    )

    def should_stop() -> bool:
        heartbeat.beat()  # called between batches: its every-30-s stamp costs nothing here
        if stopping["now"] or (stop is not None and stop()):
            return True
        if watch.changed():
            stopping["reload"] = True
        return stopping["reload"]

    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _stop)
    except ValueError:  # not the main thread (e.g. inside a worker); the limits still apply
        previous = None
    metrics = service_metrics(metrics_port, metrics_addr) if metrics_port is not None else None
    consumer = StreamConsumer(endpoints, mappings, config, metrics)
    started = time.monotonic()
    closed = False
    try:
        consumer.state_conn.execute(
            "INSERT INTO mps_sync.stream_runs (run_id) VALUES (%s)", (run_id,)
        )
        consumer.state_conn.commit()
        log.info(start_line(run_id, consumer, metrics_port, metrics_addr))
        while True:
            try:
                consumer.run(
                    max_seconds=None if max_seconds is None else max_seconds - _since(started),
                    max_events=None if max_events is None else max_events - summary.events,
                    stop=should_stop,
                    summary=summary,
                )
                if not stopping["reload"]:
                    break
                stopping["reload"] = False
                changed = watch.load()
                if changed is not None:
                    log.info("stream: the mapping files changed; consuming with the new mappings")
                    consumer.close()
                    closed = True
                    mappings = changed
                    consumer = StreamConsumer(endpoints, mappings, config, metrics)
                    closed = False
                    reloads += 1
            except Exception as exc:
                if not is_connection_lost(exc):
                    raise
                log.warning("stream: a database connection was lost (%s); reconnecting", exc)
                consumer.close()
                closed = True
                reopened = _reopen(endpoints, mappings, config, metrics, should_stop, max_outage_s)
                if reopened is None:  # stopped while waiting: end its row, as far as it can
                    _end_run(endpoints, run_id, {**summary.as_dict(), "stopped": "reconnecting"})
                    return summary.as_dict()
                consumer, closed = reopened, False
                summary.reconnects += 1
        result = {**summary.as_dict(), "mapping_reloads": reloads}
        consumer.state_conn.execute(
            "UPDATE mps_sync.stream_runs SET finished_at = now(), summary = %s WHERE run_id = %s",
            (json.dumps(result), run_id),
        )
        consumer.state_conn.commit()
    except BaseException as exc:
        _record_failed_run(endpoints, run_id, summary, exc)
        raise
    finally:
        heartbeat.close()
        if not closed:
            consumer.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    log.info("stream run %s: %s", run_id, result)
    return result


def start_line(
    run_id: str, consumer: StreamConsumer, metrics_port: int | None, metrics_addr: str
) -> str:
    """What a started run consumes and where its metrics are: a service is quiet otherwise
    until something happens."""
    tables = {table for _side, table in consumer.topics.values()}
    metrics = (
        f"Prometheus metrics on http://{metrics_addr}:{metrics_port}/metrics"
        if metrics_port
        else "no Prometheus metrics (--metrics-port)"
    )
    return (
        f"stream run {run_id}: consuming {len(tables)} table(s) from {len(consumer.topics)} "
        f"topic(s) as consumer group {consumer.config.group_id}; {metrics}"
    )


def _record_failed_run(
    endpoints: Endpoints, run_id: str, summary: RunSummary, exc: BaseException
) -> None:
    """End the run's row with the error that stopped it, so the status page counts it as
    failed, not running (a crash loop showed as 7 running consumers). Never raises: the
    caller re-raises ``exc``, and PostgreSQL may be what failed."""
    if isinstance(exc, KeyboardInterrupt):  # stopped by hand: ended, not failed
        result = {**summary.as_dict(), "stopped": "interrupted"}
    else:
        result = {**summary.as_dict(), "error": f"{type(exc).__name__}: {exc}"[:2000]}
    _end_run(endpoints, run_id, result)


def _end_run(endpoints: Endpoints, run_id: str, result: dict[str, Any]) -> None:
    """Set the run's finished_at and summary unless it has them; never raises (PostgreSQL may
    be what stopped it)."""
    try:
        with pg_connect(endpoints.postgres) as conn:
            conn.execute(
                "UPDATE mps_sync.stream_runs SET finished_at = now(), summary = %s "
                "WHERE run_id = %s AND finished_at IS NULL",
                (json.dumps(result, default=str), run_id),
            )
    except Exception as record_exc:
        log.warning("stream run %s: could not record its end (%s)", run_id, record_exc)


def _since(started: float) -> float:
    return time.monotonic() - started


def _reopen(
    endpoints: Endpoints,
    mappings: MappingSet,
    config: StreamConfig,
    metrics: Any,
    should_stop: Callable[[], bool],
    max_outage_s: float,
) -> StreamConsumer | None:
    """A new consumer once the databases answer again; None when stopped while waiting."""
    lost_at = time.monotonic()
    for attempt in itertools.count():
        if should_stop():
            return None
        try:
            return StreamConsumer(endpoints, mappings, config, metrics)
        except Exception as exc:
            if not is_connection_lost(exc) or _since(lost_at) > max_outage_s:
                raise
            wait = RECONNECT_BACKOFF_S[min(attempt, len(RECONNECT_BACKOFF_S) - 1)]
            log.warning("stream: databases unreachable (%s); next try in %.0f s", exc, wait)
            time.sleep(wait)
    return None  # pragma: no cover - itertools.count() does not end
