"""After a backfill, a table's sequences stand past the copied ids: forward only, on their own
step (disjoint id ranges set up before survive), as the stream applier keeps them (ADR 0013)."""

from __future__ import annotations

import pytest

from mysql_pg_sync import ddl
from mysql_pg_sync.backfill.finalize import advance_sequences
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.mapping.models import MappingSet, TableMapping
from mysql_pg_sync.settings import DatabaseEndpoint

pytestmark = pytest.mark.integration


def _mapping(column_type: str) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": "legacy.accounts",
            "target": "public.accounts",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": column_type, "auto_increment": True},
                {"name": "name", "column_type": "varchar(10)"},
            ],
        }
    )


@pytest.mark.parametrize("column_type", ["int(11)", "bigint(20) unsigned"])  # identity, serial
def test_sequences_move_past_the_copied_ids_forward_only_on_their_step(
    pg_db: DatabaseEndpoint, column_type: str
) -> None:
    mapping = _mapping(column_type)
    with pg_connect(pg_db) as conn:
        ddl.apply_ddl(conn, ddl.plan_ddl(MappingSet((mapping,))))
        conn.execute("INSERT INTO public.accounts (id, name) VALUES (7, 'a'), (41, 'b')")
        conn.commit()
        assert advance_sequences(conn, mapping) != []

        def next_id(name: str) -> int:
            row = conn.execute(
                "INSERT INTO public.accounts (name) VALUES (%s) RETURNING id", (name,)
            ).fetchone()
            conn.commit()
            assert row is not None
            return int(row[0])

        assert next_id("c") == 42
        # already ahead (the application drew ids meanwhile): not moved back
        conn.execute("SELECT setval(pg_get_serial_sequence('public.accounts', 'id'), 500)")
        conn.commit()
        advance_sequences(conn, mapping)
        assert next_id("d") == 501
        # disjoint ranges: even numbers only; a copied id past them keeps the step
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('public.accounts', 'id'), 600);"
            "ALTER SEQUENCE " + _sequence(conn) + " INCREMENT BY 2"
        )
        conn.execute("INSERT INTO public.accounts (id, name) VALUES (1001, 'odd')")
        conn.commit()
        advance_sequences(conn, mapping)
        assert next_id("e") == 1002


def _sequence(conn: object) -> str:
    row = conn.execute(  # type: ignore[attr-defined]
        "SELECT pg_get_serial_sequence('public.accounts', 'id')"
    ).fetchone()
    return str(row[0])


def test_an_empty_table_leaves_its_sequence_alone(pg_db: DatabaseEndpoint) -> None:
    mapping = _mapping("int(11)")
    with pg_connect(pg_db) as conn:
        ddl.apply_ddl(conn, ddl.plan_ddl(MappingSet((mapping,))))
        advance_sequences(conn, mapping)
        row = conn.execute(
            "INSERT INTO public.accounts (name) VALUES ('x') RETURNING id"
        ).fetchone()
        assert row == (1,)
