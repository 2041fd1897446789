"""The per-table status model and page (pure: rows in, model and HTML out)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser

from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.quality.results import outcome_of
from mysql_pg_sync.status.html import COLUMNS, render_status
from mysql_pg_sync.status.model import (
    NO_DATA,
    ConnectorState,
    StateSnapshot,
    backfill_text,
    build_status,
)

WHEN = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def _mapping(name: str, direction: str = "both") -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": f"legacy.{name}",
            "target": f"public.{name}",
            "key": ["id"],
            "columns": [{"name": "id", "column_type": "int(11)", "nullable": False}],
            "direction": direction,
        }
    )


def test_every_section_missing_shows_no_data() -> None:
    (row,) = build_status([_mapping("orders")], StateSnapshot())
    for value in (
        row.state,
        row.backfill,
        row.stream_lag,
        row.throughput,
        row.connectors,
        row.reconcile,
        row.conflicts_24h,
        row.dead_letters,
        row.quality,
    ):
        assert value == NO_DATA
    assert row.backfill_percent is None
    assert row.links == ()
    assert row.health == "nodata"


def test_sections_present_but_no_row_for_the_table() -> None:
    snapshot = StateSnapshot(
        table_state={}, backfill={}, conflicts_24h={}, dead_letters={}, connectors=()
    )
    (row,) = build_status([_mapping("orders")], snapshot)
    assert (row.conflicts_24h, row.dead_letters) == ("0", "0")
    assert row.connectors == "none"
    assert row.backfill == NO_DATA


def test_full_snapshot_builds_every_cell_and_links() -> None:
    snapshot = StateSnapshot(
        table_state={"legacy.orders": {"state": "streaming"}},
        backfill={
            "legacy.orders": {
                "chunks_total": 40,
                "chunks_done": 12,
                "chunks_failed": 1,
                "finalized_at": None,
                "rows_copied": 3_000_000,
            }
        },
        stream={
            "legacy.orders": {"lag_events": 1234, "lag_seconds": 2.5, "events_per_second": 812.25}
        },
        reconcile={
            "legacy.orders": {
                "drift_found": 3,
                "drift_repaired": 3,
                "finished_at": WHEN,
                "report_path": "/r/reconcile/x.html",
            }
        },
        conflicts_24h={"legacy.orders": 7},
        dead_letters={"legacy.orders": 2},
        quality={
            "legacy.orders": {
                "outcome": "warn",
                "report_path": "/r/quality/1/report.html",
                "data_docs_index": "/elsewhere/index.html",
            }
        },
        connectors=(
            ConnectorState("mysql-src", "mysql", "RUNNING"),
            ConnectorState("pg-src", "postgres", "FAILED"),
        ),
    )
    href = lambda p: ("reports" + p[2:]) if p and p.startswith("/r/") else None  # noqa: E731
    (orders,) = build_status([_mapping("orders")], snapshot, href)
    assert orders.state == "streaming"
    assert orders.backfill == "12/40 chunks (30%), 3,000,000 rows, 1 failed"
    assert orders.backfill_percent == 30.0
    assert orders.stream_lag == "1,234 events / 2.5 s"
    assert orders.throughput == "812.2 ev/s"
    assert orders.connectors == "FAILED (worst of 2)"
    assert orders.reconcile == "in sync after repairing 3 (2026-11-25 03:00 UTC)"
    assert (orders.conflicts_24h, orders.dead_letters, orders.quality) == ("7", "2", "warn")
    assert [(link.label, link.href) for link in orders.links] == [
        ("DQ report", "reports/quality/1/report.html#legacy.orders"),
        ("reconcile report", "reports/reconcile/x.html"),
    ]
    assert orders.health == "failed"  # a connector it needs failed

    # A one-way table only needs the MySQL source connector.
    (one_way,) = build_status([_mapping("orders", "mysql_to_pg")], snapshot, href)
    assert one_way.connectors == "RUNNING"
    stopped = StateSnapshot(connectors=(ConnectorState("mysql-src", "mysql", "STOPPED"),))
    (paused,) = build_status([_mapping("orders", "mysql_to_pg")], stopped)
    assert (paused.connectors, paused.health) == ("STOPPED", "warn")


def test_backfill_finalized_and_planned() -> None:
    assert backfill_text({"finalized_at": WHEN, "rows_copied": 2_000_000}) == (
        "done, 2,000,000 rows",
        100.0,
    )
    assert backfill_text({"chunks_total": 0}) == ("planned", 0.0)


def test_a_backfill_whose_chunks_stopped_changing_warns_and_says_how_to_resume() -> None:
    """A killed backfill showed `ok backfilling 261/600` with no hint that nothing ran."""
    row = {"chunks_total": 600, "chunks_done": 261, "idle_seconds": 2 * 3600}
    text, _ = backfill_text(row)
    assert text == "261/600 chunks (43.5%), 0 rows, no backfill progress for 2 h"
    snapshot = StateSnapshot(
        table_state={"legacy.orders": {"state": "backfilling"}},
        backfill={"legacy.orders": row},
    )
    (stalled,) = build_status([_mapping("orders")], snapshot)
    assert stalled.health == "warn"
    assert "if no backfill is running, resume it" in stalled.reason
    assert "backfill run --mode resume --tables legacy.orders" in stalled.reason
    # a chunk copied a minute ago, or a finished table: no warning
    for calm in (
        {**row, "idle_seconds": 60},
        {**row, "chunks_done": 600},
        {**row, "finalized_at": WHEN, "rows_copied": 9},
    ):
        (fine,) = build_status(
            [_mapping("orders")], replace(snapshot, backfill={"legacy.orders": calm})
        )
        assert not fine.backfill_stalled, calm
        assert "no backfill progress" not in fine.backfill


def test_table_outcome_from_check_rows() -> None:
    assert outcome_of([("passed", "fail"), ("failed", "warn")]) == "warn"
    assert outcome_of([("error", "fail"), ("passed", "warn")]) == "failed"
    assert outcome_of([("skipped", "fail")]) == "skipped"
    assert outcome_of([]) == "passed"


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self._col: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and a.get("data-table"):
            self.rows.append({"table": a["data-table"] or ""})
        if tag == "td" and self.rows and a.get("data-col"):
            self._col = a["data-col"]

    def handle_data(self, data: str) -> None:
        if self._col and self._col != "table":
            self.rows[-1][self._col] = self.rows[-1].get(self._col, "") + data

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._col = None


def test_page_has_one_row_per_table_with_escaped_names_and_no_external_urls() -> None:
    snapshot = StateSnapshot(conflicts_24h={"legacy.a<b": 5}, notes=("stream: no data (x)",))
    rows = build_status([_mapping("a<b"), _mapping("orders")], snapshot)
    html = render_status(rows, snapshot, WHEN)
    parser = _Cells()
    parser.feed(html)
    assert [r["table"] for r in parser.rows] == ["legacy.a<b", "legacy.orders"]
    assert parser.rows[0]["conflicts 24 h"] == "5"
    assert parser.rows[1]["state"] == NO_DATA
    assert set(COLUMNS) - {"table", "links"} <= set(parser.rows[0])
    assert "<b>legacy.a&lt;b</b>" in html
    assert "stream: no data (x)" in html
    assert "http" not in html.replace("http-equiv", "")


def test_lag_carries_its_age_and_an_idle_streaming_table_is_stale() -> None:
    stream = {"legacy.orders": {"lag_seconds": 0.4, "events_per_second": 50.0}}
    fresh = {"legacy.orders": {**stream["legacy.orders"], "age_seconds": 30}}
    old = {"legacy.orders": {**stream["legacy.orders"], "age_seconds": 3 * 3600}}
    streaming = {"legacy.orders": {"state": "streaming"}}

    (row,) = build_status([_mapping("orders")], StateSnapshot(table_state=streaming, stream=fresh))
    assert row.stream_lag == "0.4 s, applied 30 s ago"
    assert (row.stale, row.health) == (False, "ok")

    (row,) = build_status([_mapping("orders")], StateSnapshot(table_state=streaming, stream=old))
    assert row.stream_lag == "0.4 s, applied 3 h ago (stale)"
    assert row.throughput == "0 ev/s now (last batch 50.0 ev/s)"
    assert (row.stale, row.health) == (True, "warn")

    # With a consumer known to run, an old last batch is a quiet table, not an outage.
    consumers = {"running": 1}
    (row,) = build_status(
        [_mapping("orders")], StateSnapshot(table_state=streaming, stream=old, consumers=consumers)
    )
    assert row.stream_lag == "0.4 s, applied 3 h ago (quiet: nothing to apply since)"
    assert (row.stale, row.health) == (False, "ok")

    # Not streaming yet (backfilling): an old last batch is no outage.
    backfilling = {"legacy.orders": {"state": "backfilling"}}
    (row,) = build_status([_mapping("orders")], StateSnapshot(table_state=backfilling, stream=old))
    assert (row.stale, row.health) == (False, "ok")


def test_a_running_connector_with_a_failed_task_is_failed() -> None:
    from mysql_pg_sync.status.model import combined_state

    state = combined_state("RUNNING", ["RUNNING", "FAILED"])
    snapshot = StateSnapshot(connectors=(ConnectorState("mps-mysql-source", "mysql", state),))
    (row,) = build_status([_mapping("orders", "mysql_to_pg")], snapshot)
    assert (row.connectors, row.health) == ("FAILED", "failed")
    # which one, and what heals it: "FAILED (worst of 2)" left the operator guessing
    both = (
        ConnectorState("mps-mysql-source", "mysql", "RUNNING"),
        ConnectorState("mps-postgres-source", "postgres", state),
    )
    (row,) = build_status([_mapping("orders")], StateSnapshot(connectors=both))
    assert row.connectors == "FAILED (worst of 2)"
    assert "connectors mps-postgres-source (captures postgres): FAILED:" in row.reason
    assert "mps-mysql-source" not in row.reason
    assert "`connectors health`" in row.reason


def test_a_table_the_stream_holds_back_is_failed_with_what_to_run() -> None:
    snapshot = StateSnapshot(
        table_state={
            "legacy.orders": {"state": "streaming"},
            "legacy.notes": {"state": "streaming"},
        },
        holds={
            "legacy.orders": {"incoming_side": "mysql", "reason": "...", "since": WHEN},
            "legacy.notes": {"incoming_side": "postgres", "reason": "...", "since": WHEN},
        },
    )
    orders, notes, items = build_status(
        [_mapping("orders"), _mapping("notes"), _mapping("items")], snapshot
    )
    assert orders.state == (
        "held since 2026-11-25 03:00 UTC: the PostgreSQL table lacks a mapped column "
        "(run `make ddl`)"
    )
    assert notes.state.endswith("the MySQL table lacks a mapped column (add it in MySQL)")
    assert (orders.health, notes.health) == ("failed", "failed")
    assert not items.held
    assert items.health != "failed"


def test_tables_the_mappings_leave_out_are_listed_with_why() -> None:
    from mysql_pg_sync.status.model import not_synced

    off = _mapping("archive").model_copy(update={"enabled": False})
    keyless = _mapping("audit_log").model_copy(update={"unsupported": "no primary key (add one)"})
    rows = not_synced([_mapping("orders"), off, keyless])
    assert [(r.source, r.state, r.health) for r in rows] == [
        ("legacy.archive", "not synced: enabled: false in its mapping", "nodata"),
        ("legacy.audit_log", "not synced: no primary key (add one)", "nodata"),
    ]


def test_open_dead_letters_of_a_table_no_longer_synced_or_mapped_keep_a_warning_row() -> None:
    """Letters of a disabled or removed table were never counted: status said all was well
    while changes of that table sat unapplied."""
    from mysql_pg_sync.status.model import not_synced

    off = _mapping("archive").model_copy(update={"enabled": False})
    quiet = _mapping("old").model_copy(update={"enabled": False})
    snapshot = StateSnapshot(dead_letters={"legacy.archive": 3, "legacy.gone": 2, "legacy.x": 0})
    rows = not_synced([_mapping("orders"), off, quiet], snapshot)
    assert [(r.source, r.state, r.dead_letters, r.health) for r in rows] == [
        ("legacy.archive", "not synced: enabled: false in its mapping", "3", "warn"),
        ("legacy.old", "not synced: enabled: false in its mapping", "–", "nodata"),
        ("legacy.gone", "not synced: no mapping lists it", "2", "warn"),
    ]
    assert rows[0].reason.startswith("3 open dead letter(s) of a table no longer synced")
    assert "dead-letters resolve --table legacy.gone --note" in rows[2].reason
    assert rows[1].reason == ""


def test_a_reconcile_that_errored_is_not_in_sync() -> None:
    """An `error` table (schemas differ, a database was unreachable) compared nothing: its
    drift count of 0 must not read as in sync."""
    snapshot = StateSnapshot(
        table_state={"legacy.orders": {"state": "streaming"}},
        reconcile={
            "legacy.orders": {"status": "error", "drift_found": 0, "finished_at": WHEN},
            "legacy.items": {"status": "repair_refused", "drift_found": 9, "finished_at": WHEN},
        },
    )
    orders, items = build_status([_mapping("orders"), _mapping("items")], snapshot)
    assert orders.reconcile == "error: not compared (2026-11-25 03:00 UTC)"
    assert orders.health == "warn"
    assert "reconcile: error: not compared" in orders.reason
    assert items.reconcile == "drift 9, repaired 0 (2026-11-25 03:00 UTC)"
    assert items.health == "warn"


def test_connect_unreachable_or_no_connector_is_flagged() -> None:
    """With Kafka Connect down the cell read "no data" and the row looked healthier than with
    a paused connector; a table no connector captures was not flagged at all."""
    streaming = {"legacy.orders": {"state": "streaming"}}
    down = StateSnapshot(
        table_state=streaming,
        connectors=(
            ConnectorState("mysql-src", "mysql", "UNREACHABLE"),
            ConnectorState("pg-src", "postgres", "UNREACHABLE"),
        ),
    )
    (row,) = build_status([_mapping("orders")], down)
    assert row.connectors == "UNREACHABLE (worst of 2)"
    assert row.health == "failed"
    assert "Kafka Connect cannot be reached" in row.reason
    (row,) = build_status([_mapping("orders")], StateSnapshot(table_state=streaming, connectors=()))
    assert (row.connectors, row.health) == ("none", "warn")
    assert "no connector captures it: trigger connectors with action apply" in row.reason


def test_a_running_backfill_shows_rows_rate_and_time_left() -> None:
    """Chunks alone gave no idea of rows, speed or when it ends (walkthrough 4)."""
    row = {
        "chunks_total": 40,
        "chunks_done": 10,
        "rows_copied": 2_500_000,
        "rows_recent": 12_000_000,  # 40,000 rows/s over the 5-minute window
        "rows_left_est": 7_500_000,
        "left_unknown": False,
        "idle_seconds": 2,
    }
    assert backfill_text(row) == (
        "10/40 chunks (25%), 2,500,000 rows, 40,000 rows/s, ~3 min left",
        25.0,
    )
    # a chunk planned before estimates existed: no time left rather than a wrong one
    assert backfill_text({**row, "left_unknown": True})[0] == (
        "10/40 chunks (25%), 2,500,000 rows, 40,000 rows/s"
    )
    # nothing finished in the window: no rate
    assert backfill_text({**row, "rows_recent": 0})[0] == "10/40 chunks (25%), 2,500,000 rows"


def test_a_table_paused_for_its_backfill_does_not_show_its_old_lag_as_current() -> None:
    snapshot = StateSnapshot(
        table_state={"legacy.orders": {"state": "backfilling"}},
        stream={"legacy.orders": {"lag_seconds": 580.7, "age_seconds": 120}},
        consumers={"running": 1},
    )
    (orders,) = build_status([_mapping("orders")], snapshot)
    assert orders.stream_lag == "paused for the backfill (before: 580.7 s, applied 2 min ago)"
    assert not orders.stale


def test_changes_kafka_deleted_make_the_table_failed_until_reconciled() -> None:
    """A gap the stream recorded (mps_sync.stream_gaps) that no reconcile repaired since: red,
    with how many changes and what to run; the reader leaves repaired gaps out."""
    base = StateSnapshot(table_state={"legacy.orders": {"state": "streaming"}}, lost_changes={})
    (quiet,) = build_status([_mapping("orders")], base)
    assert quiet.lost_changes == ""
    assert "lost" not in quiet.reason
    gap = {
        "source_table": "legacy.orders",
        "lost": 1234,
        "restarted": False,
        "since": WHEN,
        "sides": ["postgres"],
    }
    (row,) = build_status([_mapping("orders")], replace(base, lost_changes={"legacy.orders": gap}))
    assert row.health == "failed"
    assert row.lost_changes.startswith("lost 1,234 change(s) Kafka deleted")
    assert "since 2026-11-25 03:00 UTC" in row.lost_changes
    assert "with repair, dry_run off and authoritative postgres" in row.reason
    restarted = {**gap, "lost": None, "restarted": True}
    (row,) = build_status(
        [_mapping("orders")], replace(base, lost_changes={"legacy.orders": restarted})
    )
    assert (
        "an unknown number of changes (a topic was created again, or its offsets started again)"
        in row.lost_changes
    )


def test_a_failed_chunk_warns_at_once_and_a_long_pause_risks_kafka_retention() -> None:
    """A reload whose chunk failed left the PostgreSQL table empty with the row `ok` for 15
    minutes; after days it was only yellow, with no word of the changes Kafka would delete."""
    row = {
        "chunks_total": 1,
        "chunks_done": 0,
        "chunks_failed": 1,
        "idle_seconds": 30,
        "failed_error": 'rows 1..52: new row violates check constraint "no_k"\nDETAIL',
    }
    snapshot = StateSnapshot(
        table_state={"legacy.events": {"state": "backfilling", "age_seconds": 60}},
        backfill={"legacy.events": row},
    )
    (fresh,) = build_status([_mapping("events")], snapshot)
    assert fresh.health == "warn"
    assert 'the last failed chunk: rows 1..52: new row violates check constraint "no_k")' in (
        fresh.reason
    )
    assert "DETAIL" not in fresh.reason
    assert "fix its cause, then resume it" in fresh.reason
    assert "its changes have waited in Kafka for 60 s" in fresh.reason
    old = replace(
        snapshot, table_state={"legacy.events": {"state": "backfilling", "age_seconds": 6 * 86400}}
    )
    (risky,) = build_status([_mapping("events")], old)
    assert risky.health == "failed"
    assert "waited in Kafka for 6 d" in risky.reason
    assert "log.retention.hours" in risky.reason
    # finished, or never failed and moving: nothing to say
    for calm in ({**row, "finalized_at": WHEN}, {**row, "chunks_failed": 0}):
        (fine,) = build_status([_mapping("events")], replace(old, backfill={"legacy.events": calm}))
        assert fine.backfill_error == ""
        assert fine.health != "failed"


def test_a_reset_connector_position_leaves_its_tables_red_until_reconciled() -> None:
    gap = {
        "source_table": "legacy.orders",
        "lost": None,
        "restarted": False,
        "uncaptured": True,
        "since": WHEN,
        "sides": ["mysql"],
    }
    snapshot = StateSnapshot(lost_changes={"legacy.orders": gap})
    (row,) = build_status([_mapping("orders")], snapshot)
    assert row.health == "failed"
    assert row.lost_changes.startswith("lost the changes its connector never captured")
    assert "authoritative mysql" in row.lost_changes
    assert "offsets started again" not in row.lost_changes


def test_a_slot_holding_back_much_wal_warns_the_tables_it_captures() -> None:
    """A paused PostgreSQL connector's slot showed nowhere until PostgreSQL was about to
    invalidate it (266 MB held: nothing said)."""
    slot = {"slot_name": "mps_slot", "retained_bytes": 1.5 * 2**30, "safe_bytes": 2.5 * 2**30}
    snapshot = StateSnapshot(slot=slot)
    both, one_way = _mapping("orders"), _mapping("events", "mysql_to_pg")
    orders, events = build_status([both, one_way], snapshot)
    assert orders.health == "warn"
    assert "replication slot mps_slot holds back 1.5 GB of WAL" in orders.reason
    assert "invalidates it after 2.5 GB more" in orders.reason
    assert events.slot_warning == ""  # PostgreSQL's capture does not carry it
    calm = replace(snapshot, slot={**slot, "retained_bytes": 266 * 2**20})
    (orders,) = build_status([both], calm)
    assert orders.slot_warning == ""
    (orders,) = build_status([both], replace(snapshot, slot={**slot, "safe_bytes": None}))
    assert orders.slot_warning == ""  # no max_slot_wal_keep_size: no countdown to show


def test_a_gap_is_settled_only_by_a_repair_from_the_side_that_kept_its_changes() -> None:
    """A PostgreSQL-side gap "repaired" from MySQL (the mapping's default) copied the stale
    rows over the changes the gap lost, and turned the table green."""
    from mysql_pg_sync.status.model import unsettled_gap

    gap = {"source_table": "legacy.orders", "lost": 3, "since": WHEN, "sides": ["postgres"]}
    mapping = _mapping("orders")  # reconcile.authoritative: mysql
    assert unsettled_gap({**gap, "repaired_by_mapping": True}, mapping) is not None
    assert unsettled_gap({**gap, "sides": ["mysql"], "repaired_by_mapping": True}, mapping) is None
    assert unsettled_gap({**gap, "sides": ["mysql"], "repaired_by_mapping": False}, mapping)
    assert unsettled_gap(None, mapping) is None
