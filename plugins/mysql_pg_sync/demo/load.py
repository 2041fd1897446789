"""Create and fill the demo schema in MySQL (idempotent: tables that hold rows are left alone)."""

from __future__ import annotations

import logging
import random
from importlib import resources
from typing import Any

from mysql_pg_sync.demo import seed

log = logging.getLogger(__name__)

_INSERTS = {
    "customers": "INSERT INTO customers (id, email, full_name, is_active, tier, balance, profile,"
    " notes, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
    "products": "INSERT INTO products (id, sku, name, price, weight_kg, tags, attributes, released,"
    " updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
    "orders": "INSERT INTO orders (id, customer_id, status, total, paid, shipping_note, placed_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s)",
    "order_items": "INSERT INTO order_items (order_id, line_no, product_id, qty, unit_price)"
    " VALUES (%s, %s, %s, %s, %s)",
    "group": "INSERT INTO `group` (id, `Name`) VALUES (%s, %s)",
}


def schema_statements() -> list[str]:
    text = resources.files("mysql_pg_sync.demo").joinpath("schema.sql").read_text("utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


def load_demo(
    conn: Any, size: seed.DemoSize | None = None, rng_seed: int = 20261125
) -> dict[str, int]:
    """Create the demo tables and fill the empty ones; returns rows per table."""
    size = size or seed.DemoSize()
    rng = random.Random(rng_seed)
    cur = conn.cursor()
    for statement in schema_statements():
        cur.execute(statement)
    rows: dict[str, list[tuple[object, ...]]] = {
        "customers": list(seed.customers(rng, size)),
        "products": list(seed.products(rng, size)),
        "group": seed.GROUPS,
    }
    product_ids = [int(str(p[0])) for p in rows["products"]]
    rows["orders"], rows["order_items"] = seed.orders_and_items(rng, size, product_ids)
    counts: dict[str, int] = {}
    for table in ("customers", "products", "group", "orders", "order_items"):
        cur.execute(f"SELECT COUNT(*) FROM `{table}`")
        (existing,) = cur.fetchone()
        if existing == 0:
            for start in range(0, len(rows[table]), 2_000):
                cur.executemany(_INSERTS[table], rows[table][start : start + 2_000])
            log.info("demo: loaded %d rows into %s", len(rows[table]), table)
        cur.execute(f"SELECT COUNT(*) FROM `{table}`")
        counts[table] = int(cur.fetchone()[0])
    cur.execute("SELECT COUNT(*) FROM audit_log")
    if cur.fetchone()[0] == 0:
        cur.execute(
            "INSERT INTO audit_log VALUES (NOW(), 'demo loaded'), (NOW(), 'keyless: not synced')"
        )
    conn.commit()
    return counts
