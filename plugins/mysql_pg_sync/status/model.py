"""Build the per-table status model from rows read out of the ``mps_sync`` state tables.

Pure: :mod:`mysql_pg_sync.status.read` does the reading. A section whose state table does not
exist yet (another feature has not run) is ``None`` and renders as "no data"; so does a table
with no row in a section that exists.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from mysql_pg_sync.cdc.slot_retention import unlimited_slot_warning
from mysql_pg_sync.mapping.models import TableMapping

Row = Mapping[str, Any]
NO_DATA = "no data"

# Connector states from worst to best: a table shows the worst of the connectors it needs.
# UNREACHABLE: Kafka Connect did not answer, so nothing is captured that anyone can see
_CONNECTOR_RANK = (
    "UNREACHABLE",
    "FAILED",
    "UNASSIGNED",
    "PAUSED",
    "STOPPED",
    "RESTARTING",
    "RUNNING",
)
# A streaming table whose last applied change is older than this is marked stale. The stream
# writes its metrics only when it applies a batch, so a stopped consumer leaves the last lag
# frozen at a healthy value; the age is what tells. Generous: a quiet table is not an outage.
STALE_AFTER_S = 15 * 60
CONSUMER_GAP_S = 120  # between two runs of the stream DAG, no consumer runs for a moment


@dataclass(frozen=True)
class ConnectorState:
    name: str
    side: str
    """The database it captures: ``mysql`` or ``postgres``."""
    state: str
    """The connector's state combined with its tasks' (see :func:`combined_state`)."""


def _rank(state: str) -> int:
    return _CONNECTOR_RANK.index(state) if state in _CONNECTOR_RANK else 0


def combined_state(connector: str, tasks: Iterable[str]) -> str:
    """The worst of the connector's and its tasks' states.

    Connect reports a connector RUNNING while one of its tasks has FAILED, and no change flows
    through a failed task; a RUNNING connector without tasks captures nothing either.
    """
    tasks = list(tasks)
    if connector == "RUNNING" and not tasks:
        return "UNASSIGNED"
    return min([connector, *tasks], key=_rank)


@dataclass(frozen=True)
class StateSnapshot:
    """What the reader found; ``None`` for a section whose source does not exist."""

    table_state: dict[str, Row] | None = None
    backfill: dict[str, Row] | None = None
    stream: dict[str, Row] | None = None
    reconcile: dict[str, Row] | None = None
    holds: dict[str, Row] | None = None
    slot: Row | None = None
    """Our PostgreSQL capture slot (``status.read.read_slot``); None when there is none."""
    lost_changes: dict[str, Row] | None = None
    """Per table, the changes Kafka deleted before the stream applied them that no reconcile
    of the table has repaired since (``mps_sync.stream_gaps``)."""
    consumers: Row | None = None
    """``mps_sync.stream_runs`` in one row: running consumers, ages of the last end and start."""
    conflicts_24h: dict[str, int] | None = None
    dead_letters: dict[str, int] | None = None
    """Open (unresolved) dead letters per table, of any age: each is a change not applied."""
    quality: dict[str, Row] | None = None
    mapping_drift: dict[str, list[Row]] | None = None
    """The newest ``mps_sync.mapping_drift`` row per table and direction, with the direction's
    ``last_applied_at`` from ``mps_sync.stream_metrics`` (see :func:`unsynced_columns`)."""
    connectors: tuple[ConnectorState, ...] | None = None
    notes: tuple[str, ...] = ()
    """Why a section shows no data (missing table, unreachable service)."""
    error: str | None = None
    """Why nothing could be read at all (the state database is unreachable); shown as a banner."""


@dataclass(frozen=True)
class Link:
    label: str
    href: str


@dataclass(frozen=True)
class UnsyncedColumns:
    """Columns one direction's change events carry that the table's mapping does not list: the
    stream applies the mapped columns and leaves these out (mapping drift)."""

    incoming_side: str
    """Where the changes come from: ``mysql`` or ``postgres``."""
    columns: tuple[str, ...]


JsonNumber = int | float | str | None
"""A number as :func:`exact_number` gives it to JSON: int, float, or (no float holds it) its
exact decimal text; None for no data."""


@dataclass(frozen=True)
class TableFigures:
    """A row's counts, rates and times as values, for scripts (``status --json``, the page's
    ``api/tables``): the other fields are the page's text. None: no data (the section's state
    table does not exist, or the table has no row in it). Counts are ints, times ISO 8601."""

    conflicts_24h: JsonNumber = None
    open_dead_letters: JsonNumber = None
    backfill_chunks_total: JsonNumber = None
    backfill_chunks_done: JsonNumber = None
    backfill_chunks_failed: JsonNumber = None
    backfill_rows_copied: JsonNumber = None
    backfill_rows_left_estimate: JsonNumber = None
    """None also when a chunk not done has no estimate."""
    backfill_finalized_at: str | None = None
    stream_lag_seconds: JsonNumber = None
    """The last batch that applied rows: its source commit to applied."""
    stream_events_per_second: JsonNumber = None
    stream_last_applied_at: str | None = None
    stream_last_applied_age_seconds: JsonNumber = None
    reconcile_drift_found: JsonNumber = None
    reconcile_drift_repaired: JsonNumber = None
    reconcile_finished_at: str | None = None
    lost_changes: JsonNumber = None
    """Changes counted lost and not yet repaired; a re-created topic, offsets that started again
    or an uncaptured stretch lost an unknown number more: alert on ``lost_changes_open``."""
    lost_changes_open: bool | None = None
    """A gap not yet settled by a reconcile: the table is red (``lost_changes`` says why)."""


@dataclass(frozen=True)
class TableStatus:
    source: str
    target: str
    direction: str
    state: str
    backfill: str
    backfill_percent: float | None
    stream_lag: str
    throughput: str
    connectors: str
    reconcile: str
    conflicts_24h: str
    dead_letters: str
    """Open dead letters: changes the stream could not apply, not yet retried or resolved."""
    quality: str
    links: tuple[Link, ...] = field(default=())
    stale: bool = False
    """Streaming, but nothing applied for :data:`STALE_AFTER_S`."""
    held: bool = False
    """The stream holds it back: its target lacks a column the mapping lists."""
    synced: bool = True
    """False: the mapping leaves the table out (``enabled: false`` or unsupported)."""
    backfill_stalled: bool = False
    """Unfinished, and no chunk changed for :data:`BACKFILL_STALLED_S`."""
    quality_report: str | None = None
    """The latest data-quality report covering the table, as stored (a path on this host)."""
    quality_breaches: tuple[str, ...] = ()
    """Ids of the checks that failed or errored in that run, fail-severity ones first."""
    mapping_drift: tuple[UnsyncedColumns, ...] = ()
    """Source columns the stream leaves out because the mapping does not list them."""
    lost_changes: str = ""
    """Changes Kafka deleted before the stream applied them, not yet repaired by a reconcile."""
    backfill_error: str = ""
    """The latest failed chunk's error, while the table's backfill is unfinished."""
    slot_warning: str = ""
    """The PostgreSQL capture slot holds back much of the WAL PostgreSQL allows it."""
    connectors_not_running: tuple[str, ...] = ()
    """``name (side captured): STATE`` of each of the table's connectors that does not run."""
    paused_for_backfill_s: float | None = None
    """How long the stream has held the table back for its backfill (state ``backfilling``)."""
    figures: TableFigures = field(default_factory=TableFigures)
    """The counts, rates and times as numbers and ISO times (:func:`table_figures`)."""

    @property
    def long_paused(self) -> bool:
        """Held back for its backfill long enough that Kafka's retention comes into view."""
        return self.paused_for_backfill_s is not None and (
            self.paused_for_backfill_s >= RETENTION_WARN_S
        )

    @property
    def retention_at_risk(self) -> bool:
        """Held back for a backfill that is not moving, for long enough that Kafka's retention
        will soon delete the changes waiting for it."""
        return (
            (self.backfill_stalled or bool(self.backfill_error))
            and self.paused_for_backfill_s is not None
            and self.paused_for_backfill_s >= RETENTION_RISK_S
        )

    @property
    def health(self) -> str:
        """``failed``, ``warn``, ``ok`` or ``nodata``: the row's colour."""
        if not self.synced:
            return "warn" if self.open_dead_letters else "nodata"
        if (
            self.held
            or self.lost_changes
            or self.retention_at_risk
            or self.state == "failed"
            or self.quality == "failed"
            or self.connectors.startswith(("FAILED", "UNREACHABLE"))
        ):
            return "failed"
        if (
            self.quality == "warn"
            or self.reconcile.startswith(("drift", "error"))
            or self._connectors_down
            or self.stale
            or self.open_dead_letters
            or self.backfill_stalled
            or self.backfill_error
            or self.long_paused
            or self.slot_warning
            or self.mapping_drift
            or self.state == "paused"
        ):
            return "warn"
        if self.state == NO_DATA:
            return "nodata"
        return "ok"

    @property
    def _connectors_down(self) -> bool:
        """Not capturing: paused, stopped, ... or not deployed at all (``none``)."""
        state = self.connectors.split(" ")[0]
        return state in _CONNECTOR_RANK[2:-1] or state == "none"

    @property
    def open_dead_letters(self) -> int:
        return int(self.dead_letters) if self.dead_letters.isdigit() else 0

    @property
    def reason(self) -> str:
        """Why the row is not ``ok``, with what to do; empty when nothing needs attention."""
        if not self.synced:
            if not self.open_dead_letters:
                return ""
            return (
                f"{self.open_dead_letters} open dead letter(s) of a table no longer synced: "
                "changes never applied. Sync it again (its mapping) and retry them, or, if "
                f'they no longer matter, `make cli ARGS="dead-letters resolve --table '
                f'{self.source} --note <why>"`'
            )
        reasons = []
        if self.held:
            reasons.append("held: its target lacks a mapped column (the state says what to run)")
        if self.lost_changes:
            reasons.append(self.lost_changes)
        if self.state == "failed":
            reasons.append("state failed")
        if self.state == "paused":
            reasons.append(PAUSED_REASON)
        if self.connectors.startswith("UNREACHABLE"):
            reasons.append("Kafka Connect cannot be reached: no change is captured (start it)")
        elif self.connectors == "none":
            reasons.append("no connector captures it: trigger connectors with action apply")
        elif self.connectors.startswith("FAILED") or self._connectors_down:
            which = ", ".join(self.connectors_not_running) or self.connectors
            reasons.append(
                f"connectors {which}: a FAILED one is restarted by `connectors health` (the "
                "connectors_health DAG), whose alert says what to do when that does not heal "
                "it; a paused or stopped one by `connectors apply`"
            )
        if self.quality in ("failed", "warn"):
            reasons.append(
                quality_reason(
                    self.source, self.quality, self.quality_breaches, self.quality_report
                )
            )
        if self.reconcile.startswith(("drift", "error")):
            reasons.append(f"reconcile: {self.reconcile} (see its report)")
        if self.stale:
            reasons.append(f"stream lag {self.stream_lag}")
        if self.open_dead_letters:
            reasons.append(dead_letters_reason(self.source, self.open_dead_letters))
        if self.backfill_stalled or self.backfill_error or self.long_paused:
            failed = (
                f" (the last failed chunk: {self.backfill_error})" if self.backfill_error else ""
            )
            fix = (
                "fix its cause, then resume it"
                if self.backfill_error
                else "if no backfill is running, resume it"
                if self.backfill_stalled
                else "it is still copying; if it cannot finish soon, raise the topics' retention"
            )
            waiting = ""
            if self.paused_for_backfill_s is not None:
                waiting = (
                    f"; its changes have waited in Kafka for {_fmt_age(self.paused_for_backfill_s)}"
                    ", and Kafka deletes them after its retention (log.retention.hours, 7 days "
                    "by default): resume before then, or the stream records them as lost"
                )
            reasons.append(
                f"backfill {self.backfill}{failed}: {fix} (the backfill DAG with mode resume, or "
                f'`make cli ARGS="backfill run --mode resume --tables {self.source}"`){waiting}'
            )
        if self.mapping_drift:
            reasons.append(drift_reason(self.mapping_drift))
        if self.slot_warning:
            reasons.append(self.slot_warning)
        return "; ".join(reasons)


