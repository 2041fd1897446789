"""Readiness probes for stack/stack: exit 0 once the service answers a real request."""

from __future__ import annotations

import os
import sys


def kafka() -> int:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": os.environ["MPS_KAFKA_BOOTSTRAP"]})
    metadata = admin.list_topics(timeout=3)
    return 0 if metadata.brokers else 1


if __name__ == "__main__":
    sys.exit({"kafka": kafka}[sys.argv[1]]())
