"""A failed ``row_count_parity`` in words, and how severe its gap is.

Pure. Great Expectations counts the PostgreSQL rows; MySQL's count was read beforehand
(:mod:`mysql_pg_sync.quality.facts`). GE alone would say "observed 3; expected between 53 and
253", which names neither database nor what to do.
"""

from __future__ import annotations

from mysql_pg_sync.quality.plan import repair_how
from mysql_pg_sync.quality.specs import Severity


def gap_severity(
    configured: Severity, pg_rows: int, mysql_rows: int, fail_ratio: float
) -> Severity:
    """``fail`` when the gap exceeds ``fail_ratio`` of MySQL's rows (any gap when MySQL has
    none), else the configured severity. Only meaningful for a breach."""
    return "fail" if abs(pg_rows - mysql_rows) > fail_ratio * mysql_rows else configured


def parity_detail(
    table: str,
    pg_rows: int,
    mysql_rows: int,
    low: int,
    high: int,
    escalated_ratio: float | None,
    lost_changes: str = "",
) -> str:
    """Both counts, the gap, the tolerance and the next step.

    ``escalated_ratio``: the ``row_count_fail_ratio`` that made this breach a fail, if it did.
    ``lost_changes``: the table's capture gap in words, which names the repair it needs."""
    gap = pg_rows - mysql_rows
    if gap < 0:
        what = f"{-gap:,} row(s) missing in PostgreSQL"
    else:
        what = f"{gap:,} row(s) more in PostgreSQL than in MySQL"
    if mysql_rows:
        what += f" ({abs(gap) / mysql_rows:.0%} of MySQL's rows)"
    parts = [
        f"PostgreSQL has {pg_rows:,} rows, MySQL {mysql_rows:,}: {what}",
        f"tolerated: {low:,} to {high:,} rows",
    ]
    if escalated_ratio is not None:
        parts.append(
            f"a fail whatever its severity: the gap is over {escalated_ratio:.0%} of MySQL's "
            "rows (row_count_fail_ratio)"
        )
    if lost_changes:
        parts.append(f"the table {lost_changes}")
    else:
        parts.append(
            "if the stream is behind (`python -m mysql_pg_sync status` shows its lag), the rows "
            f"are in flight; otherwise, to repair it {repair_how(table)}"
        )
    return "; ".join(parts)


def parity_failure(
    table: str,
    configured: Severity,
    pg_rows: int,
    mysql_rows: int,
    bounds: tuple[int, int],
    fail_ratio: float,
    lost_changes: str = "",
) -> tuple[Severity, str]:
    """The severity and detail of a failed parity check."""
    severity = gap_severity(configured, pg_rows, mysql_rows, fail_ratio)
    escalated = fail_ratio if severity != configured else None
    return severity, parity_detail(table, pg_rows, mysql_rows, *bounds, escalated, lost_changes)