PAUSED_REASON = (
    "paused: the stream holds its changes back in Kafka, which deletes them after its "
    "retention (log.retention.hours, 7 days by default; the stream then records them as lost); "
    "set its state in mps_sync.table_state back to streaming when it is to sync again"
)
"""A table whose state is ``paused`` (set by hand): the stream consumes none of its changes."""

MAX_LISTED_CHECKS = 5


def quality_reason(table: str, outcome: str, breaches: Sequence[str], report: str | None) -> str:
    """Which checks broke and where the report is: the CLI has no link to click."""
    text = f"data quality {outcome}"
    if breaches:
        listed = ", ".join(breaches[:MAX_LISTED_CHECKS])
        more = len(breaches) - MAX_LISTED_CHECKS
        text += f": {listed}" + (f" and {more} more" if more > 0 else "")
    where = f"{report}#{table}" if report else "the latest data-quality report"
    return f"{text} (details in {where})"


def dead_letters_reason(table: str, count: int) -> str:
    """What an operator does about a table's open dead letters."""
    return (
        f"{count} open dead letter(s): changes not applied. See them with "
        f'`make cli ARGS="dead-letters list --table {table}"`, fix the cause each error names, '
        f'then `make cli ARGS="dead-letters retry --table {table}"`'
    )


def unsynced_columns(mapping: TableMapping, rows: Iterable[Row]) -> tuple[UnsyncedColumns, ...]:
    """The mapping drift the stream recorded for a table that still stands, per direction.

    A ``mps_sync.mapping_drift`` row stays after its cause is gone, so a row counts only while
    1. the current mapping still lacks the columns: once ``mappings generate`` lists them, the
       stream (which reloads the files) copies them, whatever the row says;
    2. it is not older than the direction's last batch that applied rows: that batch's changes
       passed the drift check without drift (the column was dropped again); a batch with drift
       stamps both in one transaction, so they are equal then;
    3. the mapping still streams that direction.

    Columns the mapping lists count as listed: its column entries (excluded ones too) and, for
    changes from PostgreSQL, its ``postgres_only_columns`` (PostgreSQL's own, acknowledged).
    """
    found = []
    for row in sorted(rows, key=lambda r: str(r.get("incoming_side"))):
        side = str(row.get("incoming_side"))
        if not (mapping.replicates_to_pg() if side == "mysql" else mapping.replicates_to_mysql()):
            continue
        last_seen, last_applied = row.get("last_seen"), row.get("last_applied_at")
        if last_seen is not None and last_applied is not None and last_seen < last_applied:
            continue
        listed = {c.name if side == "mysql" else c.pg_name for c in mapping.columns}
        if side == "postgres":
            listed.update(mapping.postgres_only_columns)
        columns = tuple(sorted(set(row.get("unknown_columns") or ()) - listed))
        if columns:
            found.append(UnsyncedColumns(side, columns))
    return tuple(found)


