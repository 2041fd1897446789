"""The run report: JSON for machines, one self-contained HTML page (inline CSS, no CDN) for the
operator who reads it the morning after. Pure formatting, except :func:`write_reports`."""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mysql_pg_sync.cdc.events import SIDE_NAMES
from mysql_pg_sync.reconcile.diff import DRIFT_CLASSES
from mysql_pg_sync.reconcile.recheck import TIMED_OUT

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f3f3f3}.in_sync,.repaired,.succeeded{color:#176f2c}
.drift,.repair_refused{color:#a15c00}.error,.running,.failed{color:#b00020}code{font-size:12px}
.skipped{color:#555}
.banner{border:2px solid #a15c00;background:#fff6e5;padding:8px 12px;margin:1em 0}
.banner.failed{border-color:#b00020;background:#fdecee}
"""
TABLE_STATUS_WORDS = {
    "in_sync": "in sync",
    "repaired": "repaired",
    "drift": "drift left",
    "repair_refused": "repairs refused (max_repairs)",
    "error": "failed",
    "running": "did not finish",
    "skipped": "skipped (backfilling)",
}
# a repair's status in words, in the order the report lists them
REPAIR_STATUS_WORDS = {
    "dry_run": "planned only (dry run, nothing written)",
    "applied": "applied",
    "failed": "failed",
    "refused": "refused (over max_repairs, nothing written)",
    "planned": "planned, outcome not recorded",
    "changed": "not written: the row changed after it was compared (run again)",
}
DRIFT_WORDS = {
    "missing": "missing in PostgreSQL",
    "extra": "extra in PostgreSQL",
    "different": "different",
}


def run_status(tables: list[dict[str, Any]]) -> str:
    """``failed`` if a table errored or never finished, ``drift`` if drift is left, else
    ``succeeded``. A table ``skipped`` while its backfill moves counts for neither: it was not
    compared, and the first run after its backfill compares it."""
    statuses = {t.get("status") for t in tables}
    # 'running' at the end of a run: its task was killed or timed out before storing a result
    if statuses & {"error", "running"}:
        return "failed"
    if statuses & {"drift", "repair_refused"}:
        return "drift"
    return "succeeded"


def mode_of(params: Mapping[str, Any]) -> str:
    """``report_only`` (repair off), ``dry_run`` (repairs planned only) or ``repair``."""
    if not params.get("repair"):
        return "report_only"
    return "dry_run" if params.get("dry_run", True) else "repair"


def repair_mode(params: Mapping[str, Any]) -> str:
    """What the run was allowed to write, from its stored params, in words."""
    mode = mode_of(params)
    if mode == "report_only":
        return "report only (repair off): drift is recorded, nothing is repaired"
    if mode == "dry_run":
        return (
            "DRY RUN: repairs were only planned and recorded, nothing was written; to write "
            "them trigger reconcile again with repair on and dry_run off (CLI: --repair "
            "--no-dry-run)"
        )
    return "repair: repairs written through the stream applier"


def retry_hint(table: str) -> str:
    """What to do about a table that could not be compared."""
    return (
        f"fix the cause (the compare task's log, map index {table}, or the CLI's output has "
        f'the details), then trigger reconcile with Params tables = ["{table}"] (CLI: '
        f"reconcile --tables {table}) to compare it again"
    )


def headline(run: Mapping[str, Any]) -> str:
    """The run's outcome in words."""
    status = run.get("status")
    s = run.get("summary") or totals(run)
    skipped = int(s.get("skipped", 0))
    also = f"; {skipped} skipped while backfilling" if skipped else ""
    if status == "failed" and not s["failed"]:
        # every table stored its result, but the run itself never ended: its process or task
        # stopped before the reports, and a later run closed it (store.close_abandoned_runs)
        return (
            f"failed: the run stopped before it finished, after each of its {s['tables']} "
            f"table(s) had stored a result (below){also}"
        )
    if status == "failed":
        return f"failed: {s['failed']} of {s['tables']} table(s) could not be compared{also}"
    if status == "drift":
        held = int(s.get("not_conclusive", 0))
        unsure = (
            f" ({held} not conclusive: the stream had not caught up, nothing repaired in them)"
            if held
            else ""
        )
        return f"drift left unrepaired in {s['with_drift']} of {s['tables']} table(s){unsure}{also}"
    if status == "succeeded":
        repaired = f", {s['repaired']} after repairs" if s["repaired"] else ""
        if not skipped:
            return f"in sync: all {s['tables']} table(s){repaired}"
        if skipped == s["tables"]:
            return f"nothing compared: all {skipped} table(s) skipped while backfilling"
        synced = s["in_sync"] + s["repaired"]
        return f"in sync: {synced} of {s['tables']} table(s){repaired}{also}"
    return f"not finished ({status})"


def _table_group(status: Any) -> str:
    if status in ("in_sync", "repaired", "skipped"):
        return str(status)
    return "with_drift" if status in ("drift", "repair_refused") else "failed"


def totals(run: Mapping[str, Any]) -> dict[str, Any]:
    """The run at a glance: tables by outcome, rows compared, drift by class, repairs."""
    tables = list(run.get("tables") or [])
    groups = Counter(_table_group(t.get("status")) for t in tables)
    repairs: Counter[str] = Counter()
    for t in tables:
        repairs.update(t.get("repairs") or {})
    # tables whose differences were not repaired: the re-check timed out
    held = sum(1 for t in tables if int(t.get("not_conclusive") or 0))
    # repairs not written: the row changed after the comparison (not drift, not a failure)
    changed = sum(int(t.get("changed_since_compared") or 0) for t in tables)
    return {
        "mode": mode_of(run.get("params") or {}),
        "tables": len(tables),
        "compared": len(tables) - groups["failed"] - groups["skipped"],
        **{g: groups[g] for g in ("in_sync", "repaired", "with_drift", "failed", "skipped")},
        "rows_mysql": sum(int(t.get("rows_mysql") or 0) for t in tables),
        "rows_postgres": sum(int(t.get("rows_postgres") or 0) for t in tables),
        "drift": {
            k: sum(int((t.get("drift") or {}).get(k, 0)) for t in tables) for k in DRIFT_CLASSES
        },
        "repairs": dict(repairs),
        # present only when there are any (the summary of an ordinary run keeps its shape)
        **({"not_conclusive": held} if held else {}),
        **({"changed_since_compared": changed} if changed else {}),
        "duration_s": run.get("duration_s"),
    }


def finalize(run: Mapping[str, Any], finished_at: datetime) -> dict[str, Any]:
    """The run as its report shows it: status, finish time, duration and totals added."""
    done = {**run, "status": run_status(run["tables"]), "finished_at": finished_at.isoformat()}
    started = _parse_time(run.get("started_at"))
    if started is not None:
        done["duration_s"] = round((finished_at - started).total_seconds(), 3)
    done["summary"] = totals(done)
    return done


def to_json(run: dict[str, Any]) -> str:
    return json.dumps(run, indent=2, sort_keys=True, default=str, ensure_ascii=False)


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _when(value: Any) -> str:
    moment = _parse_time(value)
    if moment is None:
        return "not recorded" if value is None else str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def duration_words(seconds: Any) -> str:
    if seconds is None:
        return "–"
    s = float(seconds)
    if s < 60:
        return f"{s:.1f} s"
    whole = round(s)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def _cell(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _n(value: Any) -> str:
    return f"{int(value or 0):,}"


def _count(value: Any) -> str:
    """A number with thousands separators; a dash when the table never got that far."""
    return "–" if value is None else _cell(_n(value))


def _key(key: Any, names: Sequence[str] = ()) -> str:
    """A key as ``id=42`` (``a=1, b=x`` for a composite key) when its column names are known."""
    if not isinstance(key, list | tuple):
        return str(key)
    if names and len(names) == len(key):
        return ", ".join(f"{n}={v}" for n, v in zip(names, key, strict=True))
    return "/".join(map(str, key))


def _keys(keys: Iterable[Any], total: int, names: Sequence[str] = ()) -> str:
    shown = [_key(k, names) for k in keys]
    more = f" (+{total - len(shown):,} more)" if total > len(shown) else ""
    # a composite key with its names prints as "a=1, b=2": its neighbours are told apart by "; "
    between = "; " if len(names) > 1 else ", "
    return f"<code>{_cell(between.join(shown))}</code>{_cell(more)}"


def _examples(table: Mapping[str, Any]) -> str:
    """Example keys by drift class, each with its differing columns where the run stored them."""
    stored = table.get("drift_examples") or {}
    names = table.get("key_columns") or ()
    parts = []
    for kind in DRIFT_CLASSES:
        total = int((table.get("drift") or {}).get(kind, 0))
        if stored.get(kind):
            shown = [
                _key(e["key"], names)
                + (f" ({', '.join(e['columns'])})" if e.get("columns") else "")
                for e in stored[kind]
            ]
        else:
            shown = [_key(k, names) for k in (table.get("examples") or {}).get(kind) or []]
        if shown:
            more = f" (+{total - len(shown):,} more)" if total > len(shown) else ""
            parts.append(f"<em>{kind}</em>: <code>{_cell('; '.join(shown))}</code>{_cell(more)}")
    return "<br>".join(parts)


def _repair_action(action: str, write_to: str) -> str:
    side = {str(k): v for k, v in SIDE_NAMES.items()}.get(write_to, write_to)  # a stored text
    if action == "delete":
        return f"delete from {side}"
    source = SIDE_NAMES["postgres" if write_to == "mysql" else "mysql"]
    return f"copy {source}'s row to {side}"


def _repairs(table: Mapping[str, Any]) -> str:
    """Repairs by outcome (those not written as changed since compared among them), each with
    its direction, example keys and error."""
    return _written_repairs(table)


def _written_repairs(table: Mapping[str, Any]) -> str:
    details = table.get("repair_details") or []
    if not details:  # a report from before repair details were stored: counts only
        counts = table.get("repairs") or {}
        return "<br>".join(
            _cell(f"{n:,} {REPAIR_STATUS_WORDS.get(s, s)}") for s, n in counts.items() if n
        )
    parts = []
    for status, words in REPAIR_STATUS_WORDS.items():
        group = [d for d in details if d["status"] == status]
        if not group:
            continue
        lines = [
            f"{d['count']:,} × {_cell(_repair_action(d['action'], d['write_to']))}: "
            f"{_keys(d['example_keys'], d['count'], table.get('key_columns') or ())}"
            + (f"<br><small>error: {_cell(d['error'])}</small>" if d.get("error") else "")
            for d in group
        ]
        count = sum(d["count"] for d in group)
        parts.append(f"<strong>{count:,} {_cell(words)}</strong><br>" + "<br>".join(lines))
    return "<br>".join(parts)


def _drift_words(drift: Mapping[str, Any]) -> str:
    found = [f"{_n(drift.get(k))} {DRIFT_WORDS[k]}" for k in DRIFT_CLASSES if drift.get(k)]
    total = sum(int(drift.get(k) or 0) for k in DRIFT_CLASSES)
    return f"{total:,} row(s): {', '.join(found)}" if found else "none"


def _repair_words(repairs: Mapping[str, Any]) -> str:
    found = [f"{_n(repairs[s])} {w}" for s, w in REPAIR_STATUS_WORDS.items() if repairs.get(s)]
    return ", ".join(found) or "none"


def unsettled(table: Mapping[str, Any]) -> str:
    """Why a table's drift may hold changes still on their way, or '' (see recheck.py)."""
    drift = sum(int(n or 0) for n in (table.get("drift") or {}).values())
    if table.get("recheck") != TIMED_OUT or not drift:  # a re-check that cleared all: no drift
        return ""
    return (
        f"re-checked after {float(table.get('recheck_wait_s') or 0):.0f} s while the stream "
        "consumer had not yet applied every change Kafka held for this table: it is stopped "
        "or lagging, and some of this drift may be those changes"
    )


def unseen(table: Mapping[str, Any]) -> str:
    """Rows the comparison saw differ but could not pin to a key, or '' (see compare.py): none
    is drift on record, so the table can read in sync while they exist."""
    gone, leaves = int(table.get("vanished") or 0), int(table.get("unexplained_leaves") or 0)
    parts = []
    if gone:
        parts.append(
            f"{gone:,} differing key(s) were on neither side when read again (deleted on both "
            "since, or a key the look-up cannot find)"
        )
    if leaves:
        parts.append(
            f"{leaves:,} segment(s) had other row counts on the two sides but no key on one "
            "side only (rows written meanwhile, or rows the comparison did not see)"
        )
    if not parts:
        return ""
    return "; ".join(parts) + ": not counted as drift, compare this table again to be sure"


def advice(run: Mapping[str, Any]) -> list[str]:
    """What the run's repairs mean and what to trigger next, in the order to read them."""
    params = run.get("params") or {}
    summary = run.get("summary") or totals(run)
    repairs, lines = summary["repairs"], []
    skipped = [str(t.get("table")) for t in run.get("tables") or [] if t.get("status") == "skipped"]
    if skipped:
        lines.append(
            f"{len(skipped)} table(s) ({_listed(skipped)}) were skipped: their backfill is "
            "still copying, so they were not compared (rows the copy has not reached would all "
            "count as drift). The first reconcile after their backfill finishes compares them."
        )
    waited = [str(t.get("table")) for t in run.get("tables") or [] if unsettled(t)]
    held = [str(t.get("table")) for t in run.get("tables") or [] if t.get("not_conclusive")]
    if held:
        lines.append(
            f"NOT CONCLUSIVE, NOTHING REPAIRED in {len(held)} table(s) ({_listed(held)}): they "
            "were re-checked while the stream consumer had changes of theirs in Kafka not yet "
            "applied (stream not caught up), so their differences may be those changes, which a "
            "repair would undo. Check the stream (stream DAG, Sync status page, consumer lag), "
            "then run reconcile again once it has caught up."
        )
    elif waited:
        lines.append(
            f"{len(waited)} table(s) ({_listed(waited)})"
            " were re-checked while the stream consumer had changes of theirs in Kafka not yet "
            "applied. Their drift may include those changes: check that the stream consumer "
            "runs (Sync status page, stream DAG) and compare them again before trusting or "
            "repairing it."
        )
    changed = int(summary.get("changed_since_compared") or 0)
    if changed:
        lines.append(
            f"{changed:,} repair(s) were not written: the row changed on a side after it was "
            "compared, and kept changing each time the run compared it afresh once the stream "
            "had caught up, so the repair's image was stale. Their drift stays on record: run "
            "reconcile again, it compares those keys afresh (on a two-way table the stream may "
            "have settled them already; on a one-way table nothing else will)."
        )
    needed = sum(int(n) for n in repairs.values())  # every repair the run planned, all tables
    if mode_of(params) == "dry_run" and not needed:
        lines.append("DRY RUN: nothing was written, and no repair was needed.")
    elif mode_of(params) == "dry_run":
        planned = int(repairs.get("dry_run", 0))
        lines.append(
            f"DRY RUN: nothing was written. {planned:,} repair(s) were planned and recorded "
            "(mps_sync.reconcile_repairs, status dry_run). To write them, trigger reconcile "
            f"with Params repair = on and dry_run = off (max_repairs at least {needed:,}; CLI: "
            f"--repair --no-dry-run --max-repairs {needed})."
        )
    elif summary["with_drift"] and mode_of(params) == "report_only":
        lines.append(
            "Report only (repair off): the drift is recorded, nothing was repaired. To repair "
            "it, trigger reconcile with Params repair = on and dry_run = off (with dry_run on "
            "first to preview the repairs; CLI: --repair, then --repair --no-dry-run)."
        )
    if repairs.get("refused"):
        refused = int(repairs["refused"])
        applied = int(repairs.get("applied", 0))
        if mode_of(params) == "dry_run":
            # a dry run's planned repairs count against max_repairs as the refused ones do:
            # the next run (dry or not) of the same tables needs room for them all
            again = f"at least {needed:,}"
        else:
            # all but the applied ones: the refused, and the failed and changed ones (their
            # keys still differ), which the next run repairs again
            again = f"at least {needed - applied:,}"
            if applied:
                again += f" ({applied:,} of the {needed:,} were applied by this run)"
        lines.append(
            f"{refused:,} repair(s) were refused: they would take the run past max_repairs = "
            f"{params.get('max_repairs')} (tables are repaired whole, in the order their "
            f"comparisons end). Trigger reconcile again with max_repairs {again}, or for "
            "fewer tables."
        )
    if repairs.get("failed"):
        lines.append(
            f"{int(repairs['failed']):,} repair(s) failed (errors in the repairs column); "
            "the next reconcile compares those keys again."
        )
    return lines


def _listed(names: Sequence[str]) -> str:
    return ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")


def _summary(run: Mapping[str, Any]) -> str:
    s = run.get("summary") or totals(run)
    rows = [
        ("outcome", headline(run)),
        ("mode", repair_mode(run.get("params") or {})),
        (
            "time",
            f"started {_when(run.get('started_at'))}, finished {_when(run.get('finished_at'))}"
            f", took {duration_words(run.get('duration_s'))}",
        ),
        (
            "tables",
            f"{s['tables']}: {s['compared']} compared ({s['in_sync']} in sync, {s['repaired']} "
            f"repaired, {s['with_drift']} with drift), {s['failed']} failed"
            + (
                f", {s['skipped']} skipped while backfilling (not compared)"
                if s.get("skipped")
                else ""
            ),
        ),
        (
            "rows compared",
            f"{_n(s['rows_mysql'])} in MySQL, {_n(s['rows_postgres'])} in PostgreSQL",
        ),
        ("drift", _drift_words(s["drift"])),
        ("repairs", _repair_words(s["repairs"])),
        ("parameters", json.dumps(run.get("params", {}), sort_keys=True)),
    ]
    body = "".join(f"<tr><th>{_cell(k)}</th><td>{_cell(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _failures(tables: list[dict[str, Any]]) -> str:
    failed = [t for t in tables if _table_group(t.get("status")) == "failed"]
    if not failed:
        return ""
    items = "".join(
        f"<li><strong>{_cell(t.get('table'))}</strong> ({_cell(t.get('target'))}): "
        f"{_cell(t.get('error') or t.get('repair_message') or 'no error recorded')}"
        f"<br>What to do: {_cell(retry_hint(str(t.get('table'))))}.</li>"
        for t in failed
    )
    return (
        "<h2>Failed tables</h2><div class='banner failed'><p>These tables could not be compared, "
        f"so their drift is unknown.</p><ul>{items}</ul></div>"
    )


def _shown(value: Any) -> str:
    """A compared value as the report shows it: quoted, so '' and trailing spaces are visible."""
    if value is None:
        return "NULL"
    return json.dumps(value, ensure_ascii=False)


def _differing_values(tables: list[dict[str, Any]]) -> str:
    """Each example ``different`` row's differing columns, with both sides' compared values."""
    rows = []
    for t in tables:
        names = t.get("key_columns") or ()
        for example in (t.get("drift_examples") or {}).get("different") or []:
            for column, sides in (example.get("values") or {}).items():
                rows.append(
                    f"<tr><td>{_cell(t.get('table'))}</td>"
                    f"<td><code>{_cell(_key(example['key'], names))}</code></td>"
                    f"<td>{_cell(column)}</td>"
                    f"<td><code>{_cell(_shown(sides.get('mysql')))}</code></td>"
                    f"<td><code>{_cell(_shown(sides.get('postgres')))}</code></td></tr>"
                )
    if not rows:
        return ""
    return (
        "<h2>Differing values</h2><p>For the example keys above: each differing column's value "
        "as both sides compared it (reconcile's canonical form of the value, the text its row "
        "hash covers; floats as doubles), quoted so that '' and trailing spaces show.</p>"
        "<table><tr><th>table</th><th>key</th>"
        "<th>column (MySQL name)</th><th>MySQL</th><th>PostgreSQL</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _table_row(t: Mapping[str, Any]) -> str:
    # a table that was never compared has no drift to count, not zero drift
    drift = (t.get("drift") or {}) if t.get("rows_mysql") is not None else {}
    columns = ", ".join(f"{c} ({n})" for c, n in (t.get("different_columns") or {}).items())
    status = str(t.get("status", ""))
    notes = (t.get("error"), t.get("repair_message"), unsettled(t), unseen(t))
    note = "; ".join(n for n in notes if n)
    return (
        f"<tr><td>{_cell(t.get('table'))}<br><small>{_cell(t.get('target'))}</small></td>"
        f"<td class='{_cell(status)}'>{_cell(TABLE_STATUS_WORDS.get(status, status))}"
        f"<br><small>{_cell(note)}</small></td>"
        f"<td>{_count(t.get('rows_mysql'))} / {_count(t.get('rows_postgres'))}</td>"
        f"<td>{_count(t.get('segments_compared'))} ({_count(t.get('segments_mismatched'))})</td>"
        + "".join(f"<td>{_count(drift.get(k))}</td>" for k in DRIFT_CLASSES)
        + f"<td>{_cell(columns)}</td><td>{_count(t.get('in_flight'))}</td>"
        f"<td>{_examples(t)}</td><td>{_repairs(t)}</td>"
        f"<td>{_cell(duration_words(t.get('duration_s')))}</td></tr>"
    )


def to_html(run: dict[str, Any]) -> str:
    tables = list(run.get("tables") or [])
    status = str(run.get("status"))
    title = f"Reconcile run {run.get('run_id')}: {headline(run)}"
    banners = "".join(f"<div class='banner'>{_cell(line)}</div>" for line in advice(run))
    head = (
        "<tr><th>table</th><th>status</th><th>rows MySQL / PostgreSQL</th><th>segments "
        "(mismatched)</th><th>missing</th><th>extra</th><th>different</th><th>differing "
        "columns (rows)</th><th>in flight</th><th>example keys</th><th>repairs</th>"
        "<th>duration</th></tr>"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_cell(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1 class='{_cell(status)}'>{_cell(title)}</h1>"
        f"{banners}<h2>Summary</h2>{_summary(run)}{_failures(tables)}"
        f"<h2>Tables</h2><table>{head}{''.join(_table_row(t) for t in tables)}</table>"
        f"{_differing_values(tables)}"
        "<p><small>missing: in MySQL, not in PostgreSQL; extra: in PostgreSQL only; different: "
        "in both, the columns named differ; in flight: differed at first, equal once the stream "
        "caught up (not drift). Every drift row: mps_sync.reconcile_drift; every repair: "
        "mps_sync.reconcile_repairs.</small></p></body></html>"
    )


def write_reports(run: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """``reconcile-<run>.json`` and ``.html`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"reconcile-{run.get('run_id')}"
    json_path, html_path = stem.with_suffix(".json"), stem.with_suffix(".html")
    json_path.write_text(to_json(run), encoding="utf-8")
    html_path.write_text(to_html(run), encoding="utf-8")
    return json_path, html_path
