"""A seeded, replayable workload: the plan is pure (same seed, same transactions); two writer
threads, one per database, run it at a configured rate while faults are injected.

Only the interleaving with the stream and the ``updated_at`` values (taken at execution) vary
between runs of one seed. Keys are drawn mostly from a small hot set so that both sides keep
updating and deleting the same rows: conflicts, deletes racing updates, children inserted for
parents the other side is deleting.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

Side = Literal["mysql", "postgres"]
NOW = object()  # replaced by the UTC time when the statement runs (last-writer-wins column)

INITIAL_ACCOUNTS = 200
INITIAL_ORDERS = 400
INITIAL_SKUS = 50
SITES = (1, 2)
HOT_ACCOUNTS = 15
HOT_ORDERS = 30
HOT_SKUS = 5
# disjoint id ranges per side and table: new rows never collide by accident
ID_BASES: dict[tuple[Side, str], int] = {
    ("mysql", "accounts"): 100_000,
    ("postgres", "accounts"): 200_000,
    ("mysql", "orders"): 1_000_000,
    ("postgres", "orders"): 2_000_000,
    ("mysql", "stock"): 0,
    ("postgres", "stock"): 500_000,
}
TEXTS = ("plain", "O'Brien", "tab\there", "line\nbreak", "ünïcödé", "emoji 🚀", "back\\slash", "")


@dataclass(frozen=True)
class Statement:
    sql: str
    params: tuple[Any, ...]


@dataclass(frozen=True)
class Txn:
    side: Side
    kind: str
    statements: tuple[Statement, ...]


def _ins_account(id_: int, name: str, balance: Decimal, note: str | None) -> Statement:
    return Statement(
        "INSERT INTO accounts (id, name, balance, updated_at, note) VALUES (%s, %s, %s, %s, %s)",
        (id_, name, balance, NOW, note),
    )


def _ins_order(id_: int, account: int, amount: Decimal, status: str, note: str | None) -> Statement:
    return Statement(
        "INSERT INTO orders (id, account_id, amount, status, updated_at, note)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (id_, account, amount, status, NOW, note),
    )


def _ins_stock(sku: str, site: int, qty: int) -> Statement:
    return Statement(
        "INSERT INTO stock (sku, site, qty, updated_at) VALUES (%s, %s, %s, %s)",
        (sku, site, qty, NOW),
    )


def initial_rows() -> list[Statement]:
    """Rows both sides start with (written on MySQL, streamed to PostgreSQL before the run)."""
    rng = random.Random(0)
    out = [
        _ins_account(i, f"acct {i}", _money(rng), rng.choice((None, *TEXTS)))
        for i in range(1, INITIAL_ACCOUNTS + 1)
    ]
    out += [
        _ins_order(i, (i % INITIAL_ACCOUNTS) + 1, _money(rng), "new", None)
        for i in range(1, INITIAL_ORDERS + 1)
    ]
    out += [_ins_stock(_sku(i), s, rng.randint(0, 100)) for i in range(INITIAL_SKUS) for s in SITES]
    return out


def _money(rng: random.Random) -> Decimal:
    return Decimal(rng.randint(-100_000, 10_000_000)) / 100


def _sku(i: int) -> str:
    return f"SKU-{i:04d}"


@dataclass
class _Keys:
    """Keys that exist or may exist by this point of the plan (both sides' inserts included)."""

    accounts: list[int] = field(default_factory=lambda: list(range(1, INITIAL_ACCOUNTS + 1)))
    orders: list[int] = field(default_factory=lambda: list(range(1, INITIAL_ORDERS + 1)))
    skus: list[str] = field(default_factory=lambda: [_sku(i) for i in range(INITIAL_SKUS)])
    next_id: dict[tuple[Side, str], int] = field(default_factory=dict)

    def new_id(self, side: Side, table: str) -> int:
        n = self.next_id.get((side, table), 0)
        self.next_id[(side, table)] = n + 1
        return ID_BASES[(side, table)] + n

    def pick(self, rng: random.Random, pool: list[Any], hot: int) -> Any:
        if rng.random() < 0.6:
            return pool[rng.randrange(hot)]
        return pool[rng.randrange(len(pool))]


def _account(rng: random.Random, keys: _Keys) -> int:
    return int(keys.pick(rng, keys.accounts, HOT_ACCOUNTS))


def _order(rng: random.Random, keys: _Keys) -> int:
    return int(keys.pick(rng, keys.orders, HOT_ORDERS))


def _text(rng: random.Random) -> str | None:
    return rng.choice((None, *TEXTS, f"n{rng.randint(0, 999)}"))


def _one(side: Side, rng: random.Random, keys: _Keys) -> Txn:
    roll = rng.random()
    if roll < 0.10:  # a parent and its children in one transaction
        acct = keys.new_id(side, "accounts")
        stmts = [_ins_account(acct, f"{side} {acct}", _money(rng), _text(rng))]
        for _ in range(rng.randint(1, 3)):
            oid = keys.new_id(side, "orders")
            stmts.append(_ins_order(oid, acct, _money(rng), "new", _text(rng)))
            keys.orders.append(oid)
        keys.accounts.append(acct)
        return Txn(side, "insert_family", tuple(stmts))
    if roll < 0.18:  # a child of an existing (maybe hot, maybe being deleted) parent
        oid = keys.new_id(side, "orders")
        keys.orders.append(oid)
        stmt = _ins_order(oid, _account(rng, keys), _money(rng), "new", _text(rng))
        return Txn(side, "insert_child", (stmt,))
    if roll < 0.38:
        return Txn(side, "update_account", (_update_account(rng, keys),))
    if roll < 0.60:
        return Txn(side, "update_order", (_update_order(rng, keys),))
    if roll < 0.66:
        oid = _order(rng, keys)
        return Txn(side, "delete_order", (Statement("DELETE FROM orders WHERE id = %s", (oid,)),))
    if roll < 0.68:  # children first, like the application would; the FK cascades stay a net
        acct = _account(rng, keys)
        return Txn(
            side,
            "delete_family",
            (
                Statement("DELETE FROM orders WHERE account_id = %s", (acct,)),
                Statement("DELETE FROM accounts WHERE id = %s", (acct,)),
            ),
        )
    if roll < 0.80:
        return Txn(side, "stock", (_stock(side, rng, keys),))
    # several rows of several tables in one transaction
    stmts = [
        rng.choice((_update_account, _update_order))(rng, keys) for _ in range(rng.randint(2, 4))
    ]
    if rng.random() < 0.5:
        stmts.append(_stock(side, rng, keys))
    return Txn(side, "multi_row", tuple(stmts))


def _update_account(rng: random.Random, keys: _Keys) -> Statement:
    return Statement(
        "UPDATE accounts SET balance = %s, name = %s, updated_at = %s, note = %s WHERE id = %s",
        (_money(rng), f"renamed {rng.randint(0, 99999)}", NOW, _text(rng), _account(rng, keys)),
    )


def _update_order(rng: random.Random, keys: _Keys) -> Statement:
    status = rng.choice(("new", "paid", "shipped", "cancelled"))
    return Statement(
        "UPDATE orders SET amount = %s, status = %s, updated_at = %s, note = %s WHERE id = %s",
        (_money(rng), status, NOW, _text(rng), _order(rng, keys)),
    )


def _stock(side: Side, rng: random.Random, keys: _Keys) -> Statement:
    roll = rng.random()
    if roll < 0.15:
        sku = f"{side[0].upper()}-{keys.new_id(side, 'stock')}"
        keys.skus.append(sku)
        return _ins_stock(sku, rng.choice(SITES), rng.randint(0, 100))
    sku = keys.pick(rng, keys.skus, HOT_SKUS)
    site = rng.choice(SITES)
    if roll < 0.25:
        return Statement("DELETE FROM stock WHERE sku = %s AND site = %s", (sku, site))
    return Statement(
        "UPDATE stock SET qty = %s, updated_at = %s WHERE sku = %s AND site = %s",
        (rng.randint(0, 1000), NOW, sku, site),
    )


def plan(seed: int, transactions: int) -> dict[Side, list[Txn]]:
    """The whole run's transactions per side, interleaved from one seeded generator."""
    rng = random.Random(seed)
    keys = _Keys()
    out: dict[Side, list[Txn]] = {"mysql": [], "postgres": []}
    for _ in range(transactions):
        side: Side = "mysql" if rng.random() < 0.5 else "postgres"
        out[side].append(_one(side, rng, keys))
    return out


# -- execution ----------------------------------------------------------------------------------


@dataclass
class WriterStats:
    committed: int = 0
    rejected: int = 0  # refused by the database itself (FK, deadlock): the app would see an error
    connection_lost: int = 0
    rows_changed: int = 0
    errors: dict[str, int] = field(default_factory=dict)


def bind(params: tuple[Any, ...]) -> tuple[Any, ...]:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return tuple(now if p is NOW else p for p in params)


class Writer(threading.Thread):
    """Runs one side's transactions at ``rate`` per second; survives server restarts."""

    def __init__(
        self,
        side: Side,
        connect: Callable[[], Any],
        txns: list[Txn],
        rate: float,
        reconnect_timeout_s: float = 180,
    ) -> None:
        super().__init__(name=f"writer-{side}", daemon=True)
        self.side = side
        self.connect = connect
        self.txns = txns
        self.rate = rate
        self.reconnect_timeout_s = reconnect_timeout_s
        self.stats = WriterStats()
        self.done = 0
        self.failure: BaseException | None = None
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # reported by the harness, never swallowed
            self.failure = exc

    def _run(self) -> None:
        conn = self._reconnect()
        started = time.monotonic()
        for i, txn in enumerate(self.txns):
            if self._halt.is_set():
                break
            due = started + i / self.rate
            if due > time.monotonic():
                self._halt.wait(due - time.monotonic())  # pacing the load, not waiting on a result
            try:
                self.stats.rows_changed += self._execute(conn, txn)
                self.stats.committed += 1
            except Exception as exc:
                name = type(exc).__name__
                self.stats.errors[name] = self.stats.errors.get(name, 0) + 1
                try:
                    conn.rollback()
                    self.stats.rejected += 1
                except Exception:  # the connection itself is gone (a server restart)
                    self.stats.connection_lost += 1
                    conn = self._reconnect()
            self.done = i + 1
        conn.close()

    def _execute(self, conn: Any, txn: Txn) -> int:
        cur = conn.cursor()
        rows = 0
        for stmt in txn.statements:
            cur.execute(stmt.sql, bind(stmt.params))
            rows += max(cur.rowcount, 0)
        conn.commit()
        return rows

    def _reconnect(self) -> Any:
        deadline = time.monotonic() + self.reconnect_timeout_s
        while True:
            try:
                return self.connect()
            except Exception:
                if time.monotonic() > deadline:
                    raise
                self._halt.wait(0.5)
