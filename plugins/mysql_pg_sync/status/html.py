"""Render the status page: one self-contained HTML page (inline CSS, no scripts)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from mysql_pg_sync.quality.html_page import badge, page
from mysql_pg_sync.status.model import (
    NO_DATA,
    StateSnapshot,
    TableStatus,
    consumer_text,
    dead_letters_reason,
    drift_reason,
)

COLUMNS = (
    "table",
    "state",
    "backfill",
    "stream lag",
    "throughput",
    "connectors",
    "last reconcile",
    "conflicts 24 h",
    "open dead letters",
    "data quality",
    "links",
)
_QUALITY_CLASS = {"passed": "ok", "warn": "warn", "failed": "fail", "skipped": "nodata"}


def _cell(name: str, text: str) -> str:
    css = ' class="nodata-text"' if text == NO_DATA else ""
    return f'<td data-col="{name}"{css}>{escape(text)}</td>'


def _dead_letters_cell(s: TableStatus) -> str:
    """The open dead letters, with what to do as the cell's tooltip."""
    cell = _cell("open dead letters", s.dead_letters)
    if not s.open_dead_letters:
        return cell
    title = escape(dead_letters_reason(s.source, s.open_dead_letters))
    return cell.replace("<td ", f'<td title="{title}" ', 1)


def _state_cell(s: TableStatus) -> str:
    """The state, with the columns the stream leaves out under it (what to do as tooltip)."""
    cell = _cell("state", s.state)
    if not s.mapping_drift:
        return cell
    listed = "; ".join(f"{', '.join(d.columns)} ({d.incoming_side})" for d in s.mapping_drift)
    note = f'<br><small class="drift">mapping drift: not synced: {escape(listed)}</small>'
    title = escape(drift_reason(s.mapping_drift))
    return cell.replace("<td ", f'<td title="{title}" ', 1).replace("</td>", f"{note}</td>")


def _row(s: TableStatus) -> str:
    links = " · ".join(
        f'<a href="{escape(link.href)}">{escape(link.label)}</a>' for link in s.links
    )
    quality = (
        badge(s.quality, _QUALITY_CLASS.get(s.quality, "nodata"))
        if s.quality != NO_DATA
        else escape(NO_DATA)
    )
    bar = ""
    if s.backfill_percent is not None:
        bar = f'<div class="bar"><div style="width:{s.backfill_percent:.0f}%"></div></div>'
    return (
        f'<tr class="table-row health-{s.health}" data-health="{s.health}" '
        f'data-table="{escape(s.source)}">'
        f'<td data-col="table"><b>{escape(s.source)}</b><br><small>→ {escape(s.target)} '
        f"({escape(s.direction)})</small></td>"
        + _state_cell(s)
        + _cell("backfill", s.backfill).replace("</td>", f"{bar}</td>")
        + _cell("stream lag", s.stream_lag)
        + _cell("throughput", s.throughput)
        + _cell("connectors", s.connectors)
        + _cell("last reconcile", s.reconcile)
        + _cell("conflicts 24 h", s.conflicts_24h)
        + _dead_letters_cell(s)
        + f'<td data-col="data quality">{quality}</td>'
        + f'<td data-col="links">{links}</td></tr>'
    )


EXTRA_CSS = """<style>
tr.health-failed td:first-child { border-left: 4px solid var(--fail); }
tr.health-warn td:first-child { border-left: 4px solid var(--warn); }
tr.health-ok td:first-child { border-left: 4px solid var(--ok); }
tr.health-nodata td:first-child { border-left: 4px solid var(--skip); }
.nodata-text { color: var(--skip); font-style: italic; }
.drift { color: var(--warn); }
.bar { height: 5px; background: #eaeef2; border-radius: 3px; margin-top: 4px; }
.bar div { height: 5px; background: var(--ok); border-radius: 3px; }
.notes { color: #57606a; font-size: 12px; }
.error { border-left: 4px solid var(--fail); padding: 8px 12px; margin: 8px 0;
         background: #fff5f5; }
</style>"""


def render_status(
    rows: Sequence[TableStatus],
    snapshot: StateSnapshot,
    now: datetime,
    top_links: Sequence[tuple[str, str]] = (),
) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in COLUMNS)
    body = "".join(_row(r) for r in rows) or (
        f'<tr><td colspan="{len(COLUMNS)}">No tables are mapped: add include/mappings.</td></tr>'
    )
    counts = {h: sum(r.health == h for r in rows) for h in ("ok", "warn", "failed", "nodata")}
    cards = "".join(f'<div class="card"><b>{n}</b>{escape(h)}</div>' for h, n in counts.items())
    links = " · ".join(f'<a href="{escape(href)}">{escape(label)}</a>' for label, href in top_links)
    notes = "".join(f"<li>{escape(n)}</li>" for n in snapshot.notes)
    error = (
        f'<div class="error" id="state-error">{escape(snapshot.error)}</div>'
        if snapshot.error
        else ""
    )
    consumers, running = consumer_text(snapshot.consumers)
    streaming = any(r.state == "streaming" for r in rows)
    consumer_line = (
        f'<div class="error" id="consumers">Stream consumer: {escape(consumers)}</div>'
        if running is False and streaming
        else f'<div class="meta" id="consumers">Stream consumer: {escape(consumers)}</div>'
    )
    html = (
        EXTRA_CSS
        + f'<h1>Sync status</h1><div class="meta">as of {now:%Y-%m-%d %H:%M:%S} UTC'
        + (f" · {links}" if links else "")
        + "</div>"
        + error
        + consumer_line
        + f'<div class="cards">{cards}</div>'
        + f'<table id="sync-status"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        + (f'<ul class="notes">{notes}</ul>' if notes else "")
    )
    return page("Sync status", html)