def drift_reason(drift: Iterable[UnsyncedColumns]) -> str:
    """The columns the stream leaves out, and what makes it copy them."""
    drift = tuple(drift)
    listed = "; ".join(f"{', '.join(d.columns)} ({d.incoming_side})" for d in drift)
    fixes = []
    if any(d.incoming_side == "mysql" for d in drift):
        fixes.append(
            "run `make mappings-generate`, review the entry, then `make ddl` (README, Add a column)"
        )
    if any(d.incoming_side == "postgres" for d in drift):
        fixes.append(
            "PostgreSQL's values of a column only it has do not reach MySQL: add the column in "
            "MySQL and run `make mappings-generate` (if PostgreSQL renamed a mapped column, set "
            "its `pg_name`; if the column is PostgreSQL's own on purpose, list it under "
            "`postgres_only_columns` in the table's mapping)"
        )
    return f"mapping drift: columns not synced: {listed}; " + "; ".join(fixes)


def _fmt_time(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if isinstance(value, datetime) else str(value)


def backfill_text(row: Row | None) -> tuple[str, float | None]:
    """``"12/40 chunks (30%), 1,234,567 rows, 41,000 rows/s, ~3 min left, 1 failed"`` and the
    percentage, from aggregated chunk counts. The rate is of the chunks finished in the last
    :data:`BACKFILL_RATE_WINDOW_S`; the time left divides the planned estimate of the chunks
    not done by it (none when a chunk has no estimate)."""
    if row is None:
        return NO_DATA, None
    total = int(row.get("chunks_total") or 0)
    done = int(row.get("chunks_done") or 0)
    failed = int(row.get("chunks_failed") or 0)
    copied = int(row.get("rows_copied") or 0)
    if row.get("finalized_at") is not None:
        return f"done, {copied:,} rows", 100.0
    if total == 0:
        return "planned", 0.0
    percent = round(100.0 * done / total, 1)
    text = f"{done}/{total} chunks ({percent:g}%), {copied:,} rows"
    rate = int(row.get("rows_recent") or 0) / BACKFILL_RATE_WINDOW_S
    if rate >= 1:
        text += f", {rate:,.0f} rows/s"
        left = row.get("rows_left_est")
        if left is not None and not row.get("left_unknown"):
            text += f", ~{_fmt_age(int(left) / rate)} left"
    if failed:
        text += f", {failed} failed"
    if backfill_stalled(row):
        text += f", {backfill_idle_text(row)}"
    return text, percent


BACKFILL_RATE_WINDOW_S = 300
"""The backfill rate on the status page is of the rows copied in this many last seconds."""

RETENTION_WARN_S = 3 * 86400
"""A table held back this long for a backfill, even a moving one, turns yellow: its changes wait
in Kafka, whose default retention (7 days) deletes them after that."""

RETENTION_RISK_S = 5 * 86400
"""A table held back this long for a backfill that stopped turns red: Kafka's default retention
(7 days) deletes its waiting changes soon after."""

BACKFILL_STALLED_S = 15 * 60
"""No chunk of any table changed for this long while this table is unfinished: a chunk takes
seconds, so the run was most likely stopped (killed, or failed and not retried). Measured over
all tables, since a table queued behind others has chunks that wait for their turn."""


MAX_ERROR_CHARS = 300


def backfill_error(row: Row | None) -> str:
    """The latest failed chunk's error (its first line, shortened), while the backfill is
    unfinished; "" otherwise."""
    if row is None or row.get("finalized_at") is not None or not row.get("chunks_failed"):
        return ""
    lines = str(row.get("failed_error") or "no error recorded").strip().splitlines()
    first = lines[0] if lines else "no error recorded"
    return first if len(first) <= MAX_ERROR_CHARS else first[: MAX_ERROR_CHARS - 3] + "..."


def backfill_stalled(row: Row | None) -> bool:
    """An unfinished backfill whose chunks stopped changing (:data:`BACKFILL_STALLED_S`)."""
    if row is None or row.get("finalized_at") is not None:
        return False
    total, done = int(row.get("chunks_total") or 0), int(row.get("chunks_done") or 0)
    return total > 0 and done < total and _backfill_idle(row)


def backfill_progressing(row: Row | None) -> bool:
    """The table has chunks and a chunk of any table changed within :data:`BACKFILL_STALLED_S`:
    a backfill run is copying, this table's chunks or those of a table queued ahead of it."""
    return row is not None and int(row.get("chunks_total") or 0) > 0 and not _backfill_idle(row)


def _backfill_idle(row: Row) -> bool:
    """No chunk of any table changed for :data:`BACKFILL_STALLED_S` (``idle_seconds``)."""
    idle = row.get("idle_seconds")
    return idle is not None and float(idle) >= BACKFILL_STALLED_S


def backfill_idle_text(row: Row) -> str:
    """``no backfill progress for 2 h``: since a chunk of any table last changed."""
    idle = row.get("idle_seconds")
    if idle is None:
        return "no backfill progress: no chunk was ever planned"
    return f"no backfill progress for {_fmt_age(float(idle))}"


def _fmt_age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


def stream_texts(row: Row | None, streaming: bool = False) -> tuple[str, str, bool]:
    """Lag text, throughput text and whether the table is stale.

    The lag is the last applied batch's, so it carries the age of that batch; ``streaming``
    tables (their state row says so) whose last batch is older than :data:`STALE_AFTER_S` are
    stale.
    """
    if row is None:
        return NO_DATA, NO_DATA, False
    lag_s = row.get("lag_seconds")
    lag_events = row.get("lag_events")
    parts = []
    if lag_events is not None:
        parts.append(f"{int(lag_events):,} events")
    if lag_s is not None:
        parts.append(f"{float(lag_s):.1f} s")
    lag = " / ".join(parts) or NO_DATA
    age = row.get("age_seconds")
    stale = streaming and age is not None and float(age) > STALE_AFTER_S
    if age is not None:
        lag = f"{lag}, applied {_fmt_age(max(0.0, float(age)))} ago"
        if stale:
            lag += " (stale)"
    rate = row.get("events_per_second")
    throughput = f"{float(rate):.1f} ev/s" if rate is not None else NO_DATA
    if stale and rate is not None:
        # The rate is the last batch's, not the current one: nothing flows now.
        throughput = f"0 ev/s now (last batch {float(rate):.1f} ev/s)"
    return lag, throughput, stale


def consumer_text(row: Row | None) -> tuple[str, bool | None]:
    """The stream consumers in words, and whether one applies changes now (None: unknown)."""
    if row is None:
        return NO_DATA, None
    running = int(row.get("running") or 0)
    finished = row.get("finished_age_seconds")
    failed = row.get("last_error")
    if running:
        return f"{running} running", True
    if failed:  # the newest run stopped on an error: a crash loop is no live pipeline
        when = f" {_fmt_age(float(finished))} ago" if finished is not None else ""
        return (
            f"failing: the last run failed{when} ({failed}); changes wait in Kafka. See the "
            "stream DAG's task log (or the service's), fix the cause, and the next run goes on",
            False,
        )
    # the Airflow stream DAG runs back to back: a run that ended moments ago is a live pipeline
    if finished is not None and float(finished) <= CONSUMER_GAP_S:
        return f"between runs (last ended {_fmt_age(float(finished))} ago)", True
    if finished is None and row.get("started_age_seconds") is None:
        what = "none has ever run"
    elif finished is None:
        what = "none running (the last one stopped without finishing its run)"
    else:
        what = f"none running (the last run ended {_fmt_age(float(finished))} ago)"
    return (
        f"{what}: changes wait in Kafka; unpause the stream DAG or start the stream service",
        False,
    )


def held_text(row: Row) -> str:
    """The state cell of a table the stream holds back, with what to run."""
    fix = "run `make ddl`" if row.get("incoming_side") == "mysql" else "add it in MySQL"
    target = "PostgreSQL" if row.get("incoming_side") == "mysql" else "MySQL"
    since = _fmt_time(row.get("since") or "")
    return f"held since {since}: the {target} table lacks a mapped column ({fix})"


def unsettled_gap(row: Row | None, mapping: TableMapping) -> Row | None:
    """The table's open gaps, unless a reconcile since repaired them from the mapping's own
    authoritative side and that side is the one that kept every change of them. A repair from
    the other side copied the stale rows over the changes the gap lost: not settled."""
    if row is None:
        return None
    sides = set(row.get("sides") or ())
    if row.get("repaired_by_mapping") and sides == {mapping.reconcile.authoritative}:
        return None
    return row


def lost_changes_text(row: Row | None) -> str:
    """What Kafka deleted before the stream applied it, and what repairs it; "" for nothing."""
    if row is None:
        return ""
    lost = int(row.get("lost") or 0)
    parts = [f"{lost:,} change(s)"] if lost else []
    if row.get("restarted"):
        parts.append(
            "an unknown number of changes (a topic was created again, or its offsets started again)"
        )
    what = " and ".join(parts) or "changes"
    since = _fmt_time(row.get("since") or "")
    if row.get("uncaptured"):
        what = (
            "the changes its connector never captured (its stored position was gone and was "
            "reset)" + (f" and {what}" if parts else "")
        )
        return (
            f"lost {what} (since {since}): run the reconcile DAG on this table with repair, "
            f"dry_run off and authoritative {_gap_side(row)} (README, Connectors)"
        )
    side = _gap_side(row)
    return (
        f"lost {what} Kafka deleted before the stream applied them (since {since}): run the "
        f"reconcile DAG on this table with repair, dry_run off and authoritative {side} "
        "(README, Watch the stream: Changes Kafka deleted)"
    )


SLOT_WARN_SHARE = 0.25
"""The slot's retained WAL, as a share of what PostgreSQL lets it hold, from which the tables it
captures turn yellow: a paused or stopped PostgreSQL connector shows nowhere else until
PostgreSQL is about to invalidate the slot."""


def slot_warning(slot: Row | None) -> str:
    """The countdown to an invalidated slot, once it is a quarter of the way there; ""."""
    if slot is None or slot.get("retained_bytes") is None:
        return ""
    if slot.get("safe_bytes") is None:  # no limit: nothing invalidates it, the disk fills
        what, fix = unlimited_slot_warning(
            str(slot.get("slot_name")), float(slot["retained_bytes"]), None
        )
        return f"{what}: {fix}" if what else ""
    retained, safe = float(slot["retained_bytes"]), max(0.0, float(slot["safe_bytes"]))
    if retained < SLOT_WARN_SHARE * (retained + safe):
        return ""
    return (
        f"replication slot {slot.get('slot_name')} holds back {_fmt_bytes(retained)} of WAL; "
        f"PostgreSQL invalidates it after {_fmt_bytes(safe)} more, and the PostgreSQL changes "
        "of that gap are lost to the stream: if the PostgreSQL connector is paused or stopped, "
        "resume it (`connectors apply`); otherwise it is behind (see `connectors status`)"
    )


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} GB"


