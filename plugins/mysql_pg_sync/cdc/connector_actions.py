"""The operator's connector actions, shared by the `connectors` DAG and the CLI.

Each action is one function taking the endpoints, the mappings and the connector settings; the
DAG and the CLI only parse their inputs and call these.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, get_args

import psycopg
from psycopg import sql

from mysql_pg_sync.backfill.handoff import kafka_end_offsets
from mysql_pg_sync.cdc import connector_lifecycle as lifecycle
from mysql_pg_sync.cdc import ddl_skips, topics
from mysql_pg_sync.cdc.binlog_statements import statement_database
from mysql_pg_sync.cdc.connect_client import (
    ConnectApiError,
    ConnectClient,
    ConnectorNotFound,
    ConnectorStatus,
)
from mysql_pg_sync.cdc.connector_config import (
    CONNECTOR_CLASSES,
    POSTGRES_CONNECTOR_CLASS,
    ConnectorSettings,
    RenderedConnector,
    Side,
    added_databases,
    change_topic,
    mysql_captured_databases,
    mysql_captured_tables,
    postgres_captured_tables,
    postgres_heartbeat_table,
    render_connectors,
    with_schema_recovery,
)
from mysql_pg_sync.cdc.connector_drift import (
    ConfigDrift,
    config_drift,
    reconcile_hint,
    uncaptured_tables,
)
from mysql_pg_sync.cdc.connector_signals import (
    SnapshotFailed,
    SnapshotResult,
    SnapshotTimeout,
    ensure_heartbeat_table,
    ensure_signal_table,
    send_execute_snapshot,
    snapshot_signal_id,
    wait_for_initial_snapshot,
    wait_for_snapshot,
)
from mysql_pg_sync.cdc.metrics import record_capture_gap
from mysql_pg_sync.cdc.preflight import Finding, raise_for_errors
from mysql_pg_sync.cdc.preflight import connect as connect_preflight
from mysql_pg_sync.cdc.preflight import mysql as mysql_preflight
from mysql_pg_sync.cdc.preflight import postgres as postgres_preflight
from mysql_pg_sync.cdc.unparseable_ddl import DdlSkipError, decide, failed_statement, in_snapshot
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.errors import ConfigError, SyncError
from mysql_pg_sync.mapping.models import MappingSet, load_mappings
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints
from mysql_pg_sync.state.schema import ensure_schema

log = logging.getLogger(__name__)

Action = Literal[
    "apply",
    "pause",
    "resume",
    "stop",
    "restart_failed",
    "reset_lost_positions",
    "delete",
    "snapshot_tables",
    "skip_ddl",
]
ACTIONS: tuple[Action, ...] = get_args(Action)


@dataclass(frozen=True)
class ConnectorContext:
    """Everything an action needs: where things are, what to capture, how to name it."""

    endpoints: Endpoints
    mappings: MappingSet
    settings: ConnectorSettings
    timeout_s: float = lifecycle.DEFAULT_TIMEOUT_S
    connect: ConnectClient | None = None  # a preconfigured client (retries, session); else default

    def client(self) -> ConnectClient:
        return self.connect or ConnectClient(self.endpoints.connect_url)

    @property
    def names(self) -> tuple[str, str]:
        return (self.settings.mysql_connector, self.settings.postgres_connector)


def configured_context(
    endpoints: Endpoints, mappings_path: Path | None = None, timeout_s: float | None = None
) -> ConnectorContext:
    """Mappings from ``$MPS_MAPPINGS_DIR`` (or the given path), settings from ``MPS_*``."""
    from mysql_pg_sync.settings import mappings_dir

    return ConnectorContext(
        endpoints,
        load_mappings(mappings_path or mappings_dir()),
        ConnectorSettings.from_env(),
        timeout_s=timeout_s or lifecycle.DEFAULT_TIMEOUT_S,
    )


def render(ctx: ConnectorContext) -> list[RenderedConnector]:
    """The connector configs the mappings need (queries MySQL once for its flavour, and the
    state schema for the DDL statements the MySQL source skips)."""
    flavour = mysql_preflight.server_flavour(ctx.endpoints.mysql)
    return render_connectors(ctx.mappings, ctx.endpoints, ctx.settings, flavour, skipped_ddl(ctx))


def skipped_ddl(ctx: ConnectorContext) -> list[str]:
    with pg_connect(ctx.endpoints.postgres, autocommit=True) as conn:
        return ddl_skips.recorded(conn, ctx.settings.mysql_connector)


def skip_ddl(ctx: ConnectorContext) -> dict[str, Any]:
    """Get the MySQL source past a DDL statement Debezium cannot parse (it fails the task on
    every restart, see :mod:`.unparseable_ddl`): when the statement changes no table of a
    captured database, record it as skipped and apply, which puts it in the connector's DDL
    filter and restarts the task; else refuse, changing nothing."""
    client = ctx.client()
    name = ctx.settings.mysql_connector
    if name not in existing(ctx, client):
        raise DdlSkipError(f"connector {name} does not exist; nothing to skip")
    status = client.status(name)
    traces = [t.trace for t in status.failed_tasks] + [status.trace]
    failed = next(((s, t) for t in traces if (s := failed_statement(t)) is not None), None)
    if failed is None:
        raise DdlSkipError(
            f"{name} ({status.summary()}) has no task that failed on a DDL statement Debezium "
            "cannot parse; nothing was skipped (`connectors health` shows why a task failed)"
        )
    statement, trace = failed
    if in_snapshot(trace):
        raise DdlSkipError(
            f"{name}: not skipped: {statement!r} failed Debezium's schema snapshot, which reads "
            "every table of the captured databases before any skip applies. Change that "
            "table's column to a type Debezium reads, or move the table out of the captured "
            "databases, then run `connectors apply`"
        )
    databases = mysql_captured_databases(ctx.mappings, ctx.endpoints)
    decision = decide(statement, databases, _statement_database(ctx, client, name, statement))
    if not decision.safe:
        raise DdlSkipError(
            f"{name}: not skipped: {statement!r}: {decision.why}. If it changed a captured "
            "table, Debezium cannot capture that table with such a column: change the column "
            "in MySQL to a type Debezium reads (INET6 -> VARCHAR(39), INET4 -> VARCHAR(15), ...) "
            "or take the table out of the mappings; the connector stays failed at this "
            "statement either way, and getting past it then needs its position reset "
            "(`connectors reset_lost_positions` does not: the position is not lost) and a "
            "reconcile of the captured tables"
        )
    with pg_connect(ctx.endpoints.postgres, autocommit=True) as conn:
        ensure_schema(conn)
        new = ddl_skips.record(conn, name, decision)
    log.warning(
        "%s: skipping a DDL statement Debezium cannot parse (%s): %r", name, decision.why, statement
    )
    result: dict[str, Any] = {
        "statement": statement,
        "tables": [str(t) for t in decision.tables],
        "why": decision.why,
        "recorded": new,
    }
    try:
        result["connectors"] = {r.name: r.status.summary() for r in apply(ctx)}
    except lifecycle.ConnectorFailed as exc:
        # the skip holds; the connector got past it and failed again (another statement?):
        # said, never skipped without a look (a retry of this task would skip the next one)
        trace_after = exc.status.failure_trace() if exc.status else ""
        nxt = failed_statement(trace_after)
        raise DdlSkipError(
            f"{name}: skipped {statement!r} (recorded), but the connector failed again: "
            + (
                f"on another statement Debezium cannot parse, {nxt!r}; run skip_ddl again "
                "to check and skip that one"
                if nxt is not None and nxt != statement
                else f"{exc}"
            )
        ) from exc
    return result


def _statement_database(
    ctx: ConnectorContext, client: ConnectClient, name: str, statement: str
) -> str | None:
    """The database ``statement`` ran in, found in the binlog from the connector's stored
    position; None when it cannot be found there."""
    offsets = [o.get("offset") or {} for o in client.offsets(name)]
    position = next((o for o in offsets if "file" in o and "pos" in o), None)
    if position is None:
        return None
    conn = mysql_connect(ctx.endpoints.mysql, autocommit=True, use_unicode=False)
    try:
        found, database = statement_database(
            conn, str(position["file"]), int(position["pos"]), statement
        )
    finally:
        conn.close()
    return database if found else None


def preflight(
    ctx: ConnectorContext, connectors: Sequence[RenderedConnector], *, applying: bool = False
) -> list[Finding]:
    """Check every server the connectors touch; raise PreflightError, else return warnings.
    ``applying``: within ``apply``, which adds the mapped tables the publication lacks (and
    waits until they are published), so those are not warned about."""
    warnings: list[Finding] = []
    needed = []
    for connector in connectors:
        if connector.side == "mysql":
            needed.append(connector.config["connector.class"])
            databases = {t.split(".", 1)[0] for t in connector.tables}
            found = mysql_preflight.run(
                ctx.endpoints.mysql, databases, connector.tables, connector.signal_table
            )
            warnings += raise_for_errors(f"MySQL {ctx.endpoints.mysql.redacted()}", found)
        else:
            needed.append(POSTGRES_CONNECTOR_CLASS)
            found = postgres_preflight.run(
                ctx.endpoints.postgres,
                connector.tables,
                ctx.settings.slot_name,
                ctx.settings.publication_name,
                need_full={
                    str(m.target) for m in ctx.mappings.tables if m.needs_full_before_images()
                },
            )
            if applying:
                found = [f for f in found if not _added_by_apply(f)]
            warnings += raise_for_errors(f"PostgreSQL {ctx.endpoints.postgres.redacted()}", found)
    found = postgres_preflight.target_keys(ctx.endpoints.postgres, ctx.mappings.enabled())
    warnings += raise_for_errors(f"PostgreSQL {ctx.endpoints.postgres.redacted()}", found)
    found = connect_preflight.run(ctx.client(), needed)
    warnings += raise_for_errors(f"Kafka Connect {ctx.endpoints.connect_url}", found)
    for warning in warnings:
        log.warning("%s", warning)
    return warnings


def _added_by_apply(finding: Finding) -> bool:
    """The publication lacks mapped tables: the connector ``apply`` starts adds them."""
    if finding.check != postgres_preflight.UNPUBLISHED_CHECK or finding.severity != "warning":
        return False
    log.info("%s: this apply adds them (it waits until they are published)", finding.message)
    return True


def apply(ctx: ConnectorContext) -> list[lifecycle.ApplyResult]:
    """Preflight, change topics, signal tables, then apply each connector and wait until it
    runs."""
    connectors = render(ctx)
    if not connectors:
        raise ConfigError("no enabled mapping needs a connector; enable a mapping first")
    preflight(ctx, connectors, applying=True)
    client = ctx.client()
    for stale in set(existing(ctx, client)) - {c.name for c in connectors}:
        # Not deleted automatically: deleting a PostgreSQL source loses its slot position.
        log.warning("connector %s runs but no enabled mapping needs it; delete it", stale)
    results, failed = [], []
    for connector in connectors:  # each one, even after another failed
        try:
            results.append(_apply_one(ctx, client, connector))
        except (lifecycle.ConnectorFailed, lifecycle.ConnectorTimeout, SnapshotTimeout) as exc:
            failed.append(exc)
    if len(failed) == 1:
        raise failed[0]
    if failed:
        raise lifecycle.ConnectorFailed(
            f"apply failed for {len(failed)} connectors:\n" + "\n".join(map(str, failed))
        )
    return results


def _apply_one(
    ctx: ConnectorContext, client: ConnectClient, connector: RenderedConnector
) -> lifecycle.ApplyResult:
    deployed = client.get_config(connector.name)  # before any step below changes it
    created = ensure_change_topics(ctx, connector)
    endpoint = ctx.endpoints.mysql if connector.side == "mysql" else ctx.endpoints.postgres
    # capture gaps this apply closes, recorded before it changes anything (tables new to the
    # connectors, whose change topic this apply created, get a backfill instead)
    missed = _missed_changes(connector, deployed, created)
    if missed:
        log.warning("connector %s: %s", connector.name, reconcile_hint(missed))
        record_missed(
            ctx,
            connector.side,
            missed,
            f"the deployed config of {connector.name} did not capture it (changed outside "
            "`connectors apply`) until apply restored it",
        )
    publication = ctx.settings.publication_name
    unpublished: list[str] = []
    if connector.side == "postgres" and deployed is not None:
        unpublished = [
            t
            for t in unpublished_tables(endpoint, publication, connector.tables)
            if change_topic(connector.topic_prefix, *t.split(".", 1)) not in set(created)
        ]
        if unpublished:
            record_missed(
                ctx,
                "postgres",
                unpublished,
                f"publication {publication} lacked it, so pgoutput skipped its PostgreSQL "
                "writes until `connectors apply` added it back",
            )
    ensure_signal_table(endpoint, connector.side, connector.signal_table)
    if connector.side == "postgres":
        ensure_heartbeat_table(endpoint, postgres_heartbeat_table())
    if connector.side == "mysql":
        learn_table_schemas(ctx, client, connector)
    before_put = None
    if connector.side == "postgres":
        # The new task can only stream once the old walsender has released the slot;
        # otherwise Debezium retries every 10 s and changes arrive up to a minute late.
        def before_put(endpoint: DatabaseEndpoint = endpoint) -> bool:
            return wait_until_slot_idle(endpoint, ctx.settings.slot_name, ctx.timeout_s)

    # a new source picks its binlog position after Connect says RUNNING
    start = notices_start(ctx, connector) if deployed is None else None
    result = lifecycle.apply_connector(
        client, connector, timeout_s=ctx.timeout_s, before_put=before_put
    )
    if start is not None:
        wait_for_start_up_snapshot(
            ctx.endpoints, client, connector, start, max(ctx.timeout_s, 600.0)
        )
    elif connector.side == "mysql":
        # Without a binlog offset in Connect it has not begun to stream: an earlier try created
        # it and stopped waiting, reset_lost_positions deleted its offsets, or its notices do
        # not reach Kafka. A source resumed on its stored offset passes at once.
        lifecycle.wait_for_source_position(
            client, connector.name, "file", timeout_s=max(ctx.timeout_s, 600.0)
        )
    if connector.side == "postgres":
        if unpublished and not result.changed:
            # the task extends its publication only when it starts: someone removed a table
            # from it while it ran (an unchanged config is neither PUT nor restarted)
            log.warning(
                "publication %s lacks %s; restarting %s so that it adds them",
                publication,
                ", ".join(unpublished),
                connector.name,
            )
            client.restart(connector.name, include_tasks=True, only_failed=False)
            lifecycle.wait_for_state(
                client,
                connector.name,
                "RUNNING",
                timeout_s=ctx.timeout_s,
                failed_grace_s=lifecycle.DEFAULT_FAILED_GRACE_S,
            )
        wait_until_published(endpoint, publication, connector.tables, ctx.timeout_s)
    log.info("%s (%s)", result.status.summary(), "changed" if result.changed else "unchanged")
    return replace(
        result,
        topics_created=tuple(created),
        uncaptured_before=(*missed, *unpublished),
    )


def record_missed(ctx: ConnectorContext, side: str, tables: Sequence[str], why: str) -> None:
    """Capture gaps `apply` closes: recorded, so `status` shows the tables red until a
    reconcile of each (with the side that kept every change as authoritative) settles them."""
    with pg_connect(ctx.endpoints.postgres) as conn:
        ensure_schema(conn)
        for table in tables:
            mapping = (
                ctx.mappings.by_source(table) if side == "mysql" else ctx.mappings.by_target(table)
            )
            record_capture_gap(
                conn,
                mapping.name,
                side,
                f"{why}; its changes made meanwhile never reached Kafka. Run the reconcile DAG "
                f"on it with repair, dry_run off and authoritative {side}",
            )


def _missed_changes(
    connector: RenderedConnector, deployed: dict[str, str] | None, created: Sequence[str]
) -> list[str]:
    """Captured tables the deployed config skipped, leaving out tables new to the connectors
    (their change topic was created by this apply: the backfill copies their rows)."""
    if deployed is None:
        return []
    new = set(created)
    return [
        table
        for table in uncaptured_tables(deployed, connector.tables)
        if change_topic(connector.topic_prefix, *table.split(".", 1)) not in new
    ]


def ensure_change_topics(ctx: ConnectorContext, connector: RenderedConnector) -> list[str]:
    """Create the connector's missing change topics with the settings Kafka would give them at
    their table's first change (:func:`topics.connect_topic_settings`); returns those created.

    An existing change topic whose max.message.bytes is below the new ones' is raised to it
    (:func:`topics.raise_message_limits`): one made before keeps Kafka's 1 MB otherwise.

    Without this a stream consumer subscribed to such a topic reads the table's first change only
    after its next metadata refresh and a rebalance, ~10 s late. A failure only warns: it leaves
    things as they were without this step (late, not lost), and Airflow's Kafka user may lack
    the right to create topics that Connect's user has: that must not block every apply.
    """
    wanted = topics.change_topic_settings([connector])
    try:
        topics.raise_message_limits(ctx.endpoints.kafka_bootstrap, wanted)
    except topics.TopicCreateError as exc:
        log.warning(
            "connector %s: %s. A change message larger than such a topic's limit fails the "
            "connector at every restart (RecordTooLargeException): give the sync's Kafka user "
            "the right to alter topic configs, or raise it with kafka-configs.sh --alter "
            "--add-config max.message.bytes=67108864",
            connector.name,
            exc,
        )
    try:
        return topics.create_missing_topics(ctx.endpoints.kafka_bootstrap, wanted)
    except topics.TopicCreateError as exc:
        log.warning(
            "connector %s: %s. Each such topic is then made by its table's first change, which "
            "a running stream consumer reads ~10 s late (at its next metadata refresh and "
            "rebalance); if neither the broker (auto.create.topics.enable) nor Connect "
            "(topic.creation.*) creates topics, that change fails the connector. Fix the cause, "
            "then trigger connectors with action apply (CLI: connectors apply) again",
            connector.name,
            exc,
        )
        return []


def schema_recovery_reason(
    client: ConnectClient, connector: RenderedConnector, current: dict[str, str] | None
) -> str | None:
    """Why the MySQL source must re-read its databases' schema before the update, or None.

    Its schema history keeps only included databases' DDL, so the tables of a database its include
    list gains are unknown to it: the first change to one fails its task with "Encountered change
    event for table ... whose schema isn't known to this connector". A task that already failed
    so is healed the same way (the change is read again after the snapshot).
    """
    added = added_databases(current, connector.config)
    if added:
        return f"its include list gains the database(s) {', '.join(added)}"
    if current is None:
        return None
    status = client.status(connector.name)
    if status.is_failed and lifecycle.UNKNOWN_TABLE_SCHEMA in status.failure_trace():
        return "its task failed on a change to a table whose schema it does not know"
    return None


def learn_table_schemas(
    ctx: ConnectorContext, client: ConnectClient, connector: RenderedConnector
) -> str | None:
    """Make the MySQL source record its included databases' current schema when it needs to
    (:func:`schema_recovery_reason`); returns the reason, or None when it did not need to.

    One start in ``snapshot.mode=recovery`` records the current schema of every included
    database and streams on from the stored binlog position; the caller then applies the
    rendered config. Changes read from that position on are parsed with today's schema, so no
    DDL on synced tables should run meanwhile. If the snapshot does not complete, the connector
    is put back on its previous config.
    """
    current = client.get_config(connector.name)
    reason = schema_recovery_reason(client, connector, current)
    if current is None or reason is None:
        return None
    topic = notification_topic(connector)
    start = kafka_end_offsets(ctx.endpoints.kafka_bootstrap)(topic)[topic]
    log.info(
        "connector %s: %s; re-reading its schema (snapshot.mode=recovery)", connector.name, reason
    )
    lifecycle.apply_connector(client, with_schema_recovery(connector), timeout_s=ctx.timeout_s)
    try:
        wait_for_start_up_snapshot(
            ctx.endpoints, client, connector, start, max(ctx.timeout_s, 600.0), ("COMPLETED",)
        )
    except Exception as exc:  # never leave it in recovery mode, where every start re-reads
        previous = replace(connector, config={k: v for k, v in current.items() if k != "name"})
        try:
            lifecycle.apply_connector(client, previous, timeout_s=ctx.timeout_s)
            where = "It was put back on its previous config"
        except Exception as undo:  # report both; the connector may be STOPPED or FAILED
            where = f"Putting it back on its previous config failed too ({undo})"
        raise lifecycle.ConnectorUpdateFailed(
            f"connector {connector.name}: {reason}, but re-reading its schema failed: {exc}. "
            f"{where}; check the Connect log, then trigger connectors with action apply"
            " (CLI: connectors apply) again"
        ) from exc
    return reason


def notification_topic(connector: RenderedConnector) -> str:
    return connector.config.get(
        "notification.sink.topic.name", f"{connector.topic_prefix}.notifications"
    )


def notices_start(ctx: ConnectorContext, connector: RenderedConnector) -> dict[str, int] | None:
    """Where a new MySQL source's start-up notices will begin (its notification topic's end
    offsets), or None when apply cannot wait for them: a PostgreSQL source, or a config whose
    notifications do not go to Kafka."""
    if connector.side != "mysql":
        return None
    channels = connector.config.get("notification.enabled.channels", "")
    if "sink" not in {c.strip() for c in channels.split(",")}:
        log.info(
            "connector %s: notification.enabled.channels lacks `sink`; apply waits for its "
            "first binlog offset in Connect instead (up to offset.flush.interval.ms longer)",
            connector.name,
        )
        return None
    topic = notification_topic(connector)
    return kafka_end_offsets(ctx.endpoints.kafka_bootstrap)(topic)[topic]


def wait_for_start_up_snapshot(
    endpoints: Endpoints,
    client: ConnectClient,
    connector: RenderedConnector,
    start: dict[str, int],
    timeout_s: float,
    accept: tuple[str, ...] = ("COMPLETED", "SKIPPED"),
) -> str:
    """Until a MySQL source's start-up snapshot ends, read from its notices after ``start``;
    raises unless it ended as one of ``accept``, or when the task fails meanwhile.

    For a new source this is the moment it has taken the binlog position it streams from:
    Connect reports the task RUNNING once its start() returns, but Debezium reads that position
    afterwards, in its snapshot thread, so a change committed in between is never captured (and
    a backfill started then, whose handoff trusts RUNNING, would miss it). The outcome notice
    comes after the position is read."""

    def task_alive() -> None:
        status = client.status(connector.name)
        if status.is_failed:
            raise lifecycle.ConnectorFailed(
                f"connector {status.summary()}; Connect says:\n{status.failure_trace()}", status
            )

    outcome = wait_for_initial_snapshot(
        endpoints.kafka_bootstrap,
        notification_topic(connector),
        start,
        timeout_s=timeout_s,
        schema_registry_url=endpoints.schema_registry_url,
        check=task_alive,
    )
    if outcome not in accept:
        raise lifecycle.ConnectorFailed(
            f"connector {connector.name}: its start-up snapshot was {outcome}, not "
            f"{' or '.join(accept)}; check the Connect log, then trigger connectors with action "
            "apply (CLI: connectors apply) again"
        )
    log.info("connector %s: start-up snapshot %s", connector.name, outcome)
    return outcome


def look(ctx: ConnectorContext) -> dict[str, Any]:
    """A read-only look: each deployed connector's status (tasks included), how its config
    differs from the rendered one and what apply's preflight would find now. Changes nothing
    and raises only when Connect cannot be read."""
    client = ctx.client()
    names = existing(ctx, client)
    rendered = render(ctx)
    drifts = config_drifts(client, rendered, names, lambda: kafka_topics(ctx))
    return {
        "connectors": [client.status(name).summary() for name in names]
        or "none deployed (trigger action apply)",
        "config": [d.message() for d in drifts]
        or ("deployed configs match the mappings" if names else "none deployed"),
        "preflight": [str(w) for w in preflight(ctx, rendered)] or "all checks passed",
    }


def config_drifts(
    client: ConnectClient,
    rendered: Sequence[RenderedConnector],
    names: Sequence[str],
    topics_of: Callable[[], set[str]] | None = None,
) -> list[ConfigDrift]:
    """How each deployed connector's config differs from the rendered one (``names``: those
    deployed; a rendered connector Connect lacks is not drift, health reports it MISSING).
    ``topics_of`` lists Kafka's topics: a table left out whose change topic does not exist is
    new to the connectors (apply not run yet), not a table someone took out."""
    out = []
    known: set[str] | None = None
    for connector in rendered:
        if connector.name not in names:
            continue
        current = client.get_config(connector.name)
        if current is None:  # deleted meanwhile
            continue
        drift = config_drift(connector.name, connector.config, current, connector.tables)
        if drift is None:
            continue
        if drift.uncaptured and topics_of is not None:
            known = topics_of() if known is None else known
            new = tuple(
                t
                for t in drift.uncaptured
                if change_topic(connector.topic_prefix, *t.split(".", 1)) not in known
            )
            drift = replace(drift, new=new)
        out.append(drift)
    return out


def kafka_topics(ctx: ConnectorContext) -> set[str]:
    return set(topics.topic_names(ctx.endpoints.kafka_bootstrap))


def existing(ctx: ConnectorContext, client: ConnectClient) -> list[str]:
    present = set(client.connectors())
    return [name for name in ctx.names if name in present]


def control(ctx: ConnectorContext, action: Action) -> list[ConnectorStatus]:
    """pause / resume / stop / restart_failed on every connector of ours that exists."""
    client = ctx.client()
    steps = {
        "pause": lifecycle.pause,
        "resume": lifecycle.resume,
        "stop": lifecycle.stop,
        "restart_failed": lifecycle.restart_failed,
    }
    if action not in steps:
        raise ConfigError(f"action {action!r} is not a control action; use {sorted(steps)}")
    names = existing(ctx, client)
    if not names:
        raise ConfigError(
            f"none of the connectors {', '.join(ctx.names)} exists; run the apply action first"
        )
    done: list[ConnectorStatus] = []
    failed: list[SyncError] = []
    for name in names:  # each one, even after another failed: a paused one would stay paused
        try:
            done.append(steps[action](client, name, timeout_s=ctx.timeout_s))
        except (
            lifecycle.ConnectorFailed,
            lifecycle.ConnectorTimeout,
            SnapshotTimeout,
            lifecycle.ConnectorNotRunning,  # restart_failed of a PAUSED one
            ConnectApiError,  # e.g. a 404: deleted meanwhile
        ) as exc:
            failed.append(exc)
    if failed:
        if len(failed) == 1:
            raise failed[0]
        raise lifecycle.ConnectorFailed(
            f"{action} failed for {len(failed)} connectors:\n" + "\n".join(map(str, failed))
        )
    return done


def expected(ctx: ConnectorContext) -> list[str]:
    """The connectors the enabled mappings need (no server is asked: only the names count)."""
    sides = {
        ctx.settings.mysql_connector: mysql_captured_tables(ctx.mappings),
        ctx.settings.postgres_connector: postgres_captured_tables(ctx.mappings),
    }
    return [name for name, tables in sides.items() if tables]


def health(ctx: ConnectorContext) -> lifecycle.HealthReport:
    """Connect's view (restarting failed tasks) plus the PostgreSQL slot, which Connect cannot
    see: an invalidated slot leaves the connector RUNNING with a task that never starts."""
    client = ctx.client()
    names = existing(ctx, client)
    report = lifecycle.check_health(client, names, expected=expected(ctx), timeout_s=ctx.timeout_s)
    report = replace(report, problems=report.problems + tuple(_drift_problems(ctx, client, names)))
    if ctx.settings.postgres_connector not in names:
        return report
    with pg_connect(ctx.endpoints.postgres, autocommit=True) as conn:
        status = postgres_preflight.slot_wal_status(conn, ctx.settings.slot_name)
        retention = postgres_preflight.slot_retention(conn, ctx.settings.slot_name)
    slot_findings = postgres_preflight.check_slot(ctx.settings.slot_name, status, retention)
    problems = [str(p) for p in slot_findings]
    problems += _publication_problems(ctx)
    return replace(report, problems=report.problems + tuple(problems))


def _publication_problems(ctx: ConnectorContext) -> list[str]:
    """A table someone dropped from the publication loses its PostgreSQL writes while the
    connector runs on, RUNNING: Connect cannot see it."""
    try:
        pg = [c for c in render(ctx) if c.side == "postgres"]
    except Exception as exc:  # reported by the config comparison already
        log.debug("publication check skipped: %s", exc)
        return []
    publication = ctx.settings.publication_name
    found = []
    for connector in pg:
        missing = unpublished_tables(ctx.endpoints.postgres, publication, connector.tables)
        if missing:
            found.append(unpublished_problem(publication, missing))
    return found


def _drift_problems(ctx: ConnectorContext, client: ConnectClient, names: list[str]) -> list[str]:
    """A deployed config changed outside apply (e.g. a table taken out of its include list)
    captures less than the mappings say while its connector looks RUNNING."""
    if not names:
        return []
    try:
        rendered = render(ctx)
    except Exception as exc:  # e.g. MySQL unreachable (its flavour): report, still check the rest
        return [f"could not render the connector configs to compare with the deployed ones: {exc}"]
    return [d.message() for d in config_drifts(client, rendered, names, lambda: kafka_topics(ctx))]


def delete(
    ctx: ConnectorContext, *, drop_slot: bool = False, dropped: list[bool] | None = None
) -> list[str]:
    """Delete our connectors (both sides); with ``drop_slot`` also the PostgreSQL slot (its
    position is lost) and its publication. ``dropped``, if given, receives whether a slot was
    there to drop."""
    client = ctx.client()
    if ctx.settings.postgres_connector in client.connectors():
        # Connect keeps a deleted connector's offsets for its name, and nothing can reset them
        # once the connector is gone. They point into the slot: after the slot is dropped (now,
        # by a later delete with drop_slot, or by hand) a connector created again would find
        # its position "no longer available on the server" and fail. The slot keeps the
        # position itself, so it is forgotten here in every case: a connector created again
        # resumes from a kept slot, or captures from now on a new one.
        lifecycle.stop(client, ctx.settings.postgres_connector, timeout_s=ctx.timeout_s)
        client.reset_offsets(ctx.settings.postgres_connector)
    deleted = [
        name for name in ctx.names if lifecycle.delete(client, name, timeout_s=ctx.timeout_s)
    ]
    if drop_slot:
        found = drop_replication_slot(ctx.endpoints.postgres, ctx.settings.slot_name, ctx.timeout_s)
        drop_publication(ctx.endpoints.postgres, ctx.settings.publication_name)
        if dropped is not None:
            dropped.append(found)
    elif ctx.settings.postgres_connector in deleted and slot_exists(
        ctx.endpoints.postgres, ctx.settings.slot_name
    ):
        log.warning("%s", kept_slot_warning(ctx))
    return deleted


def kept_slot_warning(ctx: ConnectorContext) -> str:
    slot = ctx.settings.slot_name
    return (
        f"replication slot {slot} was kept: it pins WAL on {ctx.endpoints.postgres.redacted()} "
        "until a connector reads from it again, and can fill the disk. If the connectors are "
        "gone for good, trigger connectors with action delete and drop_replication_slot=true"
        " (CLI: connectors delete --drop-slot), which drops it and the publication "
        f"{ctx.settings.publication_name}; a later `apply` then captures from that moment on"
    )


def slot_exists(endpoint: DatabaseEndpoint, slot: str) -> bool:
    with pg_connect(endpoint, autocommit=True) as conn:
        row = conn.execute(
            "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (slot,)
        ).fetchone()
    return row is not None


def wait_until_slot_idle(endpoint: DatabaseEndpoint, slot: str, timeout_s: float) -> bool:
    """Wait until no walsender uses the slot; False if the slot does not exist."""
    deadline = time.monotonic() + timeout_s
    with pg_connect(endpoint, autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s", (slot,)
            ).fetchone()
            if row is None:
                return False
            if row[0] is None:
                return True
            if time.monotonic() > deadline:
                raise ConfigError(
                    f"replication slot {slot} is still used by backend {row[0]}; stop the "
                    "connector using it (or pg_terminate_backend it) and retry"
                )
            time.sleep(0.2)


def drop_publication(endpoint: DatabaseEndpoint, publication: str) -> None:
    """Drop the publication the PostgreSQL source made (publication.autocreate.mode filtered)
    along with its slot: nothing reads it any more, and a later `apply` makes it again. Not
    dropped with a kept slot, which decodes its WAL through it. A refusal (another role owns
    it) only warns: the slot, which pins WAL, is gone already."""
    try:
        with pg_connect(endpoint, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(publication))
            )
    except psycopg.Error as exc:
        log.warning(
            "publication %s was kept on %s: %s; as its owner run DROP PUBLICATION %s",
            publication,
            endpoint.redacted(),
            str(exc).strip(),
            publication,
        )


def unpublished_tables(
    endpoint: DatabaseEndpoint, publication: str, tables: Sequence[str]
) -> list[str]:
    """The captured tables the publication lacks: pgoutput skips their writes."""
    with pg_connect(endpoint, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = %s",
            (publication,),
        ).fetchall()
    return sorted(set(tables) - {r[0] for r in rows})


def unpublished_problem(publication: str, missing: Sequence[str]) -> str:
    return (
        f"publication {publication} lacks {', '.join(missing)}: pgoutput skips their writes, "
        "so the PostgreSQL app's changes to them are not captured now and never will be. Run "
        "`connectors apply` (it restarts the PostgreSQL connector, which adds them), then "
        f"reconcile {', '.join(missing)} with repair, dry_run off and authoritative postgres to "
        "copy the writes it missed to MySQL"
    )


def wait_until_published(
    endpoint: DatabaseEndpoint, publication: str, tables: Sequence[str], timeout_s: float
) -> None:
    """Wait until the publication holds every captured table.

    pgoutput decodes a change only if its table was in the publication when the change
    committed: a write to a table published late is never streamed, not even on a replay. The
    connector extends its publication while its task starts (publication.autocreate.mode
    filtered), so by the time it reports RUNNING this normally holds; checking it keeps "apply
    returned" meaning "every later write is captured" whatever the Debezium version does.
    """
    deadline = time.monotonic() + timeout_s
    wanted = set(tables)
    with pg_connect(endpoint, autocommit=True) as conn:
        while True:
            rows = conn.execute(
                "SELECT schemaname || '.' || tablename FROM pg_publication_tables "
                "WHERE pubname = %s",
                (publication,),
            ).fetchall()
            missing = sorted(wanted - {r[0] for r in rows})
            if not missing:
                return
            if time.monotonic() > deadline:
                raise ConfigError(
                    f"publication {publication} still lacks {', '.join(missing)} {timeout_s:.0f} s "
                    "after the PostgreSQL connector started, so their writes are not captured. "
                    "Check the connector's log for its ALTER PUBLICATION; if the connector user "
                    "does not own the tables, run ALTER PUBLICATION "
                    f"{publication} ADD TABLE {', '.join(missing)} as their owner"
                )
            time.sleep(0.1)


def drop_replication_slot(endpoint: DatabaseEndpoint, slot: str, timeout_s: float) -> bool:
    """Drop the slot once its walsender has gone; True if it existed.

    A slot outlives its connector and pins WAL forever, so deleting for good must drop it.
    """
    if not wait_until_slot_idle(endpoint, slot, timeout_s):
        return False
    with pg_connect(endpoint, autocommit=True) as conn:
        conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
    return True


def snapshot_tables(
    ctx: ConnectorContext, tables: Sequence[str], *, run_key: str | None = None
) -> list[SnapshotResult]:
    """Incremental snapshots of the tables the names or globs select (as reconcile takes them)
    on whichever side captures them; waits for each. A name no synced table matches raises
    MappingError naming the known tables, before any signal is sent.

    With ``run_key`` (the DAG run id) the signal ids are stable, so a retried task waits for the
    snapshot its first try started rather than sending a second one. Raises SnapshotFailed if a
    snapshot aborted or a table's scan did not succeed (Debezium still reports COMPLETED then).
    """
    selected = ctx.mappings.match_synced(tables)
    plan: list[tuple[Side, DatabaseEndpoint, list[str]]] = [
        ("mysql", ctx.endpoints.mysql, [str(m.source) for m in selected if m.replicates_to_pg()]),
        (
            "postgres",
            ctx.endpoints.postgres,
            [str(m.target) for m in selected if m.replicates_to_mysql()],
        ),
    ]
    rendered = {c.side: c for c in render(ctx)}
    client = ctx.client()
    for side, _, names in plan:  # every connector before any signal: all or nothing is sent
        if not names:
            continue
        connector = rendered.get(side)
        if connector is None:
            raise ConfigError(f"no {side} connector captures {', '.join(names)}; apply first")
        require_running(client, connector.name, names, ctx.timeout_s)
    results = []
    for side, endpoint, names in plan:
        if not names:
            continue
        connector = rendered[side]
        wanted_id = snapshot_signal_id(run_key, side, names) if run_key else None
        signal_id, sent = send_execute_snapshot(
            endpoint, side, connector.signal_table, names, wanted_id
        )
        if sent:
            log.info("sent execute-snapshot %s for %s", signal_id, ", ".join(names))
        else:
            log.info("execute-snapshot %s was sent by an earlier try; waiting for it", signal_id)
        results.append(
            wait_for_snapshot(
                ctx.endpoints.kafka_bootstrap,
                notification_topic(connector),
                signal_id,
                timeout_s=max(ctx.timeout_s, 600.0),
                # only Avro-framed notices use it (JSON never starts with byte 0)
                schema_registry_url=ctx.endpoints.schema_registry_url,
            )
        )
    problems = [p for r in results for p in r.problems()]
    if problems:
        raise SnapshotFailed(
            "incremental snapshot did not copy everything:\n" + "\n".join(problems)
        )
    return results


def require_running(
    client: ConnectClient, name: str, tables: Sequence[str], timeout_s: float
) -> ConnectorStatus:
    """The connector's status once it runs; :class:`ConfigError` if it is missing, PAUSED or
    STOPPED (a snapshot signal is read only by a running connector: a wait for its notices would
    only time out), ConnectorFailed / ConnectorTimeout if it fails or does not start."""
    what = f"so nothing reads the snapshot signal for {', '.join(tables)}; nothing was sent"
    try:
        status = client.status(name)
    except ConnectorNotFound:
        raise ConfigError(
            f"connector {name} does not exist, {what}. Trigger connectors with action apply "
            "(CLI: connectors apply) first"
        ) from None
    if status.state in ("PAUSED", "STOPPED"):
        raise ConfigError(
            f"connector {status.summary()} is {status.state}, {what}. Trigger connectors with "
            "action resume (CLI: connectors resume) first"
        )
    if status.is_running:
        return status
    return lifecycle.wait_for_state(client, name, "RUNNING", timeout_s=timeout_s)


class ConnectorsUnhealthy(SyncError):
    """A connector captures nothing (FAILED after a restart, PAUSED, STOPPED, missing, ...)."""


def health_text(report: lifecycle.HealthReport) -> str:
    return report.message() or "no enabled mapping needs a connector; nothing to check"


def health_or_raise(ctx: ConnectorContext) -> str:
    """The health report as text; raises ConnectorsUnhealthy unless every connector captures."""
    report = health(ctx)
    text = health_text(report)
    log.info("%s", text)
    if not report.healthy:
        raise ConnectorsUnhealthy(text)
    return text


def run_action(
    ctx: ConnectorContext,
    action: str,
    *,
    tables: Sequence[str] = (),
    drop_slot: bool = False,
    run_key: str | None = None,
) -> dict[str, Any]:
    """Dispatch one operator action; returns a JSON-friendly summary.

    ``run_key`` identifies the run across task retries (the DAG's run id), see snapshot_tables.
    """
    if tables and action != "snapshot_tables":
        raise ConfigError(
            f"{action} acts on whole connectors (every table they capture, both directions), "
            f"not on the tables given ({', '.join(tables)}); nothing was done. Leave the "
            "tables out, or use snapshot_tables to re-read tables"
        )
    if drop_slot and action != "delete":
        raise ConfigError(f"drop_slot is for delete, not {action}; nothing was done")
    if action == "apply":
        return {
            r.name: {
                "changed": r.changed,
                "status": r.status.summary(),
                "topics_created": list(r.topics_created),
                **(
                    {"reconcile_with_repair": list(r.uncaptured_before)}
                    if r.uncaptured_before
                    else {}
                ),
            }
            for r in apply(ctx)
        }
    if action == "skip_ddl":
        return skip_ddl(ctx)
    if action == "reset_lost_positions":
        from mysql_pg_sync.cdc.lost_positions import reset_lost_positions

        return reset_lost_positions(ctx)
    if action in ("pause", "resume", "stop", "restart_failed"):
        return {s.name: s.summary() for s in control(ctx, action)}  # type: ignore[arg-type]
    if action == "delete":
        dropped: list[bool] = []
        deleted = delete(ctx, drop_slot=drop_slot, dropped=dropped)
        return {"deleted": deleted, "slot_dropped": any(dropped)}
    if action == "snapshot_tables":
        if not tables:
            raise ConfigError(
                "snapshot_tables needs the tables to snapshot (names or globs); nothing was done"
            )
        return {
            r.signal_id: {"outcome": r.outcome, "tables": r.tables, "rows": r.rows_scanned}
            for r in snapshot_tables(ctx, tables, run_key=run_key)
        }
    raise ConfigError(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")


def connector_classes() -> list[str]:
    return [*CONNECTOR_CLASSES.values(), POSTGRES_CONNECTOR_CLASS]
