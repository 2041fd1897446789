"""The run summary: per table and total rows, bytes, duration, throughput, rejected rows; each
table's state, why a table was not finalized, foreign keys left NOT VALID; JSON + small HTML."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from mysql_pg_sync.backfill.state import REJECTS_TABLE
from mysql_pg_sync.reconcile.diff import DRIFT_CLASSES


def _rate(amount: float, seconds: float) -> float:
    return round(amount / seconds, 1) if seconds > 0 else 0.0


def build_summary(
    run_id: str, per_table: dict[str, dict[str, Any]], wall_s: float
) -> dict[str, Any]:
    tables = {}
    for name, totals in per_table.items():
        seconds = totals["chunk_seconds"]
        tables[name] = {
            **totals,
            "rows_per_s": _rate(totals["rows"], seconds),
            "mb_per_s": _rate(totals["bytes"] / 1e6, seconds),
        }
    rows = sum(t["rows"] for t in per_table.values())
    size = sum(t["bytes"] for t in per_table.values())
    # this run's own copy; a resumed run found earlier runs' chunks done (totals without the
    # run's figures: everything is this run's)
    run_rows = sum(t.get("run_rows", t["rows"]) for t in per_table.values())
    run_size = sum(t.get("run_bytes", t["bytes"]) for t in per_table.values())
    rejected = {name: t.get("rejected", 0) for name, t in per_table.items()}
    summary: dict[str, Any] = {
        "run_id": run_id,
        "tables": tables,
        "total": {
            "tables": len(per_table),
            "chunks": sum(t["chunks"] for t in per_table.values()),
            "chunks_done": sum(t["chunks_done"] for t in per_table.values()),
            "rows": rows,
            "bytes": size,
            "run_rows": run_rows,
            "run_chunks": sum(t.get("run_chunks", t["chunks_done"]) for t in per_table.values()),
            "wall_s": round(wall_s, 2),
            "rows_per_s": _rate(run_rows, wall_s),
            "mb_per_s": _rate(run_size / 1e6, wall_s),
            "rejected": sum(rejected.values()),
        },
    }
    if summary["total"]["rejected"]:
        summary["rejects"] = rejects_pointer(rejected)
    # .get: summaries built from chunk totals alone (no finalize outcome) count as finished
    unfinished = {
        name: t.get("finalize_error") or "not finalized"
        for name, t in per_table.items()
        if not t.get("finalized", True)
    }
    if unfinished:
        summary["unfinished"] = unfinished
    unvalidated = {
        name: t["unvalidated_foreign_keys"]
        for name, t in per_table.items()
        if t.get("unvalidated_foreign_keys")
    }
    if unvalidated:
        summary["unvalidated_foreign_keys"] = unvalidated
    return summary


def rejects_pointer(rejected: dict[str, int]) -> dict[str, Any]:
    """Where the operator finds the rejected rows, and what to do about them."""
    bad = sorted(name for name, n in rejected.items() if n)
    tables = ", ".join("'" + name.replace("'", "''") + "'" for name in bad)
    return {
        "table": REJECTS_TABLE,
        "by_table": {name: rejected[name] for name in bad},
        "query": (
            "SELECT source_table, seq, key, column_name, value, error "
            f"FROM {REJECTS_TABLE} WHERE source_table IN ({tables}) ORDER BY source_table, seq"
        ),
        "note": (
            f"{sum(rejected.values())} row(s) of {', '.join(bad)} were rejected (a value cannot "
            f"be converted) and are not in PostgreSQL; they are listed in {REJECTS_TABLE}. Fix "
            "them in MySQL (the stream then carries them over) or change the mapping, and "
            "re-copy their chunks or let reconcile repair them."
        ),
    }


def _safe_name(run_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)


def write_report(folder: Path, summary: dict[str, Any]) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    # not Path.with_suffix: an Airflow run id's ".861649" would be taken for the suffix, and two
    # runs in the same second would write one file
    stem = f"backfill_{_safe_name(summary['run_id'])}"
    json_path = folder / f"{stem}.json"
    json_path.write_text(json.dumps(summary, indent=2, sort_keys=True), encoding="utf-8")
    html_path = folder / f"{stem}.html"
    html_path.write_text(render_html(summary), encoding="utf-8")
    return {"json": json_path, "html": html_path}


def outcome(summary: dict[str, Any]) -> tuple[str, str]:
    """(css class, the run's outcome in words) for the top of the report."""
    unfinished = summary.get("unfinished", {})
    copied = len(summary["tables"])
    if unfinished:
        return "failed", (
            f"FAILED: {len(unfinished)} of {copied} table(s) not finalized (their stream stays "
            "paused); the list below says why. Fix the cause, then trigger the backfill with "
            "mode=resume"
        )
    verified = summary.get("verify") or {}
    problems = verify_problems(verified)
    if problems:
        # a table verify could not compare is not known to differ: say which is which
        drifted = sum(1 for t in verified.get("tables", []) if _confirmed_drift(t))
        found = [
            f"{drifted} of {copied} table(s) differ from MySQL after the stream caught up"
            if drifted
            else "",
            f"{len(problems) - drifted} of {copied} table(s) could not be compared"
            if len(problems) > drifted
            else "",
        ]
        return "failed", (
            f"FAILED verification: {'; '.join(f for f in found if f)} (see Verification below)"
        )
    if verified.get("mode") == "not run":
        return "failed", "FAILED: the verify step did not run or did not finish; see its log"
    unsettled = verify_unsettled(verified)
    if unsettled:
        return "warn", (
            f"Copied and finalized, but the verification of {len(unsettled)} table(s) is not "
            "conclusive: the stream had not caught up when their differences were compared "
            "again (see Verification below)"
        )
    if not copied:
        return "idle", "Nothing to copy: " + (
            "; ".join(_passed_over_counts(summary)) or "no table was selected"
        )
    how = {
        "checksums": "verified by checksums: in sync with MySQL",
        "counts": "checked by row counts only (verify = counts)",
    }.get(str(verified.get("mode")), "not verified")
    differ = [
        name
        for name, t in sorted(summary["tables"].items())
        if t.get("source_rows") is not None
        and t.get("target_rows") is not None
        and t["source_rows"] != t["target_rows"] + t.get("rejected", 0)
    ]
    if verified.get("mode") == "counts" and differ:
        how = (
            f"checked by row counts only (verify = counts): {len(differ)} table(s) had other "
            f"counts at finalize ({', '.join(differ[:5])}), as while MySQL takes writes (the "
            "stream's replay closes that gap; a reconcile confirms it)"
        )
    return "ok", f"Succeeded: {copied} table(s) copied and finalized, {how}"


def _passed_over_counts(summary: dict[str, Any]) -> list[str]:
    counts = []
    if summary.get("finished"):
        counts.append(
            f"{len(summary['finished'])} table(s) already backfilled and streaming were skipped "
            "(mode=reload copies a table again)"
        )
    if summary.get("refused"):
        counts.append(f"{len(summary['refused'])} table(s) refused")
    return counts


TIMED_OUT = "timed_out"  # reconcile.recheck's word for a re-check that waited in vain


def _unsettled(table: dict[str, Any]) -> bool:
    return table.get("status") == "drift" and table.get("recheck") == TIMED_OUT


def _confirmed_drift(table: dict[str, Any]) -> bool:
    return table.get("status") == "drift" and not _unsettled(table)


def _compared(table: dict[str, Any]) -> bool:
    """Whether verify compared the table (its counts are readings): a table it could not
    compare (an error) has no rows compared, segments or drift, not zeros."""
    return table.get("status") in ("in_sync", "drift") or bool(
        table.get("rows_compared") or table.get("segments")
    )


def verify_unsettled(verified: dict[str, Any]) -> list[str]:
    """One line for each table whose differences were compared again before the stream had
    applied its changes: they may be in flight (a paused or lagging stream), so they neither
    pass nor fail the run; a reconcile once the stream has caught up decides."""
    return [
        f"{t['table']}: {sum(t.get('drift', {}).values()):,} difference(s) not confirmed: the "
        f"stream had not applied the table's changes after {t.get('recheck_wait_s', 0):g} s "
        "(is the stream DAG unpaused and caught up? `make cli ARGS=status` shows its lag); run "
        f"reconcile on it (dry run) once it has"
        for t in verified.get("tables", [])
        if _unsettled(t)
    ]


def verify_problems(verified: dict[str, Any]) -> list[str]:
    """One line for each verified table that is not in sync: its drift with example keys, or
    why it could not be compared (not the unconfirmed ones, :func:`verify_unsettled`)."""
    problems = []
    for table in verified.get("tables", []):
        if table.get("status") == "in_sync" or _unsettled(table):
            continue
        if table.get("status") == "drift":
            drift = ", ".join(f"{n} {kind}" for kind, n in table.get("drift", {}).items() if n)
            examples = "; ".join(
                f"{kind}: " + ", ".join("/".join(map(str, key)) for key in keys[:3])
                for kind, keys in table.get("examples", {}).items()
            )
            problems.append(
                f"{table['table']}: drift: {drift}" + (f" (e.g. {examples})" if examples else "")
            )
        else:
            problems.append(
                f"{table['table']}: not verified ({table.get('status')}): {table.get('error')}"
            )
    return problems


def render_html(summary: dict[str, Any]) -> str:
    head = (
        "table",
        "state",
        "chunks done",
        "rows",
        "rejected",
        "MySQL rows at finalize",
        "PostgreSQL rows at finalize",
        "MB",
        "chunk s",
        "rows/s of chunk time",
        "MB/s of chunk time",
    )
    rows = []
    for name, t in sorted(summary["tables"].items()):
        cells = (
            name,
            str(t.get("state") or ""),
            f"{t['chunks_done']}/{t['chunks']}",
            f"{t['rows']:,}",
            f"{t.get('rejected', 0):,}",
            _count(t.get("source_rows")),
            _count(t.get("target_rows")),
            f"{t['bytes'] / 1e6:,.1f}",
            f"{t['chunk_seconds']:,.1f}",
            f"{t['rows_per_s']:,.0f}",
            f"{t['mb_per_s']:,.1f}",
        )
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    total = summary["total"]
    rejects = summary.get("rejects")
    note = (
        f"<p class='rejects'><b>{html.escape(rejects['note'])}</b><br>"
        f"<code>{html.escape(rejects['query'])}</code></p>"
        if rejects
        else ""
    )
    note += _listed(
        "unfinished",
        "Not finalized (their stream stays paused until a mode=resume run finishes them):",
        [
            f"{html.escape(name)}: {html.escape(why)}"
            for name, why in sorted(summary.get("unfinished", {}).items())
        ],
    )
    note += _listed(
        "fks",
        "Foreign keys left NOT VALID (enforced for new writes; validate them once the stream "
        "has caught up):",
        [
            f"{html.escape(name)}: <code>{html.escape(fk['validate'])}</code>"
            for name, fks in sorted(summary.get("unvalidated_foreign_keys", {}).items())
            for fk in fks
        ],
    )
    note += _listed(
        "finished",
        "Already backfilled and streaming, so skipped (mode=reload copies a table again):",
        [html.escape(name) for name in summary.get("finished", [])],
    )
    note += _listed(
        "refused",
        "Refused (not copied):",
        [
            f"{html.escape(r['table'])}: {html.escape(r['reason'])}"
            for r in summary.get("refused", [])
        ],
    )
    css, said = outcome(summary)
    return (
        "<!doctype html><meta charset='utf-8'><title>backfill "
        + html.escape(summary["run_id"])
        + "</title><style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:right}"
        "td:first-child{text-align:left}.outcome{padding:6px 10px;border:2px solid #176f2c}"
        ".outcome.failed{border-color:#b00020;background:#fdecee}"
        ".outcome.idle{border-color:#888}.outcome.warn{border-color:#a15c00;background:#fff6e5}"
        "</style>"
        + f"<h1>Backfill {html.escape(summary['run_id'])}</h1>"
        + f"<p class='outcome {css}'><b>{html.escape(said)}</b></p>"
        + f"<p>{_copied(total)} in {total['wall_s']:,.1f} s: "
        + f"{total['rows_per_s']:,.0f} rows/s, {total['mb_per_s']:,.1f} MB/s of wall time</p>"
        + note
        + "<table><tr>"
        + "".join(f"<th>{h}</th>" for h in head)
        + "</tr>"
        + "".join(rows)
        + "</table>"
        + _verification_html(summary.get("verify"))
    )


def _count(value: Any) -> str:
    return "" if value is None else f"{int(value):,}"


def _verification_html(verified: dict[str, Any] | None) -> str:
    if not verified:
        return ""
    mode = str(verified.get("mode", ""))
    if mode == "counts":
        return (
            "<h2>Verification (row counts)</h2><p>verify = counts: each table's MySQL and "
            "PostgreSQL rows at finalize are in the table above; no checksums were compared.</p>"
        )
    if mode == "not run":
        return "<h2>Verification</h2><p>The verify step did not run or did not finish.</p>"
    head = ("table", "status", "rows compared", "segments", *DRIFT_CLASSES, "example keys")
    rows = []
    for t in verified.get("tables", []):
        examples = "; ".join(
            f"{kind}: " + ", ".join("/".join(map(str, key)) for key in keys)
            for kind, keys in t.get("examples", {}).items()
        )
        counted = _compared(t)
        cells = (
            t["table"],
            t["status"]
            + (f" ({t['error']})" if t.get("error") else "")
            + (" (not confirmed: the stream had not caught up)" if _unsettled(t) else ""),
            f"{t.get('rows_compared', 0):,}" if counted else "–",
            str(t.get("segments", 0)) if counted else "–",
            *(str(t.get("drift", {}).get(k, 0)) if counted else "–" for k in DRIFT_CLASSES),
            examples,
        )
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    where = (
        f"<p>Reconcile run {html.escape(str(verified['reconcile_run']))}; its report: "
        f"<code>{html.escape(str(verified.get('report', '')))}</code></p>"
        if verified.get("reconcile_run") is not None
        else ""
    )
    return (
        f"<h2>Verification ({html.escape(mode)})</h2>{where}"
        + ("<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>")
        + "".join(rows)
        + "</table>"
    )


def _copied(total: dict[str, Any]) -> str:
    """What this run copied, and what earlier runs had (a resumed run skips their chunks)."""
    run_rows = total.get("run_rows", total["rows"])
    text = f"{run_rows:,} rows copied by this run"
    earlier_chunks = total["chunks_done"] - total.get("run_chunks", total["chunks_done"])
    if earlier_chunks > 0:
        text += (
            f" ({earlier_chunks:,} chunk(s), {total['rows'] - run_rows:,} rows, were done by "
            f"earlier runs and skipped; {total['rows']:,} rows in all)"
        )
    return html.escape(text) + f", {total['bytes'] / 1e6:,.1f} MB in all,"


def _listed(css: str, title: str, items: list[str]) -> str:
    """A titled list of already escaped HTML items; nothing when there are none."""
    if not items:
        return ""
    rows = "".join(f"<li>{item}</li>" for item in items)
    return f"<div class='{css}'><b>{html.escape(title)}</b><ul>{rows}</ul></div>"