def _gap_side(row: Row) -> str:
    """The side whose changes were lost holds all of them; if both lost some, neither does."""
    sides = list(row.get("sides") or ())
    return str(sides[0]) if len(sides) == 1 else "mapping"


def reconcile_text(row: Row | None) -> str:
    if row is None:
        return NO_DATA
    found = int(row.get("drift_found") or 0)
    repaired = int(row.get("drift_repaired") or 0)
    when = _fmt_time(row.get("finished_at") or row.get("started_at") or "")
    if row.get("status") == "error":  # compared nothing: drift_found 0 says nothing
        return f"error: not compared ({when})"
    if found == 0:
        return f"in sync ({when})"
    if repaired >= found:
        return f"in sync after repairing {repaired} ({when})"
    return f"drift {found}, repaired {repaired} ({when})"


def connector_text(mapping: TableMapping, connectors: Iterable[ConnectorState] | None) -> str:
    if connectors is None:
        return NO_DATA
    sides = set()
    if mapping.replicates_to_pg():
        sides.add("mysql")
    if mapping.replicates_to_mysql():
        sides.add("postgres")
    relevant = [c for c in connectors if c.side in sides]
    if not relevant:
        return "none"
    worst = min(relevant, key=lambda c: _rank(c.state))
    return worst.state if len(relevant) == 1 else f"{worst.state} (worst of {len(relevant)})"


