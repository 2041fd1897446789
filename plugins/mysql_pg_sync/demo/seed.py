"""Deterministic demo rows (pure): the same seed gives the same data on every machine."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

_NAMES = ["Ana", "Björn", "Chloé", "Dmitri", "Eve", "François", "Grace", "Hiro", "Ingrid", "José"]
_SURNAMES = ["Müller", "O'Brien", "Nguyễn", "Smith", "Kowalski", "García", "Łukasz", "Ødegaard"]
_NOTES = ["", None, "VIP\tcustomer", "line one\nline two", "back\\slash", "emoji 🐘🚀", "plain"]
_EPOCH = datetime(2019, 1, 1)


@dataclass(frozen=True)
class DemoSize:
    customers: int = 2_000
    products: int = 500
    orders: int = 5_000
    max_items_per_order: int = 4


def customers(rng: random.Random, size: DemoSize) -> Iterator[tuple[object, ...]]:
    for i in range(1, size.customers + 1):
        name = f"{rng.choice(_NAMES)} {rng.choice(_SURNAMES)}"
        profile = json.dumps(
            {"lang": rng.choice(["en", "de", "fr"]), "tags": [rng.randint(1, 9) for _ in range(2)]},
            ensure_ascii=False,
        )
        yield (
            i,
            f"user{i}@example.com",
            name,
            rng.random() < 0.9,
            rng.choice(["free", "pro", "enterprise"]),
            Decimal(rng.randint(-5_000, 500_000)) / 100,
            profile if rng.random() < 0.8 else None,
            rng.choice(_NOTES),
            _EPOCH + timedelta(minutes=rng.randint(0, 2_000_000)),
        )


def products(rng: random.Random, size: DemoSize) -> Iterator[tuple[object, ...]]:
    for i in range(1, size.products + 1):
        tags = ",".join(t for t in ("new", "sale", "eco") if rng.random() < 0.3)
        yield (
            # Large unsigned ids, some above 2^63, as legacy apps with hashed ids have.
            i * 36_028_797_018_963_968 + rng.randint(0, 1000) if i % 50 == 0 else i,
            f"SKU-{i:06d}",
            f"Product {i} – {rng.choice(['Größe M', 'café', 'naïve', '日本'])}",
            Decimal(rng.randint(100, 99_999)) / 100,
            round(rng.uniform(0.01, 80.0), 6) if rng.random() < 0.9 else None,
            tags,
            json.dumps({"color": rng.choice(["red", "blue"]), "dims": [1, 2, 3]}),
            date(2015, 1, 1) + timedelta(days=rng.randint(0, 3000)) if rng.random() < 0.9 else None,
            _EPOCH + timedelta(microseconds=rng.randint(0, 10**14)),
        )


def orders_and_items(
    rng: random.Random, size: DemoSize, product_ids: list[int]
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    orders: list[tuple[object, ...]] = []
    items: list[tuple[object, ...]] = []
    for order_id in range(1, size.orders + 1):
        lines = rng.randint(1, size.max_items_per_order)
        total = Decimal(0)
        for line_no in range(1, lines + 1):
            qty = rng.randint(1, 5)
            price = Decimal(rng.randint(100, 20_000)) / 100
            total += qty * price
            items.append((order_id, line_no, rng.choice(product_ids), qty, price))
        status = rng.choice(["new", "paid", "shipped", "cancelled"])
        orders.append(
            (
                order_id,
                rng.randint(1, size.customers),
                status,
                total,
                status in ("paid", "shipped"),
                rng.choice([None, "", "leave at door", "fragile 📦"]),
                _EPOCH + timedelta(microseconds=rng.randint(0, 10**14)),
            )
        )
    return orders, items


GROUPS: list[tuple[object, ...]] = [(1, "admins"), (2, "Editors"), (3, "read only")]
