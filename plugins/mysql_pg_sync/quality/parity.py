"""A ``row_count_parity`` result in words, and how severe a failed one's gap is.

Pure. Great Expectations counts the PostgreSQL rows; MySQL's count was read beforehand
(:mod:`mysql_pg_sync.quality.facts`). GE alone would say "observed 3; expected between 53 and
253", which names neither database nor what to do.
"""

from __future__ import annotations

import math

from mysql_pg_sync.quality.plan import SMALL_TABLE_FLOOR, repair_how
from mysql_pg_sync.quality.specs import Severity


def one_side_empty(pg_rows: int, mysql_rows: int) -> bool:
    """One database has no rows while the other has more than a few (more than rows in flight
    on a small queue-like table): a lost table."""
    return min(pg_rows, mysql_rows) == 0 and max(pg_rows, mysql_rows) > SMALL_TABLE_FLOOR


def gap_severity(
    configured: Severity, pg_rows: int, mysql_rows: int, fail_ratio: float
) -> Severity:
    """``fail`` when one side is empty while the other has rows, or when the gap exceeds
    ``fail_ratio`` of MySQL's rows; else the configured severity. Only meaningful for a
    breach."""
    if one_side_empty(pg_rows, mysql_rows):
        return "fail"
    return "fail" if abs(pg_rows - mysql_rows) > fail_ratio * mysql_rows else configured


def percent(share: float) -> str:
    """``0.4%``, ``2.5%``, ``12%``: two significant digits under 10 %, so a real gap or a
    threshold such as 0.005 never reads ``0%`` (``:.0%`` printed 400 of 100,000 rows so)."""
    pct = share * 100
    if pct <= 0:
        return "0%"
    if pct >= 10:
        return f"{pct:.0f}%"
    digits = max(1, 1 - math.floor(math.log10(pct)))
    return f"{pct:.{digits}f}".rstrip("0").rstrip(".") + "%"


def counts_text(pg_rows: int, mysql_rows: int) -> str:
    """``PostgreSQL has 1,000 rows, MySQL 1,003``."""
    return f"PostgreSQL has {pg_rows:,} rows, MySQL {mysql_rows:,}"


def parity_passed(pg_rows: int, mysql_rows: int, low: int, high: int) -> str:
    """The detail of a passed parity check: both counts and what was tolerated."""
    return f"{counts_text(pg_rows, mysql_rows)}; tolerated: {low:,} to {high:,} rows"


def _escalation(pg_rows: int, mysql_rows: int, ratio: float) -> str:
    if pg_rows == 0 and mysql_rows:
        return "a fail whatever its severity: PostgreSQL has no rows while MySQL has some"
    if mysql_rows == 0 and pg_rows:
        return "a fail whatever its severity: MySQL has no rows while PostgreSQL has some"
    return (
        f"a fail whatever its severity: the gap is over {percent(ratio)} of MySQL's rows "
        "(row_count_fail_ratio)"
    )


def parity_detail(
    table: str,
    pg_rows: int,
    mysql_rows: int,
    low: int,
    high: int,
    escalated_ratio: float | None,
    lost_changes: str = "",
    repair_side: str = "",
    held: str = "",
) -> str:
    """Both counts, the gap, the tolerance and the next step.

    ``escalated_ratio``: the ``row_count_fail_ratio`` of a breach that is a fail whatever its
    configured severity, if it is one. ``lost_changes``: the table's capture gap in words,
    which names the repair it needs; ``repair_side``: the side the mapping's repair copies
    from; ``held``: the stream's hold on the table, which its changes wait behind."""
    gap = pg_rows - mysql_rows
    if gap < 0:
        what = f"{-gap:,} row(s) missing in PostgreSQL"
    else:
        what = f"{gap:,} row(s) more in PostgreSQL than in MySQL"
    if mysql_rows:
        what += f" ({percent(abs(gap) / mysql_rows)} of MySQL's rows)"
    parts = [
        f"{counts_text(pg_rows, mysql_rows)}: {what}",
        f"tolerated: {low:,} to {high:,} rows",
    ]
    if escalated_ratio is not None:
        parts.append(_escalation(pg_rows, mysql_rows, escalated_ratio))
    if held:
        parts.append(held)
    if lost_changes:
        parts.append(f"the table {lost_changes}")
    else:
        parts.append(
            "if the stream is behind (`python -m mysql_pg_sync status` shows its lag), the rows "
            f"are in flight; otherwise, to repair it {repair_how(table, repair_side)}"
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
    repair_side: str = "",
    held: str = "",
) -> tuple[Severity, str]:
    """The severity and detail of a failed parity check."""
    severity = gap_severity(configured, pg_rows, mysql_rows, fail_ratio)
    escalated = fail_ratio if severity != configured else None
    detail = parity_detail(
        table, pg_rows, mysql_rows, *bounds, escalated, lost_changes, repair_side, held
    )
    return severity, detail