def connectors_not_running(
    mapping: TableMapping, connectors: Iterable[ConnectorState] | None
) -> tuple[str, ...]:
    """``name (captures <side>): STATE`` of each connector of the table that does not run."""
    sides = {"mysql"} if mapping.replicates_to_pg() else set()
    if mapping.replicates_to_mysql():
        sides.add("postgres")
    return tuple(
        f"{c.name} (captures {c.side}): {c.state}"
        for c in connectors or ()
        if c.side in sides and c.state != "RUNNING"
    )


def _count(section: dict[str, int] | None, table: str) -> str:
    if section is None:
        return NO_DATA
    return str(section.get(table, 0))


def build_status(
    mappings: Iterable[TableMapping],
    snapshot: StateSnapshot,
    report_href: Callable[[Any], str | None] | None = None,
) -> list[TableStatus]:
    """One row per mapped table, in mapping order.

    ``report_href(path) -> str | None`` turns a report path stored in a state row into a link.
    """
    href: Callable[[Any], str | None] = report_href or (lambda _path: None)
    consumer_running = consumer_text(snapshot.consumers)[1]
    rows = []
    for m in mappings:
        name = m.name
        state_row = (snapshot.table_state or {}).get(name)
        backfill_row = None if snapshot.backfill is None else snapshot.backfill.get(name)
        backfill, percent = backfill_text(backfill_row)
        # no state row: never backfilled, captured since `connectors apply`; the stream applies
        # its changes as it does a streaming table's (backfill/runner.py STREAMED)
        streamed = state_row is None or state_row.get("state") == "streaming"
        stream_row = None if snapshot.stream is None else snapshot.stream.get(name)
        lag, rate, stale = stream_texts(stream_row, streaming=streamed)
        dq_row = None if snapshot.quality is None else snapshot.quality.get(name)
        links = []
        if dq_row is not None:
            link = href(dq_row.get("report_path"))
            if link:
                links.append(Link("DQ report", f"{link}#{name}"))
            docs = href(dq_row.get("data_docs_index"))
            if docs:
                links.append(Link("Data Docs (online only)", docs))
        if consumer_running is False and streamed and (state_row or stream_row):
            lag = lag.removesuffix(" (stale)") + " (stale: no stream consumer running)"
            stale = True
        elif consumer_running is True and stale:
            # a consumer is alive and applies what comes: a table nobody wrote is quiet, not
            # behind (most of a large database's tables, most hours)
            lag = lag.removesuffix(" (stale)") + " (quiet: nothing to apply since)"
            stale = False
        if state_row and state_row.get("state") == "backfilling":
            # its stream waits on purpose until its copy is done: the last lag is history
            lag = "paused for the backfill" + ("" if lag == NO_DATA else f" (before: {lag})")
            stale = False
        elif state_row and state_row.get("state") == "paused":
            # the stream holds every change of it: its last lag is history, not a healthy now
            since = state_row.get("age_seconds")
            lag = (
                "paused"
                + ("" if since is None else f" for {_fmt_age(max(0.0, float(since)))}")
                + ": the stream holds its changes"
                + ("" if lag == NO_DATA else f" (before: {lag})")
            )
            if rate != NO_DATA and not rate.startswith("0 ev/s now"):
                rate = f"0 ev/s now (last batch {rate})"
            stale = False
        hold = None if snapshot.holds is None else snapshot.holds.get(name)
        state = str(state_row["state"]) if state_row else NO_DATA
        if hold is not None:
            state = held_text(hold)
        rec_row = None if snapshot.reconcile is None else snapshot.reconcile.get(name)
        rec_link = href(rec_row.get("report_path")) if rec_row is not None else None
        if rec_link:
            links.append(Link("reconcile report", rec_link))
        rows.append(
            TableStatus(
                source=name,
                target=str(m.target),
                direction=m.direction,
                state=state,
                backfill=backfill,
                backfill_percent=percent,
                stream_lag=lag,
                throughput=rate,
                connectors=connector_text(m, snapshot.connectors),
                reconcile=reconcile_text(rec_row),
                conflicts_24h=_count(snapshot.conflicts_24h, name),
                dead_letters=_count(snapshot.dead_letters, name),
                quality=str(dq_row["outcome"]) if dq_row else NO_DATA,
                links=tuple(links),
                stale=stale,
                held=hold is not None,
                backfill_stalled=backfill_stalled(backfill_row),
                quality_report=_text_or_none(dq_row.get("report_path")) if dq_row else None,
                quality_breaches=tuple(dq_row.get("breached_checks") or ()) if dq_row else (),
                mapping_drift=unsynced_columns(m, (snapshot.mapping_drift or {}).get(name, ())),
                lost_changes=lost_changes_text(
                    unsettled_gap((snapshot.lost_changes or {}).get(name), m)
                ),
                backfill_error=backfill_error(backfill_row),
                connectors_not_running=connectors_not_running(m, snapshot.connectors),
                slot_warning=slot_warning(snapshot.slot) if m.replicates_to_mysql() else "",
                paused_for_backfill_s=(
                    float(state_row["age_seconds"])
                    if state_row
                    and state_row.get("state") == "backfilling"
                    and state_row.get("age_seconds") is not None
                    else None
                ),
                figures=table_figures(m, snapshot),
            )
        )
    return rows


