"""Loop prevention: recognise the changes our own applier wrote, so they are never sent back.

The applier tags its writes natively and the guard drops events that carry the tag:

- PostgreSQL: the applier session runs ``pg_replication_origin_session_setup(<origin>)``;
  Debezium (3.5+) reports it as ``source.origin``.
- MariaDB: the applier session sets ``gtid_domain_id = <domain>``; the event's ``source.gtid``
  reads ``<domain>-<server_id>-<seq>``. (Needs the BINLOG REPLAY privilege on MariaDB 10.11.)
- MySQL 8.4: tagged GTIDs (``gtid_next = 'AUTOMATIC:<tag>'``); ``source.gtid`` reads
  ``<uuid>:<tag>:<n>``.

The backfill's COPY sessions use origins of their own (``<origin>_backfill``, ``_1`` ...), and
the PostgreSQL source drops their events before Kafka with our transform
(``stack/java/DropOriginWrites.java``, ADR 0012): a 50 GB copy is not sent through Kafka to be
dropped here. The stream's own echoes still come here, because the batcher needs them (see
:class:`mysql_pg_sync.cdc.batch.MicroBatcher`). This guard also catches the backfill's events
from a connector configured without the transform.

Fallback for servers with none of these (documented, not the default): the applier writes a row to
a marker table in the same transaction, and the consumer drops every event of a transaction that
contains a marker change (Debezium's transaction metadata groups them). Independently of tagging,
the applier skips writes whose target row already equals the incoming image, so an echo that
slips through dies there instead of bouncing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from mysql_pg_sync.cdc.events import ChangeEvent
from mysql_pg_sync.errors import ConfigError

DEFAULT_ORIGIN = "mysql_pg_sync"
DEFAULT_GTID_DOMAIN = 77
DEFAULT_GTID_TAG = "mps"


@dataclass(frozen=True)
class LoopTags:
    """The tags our applier writes with; one value per deployment."""

    pg_origin: str = DEFAULT_ORIGIN
    mariadb_gtid_domain: int = DEFAULT_GTID_DOMAIN
    mysql_gtid_tag: str = DEFAULT_GTID_TAG


def tags_from_env(env: Mapping[str, str] | None = None) -> LoopTags:
    """``MPS_PG_ORIGIN`` and ``MPS_GTID_DOMAIN``: every writer of the sync (stream, backfill,
    repairs) and the source connectors' filter must agree on them."""
    env = os.environ if env is None else env
    domain = env.get("MPS_GTID_DOMAIN") or str(DEFAULT_GTID_DOMAIN)
    try:
        mariadb_gtid_domain = int(domain)
    except ValueError:
        raise ConfigError(f"MPS_GTID_DOMAIN={domain!r} is not a whole number") from None
    return LoopTags(
        pg_origin=env.get("MPS_PG_ORIGIN") or DEFAULT_ORIGIN,
        mariadb_gtid_domain=mariadb_gtid_domain,
    )


BACKFILL_SUFFIX = "_backfill"


def backfill_origin(origin: str) -> str:
    """The base of the backfill writers' origins: apart from the stream's, so the PostgreSQL
    source can drop the copy's events and keep the stream's echoes."""
    return origin + BACKFILL_SUFFIX


def origin_capacity_message(name: str, base: str) -> str:
    """What to do when PostgreSQL has no replication-state entry left for another origin
    (SQLSTATE 53400). Each origin ever set up in a session keeps an entry until it is dropped,
    and there are ``max_replication_slots`` of them, shared with the slots."""
    return (
        f"PostgreSQL has no free replication state for origin {name!r}: each origin the sync "
        "has used (the stream's, the backfill's) keeps one until it is dropped, and there are "
        "max_replication_slots of them. Raise max_replication_slots (slots + stream appliers + "
        "the backfill's max parallel chunks, and restart PostgreSQL), or drop origins no "
        "session uses: SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin "
        f"WHERE roname LIKE '{base}%' (as a superuser, with nothing of the sync running)"
    )


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
        if not origin.startswith(base):
            return False
        rest = origin[len(base) :].removeprefix(BACKFILL_SUFFIX)
        return rest == "" or (rest[:1] == "_" and rest[1:].isdigit())
    gtid = event.gtid
    if not gtid:
        return False
    if gtid.startswith(f"{tags.mariadb_gtid_domain}-"):
        return True
    parts = gtid.split(":")  # MySQL 8.4 tagged GTID: <uuid>:<tag>:<n>
    return len(parts) == 3 and parts[1] == tags.mysql_gtid_tag
