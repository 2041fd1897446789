"""Remove what interrupted test and benchmark runs left on the local stack (`make prune-test-data`).

Tests and benchmarks clean up after themselves; a run that is killed midway does not. Each
leftover stream pipeline keeps Kafka topics (a stream benchmark's ~0.7 GB), and every topic
partition lengthens the broker's start. Removed: Kafka topics of the test and benchmark connector
prefixes (``mpst<tag>``, ``mpsd<tag>``, ``t<tag>``: tests; ``mpsb<tag>``: benchmarks) and topics
named ``mps_test...``, the Kafka Connect connectors of those prefixes (first: a running one would
write its topics again, and a failed one stays listed and alarms ``connectors status``),
inactive replication slots of those prefixes, and databases named ``mps_test_*`` on both
servers. Kept: the cached benchmark datasets (``mps_bench*``) and
everything the demo and the operator use.
"""

from __future__ import annotations

import re
import sys
from dataclasses import replace

from mysql_pg_sync.cdc.connect_client import ConnectClient
from mysql_pg_sync.cdc.connector_lifecycle import delete as delete_connector
from mysql_pg_sync.cdc.topics import delete_topics
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.settings import admin_endpoints, endpoints_from_env

TEST_PREFIX = re.compile(r"^(?:__debezium-heartbeat\.)?(mps[tbd][0-9a-f]{8}|t[0-9a-f]{10}(?=_))")
TEST_CONNECTOR = re.compile(r"^(?:mps[tbd][0-9a-f]{8}|t[0-9a-f]{10})-(?:mysql|postgres)-source$")
TEST_TOPICS = ("mps_test.", "mps_test_")
TEST_DATABASE = re.compile(r"^mps_test_[0-9a-z_]+$")


def main() -> int:
    endpoints = endpoints_from_env()
    mysql_admin, pg_admin = admin_endpoints()
    mysql_admin = replace(mysql_admin, database="mysql")
    pg_admin = replace(pg_admin, database="postgres")
    from confluent_kafka.admin import AdminClient

    client = ConnectClient(endpoints.connect_url)
    connectors = [name for name in client.connectors() if TEST_CONNECTOR.match(name)]
    for name in connectors:
        delete_connector(client, name, timeout_s=60)
    print(f"kafka connect: deleted {len(connectors)} test connector(s)")

    topics = AdminClient({"bootstrap.servers": endpoints.kafka_bootstrap}).list_topics(timeout=30)
    prefixes = sorted({m.group(1) for t in topics.topics if (m := TEST_PREFIX.match(t))})
    deleted = delete_topics(endpoints.kafka_bootstrap, [*prefixes, *TEST_TOPICS], timeout_s=120)
    print(f"kafka: deleted {len(deleted)} topic(s) of {len(prefixes)} test pipeline(s)")

    with pg_connect(pg_admin, autocommit=True) as pg:
        slots = [
            name
            for (name,) in pg.execute(
                "SELECT slot_name FROM pg_replication_slots WHERE NOT active"
            ).fetchall()
            if TEST_PREFIX.match(name)
        ]
        for slot in slots:
            pg.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
        names = [
            name
            for (name,) in pg.execute("SELECT datname FROM pg_database").fetchall()
            if TEST_DATABASE.match(name)
        ]
        for name in names:
            pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
    print(f"postgres: dropped {len(slots)} replication slot(s), {len(names)} database(s)")

    conn = mysql_connect(mysql_admin, autocommit=True)
    try:
        cursor = conn.cursor()
        cursor.execute("SHOW DATABASES")
        names = [name for (name,) in cursor.fetchall() if TEST_DATABASE.match(name)]
        for name in names:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()
    print(f"mariadb: dropped {len(names)} database(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