def _text_or_none(value: Any) -> str | None:
    return str(value) if value else None


def not_synced(
    mappings: Iterable[TableMapping], snapshot: StateSnapshot | None = None
) -> list[TableStatus]:
    """A row for each MySQL table the mappings leave out, with why: an operator must see that a
    table is not synced, not just miss it. Dead letters left open by a table that is no longer
    synced, or no longer mapped at all, keep their row (and its warning) until resolved."""
    letters = dict((snapshot.dead_letters or {}) if snapshot is not None else {})
    mapped = {m.name for m in mappings}
    rows = []
    for m in sorted(mappings, key=lambda m: m.name):
        if m.is_synced:
            continue
        why = m.unsupported or "enabled: false in its mapping"
        rows.append(_not_synced_row(m.name, str(m.target), m.direction, why, letters))
    for name in sorted(set(letters) - mapped):
        if letters[name]:
            rows.append(_not_synced_row(name, "–", "–", "no mapping lists it", letters))
    return rows


def _not_synced_row(
    name: str, target: str, direction: str, why: str, letters: Mapping[str, int]
) -> TableStatus:
    return TableStatus(
        source=name,
        target=target,
        direction=direction,
        state=f"not synced: {why}",
        backfill="–",
        backfill_percent=None,
        stream_lag="–",
        throughput="–",
        connectors="–",
        reconcile="–",
        conflicts_24h="–",
        dead_letters=str(letters[name]) if letters.get(name) else "–",
        quality="–",
        synced=False,
    )


