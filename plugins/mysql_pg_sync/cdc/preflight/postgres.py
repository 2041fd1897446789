"""PostgreSQL preflight: wal_level, replication slots, the publication and replica identity.

Replica identity and TOAST (decision): we keep ``REPLICA IDENTITY DEFAULT`` for tables with a
primary key, even when they have TOASTable columns (text, bytea, jsonb, ...), unless their
mapping needs whole before-images (synced to MySQL under any rule but ``postgres_wins``: an
error until they have FULL, ADR 0014). With DEFAULT, an UPDATE that does not touch a large
value sends Debezium's ``__debezium_unavailable_value`` placeholder for it; the applier treats
the placeholder as "unchanged" and leaves that column alone, which is exact for rows that exist
on the MySQL side unless MySQL changed that same large value meanwhile: under ``postgres_wins``
MySQL then keeps its value while PostgreSQL's row wins every other column (the next reconcile
finds and repairs it; tests/integration/test_conflict_hunt.py, an xfail). FULL would log the
whole old row on every UPDATE/DELETE (roughly doubling WAL for wide tables) to cover only rows
missing on the target and that case, which reconcile repairs anyway. Such
tables are reported as a warning; pass ``require_full_for_toast=True`` to make it an error
instead. Tables without a primary key must have FULL (or USING INDEX): PostgreSQL rejects their
UPDATE/DELETE once they are published.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from mysql_pg_sync.backfill.target import UniqueIndex, missing_key, unique_indexes
from mysql_pg_sync.cdc.preflight import Finding, Severity
from mysql_pg_sync.cdc.slot_retention import unlimited_slot_warning
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.dialects import postgres
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.settings import DatabaseEndpoint


@dataclass(frozen=True)
class TableFacts:
    name: str  # schema.table
    exists: bool
    has_primary_key: bool = False
    replica_identity: str = "d"  # d default, f full, i index, n nothing
    toastable_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class PostgresFacts:
    wal_level: str
    max_replication_slots: int
    slots_in_use: int
    slot_exists: bool
    can_replicate: bool
    can_create_publication: bool
    publication_exists: bool
    published_tables: tuple[str, ...]
    tables: tuple[TableFacts, ...]
    user: str
    slot: str = ""
    slot_wal_status: str | None = None  # pg_replication_slots.wal_status of our slot


# One query for every mapped table (a database has hundreds): name, exists, has a primary key,
# replica identity, TOASTable columns, in the order of the names given.
_TABLE_FACTS = """
SELECT c.oid IS NOT NULL,
       EXISTS (SELECT FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p'),
       coalesce(c.relreplident::text, 'd'),
       coalesce((SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                   AND a.attstorage <> 'p'), '{}')
FROM unnest(%s::text[]) WITH ORDINALITY AS t(name, ord)
LEFT JOIN pg_class c ON c.oid = to_regclass(t.name)
ORDER BY t.ord
"""


def gather(
    endpoint: DatabaseEndpoint, tables: Sequence[str], slot: str, publication: str
) -> PostgresFacts:
    with pg_connect(endpoint, autocommit=True) as conn:

        def one(sql: str, *params: Any) -> Any:
            row = conn.execute(sql, params).fetchone()
            return None if row is None else row[0]

        qualified = [postgres.qualified(*name.split(".", 1)) for name in tables]
        rows = conn.execute(_TABLE_FACTS, (qualified,)).fetchall() if tables else []
        table_facts = [
            TableFacts(name, True, bool(row[1]), str(row[2]), tuple(row[3]))
            if row[0]
            else TableFacts(name, False)
            for name, row in zip(tables, rows, strict=True)
        ]
        published = conn.execute(
            "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = %s",
            (publication,),
        ).fetchall()
        return PostgresFacts(
            wal_level=str(one("SHOW wal_level")),
            max_replication_slots=int(one("SHOW max_replication_slots")),
            slots_in_use=int(one("SELECT count(*) FROM pg_replication_slots")),
            slot_exists=bool(
                one("SELECT count(*) FROM pg_replication_slots WHERE slot_name = %s", slot)
            ),
            can_replicate=bool(
                one("SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user")
            ),
            can_create_publication=bool(
                one("SELECT has_database_privilege(current_database(), 'CREATE')")
            ),
            publication_exists=bool(
                one("SELECT count(*) FROM pg_publication WHERE pubname = %s", publication)
            ),
            published_tables=tuple(sorted(str(r[0]) for r in published)),
            tables=tuple(table_facts),
            user=str(one("SELECT current_user")),
            slot=slot,
            slot_wal_status=slot_wal_status(conn, slot),
        )


def slot_wal_status(conn: Any, slot: str) -> str | None:
    """``reserved``, ``extended``, ``unreserved`` or ``lost``; None when the slot does not exist."""
    row = conn.execute(
        "SELECT wal_status FROM pg_replication_slots WHERE slot_name = %s", (slot,)
    ).fetchone()
    return None if row is None else str(row[0])


def slot_retention(conn: Any, slot: str) -> tuple[float, float | None] | None:
    """(WAL bytes the slot holds back, bytes more PostgreSQL lets it hold or None without a
    limit); None when the slot does not exist."""
    row = conn.execute(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8, "
        "safe_wal_size::float8 FROM pg_replication_slots WHERE slot_name = %s",
        (slot,),
    ).fetchone()
    if row is None or row[0] is None:
        return None
    return float(row[0]), None if row[1] is None else float(row[1])


def check_slot(
    slot: str, wal_status: str | None, retention: tuple[float, float | None] | None = None
) -> list[Finding]:
    """A slot PostgreSQL invalidated can never stream again, and Debezium does not say so: its
    task waits up to 30 minutes for a "valid replication slot" while Connect lists no task.
    ``retention`` (:func:`slot_retention`): a slot without a WAL limit that holds back a lot is
    a warning too."""
    what, fix = unlimited_slot_warning(slot, *retention) if retention else ("", "")
    if what:
        return [Finding("replication_slot_growing", what, fix, "warning")]
    if wal_status == "lost":
        return [
            Finding(
                "replication_slot_lost",
                f"replication slot {slot} was invalidated (wal_status lost): the connector fell "
                "more than max_slot_wal_keep_size behind and PostgreSQL removed WAL it still "
                "needed, so the changes of that gap are not in Kafka",
                "trigger connectors with action reset_lost_positions (CLI: connectors "
                "reset_lost_positions), which drops the slot, forgets the connector's position, "
                "applies the connectors again and records the gap, then run the "
                "reconcile DAG with repair, dry_run off and authoritative postgres to copy the "
                "gap's PostgreSQL changes to MySQL (PostgreSQL holds them all; the mappings' "
                "default side, MySQL, or a reload from MySQL would overwrite them)",
            )
        ]
    if wal_status == "unreserved":
        return [
            Finding(
                "replication_slot_at_risk",
                f"replication slot {slot} holds more WAL than max_slot_wal_keep_size "
                "(wal_status unreserved): PostgreSQL invalidates it at the next checkpoint "
                "unless its connector catches up",
                "make sure the PostgreSQL connector is RUNNING and streaming now; raise "
                "max_slot_wal_keep_size if it falls this far behind in normal operation",
                "warning",
            )
        ]
    return []


def check(
    facts: PostgresFacts,
    *,
    require_full_for_toast: bool = False,
    need_full: Collection[str] = (),
) -> list[Finding]:
    """Judge the gathered facts (pure). ``need_full``: tables whose mapping needs whole
    before-images (:meth:`TableMapping.needs_full_before_images`)."""
    found = []
    if facts.wal_level != "logical":
        found.append(
            Finding(
                "wal_level",
                f"wal_level is {facts.wal_level}, logical decoding needs 'logical'",
                "ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL",
            )
        )
    if not facts.slot_exists and facts.slots_in_use >= facts.max_replication_slots:
        found.append(
            Finding(
                "replication_slots",
                f"all {facts.max_replication_slots} replication slots are in use",
                "drop an unused slot (pg_drop_replication_slot) or raise max_replication_slots",
            )
        )
    if not facts.can_replicate:
        found.append(
            Finding(
                "replication_role",
                f"role {facts.user} has no REPLICATION attribute",
                f'ALTER ROLE "{facts.user}" REPLICATION',
            )
        )
    if not facts.publication_exists and not facts.can_create_publication:
        found.append(
            Finding(
                "publication",
                f"the publication does not exist and {facts.user} cannot create it",
                f'GRANT CREATE ON DATABASE <db> TO "{facts.user}" (and make it own the tables), '
                "or create the publication FOR TABLE <the mapped tables> as the owner",
            )
        )
    found += check_slot(facts.slot, facts.slot_wal_status)
    found += check_tables(facts.tables, facts.published_tables, facts.publication_exists)
    found += check_replica_identity(
        facts.tables, require_full_for_toast=require_full_for_toast, need_full=need_full
    )
    return found


def check_tables(
    tables: Iterable[TableFacts], published: Sequence[str], publication_exists: bool
) -> list[Finding]:
    found = []
    missing = [t.name for t in tables if not t.exists]
    if missing:
        found.append(
            Finding(
                "tables",
                f"mapped tables do not exist in PostgreSQL: {', '.join(missing)}",
                "create them from the mappings (`make ddl`) or disable those mappings",
            )
        )
    unpublished = [t.name for t in tables if t.exists and t.name not in published]
    if publication_exists and unpublished:
        found.append(
            Finding(
                UNPUBLISHED_CHECK,
                f"the publication lacks {', '.join(unpublished)}; the connector adds them when it "
                "starts (publication.autocreate.mode=filtered) if it owns them",
                '`make cli ARGS="connectors apply"` (it waits until they are published), or '
                "ALTER PUBLICATION ... ADD TABLE as the tables' owner",
                "warning",
            )
        )
    return found


# the finding of mapped tables the publication lacks: what `connectors apply` itself resolves
UNPUBLISHED_CHECK = "publication"


def check_replica_identity(
    tables: Iterable[TableFacts],
    *,
    require_full_for_toast: bool = False,
    need_full: Collection[str] = (),
) -> list[Finding]:
    found = []
    toasty = []
    lacking = []
    for t in tables:
        if not t.exists:
            continue
        if t.name in need_full and t.replica_identity != "f":
            lacking.append(t.name)
        elif t.replica_identity == "n" or (t.replica_identity == "d" and not t.has_primary_key):
            found.append(
                Finding(
                    "replica_identity",
                    f"{t.name} has no primary key and replica identity "
                    f"{'NOTHING' if t.replica_identity == 'n' else 'DEFAULT'}: its UPDATEs and "
                    "DELETEs would fail once published",
                    f"ALTER TABLE {t.name} REPLICA IDENTITY FULL (or add a primary key)",
                )
            )
        elif t.toastable_columns and t.replica_identity != "f":
            toasty.append(t)
    if lacking:
        found.append(
            Finding(
                "replica_identity_conflicts",
                f"{', '.join(lacking)}: synced both ways under conflict rule mysql_wins, "
                "last_writer_wins or version, but PostgreSQL sends only the key as the "
                "before-image (replica identity is not FULL), so a PostgreSQL change cannot "
                "tell whether MySQL changed the same row since: under mysql_wins it would "
                "overwrite MySQL's change while MySQL's won in PostgreSQL; under "
                "last_writer_wins or version a delete would remove a newer MySQL row unseen, "
                "and an update with an older rule value would be dropped in MySQL while "
                "PostgreSQL keeps it. The two sides would end different",
                "as the tables' owner: "
                + "; ".join(
                    f"ALTER TABLE {postgres.qualified(*name.split('.', 1))} REPLICA IDENTITY FULL"
                    for name in lacking
                )
                + f' (`make ddl ARGS="--tables {" ".join(lacking)}"` sets it too, on a table '
                "that matches its mapping)",
            )
        )
    if toasty:
        found.append(toast_finding(toasty, "error" if require_full_for_toast else "warning"))
    return found


TOAST_TABLES_NAMED = 10
"""Tables the TOAST finding names; most tables have a text or numeric column, and one line per
table buried every other preflight line of a 200-table database."""


def toast_finding(tables: Sequence[TableFacts], severity: Severity) -> Finding:
    """One finding for every table whose unchanged TOASTed values Debezium leaves out; an error
    names every table, a warning the first few."""
    limit = len(tables) if severity == "error" else TOAST_TABLES_NAMED
    named = [f"{t.name} ({', '.join(t.toastable_columns)})" for t in tables[:limit]]
    more = len(tables) - len(named)
    if len(tables) == 1:
        subject = (
            f"{tables[0].name} has TOASTable columns ({', '.join(tables[0].toastable_columns)})"
        )
        target = tables[0].name
    else:
        subject = f"{len(tables)} tables have TOASTable columns: " + ", ".join(named)
        subject += f" and {more} more" if more else ""
        target = "<table>"
    return Finding(
        "replica_identity_toast",
        f"{subject}: unchanged large values arrive as __debezium_unavailable_value and the "
        "applier keeps the target's value",
        f"nothing, or ALTER TABLE {target} REPLICA IDENTITY FULL for complete images",
        severity,
    )


def run(
    endpoint: DatabaseEndpoint,
    tables: Sequence[str],
    slot: str,
    publication: str,
    *,
    require_full_for_toast: bool = False,
    need_full: Collection[str] = (),
) -> list[Finding]:
    facts = gather(endpoint, tables, slot, publication)
    return check(facts, require_full_for_toast=require_full_for_toast, need_full=need_full)


def target_keys(endpoint: DatabaseEndpoint, mappings: Iterable[TableMapping]) -> list[Finding]:
    """An error for each existing PostgreSQL table the stream writes that has no usable unique
    index on exactly the mapping's key: every change to it would fail (``ON CONFLICT``) and
    become a dead letter. A table that does not exist yet is left to ``ddl`` or the backfill,
    which create it with its key."""
    targets = [m for m in mappings if m.replicates_to_pg()]
    if not targets:
        return []
    found: list[tuple[TableMapping, list[UniqueIndex]]] = []
    with pg_connect(endpoint, autocommit=True) as conn:
        for m in targets:
            schema, table = m.target.schema, m.target.table
            row = conn.execute(
                "SELECT to_regclass(%s)", (postgres.qualified(schema, table),)
            ).fetchone()
            if row is not None and row[0] is not None:
                found.append((m, unique_indexes(conn, schema, table)))
    return check_target_keys(found)


def check_target_keys(
    tables: Iterable[tuple[TableMapping, Sequence[UniqueIndex]]],
) -> list[Finding]:
    findings = []
    for mapping, indexes in tables:
        missing = missing_key(mapping, indexes)
        if missing is not None:
            reason, fix = missing
            findings.append(
                Finding("target_key", f"{mapping.target} ({mapping.name}): {reason}", fix)
            )
    return findings
