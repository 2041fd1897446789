"""Headless Chromium (Debian's package, driven by Playwright) against the reports and Airflow UI.

- The data-quality report renders styled and complete with networking disabled.
- Against the running api-server (`stack/stack up airflow-ui`): log in, open "Sync status" from
  the nav, compare its rows with the state tables, trigger `backfill` from the UI trigger form
  with Params (a dry run of a demo table) and see the run start and succeed.
  Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from tests.integration.airflow_api import (
    FINISHED,
    TIMEOUT_S,
    admin_password,
    api,
    dag_run,
    failure_report,
    find_run,
    poll,
    task_instances,
    task_states,
)

from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.mapping.models import TableMapping, load_mappings
from mysql_pg_sync.quality.report_html import write_report
from mysql_pg_sync.quality.results import CheckResult, QualityRun
from mysql_pg_sync.quality.run import mappings_dir
from mysql_pg_sync.settings import Endpoints
from mysql_pg_sync.status.html import render_status
from mysql_pg_sync.status.model import StateSnapshot, build_status

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
RUN_TIMEOUT_S = 240  # a dry run of one table; another backfill run may go first


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: run `make setup`"

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _run(table: str, check_id: str, outcome: str, severity: str) -> CheckResult:
    return CheckResult(table, check_id, check_id.split(":")[0], severity, outcome, "Expect")  # type: ignore[arg-type]


def test_quality_report_is_styled_and_complete_offline(browser: Any, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    results = (
        _run("legacy.orders", "key_unique:id", "passed", "fail"),
        _run("legacy.orders", "enum_values:status", "failed", "fail"),
        _run("legacy.customers", "freshness:updated_at", "failed", "warn"),
        _run("legacy.customers", "dead_letters", "skipped", "fail"),
    )
    run = QualityRun("manual__offline", now - timedelta(seconds=5), now, results)
    report = write_report(run, tmp_path / "report.html")

    context = browser.new_context(offline=True)
    outside: list[str] = []

    def refuse(route: Any) -> None:
        outside.append(route.request.url)
        route.abort()

    context.route(
        "**/*",
        lambda route: (
            route.continue_() if route.request.url.startswith("file://") else refuse(route)
        ),
    )
    page = context.new_page()
    page.goto(report.as_uri())
    page.screenshot(path=str(ARTIFACTS / "dq-report-offline.png"), full_page=True)

    failed_badge = page.locator("section#legacy\\.orders .badge.failed").first
    style = failed_badge.evaluate(
        "e => { const s = getComputedStyle(e);"
        " return [s.backgroundColor, s.color, s.borderRadius] }"
    )
    assert style == ["rgb(207, 34, 46)", "rgb(255, 255, 255)", "10px"]
    body_font = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "system-ui" in body_font
    sections = page.locator("section.table h2").all_inner_texts()
    assert [s.split()[0] for s in sections] == ["legacy.customers", "legacy.orders"]
    assert page.locator("tr.check").count() == len(results)
    assert page.locator("tr.check[data-outcome=skipped]").count() == 1
    assert outside == []
    context.close()


def test_status_page_is_styled_offline(browser: Any, tmp_path: Path) -> None:
    mappings = [
        TableMapping.model_validate(
            {
                "source": f"legacy.{name}",
                "target": f"public.{name}",
                "key": ["id"],
                "columns": [{"name": "id", "column_type": "int(11)", "nullable": False}],
            }
        )
        for name in ("a", "b")
    ]
    snapshot = StateSnapshot(
        table_state={"legacy.a": {"state": "streaming"}},
        quality={"legacy.a": {"outcome": "failed"}, "legacy.b": {"outcome": "passed"}},
    )
    rows = build_status(mappings, snapshot)
    page_file = tmp_path / "status.html"
    page_file.write_text(render_status(rows, snapshot, datetime.now(UTC)))
    context = browser.new_context(offline=True)
    page = context.new_page()
    page.goto(page_file.as_uri())
    page.screenshot(path=str(ARTIFACTS / "status-page-offline.png"), full_page=True)
    row_a = page.locator('tr[data-table="legacy.a"]')
    # The row is marked by a coloured edge, not painted like a badge.
    assert row_a.evaluate("e => getComputedStyle(e).backgroundColor") == "rgba(0, 0, 0, 0)"
    edge = row_a.locator("td").first.evaluate("e => getComputedStyle(e).borderLeftColor")
    assert edge == "rgb(207, 34, 46)"
    badge = row_a.locator("td[data-col='data quality'] .badge")
    assert badge.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(207, 34, 46)"
    nodata = page.locator('tr[data-table="legacy.b"] td[data-col=state]')
    assert nodata.evaluate("e => getComputedStyle(e).fontStyle") == "italic"
    context.close()


# ------------------------------------------------------------------ the running Airflow UI


def _expected_states(endpoints: Endpoints) -> dict[str, str]:
    """What the page should show per table: table_state as the sync user sees it, and the
    tables the mappings leave out, with why."""
    mappings = load_mappings(mappings_dir())
    names = [m.name for m in mappings.enabled()]
    try:
        with pg_connect(endpoints.postgres) as conn:
            rows = dict(conn.execute("SELECT source_table, state FROM mps_sync.table_state"))
    except psycopg.DatabaseError:
        rows = None
    shown = {n: ("no data" if rows is None else rows.get(n, "no data")) for n in names}
    for m in mappings.tables:
        if not m.is_synced:
            shown[m.name] = f"not synced: {m.unsupported or 'enabled: false in its mapping'}"
    return shown


def test_anonymous_request_to_the_live_status_page_is_refused(airflow_ui: str) -> None:
    for path in ("/sync-status/", "/sync-status/api/tables", "/sync-status/reports/x.html"):
        assert requests.get(airflow_ui + path, timeout=30).status_code == 401


@pytest.mark.slow  # a real login, page loads and a scheduled run: ~50 s on a busy machine
def test_login_status_page_and_trigger_backfill(
    browser: Any, airflow_ui: str, endpoints: Endpoints
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_S * 1000)
    page.goto(airflow_ui + "/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(admin_password())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(airflow_ui + "/")
    page.screenshot(path=str(ARTIFACTS / "ui-1-home.png"))

    # The nav entry opens the plugin page inside the UI.
    page.get_by_role("link", name="Sync status").click()
    frame = page.frame_locator("iframe")
    frame.locator("table#sync-status").wait_for()
    page.screenshot(path=str(ARTIFACTS / "ui-2-sync-status.png"), full_page=True)
    shown = {
        row.get_attribute("data-table"): row.locator("td[data-col=state]").inner_text()
        for row in frame.locator("tr.table-row").all()
    }
    expected = _expected_states(endpoints)
    assert shown == expected
    if not expected:
        assert "No tables are mapped" in frame.locator("table#sync-status").inner_text()

    # Trigger backfill from its trigger form with Params (a dry run of one table).
    dag = api("GET", "/api/v2/dags/backfill")
    page.goto(airflow_ui + "/dags/backfill")
    page.get_by_role("button", name="Trigger").first.click()
    dialog = page.get_by_role("dialog")
    dialog.locator("[name=element_tables]").fill("legacy.customers")
    dry_run = dialog.locator("[name=element_dry_run]")
    dry_run.locator("xpath=..").click()  # Chakra hides the input behind its styled control
    assert dry_run.is_checked()
    run_id = f"ui_test_{uuid.uuid4().hex[:8]}"
    dialog.get_by_role("button", name="Advanced Options").click()
    dialog.locator("[name=dagRunId]").fill(run_id)
    page.screenshot(path=str(ARTIFACTS / "ui-3-trigger-form.png"), full_page=True)
    dialog.get_by_role("button", name="Trigger").last.click()

    try:
        run = poll("the triggered backfill run", lambda: find_run("backfill", run_id))
        assert run["conf"]["tables"] == ["legacy.customers"]
        assert run["conf"]["dry_run"] is True
        assert run["run_type"] == "manual"
        started = poll(  # max_active_runs=1: another backfill run may go first
            "the run to start",
            lambda: (r := dag_run("backfill", run_id))["state"] != "queued" and r,
        )
        assert started["state"] in ("running", "success", "failed")
        assert started["start_date"]
        page.goto(f"{airflow_ui}/dags/backfill/runs/{run['dag_run_id']}")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(ARTIFACTS / "ui-4-backfill-run.png"), full_page=True)
        # A dry run of a demo table plans and writes nothing: it must succeed, not just end.
        ended = poll(
            lambda: f"the backfill run to end; its tasks: {task_states('backfill', run_id)}",
            lambda: (r := dag_run("backfill", run_id))["state"] in FINISHED and r,
            RUN_TIMEOUT_S,
            every_s=2,
        )
        assert ended["state"] == "success", failure_report("backfill", run_id)
        states = {t["task_id"]: t["state"] for t in task_instances("backfill", run_id)}
        assert states["plan"] == "success", states
        assert states["summary"] == "success", states
    finally:
        if find_run("backfill", run_id) is not None:  # paused mid-run, it would stay 'running'
            poll(
                "the backfill run to end",
                lambda: dag_run("backfill", run_id)["state"] in FINISHED,
                RUN_TIMEOUT_S,
            )
        if dag["is_paused"]:  # the form unpauses on trigger; leave the DAG as we found it
            api("PATCH", "/api/v2/dags/backfill", json={"is_paused": True})