def exact_number(value: Any) -> JsonNumber:
    """A number from a state row as a JSON number that means exactly the same.

    PostgreSQL's ``sum`` of a bigint and its ``numeric`` arithmetic come back as Decimal, which
    ``json`` cannot write (``default=str`` made counts strings). A whole Decimal becomes an int
    (Python's ints, like JSON's numbers, have no size limit); a fractional one the float whose
    shortest text is the same number (``1.2340000000000000`` -> ``1.234``). A Decimal no float
    holds exactly (beyond ~15 significant digits), NaN and infinity (JSON has no number for
    them) stay their exact text, a string: rounding them would change them silently. None (no
    data) stays None.
    """
    if value is None:
        return None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if not isinstance(value, Decimal):
        try:
            value = Decimal(str(value))
        except InvalidOperation:
            return str(value)
    if not value.is_finite():
        return str(value)
    if value == value.to_integral_value():
        return int(value)
    as_float = float(value)
    return as_float if Decimal(repr(as_float)) == value else str(value)


def iso_time(value: Any) -> str | None:
    """A time from a state row as ISO 8601 text (``2026-11-27T10:00:00.5+00:00``); None stays
    None."""
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)


def _count_figure(section: dict[str, int] | None, table: str) -> JsonNumber:
    return None if section is None else exact_number(section.get(table, 0))


