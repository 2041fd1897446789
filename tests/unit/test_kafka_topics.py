"""Which topics a prefix deletion selects."""

from __future__ import annotations

from mysql_pg_sync.cdc.topics import matching_topics

TOPICS = [
    "__consumer_offsets",
    "mpst1a2b3c4d_mysql.db.items",
    "mpst1a2b3c4d_pg.public.items",
    "mpst1a2b3c4d.dead-letters",
    "__debezium-heartbeat.mpst1a2b3c4d_mysql",
    "__debezium-heartbeat.mps_mysql",
    "mps_mysql.legacy.orders",
    "connect-offsets",
]


def test_a_prefix_selects_its_topics_sorted() -> None:
    assert matching_topics(TOPICS, ["mpst1a2b3c4d"]) == [
        "__debezium-heartbeat.mpst1a2b3c4d_mysql",
        "mpst1a2b3c4d.dead-letters",
        "mpst1a2b3c4d_mysql.db.items",
        "mpst1a2b3c4d_pg.public.items",
    ]


def test_an_empty_prefix_selects_nothing_rather_than_everything() -> None:
    assert matching_topics(TOPICS, [""]) == []
    assert matching_topics(TOPICS, []) == []


def test_internal_topics_other_than_the_prefix_heartbeats_are_never_selected() -> None:
    assert matching_topics(TOPICS, ["__"]) == []
    assert matching_topics(TOPICS, ["mps_"]) == [
        "__debezium-heartbeat.mps_mysql",
        "mps_mysql.legacy.orders",
    ]
