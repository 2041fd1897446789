"""The queries over the ``mps_sync`` state tables that the sync-health checks validate.

Each returns one count ``n``; the check expects it to stay under a threshold. The queries of
one table run as one row (:func:`render_row`), a column per check. A query names the state
table it needs: when another feature has not created that table yet, the
check is reported as skipped ("no data"), not as a failure.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql


@dataclass(frozen=True)
class StateQuery:
    needs: str
    """The mps_sync table the query reads."""
    template: str
    """SQL with ``{source}`` (MySQL db.table), ``{target}`` (PostgreSQL schema.table) and
    ``{reconcile_run}`` (the reconcile run the facts chose for the table, or NULL)."""


STATE_QUERIES: dict[str, StateQuery] = {
    # Drift the chosen reconcile run found and did not repair. The run is picked when facts
    # are gathered (quality.facts.reconcile_facts), where a run that errored on the table is
    # turned into a breach: its row says drift_found = 0, which is not "no drift".
    "reconcile_drift": StateQuery(
        needs="reconcile_tables",
        template="""
            SELECT coalesce(max(t.drift_found - t.drift_repaired), 0) AS n
            FROM mps_sync.reconcile_tables t
            WHERE t.source_table = {source} AND t.run_id = {reconcile_run}
        """,
    ),
    "conflicts_24h": StateQuery(
        needs="conflicts",
        template="""
            SELECT count(*) AS n FROM mps_sync.conflicts
            WHERE source_table = {source} AND decided_at > now() - interval '24 hours'
        """,
    ),
    # Open dead letters, of any age: each is a change not applied until `dead-letters retry`
    # or `resolve` marks it resolved, so the check passes as soon as they are dealt with, and
    # an old one nobody recovered keeps failing it.
    "dead_letters": StateQuery(
        needs="dead_letters",
        template="""
            SELECT count(*) AS n FROM mps_sync.dead_letters
            WHERE source_table = {source} AND resolved_at IS NULL
        """,
    ),
}


def render(check: str, source: str, target: str, reconcile_run: int | None = None) -> str:
    """The query text for one check and table, with its names as SQL literals."""
    query = STATE_QUERIES[check]
    return " ".join(
        query.template.format(
            source=sql.Literal(source).as_string(None),
            target=sql.Literal(target).as_string(None),
            reconcile_run=sql.Literal(reconcile_run).as_string(None),
        ).split()
    )


def render_row(
    available: frozenset[str], source: str, target: str, reconcile_run: int | None = None
) -> str:
    """One row with a column per check whose state table exists: one GE asset per table."""
    columns = [
        f"({render(check, source, target, reconcile_run)}) AS {check}"
        for check, query in STATE_QUERIES.items()
        if query.needs in available
    ]
    return "SELECT " + ", ".join(columns)
