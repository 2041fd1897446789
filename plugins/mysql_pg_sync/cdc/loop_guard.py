"""Loop prevention: recognise the changes our own applier wrote, so they are never sent back.

The applier tags its writes natively and the guard drops events that carry the tag:

- PostgreSQL: the applier session runs ``pg_replication_origin_session_setup(<origin>)``;
  Debezium (3.5+) reports it as ``source.origin``.
- MariaDB: the applier session sets ``gtid_domain_id = <domain>``; the event's ``source.gtid``
  reads ``<domain>-<server_id>-<seq>``. (Needs the BINLOG REPLAY privilege on MariaDB 10.11.)
- MySQL 8.4: tagged GTIDs (``gtid_next = 'AUTOMATIC:<tag>'``); ``source.gtid`` reads
  ``<uuid>:<tag>:<n>``.

Fallback for servers with none of these (documented, not the default): the applier writes a row to
a marker table in the same transaction, and the consumer drops every event of a transaction that
contains a marker change (Debezium's transaction metadata groups them). Independently of tagging,
the applier skips writes whose target row already equals the incoming image, so an echo that
slips through dies there instead of bouncing.
"""

from __future__ import annotations

from dataclasses import dataclass

from mysql_pg_sync.cdc.events import ChangeEvent

DEFAULT_ORIGIN = "mysql_pg_sync"
DEFAULT_GTID_DOMAIN = 77
DEFAULT_GTID_TAG = "mps"


@dataclass(frozen=True)
class LoopTags:
    """The tags our applier writes with; one value per deployment."""

    pg_origin: str = DEFAULT_ORIGIN
    mariadb_gtid_domain: int = DEFAULT_GTID_DOMAIN
    mysql_gtid_tag: str = DEFAULT_GTID_TAG


def origin_pool(origin: str, size: int = 32) -> list[str]:
    """Origin names for concurrent appliers: PostgreSQL lets one session use an origin at a time."""
    return [origin] + [f"{origin}_{n}" for n in range(1, size)]


def is_echo(event: ChangeEvent, tags: LoopTags) -> bool:
    """True when the change was written by our applier (and must not be applied back)."""
    if event.side == "postgres":
        origin = event.origin
        if not origin:
            return False
        base = tags.pg_origin
        return origin == base or (
            origin.startswith(base + "_") and origin[len(base) + 1 :].isdigit()
        )
    gtid = event.gtid
    if not gtid:
        return False
    if gtid.startswith(f"{tags.mariadb_gtid_domain}-"):
        return True
    parts = gtid.split(":")  # MySQL 8.4 tagged GTID: <uuid>:<tag>:<n>
    return len(parts) == 3 and parts[1] == tags.mysql_gtid_tag