def table_figures(mapping: TableMapping, snapshot: StateSnapshot) -> TableFigures:
    """The row's counts, rates and times as values (see :class:`TableFigures`)."""
    name = mapping.name

    def row(section: dict[str, Row] | None) -> Row:
        return (section or {}).get(name) or {}

    backfill, stream, rec = row(snapshot.backfill), row(snapshot.stream), row(snapshot.reconcile)
    lost, lost_open = None, None
    if snapshot.lost_changes is not None:
        gap = unsettled_gap(snapshot.lost_changes.get(name), mapping)
        lost = exact_number((gap or {}).get("lost") or 0)
        lost_open = gap is not None
    return TableFigures(
        conflicts_24h=_count_figure(snapshot.conflicts_24h, name),
        open_dead_letters=_count_figure(snapshot.dead_letters, name),
        backfill_chunks_total=exact_number(backfill.get("chunks_total")),
        backfill_chunks_done=exact_number(backfill.get("chunks_done")),
        backfill_chunks_failed=exact_number(backfill.get("chunks_failed")),
        backfill_rows_copied=exact_number(backfill.get("rows_copied")),
        backfill_rows_left_estimate=(
            None if backfill.get("left_unknown") else exact_number(backfill.get("rows_left_est"))
        ),
        backfill_finalized_at=iso_time(backfill.get("finalized_at")),
        stream_lag_seconds=exact_number(stream.get("lag_seconds")),
        stream_events_per_second=exact_number(stream.get("events_per_second")),
        stream_last_applied_at=iso_time(stream.get("updated_at")),
        stream_last_applied_age_seconds=exact_number(stream.get("age_seconds")),
        reconcile_drift_found=exact_number(rec.get("drift_found")),
        reconcile_drift_repaired=exact_number(rec.get("drift_repaired")),
        reconcile_finished_at=iso_time(rec.get("finished_at")),
        lost_changes=lost,
        lost_changes_open=lost_open,
    )


def json_default(value: Any) -> Any:
    """``json.dumps(default=...)`` for what a state row may hold: Decimal as
    :func:`exact_number`, times as ISO 8601, anything else as its text."""
    if isinstance(value, Decimal):
        return exact_number(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
